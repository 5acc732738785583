package wechatv3

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

type payBody struct {
	AppID       string `json:"appid,omitempty"`
	MchID       string `json:"mchid,omitempty"`
	SpAppID     string `json:"sp_appid,omitempty"`
	SpMchID     string `json:"sp_mchid,omitempty"`
	SubAppID    string `json:"sub_appid,omitempty"`
	SubMchID    string `json:"sub_mchid,omitempty"`
	Description string `json:"description"`
	OutTradeNo  string `json:"out_trade_no"`
	TimeExpire  string `json:"time_expire,omitempty"`
	Attach      string `json:"attach,omitempty"`
	NotifyURL   string `json:"notify_url"`
	Amount      *struct {
		Total    *int64 `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
	Payer *struct {
		OpenID    string `json:"openid"`
		SpOpenID  string `json:"sp_openid"`
		SubOpenID string `json:"sub_openid"`
	} `json:"payer"`
}

// identity checks a request's merchant fields against the configuration.
func (s *Sandbox) identity(partner bool, appID, mchID, spAppID, spMchID, subAppID, subMchID string) *v3Error {
	if !partner {
		if mchID != s.cfg.MchID {
			return fail(http.StatusBadRequest, "PARAM_ERROR", "mchid与请求方商户号不一致")
		}
		if appID != s.cfg.AppID {
			return fail(http.StatusBadRequest, "APPID_MCHID_NOT_MATCH", "appid和mchid不匹配")
		}
		return nil
	}
	switch {
	case spMchID != s.cfg.MchID:
		return fail(http.StatusBadRequest, "PARAM_ERROR", "sp_mchid与请求方商户号不一致")
	case spAppID != s.cfg.AppID:
		return fail(http.StatusBadRequest, "APPID_MCHID_NOT_MATCH", "sp_appid和sp_mchid不匹配")
	case s.cfg.SubMchID == "" || subMchID != s.cfg.SubMchID:
		return fail(http.StatusForbidden, "NO_AUTH", "服务商与子商户无授权关系")
	case subAppID != "" && subAppID != s.cfg.SubAppID:
		return fail(http.StatusBadRequest, "APPID_MCHID_NOT_MATCH", "sub_appid和sub_mchid不匹配")
	}
	return nil
}

func (s *Sandbox) pay(body []byte, partner bool, announce string) (int, []byte, *v3Error) {
	var req payBody
	if json.Unmarshal(body, &req) != nil {
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的JSON")
	}
	if e := s.identity(partner, req.AppID, req.MchID, req.SpAppID, req.SpMchID, req.SubAppID, req.SubMchID); e != nil {
		return 0, nil, e
	}
	if e := outTradeNoRule.check("body", req.OutTradeNo); e != nil {
		return 0, nil, e
	}
	switch {
	case req.Description == "" || len(req.Description) > 127:
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "description 参数有误")
	case !wxpay.ValidNotifyURL(req.NotifyURL):
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "notify_url 参数有误")
	case req.Amount == nil || req.Amount.Total == nil || *req.Amount.Total <= 0 || *req.Amount.Total > wxpay.MaxMinorUnits:
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "amount.total 参数有误")
	case req.Amount.Currency != "" && req.Amount.Currency != currencyCNY:
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "amount.currency 仅支持CNY")
	case req.Payer == nil:
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "payer 不能为空")
	}
	switch {
	case !partner && req.Payer.OpenID == "",
		partner && req.Payer.SpOpenID == "" && req.Payer.SubOpenID == "",
		partner && req.Payer.SubOpenID != "" && req.SubAppID == "":
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "payer 的 openid 有误")
	}
	if req.TimeExpire != "" {
		t, ok := transform.ParseRFC3339(req.TimeExpire) // not Go's laxer forms (",5", +24:00)
		if !ok {
			return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "time_expire 格式错误")
		}
		if t.Before(s.Now().Add(time.Minute)) {
			return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "time_expire 时间过短")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.orders[req.OutTradeNo]; ok {
		switch {
		case o.state == "SUCCESS" || o.state == "REFUND":
			return 0, nil, fail(http.StatusForbidden, "ORDERPAID", "该订单已支付")
		case o.state == "CLOSED":
			return 0, nil, fail(http.StatusForbidden, "ORDER_CLOSED", "该订单已关闭")
		case o.state == "PAYERROR", // paid again under a new out_trade_no (WeChat's 关闭订单 page: 商户订单支付失败需要生成新单号重新发起支付)
			o.partner != partner || *o.req.Amount.Total != *req.Amount.Total || o.req.Description != req.Description ||
				*o.req.Payer != *req.Payer: // a prepay is the payer's
			return 0, nil, fail(http.StatusForbidden, "OUT_TRADE_NO_USED", "商户订单号重复")
		}
		return http.StatusOK, prepayAnswer(o.prepayID), nil
	}
	o := &sandboxOrder{partner: partner, req: req, state: "NOTPAY", announce: announce, created: s.Now(),
		prepayID: "wx" + s.Now().In(transform.UTC8).Format("02150405") + strconv.FormatInt(1e9+transform.SandboxSerial(), 10) + transform.Nonce(12)}
	s.orders[req.OutTradeNo] = o
	if oldest, evict := s.orderRing.Add(req.OutTradeNo); evict {
		delete(s.orders, oldest)
	}
	return http.StatusOK, prepayAnswer(o.prepayID), nil
}

func prepayAnswer(id string) []byte {
	return append(transform.AppendJSONString([]byte(`{"prepay_id":`), id), '}')
}

// transactionObject is the answer of a query and the resource of
// TRANSACTION.SUCCESS.
type transactionObject struct {
	AppID          string            `json:"appid,omitempty"`
	MchID          string            `json:"mchid,omitempty"`
	SpAppID        string            `json:"sp_appid,omitempty"`
	SpMchID        string            `json:"sp_mchid,omitempty"`
	SubAppID       string            `json:"sub_appid,omitempty"`
	SubMchID       string            `json:"sub_mchid,omitempty"`
	OutTradeNo     string            `json:"out_trade_no"`
	TransactionID  string            `json:"transaction_id,omitempty"`
	TradeType      string            `json:"trade_type,omitempty"`
	TradeState     string            `json:"trade_state"`
	TradeStateDesc string            `json:"trade_state_desc"`
	BankType       string            `json:"bank_type,omitempty"`
	Attach         string            `json:"attach"`
	SuccessTime    string            `json:"success_time,omitempty"`
	Payer          map[string]string `json:"payer"`
	Amount         struct {
		Total         int64  `json:"total"`
		PayerTotal    *int64 `json:"payer_total,omitempty"`
		Currency      string `json:"currency"`
		PayerCurrency string `json:"payer_currency"`
	} `json:"amount"`
}

var tradeStateDesc = map[string]string{
	"NOTPAY": "订单未支付", "SUCCESS": "支付成功", "PAYERROR": "支付失败", "CLOSED": "订单已关闭", "REFUND": "转入退款",
}

func (o *sandboxOrder) transaction(outTradeNo string) *transactionObject {
	t := &transactionObject{OutTradeNo: outTradeNo, TradeState: o.state, TradeStateDesc: tradeStateDesc[o.state],
		Attach: o.req.Attach, Payer: map[string]string{}}
	if o.partner {
		t.SpAppID, t.SpMchID, t.SubAppID, t.SubMchID = o.req.SpAppID, o.req.SpMchID, o.req.SubAppID, o.req.SubMchID
		// WeChat names the payer under the service provider's appid always
		// (sp_openid, 必填) and under sub_appid whenever the order has one
		// ("如果返回sub_appid，那么sub_openid一定会返回"), whichever the pay
		// named: the sandbox derives the other.
		p := o.req.Payer
		t.Payer["sp_openid"] = cmp.Or(p.SpOpenID, transform.SandboxOpenID(o.req.SpAppID, p.SubOpenID))
		if o.req.SubAppID != "" {
			t.Payer["sub_openid"] = cmp.Or(p.SubOpenID, transform.SandboxOpenID(o.req.SubAppID, p.SpOpenID))
		}
	} else {
		t.AppID, t.MchID = o.req.AppID, o.req.MchID
		t.Payer["openid"] = o.req.Payer.OpenID
	}
	t.Amount.Total, t.Amount.Currency, t.Amount.PayerCurrency = *o.req.Amount.Total, currencyCNY, currencyCNY
	if o.txID != "" {
		t.TransactionID, t.TradeType, t.BankType, t.SuccessTime = o.txID, "JSAPI", "OTHERS", o.successTime
		total := *o.req.Amount.Total
		t.Amount.PayerTotal = &total
	}
	return t
}

// order finds an order by id for the merchant named in a query string or body.
func (s *Sandbox) order(id string, partner bool, mchID, spMchID, subMchID string) (*sandboxOrder, *v3Error) {
	if partner {
		if spMchID != s.cfg.MchID || s.cfg.SubMchID == "" || subMchID != s.cfg.SubMchID {
			return nil, fail(http.StatusBadRequest, "PARAM_ERROR", "sp_mchid 或 sub_mchid 有误")
		}
	} else if mchID != s.cfg.MchID {
		return nil, fail(http.StatusBadRequest, "PARAM_ERROR", "mchid 有误")
	}
	o, ok := s.orders[id]
	if !ok || o.partner != partner {
		return nil, fail(http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
	}
	return o, nil
}

func (s *Sandbox) query(id string, partner bool, q url.Values) (int, []byte, *v3Error) {
	if e := outTradeNoRule.check("path", id); e != nil {
		return 0, nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queryLocked(id, partner, q)
}

// queryLocked answers a query of the order id (none when id is empty) for
// the merchant its query string names; s.mu is held.
func (s *Sandbox) queryLocked(id string, partner bool, q url.Values) (int, []byte, *v3Error) {
	get := func(k string) string {
		if v := q[k]; len(v) == 1 {
			return v[0]
		}
		return ""
	}
	o, e := s.order(id, partner, get("mchid"), get("sp_mchid"), get("sub_mchid"))
	if e != nil {
		return 0, nil, e
	}
	return http.StatusOK, transform.Marshal(o.transaction(id)), nil
}

// queryByTransactionID answers 微信支付订单号查询订单: a paid order by its
// transaction_id (an unpaid order has none, so WeChat does not find it).
func (s *Sandbox) queryByTransactionID(tx string, partner bool, q url.Values) (int, []byte, *v3Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, o := range s.orders {
		if o.txID == tx {
			return s.queryLocked(id, partner, q)
		}
	}
	// Not found: the merchant is still checked first, as for any query.
	return s.queryLocked("", partner, q)
}

func (s *Sandbox) close(id string, partner bool, body []byte) (int, []byte, *v3Error) {
	var req struct {
		MchID    string `json:"mchid"`
		SpMchID  string `json:"sp_mchid"`
		SubMchID string `json:"sub_mchid"`
	}
	if json.Unmarshal(body, &req) != nil {
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的JSON")
	}
	if e := outTradeNoRule.check("path", id); e != nil {
		return 0, nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := s.order(id, partner, req.MchID, req.SpMchID, req.SubMchID)
	if e != nil {
		return 0, nil, e
	}
	if o.state == "SUCCESS" || o.state == "REFUND" {
		return 0, nil, fail(http.StatusForbidden, "ORDERPAID", "订单已支付，不能关闭")
	}
	o.state = "CLOSED"
	return http.StatusNoContent, nil, nil
}
