package integration

import (
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/cbtis"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// TestUpstreamRefusalStatusesAlike: README Errors, one rule for every
// provider whose error answers carry a business code (WeChat v3, Latipay,
// CBTIS), driven through a real Caddy against one independent server that
// answers each provider's query with its own error form under every HTTP
// status: a 4xx with a code is the provider's refusal (422), but a 401 (the
// provider did not take our credentials) and a 429 (the rate is at fault);
// those, a 3xx and a 5xx are a 502 upstream_error keeping the code.
func TestUpstreamRefusalStatusesAlike(t *testing.T) {
	platform := v3PrivateKey(t, "wechatpay_platform_key.pem")
	// The provider's error form, each provider's own spelling of a business
	// refusal (none of them one that blames the configuration).
	forms := map[string]string{
		"wechat_v3": `{"code":"PARAM_ERROR","message":"参数错误"}`,
		"latipay":   `{"code":207,"message":"Param is wrong"}`,
		"cbtis":     `{"code":40002,"message":"invalid parameter"}`,
	}
	codes := map[string]string{"wechat_v3": "PARAM_ERROR", "latipay": "207", "cbtis": "40002"}
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/mch-api/v1/auth" {
			_, _ = io.WriteString(w, `{"access_token":"tok-statuses","expires_in":3600}`)
			return
		}
		// The order id names the status to answer: ST-<status>.
		var provider, order string
		switch {
		case strings.HasPrefix(r.URL.Path, "/v3/"):
			provider, order = "wechat_v3", path.Base(r.URL.Path)
		case strings.HasPrefix(r.URL.Path, "/v2/transaction/"):
			provider, order = "latipay", path.Base(r.URL.Path)
		case r.URL.Path == "/mch-api/v1/pa/payment_intents/query":
			var q struct {
				MerchantOrderID string `json:"merchant_order_id"`
			}
			_ = json.Unmarshal(body, &q)
			provider, order = "cbtis", q.MerchantOrderID
		}
		status, err := strconv.Atoi(strings.TrimPrefix(order, "ST-"))
		if provider == "" || err != nil {
			http.Error(w, "unexpected request", http.StatusTeapot)
			return
		}
		out := forms[provider]
		if provider == "wechat_v3" { // WeChat signs every answer, error answers included
			for k, v := range wechatHeaders(t, platform, v3PublicKeyID, time.Now().Unix(), out) {
				w.Header()[k] = v
			}
		}
		if status/100 == 3 {
			w.Header().Set("Location", "https://elsewhere.example/")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, out)
	}))
	t.Cleanup(fake.Close)
	upstream := strings.TrimPrefix(fake.URL, "http://")
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+port+` {
	handle /wechat_v3/* {
		minipay wechat_v3 {
`+v3Merchant(t, v3PublicKeyMode(t))+`
		}
		reverse_proxy `+upstream+`
	}`+latipayRoute("/latipay", fake.URL, latipayAPIKey)+`
	handle /cbtis/* {
		minipay cbtis {`+cbtisBlock(fake.URL+"/mch-api/v1/auth")+`
		}
		reverse_proxy `+upstream+`
	}
}
`)
	tests := []struct {
		status int
		want   string // HTTP status and error code
	}{
		{301, "502 upstream_error"},
		{302, "502 upstream_error"},
		{400, "422 provider_rejected"},
		{401, "502 upstream_error"},
		{403, "422 provider_rejected"},
		{404, "422 provider_rejected"},
		{409, "422 provider_rejected"},
		{429, "502 upstream_error"},
		{500, "502 upstream_error"},
		{503, "502 upstream_error"},
	}
	for _, tt := range tests {
		for _, provider := range []string{"wechat_v3", "latipay", "cbtis"} {
			where := provider + " HTTP " + strconv.Itoa(tt.status)
			res := postJSON(t, tc, "http://localhost:"+port+"/"+provider+"/query", `{"order_id":"ST-`+strconv.Itoa(tt.status)+`"}`)
			e := res.errorOf(t)
			if got := strconv.Itoa(res.status) + " " + str(e["code"]); got != tt.want || res.header.Get("Content-Type") != "application/json" {
				t.Errorf("%s: %s, want %s: %s", where, got, tt.want, res.body)
				continue
			}
			// The provider's code is kept whatever the mapping (CBTIS's 401
			// too, which is retried once with a fresh token first).
			if str(e["provider_code"]) != codes[provider] {
				t.Errorf("%s: provider_code %v, want %s: %s", where, e["provider_code"], codes[provider], res.body)
			}
			if _, has := e["field"]; has {
				t.Errorf("%s: an upstream answer names a field: %s", where, res.body)
			}
		}
	}
}

