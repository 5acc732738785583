package caddymodule

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/cbtis"
)

// countingWriter counts the calls writeJSON makes on the ResponseWriter.
type countingWriter struct {
	*httptest.ResponseRecorder
	writes, writeHeaders int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.ResponseRecorder.Write(p)
}

func (w *countingWriter) WriteHeader(status int) {
	w.writeHeaders++
	w.ResponseRecorder.WriteHeader(status)
}

// TestWriteJSON covers both of writeJSON's branches: a body with spare
// capacity gets its newline appended in place (one Write), one without is
// sent in two Writes; either way the merchant gets the body and "\n", the
// headers announce exactly that, and the caller's bytes stay as they were.
func TestWriteJSON(t *testing.T) {
	const doc = `{"error":{"code":"invalid_request","message":"amount is required"}}`
	tests := []struct {
		name         string
		spare        int // capacity past the body
		status       int
		writes       int
		writeHeaders int // a 200 is implied by the first Write
	}{
		{"spare capacity, 200", 16, http.StatusOK, 1, 0},
		{"spare capacity, 400", 1, http.StatusBadRequest, 1, 1},
		{"no spare capacity, 200", 0, http.StatusOK, 2, 0},
		{"no spare capacity, 502", 0, http.StatusBadGateway, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := append(make([]byte, 0, len(doc)+tt.spare), doc...)
			w := &countingWriter{ResponseRecorder: httptest.NewRecorder()}
			writeJSON(w, tt.status, body)

			if got, want := w.Body.String(), doc+"\n"; got != want {
				t.Errorf("body %q, want %q", got, want)
			}
			if string(body) != doc {
				t.Errorf("the caller's bytes changed: %q", body)
			}
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			h := w.Result().Header
			for k, want := range map[string]string{
				"Content-Type":   "application/json",
				"Cache-Control":  "no-store",
				"Content-Length": strconv.Itoa(len(doc) + 1),
			} {
				if got := h.Values(k); len(got) != 1 || got[0] != want {
					t.Errorf("%s %q, want %q", k, got, want)
				}
			}
			if w.writes != tt.writes || w.writeHeaders != tt.writeHeaders {
				t.Errorf("%d Write and %d WriteHeader calls, want %d and %d", w.writes, w.writeHeaders, tt.writes, tt.writeHeaders)
			}
			if tt.writes == 1 && !bytes.Equal(body[:len(body)+1], []byte(doc+"\n")) {
				t.Errorf("the newline was not appended in place: %q", body[:len(body)+1])
			}
		})
	}
}

// TestReadBodyScratch: a body of known length that fits the caller's
// scratch is read into it (no allocation), a longer one into a buffer of
// its own (the scratch keeps its bytes); a body of unknown length is read
// to the limit; past the limit either is errTooLarge.
func TestReadBodyScratch(t *testing.T) {
	const body = `{"order_id":"O1"}`
	tests := []struct {
		name          string
		contentLength int64 // -1: unknown
		scratchCap    int
		limit         int64
		wantErr       error
		inScratch     bool
	}{
		{"fits the scratch", int64(len(body)), 64, 1024, nil, true},
		{"exactly the scratch", int64(len(body)), len(body), 1024, nil, true},
		{"longer than the scratch", int64(len(body)), 4, 1024, nil, false},
		{"no scratch", int64(len(body)), 0, 1024, nil, false},
		{"unknown length", -1, 64, 1024, nil, false},
		{"known length past the limit", int64(len(body)), 64, 8, errTooLarge, false},
		{"unknown length past the limit", -1, 64, 8, errTooLarge, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scratch := append(make([]byte, 0, tt.scratchCap), bytes.Repeat([]byte("x"), tt.scratchCap)...)[:0]
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			r.ContentLength = tt.contentLength
			got, err := readBody(r, tt.limit, scratch)
			if err != tt.wantErr {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if string(got) != body {
				t.Fatalf("read %q, want %q", got, body)
			}
			if shared := tt.scratchCap > 0 && &got[0] == &scratch[:1][0]; shared != tt.inScratch {
				t.Errorf("read into the scratch: %v, want %v", shared, tt.inScratch)
			}
			if !tt.inScratch && tt.scratchCap > 0 && string(scratch[:tt.scratchCap]) != strings.Repeat("x", tt.scratchCap) {
				t.Errorf("the scratch changed: %q", scratch[:tt.scratchCap])
			}
		})
	}
}

