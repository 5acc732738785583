package wechatv2

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// TestDocumentedStates pins every state WeChat documents for v2, written
// from its pages (docs/providers/wechat_v2.md: orderquery trade_state,
// refundquery refund_status_$n, the payment notification's result_code,
// the refund notification's refund_status) and from README's tables (Merchant
// API: the status and refund objects; Webhooks: the event), not from the
// code: what query, refund_query and the webhook say for each, values in
// another case and values WeChat does not document (a 502 naming them in a
// query, type unknown in an event), the amount and currency of unpaid
// answers with and without fee_type (none), and a query and a notification of the
// same order agreeing.
func TestDocumentedStates(t *testing.T) {
	c := newClient(t, testConfig(SignMD5))
	w := newWebhook(t, testConfig(SignMD5))
	outcome := transformtest.Outcome
	answer := func(fields ...string) transform.Params {
		p := transform.Params{{Name: "return_code", Value: "SUCCESS"}, {Name: "return_msg", Value: "OK"}, {Name: "appid", Value: vecAppID},
			{Name: "mch_id", Value: vecMchID}, {Name: "nonce_str", Value: "ec2316275641faa3aacf3cc599e8730f"}, {Name: "result_code", Value: "SUCCESS"}}
		for i := 0; i+1 < len(fields); i += 2 {
			p = append(p, transform.Param{Name: fields[i], Value: fields[i+1]})
		}
		return p
	}
	query := func(fields ...string) string {
		call, err := c.Prepare(context.Background(), "query", []byte(`{"order_id":"O1"}`))
		if err != nil {
			t.Fatal(err)
		}
		return outcome(call.Decode(200, nil, signedXML(answer(append([]string{"out_trade_no", "O1"}, fields...)...), vecAPIKey, SignMD5)))
	}
	refundQuery := func(fields ...string) string {
		call, err := c.Prepare(context.Background(), "refund_query", []byte(`{"refund_id":"O1-R1","order_id":"O1"}`))
		if err != nil {
			t.Fatal(err)
		}
		return outcome(call.Decode(200, nil, signedXML(answer(append([]string{"out_trade_no", "O1", "transaction_id", "4200000123",
			"refund_count", "1", "out_refund_no_0", "O1-R1", "refund_id_0", "50000123"}, fields...)...), vecAPIKey, SignMD5)))
	}
	event := transformtest.EventText
	// A payment notification as WeChat's 支付结果通知 lists it, changed in
	// the fields given and signed again.
	payment := func(fields ...string) string {
		p := notificationParams()
		for i := 0; i+1 < len(fields); i += 2 {
			if fields[i+1] == "" {
				p = slices.DeleteFunc(p, func(kv transform.Param) bool { return kv.Name == fields[i] })
				continue
			}
			p = set(p, fields[i], fields[i+1])
		}
		return event(w.Verify(transform.Notification{Body: signedXML(p, vecAPIKey, SignMD5)}))
	}
	// A refund notification: req_info encrypted under the key (退款结果通知).
	refund := func(plain string) string {
		reqInfo, err := EncryptRefundInfo([]byte(plain), RefundKey(vecAPIKey))
		if err != nil {
			t.Fatal(err)
		}
		return event(w.Verify(transform.Notification{Body: refundNotification(vecAppID, vecMchID, string(reqInfo))}))
	}
	refundPlain := func(status string) string {
		return `<root><transaction_id>4200000123</transaction_id><out_trade_no>O1</out_trade_no><refund_id>50000123</refund_id>` +
			`<out_refund_no>O1-R1</out_refund_no><total_fee>1234</total_fee><refund_fee>300</refund_fee><settlement_refund_fee>250</settlement_refund_fee>` +
			`<refund_status>` + status + `</refund_status><success_time>2026-11-22 10:05:00</success_time><refund_recv_accout>支付用户零钱</refund_recv_accout>` +
			`<refund_account>REFUND_SOURCE_RECHARGE_FUNDS</refund_account><refund_request_source>API</refund_request_source></root>`
	}
	const (
		paidFields = `"provider_order_id":"4200000123","amount":"12.34","currency":"CNY","paid_at":"2026-11-22T10:00:00+08:00"`
		noAmount   = `"provider_order_id":"","amount":"","currency":""`
	)
	paid := []string{"transaction_id", "4200000123", "total_fee", "1234", "fee_type", "CNY", "time_end", "20261122100000"}
	with := func(state string, fields ...string) []string {
		return append([]string{"trade_state", state}, fields...)
	}
	// status is README's status object of O1: fields begins with its
	// provider_order_id, which comes before status.
	status := func(state, status, fields string) string {
		pid, rest, _ := strings.Cut(fields, ",")
		return `{"provider":"wechat_v2","order_id":"O1",` + pid + `,"status":"` + status + `",` + rest + `,"provider_status":"` + state + `"}`
	}
	tests := []struct{ name, got, want string }{
		// orderquery trade_state: the payment's fields for a paid order
		{"query SUCCESS", query(with("SUCCESS", paid...)...), status("SUCCESS", "succeeded", paidFields)},
		{"query REFUND", query(with("REFUND", paid...)...), status("REFUND", "refunded", paidFields)},
		// fee_type 否, 默认人民币 CNY: a paid order's answer without it is CNY
		{"query SUCCESS without fee_type", query(with("SUCCESS", "transaction_id", "4200000123", "total_fee", "1234", "time_end", "20261122100000")...),
			status("SUCCESS", "succeeded", paidFields)},
		{"query SUCCESS in JPY", query(with("SUCCESS", "transaction_id", "4200000123", "total_fee", "1234", "fee_type", "JPY", "time_end", "20261122100000")...),
			status("SUCCESS", "succeeded", `"provider_order_id":"4200000123","amount":"1234","currency":"JPY","paid_at":"2026-11-22T10:00:00+08:00"`)},
		// not SUCCESS: 只返回out_trade_no（必传）和attach（选传）
		{"query NOTPAY", query(with("NOTPAY", "trade_state_desc", "订单未支付")...), status("NOTPAY", "pending", noAmount)},
		{"query USERPAYING", query(with("USERPAYING", "trade_state_desc", "需要用户输入支付密码")...), status("USERPAYING", "pending", noAmount)},
		// ACCEPT--已接收，等待扣款 (the mini program orderquery page): not paid yet
		{"query ACCEPT", query(with("ACCEPT", "trade_state_desc", "已接收，等待扣款")...), status("ACCEPT", "pending", noAmount)},
		{"query CLOSED", query(with("CLOSED", "trade_state_desc", "订单已关闭")...), status("CLOSED", "cancelled", noAmount)},
		{"query REVOKED", query(with("REVOKED", "trade_state_desc", "订单已撤销")...), status("REVOKED", "cancelled", noAmount)},
		{"query PAYERROR", query(with("PAYERROR", "trade_state_desc", "支付失败")...), status("PAYERROR", "failed", noAmount)},
		// A real unpaid answer may carry total_fee, with or without fee_type;
		// the payment's fields are WeChat's for a paid order only, and a
		// fee_type beside an unpaid one may be split off an attach the
		// merchant sent ("x&fee_type=JPY"), signing alike: no amount or
		// currency is stated for an unpaid order, whatever the answer
		// carries (README Merchant API, the status object).
		{"query NOTPAY with total_fee only", query(with("NOTPAY", "total_fee", "100", "trade_state_desc", "订单未支付")...),
			status("NOTPAY", "pending", noAmount)},
		{"query CLOSED with total_fee only", query(with("CLOSED", "total_fee", "100")...), status("CLOSED", "cancelled", noAmount)},
		{"query PAYERROR with total_fee only", query(with("PAYERROR", "total_fee", "100")...), status("PAYERROR", "failed", noAmount)},
		{"query NOTPAY with total_fee and fee_type", query(with("NOTPAY", "total_fee", "100", "fee_type", "JPY")...),
			status("NOTPAY", "pending", noAmount)},
		{"query CLOSED with total_fee and fee_type", query(with("CLOSED", "total_fee", "100", "fee_type", "CNY")...),
			status("CLOSED", "cancelled", noAmount)},
		{"query PAYERROR with total_fee and fee_type", query(with("PAYERROR", "total_fee", "100", "fee_type", "USD")...),
			status("PAYERROR", "failed", noAmount)},
		// every paid field on an unpaid order: WeChat's order id, but no
		// amount, and no paid_at from its time_end
		{"query PAYERROR with every field", query(with("PAYERROR", paid...)...),
			status("PAYERROR", "failed", `"provider_order_id":"4200000123","amount":"","currency":""`)},
		// never guessed: 502 naming the state
		{"query success (lower case)", query(with("success", paid...)...), "502 upstream_error success"},
		{"query Notpay", query(with("Notpay")...), "502 upstream_error Notpay"},
		{"query PROCESSING (undocumented)", query(with("PROCESSING")...), "502 upstream_error PROCESSING"},
		{"query without trade_state", query("total_fee", "100"), "502 upstream_error"},

		// refundquery refund_status_$n; refund_fee_$n in fee_type, 默认人民币 CNY
		{"refund_query SUCCESS", refundQuery("refund_fee_0", "300", "refund_status_0", "SUCCESS"), refundObject("succeeded", "SUCCESS")},
		{"refund_query PROCESSING", refundQuery("refund_fee_0", "300", "refund_status_0", "PROCESSING"), refundObject("pending", "PROCESSING")},
		{"refund_query REFUNDCLOSE", refundQuery("refund_fee_0", "300", "refund_status_0", "REFUNDCLOSE"), refundObject("failed", "REFUNDCLOSE")},
		{"refund_query CHANGE", refundQuery("refund_fee_0", "300", "refund_status_0", "CHANGE"), refundObject("failed", "CHANGE")},
		{"refund_query with fee_type", refundQuery("fee_type", "CNY", "refund_fee_0", "300", "refund_status_0", "SUCCESS"), refundObject("succeeded", "SUCCESS")},
		{"refund_query success (lower case)", refundQuery("refund_fee_0", "300", "refund_status_0", "success"), "502 upstream_error success"},
		{"refund_query ABNORMAL (v3's word)", refundQuery("refund_fee_0", "300", "refund_status_0", "ABNORMAL"), "502 upstream_error ABNORMAL"},
		{"refund_query without refund_status", refundQuery("refund_fee_0", "300"), "502 upstream_error"},

		// payment notification result_code; total_fee in fee_type, 默认人民币 CNY
		{"notification SUCCESS", payment(), "payment.succeeded O1 4200000123  12.34 CNY 2026-11-22T10:00:00+08:00"},
		{"notification SUCCESS without fee_type", payment("fee_type", ""), "payment.succeeded O1 4200000123  12.34 CNY 2026-11-22T10:00:00+08:00"},
		{"notification SUCCESS in HKD", payment("fee_type", "HKD"), "payment.succeeded O1 4200000123  12.34 HKD 2026-11-22T10:00:00+08:00"},
		{"notification FAIL", payment("result_code", "FAIL", "err_code", "SYSTEMERROR", "err_code_des", "系统错误"),
			"payment.failed O1 4200000123  12.34 CNY 2026-11-22T10:00:00+08:00"},
		{"notification success (lower case)", payment("result_code", "success"), "unknown O1 4200000123  12.34 CNY 2026-11-22T10:00:00+08:00"},
		{"notification without result_code", payment("result_code", ""), "unknown O1 4200000123  12.34 CNY 2026-11-22T10:00:00+08:00"},

		// refund notification refund_status; amount refund_fee (申请退款金额, settlement_refund_fee
		// being that less the non-recharge vouchers' refund), CNY (req_info names no currency)
		{"refund notification SUCCESS", refund(refundPlain("SUCCESS")), "refund.succeeded O1 4200000123 O1-R1 3.00 CNY 2026-11-22T10:05:00+08:00"},
		{"refund notification CHANGE", refund(refundPlain("CHANGE")), "refund.failed O1 4200000123 O1-R1 3.00 CNY 2026-11-22T10:05:00+08:00"},
		{"refund notification REFUNDCLOSE", refund(refundPlain("REFUNDCLOSE")), "refund.failed O1 4200000123 O1-R1 3.00 CNY 2026-11-22T10:05:00+08:00"},
		// never guessed into a refund type, and no refund_id outside refund
		// events (README Webhooks): data names the refund
		{"refund notification PROCESSING (not notified)", refund(refundPlain("PROCESSING")), "unknown O1 4200000123  3.00 CNY 2026-11-22T10:05:00+08:00"},
		{"refund notification success (lower case)", refund(refundPlain("success")), "unknown O1 4200000123  3.00 CNY 2026-11-22T10:05:00+08:00"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, tt.got, tt.want)
		}
	}

	// The same order told by a query and by its notification: the status
	// matches the event's type, WeChat's order id agrees, and for a paid
	// order the amount, currency and time (paid_at = occurred_at); a failed
	// order's query states no amount, where its notification does.
	agree := []struct {
		name          string
		notification  []string
		queryFields   []string
		status, event string
	}{
		{"paid", nil, with("SUCCESS", paid...), "succeeded", transform.EventPaymentSucceeded},
		{"paid without fee_type", []string{"fee_type", ""}, with("SUCCESS", "transaction_id", "4200000123", "total_fee", "1234", "time_end", "20261122100000"),
			"succeeded", transform.EventPaymentSucceeded},
		{"paid in USD", []string{"fee_type", "USD"}, with("SUCCESS", "transaction_id", "4200000123", "total_fee", "1234", "fee_type", "USD", "time_end", "20261122100000"),
			"succeeded", transform.EventPaymentSucceeded},
		{"failed", []string{"result_code", "FAIL"}, with("PAYERROR", paid...), "failed", transform.EventPaymentFailed},
	}
	for _, a := range agree {
		var st map[string]string
		if err := json.Unmarshal([]byte(query(a.queryFields...)), &st); err != nil {
			t.Fatalf("%s: %v", a.name, err)
		}
		parts := strings.Split(payment(a.notification...), " ")
		ev := map[string]string{"type": parts[0], "provider_order_id": parts[2], "amount": parts[4], "currency": parts[5], "occurred_at": parts[6]}
		amountAgrees := st["amount"] == ev["amount"] && st["currency"] == ev["currency"] && st["paid_at"] == ev["occurred_at"]
		if a.status != "succeeded" {
			amountAgrees = st["amount"] == "" && st["currency"] == "" && st["paid_at"] == ""
		}
		if st["status"] != a.status || ev["type"] != a.event || !amountAgrees || st["provider_order_id"] != ev["provider_order_id"] {
			t.Errorf("%s: the query says %v, the notification %v", a.name, st, ev)
		}
	}
	// A refund told by refund_query and by its notification.
	for _, s := range []struct{ state, status, event string }{
		{"SUCCESS", "succeeded", transform.EventRefundSucceeded}, {"REFUNDCLOSE", "failed", transform.EventRefundFailed},
		{"CHANGE", "failed", transform.EventRefundFailed},
	} {
		var r map[string]string
		if err := json.Unmarshal([]byte(refundQuery("refund_fee_0", "300", "settlement_refund_fee_0", "250", "refund_status_0", s.state)), &r); err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(refund(refundPlain(s.state)), " ")
		if r["status"] != s.status || parts[0] != s.event || r["amount"] != parts[4] || r["currency"] != parts[5] || r["refund_id"] != parts[3] {
			t.Errorf("refund %s: refund_query says %v, the notification %v", s.state, r, parts)
		}
	}
}

// refundObject is README's refund object for refund O1-R1 of 3.00 CNY.
func refundObject(status, providerStatus string) string {
	return `{"provider":"wechat_v2","order_id":"O1","refund_id":"O1-R1","provider_refund_id":"50000123","status":"` + status +
		`","amount":"3.00","currency":"CNY","provider_status":"` + providerStatus + `"}`
}
