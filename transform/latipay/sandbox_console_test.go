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
