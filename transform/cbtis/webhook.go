package cbtis

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/minipay/caddy-minipay/transform"
)

// AckBody is the acknowledgement sent with HTTP 200 (CBTIS only requires
// the 200; the body is the conventional one).
const AckBody = "success"

// Notification kinds (notify_type) with a mapping.
const (
	NotifyPaymentSuccess = "payment_success"
	NotifyRefundSuccess  = "refund_success"
)

// Webhook verifies CBTIS notifications: lowercase hex SHA-256 of
// raw body + "." + key in a header.
type Webhook struct {
	key    string
	header string
	uid    string // when configured, a notification for another uid is refused
}

// NewWebhook validates cfg and returns a Webhook; only the key material
// (api_key or client_secret) is needed.
func NewWebhook(cfg Config) (*Webhook, error) {
	if err := transform.CheckConfig(&cfg, transform.RoleWebhook); err != nil {
		return nil, err
	}
	return &Webhook{key: cfg.WebhookKey(), header: cfg.SignatureHeader, uid: cfg.UID}, nil
}

var _ transform.Webhook = (*Webhook)(nil)

// NotificationKeys implements transform.Webhook: the key notifications are
// signed with, api_key, else client_secret (which otherwise only fetches
// the token).
func (w *Webhook) NotificationKeys() []string { return []string{w.key} }

// Merchant implements transform.Webhook: uid ("" when not configured).
func (w *Webhook) Merchant() []string { return []string{w.uid} }

// Verify implements transform.Webhook. The signature is checked on the raw
// bytes first; the JSON is parsed only once it verified.
func (w *Webhook) Verify(n transform.Notification) (*transform.Event, error) {
	return w.Explain(n, nil)
}

var _ transform.Explainer = (*Webhook)(nil)

// Explain implements transform.Explainer: Verify, recording body + "." +
// the key (masked) and both hex digests.
func (w *Webhook) Explain(n transform.Notification, x *transform.Explanation) (*transform.Event, error) {
	body, err := n.Content()
	if err != nil {
		return nil, err
	}
	n.Body = body
	got, verifies := w.signed(n)
	if x != nil {
		x.SignType, x.Received = "SHA-256", got
		x.StringToSign, x.Expected = string(n.Body)+"."+transform.Masked, Signature(n.Body, w.key)
	}
	if _, err := transform.SignatureHeader(n.Header, w.header); err != nil {
		return nil, err
	}
	if got == "" {
		return nil, transform.ErrUnsigned
	}
	if !verifies {
		return nil, transform.ErrBadSignature
	}
	ev, err := Event(n.Body)
	if err != nil {
		return nil, err
	}
	if w.uid != "" && !w.ownUID(ev.Data) {
		return nil, transform.ErrForeign
	}
	return ev, nil
}

// ownUID tells whether data names no uid or the configured one: a uid
// written as an object or an array (its leaves uid.a, uid.0) is present
// too and names no merchant, so it is not this one.
func (w *Webhook) ownUID(data map[string]string) bool {
	for k, v := range data {
		if k == "uid" && v != w.uid || strings.HasPrefix(k, "uid.") {
			return false
		}
	}
	return true
}

// signed returns the signature header's value and whether it verifies over
// the raw body (compared in constant time).
func (w *Webhook) signed(n transform.Notification) (got string, verifies bool) {
	got = strings.TrimSpace(n.Header.Get(w.header))
	return got, got != "" && transform.EqualHexConstantTime(got, Signature(n.Body, w.key))
}

var _ transform.AnswerExplainer = (*Webhook)(nil)

// ErrUnsignedAnswer is ExplainAnswer's error for every API answer: CBTIS
// signs none (they come over TLS, answering the bearer token).
var ErrUnsignedAnswer = fmt.Errorf("cbtis: the input is an API answer, and CBTIS signs none (they come over TLS, answering the "+
	"bearer token): %w; for cbtis, verify explains notifications (the raw body, with the Signature header, or the header "+
	"signature_header names)", transform.ErrUnsignedAnswer)

