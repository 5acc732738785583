package wechatv3

import (
	"errors"
	"strconv"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// Orders implements transform.Sandbox. An order's state is a trade_state,
// shown as the client reads it from a query (tradeStates).
func (s *Sandbox) Orders() []transform.SandboxOrder {
	s.mu.Lock()
	defer s.mu.Unlock()
	return transform.SandboxOrders(s.orders, func(id string, o *sandboxOrder) transform.SandboxOrder {
		m, _ := transform.MoneyFromMinor(*o.req.Amount.Total, currencyCNY)
		return transform.SandboxOrder{ID: id, Amount: m, State: tradeStates[o.state], Created: o.created}
	})
}

var _ transform.RefundSandbox = (*Sandbox)(nil)

// CompleteRefund implements transform.RefundSandbox. A refund made through
// the API is notified by itself (Notify); this refunds what remains of a
// paid order (out_refund_no "SBX" + the refund_id) and returns its
// REFUND.SUCCESS, or, when nothing remains, the last refund's notification
// again (its id, notify URL and key), as WeChat's retries do.
func (s *Sandbox) CompleteRefund(orderID string, now time.Time) (*transform.Outbound, func(int, []byte) bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := transform.SandboxOrderIn(s.orders, orderID, tradeState, "SUCCESS", "REFUND")
	if err != nil {
		return nil, nil, err
	}
	var r *sandboxRefund
	if rest := *o.req.Amount.Total - o.refunded; rest > 0 {
		at := now.In(transform.UTC8).Format(time.RFC3339)
		id := "50300" + strconv.FormatInt(now.Unix(), 10) + strconv.FormatInt(1e6+transform.SandboxSerial(), 10)
		r = &sandboxRefund{order: o, id: id, outRefundNo: "SBX" + id, amount: rest, status: "SUCCESS", createTime: at, successTime: at,
			notifyURL: o.req.NotifyURL, announce: o.announce}
		s.keepRefund(r)
		o.refunded, o.state = *o.req.Amount.Total, "REFUND"
		o.lastRefund = r
	} else if r = o.lastRefund; r == nil {
		return nil, nil, errors.New("the order has nothing to refund")
	}
	out, err := s.refundNotification(r)
	if err != nil {
		return nil, nil, err
	}
	return out, acknowledged, nil
}
