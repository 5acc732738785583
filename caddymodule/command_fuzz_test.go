package caddymodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/minipay/caddy-minipay/transform"
)

// fuzzAt is the fuzz targets' time of receipt (--at), so that a verdict
// does not depend on when they run.
const fuzzAt = "1795917606"

// fuzzProvider is a provider's webhook settings and, for a provider that
// signs in headers, the headers carrying a signature.
type fuzzProvider struct {
	name string
	sets []string
	hdr  func(sig string) []string
}

// fuzzProviders are the providers that send notifications, configured with
// their published vectors' credentials (command_test.go).
func fuzzProviders(tb testing.TB) []fuzzProvider {
	pub, err := os.ReadFile(filepath.Join("..", "examples", "keys", "wechatpay_pub_key.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	return []fuzzProvider{
		{"wechat_v2", []string{"app_id=wx8888888888888888", "mch_id=1900000109", "api_key=8934e7d15453e97507ef794cf7b0519d", "sign_type=HMAC-SHA256"}, nil},
		{"cbtis", []string{"api_key=6d0e8fa7b10c40c3a48c0c2be41cb178"}, func(sig string) []string { return []string{"Signature: " + sig} }},
		{"latipay", []string{"api_key=111222333", "currency=NZD"}, nil},
		{"2c2p", []string{"merchant_id=JT01", "secret_key=7jYcp4FxFdf0"}, nil},
		{"wechat_v3", []string{"app_id=wx8888888888888888", "mch_id=1900000109", "api_v3_key=sandbox-apiv3-key-0123456789abcd",
			"public_key=" + string(pub), "public_key_id=PUB_KEY_ID_0119000001092026112900000000000001"},
			func(sig string) []string {
				return []string{"Wechatpay-Serial: PUB_KEY_ID_0119000001092026112900000000000001", "Wechatpay-Timestamp: " + fuzzAt,
					"Wechatpay-Nonce: n0nce", "Wechatpay-Signature: " + sig}
			}},
	}
}

// fuzzWebhooks are the providers' webhooks, clocked at fuzzAt.
func fuzzWebhooks(tb testing.TB, providers []fuzzProvider) []transform.Explainer {
	webhooks := make([]transform.Explainer, len(providers))
	for i, p := range providers {
		var err error
		if webhooks[i], _, err = explainerFor(p.name, p.sets); err != nil {
			tb.Fatal(err)
		}
		if c, ok := webhooks[i].(transform.Clocked); ok {
			c.SetClock(func() time.Time { return time.Unix(1795917606, 0) })
		}
	}
	return webhooks
}

// fuzzWebhookHandlers are minipay_webhook handlers of the webhooks.
func fuzzWebhookHandlers(tb testing.TB, providers []fuzzProvider, webhooks []transform.Explainer) []*Webhook {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		tb.Fatal(err)
	}
	handlers := make([]*Webhook, len(providers))
	for i, p := range providers {
		handlers[i] = &Webhook{providerHandler: providerHandler{name: p.name, logger: zap.NewNop(), metrics: m},
			webhook: webhooks[i].(transform.Webhook)}
	}
	return handlers
}

