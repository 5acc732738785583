package integration

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/cbtis"
	"github.com/minipay/caddy-minipay/transform/transformtest"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// trustRoutes starts a Caddy with one minipay_webhook route per provider,
// all forwarding to one recording merchant backend; serverOptions, when
// given, go in the global servers block.
func trustRoutes(t *testing.T, serverOptions ...string) (base string, merchant *merchantBackend) {
	merchant = newMerchantBackend(t)
	port := itoa(freePort(t))
	backend := strings.TrimPrefix(merchant.srv.URL, "http://")
	global := globalOptions(filepath.Join(t.TempDir(), "caddy.log"))
	if len(serverOptions) > 0 {
		global = strings.Replace(global, "\tlog {", "\tservers {\n\t\t"+strings.Join(serverOptions, "\n\t\t")+"\n\t}\n\tlog {", 1)
	}
	startCaddy(t, global+`
:`+port+` {
	handle /webhooks/wechat_v2 {
		minipay_webhook wechat_v2 {
			app_id `+appID+`
			mch_id `+mchID+`
			api_key `+apiKey+`
			sign_type HMAC-SHA256
		}
		reverse_proxy `+backend+`
	}
	handle /webhooks/latipay {
		minipay_webhook latipay {
			api_key `+latipayAPIKey+`
			currency NZD
		}
		reverse_proxy `+backend+`
	}
	handle /webhooks/wechat_v3 {
		minipay_webhook wechat_v3 {
`+v3Merchant(t, v3PublicKeyMode(t))+`		}
		reverse_proxy `+backend+`
	}
	handle /webhooks/unrouted {
		minipay_webhook latipay {
			api_key `+latipayAPIKey+`
			currency NZD
		}
	}
	handle /webhooks/cbtis {
		minipay_webhook cbtis {
			api_key `+cbtisAPIKey+`
			uid `+cbtisUID+`
		}
		reverse_proxy `+backend+`
	}
	handle /webhooks/2c2p {
		minipay_webhook 2c2p {
			merchant_id `+twoc2pMerchant+`
			secret_key `+twoc2pKey+`
		}
		reverse_proxy `+backend+`
	}
}
`)
	return "http://localhost:" + port, merchant
}

// latipayForm is a Latipay notification for LP-77 signed with key.
func latipayForm(key string, mutate func(url.Values)) string {
	v := url.Values{"merchant_reference": {"LP-77"}, "order_id": {"2026112210000077"}, "currency": {"NZD"}, "amount": {"12.30"},
		"payment_method": {"wechat"}, "status": {"paid"}, "pay_time": {"2026-11-22 10:00:00"}}
	if mutate != nil {
		mutate(v)
	}
	v.Set("signature", latipayNotify(key, v))
	return v.Encode()
}

// TestWebhookForwardsOnlyTheEvent: whatever the sender put in the request
// (Minipay-* headers and lookalikes such as Minipay_Event_Id, cookies,
// credentials, a query string) besides the provider's own notification
// (its signature header included), the merchant receives the event, its
// Content-Type and the two Minipay-* headers minipay set, plus only what
// reverse_proxy adds itself (X-Forwarded-*, Accept-Encoding, …); for every
// provider alike.
func TestWebhookForwardsOnlyTheEvent(t *testing.T) {
	base, merchant := trustRoutes(t)
	spoofed := map[string]string{
		"Minipay-Event-Id": "spoofed", "Minipay-Provider": "wechat_v2", "Minipay_Event_Id": "spoofed", "Minipay_Provider": "spoofed",
		"Minipay-Verified": "true", "Authorization": "Bearer attacker", "Cookie": "session=attacker", "X-Event-Type": "refund.succeeded",
		"X-Api-Key": "attacker", "Forwarded": "for=10.0.0.1", "X-Real-Ip": "10.0.0.1",
	}
	allowed := map[string]bool{"Content-Type": true, "Minipay-Event-Id": true, "Minipay-Provider": true, "Content-Length": true,
		"Accept-Encoding": true, "User-Agent": true, "X-Forwarded-For": true, "X-Forwarded-Proto": true, "Via": true}
	for _, n := range trustNotifications(t) {
		t.Run(n.provider, func(t *testing.T) {
			req := notificationRequest(base+n.path+"?token=attacker&Minipay-Event-Id=x", n.contentType, n.header, n.body)
			for k, v := range spoofed {
				req.Header[k] = []string{v} // as sent, not canonicalized by the client
			}
			req.Host = "attacker.example" // the site answers any host, as a catch-all :port site does
			if status, body := send(t, req); status != 200 || string(body) != n.ack {
				t.Fatalf("status %d %q", status, body)
			}
			got := merchant.take()
			if len(got) != 1 {
				t.Fatalf("merchant received %d events", len(got))
			}
			d := got[0]
			if d.uri != n.path {
				t.Fatalf("the merchant received the URI %q (the query must not be forwarded)", d.uri)
			}
			if strings.Contains(d.host, "attacker") {
				t.Errorf("the merchant received the sender's Host %q", d.host)
			}
			// No X-Forwarded-Host rather than an empty one: Django with
			// USE_X_FORWARDED_HOST reads an empty one as the host and refuses the
			// request (DisallowedHost), so every notification would fail.
			if v, ok := d.header["X-Forwarded-Host"]; ok {
				t.Errorf("the merchant received X-Forwarded-Host %q", v)
			}
			if id := d.header.Get("Minipay-Event-Id"); id != d.event["id"] || !strings.HasPrefix(id, n.provider+":") ||
				d.header.Get("Minipay-Provider") != n.provider || d.event["provider"] != n.provider ||
				d.header.Get("Content-Type") != "application/json" || len(d.header.Values("Minipay-Event-Id")) != 1 {
				t.Fatalf("headers %v, event %v", d.header, d.event)
			}
			for k, v := range d.header {
				if !allowed[k] {
					t.Errorf("the merchant received header %s: %v", k, v)
				}
				for _, x := range v {
					if strings.Contains(x, "attacker") || strings.Contains(x, "spoofed") || strings.Contains(x, "10.0.0.1") {
						t.Errorf("the merchant received %s: %s", k, x)
					}
				}
			}
		})
	}
}

