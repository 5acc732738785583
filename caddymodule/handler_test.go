package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
	"unsafe"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/headers"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// Test credentials of nobody.
const (
	testAppID  = "wx8888888888888888"
	testMchID  = "1900000109"
	testAPIKey = "8934e7d15453e97507ef794cf7b0519d"
	payJSON    = `{"order_id":"BENCH-1","amount":"12.34","currency":"CNY","description":"Latte","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`
)

// newTestHandler is a provisioned wechat_v2 Handler without Caddy: the
// same fields Provision sets, a JSON logger at level writing to log.
func newTestHandler(tb testing.TB, log io.Writer, level zapcore.Level) *Handler {
	tb.Helper()
	client, err := wechatv2.NewClient(wechatv2.Config{AppID: testAppID, MchID: testMchID, APIKey: testAPIKey,
		NotifyURL: "https://merchant.example/webhooks/wechat_v2", ClientIP: "127.0.0.1"})
	if err != nil {
		tb.Fatal(err)
	}
	return newTestHandlerOf(tb, wechatv2.Name, client, log, level)
}

// newTestHandlerOf is newTestHandler for any provider's client.
func newTestHandlerOf(tb testing.TB, name string, client transform.Client, log io.Writer, level zapcore.Level) *Handler {
	tb.Helper()
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		tb.Fatal(err)
	}
	logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(log), level))
	return &Handler{providerHandler: providerHandler{name: name, logger: logger, metrics: m}, client: client, ops: m.operations(name, client, logger),
		noCallerIP: !readsCallerIP(client)}
}

// signedPayAnswer is a unifiedorder success answer signed with testAPIKey.
func signedPayAnswer() []byte {
	p := transform.Params{
		{Name: "return_code", Value: "SUCCESS"}, {Name: "return_msg", Value: "OK"},
		{Name: "appid", Value: testAppID}, {Name: "mch_id", Value: testMchID},
		{Name: "nonce_str", Value: "IITRi8Iabbblz1Jc"}, {Name: "result_code", Value: "SUCCESS"},
		{Name: "prepay_id", Value: "wx201411101639507cbf6ffd8b0779950874"}, {Name: "trade_type", Value: "JSAPI"},
	}
	p = append(p, transform.Param{Name: "sign", Value: wxpay.Sign(p, testAPIKey, wxpay.SignMD5)})
	return transform.AppendFlatXML(nil, "xml", p)
}

// upstream plays reverse_proxy: it reads the signed request and answers the
// way reverse_proxy writes an upstream's answer.
func upstream(answer []byte) caddyhttp.Handler {
	return caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("Set-Cookie", "upstream=1")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(answer)
		return nil
	})
}

func pay(h *Handler, next caddyhttp.Handler) *httptest.ResponseRecorder {
	return payWith(h, next, payJSON)
}

// payWith sends body to the handler's pay operation.
func payWith(h *Handler, next caddyhttp.Handler, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "http://minipay.local/wechat/pay", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	_ = h.ServeHTTP(w, r, next)
	return w
}

