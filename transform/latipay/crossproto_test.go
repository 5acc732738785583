package latipay

import (
	"context"
	"net/url"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// acceptedReadings cuts text into five non-empty fields in every way and
// returns the readings the real Webhook.Verify accepts with sig, for a
// webhook configured without the wallet's currency (any ISO 4217 code).
// It knows nothing of payment methods or statuses: every cut is tried.
func acceptedReadings(t *testing.T, text, sig string) []Signed {
	t.Helper()
	cfg := testConfig()
	cfg.Currency = ""
	w := newWebhook(t, cfg)
	var accepted []Signed
	n := len(text)
	for a := 1; a < n; a++ {
		for b := a + 1; b < n; b++ {
			for c := b + 1; c < n; c++ {
				for d := c + 1; d < n; d++ {
					r := Signed{text[:a], text[a:b], text[b:c], text[c:d], text[d:]}
					form := url.Values{"merchant_reference": {r.MerchantReference}, "payment_method": {r.PaymentMethod},
						"status": {r.Status}, "currency": {r.Currency}, "amount": {r.Amount}, "signature": {sig}}
					if _, err := w.Verify(transform.Notification{Body: []byte(form.Encode())}); err == nil {
						accepted = append(accepted, r)
					}
				}
			}
		}
	}
	return accepted
}

// TestOlderQueryFormNeverSignsANotification: Latipay's older query
// signature is HMAC(merchant_reference + user_id) under the api_key that
// also signs notifications, HMAC(merchant_reference + payment_method +
// status + currency + amount), both without separators
// (docs/providers/latipay.md, "Signatures"). A query for an order id the
// attacker chose, x-wechatpaidMR with the user U12345678, signed what a
// webhook without a configured currency took for the paid notification of
// order x- (12345678 MRU): whoever saw the query's URL could post it. Such
// an order id is now refused at pay and never signed in the older form
// (400 naming order_id); the sorted form stays. Each row's premise is
// checked against the real Verify, cut by cut: refused ids are exactly the
// ones whose older signature some reading accepts. With the old code the
// first row's pay and query went through; the rows of the methods added
// from Latipay's current docs (polipay, azupay, payid, upi_upop,
// coin_payments) fail on the shorter list, whose webhook refused them.
func TestOlderQueryFormNeverSignsANotification(t *testing.T) {
	tests := []struct {
		name, userID, orderID string
		refused               bool
	}{
		{"a paid notification of x-, 12345678 MRU", "U12345678", "x-wechatpaidMR", true},
		{"a canceled one in AU + D1", "D1", "O-7alipaycanceledAU", true},
		{"an id of digits and a user id of digits", "2000", "1-unionpayfailedNZD1", true},
		{"Latipay's zero-padded user id: the amount would begin with 0", vecUserID, "x-wechatpaidMR", false},
		{"not an ISO 4217 code (NZU)", "U12345678", "x-wechatpaidNZ", false},
		{"no status before the currency", "U12345678", "x-wechatMR", false},
		{"an ordinary order id", "U12345678", "O-1001", false},
		{"vector 3's query", "U000000013", "6000324", false},
		{"a paid PayID notification of payid-, payid + paid sharing letters", "U12345678", "payid-payidpaidMR", true},
		{"a pending NZ bank notification in an id holding po", "U12345678", "polipolipaypendingMR", true},
		{"UPOP's underscore, within the order-id grammar", "U12345678", "x_upi_upopcanceledMR", true},
		{"coin_payments: 21 characters of the id", "U12345678", "x-coin_paymentspaidMR", true},
	}
	// every method the webhook accepts is guarded, not only those above
	for _, d := range documentedMethods {
		tests = append(tests, struct {
			name, userID, orderID string
			refused               bool
		}{"a paid " + d.method + " notification of x-", "U12345678", "x-" + d.method + "paidMR", true})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signed := tt.orderID + tt.userID
			accepted := acceptedReadings(t, signed, refHMAC(signed, vecAPIKey))
			if (len(accepted) > 0) != tt.refused {
				t.Fatalf("the older signature of %q is accepted as %+v: the row's premise is wrong", signed, accepted)
			}
			if got := ReadsAsNotification(signed); got != tt.refused {
				t.Fatalf("ReadsAsNotification(%q) = %v, want %v", signed, got, tt.refused)
			}

			cfg := testConfig()
			cfg.UserID = tt.userID
			c := newClient(t, cfg)
			pay := `{"order_id":"` + tt.orderID + `","amount":"1.00","currency":"NZD","description":"x","openid":"` + vecOpenID + `"}`
			_, payErr := c.Prepare(context.Background(), "pay", []byte(pay))
			c.queryConcat.Store(true) // as after the account refused the sorted form with 206
			query, queryErr := c.Prepare(context.Background(), "query", []byte(`{"order_id":"`+tt.orderID+`"}`))
			if tt.refused {
				if e := wantError(t, payErr, 400, transform.CodeInvalidRequest); e.Field != "order_id" {
					t.Fatalf("pay refused naming %q", e.Field)
				}
				if e := wantError(t, queryErr, 400, transform.CodeInvalidRequest); e.Field != "order_id" {
					t.Fatalf("query refused naming %q", e.Field)
				}
				return
			}
			if payErr != nil || queryErr != nil {
				t.Fatalf("pay: %v; query: %v", payErr, queryErr)
			}
			if want := "user_id=" + tt.userID + "&signature=" + refHMAC(signed, vecAPIKey); query.RawQuery != want {
				t.Fatalf("query %q, want %q", query.RawQuery, want)
			}
		})
	}
}

