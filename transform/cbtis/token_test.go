package cbtis

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// docs/providers/cbtis.md "Authentication": GET {token_url}?grant_type=client_credentials&uid=&client_secret=.
func TestTokenRequest(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestClient(t, testConfig(ts.URL()+"?region=hk"), nil)
	tok, err := c.tokens.Token(context.Background())
	if err != nil || tok != "tok-1" {
		t.Fatalf("Token = %q, %v", tok, err)
	}
	ts.mu.Lock()
	q, raw := ts.lastQuery, ts.lastRawQuery
	ts.mu.Unlock()
	if q.Get("grant_type") != "client_credentials" || q.Get("uid") != testUID || q.Get("client_secret") != testSecret ||
		q.Get("region") != "hk" || len(q) != 4 {
		t.Fatalf("token query %v", q)
	}
	// the documented order, after token_url's own query
	if want := "region=hk&grant_type=client_credentials&uid=" + testUID + "&client_secret=" + testSecret; raw != want {
		t.Fatalf("token query %q, want %q", raw, want)
	}
}

// A token_url whose query already names one of the three parameters has
// it replaced, not repeated: the endpoint would read one of two values.
func TestTokenRequestReplacesParameters(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestClient(t, testConfig(ts.URL()+"?uid=1&grant_type=password"), nil)
	if _, err := c.tokens.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts.mu.Lock()
	raw := ts.lastRawQuery
	ts.mu.Unlock()
	if want := "grant_type=client_credentials&uid=" + testUID + "&client_secret=" + testSecret; raw != want {
		t.Fatalf("token query %q, want %q", raw, want)
	}
}

// The cache keeps a token until a minute before expires_in (a quarter of
// the lifetime for short ones), counted from when the fetch started.
func TestTokenCacheExpiry(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn string
		fresh     time.Duration // still cached at this age
		stale     time.Duration // refetched at this age
	}{
		{"an hour: refreshed a minute early", "3600", 3539 * time.Second, 3540 * time.Second},
		{"two minutes: refreshed 30 s early", "120", 89 * time.Second, 90 * time.Second},
		{"eight seconds: refreshed 2 s early", "8", 5999 * time.Millisecond, 6 * time.Second},
		{"as a string", `"3600"`, 3539 * time.Second, 3540 * time.Second},
		{"a day and more is a day", "999999999999", 24*time.Hour - time.Minute - time.Second, 24*time.Hour - time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t)
			ts.set(func(ts *tokenServer) { ts.expiresIn = tt.expiresIn })
			clk := newClock()
			c := newTestClient(t, testConfig(ts.URL()), clk)
			ctx := context.Background()
			for i := 0; i < 3; i++ {
				if tok, err := c.tokens.Token(ctx); err != nil || tok != "tok-1" {
					t.Fatalf("Token = %q, %v", tok, err)
				}
			}
			clk.Advance(tt.fresh)
			if tok, _ := c.tokens.Token(ctx); tok != "tok-1" || ts.Fetches() != 1 {
				t.Fatalf("at %v: %q after %d fetches, want the cached tok-1", tt.fresh, tok, ts.Fetches())
			}
			clk.Advance(tt.stale - tt.fresh)
			if tok, _ := c.tokens.Token(ctx); tok != "tok-2" || ts.Fetches() != 2 {
				t.Fatalf("at %v: %q after %d fetches, want a fresh tok-2", tt.stale, tok, ts.Fetches())
			}
			if c.tokens.Fetches() != 2 {
				t.Fatalf("token fetches = %d", c.tokens.Fetches())
			}
		})
	}
}

// Without expires_in the token lives until the API refuses it; with
// expires_in 0 it is never reused.
func TestTokenWithoutLifetime(t *testing.T) {
	ts := newTokenServer(t)
	ts.set(func(ts *tokenServer) { ts.expiresIn = "" })
	clk := newClock()
	c := newTestClient(t, testConfig(ts.URL()), clk)
	ctx := context.Background()
	c.tokens.Token(ctx)
	clk.Advance(1000 * time.Hour)
	if tok, _ := c.tokens.Token(ctx); tok != "tok-1" {
		t.Fatalf("Token = %q, want the cached tok-1", tok)
	}
	c.tokens.Invalidate("tok-1")
	if tok, _ := c.tokens.Token(ctx); tok != "tok-2" {
		t.Fatalf("after Invalidate: %q", tok)
	}

	ts.set(func(ts *tokenServer) { ts.expiresIn = "0" })
	c.tokens.Invalidate("tok-2")
	for i := 3; i <= 5; i++ {
		if tok, _ := c.tokens.Token(ctx); tok != "tok-"+itoa(i) {
			t.Fatalf("expires_in 0: %q, want a fresh token each time", tok)
		}
	}
}

