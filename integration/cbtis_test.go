package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// CBTIS credentials of the tests (not anyone's secrets).
const (
	cbtisUID      = "39172931"
	cbtisSecret   = "cs_0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"
	cbtisAPIKey   = "6d0e8fa7b10c40c3a48c0c2be41cb178"
	cbtisSubAppID = "wx7bc98d929da735fe"
)

// fakeCBTIS is an independent CBTIS server: a client-credentials token
// endpoint that counts fetches, and create/query behind bearer tokens that
// expire on their expires_in or are revoked by the test (a 401 like the
// real API's for a lapsed token).
type fakeCBTIS struct {
	srv        *httptest.Server
	expiresIn  int
	tokenDelay time.Duration
	always401  bool
	tokenDown  bool // the token endpoint answers 503 (after tokenDelay)

	mu       sync.Mutex
	fetches  int
	tokens   map[string]time.Time // token → expiry
	apiCalls int
	bodies   []map[string]any
}

func newFakeCBTIS(t *testing.T, expiresIn int) *fakeCBTIS {
	f := &fakeCBTIS{expiresIn: expiresIn, tokens: map[string]time.Time{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCBTIS) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/mch-api/v1/auth":
		q := r.URL.Query()
		f.mu.Lock()
		f.fetches++
		n, delay, down := f.fetches, f.tokenDelay, f.tokenDown
		f.mu.Unlock()
		time.Sleep(delay)
		if down {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"code":50300,"message":"token service unavailable"}`))
			return
		}
		// docs/providers/cbtis.md "Authentication": GET {token_url}?grant_type=client_credentials&uid=…&client_secret=…,
		// in that order, with no body
		if r.Method != http.MethodGet || r.ContentLength > 0 || q.Get("grant_type") != "client_credentials" || q.Get("uid") != cbtisUID ||
			q.Get("client_secret") != cbtisSecret || r.URL.RawQuery != "grant_type=client_credentials&uid="+cbtisUID+"&client_secret="+cbtisSecret {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code":40100,"message":"invalid credentials"}`))
			return
		}
		tok := "fake-" + strconv.Itoa(n)
		f.mu.Lock()
		f.tokens[tok] = time.Now().Add(time.Duration(f.expiresIn) * time.Second)
		f.mu.Unlock()
		_, _ = w.Write([]byte(`{"access_token":"` + tok + `","expires_in":` + strconv.Itoa(f.expiresIn) + `}`))
	case "/broken-auth":
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"code":50000,"message":"cannot check client_secret ` + r.URL.Query().Get("client_secret") + `"}`))
	case "/mch-api/v1/pa/payment_intents/create", "/mch-api/v1/pa/payment_intents/query":
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		f.apiCalls++
		f.bodies = append(f.bodies, body)
		exp, ok := f.tokens[tok]
		valid := ok && time.Now().Before(exp) && !f.always401
		f.mu.Unlock()
		if !valid {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code":401,"message":"access token invalid or expired"}`))
			return
		}
		id, _ := body["merchant_order_id"].(string)
		_, _ = w.Write([]byte(`{"code":0,"message":"ok","rid":"r1","data":{"order_id":"C` + id + `","merchant_order_id":"` + id +
			`","amount":"1.00","currency":"HKD","status":"PENDING","create_time":"2026-11-22T02:00:00.000Z",` +
			`"next_action":{"type":"call_sdk","data":{"appId":"` + cbtisSubAppID + `","nonceStr":"n0nce","package":"prepay_id=wx1",` +
			`"paySign":"UlNBc2lnbmF0dXJl","signType":"RSA","timeStamp":"1795312800"}}}}`))
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeCBTIS) counts() (fetches, apiCalls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fetches, f.apiCalls
}

// revoke makes every issued token answer 401 from now on.
func (f *fakeCBTIS) revoke() {
	f.mu.Lock()
	clear(f.tokens)
	f.mu.Unlock()
}

func (f *fakeCBTIS) hostPort() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func cbtisBlock(tokenURL string) string {
	return `
			uid ` + cbtisUID + `
			client_secret ` + cbtisSecret + `
			sub_app_id ` + cbtisSubAppID + `
			token_url ` + tokenURL + `
			notify_url https://merchant.example/webhooks/cbtis`
}

func cbtisPay(id string) string {
	return `{"order_id":"` + id + `","amount":"1","currency":"HKD","description":"Tea","openid":"oqZa55Qo-u0cVViWMAgv_YbyXb4U"}`
}

