package caddymodule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

func TestWebhookCaddyfileDedupe(t *testing.T) {
	tests := []struct {
		name, input string
		dedupe      time.Duration
		provider    string // the provider JSON, without the handler's option
		err         string
	}{
		{"first line", "minipay_webhook cbtis {\n dedupe 25h\n api_key k1\n}", 25 * time.Hour, `{"api_key":"k1","name":"cbtis"}`, ""},
		{"after the fields, in days", "minipay_webhook cbtis {\n api_key k1\n dedupe 2d\n signature_header X-Sig\n}", 48 * time.Hour, `{"api_key":"k1","name":"cbtis","signature_header":"X-Sig"}`, ""},
		{"absent", "minipay_webhook wechat_v2 {\n app_id wx1\n mch_id 1900000109\n api_key 0123456789abcdef0123456789abcdef\n}", 0,
			`{"api_key":"0123456789abcdef0123456789abcdef","app_id":"wx1","mch_id":"1900000109","name":"wechat_v2"}`, ""},
		{"no value", "minipay_webhook cbtis {\n dedupe\n api_key k1\n}", 0, "", "dedupe needs a duration"},
		// The JSON form's message (TestWebhookJSONDedupe).
		{"not a duration", "minipay_webhook cbtis {\n dedupe soon\n}", 0, "", `dedupe: "soon" is not a duration such as "25h", at Testfile:2`},
		{"weeks", "minipay_webhook cbtis {\n dedupe 1w\n}", 0, "", `dedupe: "1w" is not a duration such as "25h", at Testfile:2`},
		{"zero", "minipay_webhook cbtis {\n dedupe 0s\n}", 0, "", "not a positive duration"},
		{"negative", "minipay_webhook cbtis {\n dedupe -1h\n}", 0, "", "not a positive duration"},
		{"below the minimum", "minipay_webhook cbtis {\n dedupe 1ns\n}", 0, "", `dedupe 1ns is shorter than the minimum 1s: ns, us and ms are under a second, m is minutes (write a duration such as dedupe 25h, or leave dedupe out), at Testfile:2`},
		{"milliseconds for minutes", "minipay_webhook cbtis {\n dedupe 30ms\n}", 0, "", `dedupe 30ms is shorter than the minimum 1s: ns, us and ms are under a second, m is minutes`},
		{"the minimum", "minipay_webhook cbtis {\n dedupe 1s\n}", time.Second, `{"name":"cbtis"}`, ""},
		{"seconds", "minipay_webhook cbtis {\n dedupe 30s\n}", 30 * time.Second, `{"name":"cbtis"}`, ""},
		{"two values", "minipay_webhook cbtis {\n dedupe 1h 2h\n}", 0, "", "dedupe takes one duration"},
		{"twice", "minipay_webhook cbtis {\n dedupe 1h\n dedupe 2h\n}", 0, "", "dedupe is set twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Webhook
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if !parsedAsWanted(t, err, tt.err) {
				return
			}
			if time.Duration(h.Dedupe) != tt.dedupe || string(h.ProviderRaw) != tt.provider {
				t.Fatalf("dedupe %v, provider %s", time.Duration(h.Dedupe), h.ProviderRaw)
			}
		})
	}
	// dedupe is minipay_webhook's option only: in a minipay block it would
	// be a provider field, which the provider has not, refused at its line.
	var m Handler
	if err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser("minipay cbtis {\n dedupe 1h\n}")); err == nil ||
		!strings.Contains(err.Error(), `provider cbtis has no field "dedupe", at Testfile:2`) {
		t.Fatalf("minipay: %v %s", err, m.ProviderRaw)
	}
}

// The JSON form: "dedupe" beside "provider", read as a Caddy duration and
// written back as README "Clusters" shows it ("dedupe": "25h"), which is
// what caddy adapt prints for dedupe 25h.
func TestWebhookJSONDedupe(t *testing.T) {
	tests := []struct {
		dedupe  string // the JSON value
		window  time.Duration
		written string // the JSON value written back
		err     string
	}{
		{`"25h"`, 25 * time.Hour, `"25h"`, ""},
		{`"2d"`, 48 * time.Hour, `"48h"`, ""},
		{`"90m"`, 90 * time.Minute, `"90m"`, ""},
		{`"1h30m"`, 90 * time.Minute, `"90m"`, ""},
		{`"90s"`, 90 * time.Second, `"90s"`, ""},
		{`"1h0m5s"`, time.Hour + 5*time.Second, `"3605s"`, ""},
		{`"30s"`, 30 * time.Second, `"30s"`, ""},
		{`"1500ms"`, 1500 * time.Millisecond, `"1.5s"`, ""},
		{`3600000000000`, time.Hour, `"1h"`, ""},
		{`"soon"`, 0, "", `dedupe: "soon" is not a duration such as "25h"`},
		{`"1w"`, 0, "", `dedupe: "1w" is not a duration such as "25h"`},
		{`true`, 0, "", `dedupe: true is not a duration`},
	}
	for _, tt := range tests {
		t.Run(tt.dedupe, func(t *testing.T) {
			var h Webhook
			err := json.Unmarshal([]byte(`{"dedupe":`+tt.dedupe+`,"provider":{"name":"cbtis","api_key":"k"}}`), &h)
			if !parsedAsWanted(t, err, tt.err) {
				return
			}
			if time.Duration(h.Dedupe) != tt.window {
				t.Fatalf("dedupe %v, want %v", time.Duration(h.Dedupe), tt.window)
			}
			out, err := json.Marshal(&h)
			if want := `{"provider":{"name":"cbtis","api_key":"k"},"dedupe":` + tt.written + `}`; err != nil || string(out) != want {
				t.Fatalf("written %s (%v), want %s", out, err, want)
			}
		})
	}
	// Left out, it stays out (omitempty).
	if out, _ := json.Marshal(Webhook{providerHandler: providerHandler{ProviderRaw: json.RawMessage(`{"name":"cbtis"}`)}}); string(out) != `{"provider":{"name":"cbtis"}}` {
		t.Fatalf("%s", out)
	}
}

// parsedAsWanted fails t unless err holds want ("" for no error) and tells
// whether there is a value to check.
func parsedAsWanted(t *testing.T, err error, want string) bool {
	t.Helper()
	if want != "" {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want %q", err, want)
		}
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// fakeNotifications verifies a notification whose X-Sig header is "ok";
// the body is the event id. An id starting "unknown-" is an event of a
// kind the plugin does not map, which names no order.
type fakeNotifications struct{}

func (fakeNotifications) Verify(n transform.Notification) (*transform.Event, error) {
	if n.Header.Get("X-Sig") != "ok" {
		return nil, transform.ErrRetry // any error: unverified
	}
	if strings.HasPrefix(string(n.Body), "unknown-") {
		return &transform.Event{ID: string(n.Body), Provider: "fake", Type: "unknown", Data: map[string]string{}}, nil
	}
	return &transform.Event{ID: string(n.Body), Provider: "fake", Type: "payment.succeeded", OrderID: "O1", Data: map[string]string{}}, nil
}

func (fakeNotifications) Ack() (int, string, []byte) { return 200, "text/plain", []byte("success") }

func (fakeNotifications) Nack(string) (string, []byte) { return "text/plain", []byte("fail") }
func (fakeNotifications) NotificationKeys() []string   { return []string{"key-a"} }
func (fakeNotifications) Merchant() []string           { return nil }

// fakeMerchant counts the events forwarded to it and answers status after
// delay (or after release is closed, when set).
type fakeMerchant struct {
	status  atomic.Int32
	delay   time.Duration
	release chan struct{}
	mu      sync.Mutex
	got     []string // event ids
}

func (m *fakeMerchant) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	m.mu.Lock()
	m.got = append(m.got, r.Header.Get("Minipay-Event-Id"))
	m.mu.Unlock()
	time.Sleep(m.delay)
	if m.release != nil {
		<-m.release
	}
	w.WriteHeader(int(m.status.Load()))
	return nil
}

