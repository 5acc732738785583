package wechatv3

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// platformSigner signs answers as WeChat would, with the example platform key.
func platformAnswer(t testing.TB, serial string, at time.Time, body string) http.Header {
	t.Helper()
	key := must(ParsePrivateKey(exampleKey(t, "wechatpay_platform_key.pem")))
	ts, nonce := strconv.FormatInt(at.Unix(), 10), "n0nce"
	sig := must(SignMessage(key, AppendAnswerMessage(nil, ts, nonce, []byte(body))))
	return http.Header{HeaderSerial: {serial}, HeaderTimestamp: {ts}, HeaderNonce: {nonce}, HeaderSignature: {sig}}
}

func pinnedClient(t *testing.T, edit func(*Config)) *Client {
	cfg := merchantConfig(t)
	if edit != nil {
		edit(&cfg)
	}
	c := must(NewClient(cfg))
	c.Now = transformtest.Clock
	return c
}

func prepare(t *testing.T, c *Client, op, body string) *transform.Call {
	t.Helper()
	call, err := c.Prepare(context.Background(), op, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return call
}

// The requests, to the byte: paths, queries, bodies, and an Authorization
// that verifies over METHOD\nPATH?QUERY\nTS\nNONCE\nBODY\n with the
// merchant's public key.
func TestClientRequests(t *testing.T) {
	partner := func(c *Config) { c.SubMchID, c.SubAppID = "1900000110", "wx9999999999999999" }
	cases := []struct {
		name, op, body   string
		edit             func(*Config)
		method, path, rq string
		wantBody         string
	}{
		{"pay", "pay", `{"order_id":"O|1*","amount":"12.34","currency":"CNY","description":"咖啡 \"大\"","openid":"o1","client_ip":"10.0.0.1","expire_at":"2026-11-29T02:34:56Z","attach":"<a&b>"}`, nil,
			"POST", "/v3/pay/transactions/jsapi", "",
			`{"appid":"wx8888888888888888","mchid":"1900000109","description":"咖啡 \"大\"","out_trade_no":"O|1*","time_expire":"2026-11-29T10:34:56+08:00","attach":"<a&b>","notify_url":"https://merchant.example/webhooks/wechat_v3","amount":{"total":1234,"currency":"CNY"},"payer":{"openid":"o1"},"scene_info":{"payer_client_ip":"10.0.0.1"}}`},
		{"pay without client_ip has no scene_info", "pay", `{"order_id":"ORDER1","amount":"0.01","currency":"CNY","description":"d","openid":"o1","notify_url":"https://m.example/n"}`, nil,
			"POST", "/v3/pay/transactions/jsapi", "",
			`{"appid":"wx8888888888888888","mchid":"1900000109","description":"d","out_trade_no":"ORDER1","notify_url":"https://m.example/n","amount":{"total":1,"currency":"CNY"},"payer":{"openid":"o1"}}`},
		{"partner pay, sub_openid", "pay", `{"order_id":"ORDER1","amount":"1","currency":"CNY","description":"d","openid":"o1"}`, partner,
			"POST", "/v3/pay/partner/transactions/jsapi", "",
			`{"sp_appid":"wx8888888888888888","sp_mchid":"1900000109","sub_appid":"wx9999999999999999","sub_mchid":"1900000110","description":"d","out_trade_no":"ORDER1","notify_url":"https://merchant.example/webhooks/wechat_v3","amount":{"total":100,"currency":"CNY"},"payer":{"sub_openid":"o1"}}`},
		{"partner pay, sp_openid", "pay", `{"order_id":"ORDER1","amount":"1","currency":"CNY","description":"d","openid":"o1"}`, func(c *Config) { c.SubMchID = "1900000110" },
			"POST", "/v3/pay/partner/transactions/jsapi", "",
			`{"sp_appid":"wx8888888888888888","sp_mchid":"1900000109","sub_mchid":"1900000110","description":"d","out_trade_no":"ORDER1","notify_url":"https://merchant.example/webhooks/wechat_v3","amount":{"total":100,"currency":"CNY"},"payer":{"sp_openid":"o1"}}`},
		{"query", "query", `{"order_id":"O|1"}`, nil, "GET", "/v3/pay/transactions/out-trade-no/O|1", "mchid=1900000109", ""},
		{"partner query", "query", `{"order_id":"ORDER1"}`, partner, "GET", "/v3/pay/partner/transactions/out-trade-no/ORDER1", "sp_mchid=1900000109&sub_mchid=1900000110", ""},
		{"close", "close", `{"order_id":"ORDER1"}`, nil, "POST", "/v3/pay/transactions/out-trade-no/ORDER1/close", "", `{"mchid":"1900000109"}`},
		{"partner close", "close", `{"order_id":"ORDER1"}`, partner, "POST", "/v3/pay/partner/transactions/out-trade-no/ORDER1/close", "", `{"sp_mchid":"1900000109","sub_mchid":"1900000110"}`},
		{"refund", "refund", `{"order_id":"ORDER1","refund_id":"R1","amount":"2.34","currency":"CNY","total_amount":"12.34","reason":"太烫"}`, nil,
			"POST", "/v3/refund/domestic/refunds", "",
			`{"out_trade_no":"ORDER1","out_refund_no":"R1","reason":"太烫","notify_url":"https://merchant.example/webhooks/wechat_v3","amount":{"refund":234,"total":1234,"currency":"CNY"}}`},
		{"partner refund", "refund", `{"order_id":"ORDER1","refund_id":"R1","amount":"2.34","currency":"CNY","total_amount":"12.34"}`, partner,
			"POST", "/v3/refund/domestic/refunds", "",
			`{"sub_mchid":"1900000110","out_trade_no":"ORDER1","out_refund_no":"R1","notify_url":"https://merchant.example/webhooks/wechat_v3","amount":{"refund":234,"total":1234,"currency":"CNY"}}`},
		{"refund_query", "refund_query", `{"refund_id":"R1"}`, nil, "GET", "/v3/refund/domestic/refunds/R1", "", ""},
		{"partner refund_query", "refund_query", `{"refund_id":"R1"}`, partner, "GET", "/v3/refund/domestic/refunds/R1", "sub_mchid=1900000110", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := pinnedClient(t, tc.edit)
			call := prepare(t, c, tc.op, tc.body)
			if call.Method != tc.method || call.Path != tc.path || call.RawQuery != tc.rq || string(call.Body) != tc.wantBody {
				t.Fatalf("call %s %s ? %s\n%s", call.Method, call.Path, call.RawQuery, call.Body)
			}
			if (call.Body != nil) != (call.ContentType == "application/json") {
				t.Fatalf("Content-Type %q with body %q", call.ContentType, call.Body)
			}
			if !call.Idempotent { // keyed by out_trade_no / out_refund_no (docs/providers/wechat_v3.md)
				t.Fatal("the call is not marked Idempotent")
			}
			h := call.Header
			if h.Get("Accept") != "application/json" || !strings.Contains(h.Get("User-Agent"), "caddy-minipay") || h.Get(HeaderSerial) != examplePublicKeyID {
				t.Fatalf("headers %v", h)
			}
			a, ok := ParseAuthorization(h.Get("Authorization"))
			if !ok || a.MchID != "1900000109" || a.SerialNo != exampleSerial || a.Timestamp != strconv.FormatInt(transformtest.Pinned.Unix(), 10) || len(a.NonceStr) != 32 {
				t.Fatalf("Authorization %q", h.Get("Authorization"))
			}
			uri := strings.ReplaceAll(strings.ReplaceAll(tc.path, "|", "%7C"), "*", "%2A")
			if tc.rq != "" {
				uri += "?" + tc.rq
			}
			msg := AppendAuthMessage(nil, tc.method, uri, a.Timestamp, a.NonceStr, []byte(tc.wantBody))
			if !VerifyMessage(&c.keys.signer.Key.PublicKey, msg, a.Signature) {
				t.Fatalf("the Authorization signature does not cover %q", msg)
			}
		})
	}
	// Certificate mode asks for nothing: no Wechatpay-Serial.
	c := pinnedClient(t, func(c *Config) {
		c.PublicKey, c.PublicKeyID, c.PlatformCertificate = "", "", exampleKey(t, "wechatpay_platform_cert.pem")
	})
	if h := prepare(t, c, "query", `{"order_id":"ORDER1"}`).Header; h.Get(HeaderSerial) != "" {
		t.Fatalf("certificate mode sends Wechatpay-Serial %q", h.Get(HeaderSerial))
	}
}

