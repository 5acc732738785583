package wechatv2

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

func newSandbox(t testing.TB, cfg Config) *Sandbox {
	s := transformtest.Must(t, NewSandbox, cfg)
	s.Now = transformtest.Clock
	return s
}

// sandboxDo posts body to path and returns the answer's parameters, after
// checking the answer is signed (when return_code is SUCCESS) with refSign.
func sandboxDo(t *testing.T, s *Sandbox, path string, body []byte, signType string) transform.Params {
	t.Helper()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/xml") {
		t.Fatalf("%s answered %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
	}
	if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(rec.Body.Len()) {
		t.Fatalf("Content-Length %s for %d bytes", cl, rec.Body.Len())
	}
	p := parseXML(t, rec.Body.Bytes())
	if p.Get("return_code") == "SUCCESS" {
		if p.Get("sign") != refSign(p, vecAPIKey, signType) {
			t.Fatalf("the sandbox's answer is not signed with the merchant's key (%s): %s", signType, rec.Body.Bytes())
		}
		if p.Get("appid") != s.cfg.AppID || p.Get("mch_id") != s.cfg.MchID {
			t.Fatalf("answer for another merchant: %s", rec.Body.Bytes())
		}
	} else if p.Has("sign") {
		t.Fatalf("a communication failure is signed: %s", rec.Body.Bytes())
	}
	return p
}

// unifiedOrder is a unifiedorder request as a merchant's own code would send it.
func unifiedOrder(orderID, fee, body string, extra ...transform.Param) transform.Params {
	return append(transform.Params{
		{Name: "appid", Value: vecAppID}, {Name: "mch_id", Value: vecMchID}, {Name: "nonce_str", Value: "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"},
		{Name: "body", Value: body}, {Name: "out_trade_no", Value: orderID}, {Name: "total_fee", Value: fee},
		{Name: "fee_type", Value: "CNY"}, {Name: "spbill_create_ip", Value: clientIP}, {Name: "notify_url", Value: notifyURL},
		{Name: "trade_type", Value: "JSAPI"}, {Name: "openid", Value: openID},
	}, extra...)
}

func orderReq(orderID string, extra ...transform.Param) transform.Params {
	return append(transform.Params{
		{Name: "appid", Value: vecAppID}, {Name: "mch_id", Value: vecMchID}, {Name: "nonce_str", Value: "n"}, {Name: "out_trade_no", Value: orderID},
	}, extra...)
}

func wantResult(t *testing.T, p transform.Params, result, errCode string) {
	t.Helper()
	if p.Get("return_code") != "SUCCESS" || p.Get("result_code") != result || p.Get("err_code") != errCode {
		t.Fatalf("answer %v, want result_code %s err_code %q", p.Map(), result, errCode)
	}
}

func TestSandboxCommunicationFailures(t *testing.T) {
	s := newSandbox(t, testConfig(""))
	tests := []struct {
		name, msg string
		body      []byte
	}{
		{"bad sign", "签名错误", []byte(strings.Replace(string(signedXML(unifiedOrder("O1", "1234", "b"), vecAPIKey, SignMD5)), "<total_fee><![CDATA[1234]]>", "<total_fee><![CDATA[1]]>", 1))},
		{"another key", "签名错误", signedXML(unifiedOrder("O1", "1234", "b"), otherKey, SignMD5)},
		{"HMAC sign without sign_type", "签名错误", signedXML(unifiedOrder("O1", "1234", "b"), vecAPIKey, SignHMACSHA256)},
		{"no sign", "签名错误", transform.AppendFlatXML(nil, "xml", unifiedOrder("O1", "1234", "b"))},
		{"unknown sign_type", "sign_type参数错误", signedXML(unifiedOrder("O1", "1234", "b", transform.Param{Name: "sign_type", Value: "SHA1"}), vecAPIKey, SignMD5)},
		{"not XML", "XML格式错误", []byte(`{"appid":"x"}`)},
		{"DOCTYPE", "XML格式错误", []byte(`<!DOCTYPE xml [<!ENTITY e "x">]><xml><appid>&e;</appid></xml>`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := sandboxDo(t, s, PathUnifiedOrder, tt.body, SignMD5)
			if p.Get("return_code") != "FAIL" || p.Get("return_msg") != tt.msg || len(p) != 2 {
				t.Fatalf("answer %v, want return_code FAIL %s", p.Map(), tt.msg)
			}
		})
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PathUnifiedOrder, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET answered %d", rec.Code)
	}
	if len(s.orders) != 0 {
		t.Fatal("a refused request created an order")
	}
}

