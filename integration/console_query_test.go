package integration

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// consoleStates reads the state of every order the console lists, by
// "<provider> <order id>".
func consoleStates(t *testing.T, get func() []byte) map[string]string {
	t.Helper()
	card := regexp.MustCompile(`<article class="order s-\w+" data-order-id="([^"]*)" data-provider="([^"]*)">(?s:.*?)data-field="state">([^<]*)<`)
	states := map[string]string{}
	for _, m := range card.FindAllStringSubmatch(string(get()), -1) {
		states[m[2]+" "+html.UnescapeString(m[1])] = m[3]
	}
	return states
}

// TestSandboxConsoleMatchesQuery: README "Sandbox console": the state the
// console shows is the one the merchant API's query answers, after each
// operation of every provider with a query (pay, a failed and a successful
// payment, a partial and a full refund through the API, a close), except
// where the provider's query has no word for it: cbtis after a failure or a
// refund, latipay after a full refund.
func TestSandboxConsoleMatchesQuery(t *testing.T) {
	tc, merchant, sandbox, _ := startExample(t)
	base, sbx := "http://localhost:"+itoa(merchant), "http://localhost:"+itoa(sandbox)
	list := func() []byte { return do(t, tc, http.MethodGet, sbx+"/sandbox/?part=list", "", nil).body }
	type step struct {
		name, call, body string // call: a merchant API path, or "complete"
		console, query   string
	}
	pay := func(currency string) string {
		return `{"order_id":"CQ-0001","amount":"10.00","currency":"` + currency + `","description":"奶茶 <b>&</b>","openid":"oCQ"}`
	}
	refund := func(id, amount, currency, extra string) string {
		return `{"order_id":"CQ-0001","refund_id":"` + id + `","amount":"` + amount + `","currency":"` + currency + `"` + extra + `}`
	}
	tests := []struct {
		provider, route string
		steps           []step
	}{
		{"wechat_v2", "/wechat", []step{
			{"pay", "pay", pay("CNY"), "pending", "pending"},
			{"fail", "complete", "failed", "failed", "failed"},
			{"succeed", "complete", "succeeded", "succeeded", "succeeded"},
			{"partial refund", "refund", refund("CQ-0001-R1", "3.00", "CNY", `,"total_amount":"10.00"`), "refunded", "refunded"},
			{"full refund", "refund", refund("CQ-0001-R2", "7.00", "CNY", `,"total_amount":"10.00"`), "refunded", "refunded"},
		}},
		{"wechat_v3", "/wechat_v3", []step{
			{"pay", "pay", pay("CNY"), "pending", "pending"},
			{"fail", "complete", "failed", "failed", "failed"},
			{"succeed", "complete", "succeeded", "succeeded", "succeeded"},
			{"partial refund", "refund", refund("CQ-0001-R1", "3.00", "CNY", `,"total_amount":"10.00"`), "refunded", "refunded"},
		}},
		{"latipay", "/latipay", []step{
			{"pay", "pay", pay("NZD"), "pending", "pending"},
			{"fail", "complete", "failed", "failed", "failed"},
			{"succeed", "complete", "succeeded", "succeeded", "succeeded"},
			{"partial refund", "refund", refund("CQ-0001-R1", "3.00", "NZD", `,"provider_order_id":"PROVIDER_ORDER_ID"`), "succeeded", "succeeded"},
			{"full refund", "refund", refund("CQ-0001-R2", "7.00", "NZD", `,"provider_order_id":"PROVIDER_ORDER_ID"`), "refunded", "succeeded"},
		}},
		{"cbtis", "/cbtis", []step{
			{"pay", "pay", pay("HKD"), "pending", "pending"},
			{"fail", "complete", "failed", "failed", "pending"},
			{"succeed", "complete", "succeeded", "succeeded", "succeeded"},
			{"refund", "complete", "refunded", "refunded", "succeeded"},
		}},
	}
	for _, tt := range tests {
		var providerOrderID string
		for _, s := range tt.steps {
			var res response
			if s.call == "complete" {
				res = postJSON(t, tc, sbx+"/sandbox/complete", `{"provider":"`+tt.provider+`","order_id":"CQ-0001","result":"`+s.body+`"}`)
			} else {
				body := strings.ReplaceAll(s.body, "PROVIDER_ORDER_ID", providerOrderID)
				res = postJSON(t, tc, base+tt.route+"/"+s.call, body)
			}
			if res.status != 200 {
				t.Fatalf("%s %s: %d %s", tt.provider, s.name, res.status, res.body)
			}
			q := postJSON(t, tc, base+tt.route+"/query", `{"order_id":"CQ-0001"}`)
			if q.status != 200 {
				t.Fatalf("%s query after %s: %d %s", tt.provider, s.name, q.status, q.body)
			}
			if id, ok := q.json(t)["provider_order_id"].(string); ok {
				providerOrderID = id
			}
			shown := consoleStates(t, list)[tt.provider+" CQ-0001"]
			if shown != s.console || q.json(t)["status"] != s.query {
				t.Errorf("%s after %s: the console shows %q and query answers %v, want %q and %q",
					tt.provider, s.name, shown, q.json(t)["status"], s.console, s.query)
			}
		}
	}
	// a close: cancelled on both sides
	for _, route := range []struct{ provider, path string }{{"wechat_v2", "/wechat"}, {"wechat_v3", "/wechat_v3"}} {
		if res := postJSON(t, tc, base+route.path+"/pay", `{"order_id":"CQ-0002","amount":"1.00","currency":"CNY","description":"d","openid":"oCQ"}`); res.status != 200 {
			t.Fatalf("%s pay: %d %s", route.provider, res.status, res.body)
		}
		if res := postJSON(t, tc, base+route.path+"/close", `{"order_id":"CQ-0002"}`); res.status != 200 {
			t.Fatalf("%s close: %d %s", route.provider, res.status, res.body)
		}
		q := postJSON(t, tc, base+route.path+"/query", `{"order_id":"CQ-0002"}`)
		if shown := consoleStates(t, list)[route.provider+" CQ-0002"]; shown != "cancelled" || q.json(t)["status"] != "cancelled" {
			t.Errorf("%s after close: the console shows %q and query answers %s", route.provider, shown, q.body)
		}
	}
}
