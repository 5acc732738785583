package cbtis

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// instances returns n clients of one configuration sharing store, as n
// Caddy instances configured with one storage.
func instances(t *testing.T, n int, tokenURL string, store *transformtest.MemStore, clk *clock) []*Client {
	cs := make([]*Client, n)
	for i := range cs {
		cs[i] = newTestClient(t, testConfig(tokenURL), clk)
		cs[i].ShareState(store)
	}
	return cs
}

func token(t *testing.T, c *Client) string {
	t.Helper()
	tok, err := c.tokens.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// The key is minipay/cbtis/<lowercase hex sha256(token_url + uid)>/token
// (README "Clusters"); the digest is sha256sum's of the concatenation.
func TestSharedTokenKey(t *testing.T) {
	c := newTestClient(t, testConfig("https://cbtis.example/mch-api/v1/auth"), nil)
	if want := "minipay/cbtis/20a644d9166e49df75de995e920130944e4f37eda2114b6ed44bce24bbfa8726/token"; c.tokens.key != want {
		t.Fatalf("key %s, want %s", c.tokens.key, want)
	}
}

// A stored token names the token_url and uid it is for: sha256 of each,
// length-prefixed (the digest is sha256sum's of
// printf '\x00\x00\x00\x25https://cbtis.example/mch-api/v1/auth\x00\x00\x00\x0839172931').
// The key's digest of the two run together is the same for ("…?v=1", "23")
// and ("…?v=12", "3"): each of those merchants gets its own token, never the
// other's, and a token stored without an owner (an earlier version's) is
// used as before.
func TestSharedTokenOwner(t *testing.T) {
	c := newTestClient(t, testConfig("https://cbtis.example/mch-api/v1/auth"), nil)
	if want := "1b361b2546d71b46cb780f17319057799bef4e00d480a6977e16a5c427a5f238"; c.tokens.owner != want {
		t.Fatalf("owner %s, want %s", c.tokens.owner, want)
	}

	var mu sync.Mutex
	fetches := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uid := r.URL.Query().Get("uid")
		mu.Lock()
		fetches[uid]++
		n := fetches[uid]
		mu.Unlock()
		_, _ = w.Write([]byte(`{"access_token":"tok-` + uid + `-` + strconv.Itoa(n) + `","expires_in":3600}`))
	}))
	defer srv.Close()
	store := transformtest.NewMemStore()
	a, b, a2 := uidClient(t, srv.URL+"?v=1", "23", store), uidClient(t, srv.URL+"?v=12", "3", store), uidClient(t, srv.URL+"?v=1", "23", store)
	if a.tokens.key != b.tokens.key {
		t.Fatalf("the keys differ (%s, %s): no collision to test", a.tokens.key, b.tokens.key)
	}
	for _, step := range []struct {
		name string
		c    *Client
		want string
	}{
		{"merchant 23", a, "tok-23-1"},
		{"merchant 3, the same key", b, "tok-3-1"},
		{"merchant 23 on another instance", a2, "tok-23-2"},
		{"merchant 3 again, from memory", b, "tok-3-1"},
	} {
		if got := token(t, step.c); got != step.want {
			t.Fatalf("%s: token %q, want %q", step.name, got, step.want)
		}
	}

	// Merchant 23's fetch fails while merchant 3 waits for the key's lock:
	// merchant 3 fetches its own token rather than take 23's failure.
	gate := make(chan struct{})
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if uid := r.URL.Query().Get("uid"); uid == "23" {
			<-gate
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"code":50300,"message":"try later"}`))
			return
		}
		_, _ = w.Write([]byte(`{"access_token":"tok-3","expires_in":3600}`))
	}))
	defer failing.Close()
	shared := transformtest.NewMemStore()
	a, b = uidClient(t, failing.URL+"?v=1", "23", shared), uidClient(t, failing.URL+"?v=12", "3", shared)
	errA := make(chan error, 1)
	go func() { _, err := a.tokens.Token(context.Background()); errA <- err }()
	waitFor(t, func() bool { return shared.Ops("lock") >= 1 })
	tokB := make(chan string, 1)
	go func() { tok, _ := b.tokens.Token(context.Background()); tokB <- tok }()
	waitFor(t, func() bool { return shared.Ops("lock") >= 2 })
	close(gate)
	if err := <-errA; err == nil {
		t.Fatal("merchant 23's fetch did not fail")
	}
	if tok := <-tokB; tok != "tok-3" {
		t.Fatalf("merchant 3 waiting meanwhile: token %q, want its own", tok)
	}

	legacy := transformtest.NewMemStore()
	c = newTestClient(t, testConfig(srv.URL+PathAuth), nil)
	c.ShareState(legacy)
	_ = legacy.Store(context.Background(), c.tokens.key, []byte(`{"access_token":"earlier"}`))
	if got := token(t, c); got != "earlier" {
		t.Fatalf("a token stored without owner: %q", got)
	}
}

// uidClient is merchant uid's client, its token_url the path PathAuth at
// base (a URL, with a query to add after the path), sharing store.
func uidClient(t *testing.T, base, uid string, store *transformtest.MemStore) *Client {
	u, query, _ := strings.Cut(base, "?")
	cfg := testConfig(u + PathAuth + "?" + query)
	cfg.UID = uid
	c := newTestClient(t, cfg, nil)
	c.ShareState(store)
	return c
}

func TestSharedTokenOneFetchPerCluster(t *testing.T) {
	ts := newTokenServer(t)
	store := transformtest.NewMemStore()
	cs := instances(t, 2, ts.URL(), store, nil)
	a, b := cs[0], cs[1]
	if tok := token(t, a); tok != "tok-1" {
		t.Fatalf("A: %q", tok)
	}
	for i := 0; i < 3; i++ {
		if tok := token(t, b); tok != "tok-1" {
			t.Fatalf("B: %q", tok)
		}
	}
	if ts.Fetches() != 1 || a.tokens.Fetches() != 1 || b.tokens.Fetches() != 0 {
		t.Fatalf("%d fetches at the server (A %d, B %d), want 1", ts.Fetches(), a.tokens.Fetches(), b.tokens.Fetches())
	}
	// the expiry the admin API shows is the fetching instance's
	if ea, eb := a.TokenExpiresAt(), b.TokenExpiresAt(); ea.IsZero() || !ea.Equal(eb) {
		t.Fatalf("expiry on A %v, on B %v", ea, eb)
	}
	// B keeps its memory copy: no store round trip per call
	loads := store.Ops("load")
	token(t, b)
	if store.Ops("load") != loads {
		t.Fatal("a cached token was read from the store again")
	}
}

func TestSharedTokenConcurrentColdStart(t *testing.T) {
	ts := newTokenServer(t)
	ts.set(func(ts *tokenServer) { ts.gate = make(chan struct{}) })
	cs := instances(t, 3, ts.URL(), transformtest.NewMemStore(), nil)
	var wg sync.WaitGroup
	toks := make([]string, 30)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i] = token(t, cs[i%len(cs)])
		}()
	}
	awaitTokenCallers(t, len(toks)) // every caller arrives during the fetch
	close(ts.gate)
	wg.Wait()
	for i, tok := range toks {
		if tok != "tok-1" {
			t.Fatalf("caller %d: %q", i, tok)
		}
	}
	if ts.Fetches() != 1 {
		t.Fatalf("%d fetches, want 1", ts.Fetches())
	}
}

// A token the API refused on one instance is replaced once; the other
// instance, refused the same token, takes the replacement from the store.
func TestSharedTokenRefused(t *testing.T) {
	ts := newTokenServer(t)
	store := transformtest.NewMemStore()
	cs := instances(t, 2, ts.URL(), store, nil)
	a, b := cs[0], cs[1]
	token(t, a)
	token(t, b)
	a.tokens.Invalidate("tok-1")
	if tok := token(t, a); tok != "tok-2" {
		t.Fatalf("A after its 401: %q", tok)
	}
	if tok := token(t, b); tok != "tok-1" {
		t.Fatalf("B, not refused yet, keeps its copy: %q", tok)
	}
	b.tokens.Invalidate("tok-1")
	if tok := token(t, b); tok != "tok-2" || ts.Fetches() != 2 {
		t.Fatalf("B after its 401: %q after %d fetches, want tok-2 after 2", tok, ts.Fetches())
	}
	// both refused at once: still one fetch for the two
	a.tokens.Invalidate("tok-2")
	b.tokens.Invalidate("tok-2")
	if ta, tb := token(t, a), token(t, b); ta != "tok-3" || tb != "tok-3" || ts.Fetches() != 3 {
		t.Fatalf("A %q, B %q after %d fetches", ta, tb, ts.Fetches())
	}
}

// An instance whose memory copy is due reads the store first: another
// instance may have renewed it already.
func TestSharedTokenRenewal(t *testing.T) {
	ts := newTokenServer(t)
	clk := newClock()
	cs := instances(t, 2, ts.URL(), transformtest.NewMemStore(), clk)
	a, b := cs[0], cs[1]
	token(t, a)
	token(t, b)
	clk.Advance(3540 * time.Second) // expires_in 3600: due a minute early
	if tok := token(t, a); tok != "tok-2" {
		t.Fatalf("A: %q", tok)
	}
	if tok := token(t, b); tok != "tok-2" || ts.Fetches() != 2 {
		t.Fatalf("B: %q after %d fetches, want the renewed tok-2 after 2", tok, ts.Fetches())
	}
}

// The store failing never fails a call: each instance fetches by itself.
func TestSharedTokenStoreUnavailable(t *testing.T) {
	for _, ops := range [][]string{{"load"}, {"lock"}, {"store"}, {"load", "lock", "store", "unlock"}} {
		t.Run(ops[0], func(t *testing.T) {
			ts := newTokenServer(t)
			store := transformtest.NewMemStore()
			store.Fail(ops...)
			cs := instances(t, 2, ts.URL(), store, nil)
			if ta, tb := token(t, cs[0]), token(t, cs[1]); ta == "" || tb == "" || ta == tb || ts.Fetches() != 2 {
				t.Fatalf("A %q, B %q after %d fetches, want two own tokens", ta, tb, ts.Fetches())
			}
		})
	}
	t.Run("garbage in the store is replaced", func(t *testing.T) {
		ts := newTokenServer(t)
		store := transformtest.NewMemStore()
		a := instances(t, 1, ts.URL(), store, nil)[0]
		if err := store.Store(context.Background(), a.tokens.key, []byte(`{"access_token":"x\ny"}`)); err != nil {
			t.Fatal(err)
		}
		if tok := token(t, a); tok != "tok-1" {
			t.Fatalf("%q", tok)
		}
		if v, _ := store.Load(context.Background(), a.tokens.key); string(v) == `{"access_token":"x\ny"}` {
			t.Fatal("the garbage stayed")
		}
	})
}

// A token without expires_in is shared without a refresh time and lives
// until refused; an error of the token endpoint is not cached: no token is
// stored, and the next caller fetches again.
func TestSharedTokenWithoutLifetimeAndErrors(t *testing.T) {
	ts := newTokenServer(t)
	ts.set(func(ts *tokenServer) { ts.expiresIn = "" })
	store := transformtest.NewMemStore()
	cs := instances(t, 2, ts.URL(), store, newClock())
	token(t, cs[0])
	if v, _ := store.Load(context.Background(), cs[0].tokens.key); string(v) != `{"access_token":"tok-1","owner":"`+cs[0].tokens.owner+`","credential":"`+cs[0].tokens.credential+`"}` {
		t.Fatalf("stored %s", v)
	}
	if tok := token(t, cs[1]); tok != "tok-1" || ts.Fetches() != 1 {
		t.Fatalf("%q after %d fetches", tok, ts.Fetches())
	}

	bad := newTokenServer(t)
	bad.set(func(ts *tokenServer) { ts.expiresIn = `"soon"` })
	badStore := transformtest.NewMemStore()
	c := instances(t, 1, bad.URL(), badStore, nil)[0]
	if _, err := c.tokens.Token(context.Background()); err == nil {
		t.Fatal("an invalid expires_in was accepted")
	}
	if keys := badStore.Keys(); len(keys) != 1 || keys[0] != c.tokens.failed || badStore.Locked(c.tokens.key) {
		t.Fatalf("after a failed fetch: keys %v, locked %v", keys, badStore.Locked(c.tokens.key))
	}
	if _, err := c.tokens.Token(context.Background()); err == nil || bad.Fetches() != 2 {
		t.Fatalf("the next caller: %v after %d fetches, want a fetch of its own", err, bad.Fetches())
	}
}

// A fetch that fails is shared like one that succeeds: the instances that
// waited for the lock meanwhile fail with it rather than each fetching in
// turn (with a token endpoint that does not answer, the third instance
// answered after three fetch timeouts). It holds no secret, and the next
// caller tries again.
func TestSharedTokenFailureSharedWithWaiters(t *testing.T) {
	ts := newTokenServer(t)
	ts.set(func(ts *tokenServer) {
		ts.gate = make(chan struct{})
		ts.answer = func(w http.ResponseWriter) bool {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"code":50300,"message":"try later"}`))
			return true
		}
	})
	store := transformtest.NewMemStore()
	cs := instances(t, 3, ts.URL(), store, nil)
	var wg sync.WaitGroup
	errs := make([]error, 9)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = cs[i%len(cs)].tokens.Token(context.Background())
		}()
	}
	// Every instance is waiting (the first at the gate, the others for the
	// lock) before the fetch fails: on a loaded machine a fixed sleep let a
	// late one come after the failure and fetch again.
	waitFor(t, func() bool { return store.Ops("lock") >= len(cs) })
	close(ts.gate)
	wg.Wait()
	for i, err := range errs {
		e := wantError(t, err, http.StatusBadGateway, transform.CodeUpstreamError)
		if e.ProviderCode != "50300" || e.ProviderMessage != "try later" || !strings.HasPrefix(e.Message, "the token endpoint answered HTTP 503") {
			t.Fatalf("caller %d: %+v", i, e)
		}
	}
	if ts.Fetches() != 1 {
		t.Fatalf("%d fetches, want 1 for the three instances", ts.Fetches())
	}
	stored, _ := store.Load(context.Background(), cs[0].tokens.failed)
	if strings.Contains(string(stored), testSecret) || !strings.Contains(string(stored), `"provider_code":"50300"`) {
		t.Fatalf("stored failure %s", stored)
	}
	ts.set(func(ts *tokenServer) { ts.answer = nil })
	if tok := token(t, cs[1]); tok != "tok-2" || ts.Fetches() != 2 {
		t.Fatalf("the next caller: %q after %d fetches", tok, ts.Fetches())
	}
}

