package integration

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestWechatV3AnswerBytes: WeChat signs the answer's bytes as sent, so
// answers written as another JSON writer writes them (members in another
// order, pretty-printed with CR LF, non-ASCII as \u escapes or raw UTF-8,
// an escaped slash, quotes and the refund's optional members) are read
// through a real Caddy, while the same document written otherwise than it
// was signed (an escape decoded, a space removed) is
// upstream_signature_invalid; error answers of every status keep WeChat's
// code and message (escapes decoded) and map as README "Errors" says.
func TestWechatV3AnswerBytes(t *testing.T) {
	platform := v3PrivateKey(t, "wechatpay_platform_key.pem")
	var mu sync.Mutex
	var status int
	var body string
	var signedBody string // what the signature covers; body when ""
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		signed := body
		if signedBody != "" {
			signed = signedBody
		}
		for k, v := range wechatHeaders(t, platform, v3PublicKeyID, time.Now().Unix(), signed) {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Request-ID", "08F4C5A8D10610B50118D4B5B4B00620CF8C1490-0")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	defer upstream.Close()
	port := freePort(t)
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+":"+itoa(port)+" {\n\thandle /v3/* {\n\t\tminipay wechat_v3 {\n"+
		v3Merchant(t, v3PublicKeyMode(t))+"\t\tnotify_url https://m.example/n\n\t\t}\n\t\treverse_proxy "+strings.TrimPrefix(upstream.URL, "http://")+"\n\t}\n}\n")
	base := "http://localhost:" + itoa(port) + "/v3/"

	const pretty = "{\r\n  \"amount\" : {\r\n    \"currency\" : \"CNY\",\r\n    \"payer_currency\" : \"CNY\",\r\n    \"payer_total\" : 1100,\r\n    \"total\" : 1230\r\n  },\r\n" +
		"  \"appid\" : \"" + appID + "\",\r\n  \"attach\" : \"\\u8ba2\\u5355 \\\"A\\\" <b> & c\\/d\",\r\n  \"bank_type\" : \"OTHERS\",\r\n  \"mchid\" : \"" + mchID + "\",\r\n" +
		"  \"out_trade_no\" : \"AB-1\",\r\n  \"payer\" : {\r\n    \"openid\" : \"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o\"\r\n  },\r\n" +
		"  \"promotion_detail\" : [ {\r\n    \"amount\" : 130,\r\n    \"coupon_id\" : \"109519\",\r\n    \"name\" : \"单品惠-6\",\r\n    \"goods_detail\" : [ {\r\n      \"goods_id\" : \"M1006\",\r\n      \"quantity\" : 1,\r\n      \"unit_price\" : 1230,\r\n      \"discount_amount\" : 130\r\n    } ]\r\n  } ],\r\n" +
		"  \"success_time\" : \"2026-12-07T10:00:05+08:00\",\r\n  \"trade_state\" : \"SUCCESS\",\r\n  \"trade_state_desc\" : \"\\u652f\\u4ed8\\u6210\\u529f\",\r\n" +
		"  \"trade_type\" : \"JSAPI\",\r\n  \"transaction_id\" : \"4200000771202612070000000001\"\r\n}\r\n"
	const refund = `{"refund_id":"50300907712026120700000000001","out_refund_no":"AB-1@R|1","transaction_id":"4200000771202612070000000001","out_trade_no":"AB-1",` +
		`"channel":"ORIGINAL","user_received_account":"招商银行信用卡0403","success_time":"2026-12-07T10:01:05+08:00","create_time":"2026-12-07T10:01:00+08:00",` +
		`"status":"%s","funds_account":"UNSETTLED","amount":{"total":1230,"refund":230,"from":[{"account":"AVAILABLE","amount":230}],"payer_total":1100,"payer_refund":200,` +
		`"settlement_refund":230,"settlement_total":1230,"discount_refund":30,"currency":"CNY","refund_fee":0},"promotion_detail":[{"promotion_id":"109519","scope":"SINGLE",` +
		`"type":"DISCOUNT","amount":130,"refund_amount":30,"goods_detail":[{"merchant_goods_id":"M1006","wechatpay_goods_id":"1001","goods_name":"公仔 \"限量\"","unit_price":1230,"refund_amount":230,"refund_quantity":1}]}]}`
	const refundReq = `{"order_id":"AB-1","refund_id":"AB-1@R|1","amount":"2.30","currency":"CNY","total_amount":"12.30"}`
	cases := []struct {
		name, op, req string
		status        int
		body, signed  string
		want          string // a piece of the merchant's answer
		wantStatus    int
	}{
		{"pretty-printed, CR LF, escapes", "query", `{"order_id":"AB-1"}`, 200, pretty, "",
			`{"provider":"wechat_v3","order_id":"AB-1","provider_order_id":"4200000771202612070000000001","status":"succeeded","amount":"12.30","currency":"CNY","paid_at":"2026-12-07T10:00:05+08:00","provider_status":"SUCCESS"}`, 200},
		{"signed with the escapes, sent decoded", "query", `{"order_id":"AB-1"}`, 200, strings.Replace(pretty, `\u652f\u4ed8\u6210\u529f`, "支付成功", 1), pretty,
			`"upstream_signature_invalid"`, 502},
		{"signed pretty, sent without a space", "query", `{"order_id":"AB-1"}`, 200, strings.Replace(pretty, `"bank_type" : `, `"bank_type" :`, 1), pretty,
			`"upstream_signature_invalid"`, 502},
		{"signed with its last CR LF, sent without", "query", `{"order_id":"AB-1"}`, 200, strings.TrimSuffix(pretty, "\r\n"), pretty,
			`"upstream_signature_invalid"`, 502},
		{"refund PROCESSING with every optional member", "refund", refundReq, 200, strings.Replace(refund, "%s", "PROCESSING", 1), "",
			`{"provider":"wechat_v3","order_id":"AB-1","refund_id":"AB-1@R|1","provider_refund_id":"50300907712026120700000000001","status":"pending","amount":"2.30","currency":"CNY","provider_status":"PROCESSING"}`, 200},
		{"refund_query SUCCESS", "refund_query", `{"refund_id":"AB-1@R|1","order_id":"AB-1"}`, 200, strings.Replace(refund, "%s", "SUCCESS", 1), "",
			`"status":"succeeded","amount":"2.30","currency":"CNY","provider_status":"SUCCESS"}`, 200},
		{"refund_query CLOSED", "refund_query", `{"refund_id":"AB-1@R|1"}`, 200, strings.Replace(refund, "%s", "CLOSED", 1), "",
			`"status":"failed","amount":"2.30","currency":"CNY","provider_status":"CLOSED"}`, 200},
		{"refund_query of another order", "refund_query", `{"refund_id":"AB-1@R|1","order_id":"AB-2"}`, 200, strings.Replace(refund, "%s", "SUCCESS", 1), "",
			`"code":"invalid_request","message":"order_id is not the order of the refund refund_id names","field":"order_id"`, 400},
		{"error, escaped message and a detail", "pay", `{"order_id":"AB-1","amount":"12.30","currency":"CNY","description":"d","openid":"o"}`, 400,
			`{"code":"PARAM_ERROR","detail":{"location":"body","value":"\u516c\u4ed4"},"message":"\u8f93\u5165\u6e90\u201c/body/description\u201d\u6620\u5c04\u5230\u503c\u5b57\u6bb5\u201c\u5546\u54c1\u63cf\u8ff0\u201d\u5b57\u7b26\u4e32\u89c4\u5219\u6821\u9a8c\u5931\u8d25"}`, "",
			`"provider_code":"PARAM_ERROR","provider_message":"输入源“/body/description”映射到值字段“商品描述”字符串规则校验失败"`, 422},
		{"error, members reversed", "close", `{"order_id":"AB-1"}`, 403, `{"message":"订单已支付","code":"ORDERPAID"}`, "",
			`"provider_code":"ORDERPAID","provider_message":"订单已支付"`, 422},
		{"error 404 on refund_query", "refund_query", `{"refund_id":"AB-1@R|9"}`, 404, `{"code":"RESOURCE_NOT_EXISTS","message":"退款单不存在"}`, "",
			`"provider_code":"RESOURCE_NOT_EXISTS"`, 422},
		{"error 500 SYSTEM_ERROR on refund", "refund", refundReq, 500, `{"code":"SYSTEM_ERROR","message":"系统超时"}`, "",
			`"code":"upstream_error","message":"the provider answered HTTP 500","provider_code":"SYSTEM_ERROR","provider_message":"系统超时"`, 502},
		{"error 503 SYSTEM_ERROR on close", "close", `{"order_id":"AB-1"}`, 503, `{"code":"SYSTEM_ERROR","message":"系统繁忙"}`, "",
			`"provider_code":"SYSTEM_ERROR"`, 502},
		{"error 401 SIGN_ERROR", "refund_query", `{"refund_id":"AB-1@R|1"}`, 401, `{"code":"SIGN_ERROR","message":"签名错误"}`, "",
			`"code":"upstream_error"`, 502},
		{"error 403 FREQUENCY_LIMITED", "pay", `{"order_id":"AB-1","amount":"12.30","currency":"CNY","description":"d","openid":"o"}`, 403, `{"code":"FREQUENCY_LIMITED","message":"频率超限"}`, "",
			`"code":"upstream_error"`, 502},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mu.Lock()
			status, body, signedBody = c.status, c.body, c.signed
			mu.Unlock()
			res := postJSON(t, tc, base+c.op, c.req)
			if res.status != c.wantStatus || !strings.Contains(string(res.body), c.want) {
				t.Fatalf("%d %s, want %d with %s", res.status, res.body, c.wantStatus, c.want)
			}
		})
	}
}
