package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// benchProvider is one provider's merchant side, webhook and sandbox, built
// from the same configuration as a route loads them.
type benchProvider struct {
	name    string
	client  transform.Client
	webhook transform.Webhook
	sandbox transform.Sandbox
	secrets transform.Secrets
}

// benchConfigs are each provider's configuration for the benchmarks: the
// merchant's (clientConfigs) with a notify_url, and what its sandbox adds
// (Caddyfile.example's minipay_sandbox).
func benchConfigs(tb testing.TB) (client, sandbox map[string]map[string]any) {
	keys, err := filepath.Abs("../examples/keys")
	if err != nil {
		tb.Fatal(err)
	}
	client = clientConfigs(tb)
	sandbox = map[string]map[string]any{}
	for name, c := range client {
		if name != "wechat_login" {
			c["notify_url"] = "https://merchant.example/webhooks/" + name
		}
		s := map[string]any{}
		for k, v := range c {
			s[k] = v
		}
		sandbox[name] = s
	}
	delete(sandbox["cbtis"], "token_url")
	sandbox["wechat_v3"]["platform_private_key"] = "{file." + keys + "/wechatpay_platform_key.pem}"
	sandbox["wechat_v3"]["platform_certificate"] = "{file." + keys + "/wechatpay_platform_cert.pem}"
	return client, sandbox
}

// newBenchProvider builds provider name's three sides. A cbtis client
// fetches its token from the sandbox, served on a loopback port for the
// benchmark's life.
func newBenchProvider(tb testing.TB, name string) *benchProvider {
	tb.Helper()
	clientCfg, sandboxCfg := benchConfigs(tb)
	p := &benchProvider{name: name}
	sp, err := resolveProvider(providerModule(tb, name, sandboxCfg[name]), transform.RoleSandbox)
	if err != nil {
		tb.Fatal(err)
	}
	if p.sandbox, err = sp.(sandboxProvider).NewSandbox(); err != nil {
		tb.Fatal(err)
	}
	if name == "cbtis" {
		srv := httptest.NewServer(p.sandbox)
		tb.Cleanup(srv.Close)
		clientCfg[name]["token_url"] = srv.URL + "/mch-api/v1/auth"
	}
	cp, err := resolveProvider(providerModule(tb, name, clientCfg[name]), transform.RoleClient)
	if err != nil {
		tb.Fatal(err)
	}
	if p.client, err = cp.(clientProvider).NewClient(); err != nil {
		tb.Fatal(err)
	}
	p.secrets = transform.NewSecrets(secretValues(cp)...)
	if wp, ok := providerModule(tb, name, clientCfg[name]).(webhookProvider); ok {
		rp, err := resolveProvider(wp.(provider), transform.RoleWebhook)
		if err != nil {
			tb.Fatal(err)
		}
		if p.webhook, err = rp.(webhookProvider).NewWebhook(); err != nil {
			tb.Fatal(err)
		}
	}
	return p
}

// handler is a minipay route of p as Provision sets it up, logging at
// level to nowhere.
func (p *benchProvider) handler(tb testing.TB, level zapcore.Level) *Handler {
	h := newTestHandlerOf(tb, p.name, p.client, io.Discard, level)
	h.secrets = p.secrets
	return h
}

// webhookHandler is a minipay_webhook route of p as Provision sets it up
// (without dedupe), logging at level to nowhere.
func (p *benchProvider) webhookHandler(tb testing.TB, level zapcore.Level) *Webhook {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		tb.Fatal(err)
	}
	logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), level))
	h := &Webhook{providerHandler: providerHandler{name: p.name, logger: logger, metrics: m, secrets: p.secrets}, webhook: p.webhook}
	h.lines = h.linesLogger()
	h.outcomes = m.webhookOutcomes(h.name)
	return h
}

// recorded is one answer of the sandbox, played back to every request.
type recorded struct {
	status int
	header http.Header
	body   []byte
}

// ServeHTTP answers as reverse_proxy writes an upstream's answer, after
// reading the request as it sends one.
func (a *recorded) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	_, _ = io.Copy(io.Discard, r.Body)
	h := w.Header()
	for k, v := range a.header {
		h[k] = v
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
	return nil
}

// call sends body to h's operation op, with next after it, and fails tb
// unless the answer is a 200.
func call(tb testing.TB, h *Handler, op, body string, next caddyhttp.Handler) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "http://minipay.local/"+h.name+"/"+op, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	if _ = h.ServeHTTP(w, r, next); w.Code != http.StatusOK {
		tb.Fatalf("%s %s: HTTP %d: %s", h.name, op, w.Code, w.Body)
	}
	return w
}

