package transform

import (
	"slices"
	"sort"
	"testing"
	"time"
)

func TestSandboxOrders(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	view := func(id string, minor int64) SandboxOrder {
		m, _ := MoneyFromMinor(minor, "CNY")
		return SandboxOrder{ID: id, Amount: m, State: StatusPending, Created: at}
	}
	tests := []struct {
		name   string
		orders map[string]int64
		want   []string // "id amount", sorted
	}{
		{"none", map[string]int64{}, []string{}},
		{"nil map", nil, []string{}},
		{"each order once, as the view shows it", map[string]int64{"A-1": 1234, "B-2": 5}, []string{"A-1 12.34", "B-2 0.05"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SandboxOrders(tt.orders, view)
			if got == nil {
				t.Fatal("nil list: the console wants an empty one")
			}
			seen := []string{}
			for _, o := range got {
				if o.State != StatusPending || !o.Created.Equal(at) {
					t.Fatalf("order %+v is not the view's", o)
				}
				seen = append(seen, o.ID+" "+o.Amount.String())
			}
			sort.Strings(seen)
			if !slices.Equal(seen, tt.want) {
				t.Fatalf("orders %v, want %v", seen, tt.want)
			}
		})
	}
}

func TestSandboxOrderIn(t *testing.T) {
	type order struct{ state string }
	orders := map[string]*order{"PAID": {"SUCCESS"}, "OPEN": {"NOTPAY"}}
	state := func(o *order) string { return o.state }
	tests := []struct {
		name, id string
		states   []string
		want     string // the error, "" for the order
	}{
		{"in one of the states", "PAID", []string{"SUCCESS", "REFUND"}, ""},
		{"in another state", "OPEN", []string{"SUCCESS", "REFUND"}, "the order is NOTPAY"},
		{"no state allowed", "PAID", nil, "the order is SUCCESS"},
		{"unknown", "NEVER", []string{"SUCCESS"}, "no such order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := SandboxOrderIn(orders, tt.id, state, tt.states...)
			switch {
			case tt.want == "" && (err != nil || o != orders[tt.id]):
				t.Fatalf("got %v, %v; want the order", o, err)
			case tt.want != "" && (o != nil || err == nil || err.Error() != tt.want):
				t.Fatalf("got %v, %v; want %q", o, err, tt.want)
			}
		})
	}
}

// A success may be notified again (the provider's retry); a failure may not
// follow a success.
func TestSandboxSettleable(t *testing.T) {
	type order struct{ state string }
	orders := map[string]*order{"PAID": {"SUCCESS"}, "OPEN": {"NOTPAY"}}
	state := func(o *order) string { return o.state }
	open := make([]string, 2, 3) // room to append: the caller's slice must stay as it is
	copy(open, []string{"NOTPAY", "PAYERROR"})
	for _, tt := range []struct {
		id        string
		succeeded bool
		ok        bool
	}{
		{"OPEN", true, true}, {"OPEN", false, true}, {"PAID", true, true}, {"PAID", false, false},
	} {
		o, err := SandboxSettleable(orders, tt.id, state, tt.succeeded, "SUCCESS", open...)
		if (err == nil) != tt.ok || (err == nil) != (o != nil) {
			t.Fatalf("%s, succeeded %v: %v, %v; want ok %v", tt.id, tt.succeeded, o, err, tt.ok)
		}
		if open[:3][2] != "" {
			t.Fatal("SandboxSettleable appended to the caller's slice")
		}
	}
}
