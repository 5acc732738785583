package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/minipay/caddy-minipay/transform"
)

// Webhook is the minipay_webhook middleware: it verifies a provider's
// notification, forwards one normalized JSON event to the next handler
// (reverse_proxy to the merchant backend) and answers the provider with its
// exact acknowledgement only once the merchant answered 2xx. Nothing
// unverified is ever forwarded.
//
//	minipay_webhook [<matcher>] <provider_name> {
//	    dedupe <duration>      # optional, a handler option
//	    <field> <value>
//	}
type Webhook struct {
	providerHandler
	// Dedupe, when set, is the window during which an event the merchant
	// acknowledged is acknowledged again without being forwarded (across
	// the instances sharing Caddy's storage). The purge of older entries
	// runs in the minipay app (App), only while the configuration runs:
	// never under caddy validate. See dedupe.go.
	Dedupe DedupeWindow `json:"dedupe,omitempty"`

	adminListing
	// lines writes the notifications' log lines: the logger with their
	// provider and operation fields, built once in Provision.
	lines *zap.Logger
	// outcomes are the webhooks_total counters by outcome, resolved once
	// in Provision.
	outcomes  map[string]prometheus.Counter
	webhook   transform.Webhook
	dedupe    *deduper
	stopPurge context.CancelFunc
}

// CaddyModule returns the Caddy module information.
func (Webhook) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.minipay_webhook", New: func() caddy.Module { return new(Webhook) }}
}

// Provision loads the provider and builds its verifier.
func (h *Webhook) Provision(ctx caddy.Context) error {
	var err error
	h.webhook, err = provisionSide(ctx, &h.providerHandler, &h.adminListing, "minipay_webhook", transform.RoleWebhook, "sends no notifications",
		webhookProvider.NewWebhook)
	if err != nil {
		return err
	}
	h.outcomes = h.metrics.webhookOutcomes(h.name)
	h.lines = h.linesLogger()
	return h.startDedupe(ctx)
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if misplacedAfter(w, "minipay_webhook", h.name) {
		return nil
	}
	start := time.Now()
	answerBeforeBody(w, r)
	var reason string
	outcome, ev, status := h.serve(w, r, next, &reason)
	h.count(outcome)
	h.log(start, outcome, status, ev, reason)
	return nil
}

// count adds the notification to its outcome's counter.
func (h *Webhook) count(outcome string) {
	counter := h.outcomes[outcome]
	if counter == nil { // a Webhook made without Provision (the tests' own)
		counter = h.metrics.webhooks.WithLabelValues(h.name, outcome)
	}
	counter.Inc()
}

// linesLogger is the logger of the notifications' lines.
func (h *Webhook) linesLogger() *zap.Logger {
	return h.logger.With(zap.String("provider", h.name), zap.String("operation", "webhook"))
}

// log writes the notification's line: INFO for an acknowledgement, WARN
// for the rest (README Observability). Its fields are made only when the
// level lets the line through.
func (h *Webhook) log(start time.Time, outcome string, status int, ev *transform.Event, reason string) {
	level := zap.WarnLevel
	if outcome == webhookAcked || outcome == webhookDuplicate {
		level = zap.InfoLevel
	}
	lines := h.lines
	if lines == nil { // a Webhook made without Provision (the tests' own)
		lines = h.linesLogger()
	}
	ce := lines.Check(level, "minipay webhook")
	if ce == nil {
		return
	}
	pooled := logFields.Get().(*[9]zap.Field)
	fields := append(pooled[:0], zap.String("outcome", outcome), zap.Int("status", status), zap.Duration("duration", time.Since(start)))
	if ev != nil {
		if ev.OrderID != "" { // an event of a kind the plugin does not map may name none
			fields = append(fields, zap.String("order_id", ev.OrderID))
		}
		fields = append(fields, zap.String("event_id", ev.ID), zap.String("type", ev.Type))
	}
	if reason != "" {
		fields = append(fields, zap.String("reason", reason))
	}
	ce.Write(fields...)
	*pooled = [9]zap.Field{} // keeps no request's strings alive in the pool
	logFields.Put(pooled)
}

