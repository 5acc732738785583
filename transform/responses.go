package transform

import (
	"bytes"
	"encoding/json"
	"slices"
)

// Payment statuses of the status object and of refunds.
const (
	StatusPending   = "pending"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	StatusRefunded  = "refunded"
)

// PaymentParams is the pay answer: the object the mini program hands to
// wx.requestPayment as is, plus the plugin's own order references. Every value
// is a string.
type PaymentParams struct {
	TimeStamp       string `json:"timeStamp"`
	NonceStr        string `json:"nonceStr"`
	Package         string `json:"package"`
	SignType        string `json:"signType"`
	PaySign         string `json:"paySign"`
	Provider        string `json:"provider"`
	OrderID         string `json:"order_id"`
	ProviderOrderID string `json:"provider_order_id,omitempty"`
}

// ValidTimeStamp tells a wx.requestPayment timeStamp: Unix seconds in
// decimal digits, the form wechat_v2 and wechat_v3 make and WeChat's
// paySign signs as text. A provider's answer holding another spelling
// (1490840662.0, 1.49e9: a serializer's float) is not normalised into one:
// the signature was made over some text, and only the provider knows which.
func ValidTimeStamp(s string) bool {
	return s != "" && allDigits(s)
}

// AppendJSON writes the wx.requestPayment object by hand: it is the answer
// of every pay, and this is a fraction of encoding/json's cost.
func (p *PaymentParams) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"timeStamp":`...)
	dst = AppendJSONString(dst, p.TimeStamp)
	dst = append(dst, `,"nonceStr":`...)
	dst = AppendJSONString(dst, p.NonceStr)
	dst = append(dst, `,"package":`...)
	dst = AppendJSONString(dst, p.Package)
	dst = append(dst, `,"signType":`...)
	dst = AppendJSONString(dst, p.SignType)
	dst = append(dst, `,"paySign":`...)
	dst = AppendJSONString(dst, p.PaySign)
	dst = append(dst, `,"provider":`...)
	dst = AppendJSONString(dst, p.Provider)
	dst = append(dst, `,"order_id":`...)
	dst = AppendJSONString(dst, p.OrderID)
	if p.ProviderOrderID != "" {
		dst = append(dst, `,"provider_order_id":`...)
		dst = AppendJSONString(dst, p.ProviderOrderID)
	}
	return append(dst, '}')
}

// PaymentStatus is the query answer.
type PaymentStatus struct {
	Provider        string `json:"provider"`
	OrderID         string `json:"order_id"`
	ProviderOrderID string `json:"provider_order_id"`
	Status          string `json:"status"`
	Amount          string `json:"amount"`
	Currency        string `json:"currency"`
	PaidAt          string `json:"paid_at,omitempty"`
	ProviderStatus  string `json:"provider_status"`
}

// AppendJSON appends the status object's JSON to dst. paid_at is written
// only for a paid order (succeeded, or refunded after it was paid): a
// provider's answer may carry a time for a failed or closed order too, and
// a merchant reading paid_at should not need to check status first.
func (s *PaymentStatus) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"provider":`...)
	dst = AppendJSONString(dst, s.Provider)
	dst = append(dst, `,"order_id":`...)
	dst = AppendJSONString(dst, s.OrderID)
	dst = append(dst, `,"provider_order_id":`...)
	dst = AppendJSONString(dst, s.ProviderOrderID)
	dst = append(dst, `,"status":`...)
	dst = AppendJSONString(dst, s.Status)
	dst = append(dst, `,"amount":`...)
	dst = AppendJSONString(dst, s.Amount)
	dst = append(dst, `,"currency":`...)
	dst = AppendJSONString(dst, s.Currency)
	if s.PaidAt != "" && (s.Status == StatusSucceeded || s.Status == StatusRefunded) {
		dst = append(dst, `,"paid_at":`...)
		dst = AppendJSONString(dst, s.PaidAt)
	}
	dst = append(dst, `,"provider_status":`...)
	dst = AppendJSONString(dst, s.ProviderStatus)
	return append(dst, '}')
}

// MarshalJSON is AppendJSON for encoding/json.
func (s *PaymentStatus) MarshalJSON() ([]byte, error) { return s.AppendJSON(nil), nil }

// CloseResult is the close answer.
type CloseResult struct {
	Provider string `json:"provider"`
	OrderID  string `json:"order_id"`
	Status   string `json:"status"`
}

// RefundResult is the refund answer.
type RefundResult struct {
	Provider         string `json:"provider"`
	OrderID          string `json:"order_id"`
	RefundID         string `json:"refund_id"`
	ProviderRefundID string `json:"provider_refund_id"`
	Status           string `json:"status"`
	Amount           string `json:"amount"`
	Currency         string `json:"currency"`
	// ProviderStatus is the provider's own refund state where it reports
	// one (wechat_v3: SUCCESS, PROCESSING, CLOSED, ABNORMAL).
	ProviderStatus string `json:"provider_status,omitempty"`
}

// RefundQueryOrder checks a refund_query's order_id against the order the
// provider's answer gives the refund (README "Errors"). The query goes by
// the refund id alone: a verified answer about that refund naming another
// order means the merchant's order_id is wrong, a 400 naming it (the
// provider answered what it was asked; a 502 would blame it). An answer
// naming no order at all is the provider's: a 502.
func RefundQueryOrder(answered, orderID string) error {
	switch {
	case orderID == "" || answered == orderID:
		return nil
	case answered == "":
		return Upstream("the provider's answer names no out_trade_no")
	}
	return Invalid("order_id", "is not the order of the refund refund_id names")
}

