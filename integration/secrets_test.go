package integration

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// TestProviderTextCarriesNoSecret: the provider's own code and message go
// to the merchant (provider_code, provider_message), but an upstream that
// quotes the request it got — an error page or a proxy repeating the URL,
// whose query holds code2Session's AppSecret — must not hand the merchant a
// secret, as it is or URL-encoded (README Secrets: a secret never appears in a
// response).
func TestProviderTextCarriesNoSecret(t *testing.T) {
	// A secret with characters a query string escapes, as a configured
	// secret may hold.
	const secret = "s3cr3t+/=0123456789abcdef0123456"
	escaped := url.QueryEscape(secret)
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Query().Get("js_code") {
		case "echo-uri": // the request line as sent: the secret URL-encoded
			_, _ = w.Write([]byte(`{"errcode":40013,"errmsg":"invalid appid ` + r.URL.RequestURI() + `"}`))
		case "echo-secret": // the decoded query value
			_, _ = w.Write([]byte(`{"errcode":40029,"errmsg":"invalid code for secret ` + r.URL.Query().Get("secret") + `"}`))
		case "echo-long": // a long page quoting the URL, the 256-byte cut of provider_message 10 bytes into the secret
			uri := r.URL.RequestURI()
			pad := transform.MaxProviderText - (strings.Index(uri, "secret=") + len("secret=")) - 10
			_, _ = w.Write([]byte(`{"errcode":40029,"errmsg":"` + strings.Repeat("-", pad) + uri + `"}`))
		default:
			_, _ = w.Write([]byte(`{"errcode":40029,"errmsg":"invalid code, rid: 6543"}`))
		}
	}))
	t.Cleanup(fake.Close)

	logFile := filepath.Join(t.TempDir(), "caddy.log")
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(logFile)+`
:`+port+` {
	handle /wxlogin/* {
		minipay wechat_login {
			app_id `+appID+`
			app_secret "`+secret+`"
		}
		reverse_proxy `+strings.TrimPrefix(fake.URL, "http://")+`
	}
}
`)
	tests := []struct {
		code             string
		status           int
		wantProviderCode string
		wantMessage      string // provider_message; "" where it had to go
	}{
		{"echo-uri", 502, "40013", ""},
		{"echo-secret", 422, "40029", ""},
		{"echo-long", 422, "40029", ""},
		{"plain", 422, "40029", "invalid code, rid: 6543"}, // an ordinary message is kept
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			r := postJSON(t, tc, "http://localhost:"+port+"/wxlogin/login", `{"code":"`+tt.code+`"}`)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			for _, s := range []string{secret, escaped, secret[:4], escaped[:4]} { // not even its start
				if strings.Contains(string(r.body), s) {
					t.Fatalf("the answer carries the secret (%q): %s", s, r.body)
				}
			}
			e := r.errorOf(t)
			if str(e["provider_code"]) != tt.wantProviderCode || str(e["provider_message"]) != tt.wantMessage {
				t.Fatalf("error %v, want provider_code %q provider_message %q", e, tt.wantProviderCode, tt.wantMessage)
			}
		})
	}
}

