package wechatv2

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

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

// NotificationKeys implements transform.Webhook: api_key signs payment
// notifications and decrypts refund ones (req_info).
func (w *Webhook) NotificationKeys() []string { return []string{w.cfg.APIKey} }

// Merchant implements transform.Webhook: app_id, mch_id, sub_mch_id,
// sub_app_id.
func (w *Webhook) Merchant() []string {
	return []string{w.cfg.AppID, w.cfg.MchID, w.cfg.SubMchID, w.cfg.SubAppID}
}

// Errors of Verify besides transform's ErrMalformed, ErrUnsigned,
// ErrBadSignature and ErrForeign, each wrapping one of them (README
// Development, "Adding a provider"): ErrRefundDecrypt and ErrSignType wrap
// ErrBadSignature (decrypting req_info under the key is what authenticates
// a refund notification), ErrNotNotice transform.ErrSignedAnswer,
// ErrNoReturnCode ErrUnsigned.
var (
	ErrRefundDecrypt = fmt.Errorf("%w: wechat_v2 refund notification req_info does not decrypt under the key", transform.ErrBadSignature)
	ErrSignType      = fmt.Errorf("%w: the notification names another sign type than the configured one", transform.ErrBadSignature)
	ErrNotNotice     = fmt.Errorf("%w (wechat_v2: the document is not a payment notification)", transform.ErrSignedAnswer)
	// ErrNoReturnCode: an API answer leaving return_code out, which
	// ReadAnswer takes for a communication failure.
	ErrNoReturnCode = fmt.Errorf("%w (wechat_v2: an API answer without return_code, which minipay reads as a communication failure)", transform.ErrUnsigned)
	// ErrShiftedField: a signed value holds "&name=" for a name that sorts
	// after its field, so the signed string has two readings (a captured
	// notification's field moved into the value before it, or a value that
	// ran on over the fields after it, signs the same).
	ErrShiftedField = fmt.Errorf("%w: a signed value reads as another field too (&name=)", transform.ErrMalformed)
)

// MaxDocumentFields bounds the fields of a document read before its
// signature is checked (a notification, a request to the sandbox): the
// largest payment notification has about 120, some 35 and three for each
// of the 28 vouchers an order uses at most (docs/providers/wechat_v2.md
// Largest documents); one of more is refused once that many are read.
const MaxDocumentFields = 256

// Verify implements transform.Webhook.
func (w *Webhook) Verify(n transform.Notification) (*transform.Event, error) {
	return w.Explain(n, nil)
}

var _ transform.Explainer = (*Webhook)(nil)

