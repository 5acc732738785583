package latipay

import (
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

func TestSandboxOrders(t *testing.T) {
	c, s := newClient(t, testConfig()), newSandbox(t)
	mustExchange(t, c, s, "pay", `{"order_id":"LP-3","amount":"2.50","currency":"NZD","description":"x","openid":"o"}`)
	state := func() transform.SandboxOrder {
		t.Helper()
		orders := s.Orders()
		if len(orders) != 1 || orders[0].ID != "LP-3" || orders[0].Amount.String() != "2.50" || orders[0].Amount.Currency != "NZD" {
			t.Fatalf("orders %+v", orders)
		}
		return orders[0]
	}
	if o := state(); o.State != transform.StatusPending || o.Created.IsZero() {
		t.Fatalf("new order %+v", o)
	}
	for _, step := range []struct {
		succeeded bool
		want      string
	}{{false, transform.StatusFailed}, {true, transform.StatusSucceeded}} {
		if _, _, err := s.Complete("LP-3", step.succeeded, transformtest.Pinned); err != nil {
			t.Fatal(err)
		}
		if got := state().State; got != step.want {
			t.Fatalf("state %s, want %s", got, step.want)
		}
	}
	q := mustExchange(t, c, s, "query", `{"order_id":"LP-3"}`)
	mustExchange(t, c, s, "refund", `{"order_id":"LP-3","refund_id":"R1","amount":"2.50","currency":"NZD","provider_order_id":"`+q["provider_order_id"].(string)+`"}`)
	if got := state().State; got != transform.StatusRefunded {
		t.Fatalf("refunded in full: %s", got)
	}
}

// README Sandbox: succeeded notifies a paid order again only when it was
// not refunded since; one refunded in full (shown refunded in the console)
// is a 400 (the order is refunded), as on wechat_v2, wechat_v3 and CBTIS,
// though Latipay's status stays paid. A partial refund leaves it succeeded
// in the console, whose Notify again still works.
func TestSandboxRefundedOrderIsNotNotifiedPaid(t *testing.T) {
	c, s := newClient(t, testConfig()), newSandbox(t)
	mustExchange(t, c, s, "pay", `{"order_id":"LP-4","amount":"2.50","currency":"NZD","description":"x","openid":"o"}`)
	if _, _, err := s.Complete("LP-4", true, transformtest.Pinned); err != nil {
		t.Fatal(err)
	}
	q := mustExchange(t, c, s, "query", `{"order_id":"LP-4"}`)
	refund := func(id, amount string) {
		mustExchange(t, c, s, "refund", `{"order_id":"LP-4","refund_id":"`+id+`","amount":"`+amount+`","currency":"NZD","provider_order_id":"`+q["provider_order_id"].(string)+`"}`)
	}
	refund("R1", "1.00")
	if _, _, err := s.Complete("LP-4", true, transformtest.Pinned); err != nil {
		t.Fatalf("a paid order refunded in part, notified again: %v", err)
	}
	refund("R2", "1.50")
	for _, succeeded := range []bool{true, false} {
		if _, _, err := s.Complete("LP-4", succeeded, transformtest.Pinned); err == nil || err.Error() != "the order is refunded" {
			t.Errorf("refunded in full, then succeeded=%v: %v, want the order is refunded", succeeded, err)
		}
	}
}
