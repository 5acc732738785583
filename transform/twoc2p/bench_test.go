package twoc2p

import (
	"net/http"
	"testing"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// BenchmarkPayRoundTrip is the transform work of one merchant pay call:
// Prepare (decode the merchant's JSON, validate, build the PaymentRequest
// payload, base64, sign, build the envelope, base64, form-encode), then
// Decode of a signed respCode 32 answer prepared outside the loop (base64,
// parse the envelope, verify, base64, parse the payload, read the
// wx.requestPayment JSON, encode the answer).
func BenchmarkPayRoundTrip(b *testing.B) {
	body := []byte(`{"order_id":"ORDER-1","amount":"12.34","currency":"SGD","description":"Kaya toast","openid":"` + testOpenID + `"}`)
	answer := []byte(refSeal(RootResponse, answerXML(), demoSecretKey))
	header := http.Header{"Content-Type": {"text/html; charset=utf-8"}}
	transformtest.PayRoundTrip(b, newClient(b, testConfig()), body, header, answer)
}
