package transform_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/minipay/caddy-minipay/transform"
)

// send is what minipay and reverse_proxy do for one merchant operation, for
// a merchant who uses a provider package without Caddy: Prepare checks the
// merchant's JSON and signs the provider's request, which is sent to the
// provider's host (baseURL: https://api.mch.weixin.qq.com for WeChat Pay;
// each provider's Client godoc names its host), and Decode verifies the
// answer and turns it into the merchant's JSON.
func send(ctx context.Context, hc *http.Client, baseURL string, client transform.Client, op string, body []byte) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		call, err := client.Prepare(ctx, op, body)
		if err != nil {
			return nil, err // a *transform.Error: its Status and JSON are the merchant API's
		}
		status, header, answer, err := roundTrip(ctx, hc, baseURL, call)
		if err != nil {
			return nil, err
		}
		out, err := call.Decode(status, header, answer)
		if errors.Is(err, transform.ErrRetry) {
			// A bearer token the provider refused was dropped (CBTIS),
			// or Latipay asks for its other query signature or refund
			// path: prepare and send once more, never twice.
			if attempt == 1 {
				continue
			}
			return nil, transform.RetryFinal(err)
		}
		return out, err
	}
}

// roundTrip sends call to baseURL and returns the answer with its
// Content-Encoding removed, bounded as minipay bounds it.
func roundTrip(ctx context.Context, hc *http.Client, baseURL string, call *transform.Call) (int, http.Header, []byte, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return 0, nil, nil, err
	}
	// Path is unescaped (an order id may hold '|' or '*'): set it, never
	// paste it into a URL string.
	u.Path, u.RawQuery = call.Path, call.RawQuery
	req, err := http.NewRequestWithContext(ctx, call.Method, u.String(), bytes.NewReader(call.Body))
	if err != nil {
		return 0, nil, nil, err
	}
	for name, values := range call.Header {
		req.Header[name] = values
	}
	if call.Body != nil {
		req.Header.Set("Content-Type", call.ContentType)
	}
	if call.Idempotent {
		// Present but nil: Go's transport sends the POST again when a
		// reused keep-alive connection fails before any byte of the
		// answer, and sends no such header.
		req.Header["Idempotency-Key"] = nil
	}
	resp, err := hc.Do(req)
	if err != nil {
		// Never the error's text: a *url.Error quotes the URL, whose query
		// may hold a secret (code2Session's AppSecret).
		return 0, nil, nil, transform.Upstream("the provider could not be reached")
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, transform.MaxAnswer+1))
	if err != nil || len(answer) > transform.MaxAnswer {
		return 0, nil, nil, transform.Upstream("the provider's answer could not be read whole")
	}
	if answer, err = transform.DecodeContent(resp.Header, answer, transform.MaxAnswer); err != nil {
		return 0, nil, nil, transform.Upstream("the provider's answer is in an unsupported Content-Encoding")
	}
	return resp.StatusCode, resp.Header, answer, nil
}

// The loop every provider package is used with outside Caddy (send, above).
// A provider's Client (wechatv2.NewClient, latipay.NewClient, ...) takes the
// place of this stand-in, whose provider answers a query with a fixed JSON:
// each provider package's own example runs its Client against its sandbox.
func Example_withoutCaddy() {
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"order":%q,"state":"PAID"}`, r.URL.EscapedPath())
	}))
	defer provider.Close()

	client := &transform.Operations{Provider: "stand_in", Query: func(req *transform.OrderRequest) (*transform.Call, error) {
		return &transform.Call{Method: http.MethodGet, Path: "/orders/" + req.OrderID, OrderID: req.OrderID,
			Decode: func(status int, _ http.Header, body []byte) ([]byte, error) {
				if status != http.StatusOK {
					return nil, transform.Upstream("the provider answered " + http.StatusText(status))
				}
				return body, nil
			}}, nil
	}}

	ctx := context.Background()
	out, err := send(ctx, provider.Client(), provider.URL, client, transform.OpQuery, []byte(`{"order_id":"O-1|2"}`))
	fmt.Println(string(out), err)

	// The merchant's JSON is checked before anything is sent.
	for _, body := range []string{`{"order_id":"O 1"}`, `{"order_id":"O1","amount":"1"}`} {
		_, err = send(ctx, provider.Client(), provider.URL, client, transform.OpQuery, []byte(body))
		var e *transform.Error
		if errors.As(err, &e) {
			fmt.Println(e.Status, string(e.JSON()))
		}
	}
	_, err = send(ctx, provider.Client(), provider.URL, client, transform.OpPay, []byte(`{}`))
	fmt.Println(err)
	// Output:
	// {"order":"/orders/O-1%7C2","state":"PAID"} <nil>
	// 400 {"error":{"code":"invalid_request","message":"order_id may only contain A-Z a-z 0-9 _ - | *","field":"order_id"}}
	// 400 {"error":{"code":"invalid_request","message":"amount is not a known field","field":"amount"}}
	// unknown_operation: "pay" is no operation of stand_in
}
