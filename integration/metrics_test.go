package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// minipaySeries reads every caddy_minipay_* counter series of the admin
// endpoint's /metrics (histograms by their _count), keyed by name and labels
// as Prometheus writes them.
func minipaySeries(t *testing.T, tc *caddytest.Tester) map[string]float64 {
	t.Helper()
	return minipaySeriesAt(t, tc, "http://"+adminAddr+"/metrics")
}

// minipaySeriesAt is minipaySeries read from url (a site's metrics handler).
func minipaySeriesAt(t *testing.T, tc *caddytest.Tester, url string) map[string]float64 {
	t.Helper()
	text := do(t, tc, http.MethodGet, url, "", nil).body
	series := map[string]float64{}
	for _, m := range seriesLine.FindAllStringSubmatch(string(text), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		series[m[1]] = v
	}
	return series
}

var seriesLine = regexp.MustCompile(`(?m)^(caddy_minipay_(?:requests_total|webhooks_total|upstream_duration_seconds_count)\{[^}]*\}) (\S+)$`)

// TestMetricsCountAndReload drives a known sequence of merchant calls and
// notifications (successes and every kind of failure) through a real Caddy
// and reads the admin endpoint's /metrics: each series holds exactly its
// count and every other series of README "Observability" exists at 0, no
// label holds an order id or a secret; a reload (a new configuration)
// starts every series again at 0, as README says, without a registration
// error; a reload that fails leaves the running configuration serving.
func TestMetricsCountAndReload(t *testing.T) {
	fake := fakeWeChat(t)
	merchant := newMerchantBackend(t)
	port := itoa(freePort(t))
	keyFile := filepath.Join(t.TempDir(), "api_key")
	if err := os.WriteFile(keyFile, []byte(apiKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// config gives the pay route payKey and the webhook route webhookKey.
	config := func(payKey, webhookKey string) string {
		wechat := func(key string) string {
			return `
			app_id ` + appID + `
			mch_id ` + mchID + `
			api_key ` + key + `
			sign_type HMAC-SHA256`
		}
		return globalOptions(filepath.Join(t.TempDir(), "caddy.log")) + `
:` + port + ` {
	handle /wechat/* {
		minipay wechat_v2 {` + wechat(payKey) + `
			notify_url http://localhost:` + port + `/webhooks/wechat_v2
			client_ip 127.0.0.1
		}
		reverse_proxy ` + strings.TrimPrefix(fake.URL, "http://") + ` {
			transport http {
				response_header_timeout ` + answerTimeout.String() + `
			}
		}
	}
	handle /webhooks/wechat_v2 {
		minipay_webhook wechat_v2 {` + wechat(webhookKey) + `
		}
		reverse_proxy ` + strings.TrimPrefix(merchant.srv.URL, "http://") + `
	}
	metrics /metrics
}
`
	}
	keyFromFile := "{file." + keyFile + "}"
	tc := startCaddy(t, config(keyFromFile, keyFromFile))
	base := "http://localhost:" + port
	pay := func(orderID string) int {
		return postJSON(t, tc, base+"/wechat/pay", `{"order_id":"`+orderID+`","amount":"12.34","currency":"CNY","description":"Latte","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`).status
	}
	valid := xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, nil))
	forged := xmlOf(notification(strings.Repeat("0", 32), wechatv2.SignHMACSHA256, nil))
	notify := func(body string) int {
		return do(t, tc, http.MethodPost, base+"/webhooks/wechat_v2", "text/xml", []byte(body)).status
	}

	const (
		requests = `caddy_minipay_requests_total{operation="%s",outcome="%s",provider="wechat_v2"}`
		webhooks = `caddy_minipay_webhooks_total{outcome="%s",provider="wechat_v2"}`
		upstream = `caddy_minipay_upstream_duration_seconds_count{operation="pay",provider="wechat_v2"}`
	)
	steps := []struct {
		name   string
		call   func() int
		status int
		series string // the series it adds one to
	}{
		{"pay", func() int { return pay("METRIC-1") }, 200, fmt.Sprintf(requests, "pay", "ok")},
		{"pay again", func() int { return pay("METRIC-2") }, 200, fmt.Sprintf(requests, "pay", "ok")},
		{"garbage answer", func() int { return pay("GARBAGE-3") }, 502, fmt.Sprintf(requests, "pay", "upstream_error")},
		{"HTTP 500 answer", func() int { return pay("HTTP500-4") }, 502, fmt.Sprintf(requests, "pay", "upstream_error")},
		{"forged answer", func() int { return pay("BADSIGN-5") }, 502, fmt.Sprintf(requests, "pay", "upstream_signature_invalid")},
		{"answer past the timeout", func() int { return pay("SLOW-6") }, 504, fmt.Sprintf(requests, "pay", "upstream_timeout")},
		{"invalid request", func() int {
			return postJSON(t, tc, base+"/wechat/pay", `{"order_id":"METRIC-7","currency":"CNY"}`).status
		}, 400, fmt.Sprintf(requests, "pay", "invalid_request")},
		{"GET", func() int { return do(t, tc, http.MethodGet, base+"/wechat/pay", "", nil).status }, 405, fmt.Sprintf(requests, "pay", "method_not_allowed")},
		{"unknown operation", func() int { return postJSON(t, tc, base+"/wechat/METRIC-8", `{}`).status }, 404,
			fmt.Sprintf(requests, "unknown", "unknown_operation")},
		{"notification", func() int { return notify(valid) }, 200, fmt.Sprintf(webhooks, "acked")},
		{"notification again", func() int { return notify(valid) }, 200, fmt.Sprintf(webhooks, "acked")},
		{"forged notification", func() int { return notify(forged) }, 401, fmt.Sprintf(webhooks, "unverified")},
	}
	want := map[string]float64{upstream: 6} // the six pays that reached the upstream
	for _, s := range steps {
		if got := s.call(); got != s.status {
			t.Fatalf("%s: HTTP %d, want %d", s.name, got, s.status)
		}
		want[s.series]++
	}
	merchant.status.Store(http.StatusInternalServerError)
	if got := notify(valid); got != http.StatusBadGateway {
		t.Fatalf("notification to a failing backend: HTTP %d, want 502", got)
	}
	want[fmt.Sprintf(webhooks, "merchant_failed")]++

	got := minipaySeries(t, tc)
	checkSeries(t, "after the sequence", got, want)
	for name := range got {
		if strings.Contains(name, "METRIC-") || strings.Contains(name, apiKey) {
			t.Errorf("a label holds a request's value: %s", name)
		}
	}

	// A new configuration: the rotated key comes from the Caddyfile itself.
	loader := adminLoader{client: tc.Client}
	if err := loader.load(config(apiKey, apiKey)); err != nil {
		t.Fatalf("reload: %v", err)
	}
	checkSeries(t, "after a reload", minipaySeries(t, tc), nil)
	if got := pay("METRIC-9"); got != http.StatusOK {
		t.Fatalf("pay after the reload: HTTP %d", got)
	}
	checkSeries(t, "after a reload and a pay", minipaySeries(t, tc), map[string]float64{fmt.Sprintf(requests, "pay", "ok"): 1, upstream: 1})

	// A configuration that cannot load (its key file is missing) is refused;
	// the running one keeps serving, and counting: a site's metrics handler
	// shows its series, the admin endpoint none of them until the next load
	// that succeeds (README Observability).
	missing := "{file." + filepath.Join(t.TempDir(), "missing") + "}"
	if err := loader.load(config(missing, missing)); err == nil || !strings.Contains(err.Error(), "api_key is required and empty") {
		t.Fatalf("a load with a missing key file: %v", err)
	}
	if got := pay("METRIC-10"); got != http.StatusOK {
		t.Fatalf("pay after a failed reload: HTTP %d", got)
	}
	checkSeries(t, "on the site after a failed reload", minipaySeriesAt(t, tc, base+"/metrics"),
		map[string]float64{fmt.Sprintf(requests, "pay", "ok"): 2, upstream: 2})
	if got := minipaySeries(t, tc); len(got) != 0 {
		t.Errorf("the admin endpoint after a reload failing at its first handler shows %d minipay series, want none", len(got))
	}

	// One that fails after a handler of it was provisioned (the webhook's,
	// which Caddy provisions before the pay route whose key is missing):
	// the admin endpoint then shows that handler's series of the failed
	// configuration, at 0 and never counting, not the running ones.
	if err := loader.load(config(missing, keyFromFile)); err == nil || !strings.Contains(err.Error(), "api_key is required and empty") {
		t.Fatalf("a load with the pay route's key file missing: %v", err)
	}
	if got := notify(forged); got != http.StatusUnauthorized {
		t.Fatalf("forged notification after a failed reload: HTTP %d", got)
	}
	unverified := fmt.Sprintf(webhooks, "unverified")
	checkSeries(t, "on the site after a second failed reload", minipaySeriesAt(t, tc, base+"/metrics"),
		map[string]float64{fmt.Sprintf(requests, "pay", "ok"): 2, upstream: 2, unverified: 1})
	admin := minipaySeries(t, tc)
	if v, ok := admin[unverified]; !ok || v != 0 {
		t.Errorf("the admin endpoint after a reload failing at its second handler: %s = %v (present %v), want 0 (the failed configuration's)", unverified, v, ok)
	}
	for name := range admin {
		if strings.HasPrefix(name, "caddy_minipay_requests_total") || strings.HasPrefix(name, "caddy_minipay_upstream") {
			t.Errorf("the admin endpoint after a reload failing at the pay route shows %s", name)
		}
	}
}

