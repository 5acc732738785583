package latipay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/minipay/caddy-minipay/transform"
)

// AckBody is the exact acknowledgement Latipay waits for (with HTTP 200);
// it retries about every 30 s until it gets it.
const AckBody = "sent"

// MaxNotification bounds a notification body.
const MaxNotification = transform.MaxNotification

// Webhook verifies Latipay payment notifications.
type Webhook struct {
	cfg    Config
	signer signer
}

// NewWebhook validates cfg and returns a Webhook. It needs api_key only;
// with the wallet's currency configured, a notification in another currency
// (another wallet of the same Latipay user) is refused as foreign.
func NewWebhook(cfg Config) (*Webhook, error) {
	if err := transform.CheckConfig(&cfg, transform.RoleWebhook); err != nil {
		return nil, err
	}
	return &Webhook{cfg: cfg, signer: newSigner(cfg.APIKey)}, nil
}

var _ transform.Webhook = (*Webhook)(nil)

// NotificationKeys implements transform.Webhook: api_key signs the
// notification's five fields.
func (w *Webhook) NotificationKeys() []string { return []string{w.cfg.APIKey} }

// Merchant implements transform.Webhook: user_id, wallet_id, currency
// (two wallets can hold one api_key; a notification names no wallet, only
// its currency).
func (w *Webhook) Merchant() []string { return []string{w.cfg.UserID, w.cfg.WalletID, w.cfg.Currency} }

// ErrBadField is Verify's error for a signed field outside its documented
// grammar; it is a transform.ErrMalformed.
var ErrBadField = fmt.Errorf("%w: a signed field is outside its documented grammar", transform.ErrMalformed)

// ParseNotification reads a notification from the raw body into parameters
// sorted by name: the form-urlencoded body Latipay's mini app and hosted
// online docs describe or, when the body is a JSON object, the
// application/json one its merchant hosted online docs describe (the same
// members; a number such as "amount": 120.00 keeps its text, which the
// signature covers). A repeated name, a malformed escape, a name or value
// that is not UTF-8 once unescaped, or a body over MaxNotification is
// refused: a repeated name would let the signed value and the forwarded one
// differ. Line breaks and spaces around the body are
// not part of the form (a file sent with curl --data-binary ends with one;
// inside a form, a space is written + or %20).
func ParseNotification(body []byte) (transform.Params, error) {
	if len(body) > MaxNotification {
		return nil, transform.ErrMalformed
	}
	body = trimForm(body)
	if len(body) > 0 && body[0] == '{' { // no form field name begins with a brace
		return parseJSONNotification(body)
	}
	v, err := transform.ParseForm(string(body))
	if err != nil {
		return nil, transform.ErrMalformed
	}
	p := make(transform.Params, 0, len(v))
	for name, values := range v {
		// Read as UTF-8, as a JSON notification is: an escape of bytes that
		// are not (%C0%AE) would reach the event as U+FFFD.
		if len(values) != 1 || !utf8.ValidString(name) || !utf8.ValidString(values[0]) {
			return nil, transform.ErrMalformed
		}
		p = append(p, transform.Param{Name: name, Value: values[0]})
	}
	slices.SortFunc(p, func(a, b transform.Param) int { return strings.Compare(a.Name, b.Name) })
	return p, nil
}

// parseJSONNotification reads a JSON notification: strings and numbers by
// their text, null as absent; a member given twice, trailing data or text
// that is not UTF-8 is refused. Nested members are unsigned: they flatten to
// dotted names that no signed field has, and are dropped like any other.
func parseJSONNotification(body []byte) (transform.Params, error) {
	m, err := transform.FlattenJSON(body, 3, 64)
	if err != nil {
		return nil, transform.ErrMalformed
	}
	p := make(transform.Params, 0, len(m))
	for name, v := range m {
		p = append(p, transform.Param{Name: name, Value: v})
	}
	slices.SortFunc(p, func(a, b transform.Param) int { return strings.Compare(a.Name, b.Name) })
	return p, nil
}

// trimForm removes the ASCII spaces, tabs and line breaks around a form body.
func trimForm(body []byte) []byte { return bytes.Trim(body, " \t\r\n") }

// Signed holds the five fields Latipay's notification signature covers
// (merchant_reference + payment_method + status + currency + amount, in
// that order, concatenated without separators). Nothing else in a
// notification is authenticated.
type Signed struct {
	MerchantReference, PaymentMethod, Status, Currency, Amount string
}

// signedOf takes the signed fields out of a parsed notification.
func signedOf(p transform.Params) Signed {
	return Signed{p.Get("merchant_reference"), p.Get("payment_method"), p.Get("status"), p.Get("currency"), p.Get("amount")}
}

