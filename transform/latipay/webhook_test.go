package latipay

import (
	"errors"
	"fmt"
	"github.com/minipay/caddy-minipay/transform/transformtest"
	"net/http"
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

// jsonNotification is the JSON notification of Latipay's merchant hosted
// online docs (member order as printed) with the published vector's fields
// and signature, amount written as given and more members before the end.
func jsonNotification(amount, more string) string {
	return `{"signature":"840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1","merchant_reference":"dsi39ej430sks03",` +
		`"currency":"NZD","amount":` + amount + `,"payment_method":"alipay","status":"paid","pay_time":"2017-07-07 10:53:50"` + more + `}`
}

// TestWebhookKnownAnswer: the published notification verifies, and the
// event holds its five signed fields only; order_id and pay_time, outside
// the signature, are kept as unverified.* data and build nothing else.
func TestWebhookKnownAnswer(t *testing.T) {
	ev, err := newWebhook(t, testConfig()).Verify(transform.Notification{Body: []byte(docNotification)})
	if err != nil {
		t.Fatal(err)
	}
	want := transform.Event{
		ID: "latipay:dsi39ej430sks03:payment.succeeded", Provider: "latipay", Type: "payment.succeeded",
		OrderID: "dsi39ej430sks03", Amount: "120.00", Currency: "NZD",
		Data: map[string]string{
			"merchant_reference": "dsi39ej430sks03", "amount": "120.00", "currency": "NZD", "payment_method": "alipay", "status": "paid",
			"unverified.order_id": "2017232323345678", "unverified.pay_time": "2017-07-07 10:53:50",
		},
	}
	if !reflect.DeepEqual(*ev, want) {
		t.Fatalf("event %+v\nwant %+v", *ev, want)
	}
}

func TestWebhookVerify(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		err     error
		typ, id string
	}{
		{"paid", notificationForm(vecAPIKey, nil), nil, "payment.succeeded", "latipay:dsi39ej430sks03:payment.succeeded"},
		{"failed", notificationForm(vecAPIKey, setForm("status", "failed")), nil, "payment.failed", "latipay:dsi39ej430sks03:payment.failed"},
		{"rejected", notificationForm(vecAPIKey, setForm("status", "rejected")), nil, "payment.failed", "latipay:dsi39ej430sks03:payment.failed"},
		{"canceled", notificationForm(vecAPIKey, setForm("status", "canceled")), nil, "payment.cancelled", "latipay:dsi39ej430sks03:payment.cancelled"},
		{"pending", notificationForm(vecAPIKey, setForm("status", "pending")), nil, "payment.pending", "latipay:dsi39ej430sks03:payment.pending"},
		{"no order_id", notificationForm(vecAPIKey, func(v url.Values) { v.Del("order_id") }), nil, "payment.succeeded", "latipay:dsi39ej430sks03:payment.succeeded"},
		{"an extension field", notificationForm(vecAPIKey, setForm("new_field", "x")), nil, "payment.succeeded", "latipay:dsi39ej430sks03:payment.succeeded"},
		{"upper-case signature", notificationForm(vecAPIKey, setForm("signature", strings.ToUpper(refNotify("dsi39ej430sks03", "wechat", "paid", "NZD", "120.00", vecAPIKey)))), nil, "payment.succeeded", "latipay:dsi39ej430sks03:payment.succeeded"},
		{"every payment method", notificationForm(vecAPIKey, setForm("payment_method", "onlineBank")), nil, "payment.succeeded", "latipay:dsi39ej430sks03:payment.succeeded"},
		{"unknown status, signed", notificationForm(vecAPIKey, setForm("status", "refunded")), ErrBadField, "", ""},
		{"another currency than the wallet's", notificationForm(vecAPIKey, setForm("currency", "AUD")), transform.ErrForeign, "", ""},
		{"forged", notificationForm(otherKey, nil), transform.ErrBadSignature, "", ""},
		{"tampered amount", strings.Replace(notificationForm(vecAPIKey, nil), "amount=120.00", "amount=1.00", 1), transform.ErrBadSignature, "", ""},
		{"tampered status", strings.Replace(notificationForm(vecAPIKey, setForm("status", "failed")), "status=failed", "status=paid", 1), transform.ErrBadSignature, "", ""},
		{"amount text changed", strings.Replace(notificationForm(vecAPIKey, nil), "amount=120.00", "amount=120", 1), transform.ErrBadSignature, "", ""},
		{"not hex", notificationForm(vecAPIKey, setForm("signature", strings.Repeat("z", 64))), transform.ErrBadSignature, "", ""},
		{"no signature", notificationForm(vecAPIKey, setForm("signature", "")), transform.ErrUnsigned, "", ""},
		{"no payment_method", notificationForm(vecAPIKey, func(v url.Values) { v.Del("payment_method") }), transform.ErrUnsigned, "", ""},
		{"no amount", notificationForm(vecAPIKey, func(v url.Values) { v.Del("amount") }), transform.ErrUnsigned, "", ""},
		{"no currency", notificationForm(vecAPIKey, func(v url.Values) { v.Del("currency") }), transform.ErrUnsigned, "", ""},
		{"a trailing line break (a file sent with curl --data-binary)", notificationForm(vecAPIKey, nil) + "\n", nil, "payment.succeeded", "latipay:dsi39ej430sks03:payment.succeeded"},
		{"CRLF and spaces around", " \r\n" + notificationForm(vecAPIKey, nil) + "\r\n", nil, "payment.succeeded", "latipay:dsi39ej430sks03:payment.succeeded"},
		{"a line break inside a signed value", strings.Replace(notificationForm(vecAPIKey, nil), "&", "\n&", 1), transform.ErrBadSignature, "", ""},
		{"a repeated field", notificationForm(vecAPIKey, nil) + "&status=failed", transform.ErrMalformed, "", ""},
		{"a bad escape", notificationForm(vecAPIKey, nil) + "&x=%zz", transform.ErrMalformed, "", ""},
		{"a semicolon", notificationForm(vecAPIKey, nil) + ";x=1", transform.ErrMalformed, "", ""},
		{"too large", notificationForm(vecAPIKey, setForm("pad", strings.Repeat("a", 64<<10))), transform.ErrMalformed, "", ""},
		// Latipay's merchant hosted online docs (src/v2/merchant-hosted-online.md,
		// "Payment Result Asynchronous Notification") post the same members as
		// a JSON object (Content-Type application/json), verified like the
		// form: amount a string or a JSON number whose text the signature
		// covers, a name given twice refused. (A query answer, signed by the
		// same formula over the same fields, reads as one too: refusing its
		// JSON would stop nothing, its fields written as a form verify alike.)
		{"JSON, the docs' shape signed with the vector", jsonNotification(`"120.00"`, ""), nil, "payment.succeeded", "latipay:dsi39ej430sks03:payment.succeeded"},
		{"JSON, amount a number", jsonNotification(`120.00`, ""), nil, "payment.succeeded", "latipay:dsi39ej430sks03:payment.succeeded"},
		{"JSON, unsigned members (one nested) dropped", jsonNotification(`"120.00"`, `,"order_id":"2017232323345678","transaction_id":"x","extra":{"a":"b"}`), nil, "payment.succeeded", "latipay:dsi39ej430sks03:payment.succeeded"},
		{"JSON, spaces and line breaks around", "\r\n " + jsonNotification(`"120.00"`, "") + "\n", nil, "payment.succeeded", "latipay:dsi39ej430sks03:payment.succeeded"},
		{"JSON, amount the number 120: not the signed text", jsonNotification(`120`, ""), transform.ErrBadSignature, "", ""},
		{"JSON, tampered amount", jsonNotification(`"1.00"`, ""), transform.ErrBadSignature, "", ""},
		{"JSON, status given twice", jsonNotification(`"120.00"`, `,"status":"failed"`), transform.ErrMalformed, "", ""},
		{"JSON, data after the object", jsonNotification(`"120.00"`, "") + `{}`, transform.ErrMalformed, "", ""},
		{"JSON, not UTF-8", strings.Replace(jsonNotification(`"120.00"`, ""), "2017-07-07", "\xff", 1), transform.ErrMalformed, "", ""},
		{"JSON, amount null", jsonNotification(`null`, ""), transform.ErrUnsigned, "", ""},
		{"JSON, a signed field nested", strings.Replace(jsonNotification(`"120.00"`, ""), `"status":"paid"`, `"status":{"value":"paid"}`, 1), transform.ErrUnsigned, "", ""},
		{"JSON", `{"merchant_reference":"dsi39ej430sks03","status":"paid"}`, transform.ErrUnsigned, "", ""},
		{"empty", ``, transform.ErrUnsigned, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := newWebhook(t, testConfig()).Verify(transform.Notification{Body: []byte(tt.body)})
			if tt.err != nil {
				if !errors.Is(err, tt.err) || ev != nil {
					t.Fatalf("Verify = %v, %v; want %v", ev, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type != tt.typ || ev.ID != tt.id || ev.OrderID != "dsi39ej430sks03" || ev.Amount != "120.00" ||
				ev.ProviderOrderID != "" || ev.OccurredAt != "" {
				t.Fatalf("event %+v", ev)
			}
			for k := range ev.Data {
				switch k {
				case "merchant_reference", "payment_method", "status", "currency", "amount", "unverified.order_id", "unverified.pay_time":
				default:
					t.Fatalf("data carries %q: %v", k, ev.Data)
				}
			}
			if ev.Data["status"] == "" {
				t.Fatal("data lacks the raw status")
			}
		})
	}
}

// TestWebhookAttacks: notifications an attacker can build from captured
// ones (the signature covers five fields concatenated without separators).
// Each is refused, or, when only unsigned fields changed, yields exactly the
// event of the original (so the merchant's dedupe on the id holds).
func TestWebhookAttacks(t *testing.T) {
	w := newWebhook(t, testConfig())
	// docSig signs "dsi39ej430sks03alipaypaidNZD120.00" (docs/providers/latipay.md's vector).
	const docSig = "840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1"
	withDocSig := func(ref, method, status, cur, amount string) string {
		if refNotify(ref, method, status, cur, amount, vecAPIKey) != docSig {
			t.Fatalf("%s+%s+%s+%s+%s does not sign like the vector", ref, method, status, cur, amount)
		}
		return url.Values{"merchant_reference": {ref}, "payment_method": {method}, "status": {status}, "currency": {cur},
			"amount": {amount}, "order_id": {"2017232323345678"}, "signature": {docSig}}.Encode()
	}
	refused := []struct {
		name string
		body string
		err  error
	}{
		{"boundary shift: merchant_reference into payment_method", withDocSig("dsi39ej430sks0", "3alipay", "paid", "NZD", "120.00"), ErrBadField},
		{"boundary shift: payment_method into status", withDocSig("dsi39ej430sks03", "alipaypa", "id", "NZD", "120.00"), ErrBadField},
		{"boundary shift: status into currency", withDocSig("dsi39ej430sks03", "alipay", "paidN", "ZD1", "20.00"), ErrBadField},
		{"boundary shift: currency into amount", withDocSig("dsi39ej430sks03", "alipay", "paid", "NZD1", "20.00"), transform.ErrForeign},
		{"boundary shift: amount into currency", withDocSig("dsi39ej430sks03", "alipay", "pai", "dNZ", "D120.00"), ErrBadField},
		{"forged with another key", notificationForm(otherKey, nil), transform.ErrBadSignature},
		{"replayed with another signed status", strings.Replace(docNotification, "status=paid", "status=pending", 1), transform.ErrBadSignature},
		{"replayed for another order", strings.Replace(docNotification, "merchant_reference=dsi39ej430sks03", "merchant_reference=dsi39ej430sks04", 1), transform.ErrBadSignature},
		{"another wallet's valid notification", notificationForm(vecAPIKey, setForm("currency", "AUD")), transform.ErrForeign},
		{"payment_method in another case", notificationForm(vecAPIKey, setForm("payment_method", "WeChat")), ErrBadField},
		{"undocumented payment_method", notificationForm(vecAPIKey, setForm("payment_method", "paypal")), ErrBadField},
		{"status in another case", notificationForm(vecAPIKey, setForm("status", "PAID")), ErrBadField},
		{"merchant_reference outside the order-id grammar", notificationForm(vecAPIKey, setForm("merchant_reference", "O 1")), ErrBadField},
		{"merchant_reference too long", notificationForm(vecAPIKey, setForm("merchant_reference", strings.Repeat("a", 33))), ErrBadField},
		{"amount with more decimals than NZD", notificationForm(vecAPIKey, setForm("amount", "120.001")), ErrBadField},
		{"amount zero", notificationForm(vecAPIKey, setForm("amount", "0.00")), ErrBadField},
		{"amount negative", notificationForm(vecAPIKey, setForm("amount", "-1.00")), ErrBadField},
		{"amount with an exponent", notificationForm(vecAPIKey, setForm("amount", "1e2")), ErrBadField},
		{"oversized", docNotification + "&pad=" + strings.Repeat("a", MaxNotification), transform.ErrMalformed},
		// A form value is read as UTF-8, as a JSON notification is: bytes
		// that are not (an overlong '.', a lone continuation byte, a raw
		// byte past ASCII) would reach the event as U+FFFD, text Latipay
		// never sent, even in an unverified.* entry.
		{"unsigned order_id escaping an overlong '.'", strings.Replace(docNotification, "order_id=", "order_id=%C0%AE", 1), transform.ErrMalformed},
		{"unsigned pay_time escaping a lone continuation byte", strings.Replace(docNotification, "pay_time=", "pay_time=%80", 1), transform.ErrMalformed},
		{"unsigned order_id holding a raw byte past ASCII", strings.Replace(docNotification, "order_id=", "order_id=\xff", 1), transform.ErrMalformed},
		{"an added field whose name is not UTF-8", docNotification + "&%FF=1", transform.ErrMalformed},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			if ev, err := w.Verify(transform.Notification{Body: []byte(tt.body)}); !errors.Is(err, tt.err) || ev != nil {
				t.Fatalf("Verify = %+v, %v; want %v", ev, err, tt.err)
			}
		})
	}

	original, err := w.Verify(transform.Notification{Body: []byte(docNotification)})
	if err != nil {
		t.Fatal(err)
	}
	unsignedChanges := map[string]string{
		"a new order_id": strings.Replace(docNotification, "order_id=2017232323345678", "order_id=9999999999999999", 1),
		"a new pay_time": strings.Replace(docNotification, "pay_time=2017-07-07%2010%3A53%3A50", "pay_time=2030-01-01%2000%3A00%3A00", 1),
		"added fields":   docNotification + "&provider_order_id=X&occurred_at=2030-01-01T00%3A00%3A00Z&type=refund.succeeded&id=evil",
	}
	for name, body := range unsignedChanges {
		t.Run("replayed with "+name, func(t *testing.T) {
			ev, err := w.Verify(transform.Notification{Body: []byte(body)})
			if err != nil {
				t.Fatal(err)
			}
			if ev.ID != original.ID || ev.Type != original.Type || ev.OrderID != original.OrderID || ev.ProviderOrderID != "" ||
				ev.OccurredAt != "" || ev.Amount != original.Amount {
				t.Fatalf("event %+v differs from the original %+v", ev, original)
			}
			for k, v := range ev.Data {
				if !strings.HasPrefix(k, "unverified.") && original.Data[k] != v {
					t.Fatalf("data[%s] = %q, not signed", k, v)
				}
			}
			if len(ev.Data) > len(original.Data) {
				t.Fatalf("data grew: %v", ev.Data)
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

// TestWebhookWithoutWalletCurrency: README Latipay requires on minipay_webhook only
// the fields verification needs, and Latipay's signature needs api_key
// alone. Without a configured wallet currency every signed field is still
// held to its grammar — currency any ISO 4217 code, amount with at most that
// currency's decimals — so the concatenation's boundaries stay fixed; with
// one configured, the notification must match it (TestWebhookVerify).
func TestWebhookWithoutWalletCurrency(t *testing.T) {
	w := newWebhook(t, Config{APIKey: vecAPIKey})
	signedWith := func(cur, amount string) string {
		return notificationForm(vecAPIKey, func(v url.Values) { v.Set("currency", cur); v.Set("amount", amount) })
	}
	accepted := []struct{ name, body, amount, currency string }{
		{"the published notification", docNotification, "120.00", "NZD"},
		{"another wallet's currency", signedWith("AUD", "12.30"), "12.30", "AUD"},
		{"a zero-decimal currency", signedWith("JPY", "1200"), "1200", "JPY"},
		{"a three-decimal currency", signedWith("KWD", "1.5"), "1.500", "KWD"},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := w.Verify(transform.Notification{Body: []byte(tt.body)})
			if err != nil {
				t.Fatal(err)
			}
			if ev.Amount != tt.amount || ev.Currency != tt.currency || ev.Data["currency"] != tt.currency {
				t.Fatalf("event amount %q %q, data %v; want %q %q", ev.Amount, ev.Currency, ev.Data, tt.amount, tt.currency)
			}
		})
	}
	refused := []struct{ name, body string }{
		{"a currency in lower case", signedWith("nzd", "120.00")},
		{"no ISO 4217 code", signedWith("XYZ", "120.00")},
		{"four letters", signedWith("NZDA", "120.00")},
		{"more decimals than the currency has", signedWith("JPY", "120.5")},
		// "NZD1" + "20.00" signs like the published "NZD" + "120.00"
		{"boundary shift: currency into amount", strings.Replace(strings.Replace(docNotification, "currency=NZD", "currency=NZD1", 1), "amount=120.00", "amount=20.00", 1)},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			if ev, err := w.Verify(transform.Notification{Body: []byte(tt.body)}); !errors.Is(err, ErrBadField) || ev != nil {
				t.Fatalf("Verify = %+v, %v; want %v", ev, err, ErrBadField)
			}
		})
	}
	// Latipay's notification always carries currency (the field list and
	// the example of its docs): one without it, signed over the four other
	// fields, is refused before its signature is computed.
	noCurrency := notificationForm(vecAPIKey, func(v url.Values) { v.Del("currency") })
	if ev, err := w.Verify(transform.Notification{Body: []byte(noCurrency)}); !errors.Is(err, transform.ErrUnsigned) || ev != nil {
		t.Fatalf("without currency: Verify = %+v, %v; want %v", ev, err, transform.ErrUnsigned)
	}
}

// TestWebhookContentEncoding: the notification is read as its
// Content-Encoding says (a form declared gzip but sent plain was read as it
// was, and a gzip one refused).
func TestWebhookContentEncoding(t *testing.T) {
	transformtest.WantContentEncodingRule(t, newWebhook(t, testConfig()),
		transform.Notification{Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte(docNotification)})
}

// TestWebhookBoundedWork: a JSON notification or a form at the 64 KiB
// bound, built to cost the most before its signature is checked, costs
// about its own size: a member with a long name above thousands of nulls
// or empty arrays allocated up to 388 MB (each value's dotted name copied
// the long one), 64 leaves below a name of 60 KiB 4 MB, a form of 9000
// fields 2 MB (and 3 ms); each is refused (transform.FlattenJSON's bounds,
// transform.MaxFormFields).
func TestWebhookBoundedWork(t *testing.T) {
	w := newWebhook(t, testConfig())
	fill := func(prefix, unit, suffix string) string {
		return prefix + strings.Repeat(unit, (MaxNotification-len(prefix)-len(suffix))/len(unit)) + suffix
	}
	signed := strings.TrimSuffix(jsonNotification(`"120.00"`, ""), "}")
	long := strings.Repeat("n", 30000)
	var leaves strings.Builder
	for i := range 63 {
		fmt.Fprintf(&leaves, `"%x":"1",`, i)
	}
	bodies := map[string]string{
		"a long name above nulls":        fill(signed+`,"`+long+`":[`, "null,", "null]}"),
		"a long name above empty arrays": fill(signed+`,"`+long+`":[`, "[],", "[]]}"),
		"a long name above leaves":       signed + `,"` + strings.Repeat("n", MaxNotification-len(signed)-len(leaves.String())-16) + `":{` + leaves.String() + `"zz":"1"}}`,
		"nulls":                          fill(signed+`,"a":[`, "null,", "null]}"),
		// The signed form, padded with fields of its own (Latipay signs five).
		"a form of 9000 fields": func() string {
			var b strings.Builder
			b.WriteString(docNotification)
			for i := 0; b.Len() < MaxNotification-16; i++ {
				fmt.Fprintf(&b, "&f%d=", i)
			}
			return b.String()
		}(),
		"a form of 65 fields": docNotification + strings.Repeat("&", transform.MaxFormFields-7),
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			if len(body) > MaxNotification {
				t.Fatalf("the attack body is %d bytes", len(body))
			}
			n := transform.Notification{Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
			var ev *transform.Event
			var err error
			alloc := transformtest.Allocated(func() { ev, err = w.Verify(n) })
			if ev != nil || !errors.Is(err, transform.ErrMalformed) {
				t.Fatalf("Verify = %+v, %v", ev, err)
			}
			if alloc > 4*uint64(len(body)) {
				t.Fatalf("%d bytes allocated for a body of %d", alloc, len(body))
			}
		})
	}
}

// TestExplainAnswerReadsANameOnce: verify reads a signed query answer as
// the route does (client.go readAnswer): a name given twice is malformed,
// though the signature covers the last value (encoding/json's reading).
func TestExplainAnswerReadsANameOnce(t *testing.T) {
	const ref = "dsi39ej430sks03"
	body := strings.Replace(queryAnswerJSON(ref, "alipay", "failed", "NZD", `120.00`, refNotify(ref, "alipay", "failed", "NZD", "120.00", vecAPIKey)),
		`"status":"failed"`, `"status":"paid","status":"failed"`, 1)
	answered, err := newWebhook(t, testConfig()).ExplainAnswer(transform.Notification{Body: []byte(body)}, nil)
	if !answered || err != transform.ErrMalformed {
		t.Fatalf("ExplainAnswer = %v, %v; want an answer, malformed", answered, err)
	}
}
