package wechatv2

import (
	"bytes"
	"crypto/aes"
	"encoding/base64"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// A payment notification of the official example merchant, laid out like
// the documentation's sample (fields in WeChat's order, total_fee as plain
// text), without sign_type. The signs were computed outside Go:
//
//	N='appid=wxd930ea5d5a258f4f&bank_type=CFT&cash_fee=1234&fee_type=CNY&is_subscribe=Y&mch_id=10000100&nonce_str=5d2b6c2a8db53831f7eda20af46e531c&openid=oUpF8uMEb4qRXf22hE3X68TekukE&out_trade_no=O1&result_code=SUCCESS&return_code=SUCCESS&time_end=20261122100000&total_fee=1234&trade_type=JSAPI&transaction_id=4200000123'
//	printf '%s' "$N&key=192006250b4c09247ec02edce69f6a2d" | md5sum                                                 → notifyMD5Sign
//	printf '%s' "$N&key=192006250b4c09247ec02edce69f6a2d" | openssl dgst -sha256 -hmac 192006250b4c09247ec02edce69f6a2d → notifyHMACSign
//
// notifyExtraSign is the MD5 of the same string with
// "settlement_total_fee=1234" added in its sorted place (a field this code
// does not know, which WeChat signs).
const (
	notifyTemplate = `<xml>
<appid><![CDATA[wxd930ea5d5a258f4f]]></appid>
<bank_type><![CDATA[CFT]]></bank_type>
<cash_fee><![CDATA[1234]]></cash_fee>
<fee_type><![CDATA[CNY]]></fee_type>
<is_subscribe><![CDATA[Y]]></is_subscribe>
<mch_id><![CDATA[10000100]]></mch_id>
<nonce_str><![CDATA[5d2b6c2a8db53831f7eda20af46e531c]]></nonce_str>
<openid><![CDATA[oUpF8uMEb4qRXf22hE3X68TekukE]]></openid>
<out_trade_no><![CDATA[O1]]></out_trade_no>
<result_code><![CDATA[SUCCESS]]></result_code>
<return_code><![CDATA[SUCCESS]]></return_code>
<sign><![CDATA[SIGN]]></sign>
<time_end><![CDATA[20261122100000]]></time_end>
<total_fee>1234</total_fee>
<trade_type><![CDATA[JSAPI]]></trade_type>
<transaction_id><![CDATA[4200000123]]></transaction_id>EXTRA
</xml>`
	notifyMD5Sign   = "0742406C6B69077DF2FE1C075748A005"
	notifyHMACSign  = "32D43DCED06E65D8E374D75A7B99EDBDC9DB420E1000319026CC48E24A4AC2D0"
	notifyExtraSign = "11B5445164D0E53F60E0814A60D4AADB"
	extraField      = "\n<settlement_total_fee><![CDATA[1234]]></settlement_total_fee>"
)

func notification(sign, extra string) []byte {
	return []byte(strings.Replace(strings.Replace(notifyTemplate, "SIGN", sign, 1), "EXTRA", extra, 1))
}

// notificationParams is the notification above as parameters, for variants
// re-signed with refSign.
func notificationParams() transform.Params {
	return transform.Params{
		{Name: "appid", Value: vecAppID}, {Name: "bank_type", Value: "CFT"}, {Name: "cash_fee", Value: "1234"},
		{Name: "fee_type", Value: "CNY"}, {Name: "is_subscribe", Value: "Y"}, {Name: "mch_id", Value: vecMchID},
		{Name: "nonce_str", Value: "5d2b6c2a8db53831f7eda20af46e531c"}, {Name: "openid", Value: "oUpF8uMEb4qRXf22hE3X68TekukE"},
		{Name: "out_trade_no", Value: "O1"}, {Name: "result_code", Value: "SUCCESS"}, {Name: "return_code", Value: "SUCCESS"},
		{Name: "time_end", Value: "20261122100000"}, {Name: "total_fee", Value: "1234"}, {Name: "trade_type", Value: "JSAPI"},
		{Name: "transaction_id", Value: "4200000123"},
	}
}

func set(p transform.Params, name, value string) transform.Params {
	p = append(transform.Params(nil), p...)
	for i := range p {
		if p[i].Name == name {
			p[i].Value = value
			return p
		}
	}
	return append(p, transform.Param{Name: name, Value: value})
}

func newWebhook(t testing.TB, cfg Config) *Webhook { return transformtest.Must(t, NewWebhook, cfg) }

func TestWebhookVerifyPayment(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		body []byte
	}{
		{"MD5", testConfig(""), notification(notifyMD5Sign, "")},
		{"HMAC-SHA256 without sign_type", testConfig(SignHMACSHA256), notification(notifyHMACSign, "")},
		{"unknown field signed", testConfig(""), notification(notifyExtraSign, extraField)},
		{"lowercase sign", testConfig(""), notification(strings.ToLower(notifyMD5Sign), "")},
		{"HMAC-SHA256 with sign_type", testConfig(SignHMACSHA256),
			signedXML(set(notificationParams(), "sign_type", SignHMACSHA256), vecAPIKey, SignHMACSHA256)},
		{"MD5 with sign_type", testConfig(""),
			signedXML(set(notificationParams(), "sign_type", SignMD5), vecAPIKey, SignMD5)},
		{"empty field left out of the sign", testConfig(""), notification(notifyMD5Sign, "<attach></attach>")},
		// Python's ElementTree writes an empty element "<attach />"; XML allows
		// space before '>' in any tag.
		// return_code is the transport status; the signature authenticates.
		{"without return_code", testConfig(""), signedXML(slices.DeleteFunc(notificationParams(),
			func(kv transform.Param) bool { return kv.Name == "return_code" }), vecAPIKey, SignMD5)},
		{"empty element with a space (ElementTree)", testConfig(""), notification(notifyMD5Sign, "<attach /><device_info\n/>")},
		// Python's ElementTree writes a declaration of us-ascii by default
		// (xml_declaration=True), and of utf8 when given that name.
		{"US-ASCII declaration (ElementTree)", testConfig(""),
			append([]byte("<?xml version='1.0' encoding='us-ascii'?>\n"), notification(notifyMD5Sign, "")...)},
		{"UTF-8 declared as utf8 (ElementTree)", testConfig(SignHMACSHA256),
			append([]byte("<?xml version='1.0' encoding='utf8'?>\n"), notification(notifyHMACSign, "")...)},
		{"space before > in tags", testConfig(""),
			[]byte(strings.ReplaceAll(strings.ReplaceAll(string(notification(notifyMD5Sign, "")), "<xml>", "<xml >"), "</sign>", "</sign >"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := newWebhook(t, tt.cfg).Verify(transform.Notification{Body: tt.body})
			if err != nil {
				t.Fatalf("Verify = %v", err)
			}
			if ev.ID != "wechat_v2:4200000123:payment.succeeded" || ev.Provider != "wechat_v2" || ev.Type != transform.EventPaymentSucceeded ||
				ev.OrderID != "O1" || ev.ProviderOrderID != "4200000123" || ev.Amount != "12.34" || ev.Currency != "CNY" ||
				ev.OccurredAt != "2026-11-22T10:00:00+08:00" || ev.RefundID != "" {
				t.Fatalf("event %+v", ev)
			}
			if _, ok := ev.Data["sign"]; ok {
				t.Fatal("data carries the sign")
			}
			for _, k := range []string{"appid", "mch_id", "openid", "transaction_id", "total_fee", "time_end", "bank_type", "cash_fee", "is_subscribe"} {
				if ev.Data[k] == "" {
					t.Errorf("data lacks %s: %v", k, ev.Data)
				}
			}
			if ev.Data["openid"] != "oUpF8uMEb4qRXf22hE3X68TekukE" {
				t.Errorf("data openid %q", ev.Data["openid"])
			}
			if tt.name == "unknown field signed" && ev.Data["settlement_total_fee"] != "1234" {
				t.Errorf("the unknown field is not forwarded: %v", ev.Data)
			}
		})
	}
}

// README "Webhooks" normalized event, byte for byte.
func TestWebhookEventJSON(t *testing.T) {
	ev, err := newWebhook(t, testConfig("")).Verify(transform.Notification{Body: notification(notifyMD5Sign, "")})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"id":"wechat_v2:4200000123:payment.succeeded","provider":"wechat_v2","type":"payment.succeeded",` +
		`"order_id":"O1","provider_order_id":"4200000123","amount":"12.34","currency":"CNY","occurred_at":"2026-11-22T10:00:00+08:00",` +
		`"data":{"appid":"wxd930ea5d5a258f4f","bank_type":"CFT","cash_fee":"1234","fee_type":"CNY","is_subscribe":"Y","mch_id":"10000100",` +
		`"nonce_str":"5d2b6c2a8db53831f7eda20af46e531c","openid":"oUpF8uMEb4qRXf22hE3X68TekukE","out_trade_no":"O1","result_code":"SUCCESS",` +
		`"return_code":"SUCCESS","time_end":"20261122100000","total_fee":"1234","trade_type":"JSAPI","transaction_id":"4200000123"}}`
	if got := string(transform.Marshal(ev)); got != want {
		t.Fatalf("event\n got %s\nwant %s", got, want)
	}
}

func TestWebhookVerifyRejects(t *testing.T) {
	md5 := testConfig("")
	hmac := testConfig(SignHMACSHA256)
	tampered := strings.Replace(string(notification(notifyMD5Sign, "")), "<total_fee>1234</total_fee>", "<total_fee>1</total_fee>", 1)
	tests := []struct {
		name string
		cfg  Config
		body []byte
		want error
	}{
		{"forged sign", md5, notification("0742406C6B69077DF2FE1C075748A006", ""), transform.ErrBadSignature},
		{"sign of another key", md5, signedXML(notificationParams(), otherKey, SignMD5), transform.ErrBadSignature},
		{"tampered total_fee", md5, []byte(tampered), transform.ErrBadSignature},
		{"field added after signing", md5, notification(notifyMD5Sign, extraField), transform.ErrBadSignature},
		{"signed field removed", md5, []byte(strings.Replace(string(notification(notifyExtraSign, extraField)), extraField, "", 1)), transform.ErrBadSignature},
		{"HMAC notification, MD5 merchant", md5, notification(notifyHMACSign, ""), transform.ErrBadSignature},
		{"MD5 notification, HMAC merchant", hmac, notification(notifyMD5Sign, ""), transform.ErrBadSignature},
		{"sign_type downgrade field added", hmac, notification(notifyHMACSign, "<sign_type>MD5</sign_type>"), ErrSignType},
		{"downgraded to MD5, signed with MD5", hmac, signedXML(set(notificationParams(), "sign_type", SignMD5), vecAPIKey, SignMD5), ErrSignType},
		{"upgraded to HMAC-SHA256, MD5 merchant", md5, signedXML(set(notificationParams(), "sign_type", SignHMACSHA256), vecAPIKey, SignHMACSHA256), ErrSignType},
		{"unknown sign_type", md5, signedXML(set(notificationParams(), "sign_type", "SHA1"), vecAPIKey, SignMD5), ErrSignType},
		{"missing sign", md5, []byte(strings.Replace(string(notification("", "")), "<sign><![CDATA[]]></sign>", "", 1)), transform.ErrBadSignature},
		{"empty sign", md5, notification("", ""), transform.ErrBadSignature},
		{"foreign appid", md5, signedXML(set(notificationParams(), "appid", "wx0000000000000000"), vecAPIKey, SignMD5), transform.ErrForeign},
		{"foreign mch_id", md5, signedXML(set(notificationParams(), "mch_id", "10000101"), vecAPIKey, SignMD5), transform.ErrForeign},
		// A notification must name the merchant (README Webhooks), unlike an answer.
		{"no appid", md5, signedXML(set(notificationParams(), "appid", ""), vecAPIKey, SignMD5), transform.ErrForeign},
		{"no mch_id", md5, signedXML(set(notificationParams(), "mch_id", ""), vecAPIKey, SignMD5), transform.ErrForeign},
		{"return_code FAIL", md5, signedXML(set(notificationParams(), "return_code", "FAIL"), vecAPIKey, SignMD5), transform.ErrUnsigned},
		{"communication failure", md5, []byte(`<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[参数格式校验错误]]></return_msg></xml>`), transform.ErrUnsigned},
		{"malformed XML", md5, []byte(`<xml><appid>wxd930ea5d5a258f4f</appid>`), transform.ErrMalformed},
		{"DOCTYPE", md5, append([]byte(`<!DOCTYPE xml [<!ENTITY e "x">]>`), notification(notifyMD5Sign, "")...), transform.ErrMalformed},
		{"other root", md5, []byte(strings.Replace(strings.Replace(string(notification(notifyMD5Sign, "")), "<xml>", "<root>", 1), "</xml>", "</root>", 1)), transform.ErrMalformed},
		{"JSON", md5, []byte(`{"return_code":"SUCCESS"}`), transform.ErrMalformed},
		{"empty", md5, nil, transform.ErrMalformed},
		// An empty element is outside the signature; placed before the
		// signed one it must not change what the event reports (the event
		// id, the order, the amount) while the signature still verifies.
		{"empty duplicate transaction_id", md5, []byte(strings.Replace(string(notification(notifyMD5Sign, "")), "<xml>", "<xml><transaction_id></transaction_id>", 1)), transform.ErrMalformed},
		{"empty duplicate out_trade_no", md5, []byte(strings.Replace(string(notification(notifyMD5Sign, "")), "<xml>", "<xml><out_trade_no/>", 1)), transform.ErrMalformed},
		{"empty duplicate total_fee", md5, []byte(strings.Replace(string(notification(notifyMD5Sign, "")), "<xml>", "<xml><total_fee/>", 1)), transform.ErrMalformed},
		{"duplicate field", md5, signedXML(append(notificationParams(), transform.Param{Name: "out_trade_no", Value: "O2"}), vecAPIKey, SignMD5), transform.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := newWebhook(t, tt.cfg).Verify(transform.Notification{Body: tt.body})
			if ev != nil || err == nil {
				t.Fatalf("Verify accepted it: %+v", ev)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), vecAPIKey) {
				t.Fatal("the error shows the key")
			}
		})
	}
}

// docs/providers/wechat_v2.md: result_code FAIL → payment.failed; README "Webhooks": a verified
// notification of a kind the plugin does not map is forwarded as "unknown".
func TestWebhookOutcomes(t *testing.T) {
	tests := []struct {
		result, typ string
	}{
		{"SUCCESS", transform.EventPaymentSucceeded},
		{"FAIL", transform.EventPaymentFailed},
		{"PENDING_SOMETHING_NEW", transform.EventUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.result, func(t *testing.T) {
			body := signedXML(set(notificationParams(), "result_code", tt.result), vecAPIKey, SignMD5)
			ev, err := newWebhook(t, testConfig("")).Verify(transform.Notification{Body: body})
			if err != nil {
				t.Fatalf("Verify = %v", err)
			}
			if ev.Type != tt.typ || ev.ID != "wechat_v2:4200000123:"+tt.typ || ev.Data["result_code"] != tt.result {
				t.Fatalf("event %+v", ev)
			}
		})
	}
	// A notification always carries transaction_id (WeChat's notification
	// page marks it required): without it the document is no notification.
	p := set(set(notificationParams(), "result_code", "FAIL"), "transaction_id", "")
	ev, err := newWebhook(t, testConfig("")).Verify(transform.Notification{Body: signedXML(p, vecAPIKey, SignMD5)})
	if !errors.Is(err, ErrNotNotice) || ev != nil {
		t.Fatalf("event %+v, %v", ev, err)
	}
}

func TestWebhookServiceProvider(t *testing.T) {
	p := notificationParams()
	p = set(set(p, "appid", spAppID), "mch_id", spMchID)
	p = append(p, transform.Param{Name: "sub_appid", Value: spSubAppID}, transform.Param{Name: "sub_mch_id", Value: spSubMchID})
	w := newWebhook(t, spConfig())
	if ev, err := w.Verify(transform.Notification{Body: signedXML(p, vecAPIKey, SignMD5)}); err != nil || ev.Type != transform.EventPaymentSucceeded {
		t.Fatalf("Verify = %+v, %v", ev, err)
	}
	// The service provider's key signs every sub-merchant's notifications:
	// one for another sub-merchant is foreign here.
	other := set(p, "sub_mch_id", "1900000999")
	if ev, err := w.Verify(transform.Notification{Body: signedXML(other, vecAPIKey, SignMD5)}); !errors.Is(err, transform.ErrForeign) {
		t.Fatalf("another sub-merchant's notification: %+v, %v", ev, err)
	}
	// The sub-merchant's other mini program (sub_appid) is foreign to a route
	// configured with sub_app_id, as in wechat_v3.
	otherApp := set(p, "sub_appid", "wx0000000000000000")
	if ev, err := w.Verify(transform.Notification{Body: signedXML(otherApp, vecAPIKey, SignMD5)}); !errors.Is(err, transform.ErrForeign) {
		t.Fatalf("another sub_appid's notification: %+v, %v", ev, err)
	}
	// WeChat signs non-empty values only (docs/providers/wechat_v2.md
	// Signature): an empty element is as absent. A notification must still
	// name this sub_mch_id; sub_appid, which it may leave out, may be empty.
	emptied := func(name, element string) []byte {
		q := slices.DeleteFunc(slices.Clone(p), func(kv transform.Param) bool { return kv.Name == name })
		return bytes.Replace(signedXML(q, vecAPIKey, SignMD5), []byte("</xml>"), []byte(element+"</xml>"), 1)
	}
	for _, empty := range []string{"<sub_mch_id/>", "<sub_mch_id></sub_mch_id>", "<sub_mch_id><![CDATA[]]></sub_mch_id>"} {
		body := emptied("sub_mch_id", empty)
		if ev, err := w.Verify(transform.Notification{Body: body}); !errors.Is(err, transform.ErrForeign) {
			t.Fatalf("a notification with %s: %+v, %v", empty, ev, err)
		}
	}
	for _, empty := range []string{"<sub_appid/>", "<sub_appid></sub_appid>", "<sub_appid><![CDATA[]]></sub_appid>"} {
		body := emptied("sub_appid", empty)
		if ev, err := w.Verify(transform.Notification{Body: body}); err != nil || ev.Type != transform.EventPaymentSucceeded {
			t.Fatalf("a notification with %s: %+v, %v", empty, ev, err)
		}
	}
}

// The refund notification vector of docs/providers/wechat_v2.md: req_info under API key
// 192006250b4c09247ec02edce69f6a2d decrypts to out_refund_no R1, SUCCESS.
const publishedReqInfo = "WBzGpzQuNpcFxIlFjUUD9BZv+lpBMzd2SHiKCkwfALWid5G8ZvfOussfMIHLbKJmcnxPKdb1ZJEqTAp8ysQv+xa1fj+Eorgndx3fNxf3KAYa3LPgsjvZgxaeYyrhV05Kbjkj6ywg27cEyTTaPZFYNg=="

func refundNotification(appID, mchID, reqInfo string) []byte {
	return []byte(`<xml><return_code>SUCCESS</return_code><appid><![CDATA[` + appID + `]]></appid><mch_id><![CDATA[` + mchID +
		`]]></mch_id><nonce_str><![CDATA[TeqClE3i0mvn3DrK]]></nonce_str><req_info><![CDATA[` + reqInfo + `]]></req_info></xml>`)
}

func TestWebhookRefundNotification(t *testing.T) {
	ev, err := newWebhook(t, testConfig("")).Verify(transform.Notification{Body: refundNotification(vecAppID, vecMchID, publishedReqInfo)})
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	if ev.Type != transform.EventRefundSucceeded || ev.RefundID != "R1" || ev.ID != "wechat_v2:R1:refund.succeeded" || ev.Provider != "wechat_v2" {
		t.Fatalf("event %+v", ev)
	}
	// README "What the merchant can trust": every entry of data comes from bytes the decryption
	// authenticates. The outer appid and mch_id are compared with the
	// configuration but nothing authenticates them: they are not in data.
	if want := map[string]string{"out_refund_no": "R1", "refund_status": "SUCCESS"}; !maps.Equal(ev.Data, want) {
		t.Fatalf("data %v, want exactly the decrypted fields %v", ev.Data, want)
	}
	if _, ok := ev.Data["req_info"]; ok {
		t.Fatal("data carries the ciphertext")
	}

	// A full notification through RefundNotification (the sandbox's side).
	inner := transform.Params{
		{Name: "transaction_id", Value: "4200000123"}, {Name: "out_trade_no", Value: "O1"}, {Name: "refund_id", Value: "50000123"},
		{Name: "out_refund_no", Value: "R2"}, {Name: "total_fee", Value: "1234"}, {Name: "refund_fee", Value: "600"},
		{Name: "settlement_refund_fee", Value: "500"}, {Name: "refund_status", Value: "CHANGE"},
		{Name: "success_time", Value: "2026-11-22 10:05:00"}, {Name: "refund_recv_accout", Value: "支付用户零钱"},
	}
	body, err := RefundNotification(testConfig(""), inner)
	if err != nil {
		t.Fatal(err)
	}
	ev, err = newWebhook(t, testConfig("")).Verify(transform.Notification{Body: body})
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	if ev.Type != transform.EventRefundFailed || ev.ID != "wechat_v2:50000123:refund.failed" || ev.OrderID != "O1" ||
		ev.ProviderOrderID != "4200000123" || ev.RefundID != "R2" || ev.Amount != "6.00" || ev.Currency != "CNY" ||
		ev.OccurredAt != "2026-11-22T10:05:00+08:00" {
		t.Fatalf("event %+v", ev)
	}

	rejects := []struct {
		name string
		cfg  Config
		body []byte
		want error
	}{
		{"req_info under another key", Config{AppID: vecAppID, MchID: vecMchID, APIKey: otherKey}, refundNotification(vecAppID, vecMchID, publishedReqInfo), ErrRefundDecrypt},
		{"foreign appid", testConfig(""), refundNotification("wx0000000000000000", vecMchID, publishedReqInfo), transform.ErrForeign},
		{"foreign mch_id", testConfig(""), refundNotification(vecAppID, "10000101", publishedReqInfo), transform.ErrForeign},
		{"not base64", testConfig(""), refundNotification(vecAppID, vecMchID, "not base64!"), ErrRefundDecrypt},
		{"truncated", testConfig(""), refundNotification(vecAppID, vecMchID, publishedReqInfo[:64]), ErrRefundDecrypt},
		{"not whole blocks", testConfig(""), refundNotification(vecAppID, vecMchID, "AAAA"), ErrRefundDecrypt},
		{"empty req_info", testConfig(""), refundNotification(vecAppID, vecMchID, ""), ErrRefundDecrypt},
	}
	for _, tt := range rejects {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := newWebhook(t, tt.cfg).Verify(transform.Notification{Body: tt.body})
			if ev != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %+v, %v; want %v", ev, err, tt.want)
			}
			// What the kit's callers tell apart: one of its four errors.
			if !slices.ContainsFunc([]error{transform.ErrMalformed, transform.ErrUnsigned, transform.ErrBadSignature, transform.ErrForeign},
				func(kit error) bool { return errors.Is(err, kit) }) {
				t.Fatalf("Verify = %v, which wraps none of transform's webhook errors", err)
			}
		})
	}
}

func TestDecryptRefundInfoPadding(t *testing.T) {
	key := RefundKey(vecAPIKey)
	for _, plain := range []string{"", "x", "0123456789abcdef", "<root><a>1</a></root>"} {
		enc, err := EncryptRefundInfo([]byte(plain), key)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := DecryptRefundInfo(enc, key); err != nil || string(got) != plain {
			t.Fatalf("round trip of %q = %q, %v", plain, got, err)
		}
	}
	if _, err := DecryptRefundInfo(publishedReqInfo, []byte("short")); err == nil {
		t.Fatal("a short key was accepted")
	}
	// req_info is PKCS#7-padded (docs/providers/wechat_v2.md Refund
	// notification): its last byte n is 1 to 16 and so are the n bytes it
	// ends with. A plaintext ending otherwise, encrypted here block by
	// block with crypto/aes, decrypts to no document.
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, last := range map[string]string{
		"pad byte 0":            "<root></root>\x01\x01\x00",
		"pad byte 17":           "<root></root>\x01\x01\x11",
		"pad bytes that differ": "<root></root>\x01\x03\x03",
		"16 without its block":  "<root>1234</root>0123456789abcd\x10",
	} {
		plain := []byte(last)
		if len(plain)%aes.BlockSize != 0 {
			t.Fatalf("%s: %d bytes", name, len(plain))
		}
		ct := make([]byte, len(plain))
		for i := 0; i < len(plain); i += aes.BlockSize {
			block.Encrypt(ct[i:i+aes.BlockSize], plain[i:i+aes.BlockSize])
		}
		if got, err := DecryptRefundInfo(base64.StdEncoding.EncodeToString(ct), key); err != ErrRefundDecrypt {
			t.Errorf("%s: %q, %v, want ErrRefundDecrypt", name, got, err)
		}
	}
}

// README "Webhooks": the success ACK, byte for byte.
func TestWebhookAck(t *testing.T) {
	status, ct, body := newWebhook(t, testConfig("")).Ack()
	const want = `<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>`
	if status != 200 || string(body) != want || AckBody != want {
		t.Fatalf("Ack = %d %q", status, body)
	}
	if !strings.HasPrefix(ct, "text/xml") {
		t.Fatalf("content type %q", ct)
	}
	ct, nack := newWebhook(t, testConfig("")).Nack("签名失败 ]]> <x>")
	p := parseXML(t, nack)
	if !strings.HasPrefix(ct, "text/xml") || p.Get("return_code") != "FAIL" || p.Get("return_msg") != "签名失败 ]]> <x>" || len(p) != 2 {
		t.Fatalf("Nack = %s", nack)
	}
}

func TestHasDuplicate(t *testing.T) {
	mk := func(names ...string) transform.Params {
		p := make(transform.Params, len(names))
		for i, n := range names {
			p[i].Name = n
		}
		return p
	}
	var many, manyDup []string
	for i := 0; i < 100; i++ {
		many = append(many, "f"+strings.Repeat("x", i))
	}
	manyDup = append(append(manyDup, many...), "fxx")
	tests := []struct {
		p    transform.Params
		want bool
	}{
		{nil, false},
		{mk("a"), false},
		{mk("a", "b", "c"), false},
		{mk("a", "b", "a"), true},
		{mk("a", "a"), true},
		{mk(many...), false},
		{mk(manyDup...), true},
	}
	for i, tt := range tests {
		if got := tt.p.HasDuplicate(); got != tt.want {
			t.Errorf("case %d (%d names): %v, want %v", i, len(tt.p), got, tt.want)
		}
	}
}

// A 64 KiB notification of thousands of empty elements is refused quickly
// (the duplicate check must not be quadratic on a public endpoint).
func TestWebhookManyElements(t *testing.T) {
	body := "<xml>" + strings.Repeat("<a/>", 16000) + "</xml>"
	ev, err := newWebhook(t, testConfig("")).Verify(transform.Notification{Body: []byte(body)})
	if ev != nil || !errors.Is(err, transform.ErrMalformed) {
		t.Fatalf("Verify = %+v, %v", ev, err)
	}
}

// TestWebhookBoundedWork: a notification is read up to MaxDocumentFields
// fields before its signature is checked. A signed one of that many (a
// payment of many coupons) verifies; one more is refused, and so is a
// 64 KiB body of 4000 one-byte elements naming this merchant, which was
// parsed, checked for duplicates and sorted to sign before it was found
// not to verify (1.2 ms, 1.1 MB), at about its own size.
func TestWebhookBoundedWork(t *testing.T) {
	w := newWebhook(t, testConfig(SignMD5))
	couponed := func(fields int) []byte {
		p := notificationParams()
		for n := 0; len(p) < fields-1; n++ { // and sign
			p = append(p, transform.Param{Name: "coupon_fee_" + strconv.Itoa(n), Value: "1"})
		}
		return signedXML(p, vecAPIKey, SignMD5)
	}
	if ev, err := w.Verify(transform.Notification{Body: couponed(MaxDocumentFields)}); err != nil || ev.Type != transform.EventPaymentSucceeded {
		t.Fatalf("%d fields: %+v, %v", MaxDocumentFields, ev, err)
	}
	many := transformtest.FlatElements("xml", "<appid>"+vecAppID+"</appid><mch_id>"+vecMchID+"</mch_id>", "<sign>00</sign>", transform.MaxNotification)
	for name, body := range map[string][]byte{"one field more": couponed(MaxDocumentFields + 1), "4000 elements": many} {
		var ev *transform.Event
		var err error
		alloc := transformtest.Allocated(func() { ev, err = w.Verify(transform.Notification{Body: body}) })
		if ev != nil || !errors.Is(err, transform.ErrMalformed) || len(body) > transform.MaxNotification {
			t.Fatalf("%s (%d bytes): %+v, %v", name, len(body), ev, err)
		}
		if len(body) > transform.MaxNotification/2 && alloc > 4*uint64(len(body)) {
			t.Fatalf("%s: %d bytes allocated for a body of %d", name, alloc, len(body))
		}
	}
}

// TestWebhookRefundBoundedWork: a refund notification's decrypted req_info
// is read up to MaxDocumentFields fields too (AES-ECB blocks of captured
// notifications can be repeated into a long one): that many verify, one
// more is refused.
func TestWebhookRefundBoundedWork(t *testing.T) {
	w := newWebhook(t, testConfig(""))
	inner := func(fields int) transform.Params {
		p := transform.Params{{Name: "out_refund_no", Value: "R1"}, {Name: "refund_status", Value: "SUCCESS"}}
		for n := 0; len(p) < fields; n++ {
			p = append(p, transform.Param{Name: "f" + strconv.Itoa(n), Value: "1"})
		}
		return p
	}
	for fields, ok := range map[int]bool{MaxDocumentFields: true, MaxDocumentFields + 1: false} {
		body, err := RefundNotification(testConfig(""), inner(fields))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := w.Verify(transform.Notification{Body: body})
		if ok != (err == nil) || !ok && !errors.Is(err, ErrRefundDecrypt) || ok && len(ev.Data) != fields {
			t.Fatalf("%d fields: %+v, %v", fields, ev, err)
		}
	}
}

// TestWebhookAttacks: documents an attacker holds or can make, each signed
// with the merchant's own key where that is what a real capture would carry
// (every v2 API answer is signed with the same key as notifications).
func TestWebhookAttacks(t *testing.T) {
	answer := func(fields ...string) transform.Params {
		p := transform.Params{
			{Name: "return_code", Value: "SUCCESS"}, {Name: "return_msg", Value: "OK"}, {Name: "appid", Value: vecAppID},
			{Name: "mch_id", Value: vecMchID}, {Name: "nonce_str", Value: "Rr4V2ibd5ET3U4cv"}, {Name: "result_code", Value: "SUCCESS"},
		}
		for i := 0; i+1 < len(fields); i += 2 {
			p = append(p, transform.Param{Name: fields[i], Value: fields[i+1]})
		}
		return p
	}
	paidAnswer := append(notificationParams()[:0:0], notificationParams()...)
	paidAnswer = append(paidAnswer, transform.Param{Name: "trade_state", Value: "SUCCESS"}, transform.Param{Name: "trade_state_desc", Value: "支付成功"})
	foreign := set(set(notificationParams(), "appid", "wx0000000000000000"), "mch_id", "10000999")
	md5, hmac := testConfig(""), testConfig(SignHMACSHA256)
	tests := []struct {
		name string
		cfg  Config
		body []byte
		want error
	}{
		{"orderquery answer, unpaid order", md5, signedXML(answer("out_trade_no", "O1", "trade_state", "NOTPAY", "trade_state_desc", "订单未支付"), vecAPIKey, SignMD5), ErrNotNotice},
		{"orderquery answer, unpaid, with every notification field", md5, signedXML(set(set(paidAnswer, "trade_state", "NOTPAY"), "trade_state_desc", "订单未支付"), vecAPIKey, SignMD5), ErrNotNotice},
		{"orderquery answer, paid order", md5, signedXML(paidAnswer, vecAPIKey, SignMD5), ErrNotNotice},
		{"closeorder answer", md5, signedXML(answer("result_msg", "OK"), vecAPIKey, SignMD5), ErrNotNotice},
		{"unifiedorder answer", md5, signedXML(answer("trade_type", "JSAPI", "prepay_id", "wx201411101639507cbf6ffd8b0779950874"), vecAPIKey, SignMD5), ErrNotNotice},
		{"refund answer", md5, signedXML(answer("transaction_id", "4200000123", "out_trade_no", "O1", "out_refund_no", "R1", "refund_id", "5000", "refund_fee", "100", "total_fee", "1234", "cash_fee", "1234"), vecAPIKey, SignMD5), ErrNotNotice},
		{"HMAC answer to an HMAC merchant", hmac, signedXML(set(answer("out_trade_no", "O1", "trade_state", "NOTPAY"), "sign_type", SignHMACSHA256), vecAPIKey, SignHMACSHA256), ErrNotNotice},
		{"downgraded to MD5", hmac, signedXML(set(notificationParams(), "sign_type", SignMD5), vecAPIKey, SignMD5), ErrSignType},
		{"downgrade with sign_type lower-case", hmac, signedXML(set(notificationParams(), "sign_type", "md5"), vecAPIKey, SignMD5), ErrSignType},
		{"MD5 sign without sign_type, HMAC merchant", hmac, signedXML(notificationParams(), vecAPIKey, SignMD5), transform.ErrBadSignature},
		{"forged", md5, signedXML(notificationParams(), otherKey, SignMD5), transform.ErrBadSignature},
		{"replayed with another amount", md5, []byte(strings.Replace(string(notification(notifyMD5Sign, "")), "<total_fee>1234</total_fee>", "<total_fee>1</total_fee>", 1)), transform.ErrBadSignature},
		{"replayed for another order", md5, []byte(strings.Replace(string(notification(notifyMD5Sign, "")), "[O1]", "[O2]", 1)), transform.ErrBadSignature},
		{"replayed with an unsigned answer field", md5, notification(notifyMD5Sign, "<trade_state></trade_state>"), ErrNotNotice},
		{"another merchant's valid notification", md5, signedXML(foreign, otherKey, SignMD5), transform.ErrForeign},
		{"another merchant's notification under our key", md5, signedXML(foreign, vecAPIKey, SignMD5), transform.ErrForeign},
		// The signed string joins k=v with '&', and a value may hold '&':
		// a captured notification's next field moved into the value before
		// it (and removed) signs the same. Each is refused.
		{"trade_type moved into total_fee", md5, shifted(t, "<total_fee>1234</total_fee>\n<trade_type><![CDATA[JSAPI]]></trade_type>", "<total_fee><![CDATA[1234&trade_type=JSAPI]]></total_fee>"), ErrShiftedField},
		{"result_code moved into out_trade_no", md5, shifted(t, "[O1]]></out_trade_no>\n<result_code><![CDATA[SUCCESS]]></result_code>", "[O1&result_code=SUCCESS]]></out_trade_no>"), ErrShiftedField},
		{"three fields moved into bank_type", md5, shifted(t, "[CFT]]></bank_type>\n<cash_fee><![CDATA[1234]]></cash_fee>\n<fee_type><![CDATA[CNY]]></fee_type>\n<is_subscribe><![CDATA[Y]]></is_subscribe>", "[CFT&cash_fee=1234&fee_type=CNY&is_subscribe=Y]]></bank_type>"), ErrShiftedField},
		{"oversized, even signed", md5, signedXML(set(notificationParams(), "attach", strings.Repeat("x", transform.MaxNotification)), vecAPIKey, SignMD5), transform.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := newWebhook(t, tt.cfg).Verify(transform.Notification{Body: tt.body})
			if ev != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %+v, %v; want %v", ev, err, tt.want)
			}
		})
	}

	// An empty element is outside the signature: accepted, but not in data.
	ev, err := newWebhook(t, md5).Verify(transform.Notification{Body: notification(notifyMD5Sign, "<attach></attach><coupon_fee/>")})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ev.Data["attach"]; ok || len(ev.Data) != 15 {
		t.Fatalf("data holds unsigned (empty) fields: %v", ev.Data)
	}
}

// shifted is the captured MD5 notification with from replaced by to, its
// signature left as WeChat made it.
func shifted(t *testing.T, from, to string) []byte {
	t.Helper()
	body := string(notification(notifyMD5Sign, ""))
	if !strings.Contains(body, from) {
		t.Fatalf("the notification has no %q", from)
	}
	return []byte(strings.Replace(body, from, to, 1))
}

// A value may hold "&name=" when name cannot sort between its field and the
// next one (an attach of the merchant's own key=value pairs): no other
// reading of the signed string gives a document of sorted names.
func TestWebhookAmpersandInValue(t *testing.T) {
	cfg := testConfig("")
	// The merchant's own attach and device_info (both its free text, which
	// minipay only forwards) may hold key=value pairs whose names sort
	// before the next field: b and bank before bank_type, e and employee
	// before fee_type.
	// attach may also hold pairs named as WeChat's fields that sort past
	// bank_type, the field after it: a merchant's custom parameters
	// (openid=, total_fee=, sign=) have no other reading there.
	for _, f := range []struct{ field, value string }{
		{"attach", "store=7&user=42&a=1"}, {"attach", "a=1&b=2"}, {"attach", "x&bank=1"},
		{"device_info", "POS&e=1"}, {"device_info", "store=1&employee=7"},
		{"attach", "shop=1&openid=oUpF8uMEb4qRXf22hE3X68TekukE"}, {"attach", "uid=5&total_fee=100&fee_type=CNY"},
		{"attach", "a=1&sign=x"}, {"attach", "order=O2&out_trade_no=O2&time_end=20260101000000&mch_id=1"},
		{"attach", "src=mp&device_info=iPhone"},
	} {
		p := set(notificationParams(), f.field, f.value)
		ev, err := newWebhook(t, cfg).Verify(transform.Notification{Body: signedXML(p, vecAPIKey, SignMD5)})
		if err != nil || ev.Data[f.field] != f.value {
			t.Fatalf("%s %q: Verify = %+v, %v", f.field, f.value, ev, err)
		}
	}
	// "&bank_type=" in attach sorts between attach and the next field
	// (cash_fee once bank_type is gone), and bank_type is WeChat's: a
	// captured notification's field moved into attach. Refused, and so is
	// fee_type moved into device_info.
	// So is any WeChat name sorting past device_info in device_info.
	for _, f := range []struct{ field, value, moved string }{
		{"attach", "x&bank_type=CFT", "bank_type"}, {"device_info", "WEB&fee_type=CNY", "fee_type"},
		{"device_info", "WEB&openid=oX", ""},
	} {
		p := set(notificationParams(), f.field, f.value)
		p = slices.DeleteFunc(p, func(kv transform.Param) bool { return kv.Name == f.moved })
		if ev, err := newWebhook(t, cfg).Verify(transform.Notification{Body: signedXML(p, vecAPIKey, SignMD5)}); !errors.Is(err, ErrShiftedField) {
			t.Fatalf("%s %q: Verify = %+v, %v", f.field, f.value, ev, err)
		}
	}
}

// The other direction: a value that swallows the fields after it. A
// genuine notification whose device_info (the merchant's free text) holds
// "&coupon_fee=5" signs the same string as a forged one whose cash_fee is
// "1234&device_info=store" followed by a coupon_fee of 5: the name after
// the '&' sorts past the next field, and everything up to the next name
// that sorts after it reads as its value. Every such forgery puts a name
// sorting after the field into a value: refused.
func TestWebhookFieldSwallowingTheNext(t *testing.T) {
	cfg := testConfig("")
	genuine := set(notificationParams(), "device_info", "store&coupon_fee=5")
	sign := refSign(genuine, vecAPIKey, SignMD5)
	if ev, err := newWebhook(t, cfg).Verify(transform.Notification{Body: signedXML(genuine, vecAPIKey, SignMD5)}); err != nil || ev.Data["device_info"] != "store&coupon_fee=5" {
		t.Fatalf("the genuine notification: %+v, %v", ev, err)
	}
	// cash_fee swallows device_info, whose value carried coupon_fee. (Only
	// the merchant's free text can carry WeChat's names in a genuine
	// notification, so the fields before device_info are the ones at risk.)
	forged := slices.DeleteFunc(set(set(genuine, "cash_fee", "1234&device_info=store"), "coupon_fee", "5"),
		func(kv transform.Param) bool { return kv.Name == "device_info" })
	if refSign(forged, vecAPIKey, SignMD5) != sign {
		t.Fatalf("the forgery does not sign as the genuine notification: %v", forged)
	}
	body := transform.AppendFlatXML(nil, "xml", append(forged, transform.Param{Name: "sign", Value: sign}))
	if ev, err := newWebhook(t, cfg).Verify(transform.Notification{Body: body}); !errors.Is(err, ErrShiftedField) {
		t.Fatalf("forged %v: Verify = %+v, %v", forged, ev, err)
	}
}

// A field a forger adds can also run on over genuine fields whose names
// sort before it: a genuine notification whose attach (the merchant's own
// text) holds "&fz=1" signs the same as a forged one whose attach is "x"
// and whose new field fz is "1&bank_type=CFT&cash_fee=1234&fee_type=USD".
// Every name in that value sorts before fz, yet the forgery drops
// fee_type: the event said 12.34 CNY for a payment of 12.34 USD. Only the
// merchant's free text may hold "&name=" in a genuine notification.
func TestWebhookAddedFieldRunningOn(t *testing.T) {
	cfg := testConfig("")
	genuine := set(set(notificationParams(), "fee_type", "USD"), "attach", "x&fz=1")
	if ev, err := newWebhook(t, cfg).Verify(transform.Notification{Body: signedXML(genuine, vecAPIKey, SignMD5)}); err != nil || ev.Currency != "USD" {
		t.Fatalf("the genuine notification: %+v, %v", ev, err)
	}
	sign := refSign(genuine, vecAPIKey, SignMD5)
	forged := set(set(genuine, "attach", "x"), "fz", "1&bank_type=CFT&cash_fee=1234&fee_type=USD")
	forged = slices.DeleteFunc(forged, func(kv transform.Param) bool {
		return kv.Name == "bank_type" || kv.Name == "cash_fee" || kv.Name == "fee_type"
	})
	if refSign(forged, vecAPIKey, SignMD5) != sign {
		t.Fatalf("the forgery does not sign as the genuine notification: %v", forged)
	}
	body := transform.AppendFlatXML(nil, "xml", append(forged, transform.Param{Name: "sign", Value: sign}))
	if ev, err := newWebhook(t, cfg).Verify(transform.Notification{Body: body}); !errors.Is(err, ErrShiftedField) {
		t.Fatalf("forged %v: Verify = %+v, %v", forged, ev, err)
	}
}

// TestWebhookRefundAttacks: only req_info is authenticated.
func TestWebhookRefundAttacks(t *testing.T) {
	w := newWebhook(t, testConfig(""))
	// Outer fields next to the authenticated req_info (the published vector
	// holds out_refund_no R1 and refund_status SUCCESS only).
	padded := []byte(strings.Replace(string(refundNotification(vecAppID, vecMchID, publishedReqInfo)), "<req_info>",
		"<refund_fee>99999</refund_fee><settlement_refund_fee>99999</settlement_refund_fee><transaction_id>4299</transaction_id>"+
			"<out_trade_no>O9</out_trade_no><success_time>2030-01-01 00:00:00</success_time><refund_status>SUCCESS</refund_status><req_info>", 1))
	ev, err := w.Verify(transform.Notification{Body: padded})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"out_refund_no": "R1", "refund_status": "SUCCESS"}
	if len(ev.Data) != len(want) || ev.Amount != "" || ev.Currency != "" || ev.OrderID != "" || ev.ProviderOrderID != "" || ev.OccurredAt != "" {
		t.Fatalf("event %+v", ev)
	}
	for k, v := range want {
		if ev.Data[k] != v {
			t.Fatalf("data %v", ev.Data)
		}
	}

	inner := func(extra ...transform.Param) transform.Params {
		return append(transform.Params{
			{Name: "transaction_id", Value: "4200000123"}, {Name: "out_trade_no", Value: "O1"}, {Name: "refund_id", Value: "50000123"},
			{Name: "out_refund_no", Value: "R2"}, {Name: "refund_fee", Value: "500"}, {Name: "refund_status", Value: "SUCCESS"},
		}, extra...)
	}
	rejects := []struct {
		name  string
		inner transform.Params
		want  error
	}{
		{"a repeated name inside req_info", inner(transform.Param{Name: "refund_fee", Value: "100000"}), transform.ErrMalformed},
		{"an empty repeated name inside req_info", append(transform.Params{{Name: "refund_status", Value: ""}}, inner()...), transform.ErrMalformed},
		{"no out_refund_no", inner()[:3], transform.ErrMalformed},
	}
	for _, tt := range rejects {
		t.Run(tt.name, func(t *testing.T) {
			body, err := RefundNotification(testConfig(""), tt.inner)
			if err != nil {
				t.Fatal(err)
			}
			if ev, err := w.Verify(transform.Notification{Body: body}); ev != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %+v, %v; want %v", ev, err, tt.want)
			}
		})
	}

	// An undocumented refund_status is verified but never terminal.
	body, err := RefundNotification(testConfig(""), set(inner(), "refund_status", "PROCESSING"))
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := w.Verify(transform.Notification{Body: body}); err != nil || ev.Type != transform.EventUnknown {
		t.Fatalf("Verify = %+v, %v", ev, err)
	}
}

// TestExplainAnswerReturnCodeFail: WeChat signs no return_code FAIL answer
// (docs/providers/wechat_v2.md, "Response"), so `caddy minipay verify` has
// nothing to explain (transform.ErrUnsignedAnswer, kind answer), while the
// webhook keeps refusing it as unsigned. Anything else is left to Explain.
func TestExplainAnswerReturnCodeFail(t *testing.T) {
	tests := []struct {
		name      string
		body      []byte
		isAnswer  bool
		verifyErr error // Verify's verdict on the same input
	}{
		{"communication failure", []byte(`<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[签名错误]]></return_msg></xml>`), true, transform.ErrUnsigned},
		{"FAIL without return_msg", []byte(`<xml><return_code>FAIL</return_code></xml>`), true, transform.ErrUnsigned},
		{"FAIL beside a signature", signedXML(set(notificationParams(), "return_code", "FAIL"), vecAPIKey, SignMD5), true, transform.ErrUnsigned},
		{"payment notification", notification(notifyMD5Sign, ""), false, nil},
		{"no return_code", []byte(`<xml><return_msg>OK</return_msg></xml>`), false, transform.ErrUnsigned},
		{"malformed", []byte(`<xml><return_code>FAIL</return_code>`), false, transform.ErrMalformed},
		{"duplicate return_code", []byte(`<xml><return_code>FAIL</return_code><return_code>SUCCESS</return_code></xml>`), false, transform.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWebhook(t, testConfig(SignMD5))
			n := transform.Notification{Body: tt.body}
			transformtest.WantUnsignedAnswer(t, w, n, tt.isAnswer)
			if _, err := w.Verify(n); !errors.Is(err, tt.verifyErr) {
				t.Fatalf("Verify = %v, want %v", err, tt.verifyErr)
			}
		})
	}
}

// TestWebhookFreeTextSplit: the merchant's free text (attach, device_info)
// may hold pairs whose names are not WeChat's ("a=1&b=2"), and a captured
// notification with such a value split at '&' into a shorter value and a
// field of its own signs the same: attach "a=1" and a field b "2". That
// reading changes data["attach"], which the merchant decides on, so a
// field that is none of WeChat's and follows attach or device_info in the
// signed string is refused (no genuine notification has one there).
func TestWebhookFreeTextSplit(t *testing.T) {
	cfg := testConfig("")
	tests := []struct {
		name         string
		field, value string            // the genuine value
		kept         string            // the forged, shorter value
		split        []transform.Param // the fields split off it
	}{
		{"attach a=1&b=2", "attach", "a=1&b=2", "a=1", []transform.Param{{Name: "b", Value: "2"}}},
		{"attach with an auth pair", "attach", "plan=pro&auth=7f3a", "plan=pro", []transform.Param{{Name: "auth", Value: "7f3a"}}},
		{"attach into two fields", "attach", "a=1&b=2&bank=3", "a=1", []transform.Param{{Name: "b", Value: "2"}, {Name: "bank", Value: "3"}}},
		{"device_info", "device_info", "POS&e=1", "POS", []transform.Param{{Name: "e", Value: "1"}}},
		{"device_info store and employee", "device_info", "store=1&employee=7", "store=1", []transform.Param{{Name: "employee", Value: "7"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			genuine := set(notificationParams(), tt.field, tt.value)
			if ev, err := newWebhook(t, cfg).Verify(transform.Notification{Body: signedXML(genuine, vecAPIKey, SignMD5)}); err != nil || ev.Data[tt.field] != tt.value {
				t.Fatalf("the genuine notification: %+v, %v", ev, err)
			}
			sign := refSign(genuine, vecAPIKey, SignMD5)
			forged := append(set(genuine, tt.field, tt.kept), tt.split...)
			if refSign(forged, vecAPIKey, SignMD5) != sign {
				t.Fatalf("the forgery does not sign as the genuine notification: %v", forged)
			}
			body := transform.AppendFlatXML(nil, "xml", append(forged, transform.Param{Name: "sign", Value: sign}))
			if ev, err := newWebhook(t, cfg).Verify(transform.Notification{Body: body}); !errors.Is(err, ErrShiftedField) {
				t.Fatalf("forged %v: Verify = %+v, %v", forged, ev, err)
			}
		})
	}
}

// TestWebhookDeviceInfoFromAttach: a genuine attach of the merchant's
// parameters holding "&device_info=iPhone" signs the same as a forged
// notification whose attach is cut before it (or before a pair named as
// one of WeChat's fields sorting between bank_type and device_info, which
// becomes a field: cash_fee "1") and whose device_info "iPhone" runs on
// over bank_type and cash_fee, dropping or replacing both and changing the
// attach the merchant reads. No genuine notification has device_info
// holding what sorts between attach and device_info (bank_type, which it
// always carries, would have run into it): refused.
func TestWebhookDeviceInfoFromAttach(t *testing.T) {
	tests := []struct {
		name, attach string
		forged       transform.Params // besides attach cut and bank_type and cash_fee run into device_info
	}{
		{"device_info right after attach", "src=mp&device_info=iPhone", transform.Params{{Name: "attach", Value: "src=mp"}}},
		{"a WeChat field between them", "src=mp&cash_fee=1&device_info=iPhone",
			transform.Params{{Name: "attach", Value: "src=mp"}, {Name: "cash_fee", Value: "1"}}},
		{"two WeChat fields between them", "src=mp&cash_fee_type=USD&coupon_fee=1&device_info=iPhone",
			transform.Params{{Name: "attach", Value: "src=mp"}, {Name: "cash_fee_type", Value: "USD"}, {Name: "coupon_fee", Value: "1"}}},
	}
	cfg := testConfig("")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			genuine := set(notificationParams(), "attach", tt.attach)
			if ev, err := newWebhook(t, cfg).Verify(transform.Notification{Body: signedXML(genuine, vecAPIKey, SignMD5)}); err != nil || ev.Data["attach"] != tt.attach {
				t.Fatalf("the genuine notification: %+v, %v", ev, err)
			}
			sign := refSign(genuine, vecAPIKey, SignMD5)
			forged := slices.DeleteFunc(slices.Clone(genuine), func(kv transform.Param) bool { return kv.Name == "bank_type" || kv.Name == "cash_fee" })
			for _, kv := range tt.forged {
				forged = set(forged, kv.Name, kv.Value)
			}
			forged = set(forged, "device_info", "iPhone&bank_type=CFT&cash_fee=1234")
			if refSign(forged, vecAPIKey, SignMD5) != sign {
				t.Fatalf("the forgery does not sign as the genuine notification: %v", forged)
			}
			body := transform.AppendFlatXML(nil, "xml", append(forged, transform.Param{Name: "sign", Value: sign}))
			if ev, err := newWebhook(t, cfg).Verify(transform.Notification{Body: body}); !errors.Is(err, ErrShiftedField) {
				t.Fatalf("forged %v: Verify = %+v, %v", forged, ev, err)
			}
		})
	}
}

// TestWebhookContentEncoding: the notification is read as its
// Content-Encoding says (a body declared gzip but sent plain was read as it
// was, and a gzip one refused).
func TestWebhookContentEncoding(t *testing.T) {
	transformtest.WantContentEncodingRule(t, newWebhook(t, testConfig("")),
		transform.Notification{Header: http.Header{"Content-Type": {"text/xml"}}, Body: notification(notifyMD5Sign, "")})
}

// TestWebhookPromotionDetailPairs: WeChat's 单品优惠 promotion_detail is a
// JSON text whose promotion name and goods remark come from the merchant's
// or WeChat's promotion setup and may hold "&name=" (a goods remark
// "A&B=1"): such a notification is forwarded as signed, where it was
// refused (401) and retried to exhaustion. Its other readings are refused:
// promotion_detail cut at the inner '&' (no complete JSON, the rest a
// field B or pz), and a promotion_detail holding a pair named as one of
// WeChat's fields (what one begun inside attach holds: mch_id, …,
// out_trade_no).
func TestWebhookPromotionDetailPairs(t *testing.T) {
	detail := func(remark string) string {
		return `{"promotion_detail":[{"promotion_id":"109519","name":"单品惠-6","scope":"SINGLE","type":"DISCOUNT","amount":"5",` +
			`"activity_id":"931386","wxpay_contribute":"0","merchant_contribute":"0","other_contribute":"5",` +
			`"goods_detail":[{"goods_id":"a_goods1","goods_remark":"` + remark + `","quantity":"7","price":"1","discount_amount":"4"}]}]}`
	}
	tests := []struct {
		name     string
		fields   transform.Params // set on notificationParams
		accepted bool
	}{
		{"a pair named before it", transform.Params{{Name: "promotion_detail", Value: detail("A&B=1")}}, true},
		{"a pair named after it", transform.Params{{Name: "promotion_detail", Value: detail("A&pz=1")}}, true},
		{"two pairs", transform.Params{{Name: "promotion_detail", Value: detail("A&B=1&zz=2")}}, true},
		{"no pair", transform.Params{{Name: "promotion_detail", Value: detail("商品备注")}}, true},
		{"an array", transform.Params{{Name: "promotion_detail", Value: `[{"name":"A&B=1"}]`}}, true},
		// The readings of "A&pz=1" cut at its '&'.
		{"cut at the inner '&'", transform.Params{{Name: "promotion_detail", Value: detail("A")[:strings.Index(detail("A"), `"A`)+2]},
			{Name: "pz", Value: `1"` + detail("")[strings.Index(detail(""), `"",`)+1:]}}, false},
		{"not JSON", transform.Params{{Name: "promotion_detail", Value: "A"}}, false},
		{"JSON but no object or array", transform.Params{{Name: "promotion_detail", Value: `"A&B=1"`}}, false},
		{"a JSON object and more", transform.Params{{Name: "promotion_detail", Value: `{"a":"A&B=1"} `}}, false},
		{"a pair named as WeChat's field after it", transform.Params{{Name: "promotion_detail", Value: detail("A&result_code=FAIL")}}, false},
		{"a pair named as WeChat's field before it", transform.Params{{Name: "promotion_detail", Value: detail("A&out_trade_no=O2")}}, false},
	}
	cfg := testConfig("")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := notificationParams()
			for _, kv := range tt.fields {
				p = set(p, kv.Name, kv.Value)
			}
			ev, err := newWebhook(t, cfg).Verify(transform.Notification{Body: signedXML(p, vecAPIKey, SignMD5)})
			if tt.accepted {
				if err != nil || ev.Data["promotion_detail"] != p.Get("promotion_detail") {
					t.Fatalf("Verify = %+v, %v", ev, err)
				}
			} else if !errors.Is(err, ErrShiftedField) {
				t.Fatalf("Verify = %+v, %v, want ErrShiftedField", ev, err)
			}
		})
	}
}

