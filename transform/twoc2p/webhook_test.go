package twoc2p

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

func newWebhook(t testing.TB, cfg Config) *Webhook { return transformtest.Must(t, NewWebhook, cfg) }

// notificationXML is a backend notification payload for ORDER-1, written
// by hand like the demo server's answers.
func notificationXML(kv ...string) string {
	return answerXML(append([]string{"respCode", "00", "status", "A", "failReason", "Approved", "approvalCode", "631496",
		"miniProgramData", "-"}, kv...)...)
}

var formHeader = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

func TestWebhookVerify(t *testing.T) {
	w := newWebhook(t, Config{MerchantID: demoMerchantID, SecretKey: demoSecretKey}) // no app_id: the webhook needs none
	signed := func(inner string) string { return refSeal(RootResponse, inner, demoSecretKey) }
	tampered := func() string { // the signed payload of a 12.34 notification, amt changed to 0.01
		env, _ := refOpen(signed(notificationXML()))
		inner := strings.Replace(notificationXML(), "<amt>000000001234</amt>", "<amt>000000000001</amt>", 1)
		env.Payload = b64(inner)
		return reseal(RootResponse, Envelope{Version: "9.9", Payload: env.Payload, Signature: env.Signature})
	}()
	tests := []struct {
		name             string
		header           http.Header
		body             []byte
		typ, id          string
		amount, currency string
		err              error
	}{
		{"the approved demo answer, as a form", formHeader, form(FieldResponse, demoApproved),
			"payment.succeeded", "2c2p:3200632:payment.succeeded", "1.00", "SGD", nil},
		{"the approved demo answer, raw body", nil, []byte(demoApproved), "payment.succeeded", "2c2p:3200632:payment.succeeded", "1.00", "SGD", nil},
		// curl -d and most HTTP clients label any body a form
		{"raw body labelled a form", formHeader, []byte(demoApproved), "payment.succeeded", "2c2p:3200632:payment.succeeded", "1.00", "SGD", nil},
		{"raw body as text/plain, wrapped at 76", http.Header{"Content-Type": {"text/plain"}}, []byte(wrap76(demoApproved)), "payment.succeeded", "2c2p:3200632:payment.succeeded", "1.00", "SGD", nil},
		{"a form with other fields", formHeader, []byte("a=1&" + string(form(FieldResponse, demoApproved)) + "&b=2"), "payment.succeeded", "2c2p:3200632:payment.succeeded", "1.00", "SGD", nil},
		{"raw body URL-encoded (curl --data-urlencode @file)", formHeader, []byte(url.QueryEscape(demoApproved + "\n")), "payment.succeeded", "2c2p:3200632:payment.succeeded", "1.00", "SGD", nil},
		{"a form, unlabelled", nil, form(FieldResponse, demoApproved), "payment.succeeded", "2c2p:3200632:payment.succeeded", "1.00", "SGD", nil},
		{"a multipart form (curl -F)", multipartHeader, multipartForm(FieldResponse, demoApproved), "payment.succeeded", "2c2p:3200632:payment.succeeded", "1.00", "SGD", nil},
		{"a multipart form without the field", multipartHeader, multipartForm("paymentRequest", demoApproved), "", "", "", "", transform.ErrMalformed},
		{"a multipart form giving the field twice", multipartHeader, multipartForm(FieldResponse, demoApproved, FieldResponse, demoDeclined), "", "", "", "", transform.ErrMalformed},
		{"a form giving the field twice", formHeader, []byte(string(form(FieldResponse, demoApproved)) + "&" + string(form(FieldResponse, demoDeclined))), "", "", "", "", transform.ErrMalformed},
		{"multipart without a boundary", http.Header{"Content-Type": {"multipart/form-data"}}, multipartForm(FieldResponse, demoApproved), "", "", "", "", transform.ErrMalformed},
		{"the declined demo answer", formHeader, form(FieldResponse, demoDeclined), "payment.failed", "2c2p:1be3c59843:payment.failed", "", "", nil},
		{"succeeded 12.34 SGD", formHeader, form(FieldResponse, signed(notificationXML())), "payment.succeeded", "2c2p:3200632:payment.succeeded", "12.34", "SGD", nil},
		// A payload written by Python's ElementTree (xml_declaration=True) declares us-ascii.
		{"payload declaring US-ASCII (ElementTree)", formHeader, form(FieldResponse, signed("<?xml version='1.0' encoding='us-ascii'?>\n"+notificationXML())),
			"payment.succeeded", "2c2p:3200632:payment.succeeded", "12.34", "SGD", nil},
		{"payload declaring US-ASCII holding a byte past ASCII", formHeader, form(FieldResponse, signed("<?xml version='1.0' encoding='us-ascii'?>\n"+notificationXML("failReason", "Apprové"))),
			"", "", "", "", transform.ErrMalformed},
		{"JPY", formHeader, form(FieldResponse, signed(notificationXML("amt", "000000000100", "currencyCode", "392"))), "payment.succeeded", "2c2p:3200632:payment.succeeded", "100", "JPY", nil},
		{"KWD: three decimals", formHeader, form(FieldResponse, signed(notificationXML("amt", "000000001230", "currencyCode", "414"))), "payment.succeeded", "2c2p:3200632:payment.succeeded", "1.230", "KWD", nil},
		{"BHD: numeric code 048", formHeader, form(FieldResponse, signed(notificationXML("amt", "000000000005", "currencyCode", "048"))), "payment.succeeded", "2c2p:3200632:payment.succeeded", "0.005", "BHD", nil},
		{"CLF: four decimals", formHeader, form(FieldResponse, signed(notificationXML("amt", "000000012345", "currencyCode", "990"))), "payment.succeeded", "2c2p:3200632:payment.succeeded", "1.2345", "CLF", nil},
		{"status F", formHeader, form(FieldResponse, signed(notificationXML("respCode", "99", "status", "F", "failReason", "Transaction is declined."))), "payment.failed", "2c2p:3200632:payment.failed", "12.34", "SGD", nil},
		{"pending 001", formHeader, form(FieldResponse, signed(notificationXML("respCode", "001", "status", ""))), "payment.pending", "2c2p:3200632:payment.pending", "12.34", "SGD", nil},
		{"pending 32", formHeader, form(FieldResponse, signed(notificationXML("respCode", "32", "status", ""))), "payment.pending", "2c2p:3200632:payment.pending", "12.34", "SGD", nil},
		{"other code: unknown", formHeader, form(FieldResponse, signed(notificationXML("respCode", "05", "status", "V"))), "unknown", "2c2p:3200632:unknown", "12.34", "SGD", nil},
		{"no tranRef: the order id", formHeader, form(FieldResponse, signed(notificationXML(without("tranRef")...))), "payment.succeeded", "2c2p:ORDER-1:payment.succeeded", "12.34", "SGD", nil},
		{"no order: tranRef names the payment", formHeader, form(FieldResponse, signed(notificationXML(without("uniqueTransactionCode")...))), "payment.succeeded", "2c2p:3200632:payment.succeeded", "12.34", "SGD", nil},
		{"neither order nor tranRef", formHeader, form(FieldResponse, signed(notificationXML("uniqueTransactionCode", "-", "tranRef", "-"))), "", "", "", "", transform.ErrMalformed},
		{"both empty", formHeader, form(FieldResponse, signed(notificationXML("uniqueTransactionCode", "", "tranRef", ""))), "", "", "", "", transform.ErrMalformed},
		{"nested fields", formHeader, form(FieldResponse, signed(notificationXML("miniProgramData", `<wechat>{"a":1}</wechat>`))), "payment.succeeded", "2c2p:3200632:payment.succeeded", "12.34", "SGD", nil},
		{"a name that is also a nested path", formHeader, form(FieldResponse, signed(notificationXML("miniProgramData", `<wechat>x</wechat>`, "miniProgramData.wechat", "y"))), "", "", "", "", transform.ErrMalformed},
		{"unknown currency: no amount", formHeader, form(FieldResponse, signed(notificationXML("currencyCode", "999"))), "payment.succeeded", "2c2p:3200632:payment.succeeded", "", "", nil},
		{"forged", formHeader, form(FieldResponse, refSeal(RootResponse, notificationXML(), otherKey)), "", "", "", "", transform.ErrBadSignature},
		{"tampered amount", formHeader, form(FieldResponse, tampered), "", "", "", "", transform.ErrBadSignature},
		{"foreign merchantID", formHeader, form(FieldResponse, signed(notificationXML("merchantID", "JT02"))), "", "", "", "", transform.ErrForeign},
		{"no merchantID", formHeader, form(FieldResponse, signed(notificationXML(without("merchantID")...))), "", "", "", "", transform.ErrForeign},
		{"unsigned", formHeader, form(FieldResponse, b64("<PaymentResponse><payload>"+b64(notificationXML())+"</payload></PaymentResponse>")), "", "", "", "", transform.ErrUnsigned},
		{"a request envelope", formHeader, form(FieldResponse, refSeal(RootRequest, notificationXML(), demoSecretKey)), "", "", "", "", transform.ErrMalformed},
		{"another form field", formHeader, form("paymentRequest", signed(notificationXML())), "", "", "", "", transform.ErrMalformed},
		{"JSON", http.Header{"Content-Type": {"application/json"}}, []byte(`{"respCode":"00"}`), "", "", "", "", transform.ErrMalformed},
		{"empty", nil, nil, "", "", "", "", transform.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := w.Verify(transform.Notification{Header: tt.header, Body: tt.body})
			if tt.err != nil {
				if !errors.Is(err, tt.err) || ev != nil {
					t.Fatalf("Verify = %v, %v; want %v", ev, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type != tt.typ || ev.ID != tt.id || ev.Amount != tt.amount || ev.Currency != tt.currency || ev.Provider != "2c2p" {
				t.Fatalf("event %+v", ev)
			}
			if ev.OrderID != ev.Data["uniqueTransactionCode"] || ev.ProviderOrderID != ev.Data["tranRef"] || ev.OccurredAt != "" {
				t.Fatalf("event %+v", ev)
			}
			again, _ := w.Verify(transform.Notification{Header: tt.header, Body: tt.body})
			if again.ID != ev.ID {
				t.Fatal("the event id changed on a retry")
			}
		})
	}
}

// The event's data holds every payload field, as sent.
func TestWebhookEventData(t *testing.T) {
	w := newWebhook(t, testConfig())
	ev, err := w.Verify(transform.Notification{Body: []byte(demoApproved)})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := Open([]byte(demoApproved), RootResponse, demoSecretKey)
	if len(ev.Data) != len(p) || len(ev.Data) != 36 {
		t.Fatalf("data has %d fields, the payload %d", len(ev.Data), len(p))
	}
	for _, kv := range p {
		if v, ok := ev.Data[kv.Name]; !ok || v != kv.Value {
			t.Fatalf("data[%s] = %q, want %q", kv.Name, v, kv.Value)
		}
	}
	if ev.OrderID != "dd0cf2540f" || ev.ProviderOrderID != "3200632" {
		t.Fatalf("event %+v", ev)
	}
}

// A nested payload field is flattened with dots in data, as README Webhooks has
// every provider do (amount.total, payer.openid).
func TestWebhookEventDataNested(t *testing.T) {
	w := newWebhook(t, testConfig())
	inner := notificationXML("miniProgramData", `<wechat>{"timeStamp":"1"}</wechat>`, "extra", `<a><b>x</b><c>y</c></a>`)
	ev, err := w.Verify(transform.Notification{Header: formHeader, Body: form(FieldResponse, refSeal(RootResponse, inner, demoSecretKey))})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ key, want string }{
		{"miniProgramData.wechat", `{"timeStamp":"1"}`}, {"extra.a.b", "x"}, {"extra.a.c", "y"}, {"respCode", "00"},
	} {
		if got, ok := ev.Data[tt.key]; !ok || got != tt.want {
			t.Fatalf("data[%s] = %q, %v; want %q (data %v)", tt.key, got, ok, tt.want, ev.Data)
		}
	}
	for k := range ev.Data {
		if strings.Contains(k, "/") {
			t.Fatalf("data key %q is not flattened with dots", k)
		}
	}
}

func TestWebhookAckNack(t *testing.T) {
	w := newWebhook(t, testConfig())
	// The ACK is the status alone, with no body and no Content-Type: 2C2P
	// reads only the status (docs/providers/2c2p.md "Notifications").
	status, ct, body := w.Ack()
	if status != 200 || ct != "" || len(body) != 0 {
		t.Fatalf("Ack = %d %q %q", status, ct, body)
	}
	ct, body = w.Nack("verification failed")
	if ct != "text/plain; charset=utf-8" || string(body) != "verification failed" {
		t.Fatalf("Nack = %q %q", ct, body)
	}
}

func TestEventType(t *testing.T) {
	for _, tt := range []struct{ code, status, want string }{
		{"00", "A", "payment.succeeded"}, {"00", "", "payment.succeeded"},
		{"99", "F", "payment.failed"}, {"99", "", "payment.failed"}, {"05", "F", "payment.failed"}, {"", "F", "payment.failed"},
		{"001", "F", "payment.failed"},
		// approved and failed at once: never a terminal state
		{"00", "F", "unknown"}, {"99", "A", "unknown"},
		{"001", "", "payment.pending"}, {"32", "", "payment.pending"}, {"001", "A", "unknown"}, {"32", "A", "unknown"}, {"32", "F", "payment.failed"},
		{"00", "V", "unknown"}, {"05", "", "unknown"}, {"", "", "unknown"},
	} {
		if got := EventType(tt.code, tt.status); got != tt.want {
			t.Fatalf("EventType(%q, %q) = %s, want %s", tt.code, tt.status, got, tt.want)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"defaults", func(*Config) {}, true},
		{"version 9.9", func(c *Config) { c.Version = "9.9" }, true},
		{"bad version", func(c *Config) { c.Version = "9.9<" }, false},
		{"version with a trailing dot", func(c *Config) { c.Version = "9." }, false},
		{"production path", func(c *Config) { c.PaymentPath = "/SecurePayment/Payment.aspx" }, true},
		{"relative path", func(c *Config) { c.PaymentPath = "SecurePayment/Payment.aspx" }, false},
		{"path with a query", func(c *Config) { c.PaymentPath = "/Payment.aspx?x=1" }, false},
		{"pan_country", func(c *Config) { c.PanCountry = "SG" }, true},
		{"lower-case pan_country", func(c *Config) { c.PanCountry = "sg" }, false},
		{"merchant_id with a control character", func(c *Config) { c.MerchantID = "JT\x0101" }, false},
		{"merchant_id with spaces around", func(c *Config) { c.MerchantID = " JT01" }, false},
		{"notify_url", func(c *Config) { c.NotifyURL = "https://pay.example.com/webhooks/2c2p" }, true},
		{"relative notify_url", func(c *Config) { c.NotifyURL = "/webhooks/2c2p" }, false},
		{"notify_url with a control character", func(c *Config) { c.NotifyURL = "https://pay.example.com/\x01" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig()
			tt.mutate(&c)
			err := transform.CheckConfig(&c, transform.RoleClient)
			if (err == nil) != tt.ok {
				t.Fatalf("Check = %v", err)
			}
			if err != nil && strings.Contains(err.Error(), demoSecretKey) {
				t.Fatal("the error names the secret")
			}
			if err == nil && (c.Version == "" || c.PaymentPath == "") {
				t.Fatalf("defaults not filled: %+v", c)
			}
		})
	}
	c := testConfig()
	_ = c.Check()
	if c.Version != "9.9" || c.PaymentPath != "/2C2PFrontEnd/SecurePayment/Payment.aspx" {
		t.Fatalf("defaults %q %q", c.Version, c.PaymentPath)
	}
	if _, err := NewClient(Config{MerchantID: "JT01", SecretKey: "k"}); err == nil || !strings.Contains(err.Error(), "app_id") {
		t.Fatalf("NewClient without app_id: %v", err)
	}
	if _, err := NewSandbox(Config{MerchantID: "JT01", AppID: "wx1"}); err == nil || !strings.Contains(err.Error(), "secret_key") {
		t.Fatalf("NewSandbox without secret_key: %v", err)
	}
	if _, err := NewWebhook(Config{SecretKey: "k"}); err == nil || !strings.Contains(err.Error(), "merchant_id") {
		t.Fatalf("NewWebhook without merchant_id: %v", err)
	}
	for _, f := range c.ConfigFields() {
		wantClient := f.Name == "merchant_id" || f.Name == "secret_key" || f.Name == "app_id"
		wantWebhook := f.Name == "merchant_id" || f.Name == "secret_key"
		if f.RequiredFor(transform.RoleClient) != wantClient || f.RequiredFor(transform.RoleSandbox) != wantClient ||
			f.RequiredFor(transform.RoleWebhook) != wantWebhook {
			t.Fatalf("field %s roles %v", f.Name, f.Required)
		}
	}
}

func TestCurrencyForNumeric(t *testing.T) {
	for numeric, alpha := range map[string]string{"702": "SGD", "764": "THB", "344": "HKD", "458": "MYR", "608": "PHP",
		"360": "IDR", "704": "VND", "840": "USD", "392": "JPY", "156": "CNY", "104": "MMK", "978": "EUR"} {
		if got, ok := CurrencyForNumeric(numeric); !ok || got != alpha {
			t.Fatalf("CurrencyForNumeric(%s) = %s, %v; want %s", numeric, got, ok, alpha)
		}
	}
	for _, bad := range []string{"", "000", "999", "SGD", "70"} {
		if got, ok := CurrencyForNumeric(bad); ok {
			t.Fatalf("CurrencyForNumeric(%q) = %s", bad, got)
		}
	}
}

// TestWebhookAttacks: forged, replayed-with-changes, foreign, wrong-kind
// and oversized notifications are refused.
func TestWebhookAttacks(t *testing.T) {
	w := newWebhook(t, testConfig())
	signed := func(inner string) string { return refSeal(RootResponse, inner, demoSecretKey) }
	gz := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Content-Encoding": {"gzip"}}
	big := strings.Repeat("x", MaxNotification)
	tests := []struct {
		name   string
		header http.Header
		body   []byte
		want   error
	}{
		{"forged with another key", formHeader, form(FieldResponse, refSeal(RootResponse, notificationXML(), otherKey)), transform.ErrBadSignature},
		{"replayed for another order", formHeader, form(FieldResponse, resigned(t, signed(notificationXML()), "ORDER-1", "ORDER-2")), transform.ErrBadSignature},
		{"replayed with a failure turned into success", formHeader, form(FieldResponse, resigned(t, signed(notificationXML("respCode", "99", "status", "F")), "<status>F<", "<status>A<")), transform.ErrBadSignature},
		{"another merchant's valid notification", formHeader, form(FieldResponse, refSeal(RootResponse, notificationXML("merchantID", "JT02"), otherKey)), transform.ErrBadSignature},
		{"another merchantID under our key", formHeader, form(FieldResponse, signed(notificationXML("merchantID", "JT02"))), transform.ErrForeign},
		{"a signed payload giving the order twice", formHeader, form(FieldResponse, signed(strings.Replace(notificationXML(), "</"+RootResponse+">", "<uniqueTransactionCode>ORDER-2</uniqueTransactionCode></"+RootResponse+">", 1))), transform.ErrMalformed},
		{"a request envelope (wrong kind)", formHeader, form(FieldResponse, refSeal(RootRequest, strings.ReplaceAll(notificationXML(), RootResponse, RootRequest), demoSecretKey)), transform.ErrMalformed},
		{"gzip without Content-Encoding", formHeader, gzipped(form(FieldResponse, demoApproved)), transform.ErrMalformed},
		{"raw gzip without Content-Encoding", nil, gzipped([]byte(demoApproved)), transform.ErrMalformed},
		{"Content-Encoding the body does not have", gz, form(FieldResponse, demoApproved), transform.ErrMalformed},
		{"another Content-Encoding", http.Header{"Content-Encoding": {"br"}}, []byte(demoApproved), transform.ErrMalformed},
		{"gzip then another Content-Encoding", http.Header{"Content-Encoding": {"gzip", "br"}}, gzipped([]byte(demoApproved)), transform.ErrMalformed},
		{"gzip inflating past 64 KiB", gz, gzipped(form(FieldResponse, demoApproved+big)), transform.ErrMalformed},
		{"oversized", formHeader, []byte(string(form(FieldResponse, demoApproved)) + "&pad=" + big), transform.ErrMalformed},
		// The envelope is flat; what the flat parser refuses is refused, not
		// handed to a second parser.
		{"an attribute on the payload", nil, []byte(b64(strings.Replace(refDecode(t, demoApproved), "<payload>", `<payload a="1">`, 1))), transform.ErrMalformed},
		{"a nested element in the envelope", nil, []byte(b64(strings.Replace(refDecode(t, demoApproved), "<version>", "<x><y>1</y></x><version>", 1))), transform.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ev, err := w.Verify(transform.Notification{Header: tt.header, Body: tt.body}); ev != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %+v, %v; want %v", ev, err, tt.want)
			}
		})
	}
	// A gzip body the Content-Encoding announces is read; a content coding
	// is case-insensitive and x-gzip is gzip (RFC 9110 §8.4.1, §18.6), and
	// Content-Encoding is a list, on one line or several (§8.4).
	for _, ce := range [][]string{{"gzip"}, {"GZIP"}, {"Gzip"}, {"x-gzip"}, {"gzip, identity"}, {"identity", "x-gzip"}} {
		h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Content-Encoding": ce}
		if ev, err := w.Verify(transform.Notification{Header: h, Body: gzipped(form(FieldResponse, demoApproved))}); err != nil || ev.Type != transform.EventPaymentSucceeded {
			t.Fatalf("Content-Encoding %s: %+v, %v", ce, ev, err)
		}
	}
	if ev, err := w.Verify(transform.Notification{Header: http.Header{"Content-Encoding": {"Identity"}}, Body: []byte(demoApproved)}); err != nil {
		t.Fatalf("Content-Encoding Identity: %+v, %v", ev, err)
	}
}

