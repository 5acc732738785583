package transform

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// ValidHeaderName is RFC 9110's token (§5.1: a field name is a token;
// §5.6.2: tchar is "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
// "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA).
func TestValidHeaderName(t *testing.T) {
	for name, ok := range map[string]bool{
		"Signature": true, "Wechatpay-Serial": true, "x-cbtis-signature": true, "0": true, "!#$%&'*+-.^_`|~09AZaz": true,
		"": false, "X Sig": false, "Sig:": false, "Sig\t": false, "Sig\r": false, "\x7f": false, "Signatür": false,
		`"`: false, "(": false, ")": false, ",": false, "/": false, ";": false, "<": false, "=": false, ">": false,
		"?": false, "@": false, "[": false, `\`: false, "]": false, "{": false, "}": false,
	} {
		if ValidHeaderName(name) != ok {
			t.Errorf("ValidHeaderName(%q) = %v, want %v", name, !ok, ok)
		}
	}
}

// README "Merchant API": order_id is 1–32 characters of A-Za-z0-9_-|*.
func TestValidOrderID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"O1", true},
		{"a", true},
		{"A-Z_a-z|0-9*", true},
		{"20261122100000123456789012345678", true}, // 32
		{strings.Repeat("x", 32), true},
		{"", false},
		{strings.Repeat("x", 33), false},
		{"order 1", false},
		{"order.1", false},
		{"order/1", false},
		{"订单1", false},
		{"o\x00", false},
		{"o\n", false},
		{"a+b", false},
		{"a=b", false},
		{"a&b", false},
		{"<xml>", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			err := ValidOrderID("refund_id", tt.id)
			if tt.ok {
				if err != nil {
					t.Fatalf("ValidOrderID(%q) = %v", tt.id, err)
				}
				return
			}
			wantInvalid(t, err, "refund_id")
		})
	}
}

// README "Merchant API": refund_id is WeChat's out_refund_no, 1–64
// characters of A-Za-z0-9_-|*@ (docs/providers/wechat_v3.md).
func TestValidRefundID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"R1", true},
		{"O1-R1", true},
		{"refund@2026|1*a_b", true},
		{"3f2c1a9e-7d4b-4c8e-9a1f-0b6d2e5c7a90", true}, // a UUID, 36
		{strings.Repeat("r", 64), true},
		{"", false},
		{strings.Repeat("r", 65), false},
		{"R 1", false},
		{"R.1", false},
		{"R/1", false},
		{"R%401", false},
		{"退款1", false},
		{"R\n", false},
		{"a&b", false},
		{"a=b", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			err := ValidRefundID("refund_id", tt.id)
			if tt.ok {
				if err != nil {
					t.Fatalf("ValidRefundID(%q) = %v", tt.id, err)
				}
				return
			}
			wantInvalid(t, err, "refund_id")
		})
	}
	// The operations' requests use it.
	long := strings.Repeat("R", 40) + "@1"
	if err := (&RefundRequest{OrderID: "O1", RefundID: long, Amount: "1", Currency: "CNY"}).Validate(); err != nil {
		t.Errorf("refund with a 42-character refund_id: %v", err)
	}
	if err := (&RefundQueryRequest{RefundID: long}).Validate(); err != nil {
		t.Errorf("refund_query with a 42-character refund_id: %v", err)
	}
}

func TestValidText(t *testing.T) {
	if err := ValidText("description", "测试商品", 127); err != nil {
		t.Fatalf("ValidText = %v", err)
	}
	if err := ValidText("description", strings.Repeat("a", 127), 127); err != nil {
		t.Fatalf("127 bytes: %v", err)
	}
	for _, bad := range []string{"", strings.Repeat("a", 128), strings.Repeat("中", 43), "\xff\xfe"} {
		wantInvalid(t, ValidText("description", bad, 127), "description")
	}
}

func TestDecodeJSON(t *testing.T) {
	var ok PayRequest
	if err := DecodeJSON([]byte(" {\"order_id\":\"O1\",\"amount\":\"1.00\"} \n"), &ok); err != nil {
		t.Fatalf("DecodeJSON = %v", err)
	}
	if ok.OrderID != "O1" || ok.Amount != "1.00" {
		t.Fatalf("decoded %+v", ok)
	}
	tests := []struct {
		name, body, field string
	}{
		{"unknown field", `{"order_id":"O1","colour":"red"}`, "colour"},
		{"unknown field first", `{"total_fee":1234}`, "total_fee"},
		// named by its first 64 bytes at most, cut at a character boundary
		{"long unknown field", `{"a` + strings.Repeat("é", 40) + `":1}`, "a" + strings.Repeat("é", 31) + "…"},
		{"number for a string", `{"order_id":1}`, "order_id"},
		{"object for a string", `{"amount":{"v":1}}`, "amount"},
		{"bool for a string", `{"openid":true}`, "openid"},
		{"trailing object", `{"order_id":"O1"}{"order_id":"O2"}`, ""},
		{"trailing garbage", `{"order_id":"O1"} x`, ""},
		{"trailing brace", `{"order_id":"O1"}}`, ""},
		{"trailing array", `{"order_id":"O1"}[]`, ""},
		{"empty", ``, ""},
		{"whitespace only", " \n\t", ""},
		{"not JSON", `order_id=O1`, ""},
		{"XML", `<xml><order_id>O1</order_id></xml>`, ""},
		{"truncated", `{"order_id":"O1"`, ""},
		{"array", `[{"order_id":"O1"}]`, ""},
		{"string", `"O1"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req PayRequest
			err := DecodeJSON([]byte(tt.body), &req)
			wantInvalid(t, err, tt.field)
		})
	}
}