// record sends body to op once, the sandbox answering, and returns its
// answer to play back.
func (p *benchProvider) record(tb testing.TB, h *Handler, op, body string) (*recorded, []byte) {
	tb.Helper()
	var a *recorded
	w := call(tb, h, op, body, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		rw := httptest.NewRecorder()
		sent := r.Clone(r.Context())
		sent.RequestURI = "" // reverse_proxy sends r.URL's
		p.sandbox.ServeHTTP(rw, sent)
		a = &recorded{status: rw.Code, header: rw.Header().Clone(), body: rw.Body.Bytes()}
		return a.ServeHTTP(w, r)
	}))
	return a, w.Body.Bytes()
}

// benchOp is one operation of a provider with the merchant's body.
type benchOp struct{ op, body string }

// benchOrders are each provider's operations in the order of an order's
// life (a refund after the payment's completion), on order BENCH-<name>.
// Close comes last, on an order of its own.
func benchOrders(name string) (ops []benchOp, currency string) {
	currency = map[string]string{"wechat_v2": "CNY", "wechat_v3": "CNY", "2c2p": "SGD", "latipay": "NZD", "cbtis": "CNY"}[name]
	const order = `"order_id":"BENCH-1"`
	pay := `{` + order + `,"amount":"12.34","currency":"` + currency + `","description":"Latte","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","client_ip":"203.0.113.7"}`
	query := `{` + order + `}`
	refund := `{` + order + `,"refund_id":"BENCH-R1","amount":"12.34","total_amount":"12.34","currency":"` + currency + `"}`
	if name == "latipay" { // its refund names the order by Latipay's id, which the pay answer gives
		refund = `{` + order + `,"provider_order_id":"{provider_order_id}","refund_id":"BENCH-R1","amount":"12.34","currency":"` + currency + `"}`
	}
	refundQuery := `{` + order + `,"refund_id":"BENCH-R1"}`
	switch name {
	case "wechat_login":
		return []benchOp{{transform.OpLogin, `{"code":"0a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d"}`}}, ""
	case "2c2p":
		return []benchOp{{transform.OpPay, pay}}, currency
	case "latipay":
		return []benchOp{{transform.OpPay, pay}, {transform.OpQuery, query}, {transform.OpRefund, refund}}, currency
	case "cbtis":
		return []benchOp{{transform.OpPay, pay}, {transform.OpQuery, query}}, currency
	}
	return []benchOp{{transform.OpPay, pay}, {transform.OpQuery, query}, {transform.OpRefund, refund},
		{transform.OpRefundQuery, refundQuery}, {transform.OpClose, `{"order_id":"BENCH-2"}`}}, currency
}

// benchProviderNames are the providers the benchmarks cover.
var benchProviderNames = []string{"wechat_v2", "wechat_v3", "wechat_login", "2c2p", "latipay", "cbtis"}

// providerAnswers records, for provider name, the sandbox's answer to each
// operation of an order's life, and the notifications of its payment and
// (where the sandbox sends one) its refund.
func providerAnswers(tb testing.TB, p *benchProvider, h *Handler) (ops []benchOp, answers map[string]*recorded, notes map[string]*transform.Outbound) {
	tb.Helper()
	ops, currency := benchOrders(p.name)
	answers = map[string]*recorded{}
	notes = map[string]*transform.Outbound{}
	var paid struct {
		ProviderOrderID string `json:"provider_order_id"`
	}
	for i, o := range ops {
		if strings.Contains(o.body, "{provider_order_id}") {
			ops[i].body = strings.Replace(o.body, "{provider_order_id}", paid.ProviderOrderID, 1)
			o = ops[i]
		}
		if o.op == transform.OpClose {
			pay := strings.Replace(ops[0].body, "BENCH-1", "BENCH-2", 1)
			p.record(tb, h, transform.OpPay, pay)
		}
		if o.op == transform.OpRefund {
			out, _, err := p.sandbox.Complete("BENCH-1", true, time.Now())
			if err != nil {
				tb.Fatalf("%s: Complete: %v", p.name, err)
			}
			notes["payment"] = out
		}
		var merchant []byte
		answers[o.op], merchant = p.record(tb, h, o.op, o.body)
		if o.op == transform.OpPay {
			_ = json.Unmarshal(merchant, &paid)
		}
	}
	if _, ok := notes["payment"]; !ok && p.webhook != nil {
		out, _, err := p.sandbox.Complete("BENCH-1", true, time.Now())
		if err != nil {
			tb.Fatalf("%s: Complete: %v", p.name, err)
		}
		notes["payment"] = out
	}
	if rs, ok := p.sandbox.(transform.RefundSandbox); ok && p.webhook != nil && p.name != "latipay" {
		out, _, err := rs.CompleteRefund("BENCH-1", time.Now())
		if err == nil {
			notes["refund"] = out
		} else {
			tb.Logf("%s: no refund notification: %v (currency %s)", p.name, err, currency)
		}
	}
	return ops, answers, notes
}

