package wechatv2

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

const payJSON = `{"order_id":"O1","amount":"12.34","currency":"CNY","description":"测试商品","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","expire_at":"2026-11-22T02:30:00Z","attach":"a=1&b=2"}`

// The unifiedorder SUCCESS answer of the documentation (docs/providers/wechat_v2.md
// "Response"), for the official example merchant. The signs were computed
// outside Go from the published rules:
//
//	printf '%s' 'appid=wxd930ea5d5a258f4f&mch_id=10000100&nonce_str=IITRi8Iabbblz1Jc&prepay_id=wx201411101639507cbf6ffd8b0779950874&result_code=SUCCESS&return_code=SUCCESS&return_msg=OK&trade_type=JSAPI&key=192006250b4c09247ec02edce69f6a2d' | md5sum
//	... | openssl dgst -sha256 -hmac 192006250b4c09247ec02edce69f6a2d
const (
	payAnswerTemplate = `<xml>
   <return_code><![CDATA[SUCCESS]]></return_code>
   <return_msg><![CDATA[OK]]></return_msg>
   <appid><![CDATA[wxd930ea5d5a258f4f]]></appid>
   <mch_id><![CDATA[10000100]]></mch_id>
   <nonce_str><![CDATA[IITRi8Iabbblz1Jc]]></nonce_str>
   <sign><![CDATA[SIGN]]></sign>
   <result_code><![CDATA[SUCCESS]]></result_code>
   <prepay_id><![CDATA[wx201411101639507cbf6ffd8b0779950874]]></prepay_id>
   <trade_type><![CDATA[JSAPI]]></trade_type>
</xml>`
	payAnswerMD5Sign  = "12AEAC49895C58E07922F68A21BF6D83"
	payAnswerHMACSign = "E640B7E27AD4CF87E139FF3D0A6E0046C6F6475C0897DC2E03FCD9F0C5840B0F"
	prepayID          = "wx201411101639507cbf6ffd8b0779950874"
)

func payAnswer(sign string) []byte {
	return []byte(strings.Replace(payAnswerTemplate, "SIGN", sign, 1))
}

func TestClientSupports(t *testing.T) {
	c := newClient(t, testConfig(""))
	for op, want := range map[string]bool{"pay": true, "query": true, "close": true, "refund": true, "login": false, "": false, "Pay": false} {
		if got := c.Supports(op); got != want {
			t.Errorf("Supports(%q) = %v", op, got)
		}
	}
}

func TestPreparePay(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		signType  string
		openField string
		extra     map[string]string
	}{
		{"direct MD5", testConfig(""), SignMD5, "openid", nil},
		{"direct HMAC-SHA256", testConfig(SignHMACSHA256), SignHMACSHA256, "openid", nil},
		{"service provider", spConfig(), SignMD5, "sub_openid", map[string]string{"sub_appid": spSubAppID, "sub_mch_id": spSubMchID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.cfg)
			call, err := c.Prepare(context.Background(), "pay", []byte(payJSON))
			if err != nil {
				t.Fatalf("Prepare = %v", err)
			}
			if call.Method != http.MethodPost || call.Path != "/pay/unifiedorder" || call.RawQuery != "" ||
				!strings.HasPrefix(call.ContentType, "text/xml") || call.OrderID != "O1" || call.Decode == nil {
				t.Fatalf("call = %s %s ? %s, %q, order %q", call.Method, call.Path, call.RawQuery, call.ContentType, call.OrderID)
			}
			p := parseXML(t, call.Body)
			want := map[string]string{
				"appid":            tt.cfg.AppID,
				"mch_id":           tt.cfg.MchID,
				"sign_type":        tt.signType,
				"body":             "测试商品",
				"out_trade_no":     "O1",
				"total_fee":        "1234", // fen, an integer (docs/providers/wechat_v2.md)
				"fee_type":         "CNY",
				"spbill_create_ip": clientIP, // the configured default
				"notify_url":       notifyURL,
				"trade_type":       "JSAPI",
				tt.openField:       openID,
				"attach":           "a=1&b=2",
				"time_expire":      "20261122103000", // 02:30Z is 10:30 in Beijing
			}
			for k, v := range tt.extra {
				want[k] = v
			}
			got := p.Map()
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if n := p.Get("nonce_str"); len(n) != 32 {
				t.Errorf("nonce_str %q is not 32 characters", n)
			}
			if want := len(want) + 2; len(p) != want { // + nonce_str, sign
				t.Errorf("%d parameters, want %d: %v", len(p), want, got)
			}
			if tt.openField == "sub_openid" && p.Has("openid") {
				t.Error("service-provider mode also sends openid")
			}
			if sign := p.Get("sign"); sign != refSign(p, vecAPIKey, tt.signType) {
				t.Errorf("sign %s does not verify with the configured key", sign)
			}
			if wxpay.Verify(p, otherKey, tt.signType) {
				t.Error("the request verifies under another key")
			}
		})
	}
}

// The request's client_ip and notify_url win over the configuration.
func TestPreparePayOverrides(t *testing.T) {
	c := newClient(t, testConfig(""))
	call, err := c.Prepare(context.Background(), "pay", []byte(`{"order_id":"O2","amount":"1","currency":"CNY","description":"d","openid":"o","client_ip":"198.51.100.1","notify_url":"https://other.example/n"}`))
	if err != nil {
		t.Fatal(err)
	}
	p := parseXML(t, call.Body)
	if p.Get("spbill_create_ip") != "198.51.100.1" || p.Get("notify_url") != "https://other.example/n" || p.Get("total_fee") != "100" {
		t.Fatalf("params %v", p.Map())
	}
	if p.Has("time_expire") || p.Has("attach") {
		t.Fatalf("optional fields sent although absent: %v", p.Map())
	}
}

// TestPreparePayOpenIDHoldingAPair: an openid holding "&name=" is a 400
// naming openid: WeChat's notification of the order signs the openid, whose
// value would then read two ways, so the webhook refuses every one (README
// What the merchant can trust) and the order would be paid and never
// notified. An '&' without a pair is sent as it is, and the webhook agrees.
func TestPreparePayOpenIDHoldingAPair(t *testing.T) {
	for _, sub := range []bool{false, true} {
		cfg, name := testConfig(""), "openid"
		if sub {
			cfg, name = spConfig(), "sub_openid"
		}
		c := newClient(t, cfg)
		w := newWebhook(t, cfg)
		for _, tt := range []struct {
			openid string
			ok     bool
		}{
			{"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", true},
			{"oX&a", true},
			{"oX&=1", true},
			{"oX&zz=1", false},
			{"oX&trade_type=JSAPI", false},
		} {
			_, err := c.Prepare(context.Background(), "pay", []byte(`{"order_id":"O2","amount":"1","currency":"CNY","description":"d","openid":"`+tt.openid+`","client_ip":"198.51.100.1"}`))
			var te *transform.Error
			if tt.ok != (err == nil) || !tt.ok && (!errors.As(err, &te) || te.Status != 400 || te.Field != "openid") {
				t.Fatalf("sub %v, openid %q: %v", sub, tt.openid, err)
			}
			params := set(notificationParams(), name, tt.openid)
			if sub {
				params = set(set(set(set(params, "appid", spAppID), "mch_id", spMchID), "sub_appid", spSubAppID), "sub_mch_id", spSubMchID)
			}
			_, err = w.Verify(transform.Notification{Body: signedXML(params, vecAPIKey, SignMD5)})
			if tt.ok != (err == nil) {
				t.Fatalf("sub %v, openid %q: the notification: %v", sub, tt.openid, err)
			}
		}
	}
}