// TestCBTISTokenLifecycle drives the access-token cache through a real
// Caddy against independent fake CBTIS servers: caching, single-flight
// under concurrency, expiry, the 401 refresh, and token failures.
func TestCBTISTokenLifecycle(t *testing.T) {
	long, short, refusing := newFakeCBTIS(t, 3600), newFakeCBTIS(t, 4), newFakeCBTIS(t, 3600)
	long.mu.Lock()
	long.tokenDelay = 300 * time.Millisecond // concurrent pays all arrive during the fetch
	long.mu.Unlock()
	refusing.mu.Lock()
	refusing.always401 = true
	refusing.mu.Unlock()
	port, closed := itoa(freePort(t)), itoa(freePort(t))
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	route := func(prefix, tokenURL, upstream string) string {
		return `
	handle /` + prefix + `/* {
		minipay cbtis {` + cbtisBlock(tokenURL) + `
		}
		reverse_proxy ` + upstream + `
	}`
	}
	tc := startCaddy(t, globalOptions(logFile)+`
:`+port+` {`+
		route("long", long.srv.URL+"/mch-api/v1/auth", long.hostPort())+
		route("short", short.srv.URL+"/mch-api/v1/auth", short.hostPort())+
		route("refusing", refusing.srv.URL+"/mch-api/v1/auth", refusing.hostPort())+
		route("broken", long.srv.URL+"/broken-auth", long.hostPort())+
		route("down", "http://127.0.0.1:"+closed+"/mch-api/v1/auth", long.hostPort())+`
}
`)
	base := "http://localhost:" + port

	t.Run("20 concurrent pays share one token fetch", func(t *testing.T) {
		var wg sync.WaitGroup
		res := make([]response, 20)
		for i := range res {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i] = postJSON(t, tc, base+"/long/pay", cbtisPay("CONC-"+itoa(i)))
			}()
		}
		wg.Wait()
		for i, r := range res {
			if r.status != 200 || r.json(t)["signType"] != "RSA" || r.json(t)["provider_order_id"] != "CCONC-"+itoa(i) {
				t.Fatalf("pay %d: %d %s", i, r.status, r.body)
			}
		}
		if fetches, calls := long.counts(); fetches != 1 || calls != 20 {
			t.Fatalf("%d token fetches and %d API calls, want 1 and 20", fetches, calls)
		}
	})

	t.Run("the token is cached", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			if r := postJSON(t, tc, base+"/long/query", `{"order_id":"CONC-1"}`); r.status != 200 || r.json(t)["status"] != "pending" {
				t.Fatalf("query: %d %s", r.status, r.body)
			}
		}
		if fetches, _ := long.counts(); fetches != 1 {
			t.Fatalf("%d token fetches, want 1", fetches)
		}
		// the request the fake saw is the documented one
		long.mu.Lock()
		pay, query := long.bodies[0], long.bodies[len(long.bodies)-1]
		long.mu.Unlock()
		pm, _ := pay["payment_method"].(map[string]any)
		wc, _ := pm["wechat"].(map[string]any)
		if pay["amount"] != "1.00" || pay["currency"] != "HKD" || pm["type"] != "wechat" || wc["flow"] != "mini_program" ||
			wc["sub_appid"] != cbtisSubAppID || wc["sub_openid"] != "oqZa55Qo-u0cVViWMAgv_YbyXb4U" || pay["description"] != "Tea" ||
			pay["notify_url"] != "https://merchant.example/webhooks/cbtis" || query["merchant_order_id"] != "CONC-1" || len(query) != 1 {
			t.Fatalf("create body %v, query body %v", pay, query)
		}
	})

	t.Run("a 401 refreshes the token once and retries", func(t *testing.T) {
		long.revoke()
		_, callsBefore := long.counts()
		before := minipaySeries(t, tc)
		if r := postJSON(t, tc, base+"/long/pay", cbtisPay("REFRESH-1")); r.status != 200 {
			t.Fatalf("pay after revocation: %d %s", r.status, r.body)
		}
		if fetches, calls := long.counts(); fetches != 2 || calls != callsBefore+2 {
			t.Fatalf("%d fetches, %d API calls; want 2 and %d (401, then the retry)", fetches, calls, callsBefore+2)
		}
		// README Observability: one merchant request, one log line and one
		// count; the upstream histogram has one observation per request
		// sent to CBTIS, here two.
		after := minipaySeries(t, tc)
		for name, want := range map[string]float64{
			`caddy_minipay_requests_total{operation="pay",outcome="ok",provider="cbtis"}`:             1,
			`caddy_minipay_requests_total{operation="pay",outcome="upstream_error",provider="cbtis"}`: 0,
			`caddy_minipay_upstream_duration_seconds_count{operation="pay",provider="cbtis"}`:         2,
		} {
			if got := after[name] - before[name]; got != want {
				t.Errorf("%s rose by %v, want %v", name, got, want)
			}
		}
		if n := strings.Count(logText(t, logFile), `"order_id":"REFRESH-1"`); n != 1 {
			t.Errorf("%d log lines name REFRESH-1, want 1", n)
		}
	})

	t.Run("concurrent 401s cause one refresh", func(t *testing.T) {
		long.revoke()
		var wg sync.WaitGroup
		res := make([]response, 10)
		for i := range res {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i] = postJSON(t, tc, base+"/long/pay", cbtisPay("RC-"+itoa(i)))
			}()
		}
		wg.Wait()
		for i, r := range res {
			if r.status != 200 {
				t.Fatalf("pay %d: %d %s", i, r.status, r.body)
			}
		}
		if fetches, _ := long.counts(); fetches != 3 {
			t.Fatalf("%d token fetches, want 3", fetches)
		}
	})

	t.Run("the token is renewed before expires_in", func(t *testing.T) {
		// expires_in 4: renewed after 3 s (a quarter of a short lifetime early),
		// while the fake would still accept the old token for another second
		for i := 0; i < 3; i++ {
			if r := postJSON(t, tc, base+"/short/pay", cbtisPay("SHORT-"+itoa(i))); r.status != 200 {
				t.Fatalf("pay: %d %s", r.status, r.body)
			}
		}
		if fetches, _ := short.counts(); fetches != 1 {
			t.Fatalf("%d fetches, want 1", fetches)
		}
		time.Sleep(3100 * time.Millisecond)
		if r := postJSON(t, tc, base+"/short/pay", cbtisPay("SHORT-9")); r.status != 200 {
			t.Fatalf("pay: %d %s", r.status, r.body)
		}
		if fetches, calls := short.counts(); fetches != 2 || calls != 4 {
			t.Fatalf("%d fetches and %d API calls, want 2 and 4 (renewed before the API refused it)", fetches, calls)
		}
	})

	t.Run("a token refused again is a 502 after one retry", func(t *testing.T) {
		r := postJSON(t, tc, base+"/refusing/pay", cbtisPay("NO-1"))
		if r.status != 502 || r.errorOf(t)["code"] != "upstream_error" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if fetches, calls := refusing.counts(); fetches != 2 || calls != 2 {
			t.Fatalf("%d fetches, %d calls; want 2 and 2", fetches, calls)
		}
	})

	for _, tt := range []struct{ name, path string }{
		{"token endpoint answers 500", "/broken/pay"},
		{"token endpoint unreachable", "/down/pay"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := postJSON(t, tc, base+tt.path, cbtisPay("ERR-1"))
			if r.status != 502 || r.errorOf(t)["code"] != "upstream_error" {
				t.Fatalf("%d %s", r.status, r.body)
			}
			for _, leak := range []string{cbtisSecret, "client_secret=", "127.0.0.1"} {
				if strings.Contains(string(r.body), leak) {
					t.Fatalf("the answer leaks %q: %s", leak, r.body)
				}
			}
		})
	}

	logs := logText(t, logFile)
	for _, leak := range []string{cbtisSecret, "client_secret=", "fake-1"} {
		if strings.Contains(logs, leak) {
			t.Fatalf("the log contains %q", leak)
		}
	}
}

