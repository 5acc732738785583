package cbtis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/cbtis"
)

// exchange runs one merchant operation against CBTIS (baseURL: the host
// CBTIS assigned the merchant, here the sandbox). Prepare fetches the
// bearer token itself (from token_url, with the Client's own http.Client)
// and puts it in call.Header; an answer refusing the token (an expired one)
// is transform.ErrRetry: the token was dropped, so prepare and send the call
// once more. transform's Example_withoutCaddy explains each step.
func exchange(client *cbtis.Client, baseURL, op, body string) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		call, err := client.Prepare(context.Background(), op, []byte(body))
		if err != nil {
			return nil, err
		}
		u, err := url.Parse(baseURL)
		if err != nil {
			return nil, err
		}
		u.Path, u.RawQuery = call.Path, call.RawQuery // Path is unescaped
		req, err := http.NewRequest(call.Method, u.String(), bytes.NewReader(call.Body))
		if err != nil {
			return nil, err
		}
		for name, values := range call.Header { // Authorization: Bearer …
			req.Header[name] = values
		}
		if call.Body != nil {
			req.Header.Set("Content-Type", call.ContentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, transform.Upstream("CBTIS could not be reached")
		}
		answer, err := io.ReadAll(io.LimitReader(resp.Body, transform.MaxAnswer))
		resp.Body.Close()
		if err != nil {
			return nil, transform.Upstream("CBTIS's answer could not be read")
		}
		out, err := call.Decode(resp.StatusCode, resp.Header, answer)
		if errors.Is(err, transform.ErrRetry) {
			if attempt == 1 {
				continue
			}
			return nil, transform.RetryFinal(err)
		}
		return out, err
	}
}

// A mini program payment through CBTIS without Caddy: the payment intent
// created behind a client-credentials token, its answer turned into the
// wx.requestPayment object CBTIS signed, and the payment_success
// notification verified into the normalized event. The sandbox plays CBTIS;
// sub_appid is the one of CBTIS's mini program example
// (docs/providers/cbtis.md).
func Example() {
	sandbox, err := cbtis.NewSandbox(cbtis.Config{UID: "39172931", ClientSecret: "cs_5f2b8e1c9d7a4e6b8c0d2f4a6b8c0d2e",
		SubAppID: "wx7bc98d929da735fe"})
	if err != nil {
		panic(err)
	}
	server := httptest.NewServer(sandbox)
	defer server.Close()

	cfg := cbtis.Config{UID: "39172931", ClientSecret: "cs_5f2b8e1c9d7a4e6b8c0d2f4a6b8c0d2e", SubAppID: "wx7bc98d929da735fe",
		TokenURL: server.URL + cbtis.PathAuth, NotifyURL: "https://merchant.example/notify"}
	client, err := cbtis.NewClient(cfg)
	if err != nil {
		panic(err)
	}
	answer, err := exchange(client, server.URL, transform.OpPay, `{"order_id":"O-1001","amount":"105.00",
		"currency":"CNY","description":"Pinot Noir","openid":"oqZa55Qo-u0cVViWMAgv_YbyXb4U"}`)
	if err != nil {
		panic(err)
	}
	var pay transform.PaymentParams // the JSON goes to the mini program as is
	if err := json.Unmarshal(answer, &pay); err != nil {
		panic(err)
	}
	fmt.Println(pay.OrderID, pay.SignType, pay.ProviderOrderID != "", sandbox.TokensIssued())

	// CBTIS POSTs the notification: verify the raw body with its Signature
	// header, then answer with Ack once the payment is recorded.
	sent, _, err := sandbox.Complete("O-1001", true, time.Date(2026, 11, 22, 10, 0, 0, 0, transform.UTC8))
	if err != nil {
		panic(err)
	}
	webhook, err := cbtis.NewWebhook(cfg)
	if err != nil {
		panic(err)
	}
	event, err := webhook.Verify(transform.Notification{Header: sent.Header, Body: sent.Body})
	if err != nil {
		panic(err)
	}
	fmt.Println(event.Type, event.OrderID, event.Amount, event.Currency, event.OccurredAt)
	status, _, ack := webhook.Ack()
	fmt.Println(status, string(ack))
	// Output:
	// O-1001 RSA true 1
	// payment.succeeded O-1001 105.00 CNY 2026-11-22T02:00:00.000Z
	// 200 success
}
