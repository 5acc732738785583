package caddymodule

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// provisionedMetrics is the metrics of a wechat_v2 minipay and
// minipay_webhook pair as their Provision leaves them, before any request.
func provisionedMetrics(t *testing.T) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	client, err := wechatv2.NewClient(wechatv2.Config{AppID: testAppID, MchID: testMchID, APIKey: testAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	m.operations(wechatv2.Name, client, zap.NewNop())
	m.webhookOutcomes(wechatv2.Name)
	return reg
}

// gathered is what reg exports: per metric, each series ("label=value,...")
// with its counter's value, and the label names of its first series.
type gathered struct {
	series map[string]map[string]float64
	labels map[string][]string
}

func gather(t *testing.T, reg *prometheus.Registry) gathered {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	g := gathered{series: map[string]map[string]float64{}, labels: map[string][]string{}}
	for _, f := range families {
		g.series[f.GetName()] = map[string]float64{}
		for i, m := range f.GetMetric() {
			var pairs, names []string
			for _, l := range m.GetLabel() {
				pairs = append(pairs, l.GetName()+"="+l.GetValue())
				names = append(names, l.GetName())
			}
			g.series[f.GetName()][strings.Join(pairs, ",")] = m.GetCounter().GetValue()
			if i == 0 {
				g.labels[f.GetName()] = names
			}
		}
	}
	return g
}

// TestMetricSeriesExistBeforeTheFirstEvent: every outcome README tells to
// alert on has its series at 0 from Provision on. A counter that appears
// at 1 with its first event is invisible to increase() and rate(), so the
// first forged answer or unverified notification after a start would
// raise no alert.
func TestMetricSeriesExistBeforeTheFirstEvent(t *testing.T) {
	g := gather(t, provisionedMetrics(t))
	tests := []struct{ metric, series string }{
		{"caddy_minipay_requests_total", "operation=pay,outcome=ok,provider=wechat_v2"},
		{"caddy_minipay_requests_total", "operation=pay,outcome=upstream_signature_invalid,provider=wechat_v2"},
		{"caddy_minipay_requests_total", "operation=refund,outcome=upstream_timeout,provider=wechat_v2"},
		{"caddy_minipay_requests_total", "operation=query,outcome=upstream_error,provider=wechat_v2"},
		{"caddy_minipay_requests_total", "operation=close,outcome=provider_rejected,provider=wechat_v2"},
		{"caddy_minipay_requests_total", "operation=unknown,outcome=unknown_operation,provider=wechat_v2"},
		{"caddy_minipay_webhooks_total", "outcome=acked,provider=wechat_v2"},
		{"caddy_minipay_webhooks_total", "outcome=unverified,provider=wechat_v2"},
		{"caddy_minipay_webhooks_total", "outcome=merchant_failed,provider=wechat_v2"},
		{"caddy_minipay_webhooks_total", "outcome=too_large,provider=wechat_v2"},
	}
	for _, tt := range tests {
		got := g.series[tt.metric]
		if v, ok := got[tt.series]; !ok || v != 0 {
			t.Errorf("%s{%s} = %v (present %v), want 0 before any request", tt.metric, tt.series, v, ok)
		}
	}
	// No series for an operation the provider lacks, nor "unknown" with another outcome.
	for s := range g.series["caddy_minipay_requests_total"] {
		if strings.Contains(s, "operation=login") || strings.Contains(s, "operation=unknown") && !strings.Contains(s, "outcome=unknown_operation") {
			t.Errorf("unexpected series %s", s)
		}
	}
}

// TestStorageFailureSeriesExistBeforeTheFirstFailure: README's checklist
// says to alert on caddy_minipay_storage_failures_total, so each operation
// of each use that has a shared store is at 0 from Provision on, for the
// reason TestMetricSeriesExistBeforeTheFirstEvent gives.
func TestStorageFailureSeriesExistBeforeTheFirstFailure(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.sharedStore(nil, "dedupe", zap.NewNop())
	m.sharedStore(nil, "cbtis", zap.NewNop())
	g := gather(t, reg)
	for _, use := range []string{"dedupe", "cbtis"} {
		for _, op := range []string{"lock", "unlock", "load", "store", "delete", "list"} {
			series := "operation=" + op + ",use=" + use
			if v, ok := g.series["caddy_minipay_storage_failures_total"][series]; !ok || v != 0 {
				t.Errorf("caddy_minipay_storage_failures_total{%s} = %v (present %v), want 0 before any failure", series, v, ok)
			}
		}
	}
	if n := len(g.series["caddy_minipay_storage_failures_total"]); n != 12 {
		t.Errorf("%d storage failure series, want 12 (six operations of two uses)", n)
	}
}

// TestMetricsAsREADMESays: the names, label sets and webhook outcomes of
// README "Observability" are those registered.
func TestMetricsAsREADMESays(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	section = section[strings.Index(section, "## Observability"):]
	section = section[:strings.Index(section[3:], "\n## ")+3]
	documented := map[string][]string{}
	for _, m := range regexp.MustCompile("`(caddy_minipay_[a-z_]+)\\{([a-z_,]+)\\}`").FindAllStringSubmatch(section, -1) {
		labels := strings.Split(m[2], ",")
		slices.Sort(labels)
		documented[m[1]] = labels
	}
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.requests.WithLabelValues("p", "o", "ok").Inc()
	m.upstream.WithLabelValues("p", "o").Observe(1)
	m.webhooks.WithLabelValues("p", "acked").Inc()
	m.storageFailures.WithLabelValues("cbtis", "load").Inc()
	registered := gather(t, reg).labels
	if len(documented) != len(registered) {
		t.Errorf("README lists %v, registered %v", documented, registered)
	}
	for name, labels := range registered {
		if !slices.Equal(documented[name], labels) {
			t.Errorf("%s: README labels %v, registered %v", name, documented[name], labels)
		}
	}

	outcomes := regexp.MustCompile("caddy_minipay_webhooks_total\\{provider,outcome\\}` \\(([^)]*)\\)").FindStringSubmatch(section)
	if outcomes == nil {
		t.Fatal("README lists no webhook outcomes")
	}
	var listed []string
	for _, o := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(outcomes[1], -1) {
		listed = append(listed, o[1])
	}
	if !slices.Equal(listed, webhookOutcomeNames) {
		t.Errorf("README webhook outcomes %v, the handler's %v", listed, webhookOutcomeNames)
	}
	for _, code := range requestErrorOutcomes {
		if !strings.Contains(string(readme), "| `"+code+"` |") {
			t.Errorf("outcome %s is no error code of README's Errors table", code)
		}
	}
	if !slices.Contains(requestErrorOutcomes, transform.CodeSignatureInvalid) {
		t.Error("upstream_signature_invalid is not pre-initialized")
	}
}

// minipay_webhook counts each notification under its outcome whether its
// counters were resolved in Provision or, for a Webhook made without it
// (the tests' own), looked up per notification: the same series, the same
// values (README Observability), and with Provision every outcome at 0
// before its first event.
func TestWebhookCountsWithAndWithoutProvision(t *testing.T) {
	merchant := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	for _, provisioned := range []bool{true, false} {
		reg := prometheus.NewRegistry()
		m, err := newMetrics(reg)
		if err != nil {
			t.Fatal(err)
		}
		h := &Webhook{providerHandler: providerHandler{name: "fake", logger: zap.NewNop(), metrics: m}, webhook: fakeNotifications{}}
		if provisioned {
			h.outcomes = m.webhookOutcomes(h.name) // as Provision does
		}
		for _, sig := range []string{"ok", "forged", "ok"} {
			r := httptest.NewRequest(http.MethodPost, "/webhooks/fake", strings.NewReader("ev-1"))
			r.Header.Set("X-Sig", sig)
			if err := h.ServeHTTP(httptest.NewRecorder(), r, merchant); err != nil {
				t.Fatal(err)
			}
		}
		want := map[string]float64{"outcome=acked,provider=fake": 2, "outcome=unverified,provider=fake": 1}
		if provisioned {
			for _, outcome := range []string{"duplicate", "in_progress", "merchant_failed", "too_large", "client_closed"} {
				want["outcome="+outcome+",provider=fake"] = 0
			}
		}
		if got := gather(t, reg).series["caddy_minipay_webhooks_total"]; !maps.Equal(got, want) {
			t.Errorf("provisioned %v: webhooks_total %v, want %v", provisioned, got, want)
		}
	}
}
