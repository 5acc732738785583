package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// The exact ACK of README "Webhooks", as a literal.
const wechatACK = `<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>`

type delivery struct {
	header http.Header
	uri    string // the request URI the merchant received
	event  map[string]any
	host   string // the Host the merchant received
}

// merchantBackend records what minipay_webhook forwards and answers with
// the status the test sets.
type merchantBackend struct {
	srv    *httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	got    []delivery
}

func newMerchantBackend(t *testing.T) *merchantBackend {
	m := &merchantBackend{}
	m.status.Store(200)
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev map[string]any
		if err := json.Unmarshal(b, &ev); err != nil || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		m.mu.Lock()
		m.got = append(m.got, delivery{r.Header.Clone(), r.RequestURI, ev, r.Host})
		m.mu.Unlock()
		w.WriteHeader(int(m.status.Load()))
		_, _ = w.Write([]byte(`{"merchant":"says ok"}`))
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *merchantBackend) take() []delivery {
	m.mu.Lock()
	defer m.mu.Unlock()
	got := m.got
	m.got = nil
	return got
}

// notification is a WeChat Pay v2 payment notification as WeChat sends it
// (no sign_type field), signed with key and signType after mutate ran.
func notification(key, signType string, mutate func(p transform.Params) transform.Params) transform.Params {
	p := transform.Params{
		{Name: "appid", Value: appID}, {Name: "bank_type", Value: "CFT"}, {Name: "cash_fee", Value: "1234"},
		{Name: "fee_type", Value: "CNY"}, {Name: "is_subscribe", Value: "N"}, {Name: "mch_id", Value: mchID},
		{Name: "nonce_str", Value: "5d2b6c2a8db53831f7eda20af46e531c"}, {Name: "openid", Value: "oUpF8uMEb4qRXf22hE3X68TekukE"},
		{Name: "out_trade_no", Value: "ORDER-77"}, {Name: "result_code", Value: "SUCCESS"}, {Name: "return_code", Value: "SUCCESS"},
		{Name: "time_end", Value: "20261122100000"}, {Name: "total_fee", Value: "1234"}, {Name: "trade_type", Value: "JSAPI"},
		{Name: "transaction_id", Value: "4200000123202611220000000077"},
	}
	if mutate != nil {
		p = mutate(p)
	}
	return append(p, transform.Param{Name: "sign", Value: wxpay.Sign(p, key, signType)})
}

func set(name, value string) func(transform.Params) transform.Params {
	return func(p transform.Params) transform.Params {
		for i := range p {
			if p[i].Name == name {
				p[i].Value = value
				return p
			}
		}
		return append(p, transform.Param{Name: name, Value: value})
	}
}

func xmlOf(p transform.Params) string { return string(transform.AppendFlatXML(nil, "xml", p)) }

