package cbtis

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

type sandboxEnv struct {
	sb     *Sandbox
	srv    *httptest.Server
	client *Client
	clk    *clock // the sandbox's clock
}

// newSandboxEnv serves a Sandbox over HTTP and points a Client (real
// clock) at its token endpoint.
func newSandboxEnv(t *testing.T, lifetime time.Duration) *sandboxEnv {
	t.Helper()
	cfg := testConfig("http://placeholder.invalid" + PathAuth)
	cfg.APIKey = vecAPIKey
	sb, err := NewSandbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	sb.Now, sb.TokenLifetime = clk.Now, lifetime
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	cfg.TokenURL = srv.URL + PathAuth
	return &sandboxEnv{sb: sb, srv: srv, client: newTestClient(t, cfg, nil), clk: clk}
}

func (e *sandboxEnv) do(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: not JSON: %s", method, path, b)
	}
	return res.StatusCode, m
}

func (e *sandboxEnv) token(t *testing.T) string {
	t.Helper()
	status, m := e.do(t, "GET", PathAuth+"?grant_type=client_credentials&uid="+testUID+"&client_secret="+testSecret, "", "")
	tok, _ := m["access_token"].(string)
	if status != 200 || tok == "" {
		t.Fatalf("auth: %d %v", status, m)
	}
	return tok
}

func TestSandboxAuth(t *testing.T) {
	e := newSandboxEnv(t, DefaultTokenLifetime)
	tests := []struct {
		name, method, query string
		status              int
	}{
		{"valid", "GET", "grant_type=client_credentials&uid=" + testUID + "&client_secret=" + testSecret, 200},
		{"wrong secret", "GET", "grant_type=client_credentials&uid=" + testUID + "&client_secret=x", 401},
		{"wrong uid", "GET", "grant_type=client_credentials&uid=1&client_secret=" + testSecret, 401},
		{"wrong grant", "GET", "grant_type=password&uid=" + testUID + "&client_secret=" + testSecret, 400},
		{"POST", "POST", "grant_type=client_credentials&uid=" + testUID + "&client_secret=" + testSecret, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, m := e.do(t, tt.method, PathAuth+"?"+tt.query, "", "")
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, m)
			}
			if status == 200 && (m["expires_in"] != float64(3600) || !strings.HasPrefix(m["access_token"].(string), "sbx_")) {
				t.Fatalf("answer %v", m)
			}
		})
	}
	if e.sb.TokensIssued() != 1 {
		t.Fatalf("TokensIssued = %d", e.sb.TokensIssued())
	}
}

// Tokens asked for over and over are bounded: the newest maxSandboxTokens
// stay valid, older ones are forgotten first, and expired ones go.
func TestSandboxTokensBounded(t *testing.T) {
	e := newSandboxEnv(t, DefaultTokenLifetime)
	issue := func() string {
		t.Helper()
		status, m := e.do(t, "GET", PathAuth+"?grant_type=client_credentials&uid="+testUID+"&client_secret="+testSecret, "", "")
		if status != 200 {
			t.Fatalf("token: %d %v", status, m)
		}
		return m["access_token"].(string)
	}
	first := issue()
	var last string
	for range maxSandboxTokens {
		last = issue()
	}
	e.sb.mu.Lock()
	live := len(e.sb.tokens)
	e.sb.mu.Unlock()
	if live != maxSandboxTokens {
		t.Fatalf("%d live tokens, want %d", live, maxSandboxTokens)
	}
	if e.sb.authorized(bearer(first)) || !e.sb.authorized(bearer(last)) {
		t.Fatal("the oldest token is still valid, or the newest is not")
	}
}

