package wechatv3

import (
	"cmp"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// Upstream paths (host api.mch.weixin.qq.com, fail-over api2.mch.weixin.qq.com);
// the partner paths serve a service provider acting for a sub-merchant.
const (
	PathJSAPI             = "/v3/pay/transactions/jsapi"
	PathPartnerJSAPI      = "/v3/pay/partner/transactions/jsapi"
	PathOutTradeNo        = "/v3/pay/transactions/out-trade-no/"         // + {out_trade_no}[/close]
	PathPartnerOutTradeNo = "/v3/pay/partner/transactions/out-trade-no/" // + {out_trade_no}[/close]
	PathRefunds           = "/v3/refund/domestic/refunds"                // POST; GET + /{out_refund_no}
	// The query by WeChat's transaction_id, which only the sandbox serves
	// (the plugin queries by the merchant's order id).
	PathTransactionID        = "/v3/pay/transactions/id/"         // + {transaction_id}
	PathPartnerTransactionID = "/v3/pay/partner/transactions/id/" // + {transaction_id}
	PathCertificates         = "/v3/certificates"
	currencyCNY              = "CNY"
)

// Client builds signed WeChat Pay v3 calls and verifies their answers.
// Prepare is the entry point, with the merchant API's JSON; the builders
// (Pay, Query, ...) take a request that passed its Validate
// (transform.Operations). The calls go to https://api.mch.weixin.qq.com.
type Client struct {
	transform.Operations
	cfg  Config
	keys *keys
	// serialHeader is Wechatpay-Serial in public-key mode: it asks WeChat to
	// sign its answers with the public key.
	serialHeader []string
	// Now is the clock for timestamps and the 300 s window; tests pin it.
	Now func() time.Time
}

// NewClient checks cfg, parses its keys and returns a Client.
func NewClient(cfg Config) (*Client, error) {
	k, err := cfg.parse(transform.RoleClient)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, keys: k, Now: time.Now}
	k.ring.now = func() time.Time { return c.Now() }
	if k.ring.downloaded != nil {
		k.ring.downloaded.Now = k.ring.now
	}
	if cfg.PublicKeyID != "" {
		c.serialHeader = []string{cfg.PublicKeyID}
	}
	c.Operations = transform.Operations{Provider: Name, Now: k.ring.now, Pay: c.Pay, Query: c.Query, Close: c.Close, Refund: c.Refund, RefundQuery: c.RefundQuery}
	return c, nil
}

var _ transform.Client = (*Client)(nil)

// Keyring is the client's verification keyring.
func (c *Client) Keyring() *Keyring { return c.keys.ring }

// Keys implements transform.KeyHolder (the admin view).
func (c *Client) Keys() []transform.KeyInfo { return c.keys.keyInfos() }

var _ transform.KeyHolder = (*Client)(nil)

// Certificates is the downloader of certificate mode, or nil.
func (c *Client) Certificates() *Certificates { return c.keys.ring.downloaded }

// ShareState implements transform.StateSharer: in certificate mode the
// downloads are shared with the cluster. Call it before the first request.
func (c *Client) ShareState(s transform.Store) { c.keys.ring.share(s, c.cfg.MchID) }

var _ transform.StateSharer = (*Client)(nil)

// ReportFailures has f hear why a certificate download failed, in
// certificate mode (Certificates.OnFailure). Call it before the first request.
func (c *Client) ReportFailures(f func(error)) { c.keys.ring.reportFailures(f) }

// call signs one request and wraps the reading of its answer: verify the
// signature of every answer first (errors included), then map errors, then
// decode a 2xx answer.
func (c *Client) call(method, path, rawQuery string, body []byte, orderID string, decode func(status int, body []byte) ([]byte, error)) (*transform.Call, error) {
	pathAndQuery := (&url.URL{Path: path}).EscapedPath()
	if rawQuery != "" {
		pathAndQuery += "?" + rawQuery
	}
	auth, err := c.keys.signer.Authorization(method, pathAndQuery, body, c.Now().Unix(), transform.Nonce(32))
	if err != nil {
		return nil, transform.Upstream("the request could not be signed")
	}
	h := http.Header{"Authorization": {auth}, "Accept": {"application/json"}, "User-Agent": {UserAgent}}
	if c.serialHeader != nil {
		h["Wechatpay-Serial"] = c.serialHeader
	}
	// Every v3 call is keyed by out_trade_no or out_refund_no (Idempotent).
	call := &transform.Call{Method: method, Path: path, RawQuery: rawQuery, Header: h, OrderID: orderID, Idempotent: true,
		Decode: func(status int, header http.Header, answer []byte) ([]byte, error) {
			out, err := c.readAnswer(status, header, answer, decode)
			if te, ok := err.(*transform.Error); ok {
				// WeChat's support finds a failed call by its Request-ID:
				// named in the operation's log line (README Observability).
				return nil, te.WithProviderRequestID(header.Get(HeaderRequestID))
			}
			return out, err
		}}
	if body != nil {
		call.ContentType, call.Body = "application/json", body
	}
	return call, nil
}

