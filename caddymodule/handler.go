package caddymodule

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/minipay/caddy-minipay/transform"
)

// Handler is the minipay middleware: it turns a merchant's plain JSON request
// into the provider's signed request, lets the next handler (reverse_proxy
// to the provider) carry it, then verifies the answer and rewrites it into
// the normalized JSON. The operation is the last element of the path.
//
//	minipay [<matcher>] <provider_name> {
//	    <field> <value>
//	}
type Handler struct {
	providerHandler
	adminListing
	client transform.Client
	// ops holds the series of each operation the provider supports, and
	// the logger of the others.
	ops operationSeries
	// noCallerIP: the client's pay never reads the caller's IP, so a
	// request's context goes to Prepare without it (two allocations a pay).
	noCallerIP bool
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.minipay", New: func() caddy.Module { return new(Handler) }}
}

// Provision loads the provider, resolves its placeholders and builds its client.
func (h *Handler) Provision(ctx caddy.Context) error {
	var err error
	h.client, err = provisionSide(ctx, &h.providerHandler, &h.adminListing, "minipay", transform.RoleClient, "has no merchant API",
		clientProvider.NewClient)
	if err != nil {
		return err
	}
	h.ops = h.metrics.operations(h.name, h.client, h.logger)
	h.noCallerIP = !readsCallerIP(h.client)
	return nil
}

// Cleanup implements caddy.CleanerUpper, called when the handler's
// configuration is unloaded (a reload, a stop): the provider comes off the
// admin API's list, and the connections a client keeps idle on its own
// (cbtis's token endpoint) are closed rather than left open until their
// idle timeout.
func (h *Handler) Cleanup() error {
	if c, ok := h.client.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	return h.adminListing.Cleanup()
}

// readsCallerIP tells whether client's pay may fall back on the caller's
// IP (transform.Operations.CallerIPFallback); one that does not say is
// given it.
func readsCallerIP(client transform.Client) bool {
	r, ok := client.(interface{ ReadsCallerIP() bool })
	return !ok || r.ReadsCallerIP()
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if misplacedAfter(w, "minipay", h.name) {
		return nil
	}
	start := time.Now()
	answerBeforeBody(w, r)
	op := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	m, supported := h.ops.known[op]
	if !supported {
		terr := transform.UnknownOperationInPath(h.name, r.URL.Path).WithoutSecretsOf(h.secrets)
		writeError(w, terr)
		// "unknown" keeps the metric labels bounded; the log line says the same.
		h.finish(start, operationUnknown, opMetrics{log: h.ops.unknown}, nil, terr.Status, terr)
		return nil
	}
	rec := getRecorder()
	// Released once the answer is written: Decode may answer with a slice of
	// rec's buffer, which writeJSON may extend in place (transform.Call.Decode).
	defer rec.release()
	call, status, terr := h.serve(w, r, next, op, m, rec)
	switch {
	case terr != nil && clientClosed(r, terr):
		terr = errClientClosed
		w.WriteHeader(terr.Status) // for Caddy's access log, as reverse_proxy does
		status = terr.Status
	case terr != nil:
		terr = terr.WithoutSecretsOf(h.secrets)
		writeError(w, terr)
		status = terr.Status
	}
	h.finish(start, op, m, call, status, terr)
	return nil
}

// finish counts the request and writes its log line: INFO for a success,
// WARN for a failure, so a deployment can keep only the failures by setting
// this logger's level to WARN. m is op's series; for an unknown op, only
// its logger.
func (h *Handler) finish(start time.Time, op string, m opMetrics, call *transform.Call, status int, terr *transform.Error) {
	known := m.ok != nil
	level, outcome := zap.InfoLevel, "ok"
	if terr != nil {
		level, outcome = zap.WarnLevel, terr.Code
	}
	if known && terr == nil {
		m.ok.Inc()
	} else {
		h.metrics.requests.WithLabelValues(h.name, op, outcome).Inc()
	}
	ce := m.log.Check(level, "minipay")
	if ce == nil {
		return
	}
	pooled := logFields.Get().(*[9]zap.Field)
	fields := append(pooled[:0], zap.String("outcome", outcome), zap.Int("status", status),
		zap.Duration("duration", time.Since(start)))
	if call != nil && call.OrderID != "" {
		fields = append(fields, zap.String("order_id", call.OrderID))
	}
	if terr != nil {
		// Why, for the operator: our own message names fields, never values
		// (the provider's message is left out: it is the upstream's text).
		fields = append(fields, zap.String("message", terr.Message))
		if terr.Field != "" {
			fields = append(fields, zap.String("field", terr.Field))
		}
		if terr.ProviderCode != "" {
			fields = append(fields, zap.String("provider_code", terr.ProviderCode))
		}
		if terr.ProviderRequestID != "" {
			fields = append(fields, zap.String("provider_request_id", terr.ProviderRequestID))
		}
		if terr.Reason != "" {
			fields = append(fields, zap.String("reason", terr.Reason))
		}
	}
	ce.Write(fields...)
	*pooled = [9]zap.Field{} // keeps no request's strings alive in the pool
	logFields.Put(pooled)
}