// The bearer scheme's name is case-insensitive (RFC 7235 §2.1, RFC 6750
// §2.1): an OAuth 2.0 client may send the token_type as "bearer". The
// token itself is compared exactly.
func TestSandboxBearerScheme(t *testing.T) {
	e := newSandboxEnv(t, DefaultTokenLifetime)
	tok := e.token(t)
	tests := []struct {
		name, header string
		ok           bool
	}{
		{"Bearer", "Bearer " + tok, true},
		{"lower case", "bearer " + tok, true},
		{"upper case", "BEARER " + tok, true},
		{"mixed case", "bEaReR " + tok, true},
		{"token in other case", "Bearer " + strings.ToUpper(tok), false},
		{"no scheme", tok, false},
		{"Basic", "Basic " + tok, false},
		{"no space", "Bearer" + tok, false},
		{"empty token", "Bearer ", false},
		{"other token", "Bearer " + tok + "x", false},
		{"scheme alone", "Bearer", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, PathQuery, nil)
			r.Header.Set("Authorization", tt.header)
			if got := e.sb.authorized(r); got != tt.ok {
				t.Fatalf("authorized(%q) = %v, want %v", tt.header, got, tt.ok)
			}
		})
	}
}

func bearer(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, PathQuery, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

const sandboxCreateBody = `{"amount":"12.30","currency":"HKD","merchant_order_id":"S1","payment_method":{"type":"wechat","wechat":{"flow":"mini_program","sub_appid":"wx7bc98d929da735fe","sub_openid":"o1"}},"description":"d","notify_url":"https://merchant.example/notify"}`

func TestSandboxAPI(t *testing.T) {
	e := newSandboxEnv(t, 10*time.Second)
	tok := e.token(t)
	tests := []struct {
		name, path, token, body string
		status                  int
		code                    float64
	}{
		{"no token", PathCreate, "", sandboxCreateBody, 401, SandboxCodeUnauthorized},
		{"unknown token", PathCreate, "sbx_nope", sandboxCreateBody, 401, SandboxCodeUnauthorized},
		{"create", PathCreate, tok, sandboxCreateBody, 200, 0},
		{"same create again is idempotent", PathCreate, tok, sandboxCreateBody, 200, 0},
		{"same id, other amount", PathCreate, tok, strings.Replace(sandboxCreateBody, "12.30", "12.31", 1), 200, SandboxCodeDuplicateOrder},
		{"id with a CR", PathCreate, tok, strings.Replace(sandboxCreateBody, `"S1"`, `"S\r1"`, 1), 200, SandboxCodeInvalidParam},
		{"id with a NUL", PathCreate, tok, strings.Replace(sandboxCreateBody, `"S1"`, `"S\u00001"`, 1), 200, SandboxCodeInvalidParam},
		{"same id, other payer", PathCreate, tok, strings.Replace(sandboxCreateBody, `"sub_openid":"o1"`, `"sub_openid":"o2"`, 1), 200, SandboxCodeDuplicateOrder},
		{"foreign sub_appid", PathCreate, tok, strings.Replace(sandboxCreateBody, subAppID, "wx0000000000000000", 1), 200, SandboxCodeInvalidParam},
		{"other flow", PathCreate, tok, strings.Replace(sandboxCreateBody, "mini_program", "jsapi", 1), 200, SandboxCodeInvalidParam},
		{"no sub_openid", PathCreate, tok, strings.Replace(sandboxCreateBody, `"sub_openid":"o1"`, `"sub_openid":""`, 1), 200, SandboxCodeInvalidParam},
		{"too many decimals", PathCreate, tok, strings.Replace(sandboxCreateBody, "12.30", "12.301", 1), 200, SandboxCodeInvalidParam},
		{"no description", PathCreate, tok, strings.Replace(sandboxCreateBody, `"description":"d"`, `"description":""`, 1), 200, SandboxCodeInvalidParam},
		{"query by merchant_order_id", PathQuery, tok, `{"merchant_order_id":"S1"}`, 200, 0},
		{"query unknown", PathQuery, tok, `{"merchant_order_id":"S2"}`, 200, SandboxCodeOrderNotFound},
		{"query without id", PathQuery, tok, `{}`, 200, SandboxCodeInvalidParam},
	}
	var providerID string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, m := e.do(t, "POST", tt.path, tt.token, tt.body)
			if status != tt.status || m["code"] != tt.code {
				t.Fatalf("%d %v, want %d code %v", status, m, tt.status, tt.code)
			}
			if tt.code != 0 {
				return
			}
			data := m["data"].(map[string]any)
			if data["merchant_order_id"] != "S1" || data["amount"] != "12.30" || data["currency"] != "HKD" || data["status"] != "PENDING" {
				t.Fatalf("data %v", data)
			}
			if tt.path == PathCreate {
				next := data["next_action"].(map[string]any)["data"].(map[string]any)
				if next["signType"] != "RSA" || next["appId"] != subAppID || !strings.HasPrefix(next["package"].(string), "prepay_id=") {
					t.Fatalf("next_action %v", next)
				}
				if providerID != "" && data["order_id"] != providerID {
					t.Fatal("the repeated create made another order")
				}
				providerID = data["order_id"].(string)
			}
		})
	}
	if status, m := e.do(t, "POST", PathQuery, tok, `{"order_id":"`+providerID+`"}`); status != 200 || m["code"] != float64(0) {
		t.Fatalf("query by order_id: %v", m)
	}
	// a paid order cannot be created again, nor one refunded since
	for _, settle := range []func() error{
		func() error { _, _, err := e.sb.Complete("S1", true, e.clk.Now()); return err },
		func() error { _, _, err := e.sb.CompleteRefund("S1", e.clk.Now()); return err },
	} {
		if err := settle(); err != nil {
			t.Fatal(err)
		}
		if status, m := e.do(t, "POST", PathCreate, tok, sandboxCreateBody); status != 200 || m["code"] != float64(SandboxCodeOrderPaid) || m["data"] != nil {
			t.Fatalf("create of a settled order: %d %v, want code %d", status, m, SandboxCodeOrderPaid)
		}
	}
	// the token expires on the sandbox's clock
	e.clk.Advance(10 * time.Second)
	if status, _ := e.do(t, "POST", PathQuery, tok, `{"merchant_order_id":"S1"}`); status != 401 {
		t.Fatalf("expired token: %d", status)
	}
}

