package twoc2p

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// sentRequest is the inner PaymentRequest read with encoding/xml.
type sentRequest struct {
	XMLName               xml.Name `xml:"PaymentRequest"`
	TimeStamp             string   `xml:"timeStamp"`
	MerchantID            string   `xml:"merchantID"`
	UniqueTransactionCode string   `xml:"uniqueTransactionCode"`
	Desc                  string   `xml:"desc"`
	Amt                   string   `xml:"amt"`
	CurrencyCode          string   `xml:"currencyCode"`
	PanCountry            *string  `xml:"panCountry"`
	CardholderName        *string  `xml:"cardholderName"`
	PaymentChannel        string   `xml:"paymentChannel"`
	UserDefined1          *string  `xml:"userDefined1"`
	BackendReturnURL      *string  `xml:"backendReturnUrl"`
	AppID                 string   `xml:"miniProgramData>wechat>appID"`
	OpenID                string   `xml:"miniProgramData>wechat>openID"`
}

// decodeSent reads a prepared call the way 2C2P would, with the standard
// library only: the form, the envelope, the signature, the payload.
func decodeSent(t *testing.T, body []byte) (sentRequest, string) {
	t.Helper()
	f, err := url.ParseQuery(string(body))
	if err != nil || len(f) != 1 || len(f["paymentRequest"]) != 1 {
		t.Fatalf("body is not the form paymentRequest=…: %q", body)
	}
	env, err := refOpen(f["paymentRequest"][0])
	if err != nil || env.XMLName.Local != "PaymentRequest" || env.Version != "9.9" {
		t.Fatalf("envelope %+v: %v", env, err)
	}
	if env.Signature != refSign(env.Payload, demoSecretKey) {
		t.Fatalf("signature %s, want %s", env.Signature, refSign(env.Payload, demoSecretKey))
	}
	inner, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var r sentRequest
	if err := xml.Unmarshal(inner, &r); err != nil {
		t.Fatalf("payload %s: %v", inner, err)
	}
	return r, string(inner)
}

func strp(s string) *string { return &s }

