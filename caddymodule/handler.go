package caddymodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
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
	// The provider, a module in the minipay.providers namespace.
	ProviderRaw json.RawMessage `json:"provider,omitempty" caddy:"namespace=minipay.providers inline_key=name"`

	name    string
	client  transform.Client
	logger  *zap.Logger
	metrics *metrics
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.minipay", New: func() caddy.Module { return new(Handler) }}
}

// Provision loads the provider, resolves its placeholders and builds its client.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	p, err := loadProvider(ctx, h, "minipay", h.ProviderRaw, transform.RoleClient)
	if err != nil {
		return err
	}
	cp, ok := p.(clientProvider)
	if !ok {
		return fmt.Errorf("minipay: provider %s has no merchant API", p.ProviderName())
	}
	if h.client, err = cp.NewClient(); err != nil {
		return err
	}
	h.name = p.ProviderName()
	h.metrics, err = newMetrics(ctx.GetMetricsRegistry())
	return err
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	start := time.Now()
	op := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	call, status, terr := h.serve(w, r, next, op)
	if terr != nil {
		writeError(w, terr)
		status = terr.Status
	}
	outcome := "ok"
	if terr != nil {
		outcome = terr.Code
	}
	if !h.client.Supports(op) {
		op = "unknown" // keep metric labels bounded
	}
	h.metrics.requests.WithLabelValues(h.name, op, outcome).Inc()
	fields := []zap.Field{
		zap.String("provider", h.name), zap.String("operation", op), zap.String("outcome", outcome),
		zap.Int("status", status), zap.Duration("duration", time.Since(start)),
	}
	if call != nil && call.OrderID != "" {
		fields = append(fields, zap.String("order_id", call.OrderID))
	}
	if terr != nil && terr.ProviderCode != "" {
		fields = append(fields, zap.String("provider_code", terr.ProviderCode))
	}
	h.logger.Info("minipay", fields...)
	return nil
}

// serve does the work; it writes the success answer itself and returns the
// error the caller writes.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, op string) (*transform.Call, int, *transform.Error) {
	if !h.client.Supports(op) {
		return nil, 0, transform.UnknownOperation(h.name, op)
	}
	body, terr := readMerchantRequest(r)
	if terr != nil {
		return nil, 0, terr
	}
	call, err := h.client.Prepare(r.Context(), op, body)
	if err != nil {
		return nil, 0, asError(err)
	}
	// The answer is decoded from buf, which goes back to the pool only once
	// the merchant's answer is written: Decode may return a slice of it.
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	out, err := h.roundTrip(w, r, next, op, call, buf)
	if errors.Is(err, transform.ErrRetry) { // e.g. an expired bearer token: once, with a fresh one
		if call, err = h.client.Prepare(r.Context(), op, body); err == nil {
			out, err = h.roundTrip(w, r, next, op, call, buf)
		}
		if errors.Is(err, transform.ErrRetry) {
			err = transform.Upstream("the provider refused the call twice")
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
func (h *Handler) roundTrip(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, op string, call *transform.Call, buf *bytes.Buffer) ([]byte, error) {
	// Rewrite the request for the provider. Caddy keeps the original for its
	// access log; the merchant's headers (and Host) never reach the provider.
	r.Method = call.Method
	r.URL.Path, r.URL.RawPath, r.URL.RawQuery = call.Path, "", call.RawQuery
	r.Host = ""
	r.Header = http.Header{"Accept": {"*/*"}, "User-Agent": {"caddy-minipay"}}
	for k, v := range call.Header {
		r.Header[k] = v
	}
	if call.Body != nil {
		r.Header.Set("Content-Type", call.ContentType)
	}
	r.Body = http.NoBody
	r.ContentLength = int64(len(call.Body))
	if len(call.Body) > 0 {
		r.Body = nopCloser{bytes.NewReader(call.Body)}
	}
	r.GetBody = nil

	buf.Reset()
	upstreamStart := time.Now()
	ans := record(w, r, next, buf)
	h.metrics.upstream.WithLabelValues(h.name, op).Observe(time.Since(upstreamStart).Seconds())
	if ans.err != nil {
		if ans.err == errTooLarge {
			return nil, transform.Upstream("the provider's answer is too large")
		}
		return nil, upstreamFailure(ans.err)
	}
	answer, err := decodedBody(ans.header, ans.body)
	if err != nil {
		return nil, transform.Upstream("the provider's answer could not be decoded")
	}
	return call.Decode(ans.status, ans.header, answer)
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
