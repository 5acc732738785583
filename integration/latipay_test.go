package integration

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// The Latipay sandbox merchant (not anyone's secret).
const (
	latipayUserID   = "U000334333"
	latipayWalletID = "W00000001"
	latipayAPIKey   = "lp-sandbox-3f9a1c7e5b2d4086"
	latipayAppID    = "wx721398712681232"
)

// latipayNotify is the notification formula written out for the test:
// HMAC-SHA256(merchant_reference + payment_method + status + currency + amount).
func latipayNotify(key string, v url.Values) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(v.Get("merchant_reference") + v.Get("payment_method") + v.Get("status") + v.Get("currency") + v.Get("amount")))
	return hex.EncodeToString(m.Sum(nil))
}

// TestLatipay drives the latipay provider through a real Caddy: pay, query,
// refund against the sandbox; the sandbox's notification through
// minipay_webhook to a merchant backend; forged notifications and a failing
// merchant; a wrong api_key that Latipay's code 206 reports.
func TestLatipay(t *testing.T) {
	merchant := newMerchantBackend(t)
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	port, sandbox := itoa(freePort(t)), itoa(freePort(t))
	identity := `
			user_id ` + latipayUserID + `
			wallet_id ` + latipayWalletID + `
			app_id ` + latipayAppID + `
			currency NZD`
	tc := startCaddy(t, globalOptions(logFile)+`
:`+port+` {
	handle /latipay/* {
		minipay latipay {`+identity+`
			api_key `+latipayAPIKey+`
			notify_url http://localhost:`+port+`/webhooks/latipay
		}
		reverse_proxy 127.0.0.1:`+sandbox+`
	}
	handle /latipay-wrong-key/* {
		minipay latipay {`+identity+`
			api_key not-the-merchant-key
			notify_url http://localhost:`+port+`/webhooks/latipay
		}
		reverse_proxy 127.0.0.1:`+sandbox+`
	}
	handle /webhooks/latipay {
		minipay_webhook latipay {
			api_key `+latipayAPIKey+`
			currency NZD
		}
		reverse_proxy `+strings.TrimPrefix(merchant.srv.URL, "http://")+`
	}
	handle /webhooks/latipay-key-only {
		minipay_webhook latipay {
			api_key `+latipayAPIKey+`
		}
		reverse_proxy `+strings.TrimPrefix(merchant.srv.URL, "http://")+`
	}
}

:`+sandbox+` {
	bind 127.0.0.1
	minipay_sandbox {
		latipay {`+identity+`
			api_key `+latipayAPIKey+`
		}
	}
}
`)
	base, sb := "http://localhost:"+port, "http://localhost:"+sandbox

	pay := postJSON(t, tc, base+"/latipay/pay",
		`{"order_id":"LP-1001","amount":"12.3","currency":"NZD","description":"Flat white","openid":"obRdo5H-72b_PH2Lvr5_Dw9bXKHs"}`)
	if pay.status != 200 {
		t.Fatalf("pay: %d %s", pay.status, pay.body)
	}
	p := pay.json(t)
	poid := str(p["provider_order_id"])
	if p["provider"] != "latipay" || p["order_id"] != "LP-1001" || !strings.HasPrefix(str(p["package"]), "prepay_id=wx") ||
		p["signType"] != "MD5" || str(p["paySign"]) == "" || str(p["timeStamp"]) == "" || str(p["nonceStr"]) == "" || poid == "" {
		t.Fatalf("pay answer: %s", pay.body)
	}

	errorsTests := []struct {
		name, path, body      string
		status                int
		code, field, provider string
	}{
		{"currency not the wallet's", "/latipay/pay", `{"order_id":"LP-1002","amount":"1.00","currency":"AUD","description":"x","openid":"o"}`, 400, "invalid_request", "currency", ""},
		{"refund without provider_order_id", "/latipay/refund", `{"order_id":"LP-1001","refund_id":"R1","amount":"1.00","currency":"NZD"}`, 400, "invalid_request", "provider_order_id", ""},
		{"close is no latipay operation", "/latipay/close", `{"order_id":"LP-1001"}`, 404, "unknown_operation", "", ""},
		{"refund of an unpaid order", "/latipay/refund", `{"order_id":"LP-1001","refund_id":"R1","amount":"1.00","currency":"NZD","provider_order_id":"` + poid + `"}`, 422, "provider_rejected", "", "207"},
		{"query of an unknown order", "/latipay/query", `{"order_id":"LP-404"}`, 422, "provider_rejected", "", "201"},
		{"wrong api_key: Latipay's 206", "/latipay-wrong-key/pay", `{"order_id":"LP-1003","amount":"1.00","currency":"NZD","description":"x","openid":"o"}`, 502, "upstream_error", "", "206"},
		{"wrong api_key on query", "/latipay-wrong-key/query", `{"order_id":"LP-1001"}`, 502, "upstream_error", "", "206"},
	}
	for _, tt := range errorsTests {
		t.Run(tt.name, func(t *testing.T) {
			r := postJSON(t, tc, base+tt.path, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			e := r.errorOf(t)
			if e["code"] != tt.code || str(e["field"]) != tt.field || str(e["provider_code"]) != tt.provider {
				t.Fatalf("error %v", e)
			}
		})
	}

	if q := postJSON(t, tc, base+"/latipay/query", `{"order_id":"LP-1001"}`).json(t); q["status"] != "pending" || q["amount"] != "12.30" ||
		q["currency"] != "NZD" || q["provider_order_id"] != poid || q["paid_at"] != nil || q["provider_status"] != "pending" {
		t.Fatalf("query before payment: %v", q)
	}

	// The user pays: the sandbox sends Latipay's notification to the webhook
	// route, which forwards the event and answers "sent".
	complete := func() map[string]any {
		t.Helper()
		r := postJSON(t, tc, sb+"/sandbox/complete", `{"provider":"latipay","order_id":"LP-1001","result":"succeeded"}`)
		if r.status != 200 {
			t.Fatalf("complete: %d %s", r.status, r.body)
		}
		return r.json(t)
	}
	c := complete()
	if c["acknowledged"] != true || c["response_body"] != "sent" || c["response_status"] != float64(200) || c["notify_url"] != base+"/webhooks/latipay" {
		t.Fatalf("complete: %v", c)
	}
	got := merchant.take()
	if len(got) != 1 {
		t.Fatalf("merchant received %d events", len(got))
	}
	ev := got[0].event
	// Latipay signs merchant_reference, payment_method, status, currency and
	// amount only: the id is built from them, order_id and pay_time stay
	// unverified data.
	wantID := "latipay:LP-1001:payment.succeeded"
	if ev["id"] != wantID || ev["type"] != "payment.succeeded" || ev["provider"] != "latipay" || ev["order_id"] != "LP-1001" ||
		ev["provider_order_id"] != nil || ev["amount"] != "12.30" || ev["currency"] != "NZD" || ev["occurred_at"] != nil ||
		got[0].header.Get("Minipay-Event-Id") != wantID || got[0].header.Get("Minipay-Provider") != "latipay" {
		t.Fatalf("event %v, headers %v", ev, got[0].header)
	}
	data, _ := ev["data"].(map[string]any)
	if data["payment_method"] != "wechat" || data["status"] != "paid" || data["signature"] != nil || data["order_id"] != nil ||
		data["unverified.order_id"] != poid || !strings.HasPrefix(str(data["unverified.pay_time"]), "20") {
		t.Fatalf("event data %v", data)
	}

	q := postJSON(t, tc, base+"/latipay/query", `{"order_id":"LP-1001"}`).json(t)
	// pay_time is UTC (docs/providers/latipay.md "Times"): paid_at is the notification's pay_time with Z
	if q["status"] != "succeeded" || str(q["paid_at"]) != strings.Replace(str(data["unverified.pay_time"]), " ", "T", 1)+"Z" {
		t.Fatalf("query after payment: %v", q)
	}
	refund := postJSON(t, tc, base+"/latipay/refund",
		`{"order_id":"LP-1001","refund_id":"LP-1001-R1","amount":"2.30","currency":"NZD","provider_order_id":"`+poid+`","reason":"one shot less"}`)
	if r := refund.json(t); refund.status != 200 || r["status"] != "succeeded" || r["amount"] != "2.30" || r["refund_id"] != "LP-1001-R1" || r["provider"] != "latipay" {
		t.Fatalf("refund: %d %s", refund.status, refund.body)
	}
	if over := postJSON(t, tc, base+"/latipay/refund",
		`{"order_id":"LP-1001","refund_id":"LP-1001-R2","amount":"10.01","currency":"NZD","provider_order_id":"`+poid+`"}`); over.status != 422 {
		t.Fatalf("refund over the rest: %d %s", over.status, over.body)
	}

	// The merchant fails: Latipay gets a 5xx and no "sent", so it retries.
	merchant.status.Store(500)
	c = complete()
	if c["acknowledged"] != false || c["response_body"] == "sent" || c["response_status"].(float64) < 500 {
		t.Fatalf("complete with a failing merchant: %v", c)
	}
	if got := merchant.take(); len(got) != 1 || got[0].event["id"] != wantID {
		t.Fatalf("the retry is not the same event: %v", got)
	}
	merchant.status.Store(200)

	// Notifications posted directly: only the key's signature is forwarded.
	valid := url.Values{
		"merchant_reference": {"LP-1001"}, "order_id": {poid}, "currency": {"NZD"}, "amount": {"12.30"},
		"payment_method": {"wechat"}, "status": {"paid"}, "pay_time": {"2026-11-22 10:00:00"},
	}
	signed := func(key string, mutate func(url.Values)) string {
		v := url.Values{}
		for k, x := range valid {
			v[k] = x
		}
		if mutate != nil {
			mutate(v)
		}
		v.Set("signature", latipayNotify(key, v))
		return v.Encode()
	}
	// As Latipay's docs list them (not sorted), with fields it does not sign,
	// a space written %20 (JavaScript's encodeURIComponent) and %3A.
	inDocsOrder := "merchant_reference=LP-1001&order_id=" + poid + "&amount=12.30&currency=NZD&payment_method=wechat&pay_time=2026-11-22%2010%3A00%3A00" +
		"&status=paid&signature=" + latipayNotify(latipayAPIKey, valid) + "&transaction_id=43cb917ff8a6&host_type=0&note=a%26b%3Dc"
	tests := []struct {
		name        string
		body        string
		status      int
		forwarded   bool
		route       string // after /webhooks/latipay
		contentType string // application/x-www-form-urlencoded when ""
	}{
		{"valid", signed(latipayAPIKey, nil), 200, true, "", ""},
		{"valid, in the docs' order with unsigned fields", inDocsOrder, 200, true, "", ""},
		{"valid, labelled charset=UTF-8", inDocsOrder, 200, true, "", "application/x-www-form-urlencoded; charset=UTF-8"},
		{"valid, unlabelled", inDocsOrder, 200, true, "", "-"},
		{"forged", signed("not-the-merchant-key", nil), 401, false, "", ""},
		{"tampered amount", strings.Replace(signed(latipayAPIKey, nil), "amount=12.30", "amount=0.01", 1), 401, false, "", ""},
		{"another wallet's currency", signed(latipayAPIKey, func(v url.Values) { v.Set("currency", "AUD") }), 401, false, "", ""},
		{"unsigned", strings.Replace(signed(latipayAPIKey, nil), "signature=", "x=", 1), 401, false, "", ""},
		{"a repeated status", signed(latipayAPIKey, nil) + "&status=failed", 401, false, "", ""},
		{"valid, with the line break a file sent by curl --data-binary ends with", signed(latipayAPIKey, nil) + "\n", 200, true, "", ""},
		{"boundary shifted into payment_method", signed(latipayAPIKey, func(v url.Values) { v.Set("merchant_reference", "LP-100"); v.Set("payment_method", "1wechat") }), 401, false, "", ""},
		{"unknown status", signed(latipayAPIKey, func(v url.Values) { v.Set("status", "refunded") }), 401, false, "", ""},
		// README Latipay: minipay_webhook requires only what verification needs,
		// api_key; without currency any ISO 4217 code passes its grammar
		{"key only: valid", signed(latipayAPIKey, nil), 200, true, "-key-only", ""},
		{"key only: another wallet's currency", signed(latipayAPIKey, func(v url.Values) { v.Set("currency", "AUD") }), 200, true, "-key-only", ""},
		{"key only: forged", signed("not-the-merchant-key", nil), 401, false, "-key-only", ""},
		{"key only: no ISO 4217 code", signed(latipayAPIKey, func(v url.Values) { v.Set("currency", "XYZ") }), 401, false, "-key-only", ""},
		// Latipay's notification always carries currency (its docs' field
		// list and example): one without it, signed over the four others, is
		// refused on either route
		{"no currency", signed(latipayAPIKey, func(v url.Values) { v.Del("currency") }), 401, false, "", ""},
		{"key only: no currency", signed(latipayAPIKey, func(v url.Values) { v.Del("currency") }), 401, false, "-key-only", ""},
	}
	for _, tt := range tests {
		t.Run("webhook "+tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/latipay"+tt.route, strings.NewReader(tt.body))
			switch tt.contentType {
			case "":
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			case "-":
			default:
				req.Header.Set("Content-Type", tt.contentType)
			}
			res, err := tc.Client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status || (string(body) == "sent") != (tt.status == 200) {
				t.Fatalf("status %d body %q, want %d", res.StatusCode, body, tt.status)
			}
			got := merchant.take()
			if (len(got) == 1) != tt.forwarded || len(got) > 1 {
				t.Fatalf("merchant received %d events", len(got))
			}
			if tt.body == inDocsOrder { // the signed fields, the two unsigned ones marked, nothing else
				data := got[0].event["data"].(map[string]any)
				if got[0].event["id"] != wantID || data["unverified.pay_time"] != "2026-11-22 10:00:00" || data["unverified.order_id"] != poid || len(data) != 7 {
					t.Fatalf("event %v", got[0].event)
				}
			}
		})
	}

	// The JSON notification of Latipay's merchant hosted online docs
	// (Content-Type application/json, the same members; amount a string or
	// a JSON number, signed over its text): verified like the form.
	jsonSig := latipayNotify(latipayAPIKey, url.Values{"merchant_reference": {"LP-1001"}, "payment_method": {"wechat"},
		"status": {"paid"}, "currency": {"NZD"}, "amount": {"12.30"}})
	jsonNotification := func(amount, sig string) string {
		return `{"signature":"` + sig + `","merchant_reference":"LP-1001","currency":"NZD","amount":` + amount +
			`,"payment_method":"wechat","status":"paid","pay_time":"2026-11-22 10:00:00"}`
	}
	jsonTests := []struct {
		name      string
		body      string
		status    int
		forwarded bool
	}{
		{"amount as a string", jsonNotification(`"12.30"`, jsonSig), 200, true},
		{"amount as a JSON number", jsonNotification(`12.30`, jsonSig), 200, true},
		{"the number 12.3: not the signed text", jsonNotification(`12.3`, jsonSig), 401, false},
		{"forged", jsonNotification(`"12.30"`, strings.Repeat("0", 64)), 401, false},
		{"status given twice", strings.TrimSuffix(jsonNotification(`"12.30"`, jsonSig), "}") + `,"status":"failed"}`, 401, false},
	}
	for _, tt := range jsonTests {
		t.Run("JSON webhook "+tt.name, func(t *testing.T) {
			status, body := send(t, notificationRequest(base+"/webhooks/latipay", "application/json", nil, tt.body))
			if status != tt.status || (string(body) == "sent") != (tt.status == 200) {
				t.Fatalf("status %d body %q, want %d", status, body, tt.status)
			}
			got := merchant.take()
			if (len(got) == 1) != tt.forwarded || len(got) > 1 {
				t.Fatalf("merchant received %d events", len(got))
			}
			if tt.forwarded && (got[0].event["id"] != wantID || got[0].event["amount"] != "12.30") {
				t.Fatalf("event %v", got[0].event)
			}
		})
	}

	// An order id with | and * travels escaped in the query path.
	if r := postJSON(t, tc, base+"/latipay/pay", `{"order_id":"LP|1004*","amount":"1.00","currency":"NZD","description":"x","openid":"o"}`); r.status != 200 {
		t.Fatalf("pay LP|1004*: %d %s", r.status, r.body)
	}
	if q := postJSON(t, tc, base+"/latipay/query", `{"order_id":"LP|1004*"}`); q.status != 200 || q.json(t)["status"] != "pending" {
		t.Fatalf("query LP|1004*: %d %s", q.status, q.body)
	}

	logs := logText(t, logFile)
	for _, secret := range []string{latipayAPIKey, "not-the-merchant-key", "obRdo5H-72b_PH2Lvr5_Dw9bXKHs"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the log contains %q", secret)
		}
	}
	mustContain(t, logs, `"provider":"latipay"`, "log lines")
}

