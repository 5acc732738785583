package cbtis

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// The known-answer vector of the CBTIS docs ("auth/auth-webhook"), as
// quoted in docs/providers/cbtis.md: a refund notification, apikey
// vecAPIKey.
const (
	vecBody      = transformtest.CBTISVectorBody
	vecSignature = transformtest.CBTISVectorSignature
)

// paymentBody is a payment_success notification in the documented shape.
const paymentBody = `{"notify_type":"payment_success","data":{"uid":39172931,"order_id":"C34368224017070001","merchant_order_id":"P9297895081903","order_amount":"12.30","order_currency":"HKD","create_time":"2023-08-23T18:25:43.511Z","pay_time":"2023-08-23T18:26:01.000Z","status":"SUCCEEDED"}}`

func webhookConfig() Config {
	return Config{ClientSecret: testSecret, APIKey: vecAPIKey}
}

func newWebhook(t testing.TB, cfg Config) *Webhook { return transformtest.Must(t, NewWebhook, cfg) }

func TestWebhookVector(t *testing.T) {
	w := newWebhook(t, webhookConfig())
	ev, err := w.Verify(transform.Notification{Header: http.Header{"Signature": {vecSignature}}, Body: []byte(vecBody)})
	if err != nil {
		t.Fatal(err)
	}
	got := string(transform.Marshal(ev))
	want := `{"id":"cbtis:C34368224017070000:refund.succeeded","provider":"cbtis","type":"refund.succeeded","order_id":"",` +
		`"refund_id":"P2164521756312637123","occurred_at":"2023-08-23T18:28:16.511Z","data":{"create_time":"2023-08-23T18:25:43.511Z",` +
		`"merchant_refund_id":"P2164521756312637123","notify_type":"refund_success","order_amount":"105.00","refund_id":"C34368224017070000",` +
		`"refund_time":"2023-08-23T18:28:16.511Z","uid":"39172931"}}`
	if got != want {
		t.Fatalf("event\n got %s\nwant %s", got, want)
	}
}

