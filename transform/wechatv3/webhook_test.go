package wechatv3

import (
	"errors"
	"fmt"
	"github.com/minipay/caddy-minipay/transform/transformtest"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// notificationOf signs and encrypts a notification as the sandbox (WeChat's
// side) does, with the resource given.
func notificationOf(t *testing.T, sb *Sandbox, announce, eventType, resource string) transform.Notification {
	t.Helper()
	out := must(sb.Notification("https://m.example/n", announce, eventType, "s", "transaction", []byte(resource)))
	return transform.Notification{Header: out.Header, Body: out.Body}
}

func TestWebhookOutcomes(t *testing.T) {
	sb, _ := newSandbox(t, nil)
	direct := must(NewWebhook(merchantConfig(t)))
	partnerCfg := merchantConfig(t)
	partnerCfg.SubMchID, partnerCfg.SubAppID = "1900000110", "wx9999999999999999"
	partner := must(NewWebhook(partnerCfg))
	const tx = `{"mchid":"1900000109","appid":"wx8888888888888888","out_trade_no":"ORDER1","transaction_id":"4200001","trade_state":"SUCCESS","success_time":"2026-11-29T10:00:05+08:00","payer":{"openid":"o"},"amount":{"total":1234,"currency":"CNY"},"promotion_detail":[{"amount":1}]}`
	const refund = `{"mchid":"1900000109","out_trade_no":"ORDER1","transaction_id":"4200001","out_refund_no":"R1","refund_id":"5030001","refund_status":"%s","amount":{"total":1234,"refund":234,"payer_total":1234,"payer_refund":234}}`
	pk := examplePublicKeyID
	cases := []struct {
		name    string
		w       *Webhook
		n       transform.Notification
		err     error
		typ, id string
	}{
		{"payment", direct, notificationOf(t, sb, pk, EventTransactionSuccess, tx), nil, "payment.succeeded", "wechat_v3:4200001:payment.succeeded"},
		{"payment announced by certificate serial", direct, notificationOf(t, sb, examplePlatformSN, EventTransactionSuccess, tx), ErrUnknownSerial, "", ""},
		{"refund succeeded", direct, notificationOf(t, sb, pk, EventRefundSuccess, strings.Replace(refund, "%s", "SUCCESS", 1)), nil, "refund.succeeded", "wechat_v3:5030001:refund.succeeded"},
		{"refund abnormal", direct, notificationOf(t, sb, pk, EventRefundAbnormal, strings.Replace(refund, "%s", "ABNORMAL", 1)), nil, "refund.failed", "wechat_v3:5030001:refund.failed"},
		{"refund closed", direct, notificationOf(t, sb, pk, EventRefundClosed, strings.Replace(refund, "%s", "CLOSED", 1)), nil, "refund.failed", "wechat_v3:5030001:refund.failed"},
		{"event type and state disagree", direct, notificationOf(t, sb, pk, EventRefundSuccess, strings.Replace(refund, "%s", "PROCESSING", 1)), nil, "unknown", ""},
		{"payment without trade_state", direct, notificationOf(t, sb, pk, EventTransactionSuccess, strings.Replace(tx, `"trade_state":"SUCCESS",`, ``, 1)), nil, "payment.succeeded", "wechat_v3:4200001:payment.succeeded"},
		{"refund without refund_status", direct, notificationOf(t, sb, pk, EventRefundClosed, strings.Replace(refund, `"refund_status":"%s",`, ``, 1)), nil, "refund.failed", "wechat_v3:5030001:refund.failed"},
		{"payment not in SUCCESS", direct, notificationOf(t, sb, pk, EventTransactionSuccess, strings.Replace(tx, `"SUCCESS"`, `"NOTPAY"`, 1)), nil, "unknown", ""},
		// README What the merchant can trust: the envelope's summary, event_type and id
		// take the place of resource members of those names (checked below: summary "s").
		{"resource members named as the envelope's", direct, notificationOf(t, sb, pk, EventTransactionSuccess,
			strings.Replace(tx, `"mchid"`, `"summary":"resource's","event_type":"REFUND.SUCCESS","notification_id":"N0","mchid"`, 1)), nil, "payment.succeeded", "wechat_v3:4200001:payment.succeeded"},
		{"other event type", direct, notificationOf(t, sb, pk, "MCHTRANSFER.BILL.FINISHED", `{"mchid":"1900000109","out_bill_no":"B1"}`), nil, "unknown", ""},
		// The deepest genuine resource, a 支付分 order paid with a single-goods
		// coupon (gopay's V3DecryptScoreResult: collection.details[].
		// promotion_detail[].goods_detail[], eight levels): forwarded as
		// unknown, where a bound of six levels refused it (401, retried by
		// WeChat for a day and then dropped).
		{"payscore paid with a single-goods coupon", direct, notificationOf(t, sb, pk, "PAYSCORE.USER_PAID", payscorePaid), nil, "unknown", ""},
		{"another mchid", direct, notificationOf(t, sb, pk, EventTransactionSuccess, strings.Replace(tx, "1900000109", "1900000999", 1)), transform.ErrForeign, "", ""},
		// an empty {} or [] holds no value: taken as absent, as null is (README What the merchant can trust)
		{"appid an empty object", direct, notificationOf(t, sb, pk, EventTransactionSuccess, strings.Replace(tx, `"appid":"wx8888888888888888"`, `"appid":{}`, 1)), nil, "payment.succeeded", "wechat_v3:4200001:payment.succeeded"},
		{"appid an empty array", direct, notificationOf(t, sb, pk, EventTransactionSuccess, strings.Replace(tx, `"appid":"wx8888888888888888"`, `"appid":[]`, 1)), nil, "payment.succeeded", "wechat_v3:4200001:payment.succeeded"},
		{"another appid", direct, notificationOf(t, sb, pk, EventTransactionSuccess, strings.Replace(tx, "wx8888888888888888", "wx0000000000000000", 1)), transform.ErrForeign, "", ""},
		{"no mchid", direct, notificationOf(t, sb, pk, EventTransactionSuccess, `{"appid":"wx8888888888888888","out_trade_no":"ORDER1"}`), transform.ErrForeign, "", ""},
		{"partner", partner, notificationOf(t, sb, pk, EventTransactionSuccess,
			`{"sp_mchid":"1900000109","sub_mchid":"1900000110","sp_appid":"wx8888888888888888","sub_appid":"wx9999999999999999","out_trade_no":"ORDER1","transaction_id":"4200001","trade_state":"SUCCESS","amount":{"total":1}}`), nil, "payment.succeeded", "wechat_v3:4200001:payment.succeeded"},
		{"partner, another sub_mchid", partner, notificationOf(t, sb, pk, EventTransactionSuccess,
			`{"sp_mchid":"1900000109","sub_mchid":"1900000111","sp_appid":"wx8888888888888888","out_trade_no":"ORDER1","trade_state":"SUCCESS"}`), transform.ErrForeign, "", ""},
		{"partner, another sp_appid", partner, notificationOf(t, sb, pk, EventTransactionSuccess,
			`{"sp_mchid":"1900000109","sub_mchid":"1900000110","sp_appid":"wx0000000000000000","sub_appid":"wx9999999999999999","out_trade_no":"ORDER1","transaction_id":"4200001","trade_state":"SUCCESS","amount":{"total":1}}`), transform.ErrForeign, "", ""},
		{"partner, another sub_appid", partner, notificationOf(t, sb, pk, EventTransactionSuccess,
			`{"sp_mchid":"1900000109","sub_mchid":"1900000110","sp_appid":"wx8888888888888888","sub_appid":"wx0000000000000000","out_trade_no":"ORDER1","transaction_id":"4200001","trade_state":"SUCCESS","amount":{"total":1}}`), transform.ErrForeign, "", ""},
		{"partner, refund without appids", partner, notificationOf(t, sb, pk, EventRefundSuccess,
			`{"sp_mchid":"1900000109","sub_mchid":"1900000110","out_trade_no":"ORDER1","transaction_id":"4200001","out_refund_no":"R1","refund_id":"5030001","refund_status":"SUCCESS","amount":{"total":1234,"refund":234,"payer_total":1234,"payer_refund":234}}`), nil, "refund.succeeded", "wechat_v3:5030001:refund.succeeded"},
		{"partner route, direct notification", partner, notificationOf(t, sb, pk, EventTransactionSuccess, tx), transform.ErrForeign, "", ""},
		{"resource not JSON", direct, notificationOf(t, sb, pk, EventTransactionSuccess, `not json`), transform.ErrMalformed, "", ""},
		// A leaf per goods field: an order of 300 discounted goods is some
		// 1 500 members, which a 256-member cap refused (401, retried by
		// WeChat for a day and then dropped).
		{"payment with 300 discounted goods", direct, notificationOf(t, sb, pk, EventTransactionSuccess, strings.Replace(tx, `"promotion_detail":[{"amount":1}]`, discountedGoods(300), 1)),
			nil, "payment.succeeded", "wechat_v3:4200001:payment.succeeded"},
		{"payment with 2 discounts of 200 goods", direct, notificationOf(t, sb, pk, EventTransactionSuccess, strings.Replace(tx, `"promotion_detail":[{"amount":1}]`, discountedGoods(200, 200), 1)),
			nil, "payment.succeeded", "wechat_v3:4200001:payment.succeeded"},
		// A member takes as little as 2 bytes ("0," in an array): 12 000 of
		// them fit in a 32 KB notification, which a cap of 6 bytes a member
		// refused.
		{"payment with 12000 numbers in an array", direct, notificationOf(t, sb, pk, EventTransactionSuccess, strings.Replace(tx, `"promotion_detail":[{"amount":1}]`, `"x":[0`+strings.Repeat(",0", 11999)+`]`, 1)),
			nil, "payment.succeeded", "wechat_v3:4200001:payment.succeeded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := tc.w.Verify(tc.n)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if ev.Type != tc.typ || tc.id != "" && ev.ID != tc.id || ev.Data["notification_id"] == "" || ev.Data["summary"] != "s" || ev.Data["event_type"] == "" {
				t.Fatalf("event %+v", ev)
			}
			if tc.typ == "unknown" && !strings.HasSuffix(ev.ID, ":unknown") {
				t.Fatalf("unknown event id %s", ev.ID)
			}
			for k := range ev.Data {
				if strings.HasPrefix(k, "resource") || k == "ciphertext" {
					t.Fatalf("event data carries the envelope's %s", k)
				}
			}
		})
	}
	if ev := must(direct.Verify(notificationOf(t, sb, pk, "PAYSCORE.USER_PAID", payscorePaid))); ev.Data["collection.details.0.promotion_detail.0.goods_detail.0.goods_remark"] != "商品备注信息" {
		t.Fatalf("payscore data %v", ev.Data)
	}
	ev := must(direct.Verify(notificationOf(t, sb, pk, EventTransactionSuccess, tx)))
	if ev.Data["promotion_detail.0.amount"] != "1" || ev.Data["payer.openid"] != "o" || ev.Amount != "12.34" || ev.OccurredAt != "2026-11-29T10:00:05+08:00" {
		t.Fatalf("flattened data %v", ev.Data)
	}
}

