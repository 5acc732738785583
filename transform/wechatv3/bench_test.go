package wechatv3

import (
	"testing"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

const benchPayJSON = `{"order_id":"ORDER-20261129-0001","amount":"12.34","currency":"CNY","description":"Latte 大杯","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","client_ip":"203.0.113.7"}`

// BenchmarkPayRoundTrip is the transform work of one merchant pay call:
// Prepare (decode and validate the merchant's JSON, build the JSAPI body,
// sign the Authorization: one RSA signature), then Decode of a signed
// prepay answer prepared outside the loop (verify the Wechatpay-Signature:
// one RSA verification; sign paySign: the second RSA signature; encode the
// wx.requestPayment object).
func BenchmarkPayRoundTrip(b *testing.B) {
	c := must(NewClient(merchantConfig(b)))
	c.Now = transformtest.Clock
	answer := `{"prepay_id":"wx26112221580621e9b071c00d9e093b0000"}`
	transformtest.PayRoundTrip(b, c, []byte(benchPayJSON), platformAnswer(b, examplePublicKeyID, transformtest.Pinned, answer), []byte(answer))
}