// TestLatipayQuerySignatureFallback: an independent Latipay whose account
// accepts only the older query signature, the plain concatenation
// merchant_reference + user_id (Latipay's PHP plugin, Core.php find()), and
// refuses vector 3's sorted form with code 206. minipay retries once in the
// other form (docs/providers/latipay.md: "the fallback to try"), then keeps
// it; with a wrong api_key both forms are refused and the merchant gets the
// 502 naming 206.
func TestLatipayQuerySignatureFallback(t *testing.T) {
	var signatures received
	fake := newOlderFormLatipay(t, &signatures)
	taken := signatures.take
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+port+` {`+latipayRoute("/latipay", fake.URL, latipayAPIKey)+latipayRoute("/latipay-wrong-key", fake.URL, "not-the-merchant-key")+`
}
`)
	base := "http://localhost:" + port

	for i, want := range []int{2, 1} { // the sorted form refused, then the concatenation; afterwards the concatenation at once
		q := postJSON(t, tc, base+"/latipay/query", `{"order_id":"LP-2001"}`)
		if st := q.json(t); q.status != 200 || st["status"] != "succeeded" || st["amount"] != "12.30" {
			t.Fatalf("query %d: %d %s", i, q.status, q.body)
		}
		if sent := taken(); len(sent) != want {
			t.Fatalf("query %d sent %d requests (%v), want %d", i, len(sent), sent, want)
		}
	}
	q := postJSON(t, tc, base+"/latipay-wrong-key/query", `{"order_id":"LP-2001"}`)
	if e := q.errorOf(t); q.status != 502 || e["code"] != "upstream_error" || e["provider_code"] != "206" {
		t.Fatalf("wrong key: %d %s", q.status, q.body)
	}
	if sent := taken(); len(sent) != 2 || sent[0] == sent[1] {
		t.Fatalf("wrong key: sent %v, want both forms once", sent)
	}
}