func (m *fakeMerchant) count(id string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, g := range m.got {
		if g == id {
			n++
		}
	}
	return n
}

// instance is one minipay_webhook as Provision would set it up, over store.
func instance(t *testing.T, store transform.Store, window time.Duration) *Webhook {
	t.Helper()
	return merchantInstance(t, store, window, "key-a")
}

// merchantInstance is instance for the merchant whose secret key is key.
func merchantInstance(t *testing.T, store transform.Store, window time.Duration, key string) *Webhook {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	registries.Store(m, reg)
	h := &Webhook{providerHandler: providerHandler{name: "fake", logger: zap.NewNop(), metrics: m}, webhook: fakeNotifications{}, Dedupe: DedupeWindow(window)}
	if window > 0 {
		h.dedupe = newDeduper(&sharedStore{inner: store, use: "dedupe", logger: zap.NewNop(), failures: m.storageFailures}, "fake", merchantTag([]string{key}, nil), window, zap.NewNop())
	}
	return h
}

func notify(t *testing.T, h *Webhook, merchant caddyhttp.Handler, id string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/webhooks/fake", strings.NewReader(id))
	r.Header.Set("X-Sig", "ok")
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, merchant); err != nil {
		t.Fatal(err)
	}
	return w.Code, w.Body.String()
}

// registries holds each test instance's metrics registry.
var registries sync.Map // *metrics → *prometheus.Registry

// counter reads a counter of h's registry by name and labels, as
// Prometheus would scrape it.
func counter(t *testing.T, h *Webhook, name string, labels map[string]string) float64 {
	t.Helper()
	reg, _ := registries.Load(h.metrics)
	mfs, err := reg.(*prometheus.Registry).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func outcomes(t *testing.T, h *Webhook, outcome string) float64 {
	return counter(t, h, "caddy_minipay_webhooks_total", map[string]string{"provider": "fake", "outcome": outcome})
}

func TestWebhookDedupe(t *testing.T) {
	store := transformtest.NewMemStore()
	a, b := instance(t, store, time.Hour), instance(t, store, time.Hour)
	m := &fakeMerchant{}
	m.status.Store(200)

	t.Run("to A then B: forwarded once, both ACK", func(t *testing.T) {
		for _, h := range []*Webhook{a, b, a} {
			if code, body := notify(t, h, m, "ev-1"); code != 200 || body != "success" {
				t.Fatalf("%d %q", code, body)
			}
		}
		if n := m.count("ev-1"); n != 1 {
			t.Fatalf("forwarded %d times", n)
		}
		if outcomes(t, a, "acked") != 1 || outcomes(t, a, "duplicate") != 1 || outcomes(t, b, "duplicate") != 1 {
			t.Fatalf("outcomes: A acked %v duplicate %v, B duplicate %v", outcomes(t, a, "acked"), outcomes(t, a, "duplicate"), outcomes(t, b, "duplicate"))
		}
		var rec dedupeRecord
		v, err := store.Load(context.Background(), "minipay/events/fake/"+sha256Hex("ev-1"))
		if err != nil || json.Unmarshal(v, &rec) != nil || rec.EventID != "ev-1" || time.Since(rec.AckedAt) > time.Minute {
			t.Fatalf("record %s, %v", v, err)
		}
	})

	t.Run("concurrently to both: forwarded once", func(t *testing.T) {
		slow := &fakeMerchant{delay: 100 * time.Millisecond}
		slow.status.Store(200)
		var wg sync.WaitGroup
		codes := make([]int, 6)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], _ = notify(t, []*Webhook{a, b}[i%2], slow, "ev-2")
			}()
		}
		wg.Wait()
		if n := slow.count("ev-2"); n != 1 {
			t.Fatalf("forwarded %d times", n)
		}
		for i, c := range codes {
			if c != 200 {
				t.Fatalf("notification %d answered %d (the lock was released in time)", i, c)
			}
		}
	})

	t.Run("merchant failure then retry: forwarded again", func(t *testing.T) {
		m.status.Store(500)
		if code, body := notify(t, a, m, "ev-3"); code != 502 || body != "fail" {
			t.Fatalf("%d %q", code, body)
		}
		if store.Exists(context.Background(), "minipay/events/fake/"+sha256Hex("ev-3")) {
			t.Fatal("a merchant failure was remembered")
		}
		m.status.Store(200)
		if code, _ := notify(t, b, m, "ev-3"); code != 200 {
			t.Fatalf("retry answered %d", code)
		}
		if code, _ := notify(t, a, m, "ev-3"); code != 200 || m.count("ev-3") != 2 {
			t.Fatalf("%d, forwarded %d times, want 2", code, m.count("ev-3"))
		}
	})

	t.Run("held by another instance past the wait: 503, not forwarded", func(t *testing.T) {
		held := &fakeMerchant{release: make(chan struct{})}
		held.status.Store(200)
		b.dedupe.wait = 200 * time.Millisecond
		defer func() { b.dedupe.wait = dedupeLockWait }()
		done := make(chan int)
		go func() { c, _ := notify(t, a, held, "ev-4"); done <- c }()
		for held.count("ev-4") == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		if code, body := notify(t, b, held, "ev-4"); code != 503 || body != "fail" {
			t.Fatalf("%d %q", code, body)
		}
		close(held.release)
		if c := <-done; c != 200 || held.count("ev-4") != 1 || outcomes(t, b, "in_progress") != 1 {
			t.Fatalf("A %d, forwarded %d times", c, held.count("ev-4"))
		}
		if code, _ := notify(t, b, held, "ev-4"); code != 200 || held.count("ev-4") != 1 {
			t.Fatalf("the provider's retry: %d, forwarded %d times", code, held.count("ev-4"))
		}
	})

	t.Run("past the window: forwarded again", func(t *testing.T) {
		a.dedupe.now = func() time.Time { return time.Now().Add(time.Hour) }
		defer func() { a.dedupe.now = time.Now }()
		if code, _ := notify(t, a, m, "ev-1"); code != 200 || m.count("ev-1") != 2 {
			t.Fatalf("%d, forwarded %d times", code, m.count("ev-1"))
		}
	})

	t.Run("no dedupe: forwarded every time", func(t *testing.T) {
		plain := instance(t, store, 0)
		for i := 0; i < 3; i++ {
			if code, _ := notify(t, plain, m, "ev-5"); code != 200 {
				t.Fatal(code)
			}
		}
		if m.count("ev-5") != 3 {
			t.Fatalf("forwarded %d times", m.count("ev-5"))
		}
	})

	if keys := store.Keys(); len(keys) != 4 {
		t.Fatalf("stored %v", keys)
	}
	for _, id := range []string{"ev-1", "ev-2", "ev-3", "ev-4"} {
		if store.Locked("minipay/events/fake/" + sha256Hex(id)) {
			t.Fatalf("the lock of %s is still held", id)
		}
	}
}

