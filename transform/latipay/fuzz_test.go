package latipay

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// FuzzParseNotification: the parser never panics, refuses what net/url
// (for a form) or encoding/json (for a JSON object) refuses, and on success
// holds exactly their single values, sorted by name.
func FuzzParseNotification(f *testing.F) {
	f.Add([]byte(docNotification))
	f.Add([]byte(notificationForm(vecAPIKey, setForm("status", "failed"))))
	f.Add([]byte("a=1&a=2"))
	f.Add([]byte("a=%zz;b"))
	f.Add([]byte("=&&="))
	f.Add([]byte(docNotification + "\r\n"))
	f.Add([]byte(`{"merchant_reference":"dsi39ej430sks03","amount":120.00,"status":"paid","n":{"a":[1,null,true]}}`))
	f.Add([]byte(`{"a":"1","a":"2"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseNotification(body)
		if err != nil {
			if p != nil {
				t.Fatal("params with an error")
			}
			return
		}
		v, verr := refFields(body)
		isJSON := bytes.HasPrefix(trimForm(body), []byte("{"))
		// a JSON object's nested members flatten to names encoding/json has not at the top
		if verr != nil || len(body) > MaxNotification || !isJSON && len(v) != len(p) {
			t.Fatalf("accepted %q (independent reading: %v)", body, verr)
		}
		for name, vs := range v {
			if got := p.Get(name); len(vs) != 1 || got != vs[0] || !p.Has(name) {
				t.Fatalf("%s = %q, the independent reading says %q", name, got, vs)
			}
		}
		for i, kv := range p {
			if i > 0 && p[i-1].Name >= kv.Name {
				t.Fatalf("not sorted or repeated: %v", p)
			}
		}
	})
}

// FuzzWebhookVerify: Verify never panics and never accepts a notification
// that the key did not sign: whenever it succeeds, an independent
// recomputation (refNotify over refFields' reading) reproduces the signature,
// every signed field is present and inside its grammar, the currency is the
// wallet's, and the event holds the signed fields only (plus unverified.*),
// its id built from merchant_reference and the type.
func FuzzWebhookVerify(f *testing.F) {
	f.Add([]byte(docNotification))
	f.Add([]byte(notificationForm(vecAPIKey, setForm("status", "canceled"))))
	f.Add([]byte(notificationForm(vecAPIKey, setForm("currency", "AUD"))))
	f.Add([]byte(notificationForm(vecAPIKey, setForm("payment_method", "3alipay"))))
	f.Add([]byte(notificationForm(otherKey, nil)))
	f.Add([]byte(notificationForm(vecAPIKey, nil) + "&status=failed"))
	f.Add([]byte("sent"))
	f.Add([]byte(`{"signature":"840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1","merchant_reference":"dsi39ej430sks03",` +
		`"currency":"NZD","amount":120.00,"payment_method":"alipay","status":"paid"}`))
	w := newWebhook(f, testConfig())
	f.Add([]byte(notificationForm(vecAPIKey, setForm("payment_method", "upi_upop"))))
	methods := map[string]bool{}
	for _, d := range documentedMethods {
		methods[d.method] = true
	}
	states := map[string]bool{"paid": true, "pending": true, "failed": true, "rejected": true, "canceled": true}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := w.Verify(transform.Notification{Body: body})
		if err != nil {
			if ev != nil {
				t.Fatal("an event with an error")
			}
			return
		}
		v, verr := refFields(body)
		if verr != nil {
			t.Fatalf("accepted a body net/url or encoding/json refuses: %q", body)
		}
		for _, name := range []string{"merchant_reference", "payment_method", "status", "currency", "amount", "signature"} {
			if len(v[name]) != 1 || v[name][0] == "" {
				t.Fatalf("accepted without a single %s: %q", name, body)
			}
		}
		ref := v.Get("merchant_reference")
		want := refNotify(ref, v.Get("payment_method"), v.Get("status"), v.Get("currency"), v.Get("amount"), vecAPIKey)
		if !strings.EqualFold(v.Get("signature"), want) {
			t.Fatalf("accepted a signature the key did not make: %q", body)
		}
		if v.Get("currency") != "NZD" || !methods[v.Get("payment_method")] || !states[v.Get("status")] ||
			transform.ValidOrderID("r", ref) != nil {
			t.Fatalf("accepted a signed field outside its grammar: %q", body)
		}
		if ev.Provider != Name || ev.OrderID != ref || ev.ID != "latipay:"+ref+":"+ev.Type || ev.ProviderOrderID != "" || ev.OccurredAt != "" {
			t.Fatalf("event %+v", ev)
		}
		for k, val := range ev.Data {
			if !strings.HasPrefix(k, "unverified.") && v.Get(k) != val {
				t.Fatalf("data[%s] = %q is not the signed field", k, val)
			}
			switch k {
			case "merchant_reference", "payment_method", "status", "currency", "amount", "unverified.order_id", "unverified.pay_time":
			default:
				t.Fatalf("data carries %q", k)
			}
		}
	})
}

// FuzzQueryAnswer: StatusFromAnswer never panics; every failure is a 422 or
// 502 *transform.Error, and it succeeds only for a 2xx answer about the
// asked order, in the wallet's currency, whose signature an independent
// decoder (json.Decoder.UseNumber keeps a number's text) reproduces.
func FuzzQueryAnswer(f *testing.F) {
	const ref = "dsi39ej430sks03"
	f.Add(200, []byte(queryAnswerJSON(ref, "alipay", "paid", "NZD", `120.00`, "840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1")))
	f.Add(200, []byte(queryAnswerJSON(ref, "alipay", "paid", "NZD", `"120.00"`, "840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1")))
	f.Add(200, []byte(queryAnswerJSON(ref, "alipay", "paid", "NZD", `120`, "f734b225900929eda1891ba63c77445e8c744d026b1948130bcea217d3016cf8")))
	f.Add(200, []byte(queryAnswerJSON(ref, "wechat", "pending", "NZD", `1.5`, refNotify(ref, "wechat", "pending", "NZD", "1.5", vecAPIKey))))
	f.Add(200, []byte(`{"code":206,"message":"Signature from Merchant request is wrong"}`))
	f.Add(404, []byte(`{"code":201,"message":"order not exist"}`))
	f.Add(200, []byte(`null`))
	c := newClient(f, testConfig())
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		st, err := c.StatusFromAnswer(ref, status, body)
		if err != nil {
			var e *transform.Error
			if !errors.As(err, &e) || (e.Status != 502 && e.Status != 422) || st != nil {
				t.Fatalf("error %v (%T), status %v", err, err, st)
			}
			return
		}
		if status < 200 || status > 299 {
			t.Fatalf("accepted HTTP %d", status)
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var a map[string]any
		if err := dec.Decode(&a); err != nil {
			t.Fatalf("accepted %q: %v", body, err)
		}
		text := func(k string) string { return memberText(a, k) }
		want := refNotify(text("merchant_reference"), text("payment_method"), text("status"), text("currency"), text("amount"), vecAPIKey)
		if !strings.EqualFold(text("signature"), want) || text("merchant_reference") != ref || text("currency") != "NZD" {
			t.Fatalf("accepted %q", body)
		}
		if st.OrderID != ref || st.Provider != Name || st.Currency != "NZD" || st.Amount == "" {
			t.Fatalf("status %+v", st)
		}
	})
}
