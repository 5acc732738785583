package caddymodule

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/minipay/caddy-minipay/transform"
)

// metrics are registered in Caddy's metrics registry, so they appear on
// Caddy's own /metrics endpoint beside reverse_proxy's upstream metrics.
type metrics struct {
	requests *prometheus.CounterVec
	upstream *prometheus.HistogramVec
	webhooks *prometheus.CounterVec
	// storageFailures counts failed operations on Caddy's storage, after
	// which the instance worked alone (see sharedStore).
	storageFailures *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "caddy", Subsystem: "minipay", Name: "requests_total",
			Help: "Merchant requests handled by minipay, by provider, operation and outcome (ok, the error code, or client_closed).",
		}, []string{"provider", "operation", "outcome"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "caddy", Subsystem: "minipay", Name: "upstream_duration_seconds",
			Help:    "Time from handing the signed request to reverse_proxy until the provider's answer was recorded.",
			Buckets: prometheus.DefBuckets,
		}, []string{"provider", "operation"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "caddy", Subsystem: "minipay", Name: "webhooks_total",
			Help: "Provider notifications handled by minipay_webhook, by provider and outcome (acked, duplicate, in_progress, unverified, merchant_failed, too_large, client_closed).",
		}, []string{"provider", "outcome"}),
		storageFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "caddy", Subsystem: "minipay", Name: "storage_failures_total",
			Help: "Failed operations on Caddy's storage, by use (a provider name such as cbtis for its shared token, or dedupe) and operation; each time the instance worked alone (its own token fetch, forwarding without de-duplication).",
		}, []string{"use", "operation"}),
	}
	var err error
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.upstream, err = register(reg, m.upstream); err != nil {
		return nil, err
	}
	if m.webhooks, err = register(reg, m.webhooks); err != nil {
		return nil, err
	}
	if m.storageFailures, err = register(reg, m.storageFailures); err != nil {
		return nil, err
	}
	return m, nil
}

// register adds c to reg, or returns the collector already registered there
// by another minipay handler of the same configuration.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

// opMetrics are one operation's series, resolved once in Provision: a label
// lookup on every request costs more than the counting. log is the handler's
// logger with the provider and operation fields already encoded.
type opMetrics struct {
	ok       prometheus.Counter
	upstream prometheus.Observer
	log      *zap.Logger
}

// requestErrorOutcomes are the outcomes of a failed request to a known
// operation: every error code of README "Errors" but unknown_operation,
// which is counted under the operation "unknown".
var requestErrorOutcomes = []string{
	transform.CodeInvalidRequest, transform.CodeMethodNotAllowed, transform.CodeRequestTooLarge,
	transform.CodeUnsupportedMediaType, transform.CodeProviderRejected, transform.CodeUpstreamError,
	transform.CodeSignatureInvalid, transform.CodeUpstreamTimeout,
}

// operationUnknown is the operation label and log field of a request for
// an operation the provider does not have (README Observability).
const operationUnknown = "unknown"

// operationSeries are a merchant handler's series and loggers, resolved
// once in Provision: those of each operation the provider supports (the
// map is also the handler's list of operations), and the logger of a
// request for any other, whose lines name the operation "unknown" as its
// count does (the path's element is the caller's, unbounded).
type operationSeries struct {
	known   map[string]opMetrics
	unknown *zap.Logger
}

// operations resolves the series of every operation client supports.
// Every outcome's series exists from Provision on, at 0: a counter that
// appears with its first event at 1 is invisible to increase() and rate(),
// so an alert on outcome="upstream_signature_invalid" would miss the first
// forged answer.
func (m *metrics) operations(provider string, client transform.Client, logger *zap.Logger) operationSeries {
	ops := operationSeries{known: map[string]opMetrics{},
		unknown: logger.With(zap.String("provider", provider), zap.String("operation", operationUnknown))}
	for _, op := range transform.OperationNames {
		if client.Supports(op) {
			ops.known[op] = opMetrics{
				ok:       m.requests.WithLabelValues(provider, op, "ok"),
				upstream: m.upstream.WithLabelValues(provider, op),
				log:      logger.With(zap.String("provider", provider), zap.String("operation", op)),
			}
			for _, outcome := range requestErrorOutcomes {
				m.requests.WithLabelValues(provider, op, outcome)
			}
			m.requests.WithLabelValues(provider, op, outcomeClientClosed)
		}
	}
	m.requests.WithLabelValues(provider, operationUnknown, transform.CodeUnknownOperation)
	return ops
}

// Outcomes of a notification (README "Observability").
const (
	webhookAcked          = "acked"
	webhookDuplicate      = "duplicate"
	webhookInProgress     = "in_progress"
	webhookUnverified     = "unverified"
	webhookMerchantFailed = "merchant_failed"
	webhookTooLarge       = "too_large"
)

var webhookOutcomeNames = []string{webhookAcked, webhookDuplicate, webhookInProgress, webhookUnverified, webhookMerchantFailed, webhookTooLarge, outcomeClientClosed}

// outcomeClientClosed is the outcome of a merchant request or a
// notification whose sender went away before its answer. reverse_proxy then
// gives up on the upstream and records Caddy's 499 (client closed request),
// which says nothing about the provider or the merchant backend: counting
// it as upstream_error or merchant_failed would page on a client's timeout.
const outcomeClientClosed = "client_closed"

// statusClientClosed is the status logged for outcomeClientClosed (Caddy's
// and nginx's 499; no client reads it).
const statusClientClosed = 499

// webhookOutcomes creates the provider's webhook series at 0, for the
// reason operations does, and returns them by outcome: resolved once in
// Provision, as operations' are.
func (m *metrics) webhookOutcomes(provider string) map[string]prometheus.Counter {
	counters := make(map[string]prometheus.Counter, len(webhookOutcomeNames))
	for _, outcome := range webhookOutcomeNames {
		counters[outcome] = m.webhooks.WithLabelValues(provider, outcome)
	}
	return counters
}
