package cbtis

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
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
// access token of one provider configuration. Each instance keeps the token
// in memory; with a shared store (ShareState) the instances of a cluster
// fetch it once and share it (docs: README "Clusters").
type tokenSource struct {
	hc     *http.Client
	url    string // with the client_secret in its query: never in an error or log
	secret string // to keep out of provider text that might echo it
	key    string // the shared token's key: minipay/cbtis/<sha256(token_url+uid)>/token
	failed string // beside it, the last failed fetch: …/failure
	owner  string // the configuration a shared token is for (sharedToken.Owner)
	// credential tells the client_secret a shared token was fetched with
	// (sharedToken.Credential)
	credential string
	now        func() time.Time

	mu        sync.Mutex
	token     string
	refreshAt time.Time // zero: cached until the API refuses it (no expires_in)
	expiresAt time.Time // what expires_in said, for the admin API
	refused   []string  // the last tokens the API refused (maxRefused): a shared copy equal to one is not reused
	store     transform.Store
	inflight  *tokenFetch
	fetches   int // requests to the token endpoint, for tests
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
	// token_url's own query first, then the three parameters in the order
	// CBTIS documents them, each replacing any value token_url gave it
	q := u.Query()
	q.Del("grant_type")
	q.Del("uid")
	q.Del("client_secret")
	query := "grant_type=client_credentials&uid=" + url.QueryEscape(cfg.UID) + "&client_secret=" + url.QueryEscape(cfg.ClientSecret)
	if own := q.Encode(); own != "" {
		query = own + "&" + query
	}
	u.RawQuery = query
	sum := sha256.Sum256([]byte(cfg.TokenURL + cfg.UID))
	prefix := "minipay/cbtis/" + hex.EncodeToString(sum[:]) + "/"
	return &tokenSource{hc: hc, url: u.String(), secret: cfg.ClientSecret, key: prefix + "token", failed: prefix + "failure",
		owner: tokenOwner(cfg.TokenURL, cfg.UID), credential: tokenCredential(cfg.ClientSecret), now: now}, nil
}