// BenchmarkProviderOperations is the plugin's own work on each provider's
// operations through the handler, as BenchmarkHandlerPay is for wechat_v2's
// pay: read and check the merchant's request, build and sign the
// provider's, record the answer (the sandbox's, recorded once and played
// back), verify it, answer, count and log. Allocation counts are exact;
// ns/op moves with the machine's load.
//
//	go test -run '^$' -bench ProviderOperations -benchmem ./caddymodule/
func BenchmarkProviderOperations(b *testing.B) {
	for _, name := range benchProviderNames {
		p := newBenchProvider(b, name)
		h := p.handler(b, zapcore.InfoLevel)
		ops, answers, _ := providerAnswers(b, p, h)
		for _, o := range ops {
			b.Run(name+"/"+o.op, func(b *testing.B) {
				next := answers[o.op]
				ctx := context.WithValue(context.Background(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: "192.0.2.7"})
				b.ReportAllocs()
				for b.Loop() {
					r := httptest.NewRequestWithContext(ctx, http.MethodPost, "http://minipay.local/"+name+"/"+o.op, strings.NewReader(o.body))
					r.Header.Set("Content-Type", "application/json")
					w := httptest.NewRecorder()
					if _ = h.ServeHTTP(w, r, next); w.Code != http.StatusOK {
						b.Fatalf("HTTP %d: %s", w.Code, w.Body)
					}
				}
			})
		}
	}
}

// notification is out as the provider POSTs it to the webhook's route.
func notification(out *transform.Outbound) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://minipay.local/webhooks/n", bytes.NewReader(out.Body))
	for k, v := range out.Header {
		r.Header[k] = v
	}
	r.Header.Set("Content-Type", out.ContentType)
	return r
}

// BenchmarkProviderWebhooks is minipay_webhook's own work on each
// provider's payment (and refund) notification, as the sandbox signs it:
// verify, forward the event, acknowledge, count and log.
//
//	go test -run '^$' -bench ProviderWebhooks -benchmem ./caddymodule/
func BenchmarkProviderWebhooks(b *testing.B) {
	merchant := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	for _, name := range benchProviderNames {
		p := newBenchProvider(b, name)
		if p.webhook == nil {
			continue
		}
		_, _, notes := providerAnswers(b, p, p.handler(b, zapcore.InfoLevel))
		for _, kind := range []string{"payment", "refund"} {
			out := notes[kind]
			if out == nil {
				continue
			}
			b.Run(name+"/"+kind, func(b *testing.B) {
				h := p.webhookHandler(b, zapcore.InfoLevel)
				b.ReportAllocs()
				for b.Loop() {
					w := httptest.NewRecorder()
					if _ = h.ServeHTTP(w, notification(out), merchant); w.Code != http.StatusOK {
						b.Fatalf("HTTP %d: %s", w.Code, w.Body)
					}
				}
			})
		}
	}
}

// BenchmarkWebhookDedupe is minipay_webhook's dedupe on Caddy's storage
// (an in-memory one: the storage's own cost is not the figure): a first
// delivery (look the event up, take its lock, forward, store the
// acknowledgement, release) and a provider's retry of an acknowledged one
// (look it up, acknowledge without forwarding).
func BenchmarkWebhookDedupe(b *testing.B) {
	merchant := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	for _, retry := range []bool{false, true} {
		b.Run(map[bool]string{false: "first", true: "duplicate"}[retry], func(b *testing.B) {
			m, err := newMetrics(prometheus.NewRegistry())
			if err != nil {
				b.Fatal(err)
			}
			logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zapcore.InfoLevel))
			h := &Webhook{providerHandler: providerHandler{name: "fake", logger: logger, metrics: m}, webhook: fakeNotifications{}, Dedupe: DedupeWindow(25 * time.Hour)}
			h.lines, h.outcomes = h.linesLogger(), m.webhookOutcomes(h.name)
			h.dedupe = newDeduper(&sharedStore{inner: transformtest.NewMemStore(), use: "dedupe", logger: zap.NewNop(), failures: m.storageFailures},
				"fake", merchantTag([]string{"key-a"}, nil), time.Duration(h.Dedupe), zap.NewNop())
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				id := "fake:4200000001:payment.succeeded"
				if !retry {
					n++
					id = "fake:" + strconv.Itoa(n) + ":payment.succeeded"
				}
				r := httptest.NewRequest(http.MethodPost, "/webhooks/fake", strings.NewReader(id))
				r.Header.Set("X-Sig", "ok")
				w := httptest.NewRecorder()
				if _ = h.ServeHTTP(w, r, merchant); w.Code != http.StatusOK {
					b.Fatalf("HTTP %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
