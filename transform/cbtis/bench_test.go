package cbtis

import (
	"context"
	"testing"
)

// BenchmarkPayRoundTrip is the transform work of one merchant pay call with
// a cached token: Prepare (decode the merchant's JSON, validate, build the
// create body, add the bearer token), then Decode of a create answer
// prepared outside the loop (parse, map next_action.data, encode the
// wx.requestPayment object). Budget: 50 µs/op, 60 allocs/op.
func BenchmarkPayRoundTrip(b *testing.B) {
	ts := newTokenServer(b)
	c := newTestClient(b, testConfig(ts.URL()), nil)
	body, answer := []byte(payJSON), []byte(createAnswer)
	ctx := context.Background()
	if _, err := c.Prepare(ctx, "pay", body); err != nil { // fills the token cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		call, err := c.Prepare(ctx, "pay", body)
		if err != nil {
			b.Fatal(err)
		}
		out, err := call.Decode(200, nil, answer)
		if err != nil || len(out) == 0 {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if ts.Fetches() != 1 {
		b.Fatalf("%d token fetches, want 1", ts.Fetches())
	}
}