// verifySigned checks sig (the notification formula) over the fields in
// constant time.
func (s signer) verifySigned(sig string, f Signed) bool {
	return s.verifyNotify(sig, f.MerchantReference, f.PaymentMethod, f.Status, f.Currency, f.Amount)
}

// CheckGrammar checks each signed field against its own documented grammar
// (docs/providers/latipay.md, "Notification"), so that the boundaries of the concatenation
// cannot shift: "dsi39ej430sks0" + "3alipay" signs like "dsi39ej430sks03" +
// "alipay", and "NZD1" + "20.00" like "NZD" + "120.00". merchant_reference
// is an order id (1–32 of A-Za-z0-9_-|*), payment_method and status come
// from closed lists (no method followed by a status ends like another
// method followed by a status), currency is exactly
// the wallet's three letters (any ISO 4217 code when walletCurrency is "":
// a webhook configured without it), and amount a positive decimal with at
// most the currency's digits. The parse is unique under these rules: amount is
// the digits after the last letter, currency the three letters before,
// status and payment_method the only list entries that end there.
func (s Signed) CheckGrammar(walletCurrency string) (transform.Money, error) {
	if transform.ValidOrderID("merchant_reference", s.MerchantReference) != nil ||
		!slices.Contains(paymentMethods, s.PaymentMethod) {
		return transform.Money{}, ErrBadField
	}
	if _, ok := statuses[s.Status]; !ok {
		return transform.Money{}, ErrBadField
	}
	if walletCurrency != "" && s.Currency != walletCurrency {
		return transform.Money{}, transform.ErrForeign
	}
	// ParseMoney also holds currency to ISO 4217's three capital letters
	m, err := transform.ParseMoney(s.Amount, s.Currency, "amount", "currency")
	if err != nil {
		return transform.Money{}, ErrBadField
	}
	return m, nil
}

// ReadsAsNotification tells whether text, signed with the notification
// formula's key, would be a notification's signature too: whether some cut
// of it into merchant_reference, payment_method, status, currency and
// amount passes CheckGrammar for a webhook configured without the wallet's
// currency (which takes any ISO 4217 code, so every configuration is
// covered). The query's older form signs merchant_reference + user_id with
// the same api_key and no separator either (docs/providers/latipay.md,
// "Signatures"): an order id x-wechatpaidMR queried for the user U12345678
// would sign the notification of a paid order x- of 12345678 MRU.
func ReadsAsNotification(text string) bool {
	for r := range listedCuts(text) {
		if _, err := r.CheckGrammar(""); err == nil {
			return true
		}
	}
	return false
}

// listedCuts yields every cut of text into the five signed fields whose
// payment_method and status are on Latipay's lists, merchant_reference
// not empty and currency three bytes: the only cuts CheckGrammar can pass.
func listedCuts(text string) iter.Seq[Signed] {
	return func(yield func(Signed) bool) {
		for i := 1; i < len(text); i++ {
			for _, method := range paymentMethods {
				rest, ok := strings.CutPrefix(text[i:], method)
				if !ok {
					continue
				}
				for status := range statuses {
					tail, ok := strings.CutPrefix(rest, status)
					if ok && len(tail) >= 4 && !yield(Signed{text[:i], method, status, tail[:3], tail[3:]}) {
						return
					}
				}
			}
		}
	}
}

// paymentMethods is Latipay's closed, case-sensitive list of payment
// methods (docs/providers/latipay.md, "Payment methods"); a mini app payment
// says "wechat". A genuine notification of a hosted online order may carry
// any of them, so one missing here is a notification refused on every
// retry. No entry followed by a status ends like another entry followed by
// a status (TestMethodAndStatusEndingsDiffer), which keeps the concatenation
// readable one way only. "vm" (card payments) is not here: those callbacks
// are signed another way, with another key.
var paymentMethods = []string{
	"wechat", "alipay", "onlineBank", "unionpay", "moneymore",
	"polipay", "azupay", "payid", "upi_upop", "coin_payments",
}

// unverifiedFields are the documented notification fields outside the
// signature. The event keeps them under "unverified.<name>" so that a
// merchant can log them, never as if Latipay had vouched for them; any other
// unsigned field is dropped.
var unverifiedFields = []string{"order_id", "pay_time"}

// Verify implements transform.Webhook: the signature over the five signed
// fields, then each field's grammar, then the wallet's currency. The event
// is built from the signed fields alone.
func (w *Webhook) Verify(n transform.Notification) (*transform.Event, error) {
	return w.Explain(n, nil)
}

var _ transform.Explainer = (*Webhook)(nil)

