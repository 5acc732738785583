package wechatv2

import (
	"cmp"
	"net/http"
	"strconv"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// Upstream paths (host api.mch.weixin.qq.com, fail-over api2.mch.weixin.qq.com).
const (
	PathUnifiedOrder = "/pay/unifiedorder"
	PathOrderQuery   = "/pay/orderquery"
	PathCloseOrder   = "/pay/closeorder"
	PathRefund       = "/secapi/pay/refund"
	PathRefundQuery  = "/pay/refundquery"
)

// Client builds signed WeChat Pay v2 calls and reads their answers. Prepare
// is the entry point, with the merchant API's JSON; the builders (Pay, Query,
// ...) take a request that passed its Validate (transform.Operations).
// The calls go to https://api.mch.weixin.qq.com.
type Client struct {
	transform.Operations // Supports and Prepare: pay, query, close, refund and refund_query
	cfg                  Config
	signer               wxpay.Signer
	// Now is the clock for paySign's timeStamp; tests pin it.
	Now func() time.Time
}

// NewClient validates cfg and returns a Client.
func NewClient(cfg Config) (*Client, error) {
	if err := transform.CheckConfig(&cfg, transform.RoleClient); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, signer: wxpay.NewSigner(cfg.APIKey), Now: time.Now}
	c.Operations = transform.Operations{Provider: Name, Now: func() time.Time { return c.Now() }, Pay: c.Pay, Query: c.Query, Close: c.Close, Refund: c.Refund, RefundQuery: c.RefundQuery,
		// spbill_create_ip: the request's client_ip, else the configuration's, else the caller's (Pay).
		CallerIPFallback: cfg.ClientIP == ""}
	return c, nil
}

var _ transform.Client = (*Client)(nil)

// base starts a parameter set in p with the merchant identity and a fresh
// nonce. Callers pass a stack array's slice: the set only lives until call
// has signed and serialized it, so it need not be allocated at all.
func (c *Client) base(p transform.Params) transform.Params {
	p = append(p, transform.Param{Name: "appid", Value: c.cfg.AppID}, transform.Param{Name: "mch_id", Value: c.cfg.MchID})
	if c.cfg.SubAppID != "" {
		p = append(p, transform.Param{Name: "sub_appid", Value: c.cfg.SubAppID})
	}
	if c.cfg.SubMchID != "" {
		p = append(p, transform.Param{Name: "sub_mch_id", Value: c.cfg.SubMchID})
	}
	return append(p,
		transform.Param{Name: "nonce_str", Value: transform.Nonce(32)},
		transform.Param{Name: "sign_type", Value: c.cfg.SignType})
}

// answerDecoder turns a verified answer to the call for orderID into the
// merchant's JSON. One that needs nothing else captures no variable, so
// it costs no allocation per call.
type answerDecoder func(c *Client, orderID string, a transform.Params) ([]byte, error)

// call signs params and wraps them as an XML POST to path.
func (c *Client) call(path, orderID string, p transform.Params, decode answerDecoder) *transform.Call {
	// The signature only lives until the XML is written: as a string of at
	// most 32 bytes (MD5) in a set that does not escape, it stays on the stack.
	var sig [64]byte
	sign := transform.Params{{Name: "sign", Value: string(c.signer.AppendSign(sig[:0], p, c.cfg.SignType))}}
	return &transform.Call{
		Method: http.MethodPost, Path: path, ContentType: "text/xml; charset=utf-8",
		Body: transform.AppendFlatXML(nil, "xml", p, sign), OrderID: orderID,
		// Every v2 call is keyed by out_trade_no or out_refund_no; a
		// repeated refund "refunds once" (docs/providers/wechat_v2.md).
		Idempotent: true,
		Decode: func(status int, _ http.Header, body []byte) ([]byte, error) {
			answer, err := c.ReadAnswer(status, body)
			if err != nil {
				return nil, err
			}
			return decode(c, orderID, answer)
		},
	}
}