// serve does the work; a refusal's reason, for the log, goes in *why (it
// names no value: Verify's errors never do).
func (h *Webhook) serve(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, why *string) (string, *transform.Event, int) {
	nack := func(status int, reason string) int {
		*why = reason
		ct, body := h.webhook.Nack(reason)
		bodyHeaders(w.Header(), ct, len(body))
		w.WriteHeader(status)
		_, _ = w.Write(body)
		return status
	}
	if r.Method != http.MethodPost {
		w.Header()["Allow"] = []string{http.MethodPost} // RFC 9110 §15.5.6; its own: a handler may write a value in place
		return webhookUnverified, nil, nack(http.StatusMethodNotAllowed, "method not allowed")
	}
	body, err := readBody(r, maxBody, nil)
	if errors.Is(err, errTooLarge) {
		return webhookTooLarge, nil, nack(http.StatusRequestEntityTooLarge, "body too large")
	}
	if err != nil {
		return webhookUnverified, nil, nack(http.StatusBadRequest, "unreadable body")
	}
	ev, err := h.webhook.Verify(transform.Notification{Header: r.Header, Body: body})
	if err != nil {
		status := nack(http.StatusUnauthorized, "verification failed")
		*why = err.Error() // which check failed, for the operator only
		return webhookUnverified, nil, status
	}
	// gone is the outcome of a provider that went away before its answer
	// (README Observability: client_closed), which says nothing about the
	// event; the provider sends it again.
	gone := func(reason string) (string, *transform.Event, int) {
		*why = reason
		w.WriteHeader(statusClientClosed) // for Caddy's access log, as reverse_proxy does
		return outcomeClientClosed, ev, statusClientClosed
	}
	claim, verdict := h.dedupe.claim(r.Context(), ev.ID)
	switch verdict {
	case dedupeDuplicate:
		return webhookDuplicate, ev, h.ack(w)
	case dedupeInProgress:
		if errors.Is(r.Context().Err(), context.Canceled) { // the wait for the other request ended with the provider
			return gone("the provider closed the request while another request forwarded the event")
		}
		return webhookInProgress, ev, nack(http.StatusServiceUnavailable, "event being delivered by another request")
	}
	defer claim.release(r.Context())

	event := ev.AppendJSON(nil) // one buffer of its size
	rec := getRecorder()
	defer rec.release()
	defer rec.clearRequest()
	provider := saveRequest(r)
	defer provider.restore(r) // first: r holds rec's header map until then
	forwardOnly(r, rec, ev.ID, h.name)
	setBody(r, event)
	err = rec.record(r, next)
	merchantOK := rec.status >= 200 && rec.status <= 299
	switch {
	case errors.Is(err, errTooLarge) && merchantOK:
		// The merchant answered 2xx: only its body, which nobody reads, was
		// longer than the recorder keeps. The event was delivered.
	case (err != nil || !merchantOK) && errors.Is(r.Context().Err(), context.Canceled):
		// The provider went away first, so reverse_proxy gave up on the
		// backend (its 499): nothing is known of the merchant's answer.
		return gone("the provider closed the request before the merchant backend answered")
	case errors.Is(err, errTooLarge):
		// A non-2xx status whose body was longer than the recorder keeps:
		// the backend answered, and its status is what failed.
		return webhookMerchantFailed, ev, nack(http.StatusBadGateway, "merchant backend answered "+strconv.Itoa(rec.status))
	case err != nil:
		if upstreamFailure(err).Code == transform.CodeUpstreamTimeout {
			return webhookMerchantFailed, ev, nack(http.StatusGatewayTimeout, "merchant backend timed out")
		}
		if errors.Is(err, errAborted) {
			return webhookMerchantFailed, ev, nack(http.StatusBadGateway, "merchant backend's answer was cut short")
		}
		return webhookMerchantFailed, ev, nack(http.StatusBadGateway, "merchant backend unavailable")
	case rec.followedBy != "":
		return webhookMerchantFailed, ev, nack(http.StatusBadGateway, misplacedMessage("minipay_webhook", rec.followedBy))
	case !rec.answered && rec.unwritten == http.StatusSwitchingProtocols:
		// reverse_proxy got an answer it could not write (a 101).
		return webhookMerchantFailed, ev, nack(http.StatusBadGateway, "merchant backend answered "+strconv.Itoa(rec.unwritten))
	case !rec.answered && rec.unwritten != 0:
		return webhookMerchantFailed, ev, nack(http.StatusBadGateway, silentHandleResponse("minipay_webhook", "the merchant backend", rec.unwritten))
	case !rec.answered:
		// Nothing after minipay_webhook answered (no reverse_proxy in the
		// route): the event reached nobody, so the provider must retry.
		return webhookMerchantFailed, ev, nack(http.StatusBadGateway, "no handler after minipay_webhook answered")
	case !merchantOK:
		return webhookMerchantFailed, ev, nack(http.StatusBadGateway, "merchant backend answered "+strconv.Itoa(rec.status))
	}
	claim.acknowledged(r.Context())
	return webhookAcked, ev, h.ack(w)
}