// When the storage fails, events are forwarded (never dropped) and the
// provider still gets its exact answer; each failure is counted.
func TestWebhookDedupeFailsOpen(t *testing.T) {
	for _, ops := range [][]string{{"load"}, {"lock"}, {"store"}, {"load", "lock", "store"}} {
		t.Run(strings.Join(ops, "+"), func(t *testing.T) {
			store := transformtest.NewMemStore()
			store.Fail(ops...)
			h := instance(t, store, time.Hour)
			m := &fakeMerchant{}
			m.status.Store(200)
			for i := 0; i < 2; i++ {
				if code, body := notify(t, h, m, "ev-1"); code != 200 || body != "success" {
					t.Fatalf("%d %q", code, body)
				}
			}
			if m.count("ev-1") < 1 || (ops[0] != "lock" && m.count("ev-1") != 2) {
				t.Fatalf("forwarded %d times", m.count("ev-1"))
			}
			if n := counter(t, h, "caddy_minipay_storage_failures_total", map[string]string{"use": "dedupe", "operation": ops[0]}); n < 1 {
				t.Fatalf("%s failures counted: %v", ops[0], n)
			}
			m.status.Store(500)
			if code, body := notify(t, h, m, "ev-9"); code != 502 || body != "fail" {
				t.Fatalf("merchant failure: %d %q", code, body)
			}
		})
	}
}

func TestDedupePurge(t *testing.T) {
	store := transformtest.NewMemStore()
	d := newDeduper(store, "fake", "merchant-a", time.Hour, zap.NewNop())
	ctx := context.Background()
	// The clock is pinned: an entry's age is what the test says, however
	// long the machine takes between storing it and purging.
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return now }
	put := func(id string, age time.Duration) {
		if err := store.Store(ctx, d.key(id), transform.Marshal(dedupeRecord{EventID: id, AckedAt: now.Add(-age)})); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.purge(ctx); n != 0 {
		t.Fatalf("purged %d of nothing", n)
	}
	put("young", 59*time.Minute)
	put("old", 61*time.Minute)
	put("older", 30*time.Hour)
	if err := store.Store(ctx, d.key("garbage"), []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if err := store.Store(ctx, "minipay/events/other/"+sha256Hex("old"), []byte(`{"acked_at":"2000-01-01T00:00:00Z"}`)); err != nil {
		t.Fatal(err)
	}
	// The garbage is deleted only once it has stayed so for a window
	// (TestDedupePurgeUnreadable).
	if n := d.purge(ctx); n != 2 {
		t.Fatalf("purged %d, want 2", n)
	}
	now = now.Add(time.Hour)
	put("young", 59*time.Minute)
	if n := d.purge(ctx); n != 1 {
		t.Fatalf("purged %d a window later, want 1", n)
	}
	if keys := store.Keys(); len(keys) != 2 || keys[0] != d.key("young") && keys[1] != d.key("young") {
		t.Fatalf("left %v", keys)
	}

	// the loop runs on its interval and stops with its context
	if got := newDeduper(store, "fake", "merchant-a", 25*time.Hour, zap.NewNop()).purgeInterval(); got != time.Hour {
		t.Fatalf("interval for 25h: %v", got)
	}
	if got := newDeduper(store, "fake", "merchant-a", 2*time.Second, zap.NewNop()).purgeInterval(); got != time.Second {
		t.Fatalf("interval for 2s: %v", got)
	}
	short := newDeduper(store, "fake", "merchant-a", 2*time.Second, zap.NewNop())
	short.now = func() time.Time { return now.Add(2 * time.Second) } // the entry below is old at the first tick
	put("soon-old", 0)
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { short.purgeLoop(lctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for store.Exists(ctx, d.key("soon-old")) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if store.Exists(ctx, d.key("soon-old")) {
		t.Fatal("the background purge did not run")
	}
	stop()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the purge loop did not stop")
	}

	// A configuration stopped as soon as it started (a burst of reloads)
	// purges nothing: the first purge waits firstPurgeDelay. (caddy
	// validate never starts the loop: TestDedupePurgeOnlyWhileRunning.)
	put("long-old", 26*time.Hour)
	validated := newDeduper(store, "fake", "merchant-a", 25*time.Hour, zap.NewNop())
	validated.now = func() time.Time { return now }
	lists := store.Ops("list")
	lctx, stop = context.WithCancel(ctx)
	done = make(chan struct{})
	go func() { validated.purgeLoop(lctx); close(done) }()
	time.Sleep(300 * time.Millisecond)
	stop()
	<-done
	if n := store.Ops("list") - lists; n != 0 || !store.Exists(ctx, d.key("long-old")) {
		t.Fatalf("a loop stopped 300 ms after it started purged (%d lists, entry kept: %v)", n, store.Exists(ctx, d.key("long-old")))
	}

	// The first purge runs shortly after the loop starts, not an interval
	// later (an hour for 25h): a reload starts a new loop, and reloads more
	// often than the interval would leave every entry for ever.
	long := newDeduper(store, "fake", "merchant-a", 25*time.Hour, zap.NewNop())
	long.now = func() time.Time { return now }
	lctx, stop = context.WithCancel(ctx)
	defer stop()
	go long.purgeLoop(lctx)
	deadline = time.Now().Add(10 * time.Second)
	for store.Exists(ctx, d.key("long-old")) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if store.Exists(ctx, d.key("long-old")) {
		t.Fatal("a 25h window's loop did not purge within 10 s of its start")
	}
}

// What is no entry is purged only once it has stayed so for a window, as
// the purge saw it: the file_system storage (certmagic's FileStorage.Store,
// through os.CreateTemp(dir, "")) writes a new file under a random decimal
// name in the prefix's directory and renames it to the key once written,
// so an empty or half-written file may be a write on its way, which a
// delete would make fail. One killed before the rename stays unchanged and
// goes a window later; so does garbage under an entry's name. The old purge
// deleted all of them at first sight.
func TestDedupePurgeUnreadable(t *testing.T) {
	const window = time.Hour
	young := transform.Marshal(dedupeRecord{EventID: "ev-1", AckedAt: time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC)})
	type step struct {
		after  time.Duration // since the first purge
		stored []byte        // stored just before this purge; nil: unchanged
		want   bool          // still stored after it
	}
	for _, tt := range []struct {
		name, key string
		steps     []step
	}{
		{"temporary file, empty: a write on its way is kept", "2791034456", []step{
			{0, []byte{}, true},
			{window - time.Second, nil, true},
		}},
		{"temporary file, being written: the window starts again when it changes", "3021187344", []step{
			{0, []byte(`{"event_id":"e`), true},
			{window, []byte(`{"event_id":"ev-1","acked_at":"2026-`), true},
			{2*window - time.Second, nil, true},
			{2 * window, nil, false},
		}},
		{"temporary file of a write killed before the rename: deleted a window later", "2791034456", []step{
			{0, []byte(`{"event_id":"ev-1","ack`), true},
			{window, nil, false},
		}},
		{"empty under an entry's name", sha256Hex("empty"), []step{
			{0, []byte{}, true},
			{window, nil, false},
		}},
		{"JSON that is no entry, under an entry's name", sha256Hex("garbage"), []step{
			{0, []byte(`["not","an","entry"]`), true},
			{window, nil, false},
		}},
		{"an object without acked_at is an entry of year 1: deleted at first sight", sha256Hex("foo"), []step{
			{0, []byte(`{"foo":1}`), false}, // no write on its way is valid JSON: a prefix of an object is not
		}},
		{"garbage, then an entry: the entry's age counts", sha256Hex("ev-1"), []step{
			{0, []byte("not json"), true},
			{window, young, true},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := transformtest.NewMemStore()
			d := newDeduper(store, "fake", "merchant-a", window, zap.NewNop())
			ctx := context.Background()
			start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
			for i, st := range tt.steps {
				d.now = func() time.Time { return start.Add(st.after) }
				if st.stored != nil {
					if err := store.Store(ctx, d.prefix+tt.key, st.stored); err != nil {
						t.Fatal(err)
					}
				}
				d.purge(ctx)
				if got := store.Exists(ctx, d.prefix+tt.key); got != st.want {
					t.Fatalf("purge %d (%v after the first): stored %v, want %v", i, st.after, got, st.want)
				}
			}
			if store.Locked(d.prefix + tt.key) {
				t.Fatal("the purge left a lock held")
			}
		})
	}
}

// On Caddy's file_system storage (certmagic's FileStorage, through the
// adapter's sharedStore) what is no entry is aged by its file's
// modification time, so a purge just after a reload or a restart deletes
// what has been so for a window, and keeps a write on its way (the random
// decimal name FileStorage.Store writes before its rename) and what is
// not a file.
func TestDedupePurgeFileStorage(t *testing.T) {
	dir := t.TempDir()
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	store := m.sharedStore(&certmagic.FileStorage{Path: dir}, "dedupe", zap.NewNop())
	d := newDeduper(store, "cbtis", "merchant-a", time.Hour, zap.NewNop())
	ctx := context.Background()
	events := filepath.Join(dir, "minipay", "events", "cbtis")
	if err := store.Store(ctx, d.key("young"), transform.Marshal(dedupeRecord{EventID: "young", AckedAt: time.Now()})); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, tt := range []struct {
		name    string
		content []byte        // nil: a directory
		age     time.Duration // of its modification time
		kept    bool
	}{
		{"2791034456", []byte{}, 0, true},                                          // a write on its way, just created
		{"3021187344", []byte(`{"event_id":"ev-1","ack`), time.Second, true},       // half-written
		{"1450381716", []byte(`{"event_id":"ev-1","ack`), 61 * time.Minute, false}, // killed before its rename
		{"98765", []byte{}, 2 * time.Hour, false},
		{sha256Hex("empty"), []byte{}, 59 * time.Minute, true},
		{sha256Hex("garbage"), []byte("not json"), 61 * time.Minute, false},
		{sha256Hex("directory"), nil, 2 * time.Hour, true},
	} {
		name := filepath.Join(events, tt.name)
		if tt.content == nil {
			err = os.Mkdir(name, 0o700)
		} else {
			err = os.WriteFile(name, tt.content, 0o600)
		}
		if err == nil {
			err = os.Chtimes(name, now.Add(-tt.age), now.Add(-tt.age))
		}
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if _, err := os.Stat(name); (err == nil) != tt.kept {
				t.Errorf("%s, %v old: kept %v, want %v", tt.name, tt.age, err == nil, tt.kept)
			}
		}()
	}
	if n := d.purge(ctx); n != 3 {
		t.Errorf("purged %d, want 3", n)
	}
	if !store.Exists(ctx, d.key("young")) {
		t.Error("the young entry was purged")
	}
}