// TestWebhookPathThroughCaddy: Caddy's path matcher cleans the path, while
// reverse_proxy sends it raw. The merchant receives the path the route
// matched, whatever dot segments, percent-encoded slashes or repeated
// slashes the sender wrote around it, so that a backend routing on a prefix
// ("/admin/…") is never reached through a webhook route; and a route with
// no handler after minipay_webhook (Caddy would answer an empty 200) gets
// the failure form with a 502, so the provider retries, not the ACK.
func TestWebhookPathThroughCaddy(t *testing.T) {
	base, merchant := trustRoutes(t)
	for _, path := range []string{
		"/admin/refund-all/../../webhooks/latipay",
		"/admin%2Frefund-all%2F..%2F../webhooks/latipay",
		"/admin/%2e%2e/webhooks/./latipay",
		"//webhooks//latipay",
	} {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(latipayForm(latipayAPIKey, nil)))
		req.URL.Opaque = "//" + req.URL.Host + path // sent as written, not re-encoded
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if status, body := send(t, req); status != 200 || string(body) != "sent" {
			t.Fatalf("%s: status %d %q", path, status, body)
		}
		if got := merchant.take(); len(got) != 1 || got[0].uri != "/webhooks/latipay" {
			t.Fatalf("%s: the merchant received %+v, want one event at /webhooks/latipay", path, got)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/unrouted", strings.NewReader(latipayForm(latipayAPIKey, nil)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if status, body := send(t, req); status != 502 || !strings.HasPrefix(string(body), "fail: ") {
		t.Fatalf("no handler after minipay_webhook: status %d %q, want 502 and the failure form", status, body)
	}
}

// A provider's reference holding a control byte (CBTIS signs any JSON
// string) still makes a valid Minipay-Event-Id header: the event is
// delivered and acknowledged, the byte written %XX in the header and the id,
// as is a byte past ASCII, so that the header is ASCII and reads as the id.
// A reference holding that very text ("C%0A1%00") is another event, with
// another id ('%' is written %25): with dedupe, sharing the id would have
// made it a duplicate, acknowledged and never forwarded.
func TestWebhookEventIDWithControlBytes(t *testing.T) {
	base, merchant := trustRoutes(t)
	for _, tt := range []struct{ reference, id string }{
		{`C\n1\u0000`, "cbtis:C%0A1%00:payment.succeeded"},
		{`C%0A1%00`, "cbtis:C%250A1%2500:payment.succeeded"},
		// past ASCII: a Python, Node.js or Java backend would read the
		// header's UTF-8 as Latin-1, another id than the event's
		{`订单é`, "cbtis:%E8%AE%A2%E5%8D%95%C3%A9:payment.succeeded"},
	} {
		body := `{"notify_type":"payment_success","data":{"uid":` + cbtisUID + `,"order_id":"` + tt.reference + `","merchant_order_id":"CB-78","order_amount":"12.30","order_currency":"HKD"}}`
		req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/cbtis", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Signature", cbtis.Signature([]byte(body), cbtisAPIKey))
		if status, answer := send(t, req); status != 200 || string(answer) != "success" {
			t.Fatalf("%s: status %d %q", tt.reference, status, answer)
		}
		got := merchant.take()
		if len(got) != 1 || got[0].header.Get("Minipay-Event-Id") != tt.id || got[0].event["id"] != tt.id {
			t.Fatalf("%s: deliveries %+v", tt.reference, got)
		}
	}
}