// Concurrent callers share one fetch.
func TestTokenSingleFlight(t *testing.T) {
	ts := newTokenServer(t)
	ts.set(func(ts *tokenServer) { ts.gate = make(chan struct{}) })
	c := newTestClient(t, testConfig(ts.URL()), nil)
	const n = 50
	var wg sync.WaitGroup
	toks := make([]string, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i], errs[i] = c.tokens.Token(context.Background())
		}()
	}
	awaitTokenCallers(t, n) // every caller finds the fetch in flight
	close(ts.gate)
	wg.Wait()
	for i := range toks {
		if errs[i] != nil || toks[i] != "tok-1" {
			t.Fatalf("caller %d: %q, %v", i, toks[i], errs[i])
		}
	}
	if ts.Fetches() != 1 || c.tokens.Fetches() != 1 {
		t.Fatalf("%d fetches at the server, %d counted, want 1", ts.Fetches(), c.tokens.Fetches())
	}
}

// A caller whose request ends stops waiting; the fetch goes on for the
// others and fills the cache.
func TestTokenCallerCancelled(t *testing.T) {
	ts := newTokenServer(t)
	ts.set(func(ts *tokenServer) { ts.gate = make(chan struct{}) })
	c := newTestClient(t, testConfig(ts.URL()), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.tokens.Token(ctx); done <- err }()
	awaitTokenCallers(t, 1) // the caller waits for the fetch when its request ends
	cancel()
	wantError(t, <-done, 502, transform.CodeUpstreamError)
	other := make(chan string, 1)
	go func() { tok, _ := c.tokens.Token(context.Background()); other <- tok }()
	close(ts.gate)
	if tok := <-other; tok != "tok-1" || ts.Fetches() != 1 {
		t.Fatalf("the waiting caller got %q after %d fetches", tok, ts.Fetches())
	}
}

