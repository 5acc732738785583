package cbtis

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// Token lifecycle tuning.
const (
	// refreshMargin is how long before expires_in a cached token is
	// replaced, so that no call leaves with a token about to lapse.
	refreshMargin = time.Minute
	// maxTokenLifetime bounds a provider's expires_in (and keeps the
	// Duration arithmetic far from overflow).
	maxTokenLifetime = 24 * time.Hour
	// maxTokenAnswer bounds the token endpoint's answer.
	maxTokenAnswer = 64 << 10
)

// tokenSource fetches, caches and shares the OAuth 2.0 client-credentials
// access token of one provider configuration.
type tokenSource struct {
	hc     *http.Client
	url    string // with the client_secret in its query: never in an error or log
	secret string // to scrub provider messages that might echo it
	now    func() time.Time

	mu        sync.Mutex
	token     string
	refreshAt time.Time // zero: cached until the API refuses it (no expires_in)
	expiresAt time.Time // what expires_in said, for the admin API
	inflight  *tokenFetch
	fetches   int // completed or started fetches, for tests
}

// tokenFetch is one fetch that concurrent callers share.
type tokenFetch struct {
	done  chan struct{}
	token string
	err   error
}

func newTokenSource(cfg *Config, hc *http.Client, now func() time.Time) (*tokenSource, error) {
	u, err := url.Parse(cfg.TokenURL)
	if err != nil {
		return nil, errors.New("cbtis: token_url is not a URL")
	}
	q := u.Query()
	q.Set("grant_type", "client_credentials")
	q.Set("uid", cfg.UID)
	q.Set("client_secret", cfg.ClientSecret)
	u.RawQuery = q.Encode()
	return &tokenSource{hc: hc, url: u.String(), secret: cfg.ClientSecret, now: now}, nil
}

// newHTTPClient is the plugin's own client for the token endpoint (the API
// calls themselves go through reverse_proxy). Redirects are not followed:
// a token endpoint has no business sending the request elsewhere.
func newHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 8 * time.Second,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          2,
			IdleConnTimeout:       30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Token returns a valid access token: the cached one, or the result of the
// one fetch in flight, or a new fetch. The fetch carries ctx's values but
// not its cancellation, since other requests may be waiting on it; the
// http.Client's timeout bounds it. Each caller stops waiting when its own
// ctx ends.
func (s *tokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	if s.token != "" && (s.refreshAt.IsZero() || s.now().Before(s.refreshAt)) {
		t := s.token
		s.mu.Unlock()
		return t, nil
	}
	f := s.inflight
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		s.inflight = f
		s.fetches++
		go s.fetch(context.WithoutCancel(ctx), f)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
		return "", transform.Upstream("the access token fetch was abandoned: the request ended")
	}
}

func (s *tokenSource) fetch(ctx context.Context, f *tokenFetch) {
	start := s.now()
	token, lifetime, expires, err := s.request(ctx)
	s.mu.Lock()
	if err == nil {
		s.token, s.refreshAt, s.expiresAt = token, time.Time{}, time.Time{}
		if expires {
			s.expiresAt = start.Add(lifetime)
			// Counted from before the request left: never later than the
			// provider's clock. An expires_in of 0 is not cached at all.
			s.refreshAt = start.Add(lifetime - margin(lifetime))
		}
	}
	s.inflight = nil
	f.token, f.err = token, err
	s.mu.Unlock()
	close(f.done)
}

// margin is a minute, or a quarter of a short lifetime (a 2-minute token is
// renewed after 90 s, a 2-second one after 1.5 s).
func margin(lifetime time.Duration) time.Duration {
	return min(refreshMargin, lifetime/4)
}

// Invalidate drops token if it is still the cached one: after a 401, a
// token fetched meanwhile by another request is kept.
func (s *tokenSource) Invalidate(token string) {
	s.mu.Lock()
	if s.token == token {
		s.token, s.refreshAt, s.expiresAt = "", time.Time{}, time.Time{}
	}
	s.mu.Unlock()
}