// Tampering with what the signature covers, or with the headers, is refused
// before anything of the body is read.
func TestWebhookRefusals(t *testing.T) {
	w := vector8Webhook(t, nil)
	cases := []struct {
		name string
		edit func(*transform.Notification)
		err  error
	}{
		{"body changed", func(n *transform.Notification) { n.Body = []byte(strings.Replace(string(n.Body), "EV-", "EW-", 1)) }, transform.ErrBadSignature},
		{"no signature", func(n *transform.Notification) { n.Header.Del(HeaderSignature) }, transform.ErrUnsigned},
		{"no serial", func(n *transform.Notification) { n.Header.Del(HeaderSerial) }, transform.ErrUnsigned},
		{"probe", func(n *transform.Notification) {
			n.Header.Set(HeaderSignature, "WECHATPAY/SIGNTEST/"+n.Header.Get(HeaderSignature))
		}, ErrProbe},
		{"unknown serial", func(n *transform.Notification) { n.Header.Set(HeaderSerial, "1234") }, ErrUnknownSerial},
		{"a signature longer than any key's", func(n *transform.Notification) { n.Header.Set(HeaderSignature, strings.Repeat("A", 2048)) }, transform.ErrBadSignature},
		{"another signature type", func(n *transform.Notification) { n.Header.Set(HeaderSignatureType, "WECHATPAY2-SM2-WITH-SM3") }, ErrSignatureType},
		// A signed header given on two lines (RFC 9110 §5.3 allows that
		// for lists only): the valid value first, another after it, which a
		// reader taking the last line would read.
		{"Wechatpay-Signature twice", repeatHeader(HeaderSignature, "AAAA"), transform.ErrRepeatedHeader},
		{"Wechatpay-Serial twice", repeatHeader(HeaderSerial, "PUB_KEY_ID_0000"), transform.ErrRepeatedHeader},
		{"Wechatpay-Timestamp twice", repeatHeader(HeaderTimestamp, "1795917000"), transform.ErrRepeatedHeader},
		{"Wechatpay-Nonce twice", repeatHeader(HeaderNonce, "another"), transform.ErrRepeatedHeader},
		{"Wechatpay-Signature-Type twice", func(n *transform.Notification) {
			n.Header[HeaderSignatureType] = []string{AuthScheme, "WECHATPAY2-SM2-WITH-SM3"}
		}, transform.ErrRepeatedHeader},
		{"Wechatpay-Signature twice, the same value", func(n *transform.Notification) {
			repeatHeader(HeaderSignature, n.Header.Get(HeaderSignature))(n)
		}, transform.ErrRepeatedHeader},
		// Last: it moves the webhook's clock.
		{"replayed later", func(n *transform.Notification) {}, ErrSkew},
	}
	for _, tc := range cases {
		n := vector8(t)
		tc.edit(&n)
		if tc.name == "replayed later" {
			w.Now = func() time.Time { return time.Unix(1795917606+300, 0) }
		}
		if _, err := w.Verify(n); !errors.Is(err, tc.err) || !errors.Is(err, transform.ErrBadSignature) && !errors.Is(err, transform.ErrUnsigned) && !errors.Is(err, transform.ErrMalformed) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
	wrongKey := vector8Webhook(t, func(c *Config) { c.APIv3Key = strings.Repeat("k", 32) })
	if _, err := wrongKey.Verify(vector8(t)); err != ErrDecrypt || !errors.Is(err, transform.ErrBadSignature) {
		t.Fatalf("another api_v3_key: %v, want ErrDecrypt, a transform.ErrBadSignature", err)
	}
	foreign := vector8Webhook(t, func(c *Config) { c.MchID = "1230000110" })
	if _, err := foreign.Verify(vector8(t)); err != transform.ErrForeign {
		t.Fatalf("another mch_id: %v", err)
	}
	// A signed API answer is not a notification.
	sb, _ := newSandbox(t, nil)
	// A resource that is not UTF-8 (signed and authenticated) would reach
	// the event as U+FFFD, which WeChat did not write.
	// So would an escape of half a surrogate pair (\ud800 alone).
	for name, resource := range map[string]string{
		"not UTF-8":                  `{"mchid":"1900000109","appid":"wx8888888888888888","out_trade_no":"O` + "\xff" + `1","transaction_id":"4200001","trade_state":"SUCCESS"}`,
		"with half a surrogate pair": `{"mchid":"1900000109","appid":"wx8888888888888888","out_trade_no":"O\ud8001","transaction_id":"4200001","trade_state":"SUCCESS"}`,
	} {
		if _, err := must(NewWebhook(merchantConfig(t))).Verify(notificationOf(t, sb, examplePublicKeyID, EventTransactionSuccess, resource)); err != transform.ErrMalformed {
			t.Fatalf("a resource %s: %v", name, err)
		}
	}
	// An appid written as an object or an array is present and names no merchant: not ours.
	for name, resource := range map[string]string{
		"appid an object holding ours": `{"mchid":"1900000109","appid":{"id":"wx8888888888888888"},"out_trade_no":"ORDER1","transaction_id":"4200001","trade_state":"SUCCESS"}`,
		"appid an array holding ours":  `{"mchid":"1900000109","appid":["wx8888888888888888"],"out_trade_no":"ORDER1","transaction_id":"4200001","trade_state":"SUCCESS"}`,
	} {
		if _, err := must(NewWebhook(merchantConfig(t))).Verify(notificationOf(t, sb, examplePublicKeyID, EventTransactionSuccess, resource)); err != transform.ErrForeign {
			t.Fatalf("a resource with %s: %v", name, err)
		}
	}
	body := []byte(`{"prepay_id":"wx1"}`)
	if _, err := must(NewWebhook(merchantConfig(t))).Verify(transform.Notification{Header: sb.sign(examplePublicKeyID, body), Body: body}); !errors.Is(err, transform.ErrSignedAnswer) {
		t.Fatalf("a signed answer as a notification: %v", err)
	}
	// A document is a notification by its exact member names, as the
	// envelope is read: Event_Type and RESOURCE name nothing, so a signed
	// document with only those is an answer; event_type given twice is
	// malformed, not an answer.
	for body, want := range map[string]error{
		`{"Event_Type":"TRANSACTION.SUCCESS","RESOURCE":{"ciphertext":"x"}}`: transform.ErrSignedAnswer,
		`{"event_type":"TRANSACTION.SUCCESS","event_type":"X"}`:              transform.ErrMalformed,
	} {
		b := []byte(body)
		if _, err := must(NewWebhook(merchantConfig(t))).Verify(transform.Notification{Header: sb.sign(examplePublicKeyID, b), Body: b}); err != want {
			t.Errorf("%s: %v, want %v", body, err, want)
		}
	}
}

// repeatHeader adds a second line of the header name, holding value, after
// the notification's own.
func repeatHeader(name, value string) func(*transform.Notification) {
	return func(n *transform.Notification) { n.Header[name] = append(n.Header[name], value) }
}

// The signed envelope is read by its exact member names, and a name given
// twice is refused: the signature covers both values and nothing says which
// one WeChat meant (encoding/json would take the last, and match
// "EVENT_TYPE" as "event_type").
func TestWebhookEnvelopeNames(t *testing.T) {
	sb, _ := newSandbox(t, nil)
	w := must(NewWebhook(merchantConfig(t)))
	const tx = `{"mchid":"1900000109","appid":"wx8888888888888888","out_trade_no":"ORDER1","transaction_id":"4200001","trade_state":"SUCCESS","amount":{"total":1234,"currency":"CNY"}}`
	good := notificationOf(t, sb, examplePublicKeyID, EventTransactionSuccess, tx).Body
	resigned := func(edit func(string) string) transform.Notification {
		body := []byte(edit(string(good)))
		return transform.Notification{Header: sb.sign(examplePublicKeyID, body), Body: body}
	}
	cases := []struct {
		name string
		n    transform.Notification
		err  error
		typ  string
	}{
		{"as sent", resigned(func(b string) string { return b }), nil, "payment.succeeded"},
		{"event_type twice", resigned(func(b string) string { return `{"event_type":"REFUND.SUCCESS",` + b[1:] }), transform.ErrMalformed, ""},
		{"id twice", resigned(func(b string) string { return `{"id":"EV-other",` + b[1:] }), transform.ErrMalformed, ""},
		{"resource twice", resigned(func(b string) string { return `{"resource":{"algorithm":"AEAD_AES_256_GCM"},` + b[1:] }), transform.ErrMalformed, ""},
		{"a resource member twice", resigned(func(b string) string {
			return strings.Replace(b, `"resource":{`, `"resource":{"nonce":"000000000000",`, 1)
		}), transform.ErrMalformed, ""},
		{"EVENT_TYPE is another member", resigned(func(b string) string { return b[:len(b)-1] + `,"EVENT_TYPE":"REFUND.SUCCESS"}` }), nil, "payment.succeeded"},
		{"data after the object", resigned(func(b string) string { return b + "{}" }), transform.ErrMalformed, ""},
		{"no resource_type", resigned(func(b string) string { return strings.Replace(b, `"resource_type":"encrypt-resource",`, ``, 1) }), nil, "payment.succeeded"},
		{"another resource_type", resigned(func(b string) string { return strings.Replace(b, `"encrypt-resource"`, `"plain-resource"`, 1) }), transform.ErrMalformed, ""},
		{"resource_type empty", resigned(func(b string) string { return strings.Replace(b, `"encrypt-resource"`, `""`, 1) }), transform.ErrMalformed, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := w.Verify(tc.n)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err == nil && (ev.Type != tc.typ || ev.Data["event_type"] != EventTransactionSuccess) {
				t.Fatalf("event %+v", ev)
			}
		})
	}
}