// TestDecodeFlatJSONFields: DecodeFlatJSON, /sandbox/complete's reader, is
// the merchant API's: the body-level refusals, an unknown member named
// unescaped and cut to 64 bytes, names matched exactly, a member given twice
// refused.
func TestDecodeFlatJSONFields(t *testing.T) {
	var provider, result string
	decode := func(body string) error {
		provider, result = "", ""
		return DecodeFlatJSON([]byte(body), JSONField{Name: "provider", Value: &provider}, JSONField{Name: "result", Value: &result})
	}
	tests := []struct{ body, message string }{
		{"", "the body is empty"},
		{" \r\n", "the body is empty"},
		{"null", "the body must be a JSON object"},
		{" []", "the body must be a JSON object"},
		{`"wechat_v2"`, "the body must be a JSON object"},
		{"1", "the body must be a JSON object"},
		{"\ufeff{\"provider\":\"wechat_v2\"}", "byte order mark"},
		{`{"provider":"wechat_v2"} {}`, "the body holds data after the JSON object"},
		{`{"provider":"wechat_v2","":"x"}`, `a member named "" is not a known field`},
	}
	for _, tt := range tests {
		e, ok := decode(tt.body).(*Error)
		if !ok || e.Status != 400 || e.Code != CodeInvalidRequest || !strings.Contains(e.Message, tt.message) {
			t.Errorf("%q: %#v, want a 400 saying %q", tt.body, e, tt.message)
		}
	}
	long := strings.Repeat("k", 5000)
	for body, field := range map[string]string{
		`{"provider":"wechat_v2","a\"b\\c":"x"}`:        `a"b\c`,
		`{"provider":"wechat_v2","\u4e2d":"x"}`:         "中",
		`{"provider":"wechat_v2","` + long + `":"x"}`:   long[:64] + "…",
		`{"provider":"wechat_v2","Result":"succeeded"}`: "Result",
		`{"result":"failed","result":"succeeded"}`:      "result",
		`{"provider":1}`: "provider",
	} {
		t.Run(field[:min(len(field), 8)], func(t *testing.T) {
			wantInvalid(t, decode(body), field)
		})
	}
	if err := decode(` {"provider":"wechat_v2","result":null} `); err != nil || provider != "wechat_v2" || result != "" {
		t.Fatalf("%q %q %v", provider, result, err)
	}
}

func validPay() PayRequest {
	return PayRequest{OrderID: "O1", Amount: "12.34", Currency: "CNY", Description: "测试商品", OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}
}

