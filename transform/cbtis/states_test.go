package cbtis

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// TestDocumentedStates pins every status and notification kind CBTIS
// documents (docs/providers/cbtis.md: the intent's PENDING, SUCCEEDED,
// CANCELLED; notify_type payment_success and refund_success), written from
// README's CBTIS section, not from the code: what query and the webhook say
// for each, values in another case or spelling and ones CBTIS does not
// document (a query's 502 naming them, an event of type unknown), an amount
// without its currency (neither stated), and a query and a notification of
// the same intent agreeing. CBTIS has no refund query.
func TestDocumentedStates(t *testing.T) {
	const order = "P9297895081903"
	query := func(data string) string {
		st, err := StatusFromQuery(order, json.RawMessage(`{"order_id":"C34368224017070001","merchant_order_id":"`+order+`"`+data+`}`))
		if err != nil {
			return transformtest.Outcome(nil, err)
		}
		return string(transform.Marshal(st))
	}
	w := newWebhook(t, webhookConfig())
	notify := func(body string) string {
		ev, err := w.Verify(transform.Notification{Header: http.Header{"Signature": {refSignature([]byte(body), vecAPIKey)}}, Body: []byte(body)})
		if err != nil {
			return "error " + err.Error()
		}
		return strings.Join([]string{ev.ID, ev.OrderID, ev.ProviderOrderID, ev.RefundID, ev.Amount, ev.Currency, ev.OccurredAt}, " ")
	}
	payment := func(kind, data string) string {
		return notify(`{"notify_type":"` + kind + `","data":{"uid":39172931,"order_id":"C34368224017070001","merchant_order_id":"` + order +
			`","order_amount":"12.30","order_currency":"HKD","create_time":"2023-08-23T18:25:43.511Z","pay_time":"2023-08-23T18:26:01.000Z"` + data + `}}`)
	}
	refund := func(data string) string {
		return notify(`{"notify_type":"refund_success","data":{"uid":39172931,"refund_id":"C34368224017070000","merchant_refund_id":"P2164521756312637123",` +
			`"order_amount":"105.00","create_time":"2023-08-23T18:25:43.511Z","refund_time":"2023-08-23T18:28:16.511Z"` + data + `}}`)
	}
	status := func(status, rest string) string {
		return `{"provider":"cbtis","order_id":"` + order + `","provider_order_id":"C34368224017070001","status":"` + status + `",` + rest
	}
	const amount = `"amount":"12.30","currency":"HKD"`
	paid := "cbtis:C34368224017070001:payment.succeeded " + order + " C34368224017070001  12.30 HKD 2023-08-23T18:26:01.000Z"
	tests := []struct{ name, got, want string }{
		{"query SUCCEEDED", query(`,"amount":"12.30","currency":"HKD","pay_time":"2023-08-23T18:26:01.000Z","status":"SUCCEEDED"`),
			status("succeeded", amount+`,"paid_at":"2023-08-23T18:26:01.000Z","provider_status":"SUCCEEDED"}`)},
		// paid_at only for a paid order, whatever pay_time says
		{"query PENDING", query(`,"amount":"12.30","currency":"HKD","pay_time":"2023-08-23T18:26:01.000Z","status":"PENDING"`),
			status("pending", amount+`,"provider_status":"PENDING"}`)},
		{"query CANCELLED", query(`,"amount":"12.30","currency":"HKD","status":"CANCELLED"`), status("cancelled", amount+`,"provider_status":"CANCELLED"}`)},
		// an amount without its currency, or a currency without an amount: neither (CBTIS gives no default)
		{"query PENDING, amount without currency", query(`,"amount":"12.30","status":"PENDING"`),
			status("pending", `"amount":"","currency":"","provider_status":"PENDING"}`)},
		{"query PENDING, currency without amount", query(`,"currency":"HKD","status":"PENDING"`),
			status("pending", `"amount":"","currency":"","provider_status":"PENDING"}`)},
		{"query SUCCEEDED in JPY", query(`,"amount":"100","currency":"JPY","status":"SUCCEEDED"`),
			status("succeeded", `"amount":"100","currency":"JPY","provider_status":"SUCCEEDED"}`)},
		// never guessed: a 502 naming the status
		{"query succeeded (lower case)", query(`,"status":"succeeded"`), "502 upstream_error succeeded"},
		{"query CANCELED (one l)", query(`,"status":"CANCELED"`), "502 upstream_error CANCELED"},
		{"query FAILED (undocumented)", query(`,"status":"FAILED"`), "502 upstream_error FAILED"},
		{"query PROCESSING (undocumented)", query(`,"status":"PROCESSING"`), "502 upstream_error PROCESSING"},
		{"query without status", query(``), "502 upstream_error"},

		{"payment_success", payment("payment_success", `,"status":"SUCCEEDED"`), paid},
		{"payment_success without status", payment("payment_success", ``), paid},
		// the intent's own status saying otherwise, or the kind in another case: unknown
		{"payment_success with status PENDING", payment("payment_success", `,"status":"PENDING"`),
			"cbtis:C34368224017070001/payment_success:unknown " + order + " C34368224017070001  12.30 HKD "},
		{"payment_success with status succeeded", payment("payment_success", `,"status":"succeeded"`),
			"cbtis:C34368224017070001/payment_success:unknown " + order + " C34368224017070001  12.30 HKD "},
		{"PAYMENT_SUCCESS", payment("PAYMENT_SUCCESS", `,"status":"SUCCEEDED"`),
			"cbtis:C34368224017070001/PAYMENT_SUCCESS:unknown " + order + " C34368224017070001  12.30 HKD "},
		{"payment_failed (undocumented)", payment("payment_failed", `,"status":"FAILED"`),
			"cbtis:C34368224017070001/payment_failed:unknown " + order + " C34368224017070001  12.30 HKD "},
		{"payment_success without order_currency", notify(`{"notify_type":"payment_success","data":{"order_id":"C34368224017070001","merchant_order_id":"` + order + `","order_amount":"12.30"}}`),
			"cbtis:C34368224017070001:payment.succeeded " + order + " C34368224017070001    "},
		// the documented refund_success names only order_amount, the order's total: no amount
		{"refund_success as documented", refund(``), "cbtis:C34368224017070000:refund.succeeded   P2164521756312637123   2023-08-23T18:28:16.511Z"},
		{"refund_success with refund_amount", refund(`,"refund_amount":"5.00","refund_currency":"HKD"`),
			"cbtis:C34368224017070000:refund.succeeded   P2164521756312637123 5.00 HKD 2023-08-23T18:28:16.511Z"},
		{"refund_success with refund_amount and order_currency", refund(`,"refund_amount":"5","order_currency":"HKD"`),
			"cbtis:C34368224017070000:refund.succeeded   P2164521756312637123 5.00 HKD 2023-08-23T18:28:16.511Z"},
		{"refund_success with refund_amount, no currency", refund(`,"refund_amount":"5.00"`),
			"cbtis:C34368224017070000:refund.succeeded   P2164521756312637123   2023-08-23T18:28:16.511Z"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, tt.got, tt.want)
		}
	}

	// The same paid intent told by a query and by payment_success.
	var st map[string]string
	if err := json.Unmarshal([]byte(query(`,"amount":"12.3","currency":"HKD","pay_time":"2023-08-23T18:26:01.000Z","status":"SUCCEEDED"`)), &st); err != nil {
		t.Fatal(err)
	}
	ev := strings.Split(payment("payment_success", `,"status":"SUCCEEDED"`), " ")
	if st["status"] != "succeeded" || !strings.HasSuffix(ev[0], ":"+transform.EventPaymentSucceeded) || st["order_id"] != ev[1] ||
		st["provider_order_id"] != ev[2] || st["amount"] != ev[4] || st["currency"] != ev[5] || st["paid_at"] != ev[6] {
		t.Errorf("the query says %v, the notification %v", st, ev)
	}
}

