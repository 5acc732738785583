package integration

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// Another WeChat Pay v2 merchant in the same Caddy as appID/mchID: its own
// appid, mch_id, key and sign type (not anyone's secrets).
const (
	otherAppID  = "wx9999999999999999"
	otherMchID  = "1900000200"
	otherAPIKey = "0123456789abcdef0123456789abcdef"
)

// TestDirectivePlacementAndMerchants: the directives work wherever a
// Caddyfile puts them, with no order global option (README "Modules and
// directives": the plugin registers its order) — in a route block, in
// handle_path (which strips the prefix: the operation is still the path's
// last element), in handle, at site level written after reverse_proxy, and
// in a named route (in its route block, as README "Caddyfile" says) —
// and two merchants of one provider live in one Caddy, each with its own
// webhook route and sandbox. A notification of one merchant sent to the
// other's route is refused (401) and never reaches that merchant.
func TestDirectivePlacementAndMerchants(t *testing.T) {
	site, bare, sandbox1, sandbox2 := itoa(freePort(t)), itoa(freePort(t)), itoa(freePort(t)), itoa(freePort(t))
	merchant1 := "\t\t\tapp_id " + appID + "\n\t\t\tmch_id " + mchID + "\n\t\t\tapi_key " + apiKey + "\n"
	merchant2 := "\t\t\tapp_id " + otherAppID + "\n\t\t\tmch_id " + otherMchID + "\n\t\t\tapi_key " + otherAPIKey + "\n\t\t\tsign_type HMAC-SHA256\n"
	base := "http://localhost:" + site
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
&(shop) {
	route {
		minipay wechat_v2 {
`+merchant1+`			notify_url `+base+`/webhooks/m1
			client_ip 127.0.0.1
		}
		reverse_proxy 127.0.0.1:`+sandbox1+`
	}
}

:`+site+` {
	handle_path /named/* {
		invoke shop
	}
	route /r/* {
		minipay wechat_v2 {
`+merchant1+`			notify_url `+base+`/webhooks/m1
			client_ip 127.0.0.1
		}
		reverse_proxy 127.0.0.1:`+sandbox1+`
	}
	handle_path /hp/* {
		minipay wechat_v2 {
`+merchant1+`			notify_url `+base+`/webhooks/m1
			client_ip 127.0.0.1
		}
		reverse_proxy 127.0.0.1:`+sandbox1+`
	}
	handle /m2/* {
		minipay wechat_v2 {
`+merchant2+`			notify_url `+base+`/webhooks/m2
			client_ip 127.0.0.1
		}
		reverse_proxy 127.0.0.1:`+sandbox2+`
	}
	handle /webhooks/m1 {
		reverse_proxy 127.0.0.1:`+sandbox1+` {
			rewrite /sandbox/merchant/events
		}
		minipay_webhook wechat_v2 {
			dedupe 25h
`+merchant1+`		}
	}
	handle /webhooks/m2 {
		minipay_webhook wechat_v2 {
`+merchant2+`		}
		rewrite * /sandbox/merchant/events
		reverse_proxy 127.0.0.1:`+sandbox2+`
	}
}

:`+bare+` {
	reverse_proxy 127.0.0.1:`+sandbox1+`
	minipay wechat_v2 {
`+merchant1+`			notify_url `+base+`/webhooks/m1
			client_ip 127.0.0.1
	}
}

:`+sandbox1+` {
	bind 127.0.0.1
	minipay_sandbox wechat_v2 {
`+merchant1+`	}
}

:`+sandbox2+` {
	bind 127.0.0.1
	minipay_sandbox {
		wechat_v2 {
`+merchant2+`		}
	}
}
`)
	pay := func(url, orderID, extra string) map[string]any {
		t.Helper()
		r := postJSON(t, tc, url, `{"order_id":"`+orderID+`","amount":"1.00","currency":"CNY","description":"Tea","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"`+extra+`}`)
		if r.status != 200 || !strings.HasPrefix(str(r.json(t)["package"]), "prepay_id=") {
			t.Fatalf("pay %s: %d %s", url, r.status, r.body)
		}
		return r.json(t)
	}
	for _, p := range []struct{ name, url, orderID, signType string }{
		{"route", base + "/r/pay", "PLACE-R", "MD5"},
		{"handle_path", base + "/hp/pay", "PLACE-HP", "MD5"},
		{"handle, second merchant", base + "/m2/pay", "PLACE-M2", "HMAC-SHA256"},
		{"site level, after reverse_proxy", "http://localhost:" + bare + "/any/prefix/pay", "PLACE-BARE", "MD5"},
		{"named route, in route", base + "/named/pay", "PLACE-NAMED", "MD5"},
	} {
		t.Run(p.name, func(t *testing.T) {
			if got := pay(p.url, p.orderID, ""); got["signType"] != p.signType || got["order_id"] != p.orderID {
				t.Fatalf("pay answer %v, want signType %s", got, p.signType)
			}
		})
	}
	if r := postJSON(t, tc, base+"/hp/query", `{"order_id":"PLACE-HP"}`); r.status != 200 || r.json(t)["status"] != "pending" {
		t.Fatalf("query under handle_path: %d %s", r.status, r.body)
	}

	complete := func(sandbox, orderID string) map[string]any {
		t.Helper()
		r := postJSON(t, tc, "http://127.0.0.1:"+sandbox+"/sandbox/complete", `{"provider":"wechat_v2","order_id":"`+orderID+`","result":"succeeded"}`)
		if r.status != 200 {
			t.Fatalf("complete %s: %d %s", orderID, r.status, r.body)
		}
		return r.json(t)
	}
	events := func(sandbox string) string {
		t.Helper()
		return string(do(t, tc, http.MethodGet, "http://127.0.0.1:"+sandbox+"/sandbox/merchant/events", "", nil).body)
	}
	// Each merchant's notification reaches its own route and backend.
	for _, c := range []struct{ sandbox, orderID, route string }{{sandbox1, "PLACE-R", "/webhooks/m1"}, {sandbox2, "PLACE-M2", "/webhooks/m2"}} {
		if got := complete(c.sandbox, c.orderID); got["acknowledged"] != true || got["notify_url"] != base+c.route {
			t.Fatalf("%s: %v", c.orderID, got)
		}
	}
	mustContain(t, events(sandbox1), `"order_id":"PLACE-R"`, "merchant 1's backend")
	mustContain(t, events(sandbox2), `"order_id":"PLACE-M2"`, "merchant 2's backend")
	// Merchant 1's order whose notify_url is merchant 2's route: refused
	// there, and merchant 2's backend never sees it.
	pay(base+"/r/pay", "PLACE-CROSS", `,"notify_url":"`+base+`/webhooks/m2"`)
	if got := complete(sandbox1, "PLACE-CROSS"); got["acknowledged"] != false || got["response_status"] != float64(401) {
		t.Fatalf("merchant 1's notification on merchant 2's route: %v", got)
	}
	if strings.Contains(events(sandbox2), "PLACE-CROSS") || strings.Contains(events(sandbox1), "PLACE-CROSS") {
		t.Fatal("a notification refused by the webhook route was forwarded")
	}

	// The running configuration holds the window as README documents it.
	res, err := http.Get("http://" + adminAddr + "/config/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	config, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(config), `"dedupe":"25h"`) {
		t.Fatalf("GET /config/ has no \"dedupe\":\"25h\": %s", config)
	}
}

// TestJSONConfigChangedAtRuntime: a JSON configuration loaded through the
// admin API, then changed field by field at runtime as Caddy's admin API
// allows (an "@id" on the provider object addresses it): a new sign_type is
// in effect for the next pay (and the sandbox, part of the configuration
// loaded anew, starts afresh), and a change the plugin refuses (a key of
// the wrong length) is answered with the error naming the field but not
// the value, while the running configuration keeps serving.
func TestJSONConfigChangedAtRuntime(t *testing.T) {
	site, sandbox := itoa(freePort(t)), itoa(freePort(t))
	v2 := `"app_id":"` + appID + `","mch_id":"` + mchID + `","api_key":"` + apiKey + `"`
	tc := startCaddyAs(t, `{"admin":{"listen":"`+adminAddr+`"},"storage":{"module":"file_system","root":"`+storageDir()+`"},"apps":{"http":{"servers":{
	"merchant":{"listen":["127.0.0.1:`+site+`"],"routes":[{"handle":[
		{"handler":"minipay","provider":{"@id":"shop","name":"wechat_v2",`+v2+`,"notify_url":"http://localhost:`+site+`/n","client_ip":"127.0.0.1"}},
		{"handler":"reverse_proxy","upstreams":[{"dial":"127.0.0.1:`+sandbox+`"}]}]}]},
	"sandbox":{"listen":["127.0.0.1:`+sandbox+`"],"routes":[{"handle":[{"handler":"minipay_sandbox","providers":[{"name":"wechat_v2",`+v2+`}]}]}]}}}}}`, "json")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	change := func(method, path, value string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+adminAddr+"/id/shop/"+path, strings.NewReader(value))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		awaitAdmin(t)
		return res.StatusCode, string(body)
	}
	pay := func(orderID, signType string) {
		t.Helper()
		r := postJSON(t, tc, "http://127.0.0.1:"+site+"/shop/pay", `{"order_id":"`+orderID+`","amount":"1.00","currency":"CNY","description":"Tea","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`)
		if r.status != 200 || r.json(t)["signType"] != signType {
			t.Fatalf("pay %s: %d %s, want signType %s", orderID, r.status, r.body, signType)
		}
	}
	pay("RUNTIME-1", "MD5")
	if status, body := change(http.MethodPut, "sign_type", `"HMAC-SHA256"`); status != 200 {
		t.Fatalf("PUT sign_type: %d %s", status, body)
	}
	pay("RUNTIME-2", "HMAC-SHA256")
	// The change loaded a new configuration: its sandbox starts afresh, as
	// README "Sandbox" says, and no longer knows the first order.
	if r := postJSON(t, tc, "http://127.0.0.1:"+site+"/shop/query", `{"order_id":"RUNTIME-1"}`); r.status != 422 || r.errorOf(t)["provider_code"] != "ORDERNOTEXIST" {
		t.Fatalf("query of an order made before the change: %d %s", r.status, r.body)
	}
	if status, body := change(http.MethodPatch, "api_key", `"0123456789abcdef-not-32"`); status == 200 ||
		!strings.Contains(body, "wechat_v2: api_key must be 32 bytes") || strings.Contains(body, "0123456789abcdef-not-32") || strings.Contains(body, apiKey) {
		t.Fatalf("PATCH api_key of the wrong length: %d %s", status, body)
	}
	pay("RUNTIME-3", "HMAC-SHA256")
	if status, body := change(http.MethodPatch, "sign_type", `"MD5"`); status != 200 {
		t.Fatalf("PATCH sign_type: %d %s", status, body)
	}
	pay("RUNTIME-4", "MD5")
}
