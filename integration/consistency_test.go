package integration

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// exampleRoute is one merchant API route of Caddyfile.example.
type exampleRoute struct {
	path, provider, currency string
	ops                      []string
}

var exampleRoutes = []exampleRoute{
	{"/wechat", "wechat_v2", "CNY", []string{"pay", "query", "close", "refund", "refund_query"}},
	{"/wechat_v3", "wechat_v3", "CNY", []string{"pay", "query", "close", "refund", "refund_query"}},
	{"/2c2p", "2c2p", "SGD", []string{"pay"}},
	{"/latipay", "latipay", "NZD", []string{"pay", "query", "refund"}},
	{"/cbtis", "cbtis", "CNY", []string{"pay", "query"}},
	{"/wxlogin", "wechat_login", "", []string{"login"}},
}

// validBody is a request op of route r accepts, with an order id of its own.
func (r exampleRoute) validBody(op string, n int) map[string]any {
	id := "CONS-" + strconv.Itoa(n)
	switch op {
	case "pay":
		return map[string]any{"order_id": id, "amount": "1.00", "currency": r.currency, "description": "d", "openid": "o-consistency"}
	case "query", "close":
		return map[string]any{"order_id": id}
	case "refund":
		b := map[string]any{"order_id": id, "refund_id": id + "-R", "amount": "1.00", "currency": r.currency, "total_amount": "1.00"}
		if r.provider == "latipay" {
			b["provider_order_id"] = "2026112210000001"
		}
		return b
	case "refund_query":
		return map[string]any{"refund_id": id + "-R"}
	default:
		return map[string]any{"code": id}
	}
}