func TestPayRequest(t *testing.T) {
	base := `"order_id":"ORDER-1","openid":"` + testOpenID + `"`
	tests := []struct {
		name, body, panCountry string
		want                   sentRequest
		wantInner              string // a substring of the raw payload
	}{
		{"SGD", `{` + base + `,"amount":"12.34","currency":"SGD","description":"Kaya toast"}`, "",
			sentRequest{Desc: "Kaya toast", Amt: "000000001234", CurrencyCode: "702"}, ""},
		{"JPY has no minor unit", `{` + base + `,"amount":"100","currency":"JPY","description":"Matcha"}`, "",
			sentRequest{Desc: "Matcha", Amt: "000000000100", CurrencyCode: "392"}, ""},
		{"THB", `{` + base + `,"amount":"1.00","currency":"THB","description":"Cha yen"}`, "",
			sentRequest{Desc: "Cha yen", Amt: "000000000100", CurrencyCode: "764"}, ""},
		// the rest of docs/providers/2c2p.md's numeric codes (HKD 344, MYR
		// 458, PHP 608, IDR 360, USD 840, CNY 156), each with its ISO 4217
		// exponent: two decimals, IDR's included
		{"HKD", `{` + base + `,"amount":"38.5","currency":"HKD","description":"x"}`, "",
			sentRequest{Desc: "x", Amt: "000000003850", CurrencyCode: "344"}, ""},
		{"MYR", `{` + base + `,"amount":"0.01","currency":"MYR","description":"x"}`, "",
			sentRequest{Desc: "x", Amt: "000000000001", CurrencyCode: "458"}, ""},
		{"PHP", `{` + base + `,"amount":"150","currency":"PHP","description":"x"}`, "",
			sentRequest{Desc: "x", Amt: "000000015000", CurrencyCode: "608"}, ""},
		{"IDR", `{` + base + `,"amount":"25000","currency":"IDR","description":"x"}`, "",
			sentRequest{Desc: "x", Amt: "000002500000", CurrencyCode: "360"}, ""},
		{"USD", `{` + base + `,"amount":"1.00","currency":"USD","description":"x"}`, "",
			sentRequest{Desc: "x", Amt: "000000000100", CurrencyCode: "840"}, ""},
		{"CNY", `{` + base + `,"amount":"12.34","currency":"CNY","description":"x"}`, "",
			sentRequest{Desc: "x", Amt: "000000001234", CurrencyCode: "156"}, ""},
		// ISO 4217 exponents other than 2 (github.com/bojanz/currency's table), numeric codes as ISO writes them
		{"KWD has three decimals", `{` + base + `,"amount":"1.234","currency":"KWD","description":"x"}`, "",
			sentRequest{Desc: "x", Amt: "000000001234", CurrencyCode: "414"}, ""},
		{"KWD with fewer decimals than it has", `{` + base + `,"amount":"1.2","currency":"KWD","description":"x"}`, "",
			sentRequest{Desc: "x", Amt: "000000001200", CurrencyCode: "414"}, ""},
		{"BHD: its numeric code keeps the leading zero", `{` + base + `,"amount":"0.001","currency":"BHD","description":"x"}`, "",
			sentRequest{Desc: "x", Amt: "000000000001", CurrencyCode: "048"}, ""},
		{"CLF has four decimals", `{` + base + `,"amount":"1.2345","currency":"CLF","description":"x"}`, "",
			sentRequest{Desc: "x", Amt: "000000012345", CurrencyCode: "990"}, ""},
		{"VND has no minor unit", `{` + base + `,"amount":"123456789","currency":"VND","description":"x"}`, "",
			sentRequest{Desc: "x", Amt: "000123456789", CurrencyCode: "704"}, ""},
		{"KRW has no minor unit", `{` + base + `,"amount":"5","currency":"KRW","description":"x"}`, "",
			sentRequest{Desc: "x", Amt: "000000000005", CurrencyCode: "410"}, ""},
		{"largest three-decimal amount", `{` + base + `,"amount":"999999999.999","currency":"KWD","description":"x"}`, "",
			sentRequest{Desc: "x", Amt: "999999999999", CurrencyCode: "414"}, ""},
		{"largest amount", `{` + base + `,"amount":"9999999999.99","currency":"SGD","description":"x"}`, "",
			sentRequest{Desc: "x", Amt: "999999999999", CurrencyCode: "702"}, ""},
		{"desc escaped", `{` + base + `,"amount":"1","currency":"SGD","description":"Tea <\"Special\"> & 'more'\n茶"}`, "",
			sentRequest{Desc: "Tea <\"Special\"> & 'more'\n茶", Amt: "000000000100", CurrencyCode: "702"},
			"<desc>Tea &lt;\"Special\"&gt; &amp; 'more'\n茶</desc>"},
		{"country, payer, attach, notify_url", `{` + base + `,"amount":"1","currency":"SGD","description":"x","country":"TH","payer_name":"Somchai & Co","attach":"table=7","notify_url":"https://shop.example/webhooks/2c2p?a=1&b=2"}`, "SG",
			sentRequest{Desc: "x", Amt: "000000000100", CurrencyCode: "702", PanCountry: strp("TH"), CardholderName: strp("Somchai & Co"),
				UserDefined1: strp("table=7"), BackendReturnURL: strp("https://shop.example/webhooks/2c2p?a=1&b=2")}, ""},
		{"pan_country from the configuration", `{` + base + `,"amount":"1","currency":"SGD","description":"x"}`, "SG",
			sentRequest{Desc: "x", Amt: "000000000100", CurrencyCode: "702", PanCountry: strp("SG")}, ""},
		{"notify_url from the configuration", `{` + base + `,"amount":"1","currency":"SGD","description":"x"}`, "",
			sentRequest{Desc: "x", Amt: "000000000100", CurrencyCode: "702", BackendReturnURL: strp(configNotifyURL)}, ""},
		{"the request's notify_url wins", `{` + base + `,"amount":"1","currency":"SGD","description":"x","notify_url":"https://shop.example/n"}`, "",
			sentRequest{Desc: "x", Amt: "000000000100", CurrencyCode: "702", BackendReturnURL: strp("https://shop.example/n")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.PanCountry = tt.panCountry
			if strings.HasPrefix(tt.name, "notify_url from") || strings.HasPrefix(tt.name, "the request's notify_url") {
				cfg.NotifyURL = configNotifyURL
			}
			call, err := newClient(t, cfg).Prepare(context.Background(), "pay", []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if call.Method != http.MethodPost || call.Path != DefaultPaymentPath || call.ContentType != "application/x-www-form-urlencoded" || call.OrderID != "ORDER-1" {
				t.Fatalf("call %s %s %s %s", call.Method, call.Path, call.ContentType, call.OrderID)
			}
			got, inner := decodeSent(t, call.Body)
			want := tt.want
			want.XMLName = got.XMLName
			want.TimeStamp, want.MerchantID, want.UniqueTransactionCode = "221126090000", demoMerchantID, "ORDER-1"
			want.PaymentChannel, want.AppID, want.OpenID = "WCMINI", testAppID, testOpenID
			if !equalSent(got, want) {
				t.Fatalf("sent %+v\nwant %+v\n%s", got, want, inner)
			}
			if !strings.HasPrefix(inner, "<PaymentRequest><timeStamp>") || !strings.HasSuffix(inner,
				"<miniProgramData><wechat><appID>"+testAppID+"</appID><openID>"+testOpenID+"</openID></wechat></miniProgramData></PaymentRequest>") {
				t.Fatalf("payload layout: %s", inner)
			}
			if !strings.Contains(inner, tt.wantInner) {
				t.Fatalf("payload %s lacks %s", inner, tt.wantInner)
			}
		})
	}
}

// configNotifyURL is a provider-level notify_url: the backend URL the
// merchant registered with 2C2P, sent when the request names none.
const configNotifyURL = "https://pay.example.com/webhooks/2c2p"

func equalSent(a, b sentRequest) bool {
	eq := func(x, y *string) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	return a.TimeStamp == b.TimeStamp && a.MerchantID == b.MerchantID && a.UniqueTransactionCode == b.UniqueTransactionCode &&
		a.Desc == b.Desc && a.Amt == b.Amt && a.CurrencyCode == b.CurrencyCode && eq(a.PanCountry, b.PanCountry) &&
		eq(a.CardholderName, b.CardholderName) && a.PaymentChannel == b.PaymentChannel && eq(a.UserDefined1, b.UserDefined1) &&
		eq(a.BackendReturnURL, b.BackendReturnURL) && a.AppID == b.AppID && a.OpenID == b.OpenID
}

func TestPayRequestRefused(t *testing.T) {
	c := newClient(t, testConfig())
	base := `"order_id":"ORDER-1","amount":"1.00","currency":"SGD","description":"x","openid":"o"`
	tests := []struct{ name, op, body, field string }{
		{"too many decimals", "pay", `{"order_id":"O1","amount":"1.001","currency":"SGD","description":"x","openid":"o"}`, "amount"},
		{"JPY decimals", "pay", `{"order_id":"O1","amount":"1.5","currency":"JPY","description":"x","openid":"o"}`, "amount"},
		{"unknown currency", "pay", `{"order_id":"O1","amount":"1","currency":"XYZ","description":"x","openid":"o"}`, "currency"},
		{"too large for amt", "pay", `{"order_id":"O1","amount":"10000000000","currency":"SGD","description":"x","openid":"o"}`, "amount"},
		{"KWD with four decimals", "pay", `{"order_id":"O1","amount":"1.2345","currency":"KWD","description":"x","openid":"o"}`, "amount"},
		{"too large for amt in KWD", "pay", `{"order_id":"O1","amount":"1000000000","currency":"KWD","description":"x","openid":"o"}`, "amount"},
		{"a metal has no minor unit (XAU)", "pay", `{"order_id":"O1","amount":"1","currency":"XAU","description":"x","openid":"o"}`, "currency"},
		{"lower-case currency", "pay", `{"order_id":"O1","amount":"1","currency":"sgd","description":"x","openid":"o"}`, "currency"},
		{"lower-case country", "pay", `{` + base + `,"country":"sg"}`, "country"},
		{"alpha-3 country", "pay", `{` + base + `,"country":"SGP"}`, "country"},
		{"control character in description", "pay", `{"order_id":"O1","amount":"1","currency":"SGD","description":"a\u0001b","openid":"o"}`, "description"},
		{"control character in payer_name", "pay", `{` + base + `,"payer_name":"a\u0000"}`, "payer_name"},
		{"notify_url not absolute", "pay", `{` + base + `,"notify_url":"/webhooks/2c2p"}`, "notify_url"},
		{"notify_url not http", "pay", `{` + base + `,"notify_url":"ftp://x.example/"}`, "notify_url"},
		{"unknown field", "pay", `{` + base + `,"tip":"1"}`, "tip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Prepare(context.Background(), tt.op, []byte(tt.body))
			if e := wantError(t, err, 400, "invalid_request"); e.Field != tt.field {
				t.Fatalf("field %q, want %q", e.Field, tt.field)
			}
		})
	}
	for _, op := range []string{"query", "refund", "close", "login"} {
		if c.Supports(op) {
			t.Fatalf("supports %s", op)
		}
		_, err := c.Prepare(context.Background(), op, []byte(`{"order_id":"O1"}`))
		wantError(t, err, 404, "unknown_operation")
	}
	if !c.Supports("pay") {
		t.Fatal("pay unsupported")
	}
}