// TestWebhookEventHoldsOnlySignedEnvelope: the envelope's summary goes
// into data only when it names one (not null), as CBTIS's notify_type
// does: an envelope without summary added a summary of "" WeChat never
// signed, which took the place of the resource's own signed summary.
func TestWebhookEventHoldsOnlySignedEnvelope(t *testing.T) {
	sb, _ := newSandbox(t, nil)
	w := must(NewWebhook(merchantConfig(t)))
	const tx = `{"mchid":"1900000109","appid":"wx8888888888888888","out_trade_no":"ORDER1","transaction_id":"4200001","trade_state":"SUCCESS","summary":"resource's","amount":{"total":1234,"currency":"CNY"}}`
	good := string(notificationOf(t, sb, examplePublicKeyID, EventTransactionSuccess, tx).Body)
	cases := []struct {
		name, old, new string
		summary        string // data's
	}{
		{"as sent", "", "", "s"},
		{"no summary", `"summary":"s",`, ``, "resource's"},
		{"a null summary", `"summary":"s"`, `"summary":null`, "resource's"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(strings.Replace(good, tc.old, tc.new, 1))
			if tc.old != "" && string(body) == good {
				t.Fatalf("%q not in the envelope", tc.old)
			}
			ev, err := w.Verify(transform.Notification{Header: sb.sign(examplePublicKeyID, body), Body: body})
			if err != nil {
				t.Fatal(err)
			}
			if summary, named := ev.Data["summary"]; !named || summary != tc.summary || ev.Data["notification_id"] == "" {
				t.Fatalf("data %v", ev.Data)
			}
		})
	}
}

