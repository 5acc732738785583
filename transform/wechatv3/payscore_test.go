package wechatv3

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// The payscore notification of vector 6 (wechatpay-go
// TestHandler_ParseNotifyRequest) reaching a webhook route: a verified
// event_type the plugin does not map is forwarded as "unknown", with the
// resource and the envelope's id, event_type and summary (README Webhooks).
func TestPayscoreNotification(t *testing.T) {
	const (
		notificationID = "3119dfba-e649-5eec-ab1e-3412bc4d2e17"
		apiV3Key       = "a7cde1ZJB1kG2e7VfTs3jQzaAa8tKtW2"
		// The fixture's resource, decrypted with the SDK test's 16-byte key.
		resource = `{"mchid":"1234567890","appid":"054aa7d7a2a54ab5898df65bd96f001c","create_time":"2020-06-30T12:12:00+08:00","out_contract_code":"21640bdbd08e473e828f3206a2741c6e"}`
	)
	at := time.Unix(1624523846, 0)
	cfg := Config{AppID: "054aa7d7a2a54ab5898df65bd96f001c", MchID: "1234567890", APIv3Key: apiV3Key,
		PlatformCertificate: readFixture(t, "wechat_v3-test-platform-cert.pem")}
	w, err := NewWebhook(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.Now = func() time.Time { return at }
	published := readFixture(t, "wechat_v3-notify-payscore.json")

	// As published: the signature verifies, but its resource was sealed
	// with a 16-byte key (AES-128), which a 32-byte APIv3 key cannot open.
	h := http.Header{}
	h.Set(HeaderSerial, "D7CE59D1F522D701")
	h.Set(HeaderTimestamp, "1624523846")
	h.Set(HeaderNonce, "EcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBz")
	h.Set(HeaderSignature, "tJHIiIS9eB2hAYstmAmbbD3ZE5LiIm/Ug5tuL4fC0YOFRWIHV39UFIZXC0e9Wl6lBu6sKvkqDkzpqzBsVHyXFlbYZTOQrVdG4b6LfTnK4mikv9++ixJMd3vTf2yCqvBkh98zs3Ds5zsYQakzbcwhmw4fMJs4nPLws28H0UW9FjDR//rxELLwXvV1VEA1IBLX70xptjL8hrfUjEE8kkry6yNJTHZRU8CAc7qHli2Ng1V1qb9ARbK8A3ThmFmPQvRGrapI/jS2laKKgYUmfdEdkNO6B2Cke5e8VTxY406ArAmQ90GAihDwIcb16TQMnzCMBoutnwZKNiKRACrFmtxw2Q==")
	if _, err := w.Verify(transform.Notification{Header: h, Body: []byte(published)}); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("the published notification with a 32-byte key: %v, want ErrDecrypt", err)
	}

	// The same notification with its resource sealed under a 32-byte key
	// (AES-256-GCM, same nonce and associated data), signed again with the
	// vector's key: crypto/cipher and crypto/rsa here, not the package's.
	block, err := aes.NewCipher([]byte(apiV3Key))
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	sealed := base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte("Kj7QIyUiYx1q"), []byte(resource), []byte("payscore")))
	body := published[:strings.Index(published, `"ciphertext":"`)+len(`"ciphertext":"`)] + sealed + published[strings.Index(published, `","associated_data"`):]
	key, err := ParsePrivateKey(readFixture(t, "wechat_v3-test-private-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("1624523846\nEcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBz\n" + body + "\n"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	h.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
	ev, err := w.Verify(transform.Notification{Header: h, Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"id":"wechat_v3:` + notificationID + `:unknown","provider":"wechat_v3","type":"unknown","order_id":"",` +
		`"data":{"appid":"054aa7d7a2a54ab5898df65bd96f001c","create_time":"2020-06-30T12:12:00+08:00","event_type":"PAYSCORE.USER_OPEN_SERVICE",` +
		`"mchid":"1234567890","notification_id":"` + notificationID + `","out_contract_code":"21640bdbd08e473e828f3206a2741c6e","summary":"签约成功"}}`
	if got := string(transform.Marshal(ev)); got != want {
		t.Fatalf("event =\n%s\nwant\n%s", got, want)
	}
	// Another merchant's route refuses it, as any notification.
	other := cfg
	other.MchID = "1230000109"
	w2, err := NewWebhook(other)
	if err != nil {
		t.Fatal(err)
	}
	w2.Now = w.Now
	if _, err := w2.Verify(transform.Notification{Header: h, Body: []byte(body)}); !errors.Is(err, transform.ErrForeign) {
		t.Fatalf("another merchant's route: %v, want ErrForeign", err)
	}
}