// Explain implements transform.Explainer: Verify, recording the sorted
// parameters it signed (the key masked) and both signatures. A document
// whose signature verifies but that is an API answer is of kind answer.
func (w *Webhook) Explain(n transform.Notification, x *transform.Explanation) (*transform.Event, error) {
	root, p, err := w.read(n, x != nil)
	if err != nil {
		return nil, err
	}
	if root != "xml" || p.HasDuplicate() {
		return nil, transform.ErrMalformed
	}
	// return_code FAIL is a communication failure, which WeChat never signs.
	// A signed document that leaves return_code out is not refused for it:
	// the signature decides, as the shared provider facts list no
	// return_code among a payment notification's fields.
	if rc := p.Has("return_code"); rc && p.Get("return_code") != "SUCCESS" || !rc && !p.Has("sign") {
		return nil, transform.ErrUnsigned
	}
	// Recorded before any refusal (another merchant, another sign type):
	// what the configured key and sign type expect.
	if x != nil && !p.Has("req_info") {
		if !isPaymentNotice(p) { // by its content, whether or not it verifies
			x.Kind = transform.KindAnswer
		}
		x.SignType, x.Received = w.cfg.SignType, p.Get("sign")
		x.StringToSign, x.Expected = w.signer.Explain(p, w.cfg.SignType)
	}
	// Only a payment notification may leave return_code out (above): an API
	// answer without it is a communication failure to ReadAnswer, so
	// verify's verdict on it is the route's.
	if !p.Has("return_code") && !p.Has("req_info") && !isPaymentNotice(p) {
		return nil, ErrNoReturnCode
	}
	// An API answer is held to the rule minipay reads answers by (an
	// appid, mch_id or sub_mch_id it leaves out or empty is not required),
	// so verify's verdict on it is the route's; a webhook refuses it anyway.
	if w.cfg.foreign(p, p.Has("req_info") || isPaymentNotice(p)) {
		return nil, transform.ErrForeign
	}
	if p.Has("req_info") {
		ev, err := w.refundEvent(p)
		if x != nil { // nothing is signed: decrypting under the key authenticates
			x.SignType, x.Received = "AES-256-ECB (req_info, no sign)", p.Get("req_info")
			if plain, derr := DecryptRefundInfo(p.Get("req_info"), w.aesKey); derr == nil {
				x.StringToSign = string(plain) // a changed block shows as garbage in its place
			}
			x.Expected = "req_info encrypted under the lowercase hex MD5 of api_key (it decrypts to a <root> document)"
			if errors.Is(err, ErrRefundDecrypt) {
				x.Expected = "req_info encrypted under the lowercase hex MD5 of api_key (it does not decrypt to a <root> document)"
			}
		}
		return ev, err
	}
	// The configured sign type is the only one accepted: WeChat signs a
	// notification with the order's type, and minipay signs every order with
	// the configured one. A notification often leaves sign_type out.
	// An answer is read as minipay reads it, by its signature alone.
	if st := p.Get("sign_type"); st != "" && st != w.cfg.SignType && isPaymentNotice(p) {
		return nil, ErrSignType
	}
	if !w.signer.Verify(p, w.cfg.SignType) {
		// Explaining only: a notification without sign_type that verifies
		// under the other type was signed for an order of that type, the
		// pitfall docs/providers/wechat_v2.md lists (MD5 checked, HMAC paid).
		if other := otherSignType(w.cfg.SignType); x != nil && !p.Has("sign_type") && w.signer.Verify(p, other) {
			return nil, fmt.Errorf("%w: it verifies under sign_type %s, the type its order was signed with: --set sign_type=%s, as the route's sign_type must be", transform.ErrBadSignature, other, other)
		}
		return nil, transform.ErrBadSignature
	}
	// An API answer is read by the answers' rule, a pay's attach being
	// taken by it (x&cash_fee=1 in an unpaid order's answer, followed by
	// mch_id): verify's verdict on an answer is the route's.
	if !isPaymentNotice(p) {
		if readsTwoWays(p, answerKind) {
			return nil, ErrShiftedField
		}
		return nil, ErrNotNotice
	}
	if readsTwoWays(p, notificationKind) {
		return nil, ErrShiftedField
	}
	return PaymentEvent(p)
}

// read parses n's document within a notification's bounds
// (MaxNotification bytes, MaxDocumentFields fields). When explaining, an
// API answer past them is read as ReadAnswer reads one, up to
// transform.MaxAnswer bytes and MaxAnswerFields fields (a refund query
// listing many refunds): caddy minipay verify's verdict on an answer is the
// route's. The webhook never reads past a notification's bounds.
func (w *Webhook) read(n transform.Notification, explaining bool) (string, transform.Params, error) {
	body, err := n.Content()
	if err == nil {
		root, p, err := transform.ParseFlatXMLBounded(body, MaxDocumentFields)
		if err == nil {
			return root, p, nil
		}
	}
	if !explaining {
		return "", nil, transform.ErrMalformed
	}
	if body, err = transform.DecodeContent(n.Header, n.Body, transform.MaxAnswer); err != nil {
		return "", nil, transform.ErrMalformed
	}
	root, p, err := transform.ParseFlatXMLBounded(body, MaxAnswerFields)
	if err != nil || p.Has("req_info") || isPaymentNotice(p) {
		return "", nil, transform.ErrMalformed
	}
	return root, p, nil
}

var _ transform.AnswerExplainer = (*Webhook)(nil)

