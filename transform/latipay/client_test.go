package latipay

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

func TestClientSupports(t *testing.T) {
	c := newClient(t, testConfig())
	for op, want := range map[string]bool{"pay": true, "query": true, "refund": true, "close": false, "login": false, "": false, "Pay": false} {
		if got := c.Supports(op); got != want {
			t.Errorf("Supports(%q) = %v", op, got)
		}
	}
	if _, err := c.Prepare(context.Background(), "close", []byte(`{"order_id":"O1"}`)); err == nil {
		t.Fatal("close prepared")
	} else {
		wantError(t, err, 404, transform.CodeUnknownOperation)
	}
}

func TestConfigCheck(t *testing.T) {
	with := func(f func(*Config)) Config { c := testConfig(); f(&c); return c }
	tests := []struct {
		name                     string
		cfg                      Config
		client, webhook, sandbox string // "" = accepted, else a substring of the error
	}{
		{"complete", testConfig(), "", "", ""},
		{"webhook with the key and the currency", Config{APIKey: vecAPIKey, Currency: "NZD"}, "user_id is required", "", "user_id is required"},
		{"webhook needs only the key", Config{APIKey: vecAPIKey}, "user_id is required", "", "user_id is required"},
		{"no key", with(func(c *Config) { c.APIKey = "" }), "api_key is required", "api_key is required", "api_key is required"},
		{"no wallet", with(func(c *Config) { c.WalletID = "" }), "wallet_id is required", "", "wallet_id is required"},
		{"no app_id", with(func(c *Config) { c.AppID = "" }), "app_id is required", "", "app_id is required"},
		{"no currency", with(func(c *Config) { c.Currency = "" }), "currency is required", "", "currency is required"},
		{"unknown currency", with(func(c *Config) { c.Currency = "XYZ" }), "ISO 4217", "ISO 4217", "ISO 4217"},
		{"lower-case currency", with(func(c *Config) { c.Currency = "nzd" }), "ISO 4217", "ISO 4217", "ISO 4217"},
		{"relative notify_url", with(func(c *Config) { c.NotifyURL = "/latipay/notify" }), "notify_url", "notify_url", "notify_url"},
		{"no notify_url is fine", with(func(c *Config) { c.NotifyURL = "" }), "", "", ""},
	}
	check := func(t *testing.T, side string, err error, want string) {
		t.Helper()
		switch {
		case want == "" && err != nil:
			t.Fatalf("%s refused: %v", side, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Fatalf("%s error %v, want %q", side, err, want)
		case err != nil && strings.Contains(err.Error(), vecAPIKey):
			t.Fatalf("%s error names the key", side)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(tt.cfg)
			check(t, "client", err, tt.client)
			_, err = NewWebhook(tt.cfg)
			check(t, "webhook", err, tt.webhook)
			_, err = NewSandbox(tt.cfg)
			check(t, "sandbox", err, tt.sandbox)
		})
	}
}

// The mini app example of latipay-wechat-mini-app.md (its printed
// signature is vector 1's, copied; this one was computed outside Go):
//
//	printf '%s' 'amount=120.00&app_id=wx721398712681232&merchant_reference=Order898237426347832&notify_url=https://merchantsite.com/latipay/notify&open_id=obRdo5H-72b_PH2Lvr5_Dw9bXKHs&product_name=Online Ticket&user_id=U000334333&wallet_id=W00000001111222333' | openssl dgst -sha256 -hmac 111222333
const (
	payJSON     = `{"order_id":"Order898237426347832","amount":"120.00","currency":"NZD","description":"Online Ticket","openid":"obRdo5H-72b_PH2Lvr5_Dw9bXKHs","client_ip":"203.0.113.7","attach":"ignored"}`
	payBodyJSON = `{"user_id":"U000334333","wallet_id":"W00000001","amount":"120.00","notify_url":"https://merchantsite.com/latipay/notify","merchant_reference":"Order898237426347832","product_name":"Online Ticket","app_id":"wx721398712681232","open_id":"obRdo5H-72b_PH2Lvr5_Dw9bXKHs","signature":"3f12f370b4cac5131186513aa1ff4a6c5e47807efde2f2ca57d4a61b2af7847f"}`
)

func TestPreparePayKnownAnswer(t *testing.T) {
	call, err := newClient(t, testConfig()).Prepare(context.Background(), "pay", []byte(payJSON))
	if err != nil {
		t.Fatal(err)
	}
	if call.Method != http.MethodPost || call.Path != "/v2/miniapppay" || call.RawQuery != "" ||
		call.ContentType != "application/json;charset=UTF-8" || call.OrderID != "Order898237426347832" {
		t.Fatalf("call %s %s?%s %q", call.Method, call.Path, call.RawQuery, call.ContentType)
	}
	if string(call.Body) != payBodyJSON {
		t.Fatalf("body\n got %s\nwant %s", call.Body, payBodyJSON)
	}
}