// TestWebhookOutcomes drives minipay_webhook through a real Caddy for every
// outcome: valid, forged, tampered amount, foreign appid, merchant 5xx, and a
// refund notification.
func TestWebhookOutcomes(t *testing.T) {
	merchant := newMerchantBackend(t)
	port := itoa(freePort(t))
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	tc := startCaddy(t, globalOptions(logFile)+`
:`+port+` {
	handle /webhooks/wechat_v2 {
		minipay_webhook wechat_v2 {
			app_id `+appID+`
			mch_id `+mchID+`
			api_key `+apiKey+`
			sign_type HMAC-SHA256
		}
		reverse_proxy `+strings.TrimPrefix(merchant.srv.URL, "http://")+`
	}
}
`)
	url := "http://localhost:" + port + "/webhooks/wechat_v2"
	tampered := notification(apiKey, wechatv2.SignHMACSHA256, nil)
	for i := range tampered {
		if tampered[i].Name == "total_fee" {
			tampered[i].Value = "1"
		}
	}
	refundInner := transform.Params{
		{Name: "out_refund_no", Value: "ORDER-77-R1"}, {Name: "out_trade_no", Value: "ORDER-77"},
		{Name: "refund_id", Value: "50000408502026112200000001"}, {Name: "refund_fee", Value: "234"},
		{Name: "refund_status", Value: "SUCCESS"}, {Name: "success_time", Value: "2026-11-22 10:05:00"},
		{Name: "transaction_id", Value: "4200000123202611220000000077"},
	}
	refund, err := wechatv2.RefundNotification(wechatv2.Config{AppID: appID, MchID: mchID, APIKey: apiKey}, refundInner)
	if err != nil {
		t.Fatal(err)
	}
	foreignRefund, _ := wechatv2.RefundNotification(wechatv2.Config{AppID: appID, MchID: mchID, APIKey: strings.Repeat("f", 32)}, refundInner)
	refundWith := func(name, value string) string { // the inner document with name set (added when absent)
		inner := append(transform.Params(nil), refundInner...)
		n, err := wechatv2.RefundNotification(wechatv2.Config{AppID: appID, MchID: mchID, APIKey: apiKey}, set(name, value)(inner))
		if err != nil {
			t.Fatal(err)
		}
		return string(n)
	}
	refundTwice, err := wechatv2.RefundNotification(wechatv2.Config{AppID: appID, MchID: mchID, APIKey: apiKey},
		append(append(transform.Params(nil), refundInner...), transform.Param{Name: "refund_status", Value: "REFUNDCLOSE"}))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name           string
		body           string
		merchantStatus int32
		status         int
		forwarded      bool
		eventType      string
		amount         string
	}{
		{"valid HMAC without sign_type", xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, nil)), 200, 200, true, "payment.succeeded", "12.34"},
		{"valid with an extension field", xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, set("zz_new", "new-field"))), 200, 200, true, "payment.succeeded", "12.34"},
		// WeChat's 单品优惠 JSON may hold a pair in a goods remark (README What
		// the merchant can trust); one that is no JSON object is refused.
		{"valid, promotion_detail holding a pair", xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, set("promotion_detail",
			`{"promotion_detail":[{"promotion_id":"109519","goods_detail":[{"goods_id":"g1","goods_remark":"A&B=1"}]}]}`))), 200, 200, true, "payment.succeeded", "12.34"},
		{"promotion_detail no JSON", xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, set("promotion_detail", "new-field"))), 200, 401, false, "", ""},
		// As Python's ElementTree writes it: an empty element "<device_info />",
		// space before '>' (XML 1.0 §3.1).
		{"valid, empty element and spaces in tags", strings.Replace(strings.Replace(xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, nil)),
			"<xml>", "<xml ><device_info />", 1), "</sign>", "</sign\n>", 1), 200, 200, true, "payment.succeeded", "12.34"},
		{"valid HMAC with sign_type", xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, set("sign_type", "HMAC-SHA256"))), 200, 200, true, "payment.succeeded", "12.34"},
		{"downgraded to MD5 with sign_type", xmlOf(notification(apiKey, wechatv2.SignMD5, set("sign_type", "MD5"))), 200, 401, false, "", ""},
		{"a signed orderquery answer", xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, set("trade_state", "NOTPAY"))), 200, 401, false, "", ""},
		{"payment failed", xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, set("result_code", "FAIL"))), 200, 200, true, "payment.failed", "12.34"},
		{"refund", string(refund), 200, 200, true, "refund.succeeded", "2.34"},
		{"refund closed", refundWith("refund_status", "REFUNDCLOSE"), 200, 200, true, "refund.failed", "2.34"},
		{"refund, an undocumented refund_status", refundWith("refund_status", "PROCESSING"), 200, 200, true, "unknown", "2.34"},
		// outside req_info nothing is authenticated: an added refund_fee is not the amount
		{"refund, a refund_fee added outside req_info", strings.Replace(string(refund), "</xml>", "<refund_fee>99999</refund_fee><settlement_refund_fee>99999</settlement_refund_fee></xml>", 1),
			200, 200, true, "refund.succeeded", "2.34"},
		{"refund, a name twice inside req_info", string(refundTwice), 200, 401, false, "", ""},
		{"forged", xmlOf(notification(strings.Repeat("0", 32), wechatv2.SignHMACSHA256, nil)), 200, 401, false, "", ""},
		{"signed with MD5 but config says HMAC", xmlOf(notification(apiKey, wechatv2.SignMD5, nil)), 200, 401, false, "", ""},
		{"tampered amount", xmlOf(tampered), 200, 401, false, "", ""},
		{"foreign appid", xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, set("appid", "wx0000000000000000"))), 200, 401, false, "", ""},
		{"foreign mch_id", xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, set("mch_id", "1230000109"))), 200, 401, false, "", ""},
		{"unsigned", `<xml><return_code><![CDATA[SUCCESS]]></return_code><appid>` + appID + `</appid><mch_id>` + mchID + `</mch_id><result_code>SUCCESS</result_code></xml>`, 200, 401, false, "", ""},
		{"refund under another key", string(foreignRefund), 200, 401, false, "", ""},
		{"not XML", `{"hello":"world"}`, 200, 401, false, "", ""},
		{"doctype", `<!DOCTYPE xml [<!ENTITY x "y">]><xml><appid>&x;</appid></xml>`, 200, 401, false, "", ""},
		{"merchant answers 500", xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, nil)), 500, 502, true, "payment.succeeded", "12.34"},
		{"merchant answers 404", xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, nil)), 404, 502, true, "payment.succeeded", "12.34"},
	}
	logged := len(logText(t, logFile))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			merchant.status.Store(tt.merchantStatus)
			req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "text/xml")
			req.Header.Set("Minipay-Event-Id", "spoofed")
			req.Header.Set("Minipay-Verified", "true")
			res, err := tc.Client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, body)
			}
			if tt.status == 200 && string(body) != wechatACK {
				t.Fatalf("ACK is not byte-exact: %q", body)
			}
			if tt.status != 200 && !strings.HasPrefix(string(body), `<xml><return_code><![CDATA[FAIL]]></return_code>`) {
				t.Fatalf("failure answer is not WeChat's FAIL form: %q", body)
			}
			// One line (README Observability): INFO acked, WARN otherwise with
			// the reason; the order only once verified.
			all := logText(t, logFile)
			var lines []map[string]any
			for line := range strings.Lines(all[logged:]) {
				var l map[string]any
				if json.Unmarshal([]byte(line), &l) == nil && l["msg"] == "minipay webhook" {
					lines = append(lines, l)
				}
			}
			logged = len(all)
			if len(lines) != 1 {
				t.Fatalf("%d webhook log lines, want 1: %v", len(lines), lines)
			}
			level, outcome, orderID := "info", "acked", ""
			switch {
			case tt.status == 401:
				level, outcome = "warn", "unverified"
			case tt.status != 200:
				level, outcome = "warn", "merchant_failed"
			}
			if tt.forwarded {
				orderID = "ORDER-77"
			}
			l := lines[0]
			_, named := l["order_id"]
			if l["level"] != level || l["outcome"] != outcome || l["status"] != float64(tt.status) || str(l["order_id"]) != orderID ||
				named != (orderID != "") || (str(l["reason"]) == "") != (outcome == "acked") {
				t.Errorf("log line %v, want %s, outcome %s, order_id %q", l, level, outcome, orderID)
			}
			got := merchant.take()
			if !tt.forwarded {
				if len(got) != 0 {
					t.Fatalf("an unverified notification reached the merchant: %v", got[0].event)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("merchant received %d events, want 1", len(got))
			}
			d := got[0]
			ev := d.event
			if ev["type"] != tt.eventType || ev["amount"] != tt.amount || ev["currency"] != "CNY" || ev["provider"] != "wechat_v2" || ev["order_id"] != "ORDER-77" {
				t.Fatalf("event %v", ev)
			}
			if d.header.Get("Minipay-Event-Id") != ev["id"] || d.header.Get("Minipay-Provider") != "wechat_v2" ||
				d.header.Get("Minipay-Verified") != "" || d.header.Get("Content-Type") != "application/json" {
				t.Fatalf("forwarded headers %v", d.header)
			}
			data, _ := ev["data"].(map[string]any)
			if data == nil || data["sign"] != nil {
				t.Fatalf("event data %v", data)
			}
			switch tt.eventType {
			case "payment.succeeded":
				if ev["id"] != "wechat_v2:4200000123202611220000000077:payment.succeeded" || ev["occurred_at"] != "2026-11-22T10:00:00+08:00" {
					t.Fatalf("event id/time %v %v", ev["id"], ev["occurred_at"])
				}
			case "refund.succeeded":
				if ev["refund_id"] != "ORDER-77-R1" || data["refund_status"] != "SUCCESS" || data["refund_fee"] != "234" || data["settlement_refund_fee"] != nil {
					t.Fatalf("refund event %v", ev)
				}
			}
		})
	}
	logs := logText(t, logFile)
	mustContain(t, logs, `"outcome":"unverified"`, "warn line for a forged notification")
	if strings.Contains(logs, apiKey) || strings.Contains(logs, "oUpF8uMEb4qRXf22hE3X68TekukE") {
		t.Fatal("the log contains the API key or a clear openid")
	}
}

