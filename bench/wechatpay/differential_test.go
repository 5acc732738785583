package wechatpay

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/validators"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv3"
)

// signedMessage is what WeChat signs: a body and its four Wechatpay-*
// headers, built here with crypto/rsa and AES-GCM from
// docs/providers/wechat_v3.md, not with the plugin's code.
type signedMessage struct {
	header http.Header
	body   []byte
}

// sign signs body as WeChat does, under serial, at now+skew.
func sign(t *testing.T, key *rsa.PrivateKey, serial string, skew time.Duration, body []byte) signedMessage {
	t.Helper()
	ts := strconv.FormatInt(time.Now().Add(skew).Unix(), 10)
	nonce := "n" + strconv.FormatInt(time.Now().UnixNano(), 36)
	sig, err := utils.SignSHA256WithRSA(ts+"\n"+nonce+"\n"+string(body)+"\n", key)
	if err != nil {
		t.Fatal(err)
	}
	return signedMessage{body: body, header: http.Header{"Wechatpay-Serial": {serial}, "Wechatpay-Timestamp": {ts},
		"Wechatpay-Nonce": {nonce}, "Wechatpay-Signature": {sig}, "Request-Id": {"differential"}}}
}

// sealResource encrypts plain as a notification's resource with the
// APIv3 key (AEAD_AES_256_GCM, a 12-byte nonce).
func sealResource(t *testing.T, key, plain, ad string) string {
	t.Helper()
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := "0123456789ab"
	ct := gcm.Seal(nil, []byte(nonce), []byte(plain), []byte(ad))
	return `{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"` + base64.StdEncoding.EncodeToString(ct) +
		`","associated_data":"` + ad + `","nonce":"` + nonce + `"}`
}

// variant changes one thing of a valid message.
type variant struct {
	name   string
	change func(m *signedMessage)
	// resign: the message is signed after change (by default before, so
	// that change tampers with what was signed).
	resign bool
}

