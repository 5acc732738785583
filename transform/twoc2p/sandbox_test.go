package twoc2p

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

func newSandbox(t testing.TB, cfg Config) *Sandbox {
	s := transformtest.Must(t, NewSandbox, cfg)
	s.Now = transformtest.Clock
	return s
}

// post sends a prepared call to the sandbox and returns the answer as
// recorded, checking its transport form.
func post(t *testing.T, s *Sandbox, call *transform.Call, gzipOK bool) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(call.Method, call.Path, bytes.NewReader(call.Body))
	r.Header.Set("Content-Type", call.ContentType)
	if gzipOK {
		r.Header.Set("Accept-Encoding", "gzip, deflate")
	}
	if !s.Handles(r.URL.Path) {
		t.Fatalf("the sandbox does not handle %s", r.URL.Path)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, r)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("answer %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	return rec
}

// isSandboxTranRef: the sandbox's tranRef is the time (UTC+8, of the
// pinned clock) and a number from 3200001 on.
func isSandboxTranRef(ref string) bool {
	n, err := strconv.ParseInt(strings.TrimPrefix(ref, "261122100000"), 10, 64)
	return len(ref) == 19 && err == nil && n > 3200000
}

// TestSandboxTranRefNewAfterReload: a configuration load starts the sandbox
// afresh, within the same second too; the first order of the new one gets
// a tranRef of its own, not the one the first order of the last one got,
// which a webhook with dedupe acknowledged (README Sandbox).
func TestSandboxTranRefNewAfterReload(t *testing.T) {
	c := newClient(t, testConfig())
	seen := map[string]bool{}
	for range 3 {
		a := answerOf(t, post(t, newSandbox(t, testConfig()), payCall(t, c, sandboxPay), false))
		if ref := a.Get("tranRef"); !isSandboxTranRef(ref) || seen[ref] {
			t.Fatalf("tranRef %q, issued before: %v", ref, seen[ref])
		}
		seen[a.Get("tranRef")] = true
	}
}