// ErrUnsignedAnswer is ExplainAnswer's error for a return_code FAIL answer:
// WeChat Pay signs none (a communication failure, such as 签名错误 for a
// request signed with another key).
var ErrUnsignedAnswer = fmt.Errorf("wechat_v2: the input is a return_code FAIL answer, and WeChat Pay signs no return_code FAIL "+
	"answer (its return_msg says what WeChat refused, e.g. 签名错误: the request was signed with another key or sign type; "+
	"caddy minipay sign shows the request's signature): %w; for wechat_v2, verify explains payment notifications (sign), "+
	"refund notifications (req_info) and return_code SUCCESS answers (sign)", transform.ErrUnsignedAnswer)

// ExplainAnswer implements transform.AnswerExplainer: a well-formed <xml>
// document whose return_code is present but not SUCCESS is an unsigned
// answer (the webhook refuses it as unsigned). Anything else is left to
// Explain.
func (w *Webhook) ExplainAnswer(n transform.Notification, x *transform.Explanation) (bool, error) {
	if len(n.Body) > transform.MaxNotification {
		return false, nil
	}
	root, p, err := transform.ParseFlatXML(n.Body)
	if err != nil || root != "xml" || p.HasDuplicate() || !p.Has("return_code") || p.Get("return_code") == "SUCCESS" {
		return false, nil
	}
	if x != nil {
		x.Kind = transform.KindAnswer
	}
	return true, ErrUnsignedAnswer
}

// documentKind is what a document signed with the merchant's key is read
// as. The key signs minipay's requests, WeChat's answers and its
// notifications alike, so which values may hold "&name=" is one grammar
// (readsTwoWays); the kinds differ only where noted there.
type documentKind uint8

const (
	// notificationKind: a payment notification (the webhook; caddy
	// minipay verify on one).
	notificationKind documentKind = iota
	// answerKind: an API answer (ReadAnswer; caddy minipay verify on one,
	// whose verdict is the route's).
	answerKind
)

// readsTwoWays tells whether a signed document of kind has another reading
// as sorted k=v pairs, each rule written once for both kinds (README "What
// the merchant can trust"):
//   - only attach, device_info (the merchant's free text) and
//     promotion_detail may hold "&name=" (pairOutsideFreeText);
//   - promotion_detail only inside one JSON object or array naming none of
//     WeChat's fields (promotionDetailReadsTwoWays);
//   - attach and device_info only pairs freeTextPairs tolerates for kind
//     (in attach the names sorting after it are refused up to attachEnd,
//     which is where the kinds differ);
//   - in a notification, also no free text cut into a field of its own
//     (splitFromFreeText, deviceInfoFromAttach). An answer is not held to
//     these: an unpaid order's answer carries the attach a pay took
//     ("x&cash_fee=1", followed by mch_id) and reads as the route reads it.
func readsTwoWays(p transform.Params, kind documentKind) bool {
	if pairOutsideFreeText(p) || promotionDetailReadsTwoWays(p) {
		return true
	}
	// Only the free text is left holding pairs: judging it alone spares
	// the pay's answer a second scan of every value.
	freeText := transform.Params{{Name: "attach", Value: p.Get("attach")}, {Name: "device_info", Value: p.Get("device_info")}}
	if freeText.SortedQueryAmbiguous("sign", freeTextPairs(p, kind)) {
		return true
	}
	return kind == notificationKind && (splitFromFreeText(p) || deviceInfoFromAttach(p))
}

// freeTextPairs returns what p's SortedQueryAmbiguous tolerates in a
// document of kind, in the merchant's own free text, attach or
// device_info, holding key=value pairs ("a=1&b=2"): a name that is none of
// WeChat's (in a notification the other reading, such a pair moved out of
// the value into a field of its own, is refused by splitFromFreeText: no
// genuine notification has a field of that name), and in attach one of
// WeChat's that sorts after attachEnd ("uid=5&openid=oX&total_fee=1",
// bank_type following). A field moved into attach came from between attach
// and that field, and a field split off attach would sort before it, so
// such a name has no other reading; one sorting up to it, or any after
// attach when nothing follows it, is refused (a device_info read as
// beginning there is deviceInfoFromAttach's). In device_info every WeChat
// name sorting after it is refused: a paid answer's device_info run on over
// fee_type, also one split off an attach holding "&device_info=" (a pay
// takes that parameter: device_info sorts after bank_type), signed as
// WeChat's own and read a USD payment as CNY. Pairs in promotion_detail
// are promotionDetailReadsTwoWays's to judge. Any other field holding
// "&name=" is refused (pairOutsideFreeText).
func freeTextPairs(p transform.Params, kind documentKind) func(field, name string) bool {
	return func(field, name string) bool {
		switch {
		case field == "promotion_detail":
			return true
		case field != "attach" && field != "device_info":
			return false
		case !notificationField(name):
			return true
		case field == "attach":
			end := attachEnd(p, kind)
			return end != "" && name > end
		}
		return false
	}
}

