package wechatv3

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// TestDocumentedStates pins every state WeChat documents for v3, written
// from its pages (docs/providers/wechat_v3.md: the transaction's
// trade_state, the refund's status, the notification's event_type and the
// resource's trade_state / refund_status) and from README's tables (Merchant
// API: the status and refund objects; WeChat Pay API v3; What the merchant
// can trust), not from the code: what query, refund_query and the webhook
// say for each, values in another case and values v3 does not document (a
// 502 naming them in a query, type unknown in an event), unpaid answers with
// and without an amount (v3 JSAPI is CNY only, README WeChat Pay API v3:
// an amount without currency is CNY), and a query and a notification of the
// same order agreeing.
func TestDocumentedStates(t *testing.T) {
	c := pinnedClient(t, nil)
	sb, _ := newSandbox(t, nil)
	w := must(NewWebhook(merchantConfig(t)))
	outcome := transformtest.Outcome
	answer := func(op, req, body string) string {
		call := prepare(t, c, op, req)
		return outcome(call.Decode(200, platformAnswer(t, examplePublicKeyID, transformtest.Pinned, body), []byte(body)))
	}
	// A transaction object as the query page lists it, in the state given,
	// with the members given after trade_state_desc.
	query := func(state, rest string) string {
		return answer("query", `{"order_id":"ORDER1"}`, `{"appid":"wx8888888888888888","mchid":"1900000109","out_trade_no":"ORDER1",`+
			`"trade_state":"`+state+`","trade_state_desc":"说明"`+rest+`}`)
	}
	refundQuery := func(status string) string {
		return answer("refund_query", `{"refund_id":"ORDER1-R1","order_id":"ORDER1"}`, `{"refund_id":"50300012","out_refund_no":"ORDER1-R1",`+
			`"transaction_id":"4200000123","out_trade_no":"ORDER1","channel":"ORIGINAL","user_received_account":"支付用户零钱",`+
			`"create_time":"2026-11-29T10:01:00+08:00","status":"`+status+`","amount":{"total":1234,"refund":300,"payer_total":1234,"payer_refund":300,"currency":"CNY"}}`)
	}
	event := transformtest.EventText
	notify := func(eventType, resource string) string {
		return event(w.Verify(notificationOf(t, sb, examplePublicKeyID, eventType, resource)))
	}
	transaction := func(state string) string {
		return `{"mchid":"1900000109","appid":"wx8888888888888888","out_trade_no":"ORDER1","transaction_id":"4200000123","trade_type":"JSAPI",` +
			`"trade_state":"` + state + `","trade_state_desc":"支付成功","bank_type":"OTHERS","attach":"","success_time":"2026-11-29T10:00:05+08:00",` +
			`"payer":{"openid":"o1"},"amount":{"total":1234,"payer_total":1234,"currency":"CNY","payer_currency":"CNY"}}`
	}
	refundResource := func(status string) string {
		return `{"mchid":"1900000109","out_trade_no":"ORDER1","transaction_id":"4200000123","out_refund_no":"ORDER1-R1","refund_id":"50300012",` +
			`"refund_status":"` + status + `","success_time":"2026-11-29T10:05:00+08:00","user_received_account":"支付用户零钱",` +
			`"amount":{"total":1234,"refund":300,"payer_total":1234,"payer_refund":300}}`
	}
	const paid = `,"transaction_id":"4200000123","success_time":"2026-11-29T10:00:05+08:00","amount":{"total":1234,"payer_total":1234,"currency":"CNY","payer_currency":"CNY"}`
	// status is README's status object of ORDER1: fields begins with its
	// provider_order_id, which comes before status.
	status := func(state, status, fields string) string {
		pid, rest, _ := strings.Cut(fields, ",")
		return `{"provider":"wechat_v3","order_id":"ORDER1",` + pid + `,"status":"` + status + `",` + rest + `,"provider_status":"` + state + `"}`
	}
	const (
		paidFields = `"provider_order_id":"4200000123","amount":"12.34","currency":"CNY","paid_at":"2026-11-29T10:00:05+08:00"`
		unpaid     = `"provider_order_id":"","amount":"12.34","currency":"CNY"`
		noAmount   = `"provider_order_id":"","amount":"","currency":""`
	)
	refundObject := func(status, providerStatus string) string {
		return `{"provider":"wechat_v3","order_id":"ORDER1","refund_id":"ORDER1-R1","provider_refund_id":"50300012","status":"` + status +
			`","amount":"3.00","currency":"CNY","provider_status":"` + providerStatus + `"}`
	}
	tests := []struct{ name, got, want string }{
		{"query SUCCESS", query("SUCCESS", paid), status("SUCCESS", "succeeded", paidFields)},
		{"query REFUND", query("REFUND", paid), status("REFUND", "refunded", paidFields)},
		// an unpaid order's answer carries amount.total and payer_currency, no currency: CNY
		{"query NOTPAY", query("NOTPAY", `,"amount":{"total":1234,"payer_currency":"CNY"}`), status("NOTPAY", "pending", unpaid)},
		{"query NOTPAY without amount", query("NOTPAY", ""), status("NOTPAY", "pending", noAmount)},
		{"query USERPAYING", query("USERPAYING", `,"amount":{"total":1234,"currency":"CNY"}`), status("USERPAYING", "pending", unpaid)},
		{"query CLOSED", query("CLOSED", `,"amount":{"total":1234}`), status("CLOSED", "cancelled", unpaid)},
		{"query REVOKED", query("REVOKED", `,"amount":{"total":1234}`), status("REVOKED", "cancelled", unpaid)},
		// success_time on a failed order gives no paid_at
		{"query PAYERROR", query("PAYERROR", paid), status("PAYERROR", "failed", `"provider_order_id":"4200000123","amount":"12.34","currency":"CNY"`)},
		// never guessed: ACCEPT is v2's (its mini program orderquery page), not on v3's pages
		{"query ACCEPT", query("ACCEPT", ""), "502 upstream_error ACCEPT"},
		{"query success (lower case)", query("success", paid), "502 upstream_error success"},
		{"query PROCESSING", query("PROCESSING", ""), "502 upstream_error PROCESSING"},
		{"query without trade_state", answer("query", `{"order_id":"ORDER1"}`, `{"appid":"wx8888888888888888","mchid":"1900000109","out_trade_no":"ORDER1"}`), "502 upstream_error"},

		{"refund_query SUCCESS", refundQuery("SUCCESS"), refundObject("succeeded", "SUCCESS")},
		{"refund_query PROCESSING", refundQuery("PROCESSING"), refundObject("pending", "PROCESSING")},
		{"refund_query CLOSED", refundQuery("CLOSED"), refundObject("failed", "CLOSED")},
		{"refund_query ABNORMAL", refundQuery("ABNORMAL"), refundObject("failed", "ABNORMAL")},
		{"refund_query REFUNDCLOSE (v2's word)", refundQuery("REFUNDCLOSE"), "502 upstream_error REFUNDCLOSE"},
		{"refund_query success (lower case)", refundQuery("success"), "502 upstream_error success"},

		{"TRANSACTION.SUCCESS", notify(EventTransactionSuccess, transaction("SUCCESS")), "payment.succeeded ORDER1 4200000123  12.34 CNY 2026-11-29T10:00:05+08:00"},
		{"TRANSACTION.SUCCESS without currency", notify(EventTransactionSuccess, strings.Replace(transaction("SUCCESS"), `"currency":"CNY",`, "", 1)),
			"payment.succeeded ORDER1 4200000123  12.34 CNY 2026-11-29T10:00:05+08:00"},
		// the resource's own state disagreeing, or the kind in another case: unknown
		{"TRANSACTION.SUCCESS with trade_state success", notify(EventTransactionSuccess, transaction("success")), "unknown ORDER1 4200000123    2026-11-29T10:00:05+08:00"},
		{"TRANSACTION.SUCCESS with trade_state REFUND", notify(EventTransactionSuccess, transaction("REFUND")), "unknown ORDER1 4200000123    2026-11-29T10:00:05+08:00"},
		{"transaction.success", notify("transaction.success", transaction("SUCCESS")), "unknown ORDER1 4200000123    2026-11-29T10:00:05+08:00"},
		{"REFUND.SUCCESS", notify(EventRefundSuccess, refundResource("SUCCESS")), "refund.succeeded ORDER1 4200000123 ORDER1-R1 3.00 CNY 2026-11-29T10:05:00+08:00"},
		{"REFUND.ABNORMAL", notify(EventRefundAbnormal, refundResource("ABNORMAL")), "refund.failed ORDER1 4200000123 ORDER1-R1 3.00 CNY 2026-11-29T10:05:00+08:00"},
		{"REFUND.CLOSED", notify(EventRefundClosed, refundResource("CLOSED")), "refund.failed ORDER1 4200000123 ORDER1-R1 3.00 CNY 2026-11-29T10:05:00+08:00"},
		{"REFUND.CLOSED with refund_status ABNORMAL", notify(EventRefundClosed, refundResource("ABNORMAL")), "unknown ORDER1 4200000123    2026-11-29T10:05:00+08:00"},
		{"REFUND.SUCCESS with refund_status PROCESSING", notify(EventRefundSuccess, refundResource("PROCESSING")), "unknown ORDER1 4200000123    2026-11-29T10:05:00+08:00"},
		{"refund.success", notify("refund.success", refundResource("SUCCESS")), "unknown ORDER1 4200000123    2026-11-29T10:05:00+08:00"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, tt.got, tt.want)
		}
	}

	// The same order and refund told by a query and by a notification.
	var st map[string]string
	if err := json.Unmarshal([]byte(query("SUCCESS", paid)), &st); err != nil {
		t.Fatal(err)
	}
	ev := strings.Split(notify(EventTransactionSuccess, transaction("SUCCESS")), " ")
	if st["status"] != "succeeded" || ev[0] != transform.EventPaymentSucceeded || st["provider_order_id"] != ev[2] || st["amount"] != ev[4] ||
		st["currency"] != ev[5] || st["paid_at"] != ev[6] {
		t.Errorf("the query says %v, the notification %v", st, ev)
	}
	for _, s := range []struct{ eventType, state, status, typ string }{
		{EventRefundSuccess, "SUCCESS", "succeeded", transform.EventRefundSucceeded},
		{EventRefundAbnormal, "ABNORMAL", "failed", transform.EventRefundFailed},
		{EventRefundClosed, "CLOSED", "failed", transform.EventRefundFailed},
	} {
		var r map[string]string
		if err := json.Unmarshal([]byte(refundQuery(s.state)), &r); err != nil {
			t.Fatal(err)
		}
		ev := strings.Split(notify(s.eventType, refundResource(s.state)), " ")
		if r["status"] != s.status || ev[0] != s.typ || r["refund_id"] != ev[3] || r["amount"] != ev[4] || r["currency"] != ev[5] {
			t.Errorf("refund %s: refund_query says %v, the notification %v", s.state, r, ev)
		}
	}
}