// answerOf opens a sandbox answer with the reference decoder and the key.
func answerOf(t *testing.T, rec *httptest.ResponseRecorder) transform.Params {
	t.Helper()
	body := rec.Body.Bytes()
	if rec.Header().Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(zr)
	}
	env, err := refOpen(string(body))
	if err != nil || env.XMLName.Local != "PaymentResponse" || env.Signature != refSign(env.Payload, demoSecretKey) {
		t.Fatalf("the answer is not an envelope signed with the key (%v): %s", err, body)
	}
	p, err := Open(body, RootResponse, demoSecretKey)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func payCall(t *testing.T, c *Client, body string) *transform.Call {
	t.Helper()
	call, err := c.Prepare(context.Background(), "pay", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return call
}

const sandboxPay = `{"order_id":"SB-1","amount":"12.34","currency":"SGD","description":"Kaya toast","openid":"` + testOpenID +
	`","attach":"table=7","notify_url":"http://merchant.example/webhooks/2c2p"}`

// TestSandboxAnswerCompression: the answer is gzip-compressed, like the
// demo server's, exactly when Accept-Encoding accepts gzip (RFC 9110
// §12.5.3: case-insensitive, x-gzip, "*", q=0 refusing).
func TestSandboxAnswerCompression(t *testing.T) {
	s := newSandbox(t, testConfig())
	c := newClient(t, testConfig())
	for _, tt := range []struct {
		accept string
		gzip   bool
	}{
		{"", false}, {"gzip", true}, {"gzip, deflate, br", true}, {"GZIP", true}, {"x-gzip", true},
		{"*", true}, {"identity", false}, {"deflate, br", false},
		{"gzip;q=0", false}, {"gzip; q=0.000, identity", false}, {"gzip;Q=0.0", false}, {"gzip;q=0.001", true},
		{"gzip;q=0, *", false}, {"*;q=0", false}, {"*;q=0, gzip;q=0.5", true}, {"br;q=1.0, gzip;q=0.8", true},
	} {
		t.Run(tt.accept, func(t *testing.T) {
			call := payCall(t, c, sandboxPay)
			r := httptest.NewRequest(call.Method, call.Path, bytes.NewReader(call.Body))
			r.Header.Set("Content-Type", call.ContentType)
			if tt.accept != "" {
				r.Header.Set("Accept-Encoding", tt.accept)
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, r)
			if got := rec.Header().Get("Content-Encoding") == "gzip"; got != tt.gzip || rec.Header().Get("Vary") != "Accept-Encoding" {
				t.Fatalf("Content-Encoding %q, Vary %q; want gzip %v", rec.Header().Get("Content-Encoding"), rec.Header().Get("Vary"), tt.gzip)
			}
			if a := answerOf(t, rec); a.Get("respCode") != "32" {
				t.Fatalf("answer %v", a.Map())
			}
		})
	}
}

// TestSandboxPayRoundTrip: the client's request, the sandbox's answer, the
// client's reading of it: a wx.requestPayment object signed like WeChat's.
func TestSandboxPayRoundTrip(t *testing.T) {
	s := newSandbox(t, testConfig())
	c := newClient(t, testConfig())
	for _, mode := range []string{"plain", "gzip, inflated by the transport", "gzip, left compressed"} {
		gz := mode != "plain"
		call := payCall(t, c, sandboxPay)
		rec := post(t, s, call, gz)
		if (rec.Header().Get("Content-Encoding") == "gzip") != gz {
			t.Fatalf("%s: Content-Encoding %q", mode, rec.Header().Get("Content-Encoding"))
		}
		a := answerOf(t, rec)
		if a.Get("respCode") != "32" || a.Get("merchantID") != demoMerchantID || a.Get("uniqueTransactionCode") != "SB-1" ||
			a.Get("amt") != "000000001234" || a.Get("currencyCode") != "702" || !isSandboxTranRef(a.Get("tranRef")) ||
			a.Get("userDefined1") != "table=7" || a.Get("paymentChannel") != "WCMINI" ||
			// the pinned clock in the demo server's zones (docs/providers/2c2p.md "Times")
			a.Get("timeStamp") != "221126090000" || a.Get("dateTime") != "221126100000" {
			t.Fatalf("answer %v", a.Map())
		}
		body := rec.Body.Bytes()
		if mode == "gzip, inflated by the transport" {
			zr, _ := gzip.NewReader(bytes.NewReader(body))
			body, _ = io.ReadAll(zr)
		}
		out, err := call.Decode(200, rec.Header(), body)
		if err != nil {
			t.Fatal(err)
		}
		var pp map[string]string
		if err := json.Unmarshal(out, &pp); err != nil {
			t.Fatal(err)
		}
		want := wxpay.PaySign(testAppID, pp["nonceStr"], pp["package"], "HMAC-SHA256", pp["timeStamp"], s.wechatKey)
		if pp["paySign"] != want || pp["signType"] != "HMAC-SHA256" || !strings.HasPrefix(pp["package"], "prepay_id=wx20261122100000") ||
			len(pp["nonceStr"]) != 32 || pp["timeStamp"] != "1795312800" || pp["provider"] != "2c2p" || pp["order_id"] != "SB-1" ||
			pp["provider_order_id"] != a.Get("tranRef") {
			t.Fatalf("pay answer %s", out)
		}
	}
	if len(s.orders) != 1 {
		t.Fatalf("%d orders for one order id sent twice", len(s.orders))
	}
}

// TestSandboxTakesARequestWithoutTimeStamp: timeStamp is optional (2C2P's
// SecurePay manual: "if empty, system will take the server received date
// time"; the demo server approved the captured request, which has none), so
// the sandbox answers 32 and writes its own time of receipt, in UTC+7
// (docs/providers/2c2p.md "Times").
func TestSandboxTakesARequestWithoutTimeStamp(t *testing.T) {
	s := newSandbox(t, testConfig())
	call := payCall(t, newClient(t, testConfig()), sandboxPay)
	_, inner := decodeSent(t, call.Body)
	without := regexp.MustCompile(`<timeStamp>\d{12}</timeStamp>`).ReplaceAllString(inner, "")
	if without == inner {
		t.Fatalf("no timeStamp in %s", inner)
	}
	call.Body = form(FieldRequest, refSeal(RootRequest, without, demoSecretKey))
	if a := answerOf(t, post(t, s, call, false)); a.Get("respCode") != "32" || a.Get("timeStamp") != "221126090000" || a.Get("dateTime") != "221126100000" {
		t.Fatalf("answer %v", a.Map())
	}
}

// TestSandboxRefusals: what 2C2P cannot take is a signed respCode 99 with
// the reason, which minipay turns into a 422 (or, under a wrong key, a 502).
func TestSandboxRefusals(t *testing.T) {
	s := newSandbox(t, testConfig())
	good := newClient(t, testConfig())
	other := func(mutate func(*Config)) *Client { cfg := testConfig(); mutate(&cfg); return newClient(t, cfg) }
	// an order paid already, for the duplicate case
	post(t, s, payCall(t, good, strings.Replace(sandboxPay, "SB-1", "PAID-1", 1)), false)
	if _, _, err := s.Complete("PAID-1", true, transformtest.Pinned); err != nil {
		t.Fatal(err)
	}
	post(t, s, payCall(t, good, strings.Replace(sandboxPay, "SB-1", "OPEN-1", 1)), false)
	tests := []struct {
		name, reason string
		client       *Client
		body         string
		raw          []byte
		wantStatus   int
		wantCode     string
	}{
		{"foreign merchantID", "Invalid merchant ID.", other(func(c *Config) { c.MerchantID = "JT02" }), sandboxPay, nil, 422, "provider_rejected"},
		{"wrong secret key", "Invalid signature.", other(func(c *Config) { c.SecretKey = otherKey }), sandboxPay, nil, 502, "upstream_signature_invalid"},
		{"wrong app_id", "Invalid appID.", other(func(c *Config) { c.AppID = "wx0000000000000000" }), sandboxPay, nil, 422, "provider_rejected"},
		{"wrong version", "Invalid version.", other(func(c *Config) { c.Version = "9.4" }), sandboxPay, nil, 422, "provider_rejected"},
		{"order paid", "Duplicate unique transaction code.", good, strings.Replace(sandboxPay, "SB-1", "PAID-1", 1), nil, 422, "provider_rejected"},
		{"same order, other amount", "Duplicate unique transaction code.", good, strings.Replace(strings.Replace(sandboxPay, "SB-1", "OPEN-1", 1), "12.34", "12.35", 1), nil, 422, "provider_rejected"},
		{"same order, other description", "Duplicate unique transaction code.", good, strings.Replace(strings.Replace(sandboxPay, "SB-1", "OPEN-1", 1), "Kaya toast", "Kopi", 1), nil, 422, "provider_rejected"},
		{"same order, other payer", "Duplicate unique transaction code.", good, strings.Replace(strings.Replace(sandboxPay, "SB-1", "OPEN-1", 1), testOpenID, "oOtherPayer", 1), nil, 422, "provider_rejected"},
		{"not a form", "Invalid payment request.", good, sandboxPay, []byte("hello"), 422, "provider_rejected"},
		{"unsigned request", "Invalid signature.", good, sandboxPay,
			form(FieldRequest, b64("<PaymentRequest><version>9.9</version><payload>"+b64("<PaymentRequest><merchantID>JT01</merchantID></PaymentRequest>")+"</payload></PaymentRequest>")), 422, "provider_rejected"},
		{"missing fields", "Invalid uniqueTransactionCode.", good, sandboxPay,
			form(FieldRequest, refSeal(RootRequest, "<PaymentRequest><merchantID>JT01</merchantID></PaymentRequest>", demoSecretKey)), 422, "provider_rejected"},
		{"a timeStamp not ddMMyyHHmmss", "Invalid timeStamp.", good, sandboxPay,
			form(FieldRequest, refSeal(RootRequest, "<PaymentRequest><timeStamp>2211260900</timeStamp><merchantID>JT01</merchantID></PaymentRequest>", demoSecretKey)), 422, "provider_rejected"},
		{"another channel", "Invalid paymentChannel.", good, sandboxPay,
			form(FieldRequest, refSeal(RootRequest, "<PaymentRequest><timeStamp>221126100000</timeStamp><merchantID>JT01</merchantID><uniqueTransactionCode>X1</uniqueTransactionCode><desc>x</desc><amt>000000000100</amt><currencyCode>702</currencyCode><paymentChannel>CC</paymentChannel></PaymentRequest>", demoSecretKey)), 422, "provider_rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := payCall(t, tt.client, tt.body)
			if tt.raw != nil {
				call.Body = tt.raw
			}
			rec := post(t, s, call, false)
			a := answerOf(t, rec)
			if a.Get("respCode") != "99" || a.Get("status") != "F" || a.Get("failReason") != tt.reason {
				t.Fatalf("answer %v", a.Map())
			}
			_, err := call.Decode(200, rec.Header(), rec.Body.Bytes())
			e := wantError(t, err, tt.wantStatus, tt.wantCode)
			if tt.wantStatus == 422 && (e.ProviderCode != "99" || e.ProviderMessage != tt.reason) {
				t.Fatalf("error %+v", e)
			}
		})
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, DefaultPaymentPath, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET answered %d", rec.Code)
	}
	if s.Handles("/pay/unifiedorder") || !s.Handles(DefaultPaymentPath) {
		t.Fatal("Handles")
	}
}