// TestPreparePayAttachOfParameters: an attach of the merchant's parameters
// is sent as it is, but one holding a pair named bank_type is a 400 naming
// attach: WeChat's notification of the order signs attach followed by
// bank_type, so it reads two ways and the webhook refuses every one (README
// What the merchant can trust); the order was paid and never notified.
func TestPreparePayAttachOfParameters(t *testing.T) {
	c := newClient(t, testConfig(""))
	w := newWebhook(t, testConfig(""))
	for _, tt := range []struct {
		attach string
		ok     bool
	}{
		{"uid=5&openid=oX&total_fee=100&sign=x&device_info=iPhone", true},
		{"a=1&bank=2&appid=wx", true},
		{"from=mp&bank_type=card", false},
		{"bank_type=card", true}, // no '&' before it: no pair
	} {
		_, err := c.Prepare(context.Background(), "pay", []byte(`{"order_id":"O2","amount":"1","currency":"CNY","description":"d","openid":"o","client_ip":"198.51.100.1","attach":"`+tt.attach+`"}`))
		var te *transform.Error
		if tt.ok != (err == nil) || !tt.ok && (!errors.As(err, &te) || te.Status != 400 || !strings.HasPrefix(te.Message, "attach holds a pair named bank_type")) {
			t.Fatalf("attach %q: %v", tt.attach, err)
		}
		// What the webhook makes of the order's notification agrees.
		_, err = w.Verify(transform.Notification{Body: signedXML(set(notificationParams(), "attach", tt.attach), vecAPIKey, SignMD5)})
		if tt.ok != (err == nil) {
			t.Fatalf("attach %q: the notification: %v", tt.attach, err)
		}
	}
}

