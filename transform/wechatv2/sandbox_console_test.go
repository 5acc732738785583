package wechatv2

import (
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

func TestSandboxOrdersAndRefundNotifications(t *testing.T) {
	s := newSandbox(t, testConfig(SignMD5))
	do := func(path string, p transform.Params) transform.Params {
		return sandboxDo(t, s, path, signedXML(p, vecAPIKey, SignMD5), SignMD5)
	}
	wantResult(t, do(PathUnifiedOrder, unifiedOrder("O1", "1234", "b")), "SUCCESS", "")
	wantResult(t, do(PathUnifiedOrder, unifiedOrder("O2", "500", "b")), "SUCCESS", "")
	wantResult(t, do(PathCloseOrder, orderReq("O2")), "SUCCESS", "")
	wantResult(t, do(PathUnifiedOrder, unifiedOrder("O3", "100", "b")), "SUCCESS", "")
	if _, _, err := s.Complete("O3", false, transformtest.Pinned); err != nil {
		t.Fatal(err)
	}

	states := func() map[string]transform.SandboxOrder {
		m := map[string]transform.SandboxOrder{}
		for _, o := range s.Orders() {
			m[o.ID] = o
		}
		return m
	}
	got := states()
	if o := got["O1"]; len(got) != 3 || o.State != transform.StatusPending || o.Amount.String() != "12.34" || o.Amount.Currency != "CNY" || !o.Created.Equal(transformtest.Pinned) {
		t.Fatalf("orders %+v", got)
	}
	if got["O2"].State != transform.StatusCancelled || got["O3"].State != transform.StatusFailed {
		t.Fatalf("closed order %+v, failed order %+v", got["O2"], got["O3"])
	}
	if _, _, err := s.CompleteRefund("O1", transformtest.Pinned); err == nil {
		t.Fatal("refunded an unpaid order")
	}
	if _, _, err := s.Complete("O1", true, transformtest.Pinned); err != nil {
		t.Fatal(err)
	}
	if st := states()["O1"].State; st != transform.StatusSucceeded {
		t.Fatalf("paid order is %s", st)
	}
	// A partial refund through the API is notified first, then the console
	// refunds the rest, then repeats the last notification.
	wantResult(t, do(PathRefund, orderReq("O1", transform.Param{Name: "out_refund_no", Value: "R1"},
		transform.Param{Name: "total_fee", Value: "1234"}, transform.Param{Name: "refund_fee", Value: "234"})), "SUCCESS", "")
	w := newWebhook(t, testConfig(SignMD5))
	var ids []string
	for i, want := range []struct{ refundID, amount string }{{"R1", "2.34"}, {"", "10.00"}, {"", "10.00"}} {
		out, ack, err := s.CompleteRefund("O1", transformtest.Pinned.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := w.Verify(transform.Notification{Body: out.Body})
		if err != nil {
			t.Fatalf("refund notification %d does not verify: %v", i, err)
		}
		if ev.Type != transform.EventRefundSucceeded || ev.OrderID != "O1" || ev.Amount != want.amount || ev.Currency != "CNY" ||
			(want.refundID != "" && ev.RefundID != want.refundID) || ev.OccurredAt == "" || out.URL != notifyURL {
			t.Fatalf("refund event %d: %+v", i, ev)
		}
		if !ack(200, []byte(AckBody)) || ack(200, []byte("OK")) {
			t.Fatal("ACK check")
		}
		ids = append(ids, ev.ID)
	}
	if ids[0] == ids[1] || ids[1] != ids[2] {
		t.Fatalf("event ids %v: two refunds must differ, a repeated notification must not", ids)
	}
	if st := states()["O1"].State; st != transform.StatusRefunded {
		t.Fatalf("refunded order is %s", st)
	}
}
