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