// TestRequestSignaturesNeverReadAsNotifications: every other message the
// api_key signs is the sorted form, which begins with a parameter name and
// '=' (amount=, merchant_reference=, order_id=) and so can never open a
// notification's concatenation: its merchant_reference would hold the '='
// (the order-id grammar has none), and no payment method or status holds
// one either. The messages are Latipay's published ones, key appended
// (docs/providers/latipay.md, vectors 1 to 4).
func TestRequestSignaturesNeverReadAsNotifications(t *testing.T) {
	for _, msg := range []string{
		"amount=120.00&callback_url=https://merchantsite.com/confirm&ip=122.122.122.1&merchant_reference=dsi39ej430sks03&payment_method=alipay&product_name=Pinot Noir, Otago&return_url=https://merchantsite.com/checkout&user_id=U000334333&version=2.0&wallet_id=W00000001111222333",
		"amount=120.00&app_id=wx721398712681232&callback_url=https://merchantsite.com/confirm&ip=122.122.122.1&merchant_reference=dsi39ej430sks03&payment_method=alipay&product_name=Pinot Noir, Otago&return_url=https://merchantsite.com/checkout&user_id=U000334333&version=2.0&wallet_id=W00000001111222333",
		"merchant_reference=6000324&user_id=U000000013111222333",
		"order_id=23479798sdf7987234&reference=notes about this refund&refund_amount=120.00&user_id=U000334333111222333",
		// A pay of ours whose description and order id spell a
		// notification: still behind "amount=".
		"amount=1.00&app_id=wx721398712681232&merchant_reference=x-wechatpaidNZD1&notify_url=https://merchantsite.com/latipay/notify&open_id=o&product_name=x-wechatpaidNZD1&user_id=U000334333&wallet_id=W00000001111222333",
	} {
		if ReadsAsNotification(msg) {
			t.Errorf("%q reads as a notification", msg)
		}
	}
	// The vector 3 message, short enough to cut in every way through Verify.
	const query = "merchant_reference=6000324&user_id=U000000013111222333"
	if accepted := acceptedReadings(t, query, "58f93f458880120d650611f2452917a25a39edc2f5e3a03baac73a7a49bc81f4"); len(accepted) != 0 {
		t.Fatalf("vector 3's signature is accepted as %+v", accepted)
	}
}
