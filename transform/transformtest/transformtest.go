// Package transformtest holds what the providers' tests share: the error
// assertions, the must-construct helper, the pinned clock, the pay
// round-trip benchmark body, the fuzz targets' byte flipper, gzip and
// reference JSON flattening (Leaves), an in-memory transform.Store that can
// be made to fail (MemStore), 2C2P's demo-server vectors and the sandboxes'
// concurrency check (ParallelPays). It is imported by tests only.
package transformtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/minipay/caddy-minipay/transform"
)

// Outcome is a decoded answer as one comparable text: the merchant's JSON,
// or for a *transform.Error its status, code and provider_code ("502
// upstream_error ACCEPT"), so that a table of states can hold both.
func Outcome(out []byte, err error) string {
	var e *transform.Error
	if errors.As(err, &e) {
		return strings.TrimSpace(fmt.Sprintf("%d %s %s", e.Status, e.Code, e.ProviderCode))
	}
	if err != nil {
		return "error " + err.Error()
	}
	return string(out)
}

// EventText is an event's type and members as one comparable text, absent
// ones empty: type, order_id, provider_order_id, refund_id, amount,
// currency, occurred_at.
func EventText(ev *transform.Event, err error) string {
	if err != nil {
		return "error " + err.Error()
	}
	return strings.Join([]string{ev.Type, ev.OrderID, ev.ProviderOrderID, ev.RefundID, ev.Amount, ev.Currency, ev.OccurredAt}, " ")
}

// WantError asserts that err is a *transform.Error with status and code, and
// that its JSON form carries none of the forbidden strings (secrets, URLs
// with secrets in their query).
func WantError(t testing.TB, err error, status int, code string, forbidden ...string) *transform.Error {
	t.Helper()
	var e *transform.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *transform.Error", err, err)
	}
	if e.Status != status || e.Code != code {
		t.Fatalf("error = %d %s (%s), want %d %s", e.Status, e.Code, e.Message, status, code)
	}
	j := string(e.JSON())
	for _, f := range forbidden {
		if f != "" && strings.Contains(j, f) {
			t.Fatalf("the error carries %q: %s", f, j)
		}
	}
	return e
}

// NothingToSend fails t when call, which Prepare returned with an error,
// holds anything to send: a refused request comes with no call, or with
// one that only names its order for the log line (transform.Client).
func NothingToSend(t testing.TB, call *transform.Call) {
	t.Helper()
	if call != nil && !reflect.DeepEqual(*call, transform.Call{OrderID: call.OrderID}) {
		t.Fatalf("Prepare refused the request but returned a call to send: %+v", call)
	}
}

// Must builds a provider side with its constructor and fails t on error:
// transformtest.Must(t, NewWebhook, cfg).
func Must[C, T any](t testing.TB, construct func(C) (T, error), cfg C) T {
	t.Helper()
	v, err := construct(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Valid validates a canonical request for a test that calls a builder
// directly (Operations.Prepare validates before it builds), failing t when
// the request is invalid.
func Valid[R interface{ Validate() error }](t testing.TB, req R) R {
	t.Helper()
	if err := req.Validate(); err != nil {
		t.Fatal(err)
	}
	return req
}

// Pinned is the tests' clock: 2026-11-22 10:00:00 UTC+8 (02:00 UTC), the
// time the known-answer fixtures were signed at.
var Pinned = time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)

// Clock is a Now that always answers Pinned.
func Clock() time.Time { return Pinned }

// PayRoundTrip is the body of every provider's BenchmarkPayRoundTrip: the
// transform work of one merchant pay call, Prepare of body, then Decode of
// a provider answer prepared outside the loop.
func PayRoundTrip(b *testing.B, c transform.Client, body []byte, header http.Header, answer []byte) {
	b.Helper()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		call, err := c.Prepare(ctx, transform.OpPay, body)
		if err != nil {
			b.Fatal(err)
		}
		out, err := call.Decode(http.StatusOK, header, answer)
		if err != nil || len(out) == 0 {
			b.Fatal(err)
		}
	}
}

// WantUnsignedAnswer asserts what a provider's ExplainAnswer says of n:
// an unsigned API answer (transform.ErrUnsignedAnswer, kind answer) when
// unsigned is true, else not an answer at all (left to Explain, the kind
// untouched).
func WantUnsignedAnswer(t testing.TB, ae transform.AnswerExplainer, n transform.Notification, unsigned bool) {
	t.Helper()
	x := transform.Explanation{Kind: transform.KindNotification}
	isAnswer, err := ae.ExplainAnswer(n, &x)
	if isAnswer != unsigned {
		t.Fatalf("ExplainAnswer = %v, %v; want answer %v", isAnswer, err, unsigned)
	}
	wantKind, wantErr := transform.KindNotification, error(nil)
	if unsigned {
		wantKind, wantErr = transform.KindAnswer, transform.ErrUnsignedAnswer
	}
	if !errors.Is(err, wantErr) || x.Kind != wantKind {
		t.Fatalf("ExplainAnswer error %v, kind %q; want %v, %q", err, x.Kind, wantErr, wantKind)
	}
}

// Flipped is body with one byte changed (the one at i modulo its length,
// XORed with a non-zero mask): fuzz targets check that a signed document
// changed anywhere never verifies.
func Flipped(body []byte, i uint16, mask byte) []byte {
	b := append([]byte(nil), body...)
	if len(b) > 0 {
		b[int(i)%len(b)] ^= mask | 1
	}
	return b
}

