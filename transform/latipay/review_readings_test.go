package latipay

import (
	"context"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// readmeMethods and readmeStatuses are README Latipay's lists of
// payment_method and status, written out from README, not taken from the
// package.
var (
	readmeMethods  = []string{"wechat", "alipay", "onlineBank", "unionpay", "moneymore", "polipay", "azupay", "payid", "upi_upop", "coin_payments"}
	readmeStatuses = []string{"paid", "pending", "failed", "rejected", "canceled"}
)

// readmeGrammar is README Latipay's grammar of the five signed fields,
// widened where that is cheap (any three capitals for currency, any
// positive decimal of up to three decimals for amount): a reading the real
// Verify accepts passes it, so a reading it refuses needs no Verify call.
var (
	readmeOrderID  = regexp.MustCompile(`^[A-Za-z0-9_\-|*]{1,32}$`)
	readmeCurrency = regexp.MustCompile(`^[A-Z]{3}$`)
	readmeAmount   = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,3})?$`)
)

func readmeGrammar(ref, method, status, currency, amount string) bool {
	return readmeOrderID.MatchString(ref) && slices.Contains(readmeMethods, method) && slices.Contains(readmeStatuses, status) &&
		readmeCurrency.MatchString(currency) && readmeAmount.MatchString(amount)
}

// TestEveryMethodStatusReadsOneWay: an enumeration of its own, apart from
// TestMethodAndStatusEndingsDiffer's argument. Genuine notifications of
// every payment_method × status of README Latipay, in a currency with
// decimals and one without, for merchant_references ending in a letter
// (lower and upper case), a digit, '_', '-', '|', '*', and in every proper
// prefix of a method (the only endings that could lend a method its first
// letters), are cut at every place of their signed string into five
// non-empty fields. Each cut that README's grammar could take goes, with
// the genuine signature, through the real Webhook.Verify (configured
// without the wallet's currency, which takes any code) and
// Client.StatusFromAnswer; only the genuine reading may be accepted, and it
// must be. For the first ending's paid messages in NZD 1, every cut goes
// through Verify, so that the shortcut is shown to drop no reading Verify
// would accept.
func TestEveryMethodStatusReadsOneWay(t *testing.T) {
	endings := []string{"a", "Z", "7", "_", "-", "|", "*"}
	for _, m := range readmeMethods {
		for i := 1; i < len(m); i++ {
			endings = append(endings, m[:i])
		}
	}
	tails := []struct{ currency, amount string }{{"NZD", "120.00"}, {"NZD", "1"}, {"JPY", "100"}}
	anyWallet := testConfig()
	anyWallet.Currency = ""
	webhook := newWebhook(t, anyWallet)
	clients := map[string]*Client{}
	for _, tl := range tails {
		cfg := testConfig()
		cfg.Currency = tl.currency
		clients[tl.currency] = newClient(t, cfg)
	}
	accept := func(r, g Signed, sig string) int {
		form := url.Values{"merchant_reference": {r.MerchantReference}, "payment_method": {r.PaymentMethod}, "status": {r.Status},
			"currency": {r.Currency}, "amount": {r.Amount}, "signature": {sig}}
		n := 0
		if ev, err := webhook.Verify(transform.Notification{Body: []byte(form.Encode())}); err == nil {
			n++
			if r != g || ev.OrderID != g.MerchantReference || ev.Data["payment_method"] != g.PaymentMethod || ev.Data["status"] != g.Status {
				t.Errorf("%+v, signed as %+v, is accepted: event %+v", r, g, ev)
			}
		}
		answer := `{"merchant_reference":"` + r.MerchantReference + `","payment_method":"` + r.PaymentMethod + `","status":"` + r.Status +
			`","currency":"` + r.Currency + `","amount":"` + r.Amount + `","signature":"` + sig + `"}`
		if st, err := clients[g.Currency].StatusFromAnswer(r.MerchantReference, 200, []byte(answer)); err == nil {
			n++
			if r != g || st.OrderID != g.MerchantReference || st.ProviderStatus != g.Status {
				t.Errorf("%+v, signed as %+v, is accepted as a query answer: %+v", r, g, st)
			}
		}
		return n
	}
	messages, verified := 0, 0
	for e, ending := range endings {
		everyCut := e == 0 // the first ending's paid messages in NZD 1: every cut goes through Verify
		for _, method := range readmeMethods {
			for _, status := range readmeStatuses {
				for i, tl := range tails {
					g := Signed{"R-" + ending, method, status, tl.currency, tl.amount}
					s := g.MerchantReference + g.PaymentMethod + g.Status + g.Currency + g.Amount
					sig := refNotify(g.MerchantReference, g.PaymentMethod, g.Status, g.Currency, g.Amount, vecAPIKey)
					messages++
					accepted := 0
					eachCut(s, everyCut && i == 1 && status == "paid", func(r Signed, inGrammar bool) {
						verified++
						n := accept(r, g, sig)
						if n != 0 && !inGrammar {
							t.Errorf("%+v is accepted outside README's grammar", r)
						}
						accepted += n
					})
					if accepted != 2 { // the genuine reading, by the webhook and by the client
						t.Errorf("%q: %d acceptances, want the genuine reading's two", s, accepted)
					}
				}
			}
		}
	}
	if strings.Join(readmeMethods, ",") != strings.Join(paymentMethods, ",") {
		t.Errorf("README lists %v, the webhook %v", readmeMethods, paymentMethods)
	}
	t.Logf("%d genuine messages, %d readings through Verify and StatusFromAnswer", messages, verified)
}