// LoginResult is the login answer; SessionKey only with expose_session_key.
type LoginResult struct {
	OpenID     string `json:"openid"`
	UnionID    string `json:"unionid,omitempty"`
	SessionKey string `json:"session_key,omitempty"`
}

// Event types of the normalized webhook event.
const (
	EventPaymentSucceeded = "payment.succeeded"
	EventPaymentFailed    = "payment.failed"
	EventPaymentPending   = "payment.pending"
	EventPaymentCancelled = "payment.cancelled"
	EventRefundSucceeded  = "refund.succeeded"
	EventRefundFailed     = "refund.failed"
	EventUnknown          = "unknown"
)

// Event is the normalized webhook event forwarded to the merchant backend.
// ID is stable across the provider's retries of one notification.
type Event struct {
	ID              string            `json:"id"`
	Provider        string            `json:"provider"`
	Type            string            `json:"type"`
	OrderID         string            `json:"order_id"`
	ProviderOrderID string            `json:"provider_order_id,omitempty"`
	RefundID        string            `json:"refund_id,omitempty"`
	Amount          string            `json:"amount,omitempty"`
	Currency        string            `json:"currency,omitempty"`
	OccurredAt      string            `json:"occurred_at,omitempty"`
	Data            map[string]string `json:"data"`
}

// EventID builds the stable event id provider:reference:type. A control
// byte in the provider's reference is written %XX: the id also goes out as
// the Minipay-Event-Id header, where such a byte is not allowed (the
// forward would fail, and the provider retry it forever). So is a byte past
// ASCII, which a backend reads as Latin-1 (WSGI, Node.js, servlets): the
// header would differ from the event's id (README Webhooks). '%' is written
// %25, so that two references never share an id (dedupe would take the
// second event for the first).
func EventID(provider, reference, typ string) string {
	for i := 0; i < len(reference); i++ {
		if escapedInID(reference[i]) {
			return provider + ":" + escapeControls(reference) + ":" + typ
		}
	}
	return provider + ":" + reference + ":" + typ
}

func escapedInID(c byte) bool { return c < 0x20 || c >= 0x7f || c == '%' }

// AppendJSON appends the event's JSON to dst: refund_id on every refund
// event, "" when the signed notification names no merchant refund id (a
// refund made outside the merchant's API: CBTIS's portal), as order_id is
// written on every event (README Webhooks: refund_id is present on refund
// events), and left out of every other event; data's members sorted by
// name, as encoding/json writes a map (whose encoder allocated for every
// member: 30 allocations an event).
func (e *Event) AppendJSON(dst []byte) []byte {
	var room [32]string // an event's usual members, on the stack
	names := room[:0]
	// The event's size unescaped: its members' names and quotes (at most
	// 150 bytes) and texts, and 6 bytes of quotes, colon and comma for
	// each of data's members, so that dst grows once.
	size := 150 + len(e.ID) + len(e.Provider) + len(e.Type) + len(e.OrderID) + len(e.ProviderOrderID) +
		len(e.RefundID) + len(e.Amount) + len(e.Currency) + len(e.OccurredAt)
	for name, value := range e.Data {
		names = append(names, name)
		size += len(name) + len(value) + 6
	}
	slices.Sort(names)
	if cap(dst)-len(dst) < size { // as slices.Grow, in one allocation under -race too
		dst = append(make([]byte, 0, len(dst)+size), dst...)
	}
	dst = append(dst, `{"id":`...)
	dst = AppendJSONString(dst, e.ID)
	dst = append(dst, `,"provider":`...)
	dst = AppendJSONString(dst, e.Provider)
	dst = append(dst, `,"type":`...)
	dst = AppendJSONString(dst, e.Type)
	dst = append(dst, `,"order_id":`...)
	dst = AppendJSONString(dst, e.OrderID)
	dst = appendOptional(dst, `,"provider_order_id":`, e.ProviderOrderID)
	if e.RefundID != "" || e.Type == EventRefundSucceeded || e.Type == EventRefundFailed {
		dst = append(dst, `,"refund_id":`...)
		dst = AppendJSONString(dst, e.RefundID)
	}
	dst = appendOptional(dst, `,"amount":`, e.Amount)
	dst = appendOptional(dst, `,"currency":`, e.Currency)
	dst = appendOptional(dst, `,"occurred_at":`, e.OccurredAt)
	if e.Data == nil {
		return append(dst, `,"data":null}`...)
	}
	dst = append(dst, `,"data":{`...)
	for i, name := range names {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(AppendJSONString(dst, name), ':')
		dst = AppendJSONString(dst, e.Data[name])
	}
	return append(dst, "}}"...)
}

// appendOptional appends name and value's JSON string, nothing when value
// is empty (an omitempty member).
func appendOptional(dst []byte, name, value string) []byte {
	if value == "" {
		return dst
	}
	return AppendJSONString(append(dst, name...), value)
}

// MarshalJSON is AppendJSON for encoding/json.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

func escapeControls(s string) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); i++ {
		if c := s[i]; escapedInID(c) {
			b = append(b, '%', hex[c>>4], hex[c&0xf])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

// Marshal encodes v without HTML escaping (these bodies are JSON for
// programs, and '<' in an XML ACK should read as '<'); the types here cannot
// fail to encode.
func Marshal(v any) []byte {
	if a, ok := v.(interface{ AppendJSON([]byte) []byte }); ok {
		return a.AppendJSON(make([]byte, 0, 320))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("transform: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
