package caddymodule

// The exchange with the next handler (reverse_proxy to the provider, or to
// the merchant backend): the request put on r for it and taken off again,
// the recorder its answer goes into, and what that answer means.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/minipay/caddy-minipay/transform"
)

// upstreamFailure maps what reverse_proxy returned to 504 or 502.
func upstreamFailure(err error) *transform.Error {
	var he caddyhttp.HandlerError
	var ne net.Error
	if errors.As(err, &he) && he.StatusCode == http.StatusGatewayTimeout ||
		errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return transform.Timeout()
	}
	if errors.Is(err, errAborted) {
		// The provider answered, then its body stopped (a connection lost,
		// a stall past read_timeout): "could not be reached" would send the
		// operator to check a connection that worked.
		return transform.Upstream("the provider's answer was cut short")
	}
	return transform.Upstream("the provider could not be reached")
}

// maxResends bounds how many times resendCutShort sends a call again: more
// than the idle connections Caddy's transport keeps per upstream (32 by
// default), every one of which the provider may have closed at once.
const maxResends = 40

// requestCutShort tells that reverse_proxy failed writing the request to
// the provider (a connection the provider had closed: broken pipe, reset,
// closed), so the provider did not receive it whole and no answer began:
// Go's transport writes a request with a body as its headers, then the
// body, and a failed write of either is a *net.OpError "write" (over TLS)
// or "readfrom" (a TCP connection's copy of the body). Over TLS it is
// also the bare net.ErrClosed, with no *net.OpError around it, that
// crypto/tls's Conn.Write returns, writing nothing, once the transport
// closed the connection (its read loop saw the provider close it); a read
// on a closed connection is a *net.OpError "read", not that. A dial's
// failure ("dial") is reverse_proxy's to retry (lb_try_duration); an
// answer that stopped is errAborted.
func requestCutShort(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Op == "write" || oe.Op == "readfrom"
	}
	return errors.Is(err, net.ErrClosed)
}

// recorder captures the next handler's answer (reverse_proxy's: the
// provider's or the merchant backend's) instead of sending it. It has a
// header map of its own and does not unwrap to the merchant's
// ResponseWriter, so nothing of that answer (headers, 1xx, body) can reach
// the merchant; it keeps at most maxAnswer bytes of the body. Recorders are
// pooled: a handler gets one per request and releases it once the merchant's
// answer is written (a decoded answer may be a slice of its body, which
// writeJSON may extend in place).
type recorder struct {
	header   http.Header
	body     bytes.Buffer
	status   int
	tooLarge bool
	// answered tells that the next handler wrote a final status or a body
	// (record defaults status to 200 when it returned without either).
	answered bool
	// unwritten is the status reverse_proxy received but did not write
	// when nothing was answered, 0 when no reverse_proxy got an answer: a
	// 101 Switching Protocols to a request that asked for no upgrade,
	// which reverse_proxy tries to hand over as a tunnel (Caddy 2.11.9
	// handleUpgradeResponse) and the recorder cannot take, or any status
	// whose handle_response route wrote nothing (silentHandleResponse).
	unwritten int
	// followedBy names the minipay or minipay_webhook handler that got this
	// recorder as its ResponseWriter ("minipay wechat_login"): it came next
	// in the route, where reverse_proxy was expected (misplacedAfter).
	followedBy string
	// request is the minipay handler's scratch for the request it sends.
	request struct {
		// body holds the merchant's body (readMerchantRequest): Prepare
		// copies what it keeps, so the buffer serves the next request.
		body []byte
		// header is the provider's request header, which reverse_proxy
		// copies before it sends anything (Handler.roundTrip); values
		// holds its values.
		header http.Header
		values []string
	}
}

var recorderPool = sync.Pool{New: func() any {
	rec := &recorder{header: make(http.Header, 8)}
	rec.request.header = make(http.Header, 4)
	return rec
}}

func getRecorder() *recorder { return recorderPool.Get().(*recorder) }

// release returns rec to the pool, unless its answer buffer grew past what
// a usual answer needs (it would pin that memory); a request scratch past
// what a usual request needs is dropped for the same reason.
func (rec *recorder) release() {
	if cap(rec.request.body) > maxPooledRequest {
		rec.request.body = nil
	}
	if rec.body.Cap() <= maxPooledAnswer {
		recorderPool.Put(rec)
	}
}

// clearRequest empties the request scratch once the request that used it
// is done: the pool keeps no request's values (a bearer token) alive.
func (rec *recorder) clearRequest() {
	clear(rec.request.header)
	clear(rec.request.values)
}

// maxPooledRequest keeps the scratch of the usual merchant requests (a pay
// is about 200 bytes) without pinning the 64 KiB a request may reach.
const maxPooledRequest = 4 << 10

const maxPooledAnswer = 64 << 10

// errAborted is reverse_proxy giving up on an answer it had started to copy
// (a connection reset or a body shorter than announced).
var errAborted = errors.New("the answer was cut short")

// record resets rec and lets next answer into it. A next that aborts with
// panic(http.ErrAbortHandler) — reverse_proxy does when it cannot copy an
// answer to the end — returns errAborted instead, so the merchant still
// gets a JSON answer; any other panic goes on.
func (rec *recorder) record(r *http.Request, next caddyhttp.Handler) (err error) {
	clear(rec.header)
	rec.body.Reset()
	rec.status, rec.tooLarge, rec.followedBy, rec.unwritten = 0, false, "", 0
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl != nil {
		repl.Delete(proxyStatus) // an earlier call's
	}
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			err = errAborted
		}
		if rec.tooLarge {
			err = errTooLarge
		}
		rec.answered = rec.status != 0
		if !rec.answered && repl != nil {
			if status, ok := repl.Get(proxyStatus); ok {
				rec.unwritten, _ = status.(int)
			}
		}
		if err == nil && rec.status == 0 {
			rec.status = http.StatusOK
		}
	}()
	return next.ServeHTTP(rec, r)
}

