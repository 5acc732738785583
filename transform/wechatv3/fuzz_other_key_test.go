package wechatv3

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// FuzzOtherKeySignature: the same bytes (any body, timestamp and nonce,
// under any Wechatpay-Serial) signed once by the platform key and once by
// another RSA key the configuration holds (the merchant's own apiclient
// key): the second never verifies, as a notification (Verify) or as an
// answer (the client's VerifyAnswer: 502 upstream_signature_invalid); the
// first verifies exactly when the serial is the configured public_key_id
// (an id, matched as written, not a certificate's hex serial) and the timestamp (leading zeros allowed, at most 12
// digits) is less than 300 s from now (README wechat_v3).
func FuzzOtherKeySignature(f *testing.F) {
	f.Add([]byte(`{"id":"EV-1","event_type":"TRANSACTION.SUCCESS","resource":{}}`), uint8(0), "", int16(0), uint8(0), "n0nce")
	f.Add([]byte(`{"prepay_id":"wx1"}`), uint8(1), "", int16(299), uint8(1), "n")
	f.Add([]byte{}, uint8(2), "", int16(-300), uint8(0), "n")
	f.Add([]byte(`x`), uint8(4), "pub_key_id_0119000001092026112900000000000001", int16(-299), uint8(2), "n")
	f.Add([]byte(`x`), uint8(3), "", int16(300), uint8(0), "n")
	platform := must(ParsePrivateKey(exampleKey(f, "wechatpay_platform_key.pem")))
	merchant := must(ParsePrivateKey(exampleKey(f, "apiclient_key.pem")))
	w := must(NewWebhook(merchantConfig(f)))
	w.Now = transformtest.Clock
	c := must(NewClient(merchantConfig(f)))
	c.Now = transformtest.Clock
	f.Fuzz(func(t *testing.T, body []byte, pick uint8, serial string, offset int16, zeros uint8, nonce string) {
		serials := []string{examplePublicKeyID, strings.ToLower(examplePublicKeyID), exampleSerial, examplePlatformSN, serial}
		serial = serials[int(pick)%len(serials)]
		ts := strings.Repeat("0", int(zeros%4)) + strconv.FormatInt(transformtest.Pinned.Unix()+int64(offset), 10)
		if strings.ContainsAny(serial+nonce, "\r\n") || strings.TrimSpace(serial) != serial || strings.TrimSpace(nonce) != nonce {
			return // no header value net/http delivers
		}
		msg := AppendAnswerMessage(nil, ts, nonce, body)
		signedBy := func(sig string) http.Header {
			return http.Header{HeaderSerial: {serial}, HeaderTimestamp: {ts}, HeaderNonce: {nonce}, HeaderSignature: {sig}}
		}
		other := signedBy(must(SignMessage(merchant, msg)))
		if err := Verify(w.keys.ring, other, body, transformtest.Pinned); err == nil {
			t.Fatalf("signed by the merchant's key under %q: verified", serial)
		}
		if ev, err := w.Verify(transform.Notification{Header: other, Body: body}); err == nil || ev != nil {
			t.Fatalf("signed by the merchant's key under %q: notification %+v", serial, ev)
		}
		var e *transform.Error
		if err := c.VerifyAnswer(other, body); !errors.As(err, &e) || e.Code != transform.CodeSignatureInvalid {
			t.Fatalf("signed by the merchant's key under %q: answer %v", serial, err)
		}
		right := signedBy(must(SignMessage(platform, msg)))
		within := offset > -300 && offset < 300 && len(ts) <= 12
		want := serial == examplePublicKeyID && within && nonce != "" && len(nonce) <= 64
		if err := Verify(w.keys.ring, right, body, transformtest.Pinned); (err == nil) != want {
			t.Fatalf("signed by the platform key under %q at %s (nonce %q): %v, want verified %v", serial, ts, nonce, err, want)
		}
		if err := c.VerifyAnswer(right, body); (err == nil) != want {
			t.Fatalf("answer signed by the platform key under %q at %s: %v, want verified %v", serial, ts, err, want)
		}
	})
}
