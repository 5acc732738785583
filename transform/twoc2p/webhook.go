package twoc2p

import (
	"cmp"
	"net/http"
	"strings"

	"github.com/minipay/caddy-minipay/transform"
)

// Webhook verifies 2C2P backend notifications: a form field paymentResponse
// (or the raw body) holding the same signed envelope as the pay answer.
type Webhook struct {
	cfg Config
	sig signer // the secret key's pooled HMAC states
}

// NewWebhook checks cfg and returns a Webhook; it needs merchant_id and
// secret_key only.
func NewWebhook(cfg Config) (*Webhook, error) {
	if err := transform.CheckConfig(&cfg, transform.RoleWebhook); err != nil {
		return nil, err
	}
	return &Webhook{cfg: cfg, sig: newSigner(cfg.SecretKey)}, nil
}

var _ transform.Webhook = (*Webhook)(nil)

// NotificationKeys implements transform.Webhook: secret_key signs the
// envelope.
func (w *Webhook) NotificationKeys() []string { return []string{w.cfg.SecretKey} }

// Merchant implements transform.Webhook: merchant_id.
func (w *Webhook) Merchant() []string { return []string{w.cfg.MerchantID} }

// Verify implements transform.Webhook: the signature first, then the
// merchantID, then the mapping.
func (w *Webhook) Verify(n transform.Notification) (*transform.Event, error) {
	return w.Explain(n, nil)
}

var _ transform.Explainer = (*Webhook)(nil)

// Explain implements transform.Explainer: Verify, recording the envelope's
// payload (the base64 text the HMAC covers; the key is not part of it) and
// both signatures.
func (w *Webhook) Explain(n transform.Notification, x *transform.Explanation) (*transform.Event, error) {
	body, err := n.Content()
	if err != nil {
		return nil, err
	}
	p, err := w.open(body, n.Header.Get("Content-Type"), x)
	if err != nil {
		return nil, err
	}
	if p.Get("merchantID") != w.cfg.MerchantID {
		return nil, transform.ErrForeign
	}
	// The event id comes from tranRef, else uniqueTransactionCode
	// (docs/providers/2c2p.md): a notification naming neither is for no
	// payment the merchant can match, and its id ("2c2p::<type>") would make
	// every other such notification a duplicate. One with tranRef only is
	// matched by the pay answer's provider_order_id.
	if p.Get("tranRef") == "" && p.Get("uniqueTransactionCode") == "" {
		return nil, transform.ErrMalformed
	}
	ev := PaymentEvent(p)
	if len(ev.Data) != len(p) { // <a.b> and <a><b>: one data key, two values
		return nil, transform.ErrMalformed
	}
	return ev, nil
}

var _ transform.AnswerExplainer = (*Webhook)(nil)

// ExplainAnswer implements transform.AnswerExplainer. A pay answer is the
// same signed envelope as a notification, bare or as a form, and the webhook
// accepts either: Explain explains it, as a notification. Only its content
// can set it apart when it arrives as the demo server sends it,
// gzip-compressed without a Content-Encoding saying so (InflateAnswer),
// which the webhook refuses to inflate; that answer is verified as
// Client.ReadAnswer verifies it: the signature over the payload, then the
// merchantID when the payload names one.
// A pay request (the PaymentRequest envelope, bare or as the paymentRequest
// form) is the merchant's own call: ErrRequest.
func (w *Webhook) ExplainAnswer(n transform.Notification, x *transform.Explanation) (bool, error) {
	if isRequest(n) {
		return true, ErrRequest
	}
	if codings, ok := transform.ContentCodings(n.Header); !ok || len(codings) > 0 || !isGzip(n.Body) {
		return false, nil
	}
	if x != nil {
		x.Kind = transform.KindAnswer
	}
	body, err := InflateAnswer(n.Body)
	if err != nil {
		return true, err
	}
	p, err := w.open(body, n.Header.Get("Content-Type"), x)
	if err != nil {
		return true, err
	}
	if m := p.Get("merchantID"); m != "" && m != w.cfg.MerchantID {
		return true, transform.ErrForeign
	}
	return true, nil
}

// isRequest tells whether n holds a PaymentRequest envelope, bare or as
// the paymentRequest form field, as the merchant sends it to 2C2P.
func isRequest(n transform.Notification) bool {
	text, err := EnvelopeText(n.Body, n.Header.Get("Content-Type"), FieldRequest)
	if err != nil {
		return false
	}
	_, err = ParseEnvelope(text, RootRequest)
	return err == nil
}

// open finds the PaymentResponse envelope in body (bare or a form field),
// verifies its signature and only then decodes its payload.
func (w *Webhook) open(body []byte, contentType string, x *transform.Explanation) (transform.Params, error) {
	text, err := EnvelopeText(body, contentType, FieldResponse)
	if err != nil {
		return nil, err
	}
	return openExplained(text, RootResponse, w.sig, x)
}

// EventType maps respCode and status: 00 with status A (or none) paid,
// status F or respCode 99 failed, 001 and 32 pending, anything else
// unknown (still forwarded, with respCode and status in data). A pair that
// contradicts itself, approved and failed at once (00 with status F, 99
// with status A), is unknown: a terminal state is never guessed, and a
// merchant cancelling an order 2C2P approved is the costly mistake.
func EventType(respCode, status string) string {
	switch {
	case status == "F" && respCode != RespApproved, respCode == RespFailed && status != "A":
		return transform.EventPaymentFailed
	case respCode == RespApproved && (status == "A" || status == ""):
		return transform.EventPaymentSucceeded
	case (respCode == RespPending || respCode == RespPrepay) && status != "A":
		return transform.EventPaymentPending
	}
	return transform.EventUnknown
}

// PaymentEvent normalizes a verified notification's payload. occurred_at is
// left out: 2C2P's dateTime carries no zone (it is in data as sent). data
// holds every payload field, a nested one named by its path with dots
// (miniProgramData.wechat), as every provider flattens nested fields.
func PaymentEvent(p transform.Params) *transform.Event {
	typ := EventType(p.Get("respCode"), p.Get("status"))
	orderID, tranRef := p.Get("uniqueTransactionCode"), p.Get("tranRef")
	data := make(map[string]string, len(p))
	for _, kv := range p {
		data[strings.ReplaceAll(kv.Name, "/", ".")] = kv.Value
	}
	ev := &transform.Event{
		ID: transform.EventID(Name, cmp.Or(tranRef, orderID), typ), Provider: Name, Type: typ,
		OrderID: orderID, ProviderOrderID: tranRef, Data: data,
	}
	if m, ok := MoneyFromAmt(p.Get("amt"), p.Get("currencyCode")); ok {
		ev.Amount, ev.Currency = m.String(), m.Currency
	}
	return ev
}

// Ack implements transform.Webhook: HTTP 200 with an empty body. 2C2P reads
// the status alone (docs/providers/2c2p.md "Notifications"), so the status
// is the whole ACK, sent as wechat_v3's is: no body, no Content-Type.
func (*Webhook) Ack() (int, string, []byte) { return http.StatusOK, "", nil }

// Nack implements transform.Webhook: any status but 200 makes 2C2P retry;
// the body is a short reason for whoever reads the logs.
func (*Webhook) Nack(reason string) (string, []byte) {
	return "text/plain; charset=utf-8", []byte(reason)
}