// TestProvisionErrors checks that a required field that resolves empty fails
// the config load, naming provider and field, and that no secret is echoed.
func TestProvisionErrors(t *testing.T) {
	tests := []struct{ name, block, want string }{
		{"unset env", "minipay wechat_v2 {\n app_id " + appID + "\n mch_id " + mchID + "\n api_key {env.MINIPAY_TEST_UNSET_VARIABLE}\n}", "provider wechat_v2: field api_key is required"},
		{"unreadable file", "minipay wechat_login {\n app_id " + appID + "\n app_secret {file./nonexistent/minipay/secret}\n}", "provider wechat_login: field app_secret is required"},
		// The Caddyfile adapter turns {file.NAME} (no / nor .) into a request placeholder, which
		// has no value at load: the secret would be the placeholder's text (README Secrets)
		{"file placeholder read as a request one", "minipay wechat_login {\n app_id " + appID + "\n app_secret {file.app_secret}\n}", "provider wechat_login: field app_secret holds the request placeholder"},
		{"request placeholder", "minipay latipay {\n user_id U1\n wallet_id W1\n app_id " + appID + "\n currency NZD\n api_key {http.request.header.X-Key}\n}", "provider latipay: field api_key holds the request placeholder"},
		{"missing field", "minipay wechat_v2 {\n app_id " + appID + "\n api_key " + apiKey + "\n}", "provider wechat_v2: field mch_id is required"},
		{"short key", "minipay wechat_v2 {\n app_id " + appID + "\n mch_id " + mchID + "\n api_key tooshort-secret-value\n}", "api_key must be 32 bytes"},
		{"unknown field", "minipay wechat_v2 {\n app_id " + appID + "\n mch_id " + mchID + "\n api_key " + apiKey + "\n colour blue\n}", "colour"},
		{"webhook of login", "minipay_webhook wechat_login {\n app_id " + appID + "\n app_secret " + appSecret + "\n}", "wechat_login sends no notifications"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := caddytestTester(t)
			err := tc.load(globalOptions(filepath.Join(t.TempDir(), "log")) + ":" + itoa(freePort(t)) + " {\n" + tt.block + "\nreverse_proxy 127.0.0.1:9\n}\n")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("load error %v, want it to contain %q", err, tt.want)
			}
			for _, secret := range []string{"tooshort-secret-value", apiKey, appSecret} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the error echoes a secret: %v", err)
				}
			}
		})
	}
}