// spbill_create_ip is the request's client_ip, else the configuration's,
// else the caller's address minipay puts in the context (for a mini
// program WeChat asks for the IP of the machine calling its API).
func TestPreparePayClientIP(t *testing.T) {
	noIP := testConfig("")
	noIP.ClientIP = ""
	withCaller := transform.WithCallerIP(context.Background(), "10.1.2.3")
	tests := []struct {
		name     string
		cfg      Config
		ctx      context.Context
		clientIP string // in the request
		want     string
	}{
		{"the request's", testConfig(""), withCaller, "198.51.100.1", "198.51.100.1"},
		{"the configuration's", testConfig(""), withCaller, "", clientIP},
		{"the caller's", noIP, withCaller, "", "10.1.2.3"},
		{"the caller's, IPv6", noIP, transform.WithCallerIP(context.Background(), "2001:db8::1"), "", "2001:db8::1"},
		{"the request's over the caller's", noIP, withCaller, "198.51.100.1", "198.51.100.1"},
	}
	// minipay puts the caller's IP in the context only for a client that
	// may fall back on it: one without a configured client_ip.
	if newClient(t, testConfig("")).ReadsCallerIP() || !newClient(t, noIP).ReadsCallerIP() {
		t.Fatal("ReadsCallerIP does not follow the configuration's client_ip")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"order_id":"O2","amount":"1","currency":"CNY","description":"d","openid":"o"`
			if tt.clientIP != "" {
				body += `,"client_ip":"` + tt.clientIP + `"`
			}
			call, err := newClient(t, tt.cfg).Prepare(tt.ctx, "pay", []byte(body+"}"))
			if err != nil {
				t.Fatal(err)
			}
			if p := parseXML(t, call.Body); p.Get("spbill_create_ip") != tt.want {
				t.Fatalf("spbill_create_ip %q, want %q", p.Get("spbill_create_ip"), tt.want)
			}
		})
	}
}

func TestPrepareErrors(t *testing.T) {
	noDefaults := testConfig("")
	noDefaults.NotifyURL, noDefaults.ClientIP = "", ""
	noIP := testConfig("")
	noIP.ClientIP = ""
	tests := []struct {
		name, op, body string
		cfg            Config
		status         int
		code, field    string
	}{
		{"unknown op", "refunds", `{}`, testConfig(""), 404, transform.CodeUnknownOperation, ""},
		{"login is not wechat_v2", "login", `{"code":"x"}`, testConfig(""), 404, transform.CodeUnknownOperation, ""},
		{"missing notify_url", "pay", `{"order_id":"O1","amount":"1","currency":"CNY","description":"d","openid":"o"}`, noDefaults, 400, transform.CodeInvalidRequest, "notify_url"},
		{"missing client_ip, no caller's", "pay", `{"order_id":"O1","amount":"1","currency":"CNY","description":"d","openid":"o"}`, noIP, 400, transform.CodeInvalidRequest, "client_ip"},
		{"JPY decimals", "pay", `{"order_id":"O1","amount":"1.5","currency":"JPY","description":"d","openid":"o"}`, testConfig(""), 400, transform.CodeInvalidRequest, "amount"},
		{"unknown field", "pay", `{"order_id":"O1","total_fee":1234}`, testConfig(""), 400, transform.CodeInvalidRequest, "total_fee"},
		{"wrong type", "pay", `{"order_id":"O1","amount":12.34}`, testConfig(""), 400, transform.CodeInvalidRequest, "amount"},
		{"not JSON", "query", `order_id=O1`, testConfig(""), 400, transform.CodeInvalidRequest, ""},
		{"query without order_id", "query", `{}`, testConfig(""), 400, transform.CodeInvalidRequest, "order_id"},
		{"close with a bad order_id", "close", `{"order_id":"O 1"}`, testConfig(""), 400, transform.CodeInvalidRequest, "order_id"},
		{"refund over the total", "refund", `{"order_id":"O1","refund_id":"R1","amount":"12.35","currency":"CNY","total_amount":"12.34"}`, testConfig(""), 400, transform.CodeInvalidRequest, "amount"},
		{"refund without refund_id", "refund", `{"order_id":"O1","amount":"1","currency":"CNY"}`, testConfig(""), 400, transform.CodeInvalidRequest, "refund_id"},
		// total_fee and refund_fee are WeChat's Int: 2147483647 minor units at most
		{"amount past total_fee's Int", "pay", `{"order_id":"O1","amount":"21474836.48","currency":"CNY","description":"d","openid":"o"}`, testConfig(""), 400, transform.CodeInvalidRequest, "amount"},
		{"JPY past total_fee's Int", "pay", `{"order_id":"O1","amount":"999999999999","currency":"JPY","description":"d","openid":"o"}`, testConfig(""), 400, transform.CodeInvalidRequest, "amount"},
		{"refund past refund_fee's Int", "refund", `{"order_id":"O1","refund_id":"R1","amount":"21474836.48","currency":"CNY"}`, testConfig(""), 400, transform.CodeInvalidRequest, "amount"},
		{"total past total_fee's Int", "refund", `{"order_id":"O1","refund_id":"R1","amount":"1","currency":"CNY","total_amount":"21474836.48"}`, testConfig(""), 400, transform.CodeInvalidRequest, "total_amount"},
		{"unknown refund field", "refund", `{"order_id":"O1","refund_id":"R1","amount":"1","currency":"CNY","refund_fee":1}`, testConfig(""), 400, transform.CodeInvalidRequest, "refund_fee"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call, err := newClient(t, tt.cfg).Prepare(context.Background(), tt.op, []byte(tt.body))
			transformtest.NothingToSend(t, call)
			e := wantError(t, err, tt.status, tt.code)
			if e.Field != tt.field {
				t.Fatalf("field = %q, want %q", e.Field, tt.field)
			}
		})
	}
}

func TestPrepareQueryCloseRefund(t *testing.T) {
	c := newClient(t, testConfig(""))
	tests := []struct {
		op, body, path string
		want           map[string]string
	}{
		{"query", `{"order_id":"O1"}`, "/pay/orderquery", map[string]string{"out_trade_no": "O1"}},
		{"close", `{"order_id":"O1"}`, "/pay/closeorder", map[string]string{"out_trade_no": "O1"}},
		{"refund", `{"order_id":"O1","refund_id":"R1","amount":"5.00","currency":"CNY","total_amount":"12.34","reason":"退货"}`, "/secapi/pay/refund",
			map[string]string{"out_trade_no": "O1", "out_refund_no": "R1", "total_fee": "1234", "refund_fee": "500", "refund_fee_type": "CNY", "refund_desc": "退货", "notify_url": notifyURL}},
		{"refund", `{"order_id":"O1","refund_id":"R2","amount":"12.34","currency":"CNY"}`, "/secapi/pay/refund",
			map[string]string{"out_trade_no": "O1", "out_refund_no": "R2", "total_fee": "1234", "refund_fee": "1234", "refund_fee_type": "CNY", "notify_url": notifyURL}},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			call, err := c.Prepare(context.Background(), tt.op, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if call.Method != http.MethodPost || call.Path != tt.path || call.OrderID != "O1" || !call.Idempotent {
				t.Fatalf("call %s %s %q, idempotent %v", call.Method, call.Path, call.OrderID, call.Idempotent)
			}
			p := parseXML(t, call.Body)
			tt.want["appid"], tt.want["mch_id"], tt.want["sign_type"] = vecAppID, vecMchID, SignMD5
			got := p.Map()
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if len(p) != len(tt.want)+2 {
				t.Errorf("parameters %v", got)
			}
			if p.Get("sign") != refSign(p, vecAPIKey, SignMD5) {
				t.Error("sign does not verify")
			}
		})
	}
}

func preparePay(t *testing.T, c *Client) *transform.Call {
	t.Helper()
	call, err := c.Prepare(context.Background(), "pay", []byte(payJSON))
	if err != nil {
		t.Fatal(err)
	}
	return call
}

// README "Merchant API" pay response: every value a string, paySign over appId
// (sub_app_id in service-provider mode), nonceStr, package, signType,
// timeStamp with the merchant's sign type — never the unifiedorder sign.
func TestDecodePaySuccess(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		answer   []byte
		signType string
		appID    string
	}{
		{"MD5", testConfig(""), payAnswer(payAnswerMD5Sign), SignMD5, vecAppID},
		{"HMAC-SHA256", testConfig(SignHMACSHA256), payAnswer(payAnswerHMACSign), SignHMACSHA256, vecAppID},
		{"lowercase sign", testConfig(""), payAnswer(strings.ToLower(payAnswerMD5Sign)), SignMD5, vecAppID},
		{"service provider", spConfig(), signedXML(transform.Params{
			{Name: "return_code", Value: "SUCCESS"}, {Name: "return_msg", Value: "OK"}, {Name: "appid", Value: spAppID},
			{Name: "mch_id", Value: spMchID}, {Name: "sub_appid", Value: spSubAppID}, {Name: "sub_mch_id", Value: spSubMchID},
			{Name: "nonce_str", Value: "IITRi8Iabbblz1Jc"}, {Name: "result_code", Value: "SUCCESS"},
			{Name: "prepay_id", Value: prepayID}, {Name: "trade_type", Value: "JSAPI"},
		}, vecAPIKey, SignMD5), SignMD5, spSubAppID},
		// An empty element is unsigned (WeChat signs non-empty values only) and
		// names nobody, as an empty appid or mch_id does not.
		{"service provider, empty sub_appid", spConfig(), signedXML(spAnswer("sub_appid", ""), vecAPIKey, SignMD5), SignMD5, spSubAppID},
		{"service provider, empty sub_mch_id", spConfig(), signedXML(spAnswer("sub_mch_id", ""), vecAPIKey, SignMD5), SignMD5, spSubAppID},
		// README Merchant API asks an answer to be signed, not to name the merchant: one
		// that leaves appid and mch_id out (an implementation of WeChat's API
		// other than WeChat's own) is read; one naming another is refused
		// (TestDecodePayErrors).
		{"without appid and mch_id", testConfig(""), signedXML(transform.Params{
			{Name: "return_code", Value: "SUCCESS"}, {Name: "return_msg", Value: "OK"}, {Name: "nonce_str", Value: "IITRi8Iabbblz1Jc"},
			{Name: "result_code", Value: "SUCCESS"}, {Name: "prepay_id", Value: prepayID}, {Name: "trade_type", Value: "JSAPI"},
		}, vecAPIKey, SignMD5), SignMD5, vecAppID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := preparePay(t, newClient(t, tt.cfg))
			out, err := call.Decode(http.StatusOK, http.Header{"Content-Type": {"text/plain"}}, tt.answer)
			if err != nil {
				t.Fatalf("Decode = %v", err)
			}
			var got map[string]string // fails unless every value is a string
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%s: %v", out, err)
			}
			if got["timeStamp"] != "1795312800" || got["package"] != "prepay_id="+prepayID || got["signType"] != tt.signType ||
				got["provider"] != "wechat_v2" || got["order_id"] != "O1" || len(got["nonceStr"]) != 32 {
				t.Fatalf("pay response %s", out)
			}
			if len(got) != 7 {
				t.Errorf("pay response has %d fields: %s", len(got), out)
			}
			want := refSign(transform.Params{
				{Name: "appId", Value: tt.appID}, {Name: "nonceStr", Value: got["nonceStr"]},
				{Name: "package", Value: got["package"]}, {Name: "signType", Value: tt.signType},
				{Name: "timeStamp", Value: got["timeStamp"]},
			}, vecAPIKey, tt.signType)
			if got["paySign"] != want {
				t.Fatalf("paySign = %s, want %s", got["paySign"], want)
			}
			if got["paySign"] != wxpay.PaySign(tt.appID, got["nonceStr"], got["package"], got["signType"], got["timeStamp"], vecAPIKey) {
				t.Fatal("paySign differs from PaySign")
			}
			if got["paySign"] == parseXML(t, tt.answer).Get("sign") {
				t.Fatal("paySign reuses the unifiedorder sign")
			}
		})
	}
}

// spAnswer is a service-provider pay answer with one field set to value.
func spAnswer(name, value string) transform.Params {
	p := transform.Params{
		{Name: "return_code", Value: "SUCCESS"}, {Name: "return_msg", Value: "OK"}, {Name: "appid", Value: spAppID},
		{Name: "mch_id", Value: spMchID}, {Name: "sub_appid", Value: spSubAppID}, {Name: "sub_mch_id", Value: spSubMchID},
		{Name: "nonce_str", Value: "IITRi8Iabbblz1Jc"}, {Name: "result_code", Value: "SUCCESS"},
		{Name: "prepay_id", Value: prepayID}, {Name: "trade_type", Value: "JSAPI"},
	}
	for i := range p {
		if p[i].Name == name {
			p[i].Value = value
		}
	}
	return p
}

func TestDecodePayErrors(t *testing.T) {
	goodFields := func() transform.Params {
		return transform.Params{
			{Name: "return_code", Value: "SUCCESS"}, {Name: "return_msg", Value: "OK"}, {Name: "appid", Value: vecAppID},
			{Name: "mch_id", Value: vecMchID}, {Name: "nonce_str", Value: "IITRi8Iabbblz1Jc"}, {Name: "result_code", Value: "SUCCESS"},
			{Name: "prepay_id", Value: prepayID}, {Name: "trade_type", Value: "JSAPI"},
		}
	}
	with := func(name, value string) transform.Params {
		p := goodFields()
		for i := range p {
			if p[i].Name == name {
				p[i].Value = value
				return p
			}
		}
		return append(p, transform.Param{Name: name, Value: value})
	}
	tests := []struct {
		name                  string
		cfg                   Config
		status                int
		body                  []byte
		wantStatus            int
		code, pcode, pmessage string
	}{
		{"communication failure", testConfig(""), 200,
			[]byte(`<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[签名错误]]></return_msg></xml>`),
			502, transform.CodeUpstreamError, "FAIL", "签名错误"},
		{"no return_code", testConfig(""), 200, []byte(`<xml><return_msg>x</return_msg></xml>`), 502, transform.CodeUpstreamError, "", "x"},
		{"bad sign", testConfig(""), 200, payAnswer("12AEAC49895C58E07922F68A21BF6D84"), 502, transform.CodeSignatureInvalid, "", ""},
		{"non-hex sign", testConfig(""), 200, payAnswer("12AEAC49895C58E07922F68A21BF6DZZ"), 502, transform.CodeSignatureInvalid, "", ""},
		{"missing sign", testConfig(""), 200, []byte(strings.Replace(string(payAnswer("")), "<sign><![CDATA[]]></sign>", "", 1)), 502, transform.CodeSignatureInvalid, "", ""},
		{"empty sign", testConfig(""), 200, payAnswer(""), 502, transform.CodeSignatureInvalid, "", ""},
		{"MD5 answer to an HMAC merchant", testConfig(SignHMACSHA256), 200, payAnswer(payAnswerMD5Sign), 502, transform.CodeSignatureInvalid, "", ""},
		{"signed with another key", testConfig(""), 200, signedXML(goodFields(), otherKey, SignMD5), 502, transform.CodeSignatureInvalid, "", ""},
		{"tampered prepay_id", testConfig(""), 200, []byte(strings.Replace(string(payAnswer(payAnswerMD5Sign)), prepayID, "wx_attacker", 1)), 502, transform.CodeSignatureInvalid, "", ""},
		{"order paid", testConfig(""), 200, signedXML(append(with("result_code", "FAIL"),
			transform.Param{Name: "err_code", Value: "ORDERPAID"}, transform.Param{Name: "err_code_des", Value: "该订单已支付"}), vecAPIKey, SignMD5),
			422, transform.CodeProviderRejected, "ORDERPAID", "该订单已支付"},
		{"unsigned business failure", testConfig(""), 200, []byte(`<xml><return_code>SUCCESS</return_code><result_code>FAIL</result_code><err_code>ORDERPAID</err_code></xml>`),
			502, transform.CodeSignatureInvalid, "", ""},
		{"HTTP 500", testConfig(""), 500, payAnswer(payAnswerMD5Sign), 502, transform.CodeUpstreamError, "", ""},
		{"HTTP 302", testConfig(""), 302, nil, 502, transform.CodeUpstreamError, "", ""},
		{"HTTP 404 HTML", testConfig(""), 404, []byte("<html>not found</html>"), 502, transform.CodeUpstreamError, "", ""},
		{"garbage", testConfig(""), 200, []byte("\x00\x01garbage"), 502, transform.CodeUpstreamError, "", ""},
		{"empty body", testConfig(""), 200, nil, 502, transform.CodeUpstreamError, "", ""},
		{"JSON body", testConfig(""), 200, []byte(`{"return_code":"SUCCESS"}`), 502, transform.CodeUpstreamError, "", ""},
		{"foreign appid", testConfig(""), 200, signedXML(with("appid", "wx0000000000000000"), vecAPIKey, SignMD5), 502, transform.CodeUpstreamError, "", ""},
		{"foreign mch_id", testConfig(""), 200, signedXML(with("mch_id", "10000101"), vecAPIKey, SignMD5), 502, transform.CodeUpstreamError, "", ""},
		// Service-provider mode: the provider's key signs for every sub-merchant,
		// so an answer naming another sub_mch_id or sub_appid is not ours.
		{"foreign sub_mch_id", spConfig(), 200, signedXML(spAnswer("sub_mch_id", "1900000999"), vecAPIKey, SignMD5), 502, transform.CodeUpstreamError, "", ""},
		{"foreign sub_appid", spConfig(), 200, signedXML(spAnswer("sub_appid", "wx0000000000000000"), vecAPIKey, SignMD5), 502, transform.CodeUpstreamError, "", ""},
		{"empty duplicate before a signed field", testConfig(""), 200, []byte(strings.Replace(string(payAnswer(payAnswerMD5Sign)), "<xml>", "<xml><result_code/>", 1)), 502, transform.CodeUpstreamError, "", ""},
		{"no prepay_id", testConfig(""), 200, signedXML(with("prepay_id", ""), vecAPIKey, SignMD5), 502, transform.CodeUpstreamError, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := preparePay(t, newClient(t, tt.cfg))
			out, err := call.Decode(tt.status, nil, tt.body)
			if out != nil {
				t.Fatalf("Decode returned %s", out)
			}
			e := wantError(t, err, tt.wantStatus, tt.code)
			if e.ProviderCode != tt.pcode || e.ProviderMessage != tt.pmessage {
				t.Fatalf("provider_code %q provider_message %q, want %q %q", e.ProviderCode, e.ProviderMessage, tt.pcode, tt.pmessage)
			}
		})
	}
}

// docs/providers/wechat_v2.md "orderquery trade_state → status", time_end in UTC+8.
func TestDecodeQuery(t *testing.T) {
	tests := []struct {
		state, status string
		paid          bool
	}{
		{"SUCCESS", transform.StatusSucceeded, true},
		{"REFUND", transform.StatusRefunded, true},
		{"NOTPAY", transform.StatusPending, false},
		{"USERPAYING", transform.StatusPending, false},
		{"CLOSED", transform.StatusCancelled, false},
		{"REVOKED", transform.StatusCancelled, false},
		{"PAYERROR", transform.StatusFailed, false},
	}
	c := newClient(t, testConfig(""))
	for _, tt := range tests {
		t.Run(tt.state, func(t *testing.T) {
			call, err := c.Prepare(context.Background(), "query", []byte(`{"order_id":"O1"}`))
			if err != nil {
				t.Fatal(err)
			}
			p := transform.Params{
				{Name: "return_code", Value: "SUCCESS"}, {Name: "return_msg", Value: "OK"}, {Name: "appid", Value: vecAppID},
				{Name: "mch_id", Value: vecMchID}, {Name: "nonce_str", Value: "n1"}, {Name: "result_code", Value: "SUCCESS"},
				{Name: "out_trade_no", Value: "O1"}, {Name: "trade_state", Value: tt.state}, {Name: "trade_state_desc", Value: "desc"},
				{Name: "total_fee", Value: "1234"}, {Name: "fee_type", Value: "CNY"}, {Name: "transaction_id", Value: "4200000123"},
			}
			// time_end in every state: an answer that carries one for an order
			// that failed or was closed still gives no paid_at (wechat_v3 alike),
			// and its total_fee and fee_type no amount (README, the status object).
			p = append(p, transform.Param{Name: "time_end", Value: "20261122100000"})
			out, err := call.Decode(200, nil, signedXML(p, vecAPIKey, SignMD5))
			if err != nil {
				t.Fatalf("Decode = %v", err)
			}
			want := `{"provider":"wechat_v2","order_id":"O1","provider_order_id":"4200000123","status":"` + tt.status
			if tt.paid {
				want += `","amount":"12.34","currency":"CNY","paid_at":"2026-11-22T10:00:00+08:00",`
			} else {
				want += `","amount":"","currency":"",`
			}
			want += `"provider_status":"` + tt.state + `"}`
			if string(out) != want {
				t.Fatalf("status object\n got %s\nwant %s", out, want)
			}
		})
	}
}