// WantAnswerError asserts what every answer reader's failure must be (fuzz
// targets): a *transform.Error, 422 or 502, with no result beside it, and
// provider text of at most transform.MaxProviderText bytes of UTF-8.
func WantAnswerError(t testing.TB, err error, out []byte) *transform.Error {
	t.Helper()
	var e *transform.Error
	if !errors.As(err, &e) || out != nil || e.Status != http.StatusUnprocessableEntity && e.Status != http.StatusBadGateway {
		t.Fatalf("error %v (%T), result %q", err, err, out)
	}
	for _, s := range []string{e.ProviderCode, e.ProviderMessage} {
		if len(s) > transform.MaxProviderText || !utf8.ValidString(s) {
			t.Fatalf("provider text %q (%d bytes)", s, len(s))
		}
	}
	return e
}

// WantRefundQueryError is WantAnswerError for a refund_query answer, which
// may also be the merchant's 400 naming order_id (README "Errors"), but
// only when the merchant asked for an order and the answer gives the
// refund another one.
func WantRefundQueryError(t testing.TB, err error, out []byte, asked, answered string) *transform.Error {
	t.Helper()
	var e *transform.Error
	if errors.As(err, &e) && e.Status == http.StatusBadRequest {
		if out != nil || e.Code != transform.CodeInvalidRequest || e.Field != "order_id" || asked == "" || answered == "" || answered == asked {
			t.Fatalf("error %v (field %q) for order_id %q, answered %q; result %q", err, e.Field, asked, answered, out)
		}
		return e
	}
	return WantAnswerError(t, err, out)
}

// Allocated runs f several times and returns the fewest bytes one run
// allocated (the whole process's count: tests measuring it do not run in
// parallel). One run is not enough under -race, where sync.Pool drops a
// random quarter of what is put back: io.Discard's 8 KiB buffer, taken once
// per multipart part mime/multipart skips, was allocated afresh about 16
// times as 2C2P refused a 900-part form at its 65th part, which measured
// 181–288 KB against its 262 KB bound (78–91 KB without -race). A cost that grows with the input
// is in every run; the pool's misses are not.
func Allocated(f func()) uint64 {
	const runs = 5
	least := uint64(math.MaxUint64)
	for range runs {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// FlatElements is a flat XML document under root: head, then one-byte
// elements of names of their own (e0, e1, …) up to about size bytes, then
// tail: what costs a flat parser most per byte.
func FlatElements(root, head, tail string, size int) []byte {
	var b strings.Builder
	b.WriteString("<" + root + ">" + head)
	end := tail + "</" + root + ">"
	for i := 0; b.Len()+len(end) < size-20; i++ {
		fmt.Fprintf(&b, "<e%x>v</e%x>", i, i)
	}
	b.WriteString(end)
	return []byte(b.String())
}

// Gzip compresses b (writing to memory cannot fail).
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// WantContentEncodingRule checks a Webhook reads a notification as HTTP
// defines its body (RFC 9110 §8.4): n, which must verify, verifies to the
// same event once gzip-compressed with a Content-Encoding saying so (one or
// two layers, x-gzip, identity, any case), and is refused (ErrMalformed)
// when its Content-Encoding names a coding the body does not have, one no
// webhook removes, more gzip layers than transform.MaxGzipLayers, or a gzip
// body that inflates past MaxNotification.
func WantContentEncodingRule(t *testing.T, w transform.Webhook, n transform.Notification) {
	t.Helper()
	want, err := w.Verify(n)
	if err != nil {
		t.Fatalf("the notification does not verify: %v", err)
	}
	with := func(body []byte, codings ...string) transform.Notification {
		h := n.Header.Clone()
		if h == nil {
			h = http.Header{}
		}
		h["Content-Encoding"] = codings
		return transform.Notification{Header: h, Body: body}
	}
	bomb := Gzip(bytes.Repeat([]byte(" "), transform.MaxNotification+1))
	for _, tt := range []struct {
		name string
		n    transform.Notification
		ok   bool
	}{
		{"gzip", with(Gzip(n.Body), "gzip"), true},
		{"x-gzip, upper case", with(Gzip(n.Body), "X-GZIP"), true},
		{"gzip twice, on two lines", with(Gzip(Gzip(n.Body)), "gzip", "gzip"), true},
		{"identity", with(n.Body, "identity"), true},
		{"declared gzip, sent plain", with(n.Body, "gzip"), false},
		{"br", with(n.Body, "br"), false},
		{"deflate", with(n.Body, "deflate"), false},
		{"gzip three times", with(Gzip(Gzip(Gzip(n.Body))), "gzip, gzip, gzip"), false},
		{"gzip past the bound", with(bomb, "gzip"), false},
	} {
		got, err := w.Verify(tt.n)
		switch {
		case tt.ok && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.ok && (got.ID != want.ID || got.Type != want.Type || len(got.Data) != len(want.Data)):
			t.Errorf("%s: event %+v, want %+v", tt.name, got, want)
		case !tt.ok && !errors.Is(err, transform.ErrMalformed):
			t.Errorf("%s: %+v, %v; want %v", tt.name, got, err, transform.ErrMalformed)
		}
	}
}

// FewestAllocs is the fewest allocations of runs single calls of f
// (testing.AllocsPerRun(1, f) each): under -race, sync.Pool drops a
// quarter of its Puts at random, and an average counts those misses.
func FewestAllocs(runs int, f func()) float64 {
	fewest := math.Inf(1)
	for range runs {
		fewest = min(fewest, testing.AllocsPerRun(1, f))
	}
	return fewest
}
