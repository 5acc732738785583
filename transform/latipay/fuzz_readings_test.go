package latipay

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// FuzzSignedConcatenationReadings: the notification signature covers
// merchant_reference + payment_method + status + currency + amount with no
// separator, so every cut of one signed string into five fields signs
// alike; CheckGrammar must pass at most one of them, with the wallet's
// currency configured or not.
func FuzzSignedConcatenationReadings(f *testing.F) {
	f.Add("dsi39ej430sks03alipaypaidNZD120.00")
	f.Add("O-1wechatwechatpendingAUD1.5")
	f.Add("unionpayunionpayfailedCNY0.01")
	f.Add("x|*-_moneymorecanceledJPY100")
	f.Add("payidpayidpaidAUD10.00")
	f.Add("popolipaypendingNZD1.5")
	f.Add("upi_upi_upopcanceledCNY8")
	f.Add("coin_coin_paymentspaidUSD1")
	f.Fuzz(func(t *testing.T, s string) {
		for _, wallet := range []string{"", "NZD"} {
			var passed []Signed
			for r := range listedCuts(s) {
				if _, err := r.CheckGrammar(wallet); err == nil {
					passed = append(passed, r)
				}
			}
			if len(passed) > 1 {
				t.Fatalf("%q (wallet %q) has %d readings that pass: %+v", s, wallet, len(passed), passed)
			}
		}
	})
}

// TestSignedConcatenationReadingsThroughVerify: a genuine notification or
// query answer is cut into five non-empty fields at every place of its
// signed string, and each reading, with the genuine signature, goes through
// the real Webhook.Verify (configured without the wallet's currency, so any
// ISO 4217 code may pass) and Client.StatusFromAnswer (asked for the
// reading's order); only the genuine reading may be accepted. The messages
// are the published vector (docs/providers/latipay.md, vector 5) and genuine
// ones whose fields end or begin with text that could shift: a
// merchant_reference ending in a payment method, a status or capital
// letters, digits either side of the currency, and the methods added from
// Latipay's current docs where they overlap (docs/providers/latipay.md,
// "Payment methods").
func TestSignedConcatenationReadingsThroughVerify(t *testing.T) {
	genuine := []Signed{
		{"dsi39ej430sks03", "alipay", "paid", "NZD", "120.00"}, // vector 5
		{"1wechat", "wechat", "pending", "NZD", "1.5"},
		{"unionpay", "alipay", "rejected", "NZD", "0.01"},
		{"A-paid", "wechat", "canceled", "NZD", "12"},
		{"NZD1", "onlineBank", "paid", "NZD", "20.00"},
		{"_more", "moneymore", "failed", "JPY", "100"},
		{"pay", "unionpay", "paid", "AUD", "9.9"},
		{"CNY", "wechat", "paid", "CNY", "1"},
		// the methods of Latipay's current docs and plugins, where they
		// overlap: a method beginning or ending like another (pay…,
		// …lipay, …pay), holding a status's letters (payid, paid) or
		// with an underscore the reference may hold too
		{"payid", "payid", "paid", "AUD", "10.00"},
		{"po", "polipay", "pending", "NZD", "1.5"},
		{"a-ali", "polipay", "failed", "NZD", "2"},
		{"x-pay", "alipay", "rejected", "AUD", "0.5"},
		{"azu", "azupay", "paid", "AUD", "3.00"},
		{"upi_", "upi_upop", "canceled", "CNY", "8"},
		{"coin_", "coin_payments", "paid", "USD", "1"},
		{"union", "unionpay", "paid", "NZD", "0.10"},
	}
	const vectorSignature = "840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1"
	for _, g := range genuine {
		s := g.MerchantReference + g.PaymentMethod + g.Status + g.Currency + g.Amount
		sig := refNotify(g.MerchantReference, g.PaymentMethod, g.Status, g.Currency, g.Amount, vecAPIKey)
		if s == "dsi39ej430sks03alipaypaidNZD120.00" && sig != vectorSignature {
			t.Fatalf("the reference signer gives %s for vector 5", sig)
		}
		withWallet, anyWallet := testConfig(), testConfig()
		withWallet.Currency, anyWallet.Currency = g.Currency, ""
		webhook := newWebhook(t, anyWallet)
		client := newClient(t, withWallet)
		readings, accepted := 0, 0
		for a := 1; a < len(s); a++ {
			for b := a + 1; b < len(s); b++ {
				for c := b + 1; c < len(s); c++ {
					for d := c + 1; d < len(s); d++ {
						r := Signed{s[:a], s[a:b], s[b:c], s[c:d], s[d:]}
						readings++
						form := url.Values{"merchant_reference": {r.MerchantReference}, "payment_method": {r.PaymentMethod},
							"status": {r.Status}, "currency": {r.Currency}, "amount": {r.Amount}, "signature": {sig}}
						answer, err := json.Marshal(map[string]string{"merchant_reference": r.MerchantReference, "payment_method": r.PaymentMethod,
							"status": r.Status, "currency": r.Currency, "amount": r.Amount, "signature": sig})
						if err != nil {
							t.Fatal(err)
						}
						if ev, err := webhook.Verify(transform.Notification{Body: []byte(form.Encode())}); err == nil {
							accepted++
							if r != g || ev.OrderID != g.MerchantReference || ev.Currency != g.Currency || ev.Data["amount"] != g.Amount {
								t.Errorf("%q read as %+v is accepted: event %+v", s, r, ev)
							}
						}
						if st, err := client.StatusFromAnswer(r.MerchantReference, 200, answer); err == nil {
							accepted++
							if r != g || st.OrderID != g.MerchantReference || st.Currency != g.Currency || st.ProviderStatus != g.Status {
								t.Errorf("%q read as %+v is accepted as a query answer: %+v", s, r, st)
							}
						}
					}
				}
			}
		}
		if accepted != 2 { // the genuine reading, by the webhook and the client
			t.Errorf("%q: %d of %d readings accepted, want the genuine one twice (webhook, client)", s, accepted, readings)
		}
	}
}