// The purge never deletes an entry under an instance that is forwarding
// the same event: that instance holds the event's lock and is about to
// store a fresh acknowledgement, which a delete decided on the old one
// would wipe out (the provider's next retry would then be forwarded again).
func TestDedupePurgeSkipsEventsBeingForwarded(t *testing.T) {
	store := transformtest.NewMemStore()
	d := newDeduper(store, "fake", "merchant-a", time.Hour, zap.NewNop())
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return now }
	ctx := context.Background()
	key := d.key("ev-1")
	record := func(at time.Time) []byte { return transform.Marshal(dedupeRecord{EventID: "ev-1", AckedAt: at}) }
	tests := []struct {
		name       string
		stored     []byte // before the purge
		heldBy     bool   // another instance holds ev-1's lock: it is forwarding it
		wantStored bool
	}{
		{"expired, nobody forwarding: deleted", record(now.Add(-2 * time.Hour)), false, false},
		{"expired, being forwarded: left for a later purge", record(now.Add(-2 * time.Hour)), true, true},
		{"young: kept", record(now.Add(-time.Minute)), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := store.Store(ctx, key, tt.stored); err != nil {
				t.Fatal(err)
			}
			if tt.heldBy {
				if err := store.Lock(ctx, key); err != nil {
					t.Fatal(err)
				}
			}
			d.purge(ctx)
			// Decided while the lock is held: the forwarding instance may
			// store its record between the purge's read and its delete.
			if got := store.Exists(ctx, key); got != tt.wantStored {
				t.Fatalf("stored after the purge: %v, want %v", got, tt.wantStored)
			}
			if tt.heldBy {
				if err := store.Unlock(ctx, key); err != nil {
					t.Fatal(err)
				}
			} else if store.Locked(key) {
				t.Fatal("the purge left the event's lock held")
			}
			_ = store.Delete(ctx, key)
		})
	}
}

