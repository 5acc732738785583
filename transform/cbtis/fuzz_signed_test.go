package cbtis

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// FuzzSignedEvent: a notification signed with the api_key, its body the
// fuzzer's, is refused or is an event made only of what CBTIS signed: every
// member of data under its dotted name with its value as written (read
// here with encoding/json: transformtest.LeavesOf), the top-level
// notify_type as sent in place of data's (none added without one), the
// order and refund ids from data; it is payment.succeeded only for payment_success whose data.status
// is absent or SUCCEEDED, refund.succeeded only for refund_success. A body
// that is not UTF-8 is refused (its bad bytes would read as U+FFFD, which
// CBTIS never signed), and the same body gzip-compressed under a
// Content-Encoding saying so is the same event.
func FuzzSignedEvent(f *testing.F) {
	f.Add([]byte(paymentBody))
	f.Add([]byte(strings.Replace(paymentBody, "SUCCEEDED", "FAILED", 1)))
	f.Add([]byte(strings.Replace(paymentBody, `,"status":"SUCCEEDED"`, "", 1)))
	f.Add([]byte(`{"notify_type":"refund_success","data":{"uid":39172931,"refund_id":"C1","merchant_refund_id":"P1","refund_amount":"1.05","refund_currency":"HKD"}}`))
	f.Add([]byte(`{"notify_type":"payment_success","data":{"order_id":"C1","x":{"y":[1,null,true]},"x.y.0":2}}`))
	f.Add([]byte(`{"notify_type":"payment_success","data":{"merchant_order_id":"P\xff1","status":"SUCCEEDED"}}`))
	f.Add([]byte(`{"notify_type":"x","data":{"":{"":0},".":1}}`))
	f.Add([]byte(`{"notify_type":12,"data":{"notify_type":"refund_success","status":"succeeded"}}`))
	w := newWebhook(f, webhookConfig())
	f.Fuzz(func(t *testing.T, body []byte) {
		header := http.Header{"Signature": {refSignature(body, vecAPIKey)}}
		ev, err := w.Verify(transform.Notification{Header: header, Body: body})
		if err != nil {
			if ev != nil || !errors.Is(err, transform.ErrMalformed) && !errors.Is(err, transform.ErrForeign) {
				t.Fatalf("a signed body refused as %v (event %v)", err, ev)
			}
			return
		}
		if !utf8.Valid(body) {
			t.Fatalf("a body that is not UTF-8 was read: %q -> %+v", body, ev.Data)
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var top map[string]any
		if err := dec.Decode(&top); err != nil {
			t.Fatalf("accepted a body encoding/json does not read as an object: %q", body)
		}
		kind, _ := transformtest.LeafText(top["notify_type"])
		switch top["notify_type"].(type) {
		case map[string]any, []any: // as compact JSON
			if kind = ev.Data["notify_type"]; !json.Valid([]byte(kind)) || len(kind) > len(body) {
				t.Fatalf("notify_type %q from %q", kind, body)
			}
		}
		// A top-level notify_type (not null) takes the place of data's own;
		// without one the event adds none (README CBTIS).
		named := top["notify_type"] != nil
		if got, ok := ev.Data["notify_type"]; named && (!ok || got != kind) {
			t.Fatalf("notify_type %q, signed %q", got, kind)
		}
		data, _ := top["data"].(map[string]any)
		leaves := transformtest.LeavesOf(data)
		want, clash := leaves.Values, leaves.Clash
		for k, v := range ev.Data {
			if k == "notify_type" && named {
				continue
			}
			if signed, ok := want[k]; !ok || signed != v || clash[k] {
				t.Fatalf("data[%q] = %q, signed %q (present %v, two paths %v) in %q", k, v, signed, ok, clash[k], body)
			}
		}
		for k, v := range want {
			if _, ok := ev.Data[k]; !ok && (k != "notify_type" || !named) {
				t.Fatalf("signed data member %q = %q left out", k, v)
			}
		}
		if ev.OrderID != want["merchant_order_id"] || ev.ProviderOrderID != want["order_id"] ||
			ev.RefundID != "" && ev.RefundID != want["merchant_refund_id"] {
			t.Fatalf("ids %q %q %q, signed %q %q %q", ev.OrderID, ev.ProviderOrderID, ev.RefundID,
				want["merchant_order_id"], want["order_id"], want["merchant_refund_id"])
		}
		status, hasStatus := want["status"]
		switch ev.Type {
		case transform.EventPaymentSucceeded:
			if kind != NotifyPaymentSuccess || hasStatus && status != "SUCCEEDED" {
				t.Fatalf("payment.succeeded from notify_type %q, status %q (present %v)", kind, status, hasStatus)
			}
		case transform.EventRefundSucceeded:
			if kind != NotifyRefundSuccess {
				t.Fatalf("refund.succeeded from notify_type %q", kind)
			}
		case transform.EventUnknown:
			if kind == NotifyPaymentSuccess && (!hasStatus || status == "SUCCEEDED") || kind == NotifyRefundSuccess {
				t.Fatalf("notify_type %q with status %q (present %v) is unknown", kind, status, hasStatus)
			}
		default:
			t.Fatalf("type %q", ev.Type)
		}
		if ev.Currency != "" {
			signedCurrency := false
			for _, k := range []string{"order_currency", "refund_currency", "currency"} {
				signedCurrency = signedCurrency || strings.EqualFold(want[k], ev.Currency)
			}
			if !signedCurrency || want["order_amount"] == "" && want["refund_amount"] == "" {
				t.Fatalf("amount %s %s from nothing signed: %v", ev.Amount, ev.Currency, want)
			}
		}
		// The same bytes, gzip-compressed and declared so: the same event;
		// compressed but not declared: never read.
		zipped := transformtest.Gzip(body)
		gz := http.Header{"Signature": header["Signature"], "Content-Encoding": {"gzip"}}
		if ev2, err := w.Verify(transform.Notification{Header: gz, Body: zipped}); err != nil ||
			!bytes.Equal(transform.Marshal(ev2), transform.Marshal(ev)) {
			t.Fatalf("gzip-compressed: %v, %+v; want %+v", err, ev2, ev)
		}
		if _, err := w.Verify(transform.Notification{Header: header, Body: zipped}); err == nil {
			t.Fatal("a gzip body without Content-Encoding verified")
		}
	})
}
