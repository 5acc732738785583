package wxlogin

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzSandboxRequest: the code2Session sandbox answers any query with
// WeChat's JSON (HTTP 200), which the client's ReadAnswer reads: a session
// exactly when the appid, secret and grant_type are right and the code is
// a fresh one the sandbox does not refuse by name (invalid*, blocked*).
func FuzzSandboxRequest(f *testing.F) {
	f.Add("", "081Kq4Ga1MSox41ufFGa1elSaf0Kq4GP", true)
	f.Add("", "invalid-1", true)
	f.Add("", "blocked", true)
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
			if want := code != "" && fresh && !strings.HasPrefix(code, "invalid") && !strings.HasPrefix(code, "blocked"); (err == nil) != want {
				t.Fatalf("code %q: %q -> %v, want a session %v", code, w.Body, err, want)
			}
		}
	})
}
