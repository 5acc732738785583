package wechatv2_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// exchange sends a prepared call to WeChat (baseURL:
// https://api.mch.weixin.qq.com in production, here the sandbox) and
// decodes its answer. transform's Example_withoutCaddy shows the complete
// loop, with the retry some providers ask for.
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
	req.Header.Set("Content-Type", call.ContentType)
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

// notifyHandler is the merchant's notify_url: it verifies a notification
// exactly as received (headers and raw body, bounded), records the event,
// and only then answers with the provider's ACK; anything else gets the
// provider's failure form, so that the provider sends the notification
// again. Any transform.Webhook fits. An event's ID stays the same across
// the provider's retries: record it once.
func notifyHandler(webhook transform.Webhook, record func(*transform.Event) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, transform.MaxNotification+1))
		if err != nil {
			nack(w, webhook, http.StatusBadRequest, "unreadable body")
			return
		}
		event, err := webhook.Verify(transform.Notification{Header: r.Header, Body: body})
		if err != nil {
			nack(w, webhook, http.StatusUnauthorized, "verification failed") // err says why: log it
			return
		}
		if err := record(event); err != nil {
			nack(w, webhook, http.StatusInternalServerError, "not recorded")
			return
		}
		status, contentType, ack := webhook.Ack()
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		w.Write(ack)
	})
}

func nack(w http.ResponseWriter, webhook transform.Webhook, status int, reason string) {
	contentType, body := webhook.Nack(reason)
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	w.Write(body)
}

// deliver posts a notification the sandbox made, as WeChat would, and
// tells whether the answer is the ACK WeChat waits for.
func deliver(notifyURL string, sent *transform.Outbound, acknowledged func(int, []byte) bool) (int, bool) {
	req, err := http.NewRequest(http.MethodPost, notifyURL, bytes.NewReader(sent.Body))
	if err != nil {
		panic(err)
	}
	for name, values := range sent.Header {
		req.Header[name] = values
	}
	req.Header.Set("Content-Type", sent.ContentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		panic(err)
	}
	return resp.StatusCode, acknowledged(resp.StatusCode, answer)
}

// A mini program payment without Caddy: the signed unifiedorder, its answer
// turned into the object the mini program hands to wx.requestPayment, and
// the payment notification verified into the normalized event. The sandbox
// plays WeChat; the merchant identity is the one of WeChat's signature
// example (docs/providers/wechat_v2.md, Known-answer vectors).
func Example() {
	cfg := wechatv2.Config{
		AppID: "wxd930ea5d5a258f4f", MchID: "10000100", APIKey: "192006250b4c09247ec02edce69f6a2d",
		NotifyURL: "https://merchant.example/wechat/notify", ClientIP: "203.0.113.7",
	}
	paidAt := time.Date(2026, 11, 22, 10, 0, 0, 0, transform.UTC8)

	sandbox, err := wechatv2.NewSandbox(cfg)
	if err != nil {
		panic(err)
	}
	sandbox.Now = func() time.Time { return paidAt }
	wechat := httptest.NewServer(sandbox)
	defer wechat.Close()

	client, err := wechatv2.NewClient(cfg)
	if err != nil {
		panic(err)
	}
	client.Now = func() time.Time { return paidAt } // paySign's timeStamp; the nonces stay random

	// Prepare takes the merchant API's JSON (README "Merchant API"), checks
	// it and signs the call.
	call, err := client.Prepare(context.Background(), transform.OpPay, []byte(`{"order_id":"O-1001","amount":"12.34",
		"currency":"CNY","description":"Pinot Noir","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(call.Method, call.Path, call.ContentType)
	answer, err := exchange(wechat.URL, call)
	if err != nil {
		panic(err)
	}
	var pay transform.PaymentParams // the JSON goes to the mini program as is
	if err := json.Unmarshal(answer, &pay); err != nil {
		panic(err)
	}
	fmt.Println(pay.OrderID, pay.TimeStamp, pay.SignType, strings.HasPrefix(pay.Package, "prepay_id="))
	fmt.Println("paySign:", pay.PaySign == wxpay.PaySign(cfg.AppID, pay.NonceStr, pay.Package, pay.SignType, pay.TimeStamp, cfg.APIKey))

	// WeChat POSTs the notification to notify_url (here the sandbox settles
	// the order and signs it): the merchant's handler verifies it as
	// received and answers with Ack once the payment is recorded.
	webhook, err := wechatv2.NewWebhook(cfg)
	if err != nil {
		panic(err)
	}
	merchant := httptest.NewServer(notifyHandler(webhook, func(event *transform.Event) error {
		fmt.Println(event.Type, event.OrderID, event.Amount, event.Currency, event.OccurredAt)
		return nil
	}))
	defer merchant.Close()
	sent, acknowledged, err := sandbox.Complete("O-1001", true, paidAt)
	if err != nil {
		panic(err)
	}
	fmt.Println(deliver(merchant.URL, sent, acknowledged))

	// A notification changed on its way is refused; nothing in it is read,
	// and WeChat is told to send it again.
	sent.Body = bytes.Replace(sent.Body, []byte("<total_fee><![CDATA[1234]]>"), []byte("<total_fee><![CDATA[1]]>"), 1)
	fmt.Println(deliver(merchant.URL, sent, acknowledged))
	// Output:
	// POST /pay/unifiedorder text/xml; charset=utf-8
	// O-1001 1795312800 MD5 true
	// paySign: true
	// payment.succeeded O-1001 12.34 CNY 2026-11-22T10:00:00+08:00
	// 200 true
	// 401 false
}
