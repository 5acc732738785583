package transform

import "testing"

// README Webhooks: refund_id is present on refund events, "" when the signed
// notification names no merchant refund id (as order_id is on every event),
// and left out of every other event; the members keep their order.
func TestEventJSONRefundID(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{"refund.succeeded naming no refund", Event{ID: "cbtis:R7:refund.succeeded", Provider: "cbtis", Type: EventRefundSucceeded, Data: map[string]string{}},
			`{"id":"cbtis:R7:refund.succeeded","provider":"cbtis","type":"refund.succeeded","order_id":"","refund_id":"","data":{}}`},
		{"refund.failed naming no refund", Event{ID: "x:R:refund.failed", Provider: "x", Type: EventRefundFailed, OrderID: "O1", Amount: "1.00", Currency: "CNY", Data: map[string]string{}},
			`{"id":"x:R:refund.failed","provider":"x","type":"refund.failed","order_id":"O1","refund_id":"","amount":"1.00","currency":"CNY","data":{}}`},
		{"refund event with its refund", Event{ID: "x:R:refund.succeeded", Provider: "x", Type: EventRefundSucceeded, OrderID: "O1", ProviderOrderID: "P1", RefundID: "R1",
			Amount: "1.00", Currency: "CNY", OccurredAt: "2026-11-22T10:00:00+08:00", Data: map[string]string{"a": "<&>"}},
			`{"id":"x:R:refund.succeeded","provider":"x","type":"refund.succeeded","order_id":"O1","provider_order_id":"P1","refund_id":"R1",` +
				`"amount":"1.00","currency":"CNY","occurred_at":"2026-11-22T10:00:00+08:00","data":{"a":"<&>"}}`},
		{"payment event", Event{ID: "x:P:payment.succeeded", Provider: "x", Type: EventPaymentSucceeded, OrderID: "O1", Data: map[string]string{}},
			`{"id":"x:P:payment.succeeded","provider":"x","type":"payment.succeeded","order_id":"O1","data":{}}`},
		{"unknown event", Event{ID: "x:N:unknown", Provider: "x", Type: EventUnknown, Data: map[string]string{"out_refund_no": "R1"}},
			`{"id":"x:N:unknown","provider":"x","type":"unknown","order_id":"","data":{"out_refund_no":"R1"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Marshal(&tt.ev)); got != tt.want {
				t.Errorf("Marshal(&ev)\n got %s\nwant %s", got, tt.want)
			}
			if got := string(Marshal(tt.ev)); got != tt.want {
				t.Errorf("Marshal(ev)\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}
