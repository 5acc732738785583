package cbtis

import (
	"context"
	"testing"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// BenchmarkPayRoundTrip is the transform work of one merchant pay call with
// a cached token: Prepare (decode the merchant's JSON, validate, build the
// create body, add the bearer token), then Decode of a create answer
// prepared outside the loop (parse, map next_action.data, encode the
// wx.requestPayment object). Budget: 50 µs/op, 60 allocs/op.
func BenchmarkPayRoundTrip(b *testing.B) {
	ts := newTokenServer(b)
	c := newTestClient(b, testConfig(ts.URL()), nil)
	if _, err := c.Prepare(context.Background(), "pay", []byte(payJSON)); err != nil { // fills the token cache
		b.Fatal(err)
	}
	transformtest.PayRoundTrip(b, c, []byte(payJSON), nil, []byte(createAnswer))
	b.StopTimer()
	if ts.Fetches() != 1 {
		b.Fatalf("%d token fetches, want 1", ts.Fetches())
	}
}