// readAnswer verifies an answer's signature first (errors included), then
// maps an error, then decodes a 2xx answer.
func (c *Client) readAnswer(status int, header http.Header, answer []byte, decode func(status int, body []byte) ([]byte, error)) ([]byte, error) {
	if err := c.VerifyAnswer(header, answer); err != nil {
		return nil, err
	}
	if status < 200 || status > 299 || status != http.StatusOK && status != http.StatusNoContent && hasErrorCode(answer) {
		return nil, answerError(status, answer)
	}
	return decode(status, answer)
}

// VerifyAnswer checks an answer's Wechatpay-* signature; any failure is a 502
// upstream_signature_invalid whose log line says which check failed (the
// verifier's errors name a notification, and carry no value).
func (c *Client) VerifyAnswer(header http.Header, body []byte) error {
	if err := Verify(c.keys.ring, header, body, c.Now()); err != nil {
		reason, _ := strings.CutPrefix(err.Error(), "notification ")
		return transform.SignatureInvalid().WithReason("answer " + reason)
	}
	return nil
}

// errorAnswer is WeChat's error form, {"code","message","detail"?}.
type errorAnswer struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// hasErrorCode tells a 2xx answer in WeChat's error form: 202 USERPAYING
// (the payer is entering the password) is in the error tables of pay, query
// and close (docs/providers/wechat_v3.md, Errors), and a close answered so
// did not close the order.
func hasErrorCode(body []byte) bool {
	var e errorAnswer
	return transform.UnmarshalExact(body, &e) == nil && e.Code != ""
}

// answerError maps a verified answer that is not a success: a 4xx (or a 2xx
// in WeChat's error form, see hasErrorCode) with WeChat's JSON code is the
// provider's refusal (422), except SIGN_ERROR and FREQUENCY_LIMITED (the
// request or its rate is at fault, not the order: 502); a 3xx, 401, 429, 5xx
// and anything unreadable are 502 (transform.AnswerNotOK, the rule Latipay
// and CBTIS follow too).
func answerError(status int, body []byte) error {
	var e errorAnswer
	_ = transform.UnmarshalExact(body, &e)
	switch {
	case e.Code == "SIGN_ERROR" || e.Code == "FREQUENCY_LIMITED":
		return transform.UpstreamCode("the provider answered HTTP "+strconv.Itoa(status), e.Code, e.Message)
	case status >= 200 && status <= 299: // hasErrorCode: e.Code is set
		return transform.Rejected(e.Code, e.Message)
	}
	return transform.AnswerNotOK(status, e.Code, e.Message)
}

// Pay builds the JSAPI order; its answer becomes the wx.requestPayment object.
func (c *Client) Pay(req *transform.PayRequest) (*transform.Call, error) {
	if req.Money.Currency != currencyCNY {
		return nil, transform.Invalid("currency", "must be CNY (WeChat Pay v3 JSAPI charges in CNY)")
	}
	if err := wxpay.CheckAmount(req.Money, "amount"); err != nil {
		return nil, err
	}
	notifyURL := req.NotifyURL
	if notifyURL == "" {
		notifyURL = c.cfg.NotifyURL
	}
	if notifyURL == "" {
		return nil, transform.Invalid("notify_url", "is required (in the request or the provider configuration)")
	}
	if !wxpay.ValidNotifyURL(notifyURL) {
		return nil, transform.Invalid("notify_url", "must be an absolute http(s) URL without a query string")
	}
	clientIP := req.ClientIP
	if clientIP == "" {
		clientIP = c.cfg.ClientIP
	}
	path := PathJSAPI
	if c.cfg.partner() {
		path = PathPartnerJSAPI
	}
	body := c.AppendPayBody(make([]byte, 0, 512), req, notifyURL, clientIP)
	orderID := req.OrderID
	return c.call(http.MethodPost, path, "", body, orderID, func(_ int, answer []byte) ([]byte, error) {
		var a struct {
			PrepayID string `json:"prepay_id"`
		}
		if transform.UnmarshalExact(answer, &a) != nil || a.PrepayID == "" {
			return nil, transform.Upstream("the provider's answer has no prepay_id")
		}
		pp, err := c.PaymentParams(orderID, a.PrepayID)
		if err != nil {
			return nil, err
		}
		return pp.AppendJSON(make([]byte, 0, 640)), nil
	})
}

