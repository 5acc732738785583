package integration

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// answerTimeout is the response_header_timeout of the routes to fakeWeChat
// and of allWebhookRoutes: an answer that must come in time gets as long as
// a machine running -race among other work may take (300 ms did not do for
// TestUpstreamAndMerchantFaults' calls), and what hangs on purpose waits
// past it.
const answerTimeout = 2 * time.Second

// fakeWeChat is an independent WeChat Pay v2 server that misbehaves on
// purpose, chosen by the out_trade_no's prefix: a SLOW one answers once
// Caddy gave up waiting (answerTimeout), or after twice that.
func fakeWeChat(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 64<<10)
		n, _ := r.Body.Read(buf)
		_, req, err := transform.ParseFlatXML(buf[:n])
		if err != nil {
			http.Error(w, "bad xml", http.StatusBadRequest)
			return
		}
		answer := func(key, appid string, extra ...transform.Param) {
			p := transform.Params{
				{Name: "return_code", Value: "SUCCESS"}, {Name: "return_msg", Value: "OK"},
				{Name: "appid", Value: appid}, {Name: "mch_id", Value: mchID},
				{Name: "nonce_str", Value: "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"},
				{Name: "result_code", Value: "SUCCESS"}, {Name: "prepay_id", Value: "wx201411101639507cbf6ffd8b0779950874"},
				{Name: "trade_type", Value: "JSAPI"},
			}
			p = append(p, extra...)
			if appid == "" { // an answer naming no merchant (README Merchant API asks for none)
				p = slices.DeleteFunc(p, func(kv transform.Param) bool { return kv.Name == "appid" || kv.Name == "mch_id" })
			}
			p = append(p, transform.Param{Name: "sign", Value: wxpay.Sign(p, key, req.Get("sign_type"))})
			_, _ = w.Write(transform.AppendFlatXML(nil, "xml", p))
		}
		id := req.Get("out_trade_no")
		switch {
		case strings.HasPrefix(id, "HTTP500"):
			http.Error(w, "internal error", http.StatusInternalServerError)
		case strings.HasPrefix(id, "COMMFAIL"):
			_, _ = w.Write([]byte(`<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[签名错误]]></return_msg></xml>`))
		case strings.HasPrefix(id, "GARBAGE"):
			_, _ = w.Write([]byte(`{"not":"xml"}`))
		case strings.HasPrefix(id, "BADSIGN"):
			answer("00000000000000000000000000000000", appID)
		case strings.HasPrefix(id, "FOREIGN"):
			answer(apiKey, "wx0000000000000000")
		case strings.HasPrefix(id, "ANONYMOUS"):
			answer(apiKey, "")
		case strings.HasPrefix(id, "PAIR"): // "&name=" outside attach, device_info and promotion_detail (README What the merchant can trust)
			answer(apiKey, appID, transform.Param{Name: "err_code_des", Value: "OK&zz=1"})
		case strings.HasPrefix(id, "SLOW"):
			wait(r, 2*answerTimeout)
			answer(apiKey, appID)
		default:
			answer(apiKey, appID)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// errorConfig is a merchant site with routes to the sandbox, to the
// misbehaving fake WeChat and to a closed port, with credentials coming from
// {env.*} and {file.*} placeholders.
func errorConfig(t *testing.T, fake string, logFile string) (config string, merchantBase, sandboxBase string) {
	t.Setenv("MINIPAY_TEST_API_KEY", apiKey)
	secretFile := filepath.Join(t.TempDir(), "app_secret")
	if err := os.WriteFile(secretFile, []byte(appSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	merchant, sandbox, closed := itoa(freePort(t)), itoa(freePort(t)), itoa(freePort(t))
	wechat := `
			app_id ` + appID + `
			mch_id ` + mchID + `
			api_key {env.MINIPAY_TEST_API_KEY}
			notify_url http://localhost:` + merchant + `/webhooks/wechat_v2
			client_ip 127.0.0.1`
	config = globalOptions(logFile) + `
:` + merchant + ` {
	handle /wechat/* {
		minipay wechat_v2 {` + wechat + `
		}
		reverse_proxy 127.0.0.1:` + sandbox + `
	}
	handle /wxlogin/* {
		minipay wechat_login {
			app_id ` + appID + `
			app_secret {file.` + secretFile + `}
		}
		reverse_proxy 127.0.0.1:` + sandbox + `
	}
	handle /fake/* {
		minipay wechat_v2 {` + wechat + `
		}
		reverse_proxy ` + strings.TrimPrefix(fake, "http://") + ` {
			transport http {
				response_header_timeout ` + answerTimeout.String() + `
			}
		}
	}
	handle /down/* {
		minipay wechat_v2 {` + wechat + `
		}
		reverse_proxy 127.0.0.1:` + closed + `
	}
}

:` + sandbox + ` {
	bind 127.0.0.1
	minipay_sandbox {
		wechat_v2 {
			app_id ` + appID + `
			mch_id ` + mchID + `
			api_key ` + apiKey + `
		}
		wechat_login {
			app_id ` + appID + `
			app_secret ` + appSecret + `
		}
	}
}
`
	return config, "http://localhost:" + merchant, "http://localhost:" + sandbox
}

// TestMerchantAPIErrors covers every error code of README "Merchant API" through a
// real Caddy: the status, the code and, where there is one, the field.
func TestMerchantAPIErrors(t *testing.T) {
	fake := fakeWeChat(t)
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	config, base, sandbox := errorConfig(t, fake.URL, logFile)
	tc := startCaddy(t, config)

	pay := func(orderID string) string {
		return `{"order_id":"` + orderID + `","amount":"1.00","currency":"CNY","description":"Tea","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`
	}
	// a paid sandbox order, so that close is refused by the provider
	if r := postJSON(t, tc, base+"/wechat/pay", pay("PAID-1")); r.status != 200 {
		t.Fatalf("pay: %d %s", r.status, r.body)
	}
	if r := postJSON(t, tc, sandbox+"/sandbox/complete", `{"provider":"wechat_v2","order_id":"PAID-1","result":"succeeded"}`); r.status != 200 {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	// a refund of another paid order, for refund_query to name with PAID-1
	if r := postJSON(t, tc, base+"/wechat/pay", pay("PAID-2")); r.status != 200 {
		t.Fatalf("pay: %d %s", r.status, r.body)
	}
	if r := postJSON(t, tc, sandbox+"/sandbox/complete", `{"provider":"wechat_v2","order_id":"PAID-2","result":"succeeded"}`); r.status != 200 {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	if r := postJSON(t, tc, base+"/wechat/refund", `{"order_id":"PAID-2","refund_id":"R-PAID-2","amount":"1.00","currency":"CNY"}`); r.status != 200 {
		t.Fatalf("refund: %d %s", r.status, r.body)
	}

	tests := []struct {
		name, method, path, contentType, body string
		status                                int
		code, field, providerCode             string
	}{
		{"missing field", "POST", "/wechat/pay", "application/json", `{"order_id":"E1","currency":"CNY","description":"x","openid":"o"}`, 400, "invalid_request", "amount", ""},
		{"unknown field", "POST", "/wechat/pay", "application/json", `{"order_id":"E1","amount":"1","currency":"CNY","description":"x","openid":"o","tip":"1"}`, 400, "invalid_request", "tip", ""},
		{"too many decimals", "POST", "/wechat/pay", "application/json", `{"order_id":"E1","amount":"1.001","currency":"CNY","description":"x","openid":"o"}`, 400, "invalid_request", "amount", ""},
		{"zero amount", "POST", "/wechat/pay", "application/json", `{"order_id":"E1","amount":"0.00","currency":"CNY","description":"x","openid":"o"}`, 400, "invalid_request", "amount", ""},
		{"exponent", "POST", "/wechat/pay", "application/json", `{"order_id":"E1","amount":"1e2","currency":"CNY","description":"x","openid":"o"}`, 400, "invalid_request", "amount", ""},
		{"unknown currency", "POST", "/wechat/pay", "application/json", `{"order_id":"E1","amount":"1","currency":"XYZ","description":"x","openid":"o"}`, 400, "invalid_request", "currency", ""},
		{"bad order id", "POST", "/wechat/query", "application/json", `{"order_id":"has space"}`, 400, "invalid_request", "order_id", ""},
		{"wrong type", "POST", "/wechat/query", "application/json", `{"order_id":42}`, 400, "invalid_request", "order_id", ""},
		{"malformed JSON", "POST", "/wechat/query", "application/json", `{"order_id":`, 400, "invalid_request", "", ""},
		{"bad expire_at", "POST", "/wechat/pay", "application/json", `{"order_id":"E1","amount":"1","currency":"CNY","description":"x","openid":"o","expire_at":"tomorrow"}`, 400, "invalid_request", "expire_at", ""},
		{"notify_url with a query", "POST", "/wechat/pay", "application/json", `{"order_id":"E1","amount":"1","currency":"CNY","description":"x","openid":"o","notify_url":"https://m.example/n?x=1"}`, 400, "invalid_request", "notify_url", ""},
		{"control character", "POST", "/wechat/pay", "application/json", `{"order_id":"E1","amount":"1","currency":"CNY","description":"a\u0000b","openid":"o"}`, 400, "invalid_request", "description", ""},
		{"client_ip not an address", "POST", "/wechat/pay", "application/json", `{"order_id":"E1","amount":"1","currency":"CNY","description":"x","openid":"o","client_ip":"localhost"}`, 400, "invalid_request", "client_ip", ""},
		{"invalid UTF-8 in a value", "POST", "/wechat/pay", "application/json", "{\"order_id\":\"E1\",\"amount\":\"1\",\"currency\":\"CNY\",\"description\":\"\xff\",\"openid\":\"o\"}", 400, "invalid_request", "description", ""},
		{"noncharacter XML cannot carry", "POST", "/wechat/pay", "application/json", `{"order_id":"E1","amount":"1","currency":"CNY","description":"a\ufffeb","openid":"o"}`, 400, "invalid_request", "description", ""},
		{"country not alpha-2", "POST", "/wechat/pay", "application/json", `{"order_id":"E1","amount":"1","currency":"CNY","description":"x","openid":"o","country":"china"}`, 400, "invalid_request", "country", ""},
		{"field name in another case", "POST", "/wechat/query", "application/json", `{"ORDER_ID":"E1"}`, 400, "invalid_request", "ORDER_ID", ""},
		{"field given twice", "POST", "/wechat/query", "application/json", `{"order_id":"E1","order_id":"E2"}`, 400, "invalid_request", "order_id", ""},
		{"unknown operation", "POST", "/wechat/capture", "application/json", `{}`, 404, "unknown_operation", "", ""},
		{"login is not a wechat_v2 operation", "POST", "/wechat/login", "application/json", `{"code":"x"}`, 404, "unknown_operation", "", ""},
		{"GET", "GET", "/wechat/pay", "", ``, 405, "method_not_allowed", "", ""},
		{"too large", "POST", "/wechat/pay", "application/json", `{"order_id":"` + strings.Repeat("A", 70<<10) + `"}`, 413, "request_too_large", "", ""},
		{"not JSON", "POST", "/wechat/pay", "text/plain", pay("E1"), 415, "unsupported_media_type", "", ""},
		{"Content-Type on two lines", "POST", "/wechat/pay", "application/json\ntext/plain", pay("E1"), 415, "unsupported_media_type", "", ""},
		{"order paid", "POST", "/wechat/close", "application/json", `{"order_id":"PAID-1"}`, 422, "provider_rejected", "", "ORDERPAID"},
		{"order unknown", "POST", "/wechat/query", "application/json", `{"order_id":"NEVER-1"}`, 422, "provider_rejected", "", "ORDERNOTEXIST"},
		{"invalid login code", "POST", "/wxlogin/login", "application/json", `{"code":"invalid-code"}`, 422, "provider_rejected", "", "40029"},
		{"blocked login user", "POST", "/wxlogin/login", "application/json", `{"code":"blocked-code"}`, 422, "provider_rejected", "", "40226"},
		{"login rate limited", "POST", "/wxlogin/login", "application/json", `{"code":"limited-code"}`, 422, "provider_rejected", "", "45011"},
		{"code2Session busy", "POST", "/wxlogin/login", "application/json", `{"code":"busy-code"}`, 502, "upstream_error", "", "-1"},
		{"login code not ASCII", "POST", "/wxlogin/login", "application/json", `{"code":"代码"}`, 400, "invalid_request", "code", ""},
		{"upstream HTTP 500", "POST", "/fake/pay", "application/json", pay("HTTP500-1"), 502, "upstream_error", "", ""},
		{"return_code FAIL", "POST", "/fake/pay", "application/json", pay("COMMFAIL-1"), 502, "upstream_error", "", "FAIL"},
		{"answer not XML", "POST", "/fake/pay", "application/json", pay("GARBAGE-1"), 502, "upstream_error", "", ""},
		{"answer for another appid", "POST", "/fake/pay", "application/json", pay("FOREIGN-1"), 502, "upstream_error", "", ""},
		{"unreachable upstream", "POST", "/down/pay", "application/json", pay("DOWN-1"), 502, "upstream_error", "", ""},
		{"forged answer", "POST", "/fake/pay", "application/json", pay("BADSIGN-1"), 502, "upstream_signature_invalid", "", ""},
		{"answer holding a pair", "POST", "/fake/pay", "application/json", pay("PAIR-1"), 502, "upstream_signature_invalid", "", ""},
		{"another order's refund", "POST", "/wechat/refund_query", "application/json", `{"order_id":"PAID-1","refund_id":"R-PAID-2"}`, 400, "invalid_request", "order_id", ""},
		{"slow upstream", "POST", "/fake/pay", "application/json", pay("SLOW-1"), 504, "upstream_timeout", "", ""},
	}
	// The order each row's log line names (README Observability): a valid
	// order_id, even when another field is refused; none for the others.
	loggedOrder := map[string]string{
		"missing field": "E1", "unknown field": "E1", "too many decimals": "E1", "zero amount": "E1", "exponent": "E1",
		"unknown currency": "E1", "bad expire_at": "E1", "notify_url with a query": "E1", "control character": "E1",
		"client_ip not an address": "E1", "invalid UTF-8 in a value": "E1", "noncharacter XML cannot carry": "E1",
		"country not alpha-2": "E1", "order paid": "PAID-1", "order unknown": "NEVER-1", "upstream HTTP 500": "HTTP500-1",
		"return_code FAIL": "COMMFAIL-1", "answer not XML": "GARBAGE-1", "answer for another appid": "FOREIGN-1",
		"unreachable upstream": "DOWN-1", "forged answer": "BADSIGN-1", "slow upstream": "SLOW-1",
		"answer holding a pair": "PAIR-1", "another order's refund": "PAID-1",
	}
	logged := len(logText(t, logFile))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tc, tt.method, base+tt.path, tt.contentType, []byte(tt.body))
			// Exactly one WARN line, with the answer's outcome and status.
			all := logText(t, logFile)
			var lines []map[string]any
			for line := range strings.Lines(all[logged:]) {
				var l map[string]any
				if json.Unmarshal([]byte(line), &l) == nil && l["msg"] == "minipay" {
					lines = append(lines, l)
				}
			}
			logged = len(all)
			if len(lines) != 1 {
				t.Fatalf("%d minipay log lines, want 1: %v", len(lines), lines)
			}
			l := lines[0]
			orderID, named := l["order_id"]
			if l["level"] != "warn" || l["outcome"] != tt.code || l["status"] != float64(tt.status) ||
				str(orderID) != loggedOrder[tt.name] || named != (loggedOrder[tt.name] != "") {
				t.Errorf("log line %v, want warn, outcome %s, status %d, order_id %q", l, tt.code, tt.status, loggedOrder[tt.name])
			}
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			if allow := r.header.Get("Allow"); (tt.status == 405) != (allow == "POST") {
				t.Fatalf("HTTP %d with Allow %q", r.status, allow)
			}
			e := r.errorOf(t)
			if e["code"] != tt.code || str(e["field"]) != tt.field || str(e["provider_code"]) != tt.providerCode || str(e["message"]) == "" {
				t.Fatalf("error %v, want code %s field %q provider_code %q", e, tt.code, tt.field, tt.providerCode)
			}
			if strings.Contains(string(r.body), apiKey) || strings.Contains(string(r.body), appSecret) {
				t.Fatal("the answer contains a secret")
			}
		})
	}

	// The fake's ordinary answer passes: the route and the key resolved from
	// {env.*} are right, so the failures above are the ones named.
	if r := postJSON(t, tc, base+"/fake/pay", pay("OK-1")); r.status != 200 || r.json(t)["package"] != "prepay_id=wx201411101639507cbf6ffd8b0779950874" {
		t.Fatalf("fake pay: %d %s", r.status, r.body)
	}
	// So does a signed answer without appid and mch_id (one naming another is refused above).
	if r := postJSON(t, tc, base+"/fake/pay", pay("ANONYMOUS-1")); r.status != 200 || r.json(t)["package"] != "prepay_id=wx201411101639507cbf6ffd8b0779950874" {
		t.Fatalf("fake pay without appid and mch_id: %d %s", r.status, r.body)
	}
	// the login's AppSecret came from {file.*}
	if r := postJSON(t, tc, base+"/wxlogin/login", `{"code":"file-secret-1"}`); r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.body)
	}

	logs := logText(t, logFile)
	for _, secret := range []string{apiKey, appSecret, "secret="} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the log contains %q", secret)
		}
	}
	mustContain(t, logs, `"outcome":"upstream_signature_invalid"`, "log line of the forged answer")

	metrics := do(t, tc, "GET", "http://"+adminAddr+"/metrics", "", nil)
	mustContain(t, string(metrics.body), `caddy_minipay_requests_total{operation="pay",outcome="upstream_timeout",provider="wechat_v2"} 1`, "metrics")
	mustContain(t, string(metrics.body), `caddy_minipay_upstream_duration_seconds_count{operation="pay",provider="wechat_v2"}`, "metrics")
	mustContain(t, string(metrics.body), `caddy_minipay_requests_total{operation="pay",outcome="upstream_signature_invalid",provider="wechat_v2"} 2`, "metrics")
	mustContain(t, string(metrics.body), `caddy_minipay_requests_total{operation="refund_query",outcome="invalid_request",provider="wechat_v2"} 1`, "metrics")
}
