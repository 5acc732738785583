package wxlogin

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// FuzzSandboxRequest: the code2Session sandbox answers any query with
// WeChat's JSON (HTTP 200), which the client's ReadAnswer reads: a session
// exactly when the appid, secret and grant_type are right and the code is
// a fresh one the sandbox does not refuse by name (invalid*, blocked*,
// limited*, busy*) or by the Merchant API's rule for a code (README).
func FuzzSandboxRequest(f *testing.F) {
	f.Add("", "081Kq4Ga1MSox41ufFGa1elSaf0Kq4GP", true)
	f.Add("", "invalid-1", true)
	f.Add("", "blocked", true)
	f.Add("", "limited-1", true)
	f.Add("", "busy", true)
	f.Add("", "代码", true)
	f.Add("appid="+appID+"&secret="+appSecret+"&js_code=x&grant_type=authorization_code", "", false)
	f.Add("appid=x&appid="+appID+"&secret=%zz", "", false)
	s, err := NewSandbox(Config{AppID: appID, AppSecret: appSecret})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, rawQuery, code string, asClient bool) {
		if asClient { // the client's own query, with the fuzzer's code
			rawQuery = url.Values{"appid": {appID}, "secret": {appSecret}, "js_code": {code}, "grant_type": {"authorization_code"}}.Encode()
		}
		r := httptest.NewRequest(http.MethodGet, Path, nil)
		r.URL.RawQuery = rawQuery
		s.mu.Lock()
		fresh := !s.used[code]
		s.mu.Unlock()
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		res, err := ReadAnswer(w.Code, w.Body.Bytes())
		if w.Code != http.StatusOK || err == nil && (res == nil || res.OpenID != OpenID(appID)) {
			t.Fatalf("%q: %d %q -> %+v %v", rawQuery, w.Code, w.Body, res, err)
		}
		if asClient {
			refused := (&transform.LoginRequest{Code: code}).Validate() != nil
			for _, prefix := range []string{"invalid", "blocked", "limited", "busy"} {
				refused = refused || strings.HasPrefix(code, prefix)
			}
			if want := fresh && !refused; (err == nil) != want {
				t.Fatalf("code %q: %q -> %v, want a session %v", code, w.Body, err, want)
			}
		}
	})
}