// verifyRequest is the `caddy minipay verify` command line for p's
// webhook, reading body from stdin with headers (--header), and the
// notification the webhook gets for the same request.
func verifyRequest(p fuzzProvider, headers []string, body []byte) ([]string, transform.Notification) {
	args := []string{"verify", "--provider", p.name, "--at", fuzzAt, "--file", "-"}
	for _, s := range p.sets {
		args = append(args, "--set", s)
	}
	n := transform.Notification{Header: http.Header{}, Body: body}
	// A whole HTTP message is judged by what it carries; a --header
	// replaces its header of that name.
	if header, inner, ok, err := splitHTTPMessage(body); ok && err == nil {
		n = transform.Notification{Header: header, Body: inner}
	}
	flagged := http.Header{}
	for _, h := range headers {
		args = append(args, "--header", h)
		k, v, _ := strings.Cut(h, ":")
		flagged.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	for k, v := range flagged {
		n.Header[k] = v
	}
	return args, n
}

// verifyLineKeys are the keys `caddy minipay verify` prints, in order.
var verifyLineKeys = []string{"provider", "kind", "sign_type", "string_to_sign", "expected", "received", "verdict"}

// FuzzVerifyCommand: `caddy minipay verify` reads any input for any
// provider without panicking, exits 0, 1 or 2, prints only its seven
// "key: value" lines (newlines in values escaped), and its verdict is the
// webhook's: valid exactly when Verify accepts a notification, or when an
// API answer verifies (which the webhook refuses).
func FuzzVerifyCommand(f *testing.F) {
	v2, err := os.ReadFile(filepath.Join("testdata", "wechat_v2-notification.xml"))
	if err != nil {
		f.Fatal(err)
	}
	providers := fuzzProviders(f)
	f.Add(uint8(0), v2, "")
	f.Add(uint8(0), append([]byte("POST /webhooks/wechat_v2 HTTP/1.1\r\nContent-Length: "+strconv.Itoa(len(v2))+"\r\n\r\n"), v2...), "")
	f.Add(uint8(0), []byte(v2FailAnswer), "")
	f.Add(uint8(1), []byte(cbtisBody), cbtisSig)
	f.Add(uint8(1), []byte(cbtisCreateAnswer), cbtisCreateAnswerSig)
	f.Add(uint8(2), []byte(latipayBody), "")
	f.Add(uint8(2), []byte(latipayAnswer), "")
	f.Add(uint8(3), []byte(twoc2pEnvelope), "")
	f.Add(uint8(4), []byte(`{"id":"EV-1","resource":{}}`), "x")
	f.Add(uint8(4), []byte{}, "")
	webhooks := fuzzWebhooks(f, providers)
	f.Fuzz(func(t *testing.T, which uint8, body []byte, sig string) {
		i := int(which) % len(providers)
		p := providers[i]
		var headers []string
		if p.hdr != nil {
			headers = p.hdr(sig)
		}
		args, n := verifyRequest(p, headers, body)
		var out, errOut bytes.Buffer
		code := runMinipay(args, bytes.NewReader(body), &out, &errOut)
		if code == exitUsage {
			if out.Len() != 0 {
				t.Fatalf("usage exit with output %q", out.String())
			}
			return
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		k := 0
		for _, l := range lines {
			for k < len(verifyLineKeys) && !strings.HasPrefix(l, verifyLineKeys[k]+": ") {
				k++
			}
			if k == len(verifyLineKeys) {
				t.Fatalf("unexpected line %q in %q", l, out.String())
			}
			k++
		}
		valid := strings.HasSuffix(out.String(), "verdict: valid\n")
		if code != exitValid && code != exitInvalid || valid != (code == exitValid) {
			t.Fatalf("exit %d with %q", code, out.String())
		}
		// An answer is judged by ExplainAnswer where the provider has one, and
		// the webhook never forwards it; a notification's verdict is Verify's.
		// Latipay's query answer is the exception: it has the members and the
		// signature of Latipay's JSON notification, which the webhook reads
		// (README Latipay), so the webhook's verdict must then be verify's.
		_, err := webhooks[i].Explain(n, nil)
		// Whatever a webhook refuses, it refuses with one of the kit's four
		// errors (README Development, "Adding a provider"), which its
		// callers tell apart.
		if err != nil && !slices.ContainsFunc([]error{transform.ErrMalformed, transform.ErrUnsigned, transform.ErrBadSignature, transform.ErrForeign},
			func(kit error) bool { return errors.Is(err, kit) }) {
			t.Fatalf("%s: the webhook refuses with %v, none of transform's webhook errors: %q", p.name, err, body)
		}
		if strings.Contains(out.String(), "\nkind: answer\n") && (err != nil || p.name != "latipay") {
			if err == nil {
				t.Fatalf("%s: the webhook accepts what verify calls an answer: %q", p.name, body)
			}
			// Explaining, a wechat_v2 answer is read to the route's bounds,
			// past a notification's (README caddy minipay verify).
			_, err = webhooks[i].Explain(n, &transform.Explanation{})
			if ae, ok := webhooks[i].(transform.AnswerExplainer); ok {
				if isAnswer, aerr := ae.ExplainAnswer(n, nil); isAnswer {
					err = aerr
				}
			}
			if errors.Is(err, transform.ErrSignedAnswer) {
				err = nil
			}
		}
		if valid != (err == nil) {
			t.Fatalf("%s: verdict valid=%v, the webhook's %v: %q", p.name, valid, err, body)
		}
	})
}

// FuzzWebhookHandler: minipay_webhook, for any provider, method, body and
// merchant answer, forwards only what the provider's Verify accepts (the
// event as JSON, with a valid Minipay-Event-Id), answers the provider's
// ACK only after a 2xx from the merchant, and otherwise its failure form
// (Nack's Content-Type) with a 4xx or 5xx; never a 500.
func FuzzWebhookHandler(f *testing.F) {
	v2, err := os.ReadFile(filepath.Join("testdata", "wechat_v2-notification.xml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), true, v2, "", 200)
	f.Add(uint8(1), true, []byte(cbtisBody), cbtisSig, 204)
	f.Add(uint8(1), true, []byte(cbtisBody), cbtisSig, 500)
	f.Add(uint8(2), true, []byte(latipayBody), "", 200)
	f.Add(uint8(3), true, []byte(twoc2pEnvelope), "", 200)
	f.Add(uint8(4), true, []byte(`{}`), "x", 200)
	f.Add(uint8(1), false, []byte(cbtisBody), cbtisSig, 200)
	providers := fuzzProviders(f)
	webhooks := fuzzWebhooks(f, providers)
	handlers := fuzzWebhookHandlers(f, providers, webhooks)
	f.Fuzz(func(t *testing.T, which uint8, post bool, body []byte, sig string, merchantStatus int) {
		if merchantStatus < 200 || merchantStatus > 599 {
			return // a final status
		}
		i := int(which) % len(providers)
		method := http.MethodPost
		if !post {
			method = http.MethodPut
		}
		r := httptest.NewRequest(method, "/webhooks/"+providers[i].name, bytes.NewReader(body))
		n := transform.Notification{Header: http.Header{}, Body: body}
		if providers[i].hdr != nil {
			for _, h := range providers[i].hdr(sig) {
				k, v, _ := strings.Cut(h, ":")
				r.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
				n.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
		}
		var forwarded []byte
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			forwarded, _ = io.ReadAll(r.Body)
			if id := r.Header.Get("Minipay-Event-Id"); id == "" || strings.ContainsFunc(id, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
				t.Fatalf("event id %q", id)
			}
			w.WriteHeader(merchantStatus)
			return nil
		})
		w := httptest.NewRecorder()
		if err := handlers[i].ServeHTTP(w, r, next); err != nil {
			t.Fatal(err)
		}
		ev, verr := webhooks[i].Explain(n, nil)
		if forwarded != nil {
			if !post || verr != nil || !json.Valid(forwarded) || !bytes.Equal(forwarded, transform.Marshal(ev)) {
				t.Fatalf("%s forwarded %q for %q (Verify %v)", providers[i].name, forwarded, body, verr)
			}
		} else if post && verr == nil && len(body) <= maxBody {
			t.Fatalf("%s did not forward a verified notification: %d %q", providers[i].name, w.Code, w.Body)
		}
		ackStatus, ackType, ack := webhooks[i].(transform.Webhook).Ack()
		nackType, _ := webhooks[i].(transform.Webhook).Nack("")
		switch {
		case forwarded != nil && merchantStatus <= 299:
			if w.Code != ackStatus || !bytes.Equal(w.Body.Bytes(), ack) || ackType != "" && w.Header().Get("Content-Type") != ackType {
				t.Fatalf("ACK %d %q", w.Code, w.Body)
			}
		case w.Code < 400 || w.Code == 500 || w.Header().Get("Content-Type") != nackType:
			t.Fatalf("%s: %d %q %q after merchant %d", providers[i].name, w.Code, w.Header().Get("Content-Type"), w.Body, merchantStatus)
		}
	})
}
