package wechatv2

import (
	"testing"

	"github.com/minipay/caddy-minipay/transform/transformtest"
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
			transformtest.PayRoundTrip(b, newClient(b, testConfig(tt.signType)), []byte(payJSON), nil, tt.answer)
		})
	}
}
