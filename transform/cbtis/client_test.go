package cbtis

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

const payJSON = `{"order_id":"P9297895081903","amount":"1","currency":"HKD","description":"Mini Program Payment","openid":"oqZa55Qo-u0cVViWMAgv_YbyXb4U"}`

// createAnswer has the shape of the create answer in docs/providers/cbtis.md "Endpoints" (the
// docs elide the values; these are illustrative).
const createAnswer = `{"code":0,"data":{"order_id":"C34368224017070001","merchant_order_id":"P9297895081903","amount":"1.00","currency":"HKD",
 "create_time":"2023-08-23T18:25:43.511Z","next_action":{"type":"call_sdk","data":{"appId":"wx7bc98d929da735fe",
 "nonceStr":"c5sEa2Dgh9o4qw1kMHsmqcyU2ZM6JcA7","package":"prepay_id=wx23182543511290d1f5b7b4e1e0d2a90000",
 "paySign":"Rm9vQmFyU2lnbmF0dXJlQmFzZTY0PT0=","signType":"RSA","timeStamp":"1692815143"}},"status":"PENDING"},
 "message":"ok","rid":"8f1c2d"}`

func TestClientSupports(t *testing.T) {
	c := newTestClient(t, testConfig("https://cbtis.example/mch-api/v1/auth"), nil)
	for op, want := range map[string]bool{"pay": true, "query": true, "close": false, "refund": false, "login": false, "": false} {
		if got := c.Supports(op); got != want {
			t.Errorf("Supports(%q) = %v", op, got)
		}
	}
}

// docs/providers/cbtis.md "Endpoints": the create body, amount a decimal string in major units,
// the bearer token in Authorization.
func TestPreparePay(t *testing.T) {
	ts := newTokenServer(t)
	tests := []struct {
		name, body, want string
	}{
		{"the documented example", payJSON,
			`{"amount":"1.00","currency":"HKD","merchant_order_id":"P9297895081903","payment_method":{"type":"wechat","wechat":{"flow":"mini_program","sub_appid":"wx7bc98d929da735fe","sub_openid":"oqZa55Qo-u0cVViWMAgv_YbyXb4U"}},"description":"Mini Program Payment","notify_url":"https://merchant.example/notify"}`},
		{"CNY cents, request notify_url wins, fields CBTIS lacks dropped",
			`{"order_id":"O-2","amount":"12.3","currency":"CNY","description":"拿铁 <大>","openid":"o1","notify_url":"https://other.example/n?x=1&y=2","client_ip":"203.0.113.7","attach":"a","expire_at":"2026-11-22T02:30:00Z"}`,
			`{"amount":"12.30","currency":"CNY","merchant_order_id":"O-2","payment_method":{"type":"wechat","wechat":{"flow":"mini_program","sub_appid":"wx7bc98d929da735fe","sub_openid":"o1"}},"description":"拿铁 <大>","notify_url":"https://other.example/n?x=1&y=2"}`},
		{"merchant_order_id of 32, CBTIS's most", `{"order_id":"` + strings.Repeat("P", 32) + `","amount":"1","currency":"HKD","description":"d","openid":"o1"}`,
			`{"amount":"1.00","currency":"HKD","merchant_order_id":"` + strings.Repeat("P", 32) + `","payment_method":{"type":"wechat","wechat":{"flow":"mini_program","sub_appid":"wx7bc98d929da735fe","sub_openid":"o1"}},"description":"d","notify_url":"https://merchant.example/notify"}`},
		{"JPY has no decimals", `{"order_id":"O-3","amount":"100","currency":"JPY","description":"d","openid":"o1"}`,
			`{"amount":"100","currency":"JPY","merchant_order_id":"O-3","payment_method":{"type":"wechat","wechat":{"flow":"mini_program","sub_appid":"wx7bc98d929da735fe","sub_openid":"o1"}},"description":"d","notify_url":"https://merchant.example/notify"}`},
	}
	c := newTestClient(t, testConfig(ts.URL()), newClock()) // the pinned clock: expire_at is ahead of it
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call, err := c.Prepare(context.Background(), "pay", []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if call.Method != http.MethodPost || call.Path != "/mch-api/v1/pa/payment_intents/create" || call.RawQuery != "" ||
				call.ContentType != "application/json" || call.Decode == nil {
				t.Fatalf("call %s %s?%s %q", call.Method, call.Path, call.RawQuery, call.ContentType)
			}
			if string(call.Body) != tt.want {
				t.Fatalf("body\n got %s\nwant %s", call.Body, tt.want)
			}
			if len(call.Header) != 1 || call.Header.Get("Authorization") != "Bearer tok-1" {
				t.Fatalf("header %v", call.Header)
			}
		})
	}
	t.Run("no notify_url anywhere: left out", func(t *testing.T) {
		cfg := testConfig(ts.URL())
		cfg.NotifyURL = ""
		call, err := newTestClient(t, cfg, nil).Prepare(context.Background(), "pay", []byte(payJSON))
		if err != nil || strings.Contains(string(call.Body), "notify_url") {
			t.Fatalf("%s %v", call.Body, err)
		}
	})
}