// TestWebhookAttacksThroughCaddy: per provider, notifications an attacker
// can send get the provider's failure form with 401 (413 when too large),
// and nothing reaches the merchant.
func TestWebhookAttacksThroughCaddy(t *testing.T) {
	base, merchant := trustRoutes(t)
	xmlType, formType := "text/xml", "application/x-www-form-urlencoded"
	wechatFail, v3Fail := `<xml><return_code><![CDATA[FAIL]]></return_code>`, `{"code":"FAIL","message":"`
	big := strings.Repeat("x", 65<<10)
	// A valid wechat_v3 notification whose header name gets a second line
	// holding value, after its own.
	v3Signed := trustNotifications(t)[0]
	v3With := func(name, value string) http.Header {
		h := v3Signed.header.Clone()
		h[name] = append(h[name], value)
		return h
	}
	cbtisPaid := `{"notify_type":"payment_success","data":{"uid":` + cbtisUID + `,"order_id":"C1","merchant_order_id":"CB-77","order_amount":"12.30","order_currency":"HKD"}}`
	cbtisForeign := strings.Replace(cbtisPaid, cbtisUID, "1000001", 1)
	cbtisUIDObject := strings.Replace(cbtisPaid, `"uid":`+cbtisUID, `"uid":{"id":`+cbtisUID+`}`, 1)
	cbtisTwice := strings.Replace(cbtisPaid, `{"notify_type":"payment_success"`, `{"notify_type":"refund_success","notify_type":"payment_success"`, 1)
	// signed text encoding/json would read as U+FFFD, which CBTIS never wrote
	cbtisNotUTF8 := strings.Replace(cbtisPaid, "CB-77", "CB-\xff77", 1)
	cbtisHalfPair := strings.Replace(cbtisPaid, "CB-77", `CB-\ud80077`, 1)
	twoc2pEnvelope := func(inner string) string { // signed with the merchant's key
		payload := base64.StdEncoding.EncodeToString([]byte(inner))
		m := hmac.New(sha256.New, []byte(twoc2pKey))
		m.Write([]byte(payload))
		sig := strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
		return base64.StdEncoding.EncodeToString([]byte("<PaymentResponse><version>9.9</version><payload>" + payload + "</payload><signature>" + sig + "</signature></PaymentResponse>"))
	}
	// A captured notification with result_code moved into the value before
	// it (and removed): the signed string, and so the signature, is the same.
	shifted := func() transform.Params {
		var out transform.Params
		for _, kv := range notification(apiKey, wechatv2.SignHMACSHA256, nil) {
			switch kv.Name {
			case "out_trade_no":
				kv.Value += "&result_code=SUCCESS"
			case "result_code":
				continue
			}
			out = append(out, kv)
		}
		return out
	}()
	// Signed documents padded past what a notification holds, read before
	// the signature is checked: each is refused at its bound, unparsed
	// beyond it (README What the merchant can trust, Latipay, 2C2P).
	couponed := func(fields int) func(transform.Params) transform.Params {
		return func(p transform.Params) transform.Params {
			for n := 0; len(p) < fields-1; n++ { // and sign
				p = append(p, transform.Param{Name: "coupon_fee_" + strconv.Itoa(n), Value: "1"})
			}
			return p
		}
	}
	latipayJSON := func(pad string) string {
		v, _ := url.ParseQuery(latipayForm(latipayAPIKey, nil))
		return `{"merchant_reference":"` + v.Get("merchant_reference") + `","order_id":"` + v.Get("order_id") + `","currency":"NZD","amount":"12.30",` +
			`"payment_method":"wechat","status":"paid","pay_time":"` + v.Get("pay_time") + `","signature":"` + v.Get("signature") + `"` + pad + `}`
	}
	demoEnvelope, _ := base64.StdEncoding.DecodeString(twoc2pDemoApproved)
	twoc2pPadded := func(elements int) string {
		return "paymentResponse=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(
			strings.Replace(string(demoEnvelope), "</PaymentResponse>", strings.Repeat("<x/>", elements)+"</PaymentResponse>", 1))))
	}
	// The same documents at their bounds verify: the bounds refuse the rest.
	for _, ok := range []struct{ path, contentType, body string }{
		{"/webhooks/wechat_v2", xmlType, xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, couponed(wechatv2.MaxDocumentFields)))},
		{"/webhooks/latipay", formType, latipayForm(latipayAPIKey, nil) + strings.Repeat("&", transform.MaxFormFields-8)},
		{"/webhooks/latipay", "application/json", latipayJSON(`,"pad":[null]`)},
		{"/webhooks/2c2p", formType, twoc2pPadded(13)},
	} {
		if status, body := send(t, notificationRequest(base+ok.path, ok.contentType, nil, ok.body)); status != http.StatusOK {
			t.Fatalf("%s at its bound: %d %q", ok.path, status, body)
		}
		if got := merchant.take(); len(got) != 1 {
			t.Fatalf("%s at its bound: the merchant received %d events", ok.path, len(got))
		}
	}
	tests := []struct {
		name, path, contentType string
		header                  http.Header
		body                    string
		status                  int
		failForm                string // a prefix of the provider's failure form
	}{
		{"wechat_v2 signed, one field more than a notification is read to", "/webhooks/wechat_v2", xmlType, nil, xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, couponed(wechatv2.MaxDocumentFields+1))), 401, wechatFail},
		{"latipay signed, a form of 65 fields", "/webhooks/latipay", formType, nil, latipayForm(latipayAPIKey, nil) + strings.Repeat("&", transform.MaxFormFields-7), 401, "fail: "},
		{"latipay signed JSON padded with nulls", "/webhooks/latipay", "application/json", nil, latipayJSON(`,"pad":[` + strings.Repeat("null,", 64) + `null]`), 401, "fail: "},
		{"latipay signed JSON under a name past 1 KiB", "/webhooks/latipay", "application/json", nil, latipayJSON(`,"` + strings.Repeat("n", transform.MaxFlatName) + `":{"a":1}`), 401, "fail: "},
		{"2c2p signed envelope padded with 14 unsigned elements", "/webhooks/2c2p", formType, nil, twoc2pPadded(14), 401, ""},
		{"wechat_v2 forged", "/webhooks/wechat_v2", xmlType, nil, xmlOf(notification(strings.Repeat("0", 32), wechatv2.SignHMACSHA256, nil)), 401, wechatFail},
		{"wechat_v2 downgraded to MD5", "/webhooks/wechat_v2", xmlType, nil, xmlOf(notification(apiKey, wechatv2.SignMD5, set("sign_type", "MD5"))), 401, wechatFail},
		{"wechat_v2 signed orderquery answer (NOTPAY)", "/webhooks/wechat_v2", xmlType, nil, xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, set("trade_state", "NOTPAY"))), 401, wechatFail},
		{"wechat_v2 another merchant's", "/webhooks/wechat_v2", xmlType, nil, xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, set("mch_id", "1230000109"))), 401, wechatFail},
		{"wechat_v2 a field moved into the value before it", "/webhooks/wechat_v2", xmlType, nil, xmlOf(shifted), 401, wechatFail},
		{"wechat_v2 oversized", "/webhooks/wechat_v2", xmlType, nil, xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, set("attach", big))), 413, wechatFail},
		{"latipay forged", "/webhooks/latipay", formType, nil, latipayForm("not-the-key", nil), 401, "fail: "},
		{"latipay boundary shifted", "/webhooks/latipay", formType, nil, latipayForm(latipayAPIKey, func(v url.Values) { v.Set("merchant_reference", "LP-7"); v.Set("payment_method", "7wechat") }), 401, "fail: "},
		{"latipay another wallet", "/webhooks/latipay", formType, nil, latipayForm(latipayAPIKey, func(v url.Values) { v.Set("currency", "AUD") }), 401, "fail: "},
		{"latipay oversized", "/webhooks/latipay", formType, nil, latipayForm(latipayAPIKey, func(v url.Values) { v.Set("pad", big) }), 413, "fail: "},
		{"cbtis forged", "/webhooks/cbtis", "application/json", http.Header{"Signature": {cbtis.Signature([]byte(cbtisPaid), "not-the-key")}}, cbtisPaid, 401, "fail: "},
		{"cbtis another uid", "/webhooks/cbtis", "application/json", http.Header{"Signature": {cbtis.Signature([]byte(cbtisForeign), cbtisAPIKey)}}, cbtisForeign, 401, "fail: "},
		{"cbtis a uid object holding ours", "/webhooks/cbtis", "application/json", http.Header{"Signature": {cbtis.Signature([]byte(cbtisUIDObject), cbtisAPIKey)}}, cbtisUIDObject, 401, "fail: "},
		{"cbtis replayed with changes", "/webhooks/cbtis", "application/json", http.Header{"Signature": {cbtis.Signature([]byte(cbtisPaid), cbtisAPIKey)}}, strings.Replace(cbtisPaid, "12.30", "1230", 1), 401, "fail: "},
		{"cbtis oversized", "/webhooks/cbtis", "application/json", nil, cbtisPaid + big, 413, "fail: "},
		{"cbtis signed, not UTF-8", "/webhooks/cbtis", "application/json", http.Header{"Signature": {cbtis.Signature([]byte(cbtisNotUTF8), cbtisAPIKey)}}, cbtisNotUTF8, 401, "fail: "},
		{"cbtis signed, half a surrogate pair", "/webhooks/cbtis", "application/json", http.Header{"Signature": {cbtis.Signature([]byte(cbtisHalfPair), cbtisAPIKey)}}, cbtisHalfPair, 401, "fail: "},
		// A name given twice: which value the signature covered and which one
		// a reader takes may differ, so the document is refused.
		{"wechat_v2 out_trade_no given twice", "/webhooks/wechat_v2", xmlType, nil,
			strings.Replace(xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, nil)), "</xml>", "<out_trade_no>ORDER-78</out_trade_no></xml>", 1), 401, wechatFail},
		{"latipay merchant_reference given twice", "/webhooks/latipay", formType, nil, latipayForm(latipayAPIKey, nil) + "&merchant_reference=LP-78", 401, "fail: "},
		{"cbtis notify_type given twice, signed", "/webhooks/cbtis", "application/json",
			http.Header{"Signature": {cbtis.Signature([]byte(cbtisTwice), cbtisAPIKey)}}, cbtisTwice, 401, "fail: "},
		{"2c2p another merchantID", "/webhooks/2c2p", formType, nil, "paymentResponse=" + url.QueryEscape(twoc2pEnvelope("<PaymentResponse><merchantID>JT02</merchantID><respCode>00</respCode><status>A</status><uniqueTransactionCode>X</uniqueTransactionCode></PaymentResponse>")), 401, ""},
		{"2c2p a signed payload giving the order twice", "/webhooks/2c2p", formType, nil, "paymentResponse=" + url.QueryEscape(twoc2pEnvelope("<PaymentResponse><merchantID>JT01</merchantID><respCode>00</respCode><status>A</status><uniqueTransactionCode>X</uniqueTransactionCode><uniqueTransactionCode>Y</uniqueTransactionCode></PaymentResponse>")), 401, ""},
		{"2c2p a signed payload naming neither order nor tranRef", "/webhooks/2c2p", formType, nil, "paymentResponse=" + url.QueryEscape(twoc2pEnvelope("<PaymentResponse><merchantID>JT01</merchantID><respCode>00</respCode><status>A</status><amt>000000000100</amt><currencyCode>702</currencyCode></PaymentResponse>")), 401, ""},
		{"2c2p gzip without Content-Encoding", "/webhooks/2c2p", formType, nil, string(transformtest.Gzip([]byte("paymentResponse=" + url.QueryEscape(twoc2pDemoApproved)))), 401, ""},
		{"2c2p oversized", "/webhooks/2c2p", formType, nil, "paymentResponse=" + url.QueryEscape(twoc2pDemoApproved) + "&pad=" + big, 413, ""},
		// A signature header given on two lines, the valid value first
		// (the line Go's Header.Get reads): RFC 9110 §5.3 allows repeated
		// lines for lists only, and another reader may take the last.
		{"cbtis Signature twice", "/webhooks/cbtis", "application/json",
			http.Header{"Signature": {cbtis.Signature([]byte(cbtisPaid), cbtisAPIKey), strings.Repeat("0", 64)}}, cbtisPaid, 401, "fail: "},
		{"wechat_v3 Wechatpay-Signature twice", "/webhooks/wechat_v3", "application/json", v3With("Wechatpay-Signature", "AAAA"), v3Signed.body, 401, v3Fail},
		{"wechat_v3 Wechatpay-Timestamp twice", "/webhooks/wechat_v3", "application/json", v3With("Wechatpay-Timestamp", "1"), v3Signed.body, 401, v3Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, body := send(t, notificationRequest(base+tt.path, tt.contentType, tt.header, tt.body)); status != tt.status || !bytes.HasPrefix(body, []byte(tt.failForm)) || len(body) == 0 {
				t.Fatalf("status %d %q, want %d and the failure form", status, body, tt.status)
			}
			if got := merchant.take(); len(got) != 0 {
				t.Fatalf("the merchant received %v", got[0].event)
			}
		})
	}
}