// The client against the sandbox: pay, query, complete, and a token the
// sandbox let expire while the client still trusted it (401 → refresh).
func TestClientAgainstSandbox(t *testing.T) {
	e := newSandboxEnv(t, time.Hour)
	out, err := roundTrip(t, e.client, e.srv.URL, "pay", `{"order_id":"RT-1","amount":"12.30","currency":"HKD","description":"Tea","openid":"o1"}`)
	if err != nil {
		t.Fatal(err)
	}
	var pp map[string]string
	if err := json.Unmarshal(out, &pp); err != nil || pp["signType"] != "RSA" || pp["provider"] != "cbtis" || pp["order_id"] != "RT-1" ||
		!strings.HasPrefix(pp["provider_order_id"], "C") || pp["paySign"] == "" {
		t.Fatalf("pay: %s", out)
	}
	// the sandbox's hour passes; the client's clock does not move
	e.clk.Advance(2 * time.Hour)
	out, err = roundTrip(t, e.client, e.srv.URL, "query", `{"order_id":"RT-1"}`)
	if err != nil || !strings.Contains(string(out), `"status":"pending"`) {
		t.Fatalf("query: %s %v", out, err)
	}
	if e.sb.TokensIssued() != 2 || e.client.tokens.Fetches() != 2 {
		t.Fatalf("tokens: %d issued, %d fetched; want 2 (one refresh after the 401)", e.sb.TokensIssued(), e.client.tokens.Fetches())
	}

	out2, ack, err := e.sb.Complete("RT-1", true, t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if out2.URL != notifyURL || out2.ContentType != "application/json" || !ack(200, []byte("success")) || !ack(200, []byte("ok")) || ack(204, nil) { // CBTIS reads the status only
		t.Fatalf("outbound %+v", out2)
	}
	ev, err := newWebhook(t, Config{APIKey: vecAPIKey}).Verify(transform.Notification{Header: out2.Header, Body: out2.Body})
	if err != nil {
		t.Fatalf("the sandbox's notification does not verify: %v\n%s", err, out2.Body)
	}
	if ev.Type != transform.EventPaymentSucceeded || ev.OrderID != "RT-1" || ev.Amount != "12.30" || ev.Currency != "HKD" ||
		ev.ProviderOrderID != pp["provider_order_id"] || ev.OccurredAt != "2026-11-22T05:00:00.000Z" || ev.Data["uid"] != testUID {
		t.Fatalf("event %+v", ev)
	}
	if got := out2.Header.Get("Signature"); got != refSignature(out2.Body, vecAPIKey) {
		t.Fatalf("Signature header %q", got)
	}
	out, err = roundTrip(t, e.client, e.srv.URL, "query", `{"order_id":"RT-1"}`)
	if err != nil || !strings.Contains(string(out), `"status":"succeeded"`) || !strings.Contains(string(out), `"paid_at":"2026-11-22T05:00:00.000Z"`) {
		t.Fatalf("query after completion: %s %v", out, err)
	}
	// a second success notification may be sent again; a paid order cannot fail
	if _, _, err := e.sb.Complete("RT-1", true, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.sb.Complete("RT-1", false, t0); err == nil {
		t.Fatal("a paid order failed")
	}
	// pay again for a paid order: the provider's refusal
	_, err = roundTrip(t, e.client, e.srv.URL, "pay", `{"order_id":"RT-1","amount":"12.30","currency":"HKD","description":"Tea","openid":"o1"}`)
	if te := wantError(t, err, 422, transform.CodeProviderRejected); te.ProviderCode != "40003" {
		t.Fatalf("pay of a paid order: %+v", te)
	}
	_, err = roundTrip(t, e.client, e.srv.URL, "query", `{"order_id":"NONE"}`)
	wantError(t, err, 422, transform.CodeProviderRejected)
}

func TestSandboxCompleteFailed(t *testing.T) {
	e := newSandboxEnv(t, time.Hour)
	if _, err := roundTrip(t, e.client, e.srv.URL, "pay", `{"order_id":"F-1","amount":"1","currency":"JPY","description":"d","openid":"o1"}`); err != nil {
		t.Fatal(err)
	}
	out, _, err := e.sb.Complete("F-1", false, t0)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := newWebhook(t, Config{APIKey: vecAPIKey}).Verify(transform.Notification{Header: out.Header, Body: out.Body})
	if err != nil || ev.Type != transform.EventUnknown || ev.Data["notify_type"] != "payment_failed" || ev.Amount != "1" {
		t.Fatalf("failed payment: %+v %v", ev, err)
	}
	q, err := roundTrip(t, e.client, e.srv.URL, "query", `{"order_id":"F-1"}`)
	if err != nil || !strings.Contains(string(q), `"status":"pending","amount":"1","currency":"JPY","provider_status":"PENDING"`) {
		t.Fatalf("query: %s %v", q, err)
	}
	// Creating it again is refused (40002), as every sandbox refuses to pay a
	// failed order again (README Sandbox): a new merchant_order_id pays again.
	_, err = roundTrip(t, e.client, e.srv.URL, "pay", `{"order_id":"F-1","amount":"1","currency":"JPY","description":"d","openid":"o1"}`)
	if te := wantError(t, err, 422, transform.CodeProviderRejected); te.ProviderCode != "40002" {
		t.Fatalf("pay again of the failed order: %+v", te)
	}
	// The intent is still PENDING to the merchant: the customer may pay again.
	if _, _, err := e.sb.Complete("F-1", true, t0); err != nil {
		t.Fatalf("paying an intent whose payment failed: %v", err)
	}
	if q, err := roundTrip(t, e.client, e.srv.URL, "query", `{"order_id":"F-1"}`); err != nil || !strings.Contains(string(q), `"status":"succeeded"`) {
		t.Fatalf("query after paying again: %s %v", q, err)
	}
	if _, _, err := e.sb.Complete("NOPE", true, t0); err == nil {
		t.Fatal("completed an unknown order")
	}
}

// An order created without notify_url (optional in CBTIS's create) is
// settled like any other, as CBTIS settles an intent its customer pays, so
// a merchant that polls query sees it; nothing is sent, and Complete says
// so with ErrNotNotified.
func TestSandboxSettlesWithoutNotifyURL(t *testing.T) {
	e := newSandboxEnv(t, time.Hour)
	cfg := testConfig(e.srv.URL + PathAuth)
	cfg.NotifyURL = ""
	client := newTestClient(t, cfg, nil)
	pay := func(id string) {
		t.Helper()
		if _, err := roundTrip(t, client, e.srv.URL, "pay", `{"order_id":"`+id+`","amount":"1","currency":"JPY","description":"d","openid":"o1"}`); err != nil {
			t.Fatal(err)
		}
	}
	query := func(id, want string) {
		t.Helper()
		if q, err := roundTrip(t, client, e.srv.URL, "query", `{"order_id":"`+id+`"}`); err != nil || !strings.Contains(string(q), want) {
			t.Fatalf("query %s: %s %v, want %s", id, q, err, want)
		}
	}
	notNotified := func(step string, out *transform.Outbound, err error) {
		t.Helper()
		if out != nil || !errors.Is(err, transform.ErrNotNotified) || !strings.Contains(err.Error(), "notify_url") {
			t.Fatalf("%s: %+v %v, want ErrNotNotified naming notify_url", step, out, err)
		}
	}
	pay("N-1")
	out, _, err := e.sb.Complete("N-1", true, t0)
	notNotified("succeeded", out, err)
	query("N-1", `"status":"succeeded","amount":"1","currency":"JPY","paid_at":"2026-11-22T02:00:00.000Z","provider_status":"SUCCEEDED"`)
	out, _, err = e.sb.CompleteRefund("N-1", t0)
	notNotified("refunded", out, err)
	if o := findOrder(e.sb.Orders(), "N-1"); o.State != transform.StatusRefunded {
		t.Fatalf("console state after the refund: %+v", o)
	}

	pay("N-2")
	out, _, err = e.sb.Complete("N-2", false, t0)
	notNotified("failed", out, err)
	query("N-2", `"status":"pending"`)
	// the states still hold: a paid order cannot fail, an unknown one is no order
	out, _, err = e.sb.Complete("N-1", false, t0)
	if out != nil || err == nil || errors.Is(err, transform.ErrNotNotified) {
		t.Fatalf("a refunded order failed: %v", err)
	}
	if _, _, err := e.sb.Complete("NOPE", true, t0); err == nil || errors.Is(err, transform.ErrNotNotified) {
		t.Fatalf("unknown order: %v", err)
	}
}

func findOrder(orders []transform.SandboxOrder, id string) transform.SandboxOrder {
	for _, o := range orders {
		if o.ID == id {
			return o
		}
	}
	return transform.SandboxOrder{}
}

func TestSandboxHandles(t *testing.T) {
	e := newSandboxEnv(t, time.Hour)
	for path, want := range map[string]bool{PathAuth: true, PathCreate: true, PathQuery: true, "/mch-api/v1/pa/payment_intents/refund": false, "/pay/unifiedorder": false} {
		if e.sb.Handles(path) != want {
			t.Errorf("Handles(%s) != %v", path, want)
		}
	}
	if _, err := NewSandbox(Config{ClientSecret: testSecret}); err == nil {
		t.Fatal("NewSandbox without uid and sub_app_id")
	}
}

// TestSandboxParallelPays: 100 pays at once behind one bearer token, each
// settled as soon as it is made while the console lists the orders (go
// test -race finds order state touched outside the lock).
func TestSandboxParallelPays(t *testing.T) {
	e := newSandboxEnv(t, time.Hour)
	transformtest.ParallelPays(t, e.sb, e.client, 100, func(i int) (string, []byte) {
		id := "PAR-" + strconv.Itoa(i)
		return id, []byte(`{"order_id":"` + id + `","amount":"1.00","currency":"HKD","description":"d","openid":"o"}`)
	})
}