// Explain implements transform.Explainer: Verify, recording the five signed
// fields' concatenation (the HMAC key is not part of it) and both digests.
func (w *Webhook) Explain(n transform.Notification, x *transform.Explanation) (*transform.Event, error) {
	body, err := n.Content()
	if err != nil {
		return nil, err
	}
	p, err := ParseNotification(body)
	if err != nil {
		return nil, err
	}
	s := signedOf(p)
	// Explained first: a notification without its signature (or a signed
	// field) still shows what the signature would cover and be.
	if x != nil {
		w.explainSigned(x, s, p.Get("signature"))
	}
	// Every signed field must be present: the formula concatenates them
	// without separators, so an empty one would let its neighbours shift.
	if s.MerchantReference == "" || s.PaymentMethod == "" || s.Status == "" || s.Currency == "" || s.Amount == "" || p.Get("signature") == "" {
		return nil, transform.ErrUnsigned
	}
	if !w.signer.verifySigned(p.Get("signature"), s) {
		return nil, transform.ErrBadSignature
	}
	m, err := s.CheckGrammar(w.cfg.Currency)
	if err != nil {
		return nil, err
	}
	return NotificationEvent(s, m, p), nil
}

// explainSigned records the five fields' concatenation (the HMAC key is
// not part of it) and both digests.
func (w *Webhook) explainSigned(x *transform.Explanation, s Signed, received string) {
	x.SignType, x.Received = "HMAC-SHA256", received
	x.StringToSign = s.MerchantReference + s.PaymentMethod + s.Status + s.Currency + s.Amount
	x.Expected = w.signer.notifySign(s.MerchantReference, s.PaymentMethod, s.Status, s.Currency, s.Amount)
}

var _ transform.AnswerExplainer = (*Webhook)(nil)

// ErrUnsignedAnswer is ExplainAnswer's error for the pay, refund and error
// answers: Latipay signs none of them.
var ErrUnsignedAnswer = fmt.Errorf("latipay: the input is an API answer Latipay does not sign (its pay, refund and error answers "+
	"carry no signature): %w; for latipay, verify explains notifications (the form Latipay posts) and transaction query answers "+
	"(the JSON with its signature)", transform.ErrUnsignedAnswer)

// ExplainAnswer implements transform.AnswerExplainer: a JSON object is an
// API answer (a notification is a form). A transaction query answer (it has
// merchant_reference or a signature) is verified as Client.StatusFromAnswer
// verifies it: the notification formula over the five fields as sent, then
// each field's grammar and the wallet's currency. Any other answer is
// unsigned.
func (w *Webhook) ExplainAnswer(n transform.Notification, x *transform.Explanation) (bool, error) {
	if t := bytes.TrimLeft(n.Body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return false, nil
	}
	if x != nil {
		x.Kind = transform.KindAnswer
	}
	var a map[string]json.RawMessage // read as the route reads it (readAnswer)
	if transform.UnmarshalExact(n.Body, &a) != nil {
		return true, transform.ErrMalformed
	}
	_, signed := a["signature"]
	if _, query := a["merchant_reference"]; !signed && !query {
		return true, ErrUnsignedAnswer
	}
	s, sig, err := answerSigned(a)
	if err != nil {
		return true, transform.ErrMalformed
	}
	if x != nil {
		w.explainSigned(x, s, sig)
	}
	if sig == "" {
		return true, transform.ErrUnsigned
	}
	if !w.signer.verifySigned(sig, s) {
		return true, transform.ErrBadSignature
	}
	_, err = s.CheckGrammar(w.cfg.Currency)
	return true, err
}

// NotificationEvent normalizes a verified notification from its signed
// fields s (m is its amount, already checked). The id, latipay:
// <merchant_reference>:<type>, is stable across Latipay's retries and made
// of signed data only; order_id and pay_time are unsigned, so the event has
// no provider_order_id and no occurred_at, and data holds them only as
// "unverified.order_id" and "unverified.pay_time", taken from p.
func NotificationEvent(s Signed, m transform.Money, p transform.Params) *transform.Event {
	typ := eventTypes[s.Status]
	data := map[string]string{
		"merchant_reference": s.MerchantReference, "payment_method": s.PaymentMethod,
		"status": s.Status, "currency": s.Currency, "amount": s.Amount,
	}
	for _, name := range unverifiedFields {
		if v := p.Get(name); v != "" {
			data["unverified."+name] = v
		}
	}
	return &transform.Event{
		ID: transform.EventID(Name, s.MerchantReference, typ), Provider: Name, Type: typ,
		OrderID: s.MerchantReference, Amount: m.String(), Currency: m.Currency, Data: data,
	}
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
