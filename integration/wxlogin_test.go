package integration

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLoginThroughCaddy: minipay wechat_login in front of a fake
// code2Session that answers as WeChat documents (docs/providers/
// wechat_login.md): the request it receives, each answer shape and errcode
// mapped as README "Errors" says, session_key only with expose_session_key,
// and neither the AppSecret nor the session_key nor the openid in the log.
func TestLoginThroughCaddy(t *testing.T) {
	const sessionKey = "tiihtNczf5v6AKRyjwEUhQ=="
	var mu sync.Mutex
	var got []*http.Request
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Clone(r.Context()))
		mu.Unlock()
		w.Header().Set("Content-Type", "text/plain") // WeChat's actual Content-Type for JSON
		answers := map[string]string{
			"with-unionid": `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","session_key":"` + sessionKey + `","unionid":"oTmHYjg4Ed6sULbQpFfp8ZN"}`,
			"no-unionid":   `{"session_key":"` + sessionKey + `","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`,
			"zero-errcode": `{"errcode":0,"errmsg":"ok","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","session_key":"` + sessionKey + `"}`,
			"used":         `{"errcode":40163,"errmsg":"code been used, rid: 6a1b"}`,
			"invalid":      `{"errcode":40029,"errmsg":"invalid code, rid: 6a1c"}`,
			"quota":        `{"errcode":45011,"errmsg":"api minute-quota reach limit  mustslower  retry next minute"}`,
			"blocked":      `{"errcode":40226,"errmsg":"high risk user"}`,
			"busy":         `{"errcode":-1,"errmsg":"system error"}`,
			"bad-secret":   `{"errcode":40125,"errmsg":"invalid appsecret"}`,
			"no-openid":    `{"session_key":"` + sessionKey + `"}`,
			"not-json":     `<html>502 Bad Gateway</html>`,
			// Shapes a JSON reader must take: members it does not know (nested too), null for
			// an absent unionid, \u escapes, indentation and a final newline.
			"extra-members": `{"is_snapshotuser":1,"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","scope":{"a":[1,null,{"b":true}]},"session_key":"` + sessionKey + `","errmsg":"ok"}`,
			"null-unionid":  `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","unionid":null,"errcode":0}`,
			"pretty":        "{\n  \"errcode\": 0,\n  \"openid\": \"oUpF8uMuAJO_M2pxb1Q9zNjWeS6\\u006f\",\n  \"unionid\": \"oTmHYjg4Ed6sULbQpFfp8ZN\"\n}\r\n",
			"gzip":          `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","session_key":"` + sessionKey + `","unionid":"oTmHYjg4Ed6sULbQpFfp8ZN"}`,
			"json-type":     `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","session_key":"` + sessionKey + `"}`,
			// Any printable ASCII is a code, sent URL-encoded: it reaches WeChat as it was.
			"0a3X+/=&secret=x #~%41": `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`,
		}
		code := r.URL.Query().Get("js_code")
		if strings.HasPrefix(code, "http-") { // the errcode answer with an HTTP status of its own
			status, _ := strconv.Atoi(code[len("http-"):])
			w.WriteHeader(status)
			code = "busy"
		}
		switch code {
		case "gzip": // compressed, as a server may answer Go's Accept-Encoding: gzip
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			_, _ = zw.Write([]byte(answers[code]))
			_ = zw.Close()
			return
		case "json-type":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
		}
		_, _ = w.Write([]byte(answers[code]))
	}))
	t.Cleanup(fake.Close)

	logFile := filepath.Join(t.TempDir(), "caddy.log")
	port := itoa(freePort(t))
	upstream := strings.TrimPrefix(fake.URL, "http://")
	tc := startCaddy(t, globalOptions(logFile)+`
:`+port+` {
`+loginRoutes(upstream)+`}
`)
	base := "http://localhost:" + port
	tests := []struct {
		path, code   string
		status       int
		want         string // the whole answer on success
		errCode      string
		providerCode string
	}{
		{"/login/login", "with-unionid", 200, `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","unionid":"oTmHYjg4Ed6sULbQpFfp8ZN"}`, "", ""},
		{"/login/login", "no-unionid", 200, `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`, "", ""},
		{"/login/login", "zero-errcode", 200, `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`, "", ""},
		{"/login-sk/login", "no-unionid", 200, `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","session_key":"` + sessionKey + `"}`, "", ""},
		{"/login/login", "used", 422, "", "provider_rejected", "40163"},
		{"/login/login", "invalid", 422, "", "provider_rejected", "40029"},
		{"/login/login", "quota", 422, "", "provider_rejected", "45011"},
		{"/login/login", "blocked", 422, "", "provider_rejected", "40226"},
		{"/login/login", "busy", 502, "", "upstream_error", "-1"},
		{"/login/login", "bad-secret", 502, "", "upstream_error", "40125"},
		{"/login/login", "no-openid", 502, "", "upstream_error", ""},
		{"/login/login", "not-json", 502, "", "upstream_error", ""},
		{"/login/login", "extra-members", 200, `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`, "", ""},
		{"/login-sk/login", "extra-members", 200, `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","session_key":"` + sessionKey + `"}`, "", ""},
		{"/login/login", "null-unionid", 200, `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`, "", ""},
		{"/login-sk/login", "pretty", 200, `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","unionid":"oTmHYjg4Ed6sULbQpFfp8ZN"}`, "", ""},
		{"/login/login", "gzip", 200, `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","unionid":"oTmHYjg4Ed6sULbQpFfp8ZN"}`, "", ""},
		{"/login-sk/login", "gzip", 200, `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","unionid":"oTmHYjg4Ed6sULbQpFfp8ZN","session_key":"` + sessionKey + `"}`, "", ""},
		{"/login-sk/login", "json-type", 200, `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","session_key":"` + sessionKey + `"}`, "", ""},
		{"/login/login", "http-503", 502, "", "upstream_error", "-1"},
		{"/login/login", "http-500", 502, "", "upstream_error", "-1"},
		{"/login/login", "0a3X+/=&secret=x #~%41", 200, `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.code, func(t *testing.T) {
			r := postJSON(t, tc, base+tt.path, `{"code":"`+tt.code+`"}`)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.status == 200 {
				if strings.TrimSpace(string(r.body)) != tt.want {
					t.Fatalf("answer %s, want %s", r.body, tt.want)
				}
				return
			}
			e := r.errorOf(t)
			if str(e["code"]) != tt.errCode || str(e["provider_code"]) != tt.providerCode {
				t.Fatalf("error %v, want %s with provider_code %q", e, tt.errCode, tt.providerCode)
			}
			if strings.Contains(string(r.body), sessionKey) || strings.Contains(string(r.body), appSecret) {
				t.Fatalf("the error carries a secret: %s", r.body)
			}
		})
	}

	// The request code2Session received: GET with the four documented
	// parameters, nothing of the merchant's.
	mu.Lock()
	first := got[0]
	mu.Unlock()
	q := first.URL.Query()
	if first.Method != http.MethodGet || first.URL.Path != "/sns/jscode2session" || len(q) != 4 || q.Get("appid") != appID ||
		q.Get("secret") != appSecret || q.Get("js_code") != "with-unionid" || q.Get("grant_type") != "authorization_code" || first.ContentLength > 0 {
		t.Fatalf("code2Session received %s %s (Content-Length %d)", first.Method, first.URL, first.ContentLength)
	}
	// The documented query byte for byte, its parameters in their order.
	if want := "appid=" + appID + "&secret=" + appSecret + "&js_code=with-unionid&grant_type=authorization_code"; first.URL.RawQuery != want {
		t.Fatalf("code2Session's query %s\nwant %s", first.URL.RawQuery, want)
	}

	// The merchant's mistakes never reach WeChat.
	before := len(got)
	for _, bad := range []struct {
		body  string
		field string
	}{{`{}`, "code"}, {`{"code":""}`, "code"}, {`{"code":1}`, "code"}, {`{"code":"x","openid":"o"}`, "openid"},
		// README "Merchant API": code is 1–128 characters of printable ASCII.
		{`{"code":"` + strings.Repeat("0", 129) + `"}`, "code"}, {`{"code":"代码"}`, "code"}, {`{"code":"0a3X\t"}`, "code"},
		{`{"code":"0a3X\n"}`, "code"}, {`{"code":"\u007f"}`, "code"}, {`{"code":"0a3X\u00a0"}`, "code"}} {
		r := postJSON(t, tc, base+"/login/login", bad.body)
		if e := r.errorOf(t); r.status != 400 || str(e["field"]) != bad.field {
			t.Errorf("%s: status %d, error %v, want 400 naming %s", bad.body, r.status, e, bad.field)
		}
	}
	mu.Lock()
	after := len(got)
	mu.Unlock()
	if after != before {
		t.Fatalf("%d invalid requests reached code2Session", after-before)
	}

	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{appSecret, sessionKey, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "oTmHYjg4Ed6sULbQpFfp8ZN"} {
		if strings.Contains(string(log), s) {
			t.Fatalf("the log carries %q", s)
		}
	}
	if n := strings.Count(string(log), `"operation":"login"`); n < len(tests) {
		t.Fatalf("%d log lines for login, want one per operation (%d at least)", n, len(tests))
	}
}

// loginRoutes are two wechat_login routes to upstream: /login/* and, with
// expose_session_key, /login-sk/*.
func loginRoutes(upstream string) string {
	return `
	handle /login/* {
		minipay wechat_login {
			app_id ` + appID + `
			app_secret ` + appSecret + `
		}
		reverse_proxy ` + upstream + `
	}
	handle /login-sk/* {
		minipay wechat_login {
			app_id ` + appID + `
			app_secret ` + appSecret + `
			expose_session_key true
		}
		reverse_proxy ` + upstream + `
	}
`
}

// TestSandboxInMinipayForm: minipay_sandbox also takes one provider in
// minipay's own form, `minipay_sandbox [<matcher>] <provider_name> { … }`
// in a Caddyfile and "provider": {…} in JSON (README Configuration gives minipay's
// shape only), and serves it like the nested form.
func TestSandboxInMinipayForm(t *testing.T) {
	merchant, wechat, login := itoa(freePort(t)), itoa(freePort(t)), itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "log"))+`
:`+merchant+` {
	handle /wechat/* {
		minipay wechat_v2 {
			app_id `+appID+`
			mch_id `+mchID+`
			api_key `+apiKey+`
			notify_url http://localhost:`+merchant+`/webhooks/wechat_v2
			client_ip 127.0.0.1
		}
		reverse_proxy 127.0.0.1:`+wechat+`
	}
	handle /wxlogin/* {
		minipay wechat_login {
			app_id `+appID+`
			app_secret `+appSecret+`
		}
		reverse_proxy 127.0.0.1:`+login+`
	}
}
:`+wechat+` {
	minipay_sandbox wechat_v2 {
		app_id `+appID+`
		mch_id `+mchID+`
		api_key `+apiKey+`
	}
}
:`+login+` {
	minipay_sandbox /sns/* wechat_login {
		app_id `+appID+`
		app_secret `+appSecret+`
	}
}
`)
	base := "http://localhost:" + merchant
	if r := postJSON(t, tc, base+"/wechat/pay", `{"order_id":"SB-FORM-1","amount":"0.01","currency":"CNY","description":"d","openid":"o"}`); r.status != 200 || !strings.HasPrefix(str(r.json(t)["package"]), "prepay_id=") {
		t.Fatalf("pay through the sandbox: %d %s", r.status, r.body)
	}
	if r := postJSON(t, tc, base+"/wxlogin/login", `{"code":"form-1"}`); r.status != 200 || str(r.json(t)["openid"]) == "" {
		t.Fatalf("login through the sandbox: %d %s", r.status, r.body)
	}

	// JSON: "provider" beside (or instead of) "providers".
	sandbox := itoa(freePort(t))
	tc = startCaddyAs(t, `{"admin":{"listen":"`+adminAddr+`"},"storage":{"module":"file_system","root":"`+storageDir()+`"},
"apps":{"http":{"servers":{
 "merchant":{"listen":["127.0.0.1:`+merchant+`"],"routes":[{"handle":[
  {"handler":"minipay","provider":{"name":"wechat_login","app_id":"`+appID+`","app_secret":"`+appSecret+`","expose_session_key":true}},
  {"handler":"reverse_proxy","upstreams":[{"dial":"127.0.0.1:`+sandbox+`"}]}]}]},
 "sandbox":{"listen":["127.0.0.1:`+sandbox+`"],"routes":[{"handle":[
  {"handler":"minipay_sandbox","provider":{"name":"wechat_login","app_id":"`+appID+`","app_secret":"`+appSecret+`"}}]}]}}}}}`, "json")
	// Every field of wechat_login in JSON: expose_session_key true adds the session_key.
	if r := postJSON(t, tc, "http://127.0.0.1:"+merchant+"/wxlogin/login", `{"code":"form-2"}`); r.status != 200 || str(r.json(t)["openid"]) == "" ||
		len(str(r.json(t)["session_key"])) != 24 {
		t.Fatalf("login through the JSON sandbox: %d %s", r.status, r.body)
	}
}

// TestConcurrentLogins: logins at once through one Caddy each get their own
// answer (openid, unionid, session_key and errcode of their own code, never
// another request's), and one code sent many times at once through the
// sandbox logs in exactly once (README Sandbox: each code works once).
func TestConcurrentLogins(t *testing.T) {
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := r.URL.Query().Get("js_code")
		n, _ := strconv.Atoi(strings.TrimPrefix(code, "conc-"))
		time.Sleep(time.Duration(n%7) * time.Millisecond) // answers finish out of order
		w.Header().Set("Content-Type", "text/plain")
		switch {
		case n%5 == 4:
			_, _ = w.Write([]byte(`{"errcode":40029,"errmsg":"invalid code ` + code + `"}`))
		case n%2 == 1:
			_, _ = w.Write([]byte(`{"openid":"o-` + code + `","session_key":"k-` + code + `","unionid":"u-` + code + `"}`))
		default:
			_, _ = w.Write([]byte(`{"session_key":"k-` + code + `","openid":"o-` + code + `"}`))
		}
	}))
	t.Cleanup(fake.Close)
	port, sandbox := itoa(freePort(t)), itoa(freePort(t))
	upstream := strings.TrimPrefix(fake.URL, "http://")
	startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "log"))+`
:`+port+` {
`+loginRoutes(upstream)+`
	handle /sandbox/* {
		minipay wechat_login {
			app_id `+appID+`
			app_secret `+appSecret+`
		}
		reverse_proxy 127.0.0.1:`+sandbox+`
	}
}
:`+sandbox+` {
	minipay_sandbox wechat_login {
		app_id `+appID+`
		app_secret `+appSecret+`
	}
}
`)
	login := func(path, code string) (int, string, error) {
		res, err := http.Post("http://127.0.0.1:"+port+path, "application/json", strings.NewReader(`{"code":"`+code+`"}`))
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res.StatusCode, strings.TrimSpace(string(b)), err
	}
	const logins = 200
	var wg sync.WaitGroup
	errs := make(chan string, logins)
	gate := make(chan struct{}, 32)
	for n := range logins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gate <- struct{}{}
			defer func() { <-gate }()
			code, path := "conc-"+strconv.Itoa(n), "/login/login"
			if n%3 == 0 {
				path = "/login-sk/login"
			}
			wantStatus, want := 200, `{"openid":"o-`+code+`"`
			switch {
			case n%5 == 4:
				wantStatus, want = 422, `{"error":{"code":"provider_rejected","message":"the provider rejected the request","provider_code":"40029","provider_message":"invalid code `+code+`"`
			case n%2 == 1:
				want += `,"unionid":"u-` + code + `"`
			}
			if wantStatus == 200 && path == "/login-sk/login" {
				want += `,"session_key":"k-` + code + `"`
			}
			want += "}"
			if wantStatus == 422 {
				want += "}"
			}
			status, body, err := login(path, code)
			if err != nil || status != wantStatus || body != want {
				errs <- fmt.Sprintf("%s %s: %d %s (%v), want %d %s", path, code, status, body, err, wantStatus, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}

	// One code, 30 times at once, through the sandbox: one login, 29 × 40163.
	const tries = 30
	statuses := make(chan string, tries)
	for range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body, err := login("/sandbox/login", "0a3Xnr000vS1rG1BVm100xXmiJ3Xnr0H")
			switch {
			case err != nil:
				statuses <- err.Error()
			case status == 200 && strings.HasPrefix(body, `{"openid":"`):
				statuses <- "ok"
			case status == 422 && strings.Contains(body, `"provider_code":"40163"`):
				statuses <- "40163"
			default:
				statuses <- fmt.Sprintf("%d %s", status, body)
			}
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[string]int{}
	for s := range statuses {
		count[s]++
	}
	if count["ok"] != 1 || count["40163"] != tries-1 {
		t.Fatalf("one code %d times at once: %v, want 1 ok and %d × 40163", tries, count, tries-1)
	}
}
