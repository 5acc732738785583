package latipay_test

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
	"github.com/minipay/caddy-minipay/transform/latipay"
)

// exchange runs one merchant operation against Latipay (baseURL:
// https://api.latipay.net in production, here the sandbox): Prepare signs
// the call, Decode reads the answer. A query Latipay refuses with 206 asks
// for its other signature form (transform.ErrRetry): prepare and send it
// once more. transform's Example_withoutCaddy explains each step.
func exchange(client *latipay.Client, baseURL, op, body string) ([]byte, error) {
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
		if call.Body != nil {
			req.Header.Set("Content-Type", call.ContentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, transform.Upstream("Latipay could not be reached")
		}
		answer, err := io.ReadAll(io.LimitReader(resp.Body, transform.MaxAnswer))
		resp.Body.Close()
		if err != nil {
			return nil, transform.Upstream("Latipay's answer could not be read")
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

// A WeChat mini app payment through Latipay without Caddy: the signed
// miniapppay call and its answer, the wx.requestPayment object; the payment
// settled (by the sandbox, playing Latipay), then queried. The merchant is
// the one of Latipay's published examples (docs/providers/latipay.md).
func Example() {
	cfg := latipay.Config{UserID: "U000334333", WalletID: "W00000001", APIKey: "111222333",
		AppID: "wx721398712681232", Currency: "NZD", NotifyURL: "https://merchantsite.com/latipay/notify"}
	paidAt := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)

	sandbox, err := latipay.NewSandbox(cfg)
	if err != nil {
		panic(err)
	}
	sandbox.Now = func() time.Time { return paidAt }
	server := httptest.NewServer(sandbox)
	defer server.Close()

	client, err := latipay.NewClient(cfg)
	if err != nil {
		panic(err)
	}
	answer, err := exchange(client, server.URL, transform.OpPay, `{"order_id":"O-1001","amount":"120.00",
		"currency":"NZD","description":"Pinot Noir, Otago","openid":"obRdo5H-72b_PH2Lvr5_Dw9bXKHs"}`)
	if err != nil {
		panic(err)
	}
	var pay transform.PaymentParams // the JSON goes to the mini program as is
	if err := json.Unmarshal(answer, &pay); err != nil {
		panic(err)
	}
	fmt.Println(pay.OrderID, pay.SignType, pay.ProviderOrderID != "")

	if _, _, err := sandbox.Complete("O-1001", true, paidAt); err != nil {
		panic(err)
	}
	answer, err = exchange(client, server.URL, transform.OpQuery, `{"order_id":"O-1001"}`)
	if err != nil {
		panic(err)
	}
	var status transform.PaymentStatus
	if err := json.Unmarshal(answer, &status); err != nil {
		panic(err)
	}
	fmt.Println(status.OrderID, status.Status, status.Amount, status.Currency, status.PaidAt, status.ProviderStatus)
	// Output:
	// O-1001 MD5 true
	// O-1001 succeeded 120.00 NZD 2026-11-22T02:00:00Z paid
}