func TestWebhookVerify(t *testing.T) {
	sig := refSignature([]byte(paymentBody), vecAPIKey)
	tampered := strings.Replace(paymentBody, `"12.30"`, `"0.01"`, 1)
	withUIDAs := func(v string) (http.Header, string) {
		body := strings.Replace(paymentBody, `"uid":39172931`, `"uid":`+v, 1)
		return http.Header{"Signature": {refSignature([]byte(body), vecAPIKey)}}, body
	}
	uidNull, uidNullBody := withUIDAs("null")
	uidObject, uidObjectBody := withUIDAs("{}")
	uidArray, uidArrayBody := withUIDAs("[]")
	ourUID := func(c *Config) { c.UID = "39172931" }
	tests := []struct {
		name   string
		cfg    func(*Config)
		header http.Header
		body   string
		err    error
	}{
		{"valid", nil, http.Header{"Signature": {sig}}, paymentBody, nil},
		{"uppercase hex accepted", nil, http.Header{"Signature": {strings.ToUpper(sig)}}, paymentBody, nil},
		{"surrounding spaces", nil, http.Header{"Signature": {" " + sig + " "}}, paymentBody, nil},
		{"custom header", func(c *Config) { c.SignatureHeader = "X-Cbtis-Signature" }, http.Header{"X-Cbtis-Signature": {sig}}, paymentBody, nil},
		{"custom header, default sent", func(c *Config) { c.SignatureHeader = "X-Cbtis-Signature" }, http.Header{"Signature": {sig}}, paymentBody, transform.ErrUnsigned},
		{"key defaults to client_secret", func(c *Config) { c.APIKey, c.ClientSecret = "", vecAPIKey }, http.Header{"Signature": {sig}}, paymentBody, nil},
		{"api_key wins over client_secret", func(c *Config) { c.ClientSecret = vecAPIKey; c.APIKey = testSecret }, http.Header{"Signature": {sig}}, paymentBody, transform.ErrBadSignature},
		{"forged (another key)", nil, http.Header{"Signature": {refSignature([]byte(paymentBody), testSecret)}}, paymentBody, transform.ErrBadSignature},
		{"HMAC instead of a plain hash", nil, http.Header{"Signature": {transform.HMACSHA256Hex(vecAPIKey, []byte(paymentBody), false)}}, paymentBody, transform.ErrBadSignature},
		{"tampered body", nil, http.Header{"Signature": {sig}}, tampered, transform.ErrBadSignature},
		{"re-serialized body", nil, http.Header{"Signature": {sig}}, strings.ReplaceAll(paymentBody, `,"`, `, "`), transform.ErrBadSignature},
		{"header missing", nil, http.Header{}, paymentBody, transform.ErrUnsigned},
		// Given on two lines (RFC 9110 §5.3 allows that for lists only), the
		// valid value first: a reader taking the last line reads another.
		{"header twice, the valid one first", nil, http.Header{"Signature": {sig, strings.Repeat("0", 64)}}, paymentBody, transform.ErrRepeatedHeader},
		{"header twice, the valid one last", nil, http.Header{"Signature": {strings.Repeat("0", 64), sig}}, paymentBody, transform.ErrRepeatedHeader},
		{"header twice, the same value", nil, http.Header{"Signature": {sig, sig}}, paymentBody, transform.ErrRepeatedHeader},
		{"custom header twice", func(c *Config) { c.SignatureHeader = "X-Cbtis-Signature" }, http.Header{"X-Cbtis-Signature": {sig, sig}}, paymentBody, transform.ErrRepeatedHeader},
		{"header empty", nil, http.Header{"Signature": {""}}, paymentBody, transform.ErrUnsigned},
		{"truncated", nil, http.Header{"Signature": {sig[:63]}}, paymentBody, transform.ErrBadSignature},
		{"not hex", nil, http.Header{"Signature": {"z" + sig[1:]}}, paymentBody, transform.ErrBadSignature},
		{"sha256= prefix", nil, http.Header{"Signature": {"sha256=" + sig}}, paymentBody, transform.ErrBadSignature},
		{"configured uid matches", func(c *Config) { c.UID = "39172931" }, http.Header{"Signature": {sig}}, paymentBody, nil},
		{"another uid", func(c *Config) { c.UID = "1000001" }, http.Header{"Signature": {sig}}, paymentBody, transform.ErrForeign},
		// null, {} and [] hold no value: no uid, vouched for by the key (README What the merchant can trust)
		{"uid null", ourUID, uidNull, uidNullBody, nil},
		{"uid an empty object", ourUID, uidObject, uidObjectBody, nil},
		{"uid an empty array", ourUID, uidArray, uidArrayBody, nil},
		{"signature of the empty body", nil, http.Header{"Signature": {refSignature(nil, vecAPIKey)}}, "", transform.ErrMalformed},
		{"signed but not JSON", nil, http.Header{"Signature": {refSignature([]byte("hello"), vecAPIKey)}}, "hello", transform.ErrMalformed},
		{"signed but data not an object", nil, http.Header{"Signature": {refSignature([]byte(`{"notify_type":"payment_success","data":[1]}`), vecAPIKey)}}, `{"notify_type":"payment_success","data":[1]}`, transform.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := webhookConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			ev, err := newWebhook(t, cfg).Verify(transform.Notification{Header: tt.header, Body: []byte(tt.body)})
			if !errors.Is(err, tt.err) {
				t.Fatalf("Verify = %v, want %v", err, tt.err)
			}
			if err != nil {
				if ev != nil {
					t.Fatal("an event with an error")
				}
				if strings.Contains(err.Error(), vecAPIKey) || strings.Contains(err.Error(), testSecret) {
					t.Fatal("the error names a key")
				}
				return
			}
			if ev.Type != transform.EventPaymentSucceeded || ev.ID != "cbtis:C34368224017070001:payment.succeeded" {
				t.Fatalf("event %+v", ev)
			}
		})
	}
}