// TestWebhookBoundedWork: hostile bodies of a few KiB cost little before
// the signature check: no inflating of what Content-Encoding did not
// announce, never past 64 KiB, no second parser.
func TestWebhookBoundedWork(t *testing.T) {
	w := newWebhook(t, testConfig())
	nested := b64("<PaymentResponse>" + strings.Repeat(`<a b="1"><c/></a>`, 40000) + "</PaymentResponse>")
	bodies := map[string]transform.Notification{
		"gzip bomb, no Content-Encoding":   {Body: gzipped([]byte(strings.Repeat("A", 1<<20)))},
		"gzip bomb, Content-Encoding gzip": {Header: http.Header{"Content-Encoding": {"gzip"}}, Body: gzipped([]byte(strings.Repeat("A", 1<<20)))},
		"gzip of nested elements":          {Body: gzipped([]byte(nested))},
		"gzip of nested elements, encoded": {Header: http.Header{"Content-Encoding": {"gzip"}}, Body: gzipped([]byte(nested[:MaxNotification]))},
	}
	for name, n := range bodies {
		t.Run(name, func(t *testing.T) {
			if len(n.Body) > 8<<10 {
				t.Fatalf("the attack body is %d bytes", len(n.Body))
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			ev, err := w.Verify(n)
			runtime.ReadMemStats(&after)
			if ev != nil || err == nil {
				t.Fatalf("Verify = %+v, %v", ev, err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
				t.Fatalf("%d bytes allocated before the signature check", alloc)
			}
		})
	}
}

// TestWebhookFormBoundedWork: a notification form at the 64 KiB bound with
// the signed envelope and thousands of other fields, URL-encoded or
// multipart, costs about its own size before the signature is checked,
// and is refused (transform.MaxFormFields): 9000 fields cost 1.8 MB and
// 1.4 ms, 900 parts 1.2 MB; 64 are read. So is an envelope of thousands
// of elements (its three aside, unsigned and skipped): 16 are read; and a
// part of thousands of header lines (1.5 ms, 800 KB): 16 are allowed.
func TestWebhookFormBoundedWork(t *testing.T) {
	w := newWebhook(t, testConfig())
	padded := func(field func(i int) string, end string) []byte {
		b := bytes.NewBuffer(form(FieldResponse, demoApproved))
		for i := 0; b.Len() < MaxNotification-len(end)-32; i++ {
			b.WriteString(field(i))
		}
		b.WriteString(end)
		return b.Bytes()
	}
	// parts is a multipart form of n parts, or of as many as fit (n 0).
	parts := func(n int) []byte {
		kv := []string{FieldResponse, demoApproved}
		for i := 0; n == 0 && len(multipartForm(kv...)) < MaxNotification-80 || i < n-1; i++ {
			kv = append(kv, "f"+strconv.Itoa(i), "")
		}
		return multipartForm(kv...)
	}
	// headerLines is the form with its part's Content-Disposition followed
	// by n-1 header lines of its own.
	headerLines := func(n int) []byte {
		return bytes.Replace(multipartForm(FieldResponse, demoApproved), []byte("\r\n\r\n"), []byte(strings.Repeat("\r\nX-A: b", n-1)+"\r\n\r\n"), 1)
	}
	// The demo envelope with unsigned elements of its own after the
	// signature (it has three).
	env := refDecode(t, demoApproved)
	extra := func(n int) []byte {
		return []byte(b64(strings.Replace(env, "</"+RootResponse+">", strings.Repeat("<x/>", n)+"</"+RootResponse+">", 1)))
	}
	tests := []struct {
		name string
		n    transform.Notification
		ok   bool
	}{
		{"an envelope of 16 elements", transform.Notification{Body: extra(maxEnvelopeElements - 3)}, true},
		{"an envelope of 17 elements", transform.Notification{Body: extra(maxEnvelopeElements - 2)}, false},
		{"an envelope of 12000 elements", transform.Notification{Body: extra((MaxNotification*3/4 - len(env)) / 4)}, false},
		{"9000 fields", transform.Notification{Header: formHeader, Body: padded(func(i int) string { return "&f" + strconv.Itoa(i) + "=" }, "")}, false},
		{"65 fields", transform.Notification{Header: formHeader, Body: append(form(FieldResponse, demoApproved), strings.Repeat("&", transform.MaxFormFields)...)}, false},
		{"64 fields", transform.Notification{Header: formHeader, Body: append(form(FieldResponse, demoApproved), strings.Repeat("&", transform.MaxFormFields-1)...)}, true},
		{"900 parts", transform.Notification{Header: multipartHeader, Body: parts(0)}, false},
		{"65 parts", transform.Notification{Header: multipartHeader, Body: parts(transform.MaxFormFields + 1)}, false},
		{"64 parts", transform.Notification{Header: multipartHeader, Body: parts(transform.MaxFormFields)}, true},
		{"a part of 7000 header lines", transform.Notification{Header: multipartHeader, Body: headerLines(7000)}, false},
		{"a part of 17 header lines", transform.Notification{Header: multipartHeader, Body: headerLines(maxPartHeaderLines + 1)}, false},
		{"a part of 16 header lines", transform.Notification{Header: multipartHeader, Body: headerLines(maxPartHeaderLines)}, true},
		// A header line named as the boundary and more ("--B…x: b", a token
		// to mime/multipart) is no delimiter, and no new part's header.
		{"a part of 5200 header lines, every 8th named as the boundary", transform.Notification{Header: multipartHeader,
			Body: bytes.Replace(multipartForm(FieldResponse, demoApproved), []byte("\r\n\r\n"),
				[]byte(strings.Repeat(strings.Repeat("\r\nX-A: b", 7)+"\r\n--"+testBoundary+"x: b", 650)+"\r\n\r\n"), 1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.n.Body) > MaxNotification {
				t.Fatalf("the body is %d bytes", len(tt.n.Body))
			}
			var ev *transform.Event
			var err error
			alloc := transformtest.Allocated(func() { ev, err = w.Verify(tt.n) })
			if tt.ok != (err == nil) || !tt.ok && !errors.Is(err, transform.ErrMalformed) {
				t.Fatalf("Verify = %+v, %v", ev, err)
			}
			if len(tt.n.Body) > MaxNotification/2 && alloc > 4*uint64(len(tt.n.Body)) {
				t.Fatalf("%d bytes allocated for a body of %d", alloc, len(tt.n.Body))
			}
		})
	}
}

// resigned is an envelope whose payload had old replaced by new, keeping
// the original signature (what an attacker replaying a capture can do).
func resigned(t *testing.T, text, old, new string) string {
	t.Helper()
	env, err := refOpen(text)
	if err != nil {
		t.Fatal(err)
	}
	inner := refDecode(t, env.Payload)
	if !strings.Contains(inner, old) {
		t.Fatalf("%q not in the payload", old)
	}
	return reseal(RootResponse, Envelope{Version: "9.9", Payload: b64(strings.Replace(inner, old, new, 1)), Signature: env.Signature})
}

// TestWebhookContentEncoding: the rule every provider's webhook shares.
func TestWebhookContentEncoding(t *testing.T) {
	transformtest.WantContentEncodingRule(t, newWebhook(t, testConfig()), transform.Notification{Header: formHeader, Body: form(FieldResponse, demoApproved)})
}