// attachEnd is the field up to which a pair in attach named as one of
// WeChat's sorting after attach is refused: in a notification the field
// that follows attach in its signed string ("" when none does); in an
// answer bank_type, the one following attach in every paid answer (an
// attach run on over bank_type, cash_fee and fee_type read a paid USD
// answer as CNY), and a pay refuses no other name, since every answer of
// its order carries its attach (attachReadsTwoWays).
func attachEnd(p transform.Params, kind documentKind) string {
	if kind == answerKind {
		return "bank_type"
	}
	return nextSigned(p, "attach")
}

// attachReadsTwoWays tells whether a pay request's attach holds a pair an
// answer refuses (freeTextPairs): one of WeChat's names sorting after
// attach up to bank_type, the field that follows it in every paid answer
// and notification (minipay sends no device_info). The order would be
// paid and every notification of it refused, so the pay is refused
// instead.
func attachReadsTwoWays(attach string) bool {
	return transform.Params{{Name: "attach", Value: attach}}.SortedQueryAmbiguous("sign", freeTextPairs(nil, answerKind))
}

// holdsPair tells whether a value holds "&name=", which pairOutsideFreeText
// refuses in a field other than attach, device_info and promotion_detail. A pay
// request's openid comes back in every notification of the order, so one
// holding a pair would be paid and never notified. WeChat's openids have no
// '&': the common case costs one scan.
func holdsPair(v string) bool {
	if strings.IndexByte(v, '&') < 0 {
		return false
	}
	for range transform.PairNames(v) {
		return true
	}
	return false
}

// pairOutsideFreeText tells whether a signed value other than the
// merchant's free text (attach, device_info) and promotion_detail (its
// own check) holds "&name=". WeChat's other values never do; a forged one
// may have run on over genuine fields whose names sort before its own (a
// field fz added after attach "x" whose value
// "1&bank_type=CFT&cash_fee=1234&fee_type=USD" signs as a genuine attach
// "x&fz=1" followed by those fields, and drops fee_type), which
// SortedQueryAmbiguous, looking at names sorting after the field, misses.
func pairOutsideFreeText(p transform.Params) bool {
	for _, kv := range p {
		switch kv.Name {
		case "sign", "attach", "device_info", "promotion_detail":
			continue
		}
		for range transform.PairNames(kv.Value) {
			return true
		}
	}
	return false
}

// promotionDetailReadsTwoWays tells whether a signed promotion_detail (单品优惠,
// a JSON text whose promotion names and goods remarks may hold "&name=")
// is other than one JSON object or array, or holds a pair named as one of
// WeChat's fields. Cut at an inner '&' (the rest read as fields sorting
// after it), it is no complete JSON value; run on over the fields after
// it, neither; begun inside attach or device_info, it runs on over mch_id,
// which every signed document of WeChat's carries between those and it,
// and holds "&mch_id=" (TestSignedStringReadingsOfPromotionDetail: such a
// reading with a JSON string from attach to an out_trade_no 'O1"}').
func promotionDetailReadsTwoWays(p transform.Params) bool {
	v := p.Get("promotion_detail")
	if v == "" { // not signed
		return false
	}
	if !(v[0] == '{' && v[len(v)-1] == '}' || v[0] == '[' && v[len(v)-1] == ']') || !json.Valid([]byte(v)) {
		return true
	}
	for name := range transform.PairNames(v) {
		if notificationField(name) {
			return true
		}
	}
	return false
}