func cbtisSign(body []byte, key string) string {
	sum := sha256.Sum256(append(append([]byte{}, body...), append([]byte("."), key...)...))
	return hex.EncodeToString(sum[:])
}

// TestCBTISSandboxFlow: pay and query through the sandbox, the sandbox's
// signed notification through minipay_webhook to a merchant backend, and
// forged, tampered and unsigned notifications stopped at the webhook.
func TestCBTISSandboxFlow(t *testing.T) {
	merchant := newMerchantBackend(t)
	port, sandbox := itoa(freePort(t)), itoa(freePort(t))
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	tc := startCaddy(t, globalOptions(logFile)+`
:`+port+` {
	handle /cbtis/* {
		minipay cbtis {
			uid `+cbtisUID+`
			client_secret `+cbtisSecret+`
			sub_app_id `+cbtisSubAppID+`
			token_url http://127.0.0.1:`+sandbox+`/mch-api/v1/auth
			notify_url http://localhost:`+port+`/webhooks/cbtis
		}
		reverse_proxy 127.0.0.1:`+sandbox+`
	}
	handle /webhooks/cbtis {
		minipay_webhook cbtis {
			api_key `+cbtisAPIKey+`
		}
		reverse_proxy `+strings.TrimPrefix(merchant.srv.URL, "http://")+`
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
	}
}
`)
	base, sbx := "http://localhost:"+port, "http://localhost:"+sandbox
	hook := base + "/webhooks/cbtis"

	pay := postJSON(t, tc, base+"/cbtis/pay", `{"order_id":"CB-1001","amount":"12.3","currency":"HKD","description":"Milk tea","openid":"oqZa55Qo-u0cVViWMAgv_YbyXb4U"}`)
	p := pay.json(t)
	ts, _ := strconv.ParseInt(str(p["timeStamp"]), 10, 64)
	if pay.status != 200 || p["signType"] != "RSA" || p["provider"] != "cbtis" || p["order_id"] != "CB-1001" || ts == 0 ||
		!strings.HasPrefix(str(p["package"]), "prepay_id=") || str(p["paySign"]) == "" || len(str(p["nonceStr"])) != 32 ||
		!strings.HasPrefix(str(p["provider_order_id"]), "C") || p["appId"] != nil || len(p) != 8 {
		t.Fatalf("pay: %d %s", pay.status, pay.body)
	}
	q := postJSON(t, tc, base+"/cbtis/query", `{"order_id":"CB-1001"}`).json(t)
	if q["status"] != "pending" || q["amount"] != "12.30" || q["currency"] != "HKD" || q["provider_order_id"] != p["provider_order_id"] || q["paid_at"] != nil {
		t.Fatalf("query: %v", q)
	}

	done := postJSON(t, tc, sbx+"/sandbox/complete", `{"provider":"cbtis","order_id":"CB-1001","result":"succeeded"}`)
	if c := done.json(t); done.status != 200 || c["acknowledged"] != true || c["response_body"] != "success" || c["response_status"] != float64(200) {
		t.Fatalf("complete: %d %s", done.status, done.body)
	}
	got := merchant.take()
	if len(got) != 1 {
		t.Fatalf("merchant received %d events", len(got))
	}
	ev := got[0].event
	wantID := "cbtis:" + str(p["provider_order_id"]) + ":payment.succeeded"
	if ev["type"] != "payment.succeeded" || ev["id"] != wantID || ev["order_id"] != "CB-1001" || ev["amount"] != "12.30" ||
		ev["currency"] != "HKD" || ev["provider"] != "cbtis" || got[0].header.Get("Minipay-Event-Id") != wantID ||
		got[0].header.Get("Minipay-Provider") != "cbtis" {
		t.Fatalf("event %v", ev)
	}
	data, _ := ev["data"].(map[string]any)
	if data["notify_type"] != "payment_success" || data["uid"] != cbtisUID {
		t.Fatalf("event data %v", ev["data"])
	}
	// pay_time as CBTIS writes it (RFC 3339, milliseconds, Z) is occurred_at
	// and paid_at byte for byte (README "CBTIS"): the instant, not its second
	payTime := str(data["pay_time"])
	if !regexp.MustCompile(`\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\z`).MatchString(payTime) || ev["occurred_at"] != payTime {
		t.Fatalf("occurred_at %v, pay_time %q", ev["occurred_at"], payTime)
	}
	q = postJSON(t, tc, base+"/cbtis/query", `{"order_id":"CB-1001"}`).json(t)
	if q["status"] != "succeeded" || q["paid_at"] != payTime || q["provider_status"] != "SUCCEEDED" {
		t.Fatalf("query after payment: %v, pay_time %q", q, payTime)
	}
	// CBTIS retries the same notification: same event id
	postJSON(t, tc, sbx+"/sandbox/complete", `{"provider":"cbtis","order_id":"CB-1001","result":"succeeded"}`)
	if again := merchant.take(); len(again) != 1 || again[0].event["id"] != wantID {
		t.Fatalf("retry: %v", again)
	}

	// a failed payment: forwarded as unknown with CBTIS's own kind
	if r := postJSON(t, tc, base+"/cbtis/pay", `{"order_id":"CB-1002","amount":"5","currency":"CNY","description":"Tea","openid":"o1"}`); r.status != 200 {
		t.Fatalf("pay: %d %s", r.status, r.body)
	}
	if c := postJSON(t, tc, sbx+"/sandbox/complete", `{"provider":"cbtis","order_id":"CB-1002","result":"failed"}`).json(t); c["acknowledged"] != true {
		t.Fatalf("complete failed: %v", c)
	}
	if got := merchant.take(); len(got) != 1 || got[0].event["type"] != "unknown" || got[0].event["data"].(map[string]any)["notify_type"] != "payment_failed" {
		t.Fatalf("failed payment event: %v", got)
	}
	// CBTIS documents no failed intent status: the intent stays PENDING.
	if q := postJSON(t, tc, base+"/cbtis/query", `{"order_id":"CB-1002"}`).json(t); q["status"] != "pending" || q["amount"] != "5.00" {
		t.Fatalf("query of the failed payment: %v", q)
	}
	if r := postJSON(t, tc, base+"/cbtis/query", `{"order_id":"NEVER-1"}`); r.status != 422 || r.errorOf(t)["code"] != "provider_rejected" || r.errorOf(t)["provider_code"] != "40004" {
		t.Fatalf("query of an unknown order: %d %s", r.status, r.body)
	}
	if r := postJSON(t, tc, base+"/cbtis/refund", `{}`); r.status != 404 {
		t.Fatalf("refund: %d %s", r.status, r.body)
	}

	body := []byte(`{"notify_type":"payment_success","data":{"order_id":"C9","merchant_order_id":"CB-9","order_amount":"1.00","order_currency":"HKD","pay_time":"2026-11-22T02:00:00.000Z"}}`)
	valid := cbtisSign(body, cbtisAPIKey)
	pretty := []byte("{\r\n  \"data\": {\r\n    \"pay_time\": \"2026-11-22T02:00:00.000Z\",\r\n    \"order_currency\": \"HKD\",\r\n" +
		"    \"order_amount\": \"1.00\",\r\n    \"merchant_order_id\": \"CB-9\",\r\n    \"order_id\": \"C9\",\r\n" +
		"    \"description\": \"\\u5496\\u5561 https:\\/\\/m.example\\/\",\r\n    \"fee\": {\"rate\": 0.006, \"items\": [1, null]}\r\n  },\r\n" +
		"  \"notify_type\": \"payment_success\"\r\n}\r\n")
	tests := []struct {
		name      string
		body      []byte
		header    map[string]string
		merchant  int32
		status    int
		forwarded bool
	}{
		{"valid", body, map[string]string{"Signature": valid}, 200, 200, true},
		{"uppercase hex", body, map[string]string{"Signature": strings.ToUpper(valid)}, 200, 200, true},
		// Written by other code: pretty-printed with CR LF, members reordered, escapes (Python's
		// json.dumps, PHP's json_encode), a member CBTIS may add; the header's name in lower case.
		{"pretty-printed, reordered, escaped, with a new member", pretty, map[string]string{"signature": cbtisSign(pretty, cbtisAPIKey)}, 200, 200, true},
		{"forged with client_secret (api_key is set)", body, map[string]string{"Signature": cbtisSign(body, cbtisSecret)}, 200, 401, false},
		{"tampered amount", []byte(strings.Replace(string(body), `"1.00"`, `"9.00"`, 1)), map[string]string{"Signature": valid}, 200, 401, false},
		{"no signature header", body, nil, 200, 401, false},
		{"merchant answers 500", body, map[string]string{"Signature": valid}, 500, 502, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			merchant.status.Store(tt.merchant)
			req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader(string(tt.body)))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tt.header {
				req.Header[k] = []string{v} // the name as written, in its case
			}
			res, err := tc.Client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, b)
			}
			if tt.status == 200 && string(b) != "success" {
				t.Fatalf("ACK %q", b)
			}
			if tt.status != 200 && (!strings.HasPrefix(string(b), "fail") || len(b) > 100) {
				t.Fatalf("failure answer %q", b)
			}
			got := merchant.take()
			if tt.forwarded != (len(got) == 1) || len(got) > 1 {
				t.Fatalf("merchant received %d events, forwarded=%v", len(got), tt.forwarded)
			}
			if tt.forwarded && got[0].event["id"] != "cbtis:C9:payment.succeeded" {
				t.Fatalf("event %v", got[0].event)
			}
			if tt.forwarded && bytes.Equal(tt.body, pretty) {
				if data, _ := got[0].event["data"].(map[string]any); data["description"] != "咖啡 https://m.example/" || data["fee.rate"] != "0.006" || got[0].event["amount"] != "1.00" {
					t.Fatalf("event %v", got[0].event)
				}
			}
		})
	}
	merchant.status.Store(200)

	logs := logText(t, logFile)
	for _, leak := range []string{cbtisSecret, cbtisAPIKey, "client_secret=", "oqZa55Qo-u0cVViWMAgv_YbyXb4U"} {
		if strings.Contains(logs, leak) {
			t.Fatalf("the log contains %q", leak)
		}
	}
	mustContain(t, logs, `"outcome":"unverified"`, "warn line of a forged notification")
}

