package twoc2p_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/twoc2p"
)

// exchange sends a prepared call to 2C2P (baseURL: the 2C2P host of the
// merchant's account, here the sandbox) and decodes its answer.
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
	req.Header.Set("Content-Type", call.ContentType) // a form: paymentRequest=<envelope>
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, transform.Upstream("2C2P could not be reached")
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, transform.MaxAnswer))
	if err != nil {
		return nil, transform.Upstream("2C2P's answer could not be read")
	}
	return call.Decode(resp.StatusCode, resp.Header, answer)
}

// A WeChat mini program payment through 2C2P (paymentChannel WCMINI)
// without Caddy: the sealed PaymentRequest, the signed answer turned into
// the wx.requestPayment object, and the backend notification verified into
// the normalized event. The sandbox plays 2C2P; merchant JT01 and its
// secret key are those of 2C2P's demo server (docs/providers/2c2p.md).
func Example() {
	cfg := twoc2p.Config{MerchantID: "JT01", SecretKey: "7jYcp4FxFdf0", AppID: "wx8888888888888888",
		NotifyURL: "https://merchant.example/2c2p/notify"}
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, transform.UTC8)

	sandbox, err := twoc2p.NewSandbox(cfg)
	if err != nil {
		panic(err)
	}
	sandbox.Now = func() time.Time { return now }
	server := httptest.NewServer(sandbox)
	defer server.Close()

	client, err := twoc2p.NewClient(cfg)
	if err != nil {
		panic(err)
	}
	client.Now = func() time.Time { return now } // the request's timeStamp
	call, err := client.Prepare(context.Background(), transform.OpPay, []byte(`{"order_id":"O1001","amount":"12.34",
		"currency":"SGD","description":"Pinot Noir","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(call.Method, call.Path, call.ContentType)
	answer, err := exchange(server.URL, call)
	if err != nil {
		panic(err)
	}
	var pay transform.PaymentParams // the JSON goes to the mini program as is
	if err := json.Unmarshal(answer, &pay); err != nil {
		panic(err)
	}
	fmt.Println(pay.OrderID, pay.SignType, pay.ProviderOrderID != "")

	// 2C2P POSTs the backend notification, a form whose paymentResponse is
	// the same signed envelope: verify it, then answer with Ack (HTTP 200)
	// once the payment is recorded.
	sent, _, err := sandbox.Complete("O1001", true, now)
	if err != nil {
		panic(err)
	}
	webhook, err := twoc2p.NewWebhook(cfg)
	if err != nil {
		panic(err)
	}
	received := http.Header{"Content-Type": {sent.ContentType}}
	event, err := webhook.Verify(transform.Notification{Header: received, Body: sent.Body})
	if err != nil {
		panic(err)
	}
	fmt.Println(event.Type, event.OrderID, event.Amount, event.Currency, event.Data["respCode"], event.Data["status"])
	status, _, _ := webhook.Ack()
	fmt.Println(status)
	// Output:
	// POST /2C2PFrontEnd/SecurePayment/Payment.aspx application/x-www-form-urlencoded
	// O1001 HMAC-SHA256 true
	// payment.succeeded O1001 12.34 SGD 00 A
	// 200
}