// BenchmarkHandlerPay is the plugin's own work on one pay, without the
// network: read and check the merchant's request, sign, rewrite the request,
// record the answer, verify it, answer, count and log. Allocation counts are
// the figure to watch (go test -run '^$' -bench HandlerPay -benchmem ./caddymodule/).
// The request carries the client IP variable Caddy sets on every request.
func BenchmarkHandlerPay(b *testing.B) {
	h := newTestHandler(b, io.Discard, zapcore.InfoLevel)
	next := upstream(signedPayAnswer())
	ctx := context.WithValue(context.Background(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: "192.0.2.7"})
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequestWithContext(ctx, http.MethodPost, "http://minipay.local/wechat/pay", strings.NewReader(payJSON))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		if _ = h.ServeHTTP(w, r, next); w.Code != http.StatusOK {
			b.Fatalf("HTTP %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkHandlerRefusedPay is the answer to a pay refused before
// anything is sent (an unknown member before order_id): the 400, its count
// and its log line naming the order, the body read once.
func BenchmarkHandlerRefusedPay(b *testing.B) {
	h := newTestHandler(b, io.Discard, zapcore.InfoLevel)
	const body = `{"total_fee":1234,"order_id":"BENCH-1","amount":"12.34","currency":"CNY","description":"Latte","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`
	b.ReportAllocs()
	for b.Loop() {
		if w := payWith(h, nil, body); w.Code != http.StatusBadRequest {
			b.Fatalf("HTTP %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkHandlerUnknownOperation is the answer to a request for an
// operation the provider lacks: the 404, its count and its log line, with
// the secrets a wechat_v3 route holds configured (its answer is checked
// for them).
func BenchmarkHandlerUnknownOperation(b *testing.B) {
	h := newTestHandler(b, io.Discard, zapcore.InfoLevel)
	h.secrets = pemSizedSecrets
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "http://minipay.local/wechat/capture", strings.NewReader(payJSON))
		w := httptest.NewRecorder()
		if _ = h.ServeHTTP(w, r, nil); w.Code != http.StatusNotFound {
			b.Fatalf("HTTP %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkWebhook is minipay_webhook's own work on one notification
// acknowledged (a provider that verifies without cryptography): forward
// the event, acknowledge, count and log, with the acknowledged line
// written (info) and dropped by the level (warn).
func BenchmarkWebhook(b *testing.B) {
	merchant := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	for _, level := range []zapcore.Level{zapcore.InfoLevel, zapcore.WarnLevel} {
		b.Run(level.String(), func(b *testing.B) {
			m, err := newMetrics(prometheus.NewRegistry())
			if err != nil {
				b.Fatal(err)
			}
			logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), level))
			h := &Webhook{providerHandler: providerHandler{name: "fake", logger: logger, metrics: m}, webhook: fakeNotifications{}}
			h.lines = h.linesLogger() // as Provision does
			h.outcomes = m.webhookOutcomes(h.name)
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/webhooks/fake", strings.NewReader("ev-1"))
				r.Header.Set("X-Sig", "ok")
				w := httptest.NewRecorder()
				if _ = h.ServeHTTP(w, r, merchant); w.Code != http.StatusOK {
					b.Fatalf("HTTP %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// TestHandlerAnswers checks what the merchant gets when reverse_proxy
// records a good answer, an answer it cuts short, and one too large, and
// when nothing after minipay answers at all; nothing of the upstream's
// answer (headers, 1xx) reaches the merchant.
func TestHandlerAnswers(t *testing.T) {
	answer := signedPayAnswer()
	huge := make([]byte, 64<<10)
	tests := []struct {
		name       string
		next       caddyhttp.Handler
		wantStatus int
		wantCode   string // the error code; "" for a success
		wantMsg    string // the start of the error's message, when it matters
	}{
		{"signed answer", upstream(answer), 200, "", ""},
		{"early hints first", caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			return upstream(answer).ServeHTTP(w, r)
		}), 200, "", ""},
		{"aborted mid-answer (reverse_proxy's panic)", caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(answer[:20])
			panic(http.ErrAbortHandler)
		}), 502, transform.CodeUpstreamError, "the provider's answer was cut short"},
		{"answer past 1 MiB", caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			w.WriteHeader(http.StatusOK)
			for range 64 { // 4 MiB offered; the recorder must refuse after the first MiB
				if _, err := w.Write(huge); err != nil {
					return nil // reverse_proxy stops copying at the first failed write
				}
			}
			return nil
		}), 502, transform.CodeUpstreamError, ""},
		{"reverse_proxy's 502", caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
			return caddyhttp.Error(http.StatusBadGateway, io.ErrUnexpectedEOF)
		}), 502, transform.CodeUpstreamError, "the provider could not be reached"},
		{"reverse_proxy's 504", caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
			return caddyhttp.Error(http.StatusGatewayTimeout, io.ErrUnexpectedEOF)
		}), 504, transform.CodeUpstreamTimeout, ""},
		// A route whose reverse_proxy does not match the provider's path:
		// Caddy's empty 200 is no answer of the provider's.
		{"nothing after minipay answered", caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
			return nil
		}), 502, transform.CodeUpstreamError, "no handler after minipay answered"},
		{"an empty 200 the upstream sent", caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
			w.WriteHeader(http.StatusOK)
			return nil
		}), 502, transform.CodeUpstreamError, "the provider's answer is not valid XML"},
		// Two minipay handlers in one route (one matcher, or none, in one
		// handle block): the second gets the provider's request where
		// reverse_proxy was expected, and its 404 is no provider's answer.
		{"another minipay next in the route", nextMinipay(t), 502, transform.CodeUpstreamError,
			"no reverse_proxy after minipay: the next handler in its route is minipay wechat_v2 (give each its own handle block)"},
		{"a minipay_webhook next in the route", caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			return instance(t, nil, 0).ServeHTTP(w, r, upstream(answer))
		}), 502, transform.CodeUpstreamError, "no reverse_proxy after minipay: the next handler in its route is minipay_webhook fake (give"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log strings.Builder
			w := pay(newTestHandler(t, &log, zapcore.InfoLevel), tt.next)
			if w.Code != tt.wantStatus {
				t.Fatalf("HTTP %d, want %d: %s", w.Code, tt.wantStatus, w.Body)
			}
			if got := w.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q", got)
			}
			if w.Header().Get("Set-Cookie") != "" || w.Header().Get("Link") != "" {
				t.Errorf("the upstream's headers reached the merchant: %v", w.Header())
			}
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("not JSON: %s", w.Body)
			}
			if tt.wantCode == "" {
				if body["package"] != "prepay_id=wx201411101639507cbf6ffd8b0779950874" {
					t.Errorf("answer %s", w.Body)
				}
			} else if e, _ := body["error"].(map[string]any); e["code"] != tt.wantCode {
				t.Errorf("answer %s, want code %s", w.Body, tt.wantCode)
			} else if msg, _ := e["message"].(string); !strings.HasPrefix(msg, tt.wantMsg) {
				t.Errorf("message %q, want it to begin %q", msg, tt.wantMsg)
			}
			outcome := tt.wantCode
			if outcome == "" {
				outcome = "ok"
			}
			if !strings.Contains(log.String(), `"outcome":"`+outcome+`"`) {
				t.Errorf("log line: %s", log.String())
			}
		})
	}
}

// nextMinipay is a minipay handler placed right after another in its
// route, with reverse_proxy answering after it.
func nextMinipay(t *testing.T) caddyhttp.Handler {
	return caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return newTestHandler(t, io.Discard, zapcore.InfoLevel).ServeHTTP(w, r, upstream(signedPayAnswer()))
	})
}

// TestRecorderStopsAtLimit checks that the recorder refuses writes past
// maxAnswer, so reverse_proxy stops reading the upstream there.
func TestRecorderStopsAtLimit(t *testing.T) {
	rec := getRecorder()
	defer rec.release()
	chunk := make([]byte, 100<<10)
	written := 0
	err := rec.record(httptest.NewRequest(http.MethodGet, "/", nil), caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
		for range 20 {
			n, err := w.Write(chunk)
			written += n
			if err != nil {
				return err
			}
		}
		return nil
	}))
	if err != errTooLarge {
		t.Fatalf("err %v, want errTooLarge", err)
	}
	if written > maxAnswer || rec.body.Len() > maxAnswer {
		t.Errorf("wrote %d, kept %d; the limit is %d", written, rec.body.Len(), maxAnswer)
	}
}