// newOlderFormLatipay is an independent Latipay whose account takes only
// the older query signature, HMAC(merchant_reference + user_id) under
// latipayAPIKey (Latipay's PHP plugin, Core.php find()), and answers 206 to
// anything else, as Latipay does; a query it takes is paid, 12.30 NZD. It
// records the signature of every request it is sent ("" when it has none).
func newOlderFormLatipay(t *testing.T, signatures *received) *httptest.Server {
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ref := strings.TrimPrefix(r.URL.Path, "/v2/transaction/")
		sig := r.URL.Query().Get("signature")
		signatures.add(sig)
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodGet || sig != latipayHMAC(latipayAPIKey, ref+r.URL.Query().Get("user_id")) {
			_, _ = io.WriteString(w, `{"code":206,"message":"Signature from Merchant request is wrong"}`)
			return
		}
		v := url.Values{"merchant_reference": {ref}, "payment_method": {"wechat"}, "status": {"paid"}, "currency": {"NZD"}, "amount": {"12.30"}}
		_, _ = io.WriteString(w, `{"merchant_reference":"`+ref+`","order_id":"2026112210000009","currency":"NZD","amount":12.30,`+
			`"payment_method":"wechat","status":"paid","pay_time":"2026-11-22 10:00:00","signature":"`+latipayNotify(latipayAPIKey, v)+`"}`)
	}))
	t.Cleanup(fake.Close)
	return fake
}