// Pay builds the unifiedorder call; its answer becomes the wx.requestPayment object.
func (c *Client) Pay(req *transform.PayRequest) (*transform.Call, error) {
	if err := wxpay.CheckAmount(req.Money, "amount"); err != nil {
		return nil, err
	}
	notifyURL := cmp.Or(req.NotifyURL, c.cfg.NotifyURL)
	if notifyURL == "" {
		return nil, transform.Invalid("notify_url", "is required (in the request or the provider configuration)")
	}
	if req.NotifyURL != "" && !wxpay.ValidNotifyURL(req.NotifyURL) {
		return nil, transform.Invalid("notify_url", "must be an absolute http(s) URL without a query string")
	}
	// spbill_create_ip is required; for a mini program WeChat asks for the
	// IP of the machine calling its API, so the caller of minipay (the
	// merchant backend) is the last fallback.
	clientIP := cmp.Or(req.ClientIP, c.cfg.ClientIP, req.CallerIP)
	if clientIP == "" {
		return nil, transform.Invalid("client_ip", "is required (in the request or the provider configuration)")
	}
	var params [20]transform.Param
	p := c.base(params[:0])
	p = append(p,
		transform.Param{Name: "body", Value: req.Description},
		transform.Param{Name: "out_trade_no", Value: req.OrderID},
		transform.Param{Name: "total_fee", Value: req.Money.MinorText()},
		transform.Param{Name: "fee_type", Value: req.Money.Currency},
		transform.Param{Name: "spbill_create_ip", Value: clientIP},
		transform.Param{Name: "notify_url", Value: notifyURL},
		transform.Param{Name: "trade_type", Value: "JSAPI"},
	)
	if holdsPair(req.OpenID) {
		return nil, transform.Invalid("openid", "holds a pair (\"&name=\"): WeChat's notification of the order "+
			"would read two ways, and the webhook refuses it")
	}
	if c.cfg.SubAppID != "" {
		p = append(p, transform.Param{Name: "sub_openid", Value: req.OpenID})
	} else {
		p = append(p, transform.Param{Name: "openid", Value: req.OpenID})
	}
	if req.Attach != "" {
		if attachReadsTwoWays(req.Attach) {
			return nil, transform.Invalid("attach", "holds a pair named bank_type (\"&bank_type=\"): WeChat's notification "+
				"of the order would read two ways, and the webhook refuses it")
		}
		p = append(p, transform.Param{Name: "attach", Value: req.Attach})
	}
	if !req.Expire.IsZero() {
		p = append(p, transform.Param{Name: "time_expire", Value: req.Expire.In(transform.UTC8).Format("20060102150405")})
	}
	return c.call(PathUnifiedOrder, req.OrderID, p, func(c *Client, orderID string, a transform.Params) ([]byte, error) {
		prepayID := a.Get("prepay_id")
		if prepayID == "" {
			return nil, transform.Upstream("the provider's answer has no prepay_id")
		}
		return c.appendPayment(nil, orderID, prepayID), nil
	}), nil
}

// appendPayment appends the JSON of PaymentParams(orderID, prepayID), byte
// for byte what transform.Marshal writes for it, building the time stamp,
// nonce and paySign in stack buffers: the answer of every pay costs one
// allocation. A nil dst is allocated at the answer's size plus one byte,
// room for the newline the handler appends.
func (c *Client) appendPayment(dst []byte, orderID, prepayID string) []byte {
	var tsBuf [20]byte
	timeStamp := strconv.AppendInt(tsBuf[:0], c.Now().Unix(), 10)
	var nonceBuf [32]byte
	nonce := transform.AppendNonce(nonceBuf[:0], len(nonceBuf))
	var sigBuf [64]byte
	// The conversions stay on the stack: AppendPaySign keeps nothing.
	paySign := c.signer.AppendPaySign(sigBuf[:0], c.cfg.payAppID(), string(nonce), prepayID, c.cfg.SignType, string(timeStamp))
	if dst == nil {
		dst = make([]byte, 0, len(paymentJSONShape)+len(timeStamp)+len(nonce)+len(prepayID)+len(c.cfg.SignType)+
			len(paySign)+len(Name)+len(orderID)+1)
	}
	// The time stamp (digits), nonce ([A-Za-z0-9]) and paySign (hex) need no escaping.
	dst = append(dst, `{"timeStamp":"`...)
	dst = append(dst, timeStamp...)
	dst = append(dst, `","nonceStr":"`...)
	dst = append(dst, nonce...)
	dst = append(dst, `","package":"prepay_id=`...)
	dst = transform.AppendJSONText(dst, prepayID)
	dst = append(dst, `","signType":`...)
	dst = transform.AppendJSONString(dst, c.cfg.SignType)
	dst = append(dst, `,"paySign":"`...)
	dst = append(dst, paySign...)
	dst = append(dst, `","provider":`...)
	dst = transform.AppendJSONString(dst, Name)
	dst = append(dst, `,"order_id":`...)
	dst = transform.AppendJSONString(dst, orderID)
	return append(dst, '}')
}

// paymentJSONShape is appendPayment's fixed text, which sizes its answer.
const paymentJSONShape = `{"timeStamp":"","nonceStr":"","package":"prepay_id=","signType":"","paySign":"","provider":"","order_id":""}`

