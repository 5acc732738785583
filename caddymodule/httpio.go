package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/minipay/caddy-minipay/transform"
)

const (
	// maxBody bounds merchant requests and provider notifications (README "Merchant API", "Webhooks").
	maxBody = 64 << 10
	// maxAnswer bounds what minipay buffers of an upstream answer or a merchant's reply.
	maxAnswer = transform.MaxAnswer
)

var errTooLarge = errors.New("body too large")

// errRouteLimit is a body past a bound the route set below maxBody
// (request_body max_size, whose reader fails mid-body with
// *http.MaxBytesError): too large as well.
var errRouteLimit = fmt.Errorf("%w for the route's request_body max_size", errTooLarge)

// tooLarge maps a read that passed a route's bound to errRouteLimit.
func tooLarge(err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return errRouteLimit
	}
	return err
}

// readBody reads at most limit bytes; a longer body is errTooLarge. A body
// of known length is read into scratch when it fits (a pooled buffer the
// caller owns until it is done with the body), else into one exact
// allocation; scratch may be nil.
func readBody(r *http.Request, limit int64, scratch []byte) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	if r.ContentLength >= 0 { // the server holds the body to this length
		b := scratch[:0]
		if int64(cap(b)) >= r.ContentLength {
			b = b[:r.ContentLength]
		} else {
			b = make([]byte, r.ContentLength)
		}
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, tooLarge(err)
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, tooLarge(err)
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

// answerBeforeBody prepares the answer to a request whose client holds its
// body back until the server asks for it (HTTP/1.1, Expect: 100-continue,
// RFC 9110 §10.1.1): the answer says Connection: close until the handler
// reads the body, which asks for it. A request refused before its body is
// needed (its operation, method, media type, declared size) is then
// answered at once, and the body is never sent. Without it, Caddy's server
// wraps the body (its read idle timeout), so net/http, which closes such a
// connection itself, instead reads the body it never asked for before
// answering: the client waits for its own expect timeout (curl's 1 s; Go's
// transport's), then uploads up to 256 KiB of a body refused anyway.
// Requests without the expectation cost one header lookup.
func answerBeforeBody(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 1 || r.ProtoMinor < 1 || r.ContentLength == 0 || !expectsContinue(r.Header["Expect"]) {
		return
	}
	h := w.Header()
	if _, set := h["Connection"]; set { // another handler's choice stands
		return
	}
	h["Connection"] = []string{"close"}
	r.Body = &awaitedBody{ReadCloser: r.Body, header: h}
}

// expectsContinue tells whether Expect's values list 100-continue (a
// token, in any case, as net/http reads it).
func expectsContinue(values []string) bool {
	for _, v := range values {
		for token := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(token), "100-continue") {
				return true
			}
		}
	}
	return false
}

// awaitedBody is a body its client sends once asked: the first read asks
// for it (net/http sends 100 Continue), so the connection can stay open.
type awaitedBody struct {
	io.ReadCloser
	header http.Header
	asked  bool
}

// Read implements io.Reader.
func (b *awaitedBody) Read(p []byte) (int, error) {
	if !b.asked {
		b.asked = true
		delete(b.header, "Connection")
	}
	return b.ReadCloser.Read(p)
}

// readMerchantRequest enforces README "Errors"'s request rules, in the order a
// client can act on: POST, JSON, size. A 405 carries Allow (RFC 9110
// §15.5.6 requires it).
// The body is read into scratch when it fits (readBody).
func readMerchantRequest(w http.ResponseWriter, r *http.Request, scratch []byte) ([]byte, *transform.Error) {
	if terr := requirePost(w, r); terr != nil {
		return nil, terr
	}
	// Content-Type is one value, not a list (RFC 9110 §5.3, §8.3): a second
	// line, which another reader could take instead, is refused too.
	if ct := r.Header["Content-Type"]; len(ct) != 1 || ct[0] != "application/json" { // the usual value needs no parsing
		if len(ct) != 1 {
			return nil, &transform.Error{Status: http.StatusUnsupportedMediaType, Code: transform.CodeUnsupportedMediaType, Message: "send one Content-Type: application/json"}
		}
		if mt, _, err := mime.ParseMediaType(ct[0]); err != nil || mt != "application/json" {
			return nil, &transform.Error{Status: http.StatusUnsupportedMediaType, Code: transform.CodeUnsupportedMediaType, Message: "send Content-Type: application/json"}
		}
	}
	return readPlainBody(r, scratch)
}

// requirePost refuses any method but POST, with Allow.
func requirePost(w http.ResponseWriter, r *http.Request) *transform.Error {
	if r.Method != http.MethodPost {
		w.Header()["Allow"] = []string{http.MethodPost} // its own: a handler may write a value in place
		return &transform.Error{Status: http.StatusMethodNotAllowed, Code: transform.CodeMethodNotAllowed, Message: "use POST"}
	}
	return nil
}