// tokenCredential tells the client_secret a shared token was fetched with
// without revealing it: the first 128 bits, in lowercase hex, of an
// HMAC-SHA256 of the text "caddy-minipay cbtis token" under it. Routes of
// one token_url and uid with another client_secret (a route given another
// merchant's uid by mistake, whose own fetch the API refuses) do not take
// each other's token, nor each other's failure.
func tokenCredential(clientSecret string) string {
	mac := hmac.New(sha256.New, []byte(clientSecret))
	mac.Write([]byte("caddy-minipay cbtis token"))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// tokenOwner names the token_url and uid a shared token was fetched for:
// lowercase hex sha256 of the two, each preceded by its length
// (transform.LengthPrefixed). The key's digest of the
// two run together is the same for other pairs ("…?v=1" with uid 23,
// "…?v=12" with uid 3), whose tokens must not be taken for each other.
func tokenOwner(tokenURL, uid string) string {
	sum := sha256.Sum256(transform.LengthPrefixed(tokenURL, uid))
	return hex.EncodeToString(sum[:])
}

// share makes the token a cluster's: fetched once under the store's lock.
func (s *tokenSource) share(store transform.Store) {
	s.mu.Lock()
	s.store = store
	s.mu.Unlock()
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
		CheckRedirect: transform.NoRedirect,
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
	t, err := s.obtain(ctx)
	s.mu.Lock()
	if err == nil {
		s.token, s.refreshAt, s.expiresAt = t.AccessToken, t.RefreshAt, t.ExpiresAt
	}
	s.inflight = nil
	f.token, f.err = t.AccessToken, err
	s.mu.Unlock()
	close(f.done)
}

// maxRefused is how many refused tokens an instance remembers. The shared
// copy is one of them only while the storage could not take their
// replacements (a storage it can read but not write): then the instance
// fetches its own, and remembering the last refused token alone let the
// first one, still stored, back in once its own was refused in turn.
const maxRefused = 8

// sharedLockWait bounds the wait for another instance's fetch (itself
// bounded by the http.Client's timeout) before fetching alone.
const sharedLockWait = 15 * time.Second

// obtain returns a token with when to renew it: the shared one when it is
// usable, else one fetched under the store's lock (re-checked once the lock
// is held, so a cluster fetches once). Without a store, or when the store
// fails, the instance fetches by itself.
func (s *tokenSource) obtain(ctx context.Context) (sharedToken, error) {
	s.mu.Lock()
	store, refused := s.store, s.refused
	s.mu.Unlock()
	if store == nil {
		return s.fetchOwn(ctx)
	}
	// The failure stored before this caller waits: one that differs once it
	// holds the lock was stored meanwhile (compared by content, not by time:
	// another instance's clock may be ahead, and its old failure would then
	// look recent).
	before := s.loadFailure(ctx, store)
	v, err := transform.FillShared(ctx, store, s.key, sharedLockWait, func(b []byte) bool {
		t, ok := decodeShared(b)
		return ok && (t.Owner == "" || t.Owner == s.owner) && (t.Credential == "" || t.Credential == s.credential) &&
			!slices.Contains(refused, t.AccessToken) && (t.RefreshAt.IsZero() || s.now().Before(t.RefreshAt))
	}, func() ([]byte, error) {
		if err := s.failedMeanwhile(ctx, store, before); err != nil {
			return nil, err
		}
		t, err := s.fetchOwn(ctx)
		if err != nil {
			s.shareFailure(ctx, store, err)
			return nil, err
		}
		return json.Marshal(t)
	})
	var se *transform.StoreError
	if errors.As(err, &se) {
		return s.fetchOwn(ctx) // the adapter's store logged and counted the failure
	}
	if err != nil {
		return sharedToken{}, err
	}
	t, ok := decodeShared(v)
	if !ok {
		return s.fetchOwn(ctx)
	}
	return t, nil
}

// sharedFailure is a failed fetch as the store keeps it, beside the token.
// The instances that were waiting for the lock while it failed fail with
// it, as the callers sharing one fetch in an instance do, instead of each
// fetching in turn once it holds the lock: with a token endpoint that does
// not answer, the n-th waiting instance answered only after n fetch
// timeouts. A caller that came later fetches again: a failure is not
// cached. It holds no secret (the provider's message is scrubbed). ID tells
// one failure from the next whatever the instances' clocks say.
type sharedFailure struct {
	ID              string    `json:"id"`
	FailedAt        time.Time `json:"failed_at"`
	Message         string    `json:"message"`
	ProviderCode    string    `json:"provider_code,omitempty"`
	ProviderMessage string    `json:"provider_message,omitempty"`
	Owner           string    `json:"owner,omitempty"`      // as sharedToken's: another pair's failure is not this one's
	Credential      string    `json:"credential,omitempty"` // as sharedToken's: another client_secret's failure is not this one's
}

// shareFailure stores the failure of this instance's fetch.
func (s *tokenSource) shareFailure(ctx context.Context, store transform.Store, err error) {
	f := sharedFailure{ID: transform.Nonce(16), FailedAt: s.now().UTC(), Message: "the access token could not be fetched", Owner: s.owner,
		Credential: s.credential}
	var te *transform.Error
	if errors.As(err, &te) {
		f.Message, f.ProviderCode, f.ProviderMessage = te.Message, te.ProviderCode, te.ProviderMessage
	}
	_ = store.Store(ctx, s.failed, transform.Marshal(f)) // not shared this time; the adapter's Store logs why
}

// loadFailure returns the stored failure as it is ("" when there is none or
// the store cannot say).
func (s *tokenSource) loadFailure(ctx context.Context, store transform.Store) string {
	b, err := store.Load(ctx, s.failed)
	if err != nil {
		return ""
	}
	return string(b)
}

// failedMeanwhile returns the error of a fetch that failed while this caller
// waited for the lock: a stored failure other than before, the one it read
// before waiting. Else nil.
func (s *tokenSource) failedMeanwhile(ctx context.Context, store transform.Store, before string) error {
	b := s.loadFailure(ctx, store)
	var f sharedFailure
	if b == "" || b == before || transform.UnmarshalExact([]byte(b), &f) != nil || f.Message == "" || (f.Owner != "" && f.Owner != s.owner) ||
		(f.Credential != "" && f.Credential != s.credential) {
		return nil
	}
	return transform.UpstreamCode(f.Message+" (another instance's fetch)", f.ProviderCode, f.ProviderMessage)
}

// sharedToken is a token with its times, as the store keeps it; the times
// are absent for a token without expires_in. Owner is tokenOwner of the
// configuration that fetched it, Credential tokenCredential of its
// client_secret; a token without one (an earlier version's, or written by
// hand) is taken for any.
type sharedToken struct {
	AccessToken string    `json:"access_token"`
	RefreshAt   time.Time `json:"refresh_at,omitzero"` // renew from then on
	ExpiresAt   time.Time `json:"expires_at,omitzero"` // what expires_in said
	Owner       string    `json:"owner,omitempty"`
	Credential  string    `json:"credential,omitempty"`
}

// decodeShared reads a stored token, refusing what the token endpoint's
// own answer would not pass. A token is renewed by its expires_at at the
// latest: a value written without refresh_at (by hand, or another tool
// following README "Clusters") is not used past its expiry.
func decodeShared(b []byte) (sharedToken, bool) {
	var t sharedToken
	if transform.UnmarshalExact(b, &t) != nil || !usableToken(t.AccessToken) {
		return sharedToken{}, false
	}
	if !t.ExpiresAt.IsZero() && (t.RefreshAt.IsZero() || t.RefreshAt.After(t.ExpiresAt)) {
		t.RefreshAt = t.ExpiresAt
	}
	return t, true
}

// fetchOwn requests a token from the endpoint. Its times are counted from
// before the request left, so never later than the provider's clock; an
// expires_in of 0 is due at once (not cached).
func (s *tokenSource) fetchOwn(ctx context.Context) (sharedToken, error) {
	start := s.now()
	s.mu.Lock()
	s.fetches++
	s.mu.Unlock()
	token, lifetime, expires, err := s.request(ctx)
	if err != nil || !expires {
		return sharedToken{AccessToken: token, Owner: s.owner, Credential: s.credential}, err
	}
	return sharedToken{AccessToken: token, RefreshAt: start.Add(lifetime - margin(lifetime)), ExpiresAt: start.Add(lifetime),
		Owner: s.owner, Credential: s.credential}, nil
}

// margin is a minute, or a quarter of a short lifetime (a 2-minute token is
// renewed after 90 s, a 2-second one after 1.5 s).
func margin(lifetime time.Duration) time.Duration {
	return min(refreshMargin, lifetime/4)
}

// Invalidate drops token if it is still the cached one: after a 401, a
// token fetched meanwhile by another request is kept. A shared copy that is
// still this token is replaced by the next fetch, under the store's lock;
// one another instance fetched meanwhile is used as it is.
func (s *tokenSource) Invalidate(token string) {
	s.mu.Lock()
	if !slices.Contains(s.refused, token) {
		// A new slice, not an append in place: obtain reads the old one
		// outside the lock.
		s.refused = append([]string{token}, s.refused[:min(len(s.refused), maxRefused-1)]...)
	}
	if s.token == token {
		s.token, s.refreshAt, s.expiresAt = "", time.Time{}, time.Time{}
	}
	s.mu.Unlock()
}

// Fetches counts the requests to the token endpoint so far.
func (s *tokenSource) Fetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

// tokenAnswer is {"access_token","expires_in"}; the same inside a
// {"code","message","data"} envelope (the API's own form) is accepted too.
type tokenAnswer struct {
	AccessToken string          `json:"access_token"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	Code        json.RawMessage `json:"code"`
	Message     string          `json:"message"`
	Data        *struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
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
	jsonErr := transform.UnmarshalExact(body, &a)
	if res.StatusCode < 200 || res.StatusCode > 299 {
		msg := "the token endpoint answered HTTP " + strconv.Itoa(res.StatusCode)
		if jsonErr == nil { // UpstreamCode bounds the provider's text, as every answer's
			return "", 0, false, s.refusal(msg, &a)
		}
		return "", 0, false, transform.Upstream(msg)
	}
	if errors.Is(jsonErr, transform.ErrDuplicateMember) {
		return "", 0, false, transform.Upstream("the token endpoint's answer gives a member twice")
	}
	if jsonErr != nil {
		return "", 0, false, transform.Upstream("the token endpoint's answer is not valid JSON")
	}
	if c := codeText(a.Code); c != "" && c != "0" {
		return "", 0, false, s.refusal("the token endpoint refused the credentials", &a)
	}
	token, expires := a.AccessToken, a.ExpiresIn
	if token == "" && a.Data != nil {
		token, expires = a.Data.AccessToken, a.Data.ExpiresIn
	}
	if !usableToken(token) {
		return "", 0, false, transform.Upstream("the token endpoint's answer has no usable access_token")
	}
	// expires_in is a number of seconds, or one written as a string, as
	// some OAuth servers send it; absent or null gives no lifetime. Read
	// here, not by the answer's decoding, so that a value of another type
	// (true, {}, "soon") is named as what it is, not as invalid JSON.
	var n json.Number
	if len(expires) == 0 || string(expires) == "null" {
		return token, 0, false, nil
	}
	seconds, err := float64(0), json.Unmarshal(expires, &n)
	if err == nil {
		seconds, err = n.Float64()
	}
	if err != nil || seconds < 0 {
		return "", 0, false, transform.Upstream("the token endpoint's answer has an invalid expires_in")
	}
	return token, time.Duration(min(seconds, maxTokenLifetime.Seconds()) * float64(time.Second)), true, nil
}

// usableToken accepts a token that can go into an Authorization header.
func usableToken(token string) bool {
	return token != "" && len(token) <= 4096 && !strings.ContainsAny(token, "\r\n")
}

// refusal is the token endpoint's error with its code and message, bounded by
// transform.UpstreamCode like every provider's, and without either when it
// repeats the client_secret as is or URL-encoded (an endpoint quoting the
// query it got): the failure is stored for the cluster and shown to merchants.
func (s *tokenSource) refusal(msg string, a *tokenAnswer) *transform.Error {
	return transform.UpstreamCode(msg, codeText(a.Code), a.Message).WithoutSecrets([]string{s.secret})
}

// codeText reads a code sent as a JSON number or string ("" when absent;
// zero however written is "0", transform.AnswerCode), or anything else as
// written.
func codeText(raw json.RawMessage) string {
	if s, ok := transform.AnswerCode(raw); ok {
		return s
	}
	return string(raw)
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