// notificationRequest is a POST of body to url with contentType and the
// header's fields as given (not canonicalized).
func notificationRequest(url, contentType string, header http.Header, body string) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", contentType)
	return req
}

// send sends req and returns the answer's status and body.
func send(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, body
}

// trustNotification is a valid notification for a trustRoutes route, with
// the ACK its provider expects.
type trustNotification struct {
	provider, path, contentType string
	header                      http.Header
	body, ack                   string
}

// trustNotifications is one valid notification per trustRoutes provider
// (wechat_v3's signed now, inside WeChat's 300 s window).
func trustNotifications(t *testing.T) []trustNotification {
	xmlType, formType := "text/xml", "application/x-www-form-urlencoded"
	cbtisPaid := `{"notify_type":"payment_success","data":{"uid":` + cbtisUID + `,"order_id":"C1","merchant_order_id":"CB-77","order_amount":"12.30","order_currency":"HKD"}}`
	tx := `{"mchid":"` + mchID + `","appid":"` + appID + `","out_trade_no":"W1","transaction_id":"4200009","trade_state":"SUCCESS",` +
		`"success_time":"2026-11-29T10:00:05+08:00","amount":{"total":1230,"currency":"CNY"},"payer":{"openid":"o"}}`
	v3Paid := `{"id":"EV-TRUST","create_time":"2026-11-29T10:00:06+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS",` +
		`"summary":"s","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"` +
		gcmSeal(t, v3APIv3Key, "abcdefghijkl", "transaction", tx) + `","associated_data":"transaction","nonce":"abcdefghijkl"}}`
	return []trustNotification{
		{"wechat_v3", "/webhooks/wechat_v3", "application/json",
			wechatHeaders(t, v3PrivateKey(t, "wechatpay_platform_key.pem"), v3PublicKeyID, time.Now().Unix(), v3Paid), v3Paid, ""},
		{"wechat_v2", "/webhooks/wechat_v2", xmlType, nil, xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, nil)), wechatv2.AckBody},
		{"latipay", "/webhooks/latipay", formType, nil, latipayForm(latipayAPIKey, nil), "sent"},
		{"cbtis", "/webhooks/cbtis", "application/json", http.Header{"Signature": {cbtis.Signature([]byte(cbtisPaid), cbtisAPIKey)}}, cbtisPaid, "success"},
		{"2c2p", "/webhooks/2c2p", formType, nil, "paymentResponse=" + url.QueryEscape(twoc2pDemoApproved), ""},
	}
}