// TestPooledHandlerUnderConcurrency drives the minipay handler's pooled
// state (the merchant body's scratch, the provider's header map and its
// values, the recorder, the log fields, the nonce read-ahead, the HMAC
// states) from many goroutines at once through a real Caddy, with bodies of
// different sizes and an upstream that, by turns, answers, answers before
// reading the request, drops the connection before answering (reverse_proxy
// retries, lb_retry_match POST) and cuts its answer short. One route also
// rewrites header values in place (a deferred header replace on the
// answer, a request_header replace before reverse_proxy). Every answer must
// be the request's own (its order id, its prepay id) or a documented
// upstream error, with exactly its own headers; every upstream request must
// carry exactly the provider's headers (and no X-Forwarded-Host). Meant for -race:
//
//	go test -race -count=1 ./integration/ -run TestPooledHandlerUnderConcurrency
func TestPooledHandlerUnderConcurrency(t *testing.T) {
	var turn atomic.Int64
	var upstreamErrs sync.Map // the first wrong header an upstream saw, by route
	fake := func(route, wantUA string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for k, want := range map[string]string{"Accept": "*/*", "User-Agent": wantUA, "Content-Type": "text/xml; charset=utf-8"} {
				if got := r.Header.Values(k); len(got) != 1 || got[0] != want {
					upstreamErrs.LoadOrStore(route, fmt.Sprintf("%s %q, want %q", k, got, want))
				}
			}
			if v, ok := r.Header["X-Forwarded-Host"]; ok { // minipay cleared Host: no empty one either
				upstreamErrs.LoadOrStore(route, fmt.Sprintf("X-Forwarded-Host %q, want none", v))
			}
			mode := turn.Add(1) % 5
			if mode == 3 || mode == 4 { // drop the connection: before answering, or halfway through the answer
				hj, _ := w.(http.Hijacker)
				conn, buf, err := hj.Hijack()
				if err == nil {
					if mode == 4 {
						_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 500\r\n\r\n<xml><return_code>")
						_ = buf.Flush()
					}
					_ = conn.Close()
				}
				return
			}
			var body []byte
			if mode != 2 { // mode 2 answers without reading the request
				body, _ = io.ReadAll(r.Body)
			}
			prepayID := "wx-unread"
			if mode != 2 {
				_, req, err := transform.ParseFlatXML(body)
				if err != nil || !wxpay.Verify(req, apiKey, req.Get("sign_type")) {
					http.Error(w, "bad request", http.StatusBadRequest)
					return
				}
				prepayID = "wx" + req.Get("out_trade_no")
			}
			w.Header().Set("Content-Type", "text/xml")
			_, _ = w.Write(signedPayAnswer(prepayID, apiKey, "MD5"))
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	plain, rewriting := fake("plain", "caddy-minipay"), fake("rewriting", "minipay-via-caddy-minipay")
	wechat := `
			app_id ` + appID + `
			mch_id ` + mchID + `
			api_key ` + apiKey + `
			notify_url https://merchant.example/webhooks/wechat_v2
			client_ip 127.0.0.1`
	proxy := func(upstream string) string {
		return `reverse_proxy ` + strings.TrimPrefix(upstream, "http://") + ` ` + strings.TrimPrefix(upstream, "http://") + ` {
			lb_policy round_robin
			lb_retries 2
			lb_try_interval 1ms
			lb_retry_match {
				method POST
			}
		}`
	}
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "log"))+`
:`+port+` {
	route /plain/* {
		minipay wechat_v2 {`+wechat+`
		}
		`+proxy(plain.URL)+`
	}
	route /rewriting/* {
		header >Content-Type application/json "application/json; charset=utf-8"
		minipay wechat_v2 {`+wechat+`
		}
		request_header User-Agent caddy "minipay-via-caddy"
		`+proxy(rewriting.URL)+`
	}
}
`)
	var wg sync.WaitGroup
	var answered, failed atomic.Int64
	errs := make(chan string, 64)
	for g := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				route, wantCT := "plain", "application/json"
				if (g+i)%2 == 1 {
					route, wantCT = "rewriting", "application/json; charset=utf-8"
				}
				orderID := fmt.Sprintf("P%d-%d-%s", g, i, strings.Repeat("x", (g*7+i*13)%24))
				body := `{"order_id":"` + orderID + `","amount":"12.34","currency":"CNY","description":"` +
					strings.Repeat("L", (g*31+i*17)%120+1) + `","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","attach":"` +
					strings.Repeat("a", (g+i*5)%100) + `"}`
				req, _ := http.NewRequest(http.MethodPost, "http://localhost:"+port+"/"+route+"/pay", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				res, err := tc.Client.Do(req)
				if err != nil {
					errs <- orderID + ": " + err.Error()
					return
				}
				answer, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if got := res.Header.Values("Content-Type"); len(got) != 1 || got[0] != wantCT ||
					res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Content-Length") != itoa(len(answer)) {
					errs <- fmt.Sprintf("%s: headers %v for %d bytes", orderID, res.Header, len(answer))
					return
				}
				var a struct {
					OrderID string `json:"order_id"`
					Package string `json:"package"`
					Error   struct {
						Code string `json:"code"`
					} `json:"error"`
				}
				if err := json.Unmarshal(answer, &a); err != nil {
					errs <- fmt.Sprintf("%s: HTTP %d %s", orderID, res.StatusCode, answer)
					return
				}
				switch {
				case res.StatusCode == http.StatusOK && a.OrderID == orderID && (a.Package == "prepay_id=wx"+orderID || a.Package == "prepay_id=wx-unread"):
					answered.Add(1)
				case res.StatusCode == http.StatusBadGateway && a.Error.Code == transform.CodeUpstreamError:
					failed.Add(1)
				default:
					errs <- fmt.Sprintf("%s: HTTP %d %s", orderID, res.StatusCode, answer)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if answered.Load() == 0 || failed.Load() == 0 {
		t.Errorf("%d answers and %d upstream failures: the upstream's turns did not all happen", answered.Load(), failed.Load())
	}
	upstreamErrs.Range(func(route, e any) bool {
		t.Errorf("the %s upstream got %s", route, e)
		return true
	})
}

