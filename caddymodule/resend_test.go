package caddymodule

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap/zapcore"

	"github.com/minipay/caddy-minipay/transform/latipay"
)

// TestCallSentAgainAfterItsWriteFailed: a keep-alive connection the
// provider closed as idle, taken by reverse_proxy's transport before it saw
// the close, fails the write of the call's body (Go's transport writes the
// headers, then the body, and reports that write's failure as the body's
// own error, which it never retries). A WeChat call (keyed by its
// out_trade_no) is sent again, whole and with the same Idempotency-Key,
// while its failed write went to a connection used before (each idle one
// may have been closed), up to maxResends times, and once after a first
// failure on a fresh connection; a Latipay refund (nothing keys it) is
// not, nor is a call whose dial failed (reverse_proxy's lb_try_duration
// retries those) or that was written whole (an EOF waiting for the
// answer). README "Under faults and reloads".
func TestCallSentAgainAfterItsWriteFailed(t *testing.T) {
	type failure struct {
		err    error
		reused bool // the connection the transport took had served a call before
	}
	// What reverse_proxy returns for each failed write: the errors Go's
	// transport gave through Caddy 2.11.9 (integration
	// TestProviderClosesIdleConnections).
	brokenPipe := &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}
	readFrom := &net.OpError{Op: "readfrom", Net: "tcp", Err: brokenPipe}
	closed := &net.OpError{Op: "write", Net: "tcp", Err: net.ErrClosed}
	// crypto/tls's Conn.Write refuses, writing nothing, once the transport
	// closed the connection (its read loop saw the provider close it):
	// the bare net.ErrClosed, no *net.OpError around it.
	tlsClosed := net.ErrClosed
	// A read of the answer on a connection closed under it: the call was
	// written whole.
	readClosed := fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w",
		&net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed})
	reset := &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.ECONNRESET)}
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	lp, err := latipay.NewClient(latipay.Config{UserID: "U12345678", WalletID: "W00000001",
		APIKey: "lp-sandbox-3f9a1c7e5b2d4086", AppID: testAppID, Currency: "NZD"})
	if err != nil {
		t.Fatal(err)
	}
	const latipayRefund = `{"order_id":"LP-1","refund_id":"R1","amount":"1.00","currency":"NZD","provider_order_id":"2017232323345678"}`
	latipayAnswer := []byte(`{"code":0,"message":"SUCCESS"}`)
	// stale repeats err as a failed write on a connection used before,
	// n times.
	stale := func(n int, err error) []failure {
		f := make([]failure, n)
		for i := range f {
			f[i] = failure{err, true}
		}
		return f
	}
	tests := []struct {
		name     string
		latipay  bool
		failures []failure // what reverse_proxy returns for the first calls
		calls    int       // how many times the call reaches next
		status   int
	}{
		{"wechat_v2 pay, a body write's broken pipe", false, stale(1, brokenPipe), 2, 200},
		{"wechat_v2 pay, a TCP copy's broken pipe", false, stale(1, readFrom), 2, 200},
		{"wechat_v2 pay, a closed connection", false, stale(1, closed), 2, 200},
		{"wechat_v2 pay, a TLS connection the transport had closed", false, stale(1, tlsClosed), 2, 200},
		{"wechat_v2 pay, TLS connections closed, then a reset", false, []failure{{tlsClosed, true}, {tlsClosed, true}, {reset, true}}, 4, 200},
		{"wechat_v2 pay, a reset", false, stale(1, reset), 2, 200},
		{"wechat_v2 pay, a fresh connection's failed write, then a success", false, []failure{{readFrom, false}}, 2, 200},
		{"wechat_v2 pay, a pool of 32 closed connections", false, stale(32, readFrom), 33, 200},
		{"wechat_v2 pay, maxResends on closed connections", false, stale(maxResends, brokenPipe), maxResends + 1, 200},
		{"wechat_v2 pay, one more", false, stale(maxResends+1, brokenPipe), maxResends + 1, 502},
		{"wechat_v2 pay, sent again on a fresh connection that fails", false, []failure{{readFrom, true}, {readFrom, false}}, 2, 502},
		{"wechat_v2 pay, then a reused one, then a fresh one", false, []failure{{readFrom, true}, {closed, true}, {reset, false}}, 3, 502},
		{"wechat_v2 pay, a dial refused", false, []failure{{dial, false}}, 1, 502},
		{"wechat_v2 pay, an EOF waiting for the answer", false, []failure{{io.ErrUnexpectedEOF, true}}, 1, 502},
		{"wechat_v2 pay, a closed connection's read of the answer", false, []failure{{readClosed, true}}, 1, 502},
		{"latipay refund, a TLS connection the transport had closed", true, stale(1, tlsClosed), 1, 502},
		{"wechat_v2 pay, sent again, then an EOF", false, []failure{{readFrom, true}, {io.ErrUnexpectedEOF, true}}, 2, 502},
		{"latipay refund, a broken pipe", true, stale(1, readFrom), 1, 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var bodies [][]byte
			var keys []string
			next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				b, _ := io.ReadAll(r.Body)
				bodies = append(bodies, b)
				keys = append(keys, strings.Join(r.Header.Values("Idempotency-Key"), ","))
				if n := len(bodies); n <= len(tt.failures) {
					// The transport reports the connection it took, as
					// Go's does before it writes (a reverse_proxy of its own
					// composes its trace with minipay's).
					if trace := httptrace.ContextClientTrace(r.Context()); trace != nil && trace.GotConn != nil {
						trace.GotConn(httptrace.GotConnInfo{Reused: tt.failures[n-1].reused})
					}
					return caddyhttp.Error(http.StatusBadGateway, tt.failures[n-1].err)
				}
				w.Header().Set("Content-Type", "text/xml")
				if tt.latipay {
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write(latipayAnswer)
					return nil
				}
				_, _ = w.Write(signedPayAnswer())
				return nil
			})
			var w *httptest.ResponseRecorder
			if tt.latipay {
				h := newTestHandlerOf(t, latipay.Name, lp, io.Discard, zapcore.InfoLevel)
				r := httptest.NewRequest(http.MethodPost, "http://minipay.local/latipay/refund", strings.NewReader(latipayRefund))
				r.Header.Set("Content-Type", "application/json")
				w = httptest.NewRecorder()
				_ = h.ServeHTTP(w, r, next)
			} else {
				w = pay(newTestHandler(t, io.Discard, zapcore.InfoLevel), next)
			}
			if w.Code != tt.status || len(bodies) != tt.calls {
				t.Fatalf("HTTP %d %s after %d calls, want %d after %d", w.Code, w.Body, len(bodies), tt.status, tt.calls)
			}
			if tt.status != 200 && !strings.Contains(w.Body.String(), `"code":"upstream_error"`) {
				t.Errorf("answer %s, want upstream_error", w.Body)
			}
			for i := range bodies {
				if len(bodies[i]) == 0 || !bytes.Equal(bodies[i], bodies[0]) || keys[i] != keys[0] {
					t.Errorf("call %d: body %q key %q, want the first call's %q %q", i+1, bodies[i], keys[i], bodies[0], keys[0])
				}
			}
			if tt.latipay != (keys[0] == "") {
				t.Errorf("Idempotency-Key %q", keys[0])
			}
		})
	}
}