// TestLatipayOlderQueryFormNeverSignsANotification: Latipay's older query
// signature, HMAC(merchant_reference + user_id), is made with the api_key
// that signs notifications, HMAC(merchant_reference + payment_method +
// status + currency + amount). For the user U12345678, the order id
// x-wechatpaidMR made that query's signature the one of a paid notification
// of order x- (12345678 MRU), which a webhook without currency accepted:
// whoever saw the query's URL could post it. Through a real Caddy and an
// independent Latipay that takes only the older form, such an id is a 400
// naming order_id at pay (nothing is sent) and at query (only the sorted
// form was sent, refused with 206; the older one never), and an ordinary
// id still falls back to the older form. On the old code the pay reached
// Latipay and the query sent the older form.
func TestLatipayOlderQueryFormNeverSignsANotification(t *testing.T) {
	const userID, forging = "U12345678", "x-wechatpaidMR"
	var sent received
	fake := newOlderFormLatipay(t, &sent)
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+port+` {
	handle /latipay/* {
		minipay latipay {
			user_id `+userID+`
			wallet_id `+latipayWalletID+`
			app_id `+latipayAppID+`
			currency NZD
			api_key `+latipayAPIKey+`
			notify_url https://merchant.example/webhooks/latipay
		}
		reverse_proxy `+strings.TrimPrefix(fake.URL, "http://")+`
	}
}
`)
	base := "http://localhost:" + port
	refusedNamingOrderID := func(what string, r response) {
		t.Helper()
		if e := r.errorOf(t); r.status != 400 || e["code"] != "invalid_request" || e["field"] != "order_id" {
			t.Fatalf("%s: %d %s, want a 400 naming order_id", what, r.status, r.body)
		}
	}

	// the methods of Latipay's hosted page the webhook accepts too
	// (docs/providers/latipay.md "Payment methods"): x-payid, paid, MR
	for _, orderID := range []string{forging, "x-payidpaidMR", "x-polipaypaidMR", "x-upi_upoppaidMR"} {
		refusedNamingOrderID("pay "+orderID, postJSON(t, tc, base+"/latipay/pay",
			`{"order_id":"`+orderID+`","amount":"1.00","currency":"NZD","description":"x","openid":"obRdo5H-72b_PH2Lvr5_Dw9bXKHs"}`))
		if got := sent.take(); len(got) != 0 {
			t.Fatalf("pay %s sent %v", orderID, got)
		}
	}
	refusedNamingOrderID("query", postJSON(t, tc, base+"/latipay/query", `{"order_id":"`+forging+`"}`))
	got := sent.take()
	if len(got) != 1 || strings.HasSuffix(got[0], latipayHMAC(latipayAPIKey, forging+userID)) {
		t.Fatalf("query sent %v, want the sorted form alone", got)
	}
	for i, want := range []int{1, 1} { // the older form, now kept
		q := postJSON(t, tc, base+"/latipay/query", `{"order_id":"LP-2001"}`)
		if st := q.json(t); q.status != 200 || st["status"] != "succeeded" {
			t.Fatalf("query %d of an ordinary id: %d %s", i, q.status, q.body)
		}
		if got := sent.take(); len(got) != want || !strings.HasSuffix(got[0], latipayHMAC(latipayAPIKey, "LP-2001"+userID)) {
			t.Fatalf("query %d of an ordinary id sent %v", i, got)
		}
	}
	refusedNamingOrderID("query in the older form", postJSON(t, tc, base+"/latipay/query", `{"order_id":"`+forging+`"}`))
	if got := sent.take(); len(got) != 0 {
		t.Fatalf("query in the older form sent %v", got)
	}
}

// TestLatipayRefundPathFallback: an independent Latipay that serves the
// refund at /v2/refund only (a third-party plugin's path; Latipay's own docs
// give /refund) and answers 404 elsewhere. Without refund_path, minipay
// sends the refund to /refund, then once more to /v2/refund, and keeps that
// path; with refund_path /refund configured, the 404 is the 502 it means.
func TestLatipayRefundPathFallback(t *testing.T) {
	var paths received
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths.add(r.URL.Path)
		var body map[string]string
		if r.URL.Path != "/v2/refund" || r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.NotFound(w, r)
			return
		}
		m := hmac.New(sha256.New, []byte(latipayAPIKey))
		m.Write([]byte("order_id=" + body["order_id"] + "&refund_amount=" + body["refund_amount"] + "&user_id=" + body["user_id"] + latipayAPIKey))
		w.Header().Set("Content-Type", "application/json")
		if body["signature"] != hex.EncodeToString(m.Sum(nil)) {
			_, _ = io.WriteString(w, `{"code":206,"message":"Signature from Merchant request is wrong"}`)
			return
		}
		_, _ = io.WriteString(w, `{"code":0,"message":"SUCCESS"}`)
	}))
	t.Cleanup(fake.Close)
	taken := paths.take
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+port+` {`+latipayRoute("/latipay", fake.URL, latipayAPIKey)+latipayRoute("/latipay-fixed", fake.URL, latipayAPIKey+"\n\t\t\trefund_path /refund")+`
}
`)
	base := "http://localhost:" + port
	const refund = `{"order_id":"LP-3001","refund_id":"LP-3001-R1","amount":"1.00","currency":"NZD","provider_order_id":"2026112210000001"}`
	for i, want := range [][]string{{"/refund", "/v2/refund"}, {"/v2/refund"}} {
		r := postJSON(t, tc, base+"/latipay/refund", refund)
		if got := r.json(t); r.status != 200 || got["status"] != "succeeded" || got["amount"] != "1.00" {
			t.Fatalf("refund %d: %d %s", i, r.status, r.body)
		}
		if sent := taken(); strings.Join(sent, " ") != strings.Join(want, " ") {
			t.Fatalf("refund %d sent to %v, want %v", i, sent, want)
		}
	}
	r := postJSON(t, tc, base+"/latipay-fixed/refund", refund)
	if e := r.errorOf(t); r.status != 502 || e["code"] != "upstream_error" {
		t.Fatalf("configured refund_path: %d %s", r.status, r.body)
	}
	if sent := taken(); len(sent) != 1 || sent[0] != "/refund" {
		t.Fatalf("configured refund_path: sent to %v", sent)
	}
}

// latipayRoute is a Caddyfile route at path/* for the sandbox merchant with
// api_key key (and any provider lines after it), proxied to upstream.
func latipayRoute(path, upstream, key string) string {
	return `
	handle ` + path + `/* {
		minipay latipay {
			user_id ` + latipayUserID + `
			wallet_id ` + latipayWalletID + `
			app_id ` + latipayAppID + `
			currency NZD
			api_key ` + key + `
		}
		reverse_proxy ` + strings.TrimPrefix(upstream, "http://") + `
	}`
}

// received records what a fake provider was sent, for the test to take.
type received struct {
	mu    sync.Mutex
	items []string
}

func (r *received) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, s)
}

// take returns what was recorded since the last take.
func (r *received) take() (items []string) {
	r.mu.Lock()
	items, r.items = r.items, nil
	r.mu.Unlock()
	return items
}