// TestHandlerLogLevels: a success is one INFO line and a failure one WARN
// line, so a logger at WARN keeps only the failures; each line names the
// provider and operation (encoded once per operation logger) and its own
// fields exactly once.
func TestHandlerLogLevels(t *testing.T) {
	answer := signedPayAnswer()
	forged := bytes.Replace(answer, []byte("wx201411101639507cbf6ffd8b0779950874"), []byte("wx201411101639507cbf6ffd8b0779950875"), 1)
	if bytes.Equal(forged, answer) {
		t.Fatal("the answer has no prepay_id to change")
	}
	const noAmount = `{"order_id":"BENCH-1","currency":"CNY","description":"Latte","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`
	tests := []struct {
		name   string
		level  zapcore.Level
		body   string
		answer []byte
		status int
		want   map[string]any // the one line's fields; nil: no line
	}{
		{"success at WARN", zapcore.WarnLevel, payJSON, answer, 200, nil},
		{"forged answer at WARN", zapcore.WarnLevel, payJSON, forged, 502, map[string]any{"level": "warn", "msg": "minipay",
			"provider": "wechat_v2", "operation": "pay", "outcome": transform.CodeSignatureInvalid, "status": 502.0, "order_id": "BENCH-1",
			"message": "the provider's answer carries no signature that verifies"}},
		{"invalid request at WARN", zapcore.WarnLevel, noAmount, answer, 400, map[string]any{"level": "warn", "msg": "minipay",
			"provider": "wechat_v2", "operation": "pay", "outcome": transform.CodeInvalidRequest, "status": 400.0,
			"order_id": "BENCH-1", "message": "amount is required", "field": "amount"}},
		{"success at INFO", zapcore.InfoLevel, payJSON, answer, 200, map[string]any{"level": "info", "msg": "minipay",
			"provider": "wechat_v2", "operation": "pay", "outcome": "ok", "status": 200.0, "order_id": "BENCH-1"}},
		{"forged answer at INFO", zapcore.InfoLevel, payJSON, forged, 502, map[string]any{"level": "warn", "msg": "minipay",
			"provider": "wechat_v2", "operation": "pay", "outcome": transform.CodeSignatureInvalid, "status": 502.0, "order_id": "BENCH-1",
			"message": "the provider's answer carries no signature that verifies"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log strings.Builder
			if w := payWith(newTestHandler(t, &log, tt.level), upstream(tt.answer), tt.body); w.Code != tt.status {
				t.Fatalf("HTTP %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.want == nil {
				if log.Len() != 0 {
					t.Fatalf("a success logged at %s: %s", tt.level, log.String())
				}
				return
			}
			lines := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
			if log.Len() == 0 || len(lines) != 1 {
				t.Fatalf("%d lines, want 1:\n%s", len(lines), log.String())
			}
			keys := logKeys(t, lines[0])
			for k, n := range keys {
				if n != 1 {
					t.Errorf("%q appears %d times: %s", k, n, lines[0])
				}
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v: %s", k, got[k], v, lines[0])
				}
			}
			if d, ok := got["duration"].(float64); !ok || d <= 0 {
				t.Errorf("duration %v: %s", got["duration"], lines[0])
			}
			for k := range got {
				if _, known := tt.want[k]; !known && k != "duration" && k != "ts" {
					t.Errorf("unexpected field %s: %s", k, lines[0])
				}
			}
		})
	}
}

// logKeys counts the top-level keys of a JSON log line as written (a map
// would hide a key written twice).
func logKeys(t *testing.T, line string) map[string]int {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", line)
	}
	keys := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		keys[tok.(string)]++
	}
	return keys
}

