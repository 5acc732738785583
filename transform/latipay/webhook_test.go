package latipay

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// docNotification is the notification example of latipay-hosted-online.md
// "Asynchronous Notification", byte for byte; its signature is the
// published vector (api_key 111222333).
const docNotification = `merchant_reference=dsi39ej430sks03&order_id=2017232323345678&amount=120.00&currency=NZD&payment_method=alipay&pay_time=2017-07-07%2010%3A53%3A50&status=paid&signature=840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1`

// notificationForm is a notification signed with key after mutate ran.
func notificationForm(key string, mutate func(url.Values)) string {
	v := url.Values{
		"merchant_reference": {"dsi39ej430sks03"}, "order_id": {"2017232323345678"}, "amount": {"120.00"},
		"currency": {"NZD"}, "payment_method": {"wechat"}, "pay_time": {"2017-07-07 10:53:50"}, "status": {"paid"},
	}
	if mutate != nil {
		mutate(v)
	}
	if _, ok := v["signature"]; !ok {
		v.Set("signature", refNotify(v.Get("merchant_reference"), v.Get("payment_method"), v.Get("status"), v.Get("currency"), v.Get("amount"), key))
	}
	return v.Encode()
}

func setForm(name, value string) func(url.Values) { return func(v url.Values) { v.Set(name, value) } }

func TestWebhookKnownAnswer(t *testing.T) {
	for _, cfg := range []Config{testConfig(), {APIKey: vecAPIKey}} {
		ev, err := newWebhook(t, cfg).Verify(transform.Notification{Body: []byte(docNotification)})
		if err != nil {
			t.Fatal(err)
		}
		want := transform.Event{
			ID: "latipay:2017232323345678:payment.succeeded", Provider: "latipay", Type: "payment.succeeded",
			OrderID: "dsi39ej430sks03", ProviderOrderID: "2017232323345678", Amount: "120.00", Currency: "NZD",
			OccurredAt: "2017-07-07T10:53:50+08:00",
		}
		got := *ev
		got.Data, want.Data = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("event %+v\nwant %+v", got, want)
		}
		wantData := map[string]string{
			"merchant_reference": "dsi39ej430sks03", "order_id": "2017232323345678", "amount": "120.00", "currency": "NZD",
			"payment_method": "alipay", "pay_time": "2017-07-07 10:53:50", "status": "paid",
		}
		if len(ev.Data) != len(wantData) {
			t.Fatalf("data %v", ev.Data)
		}
		for k, v := range wantData {
			if ev.Data[k] != v {
				t.Fatalf("data[%s] = %q, want %q", k, ev.Data[k], v)
			}
		}
	}
}