func TestClientRequestErrors(t *testing.T) {
	c := pinnedClient(t, func(c *Config) { c.NotifyURL = "" })
	cases := []struct{ op, body, field string }{
		{"pay", `{"order_id":"ORDER1","amount":"1","currency":"USD","description":"d","openid":"o","notify_url":"https://m.example/n"}`, "currency"},
		{"pay", `{"order_id":"ORDER1","amount":"1","currency":"CNY","description":"d","openid":"o"}`, "notify_url"},
		{"pay", `{"order_id":"ORDER1","amount":"1","currency":"CNY","description":"d","openid":"o","notify_url":"https://m.example/n?x=1"}`, "notify_url"},
		{"refund", `{"order_id":"ORDER1","refund_id":"R1","amount":"1","currency":"CNY"}`, "total_amount"},
		{"refund", `{"order_id":"ORDER1","refund_id":"R1","amount":"1","currency":"HKD","total_amount":"2"}`, "currency"},
		{"refund_query", `{"order_id":"ORDER1"}`, "refund_id"},
		{"refund_query", `{"refund_id":"R/1"}`, "refund_id"},
		// amount.total and amount.refund are WeChat's Int: 2147483647 fen at most
		{"pay", `{"order_id":"ORDER1","amount":"21474836.48","currency":"CNY","description":"d","openid":"o","notify_url":"https://m.example/n"}`, "amount"},
		{"pay", `{"order_id":"ORDER1","amount":"9999999999.99","currency":"CNY","description":"d","openid":"o","notify_url":"https://m.example/n"}`, "amount"},
		{"refund", `{"order_id":"ORDER1","refund_id":"R1","amount":"21474836.48","currency":"CNY","total_amount":"21474836.48"}`, "amount"},
		{"refund", `{"order_id":"ORDER1","refund_id":"R1","amount":"1","currency":"CNY","total_amount":"21474836.48"}`, "total_amount"},
	}
	for _, tc := range cases {
		_, err := c.Prepare(context.Background(), tc.op, []byte(tc.body))
		if e := transformtest.WantError(t, err, 400, "invalid_request"); e.Field != tc.field {
			t.Errorf("%s %s: field %q, want %q", tc.op, tc.body, e.Field, tc.field)
		}
	}
	_, err := c.Prepare(context.Background(), "login", []byte(`{}`))
	transformtest.WantError(t, err, 404, "unknown_operation")
}

