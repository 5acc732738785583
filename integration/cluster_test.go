package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// caddyProcess is one Caddy of a cluster: ./cmd/caddy of this checkout run
// as a process of its own, with its own admin and HTTP ports.
type caddyProcess struct {
	base, admin, log string
	bin, config      string // the binary and its Caddyfile, for a reload
	process          *os.Process
}

// buildCaddy builds ./cmd/caddy into dir and returns the binary's path.
func buildCaddy(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build ./cmd/caddy: %v", err)
	}
	bin := filepath.Join(dir, "caddy")
	build := exec.Command(goBin, "build", "-o", bin, "./cmd/caddy")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/caddy: %v\n%s", err, out)
	}
	return bin
}

// startProcess runs bin with the site block site, the given storage (the
// value of Caddy's storage option, such as "file_system /dir") and a JSON
// log of its own, and waits until it serves.
func startProcess(t *testing.T, bin, name, storage, site string) caddyProcess {
	t.Helper()
	return startProcessWith(t, bin, name, storage, site, nil)
}

// startProcessWith is startProcess with prepare (unless nil) called on the
// process's directory (configuration, log, HOME) and command before it
// starts, such as to run it as another user.
func startProcessWith(t *testing.T, bin, name, storage, site string, prepare func(dir string, cmd *exec.Cmd)) caddyProcess {
	t.Helper()
	p, serving := launchProcess(t, bin, name, "storage "+storage+"\n\tskip_install_trust", site, prepare)
	serving()
	return p
}