func TestPayAnswer(t *testing.T) {
	c := newClient(t, testConfig())
	call, err := c.Prepare(context.Background(), "pay",
		[]byte(`{"order_id":"ORDER-1","amount":"12.34","currency":"SGD","description":"Kaya toast","openid":"`+testOpenID+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	ok := refSeal(RootResponse, answerXML(), demoSecretKey)
	wantObject := map[string]string{
		"timeStamp": "1795346400", "nonceStr": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
		"package": "prepay_id=wx2026112210000012345678901234567890", "signType": "HMAC-SHA256",
		"paySign":  "86641182781CC02AFAFDE56FD441760023D2BA8AE9F6FFB47F25C9D344DA1D87",
		"provider": "2c2p", "order_id": "ORDER-1", "provider_order_id": "3200632",
	}
	html := http.Header{"Content-Type": {"text/html; charset=utf-8"}}
	tests := []struct {
		name                   string
		status                 int
		header                 http.Header
		body                   []byte
		wantStatus             int
		wantCode               string
		providerCode, provider string
		want                   map[string]string // overrides of wantObject
	}{
		{"respCode 32", 200, html, []byte(ok), 200, "", "", "", nil},
		{"respCode 32, gzip body left compressed", 200, html, gzipped([]byte(ok)), 200, "", "", "", nil},
		{"respCode 32 as a form", 200, nil, form(FieldResponse, ok), 200, "", "", "", nil},
		{"respCode 32 without tranRef", 200, html, []byte(refSeal(RootResponse, answerXML(without("tranRef")...), demoSecretKey)), 200, "", "", "",
			map[string]string{"provider_order_id": ""}},
		{"timeStamp as a JSON number", 200, html, []byte(refSeal(RootResponse, answerXML("miniProgramData",
			`<wechat>{"timeStamp":1795346400,"package":"prepay_id=wx1","nonceStr":"n","signType":"MD5","paySign":"S","appId":"wx8888888888888888"}</wechat>`), demoSecretKey)),
			200, "", "", "", map[string]string{"package": "prepay_id=wx1", "nonceStr": "n", "signType": "MD5", "paySign": "S"}},
		{"the approved demo answer (respCode 00)", 200, html, []byte(demoApproved), 422, "provider_rejected", "00", "Approved", nil},
		{"the declined demo answer (respCode 99)", 200, html, []byte(demoDeclined), 422, "provider_rejected", "99", "Invalid Card Number.", nil},
		{"declined, gzip", 200, html, gzipped([]byte(demoDeclined)), 422, "provider_rejected", "99", "Invalid Card Number.", nil},
		{"signed with another key", 200, html, []byte(refSeal(RootResponse, answerXML(), otherKey)), 502, "upstream_signature_invalid", "", "", nil},
		{"unsigned", 200, html, []byte(base64.StdEncoding.EncodeToString([]byte("<PaymentResponse><payload>" +
			base64.StdEncoding.EncodeToString([]byte(answerXML())) + "</payload></PaymentResponse>"))), 502, "upstream_signature_invalid", "", "", nil},
		{"refusal signed with another key", 200, html, []byte(refSeal(RootResponse, answerXML("respCode", "99"), otherKey)), 502, "upstream_signature_invalid", "", "", nil},
		{"HTTP 500", 500, html, []byte(ok), 502, "upstream_error", "", "", nil},
		{"HTML error page", 200, html, []byte("<html><body>Server Error</body></html>"), 502, "upstream_error", "", "", nil},
		{"empty", 200, html, nil, 502, "upstream_error", "", "", nil},
		{"another merchant", 200, html, []byte(refSeal(RootResponse, answerXML("merchantID", "JT02"), demoSecretKey)), 502, "upstream_error", "", "", nil},
		{"another order", 200, html, []byte(refSeal(RootResponse, answerXML("uniqueTransactionCode", "ORDER-2"), demoSecretKey)), 502, "upstream_error", "", "", nil},
		// the signature does not bind an answer to its request: only the order it names does
		{"no order", 200, html, []byte(refSeal(RootResponse, answerXML(without("uniqueTransactionCode")...), demoSecretKey)), 502, "upstream_error", "", "", nil},
		{"no order, no merchantID", 200, html, []byte(refSeal(RootResponse, answerXML(without("uniqueTransactionCode")[0], "-", "merchantID", "-"), demoSecretKey)), 502, "upstream_error", "", "", nil},
		{"an empty order", 200, html, []byte(refSeal(RootResponse, answerXML("uniqueTransactionCode", ""), demoSecretKey)), 502, "upstream_error", "", "", nil},
		{"no merchantID: this merchant's (its key signed it)", 200, html, []byte(refSeal(RootResponse, answerXML(without("merchantID")...), demoSecretKey)), 200, "", "", "", nil},
		{"a refusal naming no order is still 2C2P's refusal", 200, html, []byte(refSeal(RootResponse, answerXML("respCode", "99", "status", "F", "failReason", "Invalid merchant ID.", "uniqueTransactionCode", "-"), demoSecretKey)), 422, "provider_rejected", "99", "Invalid merchant ID.", nil},
		{"another order, lower case", 200, html, []byte(refSeal(RootResponse, answerXML("uniqueTransactionCode", "order-1"), demoSecretKey)), 502, "upstream_error", "", "", nil},
		{"no respCode", 200, html, []byte(refSeal(RootResponse, answerXML(without("respCode")...), demoSecretKey)), 502, "upstream_error", "", "", nil},
		{"32 without miniProgramData", 200, html, []byte(refSeal(RootResponse, answerXML(without("miniProgramData")...), demoSecretKey)), 502, "upstream_error", "", "", nil},
		{"32 with an incomplete object", 200, html, []byte(refSeal(RootResponse, answerXML("miniProgramData", `<wechat>{"timeStamp":"1","package":"p"}</wechat>`), demoSecretKey)), 502, "upstream_error", "", "", nil},
		// The object is read by its exact member names, once (as a strict
		// reader reads it): paySign twice is no wx.requestPayment object,
		// PAYSIGN is not paySign.
		{"32 with paySign twice", 200, html, []byte(refSeal(RootResponse, answerXML("miniProgramData", `<wechat>{"timeStamp":"1","package":"p","nonceStr":"n","signType":"MD5","paySign":"A","paySign":"B"}</wechat>`), demoSecretKey)), 502, "upstream_error", "", "", nil},
		{"32 with PAYSIGN after paySign", 200, html, []byte(refSeal(RootResponse, answerXML("miniProgramData", `<wechat>{"timeStamp":"1","package":"p","nonceStr":"n","signType":"MD5","paySign":"A","PAYSIGN":"B"}</wechat>`), demoSecretKey)), 200, "", "", "",
			map[string]string{"timeStamp": "1", "package": "p", "nonceStr": "n", "signType": "MD5", "paySign": "A"}},
		// timeStamp is Unix seconds in decimal digits, as wechat_v2/v3 make it:
		// a float's spelling is not rewritten (paySign signs the text).
		{"32 with a float timeStamp", 200, html, []byte(refSeal(RootResponse, answerXML("miniProgramData", `<wechat>{"timeStamp":1795346400.0,"package":"p","nonceStr":"n","signType":"MD5","paySign":"A"}</wechat>`), demoSecretKey)), 502, "upstream_error", "", "", nil},
		{"32 with a timeStamp string with a fraction", 200, html, []byte(refSeal(RootResponse, answerXML("miniProgramData", `<wechat>{"timeStamp":"1795346400.0","package":"p","nonceStr":"n","signType":"MD5","paySign":"A"}</wechat>`), demoSecretKey)), 502, "upstream_error", "", "", nil},
		{"32 with an object value", 200, html, []byte(refSeal(RootResponse, answerXML("miniProgramData", `<wechat>{"timeStamp":"1","package":"p","nonceStr":"n","signType":"MD5","paySign":{"x":1}}</wechat>`), demoSecretKey)), 502, "upstream_error", "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := call.Decode(tt.status, tt.header, tt.body)
			if tt.wantStatus != 200 {
				e := wantError(t, err, tt.wantStatus, tt.wantCode)
				if e.ProviderCode != tt.providerCode || e.ProviderMessage != tt.provider {
					t.Fatalf("provider_code %q message %q", e.ProviderCode, e.ProviderMessage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{}
			for k, v := range wantObject {
				want[k] = v
			}
			for k, v := range tt.want {
				want[k] = v
			}
			if want["provider_order_id"] == "" {
				delete(want, "provider_order_id")
			}
			if len(got) != len(want) {
				t.Fatalf("answer %s, want %v", out, want)
			}
			for k, v := range want {
				if got[k] != v {
					t.Fatalf("%s = %v, want %q: %s", k, got[k], v, out)
				}
			}
		})
	}
}

// A carriage return reaches 2C2P as sent (a raw one would be read as "\n").
func TestPayKeepsCarriageReturn(t *testing.T) {
	req := &transform.PayRequest{OrderID: "O1", Amount: "1", Currency: "SGD", Description: "a\r\nb", OpenID: "o"}
	call, err := newClient(t, testConfig()).Pay(transformtest.Valid(t, req))
	if err != nil {
		t.Fatal(err)
	}
	if got, inner := decodeSent(t, call.Body); got.Desc != "a\r\nb" || !strings.Contains(inner, "<desc>a&#xD;\nb</desc>") {
		t.Fatalf("desc %q in %s", got.Desc, inner)
	}
}