func TestWebhookAckAndNack(t *testing.T) {
	w := vector8Webhook(t, nil)
	if status, ct, body := w.Ack(); status != http.StatusOK || ct != "" || len(body) != 0 {
		t.Fatalf("ACK %d %q %q", status, ct, body)
	}
	if ct, body := w.Nack(`verification "failed"`); ct != "application/json" || string(body) != `{"code":"FAIL","message":"verification \"failed\""}` {
		t.Fatalf("NACK %q %s", ct, body)
	}
}

// TestWebhookContentEncoding: the signature is checked over the body as its
// Content-Encoding says (a body declared gzip but sent plain was read as it
// was, and a gzip one refused).
func TestWebhookContentEncoding(t *testing.T) {
	sb, _ := newSandbox(t, nil)
	const tx = `{"mchid":"1900000109","appid":"wx8888888888888888","out_trade_no":"ORDER1","transaction_id":"4200001","trade_state":"SUCCESS","amount":{"total":1234,"currency":"CNY"}}`
	transformtest.WantContentEncodingRule(t, must(NewWebhook(merchantConfig(t))), notificationOf(t, sb, examplePublicKeyID, EventTransactionSuccess, tx))
}

// payscorePaid is a 支付分 order's resource as WeChat's PAYSCORE.USER_PAID
// notification carries it once the user paid with a single-goods coupon
// (docs/providers/wechat_v3.md Notifications).
const payscorePaid = `{"appid":"wx8888888888888888","mchid":"1900000109","out_order_no":"1234323JKHDFE1243252","service_id":"500001",` +
	`"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","state":"DONE","total_amount":50000,"service_introduction":"某某酒店",` +
	`"post_payments":[{"name":"就餐费用","amount":40000,"description":"就餐人均100元","count":4}],` +
	`"post_discounts":[{"name":"满20减1元","description":"不与其他优惠叠加","amount":100,"count":2}],` +
	`"risk_fund":{"name":"ESTIMATE_ORDER_COST","amount":10000,"description":"就餐的预估费用"},` +
	`"time_range":{"start_time":"20091225091010","end_time":"20091225121010"},"location":{"start_location":"嗨客时尚主题展餐厅","end_location":"嗨客时尚主题展餐厅"},` +
	`"attach":"Easdfowealsdkjfnlaksjdlfkwqoi&wl3l2sald","notify_url":"https://api.test.com","order_id":"15646546545165651651","need_collection":true,` +
	`"collection":{"state":"USER_PAID","total_amount":3900,"paying_amount":0,"paid_amount":3900,"details":[{"seq":1,"amount":3900,"paid_type":"NEWTON",` +
	`"paid_time":"20091225091210","transaction_id":"15646546545165651651","promotion_detail":[{"coupon_id":"109519","name":"单品惠-6","scope":"SINGLE",` +
	`"type":"DISCOUNT","stock_id":"931386","amount":5,"wechatpay_contribute":0,"merchant_contribute":0,"other_contribute":5,"currency":"CNY",` +
	`"goods_detail":[{"goods_id":"M1006","quantity":1,"unit_price":100,"discount_amount":1,"goods_remark":"商品备注信息"}]}]}]}}`

