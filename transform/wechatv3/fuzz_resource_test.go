package wechatv3

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// FuzzSignedResource: a notification the platform key signed whose
// decrypted resource is any JSON object of this merchant (re-encoded by
// encoding/json, so no name is given twice), with an array of fill numbers
// beside its members, is an event exactly when it fits the limits README
// states: the notification within MaxNotification bytes, the resource at
// most six levels deep, no name reached by two paths; never refused for how
// many members it has. The event's data is the resource's members as
// WeChat encrypted them plus the envelope's event_type, summary and id, and
// a type is terminal only when the signed event_type and the resource's own
// state (trade_state, refund_status), where present, agree.
func FuzzSignedResource(f *testing.F) {
	const tx = `{"out_trade_no":"ORDER1","transaction_id":"4200001","trade_state":"SUCCESS","amount":{"total":1234,"currency":"CNY"},"promotion_detail":[{"goods_detail":[{"goods_id":"G1","quantity":2}]}]}`
	const refund = `{"out_trade_no":"ORDER1","out_refund_no":"R1","refund_id":"5030001","refund_status":"SUCCESS","amount":{"total":1234,"refund":234}}`
	f.Add(EventTransactionSuccess, []byte(tx), uint16(0))
	f.Add(EventTransactionSuccess, []byte(`{"trade_state":"NOTPAY"}`), uint16(3))
	f.Add(EventRefundSuccess, []byte(refund), uint16(40))
	f.Add(EventRefundClosed, []byte(`{"refund_status":"CLOSED","a":{"b":{"c":{"d":{"e":1}}}}}`), uint16(0))
	f.Add(EventRefundAbnormal, []byte(`{"refund_status":"SUCCESS","a.b":1,"a":{"c":2}}`), uint16(1))
	f.Add("TRANSACTION.CLOSED", []byte(`{"trade_state":"CLOSED","event_type":"TRANSACTION.SUCCESS"}`), uint16(0))
	f.Add(EventTransactionSuccess, []byte(`{"trade_state":"SUCCESS"}`), uint16(12000)) // 2 bytes a member
	sb := must(NewSandbox(sandboxConfig(f)))
	sb.Now = transformtest.Clock
	w := must(NewWebhook(merchantConfig(f)))
	w.Now = transformtest.Clock
	f.Fuzz(func(t *testing.T, eventType string, resource []byte, fill uint16) {
		if !utf8.ValidString(eventType) {
			return // encoding/json would send U+FFFD in its place
		}
		dec := json.NewDecoder(bytes.NewReader(resource))
		dec.UseNumber()
		var res map[string]any
		if dec.Decode(&res) != nil || res == nil {
			return
		}
		res["mchid"] = "1900000109"
		if _, ok := res["appid"]; ok {
			res["appid"] = "wx8888888888888888"
		}
		if fill > 0 {
			numbers := make([]any, fill)
			for i := range numbers {
				numbers[i] = json.Number("0")
			}
			res["fill"] = numbers
		}
		plain, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		out, err := sb.Notification("https://m.example/n", examplePublicKeyID, eventType, "s", "transaction", plain)
		if err != nil {
			t.Fatal(err)
		}
		leaves := transformtest.LeavesOf(res)
		want, clash, depth := leaves.Values, leaves.Clash, leaves.Depth
		ev, err := w.Verify(transform.Notification{Header: out.Header, Body: out.Body})
		fits := len(out.Body) <= transform.MaxNotification && depth <= maxResourceDepth && len(clash) == 0 && eventType != ""
		if err != nil {
			if fits {
				t.Fatalf("a signed notification of %d bytes, depth %d, %d members refused: %v", len(out.Body), depth, len(want), err)
			}
			return
		}
		if !fits {
			t.Fatalf("accepted: %d bytes, depth %d, names reached twice %v", len(out.Body), depth, clash)
		}
		envelope := map[string]string{"event_type": eventType, "summary": "s"}
		for k, v := range ev.Data {
			if e, ok := envelope[k]; ok {
				if v != e {
					t.Fatalf("data[%s] = %q, the envelope's %q", k, v, e)
				}
			} else if k != "notification_id" && want[k] != v {
				t.Fatalf("data[%s] = %q, encrypted %q", k, v, want[k])
			}
		}
		for k := range want {
			if _, ok := ev.Data[k]; !ok {
				t.Fatalf("member %s left out", k)
			}
		}
		agrees := func(member, state string) bool { v, ok := want[member]; return !ok || v == state }
		terminal := map[string]bool{
			transform.EventPaymentSucceeded: eventType == EventTransactionSuccess && agrees("trade_state", "SUCCESS"),
			transform.EventRefundSucceeded:  eventType == EventRefundSuccess && agrees("refund_status", "SUCCESS"),
			transform.EventRefundFailed: eventType == EventRefundAbnormal && agrees("refund_status", "ABNORMAL") ||
				eventType == EventRefundClosed && agrees("refund_status", "CLOSED"),
		}
		mapped := ""
		for typ, ok := range terminal {
			if ok {
				mapped = typ
			}
		}
		if ev.Type != transform.EventUnknown && ev.Type != mapped || ev.Type == transform.EventUnknown && mapped != "" {
			t.Fatalf("event_type %q, trade_state %q, refund_status %q: %s", eventType, want["trade_state"], want["refund_status"], ev.Type)
		}
		if ev.OrderID != want["out_trade_no"] || ev.ProviderOrderID != want["transaction_id"] {
			t.Fatalf("ids %q %q", ev.OrderID, ev.ProviderOrderID)
		}
	})
}