// TestSandboxPaths: the sandbox serves the configured payment_path, the
// demo server's and the live hosts', whatever a minipay route sends to.
func TestSandboxPaths(t *testing.T) {
	custom := testConfig()
	custom.PaymentPath = "/custom/Payment.aspx"
	for _, tt := range []struct {
		name    string
		sandbox Config
		path    string
		handled bool
	}{
		{"default sandbox, demo path", testConfig(), DefaultPaymentPath, true},
		{"default sandbox, live path", testConfig(), LivePaymentPath, true},
		{"default sandbox, another path", testConfig(), "/custom/Payment.aspx", false},
		{"custom sandbox, its path", custom, "/custom/Payment.aspx", true},
		{"custom sandbox, demo path", custom, DefaultPaymentPath, true},
		{"custom sandbox, live path", custom, LivePaymentPath, true},
		{"below the path", testConfig(), LivePaymentPath + "/x", false},
		{"WeChat's path", testConfig(), "/pay/unifiedorder", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSandbox(t, tt.sandbox)
			if s.Handles(tt.path) != tt.handled {
				t.Fatalf("Handles(%s) = %v", tt.path, !tt.handled)
			}
			if !tt.handled {
				return
			}
			client := testConfig()
			client.PaymentPath = tt.path
			req := &transform.PayRequest{OrderID: "P-1", Amount: "1.00", Currency: "SGD", Description: "d", OpenID: testOpenID}
			call, err := newClient(t, client).Pay(transformtest.Valid(t, req))
			if err != nil {
				t.Fatal(err)
			}
			rec := post(t, s, call, false)
			if a := answerOf(t, rec); a.Get("respCode") != RespPrepay {
				t.Fatalf("answer %v", a.Map())
			}
		})
	}
}