// TestProviderRefusalsAlike: README Errors, through Caddyfile.example and
// its sandbox: the same business mistake gets the same answer from every
// provider that serves the operation, a 422 provider_rejected carrying the
// provider's own code and text and naming no field (the request was valid;
// the provider said no).
func TestProviderRefusalsAlike(t *testing.T) {
	tc, merchant, sandbox, _ := startExample(t)
	base := "http://localhost:" + itoa(merchant)
	n := 0
	// prepare makes an order in route r (paid when paid is set) and returns
	// its id and its pay answer's provider_order_id.
	prepare := func(t *testing.T, r exampleRoute, paid bool) (id, providerOrderID string) {
		t.Helper()
		n++
		id = "REFUSE-" + strconv.Itoa(n)
		pay := postJSON(t, tc, base+r.path+"/pay", `{"order_id":"`+id+`","amount":"1.00","currency":"`+r.currency+`","description":"d","openid":"o-refusal"}`)
		if pay.status != 200 {
			t.Fatalf("%s pay: %d %s", r.provider, pay.status, pay.body)
		}
		if paid {
			done := postJSON(t, tc, "http://localhost:"+itoa(sandbox)+"/sandbox/complete", `{"provider":"`+r.provider+`","order_id":"`+id+`","result":"succeeded"}`)
			if done.status != 200 {
				t.Fatalf("%s complete: %d %s", r.provider, done.status, done.body)
			}
		}
		return id, str(pay.json(t)["provider_order_id"])
	}
	refund := func(r exampleRoute, id, providerOrderID, amount string) string {
		b := `{"order_id":"` + id + `","refund_id":"` + id + `-R","amount":"` + amount + `","currency":"` + r.currency + `","total_amount":"` + amount + `"`
		if r.provider == "latipay" {
			b += `,"provider_order_id":"` + cmp.Or(providerOrderID, "2026112299999999") + `"`
		}
		return b + "}"
	}
	// each provider's "order id used" refusal (README Sandbox)
	orderIDUsed := map[string]string{"wechat_v2": "INVALID_REQUEST", "wechat_v3": "OUT_TRADE_NO_USED", "2c2p": "99", "latipay": "207", "cbtis": "40002"}
	tests := []struct {
		name string
		op   string
		// request sends the mistake to route r: the operation's path and body
		request func(t *testing.T, r exampleRoute) (op, body string)
		// codes, when set, is each provider's provider_code for the mistake
		codes map[string]string
	}{
		{"query of an order never made", "query", func(t *testing.T, r exampleRoute) (string, string) {
			return "query", `{"order_id":"NEVER-MADE"}`
		}, nil},
		{"close of an order never made", "close", func(t *testing.T, r exampleRoute) (string, string) {
			return "close", `{"order_id":"NEVER-MADE"}`
		}, nil},
		{"refund of an order never made", "refund", func(t *testing.T, r exampleRoute) (string, string) {
			return "refund", refund(r, "NEVER-MADE", "", "1.00")
		}, nil},
		{"refund_query of a refund never made", "refund_query", func(t *testing.T, r exampleRoute) (string, string) {
			return "refund_query", `{"refund_id":"NEVER-MADE-R"}`
		}, nil},
		{"order id used again for another amount", "pay", func(t *testing.T, r exampleRoute) (string, string) {
			id, _ := prepare(t, r, false)
			return "pay", `{"order_id":"` + id + `","amount":"2.00","currency":"` + r.currency + `","description":"d","openid":"o-refusal"}`
		}, orderIDUsed},
		// README Sandbox: a failed order is paid again under a new id, as
		// WeChat asks; every sandbox answers its "order id used" refusal
		{"order id of a failed payment paid again", "pay", func(t *testing.T, r exampleRoute) (string, string) {
			id, _ := prepare(t, r, false)
			done := postJSON(t, tc, "http://localhost:"+itoa(sandbox)+"/sandbox/complete", `{"provider":"`+r.provider+`","order_id":"`+id+`","result":"failed"}`)
			if done.status != 200 {
				t.Fatalf("%s complete failed: %d %s", r.provider, done.status, done.body)
			}
			return "pay", `{"order_id":"` + id + `","amount":"1.00","currency":"` + r.currency + `","description":"d","openid":"o-refusal"}`
		}, orderIDUsed},
		{"refund of an unpaid order", "refund", func(t *testing.T, r exampleRoute) (string, string) {
			id, pid := prepare(t, r, false)
			return "refund", refund(r, id, pid, "1.00")
		}, nil},
		{"refund of more than was paid", "refund", func(t *testing.T, r exampleRoute) (string, string) {
			id, pid := prepare(t, r, true)
			return "refund", refund(r, id, pid, "2.00")
		}, nil},
		{"close of a paid order", "close", func(t *testing.T, r exampleRoute) (string, string) {
			id, _ := prepare(t, r, true)
			return "close", `{"order_id":"` + id + `"}`
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			served := 0
			for _, r := range exampleRoutes {
				if !slices.Contains(r.ops, tt.op) {
					continue
				}
				served++
				op, body := tt.request(t, r)
				res := postJSON(t, tc, base+r.path+"/"+op, body)
				where := r.provider + " " + op
				wantAnswer(t, where, res, 422, "provider_rejected", "")
				if e := res.errorOf(t); str(e["provider_code"]) == "" || str(e["provider_message"]) == "" {
					t.Errorf("%s: the provider's code or text is missing: %s", where, res.body)
				} else if want, ok := tt.codes[r.provider]; tt.codes != nil && (!ok || str(e["provider_code"]) != want) {
					t.Errorf("%s: provider_code %v, want %q", where, e["provider_code"], want)
				}
			}
			if served < 2 {
				t.Fatalf("%d providers serve %s: nothing to compare", served, tt.op)
			}
		})
	}

	// The one documented difference (README Merchant API, close): a second
	// close is each provider's own answer.
	for _, r := range exampleRoutes {
		if !slices.Contains(r.ops, "close") {
			continue
		}
		id, _ := prepare(t, r, false)
		first := postJSON(t, tc, base+r.path+"/close", `{"order_id":"`+id+`"}`)
		again := postJSON(t, tc, base+r.path+"/close", `{"order_id":"`+id+`"}`)
		wantAnswer(t, r.provider+" close", first, 200, "", "")
		switch r.provider {
		case "wechat_v2":
			wantAnswer(t, r.provider+" close again", again, 422, "provider_rejected", "")
			if code := str(again.errorOf(t)["provider_code"]); code != "ORDERCLOSED" {
				t.Errorf("wechat_v2 close again: provider_code %q: %s", code, again.body)
			}
		default:
			if again.status != 200 || strings.TrimSpace(string(again.body)) != strings.TrimSpace(string(first.body)) {
				t.Errorf("%s close again: %d %s, want the first answer %s", r.provider, again.status, again.body, first.body)
			}
		}
	}
}

