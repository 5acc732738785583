package wechatv3

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strconv"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// TestMerchantSignaturesNeverVerifyAsWeChats: private_key signs minipay's
// requests (Authorization over METHOD\nPATH\nTIMESTAMP\nNONCE\nBODY\n) and
// the paySign the payer's mini program receives
// (appId\ntimeStamp\nnonceStr\npackage\n); minipay verifies answers and
// notifications (TIMESTAMP\nNONCE\nBODY\n) with WeChat's keys only, never
// with private_key. Even a route given the merchant's own public key in
// place of WeChat's, the worst mix-up, accepts none of them (a route that
// holds private_key refuses to load so, TestConfigErrors; a webhook route
// without it, or a client whose private_key is another key, cannot tell
// the key is the merchant's): cut at any two
// of their line breaks, the timestamp would be the method or the appid,
// never the digits WeChat's is, whatever the description (JSON keeps its
// line breaks escaped). A notification the merchant's key signed is
// accepted there (control): the mix-up is in effect.
func TestMerchantSignaturesNeverVerifyAsWeChats(t *testing.T) {
	good := merchantConfig(t)
	merchantKey := must(ParsePrivateKey(good.PrivateKey))
	der := must(x509.MarshalPKIXPublicKey(&merchantKey.PublicKey))
	mixedUp := good
	mixedUp.PublicKey = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	mixedUp.SerialNo, mixedUp.PrivateKey = "", ""
	w := must(NewWebhook(mixedUp))
	w.Now = transformtest.Clock
	mixedUp.SerialNo, mixedUp.PrivateKey = good.SerialNo, exampleKey(t, "wechatpay_platform_key.pem")
	c := must(NewClient(mixedUp))
	c.Now = transformtest.Clock
	signer := must(NewClient(good))
	signer.Now = transformtest.Clock
	ts := transformtest.Pinned.Unix()

	sb := must(NewSandbox(sandboxConfig(t)))
	sb.Now = transformtest.Clock
	const tx = `{"mchid":"1900000109","appid":"wx8888888888888888","out_trade_no":"O1","transaction_id":"4200001","trade_state":"SUCCESS","success_time":"2026-11-29T10:00:05+08:00","payer":{"openid":"o"},"amount":{"total":1234,"currency":"CNY"}}`
	n := must(sb.Notification("https://m.example/n", examplePublicKeyID, EventTransactionSuccess, "支付成功", "transaction", []byte(tx)))
	stamp := strconv.FormatInt(ts, 10)
	control := http.Header{HeaderSerial: {examplePublicKeyID}, HeaderTimestamp: {stamp}, HeaderNonce: {"n0nce"},
		HeaderSignature: {must(SignMessage(merchantKey, AppendAnswerMessage(nil, stamp, "n0nce", n.Body)))}}
	if _, err := w.Verify(transform.Notification{Header: control, Body: n.Body}); err != nil {
		t.Fatalf("a notification the merchant's key signed is refused (%v): the mix-up is not in effect", err)
	}

	messages := map[string]struct {
		msg []byte
		sig string
	}{}
	for _, description := range []string{"Goods", "x\n" + stamp + "\nn0nce\n{\"mchid\":\"1900000109\"}"} {
		call, err := signer.Prepare(context.Background(), "pay", []byte(`{"order_id":"O1","amount":"12.34","currency":"CNY","description":`+
			jsonString(description)+`,"openid":"o"}`))
		if err != nil {
			t.Fatal(err)
		}
		a, ok := ParseAuthorization(call.Header.Get("Authorization"))
		if !ok {
			t.Fatalf("Authorization %q", call.Header.Get("Authorization"))
		}
		msg := []byte(call.Method + "\n" + call.Path + "\n" + a.Timestamp + "\n" + a.NonceStr + "\n" + string(call.Body) + "\n")
		messages["the pay request, description "+jsonString(description)] = struct {
			msg []byte
			sig string
		}{msg, a.Signature}
	}
	pp, err := signer.PaymentParams("O1", "wx201410272009395522657a690389285100")
	if err != nil {
		t.Fatal(err)
	}
	messages["paySign"] = struct {
		msg []byte
		sig string
	}{[]byte(good.AppID + "\n" + pp.TimeStamp + "\n" + pp.NonceStr + "\n" + pp.Package + "\n"), pp.PaySign}

	query, err := c.Prepare(context.Background(), "query", []byte(`{"order_id":"O1"}`))
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range messages {
		sum := sha256.Sum256(m.msg)
		if rsa.VerifyPKCS1v15(&merchantKey.PublicKey, crypto.SHA256, sum[:], must(base64.StdEncoding.DecodeString(m.sig))) != nil {
			t.Fatalf("%s: the signature is not the merchant key's over %q", name, m.msg)
		}
		var breaks []int
		for i, b := range m.msg[:len(m.msg)-1] {
			if b == '\n' {
				breaks = append(breaks, i)
			}
		}
		for i, p := range breaks {
			for _, q := range breaks[i+1:] {
				h := http.Header{HeaderSerial: {examplePublicKeyID}, HeaderSignature: {m.sig},
					HeaderTimestamp: {string(m.msg[:p])}, HeaderNonce: {string(m.msg[p+1 : q])}}
				body := bytes.Clone(m.msg[q+1 : len(m.msg)-1])
				if ev, err := w.Verify(transform.Notification{Header: h, Body: body}); err == nil {
					t.Errorf("%s, read as timestamp %q: accepted as a notification %+v", name, h.Get(HeaderTimestamp), ev)
				}
				if out, err := query.Decode(http.StatusOK, h, body); err == nil {
					t.Errorf("%s, read as timestamp %q: accepted as a query answer %s", name, h.Get(HeaderTimestamp), out)
				}
			}
		}
	}
}