func TestDecodeQueryEdgeCases(t *testing.T) {
	c := newClient(t, testConfig(""))
	base := func(extra ...transform.Param) []byte {
		p := transform.Params{
			{Name: "return_code", Value: "SUCCESS"}, {Name: "appid", Value: vecAppID}, {Name: "mch_id", Value: vecMchID},
			{Name: "nonce_str", Value: "n1"}, {Name: "result_code", Value: "SUCCESS"}, {Name: "out_trade_no", Value: "O1"},
		}
		return signedXML(append(p, extra...), vecAPIKey, SignMD5)
	}
	call, _ := c.Prepare(context.Background(), "query", []byte(`{"order_id":"O1"}`))

	// fee_type absent from a paid order's answer: CNY, WeChat's default
	// (an unpaid one's: TestDocumentedStates)
	out, err := call.Decode(200, nil, base(transform.Param{Name: "trade_state", Value: "SUCCESS"}, transform.Param{Name: "total_fee", Value: "5"}))
	if err != nil || !strings.Contains(string(out), `"amount":"0.05","currency":"CNY"`) {
		t.Fatalf("default fee_type: %s %v", out, err)
	}
	// WeChat's orderquery sends total_fee and transaction_id only for SUCCESS: an unpaid
	// order's status object keeps every member, empty where WeChat says nothing (README)
	out, err = call.Decode(200, nil, base(transform.Param{Name: "trade_state", Value: "NOTPAY"}))
	if want := `{"provider":"wechat_v2","order_id":"O1","provider_order_id":"","status":"pending","amount":"","currency":"","provider_status":"NOTPAY"}`; err != nil || string(out) != want {
		t.Fatalf("unpaid order without total_fee:\n got %s %v\nwant %s", out, err, want)
	}
	// an unknown trade_state is not guessed
	_, err = call.Decode(200, nil, base(transform.Param{Name: "trade_state", Value: "WEIRD"}, transform.Param{Name: "trade_state_desc", Value: "?"}))
	if e := wantError(t, err, 502, transform.CodeUpstreamError); e.ProviderCode != "WEIRD" || e.ProviderMessage != "?" {
		t.Fatalf("unknown trade_state: %+v", e)
	}
	// an answer about another order (or none) is not rewritten into ours
	other := func(no string) []byte {
		return signedXML(transform.Params{
			{Name: "return_code", Value: "SUCCESS"}, {Name: "appid", Value: vecAppID}, {Name: "mch_id", Value: vecMchID},
			{Name: "nonce_str", Value: "n1"}, {Name: "result_code", Value: "SUCCESS"}, {Name: "out_trade_no", Value: no},
			{Name: "trade_state", Value: "SUCCESS"}, {Name: "total_fee", Value: "5"},
		}, vecAPIKey, SignMD5)
	}
	for _, no := range []string{"O2", ""} {
		out, err := call.Decode(200, nil, other(no))
		if e := wantError(t, err, 502, transform.CodeUpstreamError); out != nil || !strings.Contains(e.Message, "out_trade_no") {
			t.Fatalf("answer for out_trade_no %q: %s %+v", no, out, e)
		}
	}
	// a signed total_fee past WeChat's Int, which a pay refuses to send, is
	// read as signed (README Merchant API, Money)
	out, err = call.Decode(200, nil, base(transform.Param{Name: "trade_state", Value: "SUCCESS"}, transform.Param{Name: "total_fee", Value: "2147483648"}))
	if err != nil || !strings.Contains(string(out), `"amount":"21474836.48","currency":"CNY"`) {
		t.Fatalf("total_fee past Int: %s %v", out, err)
	}
	// an invalid total_fee is not guessed
	_, err = call.Decode(200, nil, base(transform.Param{Name: "trade_state", Value: "SUCCESS"}, transform.Param{Name: "total_fee", Value: "12.34"}))
	wantError(t, err, 502, transform.CodeUpstreamError)
	// order not found is the provider's refusal
	_, err = call.Decode(200, nil, signedXML(transform.Params{
		{Name: "return_code", Value: "SUCCESS"}, {Name: "appid", Value: vecAppID}, {Name: "mch_id", Value: vecMchID},
		{Name: "result_code", Value: "FAIL"}, {Name: "err_code", Value: "ORDERNOTEXIST"}, {Name: "err_code_des", Value: "订单不存在"},
	}, vecAPIKey, SignMD5))
	if e := wantError(t, err, 422, transform.CodeProviderRejected); e.ProviderCode != "ORDERNOTEXIST" {
		t.Fatalf("ORDERNOTEXIST: %+v", e)
	}
}