// TestExplainAnswerAgreesWithVerify: an answer-shaped body is classed as an
// unsigned answer only when the webhook would refuse it; one whose signature
// header verifies is the webhook's (forwarded as unknown) in verify too.
func TestExplainAnswerAgreesWithVerify(t *testing.T) {
	const answer = `{"code":0,"data":{"order_id":"X"}}`
	signed := refSignature([]byte(answer), vecAPIKey)
	tests := []struct {
		name      string
		cfg       func(*Config)
		header    http.Header
		isAnswer  bool
		verifyErr error // Verify's verdict on the same input
	}{
		{"no header", nil, http.Header{}, true, transform.ErrUnsigned},
		{"another body's signature", nil, http.Header{"Signature": {vecSignature}}, true, transform.ErrBadSignature},
		{"signed with another key", nil, http.Header{"Signature": {refSignature([]byte(answer), testSecret)}}, true, transform.ErrBadSignature},
		{"signature verifies", nil, http.Header{"Signature": {signed}}, false, nil},
		{"signature verifies, uppercase", nil, http.Header{"Signature": {strings.ToUpper(signed)}}, false, nil},
		{"signature verifies in the configured header", func(c *Config) { c.SignatureHeader = "X-Cbtis-Signature" }, http.Header{"X-Cbtis-Signature": {signed}}, false, nil},
		{"signature in a header not configured", func(c *Config) { c.SignatureHeader = "X-Cbtis-Signature" }, http.Header{"Signature": {signed}}, true, transform.ErrUnsigned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := webhookConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			w := newWebhook(t, cfg)
			n := transform.Notification{Header: tt.header, Body: []byte(answer)}
			transformtest.WantUnsignedAnswer(t, w, n, tt.isAnswer)
			ev, err := w.Verify(n)
			if !errors.Is(err, tt.verifyErr) {
				t.Fatalf("Verify = %v, want %v", err, tt.verifyErr)
			}
			if err == nil && (ev.Type != transform.EventUnknown || ev.ProviderOrderID != "X") {
				t.Fatalf("event %+v, want unknown for provider order X", ev)
			}
		})
	}
}