// TestLatipayWalletCurrencyDigits: a wallet in a currency whose ISO 4217
// exponent is not 2 (JPY none, KWD three) through a real Caddy and the
// sandbox: pay, the notification's event, query and refund all carry the
// amount with that currency's decimals.
func TestLatipayWalletCurrencyDigits(t *testing.T) {
	merchant := newMerchantBackend(t)
	port := itoa(freePort(t))
	tests := []struct {
		currency, sandbox                string
		pay, payWant, refund, refundWant string
	}{
		{"JPY", itoa(freePort(t)), "1200", "1200", "200", "200"},
		{"KWD", itoa(freePort(t)), "1.5", "1.500", "0.25", "0.250"},
	}
	var routes, sandboxes strings.Builder
	for _, tt := range tests {
		identity := `
			user_id ` + latipayUserID + `
			wallet_id ` + latipayWalletID + `
			app_id ` + latipayAppID + `
			api_key ` + latipayAPIKey + `
			currency ` + tt.currency
		routes.WriteString(`
	handle /latipay-` + tt.currency + `/* {
		minipay latipay {` + identity + `
			notify_url http://localhost:` + port + `/webhooks/latipay-` + tt.currency + `
		}
		reverse_proxy 127.0.0.1:` + tt.sandbox + `
	}
	handle /webhooks/latipay-` + tt.currency + ` {
		minipay_webhook latipay {
			api_key ` + latipayAPIKey + `
			currency ` + tt.currency + `
		}
		reverse_proxy ` + strings.TrimPrefix(merchant.srv.URL, "http://") + `
	}`)
		sandboxes.WriteString(`
:` + tt.sandbox + ` {
	bind 127.0.0.1
	minipay_sandbox {
		latipay {` + identity + `
		}
	}
}`)
	}
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+port+` {`+routes.String()+`
}
`+sandboxes.String()+"\n")
	base := "http://localhost:" + port
	for _, tt := range tests {
		t.Run(tt.currency, func(t *testing.T) {
			route, order := base+"/latipay-"+tt.currency, "LPD-"+tt.currency
			pay := postJSON(t, tc, route+"/pay", `{"order_id":"`+order+`","amount":"`+tt.pay+`","currency":"`+tt.currency+`","description":"x","openid":"o1"}`)
			if pay.status != 200 {
				t.Fatalf("pay: %d %s", pay.status, pay.body)
			}
			poid := str(pay.json(t)["provider_order_id"])
			c := postJSON(t, tc, "http://localhost:"+tt.sandbox+"/sandbox/complete", `{"provider":"latipay","order_id":"`+order+`","result":"succeeded"}`).json(t)
			if c["acknowledged"] != true || c["response_body"] != "sent" {
				t.Fatalf("complete: %v", c)
			}
			if got := merchant.take(); len(got) != 1 || got[0].event["amount"] != tt.payWant || got[0].event["currency"] != tt.currency {
				t.Fatalf("events %+v", got)
			}
			if q := postJSON(t, tc, route+"/query", `{"order_id":"`+order+`"}`).json(t); q["status"] != "succeeded" ||
				q["amount"] != tt.payWant || q["currency"] != tt.currency {
				t.Fatalf("query: %v", q)
			}
			r := postJSON(t, tc, route+"/refund", `{"order_id":"`+order+`","refund_id":"R1","amount":"`+tt.refund+`","currency":"`+tt.currency+`","provider_order_id":"`+poid+`"}`)
			if r.status != 200 {
				t.Fatalf("refund: %d %s", r.status, r.body)
			}
			if rf := r.json(t); rf["status"] != "succeeded" || rf["amount"] != tt.refundWant || rf["currency"] != tt.currency {
				t.Fatalf("refund: %v", rf)
			}
		})
	}
}

// latipayRequestSign is docs/providers/latipay.md's request signature as
// Latipay's docs write it in JavaScript: the non-empty parameters but
// signature sorted by name, k=v joined with '&', the api_key appended,
// HMAC-SHA256 keyed by the api_key, lowercase hex.
func latipayRequestSign(key string, p map[string]string) string {
	var names, parts []string
	for k, v := range p {
		if v != "" && k != "signature" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		parts = append(parts, k+"="+p[k])
	}
	return latipayHMAC(key, strings.Join(parts, "&")+key)
}

