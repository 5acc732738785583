package wechatv2

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// operationBodies is one merchant request per operation, each for order O1.
var operationBodies = map[string]string{
	"pay":   `{"order_id":"O1","amount":"12.34","currency":"CNY","description":"Latte","openid":"` + openID + `"}`,
	"query": `{"order_id":"O1"}`, "close": `{"order_id":"O1"}`,
	"refund":       `{"order_id":"O1","refund_id":"R1","amount":"1.00","currency":"CNY","total_amount":"12.34"}`,
	"refund_query": `{"refund_id":"R1","order_id":"O1"}`,
}

// TestDecodeDocumentedRefusals: every err_code WeChat's v2 pages document
// for unifiedorder, orderquery, closeorder, refund and refundquery (错误码
// tables), in a signed result_code FAIL answer, is a 422 provider_rejected
// with that code and its err_code_des; every return_code FAIL (unsigned,
// return_msg such as 签名错误) is a 502 upstream_error carrying FAIL and the
// return_msg (README Errors), for each operation and both sign types.
func TestDecodeDocumentedRefusals(t *testing.T) {
	for _, st := range []string{SignMD5, SignHMACSHA256} {
		c := newClient(t, testConfig(st))
		for op, codes := range transformtest.WeChatV2ErrCodes {
			prepare := func(t *testing.T) *transform.Call {
				call, err := c.Prepare(context.Background(), op, []byte(operationBodies[op]))
				if err != nil {
					t.Fatal(err)
				}
				return call
			}
			for _, code := range codes {
				t.Run(st+"/"+op+"/"+code, func(t *testing.T) {
					des := "说明 " + code + " <&> ]]>"
					answer := signedXML(transform.Params{
						{Name: "return_code", Value: "SUCCESS"}, {Name: "return_msg", Value: "OK"}, {Name: "appid", Value: vecAppID},
						{Name: "mch_id", Value: vecMchID}, {Name: "nonce_str", Value: "5K8264ILTKCH16CQ"}, {Name: "result_code", Value: "FAIL"},
						{Name: "err_code", Value: code}, {Name: "err_code_des", Value: des},
					}, vecAPIKey, st)
					out, err := prepare(t).Decode(200, nil, answer)
					if e := wantError(t, err, 422, transform.CodeProviderRejected); out != nil || e.ProviderCode != code || e.ProviderMessage != des {
						t.Fatalf("%s: %s %+v", code, out, e)
					}
					// Under the other sign type the refusal proves nothing.
					_, err = prepare(t).Decode(200, nil, signedXML(parseXML(t, answer)[:8], vecAPIKey, otherSignType(st)))
					wantError(t, err, 502, transform.CodeSignatureInvalid)
				})
			}
			for _, msg := range transformtest.WeChatV2ReturnMsgs {
				t.Run(st+"/"+op+"/return_code FAIL "+msg, func(t *testing.T) {
					answer := transform.AppendFlatXML(nil, "xml", transform.Params{{Name: "return_code", Value: "FAIL"}, {Name: "return_msg", Value: msg}})
					out, err := prepare(t).Decode(200, nil, answer)
					if e := wantError(t, err, 502, transform.CodeUpstreamError); out != nil || e.ProviderCode != "FAIL" || e.ProviderMessage != msg {
						t.Fatalf("%s: %s %+v", msg, out, e)
					}
				})
			}
		}
	}
}

