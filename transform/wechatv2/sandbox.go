package wechatv2

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// Sandbox emulates the WeChat Pay v2 API for one merchant: it verifies every
// signature it receives, keeps orders in memory and signs its answers and
// notifications with the merchant's key, the way WeChat does.
type Sandbox struct {
	cfg    Config
	signer wxpay.Signer
	mu     sync.Mutex
	// orders by out_trade_no
	orders map[string]*sandboxOrder
	ring   transform.OrderRing // creation order, to forget the oldest
	// Now is the sandbox's clock (time.Now unless a test pins it).
	Now func() time.Time
}

type sandboxOrder struct {
	params    transform.Params // the unifiedorder request as received
	signType  string
	prepayID  string
	state     string // NOTPAY, SUCCESS, PAYERROR, CLOSED, REFUND
	txID      string
	timeEnd   string
	notifyURL string
	totalFee  int64
	refunded  int64
	created   time.Time
	// refundLog lists the refunds in the order they were made, for the
	// console's refund notifications.
	refundLog []sandboxRefund
}

// NewSandbox validates cfg and returns an empty Sandbox.
func NewSandbox(cfg Config) (*Sandbox, error) {
	if err := transform.CheckConfig(&cfg, transform.RoleSandbox); err != nil {
		return nil, err
	}
	return &Sandbox{cfg: cfg, signer: wxpay.NewSigner(cfg.APIKey), orders: map[string]*sandboxOrder{}, Now: time.Now}, nil
}

var _ transform.Sandbox = (*Sandbox)(nil)

// Handles implements transform.Sandbox.
func (s *Sandbox) Handles(path string) bool {
	switch path {
	case PathUnifiedOrder, PathOrderQuery, PathCloseOrder, PathRefund, PathRefundQuery:
		return true
	}
	return false
}