// Every answer is verified before it is read, errors included; then the
// error mapping; then the answer must be about the order asked.
func TestClientAnswers(t *testing.T) {
	now := transformtest.Pinned
	sign := func(body string) http.Header { return platformAnswer(t, examplePublicKeyID, now, body) }
	tx := func(mchid, outTradeNo, state string) string {
		return `{"appid":"wx8888888888888888","mchid":"` + mchid + `","out_trade_no":"` + outTradeNo + `","transaction_id":"42000001","trade_state":"` + state +
			`","trade_state_desc":"x","success_time":"2026-11-22T10:00:05+08:00","amount":{"total":1234,"currency":"CNY"}}`
	}
	refund := func(outRefundNo, status string) string {
		return `{"refund_id":"503001","out_refund_no":"` + outRefundNo + `","transaction_id":"42000001","out_trade_no":"ORDER1","status":"` + status + `","amount":{"refund":234,"total":1234,"currency":"CNY"}}`
	}
	cases := []struct {
		name, op, req string
		status        int
		header        http.Header
		body          string
		wantStatus    int
		wantCode      string
		providerCode  string
		want          string
	}{
		{"query succeeded", "query", `{"order_id":"ORDER1"}`, 200, nil, tx("1900000109", "ORDER1", "SUCCESS"), 200, "", "",
			`{"provider":"wechat_v3","order_id":"ORDER1","provider_order_id":"42000001","status":"succeeded","amount":"12.34","currency":"CNY","paid_at":"2026-11-22T10:00:05+08:00","provider_status":"SUCCESS"}`},
		{"query refunded", "query", `{"order_id":"ORDER1"}`, 200, nil, tx("1900000109", "ORDER1", "REFUND"), 200, "", "", `"status":"refunded"`},
		{"query closed", "query", `{"order_id":"ORDER1"}`, 200, nil, tx("1900000109", "ORDER1", "CLOSED"), 200, "", "", `"status":"cancelled"`},
		{"query revoked", "query", `{"order_id":"ORDER1"}`, 200, nil, tx("1900000109", "ORDER1", "REVOKED"), 200, "", "", `"status":"cancelled"`},
		{"query userpaying", "query", `{"order_id":"ORDER1"}`, 200, nil, tx("1900000109", "ORDER1", "USERPAYING"), 200, "", "", `"status":"pending"`},
		{"query payerror", "query", `{"order_id":"ORDER1"}`, 200, nil, tx("1900000109", "ORDER1", "PAYERROR"), 200, "", "", `"status":"failed"`},
		{"query unknown state", "query", `{"order_id":"ORDER1"}`, 200, nil, tx("1900000109", "ORDER1", "MAYBE"), 502, "upstream_error", "MAYBE", ""},
		{"query for another mchid", "query", `{"order_id":"ORDER1"}`, 200, nil, tx("1900000999", "ORDER1", "SUCCESS"), 502, "upstream_error", "", ""},
		{"query for another appid", "query", `{"order_id":"ORDER1"}`, 200, nil, strings.Replace(tx("1900000109", "ORDER1", "SUCCESS"), "wx8888888888888888", "wx0000000000000000", 1), 502, "upstream_error", "", ""},
		{"query for another order", "query", `{"order_id":"ORDER1"}`, 200, nil, tx("1900000109", "ORDER2", "SUCCESS"), 502, "upstream_error", "", ""},
		{"close 204", "close", `{"order_id":"ORDER1"}`, 204, nil, ``, 200, "", "", `{"provider":"wechat_v3","order_id":"ORDER1","status":"cancelled"}`},
		{"refund pending", "refund", `{"order_id":"ORDER1","refund_id":"R1","amount":"2.34","currency":"CNY","total_amount":"12.34"}`, 200, nil, refund("R1", "PROCESSING"), 200, "", "",
			`{"provider":"wechat_v3","order_id":"ORDER1","refund_id":"R1","provider_refund_id":"503001","status":"pending","amount":"2.34","currency":"CNY","provider_status":"PROCESSING"}`},
		{"refund abnormal", "refund_query", `{"refund_id":"R1"}`, 200, nil, refund("R1", "ABNORMAL"), 200, "", "", `"status":"failed","amount":"2.34","currency":"CNY","provider_status":"ABNORMAL"`},
		{"refund closed", "refund_query", `{"refund_id":"R1"}`, 200, nil, refund("R1", "CLOSED"), 200, "", "", `"status":"failed"`},
		{"refund success", "refund_query", `{"refund_id":"R1","order_id":"ORDER1"}`, 200, nil, refund("R1", "SUCCESS"), 200, "", "", `"status":"succeeded"`},
		{"refund unknown status", "refund_query", `{"refund_id":"R1"}`, 200, nil, refund("R1", "DONE"), 502, "upstream_error", "DONE", ""},
		{"refund of another refund", "refund_query", `{"refund_id":"R2"}`, 200, nil, refund("R1", "SUCCESS"), 502, "upstream_error", "", ""},
		// refund_query goes by out_refund_no alone: WeChat answered the refund
		// asked about, and the merchant's order_id is not its order (README
		// "Errors"); an answer naming no order is WeChat's fault
		{"refund of another order", "refund_query", `{"refund_id":"R1","order_id":"ORDER9"}`, 200, nil, refund("R1", "SUCCESS"), 400, "invalid_request", "", "order_id"},
		{"another refund, of another order", "refund_query", `{"refund_id":"R2","order_id":"ORDER9"}`, 200, nil, refund("R1", "SUCCESS"), 502, "upstream_error", "", ""},
		{"refund naming no order", "refund_query", `{"refund_id":"R1","order_id":"ORDER1"}`, 200, nil, strings.Replace(refund("R1", "SUCCESS"), `"out_trade_no":"ORDER1",`, "", 1), 502, "upstream_error", "", ""},
		{"refund naming no order, none asked", "refund_query", `{"refund_id":"R1"}`, 200, nil, strings.Replace(refund("R1", "SUCCESS"), `"out_trade_no":"ORDER1",`, "", 1), 200, "", "", `"status":"succeeded"`},
		// a refund is asked for its out_trade_no: an answer naming another is to another request
		{"refund answered for another order", "refund", `{"order_id":"ORDER9","refund_id":"R1","amount":"2.34","currency":"CNY","total_amount":"12.34"}`, 200, nil, refund("R1", "PROCESSING"), 502, "upstream_error", "", ""},
		{"ORDERPAID", "close", `{"order_id":"ORDER1"}`, 403, nil, `{"code":"ORDERPAID","message":"订单已支付"}`, 422, "provider_rejected", "ORDERPAID", ""},
		{"ORDER_CLOSED", "pay", `{"order_id":"ORDER1","amount":"1","currency":"CNY","description":"d","openid":"o"}`, 403, nil, `{"code":"ORDER_CLOSED","message":"订单已关闭"}`, 422, "provider_rejected", "ORDER_CLOSED", ""},
		{"ORDER_NOT_EXIST", "query", `{"order_id":"ORDER1"}`, 404, nil, `{"code":"ORDER_NOT_EXIST","message":"订单不存在"}`, 422, "provider_rejected", "ORDER_NOT_EXIST", ""},
		{"NOT_ENOUGH", "refund", `{"order_id":"ORDER1","refund_id":"R1","amount":"1","currency":"CNY","total_amount":"2"}`, 403, nil, `{"code":"NOT_ENOUGH","message":"余额不足"}`, 422, "provider_rejected", "NOT_ENOUGH", ""},
		{"PARAM_ERROR", "query", `{"order_id":"ORDER1"}`, 400, nil, `{"code":"PARAM_ERROR","message":"参数错误","detail":{"field":"x"}}`, 422, "provider_rejected", "PARAM_ERROR", ""},
		{"SIGN_ERROR", "query", `{"order_id":"ORDER1"}`, 401, nil, `{"code":"SIGN_ERROR","message":"签名错误"}`, 502, "upstream_error", "SIGN_ERROR", ""},
		{"FREQUENCY_LIMITED", "query", `{"order_id":"ORDER1"}`, 429, nil, `{"code":"FREQUENCY_LIMITED","message":"频率超限"}`, 502, "upstream_error", "FREQUENCY_LIMITED", ""},
		{"SYSTEM_ERROR", "query", `{"order_id":"ORDER1"}`, 500, nil, `{"code":"SYSTEM_ERROR","message":"系统错误"}`, 502, "upstream_error", "SYSTEM_ERROR", ""},
		{"4xx without a code", "query", `{"order_id":"ORDER1"}`, 404, nil, `not json`, 502, "upstream_error", "", ""},
		{"pay without prepay_id", "pay", `{"order_id":"ORDER1","amount":"1","currency":"CNY","description":"d","openid":"o"}`, 200, nil, `{}`, 502, "upstream_error", "", ""},
		{"unsigned 200", "query", `{"order_id":"ORDER1"}`, 200, http.Header{}, tx("1900000109", "ORDER1", "SUCCESS"), 502, "upstream_signature_invalid", "", ""},
		{"unsigned 500", "query", `{"order_id":"ORDER1"}`, 500, http.Header{}, `{"code":"SYSTEM_ERROR","message":"x"}`, 502, "upstream_signature_invalid", "", ""},
		{"unsigned 204", "close", `{"order_id":"ORDER1"}`, 204, http.Header{}, ``, 502, "upstream_signature_invalid", "", ""},
		{"signature of another body", "query", `{"order_id":"ORDER1"}`, 200, sign(tx("1900000109", "ORDER1", "NOTPAY")), tx("1900000109", "ORDER1", "SUCCESS"), 502, "upstream_signature_invalid", "", ""},
		{"probe", "query", `{"order_id":"ORDER1"}`, 200, func() http.Header {
			h := sign(tx("1900000109", "ORDER1", "SUCCESS"))
			h.Set(HeaderSignature, "WECHATPAY/SIGNTEST/"+h.Get(HeaderSignature))
			return h
		}(), tx("1900000109", "ORDER1", "SUCCESS"), 502, "upstream_signature_invalid", "", ""},
		{"skew 300 s", "query", `{"order_id":"ORDER1"}`, 200, platformAnswer(t, examplePublicKeyID, now.Add(-300*time.Second), tx("1900000109", "ORDER1", "SUCCESS")),
			tx("1900000109", "ORDER1", "SUCCESS"), 502, "upstream_signature_invalid", "", ""},
		{"skew 299 s", "query", `{"order_id":"ORDER1"}`, 200, platformAnswer(t, examplePublicKeyID, now.Add(299*time.Second), tx("1900000109", "ORDER1", "SUCCESS")),
			tx("1900000109", "ORDER1", "SUCCESS"), 200, "", "", `"status":"succeeded"`},
		{"unknown serial", "query", `{"order_id":"ORDER1"}`, 200, platformAnswer(t, examplePlatformSN, now, tx("1900000109", "ORDER1", "SUCCESS")),
			tx("1900000109", "ORDER1", "SUCCESS"), 502, "upstream_signature_invalid", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := pinnedClient(t, nil)
			call := prepare(t, c, tc.op, tc.req)
			h := tc.header
			if h == nil {
				h = sign(tc.body)
			}
			out, err := call.Decode(tc.status, h, []byte(tc.body))
			if tc.wantCode == "" {
				if err != nil || !strings.Contains(string(out), tc.want) {
					t.Fatalf("answer %s, %v; want %s", out, err, tc.want)
				}
				return
			}
			e := transformtest.WantError(t, err, tc.wantStatus, tc.wantCode)
			if e.ProviderCode != tc.providerCode || e.Field != tc.want { // an error's want is its field
				t.Fatalf("provider_code %q, field %q; want %q, %q", e.ProviderCode, e.Field, tc.providerCode, tc.want)
			}
		})
	}
}

