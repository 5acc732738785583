package latipay

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/minipay/caddy-minipay/transform"
)

// AckBody is the exact acknowledgement Latipay waits for (with HTTP 200);
// it retries about every 30 s until it gets it.
const AckBody = "sent"

// MaxNotification bounds a notification body (DESIGN.md §5).
const MaxNotification = 64 << 10

// Webhook verifies Latipay payment notifications.
type Webhook struct {
	cfg Config
}

// NewWebhook validates cfg and returns a Webhook; only api_key is required.
// When currency is set, notifications in another currency are refused as
// foreign (they belong to another wallet of the same Latipay user).
func NewWebhook(cfg Config) (*Webhook, error) {
	if err := transform.CheckConfig(&cfg, transform.RoleWebhook); err != nil {
		return nil, err
	}
	return &Webhook{cfg: cfg}, nil
}

var _ transform.Webhook = (*Webhook)(nil)

// ParseNotification reads a form-urlencoded notification from the raw body
// into parameters sorted by name. A repeated name, a malformed escape or a
// body over MaxNotification is refused: a repeated name would let the
// signed value and the forwarded one differ.
func ParseNotification(body []byte) (transform.Params, error) {
	if len(body) > MaxNotification {
		return nil, transform.ErrMalformed
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, transform.ErrMalformed
	}
	p := make(transform.Params, 0, len(v))
	for name, values := range v {
		if len(values) != 1 {
			return nil, transform.ErrMalformed
		}
		p = append(p, transform.Param{Name: name, Value: values[0]})
	}
	slices.SortFunc(p, func(a, b transform.Param) int { return strings.Compare(a.Name, b.Name) })
	return p, nil
}

// VerifyNotification checks the notification formula over the received
// fields (merchant_reference + payment_method + status + currency + amount,
// keyed by apiKey) in constant time.
func VerifyNotification(p transform.Params, apiKey string) bool {
	return newSigner(apiKey).verifyNotify(p.Get("signature"), p.Get("merchant_reference"), p.Get("payment_method"),
		p.Get("status"), p.Get("currency"), p.Get("amount"))
}

// Verify implements transform.Webhook.
func (w *Webhook) Verify(n transform.Notification) (*transform.Event, error) {
	p, err := ParseNotification(n.Body)
	if err != nil {
		return nil, err
	}
	// Every signed field must be present: the formula concatenates them
	// without separators, so an empty one would let its neighbours shift.
	for _, f := range [...]string{"merchant_reference", "payment_method", "status", "currency", "amount", "signature"} {
		if p.Get(f) == "" {
			return nil, transform.ErrUnsigned
		}
	}
	if !VerifyNotification(p, w.cfg.APIKey) {
		return nil, transform.ErrBadSignature
	}
	if w.cfg.Currency != "" && p.Get("currency") != w.cfg.Currency {
		return nil, transform.ErrForeign
	}
	return NotificationEvent(p), nil
}

// NotificationEvent normalizes a verified notification. The id is stable
// across Latipay's retries: latipay:<order_id>:<type> (merchant_reference
// when order_id is absent).
func NotificationEvent(p transform.Params) *transform.Event {
	status := p.Get("status")
	typ, ok := eventTypes[status]
	if !ok { // verified but not mapped: forwarded as "unknown" (DESIGN.md §5)
		typ = transform.EventUnknown
	}
	ref := p.Get("order_id")
	if ref == "" {
		ref = p.Get("merchant_reference")
	}
	ev := &transform.Event{
		ID: transform.EventID(Name, ref, typ), Provider: Name, Type: typ,
		OrderID: p.Get("merchant_reference"), ProviderOrderID: p.Get("order_id"),
		OccurredAt: PayTimeRFC3339(p.Get("pay_time")), Data: p.Map(),
	}
	if m, err := transform.ParseMoney(p.Get("amount"), p.Get("currency"), "amount", "currency"); err == nil {
		ev.Amount, ev.Currency = m.String(), m.Currency
	}
	delete(ev.Data, "signature")
	return ev
}

var eventTypes = map[string]string{
	"paid": transform.EventPaymentSucceeded, "pending": transform.EventPaymentPending,
	"failed": transform.EventPaymentFailed, "rejected": transform.EventPaymentFailed,
	"canceled": transform.EventPaymentCancelled,
}

// Ack implements transform.Webhook: HTTP 200 and exactly "sent".
func (*Webhook) Ack() (int, string, []byte) {
	return http.StatusOK, "text/plain; charset=utf-8", []byte(AckBody)
}

// Nack implements transform.Webhook: a short text that is not "sent", so
// Latipay retries.
func (*Webhook) Nack(reason string) (string, []byte) {
	return "text/plain; charset=utf-8", []byte("fail: " + reason)
}