// TestMerchantAPIConsistency: README Merchant API and Errors: one table of
// requests against every route of Caddyfile.example that serves the
// operation, each answered alike whatever the provider: a field's rules are
// the same everywhere, and so is the answer naming it.
func TestMerchantAPIConsistency(t *testing.T) {
	tc, merchant, _, _ := startExample(t)
	base := "http://localhost:" + itoa(merchant)
	set := func(field string, value any) func(map[string]any) string {
		return func(b map[string]any) string {
			b[field] = value
			return marshal(t, b)
		}
	}
	drop := func(field string) func(map[string]any) string {
		return func(b map[string]any) string {
			delete(b, field)
			return marshal(t, b)
		}
	}
	raw := func(body string) func(map[string]any) string { return func(map[string]any) string { return body } }
	// literal sets field to a JSON string literal as written, escapes kept
	// (Go's encoder cannot write half a surrogate pair).
	literal := func(field, text string) func(map[string]any) string {
		return func(b map[string]any) string {
			b[field] = "\x00literal"
			return strings.Replace(marshal(t, b), `"\u0000literal"`, text, 1)
		}
	}
	every := []string{"pay", "query", "close", "refund", "refund_query", "login"}
	orderOps := []string{"pay", "query", "close", "refund"}
	money := []string{"pay", "refund"}
	hour := time.Now().Add(time.Hour).UTC()
	type row struct {
		name   string
		ops    []string
		body   func(map[string]any) string
		status int
		code   string
		field  string
	}
	tests := []row{
		{"empty body", every, raw(""), 400, "invalid_request", ""},
		{"{}", []string{"pay", "query", "close", "refund"}, raw("{}"), 400, "invalid_request", "order_id"},
		{"[]", every, raw("[]"), 400, "invalid_request", ""},
		{"a BOM", every, func(b map[string]any) string { return "\ufeff" + marshal(t, b) }, 400, "invalid_request", ""},
		{"trailing data", every, func(b map[string]any) string { return marshal(t, b) + "{}" }, 400, "invalid_request", ""},
		{"unknown field", every, set("zzz", "1"), 400, "invalid_request", "zzz"},
		{"a member named \"\"", every, set("", "1"), 400, "invalid_request", ""}, // README Errors: no field
		{"order_id given twice", orderOps, func(b map[string]any) string {
			return strings.TrimSuffix(marshal(t, b), "}") + `,"order_id":"X"}`
		}, 400, "invalid_request", "order_id"},
		{"invalid UTF-8", orderOps, func(b map[string]any) string {
			return strings.Replace(marshal(t, b), `"order_id":"`, "\"order_id\":\"\xff", 1)
		}, 400, "invalid_request", "order_id"},
		{"order_id a number", orderOps, set("order_id", 1), 400, "invalid_request", "order_id"},
		{"order_id an object", orderOps, set("order_id", map[string]any{}), 400, "invalid_request", "order_id"},
		{"order_id null", orderOps, set("order_id", nil), 400, "invalid_request", "order_id"},
		{"order_id missing", orderOps, drop("order_id"), 400, "invalid_request", "order_id"},
		{"order_id of 33 characters", orderOps, set("order_id", strings.Repeat("A", 33)), 400, "invalid_request", "order_id"},
		{"order_id with a space", orderOps, set("order_id", "A B"), 400, "invalid_request", "order_id"},
		{"order_id with a dot", orderOps, set("order_id", "A.B"), 400, "invalid_request", "order_id"},
		{"order_id not ASCII", orderOps, set("order_id", "订单1"), 400, "invalid_request", "order_id"},
		{"refund_id missing", []string{"refund", "refund_query"}, drop("refund_id"), 400, "invalid_request", "refund_id"},
		{"code a bool", []string{"login"}, set("code", true), 400, "invalid_request", "code"},
		{"code of 129 bytes", []string{"login"}, set("code", strings.Repeat("c", 129)), 400, "invalid_request", "code"},
		{"amount a number", money, set("amount", 1.5), 400, "invalid_request", "amount"},
		{"amount missing", money, drop("amount"), 400, "invalid_request", "amount"},
		{"amount 0", money, set("amount", "0"), 400, "invalid_request", "amount"},
		{"amount 0.00", money, set("amount", "0.00"), 400, "invalid_request", "amount"},
		{"amount -1", money, set("amount", "-1"), 400, "invalid_request", "amount"},
		{"amount +1", money, set("amount", "+1"), 400, "invalid_request", "amount"},
		{"amount 1e2", money, set("amount", "1e2"), 400, "invalid_request", "amount"},
		{"amount 1.234", money, set("amount", "1.234"), 400, "invalid_request", "amount"},
		{"amount 12.", money, set("amount", "12."), 400, "invalid_request", "amount"},
		{"amount .5", money, set("amount", ".5"), 400, "invalid_request", "amount"},
		{"amount with a space", money, set("amount", " 1"), 400, "invalid_request", "amount"},
		{"amount 1,00", money, set("amount", "1,00"), 400, "invalid_request", "amount"},
		{"amount full-width", money, set("amount", "１"), 400, "invalid_request", "amount"},
		{"amount 01", money, set("amount", "01"), 400, "invalid_request", "amount"},
		{"amount overflowing int64", money, set("amount", "99999999999999999999"), 400, "invalid_request", "amount"},
		{"currency lower case", money, set("currency", "cny"), 400, "invalid_request", "currency"},
		{"currency unknown", money, set("currency", "XXX"), 400, "invalid_request", "currency"},
		{"currency the test code", money, set("currency", "XTS"), 400, "invalid_request", "currency"},
		{"currency not alphabetic", money, set("currency", "C1Y"), 400, "invalid_request", "currency"},
		{"description missing", []string{"pay"}, drop("description"), 400, "invalid_request", "description"},
		{"description of 128 bytes", []string{"pay"}, set("description", strings.Repeat("d", 125)+"中"), 400, "invalid_request", "description"},
		{"description with a control character", []string{"pay"}, set("description", "a\x01b"), 400, "invalid_request", "description"},
		// Half a surrogate pair is no character (encoding/json reads it as U+FFFD, which the merchant
		// never wrote): Python's json.dumps writes a byte that is not UTF-8 so.
		{"description with half a surrogate pair", []string{"pay"}, literal("description", `"d\udcff"`), 400, "invalid_request", "description"},
		{"attach with a high surrogate before a letter", []string{"pay"}, literal("attach", `"\ud83dA"`), 400, "invalid_request", "attach"},
		{"reason with half a surrogate pair", []string{"refund"}, literal("reason", `"r\ud800"`), 400, "invalid_request", "reason"},
		{"code with half a surrogate pair", []string{"login"}, literal("code", `"\udc00c"`), 400, "invalid_request", "code"},
		{"description with a surrogate pair", []string{"pay"}, literal("description", `"d\ud83d\ude00"`), 200, "", ""},
		// C1 controls (U+0080 to U+009F) are control characters too
		{"description with a C1 control", []string{"pay"}, literal("description", `"d\u0085"`), 400, "invalid_request", "description"},
		{"payer_name with a C1 control", []string{"pay"}, set("payer_name", "n\u009f"), 400, "invalid_request", "payer_name"},
		{"openid missing", []string{"pay"}, drop("openid"), 400, "invalid_request", "openid"},
		{"openid of 129 bytes", []string{"pay"}, set("openid", strings.Repeat("o", 129)), 400, "invalid_request", "openid"},
		{"openid with a space", []string{"pay"}, set("openid", "oUpF8uMuAJO M2pxb1Q9zNjWeS6o"), 400, "invalid_request", "openid"},
		{"openid with a line break", []string{"pay"}, set("openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o\n"), 400, "invalid_request", "openid"},
		{"openid not ASCII", []string{"pay"}, set("openid", "用户"), 400, "invalid_request", "openid"},
		{"client_ip with a port", []string{"pay"}, set("client_ip", "10.0.0.1:80"), 400, "invalid_request", "client_ip"},
		{"notify_url relative", []string{"pay"}, set("notify_url", "/webhooks"), 400, "invalid_request", "notify_url"},
		{"notify_url not http", []string{"pay"}, set("notify_url", "ftp://merchant.example/n"), 400, "invalid_request", "notify_url"},
		{"notify_url with a space", []string{"pay"}, set("notify_url", "https://merchant.example/a b"), 400, "invalid_request", "notify_url"},
		{"notify_url not ASCII", []string{"pay"}, set("notify_url", "https://merchant.example/通知"), 400, "invalid_request", "notify_url"},
		{"notify_url with a '<'", []string{"pay"}, set("notify_url", "https://merchant.example/<n>"), 400, "invalid_request", "notify_url"},
		{"notify_url with a fragment", []string{"pay"}, set("notify_url", "https://merchant.example/n#f"), 400, "invalid_request", "notify_url"},
		{"notify_url with user info", []string{"pay"}, set("notify_url", "https://shop:secret@merchant.example/n"), 400, "invalid_request", "notify_url"},
		{"notify_url with port 99999", []string{"pay"}, set("notify_url", "https://merchant.example:99999/n"), 400, "invalid_request", "notify_url"},
		{"notify_url of 257 bytes", []string{"pay"}, set("notify_url", "https://merchant.example/"+strings.Repeat("n", 232)), 400, "invalid_request", "notify_url"},
		{"notify_url of 256 bytes", []string{"pay"}, set("notify_url", "https://merchant.example/"+strings.Repeat("n", 231)), 200, "", ""},
		{"attach of 128 bytes", []string{"pay"}, set("attach", strings.Repeat("a", 128)), 400, "invalid_request", "attach"},
		{"payer_name of 256 bytes", []string{"pay"}, set("payer_name", strings.Repeat("n", 256)), 400, "invalid_request", "payer_name"},
		{"country lower case", []string{"pay"}, set("country", "sg"), 400, "invalid_request", "country"},
		{"reason of 241 bytes", []string{"refund"}, set("reason", strings.Repeat("r", 241)), 400, "invalid_request", "reason"},
		{"expire_at not RFC 3339", []string{"pay"}, set("expire_at", "2030-01-01 00:00:00"), 400, "invalid_request", "expire_at"},
		{"expire_at offset +24:00", []string{"pay"}, set("expire_at", "2030-01-01T00:00:00+24:00"), 400, "invalid_request", "expire_at"},
		{"expire_at without a zone", []string{"pay"}, set("expire_at", hour.Format("2006-01-02T15:04:05")), 400, "invalid_request", "expire_at"},
		{"expire_at a date", []string{"pay"}, set("expire_at", hour.Format("2006-01-02")), 400, "invalid_request", "expire_at"},
		{"expire_at a Unix time", []string{"pay"}, set("expire_at", strconv.FormatInt(hour.Unix(), 10)), 400, "invalid_request", "expire_at"},
		// A member of another operation is unknown to this one (README Merchant API's
		// table): no operation reads the union of every operation's members.
		{"refund_id in pay", []string{"pay"}, set("refund_id", "R1"), 400, "invalid_request", "refund_id"},
		{"total_amount in pay", []string{"pay"}, set("total_amount", "1.00"), 400, "invalid_request", "total_amount"},
		{"amount in query and close", []string{"query", "close"}, set("amount", "1.00"), 400, "invalid_request", "amount"},
		{"description in refund", []string{"refund"}, set("description", "d"), 400, "invalid_request", "description"},
		{"currency in refund_query", []string{"refund_query"}, set("currency", "CNY"), 400, "invalid_request", "currency"},
		{"order_id in login", []string{"login"}, set("order_id", "O1"), 400, "invalid_request", "order_id"},
		{"code in pay", []string{"pay"}, set("code", "c"), 400, "invalid_request", "code"},
		// An order that would be expired at once: the providers that send the
		// expiry (WeChat refused it, 422) and those that do not (they ignored
		// it, 200) answer alike.
		{"expire_at in the past", []string{"pay"}, set("expire_at", "2020-01-01T00:00:00Z"), 400, "invalid_request", "expire_at"},
		{"expire_at past year 9999 in Beijing", []string{"pay"}, set("expire_at", "9999-12-31T23:59:59Z"), 400, "invalid_request", "expire_at"},
		{"expire_at in an hour, with an offset and a fraction", []string{"pay"},
			set("expire_at", hour.In(time.FixedZone("", -(3*3600+30*60))).Format("2006-01-02T15:04:05.000-07:00")), 200, "", ""},
		// Every limit of README Merchant API, reached and not passed: the value goes through
		// (without '|', which WeChat v3 refuses in out_trade_no; order_id at 2C2P's 20
		// characters, the longest every provider takes: the merchant API's 32 are in
		// TestIDRulesOfEveryProvider, which 2c2p refuses there)
		{"order_id of 20 characters", []string{"pay"}, set("order_id", "O*_-"+strings.Repeat("9", 16)), 200, "", ""},
		{"description of 127 bytes", []string{"pay"}, set("description", strings.Repeat("拿铁", 21)+"A"), 200, "", ""},
		{"description of 127 bytes with astral characters", []string{"pay"}, set("description", strings.Repeat("😀", 31)+"<&>"), 200, "", ""},
		{"attach of 127 bytes", []string{"pay"}, set("attach", strings.Repeat("附", 42)+"&"), 200, "", ""},
		{"openid of 128 bytes", []string{"pay"}, set("openid", "o"+strings.Repeat("A_-9", 31)+"xyz"), 200, "", ""},
		{"payer_name of 255 bytes", []string{"pay"}, set("payer_name", strings.Repeat("张", 85)), 200, "", ""},
		// "" is absent for an optional member (its default applies: the configured notify_url,
		// client_ip), and no value for a required one (README Merchant API)
		{"every optional field \"\"", []string{"pay"}, func(b map[string]any) string {
			for _, field := range []string{"client_ip", "notify_url", "expire_at", "attach", "payer_name", "country"} {
				b[field] = ""
			}
			return marshal(t, b)
		}, 200, "", ""},
		{"order_id \"\"", orderOps, set("order_id", ""), 400, "invalid_request", "order_id"},
		{"amount \"\"", money, set("amount", ""), 400, "invalid_request", "amount"},
		{"refund_id \"\"", []string{"refund", "refund_query"}, set("refund_id", ""), 400, "invalid_request", "refund_id"},
		{"code \"\"", []string{"login"}, set("code", ""), 400, "invalid_request", "code"},
		{"every optional field", []string{"pay"}, func(b map[string]any) string {
			maps.Copy(b, map[string]any{"client_ip": "203.0.113.7", "notify_url": "https://merchant.example/webhooks/minipay",
				"expire_at": hour.Format(time.RFC3339), "attach": "a=1&b=<2>", "payer_name": "张三", "country": "SG"})
			return marshal(t, b)
		}, 200, "", ""},
	}
	// Every member of every operation (README Merchant API's table), given
	// a JSON value that is no string, is a 400 naming it: no provider reads
	// 12 for "12" or true for "true".
	members := map[string][]string{
		"pay":          {"order_id", "amount", "currency", "description", "openid", "client_ip", "notify_url", "expire_at", "attach", "payer_name", "country"},
		"query":        {"order_id"},
		"close":        {"order_id"},
		"refund":       {"order_id", "refund_id", "amount", "currency", "total_amount", "provider_order_id", "reason"},
		"refund_query": {"refund_id", "order_id"},
		"login":        {"code"},
	}
	for _, op := range every {
		for _, field := range members[op] {
			for _, v := range []struct {
				kind  string
				value any
			}{{"a number", 12.5}, {"false", false}, {"an array", []any{"x"}}, {"an object", map[string]any{"v": "x"}}} {
				tests = append(tests, row{op + " " + field + " " + v.kind, []string{op}, set(field, v.value), 400, "invalid_request", field})
			}
		}
	}
	n := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range exampleRoutes {
				for _, op := range tt.ops {
					if !slices.Contains(r.ops, op) {
						continue
					}
					n++
					b := r.validBody(op, n)
					body := tt.body(b)
					res := do(t, tc, http.MethodPost, base+r.path+"/"+op, "application/json", []byte(body))
					where := r.provider + " " + op
					wantAnswer(t, where, res, tt.status, tt.code, tt.field)
					if tt.status == 200 && op == "pay" {
						wantPayAnswer(t, where, res, r.provider, str(b["order_id"]), str(b["openid"]))
					}
				}
			}
		})
	}

	// The request rules that come before the body, and an operation a
	// provider lacks: the same for every route.
	for _, r := range exampleRoutes {
		for _, op := range every {
			url := base + r.path + "/" + op
			body := []byte(marshal(t, r.validBody(op, 0)))
			if !slices.Contains(r.ops, op) {
				wantAnswer(t, r.provider+" "+op, do(t, tc, http.MethodPost, url, "application/json", body), 404, "unknown_operation", "")
				continue
			}
			for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodOptions} {
				res := do(t, tc, m, url, "application/json", body)
				wantAnswer(t, r.provider+" "+op+" "+m, res, 405, "method_not_allowed", "")
				if got := res.header.Values("Allow"); len(got) != 1 || got[0] != "POST" {
					t.Errorf("%s %s %s: Allow %q", r.provider, op, m, got)
				}
			}
			for _, ct := range []string{"text/plain", "", "application/x-www-form-urlencoded", "application/jsonx", "text/json"} {
				wantAnswer(t, r.provider+" "+op+" "+ct, do(t, tc, http.MethodPost, url, ct, body), 415, "unsupported_media_type", "")
			}
			// A media type's name is case-insensitive and a charset parameter is
			// allowed (RFC 9110 §8.3.1): each is read as the plain one, and
			// answered as it is (a 200, or the provider's 422 for an order it
			// does not know).
			// Each request names an order (a code) of its own: a close or a
			// login changes what the same one gets next.
			fresh := func() []byte { n++; return []byte(marshal(t, r.validBody(op, n))) }
			plain := do(t, tc, http.MethodPost, url, "application/json", fresh()).status
			for _, ct := range []string{"application/json; charset=utf-8", "APPLICATION/JSON", "Application/Json;Charset=UTF-8"} {
				if res := do(t, tc, http.MethodPost, url, ct, fresh()); res.status != plain {
					t.Errorf("%s %s Content-Type %q: HTTP %d, as application/json %d: %s", r.provider, op, ct, res.status, plain, res.body)
				}
			}
			// 64 KiB exactly is read; one byte more is a 413
			b := fresh()
			exact := append(append(append([]byte{}, b[:len(b)-1]...), strings.Repeat(" ", 64<<10-len(b))...), '}')
			if res := do(t, tc, http.MethodPost, url, "application/json", exact); res.status != plain {
				t.Errorf("%s %s 65536 bytes: HTTP %d, as without the spaces %d: %s", r.provider, op, res.status, plain, res.body)
			}
			padded := append(append(append([]byte{}, body[:len(body)-1]...), strings.Repeat(" ", 64<<10-len(body)+1)...), '}')
			wantAnswer(t, r.provider+" "+op+" 65537 bytes", do(t, tc, http.MethodPost, url, "application/json", padded), 413, "request_too_large", "")
			// README Errors: the checks run in this order (operation, method,
			// media type, size, fields), so a request breaking several rules
			// gets the first one's answer.
			broken := append(padded[:len(padded)-1:len(padded)-1], `,"zzz":1}`...)
			for _, c := range []struct {
				method, path, contentType string
				status                    int
				code                      string
			}{
				{http.MethodGet, r.path + "/no_such_operation", "text/plain", 404, "unknown_operation"},
				{http.MethodPut, r.path + "/" + op, "text/plain", 405, "method_not_allowed"},
				{http.MethodPost, r.path + "/" + op, "text/plain", 415, "unsupported_media_type"},
				{http.MethodPost, r.path + "/" + op, "application/json", 413, "request_too_large"},
			} {
				wantAnswer(t, r.provider+" "+op+" "+c.method+" "+c.path+" "+c.contentType+", too large, an unknown field",
					do(t, tc, c.method, base+c.path, c.contentType, broken), c.status, c.code, "")
			}
		}
	}
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantAnswer checks an answer's status, that it is JSON, and for an error
// its code and field.
func wantAnswer(t *testing.T, where string, res response, status int, code, field string) {
	t.Helper()
	if res.status != status {
		t.Errorf("%s: HTTP %d, want %d: %s", where, res.status, status, res.body)
		return
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", where, ct)
	}
	if code == "" {
		return
	}
	var e struct {
		Error map[string]any `json:"error"`
	}
	if err := json.Unmarshal(res.body, &e); err != nil || e.Error["code"] != code || str(e.Error["field"]) != field || str(e.Error["message"]) == "" {
		t.Errorf("%s: %s, want code %s field %q", where, res.body, code, field)
	}
}

