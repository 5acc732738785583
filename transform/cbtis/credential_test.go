package cbtis

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// A shared token names the client_secret it was fetched with: the first 16
// bytes, in hex, of HMAC-SHA256("caddy-minipay cbtis token") under it
// (Python: hmac.new(secret, b"caddy-minipay cbtis token",
// hashlib.sha256).hexdigest()[:32]). A route of the same token_url and uid
// with another client_secret (another merchant's uid given by mistake)
// neither takes the token nor the failure of the other: its own fetch is
// refused, as it would be alone, and the other merchant's token is neither
// used nor replaced. Two secrets the API takes (a rotation) each get their
// own token; a token stored without credential (an earlier version's) is
// taken for any.
func TestSharedTokenCredential(t *testing.T) {
	for secret, want := range map[string]string{
		testSecret:   "34ed8ade9ca91f68beccfee1456d2b72",
		"cs-right":   "caa0f3957ed0a333ba569761e282f722",
		"cs-rotated": "0065fa5ca9871dc13304426eb964ebdb",
	} {
		if got := tokenCredential(secret); got != want {
			t.Errorf("tokenCredential(%d bytes) = %s, want %s", len(secret), got, want)
		}
	}

	var mu sync.Mutex
	fetches := map[string]int{} // by client_secret
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret := r.URL.Query().Get("client_secret")
		mu.Lock()
		fetches[secret]++
		n := 0
		for _, k := range fetches {
			n += k
		}
		mu.Unlock()
		if secret != "cs-right" && secret != "cs-rotated" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code":40100,"message":"invalid client credentials"}`))
			return
		}
		_, _ = w.Write([]byte(`{"access_token":"tok-` + strconv.Itoa(n) + `","expires_in":3600}`))
	}))
	defer srv.Close()
	fetchesOf := func(secret string) int {
		mu.Lock()
		defer mu.Unlock()
		return fetches[secret]
	}
	client := func(secret string, store *transformtest.MemStore) *Client {
		cfg := testConfig(srv.URL + PathAuth)
		cfg.ClientSecret = secret
		c := newTestClient(t, cfg, nil)
		c.ShareState(store)
		return c
	}
	store := transformtest.NewMemStore()
	a, wrong, a2 := client("cs-right", store), client("cs-wrong", store), client("cs-right", store)
	if got := token(t, a); got != "tok-1" {
		t.Fatalf("merchant A: token %q", got)
	}
	if tok, err := wrong.tokens.Token(context.Background()); err == nil || tok != "" {
		t.Fatalf("the route with another client_secret: token %q, error %v; want its own fetch refused", tok, err)
	}
	if n := fetchesOf("cs-wrong"); n != 1 {
		t.Fatalf("the route with another client_secret fetched %d times, want once", n)
	}
	if got, n := token(t, a2), fetchesOf("cs-right"); got != "tok-1" || n != 1 {
		t.Fatalf("merchant A on another instance: token %q after %d fetches, want the shared tok-1 after one", got, n)
	}
	if v, _ := store.Load(context.Background(), a.tokens.key); !strings.Contains(string(v), `"access_token":"tok-1"`) ||
		!strings.Contains(string(v), `"credential":"caa0f3957ed0a333ba569761e282f722"`) {
		t.Fatalf("stored %s", v)
	}

	// A failure of the other client_secret's fetch is not this one's.
	if err := store.Store(context.Background(), a.tokens.failed, []byte(`{"id":"f1","failed_at":"2026-12-08T00:00:00Z","message":"m","owner":"`+
		a.tokens.owner+`","credential":"`+wrong.tokens.credential+`"}`)); err != nil {
		t.Fatal(err)
	}
	if err := a.tokens.failedMeanwhile(context.Background(), store, ""); err != nil {
		t.Fatalf("another client_secret's failure taken: %v", err)
	}
	if err := wrong.tokens.failedMeanwhile(context.Background(), store, ""); err == nil {
		t.Fatal("its own failure not taken")
	}

	rotated := client("cs-rotated", store)
	if got := token(t, rotated); got != "tok-3" {
		t.Fatalf("the rotated client_secret: token %q, want its own tok-3", got)
	}

	legacy := transformtest.NewMemStore()
	c := client("cs-wrong", legacy)
	_ = legacy.Store(context.Background(), c.tokens.key, []byte(`{"access_token":"earlier","owner":"`+c.tokens.owner+`"}`))
	if got := token(t, c); got != "earlier" {
		t.Fatalf("a token stored without credential: %q", got)
	}
}