// silentHandleResponse is the message of a route whose reverse_proxy
// received a final answer (not a 101, which it writes nothing of) that
// nothing wrote: a handle_response route matched it and answered nothing.
// Saying that from ("the provider") answered HTTP status would blame it
// for a route's fault. directive is the handler before reverse_proxy.
func silentHandleResponse(directive, from string, status int) string {
	return "no handler after " + directive + " answered: reverse_proxy received " + from + "'s HTTP " + strconv.Itoa(status) +
		" and its handle_response route wrote nothing"
}

// proxyStatus is the placeholder reverse_proxy sets to the status of the
// answer it received, before it writes anything.
const proxyStatus = "http.reverse_proxy.status_code"

// misplacedAfter tells a minipay or minipay_webhook handler that it was
// given another one's recorder: it comes right after that handler in its
// route, where reverse_proxy was expected (two of them with one matcher,
// or none, in one handle block), and what it got is the provider's request
// or the event, not the merchant's or the provider's. It then answers
// nothing and names itself, for the handler before it to say so, where
// that one would report its provider's or backend's 404 ("the provider
// answered HTTP 404").
func misplacedAfter(w http.ResponseWriter, directive, provider string) bool {
	rec, ok := w.(*recorder)
	if ok {
		rec.followedBy = directive + " " + provider
	}
	return ok
}

// misplacedMessage is the error of a handler followed by another
// (misplacedAfter).
func misplacedMessage(directive, followedBy string) string {
	return "no reverse_proxy after " + directive + ": the next handler in its route is " + followedBy +
		" (give each its own handle block)"
}

// Header implements http.ResponseWriter.
func (rec *recorder) Header() http.Header { return rec.header }

// WriteHeader implements http.ResponseWriter; 1xx answers are not final and
// are dropped.
func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 && status >= 200 {
		rec.status = status
	}
}

// Write implements http.ResponseWriter; past maxAnswer it fails, which stops
// reverse_proxy from reading further.
func (rec *recorder) Write(p []byte) (int, error) {
	rec.WriteHeader(http.StatusOK)
	if rec.body.Len()+len(p) > maxAnswer {
		rec.tooLarge = true
		return 0, errTooLarge
	}
	return rec.body.Write(p)
}

// bodyReader is an in-memory request body that costs one allocation, where
// io.NopCloser(bytes.NewReader(b)) costs two. It is never pooled: a
// transport may still read or close a request's body after RoundTrip
// returns.
type bodyReader struct{ bytes.Reader }

func newBodyReader(b []byte) *bodyReader {
	r := new(bodyReader)
	r.Reset(b)
	return r
}

// Close implements io.Closer.
func (*bodyReader) Close() error { return nil }

// setBody makes b r's body, framed by its Content-Length alone: the
// received request's framing stays with it (a chunked Transfer-Encoding
// left on r made Go's transport send b chunked, with the sender's
// trailers). Its GetBody reads b again: Go's transport needs one to send a
// request again on a fresh connection (a reused one that failed before
// anything was written, HTTP/2's GOAWAY, an idempotent request whose reused
// connection closed before the answer).
func setBody(r *http.Request, b []byte) {
	r.ContentLength, r.TransferEncoding, r.Trailer = int64(len(b)), nil, nil
	if len(b) == 0 {
		r.Body, r.GetBody = http.NoBody, nil
		return
	}
	r.Body = newBodyReader(b)
	r.GetBody = func() (io.ReadCloser, error) { return newBodyReader(b), nil }
}

// savedRequest is what minipay and minipay_webhook replace on r to send it
// on (method, URL, Host, headers, body with its GetBody, and framing), kept
// to be put back once next returned: Caddy reads r when it writes the
// access log (its uri and headers, a log_append placeholder), which must
// show the request as received, not the one sent upstream. Its Trailer is
// not kept: setBody leaves r without one, and it stays so.
type savedRequest struct {
	method, host, requestURI string
	url                      url.URL
	header                   http.Header
	body                     io.ReadCloser
	getBody                  func() (io.ReadCloser, error)
	contentLength            int64
	transferEncoding         []string
}

func saveRequest(r *http.Request) savedRequest {
	return savedRequest{method: r.Method, host: r.Host, requestURI: r.RequestURI, url: *r.URL, header: r.Header,
		body: r.Body, getBody: r.GetBody, contentLength: r.ContentLength, transferEncoding: r.TransferEncoding}
}

// restore puts the saved request back on r, all but its Trailer, which
// stays nil: reverse_proxy's request body (Caddy 2.11.9
// requestBodyWithTrailers) copies r's Trailer into the upstream request's
// when it reaches its end, on the transport's goroutine, which may still
// be sending the body after next returned (an upstream that answered before
// reading it all). A Trailer put back here raced with that read, and the
// merchant's trailers it held could be copied and sent to the provider
// after the body (HTTP/2 sends a request's Trailer once its body ends),
// which README says never happens. Nothing reads r's Trailer later (the
// access log does not).
func (s *savedRequest) restore(r *http.Request) {
	r.Method, r.Host, r.RequestURI, *r.URL = s.method, s.host, s.requestURI, s.url
	r.Header = s.header
	r.Body, r.GetBody, r.ContentLength, r.TransferEncoding = s.body, s.getBody, s.contentLength, s.transferEncoding
}

// decodedBody removes the answer's Content-Encoding (some providers compress
// whatever the client asked for) by transform.DecodeContent's rule, bounded
// like every other body.
func decodedBody(header http.Header, body []byte) ([]byte, error) {
	return transform.DecodeContent(header, body, maxAnswer)
}