// TestSDKAgreesOnNotifications sends the same notifications to the SDK's
// notify.Handler (with the combined verifier of a merchant switching from
// certificates to the public key) and to the plugin's wechat_v3 webhook,
// and wants the same verdict on each: a valid notification under the public
// key id or the certificate serial, and one thing changed at a time (the
// body, each header missing, the 300 s window on both sides, a probe,
// another key, an unknown serial, the signature type, another APIv3 key,
// another algorithm, a signature that is not base64).
func TestSDKAgreesOnNotifications(t *testing.T) {
	k := loadKeys(t)
	platform := platformKey(t)
	other := k.merchant // a well-formed key that is not WeChat's
	h, err := notify.NewRSANotifyHandler(apiV3Key, verifiers.NewSHA256WithRSACombinedVerifier(
		core.NewCertificateMapWithList([]*x509.Certificate{k.platformCert}), publicKeyID, *k.platformPublic))
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) string { b, _ := readKey(name); return b }
	webhook, err := wechatv3.NewWebhook(wechatv3.Config{AppID: appID, MchID: mchID, APIv3Key: apiV3Key,
		PublicKey: read("wechatpay_pub_key.pem"), PublicKeyID: publicKeyID, PlatformCertificate: read("wechatpay_platform_cert.pem")})
	if err != nil {
		t.Fatal(err)
	}
	resource := `{"mchid":"` + mchID + `","appid":"` + appID + `","out_trade_no":"D1","transaction_id":"4200000001","trade_type":"JSAPI","trade_state":"SUCCESS","trade_state_desc":"支付成功","bank_type":"OTHERS","attach":"","success_time":"2026-12-07T10:00:05+08:00","payer":{"openid":"` + openID + `"},"amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}`
	body := func(res string) []byte {
		return []byte(`{"id":"EV-D1","create_time":"2026-12-07T10:00:06+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"支付成功","resource":` + res + `}`)
	}
	good := body(sealResource(t, apiV3Key, resource, "transaction"))
	variants := []variant{
		{name: "valid"},
		{name: "body changed", change: func(m *signedMessage) { m.body = bytes.Replace(m.body, []byte("EV-D1"), []byte("EV-D2"), 1) }},
		{name: "Wechatpay-Serial missing", change: func(m *signedMessage) { m.header.Del("Wechatpay-Serial") }},
		{name: "Wechatpay-Signature missing", change: func(m *signedMessage) { m.header.Del("Wechatpay-Signature") }},
		{name: "Wechatpay-Timestamp missing", change: func(m *signedMessage) { m.header.Del("Wechatpay-Timestamp") }},
		{name: "Wechatpay-Nonce missing", change: func(m *signedMessage) { m.header.Del("Wechatpay-Nonce") }},
		{name: "nonce changed", change: func(m *signedMessage) { m.header.Set("Wechatpay-Nonce", "another") }},
		{name: "probe", change: func(m *signedMessage) {
			m.header.Set("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+m.header.Get("Wechatpay-Signature"))
		}},
		{name: "signature not base64", change: func(m *signedMessage) { m.header.Set("Wechatpay-Signature", "not base64!") }},
		{name: "unknown serial", change: func(m *signedMessage) { m.header.Set("Wechatpay-Serial", "1234567890ABCDEF") }},
		{name: "another public key id", change: func(m *signedMessage) { m.header.Set("Wechatpay-Serial", publicKeyID+"9") }},
		{name: "Signature-Type RSA", change: func(m *signedMessage) { m.header.Set("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048") }},
		{name: "Signature-Type SM2", change: func(m *signedMessage) { m.header.Set("Wechatpay-Signature-Type", "WECHATPAY2-SM2-WITH-SM3") }},
		{name: "Signature-Type in lower case", change: func(m *signedMessage) { m.header.Set("Wechatpay-Signature-Type", "wechatpay2-sha256-rsa2048") }},
		{name: "another APIv3 key", resign: true, change: func(m *signedMessage) {
			m.body = body(sealResource(t, strings.Repeat("k", 32), resource, "transaction"))
		}},
		{name: "another algorithm", resign: true, change: func(m *signedMessage) {
			m.body = bytes.Replace(m.body, []byte("AEAD_AES_256_GCM"), []byte("AEAD_AES_128_GCM"), 1)
		}},
		{name: "associated data changed", resign: true, change: func(m *signedMessage) {
			m.body = bytes.Replace(m.body, []byte(`"associated_data":"transaction"`), []byte(`"associated_data":"refund"`), 1)
		}},
		{name: "empty associated data", resign: true, change: func(m *signedMessage) {
			m.body = body(sealResource(t, apiV3Key, resource, ""))
		}},
	}
	type signing struct {
		name   string
		key    *rsa.PrivateKey
		serial string
		skew   time.Duration
	}
	signings := []signing{
		{"public key id", platform, publicKeyID, 0},
		{"certificate serial", platform, platformSerial, 0},
		{"another key", other, publicKeyID, 0},
		{"250 s old", platform, publicKeyID, -250 * time.Second},
		{"350 s old", platform, publicKeyID, -350 * time.Second},
		{"250 s ahead", platform, publicKeyID, 250 * time.Second},
		{"350 s ahead", platform, publicKeyID, 350 * time.Second},
	}
	accepted := 0
	for _, s := range signings {
		for _, v := range variants {
			t.Run(s.name+"/"+v.name, func(t *testing.T) {
				m := sign(t, s.key, s.serial, s.skew, good)
				if v.change != nil {
					v.change(&m)
				}
				if v.resign {
					h := m.header
					m = sign(t, s.key, s.serial, s.skew, m.body)
					if st := h.Get("Wechatpay-Signature-Type"); st != "" {
						m.header.Set("Wechatpay-Signature-Type", st)
					}
				}
				r := httptest.NewRequest(http.MethodPost, "/notify", bytes.NewReader(m.body))
				r.Header = m.header.Clone()
				var content map[string]any
				_, sdkErr := h.ParseNotifyRequest(context.Background(), r, &content)
				ev, pluginErr := webhook.Verify(transform.Notification{Header: m.header.Clone(), Body: m.body})
				if (sdkErr == nil) != (pluginErr == nil) {
					t.Fatalf("the SDK says %v, the plugin %v", sdkErr, pluginErr)
				}
				if sdkErr == nil {
					accepted++
					if ev.Type != transform.EventPaymentSucceeded || ev.OrderID != content["out_trade_no"] {
						t.Fatalf("both accept, the plugin's event %+v, the SDK's content %v", ev, content)
					}
				}
			})
		}
	}
	// Valid and "Signature-Type RSA" and "empty associated data", under the
	// public key id, the certificate serial, 250 s old and 250 s ahead.
	if accepted != 12 {
		t.Fatalf("%d notifications accepted by both, want 12", accepted)
	}
}