// TestMerchantRequestRules checks README "Errors"'s request rules at the
// handler: a 405 says which method to use (RFC 9110 §15.5.6: a 405 MUST
// carry Allow), and a body in a content coding the handler does not decode
// is refused like any other media it cannot read (RFC 9110 §15.5.16),
// instead of failing later as "not valid JSON".
func TestMerchantRequestRules(t *testing.T) {
	tests := []struct {
		name, method, contentType, contentEncoding string
		status                                     int
		code, allow                                string
	}{
		{"GET", http.MethodGet, "", "", 405, transform.CodeMethodNotAllowed, "POST"},
		{"PUT", http.MethodPut, "application/json", "", 405, transform.CodeMethodNotAllowed, "POST"},
		{"HEAD", http.MethodHead, "", "", 405, transform.CodeMethodNotAllowed, "POST"},
		{"gzip body", http.MethodPost, "application/json", "gzip", 415, transform.CodeUnsupportedMediaType, ""},
		{"br body", http.MethodPost, "application/json", "br", 415, transform.CodeUnsupportedMediaType, ""},
		// Every coding of the list counts, on one header line or several (RFC 9110 §8.4).
		{"identity, gzip", http.MethodPost, "application/json", "identity, gzip", 415, transform.CodeUnsupportedMediaType, ""},
		{"identity, then gzip on a second line", http.MethodPost, "application/json", "identity\ngzip", 415, transform.CodeUnsupportedMediaType, ""},
		{"identity coding", http.MethodPost, "application/json", "identity", 200, "", ""},
		// A list is read up to transform.MaxCodingElements elements, empty
		// ones included; a longer one (a header line of a megabyte) is
		// refused unread.
		{"16 identity elements", http.MethodPost, "application/json", strings.Repeat("identity, ", 15) + "identity", 200, "", ""},
		{"17 identity elements", http.MethodPost, "application/json", strings.Repeat("identity, ", 16) + "identity", 415, transform.CodeUnsupportedMediaType, ""},
		{"17 elements, most of them empty", http.MethodPost, "application/json", strings.Repeat(",", 16), 415, transform.CodeUnsupportedMediaType, ""},
		{"identity on 17 lines", http.MethodPost, "application/json", strings.Repeat("identity\n", 17), 415, transform.CodeUnsupportedMediaType, ""},
		{"charset parameter", http.MethodPost, "application/json; charset=utf-8", "", 200, "", ""},
		{"no Content-Type", http.MethodPost, "", "", 415, transform.CodeUnsupportedMediaType, ""},
		// Content-Type is one value (RFC 9110 §8.3): a second line is refused, whatever it says.
		{"Content-Type, then text/plain on a second line", http.MethodPost, "application/json\ntext/plain", "", 415, transform.CodeUnsupportedMediaType, ""},
		{"text/plain, then Content-Type on a second line", http.MethodPost, "text/plain\napplication/json", "", 415, transform.CodeUnsupportedMediaType, ""},
		{"Content-Type on two lines", http.MethodPost, "application/json\napplication/json", "", 415, transform.CodeUnsupportedMediaType, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHandler(t, io.Discard, zapcore.InfoLevel)
			r := httptest.NewRequest(tt.method, "http://minipay.local/wechat/pay", strings.NewReader(payJSON))
			for line := range strings.SplitSeq(tt.contentType, "\n") {
				if line != "" {
					r.Header.Add("Content-Type", line)
				}
			}
			for line := range strings.SplitSeq(tt.contentEncoding, "\n") {
				if line != "" {
					r.Header.Add("Content-Encoding", line)
				}
			}
			w := httptest.NewRecorder()
			_ = h.ServeHTTP(w, r, upstream(signedPayAnswer()))
			if w.Code != tt.status {
				t.Fatalf("HTTP %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			if tt.code == "" {
				return
			}
			var body struct {
				Error transform.Error `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != tt.code || body.Error.Message == "" {
				t.Fatalf("answer %s, want code %s", w.Body, tt.code)
			}
		})
	}
}

// TestWebhookMerchantAnswers: README Webhooks, step 4: the provider gets its ACK once
// the merchant answered 2xx, whatever the merchant's body, and its failure
// form with a 5xx otherwise (504 when reverse_proxy timed out), so that it
// retries; the form's reason (the log line's too) says what the backend did.
func TestWebhookMerchantAnswers(t *testing.T) {
	tests := []struct {
		name     string
		merchant caddyhttp.HandlerFunc
		status   int
		body     string
		outcome  string
	}{
		{"200, no body", answer(200, 0), 200, "success", "acked"},
		{"204", answer(204, 0), 200, "success", "acked"},
		{"201 with a body", answer(201, 10), 200, "success", "acked"},
		{"299", answer(299, 0), 200, "success", "acked"},
		{"200 with a body larger than the recorder keeps", answer(200, maxAnswer+1), 200, "success", "acked"},
		{"1xx then 200", func(w http.ResponseWriter, _ *http.Request) error {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusOK)
			return nil
		}, 200, "success", "acked"},
		{"a body, no status", func(w http.ResponseWriter, _ *http.Request) error {
			_, err := w.Write([]byte("ok"))
			return err
		}, 200, "success", "acked"},
		// No handler after minipay_webhook answered (a route without
		// reverse_proxy; Caddy would send an empty 200): the event reached
		// nobody, so the provider must retry.
		{"nothing written", func(http.ResponseWriter, *http.Request) error { return nil }, 502, "no handler after minipay_webhook answered", "merchant_failed"},
		{"only a 1xx", func(w http.ResponseWriter, _ *http.Request) error {
			w.WriteHeader(http.StatusEarlyHints)
			return nil
		}, 502, "no handler after minipay_webhook answered", "merchant_failed"},
		// A minipay handler after minipay_webhook in its route: the event
		// reached no backend, and its 404 would read as the backend's.
		{"another minipay next in the route", nextMinipay(t).ServeHTTP, 502,
			"no reverse_proxy after minipay_webhook: the next handler in its route is minipay wechat_v2 (give each its own handle block)", "merchant_failed"},
		{"another minipay_webhook next in the route", func(w http.ResponseWriter, r *http.Request) error {
			return instance(t, nil, 0).ServeHTTP(w, r, answer(200, 0))
		}, 502, "no reverse_proxy after minipay_webhook: the next handler in its route is minipay_webhook fake (give each its own handle block)", "merchant_failed"},
		{"300", answer(300, 0), 502, "merchant backend answered 300", "merchant_failed"},
		{"404", answer(404, 5), 502, "merchant backend answered 404", "merchant_failed"},
		{"500 with a large body", answer(500, maxAnswer+1), 502, "merchant backend answered 500", "merchant_failed"},
		{"unreachable", func(http.ResponseWriter, *http.Request) error {
			return caddyhttp.Error(http.StatusBadGateway, io.ErrUnexpectedEOF)
		}, 502, "merchant backend unavailable", "merchant_failed"},
		{"timed out", func(http.ResponseWriter, *http.Request) error {
			return caddyhttp.Error(http.StatusGatewayTimeout, context.DeadlineExceeded)
		}, 504, "merchant backend timed out", "merchant_failed"},
		// An answer cut short is not "unavailable", which would send the
		// operator to check a backend that answered.
		{"cut short after its 200", func(w http.ResponseWriter, _ *http.Request) error {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("stored"))
			panic(http.ErrAbortHandler)
		}, 502, "merchant backend's answer was cut short", "merchant_failed"},
		{"cut short after its 500", func(w http.ResponseWriter, _ *http.Request) error {
			w.WriteHeader(http.StatusInternalServerError)
			panic(http.ErrAbortHandler)
		}, 502, "merchant backend's answer was cut short", "merchant_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := instance(t, nil, 0)
			h.webhook = reasonNotifications{}
			if code, body := notify(t, h, tt.merchant, "ev-1"); code != tt.status || body != tt.body {
				t.Fatalf("provider got %d %q, want %d %q", code, body, tt.status, tt.body)
			}
			if n := outcomes(t, h, tt.outcome); n != 1 {
				t.Fatalf("outcome %s counted %v times", tt.outcome, n)
			}
		})
	}
}

// reasonNotifications is fakeNotifications whose failure form is the
// refusal's reason, as the real providers' forms carry it.
type reasonNotifications struct{ fakeNotifications }

func (reasonNotifications) Nack(reason string) (string, []byte) { return "text/plain", []byte(reason) }

// answer is a merchant backend answering status with size bytes of body.
func answer(status, size int) caddyhttp.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) error {
		w.WriteHeader(status)
		if size > 0 {
			if _, err := w.Write(bytes.Repeat([]byte("x"), size)); err != nil {
				return err // what reverse_proxy does when the writer refuses the body
			}
		}
		return nil
	}
}

// TestWebhookForwardedRequest: README Webhooks, step 3: the merchant gets a POST of the
// event with Content-Type and the two Minipay-* headers, the event's
// length, no query and nothing of how the provider framed its request
// (method, chunked transfer encoding, trailers).
func TestWebhookForwardedRequest(t *testing.T) {
	tests := []struct {
		name    string
		target  string
		chunked bool
	}{
		{"with a Content-Length", "/webhooks/fake?token=x", false},
		{"chunked, with a trailer", "/webhooks/fake?token=x", true},
		// Caddy's path matcher cleans the path, reverse_proxy sends it raw:
		// each of these matches a route "/webhooks/fake".
		{"dot segments", "/admin/refund-all/../../webhooks/fake?token=x", false},
		{"percent-encoded dot segments and slashes", "/admin%2F%2e%2e/webhooks/./fake", false},
		{"repeated slashes", "//webhooks//fake", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tt.target, strings.NewReader("ev-1"))
			r.Header.Set("X-Sig", "ok")
			r.Header.Set("Cookie", "a=b")
			if tt.chunked {
				r.ContentLength, r.TransferEncoding = -1, []string{"chunked"}
				r.Trailer = http.Header{"X-Trailer": {"t"}}
			}
			var got *http.Request
			var body []byte
			merchant := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				got = r.Clone(r.Context()) // as reverse_proxy does: r is the provider's again once this returns
				body, _ = io.ReadAll(r.Body)
				w.WriteHeader(http.StatusNoContent)
				return nil
			})
			w := httptest.NewRecorder()
			if err := instance(t, nil, 0).ServeHTTP(w, r, merchant); err != nil || w.Code != 200 {
				t.Fatalf("%v %d", err, w.Code)
			}
			want := http.Header{"Content-Type": {"application/json"}, "Minipay-Event-Id": {"ev-1"}, "Minipay-Provider": {"fake"}}
			// and X-Forwarded-Host nil: reverse_proxy's sign to leave it out
			if xfh, ok := got.Header["X-Forwarded-Host"]; !ok || xfh != nil {
				t.Fatalf("X-Forwarded-Host %q (present %v), want nil so that reverse_proxy leaves it out", xfh, ok)
			}
			if got.Method != http.MethodPost || got.URL.RawQuery != "" || got.RequestURI != "/webhooks/fake" || got.URL.EscapedPath() != "/webhooks/fake" || len(got.Header) != len(want)+1 {
				t.Fatalf("forwarded %s %s, headers %v", got.Method, got.RequestURI, got.Header)
			}
			for k, v := range want {
				if len(got.Header[k]) != 1 || got.Header[k][0] != v[0] {
					t.Fatalf("headers %v, want %v", got.Header, want)
				}
			}
			if got.ContentLength != int64(len(body)) || len(got.TransferEncoding) != 0 || got.Trailer != nil ||
				!bytes.HasPrefix(body, []byte(`{"id":"ev-1",`)) {
				t.Fatalf("forwarded length %d, transfer encoding %v, trailer %v, body %s", got.ContentLength, got.TransferEncoding, got.Trailer, body)
			}
		})
	}
}

// TestWebhookForwardHeaderPooled: the forwarded request's header is the
// pooled recorder's scratch, as a merchant call's is: making it allocates
// nothing (a fresh map and three value slices did: 5 allocations a
// notification), each value is a slice of its own (a handler between may
// write one in place), and once the notification is answered the
// provider's own header is back on its request and the scratch holds none
// of the event's values.
func TestWebhookForwardHeaderPooled(t *testing.T) {
	rec := getRecorder()
	defer rec.release()
	r := httptest.NewRequest(http.MethodPost, "/webhooks/fake", nil)
	if allocs := transformtest.FewestAllocs(20, func() { forwardOnly(r, rec, "fake:ev-1:payment.succeeded", "fake") }); allocs != 0 {
		t.Errorf("forwardOnly allocates %v times", allocs)
	}
	r.Header["Minipay-Event-Id"][0] = "rewritten" // as Caddy's request_header replace does
	if got := r.Header.Get("Minipay-Provider"); got != "fake" {
		t.Fatalf("a value written in place changed another: Minipay-Provider %q", got)
	}

	r = httptest.NewRequest(http.MethodPost, "/webhooks/fake", strings.NewReader("ev-1"))
	r.Header.Set("X-Sig", "ok")
	own := r.Header
	var scratch http.Header
	merchant := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		scratch = r.Header
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	w := httptest.NewRecorder()
	if err := instance(t, nil, 0).ServeHTTP(w, r, merchant); err != nil || w.Code != 200 {
		t.Fatalf("%v %d", err, w.Code)
	}
	if r.Header.Get("X-Sig") != "ok" || len(r.Header) != len(own) {
		t.Fatalf("the provider's request holds %v once answered", r.Header)
	}
	if len(scratch) != 0 {
		t.Fatalf("the pooled header still holds %v", scratch)
	}
}

// TestWebhookRefusals: README Webhooks, steps 1–2: what is not a verifiable notification
// gets the provider's failure form and reaches nobody; a 405 names the
// method allowed (RFC 9110 §15.5.6).
// brokenBody marks a TestWebhookRefusals body that cannot be read.
const brokenBody = "(unreadable)"

func TestWebhookRefusals(t *testing.T) {
	tests := []struct {
		name, method, sig string
		body              string
		status            int
		allow, outcome    string
		reason            string // the warn line's reason
	}{
		{"GET", http.MethodGet, "ok", "ev-1", 405, "POST", "unverified", "method not allowed"},
		{"PUT", http.MethodPut, "ok", "ev-1", 405, "POST", "unverified", "method not allowed"},
		{"over 64 KiB", http.MethodPost, "ok", strings.Repeat("x", maxBody+1), 413, "", "too_large", "body too large"},
		{"unverified", http.MethodPost, "forged", "ev-1", 401, "", "unverified", transform.ErrRetry.Error()},
		{"unreadable body", http.MethodPost, "ok", brokenBody, 400, "", "unverified", "unreadable body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := instance(t, nil, 0)
			var log strings.Builder
			h.logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&log), zapcore.InfoLevel))
			r := httptest.NewRequest(tt.method, "/webhooks/fake", strings.NewReader(tt.body))
			if tt.body == brokenBody { // framing broken mid-body: a bad chunk, a connection lost
				r.Body, r.ContentLength = io.NopCloser(iotest.ErrReader(io.ErrUnexpectedEOF)), -1
			}
			r.Header.Set("X-Sig", tt.sig)
			w := httptest.NewRecorder()
			forwarded := false
			next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { forwarded = true; return nil })
			if err := h.ServeHTTP(w, r, next); err != nil {
				t.Fatal(err)
			}
			if w.Code != tt.status || w.Body.String() != "fail" || w.Header().Get("Allow") != tt.allow || forwarded {
				t.Fatalf("%d %q, Allow %q, forwarded %v", w.Code, w.Body, w.Header().Get("Allow"), forwarded)
			}
			if outcomes(t, h, tt.outcome) != 1 {
				t.Fatalf("outcome %s not counted", tt.outcome)
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(log.String()), &line); err != nil || line["level"] != "warn" ||
				line["outcome"] != tt.outcome || line["reason"] != tt.reason {
				t.Fatalf("log line %s (%v), want warn, outcome %s, reason %q", log.String(), err, tt.outcome, tt.reason)
			}
		})
	}
}

// TestHandlerRequestScratch: the merchant's body is read into the pooled
// recorder's scratch, so requests one after the other, longer and shorter,
// must each be signed and answered with their own order and nothing of an
// earlier body.
func TestHandlerRequestScratch(t *testing.T) {
	h := newTestHandler(t, io.Discard, zapcore.InfoLevel)
	var sent []byte
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		sent, _ = io.ReadAll(r.Body)
		return upstream(signedPayAnswer()).ServeHTTP(w, r)
	})
	for _, orderID := range []string{"SCRATCH-LONG-ORDER-1234567890", "S-2", "SCRATCH-3", "4"} {
		body := strings.Replace(payJSON, `"BENCH-1"`, `"`+orderID+`"`, 1)
		w := payWith(h, next, body)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: HTTP %d: %s", orderID, w.Code, w.Body)
		}
		var answer transform.PaymentParams
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil || answer.OrderID != orderID {
			t.Fatalf("%s: answer %s (%v)", orderID, w.Body, err)
		}
		_, p, err := transform.ParseFlatXML(sent)
		if err != nil || p.Get("out_trade_no") != orderID || p.Get("body") != "Latte" {
			t.Fatalf("%s: upstream got %s (%v)", orderID, sent, err)
		}
	}
}

// TestHandlerUpstreamHeaders: the provider gets Accept, User-Agent and the
// call's Content-Type, nothing of the merchant's headers, on every request
// (the map is the pooled recorder's), and X-Forwarded-Host nil, which tells
// reverse_proxy to leave it out rather than send the cleared Host as an empty
// one; an Idempotency-Key of its own for each call, which lets Go's
// transport send a WeChat call again on a fresh connection; once the
// handler returns, the request carries the merchant's own header map
// again, unchanged.
func TestHandlerUpstreamHeaders(t *testing.T) {
	h := newTestHandler(t, io.Discard, zapcore.InfoLevel)
	var sent http.Header
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		sent = r.Header.Clone()
		r.Header.Set("X-Added-Downstream", "1") // a later handler writing into the map
		return upstream(signedPayAnswer()).ServeHTTP(w, r)
	})
	want := http.Header{"Accept": {"*/*"}, "User-Agent": {"caddy-minipay"}, "Content-Type": {"text/xml; charset=utf-8"},
		"X-Forwarded-Host": nil}
	keys := map[string]bool{}
	for i := range 3 {
		r := httptest.NewRequest(http.MethodPost, "http://minipay.local/wechat/pay", strings.NewReader(payJSON))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer merchant-secret")
		r.Header.Set("Cookie", "session=merchant")
		merchantHeader := r.Header
		merchantCopy := r.Header.Clone()
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, r, next); err != nil || w.Code != http.StatusOK {
			t.Fatalf("request %d: HTTP %d, %v: %s", i, w.Code, err, w.Body)
		}
		keys[takeIdempotencyKey(t, sent)] = true
		if !reflect.DeepEqual(sent, want) {
			t.Errorf("request %d: the provider got headers %v, want %v", i, sent, want)
		}
		if reflect.ValueOf(r.Header).Pointer() != reflect.ValueOf(merchantHeader).Pointer() || !reflect.DeepEqual(r.Header, merchantCopy) {
			t.Errorf("request %d: after the handler the request has headers %v, want the merchant's %v", i, r.Header, merchantCopy)
		}
	}
	if len(keys) != 3 {
		t.Errorf("three calls sent %d Idempotency-Keys %v, want one of its own each", len(keys), keys)
	}
}

// idempotencyKeyRE is the Idempotency-Key of a WeChat call: a quoted
// random token (crypto/rand.Text, 26 characters of base32), the IETF
// draft's sf-string.
var idempotencyKeyRE = regexp.MustCompile(`^"[A-Za-z0-9]{26}"$`)

// takeIdempotencyKey removes h's Idempotency-Key and returns it, failing the
// test unless it is one value of that form: a value, since reverse_proxy's
// header operations copy values only (a nil mark was lost there).
func takeIdempotencyKey(t *testing.T, h http.Header) string {
	t.Helper()
	v := h["Idempotency-Key"]
	delete(h, "Idempotency-Key")
	if len(v) != 1 || !idempotencyKeyRE.MatchString(v[0]) {
		t.Errorf("the provider's request has Idempotency-Key %q, want one quoted random token", v)
		return ""
	}
	return v[0]
}

// TestUnknownOperationSecretSplitByPath: a secret holding a '/' sent as the
// operation leaves only its end in the path's last element; the whole path
// is checked, so that end is in neither the answer nor the log line (it
// was: "=0123456789abcdef0123456" is no operation of wechat_v2).
func TestUnknownOperationSecretSplitByPath(t *testing.T) {
	const secret = "s3cr3t+/=0123456789abcdef0123456"
	var log strings.Builder
	h := newTestHandler(t, &log, zapcore.InfoLevel)
	h.secrets = transform.NewSecrets(secret)
	r := httptest.NewRequest(http.MethodPost, "http://minipay.local/wechat/"+secret, strings.NewReader(payJSON))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, upstream(signedPayAnswer())); err != nil || w.Code != http.StatusNotFound {
		t.Fatalf("HTTP %d, %v: %s", w.Code, err, w.Body)
	}
	want := `{"error":{"code":"unknown_operation","message":"the path's last element holds a configured secret: it is no operation of wechat_v2"}}` + "\n"
	if w.Body.String() != want {
		t.Errorf("answer %s, want %s", w.Body, want)
	}
	if tail := secret[strings.IndexByte(secret, '/')+1:]; strings.Contains(log.String(), tail) || !strings.Contains(log.String(), "unknown_operation") {
		t.Errorf("log line %s: want unknown_operation without %q", log.String(), tail)
	}
}

// TestIdempotencyKeyOneAllocation: the key is one quoted random token,
// its own for each call, and costs the call one allocation (the 26
// characters and their quotes written into one string; "\"" +
// rand.Text() + "\"" took two).
func TestIdempotencyKeyOneAllocation(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k := idempotencyKey()
		if !idempotencyKeyRE.MatchString(k) || seen[k] {
			t.Fatalf("key %q: want a quoted random token, not seen before", k)
		}
		seen[k] = true
	}
	var sink string
	if n := testing.AllocsPerRun(100, func() { sink = idempotencyKey() }); n != 1 {
		t.Errorf("idempotencyKey allocates %v times, want 1", n)
	}
	_ = sink
}

// TestHandlerUpstreamValuesOneSlice: a recorder fresh from the pool holds
// every value of the provider's request (Accept, User-Agent, the call's
// own, Content-Type, Idempotency-Key) in the one slice roundTrip sizes for
// them, never grown after its fields took slices of it: sized one short
// (the key forgotten), a pooled recorder's first WeChat call allocated it
// twice.
func TestHandlerUpstreamValuesOneSlice(t *testing.T) {
	h := newTestHandler(t, io.Discard, zapcore.InfoLevel)
	rec := recorderPool.New().(*recorder)
	checked := false
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		values := rec.request.values
		for k, v := range r.Header {
			if v == nil {
				continue
			}
			at, start := uintptr(unsafe.Pointer(unsafe.SliceData(v))), uintptr(unsafe.Pointer(unsafe.SliceData(values)))
			if at < start || at >= start+uintptr(len(values))*unsafe.Sizeof("") {
				t.Errorf("%s's value is not in the recorder's values %q (the slice grew after it was taken)", k, values)
			}
		}
		checked = len(r.Header["Idempotency-Key"]) == 1
		return upstream(signedPayAnswer()).ServeHTTP(w, r)
	})
	r := httptest.NewRequest(http.MethodPost, "http://minipay.local/wechat/pay", strings.NewReader(payJSON))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	if _, status, terr := h.serve(w, r, next, transform.OpPay, h.ops.known[transform.OpPay], rec); terr != nil || status != http.StatusOK {
		t.Fatalf("HTTP %d, %v", status, terr)
	}
	if !checked {
		t.Fatal("the provider's request had no Idempotency-Key: nothing checked")
	}
}

// TestHandlerUpstreamFraming: the provider's request goes with its own
// length, never with the merchant's framing: a merchant request sent
// chunked, with a trailer, made Go's transport send WeChat's XML chunked
// and the merchant's trailer after it (README Merchant API: nothing of the
// merchant's reaches the provider). Once the handler returns, r is framed
// as the merchant sent it, without its Trailer
// (TestHandlerLeavesTrailerToTheTransport).
func TestHandlerUpstreamFraming(t *testing.T) {
	h := newTestHandler(t, io.Discard, zapcore.InfoLevel)
	for _, tt := range []struct {
		name    string
		chunked bool
	}{{"with a Content-Length", false}, {"chunked, with a trailer", true}} {
		t.Run(tt.name, func(t *testing.T) {
			var length int64
			var encoding []string
			var trailer http.Header
			var sent []byte
			next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				length, encoding, trailer = r.ContentLength, r.TransferEncoding, r.Trailer
				sent, _ = io.ReadAll(r.Body)
				return upstream(signedPayAnswer()).ServeHTTP(w, r)
			})
			r := httptest.NewRequest(http.MethodPost, "http://minipay.local/wechat/pay", strings.NewReader(payJSON))
			r.Header.Set("Content-Type", "application/json")
			if tt.chunked {
				r.ContentLength, r.TransferEncoding = -1, []string{"chunked"}
				r.Trailer = http.Header{"X-Merchant-Trailer": {"merchant-secret"}}
			}
			merchantLength, merchantEncoding := r.ContentLength, r.TransferEncoding
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, r, next); err != nil || w.Code != http.StatusOK {
				t.Fatalf("HTTP %d, %v: %s", w.Code, err, w.Body)
			}
			if length != int64(len(sent)) || !bytes.HasPrefix(sent, []byte("<xml>")) || len(encoding) != 0 || trailer != nil {
				t.Errorf("the provider's request: length %d for %d bytes, transfer encoding %v, trailer %v", length, len(sent), encoding, trailer)
			}
			if r.ContentLength != merchantLength || !reflect.DeepEqual(r.TransferEncoding, merchantEncoding) || r.Trailer != nil {
				t.Errorf("after the handler: length %d, transfer encoding %v, trailer %v; want the merchant's %d, %v and none",
					r.ContentLength, r.TransferEncoding, r.Trailer, merchantLength, merchantEncoding)
			}
			if r.GetBody != nil { // a server request has none; the provider body's must not stay behind
				t.Errorf("after the handler: the provider body's GetBody is still on the merchant's request")
			}
		})
	}
}

// TestHandlerLeavesTrailerToTheTransport: reverse_proxy's request body
// reads the request's Trailer when it reaches its end, on the transport's
// goroutine, which may still be writing the body after reverse_proxy
// returned (an upstream that answered before reading it); next does the
// same here. minipay put the merchant's Trailer back on r once next
// returned, a write the race detector caught against that read in
// TestUpstreamAndMerchantFaults (1 run in 3 of go test -race ./...); a
// merchant request sent with trailers still had them put back, so that
// read could copy them to the provider after the body (README Merchant
// API: the trailers are not passed on), which the row with a trailer
// caught at every run (with or without -race). r's Trailer stays nil.
func TestHandlerLeavesTrailerToTheTransport(t *testing.T) {
	h := newTestHandler(t, io.Discard, zapcore.InfoLevel)
	for _, tt := range []struct {
		name    string
		trailer http.Header
	}{{"without a trailer", nil}, {"chunked, with a trailer", http.Header{"X-Merchant-Trailer": {"merchant-secret"}}}} {
		t.Run(tt.name, func(t *testing.T) {
			var wg sync.WaitGroup
			next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// the body's end, reached after next returned, with no
					// synchronisation with the handler's goroutine (the transport has none)
					time.Sleep(50 * time.Millisecond)
					if len(r.Trailer) != 0 {
						t.Errorf("the transport read trailers %v", r.Trailer)
					}
				}()
				return upstream(signedPayAnswer()).ServeHTTP(w, r)
			})
			r := httptest.NewRequest(http.MethodPost, "http://minipay.local/wechat/pay", strings.NewReader(payJSON))
			r.Header.Set("Content-Type", "application/json")
			if tt.trailer != nil {
				r.ContentLength, r.TransferEncoding, r.Trailer = -1, []string{"chunked"}, tt.trailer
			}
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, r, next); err != nil || w.Code != http.StatusOK {
				t.Fatalf("HTTP %d, %v: %s", w.Code, err, w.Body)
			}
			wg.Wait()
			if r.Trailer != nil {
				t.Errorf("after the handler: trailer %v, want none", r.Trailer)
			}
		})
	}
}

// TestHeaderValuesOwnedPerRequest: Caddy's header handlers write a replaced
// value into the value slice in place (headers.HeaderOps.ApplyTo assigns
// hdr[field][i]), so a value minipay puts in a header map another handler
// can reach must belong to that request alone. A deferred replace on the
// merchant's answer (`header >Content-Type ...`) and a request_header
// replace between minipay and reverse_proxy change every value of every
// field here; the plain request after them must still get exactly its own.
func TestHeaderValuesOwnedPerRequest(t *testing.T) {
	h := newTestHandler(t, io.Discard, zapcore.InfoLevel)
	var everyByte []headers.Replacement
	for _, c := range "0123456789aceifmnoprstuxy*/-;" {
		everyByte = append(everyByte, headers.Replacement{Search: string(c), Replace: "#"})
	}
	ops := &headers.HeaderOps{Replace: map[string][]headers.Replacement{"*": everyByte}}
	var sent http.Header
	proxy := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		sent = r.Header.Clone()
		return upstream(signedPayAnswer()).ServeHTTP(w, r)
	})
	rewritten := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return headers.Handler{Request: ops}.ServeHTTP(w, r, proxy)
	})
	send := func(rewrite bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "http://minipay.local/wechat/pay", strings.NewReader(payJSON))
		r.Header.Set("Content-Type", "application/json")
		r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
		w := httptest.NewRecorder()
		if !rewrite {
			_ = h.ServeHTTP(w, r, proxy)
			return w
		}
		_ = headers.Handler{Response: &headers.RespHeaderOps{HeaderOps: ops, Deferred: true}}.ServeHTTP(w, r,
			caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { return h.ServeHTTP(w, r, rewritten) }))
		return w
	}
	for i := range 2 {
		if w := send(true); w.Code != http.StatusOK || w.Header().Get("Content-Type") == "application/json" {
			t.Fatalf("round %d: the rewritten request: HTTP %d, Content-Type %q: the replace did not run", i, w.Code, w.Header().Get("Content-Type"))
		}
		w := send(false)
		if w.Code != http.StatusOK {
			t.Fatalf("round %d: HTTP %d: %s", i, w.Code, w.Body)
		}
		wantAnswer := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}, "Content-Length": {strconv.Itoa(w.Body.Len())},
			"X-Content-Type-Options": {"nosniff"}}
		if !reflect.DeepEqual(w.Header(), wantAnswer) {
			t.Errorf("round %d: the merchant's answer has headers %v, want %v", i, w.Header(), wantAnswer)
		}
		wantSent := http.Header{"Accept": {"*/*"}, "User-Agent": {"caddy-minipay"}, "Content-Type": {"text/xml; charset=utf-8"},
			"X-Forwarded-Host": nil}
		takeIdempotencyKey(t, sent)
		if !reflect.DeepEqual(sent, wantSent) {
			t.Errorf("round %d: the provider got headers %v, want %v", i, sent, wantSent)
		}
	}
}

// callerIPClient is a pay-only client that records the caller's IP its
// Prepare finds in the context, and refuses the request.
type callerIPClient struct{ got *string }

func (callerIPClient) Supports(op string) bool { return op == transform.OpPay }

func (c callerIPClient) Prepare(ctx context.Context, _ string, _ []byte) (*transform.Call, error) {
	*c.got = transform.CallerIP(ctx)
	return nil, transform.Invalid("amount", "is refused")
}

// callerIPReader is a callerIPClient that says whether it reads the IP.
type callerIPReader struct {
	callerIPClient
	reads bool
}

func (c callerIPReader) ReadsCallerIP() bool { return c.reads }

// TestHandlerCallerIP: minipay puts Caddy's client IP in a pay's context
// for a client whose pay may fall back on it (transform.Operations'
// CallerIPFallback, asked once as Provision does), and for one that does
// not say; not for one that never reads it, which then costs no allocation.
func TestHandlerCallerIP(t *testing.T) {
	ctx := context.WithValue(context.Background(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: "192.0.2.7"})
	var got string
	for _, tt := range []struct {
		name   string
		client transform.Client
		want   string
	}{
		{"reads it", callerIPReader{callerIPClient{&got}, true}, "192.0.2.7"},
		{"does not say", callerIPClient{&got}, "192.0.2.7"},
		{"never reads it", callerIPReader{callerIPClient{&got}, false}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got = "unset"
			h := newTestHandlerOf(t, "fake", tt.client, io.Discard, zapcore.InfoLevel)
			r := httptest.NewRequestWithContext(ctx, http.MethodPost, "http://minipay.local/fake/pay", strings.NewReader(payJSON))
			r.Header.Set("Content-Type", "application/json")
			if _ = h.ServeHTTP(httptest.NewRecorder(), r, nil); got != tt.want {
				t.Fatalf("Prepare found caller IP %q, want %q", got, tt.want)
			}
		})
	}
	// As Provision asks wechat_v2's client: a configured client_ip is
	// always sent before the caller's.
	for _, clientIP := range []string{"", "127.0.0.1"} {
		client, err := wechatv2.NewClient(wechatv2.Config{AppID: testAppID, MchID: testMchID, APIKey: testAPIKey, ClientIP: clientIP})
		if err != nil {
			t.Fatal(err)
		}
		if readsCallerIP(client) != (clientIP == "") {
			t.Errorf("client_ip %q: readsCallerIP %v", clientIP, clientIP != "")
		}
	}
}

// pemSizedSecrets are secrets of the size and alphabet a wechat_v3 route
// configures (a PKCS#8 PEM private key and a 32-character APIv3 key): not
// a key, only 1.7 KB of text whose URL-encoded form is 3.4 KB.
var pemSizedSecrets = transform.NewSecrets("-----BEGIN PRIVATE KEY-----\n"+strings.Repeat(strings.Repeat("Ab+/", 16)+"\n", 26)+
	"-----END PRIVATE KEY-----\n", "0123456789abcdef0123456789abcdef")

// TestErrorAnswerSecretsNotEncodedPerAnswer: an error answer checked for
// the configured secrets allocates no more than one with none configured,
// whatever their size; each answer URL-encoded them all again (a wechat_v3
// PEM-sized key: two more allocations, 8 KB). The fewest allocations of
// 40 single answers counts: another goroutine's may fall into one, and
// under -race (as CI runs) sync.Pool drops a quarter of what it is given,
// so an average over many answers counted the pool's misses (27 and 28
// allocations, one run in four).
func TestErrorAnswerSecretsNotEncodedPerAnswer(t *testing.T) {
	allocs := func(secrets transform.Secrets) float64 {
		h := newTestHandler(t, io.Discard, zapcore.InfoLevel)
		h.secrets = secrets
		fewest := math.Inf(1)
		for range 40 {
			fewest = min(fewest, testing.AllocsPerRun(1, func() {
				r := httptest.NewRequest(http.MethodPost, "http://minipay.local/wechat/capture", strings.NewReader(payJSON))
				w := httptest.NewRecorder()
				if _ = h.ServeHTTP(w, r, nil); w.Code != http.StatusNotFound {
					t.Fatalf("HTTP %d: %s", w.Code, w.Body)
				}
			}))
		}
		return fewest
	}
	if with, without := allocs(pemSizedSecrets), allocs(nil); with > without {
		t.Errorf("an error answer allocates %v times with a wechat_v3 route's secrets configured, %v with none", with, without)
	}
}