func jsonString(s string) string { return string(must(json.Marshal(s))) }

// TestCloseAnswerIsNoOtherDocument: WeChat answers close with an empty 204
// (docs/providers/wechat_v3.md), which names no order, and signs every
// answer and notification with the same key in the same form. A paid
// order's notification or query answer, answered to a close within the
// 300 s its signature holds, read as "cancelled"; it is now a 502
// upstream_error, and only the signed empty answer closes.
func TestCloseAnswerIsNoOtherDocument(t *testing.T) {
	sb := must(NewSandbox(sandboxConfig(t)))
	sb.Now = transformtest.Clock
	c := must(NewClient(merchantConfig(t)))
	c.Now = transformtest.Clock
	sign := newPlatformSigner(t)
	call, err := c.Prepare(context.Background(), "close", []byte(`{"order_id":"O1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := call.Decode(http.StatusNoContent, sign.sign(nil), nil); err != nil ||
		string(out) != `{"provider":"wechat_v3","order_id":"O1","status":"cancelled"}` {
		t.Fatalf("WeChat's empty 204: %s, %v", out, err)
	}
	const tx = `{"mchid":"1900000109","appid":"wx8888888888888888","out_trade_no":"O1","transaction_id":"4200001","trade_state":"SUCCESS","success_time":"2026-11-29T10:00:05+08:00","payer":{"openid":"o"},"amount":{"total":1234,"currency":"CNY"}}`
	n := must(sb.Notification("https://m.example/n", examplePublicKeyID, EventTransactionSuccess, "支付成功", "transaction", []byte(tx)))
	for name, doc := range map[string]struct {
		header http.Header
		body   []byte
	}{
		"a paid notification":         {n.Header, n.Body},
		"a paid order's query answer": {sign.sign([]byte(tx)), []byte(tx)},
	} {
		for _, status := range []int{http.StatusOK, http.StatusNoContent} {
			out, err := call.Decode(status, doc.header, doc.body)
			if out != nil {
				t.Errorf("%s (%d) read as %s", name, status, out)
			}
			transformtest.WantError(t, err, 502, transform.CodeUpstreamError)
		}
	}
}