func TestPayRequestValidate(t *testing.T) {
	p := validPay()
	p.ExpireAt = "2026-11-22T02:00:00Z"
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate = %v", err)
	}
	if p.Money != (Money{1234, "CNY", 2}) {
		t.Fatalf("Money = %+v", p.Money)
	}
	if want := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC); !p.Expire.Equal(want) {
		t.Fatalf("Expire = %v, want %v", p.Expire, want)
	}

	for _, ok := range []func(*PayRequest){
		func(p *PayRequest) { p.ClientIP = "203.0.113.7" },
		func(p *PayRequest) { p.ClientIP = "2001:db8::1" },
		func(p *PayRequest) { p.Country = "SG" },
		func(p *PayRequest) { p.PayerName = strings.Repeat("n", 255) },
		func(p *PayRequest) { p.OpenID = strings.Repeat("o", 128) },
		func(p *PayRequest) { p.OpenID = "!~" }, // printable ASCII from end to end
		func(p *PayRequest) {
			p.NotifyURL = "https://merchant.example/" + strings.Repeat("n", 256-len("https://merchant.example/"))
		},
		func(p *PayRequest) { p.NotifyURL = "http://10.0.0.1:8080/n?shop=1&x=%E9%80%9A" },
		func(p *PayRequest) { p.NotifyURL = "https://merchant.example:65535/a@b" }, // '@' in a path is no user info
		func(p *PayRequest) { p.NotifyURL = "http://[2001:db8::1]:8080/n" },
		func(p *PayRequest) { p.NotifyURL = "https://xn--fsqu00a.xn--0zwm56d/notify" }, // an IDN host as DNS knows it
		func(p *PayRequest) { p.NotifyURL = "https://merchant.example/%E6%94%AF%E4%BB%98/notify" },
		func(p *PayRequest) { p.NotifyURL = "https://merchant.example/a;v=1/c~d_e.f-g!$&'()*+,=:@" }, // RFC 3986 pchar
		func(p *PayRequest) { p.NotifyURL = "HTTPS://Merchant.Example" },
		func(p *PayRequest) { p.NotifyURL = "https://[::1]/n/" },
		// RFC 3339 §5.6: T and Z may be lower case; fractional seconds are allowed
		func(p *PayRequest) { p.ExpireAt = "2026-11-22t02:00:00z" },
		func(p *PayRequest) { p.ExpireAt = "2026-11-22T10:00:00.5+08:00" },
		func(p *PayRequest) { p.ExpireAt = "2026-11-22T02:00:00-23:59" },
		func(p *PayRequest) { p.ExpireAt = "2026-11-22T02:00:00-00:00" }, // §4.3: UTC, local offset unknown
		func(p *PayRequest) { p.ExpireAt = "9999-12-31T15:59:59Z" },      // 23:59:59 in Beijing
	} {
		p := validPay()
		ok(&p)
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: Validate = %v", p, err)
		}
	}
	p = validPay()
	p.ExpireAt = "2026-11-22t10:00:00+08:00"
	if err := p.Validate(); err != nil || !p.Expire.Equal(time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)) {
		t.Fatalf("lower-case t: Validate = %v, Expire = %v", err, p.Expire)
	}

	tests := []struct {
		field  string
		mutate func(*PayRequest)
	}{
		{"order_id", func(p *PayRequest) { p.OrderID = "" }},
		{"order_id", func(p *PayRequest) { p.OrderID = "has space" }},
		{"amount", func(p *PayRequest) { p.Amount = "" }},
		{"amount", func(p *PayRequest) { p.Amount = "0" }},
		{"amount", func(p *PayRequest) { p.Amount = "1.001" }},
		{"currency", func(p *PayRequest) { p.Currency = "" }},
		{"currency", func(p *PayRequest) { p.Currency = "RMB" }},
		{"description", func(p *PayRequest) { p.Description = "" }},
		{"description", func(p *PayRequest) { p.Description = strings.Repeat("商", 43) }}, // 129 bytes
		{"description", func(p *PayRequest) { p.Description = "\xc3\x28" }},
		{"openid", func(p *PayRequest) { p.OpenID = "" }},
		{"openid", func(p *PayRequest) { p.OpenID = strings.Repeat("o", 129) }},
		{"openid", func(p *PayRequest) { p.OpenID = "oUpF8uMuAJO M2pxb1Q9zNjWeS6o" }},
		{"openid", func(p *PayRequest) { p.OpenID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o\n" }},
		{"openid", func(p *PayRequest) { p.OpenID = "\toUpF8uMuAJO_M2pxb1Q9zNjWeS6o" }},
		{"openid", func(p *PayRequest) { p.OpenID = "用户" }},
		{"expire_at", func(p *PayRequest) { p.ExpireAt = "2026-11-22 10:00:00" }},
		{"expire_at", func(p *PayRequest) { p.ExpireAt = "20261122100000" }},
		// RFC 3339 §5.6, stricter than time.Parse: offsets to 23:59, a fraction after '.' only
		{"expire_at", func(p *PayRequest) { p.ExpireAt = "2026-11-22T02:00:00+24:00" }},
		{"expire_at", func(p *PayRequest) { p.ExpireAt = "2026-11-22T02:00:00+23:60" }},
		{"expire_at", func(p *PayRequest) { p.ExpireAt = "2026-11-22T02:00:00,5Z" }},
		{"expire_at", func(p *PayRequest) { p.ExpireAt = "2026-11-22T02:00:00.Z" }},
		{"expire_at", func(p *PayRequest) { p.ExpireAt = "2026-11-22T02:00:00+0800" }},
		{"expire_at", func(p *PayRequest) { p.ExpireAt = "2026-11-22T02:00:00" }},
		{"expire_at", func(p *PayRequest) { p.ExpireAt = "2026-11-22T02:00Z" }},
		{"expire_at", func(p *PayRequest) { p.ExpireAt = "2026-02-30T02:00:00Z" }},
		{"expire_at", func(p *PayRequest) { p.ExpireAt = "+2026-11-22T02:00:00Z" }},
		// WeChat's time_expire has a four-digit year in Beijing time
		{"expire_at", func(p *PayRequest) { p.ExpireAt = "9999-12-31T16:00:00Z" }},
		{"client_ip", func(p *PayRequest) { p.ClientIP = strings.Repeat("1", 65) }},
		// WeChat's spbill_create_ip and payer_client_ip are IPv4 or IPv6 addresses
		{"client_ip", func(p *PayRequest) { p.ClientIP = "localhost" }},
		{"client_ip", func(p *PayRequest) { p.ClientIP = "1.2.3" }},
		{"client_ip", func(p *PayRequest) { p.ClientIP = "1.2.3.4:80" }},
		{"client_ip", func(p *PayRequest) { p.ClientIP = "fe80::1%eth0" }},
		{"client_ip", func(p *PayRequest) { p.ClientIP = " 1.2.3.4" }},
		// country and payer_name follow one rule for every provider, not only 2C2P's
		{"country", func(p *PayRequest) { p.Country = "sg" }},
		{"country", func(p *PayRequest) { p.Country = "SGP" }},
		{"country", func(p *PayRequest) { p.Country = "S" }},
		{"payer_name", func(p *PayRequest) { p.PayerName = strings.Repeat("n", 256) }},
		{"attach", func(p *PayRequest) { p.Attach = strings.Repeat("a", 128) }},
		// notify_url: one rule for every provider (README Merchant API)
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "/webhooks" }},
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "ftp://merchant.example/n" }},
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "https:///n" }},
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "https://:443/n" }}, // a port, no host (FuzzNotifyURL)
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "https://user@:443/n" }},
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "http://[]/n" }},
		// user info, which a configured URL may not carry either (README Provider fields)
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "https://user:secret@merchant.example/n" }},
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "https://@merchant.example/n" }},
		// a port no connection can reach
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "https://merchant.example:99999/n" }},
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "https://merchant.example:0/n" }},
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "https://merchant.example/n?a=%zz" }}, // url.Parse checks no escape in a query (FuzzNotifyURL)
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "https://merchant.example/n?off=100%" }},
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "https://merchant.example/n?a=%4" }},
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "https://merchant.example/a b" }},
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "https://merchant.example/\tn" }},
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "https://merchant.example/通知" }},
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "https://merchant.example/n#top" }},
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "https://merchant.example/<n>" }},
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "https://merchant.example/{n}" }},
		{"notify_url", func(p *PayRequest) { p.NotifyURL = "https://merchant.example/a|b" }},
		{"notify_url", func(p *PayRequest) {
			p.NotifyURL = "https://merchant.example/" + strings.Repeat("n", 257-len("https://merchant.example/"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			p := validPay()
			tt.mutate(&p)
			wantInvalid(t, p.Validate(), tt.field)
		})
	}
}

