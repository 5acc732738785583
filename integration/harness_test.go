package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/minipay/caddy-minipay"
	"github.com/minipay/caddy-minipay/internal/testport"
	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// Sandbox credentials shared by the tests (not secrets of anyone).
const (
	appID     = "wx8888888888888888"
	mchID     = "1900000109"
	apiKey    = "8934e7d15453e97507ef794cf7b0519d"
	appSecret = "5f5e2c8d4b7a4e0f9c1d3b6a8e2f4c7d"
)

// wechatV2Minipay is the minipay block of this package's wechat_v2 merchant
// for a route inside a site block, notify_url and client_ip set so that a
// pay needs nothing else.
const wechatV2Minipay = `minipay wechat_v2 {
			app_id ` + appID + `
			mch_id ` + mchID + `
			api_key ` + apiKey + `
			notify_url https://merchant.example/webhooks/wechat_v2
			client_ip 127.0.0.1
		}`

// adminAddr is this test process's own admin endpoint (not caddytest's
// fixed 2999), so that several `go test ./integration` runs on one machine
// each drive their own in-process Caddy.
var adminAddr = func() string {
	port, err := testport.Pick()
	if err != nil {
		panic(err)
	}
	return "localhost:" + strconv.Itoa(port)
}()

// adminPort is adminAddr's port, for caddytest.
func adminPort() int {
	p, _ := strconv.Atoi(adminAddr[strings.LastIndexByte(adminAddr, ':')+1:])
	return p
}

// storageDir is a storage of its own for one configuration (a shared CBTIS
// token must not outlive the test's fake provider), removed by TestMain
// (testport.StorageDir says why not under t.TempDir).
func storageDir() string { return testport.StorageDir() }

func TestMain(m *testing.M) {
	code := m.Run()
	testport.RemoveStorage()
	os.Exit(code)
}

// globalOptions keeps Caddy's admin API where the harness expects it,
// sends the default log to a file the tests can read, and gives the
// configuration a storage of its own (storageDir).
func globalOptions(logFile string) string {
	return `{
	skip_install_trust
	admin ` + adminAddr + `
	storage file_system ` + storageDir() + `
	grace_period 1ns
	log {
		output file ` + logFile + `
		format json
	}
}
`
}

// freePort is a loopback port no other server of this process was given
// (the admin endpoint's included).
// signedPayAnswer is a unifiedorder success for this package's merchant,
// signed with key in signType, as a fake WeChat Pay v2 answers a pay.
func signedPayAnswer(prepayID, key, signType string) []byte {
	p := transform.Params{
		{Name: "return_code", Value: "SUCCESS"}, {Name: "return_msg", Value: "OK"},
		{Name: "appid", Value: appID}, {Name: "mch_id", Value: mchID},
		{Name: "nonce_str", Value: "IITRi8Iabbblz1Jc"}, {Name: "result_code", Value: "SUCCESS"},
		{Name: "prepay_id", Value: prepayID}, {Name: "trade_type", Value: "JSAPI"},
	}
	p = append(p, transform.Param{Name: "sign", Value: wxpay.Sign(p, key, signType)})
	return transform.AppendFlatXML(nil, "xml", p)
}

func freePort(t testing.TB) int { return testport.Free(t) }

// startCaddy loads config (a Caddyfile) into the in-process Caddy of
// caddytest. When caddytest cannot start Caddy it skips, which
// testport.NeverSkipped turns into a failure.
func startCaddy(t *testing.T, config string) *caddytest.Tester { return startCaddyB(t, config) }

// startCaddyB is startCaddy for tests and benchmarks alike.
func startCaddyB(t testing.TB, config string) *caddytest.Tester {
	t.Helper()
	return startCaddyAs(t, config, "caddyfile")
}

// startCaddyAs is startCaddy for a configuration of configType ("caddyfile"
// or "json").
func startCaddyAs(t testing.TB, config, configType string) *caddytest.Tester {
	t.Helper()
	if caddyStarted.Load() {
		awaitAdmin(t)
	}
	testport.NeverSkipped(t) // caddytest skips when it cannot start Caddy
	tc := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: adminPort(), TestRequestTimeout: 20 * time.Second, LoadRequestTimeout: loadTimeout})
	tc.InitServer(config, configType)
	if t.Failed() {
		t.FailNow()
	}
	caddyStarted.Store(true)
	awaitAdmin(t) // the test's own admin requests come next
	return tc
}

// loadTimeout bounds a configuration load (POST /load) and caddytest's
// check that the admin endpoint answers: caddytest's own 5 s was too short
// for a large configuration under -race on a loaded two-core machine
// (TestStartCaddyWaitsForASlowLoad), and a check that timed out would make
// caddytest start a second Caddy in this process (awaitAdmin says what
// follows).
const loadTimeout = time.Minute

// caddyStarted is set once caddytest has started this process's Caddy.
var caddyStarted atomic.Bool