func latipayHMAC(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// TestLatipaySandboxAsLatipaysClient speaks to minipay_sandbox's Latipay
// through a real Caddy as a merchant's own Latipay client would, written
// from docs/providers/latipay.md: the signed miniapppay call and its answer,
// the transaction query in the sorted form and in the older plain
// concatenation (Latipay's PHP plugin), whose answer's signature covers the
// amount's text as sent, the form notification /sandbox/complete posts
// (signed, acknowledged only by 200 "sent"), and refunds on /refund and
// /v2/refund.
func TestLatipaySandboxAsLatipaysClient(t *testing.T) {
	notified := make(chan url.Values, 4)
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		v, err := url.ParseQuery(string(b))
		if err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			t.Errorf("notification %q (%s)", b, r.Header.Get("Content-Type"))
		}
		notified <- v
		_, _ = io.WriteString(w, "sent")
	}))
	defer merchant.Close()
	sandbox := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+sandbox+` {
	bind 127.0.0.1
	minipay_sandbox {
		latipay {
			user_id `+latipayUserID+`
			wallet_id `+latipayWalletID+`
			app_id `+latipayAppID+`
			currency NZD
			api_key `+latipayAPIKey+`
		}
	}
}
`)
	sb := "http://localhost:" + sandbox
	latipay := func(method, path string, body map[string]string) map[string]json.RawMessage {
		t.Helper()
		var rd io.Reader
		if body != nil {
			body["signature"] = latipayRequestSign(latipayAPIKey, body)
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, sb+path, rd)
		if body != nil {
			req.Header.Set("Content-Type", "application/json;charset=UTF-8")
		}
		res, err := tc.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var a map[string]json.RawMessage
		if res.StatusCode != 200 || json.Unmarshal(raw, &a) != nil {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, raw)
		}
		return a
	}
	text := func(raw json.RawMessage) string {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return string(raw) // a number: its text
		}
		return s
	}
	code := func(a map[string]json.RawMessage) string { return string(a["code"]) }

	pay := latipay("POST", "/v2/miniapppay", map[string]string{
		"user_id": latipayUserID, "wallet_id": latipayWalletID, "amount": "120.00", "notify_url": merchant.URL + "/latipay/notify",
		"merchant_reference": "LSB-1", "product_name": "Online Ticket", "app_id": latipayAppID, "open_id": "obRdo5H-72b_PH2Lvr5_Dw9bXKHs",
	})
	var payment map[string]string
	var paydata struct {
		OrderID string `json:"order_id"`
	}
	if json.Unmarshal(pay["payment"], &payment) != nil || json.Unmarshal(pay["paydata"], &paydata) != nil || paydata.OrderID == "" ||
		payment["signType"] != "MD5" || !strings.HasPrefix(payment["packageStr"], "prepay_id=") ||
		payment["nonceStr"] == "" || payment["paySign"] == "" || payment["timeStamp"] == "" {
		t.Fatalf("pay answer %v", pay)
	}

	// Both query forms; the answer is signed over the amount's text as sent.
	queryAnswer := func(signature string) map[string]json.RawMessage {
		t.Helper()
		a := latipay("GET", "/v2/transaction/LSB-1?user_id="+latipayUserID+"&signature="+signature, nil)
		msg := text(a["merchant_reference"]) + text(a["payment_method"]) + text(a["status"]) + text(a["currency"]) + text(a["amount"])
		if code(a) != "" || text(a["signature"]) != latipayHMAC(latipayAPIKey, msg) || text(a["order_id"]) != paydata.OrderID ||
			text(a["amount"]) != "120.00" || text(a["currency"]) != "NZD" {
			t.Fatalf("query answer %v", a)
		}
		return a
	}
	sorted := latipayRequestSign(latipayAPIKey, map[string]string{"merchant_reference": "LSB-1", "user_id": latipayUserID})
	concat := latipayHMAC(latipayAPIKey, "LSB-1"+latipayUserID)
	for _, sig := range []string{sorted, concat} {
		if st := text(queryAnswer(sig)["status"]); st != "pending" {
			t.Fatalf("status %q before payment", st)
		}
	}
	if a := latipay("GET", "/v2/transaction/LSB-1?user_id="+latipayUserID+"&signature="+latipayHMAC("another-key", "LSB-1"+latipayUserID), nil); code(a) != "206" {
		t.Fatalf("a query under another key: %v", a)
	}

	r := postJSON(t, tc, sb+"/sandbox/complete", `{"provider":"latipay","order_id":"LSB-1","result":"succeeded"}`)
	if c := r.json(t); r.status != 200 || c["acknowledged"] != true || c["response_body"] != "sent" {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	n := <-notified
	if n.Get("signature") != latipayNotify(latipayAPIKey, n) || n.Get("merchant_reference") != "LSB-1" || n.Get("order_id") != paydata.OrderID ||
		n.Get("amount") != "120.00" || n.Get("currency") != "NZD" || n.Get("payment_method") != "wechat" || n.Get("status") != "paid" ||
		!regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`).MatchString(n.Get("pay_time")) || len(n) != 8 {
		t.Fatalf("notification %v", n)
	}
	if st := text(queryAnswer(sorted)["status"]); st != "paid" {
		t.Fatalf("status %q after payment", st)
	}

	refund := func(path, amount string) map[string]json.RawMessage {
		return latipay("POST", path, map[string]string{"user_id": latipayUserID, "order_id": paydata.OrderID, "refund_amount": amount, "reference": "notes about this refund"})
	}
	if a := refund("/refund", "20.00"); code(a) != "0" {
		t.Fatalf("refund on /refund: %v", a)
	}
	if a := refund("/v2/refund", "100.00"); code(a) != "0" {
		t.Fatalf("refund on /v2/refund: %v", a)
	}
	if a := refund("/refund", "0.01"); code(a) != "207" {
		t.Fatalf("a refund beyond the order: %v", a)
	}
}

// Latipay's published known answers (docs/providers/latipay.md "Known-answer
// vectors", from Latipay's docs): api_key 111222333; vector 3 (query), vector
// 4 (refund) and the notification vector, as literals.
const (
	latipayDocsKey          = "111222333"
	latipayVector3Signature = "58f93f458880120d650611f2452917a25a39edc2f5e3a03baac73a7a49bc81f4"
	latipayVector4Signature = "3052b51072570b743bf9a12a20a45b0adf280aee84907ef0e54d1079fb3f961c"
	latipayNotifySignature  = "840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1"
)

// latipaySortedSign is Latipay's request signature written from
// docs/providers/latipay.md with the standard library: every non-empty
// parameter but signature, sorted by name, k=v joined with &, the key
// appended, HMAC-SHA256 keyed by the key, lowercase hex.
func latipaySortedSign(params map[string]string, key string) string {
	names := make([]string, 0, len(params))
	for n, v := range params {
		if n != "signature" && v != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + params[n]
	}
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(strings.Join(parts, "&") + key))
	return hex.EncodeToString(m.Sum(nil))
}

// latipayCall is what the independent Latipay read of one call.
type latipayCall struct {
	method, path, rawQuery string
	params                 map[string]string // the query's or the JSON body's members
	verified               bool              // the signature is the sorted form's under the docs' key
}

// fakeLatipay is an independent Latipay written from the provider page: it
// checks every request's sorted signature with latipaySortedSign, records
// the call, and answers what the test set (code 206 to a bad signature, as
// Latipay does).
type fakeLatipay struct {
	srv    *httptest.Server
	mu     sync.Mutex
	calls  []latipayCall
	answer string
}

func newFakeLatipay(t *testing.T) *fakeLatipay {
	f := &fakeLatipay{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := latipayCall{method: r.Method, path: r.URL.EscapedPath(), rawQuery: r.URL.RawQuery, params: map[string]string{}}
		if r.Method == http.MethodGet {
			ref, _ := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/v2/transaction/"))
			c.params["merchant_reference"] = ref
			for n, v := range r.URL.Query() {
				c.params[n] = v[0]
			}
		} else {
			var body map[string]string
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &body)
			for n, v := range body {
				c.params[n] = v
			}
		}
		c.verified = c.params["signature"] == latipaySortedSign(c.params, latipayDocsKey)
		f.mu.Lock()
		f.calls = append(f.calls, c)
		answer := f.answer
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !c.verified {
			answer = `{"code":206,"message":"Signature from Merchant request is wrong"}`
		}
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// next sets the answer of the following calls and forgets earlier calls.
func (f *fakeLatipay) next(answer string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer, f.calls = answer, nil
}

func (f *fakeLatipay) taken(t *testing.T) latipayCall {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) != 1 {
		t.Fatalf("Latipay received %d calls, want 1", len(f.calls))
	}
	return f.calls[0]
}

// latipayQueryAnswer is a transaction query answer signed with the
// notification formula (written out by latipayNotify) over its amount's
// text; members replaces or, with "", removes members.
func latipayQueryAnswer(ref, status, amountJSON string, members map[string]string) string {
	amountText := strings.Trim(amountJSON, `"`)
	v := url.Values{"merchant_reference": {ref}, "payment_method": {"wechat"}, "status": {status}, "currency": {"NZD"}, "amount": {amountText}}
	fields := map[string]string{
		"merchant_reference": `"` + ref + `"`, "order_id": `"2017232323345678"`, "currency": `"NZD"`, "amount": amountJSON,
		"payment_method": `"wechat"`, "status": `"` + status + `"`, "pay_time": `"2017-07-07 10:53:50"`,
		"signature": `"` + latipayNotify(latipayDocsKey, v) + `"`,
	}
	for n, m := range members {
		if m == "" {
			delete(fields, n)
		} else {
			fields[n] = m
		}
	}
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = `"` + n + `":` + fields[n]
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// startLatipayDocsCaddy starts a Caddy with, for Latipay's published
// merchant (api_key 111222333, wallet W00000001), a minipay latipay route at
// each path for its user id, proxied to fake, and minipay_webhook latipay at
// /webhooks/latipay forwarding to merchant; it returns the Caddy and its
// base URL.
func startLatipayDocsCaddy(t *testing.T, fake *fakeLatipay, merchant *merchantBackend, users map[string]string) (*caddytest.Tester, string) {
	port := itoa(freePort(t))
	var routes strings.Builder
	for _, path := range slices.Sorted(maps.Keys(users)) {
		routes.WriteString(`
	handle ` + path + `/* {
		minipay latipay {
			user_id ` + users[path] + `
			wallet_id W00000001
			api_key ` + latipayDocsKey + `
			app_id wx721398712681232
			currency NZD
			notify_url https://merchantsite.com/confirm
		}
		reverse_proxy ` + strings.TrimPrefix(fake.srv.URL, "http://") + `
	}`)
	}
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+port+` {
	bind 127.0.0.1`+routes.String()+`
	handle /webhooks/latipay {
		minipay_webhook latipay {
			api_key `+latipayDocsKey+`
			currency NZD
		}
		reverse_proxy `+strings.TrimPrefix(merchant.srv.URL, "http://")+`
	}
}
`)
	return tc, "http://127.0.0.1:" + port
}

