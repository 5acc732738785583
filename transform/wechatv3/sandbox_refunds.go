package wechatv3

import (
	"cmp"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// refundObject is the answer of a refund and of a refund query.
type refundObject struct {
	RefundID            string `json:"refund_id"`
	OutRefundNo         string `json:"out_refund_no"`
	TransactionID       string `json:"transaction_id"`
	OutTradeNo          string `json:"out_trade_no"`
	Channel             string `json:"channel"`
	UserReceivedAccount string `json:"user_received_account"`
	SuccessTime         string `json:"success_time,omitempty"`
	CreateTime          string `json:"create_time"`
	Status              string `json:"status"`
	FundsAccount        string `json:"funds_account"`
	Amount              struct {
		Total            int64  `json:"total"`
		Refund           int64  `json:"refund"`
		PayerTotal       int64  `json:"payer_total"`
		PayerRefund      int64  `json:"payer_refund"`
		SettlementRefund int64  `json:"settlement_refund"`
		SettlementTotal  int64  `json:"settlement_total"`
		DiscountRefund   int64  `json:"discount_refund"`
		Currency         string `json:"currency"`
	} `json:"amount"`
}

func (r *sandboxRefund) object(status string) *refundObject {
	total := *r.order.req.Amount.Total
	o := &refundObject{RefundID: r.id, OutRefundNo: r.outRefundNo, TransactionID: r.order.txID,
		OutTradeNo: r.order.req.OutTradeNo, Channel: "ORIGINAL", UserReceivedAccount: "支付用户零钱",
		CreateTime: r.createTime, Status: status, FundsAccount: "AVAILABLE"}
	if status == "SUCCESS" {
		o.SuccessTime = r.successTime
	}
	o.Amount.Total, o.Amount.Refund, o.Amount.PayerTotal, o.Amount.PayerRefund = total, r.amount, total, r.amount
	o.Amount.SettlementRefund, o.Amount.SettlementTotal, o.Amount.Currency = r.amount, total, currencyCNY
	return o
}

// refund accepts a refund of a paid order. WeChat answers PROCESSING; the
// sandbox settles it at once and sends REFUND.SUCCESS to the refund's
// notify_url (else the order's) through Notify.
func (s *Sandbox) refund(body []byte, announce string) (int, []byte, *v3Error) {
	var req struct {
		SubMchID      string `json:"sub_mchid"`
		TransactionID string `json:"transaction_id"`
		OutTradeNo    string `json:"out_trade_no"`
		OutRefundNo   string `json:"out_refund_no"`
		Reason        string `json:"reason"`
		NotifyURL     string `json:"notify_url"`
		Amount        *struct {
			Refund   *int64 `json:"refund"`
			Total    *int64 `json:"total"`
			Currency string `json:"currency"`
		} `json:"amount"`
	}
	if json.Unmarshal(body, &req) != nil {
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的JSON")
	}
	if e := outRefundNoRule.check("body", req.OutRefundNo); e != nil {
		return 0, nil, e
	}
	switch {
	case req.TransactionID == "" && req.OutTradeNo == "":
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "transaction_id和out_trade_no必须二选一进行传参")
	case req.Amount == nil || req.Amount.Refund == nil || req.Amount.Total == nil || *req.Amount.Refund <= 0:
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "amount 参数有误")
	case req.Amount.Currency != currencyCNY:
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "amount.currency 仅支持CNY")
	case req.NotifyURL != "" && !wxpay.ValidNotifyURL(req.NotifyURL):
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "notify_url 参数有误")
	case !wxpay.ValidRefundReason(req.Reason):
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "reason 参数有误")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[req.OutTradeNo]
	if req.OutTradeNo == "" {
		for _, cand := range s.orders {
			if cand.txID == req.TransactionID {
				o = cand
			}
		}
	}
	partner := req.SubMchID != ""
	switch {
	case partner && (s.cfg.SubMchID == "" || req.SubMchID != s.cfg.SubMchID):
		return 0, nil, fail(http.StatusForbidden, "NO_AUTH", "服务商与子商户无授权关系")
	case o == nil || o.partner != partner:
		return 0, nil, fail(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "订单不存在")
	case o.state != "SUCCESS" && o.state != "REFUND":
		return 0, nil, fail(http.StatusBadRequest, "INVALID_REQUEST", "订单未支付，不能退款")
	case *req.Amount.Total != *o.req.Amount.Total:
		return 0, nil, fail(http.StatusBadRequest, "INVALID_REQUEST", "订单金额与原订单不一致")
	}
	if r, ok := s.refunds[req.OutRefundNo]; ok {
		if r.order != o || r.amount != *req.Amount.Refund {
			return 0, nil, fail(http.StatusBadRequest, "INVALID_REQUEST", "退款单号重复")
		}
		return http.StatusOK, transform.Marshal(r.object(r.status)), nil
	}
	// NOT_ENOUGH is WeChat's answer when the merchant's balance cannot pay
	// the refund, not when the order cannot.
	if o.refunded+*req.Amount.Refund > *o.req.Amount.Total {
		return 0, nil, fail(http.StatusBadRequest, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
	}
	now := s.Now().In(transform.UTC8).Format(time.RFC3339)
	r := &sandboxRefund{order: o, id: "50300" + strconv.FormatInt(s.Now().Unix(), 10) + strconv.FormatInt(1e6+transform.SandboxSerial(), 10),
		outRefundNo: req.OutRefundNo, amount: *req.Amount.Refund, status: "SUCCESS", createTime: now, successTime: now,
		notifyURL: cmp.Or(req.NotifyURL, o.req.NotifyURL), announce: announce}
	s.keepRefund(r)
	o.refunded += r.amount
	o.state, o.lastRefund = "REFUND", r
	answer := transform.Marshal(r.object("PROCESSING"))
	if s.Notify != nil {
		if out, err := s.refundNotification(r); err == nil {
			s.Notify(o.req.OutTradeNo, out, acknowledged)
		}
	}
	return http.StatusOK, answer, nil
}

// keepRefund remembers a new refund by its out_refund_no, forgetting the
// oldest once MaxSandboxOrders are kept (the API's and the console's alike).
func (s *Sandbox) keepRefund(r *sandboxRefund) {
	s.refunds[r.outRefundNo] = r
	if oldest, evict := s.refundRing.Add(r.outRefundNo); evict {
		delete(s.refunds, oldest)
	}
}

func (s *Sandbox) refundQuery(id string, q map[string][]string) (int, []byte, *v3Error) {
	if e := outRefundNoRule.check("path", id); e != nil {
		return 0, nil, e
	}
	sub := ""
	if v := q["sub_mchid"]; len(v) == 1 {
		sub = v[0]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[id]
	switch {
	case sub != "" && (s.cfg.SubMchID == "" || sub != s.cfg.SubMchID):
		return 0, nil, fail(http.StatusForbidden, "NO_AUTH", "服务商与子商户无授权关系")
	case !ok || r.order.partner != (sub != ""):
		return 0, nil, fail(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "退款单不存在")
	}
	return http.StatusOK, transform.Marshal(r.object(r.status)), nil
}