func TestPrepareQuery(t *testing.T) {
	ts := newTokenServer(t)
	call, err := newTestClient(t, testConfig(ts.URL()), nil).Prepare(context.Background(), "query", []byte(`{"order_id":"P9297895081903"}`))
	if err != nil {
		t.Fatal(err)
	}
	if call.Path != "/mch-api/v1/pa/payment_intents/query" || call.Method != http.MethodPost || call.OrderID != "P9297895081903" ||
		string(call.Body) != `{"merchant_order_id":"P9297895081903"}` || call.Header.Get("Authorization") != "Bearer tok-1" {
		t.Fatalf("call %s %s %s %v", call.Method, call.Path, call.Body, call.Header)
	}
}

// Invalid merchant requests fail before any token is fetched.
func TestPrepareErrors(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestClient(t, testConfig(ts.URL()), nil)
	tests := []struct {
		name, op, body string
		status         int
		code, field    string
	}{
		{"refund is not a cbtis operation", "refund", `{}`, 404, transform.CodeUnknownOperation, ""},
		{"close is not a cbtis operation", "close", `{"order_id":"O1"}`, 404, transform.CodeUnknownOperation, ""},
		{"missing openid", "pay", `{"order_id":"O1","amount":"1","currency":"HKD","description":"d"}`, 400, transform.CodeInvalidRequest, "openid"},
		{"too many decimals", "pay", `{"order_id":"O1","amount":"1.001","currency":"HKD","description":"d","openid":"o"}`, 400, transform.CodeInvalidRequest, "amount"},
		{"unknown currency", "pay", `{"order_id":"O1","amount":"1","currency":"XXY","description":"d","openid":"o"}`, 400, transform.CodeInvalidRequest, "currency"},
		// docs/providers/cbtis.md: description is required, merchant_order_id at most 32
		{"missing description", "pay", `{"order_id":"O1","amount":"1","currency":"HKD","openid":"o"}`, 400, transform.CodeInvalidRequest, "description"},
		{"order id over 32", "pay", `{"order_id":"` + strings.Repeat("A", 33) + `","amount":"1","currency":"HKD","description":"d","openid":"o"}`, 400, transform.CodeInvalidRequest, "order_id"},
		{"relative notify_url", "pay", `{"order_id":"O1","amount":"1","currency":"HKD","description":"d","openid":"o","notify_url":"/n"}`, 400, transform.CodeInvalidRequest, "notify_url"},
		{"unknown field", "pay", `{"order_id":"O1","sub_appid":"wx"}`, 400, transform.CodeInvalidRequest, "sub_appid"},
		{"query without order_id", "query", `{}`, 400, transform.CodeInvalidRequest, "order_id"},
		{"query by provider id is not a field", "query", `{"merchant_order_id":"O1"}`, 400, transform.CodeInvalidRequest, "merchant_order_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call, err := c.Prepare(context.Background(), tt.op, []byte(tt.body))
			transformtest.NothingToSend(t, call)
			if e := wantError(t, err, tt.status, tt.code); e.Field != tt.field {
				t.Fatalf("field %q, want %q", e.Field, tt.field)
			}
		})
	}
	if ts.Fetches() != 0 {
		t.Fatalf("%d token fetches for invalid requests", ts.Fetches())
	}
}