// TestPayClientIPFallback: with no client_ip in the request or the
// configuration, spbill_create_ip (which WeChat requires; for a mini
// program, the IP of the machine calling its API) is the caller's address
// as Caddy's client_ip sees it: a forwarded address counts only from a
// trusted proxy. README "Merchant API".
func TestPayClientIPFallback(t *testing.T) {
	sent := make(chan string, 1)
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, req, err := transform.ParseFlatXML(body)
		if err != nil || !wxpay.Verify(req, apiKey, req.Get("sign_type")) {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		sent <- req.Get("spbill_create_ip")
		_, _ = w.Write(signedPayAnswer("wx201411101639507cbf6ffd8b0779950874", apiKey, req.Get("sign_type")))
	}))
	t.Cleanup(fake.Close)
	direct, proxied := itoa(freePort(t)), itoa(freePort(t))
	route := `{
	minipay wechat_v2 {
		app_id ` + appID + `
		mch_id ` + mchID + `
		api_key ` + apiKey + `
		notify_url https://merchant.example/webhooks/wechat_v2
	}
	reverse_proxy ` + strings.TrimPrefix(fake.URL, "http://") + `
}
`
	global := strings.Replace(globalOptions(filepath.Join(t.TempDir(), "log")), "grace_period 1ns",
		"grace_period 1ns\n\tservers :"+proxied+" {\n\t\ttrusted_proxies static 127.0.0.1/32 ::1/128\n\t}", 1)
	tc := startCaddy(t, global+":"+direct+" "+route+":"+proxied+" "+route)
	pay := `{"order_id":"IP1","amount":"0.01","currency":"CNY","description":"d","openid":"o"`
	tests := []struct {
		name, port, clientIP, forwardedFor, want string
	}{
		{"the request's", direct, "198.51.100.7", "", "198.51.100.7"},
		{"the caller's", direct, "", "", "127.0.0.1"},
		{"a forwarded address from an untrusted peer is not believed", direct, "", "203.0.113.9", "127.0.0.1"},
		{"a forwarded address from a trusted proxy", proxied, "", "203.0.113.9", "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := pay
			if tt.clientIP != "" {
				body += `,"client_ip":"` + tt.clientIP + `"`
			}
			var header []string
			if tt.forwardedFor != "" {
				header = []string{"X-Forwarded-For", tt.forwardedFor}
			}
			if r := do(t, tc, http.MethodPost, "http://127.0.0.1:"+tt.port+"/pay", "application/json", []byte(body+"}"), header...); r.status != 200 {
				t.Fatalf("pay: %d %s", r.status, r.body)
			}
			if got := <-sent; got != tt.want {
				t.Fatalf("spbill_create_ip %q, want %q", got, tt.want)
			}
		})
	}
}