// TestSandboxComplete: the notification the sandbox sends is one the
// webhook verifies, for the order, with its amount and attach.
func TestSandboxComplete(t *testing.T) {
	s := newSandbox(t, testConfig())
	c := newClient(t, testConfig())
	w := newWebhook(t, testConfig())
	post(t, s, payCall(t, c, sandboxPay), false)
	post(t, s, payCall(t, c, strings.Replace(strings.Replace(sandboxPay, "SB-1", "NO-URL", 1), `,"notify_url":"http://merchant.example/webhooks/2c2p"`, "", 1)), false)
	post(t, s, payCall(t, c, strings.Replace(sandboxPay, "SB-1", "FAILS-1", 1)), false)

	verify := func(out *transform.Outbound) *transform.Event {
		t.Helper()
		if out.URL != "http://merchant.example/webhooks/2c2p" || out.ContentType != "application/x-www-form-urlencoded" ||
			!bytes.HasPrefix(out.Body, []byte("paymentResponse=")) {
			t.Fatalf("outbound %+v", out)
		}
		ev, err := w.Verify(transform.Notification{Header: http.Header{"Content-Type": {out.ContentType}}, Body: out.Body})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	out, ack, err := s.Complete("SB-1", true, transformtest.Pinned)
	if err != nil {
		t.Fatal(err)
	}
	ev := verify(out)
	if ev.Type != "payment.succeeded" || !isSandboxTranRef(ev.ProviderOrderID) || ev.ID != "2c2p:"+ev.ProviderOrderID+":payment.succeeded" || ev.OrderID != "SB-1" ||
		ev.Amount != "12.34" || ev.Currency != "SGD" || ev.Data["userDefined1"] != "table=7" || ev.Data["status"] != "A" ||
		ev.Data["respCode"] != "00" || len(ev.Data["approvalCode"]) != 6 {
		t.Fatalf("event %+v", ev)
	}
	if !ack(200, nil) || !ack(200, []byte("OK")) || ack(500, nil) || ack(202, nil) {
		t.Fatal("the ACK check is not HTTP 200")
	}
	again, _, err := s.Complete("SB-1", true, transformtest.Pinned.Add(time.Minute)) // a retry: same values, same event id
	if err != nil || verify(again).ID != ev.ID || verify(again).Data["approvalCode"] != ev.Data["approvalCode"] {
		t.Fatalf("retry: %v", err)
	}
	if _, _, err := s.Complete("SB-1", false, transformtest.Pinned); err == nil {
		t.Fatal("a paid order failed")
	}
	out, _, err = s.Complete("FAILS-1", false, transformtest.Pinned)
	if err != nil {
		t.Fatal(err)
	}
	if ev := verify(out); ev.Type != "payment.failed" || ev.Data["respCode"] != "99" || ev.Data["status"] != "F" {
		t.Fatalf("failed event %+v", ev)
	}
	// An order without a notify URL is settled as 2C2P settles a payment
	// (paying it again is then the paid order's refusal); nothing is sent.
	noURL := strings.Replace(strings.Replace(sandboxPay, "SB-1", "NO-URL", 1), `,"notify_url":"http://merchant.example/webhooks/2c2p"`, "", 1)
	if out, _, err := s.Complete("NO-URL", true, transformtest.Pinned); out != nil || !errors.Is(err, transform.ErrNotNotified) || !strings.Contains(err.Error(), "notify_url") {
		t.Fatalf("an order without notify URL: %+v %v, want ErrNotNotified naming notify_url", out, err)
	}
	if a := answerOf(t, post(t, s, payCall(t, c, noURL), false)); a.Get("respCode") != "99" || a.Get("failReason") != "Duplicate unique transaction code." {
		t.Fatalf("paying the settled order again: %v", a.Map())
	}
	if _, _, err := s.Complete("NO-URL", false, transformtest.Pinned); err == nil || errors.Is(err, transform.ErrNotNotified) {
		t.Fatalf("the paid order without notify URL failed: %v", err)
	}
	if _, _, err := s.Complete("NEVER", true, transformtest.Pinned); err == nil {
		t.Fatal("an unknown order completed")
	}

	// The sandbox's own notify_url plays the backend URL a merchant
	// registers with 2C2P: an order whose request named none is notified there.
	withURL := testConfig()
	withURL.NotifyURL = "http://merchant.example/webhooks/2c2p"
	s = newSandbox(t, withURL)
	post(t, s, payCall(t, c, strings.Replace(strings.Replace(sandboxPay, "SB-1", "NO-URL", 1), `,"notify_url":"http://merchant.example/webhooks/2c2p"`, "", 1)), false)
	out, _, err = s.Complete("NO-URL", true, transformtest.Pinned)
	if err != nil {
		t.Fatal(err)
	}
	if ev := verify(out); ev.Type != "payment.succeeded" || ev.OrderID != "NO-URL" {
		t.Fatalf("event %+v", ev)
	}
}

// TestSandboxParallelPays: 100 pays at once, each settled as soon as it is
// made while the console lists the orders (go test -race finds order state
// touched outside the lock).
func TestSandboxParallelPays(t *testing.T) {
	cfg := testConfig()
	cfg.NotifyURL = "https://merchant.example/webhooks/2c2p"
	transformtest.ParallelPays(t, newSandbox(t, cfg), newClient(t, cfg), 100, func(i int) (string, []byte) {
		id := "PAR-" + strconv.Itoa(i)
		return id, []byte(`{"order_id":"` + id + `","amount":"1.00","currency":"SGD","description":"d","openid":"o"}`)
	})
}