// PaymentParams signs the wx.requestPayment object for a prepay id.
func (c *Client) PaymentParams(orderID, prepayID string) *transform.PaymentParams {
	pp := &transform.PaymentParams{
		TimeStamp: strconv.FormatInt(c.Now().Unix(), 10),
		NonceStr:  transform.Nonce(32),
		Package:   "prepay_id=" + prepayID,
		SignType:  c.cfg.SignType,
		Provider:  Name,
		OrderID:   orderID,
	}
	pp.PaySign = c.signer.PaySign(c.cfg.payAppID(), pp.NonceStr, pp.Package, pp.SignType, pp.TimeStamp)
	return pp
}

// Query builds the orderquery call; its answer becomes the status object.
func (c *Client) Query(req *transform.OrderRequest) (*transform.Call, error) {
	var params [8]transform.Param
	p := append(c.base(params[:0]), transform.Param{Name: "out_trade_no", Value: req.OrderID})
	return c.call(PathOrderQuery, req.OrderID, p, func(_ *Client, orderID string, a transform.Params) ([]byte, error) {
		if err := sameOrder(a, "out_trade_no", orderID); err != nil {
			return nil, err
		}
		st, err := StatusFromQuery(a)
		if err != nil {
			return nil, err
		}
		return transform.Marshal(st), nil
	}), nil
}

// StatusFromQuery maps an orderquery answer to the status object.
func StatusFromQuery(a transform.Params) (*transform.PaymentStatus, error) {
	state := a.Get("trade_state")
	status, ok := tradeStates[state]
	if !ok {
		return nil, transform.UpstreamCode("the provider's answer has an unknown trade_state", state, a.Get("trade_state_desc"))
	}
	st := &transform.PaymentStatus{
		Provider: Name, OrderID: a.Get("out_trade_no"), ProviderOrderID: a.Get("transaction_id"),
		Status: status, ProviderStatus: state,
	}
	// The payment's fields come for a paid order only (the orderquery page:
	// 只返回out_trade_no和attach otherwise), so an unpaid order's answer
	// states no amount or currency whatever it carries: its fee_type may be
	// no field of WeChat's but one split off an attach ("x&fee_type=JPY")
	// that signs alike (README Merchant API, status object).
	paid := status == transform.StatusSucceeded || status == transform.StatusRefunded
	if fee := a.Get("total_fee"); fee != "" && paid {
		m, ok := transform.MoneyFromMinorText(fee, feeType(a))
		if !ok {
			return nil, transform.Upstream("the provider's answer has an invalid total_fee")
		}
		st.Amount, st.Currency = m.String(), m.Currency
	}
	// Only a paid order has a payment time: a failed or closed one has none,
	// whatever time_end the answer carries.
	if t := a.Get("time_end"); t != "" && paid {
		st.PaidAt = beijingRFC3339(t)
	}
	return st, nil
}

// tradeStates maps orderquery's trade_state (docs/providers/wechat_v2.md):
// ACCEPT (已接收，等待扣款, received and awaiting the debit) is not paid yet.
var tradeStates = map[string]string{
	"SUCCESS": transform.StatusSucceeded, "REFUND": transform.StatusRefunded,
	"NOTPAY": transform.StatusPending, "USERPAYING": transform.StatusPending, "ACCEPT": transform.StatusPending,
	"CLOSED": transform.StatusCancelled, "REVOKED": transform.StatusCancelled,
	"PAYERROR": transform.StatusFailed,
}

// sameOrder checks that an answer names the order (or refund) asked about:
// WeChat's orderquery and refund answers always carry out_trade_no (and
// out_refund_no), so a missing or different one is an answer to another
// request, never rewritten into ours.
func sameOrder(a transform.Params, field, want string) error {
	if a.Get(field) != want {
		return transform.Upstream("the provider's answer is for another " + field)
	}
	return nil
}

// Close builds the closeorder call.
func (c *Client) Close(req *transform.OrderRequest) (*transform.Call, error) {
	var params [8]transform.Param
	p := append(c.base(params[:0]), transform.Param{Name: "out_trade_no", Value: req.OrderID})
	return c.call(PathCloseOrder, req.OrderID, p, func(_ *Client, orderID string, a transform.Params) ([]byte, error) {
		// An empty element is outside the signature (WeChat signs non-empty
		// values only) and, as everywhere in an answer, says nothing.
		for _, f := range otherKindFields {
			if a.Get(f) != "" {
				return nil, transform.Upstream("the provider's answer is not a closeorder answer (it has " + f + ")")
			}
		}
		return transform.Marshal(transform.CloseResult{Provider: Name, OrderID: orderID, Status: transform.StatusCancelled}), nil
	}), nil
}