// TestProviderRequestFramedByItself: a merchant backend that sends its JSON
// chunked, with a trailer (a streaming HTTP client does), and a query
// string of its own, still gets the provider called with the provider's own
// request: WeChat Pay's XML with its Content-Length at the API's path,
// code2Session's GET without a body and with its own query alone, and none
// of the merchant's trailers (README Merchant API). The chunked XML reached
// WeChat with the merchant's trailer after it, and a server that reads a
// request by its Content-Length only got no body.
func TestProviderRequestFramedByItself(t *testing.T) {
	type framing struct {
		method, uri   string
		length        int64
		encoding      []string
		trailer, body string
	}
	sent := make(chan framing, 1)
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sent <- framing{r.Method, r.RequestURI, r.ContentLength, r.TransferEncoding, r.Trailer.Get("X-Merchant-Trailer"), string(body)}
		if r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "text/plain") // code2Session's JSON
			_, _ = w.Write([]byte(`{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","session_key":"tiihtNczf5v6AKRyjwEUhQ=="}`))
			return
		}
		_, _ = w.Write(signedPayAnswer("wx201411101639507cbf6ffd8b0779950874", apiKey, wechatv2.SignMD5))
	}))
	t.Cleanup(fake.Close)
	port := itoa(freePort(t))
	upstream := strings.TrimPrefix(fake.URL, "http://")
	startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "log"))+":"+port+` {
	handle /wechat/* {
		`+wechatV2Minipay+`
		reverse_proxy `+upstream+`
	}
	handle /wxlogin/* {
		minipay wechat_login {
			app_id `+appID+`
			app_secret `+appSecret+`
		}
		reverse_proxy `+upstream+`
	}
}
`)
	const merchantQuery = "?appid=wx0000000000000000&js_code=other&secret=x&out_trade_no=OTHER"
	for _, tt := range []struct{ path, body, method, uri string }{
		{"/wechat/pay", `{"order_id":"CHUNKED1","amount":"0.01","currency":"CNY","description":"d","openid":"o"}`, http.MethodPost,
			"/pay/unifiedorder"},
		{"/wxlogin/login", `{"code":"chunked-code"}`, http.MethodGet,
			"/sns/jscode2session?appid=" + appID + "&secret=" + appSecret + "&js_code=chunked-code&grant_type=authorization_code"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			// An io.Reader of unknown length: Go's client sends it chunked.
			req, err := http.NewRequest(http.MethodPost, "http://localhost:"+port+tt.path+merchantQuery, io.MultiReader(strings.NewReader(tt.body)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Trailer = http.Header{"X-Merchant-Trailer": {"merchant-secret"}}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %s", tt.path, resp.StatusCode, answer)
			}
			got := <-sent
			if got.uri != tt.uri {
				t.Errorf("the provider got %s, want %s", got.uri, tt.uri)
			}
			if got.method != tt.method || got.length != int64(len(got.body)) || len(got.encoding) != 0 || got.trailer != "" ||
				tt.method == http.MethodPost && !strings.HasPrefix(got.body, "<xml>") || tt.method == http.MethodGet && got.body != "" {
				t.Errorf("the provider got %s with length %d, transfer encoding %v, trailer %q, body %.40q",
					got.method, got.length, got.encoding, got.trailer, got.body)
			}
		})
	}
}
