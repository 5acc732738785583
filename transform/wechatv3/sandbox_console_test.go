package wechatv3

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

func TestSandboxOrdersAndCompleteRefund(t *testing.T) {
	sb, _ := newSandbox(t, nil)
	srv := sandboxServer(t, sb)
	c := must(NewClient(merchantConfig(t)))
	wh := must(NewWebhook(merchantConfig(t)))
	must(exchange(t, c, srv, "pay", `{"order_id":"C-0001","amount":"3.00","currency":"CNY","description":"d","openid":"o"}`))
	if _, _, err := sb.CompleteRefund("C-0001", time.Now()); err == nil {
		t.Fatal("refunded an unpaid order")
	}
	orders := sb.Orders()
	if len(orders) != 1 || orders[0].ID != "C-0001" || orders[0].State != transform.StatusPending || orders[0].Amount.String() != "3.00" {
		t.Fatalf("orders %+v", orders)
	}
	if _, _, err := sb.Complete("C-0001", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	out, ack, err := sb.CompleteRefund("C-0001", time.Now())
	if err != nil || !ack(http.StatusNoContent, nil) || ack(http.StatusBadGateway, []byte(`{"code":"FAIL"}`)) {
		t.Fatalf("CompleteRefund: %v", err)
	}
	ev := must(wh.Verify(transform.Notification{Header: out.Header, Body: out.Body}))
	if ev.Type != transform.EventRefundSucceeded || ev.Amount != "3.00" || ev.OrderID != "C-0001" || ev.RefundID[:3] != "SBX" {
		t.Fatalf("event %+v", ev)
	}
	again, _, err := sb.CompleteRefund("C-0001", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ev2 := must(wh.Verify(transform.Notification{Header: again.Header, Body: again.Body})); ev2.ID != ev.ID {
		t.Fatalf("the repeated notification's event id %s differs from %s", ev2.ID, ev.ID)
	}
	if o := sb.Orders()[0]; o.State != transform.StatusRefunded {
		t.Fatalf("order %+v", o)
	}
}

// The refunds the console makes count toward the same bound as those made
// through the API: past it the oldest is forgotten, so a long-running
// sandbox does not grow without end.
func TestSandboxCompleteRefundIsBounded(t *testing.T) {
	sb, notes := newSandbox(t, nil)
	sb.refundRing.Max = 2
	srv := sandboxServer(t, sb)
	c := must(NewClient(merchantConfig(t)))
	for _, id := range []string{"B-0001", "B-0002", "B-0003"} {
		must(exchange(t, c, srv, "pay", `{"order_id":"`+id+`","amount":"1.00","currency":"CNY","description":"d","openid":"o"}`))
		if _, _, err := sb.Complete(id, true, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	must(exchange(t, c, srv, "refund", `{"order_id":"B-0001","refund_id":"B-0001-R1","amount":"0.50","currency":"CNY","total_amount":"1.00"}`))
	notes.take(t, "B-0001")
	for _, id := range []string{"B-0001", "B-0002", "B-0003"} {
		if _, _, err := sb.CompleteRefund(id, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	sb.mu.Lock()
	kept := len(sb.refunds)
	_, first := sb.refunds["B-0001-R1"]
	sb.mu.Unlock()
	if kept != 2 || first {
		t.Fatalf("%d refunds kept (the API's first one among them: %v), want the 2 newest", kept, first)
	}
	_, err := exchange(t, c, srv, "refund_query", `{"refund_id":"B-0001-R1"}`)
	if e := transformtest.WantError(t, err, 422, "provider_rejected"); e.ProviderCode != "RESOURCE_NOT_EXISTS" {
		t.Fatalf("a forgotten refund: %+v", e)
	}
}

// The console shows each trade_state the sandbox keeps as the client reads
// it from a query.
func TestSandboxOrderStates(t *testing.T) {
	sb, notes := newSandbox(t, nil)
	srv := sandboxServer(t, sb)
	c := must(NewClient(merchantConfig(t)))
	tests := []struct {
		order  string
		settle func(id string) error
		want   string
	}{
		{"S-pending", func(string) error { return nil }, transform.StatusPending},
		{"S-succeeded", func(id string) error { _, _, err := sb.Complete(id, true, time.Now()); return err }, transform.StatusSucceeded},
		{"S-failed", func(id string) error {
			if out, _, err := sb.Complete(id, false, time.Now()); out != nil || !errors.Is(err, transform.ErrNotNotified) || !strings.Contains(err.Error(), "PAYERROR") {
				return fmt.Errorf("failing the payment: %v, want PAYERROR and nothing sent", err)
			}
			return nil
		}, transform.StatusFailed},
		{"S-cancelled", func(id string) error { _, err := exchange(t, c, srv, "close", `{"order_id":"`+id+`"}`); return err }, transform.StatusCancelled},
		{"S-refunded", func(id string) error {
			if _, _, err := sb.Complete(id, true, time.Now()); err != nil {
				return err
			}
			_, err := exchange(t, c, srv, "refund", `{"order_id":"`+id+`","refund_id":"`+id+`-R1","amount":"1.00","currency":"CNY","total_amount":"1.00"}`)
			notes.take(t, id)
			return err
		}, transform.StatusRefunded},
	}
	for _, tt := range tests {
		must(exchange(t, c, srv, "pay", `{"order_id":"`+tt.order+`","amount":"1.00","currency":"CNY","description":"d","openid":"o"}`))
		if err := tt.settle(tt.order); err != nil {
			t.Fatalf("%s: %v", tt.order, err)
		}
	}
	got := map[string]string{}
	for _, o := range sb.Orders() {
		got[o.ID] = o.State
	}
	for _, tt := range tests {
		if got[tt.order] != tt.want {
			t.Errorf("%s is %q, want %q", tt.order, got[tt.order], tt.want)
		}
	}
	if len(got) != len(tests) {
		t.Fatalf("orders %v", got)
	}
}

// A notification the sandbox sends again (a repeated /sandbox/complete, the
// console's refund of an order with nothing left) is WeChat's retry: the
// same id and create_time, to the same URL under the same key, newly
// signed, so that the event and its data.notification_id are those of the
// first sending.
func TestSandboxResendKeepsNotificationID(t *testing.T) {
	sb, notes := newSandbox(t, nil)
	srv := sandboxServer(t, sb)
	c := must(NewClient(merchantConfig(t)))
	wh := must(NewWebhook(merchantConfig(t)))
	pay := func(id string) {
		must(exchange(t, c, srv, "pay", `{"order_id":"`+id+`","amount":"3.00","currency":"CNY","description":"d","openid":"o"}`))
		if _, _, err := sb.Complete(id, true, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	sent := func(out *transform.Outbound, _ func(int, []byte) bool, err error) *transform.Outbound {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tt := range []struct {
		name          string
		first, second func(id string) *transform.Outbound
	}{
		{"payment completed twice",
			func(id string) *transform.Outbound {
				must(exchange(t, c, srv, "pay", `{"order_id":"`+id+`","amount":"3.00","currency":"CNY","description":"d","openid":"o"}`))
				return sent(sb.Complete(id, true, time.Now()))
			},
			func(id string) *transform.Outbound { return sent(sb.Complete(id, true, time.Now().Add(time.Minute))) }},
		{"remaining refund completed twice",
			func(id string) *transform.Outbound { pay(id); return sent(sb.CompleteRefund(id, time.Now())) },
			func(id string) *transform.Outbound { return sent(sb.CompleteRefund(id, time.Now().Add(time.Minute))) }},
		// The order's notify_url is not the refund's (the configured one).
		{"refund made through the API, then completed",
			func(id string) *transform.Outbound {
				must(exchange(t, c, srv, "pay", `{"order_id":"`+id+`","amount":"3.00","currency":"CNY","description":"d","openid":"o","notify_url":"https://shop.example/paid"}`))
				if _, _, err := sb.Complete(id, true, time.Now()); err != nil {
					t.Fatal(err)
				}
				must(exchange(t, c, srv, "refund", `{"order_id":"`+id+`","refund_id":"`+id+`-R","amount":"3.00","currency":"CNY","total_amount":"3.00"}`))
				return notes.take(t, id)
			},
			func(id string) *transform.Outbound { return sent(sb.CompleteRefund(id, time.Now().Add(time.Minute))) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := "RS-" + strings.ReplaceAll(tt.name, " ", "")[:12]
			first, second := tt.first(id), tt.second(id)
			e1 := must(wh.Verify(transform.Notification{Header: first.Header, Body: first.Body}))
			e2 := must(wh.Verify(transform.Notification{Header: second.Header, Body: second.Body}))
			env1, env2 := decodeEnvelope(t, first.Body), decodeEnvelope(t, second.Body)
			if env1.ID == "" || env2.ID != env1.ID || env2.CreateTime != env1.CreateTime || e2.ID != e1.ID ||
				e2.Data["notification_id"] != e1.Data["notification_id"] {
				t.Fatalf("sent again as %s %s (event %s), first as %s %s (event %s)", env2.ID, env2.CreateTime, e2.ID, env1.ID, env1.CreateTime, e1.ID)
			}
			if second.URL != first.URL || second.Header.Get(HeaderSerial) != first.Header.Get(HeaderSerial) {
				t.Fatalf("sent again to %s under %s, first to %s under %s", second.URL, second.Header.Get(HeaderSerial), first.URL, first.Header.Get(HeaderSerial))
			}
			if first.Header.Get(HeaderNonce) == second.Header.Get(HeaderNonce) {
				t.Fatal("the second sending reuses the first's signature nonce")
			}
		})
	}
}

func decodeEnvelope(t *testing.T, body []byte) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// WeChat reads a notification's answer by its status: 200 or 204 is the
// ACK, with a body or without (docs/providers/wechat_v3.md Notifications:
// "the status decides"); any other status is a failure, a redirect
// included. The console and POST /sandbox/complete report acknowledged so
// (README WeChat Pay API v3, Sandbox).
func TestSandboxAcknowledgedByStatus(t *testing.T) {
	for _, tt := range []struct {
		status int
		body   string
		want   bool
	}{
		{200, "", true},
		{204, "", true},
		{200, `{"code":"SUCCESS","message":"成功"}`, true},
		{200, "<html>ok</html>", true},
		{201, "", false},
		{202, "", false},
		{302, "", false},
		{400, `{"code":"FAIL","message":"bad"}`, false},
		{500, "", false},
	} {
		if got := acknowledged(tt.status, []byte(tt.body)); got != tt.want {
			t.Errorf("acknowledged(%d, %q) = %v, want %v", tt.status, tt.body, got, tt.want)
		}
	}
}