func TestOrderRequestValidate(t *testing.T) {
	if err := (&OrderRequest{OrderID: "O1"}).Validate(); err != nil {
		t.Fatal(err)
	}
	wantInvalid(t, (&OrderRequest{}).Validate(), "order_id")
}

func TestRefundRequestValidate(t *testing.T) {
	r := RefundRequest{OrderID: "O1", RefundID: "R1", Amount: "5.00", Currency: "CNY"}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.Money != (Money{500, "CNY", 2}) || r.Total != r.Money {
		t.Fatalf("without total_amount: Money %+v, Total %+v; want Total = Money", r.Money, r.Total)
	}

	r = RefundRequest{OrderID: "O1", RefundID: "R1", Amount: "5.00", Currency: "CNY", TotalAmount: "12.34"}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.Money.Minor != 500 || r.Total != (Money{1234, "CNY", 2}) {
		t.Fatalf("Money %+v, Total %+v", r.Money, r.Total)
	}

	r = RefundRequest{OrderID: "O1", RefundID: "R1", Amount: "12.34", Currency: "CNY", TotalAmount: "12.34"}
	if err := r.Validate(); err != nil {
		t.Fatalf("a full refund is valid: %v", err)
	}

	tests := []struct {
		field string
		r     RefundRequest
	}{
		{"order_id", RefundRequest{RefundID: "R1", Amount: "1", Currency: "CNY"}},
		{"refund_id", RefundRequest{OrderID: "O1", Amount: "1", Currency: "CNY"}},
		{"refund_id", RefundRequest{OrderID: "O1", RefundID: "R 1", Amount: "1", Currency: "CNY"}},
		{"amount", RefundRequest{OrderID: "O1", RefundID: "R1", Currency: "CNY"}},
		{"amount", RefundRequest{OrderID: "O1", RefundID: "R1", Amount: "12.35", Currency: "CNY", TotalAmount: "12.34"}},
		{"currency", RefundRequest{OrderID: "O1", RefundID: "R1", Amount: "1"}},
		{"total_amount", RefundRequest{OrderID: "O1", RefundID: "R1", Amount: "1", Currency: "CNY", TotalAmount: "-2"}},
		{"total_amount", RefundRequest{OrderID: "O1", RefundID: "R1", Amount: "1", Currency: "CNY", TotalAmount: "2.001"}},
		{"reason", RefundRequest{OrderID: "O1", RefundID: "R1", Amount: "1", Currency: "CNY", Reason: strings.Repeat("r", 241)}},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			wantInvalid(t, tt.r.Validate(), tt.field)
		})
	}
}

