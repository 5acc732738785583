package wechatv3

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// The sandbox-only public test keys of examples/keys.
const (
	exampleSerial      = "3775B6A45ACD588826D15E583A95F5DD2F2D3B4A"
	examplePlatformSN  = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
	examplePublicKeyID = "PUB_KEY_ID_0119000001092026112900000000000001"
	exampleAPIv3Key    = "sandbox-apiv3-key-0123456789abcd"
)

func exampleKey(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/keys/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// merchantConfig is the example merchant in public-key mode.
func merchantConfig(t testing.TB) Config {
	return Config{AppID: "wx8888888888888888", MchID: "1900000109", SerialNo: exampleSerial,
		PrivateKey: exampleKey(t, "apiclient_key.pem"), APIv3Key: exampleAPIv3Key,
		PublicKey: exampleKey(t, "wechatpay_pub_key.pem"), PublicKeyID: examplePublicKeyID,
		NotifyURL: "https://merchant.example/webhooks/wechat_v3"}
}

// sandboxConfig is the sandbox for the example merchant.
func sandboxConfig(t testing.TB) Config {
	return Config{AppID: "wx8888888888888888", MchID: "1900000109", SerialNo: exampleSerial,
		PrivateKey: exampleKey(t, "apiclient_key.pem"), APIv3Key: exampleAPIv3Key,
		PlatformPrivateKey:  exampleKey(t, "wechatpay_platform_key.pem"),
		PlatformCertificate: exampleKey(t, "wechatpay_platform_cert.pem"), PublicKeyID: examplePublicKeyID}
}

// must returns v, and stops the test (by panicking: Go passes no t along
// with a multi-value call) when err is set.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// sandboxServer serves sb over HTTP, as minipay_sandbox does.
func sandboxServer(t testing.TB, sb *Sandbox) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !sb.Handles(r.URL.Path) {
			http.NotFound(w, r)
			return
		}
		sb.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// exchange prepares op, sends the call to srv as reverse_proxy would, and
// decodes the answer.
func exchange(t testing.TB, c *Client, srv *httptest.Server, op, body string) ([]byte, error) {
	t.Helper()
	call, err := c.Prepare(context.Background(), op, []byte(body))
	if err != nil {
		return nil, err
	}
	return send(t, srv, call)
}

func send(t testing.TB, srv *httptest.Server, call *transform.Call) ([]byte, error) {
	t.Helper()
	u := srv.URL + (&url.URL{Path: call.Path}).EscapedPath()
	if call.RawQuery != "" {
		u += "?" + call.RawQuery
	}
	req := must(http.NewRequest(call.Method, u, bytes.NewReader(call.Body)))
	for k, v := range call.Header {
		req.Header[k] = v
	}
	if call.Body != nil {
		req.Header.Set("Content-Type", call.ContentType)
	}
	resp := must(http.DefaultClient.Do(req))
	defer resp.Body.Close()
	b := must(io.ReadAll(resp.Body))
	return call.Decode(resp.StatusCode, resp.Header, b)
}