func TestWebhookEvents(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"payment", paymentBody,
			`{"id":"cbtis:C34368224017070001:payment.succeeded","provider":"cbtis","type":"payment.succeeded","order_id":"P9297895081903",` +
				`"provider_order_id":"C34368224017070001","amount":"12.30","currency":"HKD","occurred_at":"2023-08-23T18:26:01.000Z",` +
				`"data":{"create_time":"2023-08-23T18:25:43.511Z","merchant_order_id":"P9297895081903","notify_type":"payment_success",` +
				`"order_amount":"12.30","order_currency":"HKD","order_id":"C34368224017070001","pay_time":"2023-08-23T18:26:01.000Z","status":"SUCCEEDED","uid":"39172931"}}`},
		{"refund with its own amount", `{"notify_type":"refund_success","data":{"refund_id":"R9","merchant_refund_id":"MR9","merchant_order_id":"P1","order_id":"C1","order_amount":"105.00","refund_amount":"5","refund_currency":"CNY","refund_time":"2023-08-23T18:28:16Z"}}`,
			`{"id":"cbtis:R9:refund.succeeded","provider":"cbtis","type":"refund.succeeded","order_id":"P1","provider_order_id":"C1","refund_id":"MR9",` +
				`"amount":"5.00","currency":"CNY","occurred_at":"2023-08-23T18:28:16Z","data":{"merchant_order_id":"P1","merchant_refund_id":"MR9",` +
				`"notify_type":"refund_success","order_amount":"105.00","order_id":"C1","refund_amount":"5","refund_currency":"CNY","refund_id":"R9","refund_time":"2023-08-23T18:28:16Z"}}`},
		// A refund notification without refund_amount says nothing about how
		// much was refunded (order_amount is the order's total): no amount.
		{"refund without refund_amount", `{"notify_type":"refund_success","data":{"refund_id":"R8","merchant_refund_id":"MR8","order_amount":"105.00","order_currency":"HKD"}}`,
			`{"id":"cbtis:R8:refund.succeeded","provider":"cbtis","type":"refund.succeeded","order_id":"","refund_id":"MR8",` +
				`"data":{"merchant_refund_id":"MR8","notify_type":"refund_success","order_amount":"105.00","order_currency":"HKD","refund_id":"R8"}}`},
		// README Webhooks: refund_id is present on every refund event, ""
		// when the notification names no merchant refund id (a refund made
		// in CBTIS's portal), as order_id is.
		{"refund without merchant_refund_id", `{"notify_type":"refund_success","data":{"refund_id":"R7","order_amount":"105.00"}}`,
			`{"id":"cbtis:R7:refund.succeeded","provider":"cbtis","type":"refund.succeeded","order_id":"","refund_id":"",` +
				`"data":{"notify_type":"refund_success","order_amount":"105.00","refund_id":"R7"}}`},
		{"refund with an empty merchant_refund_id", `{"notify_type":"refund_success","data":{"refund_id":"R6","merchant_refund_id":""}}`,
			`{"id":"cbtis:R6:refund.succeeded","provider":"cbtis","type":"refund.succeeded","order_id":"","refund_id":"",` +
				`"data":{"merchant_refund_id":"","notify_type":"refund_success","refund_id":"R6"}}`},
		{"unmapped kind forwarded as unknown", `{"notify_type":"payment_failed","data":{"order_id":"C2","merchant_order_id":"P2","order_amount":"1","order_currency":"JPY","extra":{"a":[1, 2]},"flag":true,"none":null}}`,
			`{"id":"cbtis:C2/payment_failed:unknown","provider":"cbtis","type":"unknown","order_id":"P2","provider_order_id":"C2","amount":"1","currency":"JPY",` +
				`"data":{"extra.a.0":"1","extra.a.1":"2","flag":"true","merchant_order_id":"P2","notify_type":"payment_failed","order_amount":"1","order_currency":"JPY","order_id":"C2"}}`},
		// README Webhooks (the event's data): a provider's nested object is flattened with dots, as
		// wechat_v3's resource is; numbers keep their text.
		{"nested objects flattened with dots", `{"notify_type":"payment_success","data":{"order_id":"C3","merchant_order_id":"P3","order_amount":"2.50","order_currency":"HKD","payer":{"openid":"o-1","amount":{"total":250}},"discounts":[{"id":"D1"}]}}`,
			`{"id":"cbtis:C3:payment.succeeded","provider":"cbtis","type":"payment.succeeded","order_id":"P3","provider_order_id":"C3","amount":"2.50","currency":"HKD",` +
				`"data":{"discounts.0.id":"D1","merchant_order_id":"P3","notify_type":"payment_success","order_amount":"2.50","order_currency":"HKD","order_id":"C3","payer.amount.total":"250","payer.openid":"o-1"}}`},
		// payment_success whose intent status says otherwise (signed too):
		// never a terminal state guessed between the two.
		{"payment_success with status FAILED", `{"notify_type":"payment_success","data":{"order_id":"C4","merchant_order_id":"P4","order_amount":"2.50","order_currency":"HKD","status":"FAILED"}}`,
			`{"id":"cbtis:C4/payment_success:unknown","provider":"cbtis","type":"unknown","order_id":"P4","provider_order_id":"C4","amount":"2.50","currency":"HKD",` +
				`"data":{"merchant_order_id":"P4","notify_type":"payment_success","order_amount":"2.50","order_currency":"HKD","order_id":"C4","status":"FAILED"}}`},
		{"payment_success with status succeeded (not CBTIS's spelling)", `{"notify_type":"payment_success","data":{"order_id":"C5","merchant_order_id":"P5","status":"succeeded"}}`,
			`{"id":"cbtis:C5/payment_success:unknown","provider":"cbtis","type":"unknown","order_id":"P5","provider_order_id":"C5",` +
				`"data":{"merchant_order_id":"P5","notify_type":"payment_success","order_id":"C5","status":"succeeded"}}`},
		// README CBTIS: data.notify_type is the top-level kind, which type
		// follows, in place of a data member of that name.
		{"a data member named notify_type", `{"notify_type":"payment_success","data":{"order_id":"C6","merchant_order_id":"P6","notify_type":"refund_success"}}`,
			`{"id":"cbtis:C6:payment.succeeded","provider":"cbtis","type":"payment.succeeded","order_id":"P6","provider_order_id":"C6",` +
				`"data":{"merchant_order_id":"P6","notify_type":"payment_success","order_id":"C6"}}`},
		// An event carries signed bytes only: without a top-level notify_type
		// (or with a null one) data has none of "" (README CBTIS), and keeps
		// a data.notify_type the notification signed.
		{"no data, no kind", `{"hello":"world"}`,
			`{"id":"cbtis:` + transform.SHA256Hex([]byte(`{"hello":"world"}`), false)[:32] + `:unknown","provider":"cbtis","type":"unknown","order_id":"","data":{}}`},
		// README CBTIS: signed, so forwarded even naming no order; the id's
		// reference is the body's SHA-256 (first 32 hex digits, computed
		// with Python's hashlib), which CBTIS's retries repeat.
		{"payment_success naming no order", `{"notify_type":"payment_success","data":{"order_amount":"1.00","order_currency":"HKD"}}`,
			`{"id":"cbtis:7e8398f0ef68915079f4dc3588415e3c:payment.succeeded","provider":"cbtis","type":"payment.succeeded","order_id":"","amount":"1.00","currency":"HKD",` +
				`"data":{"notify_type":"payment_success","order_amount":"1.00","order_currency":"HKD"}}`},
		{"a null kind", `{"notify_type":null,"data":{"order_id":"C7","merchant_order_id":"P7"}}`,
			`{"id":"cbtis:C7:unknown","provider":"cbtis","type":"unknown","order_id":"P7","provider_order_id":"C7",` +
				`"data":{"merchant_order_id":"P7","order_id":"C7"}}`},
		{"a data member named notify_type, no top-level one", `{"data":{"order_id":"C8","merchant_order_id":"P8","notify_type":"payment_success"}}`,
			`{"id":"cbtis:C8:unknown","provider":"cbtis","type":"unknown","order_id":"P8","provider_order_id":"C8",` +
				`"data":{"merchant_order_id":"P8","notify_type":"payment_success","order_id":"C8"}}`},
	}
	w := newWebhook(t, webhookConfig())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := w.Verify(transform.Notification{Header: http.Header{"Signature": {refSignature([]byte(tt.body), vecAPIKey)}}, Body: []byte(tt.body)})
			if err != nil {
				t.Fatal(err)
			}
			if got := string(transform.Marshal(ev)); got != tt.want {
				t.Fatalf("event\n got %s\nwant %s", got, tt.want)
			}
			// a retry of the same notification has the same id
			again, _ := w.Verify(transform.Notification{Header: http.Header{"Signature": {refSignature([]byte(tt.body), vecAPIKey)}}, Body: []byte(tt.body)})
			if again.ID != ev.ID {
				t.Fatal("the id is not stable")
			}
		})
	}
}