// TestWebhookContentEncodingThroughCaddy: every provider reads a
// notification's body as its Content-Encoding says (RFC 9110 §8.4), by one
// rule: a valid notification gzip-compressed with Content-Encoding gzip is
// verified and acknowledged; one declared gzip but sent plain, or declaring
// a coding minipay does not remove, gets the failure form with 401 and
// reaches nobody. Only 2C2P followed the rule: the others verified the
// bytes as sent whatever the header said.
func TestWebhookContentEncodingThroughCaddy(t *testing.T) {
	base, merchant := trustRoutes(t)
	for _, n := range trustNotifications(t) {
		for _, tt := range []struct {
			name, encoding, body string
			status               int
		}{
			{"gzip", "gzip", string(transformtest.Gzip([]byte(n.body))), 200},
			{"declared gzip, sent plain", "gzip", n.body, 401},
			{"br", "br", n.body, 401},
		} {
			t.Run(n.provider+" "+tt.name, func(t *testing.T) {
				req := notificationRequest(base+n.path, n.contentType, n.header, tt.body)
				req.Header.Set("Content-Encoding", tt.encoding)
				status, body := send(t, req)
				got := merchant.take()
				if tt.status == 200 {
					if status != 200 || string(body) != n.ack || len(got) != 1 {
						t.Fatalf("status %d %q, %d events; want the ACK and one event", status, body, len(got))
					}
					return
				}
				if status != tt.status || len(body) == 0 || string(body) == n.ack || len(got) != 0 {
					t.Fatalf("status %d %q, %d events; want %d, the failure form and nothing forwarded", status, body, len(got), tt.status)
				}
			})
		}
	}
}

