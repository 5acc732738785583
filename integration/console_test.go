package integration

import (
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
		`data-notification="" data-order-id="CON-1" data-result="refunded" data-acknowledged="true"`,
		`data-notification="" data-order-id="CON-1" data-result="succeeded" data-acknowledged="true"`,
		`data-notification="" data-order-id="CON-3" data-result="failed" data-acknowledged="true"`,
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
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/sandbox/" {
		t.Fatalf("GET /sandbox: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}
