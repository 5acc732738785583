package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// payAndWebhookSite is a site on port with a wechat_v2 pay route
// (/wechat/*) through reverse_proxy to upstream and a wechat_v2 webhook route
// (/webhooks/wechat_v2) to backend; proxyBlock follows each reverse_proxy
// (a transport block, or "").
func payAndWebhookSite(port, upstream, backend, proxyBlock string) string {
	return `
:` + port + ` {
	handle /wechat/* {
		` + wechatV2Minipay + `
		reverse_proxy ` + strings.TrimPrefix(upstream, "http://") + ` ` + proxyBlock + `
	}
	handle /webhooks/wechat_v2 {
		minipay_webhook wechat_v2 {
			app_id ` + appID + `
			mch_id ` + mchID + `
			api_key ` + apiKey + `
		}
		reverse_proxy ` + strings.TrimPrefix(backend, "http://") + ` ` + proxyBlock + `
	}
}
`
}

// TestClientGoneIsNotAnUpstreamFailure: a merchant whose client gives up
// before the provider answers, and a provider that hangs up before the
// merchant backend answers, are counted and logged as client_closed (status
// 499), not as upstream_error "the provider answered HTTP 499" nor as
// merchant_failed "merchant backend answered 499": reverse_proxy records
// Caddy's 499 when the request's client goes away, which says nothing
// about the upstream. Seen under load whenever wrk stopped its connections.
func TestClientGoneIsNotAnUpstreamFailure(t *testing.T) {
	// Both the provider and the merchant backend answer only once the
	// request is given up (the body read first: Go's server notices a
	// closed connection only then); each says when a request arrived, and
	// only then does the client give up, however slow the machine.
	arrived := make(chan struct{}, 1)
	hang := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		wait(r, 10*time.Second)
	}
	upstream, backend := httptest.NewServer(http.HandlerFunc(hang)), httptest.NewServer(http.HandlerFunc(hang))
	t.Cleanup(upstream.Close)
	t.Cleanup(backend.Close)
	port := itoa(freePort(t))
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	tc := startCaddy(t, globalOptions(logFile)+payAndWebhookSite(port, upstream.URL, backend.URL, ""))
	send := func(path, contentType, body string) {
		t.Helper()
		ctx, giveUp := context.WithCancel(context.Background())
		defer giveUp()
		go func() {
			select {
			case <-arrived:
			case <-time.After(10 * time.Second):
			}
			giveUp()
		}()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:"+port+path, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			t.Fatalf("%s answered HTTP %d before the client gave up", path, res.StatusCode)
		}
	}
	send("/wechat/pay", "application/json", `{"order_id":"GONE-1","amount":"12.34","currency":"CNY","description":"Latte","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`)
	send("/webhooks/wechat_v2", "text/xml", xmlOf(notification(apiKey, wechatv2.SignMD5, set("out_trade_no", "GONE-2"))))

	// Each handler logs its line once reverse_proxy has given up.
	lines := map[string]map[string]any{}
	deadline := time.Now().Add(10 * time.Second)
	for len(lines) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no log line for both requests: %s", logText(t, logFile))
		}
		time.Sleep(20 * time.Millisecond)
		for line := range strings.Lines(logText(t, logFile)) {
			var l map[string]any
			if json.Unmarshal([]byte(line), &l) == nil && (l["order_id"] == "GONE-1" || l["order_id"] == "GONE-2") {
				lines[str(l["order_id"])] = l
			}
		}
	}
	for id, l := range lines {
		if l["outcome"] != "client_closed" || l["status"] != float64(499) {
			t.Errorf("%s: outcome %v, status %v, want client_closed 499: %v", id, l["outcome"], l["status"], l)
		}
		for _, k := range []string{"message", "reason"} {
			if strings.Contains(str(l[k]), "499") {
				t.Errorf("%s: the log blames the upstream: %s %q", id, k, l[k])
			}
		}
	}

	series := minipaySeries(t, tc)
	for name, want := range map[string]float64{
		`caddy_minipay_requests_total{operation="pay",outcome="client_closed",provider="wechat_v2"}`:    1,
		`caddy_minipay_requests_total{operation="pay",outcome="upstream_error",provider="wechat_v2"}`:   0,
		`caddy_minipay_requests_total{operation="pay",outcome="upstream_timeout",provider="wechat_v2"}`: 0,
		`caddy_minipay_webhooks_total{outcome="client_closed",provider="wechat_v2"}`:                    1,
		`caddy_minipay_webhooks_total{outcome="merchant_failed",provider="wechat_v2"}`:                  0,
	} {
		if got, ok := series[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
}