// checkSeries compares every README series of the wechat_v2 handlers with
// want (absent: 0). Each outcome of README "Observability" must exist.
func checkSeries(t *testing.T, when string, got, want map[string]float64) {
	t.Helper()
	ops := []string{"pay", "query", "close", "refund", "refund_query"}
	outcomes := []string{"ok", "invalid_request", "method_not_allowed", "request_too_large", "unsupported_media_type",
		"provider_rejected", "upstream_error", "upstream_signature_invalid", "upstream_timeout", "client_closed"}
	names := []string{`caddy_minipay_requests_total{operation="unknown",outcome="unknown_operation",provider="wechat_v2"}`}
	for _, op := range ops {
		for _, o := range outcomes {
			names = append(names, fmt.Sprintf(`caddy_minipay_requests_total{operation="%s",outcome="%s",provider="wechat_v2"}`, op, o))
		}
		names = append(names, fmt.Sprintf(`caddy_minipay_upstream_duration_seconds_count{operation="%s",provider="wechat_v2"}`, op))
	}
	for _, o := range []string{"acked", "duplicate", "in_progress", "unverified", "merchant_failed", "too_large", "client_closed"} {
		names = append(names, fmt.Sprintf(`caddy_minipay_webhooks_total{outcome="%s",provider="wechat_v2"}`, o))
	}
	for name := range want {
		if !slices.Contains(names, name) {
			t.Fatalf("%s: %s is not a README series", when, name)
		}
	}
	for _, name := range names {
		v, ok := got[name]
		if !ok {
			t.Errorf("%s: %s missing", when, name)
		} else if v != want[name] {
			t.Errorf("%s: %s = %v, want %v", when, name, v, want[name])
		}
	}
	for name := range got {
		if !slices.Contains(names, name) {
			t.Errorf("%s: unexpected series %s", when, name)
		}
	}
}