// wantPayAnswer checks README Merchant API's pay answer: the
// wx.requestPayment members and minipay's own, every value a string, no
// openid.
func wantPayAnswer(t *testing.T, where string, res response, provider, orderID, openid string) {
	t.Helper()
	var a map[string]any
	if err := json.Unmarshal(res.body, &a); err != nil {
		t.Fatalf("%s: %s", where, res.body)
	}
	for k, v := range a {
		if _, ok := v.(string); !ok {
			t.Errorf("%s: %s is %T, not a string", where, k, v)
		}
		if !slices.Contains([]string{"timeStamp", "nonceStr", "package", "signType", "paySign", "provider", "order_id", "provider_order_id"}, k) {
			t.Errorf("%s: member %s", where, k)
		}
	}
	for _, k := range []string{"timeStamp", "nonceStr", "package", "signType", "paySign"} {
		if str(a[k]) == "" {
			t.Errorf("%s: %s empty or missing: %s", where, k, res.body)
		}
	}
	if a["provider"] != provider || a["order_id"] != orderID || strings.Contains(string(res.body), openid) {
		t.Errorf("%s: %s", where, res.body)
	}
	// WeChat v2 and v3 give no order id before payment; the others do.
	if _, has := a["provider_order_id"]; has == strings.HasPrefix(provider, "wechat_") {
		t.Errorf("%s: provider_order_id present %v: %s", where, has, res.body)
	}
}