// eachCut calls f with the cuts of s into five non-empty fields that
// README's grammar could take, or with every cut when all is set.
func eachCut(s string, all bool, f func(r Signed, inGrammar bool)) {
	// d, c, b, a: where amount, currency, status and payment_method
	// begin; a field README's grammar refuses ends the search below it
	for d := len(s) - 1; d >= 4; d-- {
		if !all && !readmeAmount.MatchString(s[d:]) {
			continue
		}
		for c := d - 1; c >= 3; c-- {
			if !all && !readmeCurrency.MatchString(s[c:d]) {
				continue
			}
			for b := c - 1; b >= 2; b-- {
				if !all && !slices.Contains(readmeStatuses, s[b:c]) {
					continue
				}
				for a := b - 1; a >= 1; a-- {
					r := Signed{s[:a], s[a:b], s[b:c], s[c:d], s[d:]}
					inGrammar := readmeGrammar(r.MerchantReference, r.PaymentMethod, r.Status, r.Currency, r.Amount)
					if all || inGrammar {
						f(r, inGrammar)
					}
				}
			}
		}
	}
}

// TestOlderQueryGuardOfEveryMethodAndStatus: the older query form signs
// merchant_reference + user_id with the notification's key
// (docs/providers/latipay.md "Signatures"), so an order id ending in a
// method, a status and two capitals, with a user id of digits not
// beginning with 0, signs a notification. For every method × status of
// README Latipay, such an id is refused at pay and at an older-form query
// (400 naming order_id) exactly when some cut of its signed text, through
// the real Webhook.Verify configured without the wallet's currency, is
// accepted; with Latipay's zero-padded user id none is, and the id is
// taken.
func TestOlderQueryGuardOfEveryMethodAndStatus(t *testing.T) {
	anyWallet := testConfig()
	anyWallet.Currency = ""
	webhook := newWebhook(t, anyWallet)
	for _, method := range readmeMethods {
		for _, status := range readmeStatuses {
			for _, user := range []struct {
				id      string
				refused bool
			}{{"U12345678", true}, {vecUserID, false}} {
				orderID := "x-" + method + status + "MR"
				signed := orderID + user.id
				sig := refHMAC(signed, vecAPIKey)
				accepted := 0
				eachCut(signed, false, func(r Signed, _ bool) {
					form := url.Values{"merchant_reference": {r.MerchantReference}, "payment_method": {r.PaymentMethod}, "status": {r.Status},
						"currency": {r.Currency}, "amount": {r.Amount}, "signature": {sig}}
					if _, err := webhook.Verify(transform.Notification{Body: []byte(form.Encode())}); err == nil {
						accepted++
					}
				})
				if (accepted > 0) != user.refused {
					t.Fatalf("%q: %d readings accepted, the row's premise is wrong", signed, accepted)
				}
				cfg := testConfig()
				cfg.UserID = user.id
				c := newClient(t, cfg)
				_, payErr := c.Prepare(context.Background(), "pay",
					[]byte(`{"order_id":"`+orderID+`","amount":"1.00","currency":"NZD","description":"x","openid":"`+vecOpenID+`"}`))
				c.queryConcat.Store(true) // the older form, as after Latipay's 206 to the sorted one
				_, queryErr := c.Prepare(context.Background(), "query", []byte(`{"order_id":"`+orderID+`"}`))
				for _, err := range []error{payErr, queryErr} {
					if !user.refused {
						if err != nil {
							t.Errorf("%s for %s: %v", orderID, user.id, err)
						}
						continue
					}
					if e := wantError(t, err, 400, transform.CodeInvalidRequest); e.Field != "order_id" {
						t.Errorf("%s for %s: refused naming %q", orderID, user.id, e.Field)
					}
				}
			}
		}
	}
}