// TestContentLength: the value is the decimal length, the same whether it
// was made by this call or an earlier one (below 2048 it is kept).
func TestContentLength(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 330, 2047, 2048, 65537} {
		first, second := contentLength(n), contentLength(n)
		if want := strconv.Itoa(n); first != want || second != want {
			t.Fatalf("contentLength(%d) = %q, then %q, want %q", n, first, second, want)
		}
	}
}

// TestDecodedBodyContentCodings: a content coding is case-insensitive and
// x-gzip is gzip (RFC 9110 §8.4.1, §8.4.1.3), as the 2C2P webhook reads
// them; Go's transport inflates a "GZIP" answer itself only when it asked
// for gzip, and never an "x-gzip" one.
func TestDecodedBodyContentCodings(t *testing.T) {
	const answer = "<xml><return_code>SUCCESS</return_code></xml>"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(answer))
	_ = zw.Close()
	tests := []struct {
		codings []string // one element per header line
		body    []byte
		ok      bool
	}{
		{nil, []byte(answer), true},
		{[]string{"identity"}, []byte(answer), true},
		{[]string{"Identity"}, []byte(answer), true},
		{[]string{"gzip"}, gz.Bytes(), true},
		{[]string{"GZIP"}, gz.Bytes(), true},
		{[]string{"x-gzip"}, gz.Bytes(), true},
		{[]string{"X-Gzip"}, gz.Bytes(), true},
		// RFC 9110 §8.4: a list, on one line or several.
		{[]string{"gzip, identity"}, gz.Bytes(), true},
		{[]string{"identity", "gzip"}, gz.Bytes(), true},
		{[]string{"br"}, []byte("xxxx"), false},
		{[]string{"gzip, br"}, gz.Bytes(), false},
		{[]string{"gzip"}, []byte(answer), false}, // not gzip at all
	}
	for _, tt := range tests {
		got, err := decodedBody(http.Header{"Content-Encoding": tt.codings}, tt.body)
		if tt.ok != (err == nil) || tt.ok && string(got) != answer {
			t.Errorf("Content-Encoding %q: %q, %v", tt.codings, got, err)
		}
	}
}

