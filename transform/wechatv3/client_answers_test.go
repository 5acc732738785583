package wechatv3

import (
	"net/http"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// WeChat's documented answer examples (JSAPI 查询订单, 服务商 查询订单,
// 退款申请 / 查询单笔退款: docs/providers/wechat_v3.md, Operations), with this
// merchant's ids: every optional member present or absent, and the error
// codes of each call's documented list with their HTTP statuses.
const (
	// 查询订单, paid: payer_total below total (a coupon), scene_info and
	// promotion_detail with its goods.
	docPaidTransaction = `{"appid":"wx8888888888888888","mchid":"1900000109","out_trade_no":"ORDER1","transaction_id":"4200000891202103228088184743",` +
		`"trade_type":"JSAPI","trade_state":"SUCCESS","trade_state_desc":"支付成功","bank_type":"CMC","attach":"自定义数据",` +
		`"success_time":"2018-06-08T10:34:56+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},` +
		`"amount":{"total":100,"payer_total":90,"currency":"CNY","payer_currency":"CNY"},"scene_info":{"device_id":"013467007045764"},` +
		`"promotion_detail":[{"coupon_id":"109519","name":"单品惠-6","scope":"SINGLE","type":"CASH","amount":10,"stock_id":"931386",` +
		`"wechatpay_contribute":0,"merchant_contribute":10,"other_contribute":0,"currency":"CNY",` +
		`"goods_detail":[{"goods_id":"M1006","quantity":1,"unit_price":100,"discount_amount":10,"goods_remark":"商品备注信息"}]}]}`
	// 查询订单, unpaid, as WeChat answers it: no payer, transaction_id,
	// success_time, bank_type; amount without currency or payer_total.
	docUnpaidTransaction = `{"amount":{"payer_currency":"CNY","total":1},"appid":"wx8888888888888888","mchid":"1900000109",` +
		`"out_trade_no":"ORDER1","promotion_detail":[],"scene_info":{"device_id":""},"trade_state":"NOTPAY","trade_state_desc":"订单未支付"}`
	// 服务商 查询订单, paid by a sub_openid.
	docPartnerTransaction = `{"sp_appid":"wx8888888888888888","sp_mchid":"1900000109","sub_appid":"wx9999999999999999","sub_mchid":"1900000110",` +
		`"out_trade_no":"ORDER1","transaction_id":"4200000891202103228088184743","trade_type":"JSAPI","trade_state":"SUCCESS","trade_state_desc":"支付成功",` +
		`"bank_type":"OTHERS","attach":"","success_time":"2018-06-08T10:34:56+08:00","payer":{"sp_openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","sub_openid":"o9"},` +
		`"amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}`
	// 退款申请 / 查询单笔退款: amount.from, funds_account, promotion_detail.
	docRefund = `{"refund_id":"50000000382019052709732678859","out_refund_no":"R1","transaction_id":"4200000891202103228088184743","out_trade_no":"ORDER1",` +
		`"channel":"ORIGINAL","user_received_account":"招商银行信用卡0403","success_time":"2020-12-01T16:18:12+08:00","create_time":"2020-12-01T16:18:12+08:00",` +
		`"status":"%s","funds_account":"UNSETTLED","amount":{"total":100,"refund":60,"from":[{"account":"AVAILABLE","amount":444}],` +
		`"payer_total":90,"payer_refund":50,"settlement_refund":60,"settlement_total":100,"discount_refund":10,"currency":"CNY","refund_fee":0},` +
		`"promotion_detail":[{"promotion_id":"109519","scope":"SINGLE","type":"DISCOUNT","amount":10,"refund_amount":10,` +
		`"goods_detail":[{"merchant_goods_id":"M1006","wechatpay_goods_id":"1001","goods_name":"iPhone6s 16G","unit_price":100,"refund_amount":10,"refund_quantity":1}]}]}`
)

func TestClientDocumentedAnswers(t *testing.T) {
	partner := func(c *Config) { c.SubMchID, c.SubAppID = "1900000110", "wx9999999999999999" }
	spOpenID := func(c *Config) { c.SubMchID = "1900000110" }
	const payReq = `{"order_id":"ORDER1","amount":"1","currency":"CNY","description":"d","openid":"o"}`
	const refundReq = `{"order_id":"ORDER1","refund_id":"R1","amount":"0.60","currency":"CNY","total_amount":"1.00"}`
	refund := func(status string) string { return strings.Replace(docRefund, "%s", status, 1) }
	cases := []struct {
		name       string
		edit       func(*Config)
		op, req    string
		status     int
		body       string
		want       string // the whole answer, or the error's status and code
		pcode, pms string
	}{
		// Answers with and without their optional members.
		{"paid, payer_total below total, promotion_detail", nil, "query", `{"order_id":"ORDER1"}`, 200, docPaidTransaction,
			`{"provider":"wechat_v3","order_id":"ORDER1","provider_order_id":"4200000891202103228088184743","status":"succeeded","amount":"1.00","currency":"CNY","paid_at":"2018-06-08T10:34:56+08:00","provider_status":"SUCCESS"}`, "", ""},
		{"unpaid, no payer nor currency", nil, "query", `{"order_id":"ORDER1"}`, 200, docUnpaidTransaction,
			`{"provider":"wechat_v3","order_id":"ORDER1","provider_order_id":"","status":"pending","amount":"0.01","currency":"CNY","provider_status":"NOTPAY"}`, "", ""},
		{"unpaid, no amount", nil, "query", `{"order_id":"ORDER1"}`, 200, strings.Replace(docUnpaidTransaction, `"amount":{"payer_currency":"CNY","total":1},`, "", 1),
			`{"provider":"wechat_v3","order_id":"ORDER1","provider_order_id":"","status":"pending","amount":"","currency":"","provider_status":"NOTPAY"}`, "", ""},
		// amount.total past WeChat's int, which a pay refuses to send, is read as signed (README Merchant API, Money)
		{"paid, amount.total past int", nil, "query", `{"order_id":"ORDER1"}`, 200, strings.Replace(docPaidTransaction, `"total":100,`, `"total":2147483648,`, 1),
			`{"provider":"wechat_v3","order_id":"ORDER1","provider_order_id":"4200000891202103228088184743","status":"succeeded","amount":"21474836.48","currency":"CNY","paid_at":"2018-06-08T10:34:56+08:00","provider_status":"SUCCESS"}`, "", ""},
		// paid_at is success_time as WeChat wrote it, or absent for a time RFC 3339 does not
		// allow, which time.Parse takes (README Time zones): a comma, a one-digit hour, +24:00
		{"paid, success_time with a fraction", nil, "query", `{"order_id":"ORDER1"}`, 200, strings.Replace(docPaidTransaction, `10:34:56+08:00`, `10:34:56.250+08:00`, 1),
			`{"provider":"wechat_v3","order_id":"ORDER1","provider_order_id":"4200000891202103228088184743","status":"succeeded","amount":"1.00","currency":"CNY","paid_at":"2018-06-08T10:34:56.250+08:00","provider_status":"SUCCESS"}`, "", ""},
		{"paid, success_time with a comma: no paid_at", nil, "query", `{"order_id":"ORDER1"}`, 200, strings.Replace(docPaidTransaction, `10:34:56+08:00`, `10:34:56,250+08:00`, 1),
			`{"provider":"wechat_v3","order_id":"ORDER1","provider_order_id":"4200000891202103228088184743","status":"succeeded","amount":"1.00","currency":"CNY","provider_status":"SUCCESS"}`, "", ""},
		{"paid, success_time with a one-digit hour: no paid_at", nil, "query", `{"order_id":"ORDER1"}`, 200, strings.Replace(docPaidTransaction, `T10:34:56+08:00`, `T9:34:56+08:00`, 1),
			`{"provider":"wechat_v3","order_id":"ORDER1","provider_order_id":"4200000891202103228088184743","status":"succeeded","amount":"1.00","currency":"CNY","provider_status":"SUCCESS"}`, "", ""},
		{"paid, success_time at +24:00: no paid_at", nil, "query", `{"order_id":"ORDER1"}`, 200, strings.Replace(docPaidTransaction, `10:34:56+08:00`, `10:34:56+24:00`, 1),
			`{"provider":"wechat_v3","order_id":"ORDER1","provider_order_id":"4200000891202103228088184743","status":"succeeded","amount":"1.00","currency":"CNY","provider_status":"SUCCESS"}`, "", ""},
		{"closed with a success_time: no paid_at", nil, "query", `{"order_id":"ORDER1"}`, 200, strings.Replace(docPaidTransaction, `"trade_state":"SUCCESS"`, `"trade_state":"CLOSED"`, 1),
			`{"provider":"wechat_v3","order_id":"ORDER1","provider_order_id":"4200000891202103228088184743","status":"cancelled","amount":"1.00","currency":"CNY","provider_status":"CLOSED"}`, "", ""},
		{"refunded keeps paid_at", nil, "query", `{"order_id":"ORDER1"}`, 200, strings.Replace(docPaidTransaction, `"trade_state":"SUCCESS"`, `"trade_state":"REFUND"`, 1),
			`{"provider":"wechat_v3","order_id":"ORDER1","provider_order_id":"4200000891202103228088184743","status":"refunded","amount":"1.00","currency":"CNY","paid_at":"2018-06-08T10:34:56+08:00","provider_status":"REFUND"}`, "", ""},
		{"partner, sub_openid", partner, "query", `{"order_id":"ORDER1"}`, 200, docPartnerTransaction,
			`{"provider":"wechat_v3","order_id":"ORDER1","provider_order_id":"4200000891202103228088184743","status":"succeeded","amount":"1.00","currency":"CNY","paid_at":"2018-06-08T10:34:56+08:00","provider_status":"SUCCESS"}`, "", ""},
		{"partner, sp_openid (no sub_appid)", spOpenID, "query", `{"order_id":"ORDER1"}`, 200, strings.Replace(docPartnerTransaction, `"sub_appid":"wx9999999999999999",`, "", 1),
			`"status":"succeeded"`, "", ""},
		{"partner, another sub_mchid", partner, "query", `{"order_id":"ORDER1"}`, 200, strings.Replace(docPartnerTransaction, `"sub_mchid":"1900000110"`, `"sub_mchid":"1900000111"`, 1), "502 upstream_error", "", ""},
		{"partner, another sub_appid", partner, "query", `{"order_id":"ORDER1"}`, 200, strings.Replace(docPartnerTransaction, `"sub_appid":"wx9999999999999999"`, `"sub_appid":"wx0000000000000000"`, 1), "502 upstream_error", "", ""},
		{"partner, another sp_appid", partner, "query", `{"order_id":"ORDER1"}`, 200, strings.Replace(docPartnerTransaction, `"sp_appid":"wx8888888888888888"`, `"sp_appid":"wx0000000000000000"`, 1), "502 upstream_error", "", ""},
		{"partner route, a direct merchant's answer", partner, "query", `{"order_id":"ORDER1"}`, 200, docPaidTransaction, "502 upstream_error", "", ""},
		{"direct route, a partner answer", nil, "query", `{"order_id":"ORDER1"}`, 200, docPartnerTransaction, "502 upstream_error", "", ""},
		{"refund PROCESSING, from/funds_account/promotion_detail", nil, "refund", refundReq, 200, refund("PROCESSING"),
			`{"provider":"wechat_v3","order_id":"ORDER1","refund_id":"R1","provider_refund_id":"50000000382019052709732678859","status":"pending","amount":"0.60","currency":"CNY","provider_status":"PROCESSING"}`, "", ""},
		{"refund_query SUCCESS", nil, "refund_query", `{"refund_id":"R1"}`, 200, refund("SUCCESS"),
			`{"provider":"wechat_v3","order_id":"ORDER1","refund_id":"R1","provider_refund_id":"50000000382019052709732678859","status":"succeeded","amount":"0.60","currency":"CNY","provider_status":"SUCCESS"}`, "", ""},
		{"refund_query CLOSED", nil, "refund_query", `{"refund_id":"R1","order_id":"ORDER1"}`, 200, refund("CLOSED"), `"status":"failed","amount":"0.60","currency":"CNY","provider_status":"CLOSED"}`, "", ""},
		{"refund_query ABNORMAL", partner, "refund_query", `{"refund_id":"R1"}`, 200, refund("ABNORMAL"), `"status":"failed","amount":"0.60","currency":"CNY","provider_status":"ABNORMAL"}`, "", ""},
		{"refund without currency", nil, "refund_query", `{"refund_id":"R1"}`, 200, strings.Replace(refund("SUCCESS"), `,"currency":"CNY","refund_fee":0`, "", 1), `"amount":"0.60","currency":"CNY"`, "", ""},

		// Each call's documented error codes, by HTTP status.
		{"400 PARAM_ERROR", nil, "pay", payReq, 400, `{"code":"PARAM_ERROR","message":"参数格式校验错误","detail":{"field":"/amount/total","value":0,"issue":"must be positive","location":"body"}}`, "422 provider_rejected", "PARAM_ERROR", "参数格式校验错误"},
		{"400 APPID_MCHID_NOT_MATCH", nil, "pay", payReq, 400, `{"code":"APPID_MCHID_NOT_MATCH","message":"appid和mch_id不匹配"}`, "422 provider_rejected", "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配"},
		{"400 INVALID_REQUEST", nil, "refund", refundReq, 400, `{"code":"INVALID_REQUEST","message":"订单已全额退款"}`, "422 provider_rejected", "INVALID_REQUEST", "订单已全额退款"},
		{"400 ORDER_CLOSED", nil, "pay", payReq, 400, `{"code":"ORDER_CLOSED","message":"订单已关闭"}`, "422 provider_rejected", "ORDER_CLOSED", "订单已关闭"},
		{"401 SIGN_ERROR", nil, "close", `{"order_id":"ORDER1"}`, 401, `{"code":"SIGN_ERROR","message":"签名错误"}`, "502 upstream_error", "SIGN_ERROR", "签名错误"},
		{"403 NO_AUTH", partner, "query", `{"order_id":"ORDER1"}`, 403, `{"code":"NO_AUTH","message":"服务商与子商户无授权关系"}`, "422 provider_rejected", "NO_AUTH", "服务商与子商户无授权关系"},
		{"403 OUT_TRADE_NO_USED", nil, "pay", payReq, 403, `{"code":"OUT_TRADE_NO_USED","message":"商户订单号重复"}`, "422 provider_rejected", "OUT_TRADE_NO_USED", "商户订单号重复"},
		{"403 RULE_LIMIT", nil, "pay", payReq, 403, `{"code":"RULE_LIMIT","message":"交易金额超限"}`, "422 provider_rejected", "RULE_LIMIT", "交易金额超限"},
		{"403 TRADE_ERROR", nil, "pay", payReq, 403, `{"code":"TRADE_ERROR","message":"交易错误"}`, "422 provider_rejected", "TRADE_ERROR", "交易错误"},
		{"403 USER_ACCOUNT_ABNORMAL", nil, "refund", refundReq, 403, `{"code":"USER_ACCOUNT_ABNORMAL","message":"退款请求失败"}`, "422 provider_rejected", "USER_ACCOUNT_ABNORMAL", "退款请求失败"},
		{"404 ORDER_NOT_EXIST on close", nil, "close", `{"order_id":"ORDER1"}`, 404, `{"code":"ORDER_NOT_EXIST","message":"订单不存在"}`, "422 provider_rejected", "ORDER_NOT_EXIST", "订单不存在"},
		{"404 RESOURCE_NOT_EXISTS on refund", nil, "refund", refundReq, 404, `{"code":"RESOURCE_NOT_EXISTS","message":"订单号非法或者订单不存在"}`, "422 provider_rejected", "RESOURCE_NOT_EXISTS", "订单号非法或者订单不存在"},
		{"429 FREQUENCY_LIMITED on refund", nil, "refund", refundReq, 429, `{"code":"FREQUENCY_LIMITED","message":"频率限制"}`, "502 upstream_error", "FREQUENCY_LIMITED", "频率限制"},
		{"429 without a code", nil, "query", `{"order_id":"ORDER1"}`, 429, ``, "502 upstream_error", "", ""},
		{"500 SYSTEM_ERROR on close", nil, "close", `{"order_id":"ORDER1"}`, 500, `{"code":"SYSTEM_ERROR","message":"系统错误"}`, "502 upstream_error", "SYSTEM_ERROR", "系统错误"},
		{"500 BANK_ERROR on pay", nil, "pay", payReq, 500, `{"code":"BANK_ERROR","message":"银行系统异常"}`, "502 upstream_error", "BANK_ERROR", "银行系统异常"},
		// 202 USERPAYING is in the error tables of pay, query and close: the
		// order is not closed (it was "cancelled" before), nor prepaid.
		{"202 USERPAYING on close", nil, "close", `{"order_id":"ORDER1"}`, 202, `{"code":"USERPAYING","message":"用户支付中，需要输入密码"}`, "422 provider_rejected", "USERPAYING", "用户支付中，需要输入密码"},
		{"202 USERPAYING on pay", nil, "pay", payReq, 202, `{"code":"USERPAYING","message":"用户支付中，需要输入密码"}`, "422 provider_rejected", "USERPAYING", "用户支付中，需要输入密码"},
		{"202 USERPAYING on query", partner, "query", `{"order_id":"ORDER1"}`, 202, `{"code":"USERPAYING","message":"用户支付中，需要输入密码"}`, "422 provider_rejected", "USERPAYING", "用户支付中，需要输入密码"},
		{"200 close with an empty body", nil, "close", `{"order_id":"ORDER1"}`, 200, ``, `{"provider":"wechat_v3","order_id":"ORDER1","status":"cancelled"}`, "", ""},
		{"503 without a body", nil, "refund_query", `{"refund_id":"R1"}`, 503, ``, "502 upstream_error", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := pinnedClient(t, tc.edit)
			call := prepare(t, c, tc.op, tc.req)
			out, err := call.Decode(tc.status, platformAnswer(t, examplePublicKeyID, transformtest.Pinned, tc.body), []byte(tc.body))
			if strings.HasPrefix(tc.want, "{") || strings.HasPrefix(tc.want, `"`) {
				if err != nil || !strings.Contains(string(out), tc.want) {
					t.Fatalf("answer %s, %v; want %s", out, err, tc.want)
				}
				return
			}
			status, code, _ := strings.Cut(tc.want, " ")
			e := transformtest.WantError(t, err, map[string]int{"422": 422, "502": 502}[status], code)
			if e.ProviderCode != tc.pcode || e.ProviderMessage != tc.pms {
				t.Fatalf("provider_code %q provider_message %q, want %q %q", e.ProviderCode, e.ProviderMessage, tc.pcode, tc.pms)
			}
		})
	}
	// The same answers unsigned: nothing in them is believed.
	for _, status := range []int{200, 204, 400, 401, 403, 404, 429, 500} {
		c := pinnedClient(t, nil)
		call := prepare(t, c, "query", `{"order_id":"ORDER1"}`)
		_, err := call.Decode(status, http.Header{}, []byte(`{"code":"ORDER_NOT_EXIST","message":"订单不存在"}`))
		transformtest.WantError(t, err, 502, "upstream_signature_invalid")
	}
}