// TestTimesAsCBTISWroteThem: pay_time and refund_time (RFC 3339 with
// milliseconds; CBTIS's example 2023-08-23T18:25:43.511Z,
// docs/providers/cbtis.md "Endpoints") become occurred_at and paid_at byte
// for byte, fraction and offset kept, so occurred_at equals the data's time
// and names CBTIS's instant, not one up to a second earlier (README "CBTIS"
// and "Time zones"). A time without a zone, or in a form RFC 3339 does not
// allow, is left out rather than guessed, as is one with the lower-case t
// or z that many readers refuse.
func TestTimesAsCBTISWroteThem(t *testing.T) {
	w := newWebhook(t, webhookConfig())
	for _, tt := range []struct{ time, want string }{
		{"2023-08-23T18:25:43.511Z", "2023-08-23T18:25:43.511Z"}, // CBTIS's example
		{"2023-08-23T18:26:01.000Z", "2023-08-23T18:26:01.000Z"},
		{"2023-08-23T18:26:01Z", "2023-08-23T18:26:01Z"},
		{"2023-08-31T04:44:05.928696203+08:00", "2023-08-31T04:44:05.928696203+08:00"},
		{"2023-08-24T02:25:43.511+08:00", "2023-08-24T02:25:43.511+08:00"},
		{"2023-08-23T18:25:43.511-00:00", "2023-08-23T18:25:43.511-00:00"},
		{"2023-08-23T18:25:43.511", ""}, // no zone
		{"2023-08-23 18:25:43.511Z", ""},
		{"2023-08-23T18:25:43,511Z", ""},      // time.Parse takes a comma; RFC 3339 does not
		{"2023-08-23T8:25:43.511Z", ""},       // time.Parse takes a one-digit hour
		{"2023-08-23T18:25:43.511+24:00", ""}, // an offset past 23:59
		{"2023-08-23t18:25:43.511z", ""},      // RFC 3339 allows it, time.Parse does not
		{"2023-02-29T18:25:43.511Z", ""},
		{"2023-08-23T18:25:43.Z", ""},
		// No payment time: before 1970 or after 9999 in UTC (README Time zones).
		{"0000-01-01T00:00:00.000Z", ""},
		{"1969-12-31T23:59:59.999Z", ""},
		{"9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"},
	} {
		t.Run(tt.time, func(t *testing.T) {
			value := `"` + tt.time + `"`
			for _, body := range []string{
				`{"notify_type":"payment_success","data":{"order_id":"C1","merchant_order_id":"P1","order_amount":"12.30","order_currency":"HKD","pay_time":` + value + `}}`,
				`{"notify_type":"refund_success","data":{"refund_id":"C2","merchant_refund_id":"R1","order_amount":"12.30","refund_time":` + value + `}}`,
			} {
				ev, err := w.Verify(transform.Notification{Header: http.Header{"Signature": {refSignature([]byte(body), vecAPIKey)}}, Body: []byte(body)})
				if err != nil || ev.OccurredAt != tt.want {
					t.Errorf("%s: occurred_at %q (%v), want %q", body, ev.OccurredAt, err, tt.want)
				}
			}
			st, err := StatusFromQuery("P1", json.RawMessage(`{"order_id":"C1","merchant_order_id":"P1","amount":"12.30","currency":"HKD","status":"SUCCEEDED","pay_time":`+value+`}`))
			if err != nil || st.PaidAt != tt.want {
				t.Errorf("paid_at %+v (%v), want %q", st, err, tt.want)
			}
		})
	}
}
