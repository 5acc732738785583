package wechatv2

import (
	"bytes"
	"cmp"
	"net/http"
	"strconv"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// sandboxRefund is one refund the sandbox made, through the API or the
// console.
type sandboxRefund struct {
	outRefundNo, id string
	fee             int64
	notified        bool
	successTime     string
	// notifyURL is the refund request's notify_url, which WeChat notifies
	// instead of the order's when given.
	notifyURL string
}

// Orders implements transform.Sandbox. An order's state is a trade_state,
// shown as the client reads it from an orderquery (tradeStates).
func (s *Sandbox) Orders() []transform.SandboxOrder {
	s.mu.Lock()
	defer s.mu.Unlock()
	return transform.SandboxOrders(s.orders, func(id string, o *sandboxOrder) transform.SandboxOrder {
		m, _ := transform.MoneyFromMinor(o.totalFee, feeType(o.params))
		return transform.SandboxOrder{ID: id, Amount: m, State: tradeStates[o.state], Created: o.created}
	})
}

var _ transform.RefundSandbox = (*Sandbox)(nil)

// CompleteRefund implements transform.RefundSandbox. WeChat notifies a
// refund once it is processed: the notification goes out for the oldest
// refund made through /secapi/pay/refund that has not been notified yet;
// when there is none, the sandbox refunds what remains of the order itself
// (out_refund_no "SBX" + the refund_id); when nothing remains, the last
// refund is notified again, as WeChat's retries do.
func (s *Sandbox) CompleteRefund(orderID string, now time.Time) (*transform.Outbound, func(int, []byte) bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := transform.SandboxOrderIn(s.orders, orderID, tradeState, "SUCCESS", "REFUND")
	if err != nil {
		return nil, nil, err
	}
	var r *sandboxRefund
	for i := range o.refundLog {
		if !o.refundLog[i].notified {
			r = &o.refundLog[i]
			break
		}
	}
	if r == nil && o.refunded < o.totalFee {
		id := "50000" + strconv.FormatInt(now.Unix(), 10) + strconv.FormatInt(transform.SandboxSerial(), 10)
		o.refundLog = append(o.refundLog, sandboxRefund{outRefundNo: "SBX" + id, id: id, fee: o.totalFee - o.refunded})
		o.refunded = o.totalFee
		o.state = "REFUND"
		r = &o.refundLog[len(o.refundLog)-1]
	}
	if r == nil {
		r = &o.refundLog[len(o.refundLog)-1]
	}
	if !r.notified {
		r.notified, r.successTime = true, now.In(transform.UTC8).Format("2006-01-02 15:04:05")
	}
	total, fee := strconv.FormatInt(o.totalFee, 10), strconv.FormatInt(r.fee, 10)
	body, err := RefundNotification(s.cfg, transform.Params{
		{Name: "transaction_id", Value: o.txID}, {Name: "out_trade_no", Value: orderID},
		{Name: "refund_id", Value: r.id}, {Name: "out_refund_no", Value: r.outRefundNo},
		{Name: "total_fee", Value: total}, {Name: "refund_fee", Value: fee},
		{Name: "settlement_refund_fee", Value: fee}, {Name: "refund_status", Value: "SUCCESS"},
		{Name: "success_time", Value: r.successTime}, {Name: "refund_recv_accout", Value: "支付用户零钱"},
		{Name: "refund_account", Value: "REFUND_SOURCE_RECHARGE_FUNDS"}, {Name: "refund_request_source", Value: "API"},
	})
	if err != nil {
		return nil, nil, err
	}
	out := &transform.Outbound{URL: cmp.Or(r.notifyURL, o.notifyURL), ContentType: "text/xml", Body: body}
	return out, acknowledged, nil
}

// acknowledged tells whether a notification got WeChat's exact ACK.
func acknowledged(status int, body []byte) bool {
	return status == http.StatusOK && bytes.Equal(body, []byte(AckBody))
}
