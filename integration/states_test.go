package integration

import (
	"net/http"
	"testing"
	"time"
)

// TestSandboxStatesQueryAgreesWithEvents: through Caddyfile.example, each
// provider's sandbox is driven through every state it can produce (README
// Sandbox: /sandbox/complete failed, succeeded and refunded, the merchant
// API's refund and close), and after each step the merchant's query (and
// refund_query) and the event the webhook forwarded tell the same story, in
// README's words: the status matches the event's type (payment.succeeded ↔
// succeeded, payment.failed ↔ failed, refund.succeeded ↔ refunded and the
// refund succeeded), with the same provider_order_id, amount, currency and
// time (paid_at = occurred_at), and a step that sends no notification (a
// wechat_v3 failure, a close, a Latipay refund) forwards no event. Where the
// provider's words differ README says so and so does this test: WeChat v2's
// orderquery states no amount for an unpaid order, CBTIS's query keeps to
// its documented statuses (pending after its undocumented payment_failed,
// forwarded as unknown; succeeded after a refund), Latipay signs no time
// (its pay_time, unverified in the event, is the query's paid_at).
func TestSandboxStatesQueryAgreesWithEvents(t *testing.T) {
	tc, merchant, sandbox, _ := startExample(t)
	base, sb := "http://localhost:"+itoa(merchant), "http://localhost:"+itoa(sandbox)
	seen := 0
	// newEvents is what the demo merchant received since the last call.
	newEvents := func() []map[string]any {
		t.Helper()
		all := do(t, tc, http.MethodGet, sb+"/sandbox/merchant/events", "", nil).json(t)["events"].([]any)
		var out []map[string]any
		for _, e := range all[seen:] {
			rec := e.(map[string]any)
			ev := rec["event"].(map[string]any)
			if rec["minipay_event_id"] != ev["id"] {
				t.Errorf("Minipay-Event-Id %v for the event %v", rec["minipay_event_id"], ev["id"])
			}
			out = append(out, ev)
		}
		seen = len(all)
		return out
	}
	// oneEvent is the one event a step forwarded, or none; a notification
	// the sandbox sends by itself (wechat_v3's refund, right after its
	// answer) arrives on its own time, so a wanted event is waited for.
	oneEvent := func(what string, wantType string) map[string]any {
		t.Helper()
		evs := newEvents()
		for deadline := time.Now().Add(10 * time.Second); wantType != "" && len(evs) == 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
			evs = newEvents()
		}
		if wantType == "" {
			if len(evs) != 0 {
				t.Errorf("%s: events %v, want none", what, evs)
			}
			return nil
		}
		if len(evs) != 1 || evs[0]["type"] != wantType {
			t.Fatalf("%s: events %v, want one %s", what, evs, wantType)
		}
		return evs[0]
	}
	call := func(path, body string) map[string]any {
		t.Helper()
		r := postJSON(t, tc, base+path, body)
		if r.status != 200 {
			t.Fatalf("%s %s: %d %s", path, body, r.status, r.body)
		}
		return r.json(t)
	}
	complete := func(provider, order, result string, delivered bool) {
		t.Helper()
		r := postJSON(t, tc, sb+"/sandbox/complete", `{"provider":"`+provider+`","order_id":"`+order+`","result":"`+result+`"}`)
		if r.status != 200 || r.json(t)["delivered"] != delivered || delivered && r.json(t)["acknowledged"] != true {
			t.Fatalf("%s complete %s %s: %d %s", provider, order, result, r.status, r.body)
		}
	}
	// agree checks a status object against the payment event of the same order.
	agree := func(what string, st, ev map[string]any, status string, amount bool) {
		t.Helper()
		if st["status"] != status {
			t.Errorf("%s: query status %v, want %s (event %v)", what, st["status"], status, ev["type"])
		}
		if ev == nil {
			return
		}
		// an unpaid order's orderquery has no transaction_id (WeChat v2): the id is compared once paid
		paidState := status == "succeeded" || status == "refunded"
		if st["order_id"] != ev["order_id"] || ev["provider_order_id"] != nil && (paidState || st["provider_order_id"] != "") && st["provider_order_id"] != ev["provider_order_id"] {
			t.Errorf("%s: query %v, event %v: another order", what, st, ev)
		}
		if amount && (st["amount"] != ev["amount"] || st["currency"] != ev["currency"]) {
			t.Errorf("%s: query %v %v, event %v %v", what, st["amount"], st["currency"], ev["amount"], ev["currency"])
		}
		if at, ok := ev["occurred_at"]; ok && paidState && st["paid_at"] != at {
			t.Errorf("%s: paid_at %v, occurred_at %v", what, st["paid_at"], at)
		}
	}
	pay := func(path, order, currency string) map[string]any {
		return call(path+"/pay", `{"order_id":"`+order+`","amount":"12.30","currency":"`+currency+`","description":"d","openid":"o-states"}`)
	}
	query := func(path, order string) map[string]any { return call(path+"/query", `{"order_id":"`+order+`"}`) }

	// wechat_v2: NOTPAY, PAYERROR (payment.failed), SUCCESS (payment.succeeded), a refund PROCESSING then SUCCESS (refund.succeeded), REFUND; CLOSED
	pay("/wechat", "ST-V2-0001", "CNY")
	agree("v2 unpaid", query("/wechat", "ST-V2-0001"), oneEvent("v2 pay", ""), "pending", true)
	complete("wechat_v2", "ST-V2-0001", "failed", true)
	st := query("/wechat", "ST-V2-0001")
	agree("v2 failed", st, oneEvent("v2 failed", "payment.failed"), "failed", false)
	if st["amount"] != "" || st["provider_status"] != "PAYERROR" { // orderquery states no amount for an unpaid order
		t.Errorf("v2 failed: query %v", st)
	}
	complete("wechat_v2", "ST-V2-0001", "succeeded", true)
	paid := oneEvent("v2 succeeded", "payment.succeeded")
	agree("v2 succeeded", query("/wechat", "ST-V2-0001"), paid, "succeeded", true)
	r := call("/wechat/refund", `{"order_id":"ST-V2-0001","refund_id":"ST-V2-0001-R1","amount":"2.30","currency":"CNY","total_amount":"12.30"}`)
	rq := call("/wechat/refund_query", `{"order_id":"ST-V2-0001","refund_id":"ST-V2-0001-R1"}`)
	if r["status"] != "pending" || rq["status"] != "pending" || rq["provider_status"] != "PROCESSING" || rq["amount"] != "2.30" {
		t.Errorf("v2 refund %v, refund_query %v", r, rq)
	}
	oneEvent("v2 refund asked", "")
	complete("wechat_v2", "ST-V2-0001", "refunded", true)
	refunded := oneEvent("v2 refunded", "refund.succeeded")
	rq = call("/wechat/refund_query", `{"order_id":"ST-V2-0001","refund_id":"ST-V2-0001-R1"}`)
	if rq["status"] != "succeeded" || rq["refund_id"] != refunded["refund_id"] || rq["amount"] != refunded["amount"] ||
		rq["currency"] != refunded["currency"] || refunded["order_id"] != "ST-V2-0001" {
		t.Errorf("v2: refund_query %v, refund event %v", rq, refunded)
	}
	agree("v2 refunded", query("/wechat", "ST-V2-0001"), paid, "refunded", true)
	pay("/wechat", "ST-V2-0002", "CNY")
	call("/wechat/close", `{"order_id":"ST-V2-0002"}`)
	agree("v2 closed", query("/wechat", "ST-V2-0002"), oneEvent("v2 close", ""), "cancelled", true)

	// wechat_v3: NOTPAY, PAYERROR (WeChat notifies no failure), SUCCESS, a refund notified at once (REFUND.SUCCESS), REFUND; CLOSED
	pay("/wechat_v3", "ST-V3-0001", "CNY")
	agree("v3 unpaid", query("/wechat_v3", "ST-V3-0001"), oneEvent("v3 pay", ""), "pending", true)
	complete("wechat_v3", "ST-V3-0001", "failed", false)
	agree("v3 failed", query("/wechat_v3", "ST-V3-0001"), oneEvent("v3 failed", ""), "failed", true)
	complete("wechat_v3", "ST-V3-0001", "succeeded", true)
	paid = oneEvent("v3 succeeded", "payment.succeeded")
	agree("v3 succeeded", query("/wechat_v3", "ST-V3-0001"), paid, "succeeded", true)
	r = call("/wechat_v3/refund", `{"order_id":"ST-V3-0001","refund_id":"ST-V3-0001-R1","amount":"2.30","currency":"CNY","total_amount":"12.30"}`)
	refunded = oneEvent("v3 refunded", "refund.succeeded")
	rq = call("/wechat_v3/refund_query", `{"order_id":"ST-V3-0001","refund_id":"ST-V3-0001-R1"}`)
	if r["status"] != "pending" || rq["status"] != "succeeded" || rq["refund_id"] != refunded["refund_id"] || rq["amount"] != refunded["amount"] ||
		rq["currency"] != refunded["currency"] || rq["amount"] != "2.30" {
		t.Errorf("v3: refund %v, refund_query %v, refund event %v", r, rq, refunded)
	}
	agree("v3 refunded", query("/wechat_v3", "ST-V3-0001"), paid, "refunded", true)
	pay("/wechat_v3", "ST-V3-0002", "CNY")
	call("/wechat_v3/close", `{"order_id":"ST-V3-0002"}`)
	agree("v3 closed", query("/wechat_v3", "ST-V3-0002"), oneEvent("v3 close", ""), "cancelled", true)

	// 2C2P (no query): 99/F payment.failed, then 00/A payment.succeeded, for the pay answer's tranRef
	tranRef := pay("/2c2p", "ST-2C2P-1", "SGD")["provider_order_id"]
	complete("2c2p", "ST-2C2P-1", "failed", true)
	if ev := oneEvent("2c2p failed", "payment.failed"); ev["provider_order_id"] != tranRef || ev["order_id"] != "ST-2C2P-1" {
		t.Errorf("2c2p failed: %v, tranRef %v", ev, tranRef)
	}
	complete("2c2p", "ST-2C2P-1", "succeeded", true)
	if ev := oneEvent("2c2p succeeded", "payment.succeeded"); ev["provider_order_id"] != tranRef || ev["amount"] != "12.30" || ev["currency"] != "SGD" {
		t.Errorf("2c2p succeeded: %v, tranRef %v", ev, tranRef)
	}

	// Latipay: pending, failed (payment.failed), paid (payment.succeeded); a refund sends nothing and the order stays paid
	pay("/latipay", "ST-LATI-1", "NZD")
	agree("latipay unpaid", query("/latipay", "ST-LATI-1"), oneEvent("latipay pay", ""), "pending", true)
	complete("latipay", "ST-LATI-1", "failed", true)
	agree("latipay failed", query("/latipay", "ST-LATI-1"), oneEvent("latipay failed", "payment.failed"), "failed", true)
	complete("latipay", "ST-LATI-1", "succeeded", true)
	paid = oneEvent("latipay succeeded", "payment.succeeded")
	st = query("/latipay", "ST-LATI-1")
	agree("latipay succeeded", st, paid, "succeeded", true)
	// pay_time names no zone: the query's paid_at is that wall-clock time in the zone it is read in
	// (README Latipay), whichever that is
	payTime := str(paid["data"].(map[string]any)["unverified.pay_time"])
	if at, err := time.Parse(time.RFC3339, str(st["paid_at"])); err != nil || at.Format(time.DateTime) != payTime {
		t.Errorf("latipay: paid_at %v, the notification's pay_time %q", st["paid_at"], payTime)
	}
	call("/latipay/refund", `{"order_id":"ST-LATI-1","refund_id":"ST-LATI-1-R1","amount":"12.30","currency":"NZD","provider_order_id":"`+str(st["provider_order_id"])+`"}`)
	agree("latipay refunded", query("/latipay", "ST-LATI-1"), oneEvent("latipay refund", ""), "succeeded", true)

	// CBTIS: PENDING, payment_failed (unknown: the query stays PENDING), SUCCEEDED (payment.succeeded), refund_success (query stays SUCCEEDED)
	pay("/cbtis", "ST-CBTIS-1", "HKD")
	agree("cbtis unpaid", query("/cbtis", "ST-CBTIS-1"), oneEvent("cbtis pay", ""), "pending", true)
	complete("cbtis", "ST-CBTIS-1", "failed", true)
	agree("cbtis failed", query("/cbtis", "ST-CBTIS-1"), oneEvent("cbtis failed", "unknown"), "pending", true)
	complete("cbtis", "ST-CBTIS-1", "succeeded", true)
	paid = oneEvent("cbtis succeeded", "payment.succeeded")
	agree("cbtis succeeded", query("/cbtis", "ST-CBTIS-1"), paid, "succeeded", true)
	complete("cbtis", "ST-CBTIS-1", "refunded", true)
	refunded = oneEvent("cbtis refunded", "refund.succeeded")
	if refunded["order_id"] != "ST-CBTIS-1" || refunded["amount"] != "12.30" || refunded["currency"] != "HKD" {
		t.Errorf("cbtis refund event %v", refunded)
	}
	agree("cbtis refunded", query("/cbtis", "ST-CBTIS-1"), paid, "succeeded", true)
}