// TestWebhookStatesOutsideTheDocumentedSet: a verified notification whose
// state is none the provider documents, or whose signed fields contradict
// each other, never becomes a terminal event: it is forwarded as unknown
// (Latipay's status is part of a concatenation checked by its grammar, so
// there it is refused, 401, and Latipay sends it again).
func TestWebhookStatesOutsideTheDocumentedSet(t *testing.T) {
	base, merchant := trustRoutes(t)
	xmlType, formType := "text/xml", "application/x-www-form-urlencoded"
	cbtisSigned := func(body string) http.Header {
		return http.Header{"Signature": {cbtis.Signature([]byte(body), cbtisAPIKey)}}
	}
	cbtisPaid := func(status string) string {
		return `{"notify_type":"payment_success","data":{"uid":` + cbtisUID + `,"order_id":"C1","merchant_order_id":"CB-77","order_amount":"12.30","order_currency":"HKD","status":"` + status + `"}}`
	}
	twoc2p := func(respCode, status string) string {
		return "paymentResponse=" + url.QueryEscape(twoc2pSeal(twoc2pAnswer("2C2P-S", "000000001234", respCode, status, "3200001"), twoc2pKey))
	}
	tests := []struct {
		name, path, contentType string
		header                  http.Header
		body                    string
		status                  int
		typ                     string // "" = nothing forwarded
	}{
		{"wechat_v2 result_code SUCCESS", "/webhooks/wechat_v2", xmlType, nil, xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, nil)), 200, "payment.succeeded"},
		{"wechat_v2 result_code PENDING", "/webhooks/wechat_v2", xmlType, nil, xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, set("result_code", "PENDING"))), 200, "unknown"},
		{"wechat_v2 result_code success (case)", "/webhooks/wechat_v2", xmlType, nil, xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, set("result_code", "success"))), 200, "unknown"},
		{"cbtis payment_success, status SUCCEEDED", "/webhooks/cbtis", "application/json", cbtisSigned(cbtisPaid("SUCCEEDED")), cbtisPaid("SUCCEEDED"), 200, "payment.succeeded"},
		{"cbtis payment_success, status FAILED", "/webhooks/cbtis", "application/json", cbtisSigned(cbtisPaid("FAILED")), cbtisPaid("FAILED"), 200, "unknown"},
		{"cbtis payment_success, status PENDING", "/webhooks/cbtis", "application/json", cbtisSigned(cbtisPaid("PENDING")), cbtisPaid("PENDING"), 200, "unknown"},
		{"2c2p 00 A", "/webhooks/2c2p", formType, nil, twoc2p("00", "A"), 200, "payment.succeeded"},
		{"2c2p 00 with status X", "/webhooks/2c2p", formType, nil, twoc2p("00", "X"), 200, "unknown"},
		{"2c2p 00 with status F", "/webhooks/2c2p", formType, nil, twoc2p("00", "F"), 200, "unknown"},
		{"2c2p 99 with status A", "/webhooks/2c2p", formType, nil, twoc2p("99", "A"), 200, "unknown"},
		{"2c2p respCode 05 alone", "/webhooks/2c2p", formType, nil, twoc2p("05", ""), 200, "unknown"},
		{"latipay status refunded", "/webhooks/latipay", formType, nil, latipayForm(latipayAPIKey, func(v url.Values) { v.Set("status", "refunded") }), 401, ""},
		{"latipay status PAID (case)", "/webhooks/latipay", formType, nil, latipayForm(latipayAPIKey, func(v url.Values) { v.Set("status", "PAID") }), 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := send(t, notificationRequest(base+tt.path, tt.contentType, tt.header, tt.body))
			got := merchant.take()
			if status != tt.status {
				t.Fatalf("status %d %q, want %d", status, body, tt.status)
			}
			if tt.typ == "" {
				if len(got) != 0 {
					t.Fatalf("the merchant received %v", got[0].event)
				}
				return
			}
			if len(got) != 1 || got[0].event["type"] != tt.typ {
				t.Fatalf("deliveries %+v, want one event of type %s", got, tt.typ)
			}
		})
	}
}