// TestAnswerBeforeBody: an answer written before the body is read says
// Connection: close to a client that awaits 100 Continue (HTTP/1.1,
// Expect naming 100-continue in any case, a body announced: RFC 9110
// §10.1.1), and nothing to any other; reading the body, which asks for it,
// keeps the connection.
func TestAnswerBeforeBody(t *testing.T) {
	tests := []struct {
		name   string
		proto  int // minor version of HTTP/1; 0 for HTTP/1.0, -1 for HTTP/2
		expect []string
		length int64
		closes bool
	}{
		{"100-continue", 1, []string{"100-continue"}, 17, true},
		{"other case", 1, []string{"100-Continue"}, 17, true},
		{"in a list", 1, []string{"x-foo, 100-continue"}, 17, true},
		{"on a second line", 1, []string{"x-foo", " 100-continue "}, 17, true},
		{"chunked", 1, []string{"100-continue"}, -1, true},
		{"no expectation", 1, nil, 17, false},
		{"another token", 1, []string{"100-continued"}, 17, false},
		{"no body", 1, []string{"100-continue"}, 0, false},
		{"HTTP/1.0 ignores it", 0, []string{"100-continue"}, 17, false},
		{"HTTP/2 asks by itself", -1, []string{"100-continue"}, 17, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, read := range []bool{false, true} {
				r := httptest.NewRequest(http.MethodPost, "/wechat/pay", strings.NewReader(`{"order_id":"A1"}`))
				r.ProtoMajor, r.ProtoMinor, r.ContentLength = 1, tt.proto, tt.length
				if tt.proto < 0 {
					r.ProtoMajor, r.ProtoMinor = 2, 0
				}
				if tt.expect != nil {
					r.Header["Expect"] = tt.expect
				}
				w := httptest.NewRecorder()
				answerBeforeBody(w, r)
				if read {
					want := `{"order_id":"A1"}`
					if tt.length == 0 {
						want = "" // net/http gives a request announcing no body none
					}
					if b, err := readBody(r, maxBody, nil); err != nil || string(b) != want {
						t.Fatalf("body %q, %v", b, err)
					}
				}
				writeJSON(w, http.StatusUnsupportedMediaType, []byte(`{}`))
				if got := w.Result().Header.Get("Connection") == "close"; got != (tt.closes && !read) {
					t.Errorf("body read %v: Connection %q", read, w.Result().Header.Get("Connection"))
				}
			}
		})
	}

	// A Connection another handler set stays as it is, read or not.
	r := httptest.NewRequest(http.MethodPost, "/wechat/pay", strings.NewReader(`{}`))
	r.Header.Set("Expect", "100-continue")
	w := httptest.NewRecorder()
	w.Header().Set("Connection", "keep-alive")
	answerBeforeBody(w, r)
	if _, err := readBody(r, maxBody, nil); err != nil || w.Header().Get("Connection") != "keep-alive" {
		t.Fatalf("Connection %q, %v", w.Header().Get("Connection"), err)
	}
}

// TestEveryAnswerSaysNoSniff: every answer the plugin writes itself carries
// X-Content-Type-Options: nosniff, so that a browser takes it for its
// Content-Type and never runs a JSON, XML or text body that reads as HTML
// (README Merchant API). Only the console page said so; the JSON answers
// (the merchant API's, the sandbox's /sandbox/merchant/events and errors,
// the emulated APIs', the admin API's) and the webhook's did not.
func TestEveryAnswerSaysNoSniff(t *testing.T) {
	emulated, err := cbtis.NewSandbox(cbtis.Config{UID: "39172931", ClientSecret: "cs_5f2b8e1c9d7a4e6b8c0d2f4a6b8c0d2e", SubAppID: "wx7bc98d929da735fe"})
	if err != nil {
		t.Fatal(err)
	}
	sandbox := func() *Sandbox {
		return &Sandbox{providers: map[string]transform.Sandbox{"cbtis": emulated}, names: []string{"cbtis"}, logger: zap.NewNop(),
			demo: new(demoMerchant), notes: new(notificationLog)}
	}
	serveSandbox := func(method, target, body string) func() *httptest.ResponseRecorder {
		return func() *httptest.ResponseRecorder {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(method, target, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			if err := sandbox().ServeHTTP(w, r, nil); err != nil {
				t.Fatal(err)
			}
			return w
		}
	}
	notifyWebhook := func(sig string) func() *httptest.ResponseRecorder {
		return func() *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodPost, "/webhooks/fake", strings.NewReader("ev-1"))
			r.Header.Set("X-Sig", sig)
			w := httptest.NewRecorder()
			if err := instance(t, nil, 0).ServeHTTP(w, r, answer(http.StatusOK, 0)); err != nil {
				t.Fatal(err)
			}
			return w
		}
	}
	for _, tt := range []struct {
		name   string
		serve  func() *httptest.ResponseRecorder
		status int
		ctype  string
	}{
		{"merchant API answer", func() *httptest.ResponseRecorder {
			return pay(newTestHandler(t, io.Discard, zapcore.InfoLevel), upstream(signedPayAnswer()))
		}, 200, "application/json"},
		{"merchant API error", func() *httptest.ResponseRecorder {
			return payWith(newTestHandler(t, io.Discard, zapcore.InfoLevel), upstream(signedPayAnswer()), "{")
		}, 400, "application/json"},
		{"GET /sandbox/merchant/events", serveSandbox(http.MethodGet, "/sandbox/merchant/events", ""), 200, "application/json"},
		{"POST /sandbox/merchant/events", serveSandbox(http.MethodPost, "/sandbox/merchant/events", `{"a":1}`), 200, "application/json"},
		{"sandbox error", serveSandbox(http.MethodPost, "/sandbox/complete", `{}`), 400, "application/json"},
		{"sandbox 404", serveSandbox(http.MethodGet, "/nowhere", ""), 404, "application/json"},
		{"emulated API (cbtis token)", serveSandbox(http.MethodGet, cbtis.PathAuth+"?grant_type=password", ""), 400, "application/json"},
		{"console", serveSandbox(http.MethodGet, "/sandbox/", ""), 200, "text/html; charset=utf-8"},
		{"webhook ACK", notifyWebhook("ok"), 200, "text/plain"},
		{"webhook failure form", notifyWebhook("forged"), 401, "text/plain"},
		{"admin API", func() *httptest.ResponseRecorder {
			w := httptest.NewRecorder()
			if err := serveProviders(w, httptest.NewRequest(http.MethodGet, "/minipay/providers", nil)); err != nil {
				t.Fatal(err)
			}
			return w
		}, 200, "application/json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.serve()
			if w.Code != tt.status || w.Header().Get("Content-Type") != tt.ctype {
				t.Fatalf("%d %q, want %d %q: %s", w.Code, w.Header().Get("Content-Type"), tt.status, tt.ctype, w.Body)
			}
			if got := w.Header().Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
				t.Fatalf("X-Content-Type-Options %q, want one nosniff", got)
			}
		})
	}
}