// TestEchoedNameCarriesNoSecret: an unknown operation and an unknown
// member's name are echoed in the error and its log line (README Errors),
// but one holding a configured secret, as is or URL-encoded (a merchant
// backend that put a key in the path or in a member's name), is not: the
// answer and the WARN line say a name holds a secret, and name no field
// (README Secrets: no secret ever appears in a log line or a response).
func TestEchoedNameCarriesNoSecret(t *testing.T) {
	const latipayKey = "lp+s3cr3t=0123456789abcdef"
	escaped := url.QueryEscape(latipayKey)
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(logFile)+`
:`+port+` {
	handle /wechat/* {
		minipay wechat_v2 {
			app_id `+appID+`
			mch_id `+mchID+`
			api_key `+apiKey+`
		}
		reverse_proxy 127.0.0.1:1
	}
	handle /latipay/* {
		minipay latipay {
			user_id U000334333
			wallet_id W00000001
			api_key "`+latipayKey+`"
			app_id `+appID+`
			currency NZD
		}
		reverse_proxy 127.0.0.1:1
	}
}
`)
	base := "http://localhost:" + port
	const (
		opMessage     = "the path's last element holds a configured secret: it is no operation of "
		memberMessage = "a member whose name holds a configured secret is not a known field"
	)
	tests := []struct {
		name, path, body       string
		status                 int
		wantMessage, wantField string
	}{
		{"key as the operation", "/wechat/" + apiKey, `{}`, 404, opMessage + "wechat_v2", ""},
		{"key inside the operation", "/wechat/key=" + apiKey + "&x", `{}`, 404, opMessage + "wechat_v2", ""},
		{"key as a member's name", "/wechat/pay", `{"` + apiKey + `":1}`, 400, memberMessage, ""},
		{"key inside a member's name", "/wechat/pay", `{"key=` + apiKey + `&x":1}`, 400, memberMessage, ""},
		// The echo is cut at 64 bytes: the key's first characters would show.
		{"key past a long name's cut", "/wechat/pay", `{"` + strings.Repeat("x", 50) + apiKey + `":1}`, 400, memberMessage, ""},
		{"URL-encoded key as a member's name", "/latipay/pay", `{"` + escaped + `":1}`, 400, memberMessage, ""},
		{"key as a member's name, Latipay", "/latipay/query", `{"` + latipayKey + `":1}`, 400, memberMessage, ""},
		// Names without a secret are echoed as before.
		{"unknown operation", "/wechat/nope", `{}`, 404, `"nope" is no operation of wechat_v2`, ""},
		{"unknown member", "/wechat/pay", `{"bogus":1}`, 400, "bogus is not a known field", "bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := postJSON(t, tc, base+tt.path, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			e := r.errorOf(t)
			if str(e["message"]) != tt.wantMessage || str(e["field"]) != tt.wantField {
				t.Fatalf("error %v, want message %q field %q", e, tt.wantMessage, tt.wantField)
			}
			for _, s := range []string{apiKey[:12], latipayKey[:12], escaped[:12]} {
				if strings.Contains(string(r.body), s) {
					t.Fatalf("the answer carries a secret's start (%q): %s", s, r.body)
				}
			}
		})
	}
	log := logText(t, logFile)
	if n := strings.Count(log, `"msg":"minipay"`); n != len(tests) {
		t.Fatalf("%d minipay log lines, want %d: %s", n, len(tests), log)
	}
	mustContain(t, log, `"message":"`+memberMessage+`"`, "the log")
	for _, s := range []string{apiKey[:12], latipayKey[:12], escaped[:12]} {
		if strings.Contains(log, s) {
			t.Errorf("the log carries a secret's start (%q)", s)
		}
	}
}

// TestSandboxCompleteEchoesNoSecret: POST /sandbox/complete names an
// unknown member as minipay does, cut to 64 bytes, and not at all when the
// whole name holds one of the sandbox's configured secrets, plain or
// URL-encoded (README Secrets), where it echoed such a name.
func TestSandboxCompleteEchoesNoSecret(t *testing.T) {
	const latipayKey = "lp+s3cr3t=0123456789abcdef"
	escaped := url.QueryEscape(latipayKey)
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+port+` {
	minipay_sandbox {
		wechat_v2 {
			app_id `+appID+`
			mch_id `+mchID+`
			api_key `+apiKey+`
		}
		latipay {
			user_id U000334333
			wallet_id W00000001
			api_key "`+latipayKey+`"
			app_id `+appID+`
			currency NZD
		}
	}
}
`)
	const memberMessage = "a member whose name holds a configured secret is not a known field"
	long := strings.Repeat("x", 70)
	for _, tt := range []struct{ name, wantMessage, wantField string }{
		{apiKey, memberMessage, ""},
		{"key=" + apiKey + "&x", memberMessage, ""},
		{strings.Repeat("x", 50) + apiKey, memberMessage, ""}, // past the 64-byte cut
		{latipayKey, memberMessage, ""},
		{escaped, memberMessage, ""},
		{"bogus", "bogus is not a known field", "bogus"},
		{long, long[:64] + "… is not a known field", long[:64] + "…"},
	} {
		r := postJSON(t, tc, "http://localhost:"+port+"/sandbox/complete", `{"provider":"wechat_v2","order_id":"O1","result":"succeeded","`+tt.name+`":1}`)
		if r.status != http.StatusBadRequest {
			t.Fatalf("%s: status %d, want 400: %s", tt.name, r.status, r.body)
		}
		if e := r.errorOf(t); str(e["message"]) != tt.wantMessage || str(e["field"]) != tt.wantField {
			t.Errorf("%s: error %v, want message %q field %q", tt.name, e, tt.wantMessage, tt.wantField)
		}
		for _, s := range []string{apiKey[:12], latipayKey[:12], escaped[:12]} {
			if strings.Contains(string(r.body), s) {
				t.Errorf("%s: the answer carries a secret's start (%q): %s", tt.name, s, r.body)
			}
		}
	}
}