// clientClosed reports an upstream failure that is the merchant's request
// ending: reverse_proxy (or a wait for a CBTIS token) stops when the
// merchant's connection or stream goes away, and answers 499 or the
// context's error, which would otherwise read as the provider's failure.
func clientClosed(r *http.Request, terr *transform.Error) bool {
	return (terr.Code == transform.CodeUpstreamError || terr.Code == transform.CodeUpstreamTimeout) &&
		errors.Is(r.Context().Err(), context.Canceled)
}

// errClientClosed is what a request whose merchant went away is logged and
// counted as; its answer is the bare status (nobody reads it).
var errClientClosed = &transform.Error{Status: statusClientClosed, Code: outcomeClientClosed,
	Message: "the merchant closed the request before the provider's answer"}

// logFields recycles a log line's fields (the merchant handler's, the
// webhook's; 320 bytes a request otherwise):
// a core encodes the fields during Write and keeps none of them (zap's JSON
// and console encoders, Caddy's filter encoder, samplers and tees alike).
var logFields = sync.Pool{New: func() any { return new([9]zap.Field) }}

// serve does the work; it writes the success answer itself and returns the
// error the caller writes.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, op string, m opMetrics, rec *recorder) (*transform.Call, int, *transform.Error) {
	body, terr := readMerchantRequest(w, r, rec.request.body)
	if terr != nil {
		return nil, 0, terr
	}
	rec.request.body = body[:0] // the scratch of the next request that gets rec
	// A call that comes with an error is not sent; it names the order in
	// the log line (transform.Client.Prepare).
	ctx := r.Context()
	if op == transform.OpPay && !h.noCallerIP {
		if ip, ok := caddyhttp.GetVar(ctx, caddyhttp.ClientIPVarKey).(string); ok {
			ctx = transform.WithCallerIP(ctx, ip) // the last fallback of a client IP (wechat_v2)
		}
	}
	call, err := h.client.Prepare(ctx, op, body)
	if err != nil {
		return call, 0, asError(err)
	}
	out, err := h.roundTrip(r, next, m, call, rec)
	if errors.Is(err, transform.ErrRetry) { // e.g. an expired bearer token: once, with a fresh one
		var retry *transform.Call
		if retry, err = h.client.Prepare(ctx, op, body); retry != nil {
			call = retry
		}
		if err == nil {
			out, err = h.roundTrip(r, next, m, call, rec)
		}
		if errors.Is(err, transform.ErrRetry) {
			err = transform.RetryFinal(err)
		}
	}
	if err != nil {
		return call, 0, asError(err)
	}
	writeJSON(w, http.StatusOK, out)
	return call, http.StatusOK, nil
}