// discountedGoods is a transaction's promotion_detail member with one
// single-goods coupon per count, each listing that many goods as WeChat's
// payment notification does (goods_detail).
func discountedGoods(counts ...int) string {
	var b strings.Builder
	b.WriteString(`"promotion_detail":[`)
	for p, n := range counts {
		if p > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"coupon_id":"10951%d","name":"单品惠","scope":"SINGLE","type":"DISCOUNT","amount":%d,"stock_id":"931386","wechatpay_contribute":0,"merchant_contribute":%d,"other_contribute":0,"currency":"CNY","goods_detail":[`, p, n, n)
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"goods_id":"G%d","quantity":1,"unit_price":100,"discount_amount":1,"goods_remark":"r"}`, i)
		}
		b.WriteString(`]}`)
	}
	b.WriteByte(']')
	return b.String()
}

// NotificationKeys is api_v3_key alone: a genuine notification (the
// resource sealed with api_v3_key, signed with WeChat's key) verifies under
// a webhook whose private_key is another key or none, or that holds a
// platform_private_key (the sandbox's), and not under another api_v3_key.
// So a rotated private_key keeps minipay_webhook's dedupe tag (README
// "Clusters").
func TestWebhookNotificationKeys(t *testing.T) {
	sb, _ := newSandbox(t, nil)
	const tx = `{"mchid":"1900000109","appid":"wx8888888888888888","out_trade_no":"ORDER1","transaction_id":"4200001","trade_state":"SUCCESS","amount":{"total":1234,"currency":"CNY"}}`
	n := notificationOf(t, sb, examplePublicKeyID, EventTransactionSuccess, tx)
	const anotherAPIv3Key = "another-apiv3-key-0123456789abcd"
	for _, tt := range []struct {
		name     string
		edit     func(*Config)
		key      string
		verifies bool
	}{
		{"as configured", func(*Config) {}, exampleAPIv3Key, true},
		{"private_key rotated", func(c *Config) { c.PrivateKey = readFixture(t, "wechat_v3-test-private-key.pem") }, exampleAPIv3Key, true},
		{"no private_key", func(c *Config) { c.PrivateKey, c.SerialNo = "", "" }, exampleAPIv3Key, true},
		{"platform_private_key set", func(c *Config) { c.PlatformPrivateKey = exampleKey(t, "wechatpay_platform_key.pem") }, exampleAPIv3Key, true},
		{"another api_v3_key", func(c *Config) { c.APIv3Key = anotherAPIv3Key }, anotherAPIv3Key, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := merchantConfig(t)
			tt.edit(&cfg)
			w := must(NewWebhook(cfg))
			if keys := w.NotificationKeys(); len(keys) != 1 || keys[0] != tt.key {
				t.Fatalf("NotificationKeys() = %d keys, want api_v3_key alone", len(keys))
			}
			if _, err := w.Verify(n); (err == nil) != tt.verifies {
				t.Fatalf("Verify: %v, want verified %v", err, tt.verifies)
			}
		})
	}
}

