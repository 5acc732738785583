package cbtis

import (
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

func TestSandboxOrdersAndRefundNotification(t *testing.T) {
	e := newSandboxEnv(t, time.Hour)
	if _, err := roundTrip(t, e.client, e.srv.URL, "pay", `{"order_id":"P-1","amount":"105.00","currency":"CNY","description":"d","openid":"o1"}`); err != nil {
		t.Fatal(err)
	}
	orders := e.sb.Orders()
	if len(orders) != 1 || orders[0].ID != "P-1" || orders[0].State != transform.StatusPending || orders[0].Amount.String() != "105.00" ||
		orders[0].Amount.Currency != "CNY" || !orders[0].Created.Equal(t0) {
		t.Fatalf("orders %+v", orders)
	}
	if _, _, err := e.sb.CompleteRefund("P-1", t0); err == nil {
		t.Fatal("refunded an unpaid order")
	}
	if _, _, err := e.sb.Complete("P-1", true, t0); err != nil {
		t.Fatal(err)
	}
	w := newWebhook(t, Config{APIKey: vecAPIKey, UID: testUID})
	var ids []string
	for i := 0; i < 2; i++ { // the second is a retry of the first
		out, ack, err := e.sb.CompleteRefund("P-1", t0.Add(time.Duration(i+1)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := w.Verify(transform.Notification{Header: out.Header, Body: out.Body})
		if err != nil {
			t.Fatalf("refund notification does not verify: %v", err)
		}
		if ev.Type != transform.EventRefundSucceeded || ev.OrderID != "P-1" || ev.RefundID != "RP-1" || ev.Amount != "105.00" ||
			ev.Currency != "CNY" || ev.OccurredAt != "2026-11-22T02:01:00.000Z" || ev.OccurredAt != ev.Data["refund_time"] { // refund_time as CBTIS writes it
			t.Fatalf("refund event %+v", ev)
		}
		// CBTIS reads the status only (docs/providers/cbtis.md): any body
		// with a 200 is the ACK, another status is not
		for _, tt := range []struct {
			status int
			body   string
			want   bool
		}{{200, AckBody, true}, {200, "ok", true}, {200, "", true}, {201, AckBody, false}, {204, "", false}, {500, AckBody, false}} {
			if ack(tt.status, []byte(tt.body)) != tt.want {
				t.Fatalf("ack(%d, %q) = %v", tt.status, tt.body, !tt.want)
			}
		}
		ids = append(ids, ev.ID)
	}
	if ids[0] != ids[1] {
		t.Fatalf("a repeated refund notification changed its id: %v", ids)
	}
	if o := e.sb.Orders()[0]; o.State != transform.StatusRefunded {
		t.Fatalf("refunded order is %s", o.State)
	}
	q, err := roundTrip(t, e.client, e.srv.URL, "query", `{"order_id":"P-1"}`)
	if err != nil || !strings.Contains(string(q), `"status":"succeeded"`) { // a refund is no intent status at CBTIS
		t.Fatalf("query after refund: %s %v", q, err)
	}
}
