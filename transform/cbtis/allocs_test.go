package cbtis

import (
	"testing"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// TestEventAllocations: reading a notification's object allocates its
// copy and nothing per member (encoding/json's Decoder made a value, a
// token and an error for each: 42 allocations for this notification); the
// rest is notify_type's text, data's flattening (its copy, the map, the
// names of its eight members) and the event, its id and amount: 15.
func TestEventAllocations(t *testing.T) {
	var err error
	allocs := transformtest.FewestAllocs(20, func() { _, err = Event([]byte(paymentBody)) })
	if err != nil {
		t.Fatal(err)
	}
	if allocs > 16 {
		t.Errorf("%v allocations to read a payment notification", allocs)
	}
}
