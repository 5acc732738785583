package cbtis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/minipay/caddy-minipay/transform"
)

// answerTransport answers every request with one status and body, without
// a network (a fuzz target runs thousands of requests a second).
type answerTransport struct {
	status int
	body   []byte
}

func (a *answerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: a.status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(a.body)), Request: r}, nil
}

// FuzzTokenAnswer: the token endpoint's answer, whatever it holds, gives a
// usable token whose lifetime is at most a day, or a 502 *transform.Error
// whose provider_code and provider_message are at most 256 bytes of UTF-8
// and never carry the client_secret (as is or URL-encoded); a token read
// is the one a strict reader reads (exact names).
func FuzzTokenAnswer(f *testing.F) {
	// docs/providers/cbtis.md "Authentication" and its error form.
	f.Add(200, []byte(`{"access_token":"eyJhbGciOiJIUzI1NiJ9.e30.c2ln","expires_in":3600}`))
	f.Add(200, []byte(`{"code":0,"message":"ok","data":{"access_token":"tok","expires_in":"7200"}}`))
	f.Add(200, []byte(`{"code":"40100","message":"invalid client_secret `+testSecret+`"}`))
	f.Add(401, []byte(`{"code":40100,"message":"bad credentials"}`))
	f.Add(500, []byte(`{"code":"`+strings.Repeat("x", 300)+`","message":"`+strings.Repeat("错", 100)+`"}`))
	f.Add(200, []byte(`{"access_token":"a\r\nb","expires_in":-1}`))
	f.Add(200, []byte(`{"access_token":"t","expires_in":1e400}`))
	f.Add(403, []byte(`{"code":{"x":1},"message":"`+url.QueryEscape(testSecret)+`"}`))
	f.Add(200, []byte(`<html>`))
	tr := &answerTransport{}
	src, err := newTokenSource(&Config{UID: testUID, ClientSecret: testSecret, TokenURL: "https://cbtis.invalid" + PathAuth},
		&http.Client{Transport: tr}, func() time.Time { return t0 })
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			return // net/http delivers no other status
		}
		tr.status, tr.body = status, body
		token, lifetime, expires, err := src.request(context.Background())
		if err != nil {
			var e *transform.Error
			if !errors.As(err, &e) || e.Status != 502 || e.Code != transform.CodeUpstreamError || token != "" {
				t.Fatalf("error %#v, token %q", err, token)
			}
			for _, text := range []string{e.ProviderCode, e.ProviderMessage, e.Message} {
				if len(text) > transform.MaxProviderText || !utf8.ValidString(text) && text != e.ProviderCode ||
					strings.Contains(text, testSecret) || strings.Contains(text, url.QueryEscape(testSecret)) {
					t.Fatalf("error text %q (%d bytes)", text, len(text))
				}
			}
			return
		}
		if status < 200 || status > 299 || !usableToken(token) || lifetime < 0 || lifetime > maxTokenLifetime || !expires && lifetime != 0 {
			t.Fatalf("HTTP %d: token %q lifetime %v expires %v", status, token, lifetime, expires)
		}
		// Read by exact names (a map's keys are), as Python's json does.
		var a, data map[string]json.RawMessage
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatalf("accepted what encoding/json refuses: %q", body)
		}
		var top, inner string
		_ = json.Unmarshal(a["access_token"], &top)
		if json.Unmarshal(a["data"], &data) == nil {
			_ = json.Unmarshal(data["access_token"], &inner)
		}
		if token != top && (top != "" || token != inner) {
			t.Fatalf("token %q from %q", token, body)
		}
	})
}

// FuzzStoredToken: a token another instance stored is used only when it
// could have come from the endpoint, and reads back as it was written.
func FuzzStoredToken(f *testing.F) {
	b, _ := json.Marshal(sharedToken{AccessToken: "tok-1", RefreshAt: t0.Add(time.Hour), ExpiresAt: t0.Add(2 * time.Hour)})
	f.Add(b)
	f.Add([]byte(`{"access_token":"tok-1"}`))
	f.Add([]byte(`{"access_token":"a\nb"}`))
	f.Add([]byte(`{"access_token":"t","refresh_at":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, ok := decodeShared(b)
		if !ok {
			if tok != (sharedToken{}) {
				t.Fatalf("refused with %+v", tok)
			}
			return
		}
		if !usableToken(tok.AccessToken) {
			t.Fatalf("unusable token %q accepted", tok.AccessToken)
		}
		again, _ := json.Marshal(tok)
		if back, ok := decodeShared(again); !ok || back.AccessToken != tok.AccessToken ||
			!back.RefreshAt.Equal(tok.RefreshAt) || !back.ExpiresAt.Equal(tok.ExpiresAt) {
			t.Fatalf("%+v reads back as %+v", tok, back)
		}
	})
}

// FuzzSandboxRequest: the CBTIS sandbox answers any request (any path it
// handles, method, token and body) with its JSON envelope
// {"code","message","data"} and a status below 500.
func FuzzSandboxRequest(f *testing.F) {
	// docs/providers/cbtis.md "Endpoints": payment_intents/create and query.
	f.Add(uint8(1), true, true, []byte(`{"amount":"1","currency":"HKD","merchant_order_id":"P9297895081903","payment_method":{"type":"wechat","wechat":{"flow":"mini_program","sub_appid":"`+subAppID+`","sub_openid":"`+subOpenID+`"}},"description":"x","notify_url":"`+notifyURL+`"}`))
	f.Add(uint8(2), true, true, []byte(`{"merchant_order_id":"P9297895081903"}`))
	f.Add(uint8(2), true, true, []byte(`{"order_id":"C1"}`))
	f.Add(uint8(1), true, false, []byte(`{}`))
	f.Add(uint8(0), false, true, []byte{})
	f.Add(uint8(1), true, true, []byte(`{"amount":"-1e9","currency":"hkd"}`))
	cfg := testConfig("https://cbtis.invalid" + PathAuth)
	cfg.APIKey = vecAPIKey
	sb, err := NewSandbox(cfg)
	if err != nil {
		f.Fatal(err)
	}
	sb.Now = func() time.Time { return t0 }
	authURL := PathAuth + "?grant_type=client_credentials&uid=" + testUID + "&client_secret=" + testSecret
	w := httptest.NewRecorder()
	sb.ServeHTTP(w, httptest.NewRequest(http.MethodGet, authURL, nil))
	var tok struct {
		Data struct {
			AccessToken string `json:"access_token"`
		} `json:"data"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &tok); err != nil {
		f.Fatal(err)
	}
	token := tok.AccessToken + tok.Data.AccessToken
	if token == "" {
		f.Fatalf("no token: %s", w.Body)
	}
	paths := []string{authURL, PathCreate, PathQuery}
	f.Fuzz(func(t *testing.T, path uint8, post, authorized bool, body []byte) {
		method := http.MethodGet
		if post {
			method = http.MethodPost
		}
		r := httptest.NewRequest(method, paths[int(path)%len(paths)], bytes.NewReader(body))
		if authorized {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		sb.ServeHTTP(w, r)
		var env struct {
			Code    *json.RawMessage `json:"code"`
			Message *string          `json:"message"`
		}
		if w.Code >= 500 || json.Unmarshal(w.Body.Bytes(), &env) != nil || env.Code == nil && !strings.Contains(w.Body.String(), "access_token") {
			t.Fatalf("%s %s %q: %d %s", method, r.URL.Path, body, w.Code, w.Body)
		}
	})
}