// TestCBTISProvisionErrors: the webhook needs only key material; the
// merchant API needs every credential.
func TestCBTISProvisionErrors(t *testing.T) {
	tests := []struct{ name, block, want string }{
		{"webhook without a key", "minipay_webhook cbtis {\n signature_header X-Signature\n}", "api_key or client_secret is required"},
		{"pay without token_url", "minipay cbtis {\n uid 1\n client_secret " + cbtisSecret + "\n sub_app_id " + cbtisSubAppID + "\n}", "provider cbtis: field token_url is required"},
		{"pay with an unset secret", "minipay cbtis {\n uid 1\n client_secret {env.MINIPAY_TEST_UNSET_CBTIS}\n sub_app_id x\n token_url https://cbtis.example/mch-api/v1/auth\n}", "provider cbtis: field client_secret is required"},
		{"bad signature_header", "minipay_webhook cbtis {\n api_key " + cbtisAPIKey + "\n signature_header \"X Sig\"\n}", "signature_header must be an HTTP header name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := caddytestTester(t)
			err := tc.load(globalOptions(filepath.Join(t.TempDir(), "log")) + ":" + itoa(freePort(t)) + " {\n" + tt.block + "\nreverse_proxy 127.0.0.1:9\n}\n")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("load error %v, want it to contain %q", err, tt.want)
			}
			for _, secret := range []string{cbtisSecret, cbtisAPIKey} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the error echoes a secret: %v", err)
				}
			}
		})
	}
	// a webhook with nothing but the key loads
	tc := caddytestTester(t)
	if err := tc.load(globalOptions(filepath.Join(t.TempDir(), "log")) + ":" + itoa(freePort(t)) + " {\nminipay_webhook cbtis {\n api_key " + cbtisAPIKey + "\n}\nreverse_proxy 127.0.0.1:9\n}\n"); err != nil {
		t.Fatalf("webhook with api_key only: %v", err)
	}
}

