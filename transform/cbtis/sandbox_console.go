package cbtis

import (
	"net/http"
	"strconv"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

var consoleStates = map[string]string{
	"PENDING": transform.StatusPending, "SUCCEEDED": transform.StatusSucceeded,
	"FAILED": transform.StatusFailed, "REFUNDED": transform.StatusRefunded,
}

// Orders implements transform.Sandbox.
func (s *Sandbox) Orders() []transform.SandboxOrder {
	s.mu.Lock()
	defer s.mu.Unlock()
	return transform.SandboxOrders(s.orders, func(id string, o *sandboxOrder) transform.SandboxOrder {
		return transform.SandboxOrder{ID: id, Amount: o.amount, State: consoleStates[o.status], Created: o.createTime}
	})
}

var _ transform.RefundSandbox = (*Sandbox)(nil)

// CompleteRefund implements transform.RefundSandbox: it refunds a paid
// order in full (CBTIS's API here has no refund call; the merchant refunds
// in CBTIS's portal) and signs the refund_success notification, the
// documented fields plus the order's references and the refunded amount.
// A refunded order's notification is sent again unchanged.
func (s *Sandbox) CompleteRefund(orderID string, now time.Time) (*transform.Outbound, func(int, []byte) bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.notifiable(orderID, false, "SUCCEEDED", "REFUNDED")
	if err != nil {
		return nil, nil, err
	}
	if o.status == "SUCCEEDED" {
		o.status, o.refundTime = "REFUNDED", now
		o.refundID = "C" + now.UTC().Format("060102150405") + strconv.FormatInt(100000+transform.SandboxSerial(), 10)
	}
	data := map[string]any{
		"uid": s.uid(), "refund_id": o.refundID, "merchant_refund_id": "R" + o.merchantOrderID,
		"order_id": o.orderID, "merchant_order_id": o.merchantOrderID,
		"order_amount": o.amount.String(), "order_currency": o.amount.Currency,
		"refund_amount": o.amount.String(), "refund_currency": o.amount.Currency,
		"create_time": o.createTime.UTC().Format("2006-01-02T15:04:05.000Z"),
		"refund_time": o.refundTime.UTC().Format("2006-01-02T15:04:05.000Z"),
	}
	if o.notifyURL == "" {
		return nil, nil, unnotified(o, NotifyRefundSuccess)
	}
	return s.notification(o.notifyURL, NotifyRefundSuccess, data), acknowledged, nil
}

// notification is a signed notification of kind with data.
func (s *Sandbox) notification(url, kind string, data map[string]any) *transform.Outbound {
	body := transform.Marshal(struct {
		NotifyType string         `json:"notify_type"`
		Data       map[string]any `json:"data"`
	}{kind, data})
	return &transform.Outbound{
		URL: url, ContentType: "application/json", Body: body,
		Header: http.Header{http.CanonicalHeaderKey(s.cfg.SignatureHeader): {Signature(body, s.cfg.WebhookKey())}},
	}
}

// uid is the merchant's uid as CBTIS sends it: a number when it is one.
func (s *Sandbox) uid() any {
	if n, err := strconv.ParseInt(s.cfg.UID, 10, 64); err == nil {
		return n
	}
	return s.cfg.UID
}

// acknowledged tells whether a notification got CBTIS's ACK: HTTP 200,
// whatever the body, as CBTIS reads only the status
// (docs/providers/cbtis.md "Notifications"; minipay's `success` is a
// convention, not what CBTIS asks for).
func acknowledged(status int, _ []byte) bool {
	return status == http.StatusOK
}
