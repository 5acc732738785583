package transform

import (
	"strings"
	"testing"
)

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

// marshalEventByEncoder is Event's JSON as encoding/json wrote it until
// AppendJSON replaced it: the reference FuzzEventAppendJSON holds it to.
func marshalEventByEncoder(t *testing.T, e Event) string {
	out := struct {
		ID              string            `json:"id"`
		Provider        string            `json:"provider"`
		Type            string            `json:"type"`
		OrderID         string            `json:"order_id"`
		ProviderOrderID string            `json:"provider_order_id,omitempty"`
		RefundID        *string           `json:"refund_id,omitempty"`
		Amount          string            `json:"amount,omitempty"`
		Currency        string            `json:"currency,omitempty"`
		OccurredAt      string            `json:"occurred_at,omitempty"`
		Data            map[string]string `json:"data"`
	}{ID: e.ID, Provider: e.Provider, Type: e.Type, OrderID: e.OrderID, ProviderOrderID: e.ProviderOrderID,
		Amount: e.Amount, Currency: e.Currency, OccurredAt: e.OccurredAt, Data: e.Data}
	if e.RefundID != "" || e.Type == EventRefundSucceeded || e.Type == EventRefundFailed {
		out.RefundID = &e.RefundID
	}
	return stdJSON(t, out)
}

// FuzzEventAppendJSON: the hand-written event is byte-equal to
// encoding/json's (HTML escaping off), data's members sorted as a map's,
// refund_id on refund events only, a nil data written null.
func FuzzEventAppendJSON(f *testing.F) {
	f.Add("wechat_v3:4200001:payment.succeeded", EventPaymentSucceeded, "O1", "4200001", "", "12.34", "CNY", "2026-12-06T10:00:00+08:00",
		"amount.total\t1234|trade_state\tSUCCESS|payer.openid\toUpF8u", false)
	f.Add("cbtis:R7:refund.succeeded", EventRefundSucceeded, "", "", "", "", "", "", "", false)
	f.Add("x:R:refund.failed", EventRefundFailed, "O1", "", "R1", "1", "JPY", "", "", true)
	f.Add("\x00\"\\\u2028<>&", "\xff\xfe", "\t\n\r", "\u2029", "\x7f", "\u4e2d", "<", ">", "\xff\t\x00|&\t<|a\t1|b\t2|B\t3|é\t4", false)
	f.Fuzz(func(t *testing.T, id, typ, orderID, providerOrderID, refundID, amount, currency, occurredAt, data string, nilData bool) {
		e := Event{ID: id, Provider: "x", Type: typ, OrderID: orderID, ProviderOrderID: providerOrderID, RefundID: refundID,
			Amount: amount, Currency: currency, OccurredAt: occurredAt}
		if !nilData {
			e.Data = map[string]string{}
			for _, kv := range strings.Split(data, "|") {
				name, value, _ := strings.Cut(kv, "\t")
				e.Data[name] = value
			}
		}
		got := string(e.AppendJSON(nil))
		if want := marshalEventByEncoder(t, e); got != want {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
		if m := string(Marshal(&e)); m != got {
			t.Fatalf("Marshal %s, AppendJSON %s", m, got)
		}
		if m, err := e.MarshalJSON(); err != nil || string(m) != got {
			t.Fatalf("MarshalJSON %s %v, AppendJSON %s", m, err, got)
		}
	})
}