// roundTrip rewrites the request for the provider, lets next carry it and
// decodes the recorded answer.
func (h *Handler) roundTrip(r *http.Request, next caddyhttp.Handler, m opMetrics, call *transform.Call, rec *recorder) ([]byte, error) {
	// Rewrite the request for the provider; the merchant's headers (and
	// Host) never reach the provider. The merchant's request comes back on
	// r once next returns (savedRequest): the provider's URL may hold a
	// secret (code2Session's AppSecret).
	merchant := saveRequest(r)
	r.Method = call.Method
	r.URL.Path, r.URL.RawPath, r.URL.RawQuery = call.Path, "", call.RawQuery
	r.Host = ""
	// The provider's headers go in rec's map, which reverse_proxy copies
	// before using; the merchant's go back on r once it returns, so nothing
	// that reads r later (a placeholder in a log field) can see the pooled
	// map while another request fills it. The values are copies in rec's
	// storage too, never a slice shared with another request: a handler
	// between minipay and reverse_proxy may write a value in place (Caddy's
	// request_header replace assigns hdr[field][i]).
	header := rec.request.header
	defer func() {
		merchant.restore(r)
		rec.clearRequest()
	}()
	clear(header)
	values := rec.request.values[:0]
	// Accept, User-Agent, the call's own, Content-Type, Idempotency-Key.
	if n := 4 + valueCount(call.Header); cap(values) < n {
		values = make([]string, 0, n) // never grown below: earlier fields keep slices of it
	}
	values = append(values, "*/*", "caddy-minipay")
	header["Accept"], header["User-Agent"] = values[0:1:1], values[1:2:2]
	// Host is cleared above: a nil value tells reverse_proxy to leave
	// X-Forwarded-Host out rather than send it empty.
	header["X-Forwarded-Host"] = nil
	for k, v := range call.Header {
		start := len(values)
		values = append(values, v...)
		header[k] = values[start:len(values):len(values)]
	}
	if call.Body != nil {
		values = append(values, call.ContentType)
		header["Content-Type"] = values[len(values)-1 : len(values) : len(values)]
	}
	if call.Idempotent {
		// Go's transport treats a POST with an Idempotency-Key as
		// idempotent and sends it again when a reused keep-alive
		// connection fails before any byte of the answer
		// (net/http.Request.isReplayable). The key has a value, unique to
		// the call (a quoted random token, the IETF draft's form): a nil
		// one, which Go reads and does not send, is lost whenever
		// reverse_proxy rebuilds the header map for its header operations
		// (header_up, or an HTTPS upstream, whose transport sets Host), as
		// it copies values only (Caddy 2.11.9 reverseproxy copyHeader).
		values = append(values, idempotencyKey())
		header["Idempotency-Key"] = values[len(values)-1 : len(values) : len(values)]
	}
	rec.request.values = values
	r.Header = header
	setBody(r, call.Body)

	upstreamStart := time.Now()
	err := rec.record(r, next)
	if err != nil && call.Idempotent && requestCutShort(err) && r.Context().Err() == nil {
		err = resendCutShort(r, next, call, rec)
	}
	m.upstream.Observe(time.Since(upstreamStart).Seconds())
	if err == nil && rec.status == statusClientClosed && errors.Is(r.Context().Err(), context.Canceled) {
		// reverse_proxy's own 499 for a merchant that went away: no answer
		// of the provider's to decode (WeChat v3 would call it unsigned,
		// upstream_signature_invalid, which an alert on forged answers watches).
		err = context.Canceled
	}
	if err != nil {
		if err == errTooLarge {
			return nil, transform.Upstream("the provider's answer is too large")
		}
		return nil, upstreamFailure(err)
	}
	if rec.followedBy != "" {
		return nil, transform.Upstream(misplacedMessage("minipay", rec.followedBy))
	}
	if !rec.answered && rec.unwritten == http.StatusSwitchingProtocols {
		// reverse_proxy got an answer it could not write (a 101): the
		// provider's fault, not the route's.
		return nil, transform.Upstream("the provider answered HTTP " + strconv.Itoa(rec.unwritten))
	}
	if !rec.answered && rec.unwritten != 0 {
		return nil, transform.Upstream(silentHandleResponse("minipay", "the provider", rec.unwritten))
	}
	if !rec.answered {
		// Nothing after minipay wrote an answer (no reverse_proxy, or one
		// whose matcher no longer matches the provider's path): Caddy's
		// empty 200 is no provider's answer, and calling it "not valid
		// XML" would send the operator looking at the provider.
		return nil, transform.Upstream(errNothingAnswered)
	}
	answer, err := decodedBody(rec.header, rec.body.Bytes())
	if err != nil {
		return nil, transform.Upstream("the provider's answer could not be decoded")
	}
	return call.Decode(rec.status, rec.header, answer)
}

// resendCutShort sends an idempotent call again after reverse_proxy failed
// writing it (requestCutShort): the provider never received it whole,
// typically because it had closed, as idle, the keep-alive connection the
// transport took. Go's transport sends such a call again itself only when
// the connection fails before the request's first byte or while it waits
// for the answer; the body, which it writes apart from the headers
// (reverse_proxy's body is no in-memory reader it knows), it reports
// failing as the body's own error, and never sends again. Like Go's rule,
// the call is sent again while the failed write went to a connection used
// before (a pool of them may all have been closed meanwhile), at most
// maxResends times: a fresh connection that fails says the provider is
// refusing, not that a connection went stale. The call sent again carries
// the same Idempotency-Key. Each sending has a copy of the request's
// variables: reverse_proxy writes its own there (prepareRequest), while the
// transport may still be dialing for the sending before, whose dialer reads
// them (Caddy 2.11.9 HTTPTransport's DialContext).
func resendCutShort(r *http.Request, next caddyhttp.Handler, call *transform.Call, rec *recorder) error {
	var reused atomic.Bool
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused.Store(info.Reused) }}
	vars, _ := r.Context().Value(caddyhttp.VarsCtxKey).(map[string]any)
	var err error
	for range maxResends {
		ctx := httptrace.WithClientTrace(r.Context(), trace)
		if vars != nil {
			ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, maps.Clone(vars))
		}
		resend := r.WithContext(ctx)
		reused.Store(false)
		setBody(resend, call.Body)
		err = rec.record(resend, next)
		if err == nil || !requestCutShort(err) || !reused.Load() || r.Context().Err() != nil {
			break
		}
	}
	return err
}

// errNothingAnswered is the message of a route where no handler after
// minipay answered: see README "Caddyfile" for the pairings that cause it.
const errNothingAnswered = "no handler after minipay answered: no reverse_proxy after it matched the provider's path"

// idempotencyKey is a WeChat call's Idempotency-Key: a quoted random
// token, 26 characters of [A-Za-z0-9] (154 bits) from transform's nonce
// source (crypto/rand read ahead), made in one allocation, where "\"" +
// rand.Text() + "\"" takes two. The buffer stays on the stack under -race
// too, where a rand.Read into a local array does not.
func idempotencyKey() string {
	var b [28]byte
	k := append(b[:0], '"')
	k = transform.AppendNonce(k, 26) // 26 of [A-Za-z0-9]: 154 bits
	return string(append(k, '"'))
}

// valueCount is the number of values in h.
func valueCount(h http.Header) int {
	n := 0
	for _, v := range h {
		n += len(v)
	}
	return n
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
