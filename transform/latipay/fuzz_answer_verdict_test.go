package latipay

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// FuzzAnswerVerdict: README caddy minipay verify judges Latipay's
// transaction query answer "as minipay checks it on the route that
// receives it": for any JSON object the fuzzer writes, its signature made
// by the notification formula over its five fields as sent (read here by
// encoding/json, a number's text kept), once the route gets as far as the
// signature (no code, every field it reads a string, a number or null),
// verify's verdict is valid exactly when StatusFromAnswer, asked about the
// answer's own merchant_reference, reads it; the kind is answer.
func FuzzAnswerVerdict(f *testing.F) {
	f.Add([]byte(queryAnswerJSON("dsi39ej430sks03", "alipay", "paid", "NZD", `120.00`, "")))
	f.Add([]byte(queryAnswerJSON("dsi39ej430sks03", "wechat", "pending", "NZD", `"1.5"`, "")))
	f.Add([]byte(queryAnswerJSON("dsi39ej430sks03", "alipay", "refunded", "NZD", `1`, "")))
	f.Add([]byte(queryAnswerJSON("dsi39ej430sks0", "3alipay", "paid", "AUD", `1`, "")))
	f.Add([]byte(`{"merchant_reference":"A","amount":1e2,"currency":"NZD","status":"paid","payment_method":"polipay","order_id":null}`))
	c := newClient(f, testConfig())
	w := newWebhook(f, testConfig())
	f.Fuzz(func(t *testing.T, doc []byte) {
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		var a map[string]any
		if dec.Decode(&a) != nil || a == nil {
			return
		}
		text := func(k string) string { return memberText(a, k) }
		if _, ok := a["code"]; ok {
			return // an error answer: refused before its signature
		}
		for _, k := range []string{"merchant_reference", "payment_method", "status", "currency", "amount", "order_id", "pay_time", "transaction_id"} {
			switch a[k].(type) {
			case string, json.Number, nil:
			default:
				return // a field the route cannot read: refused before the signature
			}
		}
		a["signature"] = refNotify(text("merchant_reference"), text("payment_method"), text("status"), text("currency"), text("amount"), vecAPIKey)
		answer, err := json.Marshal(a)
		if err != nil {
			return // a number encoding/json will not write back
		}
		_, rerr := c.StatusFromAnswer(text("merchant_reference"), 200, answer)
		var e *transform.Error
		if rerr != nil && !errors.As(rerr, &e) {
			t.Fatalf("StatusFromAnswer: %v", rerr)
		}
		x := transform.Explanation{Kind: transform.KindNotification}
		n := transform.Notification{Body: answer}
		answered, verr := w.ExplainAnswer(n, &x)
		if !answered {
			_, verr = w.Explain(n, &x)
		}
		valid := verr == nil || x.Kind == transform.KindAnswer && errors.Is(verr, transform.ErrSignedAnswer)
		if valid != (rerr == nil) || x.Kind != transform.KindAnswer {
			t.Fatalf("verify says valid=%v (kind %s, %v), the route %v: %q", valid, x.Kind, verr, rerr, answer)
		}
	})
}

// memberText is member k of an object encoding/json read with UseNumber,
// as its text: a string's value or a number's digits as sent, else "".
func memberText(a map[string]any, k string) string {
	switch v := a[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}
