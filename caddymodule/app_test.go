package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// slowProvision is a test-only handler that takes Sleep to provision, then
// fails when Fail says so: what makes a configuration take longer to load
// than the purge's first delay, after minipay_webhook provisioned.
type slowProvision struct {
	Sleep caddy.Duration `json:"sleep"`
	Fail  bool           `json:"fail,omitempty"`
}

func (slowProvision) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.slow_provision_test", New: func() caddy.Module { return new(slowProvision) }}
}

func (s *slowProvision) Provision(caddy.Context) error {
	time.Sleep(time.Duration(s.Sleep))
	if s.Fail {
		return errors.New("slow_provision_test: refused")
	}
	return nil
}

func (*slowProvision) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	return next.ServeHTTP(w, r)
}

func init() { caddy.RegisterModule(slowProvision{}) }

// purgeConfig is a configuration whose cbtis webhook dedupes over a
// file_system storage at root, followed on its route by extra handlers.
func purgeConfig(t *testing.T, root, window string, extra ...string) *caddy.Config {
	t.Helper()
	handle := `{"handler":"minipay_webhook","dedupe":"` + window + `","provider":{"name":"cbtis","api_key":"k1"}}`
	for _, h := range extra {
		handle += "," + h
	}
	cfg := `{"admin":{"disabled":true,"config":{"persist":false}},` +
		`"storage":{"module":"file_system","root":` + strconv.Quote(root) + `},` +
		`"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:0"],"automatic_https":{"disable":true},"routes":[{"handle":[` +
		handle + `,{"handler":"static_response","status_code":200}]}]}}}}}`
	var c caddy.Config
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// expiredEntry stores, under root, a cbtis de-duplication entry past any
// window of the tests below and returns its file.
func expiredEntry(t *testing.T, root, id string) string {
	t.Helper()
	file := filepath.Join(root, "minipay", "events", "cbtis", sha256Hex(id))
	at := time.Now().Add(-30 * time.Hour).UTC()
	rec, err := json.Marshal(dedupeRecord{EventID: id, AckedAt: at, ExpiresAt: at.Add(25 * time.Hour)})
	if err == nil {
		err = os.MkdirAll(filepath.Dir(file), 0o700)
	}
	if err == nil {
		err = os.WriteFile(file, rec, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	return file
}

// lockFiles lists what the file_system storage's locks directory holds.
func lockFiles(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "locks"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// The purge runs only while its configuration runs: never under caddy
// validate, nor for a configuration that fails to load after the webhook
// provisioned, however long provisioning takes. The old purge started in
// Provision, 2 s before its first run: a configuration taking longer than
// that to provision purged (and caddy validate's process, exiting
// mid-purge, left the lock file behind).
func TestDedupePurgeOnlyWhileRunning(t *testing.T) {
	slow := `{"handler":"slow_provision_test","sleep":"` + (firstPurgeDelay + 500*time.Millisecond).String() + `"}`
	slowFailing := `{"handler":"slow_provision_test","sleep":"` + (firstPurgeDelay + 500*time.Millisecond).String() + `","fail":true}`
	for _, tt := range []struct {
		name string
		load func(*caddy.Config) error
		err  string
	}{
		{"caddy validate, a handler after the webhook provisioning slowly", caddy.Validate, ""},
		{"caddy run, a handler after the webhook failing slowly", caddy.Run, "slow_provision_test: refused"},
		{"caddy validate, a handler after the webhook failing slowly", caddy.Validate, "slow_provision_test: refused"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			entry := expiredEntry(t, root, "cbtis:OLD:payment.succeeded")
			h := slow
			if tt.err != "" {
				h = slowFailing
			}
			err := tt.load(purgeConfig(t, root, "25h", h))
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("load: %v, want %q", err, tt.err)
			}
			time.Sleep(time.Second) // for a purge started late
			if _, err := os.Stat(entry); err != nil {
				t.Fatalf("a configuration that never ran purged: %v", err)
			}
			if locks := lockFiles(t, root); len(locks) != 0 {
				t.Fatalf("lock files left: %v", locks)
			}
		})
	}

	// A running configuration purges soon after it starts, and its purge
	// stops when it stops.
	root := t.TempDir()
	entry := expiredEntry(t, root, "cbtis:OLD:payment.succeeded")
	if err := caddy.Run(purgeConfig(t, root, "4s")); err != nil { // a purge every second
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = caddy.Stop()
		}
	}()
	deadline := time.Now().Add(firstPurgeDelay + 5*time.Second)
	for _, err := os.Stat(entry); err == nil; _, err = os.Stat(entry) {
		if time.Now().After(deadline) {
			t.Fatal("the running configuration did not purge")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if locks := lockFiles(t, root); len(locks) != 0 {
		t.Fatalf("lock files left once stopped: %v", locks)
	}
	entry = expiredEntry(t, root, "cbtis:LATER:payment.succeeded")
	time.Sleep(2500 * time.Millisecond) // two purges' intervals
	if _, err := os.Stat(entry); err != nil {
		t.Fatalf("a stopped configuration purged: %v", err)
	}
}

// The minipay app runs a job only between Start and Stop: one handed to it
// before Start waits for it, one handed to it after starts at once, one its
// handler stopped or handed to it after Stop never runs; Stop ends the jobs
// and returns once they returned (a purge releases its lock first).
func TestAppRunsJobsWhileStarted(t *testing.T) {
	a := new(App)
	if err := a.Provision(caddy.Context{Context: context.Background()}); err != nil {
		t.Fatal(err)
	}
	type job struct {
		began    chan struct{}
		returned atomic.Bool
	}
	hand := func() (*job, func()) {
		j := &job{began: make(chan struct{})}
		stop := a.background(func(ctx context.Context) {
			close(j.began)
			<-ctx.Done()
			time.Sleep(100 * time.Millisecond) // a purge finishing its key
			j.returned.Store(true)
		})
		return j, stop
	}
	began := func(j *job) bool {
		select {
		case <-j.began:
			return true
		case <-time.After(200 * time.Millisecond):
			return false
		}
	}
	early, _ := hand()
	cancelled, stopCancelled := hand()
	stopCancelled()
	if began(early) {
		t.Fatal("a job ran before Start")
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	late, stopLate := hand()
	if !began(early) || !began(late) {
		t.Fatal("a job did not run once started")
	}
	if began(cancelled) {
		t.Fatal("a job its handler stopped ran")
	}
	stopLate()
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if !early.returned.Load() || !late.returned.Load() {
		t.Fatal("Stop returned before its jobs")
	}
	after, _ := hand()
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if began(after) {
		t.Fatal("a job ran after Stop")
	}
}
