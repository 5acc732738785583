package wechatv3

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// signedAnswer sends a request c signs, as built here (no merchant API rule
// in the way), to the sandbox at srv, and returns the answer's status and
// body after checking the platform key signed it.
func signedAnswer(t *testing.T, c *Client, srv *httptest.Server, method, path, rawQuery, body string) (int, []byte) {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	call := must(c.call(method, path, rawQuery, b, "", nil))
	u := srv.URL + (&url.URL{Path: call.Path}).EscapedPath()
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	req := must(http.NewRequest(call.Method, u, bytes.NewReader(call.Body)))
	req.Header = call.Header.Clone()
	if b != nil {
		req.Header.Set("Content-Type", call.ContentType)
	}
	resp := must(http.DefaultClient.Do(req))
	defer resp.Body.Close()
	raw := must(io.ReadAll(resp.Body))
	platform := must(ParsePrivateKey(exampleKey(t, "wechatpay_platform_key.pem")))
	msg := AppendAnswerMessage(nil, resp.Header.Get(HeaderTimestamp), resp.Header.Get(HeaderNonce), raw)
	if !VerifyMessage(&platform.PublicKey, msg, resp.Header.Get(HeaderSignature)) {
		t.Fatalf("%s %s: the answer %d %s is not signed with the platform key", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, raw
}

// TestSandboxIDRules: the sandbox holds out_trade_no and out_refund_no to
// WeChat's v3 rules (docs/providers/wechat_v3.md "Ids") wherever they are
// sent (pay and refund bodies; query, close and refund query paths): an id
// the rule takes reaches the order or refund, another is WeChat's signed 400
// PARAM_ERROR naming the field and where it was, and makes nothing.
func TestSandboxIDRules(t *testing.T) {
	sb, _ := newSandbox(t, nil)
	srv := sandboxServer(t, sb)
	c := must(NewClient(merchantConfig(t)))
	wantRefusal := func(t *testing.T, status int, raw []byte, location, field, id string) {
		t.Helper()
		var e struct {
			Code    string
			Detail  struct{ Location, Value string }
			Message string
		}
		if status != http.StatusBadRequest || json.Unmarshal(raw, &e) != nil || e.Code != "PARAM_ERROR" ||
			e.Detail.Location != location || e.Detail.Value != id || !strings.HasPrefix(e.Message, "输入源“/"+location+"/"+field+"”") {
			t.Fatalf("%d %s, want 400 PARAM_ERROR at %s/%s", status, raw, location, field)
		}
	}
	quote := func(s string) string { return string(must(json.Marshal(s))) }

	type idCase struct {
		name, id string
		ok       bool // the rule takes it
	}
	orders := []idCase{
		{"6 characters", "ORDER1", true},
		{"32 characters of every kind", "Az09_-*" + strings.Repeat("9", 25), true},
		{"5 characters", "ORDR1", false},
		{"2 characters", "O1", false},
		{"empty", "", false},
		{"33 characters", strings.Repeat("9", 33), false},
		{"a '|'", "ORDER|1", false},
		{"an '@'", "ORDER@1", false},
		{"a space", "ORDER 1", false},
		{"a dot", "ORDER.1", false},
		{"not ASCII", "订单号000001", false},
	}
	made := 0
	for _, tt := range orders {
		t.Run("out_trade_no "+tt.name, func(t *testing.T) {
			pay := `{"appid":"wx8888888888888888","mchid":"1900000109","description":"d","out_trade_no":` + quote(tt.id) +
				`,"notify_url":"https://merchant.example/n","amount":{"total":100,"currency":"CNY"},"payer":{"openid":"o"}}`
			status, raw := signedAnswer(t, c, srv, http.MethodPost, PathJSAPI, "", pay)
			queryStatus, query := signedAnswer(t, c, srv, http.MethodGet, PathOutTradeNo+tt.id, "mchid=1900000109", "")
			closeStatus, closed := signedAnswer(t, c, srv, http.MethodPost, PathOutTradeNo+tt.id+"/close", "", `{"mchid":"1900000109"}`)
			if tt.ok {
				made++
				if status != http.StatusOK || queryStatus != http.StatusOK || closeStatus != http.StatusNoContent {
					t.Fatalf("pay %d %s, query %d %s, close %d %s", status, raw, queryStatus, query, closeStatus, closed)
				}
				return
			}
			wantRefusal(t, status, raw, "body", "out_trade_no", tt.id)
			wantRefusal(t, queryStatus, query, "path", "out_trade_no", tt.id)
			wantRefusal(t, closeStatus, closed, "path", "out_trade_no", tt.id)
		})
	}
	if n := len(sb.Orders()); n != made {
		t.Fatalf("%d orders, want %d", n, made)
	}

	status, raw := signedAnswer(t, c, srv, http.MethodPost, PathJSAPI, "", `{"appid":"wx8888888888888888","mchid":"1900000109","description":"d",`+
		`"out_trade_no":"REFUNDS-1","notify_url":"https://merchant.example/n","amount":{"total":100000,"currency":"CNY"},"payer":{"openid":"o"}}`)
	if status != http.StatusOK {
		t.Fatalf("pay %d %s", status, raw)
	}
	if _, _, err := sb.Complete("REFUNDS-1", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	refunds := []idCase{
		{"1 character", "R", true},
		{"64 characters of every kind", "Az09_-|*@" + strings.Repeat("9", 55), true},
		{"empty", "", false},
		{"65 characters", strings.Repeat("9", 65), false},
		{"a space", "R 1", false},
		{"a dot", "R.1", false},
		{"a '#'", "R#1", false},
		{"not ASCII", "退款1", false},
	}
	for _, tt := range refunds {
		t.Run("out_refund_no "+tt.name, func(t *testing.T) {
			status, raw := signedAnswer(t, c, srv, http.MethodPost, PathRefunds, "",
				`{"out_trade_no":"REFUNDS-1","out_refund_no":`+quote(tt.id)+`,"amount":{"refund":1,"total":100000,"currency":"CNY"}}`)
			queryStatus, query := signedAnswer(t, c, srv, http.MethodGet, PathRefunds+"/"+tt.id, "", "")
			if tt.ok {
				if status != http.StatusOK || queryStatus != http.StatusOK {
					t.Fatalf("refund %d %s, query %d %s", status, raw, queryStatus, query)
				}
				return
			}
			wantRefusal(t, status, raw, "body", "out_refund_no", tt.id)
			wantRefusal(t, queryStatus, query, "path", "out_refund_no", tt.id)
		})
	}
}