// otherKindFields are fields of the other documents signed with the
// merchant's key, of which WeChat's closeorder answer has none (its page
// lists return_code, return_msg, appid, mch_id, nonce_str, sign,
// result_code, result_msg, err_code, err_code_des): that answer names no
// order, so without this any signed SUCCESS document (a paid order's
// notification or orderquery answer, a unifiedorder or refund answer)
// answered in its place read as "cancelled". out_trade_no is in every
// other answer but unifiedorder's, which has prepay_id; a notification
// has transaction_id, a refundquery answer refund_count.
var otherKindFields = [...]string{"out_trade_no", "transaction_id", "prepay_id", "trade_state", "out_refund_no", "refund_id",
	"refund_count", "req_info"}

// Refund builds the refund call. WeChat asks for the merchant's TLS client
// certificate (apiclient_cert.pem), which belongs on reverse_proxy, or
// without Caddy on the http.Client's TLS configuration.
// WeChat settles refunds asynchronously: the answer's status is "pending"
// and the refund notification brings refund.succeeded or refund.failed.
func (c *Client) Refund(req *transform.RefundRequest) (*transform.Call, error) {
	if err := wxpay.CheckRefundAmounts(req); err != nil {
		return nil, err
	}
	var params [16]transform.Param
	p := c.base(params[:0])
	p = append(p,
		transform.Param{Name: "out_trade_no", Value: req.OrderID},
		transform.Param{Name: "out_refund_no", Value: req.RefundID},
		transform.Param{Name: "total_fee", Value: req.Total.MinorText()},
		transform.Param{Name: "refund_fee", Value: req.Money.MinorText()},
		transform.Param{Name: "refund_fee_type", Value: req.Money.Currency},
	)
	if req.Reason != "" {
		p = append(p, transform.Param{Name: "refund_desc", Value: req.Reason})
	}
	if c.cfg.NotifyURL != "" {
		p = append(p, transform.Param{Name: "notify_url", Value: c.cfg.NotifyURL})
	}
	return c.call(PathRefund, req.OrderID, p, func(_ *Client, _ string, a transform.Params) ([]byte, error) {
		if err := sameOrder(a, "out_trade_no", req.OrderID); err != nil {
			return nil, err
		}
		if err := sameOrder(a, "out_refund_no", req.RefundID); err != nil {
			return nil, err
		}
		return transform.Marshal(transform.RefundResult{
			Provider: Name, OrderID: req.OrderID, RefundID: req.RefundID,
			ProviderRefundID: a.Get("refund_id"), Status: transform.StatusPending,
			Amount: req.Money.String(), Currency: req.Money.Currency,
		}), nil
	}), nil
}

// RefundQuery builds the refundquery call for one refund, by the merchant's
// refund id (out_refund_no); its answer becomes the refund object.
func (c *Client) RefundQuery(req *transform.RefundQueryRequest) (*transform.Call, error) {
	var params [8]transform.Param
	p := append(c.base(params[:0]), transform.Param{Name: "out_refund_no", Value: req.RefundID})
	return c.call(PathRefundQuery, req.OrderID, p, func(_ *Client, orderID string, a transform.Params) ([]byte, error) {
		return RefundFromQuery(a, req.RefundID, orderID)
	}), nil
}

// refundStates maps refundquery's refund_status_$n. CHANGE (退款异常: the
// money could not reach the payer, the merchant must act) did not refund.
var refundStates = map[string]string{
	"SUCCESS": transform.StatusSucceeded, "PROCESSING": transform.StatusPending,
	"REFUNDCLOSE": transform.StatusFailed, "CHANGE": transform.StatusFailed,
}

// maxRefundsListed bounds the refund_$n entries read from one answer (WeChat
// allows 50 partial refunds per order).
const maxRefundsListed = 64

