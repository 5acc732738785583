package cbtis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// Test identity: sub_appid and sub_openid of the CBTIS mini program
// example (docs/providers/cbtis.md "Endpoints"); uid and secrets are the tests' own.
const (
	testUID    = "39172931"
	testSecret = "cs_5f2b8e1c9d7a4e6b8c0d2f4a6b8c0d2e"
	subAppID   = "wx7bc98d929da735fe"
	subOpenID  = "oqZa55Qo-u0cVViWMAgv_YbyXb4U"
	notifyURL  = "https://merchant.example/notify"
	// The key of the CBTIS docs' webhook example (docs/providers/cbtis.md "Known-answer vectors").
	vecAPIKey = transformtest.CBTISVectorKey
)

// t0 is the tests' clock origin.
var t0 = transformtest.Pinned

func testConfig(tokenURL string) Config {
	return Config{UID: testUID, ClientSecret: testSecret, SubAppID: subAppID, TokenURL: tokenURL, NotifyURL: notifyURL}
}

// clock is a settable clock safe for concurrent readers.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// tokenServer is an independent OAuth token endpoint: it counts fetches,
// checks the client-credentials query and answers tok-1, tok-2, ...
type tokenServer struct {
	*httptest.Server
	mu        sync.Mutex
	fetches   int
	expiresIn string // raw JSON value; "" leaves expires_in out
	answer    func(w http.ResponseWriter) bool
	gate      chan struct{} // when set, answers wait for it to close
	lastQuery url.Values
	// lastRawQuery is the query as sent, in its order
	lastRawQuery string
}

func newTokenServer(t testing.TB) *tokenServer {
	ts := &tokenServer{expiresIn: "3600"}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		ts.fetches++
		n := ts.fetches
		ts.lastQuery, ts.lastRawQuery = r.URL.Query(), r.URL.RawQuery
		gate, answer, exp := ts.gate, ts.answer, ts.expiresIn
		ts.mu.Unlock()
		if gate != nil {
			<-gate
		}
		if answer != nil && answer(w) {
			return
		}
		q := r.URL.Query()
		if r.Method != http.MethodGet || r.URL.Path != PathAuth || q.Get("grant_type") != "client_credentials" ||
			q.Get("uid") != testUID || q.Get("client_secret") != testSecret {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code":40100,"message":"bad credentials"}`))
			return
		}
		body := `{"access_token":"tok-` + strconv.Itoa(n) + `"`
		if exp != "" {
			body += `,"expires_in":` + exp
		}
		_, _ = w.Write([]byte(body + "}"))
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) URL() string { return ts.Server.URL + PathAuth }

func (ts *tokenServer) Fetches() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.fetches
}

func (ts *tokenServer) set(f func(ts *tokenServer)) {
	ts.mu.Lock()
	f(ts)
	ts.mu.Unlock()
}

func newTestClient(t testing.TB, cfg Config, clk *clock) *Client {
	t.Helper()
	now := time.Now
	if clk != nil {
		now = clk.Now
	}
	c, err := newClient(cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// refSignature is docs/providers/cbtis.md's rule written out independently of Signature:
// lowercase hex SHA-256 of body + "." + key.
func refSignature(body []byte, key string) string {
	sum := sha256.Sum256(append(append(bytes.Clone(body), '.'), key...))
	return hex.EncodeToString(sum[:])
}

// wantError asserts err is a *transform.Error with status and code, and
// that it carries no secret.
func wantError(t testing.TB, err error, status int, code string) *transform.Error {
	t.Helper()
	return transformtest.WantError(t, err, status, code, testSecret, "client_secret=", "127.0.0.1")
}

// roundTrip sends a prepared call to base as reverse_proxy would and
// decodes the answer, preparing and sending once more on ErrRetry like
// the minipay handler.
func roundTrip(t testing.TB, c transform.Client, base, op, body string) ([]byte, error) {
	t.Helper()
	send := func() ([]byte, error) {
		call, err := c.Prepare(context.Background(), op, []byte(body))
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequest(call.Method, base+call.Path, bytes.NewReader(call.Body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range call.Header {
			req.Header[k] = v
		}
		req.Header.Set("Content-Type", call.ContentType)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(res.Body)
		return call.Decode(res.StatusCode, res.Header, buf.Bytes())
	}
	out, err := send()
	if errors.Is(err, transform.ErrRetry) {
		out, err = send()
	}
	return out, err
}

var itoa = strconv.Itoa

// awaitTokenCallers returns once n callers wait in tokenSource.Token for a
// fetch in flight, as the goroutines' stacks show: a test that closes the
// token server's gate after a fixed delay tested, on a loaded machine,
// callers that came after the fetch and found the cached token.
func awaitTokenCallers(t testing.TB, n int) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		k := runtime.Stack(buf, true)
		for k == len(buf) {
			buf = make([]byte, 2*len(buf))
			k = runtime.Stack(buf, true)
		}
		waiting := strings.Count(string(buf[:k]), ".(*tokenSource).Token(")
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d callers wait for the token fetch after 10 s", waiting, n)
		}
	}
}