// ExplainAnswer implements transform.AnswerExplainer: a JSON object without
// notify_type and with the members of an API answer (code, as in
// {"code","message","data","rid"}, or the token answer's access_token) is
// an answer, and CBTIS signs no answer. A body whose signature header
// verifies is left to Explain whatever its members: the webhook forwards it
// (without notify_type, as unknown), and verify must give the same verdict.
func (w *Webhook) ExplainAnswer(n transform.Notification, x *transform.Explanation) (bool, error) {
	if _, verifies := w.signed(n); verifies {
		return false, nil
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(n.Body, &top) != nil || top == nil {
		return false, nil
	}
	_, notification := top["notify_type"]
	_, code := top["code"]
	_, token := top["access_token"]
	if notification || !code && !token {
		return false, nil
	}
	if x != nil {
		x.Kind = transform.KindAnswer
	}
	return true, ErrUnsignedAnswer
}

// Limits of a notification's data object: deeper or larger than any
// notification CBTIS documents, and far below what 64 KiB could hold.
const (
	maxDataDepth   = 8
	maxDataMembers = 1024
)

// Event normalizes a verified notification. data holds every field of the
// notification's data object as strings, a nested member's name joined to
// its parent's with a dot (payer.openid, discounts.0.id), plus notify_type
// when the notification names one: an event carries signed bytes only, so
// a notification without it gets no notify_type of "" (README CBTIS).
// A name given twice, at the top or in data, makes the document refused:
// the signature covers both values and nothing says which one is meant.
func Event(body []byte) (*transform.Event, error) {
	if !transform.ValidJSONText(body) { // read as U+FFFD, which CBTIS did not write
		return nil, transform.ErrMalformed
	}
	kind, named, raw, err := topLevel(body)
	if err != nil {
		return nil, err
	}
	data := map[string]string{}
	if len(raw) != 0 && string(raw) != "null" {
		if data, err = transform.FlattenJSON(raw, maxDataDepth, maxDataMembers); err != nil {
			return nil, transform.ErrMalformed
		}
	}
	if named {
		data["notify_type"] = kind
	}

	ev := &transform.Event{Provider: Name, Data: data, OrderID: data["merchant_order_id"], ProviderOrderID: data["order_id"]}
	var ref, amountField, currency string
	mapped := kind
	if status, ok := data["status"]; ok && kind == NotifyPaymentSuccess && status != "SUCCEEDED" {
		// The intent's own status, signed too, says otherwise (FAILED,
		// PENDING, a spelling CBTIS does not document): never guess
		// between the two, so the notification is of a kind not mapped.
		mapped = ""
	}
	switch mapped {
	case NotifyPaymentSuccess:
		ev.Type = transform.EventPaymentSucceeded
		ref = cmp.Or(data["order_id"], data["merchant_order_id"])
		amountField, currency = "order_amount", cmp.Or(data["order_currency"], data["currency"])
		ev.OccurredAt = rfc3339(data["pay_time"])
	case NotifyRefundSuccess:
		ev.Type = transform.EventRefundSucceeded
		ev.RefundID = data["merchant_refund_id"]
		ref = cmp.Or(data["refund_id"], data["merchant_refund_id"])
		// The amount refunded, only when the notification says it: the
		// documented refund notification carries only order_amount, the
		// order's total, and a partial refund must not look full.
		amountField = "refund_amount"
		currency = cmp.Or(data["refund_currency"], data["order_currency"], data["currency"])
		ev.OccurredAt = rfc3339(data["refund_time"])
	default: // verified but not mapped: forwarded as "unknown" (README "Webhooks")
		ev.Type = transform.EventUnknown
		ref = cmp.Or(data["refund_id"], data["order_id"], data["merchant_refund_id"], data["merchant_order_id"])
		amountField, currency = "order_amount", cmp.Or(data["order_currency"], data["currency"])
	}
	if ref == "" {
		// No reference at all: the body itself is what CBTIS repeats on retries.
		ref = transform.SHA256Hex(body, false)[:32]
	}
	if ev.Type == transform.EventUnknown && kind != "" {
		ref += "/" + kind // two unmapped kinds for one order must not share an id
	}
	ev.ID = transform.EventID(Name, ref, ev.Type)
	if m, ok := transform.MoneyFromDecimal(data[amountField], currency); ok {
		ev.Amount, ev.Currency = m.String(), m.Currency
	}
	return ev, nil
}

// topLevel reads the notification's object once: notify_type as text
// (named when it is present and not null) and data as it was written; other
// members are skipped. A member given twice, anything but one object, or
// data after it is transform.ErrMalformed.
func topLevel(body []byte) (kind string, named bool, data json.RawMessage, err error) {
	var seenKind, seenData bool
	read := transform.ReadObject(body, func(name string, raw []byte) bool {
		switch name {
		case "notify_type":
			if seenKind {
				return false
			}
			seenKind = true
			kind, _ = jsonText(raw) // absent: still forwarded, as unknown
			named = string(raw) != "null"
		case "data":
			if seenData {
				return false
			}
			seenData, data = true, raw
		}
		return true
	})
	if !read {
		return "", false, nil, transform.ErrMalformed
	}
	return kind, named, data, nil
}

// jsonText renders notify_type: strings unquoted, numbers as written, null
// as ""; an object or an array as compact JSON.
func jsonText(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	if s, ok := transform.JSONScalar(raw); ok {
		return s, true
	}
	switch raw[0] {
	case '{', '[':
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return "", false
		}
		return buf.String(), true
	}
	return string(raw), true
}

// Ack implements transform.Webhook: HTTP 200, body "success".
func (*Webhook) Ack() (int, string, []byte) {
	return http.StatusOK, "text/plain; charset=utf-8", []byte(AckBody)
}

// Nack implements transform.Webhook: a short text (the status makes CBTIS retry).
func (*Webhook) Nack(reason string) (string, []byte) {
	return "text/plain; charset=utf-8", []byte("fail: " + reason)
}