func TestDecodeCloseAndRefund(t *testing.T) {
	c := newClient(t, testConfig(""))
	ok := func(extra ...transform.Param) []byte {
		return signedXML(append(transform.Params{
			{Name: "return_code", Value: "SUCCESS"}, {Name: "appid", Value: vecAppID}, {Name: "mch_id", Value: vecMchID},
			{Name: "nonce_str", Value: "n1"}, {Name: "result_code", Value: "SUCCESS"},
		}, extra...), vecAPIKey, SignMD5)
	}
	tests := []struct {
		op, body string
		answer   []byte
		want     string
	}{
		{"close", `{"order_id":"O1"}`, ok(), `{"provider":"wechat_v2","order_id":"O1","status":"cancelled"}`},
		{"refund", `{"order_id":"O1","refund_id":"R1","amount":"5.00","currency":"CNY","total_amount":"12.34"}`,
			ok(transform.Param{Name: "refund_id", Value: "50000123"}, transform.Param{Name: "out_trade_no", Value: "O1"}, transform.Param{Name: "out_refund_no", Value: "R1"}),
			`{"provider":"wechat_v2","order_id":"O1","refund_id":"R1","provider_refund_id":"50000123","status":"pending","amount":"5.00","currency":"CNY"}`},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			call, err := c.Prepare(context.Background(), tt.op, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			out, err := call.Decode(200, nil, tt.answer)
			if err != nil || string(out) != tt.want {
				t.Fatalf("Decode = %s, %v\nwant %s", out, err, tt.want)
			}
			_, err = call.Decode(200, nil, []byte(strings.Replace(string(tt.answer), "<sign><![CDATA[", "<sign><![CDATA[0", 1)))
			wantError(t, err, 502, transform.CodeSignatureInvalid)
		})
	}
	// A refund answer for another order or another refund is refused.
	call, err := c.Prepare(context.Background(), "refund", []byte(`{"order_id":"O1","refund_id":"R1","amount":"5.00","currency":"CNY","total_amount":"12.34"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range [][]byte{
		ok(transform.Param{Name: "out_trade_no", Value: "O2"}, transform.Param{Name: "out_refund_no", Value: "R1"}),
		ok(transform.Param{Name: "out_trade_no", Value: "O1"}, transform.Param{Name: "out_refund_no", Value: "R2"}),
		ok(transform.Param{Name: "out_refund_no", Value: "R1"}),
	} {
		out, err := call.Decode(200, nil, a)
		if wantError(t, err, 502, transform.CodeUpstreamError); out != nil {
			t.Fatalf("answer for another refund: %s", out)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	good := testConfig("")
	if err := good.Check(); err != nil || good.SignType != SignMD5 {
		t.Fatalf("Check = %v, sign_type %q; want MD5 by default", err, good.SignType)
	}
	sp := spConfig()
	if err := sp.Check(); err != nil {
		t.Fatalf("service-provider config: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"short key", func(c *Config) { c.APIKey = vecAPIKey[:31] }},
		{"AppSecret-length key", func(c *Config) { c.APIKey = vecAPIKey + "x" }},
		{"unknown sign type", func(c *Config) { c.SignType = "SHA1" }},
		{"lowercase sign type", func(c *Config) { c.SignType = "md5" }},
		{"sub_app_id without sub_mch_id", func(c *Config) { c.SubAppID = spSubAppID }},
		{"notify_url with a query", func(c *Config) { c.NotifyURL = "https://merchant.example/n?x=1" }},
		{"relative notify_url", func(c *Config) { c.NotifyURL = "/wechat/notify" }},
		{"client_ip not an address", func(c *Config) { c.ClientIP = "localhost" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig("")
			tt.mutate(&c)
			err := transform.CheckConfig(&c, transform.RoleClient) // each value's rule, then Check
			if err == nil {
				t.Fatal("the load accepted the configuration")
			}
			if strings.Contains(err.Error(), vecAPIKey[:31]) {
				t.Fatal("the error shows the key")
			}
			if _, err := NewClient(c); err == nil {
				t.Fatal("NewClient accepted it")
			}
			if _, err := NewWebhook(c); err == nil {
				t.Fatal("NewWebhook accepted it")
			}
			if _, err := NewSandbox(c); err == nil {
				t.Fatal("NewSandbox accepted it")
			}
		})
	}
	var cfg Config
	if cfg.ProviderName() != "wechat_v2" {
		t.Fatal("ProviderName")
	}
	required := map[string]bool{}
	for _, f := range cfg.ConfigFields() {
		if f.Value == nil {
			t.Fatalf("field %s has no value pointer", f.Name)
		}
		required[f.Name] = f.RequiredFor(transform.RoleWebhook)
	}
	if !required["app_id"] || !required["mch_id"] || !required["api_key"] || required["notify_url"] || len(required) != 8 {
		t.Fatalf("config fields %v", required)
	}
}

// Both forms of the wx.requestPayment object, the exported PaymentParams and
// the pay answer the handler sends (appendPayment), carry Unix seconds and a
// nonce of their own.
func TestTimeStampIsUnixSeconds(t *testing.T) {
	c := newClient(t, testConfig(""))
	tests := []struct {
		name    string
		payment func(t *testing.T) *transform.PaymentParams
	}{
		{"PaymentParams", func(*testing.T) *transform.PaymentParams { return c.PaymentParams("O1", "wx1") }},
		{"pay answer", func(t *testing.T) *transform.PaymentParams {
			var pp transform.PaymentParams
			if out := c.appendPayment(nil, "O1", "wx1"); json.Unmarshal(out, &pp) != nil {
				t.Fatalf("not JSON: %s", out)
			}
			return &pp
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pp := tt.payment(t)
			if pp.TimeStamp != strconv.FormatInt(transformtest.Pinned.Unix(), 10) || pp.Package != "prepay_id=wx1" {
				t.Fatalf("%+v", pp)
			}
			if pp2 := tt.payment(t); pp2.NonceStr == pp.NonceStr {
				t.Fatal("nonceStr repeats")
			}
		})
	}
}

// The pay answer is written by hand (appendPayment): it must be exactly what
// transform.Marshal writes for the PaymentParams it carries, with the pinned
// time stamp, a fresh [A-Za-z0-9]{32} nonce and a paySign that the
// independent reference signer computes, for every sign type and for the
// sub-merchant's appId; values that JSON escapes included.
func TestPayAnswerIsMarshalOfItsPaymentParams(t *testing.T) {
	sp := spConfig()
	tests := []struct {
		name              string
		cfg               Config
		appID             string
		orderID, prepayID string
	}{
		{"MD5", testConfig(SignMD5), vecAppID, "O1", "wx201411101639507cbf6ffd8b0779950874"},
		{"HMAC-SHA256", testConfig(SignHMACSHA256), vecAppID, "O1", "wx201411101639507cbf6ffd8b0779950874"},
		{"default sign type", testConfig(""), vecAppID, "O1", "wx1"},
		{"sub-merchant", sp, spSubAppID, "O1", "wx1"},
		{"escaped values", testConfig(SignMD5), vecAppID, "O\"1\\", "wx<1>&\"\\\n\u2028\xff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.cfg)
			out := c.appendPayment(nil, tt.orderID, tt.prepayID)
			if cap(out) == len(out) {
				t.Errorf("no room for the handler's newline: len %d, cap %d", len(out), cap(out))
			}
			var pp transform.PaymentParams
			if err := json.Unmarshal(out, &pp); err != nil {
				t.Fatalf("%s: %v", out, err)
			}
			signType := c.cfg.SignType
			marshaled := transform.Marshal(&transform.PaymentParams{TimeStamp: pp.TimeStamp, NonceStr: pp.NonceStr,
				Package: "prepay_id=" + tt.prepayID, SignType: signType, PaySign: pp.PaySign, Provider: Name, OrderID: tt.orderID})
			if string(marshaled) != string(out) {
				t.Fatalf("appendPayment\n%s\nMarshal of its PaymentParams\n%s", out, marshaled)
			}
			if pp.TimeStamp != strconv.FormatInt(transformtest.Pinned.Unix(), 10) || pp.Package != strings.ToValidUTF8("prepay_id="+tt.prepayID, "\uFFFD") ||
				pp.SignType != signType || pp.Provider != Name || pp.OrderID != tt.orderID || len(pp.NonceStr) != 32 ||
				strings.Trim(pp.NonceStr, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != "" {
				t.Fatalf("PaymentParams %+v", pp)
			}
			want := refSign(transform.Params{{Name: "appId", Value: tt.appID}, {Name: "nonceStr", Value: pp.NonceStr},
				{Name: "package", Value: "prepay_id=" + tt.prepayID}, {Name: "signType", Value: signType},
				{Name: "timeStamp", Value: pp.TimeStamp}}, vecAPIKey, signType)
			if pp.PaySign != want {
				t.Fatalf("paySign %s, reference %s", pp.PaySign, want)
			}
		})
	}
}

// refund_query: POST /pay/refundquery by out_refund_no; the answer lists the
// refund as out_refund_no_0, refund_id_0, refund_fee_0, refund_status_0
// (the shape of WeChat's example answer, 查询退款, chapter 9_5).
func TestRefundQuery(t *testing.T) {
	c := newClient(t, testConfig(""))
	call, err := c.Prepare(context.Background(), "refund_query", []byte(`{"refund_id":"1415701182","order_id":"1415757673"}`))
	if err != nil {
		t.Fatal(err)
	}
	if call.Method != http.MethodPost || call.Path != "/pay/refundquery" {
		t.Fatalf("%s %s", call.Method, call.Path)
	}
	sent := parseXML(t, call.Body)
	if sent.Get("out_refund_no") != "1415701182" || sent.Get("appid") != vecAppID || sent.Get("mch_id") != vecMchID ||
		sent.Get("sign") != refSign(sent, vecAPIKey, SignMD5) {
		t.Fatalf("request %s", call.Body)
	}
	answer := func(status string, extra ...transform.Param) []byte {
		return signedXML(append(transform.Params{
			{Name: "appid", Value: vecAppID}, {Name: "mch_id", Value: vecMchID}, {Name: "nonce_str", Value: "TeqClE3i0mvn3DrK"},
			{Name: "out_refund_no_0", Value: "1415701182"}, {Name: "out_trade_no", Value: "1415757673"},
			{Name: "refund_count", Value: "1"}, {Name: "refund_fee_0", Value: "1"},
			{Name: "refund_id_0", Value: "2008450740201411110000174436"}, {Name: "refund_status_0", Value: status},
			{Name: "result_code", Value: "SUCCESS"}, {Name: "return_code", Value: "SUCCESS"}, {Name: "return_msg", Value: "OK"},
			{Name: "transaction_id", Value: "1008450740201411110005820873"},
		}, extra...), vecAPIKey, SignMD5)
	}
	for _, tt := range []struct{ wechat, status string }{
		{"PROCESSING", transform.StatusPending}, {"SUCCESS", transform.StatusSucceeded},
		{"REFUNDCLOSE", transform.StatusFailed}, {"CHANGE", transform.StatusFailed},
	} {
		out, err := call.Decode(200, nil, answer(tt.wechat))
		want := `{"provider":"wechat_v2","order_id":"1415757673","refund_id":"1415701182","provider_refund_id":"2008450740201411110000174436","status":"` +
			tt.status + `","amount":"0.01","currency":"CNY","provider_status":"` + tt.wechat + `"}`
		if err != nil || string(out) != want {
			t.Fatalf("%s: %s, %v\nwant %s", tt.wechat, out, err, want)
		}
	}
	// fee_type names the currency
	out, err := call.Decode(200, nil, answer("SUCCESS", transform.Param{Name: "fee_type", Value: "HKD"}))
	if err != nil || !strings.Contains(string(out), `"amount":"0.01","currency":"HKD"`) {
		t.Fatalf("fee_type HKD: %s, %v", out, err)
	}
	// The refund asked about is found among several.
	several := signedXML(transform.Params{
		{Name: "appid", Value: vecAppID}, {Name: "mch_id", Value: vecMchID}, {Name: "nonce_str", Value: "n"},
		{Name: "out_trade_no", Value: "1415757673"}, {Name: "refund_count", Value: "2"},
		{Name: "out_refund_no_0", Value: "OTHER"}, {Name: "refund_id_0", Value: "1"}, {Name: "refund_fee_0", Value: "5"}, {Name: "refund_status_0", Value: "SUCCESS"},
		{Name: "out_refund_no_1", Value: "1415701182"}, {Name: "refund_id_1", Value: "2"}, {Name: "refund_fee_1", Value: "250"}, {Name: "refund_status_1", Value: "PROCESSING"},
		{Name: "result_code", Value: "SUCCESS"}, {Name: "return_code", Value: "SUCCESS"},
	}, vecAPIKey, SignMD5)
	if out, err := call.Decode(200, nil, several); err != nil || !strings.Contains(string(out), `"provider_refund_id":"2","status":"pending","amount":"2.50"`) {
		t.Fatalf("several refunds: %s, %v", out, err)
	}
	// WeChat's refusal is the provider's.
	_, err = call.Decode(200, nil, signedXML(transform.Params{
		{Name: "return_code", Value: "SUCCESS"}, {Name: "appid", Value: vecAppID}, {Name: "mch_id", Value: vecMchID},
		{Name: "nonce_str", Value: "n"}, {Name: "result_code", Value: "FAIL"}, {Name: "err_code", Value: "REFUNDNOTEXIST"},
		{Name: "err_code_des", Value: "退款订单查询失败"},
	}, vecAPIKey, SignMD5))
	if e := wantError(t, err, 422, transform.CodeProviderRejected); e.ProviderCode != "REFUNDNOTEXIST" {
		t.Fatalf("REFUNDNOTEXIST: %+v", e)
	}
	// The refund asked about, of another order than the merchant's
	// order_id: WeChat answered what it was asked (by out_refund_no alone),
	// so the merchant's order_id is at fault, a 400 naming it (README
	// "Errors").
	// resigned is the SUCCESS answer with fields set ("" drops one), signed again.
	resigned := func(fields ...string) []byte {
		p := slices.DeleteFunc(parseXML(t, answer("SUCCESS")), func(p transform.Param) bool { return p.Name == "sign" })
		for i := 0; i < len(fields); i += 2 {
			if p = set(p, fields[i], fields[i+1]); fields[i+1] == "" {
				p = slices.DeleteFunc(p, func(p transform.Param) bool { return p.Name == fields[i] })
			}
		}
		return signedXML(p, vecAPIKey, SignMD5)
	}
	_, err = call.Decode(200, nil, resigned("out_trade_no", "1415757674"))
	if e := wantError(t, err, 400, transform.CodeInvalidRequest); e.Field != "order_id" {
		t.Fatalf("another order's refund: %+v", e)
	}
	// No such refund in the list (also of another order), an answer naming
	// no order, an unreadable amount: 502 upstream_error; a bad signature:
	// 502 upstream_signature_invalid.
	for name, tt := range map[string]struct {
		answer []byte
		code   string
	}{
		"another refund":                  {resigned("out_refund_no_0", "R9"), transform.CodeUpstreamError},
		"another refund of another order": {resigned("out_refund_no_0", "R9", "out_trade_no", "1415757674"), transform.CodeUpstreamError},
		"no out_trade_no":                 {resigned("out_trade_no", ""), transform.CodeUpstreamError},
		"no amount":                       {resigned("refund_fee_0", "1.5"), transform.CodeUpstreamError},
		"bad signature":                   {[]byte(strings.Replace(string(answer("SUCCESS")), "1415757673", "1415757674", 1)), transform.CodeSignatureInvalid},
	} {
		out, err := call.Decode(200, nil, tt.answer)
		if e := wantError(t, err, 502, tt.code); out != nil || strings.Contains(e.Message, "XML") {
			t.Fatalf("%s: %s, %+v", name, out, e)
		}
	}
	_, err = call.Decode(200, nil, answer("NEWSTATE"))
	if e := wantError(t, err, 502, transform.CodeUpstreamError); e.ProviderCode != "NEWSTATE" {
		t.Fatalf("undocumented status: %+v", e)
	}
	// Without order_id, any order's refund of that id is the answer.
	call, err = c.Prepare(context.Background(), "refund_query", []byte(`{"refund_id":"1415701182"}`))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := call.Decode(200, nil, answer("SUCCESS")); err != nil || !strings.Contains(string(out), `"order_id":"1415757673"`) {
		t.Fatalf("without order_id: %s, %v", out, err)
	}
}

// TestReadAnswerBoundedWork: an answer is read up to MaxAnswerFields fields
// before its signature is checked: a signed one of that many is read, one
// more is a 502, and so is a megabyte of one-byte elements (a broken or
// hostile upstream's), at about its own size.
func TestReadAnswerBoundedWork(t *testing.T) {
	c := newClient(t, testConfig(""))
	answer := func(fields int) []byte {
		p := transform.Params{{Name: "return_code", Value: "SUCCESS"}, {Name: "result_code", Value: "SUCCESS"},
			{Name: "appid", Value: vecAppID}, {Name: "mch_id", Value: vecMchID}}
		for n := 0; len(p) < fields-1; n++ { // and sign
			p = append(p, transform.Param{Name: "f" + strconv.Itoa(n), Value: "1"})
		}
		return signedXML(p, vecAPIKey, SignMD5)
	}
	if a, err := c.ReadAnswer(200, answer(MaxAnswerFields)); err != nil || len(a) != MaxAnswerFields {
		t.Fatalf("%d fields: %d read, %v", MaxAnswerFields, len(a), err)
	}
	many := transformtest.FlatElements("xml", "<return_code>SUCCESS</return_code>", "<sign>00</sign>", transform.MaxAnswer)
	for name, body := range map[string][]byte{"one field more": answer(MaxAnswerFields + 1), "a megabyte of elements": many} {
		var a transform.Params
		var err error
		alloc := transformtest.Allocated(func() { a, err = c.ReadAnswer(200, body) })
		wantError(t, err, 502, transform.CodeUpstreamError)
		if a != nil || len(body) > transform.MaxAnswer {
			t.Fatalf("%s (%d bytes): read %d fields", name, len(body), len(a))
		}
		if len(body) > transform.MaxAnswer/2 && alloc > 4*uint64(len(body)) {
			t.Fatalf("%s: %d bytes allocated for an answer of %d", name, alloc, len(body))
		}
	}
}