// README "Merchant API": code is 1–128 characters of printable ASCII
// (RFC 6749 Appendix A.11: code = 1*VSCHAR, VSCHAR = %x20-7E).
func TestLoginRequestValidate(t *testing.T) {
	for _, code := range []string{
		"081xYz000abc",
		"0a3Xnr000vS1rG1BVm100xXmiJ3Xnr0H", // a wx.login code's usual shape: 32 letters and digits
		"081xYz000abc+/=", "code-1_a.b~c", "a&secret=x#y", "with space", " ", "~!\"$%'()*,:;<>?@[\\]^`{|}",
		strings.Repeat("c", 128),
	} {
		if err := (&LoginRequest{Code: code}).Validate(); err != nil {
			t.Errorf("code %q: %v", code, err)
		}
	}
	for _, code := range []string{
		"", strings.Repeat("c", 129),
		"code\t1", "code\n", "\r", "\x00", "\x1f", "\x7f", "代码", "café", "\u00a0x", "\uFEFF0a3X", "\xff",
	} {
		t.Run(code, func(t *testing.T) {
			wantInvalid(t, (&LoginRequest{Code: code}).Validate(), "code")
		})
	}
}

// README "Merchant API": every failure is {"error":{"code","message","field"?,"provider_code"?,"provider_message"?}}.
func TestErrorJSON(t *testing.T) {
	tests := []struct {
		err    *Error
		status int
		want   string
	}{
		{Invalid("amount", "is required"), 400, `{"error":{"code":"invalid_request","message":"amount is required","field":"amount"}}`},
		{Rejected("ORDERPAID", "该订单已支付"), 422, `{"error":{"code":"provider_rejected","message":"the provider rejected the request","provider_code":"ORDERPAID","provider_message":"该订单已支付"}}`},
		{Upstream("boom"), 502, `{"error":{"code":"upstream_error","message":"boom"}}`},
		{UpstreamCode("x", "FAIL", "签名错误"), 502, `{"error":{"code":"upstream_error","message":"x","provider_code":"FAIL","provider_message":"签名错误"}}`},
		{SignatureInvalid(), 502, ""},
		{Timeout(), 504, ""},
		{UnknownOperation("wechat_v2", "refunds"), 404, `{"error":{"code":"unknown_operation","message":"\"refunds\" is no operation of wechat_v2"}}`},
		{UnknownOperation("wechat_v2", strings.Repeat("x", 5000)), 404, `{"error":{"code":"unknown_operation","message":"\"` + strings.Repeat("x", 64) + `…\" is no operation of wechat_v2"}}`},
		// Cut at a character boundary, as transform.Clip cuts: 21 three-byte
		// characters (63 bytes), not 64 bytes ending in a third of one, which
		// came out as U+FFFD.
		{UnknownOperation("wechat_v2", strings.Repeat("退", 30)), 404, `{"error":{"code":"unknown_operation","message":"\"` + strings.Repeat("退", 21) + `…\" is no operation of wechat_v2"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.err.Code, func(t *testing.T) {
			if tt.err.Status != tt.status {
				t.Errorf("Status = %d, want %d", tt.err.Status, tt.status)
			}
			body := tt.err.JSON()
			if tt.want != "" && string(body) != tt.want {
				t.Errorf("JSON =\n %s\nwant\n %s", body, tt.want)
			}
			var v struct {
				Error map[string]string `json:"error"`
			}
			if err := json.Unmarshal(body, &v); err != nil || v.Error["code"] != tt.err.Code || v.Error["message"] == "" {
				t.Errorf("JSON %s does not decode to the error shape: %v", body, err)
			}
			var e *Error
			if !errors.As(error(tt.err), &e) || tt.err.Error() == "" {
				t.Error("Error() is empty")
			}
		})
	}
	if got := SignatureInvalid().Code; got != CodeSignatureInvalid {
		t.Errorf("SignatureInvalid code %q", got)
	}
	if got := Timeout().Code; got != CodeUpstreamTimeout {
		t.Errorf("Timeout code %q", got)
	}
}

func TestMarshalNoHTMLEscape(t *testing.T) {
	got := string(Marshal(map[string]string{"a": "<xml>&"}))
	if got != `{"a":"<xml>&"}` {
		t.Fatalf("Marshal = %s", got)
	}
}

// A status object has a payment time only when the order was paid
// (succeeded, or refunded after it was paid), whatever the provider put
// in its answer: the rule holds for every provider's query.
func TestPaymentStatusPaidAtOnlyWhenPaid(t *testing.T) {
	for _, tt := range []struct {
		status string
		keep   bool
	}{
		{StatusSucceeded, true}, {StatusRefunded, true},
		{StatusPending, false}, {StatusFailed, false}, {StatusCancelled, false}, {"", false},
	} {
		st := &PaymentStatus{Provider: "p", OrderID: "O1", Status: tt.status, PaidAt: "2026-12-07T07:09:50+08:00", ProviderStatus: "<X&Y>"}
		got := string(Marshal(st))
		want := `{"provider":"p","order_id":"O1","provider_order_id":"","status":"` + tt.status + `","amount":"","currency":"",`
		if tt.keep {
			want += `"paid_at":"2026-12-07T07:09:50+08:00",`
		}
		want += `"provider_status":"<X&Y>"}`
		if got != want {
			t.Errorf("status %q:\n got %s\nwant %s", tt.status, got, want)
		}
		if st.PaidAt == "" {
			t.Errorf("status %q: Marshal changed the value it was given", tt.status)
		}
	}
}

func TestEventID(t *testing.T) {
	tests := []struct{ reference, want string }{
		{"4200000123", "wechat_v2:4200000123:payment.succeeded"},
		// Bytes past ASCII too: a backend reads a header's as Latin-1.
		{"支付-1 a", "wechat_v2:%E6%94%AF%E4%BB%98-1 a:payment.succeeded"},
		{"é\xff", "wechat_v2:%C3%A9%FF:payment.succeeded"},
		// A control byte would make the Minipay-Event-Id header invalid.
		{"a\nb\r\x00\x7f\tc", "wechat_v2:a%0Ab%0D%00%7F%09c:payment.succeeded"},
		// '%' is escaped too, so that the escaping is one-to-one: "A%0AB" and
		// "A\nB" are two references (two events), which must not share an id
		// (with dedupe, the second would be acknowledged and never forwarded).
		{"A%0AB", "wechat_v2:A%250AB:payment.succeeded"},
		{"A\nB", "wechat_v2:A%0AB:payment.succeeded"},
		{"100%", "wechat_v2:100%25:payment.succeeded"},
	}
	ids := map[string]string{}
	for _, tt := range tests {
		got := EventID("wechat_v2", tt.reference, EventPaymentSucceeded)
		if other, ok := ids[got]; ok {
			t.Errorf("references %q and %q share the id %q", other, tt.reference, got)
		}
		ids[got] = tt.reference
		if got != tt.want {
			t.Errorf("EventID(%q) = %q, want %q", tt.reference, got, tt.want)
		}
		if strings.ContainsFunc(got, func(r rune) bool { return r < 0x20 || r >= 0x7f }) {
			t.Errorf("EventID(%q) = %q holds a control byte or one past ASCII, which a header value should not", tt.reference, got)
		}
	}
}