func TestPreparePay(t *testing.T) {
	tests := []struct {
		name                       string
		cfg                        func(*Config)
		body                       string
		amount, notifyURL, product string
	}{
		{"decimals completed", nil, `{"order_id":"O-1","amount":"12.3","currency":"NZD","description":"Flat white","openid":"o1"}`, "12.30", vecNotify, "Flat white"},
		{"the request's notify_url wins", nil, `{"order_id":"O-2","amount":"1","currency":"NZD","description":"x","openid":"o1","notify_url":"https://pay.example/latipay?shop=1&x=2"}`, "1.00", "https://pay.example/latipay?shop=1&x=2", "x"},
		{"raw values with & = and UTF-8", nil, `{"order_id":"O-3","amount":"0.01","currency":"NZD","description":"茶 & <cake>=1","openid":"o1"}`, "0.01", vecNotify, "茶 & <cake>=1"},
		{"AUD wallet", func(c *Config) { c.Currency = "AUD" }, `{"order_id":"O-4","amount":"5.00","currency":"AUD","description":"x","openid":"o1"}`, "5.00", vecNotify, "x"},
		// the wallet currency's ISO 4217 exponent (github.com/bojanz/currency's table), not always 2
		{"JPY wallet: no decimals", func(c *Config) { c.Currency = "JPY" }, `{"order_id":"O-5","amount":"1200","currency":"JPY","description":"x","openid":"o1"}`, "1200", vecNotify, "x"},
		{"KWD wallet: three decimals", func(c *Config) { c.Currency = "KWD" }, `{"order_id":"O-6","amount":"1.2","currency":"KWD","description":"x","openid":"o1"}`, "1.200", vecNotify, "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			call, err := newClient(t, cfg).Prepare(context.Background(), "pay", []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]string
			if err := json.Unmarshal(call.Body, &got); err != nil {
				t.Fatalf("body is not a JSON object of strings: %s", call.Body)
			}
			if len(got) != 9 || got["amount"] != tt.amount || got["notify_url"] != tt.notifyURL || got["product_name"] != tt.product ||
				got["user_id"] != vecUserID || got["wallet_id"] != vecWalletID || got["app_id"] != vecAppID || got["open_id"] != "o1" {
				t.Fatalf("body %v", got)
			}
			if got["signature"] != refSign(got, vecAPIKey) {
				t.Fatalf("signature %s, want %s", got["signature"], refSign(got, vecAPIKey))
			}
			if strings.Contains(string(call.Body), vecAPIKey) {
				t.Fatal("the body carries the api_key")
			}
		})
	}
}

func TestPrepareErrors(t *testing.T) {
	noNotify := testConfig()
	noNotify.NotifyURL = ""
	tests := []struct {
		name, op, body string
		cfg            Config
		field          string
	}{
		{"currency not the wallet's", "pay", `{"order_id":"O1","amount":"1.00","currency":"AUD","description":"x","openid":"o"}`, testConfig(), "currency"},
		{"unknown currency", "pay", `{"order_id":"O1","amount":"1.00","currency":"XYZ","description":"x","openid":"o"}`, testConfig(), "currency"},
		{"too many decimals", "pay", `{"order_id":"O1","amount":"1.001","currency":"NZD","description":"x","openid":"o"}`, testConfig(), "amount"},
		{"no notify_url anywhere", "pay", `{"order_id":"O1","amount":"1.00","currency":"NZD","description":"x","openid":"o"}`, noNotify, "notify_url"},
		{"relative notify_url", "pay", `{"order_id":"O1","amount":"1.00","currency":"NZD","description":"x","openid":"o","notify_url":"/n"}`, testConfig(), "notify_url"},
		{"no openid", "pay", `{"order_id":"O1","amount":"1.00","currency":"NZD","description":"x"}`, testConfig(), "openid"},
		{"unknown field", "pay", `{"order_id":"O1","amount":"1.00","currency":"NZD","description":"x","openid":"o","tip":"1"}`, testConfig(), "tip"},
		{"query without order_id", "query", `{}`, testConfig(), "order_id"},
		{"query with a bad order_id", "query", `{"order_id":"a/b"}`, testConfig(), "order_id"},
		{"refund without provider_order_id", "refund", `{"order_id":"O1","refund_id":"R1","amount":"1.00","currency":"NZD"}`, testConfig(), "provider_order_id"},
		{"refund with a bad provider_order_id", "refund", `{"order_id":"O1","refund_id":"R1","amount":"1.00","currency":"NZD","provider_order_id":"1&x=2"}`, testConfig(), "provider_order_id"},
		{"refund in another currency", "refund", `{"order_id":"O1","refund_id":"R1","amount":"1.00","currency":"CNY","provider_order_id":"2017"}`, testConfig(), "currency"},
		{"refund without refund_id", "refund", `{"order_id":"O1","amount":"1.00","currency":"NZD","provider_order_id":"2017"}`, testConfig(), "refund_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newClient(t, tt.cfg).Prepare(context.Background(), tt.op, []byte(tt.body))
			if e := wantError(t, err, 400, transform.CodeInvalidRequest); e.Field != tt.field {
				t.Fatalf("field %q, want %q (%s)", e.Field, tt.field, e.Message)
			}
		})
	}
}

// A caller without JSON (the transform API used directly) may pass bytes
// that JSON would replace; the signed value must be the one sent.
func TestPayRefusesInvalidUTF8(t *testing.T) {
	c := newClient(t, testConfig())
	// Validate refuses such an openid; the client holds to it without.
	pay := transformtest.Valid(t, &transform.PayRequest{OrderID: "O1", Amount: "1.00", Currency: "NZD", Description: "x", OpenID: "o"})
	pay.OpenID = "o\xff"
	_, err := c.Pay(pay)
	if e := wantError(t, err, 400, transform.CodeInvalidRequest); e.Field != "openid" {
		t.Fatalf("field %q", e.Field)
	}
	_, err = c.Refund(transformtest.Valid(t, &transform.RefundRequest{OrderID: "O1", RefundID: "R1", Amount: "1.00", Currency: "NZD", ProviderOrderID: "1", Reason: "\xfe"}))
	if e := wantError(t, err, 400, transform.CodeInvalidRequest); e.Field != "reason" {
		t.Fatalf("field %q", e.Field)
	}
}