// TestWebhookSlowAndBrokenBodies: a sender that stalls mid-body past the
// server's read_body timeout (README Production checklist), cuts the body
// short, or breaks its chunked encoding gets the provider's failure form
// with 400, and nothing reaches the merchant; the connection is not held.
func TestWebhookSlowAndBrokenBodies(t *testing.T) {
	base, merchant := trustRoutes(t, "timeouts {\n\t\t\tread_body 1s\n\t\t}")
	addr := strings.TrimPrefix(base, "http://")
	form := latipayForm(latipayAPIKey, nil)
	v2 := xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, nil))
	tests := []struct {
		name, path string
		head, rest string // rest is sent after a pause (stalled) or never (cut: the write side is closed)
		stall      time.Duration
		failForm   string
	}{
		{"latipay stalled", "/webhooks/latipay", form[:10], form[10:], 2 * time.Second, "fail: "},
		{"wechat_v2 stalled", "/webhooks/wechat_v2", v2[:10], v2[10:], 2 * time.Second, "<xml><return_code><![CDATA[FAIL]]>"},
		{"latipay cut short", "/webhooks/latipay", form[:10], "", 0, "fail: "},
		{"cbtis cut short", "/webhooks/cbtis", `{"notify_type"`, "", 0, "fail: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			length := len(tt.head) + len(tt.rest)
			if tt.rest == "" {
				length += 100
			}
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", tt.path, length, tt.head)
			if tt.rest == "" {
				_ = conn.(*net.TCPConn).CloseWrite()
			} else {
				time.Sleep(tt.stall)
				_, _ = conn.Write([]byte(tt.rest)) // may fail: the server gave up on the body
			}
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != 400 || !strings.HasPrefix(string(body), tt.failForm) {
				t.Fatalf("status %d %q, want 400 and the failure form", res.StatusCode, body)
			}
			if got := merchant.take(); len(got) != 0 {
				t.Fatalf("the merchant received %v", got[0].event)
			}
		})
	}
	// A broken chunked encoding (a size that is not hex).
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /webhooks/latipay HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n%s\r\n0\r\n\r\n", form)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 400 || !strings.HasPrefix(string(body), "fail: ") || len(merchant.take()) != 0 {
		t.Fatalf("broken chunked encoding: status %d %q, want 400 and the failure form, nothing forwarded", res.StatusCode, body)
	}
}