// The failure another instance stored is told apart by its content, not by
// its time: an instance whose clock is ahead (here by ten minutes) stored a
// failure that looked recent to the others for as long, and they answered
// 502 without fetching although the token endpoint had recovered.
func TestSharedTokenFailureOfAnInstanceWhoseClockIsAhead(t *testing.T) {
	ts := newTokenServer(t)
	ts.set(func(ts *tokenServer) {
		ts.answer = func(w http.ResponseWriter) bool {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
	})
	store := transformtest.NewMemStore()
	ahead, behind := newClock(), newClock()
	ahead.Advance(10 * time.Minute)
	a := newTestClient(t, testConfig(ts.URL()), ahead)
	b := newTestClient(t, testConfig(ts.URL()), behind)
	a.ShareState(store)
	b.ShareState(store)
	if _, err := a.tokens.Token(context.Background()); err == nil {
		t.Fatal("the failing endpoint gave a token")
	}
	ts.set(func(ts *tokenServer) { ts.answer = nil })
	behind.Advance(time.Second)
	if tok := token(t, b); tok != "tok-2" || ts.Fetches() != 2 {
		t.Fatalf("after the endpoint recovered: %q after %d fetches, want tok-2 after 2", tok, ts.Fetches())
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
	}
}

// A stored token is used only when it reads as README "Clusters" documents
// it and is not due: one written by hand or another tool with only
// expires_at, one whose refresh_at outlives its expires_at (an instance
// whose clock was ahead), and anything corrupt or of another form is
// fetched again (and replaced), never used or a crash.
func TestSharedTokenStoredValues(t *testing.T) {
	at := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339Nano) }
	for _, tc := range []struct {
		name, stored string
		want         string // the token the call gets
	}{
		{"documented, not due", `{"access_token":"seeded","refresh_at":"` + at(time.Hour) + `","expires_at":"` + at(2*time.Hour) + `"}`, "seeded"},
		{"without times: until refused", `{"access_token":"seeded"}`, "seeded"},
		{"only expires_at, ahead", `{"access_token":"seeded","expires_at":"` + at(time.Hour) + `"}`, "seeded"},
		{"only expires_at, past", `{"access_token":"seeded","expires_at":"` + at(-time.Minute) + `"}`, "tok-1"},
		{"refresh_at after a past expires_at", `{"access_token":"seeded","refresh_at":"` + at(time.Hour) + `","expires_at":"` + at(-time.Minute) + `"}`, "tok-1"},
		{"due", `{"access_token":"seeded","refresh_at":"` + at(-time.Minute) + `","expires_at":"` + at(time.Minute) + `"}`, "tok-1"},
		{"cut short", `{"access_token":"seed`, "tok-1"},
		{"empty", ``, "tok-1"},
		{"null", `null`, "tok-1"},
		{"a bare JSON string", `"seeded"`, "tok-1"},
		{"plain text", `seeded`, "tok-1"},
		{"a number for the token", `{"access_token":12345}`, "tok-1"},
		{"a line break in the token", `{"access_token":"seed\r\ned"}`, "tok-1"},
		{"an unreadable time", `{"access_token":"seeded","refresh_at":"tomorrow"}`, "tok-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTokenServer(t)
			store := transformtest.NewMemStore()
			c := instances(t, 1, ts.URL(), store, nil)[0]
			if err := store.Store(context.Background(), c.tokens.key, []byte(tc.stored)); err != nil {
				t.Fatal(err)
			}
			if got := token(t, c); got != tc.want {
				t.Fatalf("token %q, want %q", got, tc.want)
			}
			wantFetches := 0
			if tc.want == "tok-1" {
				wantFetches = 1
				if v, _ := store.Load(context.Background(), c.tokens.key); !strings.Contains(string(v), `"access_token":"tok-1"`) {
					t.Fatalf("the stored value was not replaced: %s", v)
				}
			}
			if ts.Fetches() != wantFetches {
				t.Fatalf("%d fetches, want %d", ts.Fetches(), wantFetches)
			}
		})
	}
}
