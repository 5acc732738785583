package wechatv3

import (
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// The known-answer vectors of docs/providers/wechat_v3.md, as literals. The
// test key is wechatpay-go's published test key (testdata/).

func readFixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testKey(t testing.TB) *Signer {
	t.Helper()
	k, err := ParsePrivateKey(readFixture(t, "wechat_v3-test-private-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{MchID: "1234567890", SerialNo: "D7CE59D1F522D701", Key: k}
}

// Vector 1: wechatpay-go sha256withrsa_signer_test.go, message "source".
func TestVectorRSASignature(t *testing.T) {
	const want = "BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLli/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg=="
	got, err := SignMessage(testKey(t).Key, []byte("source"))
	if err != nil || got != want {
		t.Fatalf("signature = %q, %v", got, err)
	}
	pub, err := ParsePublicKey(readFixture(t, "wechat_v3-test-public-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if !VerifyMessage(pub, []byte("source"), want) || VerifyMessage(pub, []byte("sourcE"), want) {
		t.Fatal("VerifyMessage disagrees with the published signature")
	}
}

// TestVerifyMessageLongSignature: Wechatpay-Signature is the sender's text;
// base64 decoding writes all of it, so one decoding past the buffer made
// every notification route and answer check panic (found by
// FuzzWebhookVerify: "http: panic serving" through a real Caddy, no failure
// form). Any length is a refusal, a 4096-bit key's signature length too.
func TestVerifyMessageLongSignature(t *testing.T) {
	pub, err := ParsePublicKey(readFixture(t, "wechat_v3-test-public-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{4, 344, 683, 684, 685, 688, 689, 692, 1000, 2048, 2049, 1 << 16} {
		for _, fill := range []string{"A", "0", "b/+"} {
			sig := strings.Repeat(fill, n/len(fill)+1)[:n]
			if VerifyMessage(pub, []byte("source"), sig) {
				t.Fatalf("a %d-character %q signature verified", n, fill)
			}
		}
	}
}

// Vector 2: wechatpay-go wechat_pay_credential_test.go.
func TestVectorAuthorizationMessage(t *testing.T) {
	got := string(AppendAuthMessage(nil, "GET", "/v3/certificates", "1624523846", "A1B2C3D4E5F6G7", nil))
	if got != "GET\n/v3/certificates\n1624523846\nA1B2C3D4E5F6G7\n\n" {
		t.Fatalf("message = %q", got)
	}
}

// Vector 3: the Authorization of a JSAPI order (docs/providers/wechat_v3.md).
func TestVectorAuthorizationSignature(t *testing.T) {
	const sig = "pZiQhrF522xeAq+RRHDJybp2Pa+UY+kdjK/7ttFy6n20wjQGCBWdMWasBFz0gS+hxH3ljSj6KXmwA2jtjZTsdZoWBf5SDw1OfgmXpI0onXKS08kt7+mnMkJFpuT3QtlDBtfOcW5DQjA2JezMtJLsVDfd1cja8EyDVkRAmVeI2ZK3/+OFZirZ9Qt10l7ojFZyc2nb8yOCi6w1W2UUEZenveeim5v9qFLZbTupUkzR8TwjSJXOKK4EA+OY6HACrFD8QeaKvezTwQbGqTiH3gZvajrbuK4iHIZKThBs413j4xRau+ZocaMYm18dgCX2DitoYqjpsmIiL69zeD8dWz4LuQ=="
	s := testKey(t)
	s.MchID = "1230000109"
	got, err := s.Authorization("POST", "/v3/pay/transactions/jsapi", []byte(readFixture(t, "wechat_v3-auth-body.json")),
		1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242")
	if err != nil {
		t.Fatal(err)
	}
	want := `WECHATPAY2-SHA256-RSA2048 mchid="1230000109",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",timestamp="1554208460",serial_no="D7CE59D1F522D701",signature="` + sig + `"`
	if got != want {
		t.Fatalf("Authorization =\n%s\nwant\n%s", got, want)
	}
	a, ok := ParseAuthorization(got)
	if !ok || a.Signature != sig || a.MchID != "1230000109" || a.Timestamp != "1554208460" {
		t.Fatalf("ParseAuthorization = %+v, %v", a, ok)
	}
}

// Vector 4: paySign of the mini program's wx.requestPayment.
func TestVectorPaySign(t *testing.T) {
	const want = "AbYoQ6i9MZnUERVuk9Z/WnUqdEpgcUFSoNP63CP3vdq3pcCHaEmg5jE4sfVRYAv2m+MQBaLRhBPgmzbA3GQ1r13nLZo36Gx2aaJfKhB+OuWVom/g8+rsV3zpfiqJPVJUZjJtd/RKDoNExad/6dBrL/9QdoqcJlFZxa36GagpmN7tvYQxu5/cJRq2lr/AEtqV8y/FLHO6VAmVOLmaT3Z29rOvSt/0vTZjj2wFI8Q6nXjdg6FWrDEs4w/1fcbLwQA3FO4R/HSUUgQcoLd6seD+Fsb55CCSNk0CFDLMdwSmnKKbbGg8GLOzZ0c8JivLOnBRVIgwH6oJujdgzbYcbW9jTg=="
	got, err := wxpay.PaySignRSA("wxd678efh567hg6787", "1490840662", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", "prepay_id=wx2017033010242291fcfe0db70013231072", testKey(t).Key)
	if err != nil || got != want {
		t.Fatalf("paySign = %q, %v", got, err)
	}
}

// testRing maps the test certificate's serial and a public key id to the
// test public key.
func testRing(t testing.TB, now time.Time) *Keyring {
	t.Helper()
	certs, err := ParseCertificates(readFixture(t, "wechat_v3-test-platform-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(readFixture(t, "wechat_v3-test-public-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &Keyring{publicKeyID: "PUB_KEY_ID_TEST", publicKey: pub,
		static: map[string]*x509.Certificate{serialKey(CertificateSerial(certs[0])): certs[0]}, now: func() time.Time { return now }}
}

// Vector 5: an answer's signature, at its own time.
func TestVectorAnswerSignature(t *testing.T) {
	const sig = "MKsnsdC3plTZu7xrynhiOvBr3fCo3idyGVXjoIvn3R2EhfRylEi8CeV+OGKk+/3uOERkGM8zy5Z6nb/Zxv1nzgzcIyR5zNqi+/6ckyPPuGWFFzNihnH/9E9IY0TeLLsMjuS+CpirWvEuhBDU2np6J9ohoyyj4UHjv4r18sOXXUnYks2A+H1VqL4yiGb+TJeb65U8Tu91XHCDzGadOImUUmeVTEedhnbuha1z6I5iDpHsARqJZiH/iOw2cTkO0ZbXPtWIWcsl5JLVkRcdOjPD8Eu+MRIGleOCyAemAnb1u2b68iY6I/YgLwoZxvtrbKru7Iz74HbLPVXfPoLO4dtVEA=="
	body := []byte(`{"prepay_id":"wx26112221580621e9b071c00d9e093b0000"}`)
	now := time.Unix(1554209980, 0)
	h := http.Header{}
	h.Set(HeaderTimestamp, "1554209980")
	h.Set(HeaderNonce, "c5ac7061fccab6bf3e254dcf98995b8c")
	h.Set(HeaderSignature, sig)
	h.Set(HeaderSerial, "PUB_KEY_ID_TEST")
	if err := Verify(testRing(t, now), h, body, now); err != nil {
		t.Fatal(err)
	}
	// The test certificate holds the same key but was not valid yet in 2019.
	h2 := h.Clone()
	h2.Set(HeaderSerial, "D7CE59D1F522D701")
	if err := Verify(testRing(t, now), h2, body, now); err != ErrUnknownSerial {
		t.Fatalf("a certificate outside its validity: %v", err)
	}
	cases := []struct {
		name   string
		edit   func(http.Header) []byte
		at     time.Time
		expect error
	}{
		{"body changed", func(http.Header) []byte { return []byte(`{"prepay_id":"wx26112221580621e9b071c00d9e093b0001"}`) }, now, transform.ErrBadSignature},
		{"299 s late", func(http.Header) []byte { return body }, now.Add(299 * time.Second), nil},
		{"300 s late", func(http.Header) []byte { return body }, now.Add(300 * time.Second), ErrSkew},
		{"300 s early", func(http.Header) []byte { return body }, now.Add(-300 * time.Second), ErrSkew},
		{"unknown serial", func(h http.Header) []byte { h.Set(HeaderSerial, "ABCDEF"); return body }, now, ErrUnknownSerial},
		{"foreign public key id", func(h http.Header) []byte { h.Set(HeaderSerial, "PUB_KEY_ID_OTHER"); return body }, now, ErrUnknownSerial},
		{"probe", func(h http.Header) []byte { h.Set(HeaderSignature, "WECHATPAY/SIGNTEST/"+sig); return body }, now, ErrProbe},
		{"no nonce", func(h http.Header) []byte { h.Del(HeaderNonce); return body }, now, transform.ErrUnsigned},
		{"no signature", func(h http.Header) []byte { h.Del(HeaderSignature); return body }, now, transform.ErrUnsigned},
		{"no timestamp", func(h http.Header) []byte { h.Del(HeaderTimestamp); return body }, now, transform.ErrUnsigned},
		{"no serial", func(h http.Header) []byte { h.Del(HeaderSerial); return body }, now, transform.ErrUnsigned},
		{"signed timestamp", func(h http.Header) []byte { h.Set(HeaderTimestamp, "+1554209980"); return body }, now, ErrSkew},
		{"signature type RSA", func(h http.Header) []byte { h.Set(HeaderSignatureType, "WECHATPAY2-SHA256-RSA2048"); return body }, now, nil},
		{"signature type SM2", func(h http.Header) []byte { h.Set(HeaderSignatureType, "WECHATPAY2-SM2-WITH-SM3"); return body }, now, ErrSignatureType},
		{"signature type empty", func(h http.Header) []byte { h.Set(HeaderSignatureType, ""); return body }, now, nil},
	}
	for _, c := range cases {
		h2 := h.Clone()
		b := c.edit(h2)
		if err := Verify(testRing(t, c.at), h2, b, c.at); err != c.expect {
			t.Errorf("%s: %v, want %v", c.name, err, c.expect)
		}
	}
}

// Vector 6: wechatpay-go TestHandler_ParseNotifyRequest, with its 16-byte key.
func TestVectorSDKNotification(t *testing.T) {
	body := []byte(readFixture(t, "wechat_v3-notify-payscore.json"))
	h := http.Header{}
	h.Set(HeaderSerial, "D7CE59D1F522D701")
	h.Set(HeaderTimestamp, "1624523846")
	h.Set(HeaderNonce, "EcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBz")
	h.Set(HeaderSignature, "tJHIiIS9eB2hAYstmAmbbD3ZE5LiIm/Ug5tuL4fC0YOFRWIHV39UFIZXC0e9Wl6lBu6sKvkqDkzpqzBsVHyXFlbYZTOQrVdG4b6LfTnK4mikv9++ixJMd3vTf2yCqvBkh98zs3Ds5zsYQakzbcwhmw4fMJs4nPLws28H0UW9FjDR//rxELLwXvV1VEA1IBLX70xptjL8hrfUjEE8kkry6yNJTHZRU8CAc7qHli2Ng1V1qb9ARbK8A3ThmFmPQvRGrapI/jS2laKKgYUmfdEdkNO6B2Cke5e8VTxY406ArAmQ90GAihDwIcb16TQMnzCMBoutnwZKNiKRACrFmtxw2Q==")
	now := time.Unix(1624523846, 0)
	if err := Verify(testRing(t, now), h, body, now); err != nil {
		t.Fatal(err)
	}
	if err := Verify(testRing(t, now.Add(time.Hour)), h, body, now.Add(time.Hour)); err != ErrSkew {
		t.Fatalf("an hour later: %v, want ErrSkew", err)
	}
	r := &Resource{Algorithm: AlgorithmAESGCM, Nonce: "Kj7QIyUiYx1q", AssociatedData: "payscore",
		Ciphertext: "YDS3lKPaC4Y52Gf3uhft5qUBlIa8b428AWTtTauHQfQrRw+X1WpiuHIDy0vo1Vd6VEq67aVyqPdDYMkRVSDaZL3iZttevRMOoPKMifozg6XPWjIZumks/GpT48lI4NizyeaqLBokNebthah3o1H76qSlO9NkDjp9bzmKLEYYH9TEklFUpsvPqOTOcgSLgh21YJXYR7dEBXFgRLiNIKRgO5JdXh1hccRUAlyVWxE54PXpnQ=="}
	plain, err := r.Decrypt([]byte("testMchAPIv3Key0"))
	const want = `{"mchid":"1234567890","appid":"054aa7d7a2a54ab5898df65bd96f001c","create_time":"2020-06-30T12:12:00+08:00","out_contract_code":"21640bdbd08e473e828f3206a2741c6e"}`
	if err != nil || string(plain) != want {
		t.Fatalf("resource = %q, %v", plain, err)
	}
}

// Vector 7: wechatpay-go utils/aes_test.go.
func TestVectorAESGCM(t *testing.T) {
	r := &Resource{Algorithm: AlgorithmAESGCM, Nonce: "wCq51qZv4Yfg", AssociatedData: "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8",
		Ciphertext: "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC"}
	plain, err := r.Decrypt([]byte("testAPIv3Key0000"))
	if err != nil || string(plain) != "Hello World" {
		t.Fatalf("plain = %q, %v", plain, err)
	}
	for _, bad := range []Resource{
		{Algorithm: "AEAD_AES_128_GCM", Nonce: r.Nonce, AssociatedData: r.AssociatedData, Ciphertext: r.Ciphertext},
		{Algorithm: AlgorithmAESGCM, Nonce: r.Nonce, AssociatedData: "x", Ciphertext: r.Ciphertext},
		{Algorithm: AlgorithmAESGCM, Nonce: "wCq51qZv4Yfh", AssociatedData: r.AssociatedData, Ciphertext: r.Ciphertext},
	} {
		if _, err := bad.Decrypt([]byte("testAPIv3Key0000")); err != ErrDecrypt {
			t.Errorf("%+v decrypted: %v", bad, err)
		}
	}
}

const vector8Signature = "MyX3nAFI/IKXsFAZevHLajbACTzZTP1AtwRdwdYY9ZHf1YUS3l4tSSv0pWMfK2mvoFOpcRLzbKlm9LE3RNAHesnw8Q43n7PeTAZKhAH5zqJjrqCyNiSvYt7e1ypgbGFGrY8wIjOpdNMuqqEVxaPFYhvI/DZVNwWzfV8YG2KTFetZO7u1Ez4zilZ7MxVOzb7RlrNh6xp3qBnvP87vu4VUWflqwm1hYP2voyCwOLl+UvLBWCK2OsBMAQOSPJtxJDWemZE1RwPICTrBezk9iFnHScOhYxsHdt0LX2HmXqmCAsJC6vhFVMPKogQDfA5fWMcpPrLP5S/wmGOKleMmzCYL2w=="

func vector8(t testing.TB) transform.Notification {
	h := http.Header{}
	h.Set(HeaderSerial, "D7CE59D1F522D701")
	h.Set(HeaderTimestamp, "1795917606")
	h.Set(HeaderNonce, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS")
	h.Set(HeaderSignature, vector8Signature)
	return transform.Notification{Header: h, Body: []byte(readFixture(t, "wechat_v3-notify-transaction.json"))}
}

func vector8Webhook(t testing.TB, edit func(*Config)) *Webhook {
	t.Helper()
	cfg := Config{AppID: "wxd678efh567hg6787", MchID: "1230000109", APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaAa8tKtW2",
		PlatformCertificate: readFixture(t, "wechat_v3-test-platform-cert.pem")}
	if edit != nil {
		edit(&cfg)
	}
	w, err := NewWebhook(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.Now = func() time.Time { return time.Unix(1795917606, 0) }
	return w
}

// Vector 8: a payment notification with a 32-byte APIv3 key, end to end.
func TestVectorTransactionNotification(t *testing.T) {
	w := vector8Webhook(t, nil)
	n := vector8(t)
	ev, err := w.Verify(n)
	if err != nil {
		t.Fatal(err)
	}
	got := string(transform.Marshal(ev))
	const want = `{"id":"wechat_v3:4200000000202611291234567890:payment.succeeded","provider":"wechat_v3","type":"payment.succeeded",` +
		`"order_id":"1217752501201407033233368018","provider_order_id":"4200000000202611291234567890","amount":"1.00","currency":"CNY",` +
		`"occurred_at":"2026-11-29T10:00:05+08:00","data":{"amount.currency":"CNY","amount.payer_currency":"CNY","amount.payer_total":"100",` +
		`"amount.total":"100","appid":"wxd678efh567hg6787","attach":"","bank_type":"OTHERS","event_type":"TRANSACTION.SUCCESS",` +
		`"mchid":"1230000109","notification_id":"EV-2018022511223320873","out_trade_no":"1217752501201407033233368018",` +
		`"payer.openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","success_time":"2026-11-29T10:00:05+08:00","summary":"支付成功",` +
		`"trade_state":"SUCCESS","trade_state_desc":"支付成功","trade_type":"JSAPI","transaction_id":"4200000000202611291234567890"}}`
	if got != want {
		t.Fatalf("event =\n%s\nwant\n%s", got, want)
	}
	plain, err := (&Resource{Algorithm: AlgorithmAESGCM, Nonce: "fdasflkja484", AssociatedData: "transaction",
		Ciphertext: ciphertextOf(t, n.Body)}).Decrypt([]byte("a7cde1ZJB1kG2e7VfTs3jQzaAa8tKtW2"))
	if err != nil || string(plain) != readFixture(t, "wechat_v3-notify-transaction.plain.json") {
		t.Fatalf("resource = %q, %v", plain, err)
	}
}

func ciphertextOf(t testing.TB, body []byte) string {
	var env struct {
		Resource Resource `json:"resource"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	return env.Resource.Ciphertext
}

// EncryptResource (the sandbox's notifications and certificate downloads)
// writes the published ciphertexts of docs/providers/wechat_v3.md: vector 7
// (wechatpay-go utils/aes_test.go), vector 6's resource (wechatpay-go
// TestHandler_ParseNotifyRequest, 16-byte key) and vector 8's (32-byte key),
// each from its published plaintext, nonce and associated data. Decrypt
// alone is pinned by the vectors above; this pins the other direction.
func TestVectorEncryptResource(t *testing.T) {
	tests := []struct {
		name, key, nonce, associatedData, plain, ciphertext string
	}{
		{"vector 7", "testAPIv3Key0000", "wCq51qZv4Yfg", "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8", "Hello World",
			"FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC"},
		{"vector 6", "testMchAPIv3Key0", "Kj7QIyUiYx1q", "payscore",
			`{"mchid":"1234567890","appid":"054aa7d7a2a54ab5898df65bd96f001c","create_time":"2020-06-30T12:12:00+08:00","out_contract_code":"21640bdbd08e473e828f3206a2741c6e"}`,
			"YDS3lKPaC4Y52Gf3uhft5qUBlIa8b428AWTtTauHQfQrRw+X1WpiuHIDy0vo1Vd6VEq67aVyqPdDYMkRVSDaZL3iZttevRMOoPKMifozg6XPWjIZumks/GpT48lI4NizyeaqLBokNebthah3o1H76qSlO9NkDjp9bzmKLEYYH9TEklFUpsvPqOTOcgSLgh21YJXYR7dEBXFgRLiNIKRgO5JdXh1hccRUAlyVWxE54PXpnQ=="},
		{"vector 8", "a7cde1ZJB1kG2e7VfTs3jQzaAa8tKtW2", "fdasflkja484", "transaction",
			readFixture(t, "wechat_v3-notify-transaction.plain.json"), ciphertextOf(t, []byte(readFixture(t, "wechat_v3-notify-transaction.json")))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := EncryptResource([]byte(tt.key), tt.nonce, tt.associatedData, []byte(tt.plain))
			if err != nil {
				t.Fatal(err)
			}
			if r.Ciphertext != tt.ciphertext || r.Algorithm != AlgorithmAESGCM || r.Nonce != tt.nonce || r.AssociatedData != tt.associatedData {
				t.Fatalf("EncryptResource = %+v, want ciphertext %s", r, tt.ciphertext)
			}
		})
	}
	if _, err := EncryptResource([]byte("testAPIv3Key0000"), "wCq51qZv4Yf", "", []byte("x")); err == nil {
		t.Fatal("an 11-byte nonce was accepted")
	}
}

// Vector 9 (docs/providers/wechat_v3.md): a REFUND.SUCCESS notification
// whose resource has an empty associated_data ("additional data =
// associated_data (may be empty)"), computed outside Go with Python's
// cryptography (AESGCM(key).encrypt(nonce, plain, b""), then PKCS1v15
// SHA-256 with the test key over TIMESTAMP\nNONCE\nBODY\n). Its resource
// also pays the payer less than the refund (payer_refund 80 of refund 100:
// a voucher's share goes back to the voucher), and the event's amount is
// amount.refund (退款金额, as refund_query's), not payer_refund.
const (
	vector9Plain = `{"mchid":"1230000109","out_trade_no":"1217752501201407033233368018","transaction_id":"4200000000202611291234567890",` +
		`"out_refund_no":"1217752501201407033233368018-R1","refund_id":"50300000002026112912345678901","refund_status":"SUCCESS",` +
		`"success_time":"2026-11-29T10:10:05+08:00","user_received_account":"支付用户零钱",` +
		`"amount":{"total":100,"refund":100,"payer_total":100,"payer_refund":80}}`
	vector9Ciphertext = "MgMUgbyNHHkWNoSkNOa+WsLZR9wg1CC727zxwxRyk2LmyRNwpIJRSRxblaAmQ10wcnEMZnEl9cN15ClBKQSsT0XcdnoxyKYNI9IWwMr+i6iztBzuyV8ME+7vCaHIy8WqSUND8rIX0Vqb3rQu1iCM8NVxhNPi68sj6x+RK94FG3KCd+c1oyUCYmlcRK0nNEsms58Eq8HweFaBUF3vpR44PFgnugFQcCovfICUOVyyLl64QMhArQSrtYLaNbuLIxifGxZEJ2ODUxgBHZxD003NcmGHiIby8yw2FiX4gebHA9rRk8Q+4b2MaI3aNmEREQc9MRIuZJfiV2aa1sYdFBtwcY3WOWESq57EyJny7/HI30NLUSecJ6CkTrIjCI95l1/ep5siAKbo02799eaXe21r83jdTPkTGh96cENzm7G7k9nFU6ES7aaGyJKx+WJhmu5psswPb+Ew9ky0d+S1QqwBVkkTJw6mEq57EQHmVBuL54rhp6Q2otJFFBwK/EsaBXLuvaqMic5EXqQmTc06E7DCY5LEDQSHK3b911i55g=="
	vector9Signature  = "OZHsvQk6GSKFbix0lLcHAF24Ajet9bOEwAgkPSSTQf44nj0GGC7WJsTxgv1UequsY2rsvaw/nQQmRfIXeuMj+I8lRdN6u8ldqaNik5n6L8+NqaGewh2yLxqOsSE3nUjl74SDQ4ZzFf/UVKqJo8u939jACXbgjzppzHu2nZxrbvbVPDLVoUnNtcoXHsBqcwcMfygdgVQhXjHCyqVh6AJOFAHAmV7c33hkhKN1VfNhmp+9wdIPk6FgTrHQGUyzFrZw6zkxjAEopk9AAQkvdWD7bcBrXtwLlKn5TGewzigIvaoPcPuYOQYllOdY57TU6WGH68QGDohe5r7bnuEIojhN8w=="
)

func TestVectorRefundNotificationEmptyAssociatedData(t *testing.T) {
	const key = "a7cde1ZJB1kG2e7VfTs3jQzaAa8tKtW2"
	plain, err := (&Resource{Algorithm: AlgorithmAESGCM, Nonce: "fdasflkja484", Ciphertext: vector9Ciphertext}).Decrypt([]byte(key))
	if err != nil || string(plain) != vector9Plain {
		t.Fatalf("resource = %q, %v", plain, err)
	}
	if r, err := EncryptResource([]byte(key), "fdasflkja484", "", []byte(vector9Plain)); err != nil || r.Ciphertext != vector9Ciphertext {
		t.Fatalf("EncryptResource = %+v, %v", r, err)
	}
	// The associated data is authenticated: the same ciphertext under "refund" does not open.
	if _, err := (&Resource{Algorithm: AlgorithmAESGCM, Nonce: "fdasflkja484", AssociatedData: "refund", Ciphertext: vector9Ciphertext}).Decrypt([]byte(key)); err != ErrDecrypt {
		t.Fatalf("decrypted under another associated_data: %v", err)
	}
	body := `{"id":"EV-2026112910100500001","create_time":"2026-11-29T10:10:06+08:00","resource_type":"encrypt-resource",` +
		`"event_type":"REFUND.SUCCESS","summary":"退款成功","resource":{"original_type":"refund","algorithm":"AEAD_AES_256_GCM",` +
		`"ciphertext":"` + vector9Ciphertext + `","associated_data":"","nonce":"fdasflkja484"}}`
	h := http.Header{}
	h.Set(HeaderSerial, "D7CE59D1F522D701")
	h.Set(HeaderTimestamp, "1795918206")
	h.Set(HeaderNonce, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS")
	h.Set(HeaderSignature, vector9Signature)
	w := vector8Webhook(t, nil)
	w.Now = func() time.Time { return time.Unix(1795918206, 0) }
	ev, err := w.Verify(transform.Notification{Header: h, Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"id":"wechat_v3:50300000002026112912345678901:refund.succeeded","provider":"wechat_v3","type":"refund.succeeded",` +
		`"order_id":"1217752501201407033233368018","provider_order_id":"4200000000202611291234567890",` +
		`"refund_id":"1217752501201407033233368018-R1","amount":"1.00","currency":"CNY","occurred_at":"2026-11-29T10:10:05+08:00",` +
		`"data":{"amount.payer_refund":"80","amount.payer_total":"100","amount.refund":"100","amount.total":"100",` +
		`"event_type":"REFUND.SUCCESS","mchid":"1230000109","notification_id":"EV-2026112910100500001",` +
		`"out_refund_no":"1217752501201407033233368018-R1","out_trade_no":"1217752501201407033233368018",` +
		`"refund_id":"50300000002026112912345678901","refund_status":"SUCCESS","success_time":"2026-11-29T10:10:05+08:00",` +
		`"summary":"退款成功","transaction_id":"4200000000202611291234567890","user_received_account":"支付用户零钱"}}`
	if got := string(transform.Marshal(ev)); got != want {
		t.Fatalf("event =\n%s\nwant\n%s", got, want)
	}
}

// A resource nonce is 12 ASCII bytes (docs/providers/wechat_v3.md
// AES-256-GCM): any other length is refused as a resource that does not
// decrypt, never handed to GCM, which panics on a nonce of another size.
func TestDecryptNonceLength(t *testing.T) {
	r := Resource{Algorithm: AlgorithmAESGCM, AssociatedData: "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8", Ciphertext: "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC"}
	for _, nonce := range []string{"", "wCq51qZv4Yf", "wCq51qZv4Yfg0", "wCq51qZv4Yfg0000", strings.Repeat("n", 64)} {
		r.Nonce = nonce
		if _, err := r.Decrypt([]byte("testAPIv3Key0000")); err != ErrDecrypt {
			t.Errorf("a %d-byte nonce: %v, want ErrDecrypt", len(nonce), err)
		}
	}
}