// TestWebhookEventHoldsOnlySignedData: what a sender adds outside the
// signed part of a genuine notification (an empty element WeChat leaves out
// of the signed string, form fields Latipay does not sign, an element of
// 2C2P's envelope beside the payload, a changed envelope version, a member
// of CBTIS's body beside data) reaches neither the event's data nor its
// top-level fields; the merchant receives the signed fields, named as the
// provider named them, and nothing more (a CBTIS notification naming no
// notify_type gets none of "" in data).
func TestWebhookEventHoldsOnlySignedData(t *testing.T) {
	base, merchant := trustRoutes(t)
	v2 := notification(apiKey, wechatv2.SignHMACSHA256, nil)
	v2Keys := []string{}
	for _, kv := range v2 {
		if kv.Name != "sign" {
			v2Keys = append(v2Keys, kv.Name)
		}
	}
	cbtisBody := `{"notify_type":"payment_success","status":"outside data","data":{"uid":` + cbtisUID + `,"order_id":"C1","merchant_order_id":"CB-77","order_amount":"12.30","order_currency":"HKD"}}`
	cbtisKindless := `{"data":{"uid":` + cbtisUID + `,"order_id":"C2","merchant_order_id":"CB-78","order_amount":"12.30","order_currency":"HKD"}}`
	payload := base64.StdEncoding.EncodeToString([]byte(twoc2pAnswer("2C2P-X", "000000001234", "00", "A", "3209990")))
	envelope := base64.StdEncoding.EncodeToString([]byte("<PaymentResponse><version>1.0</version><payload>" + payload + "</payload><signature>" +
		twoc2pSign(payload, twoc2pKey) + "</signature><respCode>99</respCode><uniqueTransactionCode>EVIL</uniqueTransactionCode></PaymentResponse>"))
	tests := []struct {
		name, path, contentType string
		header                  http.Header
		body                    string
		keys                    []string // the data keys, exactly
		absent                  []string // top-level event fields that must not be there
		typ                     string   // the event's type; "" for payment.succeeded
	}{
		{"wechat_v2 empty elements", "/webhooks/wechat_v2", "text/xml", nil,
			strings.Replace(xmlOf(v2), "</xml>", "<evil></evil><device_info/><attach><![CDATA[]]></attach></xml>", 1), v2Keys, nil, ""},
		{"latipay unsigned fields", "/webhooks/latipay", "application/x-www-form-urlencoded", nil,
			latipayForm(latipayAPIKey, func(v url.Values) {
				v.Set("type", "refund")
				v.Set("refund_amount", "5.00")
				v.Set("provider_order_id", "EVIL")
			}),
			[]string{"amount", "currency", "merchant_reference", "payment_method", "status", "unverified.order_id", "unverified.pay_time"},
			[]string{"provider_order_id", "occurred_at", "refund_id"}, ""},
		{"2c2p envelope elements beside the payload", "/webhooks/2c2p", "application/x-www-form-urlencoded", nil,
			"paymentResponse=" + url.QueryEscape(envelope), nil, nil, ""},
		{"cbtis member beside data", "/webhooks/cbtis", "application/json",
			http.Header{"Signature": {cbtis.Signature([]byte(cbtisBody), cbtisAPIKey)}}, cbtisBody,
			[]string{"merchant_order_id", "notify_type", "order_amount", "order_currency", "order_id", "uid"}, nil, ""},
		{"cbtis without notify_type", "/webhooks/cbtis", "application/json",
			http.Header{"Signature": {cbtis.Signature([]byte(cbtisKindless), cbtisAPIKey)}}, cbtisKindless,
			[]string{"merchant_order_id", "order_amount", "order_currency", "order_id", "uid"}, nil, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, body := send(t, notificationRequest(base+tt.path, tt.contentType, tt.header, tt.body)); status != 200 {
				t.Fatalf("status %d %q", status, body)
			}
			got := merchant.take()
			if len(got) != 1 {
				t.Fatalf("%d events", len(got))
			}
			ev := got[0].event
			data, _ := ev["data"].(map[string]any)
			if tt.keys != nil {
				var keys []string
				for k := range data {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				slices.Sort(tt.keys)
				if !slices.Equal(keys, tt.keys) {
					t.Fatalf("data keys %v, want %v", keys, tt.keys)
				}
			}
			for _, f := range tt.absent {
				if _, ok := ev[f]; ok {
					t.Errorf("the event has %s: %v", f, ev[f])
				}
			}
			for k, v := range data {
				if s, _ := v.(string); strings.Contains(s, "EVIL") || k == "version" || k == "respCode" && s == "99" {
					t.Errorf("data[%s] = %v, from outside the signed part", k, v)
				}
			}
			if ev["order_id"] == "EVIL" || ev["type"] != cmp.Or(tt.typ, "payment.succeeded") {
				t.Fatalf("event %v", ev)
			}
		})
	}
}