// docPayAnswer is the documented miniapppay answer shape with values.
const docPayAnswer = `{"payment":{"nonceStr":"5K8264ILTKCH16CQ2502SI8ZNMTM67VS","paySign":"22D9B4E54AB1950F51E0649E8810ACD6",` +
	`"signType":"MD5","timeStamp":"1490840662","packageStr":"prepay_id=wx2017033010242291fcfe0db70013231072"},` +
	`"paydata":{"order_id":"2017232323345678"}}`

func TestPayAnswer(t *testing.T) {
	const want = `{"timeStamp":"1490840662","nonceStr":"5K8264ILTKCH16CQ2502SI8ZNMTM67VS","package":"prepay_id=wx2017033010242291fcfe0db70013231072",` +
		`"signType":"MD5","paySign":"22D9B4E54AB1950F51E0649E8810ACD6","provider":"latipay","order_id":"Order898237426347832","provider_order_id":"2017232323345678"}`
	tests := []struct {
		name        string
		status      int
		body        string
		want        string // the merchant's JSON, or "" for an error
		errStatus   int
		code, pcode string
	}{
		{"documented answer", 200, docPayAnswer, want, 0, "", ""},
		{"with code 0", 200, strings.Replace(docPayAnswer, `{"payment"`, `{"code":0,"message":"SUCCESS","payment"`, 1), want, 0, "", ""},
		// code 0 is read by value, as CBTIS's (README Latipay): a float-writing serializer's 0.0, -0, 0e0
		{"with code 0.0", 200, strings.Replace(docPayAnswer, `{"payment"`, `{"code":0.0,"message":"SUCCESS","payment"`, 1), want, 0, "", ""},
		{"with code -0", 200, strings.Replace(docPayAnswer, `{"payment"`, `{"code":-0,"message":"SUCCESS","payment"`, 1), want, 0, "", ""},
		{"code not zero, as a float", 200, `{"code":207.0,"message":"Param is wrong"}`, "", 422, transform.CodeProviderRejected, "207.0"},
		{"code not zero, only tiny", 200, `{"code":1e-400,"message":"FAIL"}`, "", 422, transform.CodeProviderRejected, "1e-400"},
		{"numeric timeStamp", 200, strings.Replace(docPayAnswer, `"1490840662"`, `1490840662`, 1), want, 0, "", ""},
		// Unix seconds in decimal digits, as wechat_v2/v3 make it: a float's spelling is not rewritten
		{"timeStamp a float", 200, strings.Replace(docPayAnswer, `"1490840662"`, `1490840662.0`, 1), "", 502, transform.CodeUpstreamError, ""},
		{"timeStamp with an exponent", 200, strings.Replace(docPayAnswer, `"1490840662"`, `1.490840662e9`, 1), "", 502, transform.CodeUpstreamError, ""},
		{"timeStamp a string with a fraction", 200, strings.Replace(docPayAnswer, `"1490840662"`, `"1490840662.0"`, 1), "", 502, transform.CodeUpstreamError, ""},
		{"no paydata", 200, strings.Replace(docPayAnswer, `,"paydata":{"order_id":"2017232323345678"}`, "", 1),
			strings.Replace(want, `,"provider_order_id":"2017232323345678"`, "", 1), 0, "", ""},
		{"no packageStr", 200, strings.Replace(docPayAnswer, `"packageStr"`, `"package"`, 1), "", 502, transform.CodeUpstreamError, ""},
		{"empty paySign", 200, strings.Replace(docPayAnswer, `"22D9B4E54AB1950F51E0649E8810ACD6"`, `""`, 1), "", 502, transform.CodeUpstreamError, ""},
		{"payment not an object", 200, `{"payment":"x"}`, "", 502, transform.CodeUpstreamError, ""},
		{"wrong signature: ours", 200, `{"code":206,"message":"Signature from Merchant request is wrong"}`, "", 502, transform.CodeUpstreamError, "206"},
		{"unknown user: ours", 200, `{"code":205,"message":"Cannot find out corresponding key for the user code"}`, "", 502, transform.CodeUpstreamError, "205"},
		{"wrong account: ours", 200, `{"code":301,"message":"Wrong account info or currency info"}`, "", 502, transform.CodeUpstreamError, "301"},
		{"wallet not the user's: ours", 200, `{"code":450,"message":"Wallet not assign to user"}`, "", 502, transform.CodeUpstreamError, "450"},
		{"param wrong: refused", 200, `{"code":207,"message":"Param is wrong"}`, "", 422, transform.CodeProviderRejected, "207"},
		{"string code", 200, `{"code":"304","message":"Wallet does not support this payment method"}`, "", 422, transform.CodeProviderRejected, "304"},
		{"FAIL", 200, `{"code":1,"message":"FAIL"}`, "", 422, transform.CodeProviderRejected, "1"},
		{"HTTP 400 with a code", 400, `{"code":207,"message":"Param is wrong"}`, "", 422, transform.CodeProviderRejected, "207"},
		{"HTTP 503 with a code", 503, `{"code":1,"message":"FAIL"}`, "", 502, transform.CodeUpstreamError, "1"},
		// a rate limit is the request's rate at fault, not the order (README Errors, as WeChat v3's 429)
		{"HTTP 429 with a code", 429, `{"code":429,"message":"Too Many Requests"}`, "", 502, transform.CodeUpstreamError, "429"},
		// neither a redirect nor a refusal of our credentials is a business refusal (transform.AnswerNotOK, as WeChat v3 and CBTIS)
		{"HTTP 302 with a code", 302, `{"code":207,"message":"Param is wrong"}`, "", 502, transform.CodeUpstreamError, "207"},
		{"HTTP 401 with a code", 401, `{"code":207,"message":"Param is wrong"}`, "", 502, transform.CodeUpstreamError, "207"},
		{"HTTP 500 page", 500, `<html>oops</html>`, "", 502, transform.CodeUpstreamError, ""},
		{"not JSON", 200, `sent`, "", 502, transform.CodeUpstreamError, ""},
		{"a JSON array", 200, `[1]`, "", 502, transform.CodeUpstreamError, ""},
		{"null", 200, `null`, "", 502, transform.CodeUpstreamError, ""},
		// Members by their exact names, once, as a strict reader reads them.
		{"Payment is not payment", 200, strings.Replace(docPayAnswer, `{"payment"`, `{"Payment"`, 1), "", 502, transform.CodeUpstreamError, ""},
		{"paySign twice", 200, strings.Replace(docPayAnswer, `"paySign":`, `"paySign":"forged","paySign":`, 1), "", 502, transform.CodeUpstreamError, ""},
		{"CODE is not code", 200, strings.Replace(docPayAnswer, `{"payment"`, `{"CODE":207,"message":"Param is wrong","payment"`, 1), want, 0, "", ""},
		{"code twice", 200, strings.Replace(docPayAnswer, `{"payment"`, `{"code":207,"code":0,"message":"SUCCESS","payment"`, 1), "", 502, transform.CodeUpstreamError, ""},
	}
	call, err := newClient(t, testConfig()).Prepare(context.Background(), "pay", []byte(payJSON))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := call.Decode(tt.status, nil, []byte(tt.body))
			if tt.want != "" {
				if err != nil || string(out) != tt.want {
					t.Fatalf("Decode = %s, %v\nwant %s", out, err, tt.want)
				}
				return
			}
			e := wantError(t, err, tt.errStatus, tt.code)
			if e.ProviderCode != tt.pcode {
				t.Fatalf("provider_code %q, want %q", e.ProviderCode, tt.pcode)
			}
			if tt.pcode != "" && e.ProviderMessage == "" {
				t.Fatal("no provider_message")
			}
		})
	}
}