// TestLatipayPublishedVectorsThroughCaddy: Latipay's published signatures
// reproduced end to end, a real Caddy's minipay latipay routes against an
// independent Latipay: vector 3 is the query of 6000324 by U000000013,
// vector 4 the refund of 23479798sdf7987234 by U000334333 (120.00, "notes
// about this refund"), and the notification vector, posted as Latipay
// posts it, is acknowledged with "sent" and forwarded. Around them, every
// documented status of a query answer and of a notification maps as
// README Latipay says, and the members a query or refund answer may leave
// out (order_id, pay_time, message; a JSON-number amount) never make a 502.
func TestLatipayPublishedVectorsThroughCaddy(t *testing.T) {
	fake := newFakeLatipay(t)
	merchant := newMerchantBackend(t)
	tc, base := startLatipayDocsCaddy(t, fake, merchant, map[string]string{"/vector3": "U000000013", "/vector4": "U000334333"})

	t.Run("vector 3: query", func(t *testing.T) {
		status := func(s string) string {
			return `{"provider":"latipay","order_id":"6000324",` + s + `}`
		}
		paid := `"provider_order_id":"2017232323345678","status":"succeeded","amount":"120.00","currency":"NZD","paid_at":"2017-07-07T10:53:50Z","provider_status":"paid"`
		for _, tt := range []struct{ name, answer, want string }{
			{"paid", latipayQueryAnswer("6000324", "paid", `"120.00"`, nil), status(paid)},
			{"pending", latipayQueryAnswer("6000324", "pending", `"120.00"`, nil),
				status(`"provider_order_id":"2017232323345678","status":"pending","amount":"120.00","currency":"NZD","provider_status":"pending"`)},
			{"failed", latipayQueryAnswer("6000324", "failed", `"120.00"`, nil),
				status(`"provider_order_id":"2017232323345678","status":"failed","amount":"120.00","currency":"NZD","provider_status":"failed"`)},
			{"rejected", latipayQueryAnswer("6000324", "rejected", `"120.00"`, nil),
				status(`"provider_order_id":"2017232323345678","status":"failed","amount":"120.00","currency":"NZD","provider_status":"rejected"`)},
			{"canceled", latipayQueryAnswer("6000324", "canceled", `"120.00"`, nil),
				status(`"provider_order_id":"2017232323345678","status":"cancelled","amount":"120.00","currency":"NZD","provider_status":"canceled"`)},
			{"amount a JSON number, verified on its text", latipayQueryAnswer("6000324", "paid", `120.00`, nil), status(paid)},
			{"with code 0 and message", latipayQueryAnswer("6000324", "paid", `"120.00"`, map[string]string{"code": `0`, "message": `"SUCCESS"`}), status(paid)},
			{"the older revision: no order_id", latipayQueryAnswer("6000324", "paid", `"120.00"`, map[string]string{"order_id": ""}),
				status(strings.Replace(paid, `"2017232323345678"`, `""`, 1))},
			{"transaction_id, the merchant hosted docs' name", latipayQueryAnswer("6000324", "paid", `"120.00"`, map[string]string{"order_id": "", "transaction_id": `"2017232323345678"`}), status(paid)},
			{"pending without pay_time", latipayQueryAnswer("6000324", "pending", `"120.00"`, map[string]string{"pay_time": ""}),
				status(`"provider_order_id":"2017232323345678","status":"pending","amount":"120.00","currency":"NZD","provider_status":"pending"`)},
			{"pending, pay_time null", latipayQueryAnswer("6000324", "pending", `"120.00"`, map[string]string{"pay_time": "null"}),
				status(`"provider_order_id":"2017232323345678","status":"pending","amount":"120.00","currency":"NZD","provider_status":"pending"`)},
		} {
			t.Run(tt.name, func(t *testing.T) {
				fake.next(tt.answer)
				r := postJSON(t, tc, base+"/vector3/query", `{"order_id":"6000324"}`)
				call := fake.taken(t)
				if call.method != http.MethodGet || call.path != "/v2/transaction/6000324" ||
					call.rawQuery != "user_id=U000000013&signature="+latipayVector3Signature || !call.verified {
					t.Fatalf("Latipay received %s %s?%s (verified %v), want vector 3's signature", call.method, call.path, call.rawQuery, call.verified)
				}
				var want map[string]any
				if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
					t.Fatal(err)
				}
				if got := r.json(t); r.status != 200 || !reflect.DeepEqual(got, want) {
					t.Fatalf("%d %s\nwant %s", r.status, r.body, tt.want)
				}
			})
		}
	})

	t.Run("vector 4: refund", func(t *testing.T) {
		const request = `{"order_id":"dsi39ej430sks03","refund_id":"dsi39ej430sks03-R1","amount":"120.00","currency":"NZD",` +
			`"provider_order_id":"23479798sdf7987234","reason":"notes about this refund"}`
		for _, tt := range []struct{ name, answer, providerRefundID string }{
			{"code 0 with message", `{"code":0,"message":"SUCCESS"}`, ""},
			{"code \"0\" alone", `{"code":"0"}`, ""},
			{"with a refund_id", `{"code":0,"message":"SUCCESS","refund_id":"RF20170707001"}`, "RF20170707001"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				fake.next(tt.answer)
				r := postJSON(t, tc, base+"/vector4/refund", request)
				call := fake.taken(t)
				want := map[string]string{"user_id": "U000334333", "order_id": "23479798sdf7987234", "refund_amount": "120.00",
					"reference": "notes about this refund", "signature": latipayVector4Signature}
				if call.method != http.MethodPost || call.path != "/refund" || !reflect.DeepEqual(call.params, want) || !call.verified {
					t.Fatalf("Latipay received %s %s %v (verified %v), want vector 4: %v", call.method, call.path, call.params, call.verified, want)
				}
				got := r.json(t)
				if r.status != 200 || got["status"] != "succeeded" || got["amount"] != "120.00" || got["currency"] != "NZD" ||
					got["refund_id"] != "dsi39ej430sks03-R1" || got["order_id"] != "dsi39ej430sks03" || got["provider_refund_id"] != tt.providerRefundID {
					t.Fatalf("refund: %d %s", r.status, r.body)
				}
			})
		}
		// Latipay's business refusal keeps its code; the merchant's configuration error is a 502
		for _, tt := range []struct {
			answer, code, providerCode string
			status                     int
		}{
			{`{"code":201,"message":"Order not exist"}`, "provider_rejected", "201", 422},
			{`{"code":207,"message":"refund amount is wrong"}`, "provider_rejected", "207", 422},
			{`{"code":450,"message":"wallet not assigned"}`, "upstream_error", "450", 502},
		} {
			fake.next(tt.answer)
			r := postJSON(t, tc, base+"/vector4/refund", request)
			if e := r.errorOf(t); r.status != tt.status || e["code"] != tt.code || e["provider_code"] != tt.providerCode {
				t.Fatalf("answer %s: %d %s", tt.answer, r.status, r.body)
			}
		}
	})

	t.Run("notification vector", func(t *testing.T) {
		form := url.Values{"merchant_reference": {"dsi39ej430sks03"}, "order_id": {"2017232323345678"}, "currency": {"NZD"},
			"amount": {"120.00"}, "payment_method": {"alipay"}, "status": {"paid"}, "pay_time": {"2017-07-07 10:53:50"},
			"signature": {latipayNotifySignature}}
		r := do(t, tc, http.MethodPost, base+"/webhooks/latipay", "application/x-www-form-urlencoded", []byte(form.Encode()))
		got := merchant.take()
		if r.status != 200 || string(r.body) != "sent" || len(got) != 1 {
			t.Fatalf("vector: %d %q, the merchant received %d events", r.status, r.body, len(got))
		}
		want := map[string]any{"id": "latipay:dsi39ej430sks03:payment.succeeded", "provider": "latipay", "type": "payment.succeeded",
			"order_id": "dsi39ej430sks03", "amount": "120.00", "currency": "NZD", "data": map[string]any{
				"merchant_reference": "dsi39ej430sks03", "payment_method": "alipay", "status": "paid", "currency": "NZD", "amount": "120.00",
				"unverified.order_id": "2017232323345678", "unverified.pay_time": "2017-07-07 10:53:50"}}
		if !reflect.DeepEqual(got[0].event, want) || got[0].header.Get("Minipay-Event-Id") != want["id"] {
			t.Fatalf("event %v\nwant %v", got[0].event, want)
		}
		// one byte of a signed field changed: refused, nothing forwarded
		form.Set("amount", "120.01")
		if r := do(t, tc, http.MethodPost, base+"/webhooks/latipay", "application/x-www-form-urlencoded", []byte(form.Encode())); r.status != 401 || len(merchant.take()) != 0 {
			t.Fatalf("tampered vector: %d %s", r.status, r.body)
		}
		// every documented status, signed as Latipay signs it
		for status, typ := range map[string]string{"paid": "payment.succeeded", "pending": "payment.pending", "failed": "payment.failed",
			"rejected": "payment.failed", "canceled": "payment.cancelled"} {
			v := url.Values{"merchant_reference": {"LP-V-" + status}, "order_id": {"2017232323345679"}, "currency": {"NZD"},
				"amount": {"12.30"}, "payment_method": {"wechat"}, "status": {status}, "pay_time": {"2017-07-07 10:53:50"}}
			v.Set("signature", latipayNotify(latipayDocsKey, v))
			r := do(t, tc, http.MethodPost, base+"/webhooks/latipay", "application/x-www-form-urlencoded", []byte(v.Encode()))
			got := merchant.take()
			if r.status != 200 || string(r.body) != "sent" || len(got) != 1 || got[0].event["type"] != typ ||
				got[0].event["id"] != "latipay:LP-V-"+status+":"+typ || got[0].event["amount"] != "12.30" {
				t.Fatalf("status %s: %d %q, events %v", status, r.status, r.body, got)
			}
		}
	})
}