// splitFromFreeText tells whether the signed field that follows attach or
// device_info in the signed string is none of WeChat's. The free text may
// hold pairs freeTextPairs tolerates ("a=1&b=2"), and a captured
// notification with that value cut at an '&' into a shorter one and a
// field of its own (attach "a=1", b "2") signs the same: a reading that
// changes the attach the merchant reads. WeChat's field after attach is
// bank_type, and after device_info one of its own documented ones.
func splitFromFreeText(p transform.Params) bool {
	for _, field := range [...]string{"attach", "device_info"} {
		if p.Get(field) == "" { // not signed, nothing to split
			continue
		}
		if next := nextSigned(p, field); next != "" && !notificationField(next) {
			return true
		}
	}
	return false
}

// deviceInfoFromAttach tells whether attach is signed and device_info
// holds a pair named between the two (bank_type, cash_fee, …): a genuine
// attach holding "&device_info=D" (the merchant's parameters) read as
// attach cut there, or cut before a pair freeTextPairs tolerates that
// becomes a field ("src=mp&cash_fee=1&device_info=D": cash_fee 1), and a
// device_info of "D" that runs on over bank_type and the fields after it,
// up to the first sorting past device_info. Such a device_info can only
// have begun inside attach, the one free text sorting before the fields it
// ran over; a genuine one holding such a pair next to an attach is refused
// with it.
func deviceInfoFromAttach(p transform.Params) bool {
	if p.Get("attach") == "" {
		return false
	}
	for name := range transform.PairNames(p.Get("device_info")) {
		if "attach" < name && name < "device_info" {
			return true
		}
	}
	return false
}

// nextSigned is the name of the field that follows field in p's signed
// string (names sorted, empty values and sign left out), "" when none does.
func nextSigned(p transform.Params, field string) string {
	next := ""
	for _, kv := range p {
		if kv.Value != "" && kv.Name != "sign" && kv.Name > field && (next == "" || kv.Name < next) {
			next = kv.Name
		}
	}
	return next
}

// notificationField tells a field name of WeChat Pay's payment
// notification (coupon_type_$n, coupon_id_$n and coupon_fee_$n numbered).
func notificationField(name string) bool {
	for _, prefix := range [...]string{"coupon_type_", "coupon_id_", "coupon_fee_"} {
		if n, ok := strings.CutPrefix(name, prefix); ok && n != "" && strings.Trim(n, "0123456789") == "" {
			return true
		}
	}
	return slices.Contains(notificationFields[:], name)
}

// notificationFields are the documented fields of a payment notification.
var notificationFields = [...]string{"return_code", "return_msg", "appid", "mch_id", "sub_appid", "sub_mch_id", "device_info",
	"nonce_str", "sign", "sign_type", "result_code", "err_code", "err_code_des", "openid", "is_subscribe", "sub_openid",
	"sub_is_subscribe", "trade_type", "bank_type", "total_fee", "settlement_total_fee", "fee_type", "cash_fee",
	"cash_fee_type", "coupon_fee", "coupon_count", "transaction_id", "out_trade_no", "attach", "time_end"}

// noticeFields are what every payment notification carries and no API
// answer carries all of: every answer of the v2 API is signed with the
// same key, so a signed document proves nothing about its kind.
var noticeFields = [...]string{"transaction_id", "out_trade_no", "total_fee", "time_end"}

// answerFields are fields of API answers (unifiedorder's prepay_id,
// orderquery's trade_state, refund's refund_id...) that no payment
// notification carries: a signed orderquery answer with trade_state NOTPAY
// must not pass as a paid notification.
var answerFields = [...]string{"trade_state", "trade_state_desc", "prepay_id", "code_url", "mweb_url",
	"refund_id", "out_refund_no", "refund_fee", "refund_count", "req_info"}

// isPaymentNotice tells whether p has the shape of a payment notification.
func isPaymentNotice(p transform.Params) bool {
	for _, f := range noticeFields {
		if p.Get(f) == "" {
			return false
		}
	}
	for _, f := range answerFields {
		if p.Has(f) {
			return false
		}
	}
	return true
}