// Vector 3 (merchant_reference 6000324, user U000000013).
func TestPrepareQueryKnownAnswer(t *testing.T) {
	cfg := testConfig()
	cfg.UserID = "U000000013"
	call, err := newClient(t, cfg).Prepare(context.Background(), "query", []byte(`{"order_id":"6000324"}`))
	if err != nil {
		t.Fatal(err)
	}
	if call.Method != http.MethodGet || call.Path != "/v2/transaction/6000324" || call.Body != nil || call.OrderID != "6000324" ||
		call.RawQuery != "user_id=U000000013&signature=58f93f458880120d650611f2452917a25a39edc2f5e3a03baac73a7a49bc81f4" {
		t.Fatalf("call %s %s?%s body %q", call.Method, call.Path, call.RawQuery, call.Body)
	}
}

// queryAnswer builds a transaction answer; amount is inserted as raw JSON.
func queryAnswerJSON(ref, method, status, currency, amountJSON, sig string) string {
	return `{"merchant_reference":"` + ref + `","currency":"` + currency + `","amount":` + amountJSON + `,"payment_method":"` + method +
		`","status":"` + status + `","pay_time":"2017-07-07 10:53:50","order_id":"2017232323345678","signature":"` + sig + `"}`
}

func TestQueryAnswer(t *testing.T) {
	const (
		ref    = "dsi39ej430sks03"
		sig    = "840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1" // the vector: ...NZD120.00
		sig120 = "f734b225900929eda1891ba63c77445e8c744d026b1948130bcea217d3016cf8" // ...NZD120, computed outside Go
	)
	signed := func(ref, status, currency, amountText, amountJSON string) string {
		return queryAnswerJSON(ref, "alipay", status, currency, amountJSON, refNotify(ref, "alipay", status, currency, amountText, vecAPIKey))
	}
	tests := []struct {
		name                  string
		status                int
		body                  string
		state, amount, paidAt string
		errStatus             int
		code, pcode           string
	}{
		{"the vector, amount a JSON number 120.00", 200, queryAnswerJSON(ref, "alipay", "paid", "NZD", `120.00`, sig), "succeeded", "120.00", "2017-07-07T10:53:50Z", 0, "", ""},
		{"amount a string", 200, queryAnswerJSON(ref, "alipay", "paid", "NZD", `"120.00"`, sig), "succeeded", "120.00", "2017-07-07T10:53:50Z", 0, "", ""},
		{"upper-case hex", 200, queryAnswerJSON(ref, "alipay", "paid", "NZD", `120.00`, strings.ToUpper(sig)), "succeeded", "120.00", "2017-07-07T10:53:50Z", 0, "", ""},
		{"number 120 signed as 120", 200, queryAnswerJSON(ref, "alipay", "paid", "NZD", `120`, sig120), "succeeded", "120.00", "2017-07-07T10:53:50Z", 0, "", ""},
		{"number 120 under the 120.00 signature", 200, queryAnswerJSON(ref, "alipay", "paid", "NZD", `120`, sig), "", "", "", 502, transform.CodeSignatureInvalid, ""},
		{"number 120.00 under the 120 signature", 200, queryAnswerJSON(ref, "alipay", "paid", "NZD", `120.00`, sig120), "", "", "", 502, transform.CodeSignatureInvalid, ""},
		{"number 120.0 under the 120.00 signature", 200, queryAnswerJSON(ref, "alipay", "paid", "NZD", `120.0`, sig), "", "", "", 502, transform.CodeSignatureInvalid, ""},
		{"another key", 200, queryAnswerJSON(ref, "alipay", "paid", "NZD", `120.00`, refNotify(ref, "alipay", "paid", "NZD", "120.00", otherKey)), "", "", "", 502, transform.CodeSignatureInvalid, ""},
		{"unsigned", 200, queryAnswerJSON(ref, "alipay", "paid", "NZD", `120.00`, ""), "", "", "", 502, transform.CodeSignatureInvalid, ""},
		{"tampered status", 200, queryAnswerJSON(ref, "alipay", "paid", "NZD", `120.00`, refNotify(ref, "alipay", "failed", "NZD", "120.00", vecAPIKey)), "", "", "", 502, transform.CodeSignatureInvalid, ""},
		{"pending", 200, signed(ref, "pending", "NZD", "120.00", `120.00`), "pending", "120.00", "", 0, "", ""},
		{"failed", 200, signed(ref, "failed", "NZD", "12.5", `12.5`), "failed", "12.50", "", 0, "", ""},
		{"rejected", 200, signed(ref, "rejected", "NZD", "120.00", `120.00`), "failed", "120.00", "", 0, "", ""},
		{"canceled", 200, signed(ref, "canceled", "NZD", "120.00", `120.00`), "cancelled", "120.00", "", 0, "", ""},
		{"unknown status", 200, signed(ref, "refunded", "NZD", "120.00", `120.00`), "", "", "", 502, transform.CodeUpstreamError, "refunded"},
		{"another order", 200, signed("other-ref-1", "paid", "NZD", "120.00", `120.00`), "", "", "", 502, transform.CodeUpstreamError, ""},
		{"another currency", 200, signed(ref, "paid", "AUD", "120.00", `120.00`), "", "", "", 502, transform.CodeUpstreamError, ""},
		{"exponent", 200, signed(ref, "paid", "NZD", "1.2e2", `1.2e2`), "", "", "", 502, transform.CodeUpstreamError, ""},
		{"three decimals", 200, signed(ref, "paid", "NZD", "120.001", `120.001`), "", "", "", 502, transform.CodeUpstreamError, ""},
		{"amount an object", 200, queryAnswerJSON(ref, "alipay", "paid", "NZD", `{"v":1}`, sig), "", "", "", 502, transform.CodeUpstreamError, ""},
		{"order not exist", 200, `{"code":201,"message":"order not exist"}`, "", "", "", 422, transform.CodeProviderRejected, "201"},
		{"signature wrong", 200, `{"code":206,"message":"Signature from Merchant request is wrong"}`, "", "", "", 502, transform.CodeUpstreamError, "206"},
		{"HTTP 404 page", 404, `not found`, "", "", "", 502, transform.CodeUpstreamError, ""},
		// A signed answer giving a name twice is not parseable: its
		// signature covers one of the values, a strict reader reads another.
		{"status twice", 200, strings.Replace(signed(ref, "failed", "NZD", "120.00", `120.00`), `"status":"failed"`, `"status":"paid","status":"failed"`, 1), "", "", "", 502, transform.CodeUpstreamError, ""},
		{"code twice", 200, `{"code":0,"code":201,"message":"order not exist"}`, "", "", "", 502, transform.CodeUpstreamError, ""},
	}
	call, err := newClient(t, testConfig()).Prepare(context.Background(), "query", []byte(`{"order_id":"`+ref+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := call.Decode(tt.status, nil, []byte(tt.body))
			if errors.Is(err, transform.ErrRetry) { // 206: what it means once the other signature form was refused too
				err = transform.RetryFinal(err)
			}
			if tt.state == "" {
				e := wantError(t, err, tt.errStatus, tt.code)
				if e.ProviderCode != tt.pcode {
					t.Fatalf("provider_code %q, want %q", e.ProviderCode, tt.pcode)
				}
				return
			}
			st := statusOf(t, out, err)
			want := transform.PaymentStatus{Provider: "latipay", OrderID: ref, ProviderOrderID: "2017232323345678", Status: tt.state,
				Amount: tt.amount, Currency: "NZD", PaidAt: tt.paidAt, ProviderStatus: st.ProviderStatus}
			if st != want {
				t.Fatalf("status %+v\nwant %+v", st, want)
			}
		})
	}
}