// TestWebhookAnswerHeadersOneAllocation: the webhook's ACK, written on
// every notification, sets its Content-Type, Content-Length and nosniff in
// one allocation of its own (bodyHeaders), where three Set calls and
// noSniff took four; a bare ACK (wechat_v3, 2C2P) gets no Content-Type.
func TestWebhookAnswerHeadersOneAllocation(t *testing.T) {
	for _, tt := range []struct {
		ct   string
		want http.Header
	}{
		{"text/plain", http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"7"}, "X-Content-Type-Options": {"nosniff"}}},
		{"", http.Header{"Content-Length": {"0"}, "X-Content-Type-Options": {"nosniff"}}},
	} {
		body := []byte("success")
		if tt.ct == "" {
			body = nil
		}
		h := &Webhook{webhook: fixedAck{ct: tt.ct, body: body}}
		w := &headerWriter{header: http.Header{}}
		if n := testing.AllocsPerRun(100, func() { clear(w.header); h.ack(w) }); n != 1 {
			t.Errorf("ACK %q: %v allocations, want 1", tt.ct, n)
		}
		if !reflect.DeepEqual(w.header, tt.want) || w.status != http.StatusOK {
			t.Errorf("ACK %q: %d %v, want 200 %v", tt.ct, w.status, w.header, tt.want)
		}
	}
}

// fixedAck is fakeNotifications answering a fixed ACK.
type fixedAck struct {
	fakeNotifications
	ct   string
	body []byte
}

func (a fixedAck) Ack() (int, string, []byte) { return http.StatusOK, a.ct, a.body }

// headerWriter keeps the header and status and discards the body.
type headerWriter struct {
	header http.Header
	status int
}

func (w *headerWriter) Header() http.Header         { return w.header }
func (w *headerWriter) WriteHeader(status int)      { w.status = status }
func (w *headerWriter) Write(p []byte) (int, error) { return len(p), nil }