// ServeHTTP implements transform.Sandbox.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost) // RFC 9110 §15.5.6: a 405 names what is allowed
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		commFail(w, "读取请求失败")
		return
	}
	_, p, err := transform.ParseFlatXMLBounded(body, MaxDocumentFields)
	if err != nil {
		commFail(w, "XML格式错误")
		return
	}
	signType := p.Get("sign_type")
	if signType == "" {
		signType = SignMD5
	}
	if signType != SignMD5 && signType != SignHMACSHA256 {
		commFail(w, "sign_type参数错误")
		return
	}
	if !s.signer.Verify(p, signType) {
		commFail(w, "签名错误")
		return
	}
	reply := func(fields transform.Params) { s.reply(w, signType, fields) }
	if p.Get("appid") != s.cfg.AppID || p.Get("mch_id") != s.cfg.MchID {
		reply(bizFail("APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配"))
		return
	}
	if s.cfg.SubMchID != "" && p.Get("sub_mch_id") != s.cfg.SubMchID {
		reply(bizFail("NOAUTH", "商户无此接口权限"))
		return
	}
	if len(p.Get("nonce_str")) == 0 || len(p.Get("nonce_str")) > 32 {
		reply(bizFail("LACK_PARAMS", "缺少参数nonce_str"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.URL.Path {
	case PathUnifiedOrder:
		reply(s.unifiedOrder(p, signType))
	case PathOrderQuery:
		reply(s.orderQuery(p))
	case PathCloseOrder:
		reply(s.closeOrder(p))
	case PathRefund:
		reply(s.refund(p))
	case PathRefundQuery:
		reply(s.refundQuery(p))
	default:
		http.NotFound(w, r)
	}
}

func (s *Sandbox) unifiedOrder(p transform.Params, signType string) transform.Params {
	for _, f := range []string{"body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url", "trade_type"} {
		if p.Get(f) == "" {
			return bizFail("LACK_PARAMS", "缺少参数"+f)
		}
	}
	// The payer: openid (under appid), or in service-provider mode
	// sub_openid (under sub_appid, which it then needs) instead.
	payer := p.Get("openid") != "" || s.cfg.SubMchID != "" && p.Get("sub_openid") != "" && p.Get("sub_appid") != ""
	if p.Get("trade_type") != "JSAPI" || !payer {
		return bizFail("LACK_PARAMS", "JSAPI支付必须传openid或sub_openid")
	}
	fee, err := strconv.ParseInt(p.Get("total_fee"), 10, 64)
	if err != nil || fee <= 0 || fee > wxpay.MaxMinorUnits || strconv.FormatInt(fee, 10) != p.Get("total_fee") {
		return bizFail("INVALID_REQUEST", "total_fee参数错误")
	}
	// fee_type is an ISO 4217 alphabetic code, CNY when left out: an
	// unknown one is refused, never kept as an order of unknown currency.
	if _, ok := transform.MoneyFromMinor(1, feeType(p)); !ok {
		return bizFail("INVALID_REQUEST", "fee_type参数错误")
	}
	if len(p.Get("body")) > 127 {
		return bizFail("INVALID_REQUEST", "body参数长度有误")
	}
	// WeChat's rule for notify_url, as the v3 sandbox applies it: an
	// absolute http(s) URL that carries no parameters.
	if !wxpay.ValidNotifyURL(p.Get("notify_url")) {
		return bizFail("INVALID_REQUEST", "notify_url参数错误")
	}
	id := p.Get("out_trade_no")
	if transform.ValidOrderID("out_trade_no", id) != nil {
		return bizFail("INVALID_REQUEST", "out_trade_no参数错误")
	}
	if te := p.Get("time_expire"); te != "" {
		t, ok := transform.ParseLocal("20060102150405", te, transform.UTC8)
		if !ok {
			return bizFail("INVALID_REQUEST", "time_expire时间格式错误")
		}
		if t.Before(s.Now().Add(5 * time.Minute)) {
			return bizFail("INVALID_REQUEST", "time_expire时间过短，刷卡至少1分钟，其他5分钟")
		}
	}
	if o, ok := s.orders[id]; ok {
		switch {
		case o.state == "SUCCESS" || o.state == "REFUND":
			return bizFail("ORDERPAID", "该订单已支付")
		case o.state == "CLOSED":
			return bizFail("ORDERCLOSED", "该订单已关闭")
		case o.state == "PAYERROR" || !samePayment(o.params, p):
			// A failed payment is paid again under a new out_trade_no
			// (WeChat's closeorder page: 商户订单支付失败需要生成新单号重新发起支付).
			return bizFail("INVALID_REQUEST", "201 商户订单号重复")
		}
		return transform.Params{{Name: "result_code", Value: "SUCCESS"}, {Name: "prepay_id", Value: o.prepayID}, {Name: "trade_type", Value: "JSAPI"}}
	}
	o := &sandboxOrder{
		params: p, signType: signType, state: "NOTPAY", totalFee: fee, notifyURL: p.Get("notify_url"),
		prepayID: "wx" + s.Now().In(transform.UTC8).Format("20060102150405") + transform.Nonce(20),
		created:  s.Now(),
	}
	if old, evict := s.ring.Add(id); evict { // bounded memory
		delete(s.orders, old)
	}
	s.orders[id] = o
	return transform.Params{{Name: "result_code", Value: "SUCCESS"}, {Name: "prepay_id", Value: o.prepayID}, {Name: "trade_type", Value: "JSAPI"}}
}

// samePayment tells whether a unifiedorder sent again for an out_trade_no
// asks for the same payment: the same amount in the same currency (100 fen
// of CNY are not 100 JPY), description and payer. Only then does WeChat
// answer the same prepay_id; otherwise the out_trade_no is taken.
func samePayment(first, again transform.Params) bool {
	for _, f := range []string{"total_fee", "body", "openid", "sub_openid"} {
		if first.Get(f) != again.Get(f) {
			return false
		}
	}
	return feeType(first) == feeType(again)
}

// orderByID finds the order a request names, as WeChat does: by
// transaction_id when it is given, else by out_trade_no. ok is false when
// the request names none.
func (s *Sandbox) orderByID(p transform.Params) (o *sandboxOrder, id string, ok bool) {
	if tx := p.Get("transaction_id"); tx != "" {
		for id, o := range s.orders {
			if o.txID == tx {
				return o, id, true
			}
		}
		return nil, "", true
	}
	id = p.Get("out_trade_no")
	return s.orders[id], id, id != ""
}

func (s *Sandbox) orderQuery(p transform.Params) transform.Params {
	o, id, named := s.orderByID(p)
	switch {
	case !named:
		return bizFail("LACK_PARAMS", "缺少参数out_trade_no")
	case o == nil:
		return bizFail("ORDERNOTEXIST", "订单不存在")
	}
	out := transform.Params{
		{Name: "result_code", Value: "SUCCESS"},
		{Name: "out_trade_no", Value: id},
		{Name: "trade_state", Value: o.state},
		{Name: "trade_state_desc", Value: tradeStateDesc[o.state]},
		{Name: "attach", Value: o.params.Get("attach")},
	}
	// WeChat's orderquery page: the payment's fields come only for a paid
	// order ("如trade_state不为 SUCCESS，则只返回out_trade_no（必传）和attach
	// （选传）"; a refunded order was paid), as docs/providers/wechat_v2.md
	// and README "Merchant API" (the status object) read it.
	if o.state == "SUCCESS" || o.state == "REFUND" {
		fee := strconv.FormatInt(o.totalFee, 10)
		out = append(out, transform.Param{Name: "total_fee", Value: fee}, transform.Param{Name: "fee_type", Value: feeType(o.params)},
			transform.Param{Name: "trade_type", Value: "JSAPI"}, transform.Param{Name: "openid", Value: s.payerOpenID(o)},
			transform.Param{Name: "is_subscribe", Value: "N"}, transform.Param{Name: "sub_openid", Value: s.payerSubOpenID(o)},
			transform.Param{Name: "transaction_id", Value: o.txID}, transform.Param{Name: "time_end", Value: o.timeEnd},
			transform.Param{Name: "bank_type", Value: "CFT"}, transform.Param{Name: "cash_fee", Value: fee},
			transform.Param{Name: "cash_fee_type", Value: feeType(o.params)})
	}
	return out
}

// payerOpenID is the payer's openid under appid, which WeChat's
// notifications and orderquery answers always carry (required, 是), also in
// service-provider mode beside sub_openid: the pay's openid, else, for a
// payer named by sub_openid alone, one the sandbox derives from it (stable,
// 28 characters like WeChat's).
func (s *Sandbox) payerOpenID(o *sandboxOrder) string {
	if id := o.params.Get("openid"); id != "" {
		return id
	}
	return transform.SandboxOpenID(s.cfg.AppID, o.params.Get("sub_openid"))
}

// payerSubOpenID is the payer's sub_openid under sub_appid, named beside
// openid whenever the sub-merchant has an app id, as the wechat_v3 sandbox
// names sub_openid with sub_appid: the pay's, else one derived from openid.
func (s *Sandbox) payerSubOpenID(o *sandboxOrder) string {
	if id := o.params.Get("sub_openid"); id != "" || s.cfg.SubAppID == "" {
		return id
	}
	return transform.SandboxOpenID(s.cfg.SubAppID, o.params.Get("openid"))
}

var tradeStateDesc = map[string]string{
	"NOTPAY": "订单未支付", "SUCCESS": "支付成功", "PAYERROR": "支付失败", "CLOSED": "订单已关闭", "REFUND": "转入退款",
}

func (s *Sandbox) closeOrder(p transform.Params) transform.Params {
	o, ok := s.orders[p.Get("out_trade_no")]
	switch {
	case !ok:
		return bizFail("ORDERNOTEXIST", "订单不存在")
	case o.state == "SUCCESS" || o.state == "REFUND":
		return bizFail("ORDERPAID", "订单已支付，不能发起关单")
	case o.state == "CLOSED":
		return bizFail("ORDERCLOSED", "订单已关闭，无法重复关闭")
	}
	o.state = "CLOSED"
	// closeorder's answer carries result_msg (业务结果描述, required in
	// WeChat's closeorder page), unlike the other calls' answers.
	return transform.Params{{Name: "result_code", Value: "SUCCESS"}, {Name: "result_msg", Value: "OK"}}
}

// refund answers /secapi/pay/refund with WeChat's codes (申请退款, chapter
// 9_4): the order by transaction_id or out_trade_no; PARAM_ERROR for a
// refund_fee_type other than the order's fee_type; REFUND_FEE_MISMATCH
// when total_fee is not the order's or a known out_refund_no comes back
// with another refund_fee (a retry with the same one gets the same
// refund); INVALID_REQUEST past what remains to refund.
func (s *Sandbox) refund(p transform.Params) transform.Params {
	for _, f := range []string{"out_refund_no", "total_fee", "refund_fee"} {
		if p.Get(f) == "" {
			return bizFail("LACK_PARAMS", "缺少参数"+f)
		}
	}
	// out_refund_no is WeChat's rule (docs/providers/wechat_v2.md "Ids"),
	// the one README "Merchant API" holds refund_id to.
	if transform.ValidRefundID("out_refund_no", p.Get("out_refund_no")) != nil {
		return bizFail("PARAM_ERROR", "out_refund_no参数错误")
	}
	o, id, named := s.orderByID(p)
	switch {
	case !named:
		return bizFail("LACK_PARAMS", "缺少参数out_trade_no")
	case o == nil:
		return bizFail("ORDERNOTEXIST", "订单不存在")
	case o.state != "SUCCESS" && o.state != "REFUND":
		return bizFail("TRADE_STATE_ERROR", "订单状态错误")
	}
	total, err1 := strconv.ParseInt(p.Get("total_fee"), 10, 64)
	fee, err2 := strconv.ParseInt(p.Get("refund_fee"), 10, 64)
	if err1 != nil || err2 != nil || fee <= 0 {
		return bizFail("INVALID_REQUEST", "total_fee或refund_fee参数错误")
	}
	// refund_fee_type is the order's currency or left out
	// (docs/providers/wechat_v2.md "Endpoints"): a refund in another
	// currency is refused, not made in it.
	if ft := p.Get("refund_fee_type"); ft != "" && ft != feeType(o.params) {
		return bizFail("PARAM_ERROR", "refund_fee_type与支付币种不一致")
	}
	if u := p.Get("notify_url"); u != "" && !wxpay.ValidNotifyURL(u) {
		return bizFail("INVALID_REQUEST", "notify_url参数错误")
	}
	if !wxpay.ValidRefundReason(p.Get("refund_desc")) {
		return bizFail("PARAM_ERROR", "refund_desc参数错误")
	}
	r := o.refund(p.Get("out_refund_no"))
	switch {
	case total != o.totalFee, r != nil && r.fee != fee:
		return bizFail("REFUND_FEE_MISMATCH", "订单金额或退款金额与之前请求不一致，请核实后再试")
	case r != nil:
		return refundOK(id, o, r)
	case s.refundElsewhere(o, p.Get("out_refund_no")):
		return bizFail("INVALID_REQUEST", "退款单号重复")
	case o.refunded >= o.totalFee:
		return bizFail("ERROR", "订单已全额退款")
	case o.refunded+fee > o.totalFee:
		return bizFail("INVALID_REQUEST", "refund_fee大于可退金额")
	case len(o.refundLog) >= maxRefundsPerOrder:
		return bizFail("INVALID_REQUEST", "每个支付订单的部分退款次数不能超过50次")
	}
	o.refundLog = append(o.refundLog, sandboxRefund{outRefundNo: p.Get("out_refund_no"), fee: fee, notifyURL: p.Get("notify_url"),
		id: "50000" + strconv.FormatInt(s.Now().Unix(), 10) + strconv.FormatInt(transform.SandboxSerial(), 10)})
	o.refunded += fee
	o.state = "REFUND"
	return refundOK(id, o, &o.refundLog[len(o.refundLog)-1])
}

// refundElsewhere tells whether an order other than o has a refund
// out_refund_no: the merchant's refund number is unique among all its
// refunds (WeChat: 商户系统内部唯一), so refundquery by it names one refund,
// as the wechat_v3 sandbox keeps it too.
func (s *Sandbox) refundElsewhere(o *sandboxOrder, outRefundNo string) bool {
	for _, other := range s.orders {
		if other != o && other.refund(outRefundNo) != nil {
			return true
		}
	}
	return false
}

// refund is the order's refund out_refund_no, or nil.
func (o *sandboxOrder) refund(outRefundNo string) *sandboxRefund {
	for i := range o.refundLog {
		if o.refundLog[i].outRefundNo == outRefundNo {
			return &o.refundLog[i]
		}
	}
	return nil
}

// maxRefundsPerOrder is WeChat's limit: "每个支付订单的部分退款次数不能超过50次"
// (申请退款, https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_4); it
// also bounds what the sandbox keeps per order.
const maxRefundsPerOrder = 50

func refundOK(orderID string, o *sandboxOrder, r *sandboxRefund) transform.Params {
	total, fee := strconv.FormatInt(o.totalFee, 10), strconv.FormatInt(r.fee, 10)
	return transform.Params{
		{Name: "result_code", Value: "SUCCESS"}, {Name: "transaction_id", Value: o.txID},
		{Name: "out_trade_no", Value: orderID}, {Name: "out_refund_no", Value: r.outRefundNo},
		{Name: "refund_id", Value: r.id}, {Name: "refund_fee", Value: fee}, {Name: "settlement_refund_fee", Value: fee},
		{Name: "total_fee", Value: total}, {Name: "fee_type", Value: feeType(o.params)},
		{Name: "cash_fee", Value: total}, {Name: "cash_refund_fee", Value: fee},
	}
}

// refundQuery answers /pay/refundquery as WeChat does (查询退款, chapter
// 9_5): by refund_id, out_refund_no, transaction_id or out_trade_no, in that
// priority; one refund asked for is the _0 entry, an order lists all its
// refunds as _$n, refund_fee their sum. A refund is PROCESSING until the
// sandbox notified it (the console or /sandbox/complete "refunded"),
// SUCCESS after.
func (s *Sandbox) refundQuery(p transform.Params) transform.Params {
	var (
		o       *sandboxOrder
		orderID string
		listed  []*sandboxRefund
	)
	switch refundID, outRefundNo := p.Get("refund_id"), p.Get("out_refund_no"); {
	case refundID != "" || outRefundNo != "":
		for id, cand := range s.orders {
			for i := range cand.refundLog {
				if r := &cand.refundLog[i]; refundID != "" && r.id == refundID || refundID == "" && r.outRefundNo == outRefundNo {
					o, orderID, listed = cand, id, []*sandboxRefund{r}
				}
			}
		}
	default:
		var named bool
		if o, orderID, named = s.orderByID(p); !named {
			return bizFail("LACK_PARAMS", "缺少参数out_refund_no")
		}
		if o != nil {
			for i := range o.refundLog {
				listed = append(listed, &o.refundLog[i])
			}
		}
	}
	if len(listed) == 0 {
		return bizFail("REFUNDNOTEXIST", "退款订单查询失败")
	}
	fee := strconv.FormatInt(o.totalFee, 10)
	out := transform.Params{
		{Name: "result_code", Value: "SUCCESS"}, {Name: "transaction_id", Value: o.txID},
		{Name: "out_trade_no", Value: orderID}, {Name: "total_fee", Value: fee},
		{Name: "cash_fee", Value: fee}, {Name: "fee_type", Value: feeType(o.params)},
		{Name: "refund_count", Value: strconv.Itoa(len(listed))},
	}
	var sum int64
	for n, r := range listed {
		status, successTime := "PROCESSING", ""
		if r.notified {
			status, successTime = "SUCCESS", r.successTime
		}
		sum += r.fee
		i, rf := strconv.Itoa(n), strconv.FormatInt(r.fee, 10)
		out = append(out,
			transform.Param{Name: "out_refund_no_" + i, Value: r.outRefundNo}, transform.Param{Name: "refund_id_" + i, Value: r.id},
			transform.Param{Name: "refund_channel_" + i, Value: "ORIGINAL"}, transform.Param{Name: "refund_fee_" + i, Value: rf},
			transform.Param{Name: "settlement_refund_fee_" + i, Value: rf}, transform.Param{Name: "refund_status_" + i, Value: status},
			transform.Param{Name: "refund_account_" + i, Value: "REFUND_SOURCE_RECHARGE_FUNDS"},
			transform.Param{Name: "refund_recv_accout_" + i, Value: "支付用户的零钱"}, transform.Param{Name: "refund_success_time_" + i, Value: successTime})
	}
	return append(out, transform.Param{Name: "refund_fee", Value: strconv.FormatInt(sum, 10)})
}

// tradeState is an order's trade_state, for transform.SandboxOrderIn.
func tradeState(o *sandboxOrder) string { return o.state }

// Complete implements transform.Sandbox: it settles a NOTPAY order and signs
// the payment notification with the order's sign type, leaving sign_type out
// as WeChat often does.
func (s *Sandbox) Complete(orderID string, succeeded bool, now time.Time) (*transform.Outbound, func(int, []byte) bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := transform.SandboxSettleable(s.orders, orderID, tradeState, succeeded, "SUCCESS", "NOTPAY", "PAYERROR")
	if err != nil {
		return nil, nil, err
	}
	if o.txID == "" {
		o.txID = "42000" + now.In(transform.UTC8).Format("20060102150405") + strconv.FormatInt(1000000+transform.SandboxSerial(), 10)
		o.timeEnd = now.In(transform.UTC8).Format("20060102150405")
	}
	result := "FAIL"
	o.state = "PAYERROR"
	if succeeded {
		result = "SUCCESS"
		o.state = "SUCCESS"
	}
	fee := strconv.FormatInt(o.totalFee, 10)
	n := transform.Params{
		{Name: "appid", Value: s.cfg.AppID}, {Name: "bank_type", Value: "CFT"}, {Name: "cash_fee", Value: fee},
		{Name: "fee_type", Value: feeType(o.params)}, {Name: "is_subscribe", Value: "N"},
		{Name: "mch_id", Value: s.cfg.MchID}, {Name: "nonce_str", Value: transform.Nonce(32)},
		{Name: "openid", Value: s.payerOpenID(o)}, {Name: "out_trade_no", Value: orderID},
		{Name: "result_code", Value: result}, {Name: "return_code", Value: "SUCCESS"},
		{Name: "time_end", Value: o.timeEnd}, {Name: "total_fee", Value: fee},
		{Name: "trade_type", Value: "JSAPI"}, {Name: "transaction_id", Value: o.txID},
	}
	if !succeeded {
		n = append(n, transform.Param{Name: "err_code", Value: "NOTENOUGH"}, transform.Param{Name: "err_code_des", Value: "余额不足"})
	}
	if a := o.params.Get("attach"); a != "" {
		n = append(n, transform.Param{Name: "attach", Value: a})
	}
	if s.cfg.SubMchID != "" {
		n = append(n, transform.Param{Name: "sub_appid", Value: s.cfg.SubAppID}, transform.Param{Name: "sub_mch_id", Value: s.cfg.SubMchID},
			transform.Param{Name: "sub_openid", Value: s.payerSubOpenID(o)})
	}
	n = slices.DeleteFunc(n, func(p transform.Param) bool { return p.Value == "" }) // WeChat sends no empty fields
	n = append(n, transform.Param{Name: "sign", Value: s.signer.Sign(n, o.signType)})
	out := &transform.Outbound{URL: o.notifyURL, ContentType: "text/xml", Body: transform.AppendFlatXML(nil, "xml", n)}
	return out, acknowledged, nil
}

// RefundNotification builds the encrypted refund notification WeChat sends
// for a refund (the sandbox and tests use it).
func RefundNotification(cfg Config, inner transform.Params) ([]byte, error) {
	plain := transform.AppendFlatXML(nil, "root", inner)
	reqInfo, err := EncryptRefundInfo(plain, RefundKey(cfg.APIKey))
	if err != nil {
		return nil, err
	}
	outer := transform.Params{
		{Name: "return_code", Value: "SUCCESS"}, {Name: "appid", Value: cfg.AppID},
		{Name: "mch_id", Value: cfg.MchID}, {Name: "nonce_str", Value: transform.Nonce(32)},
		{Name: "req_info", Value: reqInfo},
	}
	if cfg.SubMchID != "" {
		outer = append(outer, transform.Param{Name: "sub_appid", Value: cfg.SubAppID}, transform.Param{Name: "sub_mch_id", Value: cfg.SubMchID})
	}
	return transform.AppendFlatXML(nil, "xml", outer), nil
}

// reply signs fields as an answer to this merchant.
func (s *Sandbox) reply(w http.ResponseWriter, signType string, fields transform.Params) {
	p := make(transform.Params, 0, len(fields)+6)
	p = append(p, transform.Param{Name: "return_code", Value: "SUCCESS"}, transform.Param{Name: "return_msg", Value: "OK"},
		transform.Param{Name: "appid", Value: s.cfg.AppID}, transform.Param{Name: "mch_id", Value: s.cfg.MchID},
		transform.Param{Name: "nonce_str", Value: transform.Nonce(16)})
	if s.cfg.SubMchID != "" { // WeChat names the sub-merchant in every answer for it
		p = append(p, transform.Param{Name: "sub_mch_id", Value: s.cfg.SubMchID})
		if s.cfg.SubAppID != "" {
			p = append(p, transform.Param{Name: "sub_appid", Value: s.cfg.SubAppID})
		}
	}
	for _, f := range fields {
		if f.Value != "" {
			p = append(p, f)
		}
	}
	p = append(p, transform.Param{Name: "sign", Value: s.signer.Sign(p, signType)})
	writeXML(w, transform.AppendFlatXML(nil, "xml", p))
}

func bizFail(code, desc string) transform.Params {
	return transform.Params{{Name: "result_code", Value: "FAIL"}, {Name: "err_code", Value: code}, {Name: "err_code_des", Value: desc}}
}

// commFail is WeChat's unsigned communication failure (return_code FAIL).
func commFail(w http.ResponseWriter, msg string) {
	writeXML(w, transform.AppendFlatXML(nil, "xml", transform.Params{{Name: "return_code", Value: "FAIL"}, {Name: "return_msg", Value: msg}}))
}

func writeXML(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}
