package latipay

import (
	"testing"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// BenchmarkPayRoundTrip is the transform work of one merchant pay call:
// Prepare (decode the merchant's JSON, validate, build and sign the
// miniapppay JSON), then Decode of the documented miniapppay answer
// (parse it, map packageStr to package, encode the wx.requestPayment
// object).
func BenchmarkPayRoundTrip(b *testing.B) {
	transformtest.PayRoundTrip(b, newClient(b, testConfig()), []byte(payJSON), nil, []byte(docPayAnswer))
}