func TestSandboxBusinessFailures(t *testing.T) {
	s := newSandbox(t, testConfig(""))
	tests := []struct {
		name, errCode string
		p             transform.Params
	}{
		{"foreign appid", "APPID_MCHID_NOT_MATCH", set(unifiedOrder("O1", "1", "b"), "appid", "wx0000000000000000")},
		{"no nonce", "LACK_PARAMS", set(unifiedOrder("O1", "1", "b"), "nonce_str", "")},
		{"long nonce", "LACK_PARAMS", set(unifiedOrder("O1", "1", "b"), "nonce_str", strings.Repeat("n", 33))},
		{"no notify_url", "LACK_PARAMS", set(unifiedOrder("O1", "1", "b"), "notify_url", "")},
		{"notify_url with a query", "INVALID_REQUEST", set(unifiedOrder("O1", "1", "b"), "notify_url", "https://merchant.example/notify?order=O1")},
		{"notify_url with an empty query", "INVALID_REQUEST", set(unifiedOrder("O1", "1", "b"), "notify_url", "https://merchant.example/notify?")},
		{"relative notify_url", "INVALID_REQUEST", set(unifiedOrder("O1", "1", "b"), "notify_url", "/notify")},
		{"notify_url of another scheme", "INVALID_REQUEST", set(unifiedOrder("O1", "1", "b"), "notify_url", "ftp://merchant.example/notify")},
		{"no openid", "LACK_PARAMS", set(unifiedOrder("O1", "1", "b"), "openid", "")},
		{"decimal total_fee", "INVALID_REQUEST", unifiedOrder("O1", "12.34", "b")},
		{"zero total_fee", "INVALID_REQUEST", unifiedOrder("O1", "0", "b")},
		{"padded total_fee", "INVALID_REQUEST", unifiedOrder("O1", "01", "b")},
		// total_fee is WeChat's Int (docs/providers/wechat_v2.md "unifiedorder fields")
		{"total_fee past Int", "INVALID_REQUEST", unifiedOrder("O1", "2147483648", "b")},
		{"long body", "INVALID_REQUEST", unifiedOrder("O1", "1", strings.Repeat("商", 43))},
		{"bad out_trade_no", "INVALID_REQUEST", unifiedOrder("O 1", "1", "b")},
		{"time_expire too soon", "INVALID_REQUEST", unifiedOrder("O1", "1", "b", transform.Param{Name: "time_expire", Value: "20261122100400"})},
		{"time_expire unreadable", "INVALID_REQUEST", unifiedOrder("O1", "1", "b", transform.Param{Name: "time_expire", Value: "2026-11-22"})},
		// yyyyMMddHHmmss exactly: Go's time.Parse alone reads a fraction after it
		{"time_expire with a fraction", "INVALID_REQUEST", unifiedOrder("O1", "1", "b", transform.Param{Name: "time_expire", Value: "20991122100500.5"})},
		{"time_expire with a comma fraction", "INVALID_REQUEST", unifiedOrder("O1", "1", "b", transform.Param{Name: "time_expire", Value: "20991122100500,5"})},
		// fee_type is an ISO 4217 code (docs/providers/wechat_v2.md "Endpoints")
		{"unknown fee_type", "INVALID_REQUEST", set(unifiedOrder("O1", "1", "b"), "fee_type", "XYZ")},
		{"lower-case fee_type", "INVALID_REQUEST", set(unifiedOrder("O1", "1", "b"), "fee_type", "cny")},
		{"numeric fee_type", "INVALID_REQUEST", set(unifiedOrder("O1", "1", "b"), "fee_type", "156")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantResult(t, sandboxDo(t, s, PathUnifiedOrder, signedXML(tt.p, vecAPIKey, SignMD5), SignMD5), "FAIL", tt.errCode)
		})
	}
	// five minutes ahead in Beijing time is enough
	p := sandboxDo(t, s, PathUnifiedOrder, signedXML(unifiedOrder("O1", "1", "b", transform.Param{Name: "time_expire", Value: "20261122100500"}), vecAPIKey, SignMD5), SignMD5)
	wantResult(t, p, "SUCCESS", "")
}

