package latipay

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// FuzzAnswer: miniapppay's and the refund's answers (Latipay signs
// neither), for any status and body, are the operation's JSON result or a
// 422/502 *transform.Error with bounded provider text; a pay result carries
// every payment field encoding/json finds. A refund's 404 that is no
// Latipay answer asks for the call again, on the other refund path.
func FuzzAnswer(f *testing.F) {
	f.Add(false, 200, []byte(docPayAnswer))
	f.Add(false, 200, []byte(`{"code":0,"payment":{"nonceStr":1,"paySign":"s","signType":"MD5","timeStamp":1414561699,"packageStr":"p"}}`))
	f.Add(false, 200, []byte(`{"code":301,"message":"Wrong account info"}`))
	f.Add(false, 400, []byte(`{"code":"204","message":"Param is wrong"}`))
	f.Add(true, 200, []byte(`{"code":0,"message":"SUCCESS","refund_id":"R-1"}`))
	f.Add(true, 200, []byte(`{"code":"0"}`))
	f.Add(true, 500, []byte(`<html>`))
	f.Add(true, 200, []byte(`{"code":{"a":1},"message":["x"]}`))
	c := newClient(f, testConfig())
	pay, err := c.Prepare(f.Context(), transform.OpPay, []byte(`{"order_id":"O1","amount":"1.00","currency":"NZD","description":"Latte","openid":"`+vecOpenID+`"}`))
	if err != nil {
		f.Fatal(err)
	}
	refund, err := c.Prepare(f.Context(), transform.OpRefund, []byte(`{"order_id":"O1","refund_id":"R1","amount":"1.00","currency":"NZD","provider_order_id":"2017232323345678"}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, isRefund bool, status int, body []byte) {
		if status < 100 || status > 999 {
			return // net/http delivers no other status
		}
		call := pay
		if isRefund {
			call = refund
		}
		out, err := call.Decode(status, nil, body)
		var retry *transform.RetryError
		if isRefund && status == http.StatusNotFound && errors.As(err, &retry) {
			// A 404 that is no Latipay answer (no object with a code): the
			// path does not exist, so the refund goes to the other path once.
			var a map[string]any
			if json.Unmarshal(body, &a) == nil {
				switch code := a["code"].(type) {
				case float64:
					t.Fatalf("a Latipay answer on a 404 sent again: %q", body)
				case string:
					if code != "" {
						t.Fatalf("a Latipay answer on a 404 sent again: %q", body)
					}
				}
			}
			transformtest.WantAnswerError(t, retry.Final, out)
			return
		}
		if err != nil {
			transformtest.WantAnswerError(t, err, out)
			return
		}
		if status < 200 || status > 299 || !json.Valid(out) {
			t.Fatalf("HTTP %d %q read as %q", status, body, out)
		}
		var a map[string]json.RawMessage
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatalf("accepted what encoding/json refuses: %q", body)
		}
		if !isRefund {
			var p struct {
				Payment map[string]json.RawMessage `json:"payment"`
			}
			var pp transform.PaymentParams
			if json.Unmarshal(body, &p) != nil || json.Unmarshal(out, &pp) != nil || pp.PaySign == "" || pp.Package == "" {
				t.Fatalf("%q read as %s", body, out)
			}
		}
	})
}

// FuzzSandboxRequest: the Latipay sandbox answers any request to its pay,
// refund or query path (the body's fields from the fuzzer, signed with the
// key when they are a JSON object of strings) with JSON, never a 5xx.
func FuzzSandboxRequest(f *testing.F) {
	f.Add(uint8(0), []byte(`{"user_id":"`+vecUserID+`","wallet_id":"`+vecWalletID+`","amount":"1.00","merchant_reference":"O1","app_id":"`+vecAppID+`","open_id":"`+vecOpenID+`","callback_url":"`+vecNotify+`","ip":"203.0.113.7","product_name":"Latte","version":"2.0","is_blocked":"1","payment_method":"wechat"}`), "")
	f.Add(uint8(1), []byte(`{"user_id":"`+vecUserID+`","order_id":"2017232323345678","refund_amount":"1.00","reference":"x"}`), "")
	f.Add(uint8(2), []byte{}, "user_id="+vecUserID+"&signature=x")
	f.Add(uint8(0), []byte(`{"a":1,"b":null,"c":[1]}`), "")
	f.Add(uint8(2), []byte{}, "a=1&a=2")
	s := newSandbox(f)
	f.Fuzz(func(t *testing.T, path uint8, body []byte, query string) {
		var m map[string]string
		if json.Unmarshal(body, &m) == nil && m != nil {
			m["signature"] = refSign(m, vecAPIKey)
			body, _ = json.Marshal(m)
		}
		var r *http.Request
		switch path % 3 {
		case 0:
			r = httptest.NewRequest(http.MethodPost, PathPay, bytes.NewReader(body))
		case 1:
			r = httptest.NewRequest(http.MethodPost, s.cfg.RefundPath, bytes.NewReader(body))
		default:
			r = httptest.NewRequest(http.MethodGet, PathQuery+"O1", nil)
			r.URL.RawQuery = query
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code >= 500 || !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %s %q: %d %q", r.Method, r.URL, body, w.Code, w.Body)
		}
	})
}
