package wechatv3

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// refVerify is an independent check of WeChat's rule (crypto/rsa directly
// over the concatenated lines), to judge what Verify accepted.
func refVerify(pub *rsa.PublicKey, ts, nonce string, body []byte, sig string) bool {
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	sum := sha256.Sum256([]byte(ts + "\n" + nonce + "\n" + string(body) + "\n"))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], raw) == nil
}

// FuzzWebhookVerify: Verify never panics, and whatever it accepts carries a
// signature the test public key made over exactly these bytes, within the
// window, and a resource for the configured mchid/appid.
func FuzzWebhookVerify(f *testing.F) {
	n := vector8(f)
	f.Add(n.Header.Get(HeaderSerial), n.Header.Get(HeaderTimestamp), n.Header.Get(HeaderNonce), n.Header.Get(HeaderSignature), n.Body)
	f.Add("D7CE59D1F522D701", "1795917606", "x", "WECHATPAY/SIGNTEST/"+vector8Signature, n.Body)
	f.Add("PUB_KEY_ID_X", "01795917606", "", "", []byte(`{"id":"1","resource":{}}`))
	w := vector8Webhook(f, nil)
	pub := must(ParsePublicKey(readFixture(f, "wechat_v3-test-public-key.pem")))
	f.Fuzz(func(t *testing.T, serial, ts, nonce, sig string, body []byte) {
		h := http.Header{HeaderSerial: {serial}, HeaderTimestamp: {ts}, HeaderNonce: {nonce}, HeaderSignature: {sig}}
		ev, err := w.Verify(transform.Notification{Header: h, Body: body})
		if err != nil {
			if ev != nil {
				t.Fatal("an event with an error")
			}
			return
		}
		// A certificate serial is hex: the keyring matches it whatever its
		// case (the header only selects the key; the signature decides).
		if !strings.EqualFold(serial, "D7CE59D1F522D701") || !refVerify(pub, ts, nonce, body, sig) {
			t.Fatalf("accepted a notification the key did not sign: %q %q %q %q %q", serial, ts, nonce, sig, body)
		}
		if ev.Data["mchid"] != "1230000109" || ev.Data["appid"] != "" && ev.Data["appid"] != "wxd678efh567hg6787" {
			t.Fatalf("accepted a foreign resource %v", ev.Data)
		}
	})
}

// FuzzAnswerVerify: Decode never panics, every failure is a documented
// *transform.Error, and an answer is only ever read once the example
// platform key signed exactly its bytes.
func FuzzAnswerVerify(f *testing.F) {
	body := `{"appid":"wx8888888888888888","mchid":"1900000109","out_trade_no":"ORDER1","transaction_id":"4","trade_state":"SUCCESS","amount":{"total":1}}`
	h := platformAnswer(f, examplePublicKeyID, transformtest.Pinned, body)
	f.Add(200, h.Get(HeaderSerial), h.Get(HeaderTimestamp), h.Get(HeaderNonce), h.Get(HeaderSignature), []byte(body))
	e := platformAnswer(f, examplePublicKeyID, transformtest.Pinned, `{"code":"ORDERPAID","message":"x"}`)
	f.Add(403, e.Get(HeaderSerial), e.Get(HeaderTimestamp), e.Get(HeaderNonce), e.Get(HeaderSignature), []byte(`{"code":"ORDERPAID","message":"x"}`))
	f.Add(204, examplePublicKeyID, "1795917600", "n", "", []byte{})
	c := must(NewClient(merchantConfig(f)))
	c.Now = transformtest.Clock
	pub := must(ParsePublicKey(exampleKey(f, "wechatpay_pub_key.pem")))
	call := must(c.Prepare(f.Context(), "query", []byte(`{"order_id":"ORDER1"}`)))
	f.Fuzz(func(t *testing.T, status int, serial, ts, nonce, sig string, answer []byte) {
		h := http.Header{HeaderSerial: {serial}, HeaderTimestamp: {ts}, HeaderNonce: {nonce}, HeaderSignature: {sig}}
		out, err := call.Decode(status, h, answer)
		var te *transform.Error
		if err != nil && !errors.As(err, &te) {
			t.Fatalf("an undocumented error %T %v", err, err)
		}
		if te != nil && te.Code == transform.CodeSignatureInvalid {
			return
		}
		if !strings.EqualFold(serial, examplePublicKeyID) || !refVerify(pub, ts, nonce, answer, sig) { // case: as above
			t.Fatalf("read an answer the key did not sign (%v, %s)", err, out)
		}
	})
}

// FuzzParseAuthorization: the sandbox's reading of Authorization never
// panics, and what it accepts it can print back.
func FuzzParseAuthorization(f *testing.F) {
	f.Add(`WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",timestamp="1",serial_no="s",signature="x"`)
	f.Add(`WECHATPAY2-SHA256-RSA2048 mchid="1",mchid="2"`)
	f.Fuzz(func(t *testing.T, h string) {
		a, ok := ParseAuthorization(h)
		if !ok {
			return
		}
		if a.MchID == "" || a.NonceStr == "" || a.Timestamp == "" || a.SerialNo == "" || a.Signature == "" {
			t.Fatalf("accepted %q with an empty parameter", h)
		}
	})
}
