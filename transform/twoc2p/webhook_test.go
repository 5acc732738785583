package twoc2p

import (
	"errors"
	"net/http"
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
		{"the declined demo answer", formHeader, form(FieldResponse, demoDeclined), "payment.failed", "2c2p:1be3c59843:payment.failed", "", "", nil},
		{"succeeded 12.34 SGD", formHeader, form(FieldResponse, signed(notificationXML())), "payment.succeeded", "2c2p:3200632:payment.succeeded", "12.34", "SGD", nil},
		{"JPY", formHeader, form(FieldResponse, signed(notificationXML("amt", "000000000100", "currencyCode", "392"))), "payment.succeeded", "2c2p:3200632:payment.succeeded", "100", "JPY", nil},
		{"status F", formHeader, form(FieldResponse, signed(notificationXML("respCode", "99", "status", "F", "failReason", "Transaction is declined."))), "payment.failed", "2c2p:3200632:payment.failed", "12.34", "SGD", nil},
		{"pending 001", formHeader, form(FieldResponse, signed(notificationXML("respCode", "001", "status", ""))), "payment.pending", "2c2p:3200632:payment.pending", "12.34", "SGD", nil},
		{"pending 32", formHeader, form(FieldResponse, signed(notificationXML("respCode", "32", "status", ""))), "payment.pending", "2c2p:3200632:payment.pending", "12.34", "SGD", nil},
		{"other code: unknown", formHeader, form(FieldResponse, signed(notificationXML("respCode", "05", "status", "V"))), "unknown", "2c2p:3200632:unknown", "12.34", "SGD", nil},
		{"no tranRef: the order id", formHeader, form(FieldResponse, signed(notificationXML(without("tranRef")...))), "payment.succeeded", "2c2p:ORDER-1:payment.succeeded", "12.34", "SGD", nil},
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

func TestWebhookAckNack(t *testing.T) {
	w := newWebhook(t, testConfig())
	status, ct, body := w.Ack()
	if status != 200 || ct != "text/plain; charset=utf-8" || string(body) != "OK" {
		t.Fatalf("Ack = %d %q %q", status, ct, body)
	}
	ct, body = w.Nack("verification failed")
	if ct != "text/plain; charset=utf-8" || string(body) != "verification failed" {
		t.Fatalf("Nack = %q %q", ct, body)
	}
}

func TestEventType(t *testing.T) {
	for _, tt := range []struct{ code, status, want string }{
		{"00", "A", "payment.succeeded"}, {"00", "", "payment.succeeded"}, {"00", "F", "payment.failed"},
		{"99", "F", "payment.failed"}, {"99", "", "payment.failed"}, {"05", "F", "payment.failed"},
		{"001", "", "payment.pending"}, {"32", "", "payment.pending"}, {"001", "A", "unknown"},
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig()
			tt.mutate(&c)
			err := c.Check()
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