// A window under a second is a unit slip, in effect off: it fails naming
// dedupe, in the Caddyfile when caddy adapt reads it (at its line, saying
// which of its units are under a second: a bare number is no Caddyfile
// duration) and in JSON when the configuration loads, as caddy validate
// and caddy run load it (saying a JSON number is nanoseconds and, for a
// JSON string such as "25ms", the Caddyfile's units); JSON's 0
// stays off, and windows of seconds load (README "Clusters").
func TestDedupeWindowMinimum(t *testing.T) {
	const site = "http://localhost:53001 {\n\thandle /webhooks/cbtis {\n\t\tminipay_webhook cbtis {\n\t\t\tdedupe %s\n" +
		"\t\t\tapi_key k1\n\t\t}\n\t\trespond 200\n\t}\n}\n"
	for _, tt := range []struct{ window, written, err string }{
		{"1ns", "", "dedupe 1ns is shorter than the minimum 1s"},
		{"1ms", "", "dedupe 1ms is shorter than the minimum 1s"},
		{"999ms", "", "dedupe 999ms is shorter than the minimum 1s"},
		{"1s", `"dedupe":"1s"`, ""},
		{"1000ms", `"dedupe":"1s"`, ""},
		{"15s", `"dedupe":"15s"`, ""},
		{"1m", `"dedupe":"1m"`, ""},
		{"60s", `"dedupe":"1m"`, ""},
		{"25h", `"dedupe":"25h"`, ""},
	} {
		t.Run("Caddyfile "+tt.window, func(t *testing.T) {
			cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(fmt.Sprintf(site, tt.window)), map[string]any{"filename": "Caddyfile"})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err+": ns, us and ms are under a second, m is minutes") ||
					!strings.Contains(err.Error(), "Caddyfile:4") || strings.Contains(err.Error(), "JSON") {
					t.Fatalf("adapted (%v), want %q in the Caddyfile's words at Caddyfile:4\n%s", err, tt.err, cfg)
				}
				return
			}
			if err != nil || !strings.Contains(string(cfg), tt.written) {
				t.Fatalf("adapt: %v\n%s\nwant %s", err, cfg, tt.written)
			}
			if err := loadWebhookConfig(t, cfg); err != nil {
				t.Fatalf("the adapted configuration does not load: %v", err)
			}
		})
	}
	for _, tt := range []struct{ dedupe, err string }{
		{`0`, ""}, // off
		{`"1m"`, ""},
		{`"1s"`, ""},
		{`"59s"`, ""},
		{`1000000000`, ""},
		{`60000000000`, ""},
		{`"25h"`, ""},
		{`1`, "minipay_webhook: dedupe 1ns is shorter than the minimum 1s"},
		{`"1ns"`, "minipay_webhook: dedupe 1ns is shorter than the minimum 1s"},
		{`90000`, "minipay_webhook: dedupe 90µs is shorter than the minimum 1s"}, // 25 h in seconds, read as nanoseconds
		{`"999ms"`, "minipay_webhook: dedupe 999ms is shorter than the minimum 1s"},
		{`"25ms"`, "minipay_webhook: dedupe 25ms is shorter than the minimum 1s"}, // 25m meant
		{`999999999`, "minipay_webhook: dedupe 999.999999ms is shorter than the minimum 1s"},
		{`"-1h"`, "minipay_webhook: dedupe must be a positive duration"},
	} {
		t.Run("JSON "+tt.dedupe, func(t *testing.T) {
			cfg := `{"apps":{"http":{"servers":{"s":{"listen":["localhost:53001"],"routes":[{"handle":[` +
				`{"handler":"minipay_webhook","dedupe":` + tt.dedupe + `,"provider":{"name":"cbtis","api_key":"k1"}},` +
				`{"handler":"static_response","status_code":200}]}]}}}}}`
			err := loadWebhookConfig(t, []byte(cfg))
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("load: %v, want %q", err, tt.err)
			}
			if strings.Contains(tt.err, "minimum") && !strings.Contains(err.Error(), tt.err+`: a JSON number is nanoseconds, and in a string ns, us and ms are under a second, m is minutes (write a duration such as "25h"`) {
				t.Fatalf("load: %v, want JSON's words", err)
			}
		})
	}
}

// loadWebhookConfig loads cfg as caddy validate does (every module
// provisioned, nothing started), its storage a directory of the test's.
func loadWebhookConfig(t *testing.T, cfg []byte) error {
	t.Helper()
	var c caddy.Config
	if err := json.Unmarshal(cfg, &c); err != nil {
		t.Fatal(err)
	}
	c.StorageRaw = json.RawMessage(`{"module":"file_system","root":` + strconv.Quote(t.TempDir()) + `}`)
	return caddy.Validate(&c)
}