// TestWebhookDocumentedRefundPlaintext: a refund notification whose req_info
// holds every field of WeChat's documented plaintext (退款结果通知: the
// example's layout, one element a line, settlement fees below the asked
// ones by the non-recharge vouchers' refund, 支付用户零钱 as refund_recv_accout),
// for each refund_status, direct and service-provider mode (sub_appid and
// sub_mch_id outside req_info): the event is built from those fields, all
// of them in data and nothing of the outer document (README What the
// merchant can trust).
func TestWebhookDocumentedRefundPlaintext(t *testing.T) {
	fields := [][2]string{
		{"out_refund_no", "131811191610442717309"}, {"out_trade_no", "71106718111915575302817"},
		{"refund_account", "REFUND_SOURCE_RECHARGE_FUNDS"}, {"refund_fee", "3960"},
		{"refund_id", "50000408942018111907145868882"}, {"refund_recv_accout", "支付用户零钱"},
		{"refund_request_source", "API"}, {"refund_status", "STATUS"}, {"settlement_refund_fee", "3900"},
		{"settlement_total_fee", "3960"}, {"success_time", "2018-11-19 16:24:13"}, {"total_fee", "3960"},
		{"transaction_id", "4200000215201811190261405420"},
	}
	for _, tt := range []struct {
		status, typ string
		succeeded   bool
	}{
		{"SUCCESS", transform.EventRefundSucceeded, true},
		{"CHANGE", transform.EventRefundFailed, false},
		{"REFUNDCLOSE", transform.EventRefundFailed, false},
	} {
		for _, sp := range []bool{false, true} {
			t.Run(tt.status+map[bool]string{false: "/direct", true: "/service-provider"}[sp], func(t *testing.T) {
				want := map[string]string{}
				plain := "<root>\n"
				for _, f := range fields {
					v := strings.Replace(f[1], "STATUS", tt.status, 1)
					if f[0] == "success_time" && !tt.succeeded { // 退款成功时间: present on success
						continue
					}
					want[f[0]] = v
					plain += "<" + f[0] + "><![CDATA[" + v + "]]></" + f[0] + ">\n"
				}
				plain += "</root>"
				cfg, outer := testConfig(""), ""
				if sp {
					cfg = spConfig()
					outer = "<sub_appid><![CDATA[" + spSubAppID + "]]></sub_appid><sub_mch_id><![CDATA[" + spSubMchID + "]]></sub_mch_id>"
				}
				body := "<xml>\n<return_code>SUCCESS</return_code>\n<appid><![CDATA[" + cfg.AppID + "]]></appid>\n<mch_id><![CDATA[" +
					cfg.MchID + "]]></mch_id>\n" + outer + "<nonce_str><![CDATA[TeqClE3i0mvn3DrK]]></nonce_str>\n<req_info><![CDATA[" +
					transformtest.WeChatV2ReqInfo(vecAPIKey, plain) + "]]></req_info>\n</xml>"
				ev, err := newWebhook(t, cfg).Verify(transform.Notification{Body: []byte(body)})
				if err != nil {
					t.Fatalf("Verify = %v", err)
				}
				occurred := ""
				if tt.succeeded {
					occurred = "2018-11-19T16:24:13+08:00"
				}
				if ev.ID != "wechat_v2:50000408942018111907145868882:"+tt.typ || ev.Type != tt.typ || ev.Provider != Name ||
					ev.OrderID != "71106718111915575302817" || ev.ProviderOrderID != "4200000215201811190261405420" ||
					ev.RefundID != "131811191610442717309" || ev.Amount != "39.60" || ev.Currency != "CNY" || ev.OccurredAt != occurred {
					t.Errorf("event %+v", ev)
				}
				if !maps.Equal(ev.Data, want) {
					t.Errorf("data %v\nwant %v", ev.Data, want)
				}
			})
		}
	}
}