// PaymentEvent normalizes a verified payment notification. data holds the
// signed fields: every non-empty one but sign (an empty element is outside
// the signature).
func PaymentEvent(p transform.Params) (*transform.Event, error) {
	var typ string
	switch p.Get("result_code") {
	case "SUCCESS":
		typ = transform.EventPaymentSucceeded
	case "FAIL":
		typ = transform.EventPaymentFailed
	default: // verified but not mapped: forwarded as "unknown" (README "Webhooks")
		typ = transform.EventUnknown
	}
	ev := &transform.Event{
		ID: transform.EventID(Name, p.Get("transaction_id"), typ), Provider: Name, Type: typ,
		OrderID: p.Get("out_trade_no"), ProviderOrderID: p.Get("transaction_id"),
		OccurredAt: beijingRFC3339(p.Get("time_end")), Data: nonEmpty(p, "sign"),
	}
	if m, ok := transform.MoneyFromMinorText(p.Get("total_fee"), feeType(p)); ok {
		ev.Amount, ev.Currency = m.String(), m.Currency
	}
	return ev, nil
}

// nonEmpty is p as a map without its empty values and without skip.
func nonEmpty(p transform.Params, skip string) map[string]string {
	m := make(map[string]string, len(p))
	for _, kv := range p {
		if kv.Value != "" && kv.Name != skip {
			m[kv.Name] = kv.Value
		}
	}
	return m
}

// refundEvent decrypts req_info; decrypting under the merchant's key is what
// authenticates a refund notification (it carries no sign). The event holds
// the decrypted fields only: the outer identifiers Verify compared with the
// configuration (appid, mch_id, sub_mch_id) and anything else next to
// req_info are unauthenticated and left out.
func (w *Webhook) refundEvent(outer transform.Params) (*transform.Event, error) {
	plain, err := DecryptRefundInfo(outer.Get("req_info"), w.aesKey)
	if err != nil {
		return nil, ErrRefundDecrypt
	}
	// Bounded like a payment notification: AES-ECB blocks of captured
	// notifications can be repeated into a long plaintext.
	root, p, err := transform.ParseFlatXMLBounded(plain, MaxDocumentFields)
	if err != nil || root != "root" {
		return nil, ErrRefundDecrypt
	}
	// A repeated name would let Get and the merchant read different values;
	// AES-ECB blocks can be cut and pasted between captured notifications.
	if p.HasDuplicate() || p.Get("out_refund_no") == "" || p.Get("refund_status") == "" {
		return nil, transform.ErrMalformed
	}
	typ, ok := refundTypes[p.Get("refund_status")]
	if !ok { // verified but undocumented: never guessed into a terminal state
		typ = transform.EventUnknown
	}
	data := nonEmpty(p, "")
	ev := &transform.Event{
		ID: transform.EventID(Name, cmp.Or(p.Get("refund_id"), p.Get("out_refund_no")), typ), Provider: Name, Type: typ,
		OrderID: p.Get("out_trade_no"), ProviderOrderID: p.Get("transaction_id"), Data: data,
	}
	if typ != transform.EventUnknown { // refund events only (README Webhooks), as wechat_v3's
		ev.RefundID = p.Get("out_refund_no")
	}
	// refund_fee (申请退款金额) is the refund's amount as the merchant asked
	// for it and as refund and refund_query state it (wechat_v3's event
	// takes amount.refund alike); settlement_refund_fee, that less the
	// non-recharge vouchers' share, stays in data.
	if m, ok := transform.MoneyFromMinorText(cmp.Or(p.Get("refund_fee"), p.Get("settlement_refund_fee")), "CNY"); ok {
		ev.Amount, ev.Currency = m.String(), m.Currency
	}
	ev.OccurredAt = transform.LocalRFC3339("2006-01-02 15:04:05", p.Get("success_time"), transform.UTC8)
	return ev, nil
}

// refundTypes maps the documented refund_status values (SUCCESS, CHANGE:
// the refund failed and needs handling, REFUNDCLOSE: closed).
var refundTypes = map[string]string{
	"SUCCESS": transform.EventRefundSucceeded, "CHANGE": transform.EventRefundFailed, "REFUNDCLOSE": transform.EventRefundFailed,
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

// otherSignType is the sign type WeChat Pay v2 has besides t.
func otherSignType(t string) string {
	if t == wxpay.SignMD5 {
		return wxpay.SignHMACSHA256
	}
	return wxpay.SignMD5
}