// The pay answer is the wx.requestPayment object, paySign over the
// mini program's appId (sub_app_id in partner mode).
func TestClientPayAnswer(t *testing.T) {
	for _, partner := range []bool{false, true} {
		c := pinnedClient(t, func(c *Config) {
			if partner {
				c.SubMchID, c.SubAppID = "1900000110", "wx9999999999999999"
			}
		})
		call := prepare(t, c, "pay", `{"order_id":"ORDER1","amount":"1","currency":"CNY","description":"d","openid":"o"}`)
		body := `{"prepay_id":"wx26112221580621e9b071c00d9e093b0000"}`
		out, err := call.Decode(200, platformAnswer(t, examplePublicKeyID, transformtest.Pinned, body), []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		m := decodeMap(t, out)
		if m["timeStamp"] != strconv.FormatInt(transformtest.Pinned.Unix(), 10) || m["package"] != "prepay_id=wx26112221580621e9b071c00d9e093b0000" ||
			m["signType"] != "RSA" || len(m["nonceStr"]) != 32 || m["order_id"] != "ORDER1" || m["provider"] != "wechat_v3" {
			t.Fatalf("pay answer %s", out)
		}
		appID := "wx8888888888888888"
		if partner {
			appID = "wx9999999999999999"
		}
		msg := appID + "\n" + m["timeStamp"] + "\n" + m["nonceStr"] + "\n" + m["package"] + "\n"
		if !VerifyMessage(&c.keys.signer.Key.PublicKey, []byte(msg), m["paySign"]) {
			t.Fatalf("paySign does not cover %q", msg)
		}
	}
}
