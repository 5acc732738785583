package latipay

import (
	"context"
	"testing"
)

// BenchmarkPayRoundTrip is the transform work of one merchant pay call:
// Prepare (decode the merchant's JSON, validate, build and sign the
// miniapppay JSON), then Decode of the documented miniapppay answer
// (parse it, map packageStr to package, encode the wx.requestPayment
// object).
func BenchmarkPayRoundTrip(b *testing.B) {
	c := newClient(b, testConfig())
	body, answer := []byte(payJSON), []byte(docPayAnswer)
	ctx := context.Background()
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
}