// TestWebhookCouponsAndOptionalFields: payment notifications as WeChat's
// 支付结果通知 documents them, under both sign types, direct and
// service-provider mode: one with vouchers (coupon_fee, coupon_count and
// coupon_type_$n, coupon_id_$n, coupon_fee_$n), device_info, attach in
// Chinese with XML's specials, settlement_total_fee and cash_fee_type; and
// one with only the required fields (no fee_type: CNY, no attach, no
// is_subscribe, no return_msg). data is every signed field.
func TestWebhookCouponsAndOptionalFields(t *testing.T) {
	required := transform.Params{
		{Name: "return_code", Value: "SUCCESS"}, {Name: "appid", Value: vecAppID}, {Name: "mch_id", Value: vecMchID},
		{Name: "nonce_str", Value: "5d2b6c2a8db53831f7eda20af46e531c"}, {Name: "result_code", Value: "SUCCESS"},
		{Name: "openid", Value: "oUpF8uMEb4qRXf22hE3X68TekukE"}, {Name: "trade_type", Value: "JSAPI"}, {Name: "bank_type", Value: "CMC"},
		{Name: "total_fee", Value: "1000"}, {Name: "cash_fee", Value: "900"}, {Name: "transaction_id", Value: "1004400740201409030005092168"},
		{Name: "out_trade_no", Value: "1409811653"}, {Name: "time_end", Value: "20140903131540"},
	}
	vouchers := append(required[:len(required):len(required)],
		transform.Param{Name: "device_info", Value: "013467007045764"}, transform.Param{Name: "is_subscribe", Value: "Y"},
		transform.Param{Name: "fee_type", Value: "CNY"}, transform.Param{Name: "settlement_total_fee", Value: "1000"},
		transform.Param{Name: "cash_fee_type", Value: "CNY"}, transform.Param{Name: "coupon_fee", Value: "100"},
		transform.Param{Name: "coupon_count", Value: "2"},
		transform.Param{Name: "coupon_type_0", Value: "CASH"}, transform.Param{Name: "coupon_id_0", Value: "10000"},
		transform.Param{Name: "coupon_fee_0", Value: "60"}, transform.Param{Name: "coupon_type_1", Value: "NO_CASH"},
		transform.Param{Name: "coupon_id_1", Value: "10001"}, transform.Param{Name: "coupon_fee_1", Value: "40"},
		transform.Param{Name: "attach", Value: "支付测试 <a&b> \"]]>\""}, transform.Param{Name: "return_msg", Value: "OK"})
	// The largest: the 28 vouchers an order uses at most, and the 单品优惠
	// promotion_detail text beside them (docs/providers/wechat_v2.md
	// Largest documents).
	largest := append(set(set(vouchers, "coupon_count", "28"), "coupon_fee", "126"),
		transform.Param{Name: "version", Value: "1.0"}, transform.Param{Name: "promotion_detail", Value: `{"promotion_detail":[{"promotion_id":"109519",` +
			`"name":"单品惠-6","scope":"SINGLE","type":"DISCOUNT","amount":"5","activity_id":"931386","wxpay_contribute":"0","merchant_contribute":"0",` +
			`"other_contribute":"5","goods_detail":[{"goods_id":"a_goods1","goods_remark":"商品备注","quantity":"7","price":"1","discount_amount":"4"}]}]}`})
	for n := 2; n < 28; n++ {
		i := strconv.Itoa(n)
		largest = append(largest, transform.Param{Name: "coupon_type_" + i, Value: "CASH"}, transform.Param{Name: "coupon_id_" + i, Value: "100" + i},
			transform.Param{Name: "coupon_fee_" + i, Value: "1"})
	}
	for _, st := range []string{SignMD5, SignHMACSHA256} {
		for _, sp := range []bool{false, true} {
			for name, p := range map[string]transform.Params{"vouchers": vouchers, "28 vouchers": largest, "required fields only": required} {
				t.Run(st+map[bool]string{false: "/direct/", true: "/service-provider/"}[sp]+name, func(t *testing.T) {
					cfg := testConfig(st)
					if sp {
						cfg = spConfig()
						cfg.SignType = st
						p = set(set(p, "appid", spAppID), "mch_id", spMchID)
						p = append(p, transform.Param{Name: "sub_appid", Value: spSubAppID}, transform.Param{Name: "sub_mch_id", Value: spSubMchID},
							transform.Param{Name: "sub_openid", Value: "oUpF8uN95-Ptaags6E_roPHg7AG0"}, transform.Param{Name: "sub_is_subscribe", Value: "N"})
					}
					want := map[string]string{}
					for _, kv := range p {
						want[kv.Name] = kv.Value
					}
					ev, err := newWebhook(t, cfg).Verify(transform.Notification{Body: signedXML(p, vecAPIKey, st)})
					if err != nil {
						t.Fatalf("Verify = %v", err)
					}
					if ev.ID != "wechat_v2:1004400740201409030005092168:payment.succeeded" || ev.Type != transform.EventPaymentSucceeded ||
						ev.OrderID != "1409811653" || ev.ProviderOrderID != "1004400740201409030005092168" || ev.Amount != "10.00" ||
						ev.Currency != "CNY" || ev.OccurredAt != "2014-09-03T13:15:40+08:00" || ev.RefundID != "" {
						t.Errorf("event %+v", ev)
					}
					if !maps.Equal(ev.Data, want) {
						t.Errorf("data %v\nwant %v", ev.Data, want)
					}
				})
			}
		}
	}
}