// TestCBTISSignatureHeaderWithUnderscore: Caddy drops every request header
// whose name holds '_' or '.' unless the server's
// expected_underscore_headers (expected_dot_headers) lists it, so a
// signature_header such as X_Cbtis_Signature verifies only with it there
// (README "CBTIS"); without it, minipay_webhook warns when it loads.
func TestCBTISSignatureHeaderWithUnderscore(t *testing.T) {
	body := []byte(`{"notify_type":"payment_success","data":{"order_id":"C-US-1","merchant_order_id":"US-1","order_amount":"1.00","order_currency":"HKD"}}`)
	for _, allowed := range []bool{false, true} {
		port := itoa(freePort(t))
		logFile := filepath.Join(t.TempDir(), "caddy.log")
		options := globalOptions(logFile)
		if allowed {
			options = strings.Replace(options, "grace_period 1ns", "grace_period 1ns\n\tservers {\n\t\texpected_underscore_headers X_Cbtis_Signature\n\t}", 1)
		}
		startCaddy(t, options+`
:`+port+` {
	route /webhooks/cbtis {
		minipay_webhook cbtis {
			api_key `+cbtisAPIKey+`
			signature_header X_Cbtis_Signature
		}
		respond 204
	}
}
`)
		req, _ := http.NewRequest(http.MethodPost, "http://localhost:"+port+"/webhooks/cbtis", bytes.NewReader(body))
		req.Header["X_Cbtis_Signature"] = []string{cbtisSign(body, cbtisAPIKey)}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		ack, _ := io.ReadAll(res.Body)
		res.Body.Close()
		logs := logText(t, logFile)
		warned := strings.Contains(logs, "expected_underscore_headers")
		switch {
		case allowed && (res.StatusCode != 200 || string(ack) != "success"):
			t.Fatalf("with the header listed: %d %q", res.StatusCode, ack)
		case !allowed && res.StatusCode != 401:
			t.Fatalf("without it (Caddy drops the header): %d %q", res.StatusCode, ack)
		case !allowed && !warned:
			t.Fatalf("no warning about expected_underscore_headers in the log:\n%s", logs)
		}
	}
}
