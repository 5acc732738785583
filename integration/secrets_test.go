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