// TestRefundQuerySeveralRefunds: a refundquery answer listing an order's
// partial refunds as WeChat's 查询退款 does (refund_count, and per refund
// out_refund_no_$n, refund_id_$n, refund_channel_$n, refund_fee_$n,
// settlement_refund_fee_$n, coupon_refund_fee_$n, refund_status_$n,
// refund_account_$n, refund_recv_accout_$n, refund_success_time_$n), the
// 20 an answer lists at most, in every documented refund_status, fee_type
// USD, each returning the 28 vouchers an order uses at most
// (coupon_refund_count_$n, coupon_type_$n_$m, coupon_refund_id_$n_$m,
// coupon_refund_fee_$n_$m: the largest genuine answer, about 1950 fields,
// docs/providers/wechat_v2.md Largest documents): each refund_id gets its
// own entry (refund_1 is not refund_11), in the order's currency, its asked
// refund_fee_$n as amount (README wechat_v2 refund_query).
func TestRefundQuerySeveralRefunds(t *testing.T) {
	statuses := []string{"SUCCESS", "PROCESSING", "REFUNDCLOSE", "CHANGE"}
	mapped := map[string]string{"SUCCESS": "succeeded", "PROCESSING": "pending", "REFUNDCLOSE": "failed", "CHANGE": "failed"}
	const count, vouchers = 20, 28
	answer := transform.Params{
		{Name: "return_code", Value: "SUCCESS"}, {Name: "return_msg", Value: "OK"}, {Name: "appid", Value: vecAppID},
		{Name: "mch_id", Value: vecMchID}, {Name: "nonce_str", Value: "TeqClE3i0mvn3DrK"}, {Name: "result_code", Value: "SUCCESS"},
		{Name: "transaction_id", Value: "1008450740201411110005820873"}, {Name: "out_trade_no", Value: "O1"},
		{Name: "total_fee", Value: "100000"}, {Name: "fee_type", Value: "USD"}, {Name: "cash_fee", Value: "700000"},
		{Name: "cash_fee_type", Value: "CNY"}, {Name: "refund_count", Value: strconv.Itoa(count)},
	}
	for n := range count {
		i := strconv.Itoa(n)
		answer = append(answer,
			transform.Param{Name: "out_refund_no_" + i, Value: "O1-R" + i}, transform.Param{Name: "refund_id_" + i, Value: "5000" + i},
			transform.Param{Name: "refund_channel_" + i, Value: "ORIGINAL"}, transform.Param{Name: "refund_fee_" + i, Value: strconv.Itoa(100 + n)},
			transform.Param{Name: "settlement_refund_fee_" + i, Value: strconv.Itoa(90 + n)},
			transform.Param{Name: "coupon_refund_fee_" + i, Value: strconv.Itoa(vouchers)}, transform.Param{Name: "refund_status_" + i, Value: statuses[n%len(statuses)]},
			transform.Param{Name: "refund_account_" + i, Value: "REFUND_SOURCE_UNSETTLED_FUNDS"},
			transform.Param{Name: "refund_recv_accout_" + i, Value: "招商银行信用卡0403"},
			transform.Param{Name: "refund_success_time_" + i, Value: "2016-07-25 15:26:26"},
			transform.Param{Name: "cash_refund_fee_" + i, Value: strconv.Itoa(90 + n)},
			transform.Param{Name: "coupon_refund_count_" + i, Value: strconv.Itoa(vouchers)})
		for m := range vouchers {
			j := i + "_" + strconv.Itoa(m)
			answer = append(answer, transform.Param{Name: "coupon_type_" + j, Value: "CASH"},
				transform.Param{Name: "coupon_refund_id_" + j, Value: "1000000000" + strconv.Itoa(1000+m)},
				transform.Param{Name: "coupon_refund_fee_" + j, Value: "1"})
		}
	}
	if len(answer) < 1900 {
		t.Fatalf("the answer has %d fields", len(answer))
	}
	c := newClient(t, testConfig(SignHMACSHA256))
	body := signedXML(answer, vecAPIKey, SignHMACSHA256)
	for n := range count {
		for _, req := range []string{`{"refund_id":"O1-R%d","order_id":"O1"}`, `{"refund_id":"O1-R%d"}`} {
			call, err := c.Prepare(context.Background(), "refund_query", fmt.Appendf(nil, req, n))
			if err != nil {
				t.Fatal(err)
			}
			out, err := call.Decode(200, nil, body)
			status := statuses[n%len(statuses)]
			want := fmt.Sprintf(`{"provider":"wechat_v2","order_id":"O1","refund_id":"O1-R%d","provider_refund_id":"5000%d","status":"%s",`+
				`"amount":"%d.%02d","currency":"USD","provider_status":"%s"}`, n, n, mapped[status], (100+n)/100, (100+n)%100, status)
			if err != nil || string(out) != want {
				t.Errorf("refund %d: %s %v\nwant %s", n, out, err, want)
			}
		}
	}
}

