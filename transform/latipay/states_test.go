package latipay

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// TestDocumentedStates pins every status Latipay documents (docs/providers/latipay.md:
// paid, pending, failed, rejected, canceled), written from README's Latipay
// section, not from the code: what query and the webhook say for each, the
// same status in another case or spelling and one Latipay does not list (a
// query's 502 naming it; a notification refused, 401, Latipay's signed
// fields being held to their grammar), and a query answer and a notification
// with the same signed fields telling the same state, amount and currency.
// Latipay has no refund query and sends no refund notification.
func TestDocumentedStates(t *testing.T) {
	const ref = "LATI-1001"
	call, err := newClient(t, testConfig()).Prepare(context.Background(), "query", []byte(`{"order_id":"`+ref+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	w := newWebhook(t, Config{APIKey: vecAPIKey, Currency: "NZD"})
	query := func(status, amount string) string {
		return transformtest.Outcome(call.Decode(200, nil, []byte(queryAnswerJSON(ref, "wechat", status, "NZD", amount,
			refNotify(ref, "wechat", status, "NZD", amount, vecAPIKey)))))
	}
	notify := func(status, amount string) string {
		ev, err := w.Verify(transform.Notification{Header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}},
			Body: []byte(notificationForm(vecAPIKey, func(v url.Values) {
				v.Set("merchant_reference", ref)
				v.Set("status", status)
				v.Set("amount", amount)
				v.Set("payment_method", "wechat")
			}))})
		switch {
		case errors.Is(err, transform.ErrMalformed):
			return "401 malformed"
		case err != nil:
			return "error " + err.Error()
		}
		return strings.Join([]string{ev.ID, ev.OrderID, ev.ProviderOrderID, ev.Amount, ev.Currency, ev.OccurredAt}, " ")
	}
	status := func(status, paidAt, providerStatus string) string {
		s := `{"provider":"latipay","order_id":"LATI-1001","provider_order_id":"2017232323345678","status":"` + status + `","amount":"12.30","currency":"NZD",`
		if paidAt != "" {
			s += `"paid_at":"` + paidAt + `",`
		}
		return s + `"provider_status":"` + providerStatus + `"}`
	}
	tests := []struct{ name, got, want string }{
		// paid_at only for a paid order: pay_time read as UTC (README Latipay)
		{"query paid", query("paid", "12.30"), status("succeeded", "2017-07-07T10:53:50Z", "paid")},
		{"query pending", query("pending", "12.30"), status("pending", "", "pending")},
		{"query failed", query("failed", "12.30"), status("failed", "", "failed")},
		{"query rejected", query("rejected", "12.30"), status("failed", "", "rejected")},
		{"query canceled", query("canceled", "12.30"), status("cancelled", "", "canceled")},
		// never guessed: a 502 naming the status
		{"query cancelled (British spelling)", query("cancelled", "12.30"), "502 upstream_error cancelled"},
		{"query Paid", query("Paid", "12.30"), "502 upstream_error Paid"},
		{"query PAID", query("PAID", "12.30"), "502 upstream_error PAID"},
		{"query refunded", query("refunded", "12.30"), "502 upstream_error refunded"},
		{"query without status", query("", "12.30"), "502 upstream_error"},

		// the event: five signed fields only, no provider_order_id nor occurred_at
		{"notification paid", notify("paid", "12.30"), "latipay:LATI-1001:payment.succeeded LATI-1001  12.30 NZD "},
		{"notification pending", notify("pending", "12.30"), "latipay:LATI-1001:payment.pending LATI-1001  12.30 NZD "},
		{"notification failed", notify("failed", "12.30"), "latipay:LATI-1001:payment.failed LATI-1001  12.30 NZD "},
		{"notification rejected", notify("rejected", "12.30"), "latipay:LATI-1001:payment.failed LATI-1001  12.30 NZD "},
		{"notification canceled", notify("canceled", "12.30"), "latipay:LATI-1001:payment.cancelled LATI-1001  12.30 NZD "},
		{"notification cancelled", notify("cancelled", "12.30"), "401 malformed"},
		{"notification Paid", notify("Paid", "12.30"), "401 malformed"},
		{"notification refunded", notify("refunded", "12.30"), "401 malformed"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, tt.got, tt.want)
		}
	}

	// The same signed fields told by a query answer and a notification:
	// the query's status is the event's type, with the same amount.
	for status, pair := range map[string][2]string{
		"paid": {"succeeded", transform.EventPaymentSucceeded}, "pending": {"pending", transform.EventPaymentPending},
		"failed": {"failed", transform.EventPaymentFailed}, "rejected": {"failed", transform.EventPaymentFailed},
		"canceled": {"cancelled", transform.EventPaymentCancelled},
	} {
		for amount, want := range map[string]string{"0.01": "0.01", "12.3": "12.30", "120.00": "120.00"} {
			q, ev := query(status, amount), notify(status, amount)
			if !strings.Contains(q, `"status":"`+pair[0]+`","amount":"`+want+`","currency":"NZD"`) ||
				ev != "latipay:"+ref+":"+pair[1]+" "+ref+"  "+want+" NZD " {
				t.Errorf("%s %s: the query says %s, the notification %s", status, amount, q, ev)
			}
		}
	}
}