// A 401 drops the token used (only if it is still the cached one) and asks
// for a retry; the next Prepare fetches a fresh token.
func TestDecode401Invalidates(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestClient(t, testConfig(ts.URL()), nil)
	ctx := context.Background()
	stale, err := c.Prepare(ctx, "query", []byte(`{"order_id":"O1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := stale.Header.Get("Authorization"); got != "Bearer tok-1" {
		t.Fatalf("Authorization %q", got)
	}
	if _, err := stale.Decode(http.StatusUnauthorized, nil, []byte(`{"code":401,"message":"token expired"}`)); !errors.Is(err, transform.ErrRetry) {
		t.Fatalf("Decode(401) = %v, want ErrRetry", err)
	}
	fresh, err := c.Prepare(ctx, "query", []byte(`{"order_id":"O1"}`))
	if err != nil || fresh.Header.Get("Authorization") != "Bearer tok-2" {
		t.Fatalf("after the 401: %v %v", fresh, err)
	}
	// A late 401 for tok-1 must not drop tok-2.
	if _, err := stale.Decode(http.StatusUnauthorized, nil, nil); !errors.Is(err, transform.ErrRetry) {
		t.Fatal(err)
	}
	again, _ := c.Prepare(ctx, "query", []byte(`{"order_id":"O1"}`))
	if again.Header.Get("Authorization") != "Bearer tok-2" || ts.Fetches() != 2 {
		t.Fatalf("a stale 401 dropped the fresh token: %s, %d fetches", again.Header.Get("Authorization"), ts.Fetches())
	}
}

// Every token failure is a 502 upstream_error without the secret or the
// token URL; none is cached.
func TestTokenErrors(t *testing.T) {
	write := func(status int, body string) func(http.ResponseWriter) bool {
		return func(w http.ResponseWriter) bool {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
			return true
		}
	}
	tests := []struct {
		name         string
		answer       func(http.ResponseWriter) bool
		providerCode string
		providerMsg  string
	}{
		{"HTTP 500", write(500, "oops"), "", ""},
		{"HTTP 401 with a code", write(401, `{"code":40100,"message":"invalid client_secret"}`), "40100", "invalid client_secret"},
		{"message echoing the secret", write(401, `{"code":"E1","message":"bad secret `+testSecret+`"}`), "E1", ""},
		{"redirect not followed", func(w http.ResponseWriter) bool {
			w.Header().Set("Location", "http://127.0.0.1:9/elsewhere")
			w.WriteHeader(http.StatusFound)
			return true
		}, "", ""},
		{"not JSON", write(200, "<html>"), "", ""},
		{"no access_token", write(200, `{"expires_in":3600}`), "", ""},
		{"code not 0", write(200, `{"code":10001,"message":"uid disabled"}`), "10001", "uid disabled"},
		{"negative expires_in", write(200, `{"access_token":"t","expires_in":-5}`), "", ""},
		{"expires_in not a number", write(200, `{"access_token":"t","expires_in":"soon"}`), "", ""},
		{"token with a newline", write(200, `{"access_token":"a\nb","expires_in":60}`), "", ""},
		{"too large", write(200, `{"access_token":"`+strings.Repeat("a", 70<<10)+`"}`), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t)
			ts.set(func(ts *tokenServer) { ts.answer = tt.answer })
			c := newTestClient(t, testConfig(ts.URL()), nil)
			call, err := c.Prepare(context.Background(), "query", []byte(`{"order_id":"O1"}`))
			// The call comes back for the log line's order_id only, without a token.
			if call == nil || call.OrderID != "O1" || call.Header.Get("Authorization") != "" {
				t.Fatalf("call %+v, want one for order O1 without Authorization", call)
			}
			e := wantError(t, err, 502, transform.CodeUpstreamError)
			if e.ProviderCode != tt.providerCode || e.ProviderMessage != tt.providerMsg {
				t.Fatalf("provider_code %q provider_message %q", e.ProviderCode, e.ProviderMessage)
			}
			c.Prepare(context.Background(), "query", []byte(`{"order_id":"O1"}`))
			if ts.Fetches() != 2 {
				t.Fatalf("a failure was cached: %d fetches", ts.Fetches())
			}
		})
	}
	// A secret that URL-encoding changes, quoted the way the endpoint saw it
	// in its query: neither the code nor the message may carry it, whole or
	// cut at the provider-text bound (this failure is stored for the cluster).
	t.Run("message echoing the URL-encoded secret", func(t *testing.T) {
		const secret = "cs/9+Qx=w&z%"
		escaped := url.QueryEscape(secret)
		long := strings.Repeat("x", transform.MaxProviderText-10) + escaped
		for _, body := range []string{
			`{"code":"E1","message":"GET /auth?client_secret=` + escaped + `"}`,
			`{"code":"` + escaped + `","message":"bad"}`,
			`{"code":"E1","message":"` + long + `"}`,
		} {
			ts := newTokenServer(t)
			ts.set(func(ts *tokenServer) { ts.answer = write(401, body) })
			cfg := testConfig(ts.URL())
			cfg.ClientSecret = secret
			c := newTestClient(t, cfg, nil)
			_, err := c.Prepare(context.Background(), "query", []byte(`{"order_id":"O1"}`))
			e := wantError(t, err, 502, transform.CodeUpstreamError)
			for _, text := range []string{e.ProviderCode, e.ProviderMessage} {
				if strings.Contains(text, escaped[:8]) || strings.Contains(text, secret[:8]) {
					t.Fatalf("body %s: provider text %q holds the secret", body, text)
				}
			}
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		c := newTestClient(t, testConfig(srv.URL+PathAuth), nil)
		_, err := c.Prepare(context.Background(), "pay", []byte(payJSON))
		wantError(t, err, 502, transform.CodeUpstreamError)
	})
	// code 0 however a serializer writes it (a float's 0.0, -0, 0e0, a
	// string) is success; 0.0 was taken for a refusal.
	for _, code := range []string{`0`, `"0"`, `0.0`, `-0`, `0e0`, `0.00E+2`} {
		t.Run("envelope form accepted, code "+code, func(t *testing.T) {
			ts := newTokenServer(t)
			ts.set(func(ts *tokenServer) {
				ts.answer = write(200, `{"code":`+code+`,"message":"ok","data":{"access_token":"wrapped","expires_in":3600}}`)
			})
			c := newTestClient(t, testConfig(ts.URL()), nil)
			if tok, err := c.tokens.Token(context.Background()); err != nil || tok != "wrapped" {
				t.Fatalf("Token = %q, %v", tok, err)
			}
		})
	}
}

// The plugin's own http.Client has timeouts and refuses redirects.
func TestHTTPClientTimeouts(t *testing.T) {
	hc := newHTTPClient()
	tr, ok := hc.Transport.(*http.Transport)
	if hc.Timeout <= 0 || hc.Timeout > 30*time.Second || !ok || tr.TLSHandshakeTimeout <= 0 || tr.ResponseHeaderTimeout <= 0 || hc.CheckRedirect == nil {
		t.Fatalf("client %+v", hc)
	}
}

// expires_in is a number of seconds (docs/providers/cbtis.md "Access
// token"), also written as a string; null gives no lifetime. Any other
// value is a 502 naming expires_in, not the answer's JSON, which is valid.
func TestTokenExpiresInForms(t *testing.T) {
	for _, tt := range []struct {
		raw     string
		expires time.Duration // the admin API's expiry after the fetch; 0: none
		err     string
	}{
		{"3600", time.Hour, ""},
		{`"3600"`, time.Hour, ""},
		{"3.6e3", time.Hour, ""},
		{"null", 0, ""},
		{"99999999999", 24 * time.Hour, ""}, // capped
		{"true", 0, "invalid expires_in"},
		{`"soon"`, 0, "invalid expires_in"},
		{`""`, 0, "invalid expires_in"},
		{"{}", 0, "invalid expires_in"},
		{"[3600]", 0, "invalid expires_in"},
		{"-5", 0, "invalid expires_in"},
		{`"-5"`, 0, "invalid expires_in"},
		{"1e400", 0, "invalid expires_in"},
	} {
		ts := newTokenServer(t)
		ts.set(func(ts *tokenServer) { ts.expiresIn = tt.raw })
		clk := newClock()
		c := newTestClient(t, testConfig(ts.URL()), clk)
		tok, err := c.tokens.Token(context.Background())
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("expires_in %s: token %q, error %v; want one saying %q", tt.raw, tok, err, tt.err)
			}
			continue
		}
		var want time.Time
		if tt.expires != 0 {
			want = clk.Now().Add(tt.expires)
		}
		if err != nil || tok != "tok-1" || !c.TokenExpiresAt().Equal(want) {
			t.Errorf("expires_in %s: token %q (%v), expires %v, want %v", tt.raw, tok, err, c.TokenExpiresAt(), want)
		}
	}
}

// CloseIdleConnections closes the connection the token fetch left idle
// (kept up to 30 s otherwise: minipay calls it when a reload unloads the
// client's configuration), after a token and after a refusal alike, and
// the client fetches again afterwards on a new one.
func TestCloseIdleConnections(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		answer string
	}{
		{"after a token", http.StatusOK, `{"access_token":"tok-1","expires_in":3600}`},
		{"after a refusal", http.StatusUnauthorized, `{"code":40100,"message":"bad credentials"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := transformtest.NewConnServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.answer))
			}))
			c := newTestClient(t, testConfig(srv.URL+PathAuth), nil)
			fetch := func() {
				t.Helper()
				c.tokens.Invalidate("tok-1")
				if _, err := c.tokens.Token(context.Background()); (err == nil) != (tt.status == http.StatusOK) {
					t.Fatalf("Token: %v, answered %d", err, tt.status)
				}
			}
			fetch()
			if n := srv.Open(); n != 1 {
				t.Fatalf("%d connections open after a fetch, want the 1 kept idle", n)
			}
			c.CloseIdleConnections()
			if n := srv.OpenAfter(0, 5*time.Second); n != 0 {
				t.Fatalf("%d connections open 5 s after CloseIdleConnections, want 0", n)
			}
			fetch()
			if n := srv.Open(); n != 1 {
				t.Fatalf("%d connections open after a fetch following CloseIdleConnections, want 1", n)
			}
		})
	}
}
