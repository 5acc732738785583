package latipay

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

func newSandbox(t testing.TB) *Sandbox {
	s := transformtest.Must(t, NewSandbox, testConfig())
	s.Now = transformtest.Clock
	return s
}

// serve sends a prepared call to the sandbox as reverse_proxy would.
func serve(t *testing.T, s *Sandbox, call *transform.Call) (int, []byte) {
	t.Helper()
	target := call.Path
	if call.RawQuery != "" {
		target += "?" + call.RawQuery
	}
	req := httptest.NewRequest(call.Method, target, bytes.NewReader(call.Body))
	if call.ContentType != "" {
		req.Header.Set("Content-Type", call.ContentType)
	}
	if !s.Handles(req.URL.Path) {
		t.Fatalf("the sandbox does not handle %s", req.URL.Path)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// exchange prepares op, lets the sandbox answer and decodes the answer.
func exchange(t *testing.T, c *Client, s *Sandbox, op, body string) (map[string]any, error) {
	t.Helper()
	call, err := c.Prepare(context.Background(), op, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	status, answer := serve(t, s, call)
	out, err := call.Decode(status, nil, answer)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m, nil
}

func mustExchange(t *testing.T, c *Client, s *Sandbox, op, body string) map[string]any {
	t.Helper()
	m, err := exchange(t, c, s, op, body)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return m
}

func TestSandboxRoundTrip(t *testing.T) {
	c, s, w := newClient(t, testConfig()), newSandbox(t), newWebhook(t, testConfig())
	const pay = `{"order_id":"LP-1","amount":"12.3","currency":"NZD","description":"Flat white","openid":"` + vecOpenID + `"}`
	p := mustExchange(t, c, s, "pay", pay)
	if p["provider"] != "latipay" || p["order_id"] != "LP-1" || p["signType"] != "MD5" || len(p["nonceStr"].(string)) != 32 ||
		!strings.HasPrefix(p["package"].(string), "prepay_id=wx20261122100000") || len(p["paySign"].(string)) != 32 ||
		p["timeStamp"] != "1795312800" || len(p["provider_order_id"].(string)) != 16 {
		t.Fatalf("pay answer %v", p)
	}
	if again := mustExchange(t, c, s, "pay", pay); again["provider_order_id"] != p["provider_order_id"] || again["package"] != p["package"] {
		t.Fatalf("the same order again: %v", again)
	}
	// sent again with another notify_url, it is still the first payment,
	// notified where the first asked (as every sandbox keeps an order)
	elsewhere := strings.Replace(pay, `"description"`, `"notify_url":"https://elsewhere.example/latipay","description"`, 1)
	if again := mustExchange(t, c, s, "pay", elsewhere); again["provider_order_id"] != p["provider_order_id"] {
		t.Fatalf("the same order with another notify_url: %v", again)
	}
	if _, err := exchange(t, c, s, "pay", strings.Replace(pay, "12.3", "12.4", 1)); err == nil {
		t.Fatal("the same order id with another amount was accepted")
	} else if e := wantError(t, err, 422, transform.CodeProviderRejected); e.ProviderCode != "207" {
		t.Fatalf("provider_code %s", e.ProviderCode)
	}

	q := mustExchange(t, c, s, "query", `{"order_id":"LP-1"}`)
	if q["status"] != "pending" || q["amount"] != "12.30" || q["currency"] != "NZD" || q["provider_order_id"] != p["provider_order_id"] || q["paid_at"] != nil {
		t.Fatalf("query of a pending order %v", q)
	}
	// The raw answer: amount is a JSON number, signed on its text.
	call, _ := c.Prepare(context.Background(), "query", []byte(`{"order_id":"LP-1"}`))
	_, raw := serve(t, s, call)
	if !bytes.Contains(raw, []byte(`"amount":12.30,`)) ||
		!bytes.Contains(raw, []byte(`"signature":"`+refNotify("LP-1", "wechat", "pending", "NZD", "12.30", vecAPIKey)+`"`)) {
		t.Fatalf("raw query answer %s", raw)
	}

	refund := `{"order_id":"LP-1","refund_id":"LP-1-R1","amount":"2.00","currency":"NZD","provider_order_id":"` + p["provider_order_id"].(string) + `"}`
	if _, err := exchange(t, c, s, "refund", refund); err == nil {
		t.Fatal("refund of an unpaid order")
	} else if e := wantError(t, err, 422, transform.CodeProviderRejected); e.ProviderCode != "207" {
		t.Fatalf("provider_code %s", e.ProviderCode)
	}

	out, ack, err := s.Complete("LP-1", true, transformtest.Pinned.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if out.URL != vecNotify || out.ContentType != "application/x-www-form-urlencoded" {
		t.Fatalf("outbound %s %s", out.URL, out.ContentType)
	}
	form, err := url.ParseQuery(string(out.Body))
	if err != nil || len(form) != 8 || form.Get("payment_method") != "wechat" || form.Get("status") != "paid" || form.Get("pay_time") != "2026-11-22 02:01:00" ||
		form.Get("signature") != refNotify("LP-1", "wechat", "paid", "NZD", "12.30", vecAPIKey) {
		t.Fatalf("notification %s", out.Body)
	}
	ev, err := w.Verify(transform.Notification{Body: out.Body})
	if err != nil || ev.Type != "payment.succeeded" || ev.ID != "latipay:LP-1:payment.succeeded" || ev.Amount != "12.30" ||
		ev.Data["unverified.order_id"] != p["provider_order_id"] || ev.Data["unverified.pay_time"] != "2026-11-22 02:01:00" {
		t.Fatalf("event %+v, %v", ev, err)
	}
	for _, a := range []struct {
		status int
		body   string
		want   bool
	}{{200, "sent", true}, {200, "sent\n", false}, {200, "SENT", false}, {500, "sent", false}, {200, "", false}} {
		if ack(a.status, []byte(a.body)) != a.want {
			t.Errorf("ack(%d, %q) != %v", a.status, a.body, a.want)
		}
	}

	q = mustExchange(t, c, s, "query", `{"order_id":"LP-1"}`)
	if q["status"] != "succeeded" || q["paid_at"] != "2026-11-22T02:01:00Z" || q["provider_status"] != "paid" {
		t.Fatalf("query of a paid order %v", q)
	}
	if r := mustExchange(t, c, s, "refund", refund); r["status"] != "succeeded" || r["amount"] != "2.00" || r["refund_id"] != "LP-1-R1" {
		t.Fatalf("refund %v", r)
	}
	if _, err := exchange(t, c, s, "refund", strings.Replace(refund, `"2.00"`, `"10.31"`, 1)); err == nil {
		t.Fatal("a refund over the order's amount")
	}
	// the sandbox serves /v2/refund too (a client with refund_path /v2/refund)
	v2cfg := testConfig()
	v2cfg.RefundPath = PathRefundV2
	if r := mustExchange(t, newClient(t, v2cfg), s, "refund", strings.Replace(refund, `"2.00"`, `"0.30"`, 1)); r["status"] != "succeeded" {
		t.Fatalf("refund through /v2/refund %v", r)
	}
	if r := mustExchange(t, c, s, "refund", strings.Replace(refund, `"2.00"`, `"10.00"`, 1)); r["status"] != "succeeded" {
		t.Fatalf("refund of the rest %v", r)
	}
	if _, _, err := s.Complete("LP-1", false, transformtest.Pinned); err == nil {
		t.Fatal("a paid order failed")
	}
	if _, _, err := s.Complete("NEVER", true, transformtest.Pinned); err == nil {
		t.Fatal("an unknown order completed")
	}
}

func TestSandboxFailedThenPaid(t *testing.T) {
	c, s, w := newClient(t, testConfig()), newSandbox(t), newWebhook(t, testConfig())
	mustExchange(t, c, s, "pay", `{"order_id":"LP-2","amount":"1.00","currency":"NZD","description":"x","openid":"o"}`)
	out, _, err := s.Complete("LP-2", false, transformtest.Pinned)
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := w.Verify(transform.Notification{Body: out.Body}); err != nil || ev.Type != "payment.failed" {
		t.Fatalf("event %+v, %v", ev, err)
	}
	if q := mustExchange(t, c, s, "query", `{"order_id":"LP-2"}`); q["status"] != "failed" || q["paid_at"] != nil {
		t.Fatalf("query %v", q)
	}
	// Paying the failed order again is Latipay's "used" refusal, 207, as
	// every sandbox refuses it (README Sandbox): a new reference pays again.
	_, err = exchange(t, c, s, "pay", `{"order_id":"LP-2","amount":"1.00","currency":"NZD","description":"x","openid":"o"}`)
	if e := wantError(t, err, 422, transform.CodeProviderRejected); e.ProviderCode != "207" || e.ProviderMessage != "The merchant_reference has been used" {
		t.Fatalf("pay again of the failed order: %+v", e)
	}
	if _, _, err := s.Complete("LP-2", true, transformtest.Pinned); err != nil {
		t.Fatal(err)
	}
	if q := mustExchange(t, c, s, "query", `{"order_id":"LP-2"}`); q["status"] != "succeeded" {
		t.Fatalf("query %v", q)
	}
}

func TestSandboxHandles(t *testing.T) {
	s := newSandbox(t)
	for path, want := range map[string]bool{
		"/v2/miniapppay": true, "/v2/refund": true, "/v2/transaction/LP-1": true,
		"/refund": true, "/v2/transaction/": false, "/v2/transaction/a/b": false, "/v2/transaction": false, "/pay/unifiedorder": false, "/v3/refund": false,
	} {
		if s.Handles(path) != want {
			t.Errorf("Handles(%q) != %v", path, want)
		}
	}
}

// TestSandboxRejects sends requests a merchant's own code could get wrong,
// signed with refSign, and expects Latipay's error answers.
func TestSandboxRejects(t *testing.T) {
	s := newSandbox(t)
	c := newClient(t, testConfig())
	mustExchange(t, c, s, "pay", `{"order_id":"LP-9","amount":"1.00","currency":"NZD","description":"x","openid":"o"}`)

	payParams := func(mutate func(map[string]string)) map[string]string {
		p := map[string]string{
			"user_id": vecUserID, "wallet_id": vecWalletID, "amount": "1.00", "notify_url": vecNotify,
			"merchant_reference": "LP-10", "product_name": "x", "app_id": vecAppID, "open_id": "o",
		}
		if mutate != nil {
			mutate(p)
		}
		if _, ok := p["signature"]; !ok {
			p["signature"] = refSign(p, vecAPIKey)
		}
		return p
	}
	jsonBody := func(p map[string]string) string { b, _ := json.Marshal(p); return string(b) }
	set := func(k, v string) func(map[string]string) { return func(p map[string]string) { p[k] = v } }
	query := func(ref, user, key string) string {
		return "/v2/transaction/" + ref + "?user_id=" + user + "&signature=" + refSign(map[string]string{"merchant_reference": ref, "user_id": user}, key)
	}
	tests := []struct {
		name, method, target, body string
		status                     int
		code                       int // Latipay's code; 0 = success
	}{
		{"a valid pay", "POST", "/v2/miniapppay", jsonBody(payParams(nil)), 200, 0},
		{"a numeric amount is signed as written", "POST", "/v2/miniapppay", strings.Replace(jsonBody(payParams(set("merchant_reference", "LP-11"))), `"amount":"1.00"`, `"amount":1.00`, 1), 200, 0},
		{"signed with another key", "POST", "/v2/miniapppay", jsonBody(payParams(func(p map[string]string) { p["signature"] = refSign(p, otherKey) })), 200, 206},
		{"tampered amount", "POST", "/v2/miniapppay", strings.Replace(jsonBody(payParams(nil)), `"amount":"1.00"`, `"amount":"0.01"`, 1), 200, 206},
		{"another user", "POST", "/v2/miniapppay", jsonBody(payParams(set("user_id", "U000000001"))), 200, 205},
		{"another wallet", "POST", "/v2/miniapppay", jsonBody(payParams(set("wallet_id", "W00000002"))), 200, 450},
		{"another mini app", "POST", "/v2/miniapppay", jsonBody(payParams(set("app_id", "wx0000000000000000"))), 200, 301},
		{"no open_id", "POST", "/v2/miniapppay", jsonBody(payParams(set("open_id", ""))), 200, 204},
		{"no notify_url", "POST", "/v2/miniapppay", jsonBody(payParams(set("notify_url", ""))), 200, 204},
		{"three decimals", "POST", "/v2/miniapppay", jsonBody(payParams(set("amount", "1.001"))), 200, 207},
		{"not JSON", "POST", "/v2/miniapppay", `user_id=U000334333`, 200, 207},
		{"a nested value", "POST", "/v2/miniapppay", `{"user_id":{"a":1}}`, 200, 207},
		// as caddy minipay sign refuses them (TestSignCommandLatipayRefusesWhatLatipayRefuses)
		{"a boolean value", "POST", "/v2/miniapppay", `{"user_id":"U000334333","is_block":true}`, 200, 207},
		{"an array value", "POST", "/v2/miniapppay", `{"user_id":"U000334333","items":[]}`, 200, 207},
		// Text that is not UTF-8, signed as encoding/json reads it (U+FFFD):
		// refused, as the webhook and caddy minipay sign refuse it.
		{"a byte that is not UTF-8", "POST", "/v2/miniapppay", strings.Replace(jsonBody(payParams(func(p map[string]string) {
			p["merchant_reference"], p["product_name"] = "LP-12", "\ufffd"
		})), "\ufffd", "\xff", 1), 200, 207},
		{"an escape of half a surrogate pair", "POST", "/v2/miniapppay", strings.Replace(jsonBody(payParams(func(p map[string]string) {
			p["merchant_reference"], p["product_name"] = "LP-13", "\ufffd"
		})), "\ufffd", `\ud800`, 1), 200, 207},
		{"GET pay", "GET", "/v2/miniapppay", ``, 405, -1},
		{"a valid query", "GET", query("LP-9", vecUserID, vecAPIKey), ``, 200, 0},
		{"query under another key", "GET", query("LP-9", vecUserID, otherKey), ``, 200, 206},
		// the older form (Latipay's PHP plugin, Core.php find()): HMAC of merchant_reference + user_id
		{"a query signed in the older form", "GET", "/v2/transaction/LP-9?user_id=" + vecUserID + "&signature=" + refHMAC("LP-9"+vecUserID, vecAPIKey), ``, 200, 0},
		{"a query in the older form under another key", "GET", "/v2/transaction/LP-9?user_id=" + vecUserID + "&signature=" + refHMAC("LP-9"+vecUserID, otherKey), ``, 200, 206},
		{"the older form with a parameter it does not cover", "GET", "/v2/transaction/LP-9?is_block=1&user_id=" + vecUserID + "&signature=" + refHMAC("LP-9"+vecUserID, vecAPIKey), ``, 200, 206},
		{"query of another user", "GET", query("LP-9", "U000000013", vecAPIKey), ``, 200, 205},
		{"a query value that is not UTF-8", "GET", "/v2/transaction/LP-9?user_id=" + vecUserID + "&x=%FF&signature=" +
			refSign(map[string]string{"merchant_reference": "LP-9", "user_id": vecUserID, "x": "\xff"}, vecAPIKey), ``, 200, 207},
		{"a query name that is not UTF-8", "GET", "/v2/transaction/LP-9?user_id=" + vecUserID + "&%FF=1&signature=" +
			refSign(map[string]string{"merchant_reference": "LP-9", "user_id": vecUserID, "\xff": "1"}, vecAPIKey), ``, 200, 207},
		{"query of an unknown order", "GET", query("LP-404", vecUserID, vecAPIKey), ``, 200, 201},
		{"query without signature", "GET", "/v2/transaction/LP-9?user_id=" + vecUserID, ``, 200, 204},
		{"POST query", "POST", query("LP-9", vecUserID, vecAPIKey), ``, 405, -1},
		{"refund of an unknown order", "POST", "/v2/refund", jsonBody(func() map[string]string {
			p := map[string]string{"user_id": vecUserID, "order_id": "1234", "refund_amount": "1.00"}
			p["signature"] = refSign(p, vecAPIKey)
			return p
		}()), 200, 201},
		{"refund signed with another key", "POST", "/v2/refund", jsonBody(func() map[string]string {
			p := map[string]string{"user_id": vecUserID, "order_id": "1234", "refund_amount": "1.00"}
			p["signature"] = refSign(p, otherKey)
			return p
		}()), 200, 206},
		{"an unknown path", "POST", "/v2/unknown", `{}`, 404, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body)))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.code < 0 {
				return
			}
			var a map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
				t.Fatalf("answer %s", rec.Body)
			}
			code := string(a["code"])
			if tt.code == 0 {
				if code != "" {
					t.Fatalf("answer %s", rec.Body)
				}
				return
			}
			var msg string
			_ = json.Unmarshal(a["message"], &msg)
			if code != strconv.Itoa(tt.code) || msg == "" {
				t.Fatalf("answer %s, want code %d", rec.Body, tt.code)
			}
			if tt.code == 206 && msg != "Signature from Merchant request is wrong" {
				t.Fatalf("message %q", msg)
			}
		})
	}
}

// Order ids may hold | and *: the query path carries them, the signature
// covers them raw.
func TestSandboxOddOrderID(t *testing.T) {
	c, s := newClient(t, testConfig()), newSandbox(t)
	mustExchange(t, c, s, "pay", `{"order_id":"LP|2*x_-","amount":"1.00","currency":"NZD","description":"x","openid":"o"}`)
	if q := mustExchange(t, c, s, "query", `{"order_id":"LP|2*x_-"}`); q["order_id"] != "LP|2*x_-" || q["status"] != "pending" {
		t.Fatalf("query %v", q)
	}
}

// TestSandboxParallelPays: 100 pays at once, each settled as soon as it is
// made while the console lists the orders (go test -race finds order state
// touched outside the lock).
func TestSandboxParallelPays(t *testing.T) {
	transformtest.ParallelPays(t, newSandbox(t), newClient(t, testConfig()), 100, func(i int) (string, []byte) {
		id := "PAR-" + strconv.Itoa(i)
		return id, []byte(`{"order_id":"` + id + `","amount":"1.00","currency":"NZD","description":"d","openid":"o"}`)
	})
}
