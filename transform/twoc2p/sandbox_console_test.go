package twoc2p

import (
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

func TestSandboxOrders(t *testing.T) {
	s, c := newSandbox(t, testConfig()), newClient(t, testConfig())
	post(t, s, payCall(t, c, sandboxPay), false)
	post(t, s, payCall(t, c, strings.Replace(sandboxPay, "SB-1", "SB-2", 1)), false)
	if _, _, err := s.Complete("SB-2", false, transformtest.Pinned); err != nil {
		t.Fatal(err)
	}
	got := map[string]transform.SandboxOrder{}
	for _, o := range s.Orders() {
		got[o.ID] = o
	}
	if o := got["SB-1"]; len(got) != 2 || o.State != transform.StatusPending || o.Amount.String() != "12.34" || o.Amount.Currency != "SGD" || !o.Created.Equal(transformtest.Pinned) {
		t.Fatalf("orders %+v", got)
	}
	if got["SB-2"].State != transform.StatusFailed {
		t.Fatalf("failed order %+v", got["SB-2"])
	}
}
