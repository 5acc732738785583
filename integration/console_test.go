package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestSandboxConsole drives the console's server side through Caddyfile.example:
// the page lists the orders made through the merchant API with the data-*
// hooks of the README, POST /sandbox/complete settles and refunds them, and
// the page's list shows each notification with whether it got the exact ACK.
// (integration/browser clicks the same page in Chromium.)
func TestSandboxConsole(t *testing.T) {
	tc, merchant, sandbox, _ := startExample(t)
	base, sbx := "http://localhost:"+itoa(merchant), "http://localhost:"+itoa(sandbox)
	for _, pay := range []struct{ path, body string }{
		{"/wechat/pay", `{"order_id":"CON-1","amount":"12.34","currency":"CNY","description":"Latte","openid":"o"}`},
		{"/latipay/pay", `{"order_id":"CON-2","amount":"5.00","currency":"NZD","description":"Flat white","openid":"o"}`},
		{"/cbtis/pay", `{"order_id":"CON-3","amount":"7.50","currency":"HKD","description":"Milk tea","openid":"o"}`},
	} {
		if res := postJSON(t, tc, base+pay.path, pay.body); res.status != 200 {
			t.Fatalf("%s: %d %s", pay.path, res.status, res.body)
		}
	}
	page := do(t, tc, http.MethodGet, sbx+"/sandbox/", "", nil)
	if page.status != 200 || !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") {
		t.Fatalf("console: %d %s", page.status, page.header)
	}
	html := string(page.body)
	for _, want := range []string{
		`<article class="order s-pending" data-order-id="CON-1" data-provider="wechat_v2">`,
		`<article class="order s-pending" data-order-id="CON-2" data-provider="latipay">`,
		`<article class="order s-pending" data-order-id="CON-3" data-provider="cbtis">`,
		`<span class="amount">12.34 <small>CNY</small></span><span class="state st-pending" data-field="state">pending</span>`,
		`<span class="amount">7.50 <small>HKD</small></span>`,
	} {
		mustContain(t, html, want, "console page")
	}
	// newest first
	if i, j := strings.Index(html, `data-order-id="CON-3"`), strings.Index(html, `data-order-id="CON-1"`); i > j {
		t.Fatal("the console does not list the newest order first")
	}
	// Latipay notifies no refunds: no refund button on its order.
	latipay := html[strings.Index(html, `data-order-id="CON-2"`):]
	latipay = latipay[:strings.Index(latipay, "</article>")]
	if strings.Contains(latipay, `data-action="refund"`) || !strings.Contains(latipay, `data-action="succeed"`) {
		t.Fatalf("latipay's order: %s", latipay)
	}

	complete := func(provider, id, result string) response {
		return postJSON(t, tc, sbx+"/sandbox/complete", `{"provider":"`+provider+`","order_id":"`+id+`","result":"`+result+`"}`)
	}
	for _, step := range []struct{ provider, id, result string }{
		{"wechat_v2", "CON-1", "succeeded"}, {"wechat_v2", "CON-1", "refunded"}, {"cbtis", "CON-3", "failed"},
	} {
		res := complete(step.provider, step.id, step.result)
		if res.status != 200 || res.json(t)["acknowledged"] != true {
			t.Fatalf("%+v: %d %s", step, res.status, res.body)
		}
	}
	if res := complete("latipay", "CON-2", "refunded"); res.status != 400 || res.errorOf(t)["field"] != "result" {
		t.Fatalf("a latipay refund notification: %d %s", res.status, res.body)
	}
	if res := complete("cbtis", "CON-3", "refunded"); res.status != 400 || res.errorOf(t)["field"] != "order_id" {
		t.Fatalf("refunding a failed order: %d %s", res.status, res.body)
	}

	events := string(do(t, tc, http.MethodGet, sbx+"/sandbox/merchant/events", "", nil).body)
	mustContain(t, events, `"type":"refund.succeeded","order_id":"CON-1"`, "demo merchant events")

	list := do(t, tc, http.MethodGet, sbx+"/sandbox/?part=list", "", nil)
	fragment := string(list.body)
	if list.status != 200 || strings.Contains(fragment, "<html") {
		t.Fatalf("list fragment: %d %s", list.status, fragment)
	}
	for _, want := range []string{
		`data-order-id="CON-1" data-provider="wechat_v2"`, `data-field="state">refunded<`,
		`data-notification="wechat_v2" data-order-id="CON-1" data-result="refunded" data-acknowledged="true"`,
		`data-notification="wechat_v2" data-order-id="CON-1" data-result="succeeded" data-acknowledged="true"`,
		`data-notification="cbtis" data-order-id="CON-3" data-result="failed" data-acknowledged="true"`,
		`&lt;xml&gt;&lt;return_code&gt;&lt;![CDATA[SUCCESS]]&gt;`, // the answer each got, escaped
	} {
		mustContain(t, fragment, want, "console list")
	}

	if res := do(t, tc, http.MethodPost, sbx+"/sandbox/", "application/json", []byte("{}")); res.status != 405 {
		t.Fatalf("POST /sandbox/: %d", res.status)
	}
	noRedirect := *tc.Client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := noRedirect.Get(sbx + "/sandbox")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc, err := res.Location(); res.StatusCode != http.StatusMovedPermanently || err != nil || loc.Path != "/sandbox/" {
		t.Fatalf("GET /sandbox: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

// TestSandboxCompleteRequests: what POST /sandbox/complete answers besides
// a delivered notification. A settlement the provider notifies nothing of
// (a failed wechat_v3 payment) is a 200 that says so, not an error after the
// fact; a provider without orders is named as the field at fault; the body
// is JSON whatever Content-Type a script sends (curl -d sends a form's),
// while a browser's cross-site request is refused.
func TestSandboxCompleteRequests(t *testing.T) {
	tc, merchant, sandbox, _ := startExample(t)
	base, sbx := "http://localhost:"+itoa(merchant), "http://localhost:"+itoa(sandbox)
	for _, pay := range []struct{ path, body string }{
		{"/wechat_v3/pay", `{"order_id":"CMP-V3","amount":"12.30","currency":"CNY","description":"Latte","openid":"o"}`},
		{"/wechat/pay", `{"order_id":"CMP-V2","amount":"12.34","currency":"CNY","description":"Latte","openid":"o"}`},
	} {
		if res := postJSON(t, tc, base+pay.path, pay.body); res.status != 200 {
			t.Fatalf("%s: %d %s", pay.path, res.status, res.body)
		}
	}

	// WeChat Pay v3 notifies successful payments only.
	res := postJSON(t, tc, sbx+"/sandbox/complete", `{"provider":"wechat_v3","order_id":"CMP-V3","result":"failed"}`)
	if res.status != 200 {
		t.Fatalf("failing a wechat_v3 order: %d %s", res.status, res.body)
	}
	if m := res.json(t); m["provider"] != "wechat_v3" || m["order_id"] != "CMP-V3" || m["result"] != "failed" || m["delivered"] != false ||
		m["acknowledged"] != false || !strings.Contains(str(m["delivery_failure"]), "sends no notification for a failed payment") {
		t.Fatalf("failing a wechat_v3 order: %s", res.body)
	}
	if q := postJSON(t, tc, base+"/wechat_v3/query", `{"order_id":"CMP-V3"}`); q.status != 200 || q.json(t)["status"] != "failed" {
		t.Fatalf("query after failing: %d %s", q.status, q.body)
	}
	list := string(do(t, tc, http.MethodGet, sbx+"/sandbox/?part=list", "", nil).body)
	mustContain(t, list, `data-order-id="CMP-V3" data-provider="wechat_v3"`, "console list")
	if strings.Contains(list, `data-order-id="CMP-V3" data-result=`) {
		t.Fatal("the console lists a notification the sandbox did not send")
	}

	complete := `{"provider":"wechat_v2","order_id":"CMP-V2","result":"succeeded"}`
	for _, tt := range []struct {
		name, contentType, body string
		header                  http.Header
		status                  int
		field                   string // of the error, when status is not 200
	}{
		{"a provider without orders", "application/json", `{"provider":"wechat_login","order_id":"X","result":"succeeded"}`, nil, 400, "provider"},
		{"JSON", "application/json", complete, nil, 200, ""},
		{"no Content-Type", "", complete, nil, 200, ""},
		{"curl -d's form Content-Type", "application/x-www-form-urlencoded", complete, nil, 200, ""},
		{"text/plain", "text/plain", complete, nil, 200, ""},
		{"the console's own origin", "application/json", complete, http.Header{"Origin": {sbx}, "Sec-Fetch-Site": {"same-origin"}}, 200, ""},
		{"not JSON", "application/x-www-form-urlencoded", "provider=wechat_v2&order_id=CMP-V2&result=succeeded", nil, 400, ""},
		{"another site's page", "text/plain", complete, http.Header{"Origin": {"https://attacker.example"}}, 403, ""},
		{"another site's page, by Sec-Fetch-Site", "text/plain", complete, http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403, ""},
		{"a sandboxed frame", "text/plain", complete, http.Header{"Origin": {"null"}}, 403, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, sbx+"/sandbox/complete", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header[k] = v
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			r, err := tc.Client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			res := response{status: r.StatusCode, header: r.Header, body: b}
			if res.status != tt.status {
				t.Fatalf("status %d, want %d: %s", res.status, tt.status, res.body)
			}
			if tt.status == 200 {
				if m := res.json(t); m["delivered"] != true || m["acknowledged"] != true {
					t.Fatalf("answer %s", res.body)
				}
				return
			}
			if e := res.errorOf(t); str(e["field"]) != tt.field || str(e["message"]) == "" {
				t.Fatalf("error %v, want field %q", e, tt.field)
			}
		})
	}
}

// The console under a path prefix (handle_path strips it): GET <prefix>/sandbox
// redirects to <prefix>/sandbox/, not to the site's /sandbox/, so the page
// is found (its own requests are relative already).
func TestSandboxConsoleUnderPrefix(t *testing.T) {
	port := freePort(t)
	startCaddy(t, globalOptions(t.TempDir()+"/log")+`
:`+itoa(port)+` {
	handle_path /dev/* {
		minipay_sandbox {
			latipay {
				user_id U1
				wallet_id W1
				api_key k
				app_id wx1
				currency NZD
			}
		}
	}
	handle {
		minipay_sandbox {
			latipay {
				user_id U2
				wallet_id W2
				api_key k
				app_id wx2
				currency NZD
			}
		}
	}
}
`)
	for _, path := range []string{"/sandbox", "/dev/sandbox"} {
		t.Run(path, func(t *testing.T) {
			res, err := http.Get("http://localhost:" + itoa(port) + path) // follows the redirect
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || res.Request.URL.Path != path+"/" || !strings.Contains(string(body), `id="orders-title"`) {
				t.Fatalf("GET %s ended at %s: %d %.200s", path, res.Request.URL.Path, res.StatusCode, body)
			}
		})
	}
}

// TestSandboxProviderPathsRefuseOtherMethods: an emulated API path asked
// with a method its provider does not serve answers 405 with an Allow
// header naming the one it does (RFC 9110 §15.5.6: a 405 MUST carry
// Allow), as the sandbox's own endpoints do. (WeChat Pay v3 answers 404
// RESOURCE_NOT_EXISTS and code2Session errcode 43001 instead, as WeChat
// does.)
func TestSandboxProviderPathsRefuseOtherMethods(t *testing.T) {
	tc, _, sandbox, _ := startExample(t)
	sbx := "http://localhost:" + itoa(sandbox)
	tests := []struct{ method, path, allow string }{
		{http.MethodGet, "/pay/unifiedorder", "POST"},
		{http.MethodPut, "/pay/orderquery", "POST"},
		{http.MethodGet, "/pay/closeorder", "POST"},
		{http.MethodGet, "/secapi/pay/refund", "POST"},
		{http.MethodGet, "/pay/refundquery", "POST"},
		{http.MethodGet, "/2C2PFrontEnd/SecurePayment/Payment.aspx", "POST"},
		{http.MethodGet, "/v2/miniapppay", "POST"},
		{http.MethodPost, "/v2/transaction/LATI-1", "GET"},
		{http.MethodGet, "/refund", "POST"},
		{http.MethodGet, "/v2/refund", "POST"},
		{http.MethodPost, "/mch-api/v1/auth", "GET"},
		{http.MethodGet, "/mch-api/v1/pa/payment_intents/create", "POST"},
		{http.MethodDelete, "/mch-api/v1/pa/payment_intents/query", "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res := do(t, tc, tt.method, sbx+tt.path, "", nil)
			if res.status != http.StatusMethodNotAllowed || res.header.Get("Allow") != tt.allow {
				t.Fatalf("%d, Allow %q: %s; want 405, Allow %q", res.status, res.header.Get("Allow"), res.body, tt.allow)
			}
		})
	}
}