// TestDecodeQueryOptionalFields: orderquery answers in every trade_state as
// WeChat's 查询订单 sends them: for SUCCESS and REFUND with every optional
// field (device_info, is_subscribe, settlement_total_fee, cash_fee,
// cash_fee_type, coupon_fee, coupon_count, coupon_type_$n, coupon_id_$n,
// coupon_fee_$n, attach in Chinese with XML's specials, time_end), and in
// every state with only what WeChat sends when trade_state is not SUCCESS
// (out_trade_no, attach, trade_state, trade_state_desc): the status object
// takes transaction_id when present, and total_fee, fee_type and time_end
// of a paid order only, leaving them "" otherwise, under both sign types.
func TestDecodeQueryOptionalFields(t *testing.T) {
	const attach = "门店 <A&B> \"]]>\" 'x'"
	states := map[string]string{"SUCCESS": "succeeded", "REFUND": "refunded", "NOTPAY": "pending", "USERPAYING": "pending",
		"CLOSED": "cancelled", "REVOKED": "cancelled", "PAYERROR": "failed"}
	for _, st := range []string{SignMD5, SignHMACSHA256} {
		c := newClient(t, testConfig(st))
		for state, status := range states {
			for _, full := range []bool{false, true} {
				t.Run(st+"/"+state+map[bool]string{false: "/minimal", true: "/full"}[full], func(t *testing.T) {
					p := transform.Params{
						{Name: "return_code", Value: "SUCCESS"}, {Name: "return_msg", Value: "OK"}, {Name: "appid", Value: vecAppID},
						{Name: "mch_id", Value: vecMchID}, {Name: "nonce_str", Value: "ec2316275641faa3aacf3cc599e8730f"},
						{Name: "result_code", Value: "SUCCESS"}, {Name: "out_trade_no", Value: "O1"}, {Name: "attach", Value: attach},
						{Name: "trade_state", Value: state}, {Name: "trade_state_desc", Value: "说明"},
					}
					want := `{"provider":"wechat_v2","order_id":"O1","provider_order_id":"","status":"` + status + `","amount":"","currency":"",`
					if full {
						p = append(p, transform.Param{Name: "device_info", Value: "1000"}, transform.Param{Name: "openid", Value: openID},
							transform.Param{Name: "is_subscribe", Value: "N"}, transform.Param{Name: "trade_type", Value: "JSAPI"},
							transform.Param{Name: "bank_type", Value: "CMC"}, transform.Param{Name: "total_fee", Value: "1001"},
							transform.Param{Name: "settlement_total_fee", Value: "901"}, transform.Param{Name: "fee_type", Value: "HKD"},
							transform.Param{Name: "cash_fee", Value: "800"}, transform.Param{Name: "cash_fee_type", Value: "CNY"},
							transform.Param{Name: "coupon_fee", Value: "100"}, transform.Param{Name: "coupon_count", Value: "1"},
							transform.Param{Name: "coupon_type_0", Value: "CASH"}, transform.Param{Name: "coupon_id_0", Value: "10000"},
							transform.Param{Name: "coupon_fee_0", Value: "100"}, transform.Param{Name: "transaction_id", Value: "1008450740201411110005820873"},
							transform.Param{Name: "time_end", Value: "20141111170043"})
						want = `{"provider":"wechat_v2","order_id":"O1","provider_order_id":"1008450740201411110005820873","status":"` + status
						if status == "succeeded" || status == "refunded" {
							want += `","amount":"10.01","currency":"HKD","paid_at":"2014-11-11T17:00:43+08:00",`
						} else {
							want += `","amount":"","currency":"",`
						}
					}
					want += `"provider_status":"` + state + `"}`
					call, err := c.Prepare(context.Background(), "query", []byte(`{"order_id":"O1"}`))
					if err != nil {
						t.Fatal(err)
					}
					out, err := call.Decode(200, nil, signedXML(p, vecAPIKey, st))
					if err != nil || string(out) != want {
						t.Fatalf("Decode = %s, %v\nwant %s", out, err, want)
					}
					// attach is signed like every field: changed, the answer is refused.
					changed := bytes.Replace(signedXML(p, vecAPIKey, st), []byte("门店"), []byte("门市"), 1)
					_, err = call.Decode(200, nil, changed)
					wantError(t, err, 502, transform.CodeSignatureInvalid)
				})
			}
		}
	}
}