func TestSandboxOrderLifecycle(t *testing.T) {
	for _, signType := range []string{SignMD5, SignHMACSHA256} {
		t.Run(signType, func(t *testing.T) {
			s := newSandbox(t, testConfig(signType))
			do := func(path string, p transform.Params) transform.Params {
				p = append(p[:len(p):len(p)], transform.Param{Name: "sign_type", Value: signType})
				return sandboxDo(t, s, path, signedXML(p, vecAPIKey, signType), signType)
			}

			a := do(PathUnifiedOrder, unifiedOrder("O1", "1234", "测试商品"))
			wantResult(t, a, "SUCCESS", "")
			prepay := a.Get("prepay_id")
			if !strings.HasPrefix(prepay, "wx20261122100000") || a.Get("trade_type") != "JSAPI" {
				t.Fatalf("prepay_id %q", prepay)
			}
			// the same order again: the same prepay_id (WeChat's idempotent retry)
			if again := do(PathUnifiedOrder, unifiedOrder("O1", "1234", "测试商品")); again.Get("prepay_id") != prepay {
				t.Fatalf("retry got %q, want %q", again.Get("prepay_id"), prepay)
			}
			// the same out_trade_no with another amount or body
			wantResult(t, do(PathUnifiedOrder, unifiedOrder("O1", "1235", "测试商品")), "FAIL", "INVALID_REQUEST")
			wantResult(t, do(PathUnifiedOrder, unifiedOrder("O1", "1234", "other")), "FAIL", "INVALID_REQUEST")
			// or in another currency: 1234 JPY is not the order's 12.34 CNY
			wantResult(t, do(PathUnifiedOrder, set(unifiedOrder("O1", "1234", "测试商品"), "fee_type", "JPY")), "FAIL", "INVALID_REQUEST")
			// or for another payer: a prepay is the payer's
			wantResult(t, do(PathUnifiedOrder, set(unifiedOrder("O1", "1234", "测试商品"), "openid", "oOtherPayer")), "FAIL", "INVALID_REQUEST")
			// fee_type left out is CNY, the order's: the same order
			if again := do(PathUnifiedOrder, set(unifiedOrder("O1", "1234", "测试商品"), "fee_type", "")); again.Get("prepay_id") != prepay {
				t.Fatalf("retry without fee_type got %q, want %q", again.Get("prepay_id"), prepay)
			}

			q := do(PathOrderQuery, orderReq("O1"))
			wantResult(t, q, "SUCCESS", "")
			// orderquery of an unpaid order: "如trade_state不为 SUCCESS，则只返回
			// out_trade_no（必传）和attach（选传）" (WeChat's orderquery page)
			if q.Get("trade_state") != "NOTPAY" || q.Get("trade_state_desc") != "订单未支付" || q.Get("out_trade_no") != "O1" {
				t.Fatalf("query %v", q.Map())
			}
			for _, paidOnly := range []string{"total_fee", "fee_type", "cash_fee", "openid", "trade_type", "bank_type", "transaction_id", "time_end"} {
				if q.Has(paidOnly) {
					t.Fatalf("query of an unpaid order carries %s: %v", paidOnly, q.Map())
				}
			}
			wantResult(t, do(PathOrderQuery, orderReq("NOPE")), "FAIL", "ORDERNOTEXIST")
			wantResult(t, do(PathRefund, orderReq("O1", transform.Param{Name: "out_refund_no", Value: "R1"},
				transform.Param{Name: "total_fee", Value: "1234"}, transform.Param{Name: "refund_fee", Value: "100"})), "FAIL", "TRADE_STATE_ERROR")

			out, ack, err := s.Complete("O1", true, transformtest.Pinned.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if out.URL != notifyURL || !strings.HasPrefix(out.ContentType, "text/xml") {
				t.Fatalf("outbound %s %s", out.URL, out.ContentType)
			}
			n := parseXML(t, out.Body)
			if n.Has("sign_type") {
				t.Fatal("the notification carries sign_type (WeChat often leaves it out; the sandbox should too)")
			}
			ev, err := newWebhook(t, testConfig(signType)).Verify(transform.Notification{Body: out.Body})
			if err != nil {
				t.Fatalf("the sandbox's notification does not verify: %v\n%s", err, out.Body)
			}
			if ev.Type != transform.EventPaymentSucceeded || ev.OrderID != "O1" || ev.Amount != "12.34" || ev.Currency != "CNY" ||
				ev.OccurredAt != "2026-11-22T10:01:00+08:00" || !strings.HasPrefix(ev.ProviderOrderID, "4200020261122100100") {
				t.Fatalf("event %+v", ev)
			}
			if !ack(200, []byte(AckBody)) {
				t.Fatal("the ACK is not accepted")
			}
			for _, bad := range []struct {
				status int
				body   string
			}{{201, AckBody}, {200, AckBody + "\n"}, {200, " " + AckBody}, {200, "SUCCESS"}, {500, AckBody}, {200, ""}} {
				if ack(bad.status, []byte(bad.body)) {
					t.Fatalf("ack accepted %d %q", bad.status, bad.body)
				}
			}

			q = do(PathOrderQuery, orderReq("O1"))
			if q.Get("trade_state") != "SUCCESS" || q.Get("transaction_id") != ev.ProviderOrderID || q.Get("time_end") != "20261122100100" ||
				q.Get("total_fee") != "1234" || q.Get("fee_type") != "CNY" || q.Get("cash_fee") != "1234" || q.Get("openid") != openID ||
				q.Get("trade_type") != "JSAPI" || q.Get("bank_type") == "" {
				t.Fatalf("query after payment %v", q.Map())
			}
			wantResult(t, do(PathUnifiedOrder, unifiedOrder("O1", "1234", "测试商品")), "FAIL", "ORDERPAID")
			wantResult(t, do(PathCloseOrder, orderReq("O1")), "FAIL", "ORDERPAID")

			refund := func(id, fee string) transform.Params {
				return do(PathRefund, orderReq("O1", transform.Param{Name: "out_refund_no", Value: id},
					transform.Param{Name: "total_fee", Value: "1234"}, transform.Param{Name: "refund_fee", Value: fee}))
			}
			r1 := refund("R1", "1000")
			wantResult(t, r1, "SUCCESS", "")
			if r1.Get("refund_id") == "" || r1.Get("out_refund_no") != "R1" || r1.Get("refund_fee") != "1000" {
				t.Fatalf("refund %v", r1.Map())
			}
			if again := refund("R1", "1000"); again.Get("refund_id") != r1.Get("refund_id") {
				t.Fatal("a refund retry got another refund_id")
			}
			// WeChat's codes (申请退款, chapter 9_4): a known out_refund_no with
			// another refund_fee, or another total_fee, is REFUND_FEE_MISMATCH
			// (NOTENOUGH is the merchant's balance, not the order's).
			wantResult(t, refund("R1", "999"), "FAIL", "REFUND_FEE_MISMATCH")
			wantResult(t, refund("R2", "235"), "FAIL", "INVALID_REQUEST")
			// refund_fee_type is the order's currency (CNY here) or left out
			// (申请退款: "需与支付一致，或者不填").
			inCurrency := func(currency string) transform.Params {
				return do(PathRefund, orderReq("O1", transform.Param{Name: "out_refund_no", Value: "R2"}, transform.Param{Name: "total_fee", Value: "1234"},
					transform.Param{Name: "refund_fee", Value: "234"}, transform.Param{Name: "refund_fee_type", Value: currency}))
			}
			wantResult(t, inCurrency("USD"), "FAIL", "PARAM_ERROR")
			// a refund's own notify_url follows WeChat's rule too: no parameters
			wantResult(t, do(PathRefund, orderReq("O1", transform.Param{Name: "out_refund_no", Value: "R2"}, transform.Param{Name: "total_fee", Value: "1234"},
				transform.Param{Name: "refund_fee", Value: "234"}, transform.Param{Name: "notify_url", Value: "https://merchant.example/refunds?o=O1"})), "FAIL", "INVALID_REQUEST")
			wantResult(t, inCurrency("CNY"), "SUCCESS", "")
			wantResult(t, refund("R2", "234"), "SUCCESS", "")
			wantResult(t, do(PathRefund, orderReq("O1", transform.Param{Name: "out_refund_no", Value: "R3"},
				transform.Param{Name: "total_fee", Value: "999"}, transform.Param{Name: "refund_fee", Value: "1"})), "FAIL", "REFUND_FEE_MISMATCH")
			wantResult(t, refund("R3", "1"), "FAIL", "ERROR") // 订单已全额退款
			if q := do(PathOrderQuery, orderReq("O1")); q.Get("trade_state") != "REFUND" {
				t.Fatalf("trade_state after refund %q", q.Get("trade_state"))
			}

			// close an unpaid order, then it can neither be paid nor closed again
			wantResult(t, do(PathUnifiedOrder, unifiedOrder("O2", "1", "b")), "SUCCESS", "")
			closed := do(PathCloseOrder, orderReq("O2"))
			if wantResult(t, closed, "SUCCESS", ""); closed.Get("result_msg") != "OK" { // required by WeChat's closeorder page
				t.Fatalf("closeorder answer without result_msg: %v", closed.Map())
			}
			wantResult(t, do(PathCloseOrder, orderReq("O2")), "FAIL", "ORDERCLOSED")
			wantResult(t, do(PathUnifiedOrder, unifiedOrder("O2", "1", "b")), "FAIL", "ORDERCLOSED")
			wantResult(t, do(PathCloseOrder, orderReq("NOPE")), "FAIL", "ORDERNOTEXIST")
			if _, _, err := s.Complete("O2", true, transformtest.Pinned); err == nil {
				t.Fatal("a closed order was completed")
			}
			if _, _, err := s.Complete("NOPE", true, transformtest.Pinned); err == nil {
				t.Fatal("an unknown order was completed")
			}
		})
	}
}

// WeChat takes at most 50 refunds of one order; a retry of one of them is
// still answered with its refund_id.
func TestSandboxRefundsPerOrder(t *testing.T) {
	refund := paidOrderRefunds(t)
	first := refund("R0")
	wantResult(t, first, "SUCCESS", "")
	for i := 1; i < 50; i++ {
		wantResult(t, refund("R"+strconv.Itoa(i)), "SUCCESS", "")
	}
	wantResult(t, refund("R50"), "FAIL", "INVALID_REQUEST")
	if again := refund("R0"); again.Get("result_code") != "SUCCESS" || again.Get("refund_id") != first.Get("refund_id") {
		t.Fatalf("a retry of the first refund: %v", again.Map())
	}
}

// TestSandboxRefundReason: refund_desc is at most 80 characters, counted as
// characters, not bytes (README Merchant API: WeChat refuses more): the
// sandbox refuses 81 letters as WeChat does, and takes 80 Chinese ones.
func TestSandboxRefundReason(t *testing.T) {
	refund := paidOrderRefunds(t)
	wantResult(t, refund("R1", transform.Param{Name: "refund_desc", Value: strings.Repeat("r", 81)}), "FAIL", "PARAM_ERROR")
	wantResult(t, refund("R2", transform.Param{Name: "refund_desc", Value: strings.Repeat("退", 80)}), "SUCCESS", "")
}

// TestSandboxRefundNumberRule: the sandbox holds out_refund_no to WeChat's
// rule (申请退款: String(64), "只能是数字、大小写字母_-|*@"), refusing
// another with PARAM_ERROR as WeChat's refund page lists it.
func TestSandboxRefundNumberRule(t *testing.T) {
	refund := paidOrderRefunds(t)
	for _, tt := range []struct {
		id, result, code string
	}{
		{"R", "SUCCESS", ""},
		{"R_-|*@" + strings.Repeat("9", 58), "SUCCESS", ""},
		{"R" + strings.Repeat("9", 64), "FAIL", "PARAM_ERROR"},
		{"R 1", "FAIL", "PARAM_ERROR"},
		{"R#1", "FAIL", "PARAM_ERROR"},
		{"R.1", "FAIL", "PARAM_ERROR"},
		{"退款1", "FAIL", "PARAM_ERROR"},
	} {
		t.Run(tt.id, func(t *testing.T) { wantResult(t, refund(tt.id), tt.result, tt.code) })
	}
}

// paidOrderRefunds pays O1 (100 fen) in a new sandbox and returns a refund
// of 1 fen of it by out_refund_no, with the extra parameters given.
func paidOrderRefunds(t *testing.T) func(id string, extra ...transform.Param) transform.Params {
	s := newSandbox(t, testConfig(""))
	do := func(path string, p transform.Params) transform.Params {
		return sandboxDo(t, s, path, signedXML(p, vecAPIKey, SignMD5), SignMD5)
	}
	wantResult(t, do(PathUnifiedOrder, unifiedOrder("O1", "100", "b")), "SUCCESS", "")
	if _, _, err := s.Complete("O1", true, transformtest.Pinned); err != nil {
		t.Fatal(err)
	}
	return func(id string, extra ...transform.Param) transform.Params {
		p := append([]transform.Param{{Name: "out_refund_no", Value: id},
			{Name: "total_fee", Value: "100"}, {Name: "refund_fee", Value: "1"}}, extra...)
		return do(PathRefund, orderReq("O1", p...))
	}
}

// TestSandboxRefundNumberOfAnotherOrder: an out_refund_no is the
// merchant's, unique among all its refunds: one used for another order is
// refused, so that refundquery by it names that refund alone.
func TestSandboxRefundNumberOfAnotherOrder(t *testing.T) {
	s := newSandbox(t, testConfig(""))
	do := func(path string, p transform.Params) transform.Params {
		return sandboxDo(t, s, path, signedXML(p, vecAPIKey, SignMD5), SignMD5)
	}
	refund := func(orderID string) transform.Params {
		return do(PathRefund, orderReq(orderID, transform.Param{Name: "out_refund_no", Value: "R1"},
			transform.Param{Name: "total_fee", Value: "100"}, transform.Param{Name: "refund_fee", Value: "10"}))
	}
	for _, id := range []string{"O1", "O2"} {
		wantResult(t, do(PathUnifiedOrder, unifiedOrder(id, "100", "b")), "SUCCESS", "")
		if _, _, err := s.Complete(id, true, transformtest.Pinned); err != nil {
			t.Fatal(err)
		}
	}
	first := refund("O1")
	wantResult(t, first, "SUCCESS", "")
	if a := refund("O2"); a.Get("err_code") != "INVALID_REQUEST" || a.Get("err_code_des") != "退款单号重复" {
		t.Fatalf("R1 again for another order: %v", a.Map())
	}
	for range 20 { // the orders are kept in a map: a lookup must not depend on its order
		q := do(PathRefundQuery, transform.Params{{Name: "appid", Value: vecAppID}, {Name: "mch_id", Value: vecMchID},
			{Name: "nonce_str", Value: "n"}, {Name: "out_refund_no", Value: "R1"}})
		if q.Get("out_trade_no") != "O1" || q.Get("refund_id_0") != first.Get("refund_id") || q.Get("refund_count") != "1" {
			t.Fatalf("refundquery of R1: %v", q.Map())
		}
	}
}

func TestSandboxFailedPayment(t *testing.T) {
	s := newSandbox(t, testConfig(""))
	wantResult(t, sandboxDo(t, s, PathUnifiedOrder, signedXML(unifiedOrder("O1", "500", "b", transform.Param{Name: "attach", Value: "x"}), vecAPIKey, SignMD5), SignMD5), "SUCCESS", "")
	out, _, err := s.Complete("O1", false, transformtest.Pinned)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := newWebhook(t, testConfig("")).Verify(transform.Notification{Body: out.Body})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != transform.EventPaymentFailed || ev.Data["err_code"] != "NOTENOUGH" || ev.Data["attach"] != "x" || ev.Amount != "5.00" {
		t.Fatalf("event %+v", ev)
	}
	// orderquery of the failed order: trade_state PAYERROR, and none of a
	// paid order's fields (WeChat's orderquery page)
	if q := sandboxDo(t, s, PathOrderQuery, signedXML(orderReq("O1"), vecAPIKey, SignMD5), SignMD5); q.Get("trade_state") != "PAYERROR" ||
		q.Get("attach") != "x" || q.Has("total_fee") || q.Has("transaction_id") || q.Has("time_end") {
		t.Fatalf("query of the failed order %v", q.Map())
	}
	// Paying it again under the same out_trade_no is refused: WeChat's
	// closeorder page asks for a new one (商户订单支付失败需要生成新单号重新发起支付).
	again := sandboxDo(t, s, PathUnifiedOrder, signedXML(unifiedOrder("O1", "500", "b", transform.Param{Name: "attach", Value: "x"}), vecAPIKey, SignMD5), SignMD5)
	if wantResult(t, again, "FAIL", "INVALID_REQUEST"); again.Get("err_code_des") != "201 商户订单号重复" || again.Has("prepay_id") {
		t.Fatalf("pay again of the failed order %v", again.Map())
	}
	// the payer's prepay can still be paid (the user tries again), with the same transaction id
	out2, _, err := s.Complete("O1", true, transformtest.Pinned.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ev2, err := newWebhook(t, testConfig("")).Verify(transform.Notification{Body: out2.Body})
	if err != nil || ev2.Type != transform.EventPaymentSucceeded || ev2.ProviderOrderID != ev.ProviderOrderID {
		t.Fatalf("event %+v, %v", ev2, err)
	}
}

func TestSandboxServiceProvider(t *testing.T) {
	cfg := spConfig()
	s := newSandbox(t, cfg)
	c := newClient(t, cfg)
	call, err := c.Prepare(context.Background(), "pay", []byte(payJSON))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, call.Path, bytes.NewReader(call.Body)))
	if _, err := call.Decode(rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
		t.Fatalf("Decode = %v\n%s", err, rec.Body.Bytes())
	}
	// Like WeChat, the answer names the sub-merchant (the client checks it).
	if a := parseXML(t, rec.Body.Bytes()); a.Get("sub_mch_id") != spSubMchID || a.Get("sub_appid") != spSubAppID {
		t.Fatalf("answer without the sub-merchant: %s", rec.Body.Bytes())
	}
	out, _, err := s.Complete("O1", true, transformtest.Pinned)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := newWebhook(t, cfg).Verify(transform.Notification{Body: out.Body})
	if err != nil || ev.Data["sub_mch_id"] != spSubMchID || ev.Data["sub_openid"] != openID {
		t.Fatalf("event %+v, %v", ev, err)
	}
	// openid (the payer under the service provider's appid) is a required
	// field of the notification and of orderquery in service-provider mode
	// too, beside sub_openid: 28 characters, and one payer one openid.
	n := parseXML(t, out.Body)
	q := sandboxDo(t, s, PathOrderQuery, signedXML(append(set(set(orderReq("O1"), "appid", spAppID), "mch_id", spMchID),
		transform.Param{Name: "sub_mch_id", Value: spSubMchID}), vecAPIKey, SignMD5), SignMD5)
	if oid := n.Get("openid"); len(oid) != 28 || oid == openID || q.Get("openid") != oid || q.Get("sub_openid") != openID {
		t.Fatalf("openid %q in the notification, %q in orderquery (sub_openid %q)", oid, q.Get("openid"), q.Get("sub_openid"))
	}
	body, err := RefundNotification(cfg, transform.Params{{Name: "out_refund_no", Value: "R1"}, {Name: "refund_status", Value: "SUCCESS"}})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := newWebhook(t, cfg).Verify(transform.Notification{Body: body}); err != nil || ev.Type != transform.EventRefundSucceeded {
		t.Fatalf("refund notification %+v, %v", ev, err)
	}

	// The payer is named by openid (under the service provider's appid) or
	// by sub_openid, which needs sub_appid (统一下单, service-provider mode).
	sp := func(orderID string, payer ...transform.Param) transform.Params {
		p := slices.DeleteFunc(set(set(unifiedOrder(orderID, "1", "b"), "appid", spAppID), "mch_id", spMchID),
			func(p transform.Param) bool { return p.Name == "openid" })
		return append(append(p, transform.Param{Name: "sub_mch_id", Value: spSubMchID}), payer...)
	}
	for _, tt := range []struct {
		name, result, errCode string
		p                     transform.Params
	}{
		{"openid", "SUCCESS", "", sp("O10", transform.Param{Name: "openid", Value: openID})},
		{"sub_openid", "SUCCESS", "", sp("O11", transform.Param{Name: "sub_appid", Value: spSubAppID}, transform.Param{Name: "sub_openid", Value: openID})},
		{"sub_openid without sub_appid", "FAIL", "LACK_PARAMS", sp("O12", transform.Param{Name: "sub_openid", Value: openID})},
		{"no payer", "FAIL", "LACK_PARAMS", sp("O13", transform.Param{Name: "sub_appid", Value: spSubAppID})},
	} {
		wantResult(t, sandboxDo(t, s, PathUnifiedOrder, signedXML(tt.p, vecAPIKey, SignMD5), SignMD5), tt.result, tt.errCode)
	}
	// A payer named by openid alone is named under sub_appid too (sub_openid
	// beside sub_appid, as the notification of O1 named both).
	o10, _, err := s.Complete("O10", true, transformtest.Pinned)
	if err != nil {
		t.Fatal(err)
	}
	if n := parseXML(t, o10.Body); n.Get("openid") != openID || len(n.Get("sub_openid")) != 28 || n.Get("sub_openid") == openID || n.Get("sub_appid") != spSubAppID {
		t.Fatalf("notification of a payer named by openid: %s", o10.Body)
	}

	foreign := set(set(unifiedOrder("O9", "1", "b"), "appid", spAppID), "mch_id", spMchID)
	foreign = append(foreign, transform.Param{Name: "sub_appid", Value: spSubAppID}, transform.Param{Name: "sub_mch_id", Value: "1900000999"})
	p := sandboxDo(t, s, PathUnifiedOrder, signedXML(foreign, vecAPIKey, SignMD5), SignMD5)
	wantResult(t, p, "FAIL", "NOAUTH")
}

