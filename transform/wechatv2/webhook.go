package wechatv2

import (
	"cmp"
	"errors"
	"net/http"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// AckBody is the exact acknowledgement WeChat Pay waits for.
const AckBody = `<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>`

// Webhook verifies WeChat Pay v2 payment and refund notifications.
type Webhook struct {
	cfg    Config
	signer wxpay.Signer
	aesKey []byte // refund notifications: lowercase hex MD5 of the API key
}

// NewWebhook validates cfg and returns a Webhook.
func NewWebhook(cfg Config) (*Webhook, error) {
	if err := transform.CheckConfig(&cfg, transform.RoleWebhook); err != nil {
		return nil, err
	}
	return &Webhook{cfg: cfg, signer: wxpay.NewSigner(cfg.APIKey), aesKey: RefundKey(cfg.APIKey)}, nil
}

var _ transform.Webhook = (*Webhook)(nil)

// ErrRefundDecrypt is Verify's error for a refund notification whose
// req_info does not decrypt; the others are transform's transform.ErrMalformed,
// transform.ErrUnsigned, transform.ErrBadSignature and transform.ErrForeign.
var ErrRefundDecrypt = errors.New("wechat_v2: refund notification req_info does not decrypt")

// Verify implements transform.Webhook.
func (w *Webhook) Verify(n transform.Notification) (*transform.Event, error) {
	root, p, err := transform.ParseFlatXML(n.Body)
	if err != nil || root != "xml" || hasDuplicate(p) {
		return nil, transform.ErrMalformed
	}
	if p.Get("return_code") != "SUCCESS" {
		return nil, transform.ErrUnsigned
	}
	if p.Get("appid") != w.cfg.AppID || p.Get("mch_id") != w.cfg.MchID ||
		w.cfg.SubMchID != "" && p.Get("sub_mch_id") != w.cfg.SubMchID { // the provider's key signs for every sub-merchant
		return nil, transform.ErrForeign
	}
	if p.Has("req_info") {
		return w.refundEvent(p)
	}
	signType := p.Get("sign_type")
	if signType == "" { // WeChat often leaves it out; the order was signed with ours
		signType = w.cfg.SignType
	}
	if signType != SignMD5 && signType != SignHMACSHA256 {
		return nil, transform.ErrMalformed
	}
	if !w.signer.Verify(p, signType) {
		return nil, transform.ErrBadSignature
	}
	return PaymentEvent(p)
}

// hasDuplicate tells whether a parameter name occurs twice. WeChat never
// repeats one; a repeated name would let Get (the first) and the signature
// (every non-empty one) disagree, and an empty element is outside the
// signature, so anyone could prepend one to blank a signed field.
func hasDuplicate(p transform.Params) bool {
	if len(p) > 32 { // a 64 KiB body can hold thousands of elements: stay linear
		seen := make(map[string]struct{}, len(p))
		for _, kv := range p {
			if _, ok := seen[kv.Name]; ok {
				return true
			}
			seen[kv.Name] = struct{}{}
		}
		return false
	}
	for i := 1; i < len(p); i++ {
		for j := 0; j < i; j++ {
			if p[i].Name == p[j].Name {
				return true
			}
		}
	}
	return false
}

// PaymentEvent normalizes a verified payment notification.
func PaymentEvent(p transform.Params) (*transform.Event, error) {
	var typ string
	switch p.Get("result_code") {
	case "SUCCESS":
		typ = transform.EventPaymentSucceeded
	case "FAIL":
		typ = transform.EventPaymentFailed
	default: // verified but not mapped: forwarded as "unknown" (DESIGN.md §5)
		typ = transform.EventUnknown
	}
	ref := cmp.Or(p.Get("transaction_id"), p.Get("out_trade_no"))
	ev := &transform.Event{
		ID: transform.EventID(Name, ref, typ), Provider: Name, Type: typ,
		OrderID: p.Get("out_trade_no"), ProviderOrderID: p.Get("transaction_id"),
		OccurredAt: beijingRFC3339(p.Get("time_end")), Data: p.Map(),
	}
	if m, ok := transform.MoneyFromMinorText(p.Get("total_fee"), feeType(p)); ok {
		ev.Amount, ev.Currency = m.String(), m.Currency
	}
	delete(ev.Data, "sign")
	return ev, nil
}

// refundEvent decrypts req_info; decrypting under the merchant's key is what
// authenticates a refund notification (it carries no sign).
func (w *Webhook) refundEvent(outer transform.Params) (*transform.Event, error) {
	plain, err := DecryptRefundInfo(outer.Get("req_info"), w.aesKey)
	if err != nil {
		return nil, ErrRefundDecrypt
	}
	root, p, err := transform.ParseFlatXML(plain)
	if err != nil || root != "root" {
		return nil, ErrRefundDecrypt
	}
	typ := transform.EventRefundFailed
	if p.Get("refund_status") == "SUCCESS" {
		typ = transform.EventRefundSucceeded
	}
	data := outer.Map()
	delete(data, "req_info")
	for _, kv := range p {
		data[kv.Name] = kv.Value
	}
	ev := &transform.Event{
		ID: transform.EventID(Name, cmp.Or(p.Get("refund_id"), p.Get("out_refund_no")), typ), Provider: Name, Type: typ,
		OrderID: p.Get("out_trade_no"), ProviderOrderID: p.Get("transaction_id"), RefundID: p.Get("out_refund_no"),
		Data: data,
	}
	if m, ok := transform.MoneyFromMinorText(p.Get("refund_fee"), "CNY"); ok {
		ev.Amount, ev.Currency = m.String(), m.Currency
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04:05", p.Get("success_time"), transform.UTC8); err == nil {
		ev.OccurredAt = t.Format(time.RFC3339)
	}
	return ev, nil
}

// Ack implements transform.Webhook.
func (*Webhook) Ack() (int, string, []byte) {
	return http.StatusOK, "text/xml; charset=utf-8", []byte(AckBody)
}

// Nack implements transform.Webhook: WeChat's FAIL form.
func (*Webhook) Nack(reason string) (string, []byte) {
	return "text/xml; charset=utf-8", transform.AppendFlatXML(nil, "xml", transform.Params{
		{Name: "return_code", Value: "FAIL"}, {Name: "return_msg", Value: reason}})
}
