package wechatv2

import (
	"context"
	"testing"
)

// BenchmarkPayRoundTrip is the transform work of one merchant pay call:
// Prepare (decode the merchant's JSON, validate, build and sign the
// unifiedorder XML), then Decode of a signed unifiedorder SUCCESS answer
// prepared outside the loop (parse, verify, build and sign the
// wx.requestPayment object, encode it). Budget: 14 µs/op, 100 allocs/op.
func BenchmarkPayRoundTrip(b *testing.B) {
	for _, tt := range []struct {
		signType string
		answer   []byte
	}{
		{SignMD5, payAnswer(payAnswerMD5Sign)},
		{SignHMACSHA256, payAnswer(payAnswerHMACSign)},
	} {
		b.Run(tt.signType, func(b *testing.B) {
			c := newClient(b, testConfig(tt.signType))
			body := []byte(payJSON)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				call, err := c.Prepare(ctx, "pay", body)
				if err != nil {
					b.Fatal(err)
				}
				out, err := call.Decode(200, nil, tt.answer)
				if err != nil || len(out) == 0 {
					b.Fatal(err)
				}
			}
		})
	}
}