// TestLatipayHostedPageMethodsThroughCaddy: a real Caddy's minipay_webhook
// latipay acknowledges the genuine notification of an order paid with each
// method Latipay's current hosted online docs and plugins name
// (docs/providers/latipay.md "Payment methods"), signed as Latipay signs
// it, and forwards it with payment_method as sent; a query answer naming the
// method is read too. On the old list these were 401 on every retry, so the
// merchant never learnt the order was paid (and the query a 502). A card
// payment's callback (vm: out_trade_no, sorted parameters under the card
// private key) stays a 401, as README Latipay says.
func TestLatipayHostedPageMethodsThroughCaddy(t *testing.T) {
	fake := newFakeLatipay(t)
	merchant := newMerchantBackend(t)
	tc, base := startLatipayDocsCaddy(t, fake, merchant, map[string]string{"/latipay": "U000334333"})
	post := func(form url.Values) response {
		return do(t, tc, http.MethodPost, base+"/webhooks/latipay", "application/x-www-form-urlencoded", []byte(form.Encode()))
	}
	for _, method := range []string{"polipay", "azupay", "payid", "upi_upop", "coin_payments"} {
		t.Run(method, func(t *testing.T) {
			ref := "HP-" + strings.ReplaceAll(method, "_", "-")
			signed := url.Values{"merchant_reference": {ref}, "payment_method": {method}, "status": {"paid"}, "currency": {"NZD"}, "amount": {"35.00"}}
			form := url.Values{"order_id": {"2024091600000042"}, "pay_time": {"2024-09-16 05:25:37"},
				"signature": {latipayNotify(latipayDocsKey, signed)}}
			for k, v := range signed {
				form[k] = v
			}
			r := post(form)
			got := merchant.take()
			if r.status != 200 || string(r.body) != "sent" || len(got) != 1 {
				t.Fatalf("notification: %d %q, the merchant received %d events", r.status, r.body, len(got))
			}
			want := map[string]any{"id": "latipay:" + ref + ":payment.succeeded", "provider": "latipay", "type": "payment.succeeded",
				"order_id": ref, "amount": "35.00", "currency": "NZD", "data": map[string]any{
					"merchant_reference": ref, "payment_method": method, "status": "paid", "currency": "NZD", "amount": "35.00",
					"unverified.order_id": "2024091600000042", "unverified.pay_time": "2024-09-16 05:25:37"}}
			if !reflect.DeepEqual(got[0].event, want) {
				t.Fatalf("event %v\nwant %v", got[0].event, want)
			}

			fake.next(latipayQueryAnswer(ref, "paid", `35.00`, map[string]string{
				"payment_method": `"` + method + `"`, "signature": `"` + latipayNotify(latipayDocsKey, signed) + `"`}))
			q := postJSON(t, tc, base+"/latipay/query", `{"order_id":"`+ref+`"}`)
			if st := q.json(t); q.status != 200 || st["status"] != "succeeded" || st["amount"] != "35.00" || st["provider_status"] != "paid" {
				t.Fatalf("query: %d %s", q.status, q.body)
			}
		})
	}

	t.Run("a card payment's callback (vm)", func(t *testing.T) {
		card := url.Values{"amount": {"0.10"}, "currency": {"NZD"}, "notify_version": {"v2"}, "order_id": {"231103-0237511-001"},
			"out_trade_no": {"231103-0237511"}, "pay_time": {"2023-11-03 02:39:49"}, "payment_method": {"vm"}, "status": {"paid"}}
		card.Set("signature", latipayHMAC("card-private-key", card.Encode()))
		if r := post(card); r.status != 401 || len(merchant.take()) != 0 {
			t.Fatalf("card callback: %d %s", r.status, r.body)
		}
	})
}
