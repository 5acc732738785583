package transform

import (
	"strconv"
	"testing"
)

func TestOrderRing(t *testing.T) {
	r := OrderRing{Max: 3}
	var evicted []string
	for i := 1; i <= 7; i++ {
		if old, ok := r.Add("O" + strconv.Itoa(i)); ok {
			evicted = append(evicted, old)
		}
	}
	if got := len(evicted); got != 4 || evicted[0] != "O1" || evicted[3] != "O4" {
		t.Fatalf("evicted %v, want O1..O4 oldest first", evicted)
	}
	if len(r.keys) != 3 {
		t.Fatalf("the ring holds %d keys", len(r.keys))
	}
	var d OrderRing
	for i := 0; i < MaxSandboxOrders; i++ {
		if _, ok := d.Add(strconv.Itoa(i)); ok {
			t.Fatalf("evicted before %d orders", MaxSandboxOrders)
		}
	}
	if old, ok := d.Add("new"); !ok || old != "0" {
		t.Fatalf("the default bound did not evict the oldest: %q %v", old, ok)
	}
}