// The client and the sandbox talk to each other: every operation's answer
// decodes, end to end. (An additional check: the literal answers above
// pin the format itself.)
func TestClientAgainstSandbox(t *testing.T) {
	for _, signType := range []string{SignMD5, SignHMACSHA256} {
		t.Run(signType, func(t *testing.T) {
			cfg := testConfig(signType)
			s := newSandbox(t, cfg)
			c := newClient(t, cfg)
			run := func(op, body string) ([]byte, error) {
				call, err := c.Prepare(context.Background(), op, []byte(body))
				if err != nil {
					t.Fatal(err)
				}
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, httptest.NewRequest(call.Method, call.Path, bytes.NewReader(call.Body)))
				return call.Decode(rec.Code, rec.Header(), rec.Body.Bytes())
			}
			out, err := run("pay", payJSON)
			if err != nil {
				t.Fatal(err)
			}
			var pp transform.PaymentParams
			if err := json.Unmarshal(out, &pp); err != nil || !strings.HasPrefix(pp.Package, "prepay_id=wx") || pp.SignType != signType {
				t.Fatalf("pay %s", out)
			}
			if want := refSign(transform.Params{{Name: "appId", Value: vecAppID}, {Name: "nonceStr", Value: pp.NonceStr},
				{Name: "package", Value: pp.Package}, {Name: "signType", Value: signType}, {Name: "timeStamp", Value: pp.TimeStamp}},
				vecAPIKey, signType); pp.PaySign != want {
				t.Fatalf("paySign %s, the reference signer's %s", pp.PaySign, want)
			}
			// an unpaid order's orderquery carries no total_fee (README
			// "Merchant API", the status object: amount and currency "")
			if out, err := run("query", `{"order_id":"O1"}`); err != nil || !strings.Contains(string(out), `"status":"pending","amount":"","currency":""`) {
				t.Fatalf("query %s %v", out, err)
			}
			_, err = run("refund", `{"order_id":"O1","refund_id":"R1","amount":"1","currency":"CNY","total_amount":"12.34"}`)
			if e := wantError(t, err, 422, transform.CodeProviderRejected); e.ProviderCode != "TRADE_STATE_ERROR" {
				t.Fatalf("refund before payment: %+v", e)
			}
			if _, _, err := s.Complete("O1", true, transformtest.Pinned); err != nil {
				t.Fatal(err)
			}
			if out, err := run("query", `{"order_id":"O1"}`); err != nil ||
				!strings.Contains(string(out), `"status":"succeeded","amount":"12.34","currency":"CNY","paid_at":"2026-11-22T10:00:00+08:00","provider_status":"SUCCESS"`) {
				t.Fatalf("query %s %v", out, err)
			}
			if out, err := run("refund", `{"order_id":"O1","refund_id":"R1","amount":"1","currency":"CNY","total_amount":"12.34"}`); err != nil ||
				!strings.Contains(string(out), `"refund_id":"R1","provider_refund_id":"50000`) {
				t.Fatalf("refund %s %v", out, err)
			}
			// The refund is PROCESSING until WeChat (here the sandbox) notifies it.
			if out, err := run("refund_query", `{"refund_id":"R1","order_id":"O1"}`); err != nil ||
				!strings.Contains(string(out), `"status":"pending","amount":"1.00","currency":"CNY","provider_status":"PROCESSING"}`) {
				t.Fatalf("refund_query %s %v", out, err)
			}
			if _, _, err := s.CompleteRefund("O1", transformtest.Pinned); err != nil {
				t.Fatal(err)
			}
			if out, err := run("refund_query", `{"refund_id":"R1"}`); err != nil ||
				!strings.Contains(string(out), `{"provider":"wechat_v2","order_id":"O1","refund_id":"R1","provider_refund_id":"50000`) ||
				!strings.HasSuffix(string(out), `"status":"succeeded","amount":"1.00","currency":"CNY","provider_status":"SUCCESS"}`) {
				t.Fatalf("refund_query %s %v", out, err)
			}
			_, err = run("refund_query", `{"refund_id":"R404"}`)
			if e := wantError(t, err, 422, transform.CodeProviderRejected); e.ProviderCode != "REFUNDNOTEXIST" {
				t.Fatalf("refund_query of no refund: %+v", e)
			}
			_, err = run("close", `{"order_id":"O1"}`)
			if e := wantError(t, err, 422, transform.CodeProviderRejected); e.ProviderCode != "ORDERPAID" {
				t.Fatalf("close a paid order: %+v", e)
			}
			if out, err := run("pay", strings.Replace(payJSON, `"O1"`, `"O2"`, 1)); err != nil || !strings.Contains(string(out), `"order_id":"O2"`) {
				t.Fatalf("pay O2 %s %v", out, err)
			}
			if out, err := run("close", `{"order_id":"O2"}`); err != nil || string(out) != `{"provider":"wechat_v2","order_id":"O2","status":"cancelled"}` {
				t.Fatalf("close %s %v", out, err)
			}
		})
	}
}

