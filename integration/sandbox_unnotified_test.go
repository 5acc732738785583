package integration

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSandboxSettlesOrdersWithoutNotifyURL: 2C2P and CBTIS pay requests may
// carry no notify URL (README Merchant API). POST /sandbox/complete then
// settles the order as the provider would when its customer pays, and
// answers 200 with delivered false and a delivery_failure naming notify_url
// (README Sandbox), so a merchant that polls query sees the payment.
func TestSandboxSettlesOrdersWithoutNotifyURL(t *testing.T) {
	merchant, sandbox := itoa(freePort(t)), itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "log"))+`
:`+merchant+` {
	handle /cbtis/* {
		minipay cbtis {
			uid `+cbtisUID+`
			client_secret `+cbtisSecret+`
			sub_app_id `+cbtisSubAppID+`
			token_url http://127.0.0.1:`+sandbox+`/mch-api/v1/auth
		}
		reverse_proxy 127.0.0.1:`+sandbox+`
	}
	handle /2c2p/* {
		minipay 2c2p {
			merchant_id JT01
			secret_key 7jYcp4FxFdf0
			app_id wx8888888888888888
		}
		reverse_proxy 127.0.0.1:`+sandbox+`
	}
}
:`+sandbox+` {
	bind 127.0.0.1
	minipay_sandbox {
		cbtis {
			uid `+cbtisUID+`
			client_secret `+cbtisSecret+`
			sub_app_id `+cbtisSubAppID+`
			api_key `+cbtisAPIKey+`
		}
		2c2p {
			merchant_id JT01
			secret_key 7jYcp4FxFdf0
			app_id wx8888888888888888
		}
	}
}
`)
	base, sbx := "http://localhost:"+merchant, "http://localhost:"+sandbox
	for _, p := range []struct{ route, currency string }{{"/cbtis", "HKD"}, {"/2c2p", "SGD"}} {
		if r := postJSON(t, tc, base+p.route+"/pay", `{"order_id":"NN-1","amount":"12.30","currency":"`+p.currency+`","description":"d","openid":"o"}`); r.status != 200 {
			t.Fatalf("%s pay: %d %s", p.route, r.status, r.body)
		}
	}
	tests := []struct{ provider, result, state string }{
		{"cbtis", "succeeded", "SUCCEEDED"},
		{"cbtis", "refunded", "REFUNDED"},
		{"2c2p", "succeeded", "succeeded"},
	}
	for _, tt := range tests {
		r := postJSON(t, tc, sbx+"/sandbox/complete", `{"provider":"`+tt.provider+`","order_id":"NN-1","result":"`+tt.result+`"}`)
		m := r.json(t)
		if r.status != 200 || m["provider"] != tt.provider || m["order_id"] != "NN-1" || m["result"] != tt.result || m["notify_url"] != "" ||
			m["delivered"] != false || m["acknowledged"] != false ||
			!strings.Contains(str(m["delivery_failure"]), "the order is now "+tt.state) || !strings.Contains(str(m["delivery_failure"]), "notify_url") {
			t.Fatalf("%s %s: %d %s", tt.provider, tt.result, r.status, r.body)
		}
		if tt.result == "succeeded" && tt.provider == "cbtis" {
			if q := postJSON(t, tc, base+"/cbtis/query", `{"order_id":"NN-1"}`); q.status != 200 || q.json(t)["status"] != "succeeded" || str(q.json(t)["paid_at"]) == "" {
				t.Fatalf("cbtis query after the payment: %d %s", q.status, q.body)
			}
		}
	}
	// the settled 2C2P order is paid: paying it again is 2C2P's refusal
	r := postJSON(t, tc, base+"/2c2p/pay", `{"order_id":"NN-1","amount":"12.30","currency":"SGD","description":"d","openid":"o"}`)
	if e := r.errorOf(t); r.status != 422 || e["provider_code"] != "99" || e["provider_message"] != "Duplicate unique transaction code." {
		t.Fatalf("2c2p pay of the settled order: %d %s", r.status, r.body)
	}
	// nothing was sent, so the console lists no notification; the orders' states are there
	list := string(do(t, tc, "GET", sbx+"/sandbox/?part=list", "", nil).body)
	mustContain(t, list, `data-order-id="NN-1" data-provider="cbtis"`, "console list")
	if strings.Contains(list, `data-order-id="NN-1" data-result=`) {
		t.Fatal("the console lists a notification the sandbox did not send")
	}
	for _, bad := range []string{`{"provider":"cbtis","order_id":"NN-1","result":"failed"}`, `{"provider":"2c2p","order_id":"NN-1","result":"failed"}`} {
		if r := postJSON(t, tc, sbx+"/sandbox/complete", bad); r.status != 400 || r.errorOf(t)["field"] != "order_id" {
			t.Fatalf("%s: %d %s", bad, r.status, r.body)
		}
	}
}