// awaitAdmin waits until the servers a configuration load stopped are
// gone. Every load starts new servers (the admin endpoint's, and the sites'
// on the ports they keep) beside the old ones, which it stops in the
// background (Caddy's replaceLocalAdminServer, and the http app's Stop; a
// refused load replaces the admin server twice, restoring the running
// configuration), all listening with SO_REUSEPORT: the kernel hands a new
// connection to either, and one queued at a stopping server when it closes
// is reset (an admin POST failed with EOF or "connection reset by peer",
// about 1 load in 500; TestEveryRequiredFieldNamed failed 4 runs in 10
// under load). caddytest, seeing its first request fail so, starts a
// second Caddy in this process, whose initial admin-only configuration then
// replaced the one the test loaded ("POSTed configuration isn't active",
// CI, 6 December, right after TestProvisionErrors' refused load).
func awaitAdmin(t testing.TB) {
	t.Helper()
	if err := adminSettled(); err != nil {
		t.Fatal(err)
	}
}

// adminSettled is awaitAdmin for callers without a t.
func adminSettled() error { return testport.Settled(adminAddr) }

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// errorOf returns the "error" object of a README "Merchant API" error answer.
func (r response) errorOf(t *testing.T) map[string]any {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("answer has no error object: %s", r.body)
	}
	return e
}

// do sends one request; header holds further header lines as name, value
// pairs.
func do(t *testing.T, tc *caddytest.Tester, method, url, contentType string, body []byte, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(contentType, "\n") { // one header line each
		if line != "" {
			req.Header.Add("Content-Type", line)
		}
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := tc.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func postJSON(t *testing.T, tc *caddytest.Tester, url string, body string) response {
	t.Helper()
	return do(t, tc, http.MethodPost, url, "application/json", []byte(body))
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

// logText reads what Caddy wrote so far to path (its log, a storage entry).
func logText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustContain(t *testing.T, haystack, needle, what string) {
	t.Helper()
	if !strings.Contains(haystack, needle) {
		t.Fatalf("%s: %q not found in %s", what, needle, haystack)
	}
}

// adminLoader posts configurations to the running Caddy's admin API and
// reports a refused one as an error carrying Caddy's answer; forced loads
// one equal to the running configuration too, as `caddy reload --force` does.
type adminLoader struct {
	client *http.Client
	forced bool
}

// caddytestTester makes sure the in-process Caddy runs (starting it with a
// minimal configuration) and returns a loader for configurations that are
// expected to fail.
func caddytestTester(t *testing.T) adminLoader {
	t.Helper()
	startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "log"))+":"+itoa(freePort(t))+" {\n\trespond ok\n}\n")
	// No keep-alive: every load restarts the admin endpoint (a refused one
	// too, when the running configuration is restored), which closes the
	// connection a pooled client would reuse: the next POST, not replayed,
	// failed with EOF or a reset.
	return adminLoader{client: &http.Client{Timeout: loadTimeout, Transport: &http.Transport{DisableKeepAlives: true}}}
}

func (a adminLoader) load(caddyfile string) error {
	status, body, err := a.post("text/caddyfile", caddyfile)
	if err == nil && status != http.StatusOK {
		err = errors.New(string(body))
	}
	return err
}

// loadJSON posts a JSON configuration whose one route holds handler (the
// admin endpoint is the harness's own, so that a load that succeeds keeps
// it) and reports a refused one with the text of Caddy's "error".
func (a adminLoader) loadJSON(handler string) error {
	config := `{"admin":{"listen":"` + adminAddr + `"},"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:0"],"routes":[{"handle":[` + handler + `]}]}}}}}`
	status, body, err := a.post("application/json", config)
	if err != nil || status == http.StatusOK {
		return err
	}
	var answer struct{ Error string }
	if json.Unmarshal(body, &answer) != nil || answer.Error == "" {
		return errors.New(string(body))
	}
	return errors.New(answer.Error)
}

// post sends config to POST /load and returns once the servers the load
// stopped are gone (adminSettled), so that the test's next request, to the
// admin endpoint or a site, cannot be reset by one of them.
func (a adminLoader) post(contentType, config string) (status int, body []byte, err error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+adminAddr+"/load", strings.NewReader(config))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	if a.forced {
		req.Header.Set("Cache-Control", "must-revalidate")
	}
	res, err := a.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	body, err = io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return 0, nil, err
	}
	// The load also stopped the servers of the configuration it replaced (or
	// restored), which close their idle keep-alive connections just after:
	// a POST a test sends next on one of them with the same client (its
	// site requests, tc.Client) would be reset, and is not retried (README
	// "Under faults and reloads").
	a.client.CloseIdleConnections()
	return res.StatusCode, body, adminSettled()
}

// goroutineCount closes the idle keep-alive connections of client and the
// client connections of servers, so that only work in progress holds
// goroutines, and returns how many the process has once they settled.
func goroutineCount(client *http.Client, servers ...*httptest.Server) int {
	client.CloseIdleConnections()
	for _, s := range servers {
		s.CloseClientConnections()
	}
	time.Sleep(300 * time.Millisecond)
	return runtime.NumGoroutine()
}

// goroutinesBack closes the connections as goroutineCount does and waits
// (20 s at most) until the process is back to baseline goroutines, give or
// take 4; it fails with their stacks otherwise. after names the load.
func goroutinesBack(t *testing.T, baseline int, after string, client *http.Client, servers ...*httptest.Server) {
	t.Helper()
	n := goroutineCount(client, servers...)
	for deadline := time.Now().Add(20 * time.Second); n > baseline+4 && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(100 * time.Millisecond)
	}
	if n > baseline+4 {
		var stacks strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		t.Errorf("%d goroutines after %s, %d before:\n%s", n, after, baseline, stacks.String())
	}
}