// TestQueryAnswerTransactionID: the transaction query answer of Latipay's
// merchant hosted online docs (src/v2/merchant-hosted-online.md, "Payment
// Result Interface") names Latipay's id transaction_id, where the current
// revision says order_id; either is the provider_order_id refunds need,
// order_id first when both are there.
func TestQueryAnswerTransactionID(t *testing.T) {
	const sig = "840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1" // the vector: dsi39ej430sks03alipaypaidNZD120.00
	answer := func(ids string) string {
		return `{` + ids + `"merchant_reference":"dsi39ej430sks03","currency":"NZD","amount":"120.00","payment_method":"alipay",` +
			`"status":"paid","pay_time":"2017-07-07 10:53:50","signature":"` + sig + `"}`
	}
	tests := []struct{ name, body, want string }{
		{"transaction_id, as the merchant hosted docs print it", answer(`"transaction_id":"20170707-wechat-3473511594933",`), "20170707-wechat-3473511594933"},
		{"order_id and transaction_id", answer(`"order_id":"201834687346343","transaction_id":"20170707-wechat-3473511594933",`), "201834687346343"},
		{"neither", answer(``), ""},
	}
	c := newClient(t, testConfig())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := c.StatusFromAnswer("dsi39ej430sks03", 200, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if st.ProviderOrderID != tt.want || st.Status != transform.StatusSucceeded {
				t.Fatalf("status %+v, want provider_order_id %q", st, tt.want)
			}
		})
	}
}

