package wechatv3

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// envelope is a notification's JSON.
type envelope struct {
	ID           string    `json:"id"`
	CreateTime   string    `json:"create_time"`
	ResourceType string    `json:"resource_type"`
	EventType    string    `json:"event_type"`
	Summary      string    `json:"summary"`
	Resource     *Resource `json:"resource"`
}

// Notification encrypts resource (a JSON object) and returns the signed
// notification WeChat would POST to notifyURL, with a new id.
func (s *Sandbox) Notification(notifyURL, announce, eventType, summary, originalType string, resource []byte) (*transform.Outbound, error) {
	return s.notification(new(notice), notifyURL, announce, eventType, summary, originalType, resource)
}

// notification is Notification under the identity n: a new id and
// create_time the first time, which n keeps, the same ones when n is sent
// again (a retry).
func (s *Sandbox) notification(n *notice, notifyURL, announce, eventType, summary, originalType string, resource []byte) (*transform.Outbound, error) {
	res, err := EncryptResource(s.apiV3, transform.Nonce(12), originalType, resource)
	if err != nil {
		return nil, err
	}
	res.OriginalType = originalType
	if n.id == "" {
		n.id, n.createTime = sandboxUUID(), s.Now().In(transform.UTC8).Format(time.RFC3339)
	}
	body := transform.Marshal(envelope{ID: n.id, CreateTime: n.createTime,
		ResourceType: "encrypt-resource", EventType: eventType, Summary: summary, Resource: res})
	h := s.sign(announce, body)
	return &transform.Outbound{URL: notifyURL, ContentType: "application/json", Header: h, Body: body}, nil
}

// acknowledged is WeChat's reading of an answer: a 200 or 204 is an ACK,
// whatever the body.
func acknowledged(status int, _ []byte) bool {
	return status == http.StatusOK || status == http.StatusNoContent
}

// refundNotification is r's REFUND.SUCCESS, to r's notify URL under r's
// key, with r's identity when it was sent before (a retry).
func (s *Sandbox) refundNotification(r *sandboxRefund) (*transform.Outbound, error) {
	res := map[string]any{
		"out_trade_no": r.order.req.OutTradeNo, "transaction_id": r.order.txID,
		"out_refund_no": r.outRefundNo, "refund_id": r.id, "refund_status": "SUCCESS",
		"success_time": r.successTime, "user_received_account": "支付用户零钱",
		"amount": map[string]int64{"total": *r.order.req.Amount.Total, "refund": r.amount,
			"payer_total": *r.order.req.Amount.Total, "payer_refund": r.amount},
	}
	if r.order.partner {
		res["sp_mchid"], res["sub_mchid"] = r.order.req.SpMchID, r.order.req.SubMchID
	} else {
		res["mchid"] = r.order.req.MchID
	}
	return s.notification(&r.notified, r.notifyURL, r.announce, EventRefundSuccess, "退款成功", "refund", transform.Marshal(res))
}

// tradeState is an order's trade_state, for transform.SandboxOrderIn.
func tradeState(o *sandboxOrder) string { return o.state }

// Complete implements transform.Sandbox: a succeeded order becomes SUCCESS
// and its TRANSACTION.SUCCESS notification is returned (for an order paid
// already, the same notification again, as WeChat retries it). WeChat Pay v3 sends
// no notification for a failed payment: "failed" marks the order PAYERROR
// (a query shows it) and reports that nothing was sent.
func (s *Sandbox) Complete(orderID string, succeeded bool, now time.Time) (*transform.Outbound, func(int, []byte) bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := transform.SandboxSettleable(s.orders, orderID, tradeState, succeeded, "SUCCESS", "NOTPAY", "PAYERROR")
	if err != nil {
		return nil, nil, err
	}
	if !succeeded {
		o.state = "PAYERROR"
		return nil, nil, fmt.Errorf("%w: the order is now PAYERROR, and WeChat Pay v3 sends no notification for a failed payment", transform.ErrNotNotified)
	}
	if o.txID == "" {
		o.txID = "42000" + now.In(transform.UTC8).Format("20060102150405") + strconv.FormatInt(1e8+transform.SandboxSerial(), 10)
		o.successTime = now.In(transform.UTC8).Format(time.RFC3339)
	}
	o.state = "SUCCESS"
	out, err := s.notification(&o.paid, o.req.NotifyURL, o.announce, EventTransactionSuccess, "支付成功", "transaction",
		transform.Marshal(o.transaction(orderID)))
	if err != nil {
		return nil, nil, err
	}
	return out, acknowledged, nil
}

// sandboxUUID is a random RFC 4122 version 4 id, the form of WeChat's
// notification ids.
func sandboxUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexd = "0123456789abcdef"
	var out bytes.Buffer
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out.WriteByte('-')
		}
		out.WriteByte(hexd[c>>4])
		out.WriteByte(hexd[c&0xf])
	}
	return out.String()
}