// TestSDKAgreesOnAnswers gives the same answers to the SDK's response
// validator and to the plugin's answer check, and wants the same verdict:
// the variants of TestSDKAgreesOnNotifications that concern the signature,
// on a 200, a signed refusal and the empty 204 of close.
func TestSDKAgreesOnAnswers(t *testing.T) {
	k := loadKeys(t)
	platform := platformKey(t)
	validator := validators.NewWechatPayResponseValidator(verifiers.NewSHA256WithRSACombinedVerifier(
		core.NewCertificateMapWithList([]*x509.Certificate{k.platformCert}), publicKeyID, *k.platformPublic))
	read := func(name string) string { b, _ := readKey(name); return b }
	client, err := wechatv3.NewClient(wechatv3.Config{AppID: appID, MchID: mchID, SerialNo: merchantSerial, PrivateKey: read("apiclient_key.pem"),
		PublicKey: read("wechatpay_pub_key.pem"), PublicKeyID: publicKeyID, PlatformCertificate: read("wechatpay_platform_cert.pem")})
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string]string{"200": `{"prepay_id":"wx07100000000000000000000000000000"}`,
		"403": `{"code":"ORDERPAID","message":"订单已支付"}`, "204": ``}
	headerChanges := map[string]func(h http.Header){
		"valid":                       func(http.Header) {},
		"Wechatpay-Serial missing":    func(h http.Header) { h.Del("Wechatpay-Serial") },
		"Wechatpay-Signature missing": func(h http.Header) { h.Del("Wechatpay-Signature") },
		"Wechatpay-Timestamp missing": func(h http.Header) { h.Del("Wechatpay-Timestamp") },
		"Wechatpay-Nonce missing":     func(h http.Header) { h.Del("Wechatpay-Nonce") },
		"probe":                       func(h http.Header) { h.Set("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+h.Get("Wechatpay-Signature")) },
		"unknown serial":              func(h http.Header) { h.Set("Wechatpay-Serial", "1234567890ABCDEF") },
	}
	accepted := 0
	for status, body := range bodies {
		for _, s := range []struct {
			name   string
			key    *rsa.PrivateKey
			serial string
			skew   time.Duration
		}{
			{"public key id", platform, publicKeyID, 0}, {"certificate serial", platform, platformSerial, 0},
			{"another key", k.merchant, publicKeyID, 0}, {"350 s old", platform, platformSerial, -350 * time.Second},
			{"250 s ahead", platform, publicKeyID, 250 * time.Second},
		} {
			for name, change := range headerChanges {
				t.Run(status+"/"+s.name+"/"+name, func(t *testing.T) {
					m := sign(t, s.key, s.serial, s.skew, []byte(body))
					change(m.header)
					code, _ := strconv.Atoi(status)
					res := &http.Response{StatusCode: code, Header: m.header.Clone(), Body: io.NopCloser(strings.NewReader(body))}
					sdkErr := validator.Validate(context.Background(), res)
					pluginErr := client.VerifyAnswer(m.header.Clone(), m.body)
					if (sdkErr == nil) != (pluginErr == nil) {
						t.Fatalf("the SDK says %v, the plugin %v", sdkErr, pluginErr)
					}
					if sdkErr == nil {
						accepted++
					}
				})
			}
		}
	}
	// "valid" under the public key id, the certificate serial and 250 s
	// ahead, for each of the three answers.
	if accepted != 9 {
		t.Fatalf("%d answers accepted by both, want 9", accepted)
	}
}