// readPlainBody reads a request body of at most maxBody bytes, into scratch
// when it fits (readBody), refusing a Content-Encoding.
func readPlainBody(r *http.Request, scratch []byte) ([]byte, *transform.Error) {
	// A coded body would be read as JSON as it is (RFC 9110 §15.5.16: 415);
	// every coding listed counts, on every header line, and so does a list
	// too long to be read (transform.MaxCodingElements).
	if codings, ok := transform.ContentCodings(r.Header); !ok || slices.ContainsFunc(codings, func(c string) bool { return c != "identity" }) {
		return nil, &transform.Error{Status: http.StatusUnsupportedMediaType, Code: transform.CodeUnsupportedMediaType, Message: "send the body without a Content-Encoding"}
	}
	body, err := readBody(r, maxBody, scratch)
	if errors.Is(err, errRouteLimit) {
		return nil, &transform.Error{Status: http.StatusRequestEntityTooLarge, Code: transform.CodeRequestTooLarge, Message: "the body is larger than the route's request_body max_size"}
	}
	if errors.Is(err, errTooLarge) {
		return nil, &transform.Error{Status: http.StatusRequestEntityTooLarge, Code: transform.CodeRequestTooLarge, Message: "the body is larger than 64 KiB"}
	}
	if err != nil {
		return nil, &transform.Error{Status: http.StatusBadRequest, Code: transform.CodeInvalidRequest, Message: "the body could not be read"}
	}
	return body, nil
}

// writeJSON sends body with a trailing newline (friendlier in a terminal,
// irrelevant to JSON parsers). Callers pass a body they own, never a shared
// or pre-built slice (transform.Call.Decode's answer is the caller's): the
// newline is appended in place when body has room, so the answer is one
// Write (Caddy's idle-timeout writer moves the connection's deadline on
// every Write), and a 200 needs no WriteHeader call of its own.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	// The four values in one allocation of this answer's own: a handler
	// may write a value in place (Caddy's deferred header replace assigns
	// hdr[field][i]), so a value slice is never shared between answers.
	values := make([]string, 4)
	values[0], values[1], values[2], values[3] = "application/json", "no-store", contentLength(len(body)+1), "nosniff"
	h["Content-Type"], h["Cache-Control"], h["Content-Length"] = values[0:1:1], values[1:2:2], values[2:3:3]
	h["X-Content-Type-Options"] = values[3:4:4]
	if status != http.StatusOK {
		w.WriteHeader(status)
	}
	if cap(body) > len(body) {
		_, _ = w.Write(append(body, '\n'))
		return
	}
	_, _ = w.Write(body)
	_, _ = w.Write(newline)
}

// contentLength is the header value of n: for the usual answer sizes a
// shared string (strings are immutable; the slice holding it is the
// answer's own), made on first use, so an answer allocates none for it.
func contentLength(n int) string {
	if n >= len(contentLengths) {
		return strconv.Itoa(n)
	}
	if v := contentLengths[n].Load(); v != nil {
		return *v
	}
	v := strconv.Itoa(n)
	contentLengths[n].Store(&v)
	return v
}

var (
	newline        = []byte("\n")
	contentLengths [2048]atomic.Pointer[string]
)

func writeError(w http.ResponseWriter, e *transform.Error) { writeJSON(w, e.Status, e.JSON()) }

// bodyHeaders sets the Content-Type (none when ct is empty), Content-Length
// and X-Content-Type-Options of an answer of n bytes other than writeJSON's,
// in one allocation of the answer's own as writeJSON does: the webhook's
// ACK and failure form, one on every notification, took three or four.
func bodyHeaders(h http.Header, ct string, n int) {
	values := make([]string, 3)
	values[0], values[1], values[2] = ct, contentLength(n), "nosniff"
	if ct != "" {
		h["Content-Type"] = values[0:1:1]
	}
	h["Content-Length"], h["X-Content-Type-Options"] = values[1:2:2], values[2:3:3]
}

// noSniff tells a browser to take an answer for its Content-Type, never
// for what its bytes look like (a JSON or XML body holding text that reads
// as HTML or script), as every answer the plugin writes does. The value is
// the answer's own (see writeJSON).
func noSniff(h http.Header) { h["X-Content-Type-Options"] = []string{"nosniff"} }

// asError maps any error to the merchant's error model; an error that is not
// a *transform.Error never has its text shown (it could carry a URL).
func asError(err error) *transform.Error {
	var te *transform.Error
	if errors.As(err, &te) {
		return te
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return transform.Timeout()
	}
	return transform.Upstream("the provider's answer could not be processed")
}