func TestAckNack(t *testing.T) {
	w := newWebhook(t, webhookConfig())
	status, ct, body := w.Ack()
	if status != 200 || string(body) != "success" || !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Ack = %d %q %q", status, ct, body)
	}
	ct, body = w.Nack("verification failed")
	if !strings.HasPrefix(ct, "text/plain") || string(body) != "fail: verification failed" {
		t.Fatalf("Nack = %q %q", ct, body)
	}
}

// TestWebhookAttacks: forged, replayed-with-changes, foreign, downgraded,
// wrong-kind and oversized notifications are refused.
func TestWebhookAttacks(t *testing.T) {
	signed := func(body, key string) http.Header { return http.Header{"Signature": {refSignature([]byte(body), key)}} }
	foreignBody := strings.Replace(paymentBody, "39172931", "1000001", 1)
	queryAnswer := `{"code":0,"message":"ok","data":{"order_id":"C34368224017070001","merchant_order_id":"P9297895081903","amount":"12.30","currency":"HKD","status":"SUCCEEDED"}}`
	big := paymentBody[:len(paymentBody)-2] + `,"pad":"` + strings.Repeat("x", transform.MaxNotification) + `"}}`
	withUID := func(c *Config) { c.UID = "39172931" }
	uidObject := strings.Replace(paymentBody, `"uid":39172931`, `"uid":{"id":39172931}`, 1)
	uidArray := strings.Replace(paymentBody, `"uid":39172931`, `"uid":[39172931]`, 1)
	uidExponent := strings.Replace(paymentBody, `"uid":39172931`, `"uid":3.9172931e7`, 1)
	dupKind := `{"notify_type":"refund_success","notify_type":"payment_success","data":{"order_id":"C1"}}`
	dupMember := `{"notify_type":"payment_success","data":{"order_id":"C1","order_amount":"0.01","order_amount":"12.30"}}`
	dupData := `{"notify_type":"payment_success","data":{"order_id":"C1"},"data":{"order_id":"C2"}}`
	badUTF8Data := strings.Replace(paymentBody, "P9297895081903", "P92978950\xff1903", 1)
	badUTF8Kind := strings.Replace(paymentBody, "payment_success", "payment_success\xff", 1)
	loneSurrogateData := strings.Replace(paymentBody, "P9297895081903", `P92978950\ud8001903`, 1)
	loneSurrogateKind := strings.Replace(paymentBody, "payment_success", `payment_success\udc00`, 1)
	deep := `{"notify_type":"payment_success","data":{"a":` + strings.Repeat(`{"a":`, 10) + `1` + strings.Repeat(`}`, 10) + `}}`
	tests := []struct {
		name   string
		cfg    func(*Config)
		header http.Header
		body   string
		want   error
	}{
		{"forged", nil, signed(paymentBody, testSecret), paymentBody, transform.ErrBadSignature},
		{"replayed for another order", nil, signed(paymentBody, vecAPIKey), strings.Replace(paymentBody, "P9297895081903", "P9297895081904", 1), transform.ErrBadSignature},
		{"replayed with a field added", nil, signed(paymentBody, vecAPIKey), strings.Replace(paymentBody, `{"uid"`, `{"refund_amount":"1","uid"`, 1), transform.ErrBadSignature},
		{"replayed with a trailing space", nil, signed(paymentBody, vecAPIKey), paymentBody + " ", transform.ErrBadSignature},
		{"another merchant's valid notification", withUID, signed(foreignBody, testSecret), foreignBody, transform.ErrBadSignature},
		{"another uid under our key", withUID, signed(foreignBody, vecAPIKey), foreignBody, transform.ErrForeign},
		// A uid written as an object or an array is present and names no merchant: not ours.
		{"a uid object holding ours", withUID, signed(uidObject, vecAPIKey), uidObject, transform.ErrForeign},
		{"a uid array holding ours", withUID, signed(uidArray, vecAPIKey), uidArray, transform.ErrForeign},
		{"our uid as 3.9172931e7", withUID, signed(uidExponent, vecAPIKey), uidExponent, transform.ErrForeign},
		{"downgraded to no signature", nil, http.Header{}, paymentBody, transform.ErrUnsigned},
		{"a signature in another header", nil, http.Header{"X-Signature": {refSignature([]byte(paymentBody), vecAPIKey)}}, paymentBody, transform.ErrUnsigned},
		{"an API answer (unsigned) as a notification", nil, http.Header{}, queryAnswer, transform.ErrUnsigned},
		{"oversized, even signed", nil, signed(big, vecAPIKey), big, transform.ErrMalformed},
		// A name given twice has two values: which one the event would carry
		// is up to the parser, so the document is refused, as every other
		// provider's is.
		{"notify_type given twice", nil, signed(dupKind, vecAPIKey), dupKind, transform.ErrMalformed},
		// A byte that is not UTF-8 would reach the event as U+FFFD, which
		// CBTIS did not sign (in notify_type as in data).
		{"data not UTF-8", nil, signed(badUTF8Data, vecAPIKey), badUTF8Data, transform.ErrMalformed},
		{"notify_type not UTF-8", nil, signed(badUTF8Kind, vecAPIKey), badUTF8Kind, transform.ErrMalformed},
		// So would an escape of half a surrogate pair.
		{"data with half a surrogate pair", nil, signed(loneSurrogateData, vecAPIKey), loneSurrogateData, transform.ErrMalformed},
		{"notify_type with half a surrogate pair", nil, signed(loneSurrogateKind, vecAPIKey), loneSurrogateKind, transform.ErrMalformed},
		{"a data member given twice", nil, signed(dupMember, vecAPIKey), dupMember, transform.ErrMalformed},
		{"data given twice", nil, signed(dupData, vecAPIKey), dupData, transform.ErrMalformed},
		{"nested deeper than any notification", nil, signed(deep, vecAPIKey), deep, transform.ErrMalformed},
		{"data after the object", nil, signed(paymentBody+"{}", vecAPIKey), paymentBody + "{}", transform.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := webhookConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			if ev, err := newWebhook(t, cfg).Verify(transform.Notification{Header: tt.header, Body: []byte(tt.body)}); ev != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %+v, %v; want %v", ev, err, tt.want)
			}
		})
	}
}