// forwardOnly turns the provider's request into the event's: POST, the same
// path cleaned as Caddy's path matcher reads it (dot segments and repeated
// slashes resolved, no percent-encoded form), no query string, an emptied
// header map holding only Content-Type and the two Minipay-* headers; the
// event's body (setBody) goes with its Content-Length, none of the
// provider's framing. Nothing the sender chose reaches the merchant: not a
// lookalike such as Minipay_Event_Id (CGI and FastCGI backends fold '_' and
// '-' together), not a cookie, not an Authorization, not the query, not the
// Host (a catch-all site answers any): reverse_proxy then sends the
// upstream's own address as Host, and adds its own X-Forwarded-For and
// -Proto. X-Forwarded-Host is left out (a nil value tells reverse_proxy not
// to set it) rather than sent empty, which a backend trusting it (Django's
// USE_X_FORWARDED_HOST) reads as the host and refuses. The path matcher
// cleans the path but reverse_proxy sends it raw, so without the cleaning
// "/admin/x/../../webhooks/wechat_v2" would match the webhook's route and
// reach the merchant as sent, for a backend that routes on its prefix.
// The header map and its values are rec's scratch (as a merchant call's
// are, Handler.roundTrip), which reverse_proxy copies before it sends
// anything: each value a slice of its own, since a handler between may
// write one in place; cleared once next returns, r's own header back on it
// first (savedRequest.restore, recorder.clearRequest).
func forwardOnly(r *http.Request, rec *recorder, eventID, provider string) {
	r.Method = http.MethodPost
	header := rec.request.header
	clear(header)
	values := append(rec.request.values[:0], "application/json", eventID, provider)
	header["Content-Type"], header["Minipay-Event-Id"], header["Minipay-Provider"] = values[0:1:1], values[1:2:2], values[2:3:3]
	header["X-Forwarded-Host"] = nil
	rec.request.values = values
	r.Header = header
	r.Host = ""
	r.URL.RawQuery, r.URL.ForceQuery = "", false
	if strings.HasPrefix(r.URL.Path, "/") {
		r.URL.Path = caddyhttp.CleanPath(r.URL.Path, true)
	}
	r.URL.RawPath = ""
	r.RequestURI = r.URL.RequestURI()
}

// ack sends the provider's success acknowledgement and returns its status.
func (h *Webhook) ack(w http.ResponseWriter) int {
	status, ct, ack := h.webhook.Ack()
	bodyHeaders(w.Header(), ct, len(ack)) // no ct: wechat_v3's and 2C2P's ACK is a bare 200
	w.WriteHeader(status)
	_, _ = w.Write(ack)
	return status
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Webhook)(nil)
	_ caddy.CleanerUpper          = (*Webhook)(nil)
	_ caddyhttp.MiddlewareHandler = (*Webhook)(nil)
	_ caddyfile.Unmarshaler       = (*Webhook)(nil)
)