// TestWebhookSuccessTimeAsWritten: occurred_at is success_time exactly as
// WeChat wrote it, or absent for a time RFC 3339 does not allow, which
// time.Parse takes (README Time zones).
func TestWebhookSuccessTimeAsWritten(t *testing.T) {
	sb, _ := newSandbox(t, nil)
	w := must(NewWebhook(merchantConfig(t)))
	const tx = `{"mchid":"1900000109","appid":"wx8888888888888888","out_trade_no":"ORDER1","transaction_id":"4200001","trade_state":"SUCCESS","success_time":"%s","payer":{"openid":"o"},"amount":{"total":1234,"currency":"CNY"}}`
	for _, tc := range []struct{ successTime, want string }{
		{"2026-11-29T10:00:05+08:00", "2026-11-29T10:00:05+08:00"}, // docs/providers/wechat_v3.md's form
		{"2026-11-29T10:00:05.250+08:00", "2026-11-29T10:00:05.250+08:00"},
		{"2026-11-29T02:00:05Z", "2026-11-29T02:00:05Z"},
		{"2026-11-29T10:00:05,250+08:00", ""}, // a comma before the fraction
		{"2026-11-29T9:00:05+08:00", ""},      // a one-digit hour
		{"2026-11-29T10:00:05+24:00", ""},
		{"2026-11-29T10:00:05+23:60", ""},
		{"2026-11-29t10:00:05+08:00", ""},
		{"2026-11-29T10:00:05", ""}, // no zone
		// No payment time: before 1970 or after 9999 in UTC (README Time zones).
		{"0000-01-01T00:00:00+08:00", ""},
		{"1970-01-01T07:59:59+08:00", ""},
		{"1970-01-01T08:00:00+08:00", "1970-01-01T08:00:00+08:00"},
		{"9999-12-31T23:59:59-01:00", ""},
	} {
		t.Run(tc.successTime, func(t *testing.T) {
			ev := must(w.Verify(notificationOf(t, sb, examplePublicKeyID, EventTransactionSuccess, strings.Replace(tx, "%s", tc.successTime, 1))))
			if ev.Type != "payment.succeeded" || ev.OccurredAt != tc.want {
				t.Fatalf("type %s, occurred_at %q; want %q", ev.Type, ev.OccurredAt, tc.want)
			}
		})
	}
}