// TestEventShapesAlike: README Webhooks (Event), through Caddyfile.example:
// the events every provider's sandbox notification becomes have one shape.
// The members are the documented ones (id, provider, type, order_id and data
// always; provider_order_id, refund_id, amount with currency, occurred_at
// where the provider signs them), every one a string but data, an object of
// strings; id is provider:reference:type and the Minipay-* headers repeat
// it; amount has the currency's decimals; refund_id is on refund events
// only; provider_order_id is the one the pay and query answers gave. The
// query then names each outcome in the status object's vocabulary, paid_at
// only for a paid order.
func TestEventShapesAlike(t *testing.T) {
	tc, merchant, sandbox, _ := startExample(t)
	base, sb := "http://localhost:"+itoa(merchant), "http://localhost:"+itoa(sandbox)
	allowed := []string{"id", "provider", "type", "order_id", "provider_order_id", "refund_id", "amount", "currency", "occurred_at", "data"}
	types := []string{"payment.succeeded", "payment.failed", "payment.pending", "payment.cancelled", "refund.succeeded", "refund.failed", "unknown"}
	// Each provider's documented type for a sandbox result, "" where it
	// sends nothing (WeChat v3 notifies no failed payment), and whether its
	// events carry occurred_at and provider_order_id (README What the
	// merchant can trust: 2C2P's dateTime has no zone, Latipay signs neither).
	type outcome struct{ succeeded, failed, refunded string }
	providers := map[string]struct {
		types            outcome
		time, providerID bool
	}{
		"wechat_v2": {outcome{"payment.succeeded", "payment.failed", "refund.succeeded"}, true, true},
		"wechat_v3": {outcome{"payment.succeeded", "", "refund.succeeded"}, true, true},
		"2c2p":      {outcome{"payment.succeeded", "payment.failed", ""}, false, true},
		"latipay":   {outcome{"payment.succeeded", "payment.failed", ""}, false, false},
		// CBTIS documents payment_success and refund_success only: its
		// payment_failed is forwarded as unknown (README CBTIS)
		"cbtis": {outcome{"payment.succeeded", "unknown", "refund.succeeded"}, true, true},
	}
	events := func() map[string][]map[string]any {
		byOrder := map[string][]map[string]any{}
		for _, e := range do(t, tc, http.MethodGet, sb+"/sandbox/merchant/events", "", nil).json(t)["events"].([]any) {
			rec := e.(map[string]any)
			ev, _ := rec["event"].(map[string]any)
			if ev["id"] != rec["minipay_event_id"] || ev["provider"] != rec["minipay_provider"] {
				t.Errorf("Minipay-Event-Id %v, Minipay-Provider %v for the event %v", rec["minipay_event_id"], rec["minipay_provider"], ev)
			}
			byOrder[str(ev["order_id"])] = append(byOrder[str(ev["order_id"])], ev)
		}
		return byOrder
	}
	checked := 0
	check := func(r exampleRoute, ev map[string]any, wantType, orderID, providerOrderID, amount string) {
		t.Helper()
		checked++
		where := r.provider + " " + wantType
		p := providers[r.provider]
		for k, v := range ev {
			if !slices.Contains(allowed, k) {
				t.Errorf("%s: member %s: %v", where, k, ev)
			}
			if _, isString := v.(string); !isString && k != "data" {
				t.Errorf("%s: %s is %T: %v", where, k, v, ev)
			}
		}
		data, ok := ev["data"].(map[string]any)
		if !ok || len(data) == 0 {
			t.Errorf("%s: data %v", where, ev["data"])
		}
		for k, v := range data {
			if _, isString := v.(string); !isString {
				t.Errorf("%s: data[%s] is %T", where, k, v)
			}
		}
		typ := str(ev["type"])
		if typ != wantType || !slices.Contains(types, typ) || ev["provider"] != r.provider || ev["order_id"] != orderID {
			t.Errorf("%s: type %q provider %v order_id %v: %v", where, typ, ev["provider"], ev["order_id"], ev)
		}
		id := str(ev["id"])
		if !strings.HasPrefix(id, r.provider+":") || !strings.HasSuffix(id, ":"+typ) || len(id) <= len(r.provider+"::"+typ) {
			t.Errorf("%s: id %q is not %s:<reference>:%s", where, id, r.provider, typ)
		}
		_, hasAmount := ev["amount"]
		_, hasCurrency := ev["currency"]
		if hasAmount != hasCurrency || hasAmount && (ev["amount"] != amount || ev["currency"] != r.currency) {
			t.Errorf("%s: amount %v currency %v, want %s %s", where, ev["amount"], ev["currency"], amount, r.currency)
		}
		if typ != "unknown" && !hasAmount {
			t.Errorf("%s: no amount: %v", where, ev)
		}
		if _, has := ev["refund_id"]; has != strings.HasPrefix(typ, "refund.") || has && str(ev["refund_id"]) == "" {
			t.Errorf("%s: refund_id %v on a %s event", where, ev["refund_id"], typ)
		}
		at, has := ev["occurred_at"]
		// an unknown kind has the time its notification signs, if any (CBTIS's payment_failed has no pay_time)
		if _, err := time.Parse(time.RFC3339, str(at)); has != p.time && typ != "unknown" || has && err != nil {
			t.Errorf("%s: occurred_at %v (present: %v, want %v)", where, at, has, p.time)
		}
		if got, has := ev["provider_order_id"]; has != p.providerID || has && (got == "" || providerOrderID != "" && got != providerOrderID) {
			t.Errorf("%s: provider_order_id %v, want present %v and %q", where, got, p.providerID, providerOrderID)
		}
	}
	for _, r := range exampleRoutes {
		p, ok := providers[r.provider]
		if !ok {
			continue
		}
		for _, result := range []string{"succeeded", "failed"} {
			id := "EVENT-" + strings.ReplaceAll(r.provider, "_", "-") + "-" + result
			pay := postJSON(t, tc, base+r.path+"/pay", `{"order_id":"`+id+`","amount":"12.3","currency":"`+r.currency+`","description":"d","openid":"o-event"}`)
			if pay.status != 200 {
				t.Fatalf("%s pay: %d %s", r.provider, pay.status, pay.body)
			}
			providerOrderID := str(pay.json(t)["provider_order_id"])
			done := postJSON(t, tc, sb+"/sandbox/complete", `{"provider":"`+r.provider+`","order_id":"`+id+`","result":"`+result+`"}`)
			wantType := map[string]string{"succeeded": p.types.succeeded, "failed": p.types.failed}[result]
			if done.status != 200 || done.json(t)["acknowledged"] != (wantType != "") {
				t.Fatalf("%s complete %s: %d %s", r.provider, result, done.status, done.body)
			}
			if slices.Contains(r.ops, "query") && result == "succeeded" {
				q := postJSON(t, tc, base+r.path+"/query", `{"order_id":"`+id+`"}`).json(t)
				providerOrderID = cmp.Or(providerOrderID, str(q["provider_order_id"]))
				if q["provider_order_id"] != providerOrderID {
					t.Errorf("%s: the query's provider_order_id %v, the pay answer's %s", r.provider, q["provider_order_id"], providerOrderID)
				}
			}
			if p.types.refunded != "" && result == "succeeded" {
				if res := postJSON(t, tc, sb+"/sandbox/complete", `{"provider":"`+r.provider+`","order_id":"`+id+`","result":"refunded"}`); res.status != 200 || res.json(t)["acknowledged"] != true {
					t.Fatalf("%s complete refunded: %d %s", r.provider, res.status, res.body)
				}
			}
			// The query then says the state in the status object's words:
			// CBTIS's in its documented statuses only (README CBTIS: pending
			// after a failure, succeeded after a refund).
			if slices.Contains(r.ops, "query") {
				wantStatus := map[string]string{"succeeded": "succeeded", "failed": "failed"}[result]
				switch {
				case r.provider == "cbtis" && result == "failed":
					wantStatus = "pending"
				case p.types.refunded != "" && result == "succeeded" && r.provider != "cbtis":
					wantStatus = "refunded"
				}
				q := postJSON(t, tc, base+r.path+"/query", `{"order_id":"`+id+`"}`)
				wantAnswer(t, r.provider+" query", q, 200, "", "")
				a := q.json(t)
				_, paid := a["paid_at"]
				// WeChat v2's orderquery of an unpaid order carries no total_fee
				// (README Merchant API, the status object: amount and currency "")
				wantAmount, wantCurrency := "12.30", r.currency
				if r.provider == "wechat_v2" && !paid {
					wantAmount, wantCurrency = "", ""
				}
				if a["status"] != wantStatus || paid != (wantStatus == "succeeded" || wantStatus == "refunded") || a["amount"] != wantAmount || a["currency"] != wantCurrency {
					t.Errorf("%s query after %s: %s, want status %s", r.provider, result, q.body, wantStatus)
				}
			}
			got := events()[id]
			var want []string
			if wantType != "" {
				want = append(want, wantType)
			}
			if p.types.refunded != "" && result == "succeeded" {
				want = append(want, p.types.refunded)
			}
			if len(got) != len(want) {
				t.Fatalf("%s %s: %d events, want %v: %v", r.provider, result, len(got), want, got)
			}
			for i, ev := range got {
				check(r, ev, want[i], id, providerOrderID, "12.30")
			}
		}
	}
	if checked < 10 {
		t.Fatalf("%d events checked", checked)
	}
}

