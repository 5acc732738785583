package wechatv2

import (
	"errors"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// FuzzWebhookVerify: Verify never panics, and never accepts a notification
// that the merchant's key did not authenticate: whenever it succeeds, an
// independent signer (refSign) over the raw parsed fields reproduces the
// sign — or, for a refund notification, req_info decrypts under the key —
// and the appid and mch_id are the configured ones.
func FuzzWebhookVerify(f *testing.F) {
	f.Add(notification(notifyMD5Sign, ""), false)
	f.Add(notification(notifyHMACSign, ""), true)
	f.Add(notification(notifyExtraSign, extraField), false)
	f.Add(notification(notifyMD5Sign, extraField), false)
	f.Add(refundNotification(vecAppID, vecMchID, publishedReqInfo), false)
	f.Add(signedXML(set(notificationParams(), "result_code", "FAIL"), vecAPIKey, SignMD5), false)
	f.Add(signedXML(set(notificationParams(), "sign_type", SignHMACSHA256), vecAPIKey, SignHMACSHA256), false)
	f.Add([]byte(`<xml><return_code><![CDATA[FAIL]]></return_code></xml>`), false)
	f.Add([]byte(AckBody), true)
	// result_code moved into out_trade_no: the signed string is the same (refused)
	f.Add([]byte(strings.Replace(string(notification(notifyMD5Sign, "")), "[O1]]></out_trade_no>\n<result_code><![CDATA[SUCCESS]]></result_code>", "[O1&result_code=SUCCESS]]></out_trade_no>", 1)), false)
	hooks := map[bool]*Webhook{false: newWebhook(f, testConfig("")), true: newWebhook(f, testConfig(SignHMACSHA256))}
	f.Fuzz(func(t *testing.T, body []byte, hmacMerchant bool) {
		w := hooks[hmacMerchant]
		ev, err := w.Verify(transform.Notification{Body: body})
		if err != nil {
			if ev != nil {
				t.Fatal("an event with an error")
			}
			return
		}
		_, p, perr := transform.ParseFlatXML(body)
		if perr != nil {
			t.Fatalf("accepted a document ParseFlatXML refuses: %q", body)
		}
		if p.Get("appid") != vecAppID || p.Get("mch_id") != vecMchID || p.Get("return_code") != "SUCCESS" {
			t.Fatalf("accepted a foreign or failed notification: %q", body)
		}
		if p.Has("req_info") {
			plain, err := DecryptRefundInfo(p.Get("req_info"), RefundKey(vecAPIKey))
			if err != nil {
				t.Fatalf("accepted a refund notification whose req_info does not decrypt: %q", body)
			}
			_, inner, _ := transform.ParseFlatXML(plain)
			for k, v := range ev.Data {
				if v == "" || inner.Get(k) != v && !(k == "appid" || k == "mch_id") {
					t.Fatalf("data[%s] = %q is not from req_info: %q", k, v, body)
				}
			}
		} else {
			if st := p.Get("sign_type"); st != "" && st != w.cfg.SignType {
				t.Fatalf("accepted sign_type %q, configured %s: %q", st, w.cfg.SignType, body)
			}
			if want := refSign(p, vecAPIKey, w.cfg.SignType); !strings.EqualFold(p.Get("sign"), want) {
				t.Fatalf("accepted a sign that is not the key's: %q", body)
			}
			for _, f := range []string{"transaction_id", "out_trade_no", "total_fee", "time_end"} {
				if p.Get(f) == "" {
					t.Fatalf("accepted a document without %s: %q", f, body)
				}
			}
			if p.Has("trade_state") || p.Has("prepay_id") {
				t.Fatalf("accepted an API answer: %q", body)
			}
			if _, ok := ev.Data["sign"]; ok {
				t.Fatal("the event carries the sign")
			}
			for k, v := range ev.Data {
				if v == "" || p.Get(k) != v {
					t.Fatalf("data[%s] = %q is not a signed field: %q", k, v, body)
				}
			}
		}
		if ev.Provider != Name || ev.Type == "" || !strings.HasPrefix(ev.ID, "wechat_v2:") || !strings.HasSuffix(ev.ID, ":"+ev.Type) {
			t.Fatalf("event %+v", ev)
		}
	})
}

// FuzzReadAnswer: ReadAnswer never panics; it succeeds only for a 2xx,
// SUCCESS/SUCCESS answer of this merchant whose sign the key reproduces, and
// every failure is a 422 or 502 *transform.Error.
func FuzzReadAnswer(f *testing.F) {
	f.Add(200, payAnswer(payAnswerMD5Sign))
	f.Add(200, payAnswer(strings.ToLower(payAnswerMD5Sign)))
	f.Add(200, payAnswer(payAnswerHMACSign))
	f.Add(201, signedXML(set(notificationParams(), "result_code", "FAIL"), vecAPIKey, SignMD5))
	f.Add(200, []byte(`<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[签名错误]]></return_msg></xml>`))
	f.Add(500, []byte(`<html>502 Bad Gateway</html>`))
	f.Add(200, []byte{})
	c := newClient(f, testConfig(""))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		a, err := c.ReadAnswer(status, body)
		if err != nil {
			var e *transform.Error
			if !errors.As(err, &e) || (e.Status != 502 && e.Status != 422) || a != nil {
				t.Fatalf("ReadAnswer error %v (%T), params %v", err, err, a)
			}
			return
		}
		if status < 200 || status > 299 {
			t.Fatalf("accepted HTTP %d", status)
		}
		if !wxpay.Verify(a, vecAPIKey, SignMD5) || !strings.EqualFold(a.Get("sign"), refSign(a, vecAPIKey, SignMD5)) {
			t.Fatalf("accepted an answer the key did not sign: %q", body)
		}
		if a.Get("return_code") != "SUCCESS" || a.Get("result_code") != "SUCCESS" || a.Get("appid") != vecAppID || a.Get("mch_id") != vecMchID {
			t.Fatalf("accepted %v", a.Map())
		}
	})
}