// TestQueryAnswerWalletCurrencies: the answer's amount is read with the
// wallet currency's decimals, zero or three as well as two.
func TestQueryAnswerWalletCurrencies(t *testing.T) {
	const ref = "Q-1"
	tests := []struct {
		name, currency, amountText, amountJSON string
		want                                   string // "" for a 502 upstream_error
	}{
		{"JPY as a JSON number", "JPY", "1200", `1200`, "1200"},
		{"JPY as a string", "JPY", "1200", `"1200"`, "1200"},
		{"JPY with decimals", "JPY", "1200.5", `1200.5`, ""},
		{"KWD with three decimals", "KWD", "1.234", `1.234`, "1.234"},
		{"KWD with fewer", "KWD", "1.2", `1.2`, "1.200"},
		{"KWD with four", "KWD", "1.2345", `"1.2345"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Currency = tt.currency
			call, err := newClient(t, cfg).Prepare(context.Background(), "query", []byte(`{"order_id":"`+ref+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			body := queryAnswerJSON(ref, "wechat", "paid", tt.currency, tt.amountJSON, refNotify(ref, "wechat", "paid", tt.currency, tt.amountText, vecAPIKey))
			out, err := call.Decode(200, nil, []byte(body))
			if tt.want == "" {
				wantError(t, err, 502, transform.CodeUpstreamError)
				return
			}
			if st := statusOf(t, out, err); st.Amount != tt.want || st.Currency != tt.currency || st.Status != transform.StatusSucceeded {
				t.Fatalf("status %+v, want amount %s %s", st, tt.want, tt.currency)
			}
		})
	}
}