// AppendPayBody appends the JSAPI order body (unsigned) for req to dst. It
// writes the nested JSON by hand: bench/wechatpay's BenchmarkPayBody shows
// it about 40 times faster than sjson for the same bytes (README).
func (c *Client) AppendPayBody(dst []byte, req *transform.PayRequest, notifyURL, clientIP string) []byte {
	if c.cfg.partner() {
		dst = append(dst, `{"sp_appid":`...)
		dst = transform.AppendJSONString(dst, c.cfg.AppID)
		dst = append(dst, `,"sp_mchid":`...)
		dst = transform.AppendJSONString(dst, c.cfg.MchID)
		if c.cfg.SubAppID != "" {
			dst = append(dst, `,"sub_appid":`...)
			dst = transform.AppendJSONString(dst, c.cfg.SubAppID)
		}
		dst = append(dst, `,"sub_mchid":`...)
		dst = transform.AppendJSONString(dst, c.cfg.SubMchID)
	} else {
		dst = append(dst, `{"appid":`...)
		dst = transform.AppendJSONString(dst, c.cfg.AppID)
		dst = append(dst, `,"mchid":`...)
		dst = transform.AppendJSONString(dst, c.cfg.MchID)
	}
	dst = append(dst, `,"description":`...)
	dst = transform.AppendJSONString(dst, req.Description)
	dst = append(dst, `,"out_trade_no":`...)
	dst = transform.AppendJSONString(dst, req.OrderID)
	if !req.Expire.IsZero() {
		dst = append(dst, `,"time_expire":"`...)
		dst = req.Expire.In(transform.UTC8).AppendFormat(dst, time.RFC3339)
		dst = append(dst, '"')
	}
	if req.Attach != "" {
		dst = append(dst, `,"attach":`...)
		dst = transform.AppendJSONString(dst, req.Attach)
	}
	dst = append(dst, `,"notify_url":`...)
	dst = transform.AppendJSONString(dst, notifyURL)
	dst = append(dst, `,"amount":{"total":`...)
	dst = strconv.AppendInt(dst, req.Money.Minor, 10)
	dst = append(dst, `,"currency":"CNY"},"payer":{`...)
	switch {
	case !c.cfg.partner():
		dst = append(dst, `"openid":`...)
	case c.cfg.SubAppID != "":
		dst = append(dst, `"sub_openid":`...)
	default:
		dst = append(dst, `"sp_openid":`...)
	}
	dst = transform.AppendJSONString(dst, req.OpenID)
	dst = append(dst, '}')
	if clientIP != "" {
		dst = append(dst, `,"scene_info":{"payer_client_ip":`...)
		dst = transform.AppendJSONString(dst, clientIP)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// PaymentParams signs the wx.requestPayment object for a prepay id with the
// merchant's key (signType RSA).
func (c *Client) PaymentParams(orderID, prepayID string) (*transform.PaymentParams, error) {
	pp := &transform.PaymentParams{
		TimeStamp: strconv.FormatInt(c.Now().Unix(), 10),
		NonceStr:  transform.Nonce(32),
		Package:   "prepay_id=" + prepayID,
		SignType:  wxpay.SignTypeRSA,
		Provider:  Name,
		OrderID:   orderID,
	}
	sig, err := wxpay.PaySignRSA(c.cfg.payAppID(), pp.TimeStamp, pp.NonceStr, pp.Package, c.keys.signer.Key)
	if err != nil {
		return nil, transform.Upstream("the payment could not be signed")
	}
	pp.PaySign = sig
	return pp, nil
}

// orderPath is the out-trade-no resource of an order (direct or partner)
// and the query string naming the merchant.
func (c *Client) orderPath(orderID string) (path, rawQuery string) {
	if c.cfg.partner() {
		return PathPartnerOutTradeNo + orderID, "sp_mchid=" + url.QueryEscape(c.cfg.MchID) + "&sub_mchid=" + url.QueryEscape(c.cfg.SubMchID)
	}
	return PathOutTradeNo + orderID, "mchid=" + url.QueryEscape(c.cfg.MchID)
}

// Query builds the order query; its answer becomes the status object.
func (c *Client) Query(req *transform.OrderRequest) (*transform.Call, error) {
	path, q := c.orderPath(req.OrderID)
	return c.call(http.MethodGet, path, q, nil, req.OrderID, func(_ int, answer []byte) ([]byte, error) {
		st, err := c.StatusFromTransaction(answer, req.OrderID)
		if err != nil {
			return nil, err
		}
		return transform.Marshal(st), nil
	})
}

// Transaction is the part of WeChat's transaction object the plugin reads.
type Transaction struct {
	AppID         string `json:"appid"`
	MchID         string `json:"mchid"`
	SpAppID       string `json:"sp_appid"`
	SpMchID       string `json:"sp_mchid"`
	SubAppID      string `json:"sub_appid"`
	SubMchID      string `json:"sub_mchid"`
	OutTradeNo    string `json:"out_trade_no"`
	TransactionID string `json:"transaction_id"`
	TradeState    string `json:"trade_state"`
	TradeDesc     string `json:"trade_state_desc"`
	SuccessTime   string `json:"success_time"`
	Amount        struct {
		Total    *int64 `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
}

// belongs tells whether a transaction is this merchant's (and, in
// service-provider mode, this sub-merchant's).
func (c *Client) belongs(t *Transaction) bool {
	if c.cfg.partner() {
		return t.SpMchID == c.cfg.MchID && t.SubMchID == c.cfg.SubMchID && t.SpAppID == c.cfg.AppID &&
			(c.cfg.SubAppID == "" || t.SubAppID == "" || t.SubAppID == c.cfg.SubAppID)
	}
	return t.MchID == c.cfg.MchID && t.AppID == c.cfg.AppID
}

var tradeStates = map[string]string{
	"SUCCESS": transform.StatusSucceeded, "REFUND": transform.StatusRefunded,
	"NOTPAY": transform.StatusPending, "USERPAYING": transform.StatusPending,
	"CLOSED": transform.StatusCancelled, "REVOKED": transform.StatusCancelled,
	"PAYERROR": transform.StatusFailed,
}

// StatusFromTransaction maps a verified transaction object for orderID.
func (c *Client) StatusFromTransaction(answer []byte, orderID string) (*transform.PaymentStatus, error) {
	var t Transaction
	if err := transform.UnmarshalExact(answer, &t); err != nil {
		return nil, transform.Upstream("the provider's answer is not a transaction object")
	}
	if !c.belongs(&t) || t.OutTradeNo != orderID {
		return nil, transform.Upstream("the provider's answer is for another merchant or order")
	}
	status, ok := tradeStates[t.TradeState]
	if !ok {
		return nil, transform.UpstreamCode("the provider's answer has an unknown trade_state", t.TradeState, t.TradeDesc)
	}
	st := &transform.PaymentStatus{Provider: Name, OrderID: orderID, ProviderOrderID: t.TransactionID,
		Status: status, ProviderStatus: t.TradeState}
	if t.Amount.Total != nil {
		m, ok := transform.MoneyFromMinor(*t.Amount.Total, cmp.Or(t.Amount.Currency, currencyCNY))
		if !ok {
			return nil, transform.Upstream("the provider's answer has an invalid amount")
		}
		st.Amount, st.Currency = m.String(), m.Currency
	}
	if t.SuccessTime != "" && (status == transform.StatusSucceeded || status == transform.StatusRefunded) {
		st.PaidAt = transform.RFC3339AsWritten(t.SuccessTime)
	}
	return st, nil
}

// Close builds the close call; WeChat answers 204 with an empty, signed body.
func (c *Client) Close(req *transform.OrderRequest) (*transform.Call, error) {
	path, _ := c.orderPath(req.OrderID)
	var body []byte
	if c.cfg.partner() {
		body = append(append(append(append([]byte(`{"sp_mchid":`), transform.AppendJSONString(nil, c.cfg.MchID)...),
			`,"sub_mchid":`...), transform.AppendJSONString(nil, c.cfg.SubMchID)...), '}')
	} else {
		body = append(append([]byte(`{"mchid":`), transform.AppendJSONString(nil, c.cfg.MchID)...), '}')
	}
	return c.call(http.MethodPost, path+"/close", "", body, req.OrderID, func(_ int, answer []byte) ([]byte, error) {
		// WeChat's close answer is an empty 204, which names no order: any
		// other document its key signed (a paid order's notification or
		// query answer, answered in its place within the 300 s a signature
		// holds) read as "cancelled".
		if len(answer) != 0 {
			return nil, transform.Upstream("the provider's answer to close is not WeChat's empty one")
		}
		return transform.Marshal(transform.CloseResult{Provider: Name, OrderID: req.OrderID, Status: transform.StatusCancelled}), nil
	})
}

// Refund builds the domestic refund. total_amount is required: WeChat checks
// the order's whole amount.
func (c *Client) Refund(req *transform.RefundRequest) (*transform.Call, error) {
	if req.TotalAmount == "" {
		return nil, transform.Invalid("total_amount", "is required (the order's whole amount)")
	}
	if req.Money.Currency != currencyCNY {
		return nil, transform.Invalid("currency", "must be CNY (WeChat Pay v3 refunds in CNY)")
	}
	if err := wxpay.CheckRefundAmounts(req); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 256)
	b = append(b, '{')
	if c.cfg.partner() {
		b = append(b, `"sub_mchid":`...)
		b = transform.AppendJSONString(b, c.cfg.SubMchID)
		b = append(b, ',')
	}
	b = append(b, `"out_trade_no":`...)
	b = transform.AppendJSONString(b, req.OrderID)
	b = append(b, `,"out_refund_no":`...)
	b = transform.AppendJSONString(b, req.RefundID)
	if req.Reason != "" {
		b = append(b, `,"reason":`...)
		b = transform.AppendJSONString(b, req.Reason)
	}
	if c.cfg.NotifyURL != "" {
		b = append(b, `,"notify_url":`...)
		b = transform.AppendJSONString(b, c.cfg.NotifyURL)
	}
	b = append(b, `,"amount":{"refund":`...)
	b = strconv.AppendInt(b, req.Money.Minor, 10)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, req.Total.Minor, 10)
	b = append(b, `,"currency":"CNY"}}`...)
	return c.call(http.MethodPost, PathRefunds, "", b, req.OrderID, func(_ int, answer []byte) ([]byte, error) {
		// the refund was asked for out_trade_no: another is an answer to another request
		return c.refundResult(answer, req.RefundID, func(answered string) error {
			if answered != req.OrderID {
				return transform.Upstream("the provider's answer is for another refund or order")
			}
			return nil
		})
	})
}

// RefundQuery builds the query of one refund by the merchant's refund id.
func (c *Client) RefundQuery(req *transform.RefundQueryRequest) (*transform.Call, error) {
	q := ""
	if c.cfg.partner() {
		q = "sub_mchid=" + url.QueryEscape(c.cfg.SubMchID)
	}
	return c.call(http.MethodGet, PathRefunds+"/"+req.RefundID, q, nil, req.OrderID, func(_ int, answer []byte) ([]byte, error) {
		// asked by out_refund_no alone: another order is the merchant's order_id at fault
		return c.refundResult(answer, req.RefundID, func(answered string) error { return transform.RefundQueryOrder(answered, req.OrderID) })
	})
}

// Refund is the part of WeChat's refund object the plugin reads.
type Refund struct {
	RefundID      string `json:"refund_id"`
	OutRefundNo   string `json:"out_refund_no"`
	TransactionID string `json:"transaction_id"`
	OutTradeNo    string `json:"out_trade_no"`
	Status        string `json:"status"`
	Amount        struct {
		Refund   *int64 `json:"refund"`
		Currency string `json:"currency"`
	} `json:"amount"`
}

// refundStates maps WeChat's refund states. ABNORMAL is not final at WeChat
// (the merchant must act) but the refund did not reach the payer: failed,
// with provider_status ABNORMAL.
var refundStates = map[string]string{
	"SUCCESS": transform.StatusSucceeded, "PROCESSING": transform.StatusPending,
	"CLOSED": transform.StatusFailed, "ABNORMAL": transform.StatusFailed,
}

// refundResult maps a verified refund object; it must be the refund asked
// about, and ofOrder judges the order it names.
func (c *Client) refundResult(answer []byte, refundID string, ofOrder func(answered string) error) ([]byte, error) {
	var r Refund
	if err := transform.UnmarshalExact(answer, &r); err != nil {
		return nil, transform.Upstream("the provider's answer is not a refund object")
	}
	if r.OutRefundNo != refundID {
		return nil, transform.Upstream("the provider's answer is for another refund or order")
	}
	if err := ofOrder(r.OutTradeNo); err != nil {
		return nil, err
	}
	status, ok := refundStates[r.Status]
	if !ok {
		return nil, transform.UpstreamCode("the provider's answer has an unknown refund status", r.Status, "")
	}
	res := transform.RefundResult{Provider: Name, OrderID: r.OutTradeNo, RefundID: refundID,
		ProviderRefundID: r.RefundID, Status: status, ProviderStatus: r.Status}
	if r.Amount.Refund == nil {
		return nil, transform.Upstream("the provider's answer has no refund amount")
	}
	m, ok := transform.MoneyFromMinor(*r.Amount.Refund, cmp.Or(r.Amount.Currency, currencyCNY))
	if !ok {
		return nil, transform.Upstream("the provider's answer has an invalid amount")
	}
	res.Amount, res.Currency = m.String(), m.Currency
	return transform.Marshal(res), nil
}