func preparedCall(t *testing.T, op, body string) *transform.Call {
	t.Helper()
	ts := newTokenServer(t)
	call, err := newTestClient(t, testConfig(ts.URL()), nil).Prepare(context.Background(), op, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return call
}

// The wx.requestPayment object is next_action.data as CBTIS signed it.
func TestDecodePay(t *testing.T) {
	call := preparedCall(t, "pay", payJSON)
	out, err := call.Decode(200, http.Header{"Content-Type": {"application/json"}}, []byte(createAnswer))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"timeStamp":"1692815143","nonceStr":"c5sEa2Dgh9o4qw1kMHsmqcyU2ZM6JcA7","package":"prepay_id=wx23182543511290d1f5b7b4e1e0d2a90000",` +
		`"signType":"RSA","paySign":"Rm9vQmFyU2lnbmF0dXJlQmFzZTY0PT0=","provider":"cbtis","order_id":"P9297895081903","provider_order_id":"C34368224017070001"}`
	if string(out) != want {
		t.Fatalf("pay answer\n got %s\nwant %s", out, want)
	}
	// a numeric timeStamp and code "0" as a string are read as text
	numeric := strings.Replace(strings.Replace(createAnswer, `"timeStamp":"1692815143"`, `"timeStamp":1692815143`, 1), `"code":0`, `"code":"0"`, 1)
	out, err = call.Decode(200, nil, []byte(numeric))
	var m map[string]string
	if err != nil || json.Unmarshal(out, &m) != nil || m["timeStamp"] != "1692815143" {
		t.Fatalf("numeric timeStamp: %s %v", out, err)
	}
}

// code 0 is success however the answer's serializer writes it: a number
// (0, a float's 0.0, -0, 0e0) or a string "0". 0.0 was a 422.
func TestDecodeZeroCode(t *testing.T) {
	for _, code := range []string{`0`, `"0"`, `0.0`, `-0`, `0e0`, `-0.000E-5`} {
		t.Run(code, func(t *testing.T) {
			out, err := preparedCall(t, "pay", payJSON).Decode(200, nil, []byte(strings.Replace(createAnswer, `"code":0`, `"code":`+code, 1)))
			var m map[string]string
			if err != nil || json.Unmarshal(out, &m) != nil || m["provider_order_id"] != "C34368224017070001" || m["signType"] != "RSA" {
				t.Fatalf("%s %v", out, err)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name         string
		op           string
		status       int
		body         string
		wantStatus   int
		code         string
		providerCode string
		providerMsg  string
	}{
		{"business refusal", "pay", 200, `{"code":40002,"message":"duplicate merchant_order_id","rid":"r"}`, 422, transform.CodeProviderRejected, "40002", "duplicate merchant_order_id"},
		{"business refusal, string code", "query", 200, `{"code":"ORDER_NOT_FOUND","message":"order not found"}`, 422, transform.CodeProviderRejected, "ORDER_NOT_FOUND", "order not found"},
		{"code not zero, as a float", "pay", 200, `{"code":40001.0,"message":"bad"}`, 422, transform.CodeProviderRejected, "40001.0", "bad"},
		{"code not zero, only tiny", "pay", 200, `{"code":1e-400,"message":"bad"}`, 422, transform.CodeProviderRejected, "1e-400", "bad"},
		{"HTTP 500 with an envelope", "pay", 500, `{"code":50000,"message":"internal"}`, 502, transform.CodeUpstreamError, "50000", "internal"},
		// README "Errors": the provider's text is cut to MaxProviderText bytes.
		{"HTTP 500 with a long message", "pay", 500, `{"code":50000,"message":"` + strings.Repeat("x", 300) + `"}`, 502, transform.CodeUpstreamError, "50000", strings.Repeat("x", transform.MaxProviderText)},
		{"HTTP 400 with a code", "pay", 400, `{"code":40001,"message":"invalid amount","rid":"r"}`, 422, transform.CodeProviderRejected, "40001", "invalid amount"},
		{"HTTP 404 with a string code", "query", 404, `{"code":"ORDER_NOT_FOUND","message":"order not found"}`, 422, transform.CodeProviderRejected, "ORDER_NOT_FOUND", "order not found"},
		{"HTTP 400 with code 0", "pay", 400, `{"code":0,"message":"ok"}`, 502, transform.CodeUpstreamError, "0", "ok"},
		{"HTTP 400 without a code", "pay", 400, `{"message":"bad request"}`, 502, transform.CodeUpstreamError, "", "bad request"},
		{"HTTP 503 with a code", "pay", 503, `{"code":50300,"message":"busy"}`, 502, transform.CodeUpstreamError, "50300", "busy"},
		// a rate limit is the request's rate at fault, not the order (README Errors, as WeChat v3's 429)
		{"HTTP 429 with a code", "pay", 429, `{"code":42900,"message":"too many requests"}`, 502, transform.CodeUpstreamError, "42900", "too many requests"},
		{"HTTP 403 HTML", "pay", 403, `<html>forbidden</html>`, 502, transform.CodeUpstreamError, "", ""},
		{"not JSON", "pay", 200, `<xml/>`, 502, transform.CodeUpstreamError, "", ""},
		{"no code", "pay", 200, `{"data":{}}`, 502, transform.CodeUpstreamError, "", ""},
		{"no data", "pay", 200, `{"code":0,"message":"ok"}`, 502, transform.CodeUpstreamError, "", ""},
		{"data not an object", "query", 200, `{"code":0,"data":"x"}`, 502, transform.CodeUpstreamError, "", ""},
		{"no next_action", "pay", 200, `{"code":0,"data":{"order_id":"C1","status":"PENDING"}}`, 502, transform.CodeUpstreamError, "", ""},
		{"no paySign", "pay", 200, strings.Replace(createAnswer, `"paySign":"Rm9vQmFyU2lnbmF0dXJlQmFzZTY0PT0=",`, "", 1), 502, transform.CodeUpstreamError, "", ""},
		{"another order", "pay", 200, strings.Replace(createAnswer, `"merchant_order_id":"P9297895081903"`, `"merchant_order_id":"OTHER"`, 1), 502, transform.CodeUpstreamError, "", ""},
		{"no merchant_order_id", "pay", 200, strings.Replace(createAnswer, `"merchant_order_id":"P9297895081903",`, ``, 1), 502, transform.CodeUpstreamError, "", ""},
		{"query for another order", "query", 200, `{"code":0,"data":{"order_id":"C1","merchant_order_id":"OTHER","status":"SUCCEEDED"}}`, 502, transform.CodeUpstreamError, "", ""},
		{"query without merchant_order_id", "query", 200, `{"code":0,"data":{"order_id":"C1","status":"SUCCEEDED"}}`, 502, transform.CodeUpstreamError, "", ""},
		// wx.requestPayment's timeStamp is a string of decimal digits (as
		// wechat_v2's and wechat_v3's are made): a float's spelling is not
		// normalised into one, since paySign signs the text.
		{"timeStamp a float", "pay", 200, strings.Replace(createAnswer, `"timeStamp":"1692815143"`, `"timeStamp":1490840662.0`, 1), 502, transform.CodeUpstreamError, "", ""},
		{"timeStamp with an exponent", "pay", 200, strings.Replace(createAnswer, `"timeStamp":"1692815143"`, `"timeStamp":1.490840662e9`, 1), 502, transform.CodeUpstreamError, "", ""},
		{"timeStamp a string with a fraction", "pay", 200, strings.Replace(createAnswer, `"timeStamp":"1692815143"`, `"timeStamp":"1490840662.0"`, 1), 502, transform.CodeUpstreamError, "", ""},
		{"timeStamp negative", "pay", 200, strings.Replace(createAnswer, `"timeStamp":"1692815143"`, `"timeStamp":-1692815143`, 1), 502, transform.CodeUpstreamError, "", ""},
		{"timeStamp with a space", "pay", 200, strings.Replace(createAnswer, `"timeStamp":"1692815143"`, `"timeStamp":" 1692815143"`, 1), 502, transform.CodeUpstreamError, "", ""},
		{"field of the wrong shape", "pay", 200, strings.Replace(createAnswer, `"paySign":"Rm9vQmFyU2lnbmF0dXJlQmFzZTY0PT0="`, `"paySign":{"a":1}`, 1), 502, transform.CodeUpstreamError, "", ""},
		{"query without status", "query", 200, `{"code":0,"data":{"order_id":"C1","merchant_order_id":"P9297895081903"}}`, 502, transform.CodeUpstreamError, "", ""},
		{"query with a bad amount", "query", 200, `{"code":0,"data":{"merchant_order_id":"P9297895081903","status":"SUCCEEDED","amount":"1,00","currency":"HKD"}}`, 502, transform.CodeUpstreamError, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := payJSON
			if tt.op == "query" {
				body = `{"order_id":"P9297895081903"}`
			}
			out, err := preparedCall(t, tt.op, body).Decode(tt.status, nil, []byte(tt.body))
			if out != nil {
				t.Fatalf("Decode returned %s", out)
			}
			e := wantError(t, err, tt.wantStatus, tt.code)
			if e.ProviderCode != tt.providerCode || e.ProviderMessage != tt.providerMsg {
				t.Fatalf("provider_code %q provider_message %q", e.ProviderCode, e.ProviderMessage)
			}
		})
	}
	if _, err := preparedCall(t, "pay", payJSON).Decode(401, nil, nil); !errors.Is(err, transform.ErrRetry) {
		t.Fatalf("401: %v, want ErrRetry", err)
	}
	// A 401 is retried once with a fresh token; the second one is a 502
	// keeping CBTIS's code, as every provider's 401 (transform.AnswerNotOK).
	_, err := preparedCall(t, "pay", payJSON).Decode(401, nil, []byte(`{"code":40100,"message":"invalid token"}`))
	if !errors.Is(err, transform.ErrRetry) {
		t.Fatalf("401 with a code: %v, want ErrRetry", err)
	}
	if e := wantError(t, transform.RetryFinal(err), 502, transform.CodeUpstreamError); e.ProviderCode != "40100" || e.ProviderMessage != "invalid token" {
		t.Fatalf("a second 401: provider_code %q provider_message %q", e.ProviderCode, e.ProviderMessage)
	}
}

// An answer quoting the bearer token it came with keeps its code, not the
// message: the token is a credential, kept out of errors as the
// configured secrets are (README "Secrets").
func TestDecodeErrorsLeaveOutTheToken(t *testing.T) {
	for _, tt := range []struct {
		status     int
		wantStatus int
		wantCode   string
	}{
		{401, 502, transform.CodeUpstreamError}, // the second 401
		{400, 422, transform.CodeProviderRejected},
		{500, 502, transform.CodeUpstreamError},
		{200, 422, transform.CodeProviderRejected},
	} {
		call := preparedCall(t, "pay", payJSON)
		token, ok := strings.CutPrefix(call.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			t.Fatalf("no bearer token: %q", call.Header.Get("Authorization"))
		}
		_, err := call.Decode(tt.status, nil, []byte(`{"code":40100,"message":"invalid access_token `+token+`"}`))
		if tt.status == 401 {
			err = transform.RetryFinal(err)
		}
		if e := wantError(t, err, tt.wantStatus, tt.wantCode); e.ProviderCode != "40100" || e.ProviderMessage != "" {
			t.Errorf("HTTP %d: provider_code %q provider_message %q, want 40100 and no message", tt.status, e.ProviderCode, e.ProviderMessage)
		}
	}
}

// docs/providers/cbtis.md "Endpoints": PENDING→pending, SUCCEEDED→succeeded, CANCELLED→cancelled;
// pay_time → paid_at. An undocumented status is never guessed into a state
// (TestDecodeQueryUndocumentedStatus).
// An undocumented status (a new CBTIS state such as PROCESSING) is a 502
// naming it, never "failed": a merchant could cancel an order the customer
// then pays.
func TestDecodeQueryUndocumentedStatus(t *testing.T) {
	// the documented statuses are upper case; another spelling is not one of them
	for _, status := range []string{"PROCESSING", "FAILED", "REFUNDED", "EXPIRED", "CANCELED", "succeeded", "Succeeded", "pending", "ſUCCEEDED"} {
		t.Run(status, func(t *testing.T) {
			out, err := preparedCall(t, "query", `{"order_id":"P9297895081903"}`).Decode(200, nil,
				[]byte(`{"code":0,"message":"ok","data":{"order_id":"C1","merchant_order_id":"P9297895081903","amount":"1.00","currency":"HKD","status":"`+status+`"}}`))
			if e := wantError(t, err, 502, transform.CodeUpstreamError); out != nil || e.ProviderCode != status {
				t.Fatalf("status %s: %s, provider_code %q", status, out, e.ProviderCode)
			}
		})
	}
}

func TestDecodeQuery(t *testing.T) {
	tests := []struct {
		status, want, payTime, paidAt string
	}{
		{"PENDING", "pending", "", ""},
		{"SUCCEEDED", "succeeded", "2023-08-23T18:28:16.511Z", "2023-08-23T18:28:16.511Z"},
		{"SUCCEEDED", "succeeded", "2023-08-24T02:28:16+08:00", "2023-08-24T02:28:16+08:00"},
		{"SUCCEEDED", "succeeded", "2023-08-23 18:28:16", ""}, // not RFC 3339: dropped, not guessed
		{"CANCELLED", "cancelled", "", ""},
		// only a paid order has a payment time, whatever the answer carries
		{"CANCELLED", "cancelled", "2023-08-23T18:28:16.511Z", ""},
		{"PENDING", "pending", "2023-08-23T18:28:16.511Z", ""},
	}
	for _, tt := range tests {
		t.Run(tt.status+tt.payTime, func(t *testing.T) {
			data := `{"order_id":"C34368224017070001","merchant_order_id":"P9297895081903","amount":"105.00","currency":"HKD","status":"` + tt.status + `"`
			if tt.payTime != "" {
				data += `,"pay_time":"` + tt.payTime + `"`
			}
			out, err := preparedCall(t, "query", `{"order_id":"P9297895081903"}`).Decode(200, nil, []byte(`{"code":0,"message":"ok","data":`+data+`}}`))
			if err != nil {
				t.Fatal(err)
			}
			want := `{"provider":"cbtis","order_id":"P9297895081903","provider_order_id":"C34368224017070001","status":"` + tt.want +
				`","amount":"105.00","currency":"HKD",`
			if tt.paidAt != "" {
				want += `"paid_at":"` + tt.paidAt + `",`
			}
			want += `"provider_status":"` + tt.status + `"}`
			if string(out) != want {
				t.Fatalf("status object\n got %s\nwant %s", out, want)
			}
		})
	}
	// README CBTIS: an amount is stated with its currency. An answer that
	// names no currency (the query answer's members are not documented)
	// still gives the order's status, with amount and currency "" as for an
	// answer without an amount; one that names a currency minipay cannot
	// read stays a 502.
	t.Run("an amount without its currency", func(t *testing.T) {
		for _, member := range []string{``, `,"currency":""`, `,"currency":null`} {
			out, err := preparedCall(t, "query", `{"order_id":"P1"}`).Decode(200, nil,
				[]byte(`{"code":0,"data":{"order_id":"C1","merchant_order_id":"P1","status":"SUCCEEDED","amount":"105.00"`+member+
					`,"pay_time":"2023-08-23T18:28:16.511Z"}}`))
			want := `{"provider":"cbtis","order_id":"P1","provider_order_id":"C1","status":"succeeded","amount":"","currency":"",` +
				`"paid_at":"2023-08-23T18:28:16.511Z","provider_status":"SUCCEEDED"}`
			if err != nil || string(out) != want {
				t.Errorf("currency member %q: %s %v\nwant %s", member, out, err, want)
			}
		}
		for _, currency := range []string{`"hkd"`, `"XYZ"`, `"HK$"`} {
			_, err := preparedCall(t, "query", `{"order_id":"P1"}`).Decode(200, nil,
				[]byte(`{"code":0,"data":{"merchant_order_id":"P1","status":"SUCCEEDED","amount":"105.00","currency":`+currency+`}}`))
			var e *transform.Error
			if !errors.As(err, &e) || e.Status != 502 || e.Code != transform.CodeUpstreamError {
				t.Errorf("currency %s: %v, want a 502 upstream_error", currency, err)
			}
		}
	})
	t.Run("amounts normalized", func(t *testing.T) {
		for in, want := range map[string]string{`"1"`: "1.00", `1.5`: "1.50", `"12.340"`: "12.34"} {
			out, err := preparedCall(t, "query", `{"order_id":"P1"}`).Decode(200, nil,
				[]byte(`{"code":0,"data":{"merchant_order_id":"P1","status":"PENDING","amount":`+in+`,"currency":"CNY"}}`))
			if err != nil || !strings.Contains(string(out), `"amount":"`+want+`","currency":"CNY"`) {
				t.Fatalf("amount %s: %s %v", in, out, err)
			}
		}
	})
}