// Fetches counts the token fetches started so far.
func (s *tokenSource) Fetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

// tokenAnswer is {"access_token","expires_in"}; the same inside a
// {"code","message","data"} envelope (the API's own form) is accepted too.
type tokenAnswer struct {
	AccessToken string          `json:"access_token"`
	ExpiresIn   json.Number     `json:"expires_in"`
	Code        json.RawMessage `json:"code"`
	Message     string          `json:"message"`
	Data        *struct {
		AccessToken string      `json:"access_token"`
		ExpiresIn   json.Number `json:"expires_in"`
	} `json:"data"`
}

// request performs the GET and returns the token, its lifetime and whether
// the answer gave one (expires_in). No error carries the URL (its query holds the
// client_secret): net/http's errors do, so they are replaced, never wrapped.
func (s *tokenSource) request(ctx context.Context) (string, time.Duration, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return "", 0, false, transform.Upstream("the access token could not be requested")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "caddy-minipay")
	res, err := s.hc.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "", 0, false, transform.Upstream("the token endpoint did not answer in time")
		}
		return "", 0, false, transform.Upstream("the token endpoint could not be reached")
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxTokenAnswer+1))
	if err != nil {
		return "", 0, false, transform.Upstream("the token endpoint's answer could not be read")
	}
	if len(body) > maxTokenAnswer {
		return "", 0, false, transform.Upstream("the token endpoint's answer is too large")
	}
	var a tokenAnswer
	jsonErr := json.Unmarshal(body, &a)
	if res.StatusCode < 200 || res.StatusCode > 299 {
		e := transform.Upstream("the token endpoint answered HTTP " + strconv.Itoa(res.StatusCode))
		if jsonErr == nil {
			e.ProviderCode, e.ProviderMessage = codeText(a.Code), s.scrub(a.Message)
		}
		return "", 0, false, e
	}
	if jsonErr != nil {
		return "", 0, false, transform.Upstream("the token endpoint's answer is not valid JSON")
	}
	if c := codeText(a.Code); c != "" && c != "0" {
		return "", 0, false, transform.UpstreamCode("the token endpoint refused the credentials", c, s.scrub(a.Message))
	}
	token, expires := a.AccessToken, a.ExpiresIn
	if token == "" && a.Data != nil {
		token, expires = a.Data.AccessToken, a.Data.ExpiresIn
	}
	if token == "" || len(token) > 4096 || strings.ContainsAny(token, "\r\n") {
		return "", 0, false, transform.Upstream("the token endpoint's answer has no usable access_token")
	}
	if expires == "" {
		return token, 0, false, nil
	}
	n, err := expires.Float64()
	if err != nil || n < 0 {
		return "", 0, false, transform.Upstream("the token endpoint's answer has an invalid expires_in")
	}
	return token, time.Duration(min(n, maxTokenLifetime.Seconds()) * float64(time.Second)), true, nil
}

// scrub drops a provider message that repeats the secret.
func (s *tokenSource) scrub(msg string) string {
	if s.secret != "" && strings.Contains(msg, s.secret) {
		return ""
	}
	if len(msg) > 256 {
		msg = strings.ToValidUTF8(msg[:256], "")
	}
	return msg
}

// codeText reads a code sent as a JSON number or string ("" when absent).
func codeText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if isInteger(raw) { // the usual case, without the decoder
		return string(raw)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return string(raw)
}

func isInteger(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// TokenExpiresAt implements transform.TokenHolder.
func (c *Client) TokenExpiresAt() time.Time {
	c.tokens.mu.Lock()
	defer c.tokens.mu.Unlock()
	if c.tokens.token == "" {
		return time.Time{}
	}
	return c.tokens.expiresAt
}

var _ transform.TokenHolder = (*Client)(nil)
