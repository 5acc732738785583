package integration

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/internal/testport"
)

// reload makes p load its Caddyfile again as a new configuration, as an
// operator's `caddy reload` does: every handler is provisioned afresh, with
// no memory of the old one's token or certificates.
func (p caddyProcess) reload(t *testing.T) {
	t.Helper()
	cmd := exec.Command(p.bin, "reload", "--force", "--config", p.config, "--adapter", "caddyfile", "--address", strings.TrimPrefix(p.admin, "http://"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("caddy reload: %v\n%s", err, out)
	}
	// The old configuration's server closes its idle keep-alive connections
	// just after the reload returned, and a POST written onto one at that
	// instant is answered by a reset that Go's client does not retry (README
	// "Under faults and reloads"): the next requests open new connections.
	http.DefaultClient.CloseIdleConnections()
	// A new connection the kernel queues at the old server's socket (both
	// listen with SO_REUSEPORT until it stops) is reset too, EOF to the
	// client: the next request waits until that server is gone.
	if err := testport.SettledProcess(p.process.Pid, strings.TrimPrefix(p.admin, "http://")); err != nil {
		t.Fatalf("after caddy reload: %v", err)
	}
}

// TestClusterLifecycle runs three Caddy processes on one file_system storage
// through what a cluster lives through after its start (README "Clusters"):
// a cold start on all three at once, tokens expiring and renewed while calls
// keep arriving, a token revoked under all three, a reload, a de-duplication
// window running out and its entry purged, the wechat_v3 platform
// certificates downloaded once for the cluster, and an instance dying while
// it forwards an event.
func TestClusterLifecycle(t *testing.T) {
	bin := buildCaddy(t, t.TempDir())
	dir := filepath.Join(t.TempDir(), "storage")
	cold, expiring, revoked := newFakeCBTIS(t, 3600), newFakeCBTIS(t, 4), newFakeCBTIS(t, 3600)
	cold.mu.Lock()
	cold.tokenDelay = 300 * time.Millisecond // the calls of all three arrive during the fetch
	cold.mu.Unlock()
	wechat := unpaidWeChatV3(t)
	wechatSrv := httptest.NewServer(wechat)
	t.Cleanup(wechatSrv.Close)
	merchant := newCountingMerchant(t)

	site := cbtisRoute("cold", cold) + cbtisRoute("expiring", expiring) + cbtisRoute("revoked", revoked) + `
	handle /v3dl/* {
		minipay wechat_v3 {
` + v3Merchant(t, "\t\tcertificates_url "+wechatSrv.URL+"/v3/certificates\n") + `		notify_url https://merchant.example/webhooks/wechat_v3
		}
		reverse_proxy ` + strings.TrimPrefix(wechatSrv.URL, "http://") + `
	}
	handle /webhooks/long {
		minipay_webhook cbtis {
			dedupe 25h
			api_key ` + cbtisAPIKey + `
		}
		reverse_proxy ` + strings.TrimPrefix(merchant.srv.URL, "http://") + `
	}
	handle /webhooks/short {
		minipay_webhook cbtis {
			dedupe 1m
			api_key ` + cbtisAPIKey + `
		}
		reverse_proxy ` + strings.TrimPrefix(merchant.srv.URL, "http://") + `
	}`
	storage := "file_system " + dir
	cluster := []caddyProcess{
		startProcess(t, bin, "A", storage, site),
		startProcess(t, bin, "B", storage, site),
		startProcess(t, bin, "C", storage, site),
	}
	a := cluster[0]
	// payAll sends n pays to /<prefix>/pay at once, spread over the three
	// instances; every one must succeed.
	payAll := func(t *testing.T, n int, prefix string) {
		t.Helper()
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := strings.ToUpper(prefix) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + itoa(i)
				if status, body := postProcess(t, cluster[i%3], "/"+prefix+"/pay", cbtisPay(id)); status != 200 {
					t.Errorf("pay %s: %d %s", id, status, body)
				}
			}()
		}
		wg.Wait()
	}

	t.Run("three instances, concurrent cold start: one fetch", func(t *testing.T) {
		payAll(t, 18, "cold")
		if fetches, calls := cold.counts(); fetches != 1 || calls != 18 {
			t.Fatalf("%d token fetches and %d API calls, want 1 and 18", fetches, calls)
		}
	})

	// A 4 s token is renewed 1 s before it lapses (a quarter of its life):
	// with calls arriving at every instance for 7 s, the cluster fetches at
	// 0, about 3 and about 6 s. Instances that each fetched their own would
	// make at least 6 fetches; a token used past its expiry would be a 401
	// and a second API call for that pay.
	t.Run("a short token is renewed once per lifetime for the cluster, before it lapses", func(t *testing.T) {
		start, pays := time.Now(), 0
		for i := 0; time.Since(start) < 7*time.Second; i++ {
			id := "EXP-" + itoa(i)
			if status, body := postProcess(t, cluster[i%3], "/expiring/pay", cbtisPay(id)); status != 200 {
				t.Fatalf("pay %s after %v: %d %s", id, time.Since(start), status, body)
			}
			pays++
			time.Sleep(50 * time.Millisecond)
		}
		fetches, calls := expiring.counts()
		if fetches < 2 || fetches > 3 {
			t.Fatalf("%d token fetches in 7 s of a 4 s token, want 2 or 3 (one per renewal for the cluster)", fetches)
		}
		// one retried call is allowed for a machine that stalled a Caddy for
		// the last second of a token's life; tokens renewed only when they
		// lapse would cost one per lapse and instance
		if calls > pays+1 {
			t.Fatalf("%d API calls for %d pays: tokens were used after they lapsed", calls, pays)
		}
	})

	t.Run("a token revoked under all three: every call recovers, at most 2 fetches", func(t *testing.T) {
		payAll(t, 3, "revoked")
		revoked.revoke()
		payAll(t, 12, "revoked")
		payAll(t, 3, "revoked")
		if fetches, _ := revoked.counts(); fetches > 2 {
			t.Fatalf("%d token fetches, want at most 2", fetches)
		}
	})

	// event ids of this run only
	run := strconv.FormatInt(time.Now().UnixNano(), 36)

	t.Run("a reload keeps the cluster's token and acknowledged events", func(t *testing.T) {
		before, _ := cold.counts()
		body, sig := cbtisNotification("RL-" + run)
		id := "cbtis:RL-" + run + ":payment.succeeded"
		mustAck(t, a, "/webhooks/long", body, sig)
		a.reload(t)
		if status, body := postProcess(t, a, "/cold/pay", cbtisPay("RL-1-"+run)); status != 200 {
			t.Fatalf("pay after the reload: %d %s", status, body)
		}
		if fetches, _ := cold.counts(); fetches != before {
			t.Fatalf("%d token fetches after the reload, want %d: the reloaded handler read the shared token", fetches, before)
		}
		mustAck(t, a, "/webhooks/long", body, sig)
		if n := merchant.count(id); n != 1 {
			t.Fatalf("forwarded %d times across the reload, want 1", n)
		}
	})

	t.Run("a window inside, after, and purged", func(t *testing.T) {
		body, sig := cbtisNotification("WIN-" + run)
		id := "cbtis:WIN-" + run + ":payment.succeeded"
		entry := filepath.Join(dir, "minipay", "events", "cbtis", hexSHA256(id))
		notify := func(p caddyProcess) { t.Helper(); mustAck(t, p, "/webhooks/short", body, sig) }
		notify(cluster[0])
		notify(cluster[1]) // inside the 1 m window: a duplicate
		if n := merchant.count(id); n != 1 {
			t.Fatalf("inside the window: forwarded %d times, want 1", n)
		}
		// A minute on, as the instances' clocks would read the entry then
		// (the route's 1 m window, README "Clusters").
		ageDedupeEntry(t, dir, entry, time.Minute)
		notify(cluster[2]) // after it: the event is forwarded again, and remembered again
		if n := merchant.count(id); n != 2 {
			t.Fatalf("after the window: forwarded %d times, want 2", n)
		}
		if _, err := os.Stat(entry); err != nil {
			t.Fatalf("the new acknowledgement is not stored: %v", err)
		}
		// purged once past the window, by a purge every 15 s (a quarter of
		// the window) on each instance
		ageDedupeEntry(t, dir, entry, time.Minute)
		deadline := time.Now().Add(25 * time.Second)
		for {
			_, err := os.Stat(entry)
			if os.IsNotExist(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("entry %s still there 25 s after it was past its 1 m window: %v", entry, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		notify(cluster[0])
		if n := merchant.count(id); n != 3 {
			t.Fatalf("after the purge: forwarded %d times, want 3", n)
		}
	})

	t.Run("wechat_v3 platform certificates: one download for the cluster", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 9 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				order := "V3CL-" + itoa(i)
				if status, body := postProcess(t, cluster[i%3], "/v3dl/query", `{"order_id":"`+order+`"}`); status != 200 || !strings.Contains(body, `"status":"pending"`) {
					t.Errorf("query %s: %d %s", order, status, body)
				}
			}()
		}
		wg.Wait()
		if n := wechat.downloads.Load(); n != 1 {
			t.Fatalf("%d certificate downloads, want 1 for the cluster", n)
		}
		if n := wechat.authFailed.Load(); n != 0 {
			t.Fatalf("%d requests failed the fake's Authorization check", n)
		}
		if _, err := os.Stat(filepath.Join(dir, "minipay", "wechat_v3", mchID, "certificates")); err != nil {
			t.Fatalf("the download is not in the storage: %v", err)
		}
	})

	// An instance that dies while it forwards an event leaves the event's
	// lock behind: file_system takes a lock for stale once its file has not
	// been refreshed for 10 s. Until then the others answer 503 and the
	// provider retries; then one of them forwards the event: it is never
	// lost (the merchant sees it twice, having received it from the dead
	// instance without acknowledging it).
	t.Run("an instance dies while forwarding: the event is forwarded once its lock is stale", func(t *testing.T) {
		body, sig := cbtisNotification("DIE-" + run)
		id := "cbtis:DIE-" + run + ":payment.succeeded"
		merchant.delay.Store(int64(3 * time.Second))
		go func() { // C dies before it answers
			req, _ := http.NewRequest(http.MethodPost, cluster[2].base+"/webhooks/long", bytes.NewReader(body))
			req.Header.Set("Signature", sig)
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}()
		for deadline := time.Now().Add(5 * time.Second); merchant.count(id) == 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("C did not forward the event")
			}
		}
		if err := cluster[2].process.Kill(); err != nil {
			t.Fatal(err)
		}
		merchant.delay.Store(0)
		start := time.Now()
		for {
			status, ack := notifyProcess(t, a, "/webhooks/long", body, sig)
			if status == 200 && ack == "success" {
				break
			}
			if status != 503 || !strings.HasPrefix(ack, "fail") {
				t.Fatalf("while C's lock is held: %d %q, want 503 and the failure form", status, ack)
			}
			if time.Since(start) > 20*time.Second {
				t.Fatal("the event was not forwarded 20 s after C died")
			}
			time.Sleep(time.Second) // the provider's retry
		}
		if n := merchant.count(id); n != 2 {
			t.Fatalf("forwarded %d times, want 2 (by C, then by A)", n)
		}
		mustAck(t, cluster[1], "/webhooks/long", body, sig) // now a duplicate
		if n := merchant.count(id); n != 2 {
			t.Fatalf("forwarded %d times after the duplicate, want 2", n)
		}
	})

	for _, p := range cluster {
		logs := logText(t, p.log)
		for _, leak := range []string{cbtisSecret, v3APIv3Key, "client_secret="} {
			if strings.Contains(logs, leak) {
				t.Fatalf("the log of %s contains %q", p.base, leak)
			}
		}
	}
}

// ageDedupeEntry moves a stored de-duplication entry's acked_at and
// expires_at back by by and a second, as the instances' clocks would read
// it once that time has passed; it is written whole (renamed into place
// from a file outside the entries' prefix), so that a purge reading it
// meanwhile sees the old entry or the new one.
func ageDedupeEntry(t *testing.T, storage, entry string, by time.Duration) {
	t.Helper()
	b, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("entry %s: %v", b, err)
	}
	for _, field := range []string{"acked_at", "expires_at"} {
		at, err := time.Parse(time.RFC3339Nano, rec[field].(string))
		if err != nil {
			t.Fatalf("entry %s: %s: %v", b, field, err)
		}
		rec[field] = at.Add(-by - time.Second).Format(time.RFC3339Nano)
	}
	aged, _ := json.Marshal(rec)
	tmp := filepath.Join(storage, "aged-entry.tmp")
	if err := os.WriteFile(tmp, aged, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, entry); err != nil {
		t.Fatal(err)
	}
}