func TestConfigCheck(t *testing.T) {
	good := testConfig("https://cbtis.example/mch-api/v1/auth")
	if err := good.Check(); err != nil || good.SignatureHeader != "Signature" {
		t.Fatalf("Check = %v, signature_header %q", err, good.SignatureHeader)
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		client bool // NewClient refuses it
		hook   bool // NewWebhook refuses it
	}{
		{"no uid", func(c *Config) { c.UID = "" }, true, false},
		{"no sub_app_id", func(c *Config) { c.SubAppID = "" }, true, false},
		{"no token_url", func(c *Config) { c.TokenURL = "" }, true, false},
		{"no client_secret but api_key", func(c *Config) { c.ClientSecret, c.APIKey = "", vecAPIKey }, true, false},
		{"no key material", func(c *Config) { c.ClientSecret = "" }, true, true},
		{"relative token_url", func(c *Config) { c.TokenURL = "/mch-api/v1/auth" }, true, true},
		{"ftp token_url", func(c *Config) { c.TokenURL = "ftp://cbtis.example/auth" }, true, true},
		{"relative notify_url", func(c *Config) { c.NotifyURL = "/notify" }, true, true},
		{"header with a space", func(c *Config) { c.SignatureHeader = "X Sig" }, true, true},
		{"header with a colon", func(c *Config) { c.SignatureHeader = "Sig:" }, true, true},
		{"custom header", func(c *Config) { c.SignatureHeader = "X-CBTIS-Signature" }, false, false},
		{"header of 64 characters", func(c *Config) { c.SignatureHeader = strings.Repeat("S", 64) }, false, false},
		{"header of 65 characters", func(c *Config) { c.SignatureHeader = strings.Repeat("S", 65) }, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mutate(&c)
			_, cerr := NewClient(c)
			_, werr := NewWebhook(c)
			if (cerr != nil) != tt.client || (werr != nil) != tt.hook {
				t.Fatalf("NewClient: %v, NewWebhook: %v", cerr, werr)
			}
			for _, err := range []error{cerr, werr} {
				if err != nil && (strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "cbtis.example")) {
					t.Fatalf("the error shows a value: %v", err)
				}
			}
		})
	}
	var cfg Config
	if cfg.ProviderName() != "cbtis" {
		t.Fatal("ProviderName")
	}
	roles := map[string][3]bool{}
	for _, f := range cfg.ConfigFields() {
		if f.Value == nil {
			t.Fatalf("%s has no value pointer", f.Name)
		}
		roles[f.Name] = [3]bool{f.RequiredFor(transform.RoleClient), f.RequiredFor(transform.RoleWebhook), f.RequiredFor(transform.RoleSandbox)}
	}
	want := map[string][3]bool{
		"uid": {true, false, true}, "client_secret": {true, false, true}, "sub_app_id": {true, false, true},
		"token_url": {true, false, false}, "api_key": {}, "notify_url": {}, "signature_header": {},
	}
	if len(roles) != len(want) {
		t.Fatalf("fields %v", roles)
	}
	for k, v := range want {
		if roles[k] != v {
			t.Errorf("%s required for client/webhook/sandbox = %v, want %v", k, roles[k], v)
		}
	}
}
