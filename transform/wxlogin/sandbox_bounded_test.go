package wxlogin

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
)

// The sandbox remembers at most maxRememberedCodes used codes (README
// Sandbox): past that it forgets them all, however many distinct codes
// whoever reaches it sends, and an earlier code then works once more.
func TestSandboxUsedCodesBounded(t *testing.T) {
	s, err := NewSandbox(Config{AppID: appID, AppSecret: appSecret})
	if err != nil {
		t.Fatal(err)
	}
	q := func(code string) url.Values {
		return url.Values{"appid": {appID}, "secret": {appSecret}, "js_code": {code}, "grant_type": {"authorization_code"}}
	}
	if a := sandboxGet(t, s, http.MethodGet, q("code-first")); a.OpenID == "" {
		t.Fatalf("first login %+v", a)
	}
	// The map is filled directly up to its bound (a login each would take
	// seconds), then logins go on through the handler.
	s.mu.Lock()
	for i := len(s.used); i < maxRememberedCodes; i++ {
		s.used["filled-"+strconv.Itoa(i)] = true
	}
	s.mu.Unlock()
	for i := range 10 {
		if a := sandboxGet(t, s, http.MethodGet, q("code-"+strconv.Itoa(i))); a.OpenID == "" {
			t.Fatalf("login %d past the bound: %+v", i, a)
		}
		if n := len(s.used); n > maxRememberedCodes {
			t.Fatalf("%d codes remembered, bound %d", n, maxRememberedCodes)
		}
	}
	if a := sandboxGet(t, s, http.MethodGet, q("code-first")); a.OpenID == "" {
		t.Fatalf("the first code, forgotten, was refused: %+v", a)
	}
	if a := sandboxGet(t, s, http.MethodGet, q("code-first")); a.ErrMsg != "40163" {
		t.Fatalf("the first code's second use since: %+v", a)
	}
}