func TestSandboxHandles(t *testing.T) {
	s := newSandbox(t, testConfig(""))
	for path, want := range map[string]bool{
		"/pay/unifiedorder": true, "/pay/orderquery": true, "/pay/closeorder": true, "/secapi/pay/refund": true,
		"/pay/refundquery": true, "/pay/refund": false, "/sns/jscode2session": false, "/": false,
	} {
		if s.Handles(path) != want {
			t.Errorf("Handles(%q) = %v", path, !want)
		}
	}
}

// The sandbox keeps a bounded number of orders: past the bound the oldest
// is forgotten (ORDERNOTEXIST), the newest are kept.
func TestSandboxOrdersBounded(t *testing.T) {
	s := newSandbox(t, testConfig(""))
	s.ring.Max = 2
	for _, id := range []string{"B1", "B2", "B3"} {
		wantResult(t, sandboxDo(t, s, PathUnifiedOrder, signedXML(unifiedOrder(id, "100", "b"), vecAPIKey, SignMD5), SignMD5), "SUCCESS", "")
	}
	if len(s.orders) != 2 {
		t.Fatalf("the sandbox keeps %d orders", len(s.orders))
	}
	wantResult(t, sandboxDo(t, s, PathOrderQuery, signedXML(orderReq("B1"), vecAPIKey, SignMD5), SignMD5), "FAIL", "ORDERNOTEXIST")
	wantResult(t, sandboxDo(t, s, PathOrderQuery, signedXML(orderReq("B3"), vecAPIKey, SignMD5), SignMD5), "SUCCESS", "")
}

// TestSandboxParallelPays: 100 pays at once in each sign type, each settled
// as soon as it is made while the console lists the orders (go test -race
// finds order state touched outside the lock).
func TestSandboxParallelPays(t *testing.T) {
	for _, signType := range []string{SignMD5, SignHMACSHA256} {
		t.Run(signType, func(t *testing.T) {
			cfg := testConfig(signType)
			transformtest.ParallelPays(t, newSandbox(t, cfg), newClient(t, cfg), 100, func(i int) (string, []byte) {
				id := "PAR-" + strconv.Itoa(i)
				return id, []byte(`{"order_id":"` + id + `","amount":"1.00","currency":"CNY","description":"d","openid":"o"}`)
			})
		})
	}
}