func TestWebhookVerify(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		body    string
		err     error
		typ, id string
	}{
		{"paid", testConfig(), notificationForm(vecAPIKey, nil), nil, "payment.succeeded", "latipay:2017232323345678:payment.succeeded"},
		{"failed", testConfig(), notificationForm(vecAPIKey, setForm("status", "failed")), nil, "payment.failed", "latipay:2017232323345678:payment.failed"},
		{"rejected", testConfig(), notificationForm(vecAPIKey, setForm("status", "rejected")), nil, "payment.failed", "latipay:2017232323345678:payment.failed"},
		{"canceled", testConfig(), notificationForm(vecAPIKey, setForm("status", "canceled")), nil, "payment.cancelled", "latipay:2017232323345678:payment.cancelled"},
		{"pending", testConfig(), notificationForm(vecAPIKey, setForm("status", "pending")), nil, "payment.pending", "latipay:2017232323345678:payment.pending"},
		{"unknown status", testConfig(), notificationForm(vecAPIKey, setForm("status", "refunded")), nil, "unknown", "latipay:2017232323345678:unknown"},
		{"no order_id: merchant_reference in the id", testConfig(), notificationForm(vecAPIKey, func(v url.Values) { v.Del("order_id") }), nil, "payment.succeeded", "latipay:dsi39ej430sks03:payment.succeeded"},
		{"an extension field", testConfig(), notificationForm(vecAPIKey, setForm("new_field", "x")), nil, "payment.succeeded", "latipay:2017232323345678:payment.succeeded"},
		{"upper-case signature", testConfig(), notificationForm(vecAPIKey, setForm("signature", strings.ToUpper(refNotify("dsi39ej430sks03", "wechat", "paid", "NZD", "120.00", vecAPIKey)))), nil, "payment.succeeded", "latipay:2017232323345678:payment.succeeded"},
		{"another currency, none configured", Config{APIKey: vecAPIKey}, notificationForm(vecAPIKey, setForm("currency", "AUD")), nil, "payment.succeeded", "latipay:2017232323345678:payment.succeeded"},
		{"another currency than the wallet's", testConfig(), notificationForm(vecAPIKey, setForm("currency", "AUD")), transform.ErrForeign, "", ""},
		{"forged", testConfig(), notificationForm(otherKey, nil), transform.ErrBadSignature, "", ""},
		{"tampered amount", testConfig(), strings.Replace(notificationForm(vecAPIKey, nil), "amount=120.00", "amount=1.00", 1), transform.ErrBadSignature, "", ""},
		{"tampered status", testConfig(), strings.Replace(notificationForm(vecAPIKey, setForm("status", "failed")), "status=failed", "status=paid", 1), transform.ErrBadSignature, "", ""},
		{"amount text changed", testConfig(), strings.Replace(notificationForm(vecAPIKey, nil), "amount=120.00", "amount=120", 1), transform.ErrBadSignature, "", ""},
		{"not hex", testConfig(), notificationForm(vecAPIKey, setForm("signature", strings.Repeat("z", 64))), transform.ErrBadSignature, "", ""},
		{"no signature", testConfig(), notificationForm(vecAPIKey, setForm("signature", "")), transform.ErrUnsigned, "", ""},
		{"no payment_method", testConfig(), notificationForm(vecAPIKey, func(v url.Values) { v.Del("payment_method") }), transform.ErrUnsigned, "", ""},
		{"no amount", testConfig(), notificationForm(vecAPIKey, func(v url.Values) { v.Del("amount") }), transform.ErrUnsigned, "", ""},
		{"a repeated field", testConfig(), notificationForm(vecAPIKey, nil) + "&status=failed", transform.ErrMalformed, "", ""},
		{"a bad escape", testConfig(), notificationForm(vecAPIKey, nil) + "&x=%zz", transform.ErrMalformed, "", ""},
		{"a semicolon", testConfig(), notificationForm(vecAPIKey, nil) + ";x=1", transform.ErrMalformed, "", ""},
		{"too large", testConfig(), notificationForm(vecAPIKey, setForm("pad", strings.Repeat("a", 64<<10))), transform.ErrMalformed, "", ""},
		{"JSON", testConfig(), `{"merchant_reference":"dsi39ej430sks03","status":"paid"}`, transform.ErrUnsigned, "", ""},
		{"empty", testConfig(), ``, transform.ErrUnsigned, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := newWebhook(t, tt.cfg).Verify(transform.Notification{Body: []byte(tt.body)})
			if tt.err != nil {
				if !errors.Is(err, tt.err) || ev != nil {
					t.Fatalf("Verify = %v, %v; want %v", ev, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type != tt.typ || ev.ID != tt.id || ev.OrderID != "dsi39ej430sks03" || ev.Amount != "120.00" {
				t.Fatalf("event %+v", ev)
			}
			if _, ok := ev.Data["signature"]; ok {
				t.Fatal("data carries the signature")
			}
			if ev.Data["status"] == "" {
				t.Fatal("data lacks the raw status")
			}
		})
	}
}

func TestWebhookAckNack(t *testing.T) {
	w := newWebhook(t, testConfig())
	status, ct, body := w.Ack()
	if status != 200 || string(body) != "sent" || !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Ack = %d %q %q", status, ct, body)
	}
	ct, body = w.Nack("verification failed")
	if string(body) == "sent" || len(body) > 64 || !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Nack = %q %q", ct, body)
	}
}
