package caddymodule

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/minipay/caddy-minipay/transform"
)

const (
	// maxBody bounds merchant requests and provider notifications (DESIGN.md §4, §5).
	maxBody = 64 << 10
	// maxAnswer bounds what minipay buffers of an upstream answer or a merchant's reply.
	maxAnswer = 1 << 20
)

var errTooLarge = errors.New("body too large")

// readBody reads at most limit bytes; a longer body is errTooLarge.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

// readMerchantRequest enforces DESIGN.md §4's request rules, in the order a
// client can act on: POST, JSON, size.
func readMerchantRequest(r *http.Request) ([]byte, *transform.Error) {
	if r.Method != http.MethodPost {
		return nil, &transform.Error{Status: http.StatusMethodNotAllowed, Code: transform.CodeMethodNotAllowed, Message: "use POST"}
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, &transform.Error{Status: http.StatusUnsupportedMediaType, Code: transform.CodeUnsupportedMediaType, Message: "send Content-Type: application/json"}
	}
	body, err := readBody(r, maxBody)
	if errors.Is(err, errTooLarge) {
		return nil, &transform.Error{Status: http.StatusRequestEntityTooLarge, Code: transform.CodeRequestTooLarge, Message: "the body is larger than 64 KiB"}
	}
	if err != nil {
		return nil, &transform.Error{Status: http.StatusBadRequest, Code: transform.CodeInvalidRequest, Message: "the body could not be read"}
	}
	return body, nil
}

// writeJSON sends body with a trailing newline (friendlier in a terminal,
// irrelevant to JSON parsers).
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	_, _ = w.Write(newline)
}

var newline = []byte("\n")

func writeError(w http.ResponseWriter, e *transform.Error) { writeJSON(w, e.Status, e.JSON()) }

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

// upstreamFailure maps what reverse_proxy returned to 504 or 502.
func upstreamFailure(err error) *transform.Error {
	var he caddyhttp.HandlerError
	var ne net.Error
	if errors.As(err, &he) && he.StatusCode == http.StatusGatewayTimeout ||
		errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return transform.Timeout()
	}
	return transform.Upstream("the provider could not be reached")
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// recorded is the next handler's answer, captured instead of sent.
type recorded struct {
	status int
	header http.Header
	body   []byte
	err    error
}

// record calls next with a recorder and restores w's header map afterwards:
// the recorder writes the upstream's headers into w's map, and none of them
// may leak into the answer minipay writes itself.
func record(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, buf *bytes.Buffer) recorded {
	saved := w.Header().Clone()
	rec := caddyhttp.NewResponseRecorder(w, buf, func(int, http.Header) bool { return true })
	err := next.ServeHTTP(rec, r)
	out := recorded{status: rec.Status(), header: w.Header().Clone(), err: err}
	h := w.Header()
	for k := range h {
		delete(h, k)
	}
	for k, v := range saved {
		h[k] = v
	}
	if err == nil {
		if out.status == 0 {
			out.status = http.StatusOK
		}
		out.body = buf.Bytes()
		if buf.Len() > maxAnswer {
			out.err = errTooLarge
		}
	}
	return out
}

// decodedBody removes a gzip Content-Encoding (some providers compress
// whatever the client asked for), bounded like every other body.
func decodedBody(header http.Header, body []byte) ([]byte, error) {
	switch header.Get("Content-Encoding") {
	case "", "identity":
		return body, nil
	case "gzip":
		return transform.Gunzip(body, maxAnswer)
	}
	return nil, errors.New("unsupported Content-Encoding")
}
