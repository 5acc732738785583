package wechatv2

import (
	"io"
	"net/http"
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
	seq    int64
	Now    func() time.Time
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
	refunds   map[string]string // out_refund_no → refund_id
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
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		commFail(w, "读取请求失败")
		return
	}
	_, p, err := transform.ParseFlatXML(body)
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
	openidField := "openid"
	if s.cfg.SubAppID != "" {
		openidField = "sub_openid"
	}
	if p.Get("trade_type") != "JSAPI" || p.Get(openidField) == "" {
		return bizFail("LACK_PARAMS", "JSAPI支付必须传"+openidField)
	}
	fee, err := strconv.ParseInt(p.Get("total_fee"), 10, 64)
	if err != nil || fee <= 0 || strconv.FormatInt(fee, 10) != p.Get("total_fee") {
		return bizFail("INVALID_REQUEST", "total_fee参数错误")
	}
	if len(p.Get("body")) > 127 {
		return bizFail("INVALID_REQUEST", "body参数长度有误")
	}
	id := p.Get("out_trade_no")
	if transform.ValidOrderID("out_trade_no", id) != nil {
		return bizFail("INVALID_REQUEST", "out_trade_no参数错误")
	}
	if te := p.Get("time_expire"); te != "" {
		t, err := time.ParseInLocation("20060102150405", te, transform.UTC8)
		if err != nil {
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
		case o.totalFee != fee || o.params.Get("body") != p.Get("body"):
			return bizFail("INVALID_REQUEST", "201 商户订单号重复")
		}
		return transform.Params{{Name: "result_code", Value: "SUCCESS"}, {Name: "prepay_id", Value: o.prepayID}, {Name: "trade_type", Value: "JSAPI"}}
	}
	s.seq++
	o := &sandboxOrder{
		params: p, signType: signType, state: "NOTPAY", totalFee: fee, notifyURL: p.Get("notify_url"),
		prepayID: "wx" + s.Now().In(transform.UTC8).Format("20060102150405") + transform.Nonce(20),
		refunds:  map[string]string{}, created: s.Now(),
	}
	if old, evict := s.ring.Add(id); evict { // bounded memory
		delete(s.orders, old)
	}
	s.orders[id] = o
	return transform.Params{{Name: "result_code", Value: "SUCCESS"}, {Name: "prepay_id", Value: o.prepayID}, {Name: "trade_type", Value: "JSAPI"}}
}

func (s *Sandbox) orderQuery(p transform.Params) transform.Params {
	o, ok := s.orders[p.Get("out_trade_no")]
	if !ok {
		return bizFail("ORDERNOTEXIST", "订单不存在")
	}
	out := transform.Params{
		{Name: "result_code", Value: "SUCCESS"},
		{Name: "out_trade_no", Value: p.Get("out_trade_no")},
		{Name: "trade_state", Value: o.state},
		{Name: "trade_state_desc", Value: tradeStateDesc[o.state]},
		{Name: "total_fee", Value: strconv.FormatInt(o.totalFee, 10)},
		{Name: "fee_type", Value: o.params.Get("fee_type")},
		{Name: "trade_type", Value: "JSAPI"},
		{Name: "openid", Value: o.params.Get("openid")},
		{Name: "attach", Value: o.params.Get("attach")},
	}
	if o.txID != "" {
		out = append(out, transform.Param{Name: "transaction_id", Value: o.txID},
			transform.Param{Name: "time_end", Value: o.timeEnd}, transform.Param{Name: "bank_type", Value: "CFT"},
			transform.Param{Name: "cash_fee", Value: strconv.FormatInt(o.totalFee, 10)})
	}
	return out
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
	return transform.Params{{Name: "result_code", Value: "SUCCESS"}}
}