// launchProcess starts bin with the global options globals (Caddyfile
// lines such as "storage file_system /dir") besides the admin address and
// the log, and the site block site, without waiting: serving, called on
// the test's goroutine, waits until it serves. Several processes can so be
// started at the same moment.
func launchProcess(t *testing.T, bin, name, globals, site string, prepare func(dir string, cmd *exec.Cmd)) (caddyProcess, func()) {
	t.Helper()
	dir := t.TempDir()
	admin, port := freePort(t), freePort(t)
	p := caddyProcess{base: fmt.Sprintf("http://127.0.0.1:%d", port), admin: fmt.Sprintf("http://localhost:%d", admin), log: filepath.Join(dir, "caddy.log"),
		bin: bin, config: filepath.Join(dir, "Caddyfile")}
	config := fmt.Sprintf(`{
	admin localhost:%d
	%s
	grace_period 1ns
	log {
		output file %s
		format json
	}
}

:%d {
	respond /health 200
%s
}
`, admin, globals, p.log, port, site)
	if err := os.WriteFile(p.config, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "run", "--config", p.config, "--adapter", "caddyfile")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	if prepare != nil {
		prepare(dir, cmd)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.process = cmd.Process
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("caddy %s output:\n%s\nlog:\n%s", name, out.String(), b)
		}
	})
	return p, func() {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			res, err := http.Get(p.base + "/health")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return
				}
			}
			select {
			case <-exited:
				t.Fatalf("caddy %s exited: %s", name, out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("caddy %s did not start: %v", name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// metric reads one series of the instance's Prometheus metrics (Caddy's
// admin endpoint /metrics); 0 when absent.
func (p caddyProcess) metric(t *testing.T, series string) string {
	t.Helper()
	res, err := http.Get(p.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return "0"
}

// countingMerchant is a merchant backend that counts the events it
// receives by Minipay-Event-Id, answering status after delay.
type countingMerchant struct {
	srv    *httptest.Server
	status atomic.Int32
	delay  atomic.Int64 // nanoseconds
	mu     sync.Mutex
	got    map[string]int
}

func newCountingMerchant(t *testing.T) *countingMerchant {
	m := &countingMerchant{got: map[string]int{}}
	m.status.Store(200)
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		m.mu.Lock()
		m.got[r.Header.Get("Minipay-Event-Id")]++
		m.mu.Unlock()
		time.Sleep(time.Duration(m.delay.Load()))
		w.WriteHeader(int(m.status.Load()))
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *countingMerchant) count(id string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.got[id]
}

// cbtisNotification is a signed CBTIS payment notification for provider
// order orderID; its event id is cbtis:<orderID>:payment.succeeded.
func cbtisNotification(orderID string) ([]byte, string) {
	body := []byte(`{"notify_type":"payment_success","data":{"order_id":"` + orderID + `","merchant_order_id":"M-` + orderID +
		`","order_amount":"1.00","order_currency":"HKD","pay_time":"2026-11-22T02:00:00.000Z"}}`)
	return body, cbtisSign(body, cbtisAPIKey)
}

// notifyProcess posts a notification to path on p and returns the answer.
func notifyProcess(t *testing.T, p caddyProcess, path string, body []byte, signature string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Signature", signature)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// mustAck posts a notification to path on p and fails unless CBTIS's ACK
// (200 "success") comes back.
func mustAck(t *testing.T, p caddyProcess, path string, body []byte, signature string) {
	t.Helper()
	if status, ack := notifyProcess(t, p, path, body, signature); status != 200 || ack != "success" {
		t.Fatalf("%s%s: %d %q, want 200 success", p.base, path, status, ack)
	}
}

// cbtisRoute is a site's route /<prefix>/* of minipay cbtis against f.
func cbtisRoute(prefix string, f *fakeCBTIS) string {
	return `
	handle /` + prefix + `/* {
		minipay cbtis {` + cbtisBlock(f.srv.URL+"/mch-api/v1/auth") + `
		}
		reverse_proxy ` + f.hostPort() + `
	}`
}

func postProcess(t *testing.T, p caddyProcess, path, body string) (int, string) {
	t.Helper()
	res, err := http.Post(p.base+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestCluster runs two Caddy processes sharing one file_system storage, as
// two instances behind a load balancer: the CBTIS access token is fetched
// once for both, and a webhook with dedupe forwards each acknowledged
// event once whichever instance receives it.
//
// MINIPAY_CLUSTER_STORAGE runs the same against another storage, given as
// the value of Caddy's storage option (README "Clusters": `redis { … }`),
// with MINIPAY_CLUSTER_CADDY naming a Caddy binary built with that module.
func TestCluster(t *testing.T) {
	bin := os.Getenv("MINIPAY_CLUSTER_CADDY")
	if bin == "" {
		bin = buildCaddy(t, t.TempDir())
	}
	dir := filepath.Join(t.TempDir(), "storage") // the shared file_system storage, when no other is given
	storage := os.Getenv("MINIPAY_CLUSTER_STORAGE")
	onDisk := storage == ""
	if onDisk {
		storage = "file_system " + dir
	}
	shared, cold, revoked, down := newFakeCBTIS(t, 3600), newFakeCBTIS(t, 3600), newFakeCBTIS(t, 3600), newFakeCBTIS(t, 3600)
	cold.mu.Lock()
	cold.tokenDelay = 300 * time.Millisecond // the cold start's calls all arrive during the fetch
	cold.mu.Unlock()
	down.mu.Lock()
	down.tokenDelay, down.tokenDown = time.Second, true
	down.mu.Unlock()
	merchant := newCountingMerchant(t)
	upstream := strings.TrimPrefix(merchant.srv.URL, "http://")
	site := cbtisRoute("shared", shared) + cbtisRoute("cold", cold) + cbtisRoute("revoked", revoked) + cbtisRoute("down", down) + `
	handle /webhooks/dedupe {
		minipay_webhook cbtis {
			dedupe 25h
			api_key ` + cbtisAPIKey + `
		}
		reverse_proxy ` + upstream + `
	}
	handle /webhooks/plain {
		minipay_webhook cbtis {
			api_key ` + cbtisAPIKey + `
		}
		reverse_proxy ` + upstream + `
	}
	handle /webhooks/secret-before {
		minipay_webhook cbtis {
			dedupe 25h
			api_key ` + cbtisAPIKey + `
			client_secret secret-before-rotation
		}
		reverse_proxy ` + upstream + `
	}
	handle /webhooks/secret-after {
		minipay_webhook cbtis {
			dedupe 25h
			api_key ` + cbtisAPIKey + `
			client_secret secret-after-rotation
		}
		reverse_proxy ` + upstream + `
	}`
	// one after the other: two Caddy processes creating their local CA in
	// one fresh storage at the same moment can read each other's half-written
	// files (Caddy's own start-up, not the plugin)
	a := startProcess(t, bin, "A", storage, site)
	b := startProcess(t, bin, "B", storage, site)
	pay := func(p caddyProcess, prefix, id string) {
		t.Helper()
		if status, body := postProcess(t, p, "/"+prefix+"/pay", cbtisPay(id)); status != 200 || !strings.Contains(body, `"provider_order_id":"C`+id+`"`) {
			t.Fatalf("pay %s on %s: %d %s", id, p.base, status, body)
		}
	}
	// payAtOnce sends n pays to /<prefix>/pay at once, alternating between
	// A and B; want judges each answer.
	payAtOnce := func(t *testing.T, n int, prefix string, want func(status int, body string) bool) {
		t.Helper()
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := []caddyProcess{a, b}[i%2]
				if status, body := postProcess(t, p, "/"+prefix+"/pay", cbtisPay(strings.ToUpper(prefix)+"-"+itoa(i))); !want(status, body) {
					t.Errorf("pay %d: %d %s", i, status, body)
				}
			}()
		}
		wg.Wait()
	}

	t.Run("one token fetch for calls spread over both", func(t *testing.T) {
		pay(a, "shared", "S-1")
		pay(b, "shared", "S-2")
		for _, p := range []caddyProcess{a, b, a, b} {
			if status, body := postProcess(t, p, "/shared/query", `{"order_id":"S-1"}`); status != 200 || !strings.Contains(body, `"status":"pending"`) {
				t.Fatalf("query: %d %s", status, body)
			}
		}
		if fetches, calls := shared.counts(); fetches != 1 || calls != 6 {
			t.Fatalf("%d token fetches and %d API calls, want 1 and 6", fetches, calls)
		}
		// the shared copy lives under minipay/cbtis/<sha256(token_url+uid)>/token
		if !onDisk {
			return
		}
		key := filepath.Join(dir, "minipay", "cbtis", hexSHA256(shared.srv.URL+"/mch-api/v1/auth"+cbtisUID), "token")
		if stored, err := os.ReadFile(key); err != nil || !strings.Contains(string(stored), `"access_token":"fake-1"`) {
			t.Fatalf("stored token %s: %s, %v", key, stored, err)
		}
	})

	t.Run("concurrent cold start on both: one fetch", func(t *testing.T) {
		payAtOnce(t, 12, "cold", func(status int, _ string) bool { return status == 200 })
		if fetches, calls := cold.counts(); fetches != 1 || calls != 12 {
			t.Fatalf("%d token fetches and %d API calls, want 1 and 12", fetches, calls)
		}
	})

	// the instance that waited for the lock takes the failure, rather than
	// fetching in turn (a token endpoint that does not answer made it wait
	// for two fetch timeouts)
	t.Run("token endpoint failing for both at once: one fetch, every call a 502", func(t *testing.T) {
		payAtOnce(t, 6, "down", func(status int, body string) bool {
			return status == 502 && strings.Contains(body, `"code":"upstream_error"`) && strings.Contains(body, `"provider_code":"50300"`)
		})
		if fetches, calls := down.counts(); fetches != 1 || calls != 0 {
			t.Fatalf("%d token fetches and %d API calls, want 1 and 0", fetches, calls)
		}
	})

	t.Run("a token revoked: both recover with at most 2 fetches in all", func(t *testing.T) {
		pay(a, "revoked", "R-1")
		pay(b, "revoked", "R-2")
		revoked.revoke()
		pay(a, "revoked", "R-3") // 401, a new token, the retry
		pay(b, "revoked", "R-4") // 401 for its memory copy, the shared new token, the retry
		pay(a, "revoked", "R-5")
		pay(b, "revoked", "R-6")
		if fetches, _ := revoked.counts(); fetches > 2 {
			t.Fatalf("%d token fetches, want at most 2", fetches)
		}
	})

	// event ids of this run only: a shared storage outlives the test
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	dedupe := func(orderID string) ([]byte, string, string) {
		orderID += "-" + run
		body, sig := cbtisNotification(orderID)
		return body, sig, "cbtis:" + orderID + ":payment.succeeded"
	}

	t.Run("the same notification to A then B: forwarded once, both ACK", func(t *testing.T) {
		body, sig, id := dedupe("D-1")
		for _, p := range []caddyProcess{a, b, b} {
			if status, ack := notifyProcess(t, p, "/webhooks/dedupe", body, sig); status != 200 || ack != "success" {
				t.Fatalf("%s: %d %q", p.base, status, ack)
			}
		}
		if n := merchant.count(id); n != 1 {
			t.Fatalf("forwarded %d times", n)
		}
		if got := b.metric(t, `caddy_minipay_webhooks_total{outcome="duplicate",provider="cbtis"}`); got != "2" {
			t.Fatalf("B's duplicate count %s, want 2", got)
		}
		mustContain(t, logText(t, b.log), `"outcome":"duplicate"`, "B's log")
		if !onDisk {
			return
		}
		entry := filepath.Join(dir, "minipay", "events", "cbtis", hexSHA256(id))
		if stored, err := os.ReadFile(entry); err != nil || !strings.Contains(string(stored), `"event_id":"`+id+`"`) {
			t.Fatalf("entry %s: %s, %v", entry, stored, err)
		}
	})

	// The merchant tag is made of the notification key (api_key) alone
	// (README "Clusters"): client_secret, which only fetches the token, is
	// rotated without the acknowledged events being forwarded again.
	t.Run("client_secret rotated: acknowledged events stay duplicates", func(t *testing.T) {
		body, sig, id := dedupe("D-ROT")
		for _, step := range []struct {
			p    caddyProcess
			path string
		}{{a, "/webhooks/secret-before"}, {b, "/webhooks/secret-after"}, {a, "/webhooks/secret-after"}} {
			if status, ack := notifyProcess(t, step.p, step.path, body, sig); status != 200 || ack != "success" {
				t.Fatalf("%s%s: %d %q", step.p.base, step.path, status, ack)
			}
		}
		if n := merchant.count(id); n != 1 {
			t.Fatalf("forwarded %d times across the rotation, want 1", n)
		}
	})

	t.Run("the same notification to both at once: forwarded once", func(t *testing.T) {
		body, sig, id := dedupe("D-2")
		merchant.delay.Store(int64(500 * time.Millisecond))
		defer merchant.delay.Store(0)
		var wg sync.WaitGroup
		statuses, answers := make([]int, 2), make([]string, 2)
		for i, p := range []caddyProcess{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i], answers[i] = notifyProcess(t, p, "/webhooks/dedupe", body, sig)
			}()
		}
		wg.Wait()
		acked := 0
		for i := range statuses {
			switch {
			case statuses[i] == 200 && answers[i] == "success":
				acked++
			case statuses[i] >= 500 && strings.HasPrefix(answers[i], "fail"): // the provider retries
			default:
				t.Fatalf("answer %d: %d %q", i, statuses[i], answers[i])
			}
		}
		if n := merchant.count(id); n != 1 || acked == 0 {
			t.Fatalf("forwarded %d times, %d acknowledged", n, acked)
		}
		// the provider's retry, to either instance, is acknowledged without forwarding
		for _, p := range []caddyProcess{a, b} {
			if status, ack := notifyProcess(t, p, "/webhooks/dedupe", body, sig); status != 200 || ack != "success" {
				t.Fatalf("retry: %d %q", status, ack)
			}
		}
		if n := merchant.count(id); n != 1 {
			t.Fatalf("forwarded %d times after the retries", n)
		}
	})

	t.Run("a merchant failure is not remembered: the retry is forwarded", func(t *testing.T) {
		body, sig, id := dedupe("D-3")
		merchant.status.Store(500)
		if status, ans := notifyProcess(t, a, "/webhooks/dedupe", body, sig); status != 502 || !strings.HasPrefix(ans, "fail") {
			t.Fatalf("with the merchant failing: %d %q", status, ans)
		}
		merchant.status.Store(200)
		if status, ack := notifyProcess(t, b, "/webhooks/dedupe", body, sig); status != 200 || ack != "success" {
			t.Fatalf("retry: %d %q", status, ack)
		}
		if status, ack := notifyProcess(t, a, "/webhooks/dedupe", body, sig); status != 200 || ack != "success" {
			t.Fatalf("second retry: %d %q", status, ack)
		}
		if n := merchant.count(id); n != 2 {
			t.Fatalf("forwarded %d times, want 2 (the failure, the retry)", n)
		}
	})

	t.Run("without dedupe: forwarded every time", func(t *testing.T) {
		body, sig, id := dedupe("P-1")
		for _, p := range []caddyProcess{a, b, a} {
			if status, ack := notifyProcess(t, p, "/webhooks/plain", body, sig); status != 200 || ack != "success" {
				t.Fatalf("%d %q", status, ack)
			}
		}
		if n := merchant.count(id); n != 3 {
			t.Fatalf("forwarded %d times, want 3", n)
		}
	})

	t.Run("storage unavailable: own token fetch, events forwarded, failures counted", func(t *testing.T) {
		// Caddy needs its storage to start (its local CA lives there); the
		// storage then breaks: its directory becomes a regular file, so that
		// every operation fails
		broken := filepath.Join(t.TempDir(), "storage")
		c := startProcess(t, bin, "C", "file_system "+broken, site)
		if err := os.Rename(broken, broken+".gone"); err != nil { // atomic, even while Caddy writes there
			t.Fatal(err)
		}
		if err := os.WriteFile(broken, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		before, _ := shared.counts()
		pay(c, "shared", "U-1")
		pay(c, "shared", "U-2")
		if fetches, _ := shared.counts(); fetches != before+1 {
			t.Fatalf("%d token fetches, want %d (its own, then its memory copy)", fetches, before+1)
		}
		body, sig, id := dedupe("U-3")
		for i := 0; i < 2; i++ {
			if status, ack := notifyProcess(t, c, "/webhooks/dedupe", body, sig); status != 200 || ack != "success" {
				t.Fatalf("%d %q", status, ack)
			}
		}
		if n := merchant.count(id); n != 2 {
			t.Fatalf("forwarded %d times, want 2 (never dropped)", n)
		}
		if got := c.metric(t, `caddy_minipay_storage_failures_total{operation="load",use="cbtis"}`); got == "0" {
			t.Fatal("the token's storage failure was not counted")
		}
		if got := c.metric(t, `caddy_minipay_storage_failures_total{operation="load",use="dedupe"}`); got == "0" {
			t.Fatal("the de-duplication's storage failure was not counted")
		}
		mustContain(t, logText(t, c.log), "shared storage failed", "C's warning")
	})

	for _, p := range []caddyProcess{a, b} {
		logs := logText(t, p.log)
		for _, leak := range []string{cbtisSecret, cbtisAPIKey, "client_secret=", "fake-1"} {
			if strings.Contains(logs, leak) {
				t.Fatalf("the log of %s contains %q", p.base, leak)
			}
		}
	}
}
