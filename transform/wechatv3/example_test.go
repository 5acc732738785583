package wechatv3_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv3"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// exchange sends a prepared call to WeChat (baseURL:
// https://api.mch.weixin.qq.com in production, here the sandbox) and
// decodes its answer, whose Wechatpay-* headers Decode verifies.
// transform's Example_withoutCaddy shows the complete loop.
func exchange(baseURL string, call *transform.Call) ([]byte, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	u.Path, u.RawQuery = call.Path, call.RawQuery // Path is unescaped
	req, err := http.NewRequest(call.Method, u.String(), bytes.NewReader(call.Body))
	if err != nil {
		return nil, err
	}
	for name, values := range call.Header { // Authorization, Wechatpay-Serial, User-Agent, ...
		req.Header[name] = values
	}
	if call.Body != nil {
		req.Header.Set("Content-Type", call.ContentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, transform.Upstream("WeChat Pay could not be reached")
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, transform.MaxAnswer))
	if err != nil {
		return nil, transform.Upstream("WeChat Pay's answer could not be read")
	}
	return call.Decode(resp.StatusCode, resp.Header, answer)
}

func pem(name string) string {
	b, err := os.ReadFile("../../examples/keys/" + name) // the repository's sandbox-only test keys
	if err != nil {
		panic(err)
	}
	return string(b)
}

// A mini program payment through WeChat Pay API v3 without Caddy, in public
// key mode: the signed JSAPI order, its signed answer turned into the
// wx.requestPayment object (signType RSA), and the encrypted payment
// notification verified into the normalized event. The sandbox plays WeChat.
func Example() {
	merchant := wechatv3.Config{
		AppID: "wx8888888888888888", MchID: "1900000109",
		SerialNo: "3775B6A45ACD588826D15E583A95F5DD2F2D3B4A", PrivateKey: pem("apiclient_key.pem"),
		APIv3Key:  "sandbox-apiv3-key-0123456789abcd",
		PublicKey: pem("wechatpay_pub_key.pem"), PublicKeyID: "PUB_KEY_ID_0119000001092026112900000000000001",
		NotifyURL: "https://merchant.example/webhooks/wechat_v3",
	}
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, transform.UTC8)
	clock := func() time.Time { return now } // answers and notifications are checked against a 300 s window

	wechatSide := merchant // WeChat's side signs with the key whose public half the merchant holds
	wechatSide.PublicKey, wechatSide.PlatformPrivateKey = "", pem("wechatpay_platform_key.pem")
	sandbox, err := wechatv3.NewSandbox(wechatSide)
	if err != nil {
		panic(err)
	}
	sandbox.Now = clock
	wechat := httptest.NewServer(sandbox)
	defer wechat.Close()

	client, err := wechatv3.NewClient(merchant)
	if err != nil {
		panic(err)
	}
	client.Now = clock
	call, err := client.Prepare(context.Background(), transform.OpPay, []byte(`{"order_id":"O-1001","amount":"12.34",
		"currency":"CNY","description":"Pinot Noir","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(call.Method, call.Path, call.Header.Get("Wechatpay-Serial"))
	answer, err := exchange(wechat.URL, call)
	if err != nil {
		panic(err)
	}
	var pay transform.PaymentParams // the JSON goes to the mini program as is
	if err := json.Unmarshal(answer, &pay); err != nil {
		panic(err)
	}
	fmt.Println(pay.OrderID, pay.TimeStamp, pay.SignType)
	key, err := wechatv3.ParsePrivateKey(merchant.PrivateKey)
	if err != nil {
		panic(err)
	}
	message := wxpay.AppendPayMessageRSA(nil, merchant.AppID, pay.TimeStamp, pay.NonceStr, pay.Package)
	fmt.Println("paySign:", wechatv3.VerifyMessage(&key.PublicKey, message, pay.PaySign))

	// WeChat POSTs the notification: verify it as received (headers and
	// raw body), then answer with Ack once the payment is recorded.
	sent, _, err := sandbox.Complete("O-1001", true, now)
	if err != nil {
		panic(err)
	}
	webhook, err := wechatv3.NewWebhook(merchant)
	if err != nil {
		panic(err)
	}
	webhook.Now = clock
	event, err := webhook.Verify(transform.Notification{Header: sent.Header, Body: sent.Body})
	if err != nil {
		panic(err)
	}
	fmt.Println(event.Type, event.OrderID, event.Amount, event.Currency, event.Data["payer.openid"])
	status, _, ack := webhook.Ack()
	fmt.Printf("%d %q\n", status, ack)

	// Five minutes later the same bytes are outside WeChat's window.
	now = now.Add(wechatv3.MaxSkew)
	_, err = webhook.Verify(transform.Notification{Header: sent.Header, Body: sent.Body})
	fmt.Println(err)
	// Output:
	// POST /v3/pay/transactions/jsapi PUB_KEY_ID_0119000001092026112900000000000001
	// O-1001 1795917600 RSA
	// paySign: true
	// payment.succeeded O-1001 12.34 CNY oUpF8uMuAJO_M2pxb1Q9zNjWeS6o
	// 200 ""
	// notification signature does not verify: Wechatpay-Timestamp is outside the 300 s window
}
