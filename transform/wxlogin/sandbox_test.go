package wxlogin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

func TestSandbox(t *testing.T) {
	s, err := NewSandbox(Config{AppID: appID, AppSecret: appSecret})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Handles("/sns/jscode2session") || s.Handles("/pay/unifiedorder") {
		t.Fatal("Handles")
	}
	q := func(code string, mutate ...func(url.Values)) url.Values {
		v := url.Values{"appid": {appID}, "secret": {appSecret}, "js_code": {code}, "grant_type": {"authorization_code"}}
		for _, m := range mutate {
			m(v)
		}
		return v
	}
	first := sandboxGet(t, s, http.MethodGet, q("code-1"))
	if first.OpenID != OpenID(appID) || len(first.OpenID) != 28 || first.SessionKey == "" {
		t.Fatalf("login %+v", first)
	}
	if again := sandboxGet(t, s, http.MethodGet, q("code-1")); again.ErrMsg != "40163" {
		t.Fatalf("code reuse: %+v", again)
	}
	second := sandboxGet(t, s, http.MethodGet, q("code-2"))
	if second.OpenID != first.OpenID || second.SessionKey == first.SessionKey {
		t.Fatalf("second login %+v", second)
	}
	tests := []struct {
		name, want, method string
		v                  url.Values
	}{
		{"invalid code", "40029", http.MethodGet, q("invalid-123")},
		{"blocked user", "40226", http.MethodGet, q("blocked-1")},
		{"rate limited", "45011", http.MethodGet, q("limited-1")},
		{"code not ASCII", "40029", http.MethodGet, q("代码")},
		{"code with a newline", "40029", http.MethodGet, q("code-9\n")},
		{"code too long", "40029", http.MethodGet, q(strings.Repeat("c", 129))},
		{"system busy", "-1", http.MethodGet, q("busy-1")},
		{"wrong secret", "40125", http.MethodGet, q("code-3", func(v url.Values) { v.Set("secret", strings.Repeat("0", 32)) })},
		{"no secret", "40125", http.MethodGet, q("code-3", func(v url.Values) { v.Del("secret") })},
		{"wrong appid", "40013", http.MethodGet, q("code-3", func(v url.Values) { v.Set("appid", "wx0000000000000000") })},
		{"wrong grant_type", "40002", http.MethodGet, q("code-3", func(v url.Values) { v.Set("grant_type", "client_credential") })},
		{"no code", "41008", http.MethodGet, q("")},
		{"POST", "43001", http.MethodPost, q("code-3")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a := sandboxGet(t, s, tt.method, tt.v); a.ErrMsg != tt.want || a.OpenID != "" {
				t.Fatalf("answer %+v, want errcode %s", a, tt.want)
			}
		})
	}
	// code-3 was never accepted above, so it still works once
	if a := sandboxGet(t, s, http.MethodGet, q("code-3")); a.OpenID == "" {
		t.Fatalf("code-3: %+v", a)
	}
	if OpenID("wx1") == OpenID("wx2") {
		t.Fatal("two mini programs share the sandbox openid")
	}
	if _, _, err := s.Complete("O1", true, time.Now()); err == nil {
		t.Fatal("wechat_login sent a notification")
	}
}

// The client and the sandbox end to end: the login answer decodes.
func TestClientAgainstSandbox(t *testing.T) {
	s, _ := NewSandbox(Config{AppID: appID, AppSecret: appSecret})
	for _, expose := range []bool{false, true} {
		c := newClient(t, expose)
		call, err := c.Prepare(context.Background(), "login", []byte(`{"code":"e2e-`+map[bool]string{false: "a", true: "b"}[expose]+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(call.Method, call.Path+"?"+call.RawQuery, nil))
		if ct := rec.Header().Get("Content-Type"); ct != "text/plain" {
			t.Fatalf("sandbox content type %q", ct)
		}
		out, err := call.Decode(rec.Code, rec.Header(), rec.Body.Bytes())
		if err != nil || !strings.HasPrefix(string(out), `{"openid":"`+OpenID(appID)+`"`) || strings.Contains(string(out), "session_key") != expose {
			t.Fatalf("expose %v: %s %v", expose, out, err)
		}
	}
}

// FuzzReadAnswer: ReadAnswer never panics; success always carries an
// openid, and every failure is a 422 or 502 *transform.Error.
func FuzzReadAnswer(f *testing.F) {
	f.Add(200, []byte(`{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","session_key":"tiihtNczf5v6AKRyjwEUhQ==","unionid":"u"}`))
	f.Add(200, []byte(`{"errcode":40029,"errmsg":"invalid code"}`))
	f.Add(200, []byte(`{"errcode":-1,"errmsg":"system error"}`))
	f.Add(200, []byte(`{"errcode":1e3}`))
	f.Add(500, []byte(`<html></html>`))
	f.Add(200, []byte(`{"openid":"\u0000"}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		res, err := ReadAnswer(status, body)
		if err != nil {
			var e *transform.Error
			if !errors.As(err, &e) || (e.Status != 422 && e.Status != 502) || res != nil {
				t.Fatalf("ReadAnswer = %+v, %v", res, err)
			}
			if e.Status == 422 && e.Code != transform.CodeProviderRejected {
				t.Fatalf("422 with code %s", e.Code)
			}
			return
		}
		if status < 200 || status > 299 || res == nil || res.OpenID == "" {
			t.Fatalf("accepted HTTP %d: %+v", status, res)
		}
	})
}