// A negative window is refused at Provision; Cleanup stops the purge.
func TestWebhookDedupeLifecycle(t *testing.T) {
	h := &Webhook{Dedupe: DedupeWindow(-time.Hour)}
	if err := h.startDedupe(caddy.Context{Context: context.Background()}); err == nil || !strings.Contains(err.Error(), "dedupe must be a positive duration") {
		t.Fatalf("%v", err)
	}
	stopped := false
	h = &Webhook{stopPurge: func() { stopped = true }}
	if err := h.Cleanup(); err != nil || !stopped {
		t.Fatalf("Cleanup: %v, stopped %v", err, stopped)
	}
	if err := (&Webhook{}).Cleanup(); err != nil {
		t.Fatal(err)
	}
	// the admin API's list is cleaned up too
	listed := &Webhook{adminListing: adminListing{ids: []uint64{1 << 62}}}
	if err := listed.Cleanup(); err != nil || listed.ids != nil {
		t.Fatalf("Cleanup left the admin listing: %v %v", err, listed.ids)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// The key is minipay/events/<provider>/<lowercase hex sha256(event id)>;
// the digest is sha256sum's of the id.
func TestDedupeKey(t *testing.T) {
	d := newDeduper(nil, "cbtis", "merchant-a", time.Hour, zap.NewNop())
	if got, want := d.key("cbtis:C9:payment.succeeded"), "minipay/events/cbtis/febc0fb04038323beebbda3e6c40cc3c3b0205040e78c4d0fe8f6f783f503dee"; got != want {
		t.Fatalf("key %s, want %s", got, want)
	}
}

// routesOfTwoWindows is two wechat_v2 routes sharing a store, with windows
// of 25 hours and 3 seconds, and a fixed time to set their clocks from.
func routesOfTwoWindows() (store *transformtest.MemStore, long, short *deduper, now time.Time) {
	store = transformtest.NewMemStore()
	long = newDeduper(store, "wechat_v2", "merchant-a", 25*time.Hour, zap.NewNop())
	short = newDeduper(store, "wechat_v2", "merchant-a", 3*time.Second, zap.NewNop())
	return store, long, short, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
}

// Every minipay_webhook route of a provider shares the key prefix (the
// key names the provider, not the route), so the routes of one Caddy, or
// the instances of a cluster during a change of configuration, may purge
// each other's entries. A route with a shorter window must not purge an
// entry that a route with a longer window stored and still relies on: the
// provider's retry would be forwarded again.
func TestDedupePurgeKeepsEntriesOfLongerWindows(t *testing.T) {
	store, long, short, now := routesOfTwoWindows()
	ctx := context.Background()
	// the long route forwards and acknowledges an event
	long.now = func() time.Time { return now }
	c, verdict := long.claim(ctx, "wechat_v2:42:payment.succeeded")
	if verdict != dedupeForward {
		t.Fatalf("verdict %v", verdict)
	}
	c.acknowledged(ctx)
	c.release(ctx)

	tests := []struct {
		name       string
		at         time.Duration // after the acknowledgement
		purger     *deduper
		wantStored bool
	}{
		{"the short route's purge, past its window only: kept", time.Minute, short, true},
		{"the short route's purge, past both windows: deleted", 26 * time.Hour, short, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.purger.now = func() time.Time { return now.Add(tt.at) }
			tt.purger.purge(ctx)
			if got := store.Exists(ctx, long.key("wechat_v2:42:payment.succeeded")); got != tt.wantStored {
				t.Fatalf("stored: %v, want %v", got, tt.wantStored)
			}
			if tt.wantStored {
				long.now = func() time.Time { return now.Add(tt.at) }
				if _, verdict := long.claim(ctx, "wechat_v2:42:payment.succeeded"); verdict != dedupeDuplicate {
					t.Fatalf("the long route's verdict on the retry: %v, want a duplicate", verdict)
				}
			}
		})
	}
}

// The same event acknowledged again through a route with a shorter window
// (for which the first acknowledgement is already past its window) must not
// shorten the expiry the longer route gave the entry: the short route's
// purge would then delete it, and the long route forward the provider's
// next retry again.
func TestDedupeShorterRouteKeepsLongerExpiry(t *testing.T) {
	_, long, short, now := routesOfTwoWindows()
	ctx := context.Background()
	const id = "wechat_v2:42:payment.succeeded"
	forward := func(d *deduper, at time.Duration) {
		t.Helper()
		d.now = func() time.Time { return now.Add(at) }
		c, verdict := d.claim(ctx, id)
		if verdict != dedupeForward {
			t.Fatalf("verdict at %v: %v, want forward", at, verdict)
		}
		c.acknowledged(ctx)
		c.release(ctx)
	}
	forward(long, 0)
	forward(short, time.Minute) // past the short window: forwarded and acknowledged again
	short.now = func() time.Time { return now.Add(2 * time.Minute) }
	short.purge(ctx)
	long.now = func() time.Time { return now.Add(3 * time.Minute) }
	if _, verdict := long.claim(ctx, id); verdict != dedupeDuplicate {
		t.Fatalf("the long route's verdict on a retry 3 minutes after its acknowledgement: %v, want a duplicate", verdict)
	}
}

// pollingLockStore waits for a held lock as Caddy's file_system storage
// does, by polling once a second: a lock released between two polls is
// seen only at the next one, which may come after the wait's deadline.
// waiting counts the Lock calls waiting so, for a test to act once one
// waits rather than after a delay a loaded machine may not honour.
type pollingLockStore struct {
	*transformtest.MemStore
	waiting *atomic.Int32
}

func newPollingLockStore(m *transformtest.MemStore) pollingLockStore {
	return pollingLockStore{m, new(atomic.Int32)}
}

func (s pollingLockStore) Lock(ctx context.Context, name string) error {
	if s.Locked(name) {
		s.waiting.Add(1)
		defer s.waiting.Add(-1)
		<-ctx.Done() // the next poll is past the deadline
		return ctx.Err()
	}
	return s.MemStore.Lock(ctx, name)
}

// awaitWaiter returns once a Lock call of s waits for a held lock.
func (s pollingLockStore) awaitWaiter() {
	for s.waiting.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
}

// forwardingOnA starts two instances, A and B, on store (one that sees a
// released lock late), and has A forward "ev-1" to a merchant that answers 200 once
// m.release is closed; done receives A's status.
func forwardingOnA(t *testing.T, store transform.Store) (b *Webhook, m *fakeMerchant, done chan int) {
	t.Helper()
	a := instance(t, store, time.Hour)
	b = instance(t, store, time.Hour)
	m = &fakeMerchant{release: make(chan struct{})}
	m.status.Store(200)
	done = make(chan int)
	go func() { c, _ := notify(t, a, m, "ev-1"); done <- c }()
	for m.count("ev-1") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	return b, m, done
}

// An instance whose wait for the event's lock ran out reads the storage
// once more before answering 503: when the instance that held the lock
// stored the merchant's acknowledgement meanwhile, the retry is a
// duplicate (ACK, not forwarded), not an event still in progress. The
// storage cannot be read while B waits, so B's polls for the
// acknowledgement see nothing and only that last read can find it (with
// reads that worked, the polls found it first and the last read went
// untested).
func TestWebhookDedupeAcknowledgedDuringTheWait(t *testing.T) {
	mem := transformtest.NewMemStore()
	store := transformtest.NewBlindWhileWaiting(newPollingLockStore(mem), mem.Locked)
	b, m, done := forwardingOnA(t, store)
	b.dedupe.wait = 300 * time.Millisecond
	go func() { // A's merchant answers once B waits for the lock
		for !store.Waiting() {
			time.Sleep(time.Millisecond)
		}
		close(m.release)
	}()
	code, body := notify(t, b, m, "ev-1")
	if c := <-done; c != 200 {
		t.Fatalf("A answered %d", c)
	}
	if code != 200 || body != "success" || m.count("ev-1") != 1 || outcomes(t, b, "duplicate") != 1 {
		t.Fatalf("B answered %d %q (outcome duplicate %v, in_progress %v), forwarded %d times",
			code, body, outcomes(t, b, "duplicate"), outcomes(t, b, "in_progress"), m.count("ev-1"))
	}
}

// An instance waiting for the event's lock answers the ACK as soon as the
// instance forwarding the event stored the merchant's acknowledgement, not
// once it sees the lock released (file_system sees a release only at its
// next once-a-second poll, so the provider waited up to the whole 3 s).
func TestWebhookDedupeWaiterAnswersOnceAcknowledged(t *testing.T) {
	store := newPollingLockStore(transformtest.NewMemStore())
	b, m, done := forwardingOnA(t, store)
	// A wait bound far above the poll, so that only a waiter that never
	// looked at the storage takes half of it (a fixed second was a margin a
	// stalled machine could eat).
	b.dedupe.wait = 20 * time.Second
	// A's merchant answers once B waits for the lock (after a fixed 50 ms, a
	// B that came late found the acknowledgement at once, and the wait went
	// untested)
	go func() { store.awaitWaiter(); close(m.release) }()
	start := time.Now()
	code, body := notify(t, b, m, "ev-1")
	waited := time.Since(start)
	if c := <-done; c != 200 {
		t.Fatalf("A answered %d", c)
	}
	if code != 200 || body != "success" || m.count("ev-1") != 1 || outcomes(t, b, "duplicate") != 1 || waited >= b.dedupe.wait/2 {
		t.Fatalf("B answered %d %q after %v (wait bound %v), forwarded %d times", code, body, waited, b.dedupe.wait, m.count("ev-1"))
	}
}

// A provider that goes away while another request forwards its event is
// counted client_closed, not in_progress (the 503 nobody reads): like a
// provider leaving before the merchant backend answers, it says nothing
// about the event.
func TestWebhookDedupeWaiterWhoseProviderLeft(t *testing.T) {
	store := newPollingLockStore(transformtest.NewMemStore())
	b, m, done := forwardingOnA(t, store)
	b.dedupe.wait = 20 * time.Second
	core, logs := observer.New(zap.InfoLevel)
	b.logger = zap.New(core)
	ctx, leave := context.WithCancel(context.Background())
	go func() { store.awaitWaiter(); leave() }() // the provider leaves while B waits
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/webhooks/fake", strings.NewReader("ev-1"))
	r.Header.Set("X-Sig", "ok")
	w := httptest.NewRecorder()
	if err := b.ServeHTTP(w, r, m); err != nil {
		t.Fatal(err)
	}
	close(m.release)
	if c := <-done; c != 200 {
		t.Fatalf("A answered %d", c)
	}
	if w.Code != statusClientClosed || outcomes(t, b, "client_closed") != 1 || outcomes(t, b, "in_progress") != 0 || m.count("ev-1") != 1 {
		t.Fatalf("B answered %d (client_closed %v, in_progress %v), forwarded %d times",
			w.Code, outcomes(t, b, "client_closed"), outcomes(t, b, "in_progress"), m.count("ev-1"))
	}
	// Another request, as the 503's reason says: the one forwarding may be
	// on this instance (a provider sending the event twice at once).
	const want = "the provider closed the request while another request forwarded the event"
	if lines := logs.All(); len(lines) != 1 || lines[0].ContextMap()["reason"] != want {
		t.Fatalf("log lines %v, want one with reason %q", lines, want)
	}
}

// Two merchants of one provider in a cluster (one storage, other keys):
// where their event ids coincide, as Latipay's do (the merchant's own order
// ids), one's acknowledgement does not make the other's event a duplicate,
// while each merchant's own retries still are. An entry of an earlier
// version, without merchant, counts for every merchant as it did.
func TestWebhookDedupeMerchantsApart(t *testing.T) {
	store := transformtest.NewMemStore()
	a1, a2 := merchantInstance(t, store, time.Hour, "key-a"), merchantInstance(t, store, time.Hour, "key-a")
	b := merchantInstance(t, store, time.Hour, "key-b")
	m := &fakeMerchant{}
	m.status.Store(200)
	for _, step := range []struct {
		name      string
		h         *Webhook
		forwarded int // times the event has reached a merchant after the step
	}{
		{"merchant A", a1, 1},
		{"merchant A's retry, another instance", a2, 1},
		{"merchant B, the same id", b, 2},
		{"merchant B's retry", b, 2},
		{"merchant A's retry after B's", a1, 2},
		{"merchant B's retry after A's", b, 2},
		{"merchant A's retry on its other instance", a2, 2},
	} {
		if code, body := notify(t, step.h, m, "latipay:ORDER-1:payment.succeeded"); code != 200 || body != "success" {
			t.Fatalf("%s: %d %q", step.name, code, body)
		}
		if n := m.count("latipay:ORDER-1:payment.succeeded"); n != step.forwarded {
			t.Fatalf("%s: forwarded %d times, want %d", step.name, n, step.forwarded)
		}
	}
	v, _ := store.Load(context.Background(), "minipay/events/fake/"+sha256Hex("latipay:ORDER-1:payment.succeeded"))
	var rec dedupeRecord
	// The tags of key-b and key-a (TestMerchantTagKnownAnswers).
	if err := json.Unmarshal(v, &rec); err != nil || rec.Merchant != "bbb1ed04211fdbc6d9cdcd9025156bff" || len(rec.Others) != 1 ||
		rec.Others["455047ef87751ef763b1399af07837c4"].IsZero() {
		t.Fatalf("the entry %s does not name B last and A besides (%v)", v, err)
	}
	for _, secret := range []string{"key-a", "key-b"} {
		if strings.Contains(string(v), secret) {
			t.Fatalf("the entry %s holds a key", v)
		}
	}
	if got, want := merchantTag([]string{"ab", "c"}, nil), merchantTag([]string{"a", "bc"}, nil); got == want {
		t.Fatalf("keys split differently share the tag %s", got)
	}

	old := `{"event_id":"ev-old","acked_at":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"}`
	if err := store.Store(context.Background(), "minipay/events/fake/"+sha256Hex("ev-old"), []byte(old)); err != nil {
		t.Fatal(err)
	}
	for _, h := range []*Webhook{a1, b} {
		if code, _ := notify(t, h, m, "ev-old"); code != 200 || m.count("ev-old") != 0 {
			t.Fatalf("an entry without merchant: %d, forwarded %d times", code, m.count("ev-old"))
		}
	}
}

// A minipay_webhook route's merchant tag is made of the keys its
// notifications are verified or decrypted with (transform.Webhook's
// NotificationKeys) and of the ids naming its merchant (Merchant), not of
// every secret the route holds: a wechat_v3 route's private_key (which
// signs certificate downloads only) and platform_private_key, a CBTIS
// route's client_secret beside api_key, can be rotated without the
// acknowledged events being forwarded again (README "Clusters"), while
// another merchant holding the same key (another mch_id, merchant_id, uid,
// Latipay wallet or currency) has another tag. Each route below sets every
// secret field its provider has; the tags are TestMerchantTagKnownAnswers'
// formula computed with Python's hmac module over the one notification key
// and the ids (with every secret field and no ids, as before, the
// wechat_v3 route's was 1f1286062eab0c4d0e742bb0c68677df, of the PEM files
// as {file.*} reads them, without their last line break, and the CBTIS
// one's 61830d60ad2b9bf7c73517f79487f10e; with the notification key alone
// and no ids, the wechat_v2 route's was 7d5c69c85f950cffa1edff849f44211e).
func TestRouteMerchantTags(t *testing.T) {
	keys, err := filepath.Abs("../examples/keys")
	if err != nil {
		t.Fatal(err)
	}
	file := func(name string) string { return "{file." + keys + "/" + name + "}" }
	// another merchant key (wechatpay-go's test key): WeChat's own, the
	// platform key, is refused as private_key beside its public_key
	testKey, err := filepath.Abs("../transform/wechatv3/testdata/wechat_v3-test-private-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	routes := []struct {
		provider string
		config   map[string]any
		tag      string
		keep     map[string]string // other secrets rotated: the tag stays
		change   map[string]string // the notification key changed: another tag
	}{
		{"wechat_v2", map[string]any{"app_id": testAppID, "mch_id": testMchID, "api_key": testAPIKey},
			"3aaddae71abb37bafb6bbe4d05686b4c", nil, map[string]string{"api_key": "8934e7d15453e97507ef794cf7b0519e",
				"app_id": "wx9999999999999999", "mch_id": "1900000200", "sub_mch_id": "1900000110"}},
		{"wechat_v3", map[string]any{"app_id": testAppID, "mch_id": testMchID, "serial_no": "3775B6A45ACD588826D15E583A95F5DD2F2D3B4A",
			"private_key": file("apiclient_key.pem"), "public_key": file("wechatpay_pub_key.pem"),
			"public_key_id": "PUB_KEY_ID_0119000001092026112900000000000001", "api_v3_key": "sandbox-apiv3-key-0123456789abcd",
			"platform_private_key": file("wechatpay_platform_key.pem")},
			"72e5122a440896d9f476e340776736fb",
			map[string]string{"private_key": "{file." + testKey + "}", "platform_private_key": file("apiclient_key.pem")},
			map[string]string{"api_v3_key": "another-apiv3-key-0123456789abcd", "app_id": "wx9999999999999999", "mch_id": "1900000200",
				"sub_mch_id": "1900000110"}},
		{"2c2p", map[string]any{"merchant_id": "JT01", "secret_key": "7jYcp4FxFdf0"},
			"692095663757ee6f5b8ed0654dfccaa7", nil, map[string]string{"secret_key": "7jYcp4FxFdf1", "merchant_id": "JT02"}},
		{"latipay", map[string]any{"user_id": "U000334333", "wallet_id": "W00000001", "api_key": "lp-key"},
			"819195bc3141da70cbcb1df0a1c2c517", nil, map[string]string{"api_key": "lp-key-2", "user_id": "U000334334",
				"wallet_id": "W00000002", "currency": "AUD"}},
		{"cbtis", map[string]any{"uid": "39172931", "client_secret": "cs-secret", "api_key": "cbtis-api-key"},
			"0606a25f7a5c1c96fc025b8cf60539c4", map[string]string{"client_secret": "cs-secret-2"}, map[string]string{"api_key": "cbtis-api-key-2", "uid": "39172932"}},
		// without api_key, CBTIS signs notifications with client_secret
		{"cbtis", map[string]any{"uid": "39172931", "client_secret": "cs-secret"},
			"358eccce285a2e3fc2f6908aa6339ee8", nil, map[string]string{"client_secret": "cs-secret-2", "uid": "39172932"}},
	}
	for _, tt := range routes {
		t.Run(tt.provider+" "+tt.tag, func(t *testing.T) {
			tag := func(edit map[string]string) string {
				t.Helper()
				config := maps.Clone(tt.config)
				for k, v := range edit {
					config[k] = v
				}
				return routeMerchant(t, tt.provider, config)
			}
			if got := tag(nil); got != tt.tag {
				t.Fatalf("tag %s, want %s", got, tt.tag)
			}
			for field, value := range tt.keep {
				if got := tag(map[string]string{field: value}); got != tt.tag {
					t.Errorf("%s rotated: tag %s, want %s still", field, got, tt.tag)
				}
			}
			for field, value := range tt.change {
				if got := tag(map[string]string{field: value}); got == tt.tag {
					t.Errorf("%s changed: the tag stays %s", field, got)
				}
			}
		})
	}
	// every secret field of every provider with a webhook is set above
	set := map[string]bool{}
	for _, r := range routes {
		for field := range r.config {
			set[r.provider+"."+field] = true
		}
	}
	for _, name := range providerNames() {
		info, err := caddy.GetModule(providerNamespace + "." + name)
		if err != nil {
			t.Fatal(err)
		}
		p := info.New().(provider)
		if _, ok := p.(webhookProvider); !ok {
			continue
		}
		for _, f := range p.ConfigFields() {
			if f.Secret && !set[name+"."+f.Name] {
				t.Errorf("%s's secret field %s is set in no route above", name, f.Name)
			}
		}
	}
}

// routeMerchant is the merchant tag of a minipay_webhook route of provider
// with config, as its Provision computes it: the provider loaded and
// resolved for the webhook role, its webhook built, the tag of its
// notification keys.
func routeMerchant(t *testing.T, name string, config map[string]any) string {
	t.Helper()
	p, err := resolveProvider(providerModule(t, name, config), transform.RoleWebhook)
	if err != nil {
		t.Fatal(err)
	}
	w, err := p.(webhookProvider).NewWebhook()
	if err != nil {
		t.Fatal(err)
	}
	return webhookMerchantTag(w)
}

// A stored entry's merchant is read by every instance and every later
// version, so the tag is pinned: the first 16 bytes, in hex, of
// HMAC-SHA256("caddy-minipay dedupe merchant" followed by the merchant's
// ids) under the secrets, each secret and id preceded by its length (4
// bytes, big-endian), computed with Python's hmac module, lp(parts) being
// b"".join(struct.pack(">I", len(s)) + s for s in parts):
// hmac.new(lp(secrets), b"caddy-minipay dedupe merchant" + lp(ids),
// hashlib.sha256).hexdigest()[:32].
func TestMerchantTagKnownAnswers(t *testing.T) {
	for _, tt := range []struct {
		secrets  []string
		merchant []string
		want     string
	}{
		{[]string{"key-a"}, nil, "455047ef87751ef763b1399af07837c4"},
		{[]string{"key-b"}, nil, "bbb1ed04211fdbc6d9cdcd9025156bff"},
		{[]string{"192006250b4c09247ec02edce69f6a2d", "12345678-abcd"}, nil, "1377e06363b2aaf5d000c6b042ec87db"},
		{nil, nil, "5ebe68837f73145d3052be7aff4562cd"},
		// one key, two merchants: the ids follow the constant, each
		// preceded by its length, "" (not configured) as four zero bytes
		{[]string{"key-a"}, []string{"JT01"}, "a3860389642c3afa7eee3986d572e946"},
		{[]string{"key-a"}, []string{"JT02"}, "0527ab70be415af29f3bd4bf24e411e1"},
		{[]string{"key-a"}, []string{""}, "197d43db8f8204d724ce388dab651efc"},
		{[]string{"key-a"}, []string{"", "", "NZD"}, "9a9e2f949b31c5e03938e4048a88b75d"},
		{[]string{"key-a"}, []string{"", "", "AUD"}, "8f2372e7f808bea486860a996ee9ae87"},
	} {
		if got := merchantTag(tt.secrets, tt.merchant); got != tt.want {
			t.Errorf("merchantTag(%d secrets, %q) = %s, want %s", len(tt.secrets), tt.merchant, got, tt.want)
		}
	}
}

// TestWebhookDedupeEntryOfUnwritableTime: an event's entry in the shared
// storage whose times, in UTC, fall outside the years JSON writes (an
// offset past year 0 or 9999: no instance stores such a time) does not
// stop this merchant's acknowledgement from being stored: the event is
// forwarded once and its retry is a duplicate. Writing such a time back
// failed to encode (a panic serving the notification), so no
// acknowledgement was stored and every retry was forwarded again.
func TestWebhookDedupeEntryOfUnwritableTime(t *testing.T) {
	for name, entry := range map[string]string{
		"another merchant's acknowledgement in year -1":   `{"event_id":"ev-1","acked_at":"0000-01-01T00:00:00+00:01","merchant":"other"}`,
		"an acknowledgement listed in others, year -1":    `{"event_id":"ev-1","acked_at":"2026-11-22T10:00:00Z","merchant":"other","others":{"third":"0000-01-01T00:00:00+01:00"}}`,
		"an expiry in year 10000, after the window's end": `{"event_id":"ev-1","acked_at":"2026-11-22T10:00:00Z","expires_at":"9999-12-31T23:59:59-01:00","merchant":"other"}`,
	} {
		t.Run(name, func(t *testing.T) {
			store := transformtest.NewMemStore()
			if err := store.Store(context.Background(), "minipay/events/fake/"+sha256Hex("ev-1"), []byte(entry)); err != nil {
				t.Fatal(err)
			}
			h := instance(t, store, time.Hour)
			m := &fakeMerchant{}
			m.status.Store(200)
			for range 2 {
				if code, body := notify(t, h, m, "ev-1"); code != 200 || body != "success" {
					t.Fatalf("%d %q", code, body)
				}
			}
			if n := m.count("ev-1"); n != 1 {
				t.Fatalf("forwarded %d times", n)
			}
		})
	}
}

// TestDedupeEntriesReadByExactNames: a stored entry is read as minipay
// writes it (json.Marshal: exact names, each once). One with a name in
// another case or given twice is not minipay's: unreadable, so not a
// duplicate (the event is forwarded, the entry overwritten) and purged as
// expired, where encoding/json read ACKED_AT as acked_at and the last of a
// repeated merchant.
func TestDedupeEntriesReadByExactNames(t *testing.T) {
	now, past := time.Now().UTC().Format(time.RFC3339Nano), time.Now().Add(-2*time.Hour).UTC().Format(time.RFC3339Nano)
	for name, entry := range map[string]string{
		"ACKED_AT for acked_at": `{"event_id":"ev-1","ACKED_AT":"` + now + `"}`,
		"merchant twice":        `{"event_id":"ev-1","acked_at":"` + now + `","merchant":"other","merchant":""}`,
	} {
		t.Run(name, func(t *testing.T) {
			store := transformtest.NewMemStore()
			if err := store.Store(context.Background(), "minipay/events/fake/"+sha256Hex("ev-1"), []byte(entry)); err != nil {
				t.Fatal(err)
			}
			m := &fakeMerchant{}
			m.status.Store(200)
			if code, body := notify(t, instance(t, store, time.Hour), m, "ev-1"); code != 200 || body != "success" || m.count("ev-1") != 1 {
				t.Fatalf("%d %q, forwarded %d times, want once", code, body, m.count("ev-1"))
			}
		})
	}
	store := transformtest.NewMemStore()
	d := newDeduper(store, "fake", "", time.Hour, zap.NewNop())
	key := d.prefix + sha256Hex("ev-1")
	_ = store.Store(context.Background(), key, []byte(`{"event_id":"ev-1","acked_at":"`+past+`","Acked_At":"`+now+`"}`))
	if !d.expired(context.Background(), key) {
		t.Fatal("an entry acknowledged 2 h ago, with Acked_At now after it, is not expired")
	}
}