// TestWebhookSignedAmountsAlike: README Webhooks (Event), one rule for the
// event's amount whatever the provider: a signed amount field that reads as
// an amount in its currency (zero included: what the provider said) gives
// amount and currency in the currency's form; one that does not (a sign, an
// unknown currency, more decimals than it has) leaves both out, the text
// staying in data. Latipay is the documented exception: its five signed
// fields are concatenated, and one outside its grammar (a positive amount
// with at most the currency's decimals) refuses the notification (401).
func TestWebhookSignedAmountsAlike(t *testing.T) {
	base, merchant := trustRoutes(t)
	platform := v3PrivateKey(t, "wechatpay_platform_key.pem")
	v2 := func(fee, feeType string) (string, http.Header, string) {
		return xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, func(p transform.Params) transform.Params {
			return set("fee_type", feeType)(set("total_fee", fee)(p))
		})), nil, "text/xml"
	}
	v3 := func(amount string) (string, http.Header, string) {
		resource := `{"mchid":"` + mchID + `","appid":"` + appID + `","out_trade_no":"W1","transaction_id":"4200009","trade_state":"SUCCESS",` +
			`"success_time":"2026-11-29T10:00:05+08:00","amount":` + amount + `,"payer":{"openid":"o"}}`
		body := `{"id":"EV-AMOUNT","create_time":"2026-11-29T10:00:06+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS",` +
			`"summary":"s","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"` +
			gcmSeal(t, v3APIv3Key, "abcdefghijkl", "transaction", resource) + `","associated_data":"transaction","nonce":"abcdefghijkl"}}`
		return body, wechatHeaders(t, platform, v3PublicKeyID, time.Now().Unix(), body), "application/json"
	}
	cb := func(amount, currency string) (string, http.Header, string) {
		body := `{"notify_type":"payment_success","data":{"uid":` + cbtisUID + `,"order_id":"C1","merchant_order_id":"CB-77","order_amount":` + amount +
			`,"order_currency":"` + currency + `","status":"SUCCEEDED"}}`
		return body, http.Header{"Signature": {cbtis.Signature([]byte(body), cbtisAPIKey)}}, "application/json"
	}
	c2p := func(amt, numeric string) (string, http.Header, string) {
		inner := strings.Replace(twoc2pAnswer("T-1", amt, "00", "A", "3209990"),
			"<currencyCode>702</currencyCode>", "<currencyCode>"+numeric+"</currencyCode>", 1)
		return "paymentResponse=" + url.QueryEscape(twoc2pSeal(inner, twoc2pKey)), nil, "application/x-www-form-urlencoded"
	}
	lp := func(amount string) (string, http.Header, string) {
		return latipayForm(latipayAPIKey, func(v url.Values) { v.Set("amount", amount) }), nil, "application/x-www-form-urlencoded"
	}
	tests := []struct {
		name, provider string
		notification   func() (string, http.Header, string)
		status         int
		amount         string // "" for left out
		currency       string
	}{
		{"wechat_v2 12.34", "wechat_v2", func() (string, http.Header, string) { return v2("1234", "CNY") }, 200, "12.34", "CNY"},
		{"wechat_v3 12.30", "wechat_v3", func() (string, http.Header, string) { return v3(`{"total":1230,"currency":"CNY"}`) }, 200, "12.30", "CNY"},
		{"cbtis 12.30", "cbtis", func() (string, http.Header, string) { return cb(`"12.30"`, "HKD") }, 200, "12.30", "HKD"},
		{"2c2p 12.34", "2c2p", func() (string, http.Header, string) { return c2p("000000001234", "702") }, 200, "12.34", "SGD"},
		{"latipay 12.30", "latipay", func() (string, http.Header, string) { return lp("12.30") }, 200, "12.30", "NZD"},
		// zero is an amount the provider said
		{"wechat_v2 zero", "wechat_v2", func() (string, http.Header, string) { return v2("0", "CNY") }, 200, "0.00", "CNY"},
		{"wechat_v3 zero", "wechat_v3", func() (string, http.Header, string) { return v3(`{"total":0,"currency":"CNY"}`) }, 200, "0.00", "CNY"},
		{"cbtis zero", "cbtis", func() (string, http.Header, string) { return cb(`"0"`, "HKD") }, 200, "0.00", "HKD"},
		{"cbtis zero with decimals", "cbtis", func() (string, http.Header, string) { return cb(`"0.00"`, "HKD") }, 200, "0.00", "HKD"},
		{"2c2p zero", "2c2p", func() (string, http.Header, string) { return c2p("000000000000", "702") }, 200, "0.00", "SGD"},
		{"latipay zero", "latipay", func() (string, http.Header, string) { return lp("0.00") }, 401, "", ""},
		// no amount in that currency: left out
		{"wechat_v2 negative", "wechat_v2", func() (string, http.Header, string) { return v2("-5", "CNY") }, 200, "", ""},
		{"wechat_v3 negative", "wechat_v3", func() (string, http.Header, string) { return v3(`{"total":-5,"currency":"CNY"}`) }, 200, "", ""},
		{"cbtis negative", "cbtis", func() (string, http.Header, string) { return cb(`"-1.00"`, "HKD") }, 200, "", ""},
		{"latipay negative", "latipay", func() (string, http.Header, string) { return lp("-1.00") }, 401, "", ""},
		{"wechat_v2 unknown currency", "wechat_v2", func() (string, http.Header, string) { return v2("1234", "XYZ") }, 200, "", ""},
		{"wechat_v3 unknown currency", "wechat_v3", func() (string, http.Header, string) { return v3(`{"total":1230,"currency":"XYZ"}`) }, 200, "", ""},
		{"cbtis unknown currency", "cbtis", func() (string, http.Header, string) { return cb(`"12.30"`, "XYZ") }, 200, "", ""},
		{"2c2p unknown currency", "2c2p", func() (string, http.Header, string) { return c2p("000000001234", "999") }, 200, "", ""},
		{"cbtis more decimals than JPY has", "cbtis", func() (string, http.Header, string) { return cb(`"12.3"`, "JPY") }, 200, "", ""},
		{"latipay more decimals than NZD has", "latipay", func() (string, http.Header, string) { return lp("12.345") }, 401, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, header, contentType := tt.notification()
			status, answer := send(t, notificationRequest(base+"/webhooks/"+tt.provider, contentType, header, body))
			got := merchant.take()
			if status != tt.status || (status == 200) != (len(got) == 1) {
				t.Fatalf("HTTP %d %q, %d events; want %d", status, answer, len(got), tt.status)
			}
			if status != 200 {
				return
			}
			ev := got[0].event
			_, hasAmount := ev["amount"]
			_, hasCurrency := ev["currency"]
			if str(ev["amount"]) != tt.amount || str(ev["currency"]) != tt.currency || hasAmount != (tt.amount != "") || hasCurrency != hasAmount {
				t.Errorf("amount %v currency %v, want %q %q", ev["amount"], ev["currency"], tt.amount, tt.currency)
			}
			if data, _ := ev["data"].(map[string]any); len(data) == 0 || ev["type"] != "payment.succeeded" {
				t.Errorf("event %v", ev)
			}
		})
	}
}