func (s *Sandbox) refund(p transform.Params) transform.Params {
	for _, f := range []string{"out_trade_no", "out_refund_no", "total_fee", "refund_fee"} {
		if p.Get(f) == "" {
			return bizFail("LACK_PARAMS", "缺少参数"+f)
		}
	}
	o, ok := s.orders[p.Get("out_trade_no")]
	if !ok {
		return bizFail("ORDERNOTEXIST", "订单不存在")
	}
	if o.state != "SUCCESS" && o.state != "REFUND" {
		return bizFail("TRADE_STATE_ERROR", "订单状态错误")
	}
	total, err1 := strconv.ParseInt(p.Get("total_fee"), 10, 64)
	fee, err2 := strconv.ParseInt(p.Get("refund_fee"), 10, 64)
	if err1 != nil || err2 != nil || total != o.totalFee || fee <= 0 {
		return bizFail("INVALID_REQUEST", "订单金额或退款金额与之前请求不一致，请核实后再试")
	}
	if id, ok := o.refunds[p.Get("out_refund_no")]; ok {
		return refundOK(p, o.txID, id)
	}
	if o.refunded+fee > o.totalFee {
		return bizFail("NOTENOUGH", "退款金额大于支付金额")
	}
	if len(o.refundLog) >= maxRefundsPerOrder {
		return bizFail("INVALID_REQUEST", "每个支付订单的部分退款次数不能超过50次")
	}
	s.seq++
	id := "50000" + strconv.FormatInt(s.Now().Unix(), 10) + strconv.FormatInt(s.seq, 10)
	o.refunds[p.Get("out_refund_no")] = id
	o.refundLog = append(o.refundLog, sandboxRefund{outRefundNo: p.Get("out_refund_no"), id: id, fee: fee})
	o.refunded += fee
	o.state = "REFUND"
	return refundOK(p, o.txID, id)
}

// maxRefundsPerOrder is WeChat's limit: "每个支付订单的部分退款次数不能超过50次"
// (申请退款, https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_4); it
// also bounds what the sandbox keeps per order.
const maxRefundsPerOrder = 50

func refundOK(p transform.Params, txID, id string) transform.Params {
	return transform.Params{
		{Name: "result_code", Value: "SUCCESS"}, {Name: "transaction_id", Value: txID},
		{Name: "out_trade_no", Value: p.Get("out_trade_no")}, {Name: "out_refund_no", Value: p.Get("out_refund_no")},
		{Name: "refund_id", Value: id}, {Name: "refund_fee", Value: p.Get("refund_fee")},
		{Name: "total_fee", Value: p.Get("total_fee")}, {Name: "cash_fee", Value: p.Get("total_fee")},
	}
}

// refundQuery answers /pay/refundquery by out_refund_no as WeChat does when
// asked for one refund: that refund as the _0 entry. A refund is PROCESSING
// until the sandbox notified it (the console or /sandbox/complete
// "refunded"), SUCCESS after.
func (s *Sandbox) refundQuery(p transform.Params) transform.Params {
	outRefundNo := p.Get("out_refund_no")
	if outRefundNo == "" {
		return bizFail("LACK_PARAMS", "缺少参数out_refund_no")
	}
	for _, o := range s.orders {
		for _, r := range o.refundLog {
			if r.outRefundNo != outRefundNo {
				continue
			}
			status, successTime := "PROCESSING", ""
			if r.notified {
				status, successTime = "SUCCESS", r.successTime
			}
			fee := strconv.FormatInt(o.totalFee, 10)
			return transform.Params{
				{Name: "result_code", Value: "SUCCESS"}, {Name: "transaction_id", Value: o.txID},
				{Name: "out_trade_no", Value: o.params.Get("out_trade_no")}, {Name: "total_fee", Value: fee},
				{Name: "cash_fee", Value: fee}, {Name: "fee_type", Value: o.params.Get("fee_type")},
				{Name: "refund_count", Value: "1"}, {Name: "out_refund_no_0", Value: r.outRefundNo},
				{Name: "refund_id_0", Value: r.id}, {Name: "refund_channel_0", Value: "ORIGINAL"},
				{Name: "refund_fee_0", Value: strconv.FormatInt(r.fee, 10)}, {Name: "refund_status_0", Value: status},
				{Name: "refund_recv_accout_0", Value: "支付用户的零钱"}, {Name: "refund_success_time_0", Value: successTime},
			}
		}
	}
	return bizFail("REFUNDNOTEXIST", "退款订单查询失败")
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
		s.seq++
		o.txID = "42000" + now.In(transform.UTC8).Format("20060102150405") + strconv.FormatInt(1000000+s.seq, 10)
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
		{Name: "fee_type", Value: o.params.Get("fee_type")}, {Name: "is_subscribe", Value: "N"},
		{Name: "mch_id", Value: s.cfg.MchID}, {Name: "nonce_str", Value: transform.Nonce(32)},
		{Name: "openid", Value: o.params.Get("openid")}, {Name: "out_trade_no", Value: orderID},
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
			transform.Param{Name: "sub_openid", Value: o.params.Get("sub_openid")})
	}
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
