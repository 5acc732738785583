package latipay

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// documentedMethods are the payment_method values Latipay's notification or
// query answer may carry (docs/providers/latipay.md, "Payment methods"),
// each with where it is written: Latipay's docs repository
// Latipay/latipay.github.io, src/v2/latipay-hosted-online.md (the request's
// and the notification's payment_method) and its API console's options
// (api-console/react-app/src/apis-config.json), and the plugins that send
// them.
var documentedMethods = []struct{ method, source string }{
	{"wechat", "hosted online request and notification; the mini app pay"},
	{"alipay", "hosted online request and notification; notification vector 5"},
	{"onlineBank", "hosted online synchronous redirect; API console; src/v2_cn/index.md; a nopCommerce plugin's alias of polipay"},
	{"unionpay", "API console; hosted online request of 2019"},
	{"moneymore", "hosted online request; Latipay/latipay-2.0-plugin"},
	{"polipay", "hosted online request (2020) and notification (2024); API console: NZ bank transfer"},
	{"azupay", "hosted online request 2021-06 to 2024-04 (PayID); latipay-for-woo sends it for PayID"},
	{"payid", "hosted online request and notification since 2024-04; API console (PayID)"},
	{"upi_upop", "hosted online request (2021) and notification (2024); API console: UnionPay UPOP"},
	{"coin_payments", "hosted online request since 2021-09; API console"},
}

// TestDocumentedPaymentMethods: a genuine notification and a genuine query
// answer of each documented method, signed as Latipay signs them, are
// accepted, and the event's data carries payment_method exactly as Latipay
// sent it (README Latipay). With the old list, polipay, azupay, payid,
// upi_upop and coin_payments were refused (401, and a query's 502) on every
// retry. Other spellings and "vm" are refused: Latipay's card payments post
// another callback (out_trade_no, notify_version, sorted parameters signed
// with the card private key), which this webhook does not verify.
func TestDocumentedPaymentMethods(t *testing.T) {
	var listed []string
	for _, d := range documentedMethods {
		listed = append(listed, d.method)
	}
	if !slices.Equal(slices.Sorted(slices.Values(listed)), slices.Sorted(slices.Values(paymentMethods))) {
		t.Errorf("the webhook accepts %v, Latipay documents %v", paymentMethods, listed)
	}

	w := newWebhook(t, testConfig())
	c := newClient(t, testConfig())
	for _, d := range documentedMethods {
		t.Run(d.method, func(t *testing.T) {
			const ref = "LATI-2001"
			body := notificationForm(vecAPIKey, func(v url.Values) {
				v.Set("merchant_reference", ref)
				v.Set("payment_method", d.method)
			})
			ev, err := w.Verify(transform.Notification{Body: []byte(body)})
			if err != nil {
				t.Fatalf("a genuine %s notification (%s): %v", d.method, d.source, err)
			}
			if ev.ID != "latipay:"+ref+":payment.succeeded" || ev.OrderID != ref || ev.Amount != "120.00" || ev.Currency != "NZD" ||
				ev.Data["payment_method"] != d.method || ev.Data["status"] != "paid" {
				t.Fatalf("event %+v", ev)
			}
			answer := queryAnswerJSON(ref, d.method, "paid", "NZD", `120.00`, refNotify(ref, d.method, "paid", "NZD", "120.00", vecAPIKey))
			st, err := c.StatusFromAnswer(ref, 200, []byte(answer))
			if err != nil || st.Status != transform.StatusSucceeded || st.Amount != "120.00" {
				t.Fatalf("a genuine %s query answer: %+v, %v", d.method, st, err)
			}
		})
	}

	for _, method := range []string{"vm", "PayID", "Polipay", "UPI_UPOP", "upop", "nzbanks", "Wechat", "coinpayments", ""} {
		body := notificationForm(vecAPIKey, setForm("payment_method", method))
		if _, err := w.Verify(transform.Notification{Body: []byte(body)}); err == nil {
			t.Errorf("payment_method %q is accepted", method)
		}
	}

	// A card payment's callback as a nopCommerce Latipay plugin's test
	// builds it: no merchant_reference, nothing the concatenation signs.
	card := url.Values{"amount": {"0.10"}, "currency": {"NZD"}, "notify_version": {"v2"}, "order_id": {"231103-0237511-001"},
		"out_trade_no": {"231103-0237511"}, "pay_time": {"2023-11-03 02:39:49"}, "payment_method": {"vm"}, "status": {"paid"}}
	card.Set("signature", refHMAC(card.Encode(), "card-secret"))
	if _, err := w.Verify(transform.Notification{Body: []byte(card.Encode())}); err != transform.ErrUnsigned {
		t.Fatalf("a card callback: %v, want %v", err, transform.ErrUnsigned)
	}
}

// TestMethodAndStatusEndingsDiffer: what makes the concatenation read one
// way only, for every text and not only the enumerated ones. amount is the
// digits after the last letter and currency the three letters before; the
// rest is merchant_reference + payment_method + status, and two readings of
// it need one method followed by one status to end the same way as another
// pair does (equal, or a suffix, the difference going into the reference).
// No pair of the lists does, so methods that share letters (pay in payid,
// unionpay and azupay), that hold a status's letters (payid, paid) or that
// end alike (alipay, polipay) still leave one reading.
// The check is shown to matter through the real Verify: with "lipay" added,
// which ends alipay, a genuine notification reads two ways.
func TestMethodAndStatusEndingsDiffer(t *testing.T) {
	if clashes := endingClashes(paymentMethods); len(clashes) != 0 {
		t.Fatalf("method and status pairs that end alike: %v", clashes)
	}

	saved := paymentMethods
	defer func() { paymentMethods = saved }()
	paymentMethods = append(slices.Clone(saved), "lipay")
	const text = "O-1alipaypaidNZD1.00"
	accepted := acceptedReadings(t, text, refHMAC(text, vecAPIKey))
	if clashes := endingClashes(paymentMethods); len(clashes) == 0 || len(accepted) != 2 {
		t.Fatalf("with lipay listed: clashes %v, %q accepted as %+v", clashes, text, accepted)
	}
}

// endingClashes lists the pairs of methods × statuses of which one, written
// out, ends with another.
func endingClashes(methods []string) []string {
	var pairs []string
	for _, m := range methods {
		for s := range statuses {
			pairs = append(pairs, m+"+"+s)
		}
	}
	var clashes []string
	for _, a := range pairs {
		for _, b := range pairs {
			if a != b && strings.HasSuffix(strings.ReplaceAll(a, "+", ""), strings.ReplaceAll(b, "+", "")) {
				clashes = append(clashes, a+" ends like "+b)
			}
		}
	}
	return clashes
}