// occurred_at is WeChat's time_end (yyyyMMddHHmmss) and a refund's
// success_time (yyyy-MM-dd HH:mm:ss), both Beijing time
// (docs/providers/wechat_v2.md), read in exactly that shape: a value of
// another is left out, never read as a time it may not be (time.Parse
// alone takes a fraction after the seconds, a one-digit hour, a doubled
// space). Edge dates are read as the calendar has them.
func TestWebhookOccurredAtExactShape(t *testing.T) {
	for _, tt := range []struct{ timeEnd, want string }{
		{"20261122100000", "2026-11-22T10:00:00+08:00"},
		{"20261231235959", "2026-12-31T23:59:59+08:00"},
		{"20270101000000", "2027-01-01T00:00:00+08:00"},
		{"20280229120000", "2028-02-29T12:00:00+08:00"},
		{"20380119111408", "2038-01-19T11:14:08+08:00"},
		{"19700101080000", "1970-01-01T08:00:00+08:00"},
		{"20270229120000", ""}, {"20261301000000", ""}, {"20261122240000", ""}, {"20261231235960", ""},
		{"2026112210000", ""}, {"202611221000001", ""}, {"20261122100000.5", ""}, {"20261122100000,5", ""},
		{"2026112210000５", ""}, {"2026-11-22 10:00:00", ""},
		// No payment time: before 1970 or after 9999 in UTC (README Time zones).
		{"00000101000000", ""}, {"19700101075959", ""}, {"99991231235959", "9999-12-31T23:59:59+08:00"},
	} {
		body := signedXML(set(notificationParams(), "time_end", tt.timeEnd), vecAPIKey, SignMD5)
		ev, err := newWebhook(t, testConfig("")).Verify(transform.Notification{Body: body})
		if err != nil || ev.OccurredAt != tt.want || ev.Data["time_end"] != tt.timeEnd {
			t.Errorf("time_end %q: occurred_at %q (%v), want %q", tt.timeEnd, ev.OccurredAt, err, tt.want)
		}
	}
	for _, tt := range []struct{ successTime, want string }{
		{"2026-11-22 10:05:00", "2026-11-22T10:05:00+08:00"},
		{"2028-02-29 00:00:00", "2028-02-29T00:00:00+08:00"},
		{"2026-11-22 9:05:00", ""}, {"2026-11-22 10:05:00.5", ""}, {"2026-11-22  10:05:00", ""},
		{"2026-11-22T10:05:00", ""}, {"2026-12-31 24:00:00", ""}, {"2027-02-29 00:00:00", ""},
		{"0000-01-01 00:00:00", ""}, {"1969-12-31 23:59:59", ""},
	} {
		body, err := RefundNotification(testConfig(""), transform.Params{
			{Name: "transaction_id", Value: "4200000123"}, {Name: "out_trade_no", Value: "O1"}, {Name: "refund_id", Value: "50000123"},
			{Name: "out_refund_no", Value: "R2"}, {Name: "total_fee", Value: "1234"}, {Name: "refund_fee", Value: "600"},
			{Name: "refund_status", Value: "SUCCESS"}, {Name: "success_time", Value: tt.successTime},
		})
		if err != nil {
			t.Fatal(err)
		}
		ev, err := newWebhook(t, testConfig("")).Verify(transform.Notification{Body: body})
		if err != nil || ev.OccurredAt != tt.want || ev.Data["success_time"] != tt.successTime {
			t.Errorf("success_time %q: occurred_at %q (%v), want %q", tt.successTime, ev.OccurredAt, err, tt.want)
		}
	}
}