// TestMerchantAPIAnswerShapes: README Merchant API's answers, alike for
// every provider of Caddyfile.example: a status object has every member
// (paid_at only once paid), a refund object only the documented ones, a
// close answer exactly its three, amounts carry exactly the currency's
// decimals, every value is a string.
func TestMerchantAPIAnswerShapes(t *testing.T) {
	tc, merchant, sandbox, _ := startExample(t)
	base := "http://localhost:" + itoa(merchant)
	statusMembers := []string{"provider", "order_id", "provider_order_id", "status", "amount", "currency", "provider_status"}
	refundMembers := []string{"provider", "order_id", "refund_id", "provider_refund_id", "status", "amount", "currency"}
	answer := func(where string, res response, members, optional []string) map[string]any {
		t.Helper()
		wantAnswer(t, where, res, 200, "", "")
		var a map[string]any
		if err := json.Unmarshal(res.body, &a); err != nil {
			t.Fatalf("%s: %s", where, res.body)
		}
		for k, v := range a {
			if _, ok := v.(string); !ok || !slices.Contains(members, k) && !slices.Contains(optional, k) {
				t.Errorf("%s: member %s %v: %s", where, k, v, res.body)
			}
		}
		for _, k := range members {
			if _, ok := a[k]; !ok {
				t.Errorf("%s: no %s: %s", where, k, res.body)
			}
		}
		return a
	}
	for _, r := range exampleRoutes {
		if !slices.Contains(r.ops, "pay") {
			continue
		}
		id := "SHAPE-" + strings.ReplaceAll(r.provider, "_", "-")
		pay := postJSON(t, tc, base+r.path+"/pay", `{"order_id":"`+id+`","amount":"12.3","currency":"`+r.currency+`","description":"d","openid":"o-shape"}`)
		wantAnswer(t, r.provider+" pay", pay, 200, "", "")
		if slices.Contains(r.ops, "query") {
			q := answer(r.provider+" query, pending", postJSON(t, tc, base+r.path+"/query", `{"order_id":"`+id+`"}`), statusMembers, nil)
			if q["status"] != "pending" || q["order_id"] != id || q["provider"] != r.provider {
				t.Errorf("%s query, pending: %v", r.provider, q)
			}
		}
		done := postJSON(t, tc, "http://localhost:"+itoa(sandbox)+"/sandbox/complete", `{"provider":"`+r.provider+`","order_id":"`+id+`","result":"succeeded"}`)
		if done.status != 200 || done.json(t)["acknowledged"] != true {
			t.Fatalf("%s complete: %d %s", r.provider, done.status, done.body)
		}
		if slices.Contains(r.ops, "query") {
			q := answer(r.provider+" query, paid", postJSON(t, tc, base+r.path+"/query", `{"order_id":"`+id+`"}`), statusMembers, []string{"paid_at"})
			paidAt, err := time.Parse(time.RFC3339, str(q["paid_at"]))
			if q["status"] != "succeeded" || q["amount"] != "12.30" || q["currency"] != r.currency || err != nil || time.Since(paidAt) > time.Hour {
				t.Errorf("%s query, paid: %v", r.provider, q)
			}
		}
		if slices.Contains(r.ops, "refund") {
			body := `{"order_id":"` + id + `","refund_id":"` + id + `-R","amount":"2","currency":"` + r.currency + `","total_amount":"12.3"`
			if r.provider == "latipay" {
				body += `,"provider_order_id":"` + str(pay.json(t)["provider_order_id"]) + `"`
			}
			a := answer(r.provider+" refund", postJSON(t, tc, base+r.path+"/refund", body+"}"), refundMembers, []string{"provider_status"})
			if a["amount"] != "2.00" || a["currency"] != r.currency || a["refund_id"] != id+"-R" || a["order_id"] != id ||
				!slices.Contains([]string{"pending", "succeeded", "failed"}, str(a["status"])) {
				t.Errorf("%s refund: %v", r.provider, a)
			}
		}
		if slices.Contains(r.ops, "refund_query") {
			a := answer(r.provider+" refund_query", postJSON(t, tc, base+r.path+"/refund_query", `{"refund_id":"`+id+`-R","order_id":"`+id+`"}`), refundMembers, []string{"provider_status"})
			if a["amount"] != "2.00" || a["refund_id"] != id+"-R" || a["order_id"] != id {
				t.Errorf("%s refund_query: %v", r.provider, a)
			}
		}
		// close: exactly provider, order_id and status cancelled, which the
		// query then reports, with no paid_at.
		if slices.Contains(r.ops, "close") {
			closing := id + "-C"
			wantAnswer(t, r.provider+" pay to close", postJSON(t, tc, base+r.path+"/pay",
				`{"order_id":"`+closing+`","amount":"1","currency":"`+r.currency+`","description":"d","openid":"o-shape"}`), 200, "", "")
			c := postJSON(t, tc, base+r.path+"/close", `{"order_id":"`+closing+`"}`)
			if want := `{"provider":"` + r.provider + `","order_id":"` + closing + `","status":"cancelled"}`; c.status != 200 ||
				strings.TrimSpace(string(c.body)) != want || c.header.Get("Content-Type") != "application/json" {
				t.Errorf("%s close: %d %s, want %s", r.provider, c.status, c.body, want)
			}
			q := answer(r.provider+" query, closed", postJSON(t, tc, base+r.path+"/query", `{"order_id":"`+closing+`"}`), statusMembers, nil)
			// WeChat v2's orderquery of an unpaid order carries no total_fee
			// (README Merchant API, the status object: amount "")
			wantAmount := "1.00"
			if r.provider == "wechat_v2" {
				wantAmount = ""
			}
			if q["status"] != "cancelled" || q["order_id"] != closing || q["amount"] != wantAmount {
				t.Errorf("%s query, closed: %v", r.provider, q)
			}
		}
	}
}
