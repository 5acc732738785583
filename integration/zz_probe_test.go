package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/cbtis"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

func TestZZProbe(t *testing.T) {
	base, merchant := trustRoutes(t)
	platform := v3PrivateKey(t, "wechatpay_platform_key.pem")
	v3 := func(resource string) (string, http.Header) {
		nonce := "abcdefghijkl"
		body := `{"id":"EV-P","create_time":"2026-11-29T10:00:06+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"s","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"` + gcmSeal(t, v3APIv3Key, nonce, "transaction", resource) + `","associated_data":"transaction","nonce":"` + nonce + `"}}`
		return body, wechatHeaders(t, platform, v3PublicKeyID, time.Now().Unix(), body)
	}
	v3tx := func(amount string) string {
		return `{"mchid":"` + mchID + `","appid":"` + appID + `","out_trade_no":"W1","transaction_id":"4200009","trade_state":"SUCCESS","success_time":"2026-11-29T10:00:05+08:00","amount":` + amount + `,"payer":{"openid":"o"}}`
	}
	cb := func(amount, currency string) (string, http.Header) {
		body := `{"notify_type":"payment_success","data":{"uid":` + cbtisUID + `,"order_id":"C1","merchant_order_id":"CB-77","order_amount":` + amount + `,"order_currency":"` + currency + `","status":"SUCCEEDED","pay_time":"2026-11-22T12:02:27.930Z"}}`
		return body, http.Header{"Signature": {cbtis.Signature([]byte(body), cbtisAPIKey)}}
	}
	tp := func(amt, cc string) string {
		inner := "<PaymentResponse><timeStamp>221126100000</timeStamp><merchantID>" + twoc2pMerchant + "</merchantID><respCode>00</respCode><pan></pan><amt>" + amt + "</amt><uniqueTransactionCode>T-1</uniqueTransactionCode><tranRef>3209990</tranRef><approvalCode></approvalCode><refNumber></refNumber><eci></eci><dateTime>221126100000</dateTime><status>A</status><failReason>Approved</failReason><userDefined1></userDefined1><paymentChannel>WCMINI</paymentChannel><backendInvoice></backendInvoice><currencyCode>" + cc + "</currencyCode></PaymentResponse>"
		return "paymentResponse=" + url.QueryEscape(twoc2pSeal(inner, twoc2pKey))
	}
	type c struct {
		name, path, ct string
		h              http.Header
		body           string
	}
	var cases []c
	for _, fee := range [][2]string{{"1234", "CNY"}, {"1234", "XYZ"}, {"1234", "JPY"}, {"1234", "cny"}, {"0", "CNY"}, {"-5", "CNY"}, {"01234", "CNY"}, {"1234", ""}} {
		cases = append(cases, c{"v2 " + fee[0] + " " + fee[1], "/webhooks/wechat_v2", "text/xml", nil, xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, func(p transform.Params) transform.Params {
			p = set("total_fee", fee[0])(p)
			return set("fee_type", fee[1])(p)
		}))})
	}
	for _, a := range []string{`{"total":1230,"currency":"CNY"}`, `{"total":1230,"currency":"XYZ"}`, `{"total":1230,"currency":"JPY"}`, `{"total":0,"currency":"CNY"}`, `{"total":-5,"currency":"CNY"}`, `{"total":1230}`, `{"total":"1230","currency":"CNY"}`} {
		b, h := v3(v3tx(a))
		cases = append(cases, c{"v3 " + a, "/webhooks/wechat_v3", "application/json", h, b})
	}
	for _, a := range [][2]string{{`"12.30"`, "HKD"}, {`"12.30"`, "XYZ"}, {`"12.3"`, "JPY"}, {`"0"`, "HKD"}, {`"-1"`, "HKD"}, {`12.30`, "HKD"}, {`"12.30"`, "hkd"}} {
		b, h := cb(a[0], a[1])
		cases = append(cases, c{"cbtis " + a[0] + " " + a[1], "/webhooks/cbtis", "application/json", h, b})
	}
	for _, a := range [][2]string{{"000000001234", "702"}, {"000000001234", "999"}, {"000000001234", "392"}, {"000000000000", "702"}, {"1234", "702"}, {"000000001234", "SGD"}} {
		cases = append(cases, c{"2c2p " + a[0] + " " + a[1], "/webhooks/2c2p", "application/x-www-form-urlencoded", nil, tp(a[0], a[1])})
	}
	for _, a := range [][2]string{{"12.30", "NZD"}, {"12.3", "NZD"}, {"0.00", "NZD"}, {"-1.00", "NZD"}, {"12.30", "nzd"}, {"12.30", "AUD"}} {
		cases = append(cases, c{"latipay " + a[0] + " " + a[1], "/webhooks/latipay", "application/x-www-form-urlencoded", nil, latipayForm(latipayAPIKey, func(v url.Values) { v.Set("amount", a[0]); v.Set("currency", a[1]) })})
	}
	for _, cs := range cases {
		st, body := send(t, notificationRequest(base+cs.path, cs.ct, cs.h, cs.body))
		got := merchant.take()
		ev := ""
		if len(got) == 1 {
			e := got[0].event
			ev = fmt.Sprintf("type=%v amount=%v currency=%v", e["type"], e["amount"], e["currency"])
		}
		t.Logf("%-40s %d %q %s", cs.name, st, truncate(string(body)), ev)
	}
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60]
	}
	return s
}