// statusOf is the status object of a query answer Decode accepted.
func statusOf(t *testing.T, out []byte, err error) transform.PaymentStatus {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var st transform.PaymentStatus
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestPayTimeIsUTC: a real query answer, printed in the README of
// lakely/latipay (the latipay/laravel-plugin package, copied into
// Latipay/latipay-2.0-plugin's Demo), answers an order whose
// merchant_reference is PHP's time() when it was made, 1567568358
// (2019-09-04 03:39:18 UTC), with createDate "2019-09-04 03:39:19" and
// pay_time "2019-09-04 03:39:57". Read as UTC, the order is created a second
// after its reference and paid 39 s later; read as UTC+8 (the docs'
// "UTC/GMT+08:00"), or New Zealand's UTC+12, it was paid hours before it
// existed (docs/providers/latipay.md "Times").
func TestPayTimeIsUTC(t *testing.T) {
	made := time.Unix(1567568358, 0)
	const payTime = "2019-09-04 03:39:57"
	got := PayTimeRFC3339(payTime)
	paid, err := time.Parse(time.RFC3339, got)
	if err != nil || got != "2019-09-04T03:39:57Z" || paid.Sub(made) != 39*time.Second {
		t.Fatalf("PayTimeRFC3339(%q) = %q (%v): paid %v after the order was made", payTime, got, err, paid.Sub(made))
	}
}

func TestPayTimeRFC3339(t *testing.T) {
	for in, want := range map[string]string{
		"2017-07-07 10:53:50":       "2017-07-07T10:53:50Z",
		"2026-11-22T02:00:00Z":      "2026-11-22T02:00:00Z",
		"2026-11-22T10:00:00+13:00": "2026-11-22T10:00:00+13:00",
		"":                          "",
		"07/07/2017":                "",
		// Only Latipay's exact shape: time.Parse alone takes a one-digit
		// hour, a fraction after the seconds and a doubled space.
		"2017-07-07 1:53:50":    "",
		"2017-07-07 10:53:50.5": "",
		"2017-07-07  10:53:50":  "",
		"2017-07-07 10:53:50 ":  "",
		"2017-07-07 24:00:00":   "",
		"2017-07-07 10:53:60":   "",
		"2027-02-29 10:53:50":   "",
		"2028-02-29 23:59:59":   "2028-02-29T23:59:59Z",
		"1970-01-01 00:00:00":   "1970-01-01T00:00:00Z",
		"2038-01-19 03:14:08":   "2038-01-19T03:14:08Z",
		"2017-07-07 1０:53:50":   "",
		// An RFC 3339 time as written (its fraction and -00:00 kept), and
		// none past RFC 3339: Go's time.Parse takes an offset of +24:00 or
		// +23:60 (written back as +24:00, no RFC 3339 time), a comma
		// before the fraction and a one-digit hour.
		"2026-11-22T12:03:03.5Z":    "2026-11-22T12:03:03.5Z",
		"2026-11-22T12:03:03-00:00": "2026-11-22T12:03:03-00:00",
		"2026-11-22T12:03:03+14:00": "2026-11-22T12:03:03+14:00",
		"2026-11-22T12:03:03-12:00": "2026-11-22T12:03:03-12:00",
		"2026-11-22T12:03:03+24:00": "",
		"2026-11-22T12:03:03+23:60": "",
		"2026-11-22T12:03:03,5Z":    "",
		"2026-11-22T2:03:03Z":       "",
		"2026-11-22T12:03:03+0800":  "",
		// No payment time: before 1970 or after 9999 in UTC (README Time zones).
		"0000-01-01 00:00:00":       "",
		"1969-12-31 23:59:59":       "",
		"9999-12-31 23:59:59":       "9999-12-31T23:59:59Z",
		"0001-01-01T00:00:00Z":      "",
		"9999-12-31T23:59:59-00:01": "",
	} {
		if got := PayTimeRFC3339(in); got != want {
			t.Errorf("PayTimeRFC3339(%q) = %q, want %q", in, got, want)
		}
	}
}

// Vector 4: the refund example of latipay-hosted-online.md.
func TestPrepareRefundKnownAnswer(t *testing.T) {
	call, err := newClient(t, testConfig()).Prepare(context.Background(), "refund", []byte(
		`{"order_id":"dsi39ej430sks03","refund_id":"R-1","amount":"120.00","currency":"NZD","provider_order_id":"23479798sdf7987234","reason":"notes about this refund"}`))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"user_id":"U000334333","order_id":"23479798sdf7987234","refund_amount":"120.00","reference":"notes about this refund","signature":"3052b51072570b743bf9a12a20a45b0adf280aee84907ef0e54d1079fb3f961c"}`
	if call.Method != http.MethodPost || call.Path != "/refund" || call.ContentType != "application/json;charset=UTF-8" || string(call.Body) != want {
		t.Fatalf("call %s %s %q\n got %s\nwant %s", call.Method, call.Path, call.ContentType, call.Body, want)
	}
}

// refund_path overrides Latipay's documented /refund (no version part).
func TestRefundPath(t *testing.T) {
	for path, want := range map[string]string{"": "/refund", "/v2/refund": "/v2/refund", "/api/refund": "/api/refund"} {
		cfg := testConfig()
		cfg.RefundPath = path
		call, err := newClient(t, cfg).Prepare(context.Background(), "refund", []byte(
			`{"order_id":"O-1","refund_id":"R-1","amount":"1.00","currency":"NZD","provider_order_id":"2026112210000001"}`))
		if err != nil || call.Path != want {
			t.Fatalf("refund_path %q: %v, %v", path, call, err)
		}
	}
	for _, bad := range []string{"refund", "/refund?x=1", "/re fund", "https://api.latipay.net/refund"} {
		cfg := testConfig()
		cfg.RefundPath = bad
		if _, err := NewClient(cfg); err == nil || !strings.Contains(err.Error(), "refund_path") {
			t.Fatalf("refund_path %q: %v", bad, err)
		}
	}
}

func TestRefund(t *testing.T) {
	const req = `{"order_id":"O-1","refund_id":"O-1-R1","amount":"2.5","currency":"NZD","total_amount":"12.34","provider_order_id":"2026112210000001"}`
	call, err := newClient(t, testConfig()).Prepare(context.Background(), "refund", []byte(req))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	if err := json.Unmarshal(call.Body, &body); err != nil {
		t.Fatal(err)
	}
	if _, ok := body["reference"]; ok || body["refund_amount"] != "2.50" || body["order_id"] != "2026112210000001" || body["signature"] != refSign(body, vecAPIKey) {
		t.Fatalf("body %v", body)
	}
	const ok = `{"provider":"latipay","order_id":"O-1","refund_id":"O-1-R1","provider_refund_id":"","status":"succeeded","amount":"2.50","currency":"NZD"}`
	tests := []struct {
		name        string
		status      int
		body, want  string
		errStatus   int
		code, pcode string
	}{
		{"documented success", 200, `{"code":0,"message":""}`, ok, 0, "", ""},
		{"string code", 200, `{"code":"0","message":"SUCCESS"}`, ok, 0, "", ""},
		{"code 0.0", 200, `{"code":0.0,"message":"SUCCESS"}`, ok, 0, "", ""},
		{"code 0e0", 200, `{"code":0e0,"message":""}`, ok, 0, "", ""},
		{"code 0.00E+2 on a 4xx is no refusal", 400, `{"code":0.00E+2,"message":""}`, "", 502, transform.CodeUpstreamError, "0"},
		{"with a refund id", 200, `{"code":0,"message":"","refund_id":"RF1"}`, strings.Replace(ok, `"provider_refund_id":""`, `"provider_refund_id":"RF1"`, 1), 0, "", ""},
		{"no code", 200, `{}`, "", 502, transform.CodeUpstreamError, ""},
		{"in excess", 200, `{"code":207,"message":"refund_amount cannot be in excess of order amount"}`, "", 422, transform.CodeProviderRejected, "207"},
		{"unknown order", 200, `{"code":201,"message":"order not exist"}`, "", 422, transform.CodeProviderRejected, "201"},
		{"signature wrong", 200, `{"code":206,"message":"Signature from Merchant request is wrong"}`, "", 502, transform.CodeUpstreamError, "206"},
		{"HTTP 502", 502, `bad gateway`, "", 502, transform.CodeUpstreamError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := call.Decode(tt.status, nil, []byte(tt.body))
			if tt.want != "" {
				if err != nil || string(out) != tt.want {
					t.Fatalf("Decode = %s, %v\nwant %s", out, err, tt.want)
				}
				return
			}
			if e := wantError(t, err, tt.errStatus, tt.code); e.ProviderCode != tt.pcode {
				t.Fatalf("provider_code %q, want %q", e.ProviderCode, tt.pcode)
			}
		})
	}
}

// docs/providers/latipay.md, "query": the sorted form (vector 3) is
// Latipay's current one; an older revision and Latipay's PHP plugin
// (Core.php find(): hash_hmac('sha256', $orderId . $userId, $apiKey)) sign
// the plain concatenation merchant_reference + user_id, "the fallback to
// try" when an account refuses the sorted form with code 206. A 206 asks
// minipay to prepare the query once more in the other form, which the client
// then keeps trying first; a second 206 is the 502 it means. Latipay
// publishes no example of the concatenation; its signature for vector 3's
// parameters was computed outside Go:
//
//	printf '%s' '6000324U000000013' | openssl dgst -sha256 -hmac 111222333
func TestQuerySignatureFallback(t *testing.T) {
	cfg := testConfig()
	cfg.UserID = "U000000013"
	c := newClient(t, cfg)
	const (
		sorted = "58f93f458880120d650611f2452917a25a39edc2f5e3a03baac73a7a49bc81f4" // vector 3
		concat = "3be2c79169037aa54ecd7324be8744049529940ef9c07be66338c920d5ed2b67" // Core.php's formula
		wrong  = `{"code":206,"message":"Signature from Merchant request is wrong"}`
	)
	prepare := func() *transform.Call {
		t.Helper()
		call, err := c.Prepare(context.Background(), "query", []byte(`{"order_id":"6000324"}`))
		if err != nil {
			t.Fatal(err)
		}
		return call
	}
	signature := func(call *transform.Call) string {
		q, err := url.ParseQuery(call.RawQuery)
		if err != nil || q.Get("user_id") != "U000000013" {
			t.Fatalf("query %q", call.RawQuery)
		}
		return q.Get("signature")
	}

	first := prepare()
	if got := signature(first); got != sorted {
		t.Fatalf("first signature %s, want vector 3's %s", got, sorted)
	}
	_, err := first.Decode(200, nil, []byte(wrong))
	if !errors.Is(err, transform.ErrRetry) {
		t.Fatalf("206 on the sorted form: %v, want ErrRetry", err)
	}
	second := prepare()
	if got := signature(second); got != concat {
		t.Fatalf("retried signature %s, want the concatenation's %s", got, concat)
	}
	answer := queryAnswerJSON("6000324", "wechat", "pending", "NZD", `"1.00"`, refNotify("6000324", "wechat", "pending", "NZD", "1.00", vecAPIKey))
	if _, err := second.Decode(200, nil, []byte(answer)); err != nil {
		t.Fatal(err)
	}
	if got := signature(prepare()); got != concat {
		t.Fatalf("after the concatenation worked, the next query signs %s, want %s", got, concat)
	}

	// Both forms refused (a wrong api_key): the retried call's 206 is the
	// answer, a 502 naming Latipay's code.
	_, err = prepare().Decode(200, nil, []byte(wrong))
	if !errors.Is(err, transform.ErrRetry) {
		t.Fatalf("206 on the concatenation: %v, want ErrRetry", err)
	}
	retried := prepare()
	if got := signature(retried); got != sorted {
		t.Fatalf("retried signature %s, want %s", got, sorted)
	}
	_, err = retried.Decode(200, nil, []byte(wrong))
	if e := transform.RetryFinal(err); wantError(t, e, 502, transform.CodeUpstreamError).ProviderCode != "206" {
		t.Fatalf("the final error %v does not name 206", e)
	}
}

// TestRefundPathFallback: without refund_path, a 404 that is no Latipay
// answer (the path does not exist there) sends the refund once more to the
// other of Latipay's two refund paths, which later refunds keep; a 404 on
// both is the 502 it means. A Latipay answer with a code, whatever its
// status, and a configured refund_path are never switched.
func TestRefundPathFallback(t *testing.T) {
	const req = `{"order_id":"O-1","refund_id":"R-1","amount":"1.00","currency":"NZD","provider_order_id":"2026112210000001"}`
	const done = `{"code":0,"message":""}`
	prepare := func(c *Client) *transform.Call {
		t.Helper()
		call, err := c.Prepare(context.Background(), "refund", []byte(req))
		if err != nil {
			t.Fatal(err)
		}
		return call
	}
	type step struct {
		path   string // the path the call goes to
		status int
		body   string
		retry  bool // the answer asks for the refund once more
	}
	notFound := "404 page not found\n"
	for _, tt := range []struct {
		name       string
		refundPath string
		steps      []step
	}{
		{"/refund answers", "", []step{{"/refund", 200, done, false}, {"/refund", 200, done, false}}},
		{"only /v2/refund exists", "", []step{{"/refund", 404, notFound, true}, {"/v2/refund", 200, done, false}, {"/v2/refund", 200, done, false}}},
		{"an HTML 404", "", []step{{"/refund", 404, "<html>Not Found</html>", true}, {"/v2/refund", 200, done, false}}},
		{"neither exists", "", []step{{"/refund", 404, notFound, true}, {"/v2/refund", 404, notFound, true}, {"/refund", 200, done, false}}},
		{"a Latipay answer with a 404", "", []step{{"/refund", 404, `{"code":201,"message":"order not exist"}`, false}, {"/refund", 200, done, false}}},
		// read as every answer is: code given twice is no Latipay answer
		{"a 404 naming code twice", "", []step{{"/refund", 404, `{"code":201,"code":201,"message":"order not exist"}`, true}, {"/v2/refund", 200, done, false}}},
		{"a configured /refund", "/refund", []step{{"/refund", 404, notFound, false}, {"/refund", 200, done, false}}},
		{"a configured /v2/refund", "/v2/refund", []step{{"/v2/refund", 404, notFound, false}, {"/v2/refund", 200, done, false}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.RefundPath = tt.refundPath
			c := newClient(t, cfg)
			for i, s := range tt.steps {
				call := prepare(c)
				if call.Path != s.path {
					t.Fatalf("step %d: refund sent to %s, want %s", i, call.Path, s.path)
				}
				out, err := call.Decode(s.status, nil, []byte(s.body))
				if errors.Is(err, transform.ErrRetry) != s.retry {
					t.Fatalf("step %d: Decode = %s, %v; retry %v", i, out, err, s.retry)
				}
				if s.retry {
					if e := transform.RetryFinal(err); wantError(t, e, 502, transform.CodeUpstreamError) == nil {
						t.Fatal("no final error")
					}
				}
				if s.status == 200 && (err != nil || !strings.Contains(string(out), `"status":"succeeded"`)) {
					t.Fatalf("step %d: Decode = %s, %v", i, out, err)
				}
			}
		})
	}
}