// TestRefundQueryOfAnotherOrder: README Errors, through Caddyfile.example
// and its sandbox. refund_query goes to the provider by refund_id alone, so
// an answer about that refund naming another order than the request's
// order_id means the merchant's order_id is wrong: a 400 invalid_request
// naming order_id from every provider that serves refund_query, where it
// was a 502 upstream_error that blamed the provider. The right order_id,
// or none, gets the refund.
func TestRefundQueryOfAnotherOrder(t *testing.T) {
	tc, merchant, sandbox, _ := startExample(t)
	base := "http://localhost:" + itoa(merchant)
	served := 0
	for _, r := range exampleRoutes {
		if !slices.Contains(r.ops, "refund_query") {
			continue
		}
		served++
		id := "RQ-OTHER-" + r.provider
		for _, step := range []struct{ path, body string }{
			{base + r.path + "/pay", `{"order_id":"` + id + `","amount":"1.00","currency":"` + r.currency + `","description":"d","openid":"o-rq"}`},
			{"http://localhost:" + itoa(sandbox) + "/sandbox/complete", `{"provider":"` + r.provider + `","order_id":"` + id + `","result":"succeeded"}`},
			{base + r.path + "/refund", `{"order_id":"` + id + `","refund_id":"` + id + `-R","amount":"0.50","currency":"` + r.currency + `","total_amount":"1.00"}`},
		} {
			if res := postJSON(t, tc, step.path, step.body); res.status != 200 {
				t.Fatalf("%s %s: %d %s", r.provider, step.path, res.status, res.body)
			}
		}
		query := func(orderID string) response {
			return postJSON(t, tc, base+r.path+"/refund_query", `{"refund_id":"`+id+`-R"`+orderID+`}`)
		}
		wantAnswer(t, r.provider+" refund_query, another order", query(`,"order_id":"RQ-ANOTHER"`), 400, "invalid_request", "order_id")
		for _, orderID := range []string{`,"order_id":"` + id + `"`, ``} {
			if res := query(orderID); res.status != 200 || str(res.json(t)["order_id"]) != id {
				t.Errorf("%s refund_query%s: %d %s", r.provider, orderID, res.status, res.body)
			}
		}
	}
	if served < 2 {
		t.Fatalf("%d providers serve refund_query", served)
	}
}
