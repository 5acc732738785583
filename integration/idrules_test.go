package integration

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestIDRulesOfEveryProvider: README "Merchant API" and each provider's
// section. An order_id or refund_id the merchant API's rule refuses is a 400
// naming it, for every provider alike; one that rule takes but a provider's
// own refuses (WeChat v3's out_trade_no: 6 to 32 characters, no '|') is
// sent, and the provider's refusal is a 422 with its code (here the
// sandbox's, answering as WeChat does); one both take makes the order or
// the refund, on every route of Caddyfile.example. 2C2P's
// uniqueTransactionCode of at most 20 characters is the exception: a
// longer order_id is a 400 naming it, and 2C2P is not called (README
// "2C2P", docs/providers/2c2p.md "Field limits").
func TestIDRulesOfEveryProvider(t *testing.T) {
	tc, merchant, sandbox, _ := startExample(t)
	base := "http://localhost:" + itoa(merchant)
	call := func(r exampleRoute, op string, body map[string]any) response {
		return postJSON(t, tc, base+r.path+"/"+op, marshal(t, body))
	}
	orderRoutes := slices.DeleteFunc(slices.Clone(exampleRoutes), func(r exampleRoute) bool { return r.provider == "wechat_login" })

	orders := []struct {
		name, id   string
		merchantOK bool // the merchant API's rule: 1–32 of A-Za-z0-9_-|*
		v3OK       bool // WeChat v3's out_trade_no: 6–32 of A-Za-z0-9_-*
		twoC2POK   bool // 2C2P's uniqueTransactionCode: at most 20 characters
	}{
		{"2 characters", "O1", true, false, true},
		{"5 characters", "ORDR1", true, false, true},
		{"6 characters", "ORDER1", true, true, true},
		{"a '|'", "ORDER|1", true, false, true},
		{"20 characters of every kind", "Az09_-|*" + strings.Repeat("9", 12), true, false, true},
		{"21 characters", strings.Repeat("9", 21), true, true, false},
		{"32 characters of every kind", "Az09_-|*" + strings.Repeat("9", 24), true, false, false},
		{"32 characters of every kind but '|'", "Az09_-*" + strings.Repeat("9", 25), true, true, false},
		{"33 characters", strings.Repeat("9", 33), false, false, false},
		{"an '@'", "ORDER@1", false, false, false},
		{"a space", "ORDER 1", false, false, false},
		{"a dot", "ORDER.1", false, false, false},
		{"not ASCII", "订单000001", false, false, false},
	}
	for _, tt := range orders {
		t.Run("order_id "+tt.name, func(t *testing.T) {
			for _, r := range orderRoutes {
				for _, op := range []string{"pay", "query", "close"} {
					if !slices.Contains(r.ops, op) {
						continue
					}
					body := map[string]any{"order_id": tt.id}
					if op == "pay" {
						body = r.validBody("pay", 0)
						body["order_id"] = tt.id
					}
					res := call(r, op, body)
					where := r.provider + " " + op + " " + tt.id
					switch {
					case !tt.merchantOK:
						wantAnswer(t, where, res, 400, "invalid_request", "order_id")
					case r.provider == "2c2p" && !tt.twoC2POK:
						wantAnswer(t, where, res, 400, "invalid_request", "order_id")
						if e := res.errorOf(t); !strings.Contains(str(e["message"]), "uniqueTransactionCode") {
							t.Errorf("%s: %s, want a message naming 2C2P's uniqueTransactionCode", where, res.body)
						}
						// nothing reached 2C2P: the sandbox knows no such order
						c := postJSON(t, tc, "http://localhost:"+itoa(sandbox)+"/sandbox/complete", `{"provider":"2c2p","order_id":"`+tt.id+`","result":"succeeded"}`)
						if c.status != 400 || !strings.Contains(string(c.body), "no such order") {
							t.Errorf("%s: the sandbox completed it: %d %s", where, c.status, c.body)
						}
					case r.provider == "wechat_v3" && !tt.v3OK:
						wantAnswer(t, where, res, 422, "provider_rejected", "")
						if e := res.errorOf(t); e["provider_code"] != "PARAM_ERROR" || !strings.Contains(str(e["provider_message"]), "out_trade_no") {
							t.Errorf("%s: %s, want WeChat's PARAM_ERROR naming out_trade_no", where, res.body)
						}
					case op == "pay":
						wantPayAnswer(t, where, res, r.provider, tt.id, str(body["openid"]))
					default:
						want := map[string]string{"query": "pending", "close": "cancelled"}[op]
						if a := res.json(t); res.status != 200 || a["order_id"] != tt.id || a["status"] != want {
							t.Errorf("%s: %d %s, want 200 %s", where, res.status, res.body, want)
						}
					}
				}
			}
		})
	}

	// Refund ids: 1–64 of A-Za-z0-9_-|*@ (WeChat's out_refund_no, v2 and v3
	// alike), refunds of a paid order on every route that refunds.
	refundRoutes := slices.DeleteFunc(slices.Clone(orderRoutes), func(r exampleRoute) bool { return !slices.Contains(r.ops, "refund") })
	paid := map[string]string{} // provider → provider_order_id
	for _, r := range refundRoutes {
		pay := r.validBody("pay", 0)
		pay["order_id"], pay["amount"] = "REFUNDS-1", "10.00"
		res := call(r, "pay", pay)
		if res.status != 200 {
			t.Fatalf("%s pay: %d %s", r.provider, res.status, res.body)
		}
		paid[r.provider] = str(res.json(t)["provider_order_id"])
		c := postJSON(t, tc, "http://localhost:"+itoa(sandbox)+"/sandbox/complete", `{"provider":"`+r.provider+`","order_id":"REFUNDS-1","result":"succeeded"}`)
		if c.status != 200 || c.json(t)["acknowledged"] != true {
			t.Fatalf("%s complete: %d %s", r.provider, c.status, c.body)
		}
	}
	refunds := []struct {
		name, id   string
		merchantOK bool
	}{
		{"1 character", "R", true},
		{"64 characters of every kind", "Az09_-|*@" + strings.Repeat("9", 55), true},
		{"65 characters", strings.Repeat("9", 65), false},
		{"a space", "R 1", false},
		{"a dot", "R.1", false},
		{"a '#'", "R#1", false},
		{"not ASCII", "退款1", false},
	}
	for _, tt := range refunds {
		t.Run("refund_id "+tt.name, func(t *testing.T) {
			for _, r := range refundRoutes {
				body := map[string]any{"order_id": "REFUNDS-1", "refund_id": tt.id, "amount": "0.01", "currency": r.currency, "total_amount": "10.00"}
				if r.provider == "latipay" {
					delete(body, "total_amount")
					body["provider_order_id"] = paid[r.provider]
				}
				for _, op := range []string{"refund", "refund_query"} {
					if !slices.Contains(r.ops, op) {
						continue
					}
					if op == "refund_query" {
						body = map[string]any{"refund_id": tt.id, "order_id": "REFUNDS-1"}
					}
					res := call(r, op, body)
					where := r.provider + " " + op + " " + tt.id
					if !tt.merchantOK {
						wantAnswer(t, where, res, 400, "invalid_request", "refund_id")
						continue
					}
					if a := res.json(t); res.status != http.StatusOK || a["refund_id"] != tt.id || a["amount"] != "0.01" {
						t.Errorf("%s: %d %s", where, res.status, res.body)
					}
				}
			}
		})
	}
}