// TestWebhookContentEncoding: the signature is checked over the body as its
// Content-Encoding says (a body declared gzip but sent plain was read as it
// was, and a gzip one refused).
func TestWebhookContentEncoding(t *testing.T) {
	transformtest.WantContentEncodingRule(t, newWebhook(t, webhookConfig()),
		transform.Notification{Header: http.Header{"Signature": {vecSignature}}, Body: []byte(vecBody)})
}

// NotificationKeys is the key Verify checks the signature with: api_key,
// else client_secret. With api_key set, client_secret (the token's) plays
// no part, so a rotated client_secret keeps minipay_webhook's dedupe tag
// (README "Clusters").
func TestWebhookNotificationKeys(t *testing.T) {
	n := transform.Notification{Header: http.Header{"Signature": {vecSignature}}, Body: []byte(vecBody)}
	for _, tt := range []struct {
		name           string
		apiKey, secret string
		keys           string
		verifies       bool
	}{
		{"api_key", vecAPIKey, testSecret, vecAPIKey, true},
		{"api_key, client_secret rotated", vecAPIKey, testSecret + "-rotated", vecAPIKey, true},
		{"api_key, no client_secret", vecAPIKey, "", vecAPIKey, true},
		{"client_secret alone", "", vecAPIKey, vecAPIKey, true},
		{"another api_key", testSecret, vecAPIKey, testSecret, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWebhook(t, Config{APIKey: tt.apiKey, ClientSecret: tt.secret})
			if keys := w.NotificationKeys(); len(keys) != 1 || keys[0] != tt.keys {
				t.Fatalf("NotificationKeys() = %d keys, want the one Verify uses", len(keys))
			}
			if _, err := w.Verify(n); (err == nil) != tt.verifies {
				t.Fatalf("Verify: %v, want verified %v", err, tt.verifies)
			}
		})
	}
}