// RefundFromQuery maps a verified refundquery answer to the refund object of
// refundID: the answer lists the order's refunds as <field>_$n, and the one
// whose out_refund_no_$n is refundID is taken. The refund must be of
// orderID when the merchant named one (transform.RefundQueryOrder: the
// query was by out_refund_no alone, so another order is the merchant's
// mistake).
func RefundFromQuery(a transform.Params, refundID, orderID string) ([]byte, error) {
	n := -1
	for i := 0; i < maxRefundsListed; i++ {
		if a.Get("out_refund_no_"+strconv.Itoa(i)) == refundID {
			n = i
			break
		}
	}
	if n < 0 {
		return nil, transform.Upstream("the provider's answer is for another out_refund_no")
	}
	if err := transform.RefundQueryOrder(a.Get("out_trade_no"), orderID); err != nil {
		return nil, err
	}
	suffix := "_" + strconv.Itoa(n)
	state := a.Get("refund_status" + suffix)
	status, ok := refundStates[state]
	if !ok {
		return nil, transform.UpstreamCode("the provider's answer has an unknown refund_status", state, "")
	}
	m, ok := transform.MoneyFromMinorText(a.Get("refund_fee"+suffix), feeType(a))
	if !ok {
		return nil, transform.Upstream("the provider's answer has an invalid refund_fee")
	}
	return transform.Marshal(transform.RefundResult{
		Provider: Name, OrderID: a.Get("out_trade_no"), RefundID: refundID,
		ProviderRefundID: a.Get("refund_id" + suffix), Status: status,
		Amount: m.String(), Currency: m.Currency, ProviderStatus: state,
	}), nil
}

// MaxAnswerFields bounds the fields of an answer, read before its signature
// is checked: the largest, a refund query's, lists at most 20 refunds of a
// dozen fields and their coupons' (about 1950 fields with the 28 vouchers
// an order uses at most: docs/providers/wechat_v2.md Largest documents).
// An answer of more (a broken or hostile upstream's megabyte of one-byte
// elements cost 23 ms to parse and sort) is refused once that many are
// read.
const MaxAnswerFields = 4096

// ReadAnswer parses and checks a v2 answer: 2xx, well-formed, return_code
// SUCCESS, signed with the merchant's key, for this merchant, and
// result_code SUCCESS. The signature is checked before anything in the
// answer is believed.
func (c *Client) ReadAnswer(status int, body []byte) (transform.Params, error) {
	if status < 200 || status > 299 {
		return nil, transform.Upstream("the provider answered HTTP " + strconv.Itoa(status))
	}
	root, a, err := transform.ParseFlatXMLBounded(body, MaxAnswerFields)
	if err != nil || root != "xml" || a.HasDuplicate() {
		return nil, transform.Upstream("the provider's answer is not valid XML")
	}
	if rc := a.Get("return_code"); rc != "SUCCESS" {
		return nil, transform.UpstreamCode("the provider reported a communication failure", rc, a.Get("return_msg"))
	}
	if !c.signer.Verify(a, c.cfg.SignType) {
		return nil, transform.SignatureInvalid()
	}
	// The key also signs minipay's requests, and a pay's attach or body
	// holding "&result_code=SUCCESS&…&trade_state=SUCCESS&zz=1" made the
	// request's signature that of an orderquery answer naming any order as
	// paid, the request's own fields run on into zz: whoever saw the
	// request could answer with it in WeChat's place. Such a reading always
	// needs a field sorting after return_code to hold the request's fields
	// that follow the merchant's text (body, fee_type, openid, refund_fee:
	// each sorts before result_code), and only attach, device_info and
	// promotion_detail may hold "&name=", as in notifications. An attach
	// run on over the fields after it (bank_type, cash_fee, fee_type) read
	// a paid order's USD answer as CNY, fee_type gone; it then holds
	// "&bank_type=", the field after attach in every paid answer, which no
	// attach of minipay's orders holds (a pay refuses it). A device_info run
	// on over fee_type did the same, also one split off an attach holding
	// "&device_info=" (freeTextPairs); and a promotion_detail split
	// off an attach holding "&out_trade_no=VICTIM&promotion_detail=", run on
	// over the fields up to the real out_trade_no, read a paid order's answer
	// as VICTIM's (promotionDetailReadsTwoWays: it is no JSON value).
	if readsTwoWays(a, answerKind) {
		return nil, transform.SignatureInvalid()
	}
	if c.cfg.foreign(a, false) {
		return nil, transform.Upstream("the provider's answer is for another appid or mch_id")
	}
	if a.Get("result_code") != "SUCCESS" {
		return nil, transform.Rejected(a.Get("err_code"), a.Get("err_code_des"))
	}
	return a, nil
}

func feeType(a transform.Params) string {
	if ft := a.Get("fee_type"); ft != "" {
		return ft
	}
	return "CNY"
}

// beijingRFC3339 turns WeChat's yyyyMMddHHmmss (UTC+8) into RFC 3339; an
// unreadable value is dropped rather than guessed.
func beijingRFC3339(s string) string {
	return transform.LocalRFC3339("20060102150405", s, transform.UTC8)
}
