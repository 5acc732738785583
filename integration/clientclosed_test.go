package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
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
// before the provider answers, for every provider, and a provider that
// hangs up before the merchant backend answers, are counted and logged as
// client_closed (status 499), not as upstream_error "the provider answered
// HTTP 499", upstream_signature_invalid (WeChat v3 signs every answer, and
// read reverse_proxy's 499 as an unsigned one) nor as merchant_failed
// "merchant backend answered 499": reverse_proxy records Caddy's 499 when
// the request's client goes away, which says nothing about the upstream.
// Seen under load whenever wrk stopped its connections.
func TestClientGoneIsNotAnUpstreamFailure(t *testing.T) {
	// Both the provider and the merchant backend answer only once the
	// request is given up (the body read first: Go's server notices a
	// closed connection only then); each says when a request arrived, and
	// only then does the client give up, however slow the machine. CBTIS's
	// token endpoint answers at once.
	arrived := make(chan struct{}, 1)
	hang := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/mch-api/v1/auth" {
			_, _ = io.WriteString(w, `{"access_token":"tok-client-gone","expires_in":3600}`)
			return
		}
		arrived <- struct{}{}
		wait(r, 10*time.Second)
	}
	upstream, backend := httptest.NewServer(http.HandlerFunc(hang)), httptest.NewServer(http.HandlerFunc(hang))
	t.Cleanup(upstream.Close)
	t.Cleanup(backend.Close)
	port := itoa(freePort(t))
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	proxy := "\n\t\treverse_proxy " + strings.TrimPrefix(upstream.URL, "http://") + "\n\t}"
	site := payAndWebhookSite(port, upstream.URL, backend.URL, "")
	site = strings.TrimSuffix(site, "}\n") + `
	handle /wechat_v3/* {
		minipay wechat_v3 {
` + v3Merchant(t, v3PublicKeyMode(t)) + `			notify_url https://merchant.example/webhooks/wechat_v3
		}` + proxy + `
	handle /2c2p/* {
		minipay 2c2p {
			merchant_id ` + twoc2pMerchant + `
			secret_key ` + twoc2pKey + `
			app_id ` + appID + `
		}` + proxy + `
	handle /cbtis/* {
		minipay cbtis {` + cbtisBlock(upstream.URL+"/mch-api/v1/auth") + `
		}` + proxy + `
	handle /wxlogin/* {
		minipay wechat_login {
			app_id ` + appID + `
			app_secret ` + appSecret + `
		}` + proxy + latipayRoute("/latipay", upstream.URL, latipayAPIKey) + `
}
`
	tc := startCaddy(t, globalOptions(logFile)+site)
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
	pay := func(id, currency string) string {
		return `{"order_id":"` + id + `","amount":"12","currency":"` + currency + `","description":"Latte","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`
	}
	requests := []struct{ provider, path, body string }{
		{"wechat_v2", "/wechat/pay", pay("GONE-1", "CNY")},
		{"wechat_v3", "/wechat_v3/pay", pay("GONE-3", "CNY")},
		{"wechat_v3", "/wechat_v3/query", `{"order_id":"GONE-4"}`},
		{"2c2p", "/2c2p/pay", pay("GONE-5", "SGD")},
		{"latipay", "/latipay/query", `{"order_id":"GONE-6"}`},
		{"cbtis", "/cbtis/pay", pay("GONE-7", "HKD")},
		{"wechat_login", "/wxlogin/login", `{"code":"gone"}`},
	}
	for _, r := range requests {
		send(r.path, "application/json", r.body)
	}
	send("/webhooks/wechat_v2", "text/xml", xmlOf(notification(apiKey, wechatv2.SignMD5, set("out_trade_no", "GONE-2"))))

	// Each handler logs its line once reverse_proxy has given up.
	lines := map[string][]map[string]any{} // by provider and operation
	deadline := time.Now().Add(10 * time.Second)
	for len(lines) < len(requests)+1 {
		if time.Now().After(deadline) {
			t.Fatalf("no log line for every request (%d of %d): %s", len(lines), len(requests)+1, logText(t, logFile))
		}
		time.Sleep(20 * time.Millisecond)
		clear(lines)
		for line := range strings.Lines(logText(t, logFile)) {
			var l map[string]any
			if json.Unmarshal([]byte(line), &l) == nil && (l["msg"] == "minipay" || l["msg"] == "minipay webhook") {
				key := str(l["provider"]) + " " + str(l["operation"])
				lines[key] = append(lines[key], l)
			}
		}
	}
	for key, ls := range lines {
		if len(ls) != 1 {
			t.Errorf("%s: %d log lines, want 1: %v", key, len(ls), ls)
		}
		l := ls[0]
		if l["outcome"] != "client_closed" || l["status"] != float64(499) || l["level"] != "warn" {
			t.Errorf("%s: outcome %v, status %v, level %v, want client_closed 499 warn: %v", key, l["outcome"], l["status"], l["level"], l)
		}
		for _, k := range []string{"message", "reason"} {
			if strings.Contains(str(l[k]), "499") || strings.Contains(str(l[k]), "signature") {
				t.Errorf("%s: the log blames the upstream: %s %q", key, k, l[k])
			}
		}
	}

	series := minipaySeries(t, tc)
	want := map[string]float64{
		`caddy_minipay_webhooks_total{outcome="client_closed",provider="wechat_v2"}`:   1,
		`caddy_minipay_webhooks_total{outcome="merchant_failed",provider="wechat_v2"}`: 0,
	}
	for _, r := range requests {
		op := path.Base(r.path)
		for _, outcome := range []string{transform.CodeUpstreamError, transform.CodeUpstreamTimeout, transform.CodeSignatureInvalid, transform.CodeProviderRejected} {
			want[`caddy_minipay_requests_total{operation="`+op+`",outcome="`+outcome+`",provider="`+r.provider+`"}`] = 0
		}
		want[`caddy_minipay_requests_total{operation="`+op+`",outcome="client_closed",provider="`+r.provider+`"}`] = 1
		want[`caddy_minipay_upstream_duration_seconds_count{operation="`+op+`",provider="`+r.provider+`"}`] = 1
	}
	for name, want := range want {
		if got, ok := series[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
}

// TestCutBodyIsRefused: a body cut short, its sender's connection closed
// after part of a Content-Length or chunked body, or a sender that stalls
// past Caddy's read_body timeout, is refused with 400 (README "Observability",
// "Webhooks"): one warn line and one count each, invalid_request for the
// merchant API and unverified ("unreadable body") for a webhook, never
// client_closed, and nothing goes upstream. Go's server cannot tell a
// sender that went away from one that only closed its sending side and
// still reads the answer (TestWebhookSlowAndBrokenBodies).
func TestCutBodyIsRefused(t *testing.T) {
	unused := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a request whose body was cut reached %s", r.URL.Path)
	}))
	t.Cleanup(unused.Close)
	port := itoa(freePort(t))
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	global := strings.Replace(globalOptions(logFile), "grace_period 1ns", "grace_period 1ns\n\tservers {\n\t\ttimeouts {\n\t\t\tread_body 500ms\n\t\t}\n\t}", 1)
	tc := startCaddy(t, global+payAndWebhookSite(port, unused.URL, unused.URL, ""))
	const (
		payJSON    = "Content-Type: application/json\r\n"
		webhookXML = "Content-Type: text/xml\r\n"
		chunked    = "Transfer-Encoding: chunked"
	)
	cuts := []struct {
		name, path, head, partial string
		stall                     bool // the sender stays, sending nothing more
		status                    int  // what a sender that stays gets
	}{
		{"pay, Content-Length", "/wechat/pay", payJSON + "Content-Length: 200", `{"order_id":"CUT-1","amount":"12.34"`, false, 0},
		{"pay, chunked", "/wechat/pay", payJSON + chunked, "20\r\n{\"order_id\":\"CUT-2\",\"amount\":\"1", false, 0},
		{"webhook, Content-Length", "/webhooks/wechat_v2", webhookXML + "Content-Length: 900", "<xml><appid>" + appID, false, 0},
		{"webhook, chunked", "/webhooks/wechat_v2", webhookXML + chunked, "40\r\n<xml><appid>" + appID, false, 0},
		{"pay, stalled", "/wechat/pay", payJSON + "Content-Length: 200", `{"order_id":"STALL-1"`, true, http.StatusBadRequest},
		{"webhook, stalled", "/webhooks/wechat_v2", webhookXML + chunked, "40\r\n<xml><appid>" + appID, true, http.StatusBadRequest},
	}
	minipayLines := func() []map[string]any {
		var lines []map[string]any
		for line := range strings.Lines(logText(t, logFile)) {
			var l map[string]any
			if json.Unmarshal([]byte(line), &l) == nil && (l["msg"] == "minipay" || l["msg"] == "minipay webhook") {
				lines = append(lines, l)
			}
		}
		return lines
	}
	for i, c := range cuts {
		conn, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, "POST "+c.path+" HTTP/1.1\r\nHost: localhost\r\n"+c.head+"\r\n\r\n"+c.partial); err != nil {
			t.Fatal(err)
		}
		if c.stall {
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			res.Body.Close()
			if res.StatusCode != c.status {
				t.Errorf("%s: HTTP %d, want %d", c.name, res.StatusCode, c.status)
			}
		}
		conn.Close()
		// The next request is sent once this one's line is written, so
		// that line i is cut i's (a fixed 100 ms before the close let two
		// handlers of a loaded machine log out of order).
		for deadline := time.Now().Add(10 * time.Second); len(minipayLines()) <= i; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no minipay line after 10 s: %s", c.name, logText(t, logFile))
			}
		}
	}

	lines := minipayLines()
	if len(lines) != len(cuts) {
		t.Fatalf("%d minipay lines for %d cut requests: %v", len(lines), len(cuts), lines)
	}
	for i, l := range lines {
		want := map[string]any{"msg": "minipay", "outcome": "invalid_request", "status": float64(400), "level": "warn", "message": "the body could not be read"}
		if strings.HasPrefix(cuts[i].path, "/webhooks/") {
			want = map[string]any{"msg": "minipay webhook", "outcome": "unverified", "status": float64(400), "level": "warn", "reason": "unreadable body"}
		}
		for k, v := range want {
			if l[k] != v {
				t.Errorf("%s: %s %v, want %v: %v", cuts[i].name, k, l[k], v, l)
			}
		}
	}
	series := minipaySeries(t, tc)
	for name, want := range map[string]float64{
		`caddy_minipay_requests_total{operation="pay",outcome="client_closed",provider="wechat_v2"}`:   0,
		`caddy_minipay_requests_total{operation="pay",outcome="invalid_request",provider="wechat_v2"}`: 3,
		`caddy_minipay_upstream_duration_seconds_count{operation="pay",provider="wechat_v2"}`:          0,
		`caddy_minipay_webhooks_total{outcome="client_closed",provider="wechat_v2"}`:                   0,
		`caddy_minipay_webhooks_total{outcome="unverified",provider="wechat_v2"}`:                      3,
	} {
		if got, ok := series[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
}
