package integration

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStopCutsForwardingShort: an instance stopped (SIGTERM) while it
// forwards an event, its grace_period over (1ns here) before the merchant
// backend answers, never acknowledges the event to the provider (the
// connection is closed unanswered) and leaves the event's dedupe lock in
// file_system, as an instance that dies does: another instance on the same
// storage answers the provider's retries 503 (the failure form, outcome
// in_progress) until the lock is stale (10 s after it was last
// refreshed), then forwards the event and acknowledges it once the backend
// answered 2xx; a retry after that is a duplicate, not forwarded.
// README "Clusters" ("When an instance dies holding a lock").
func TestStopCutsForwardingShort(t *testing.T) {
	bin := buildCaddy(t, t.TempDir())
	storage := filepath.Join(t.TempDir(), "storage")
	merchant := newCountingMerchant(t)
	site := `
	handle /webhooks/cbtis {
		minipay_webhook cbtis {
			dedupe 25h
			api_key ` + cbtisAPIKey + `
		}
		reverse_proxy ` + strings.TrimPrefix(merchant.srv.URL, "http://") + `
	}`
	const eventID = "cbtis:STOP-1:payment.succeeded"
	body, signature := cbtisNotification("STOP-1")

	// b runs beside a on the same storage (a cluster, or a itself started
	// again), ready before a stops, so that its answers are timed from the
	// stop and not from its own start.
	a := startProcess(t, bin, "a", "file_system "+storage, site)
	b := startProcess(t, bin, "b", "file_system "+storage, site)
	merchant.delay.Store(int64(30 * time.Second)) // the backend takes longer than the stop
	answered := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, a.base+"/webhooks/cbtis", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Signature", signature)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- "no answer: " + err.Error()
			return
		}
		defer res.Body.Close()
		answered <- res.Status
	}()
	for deadline := time.Now().Add(20 * time.Second); merchant.count(eventID) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the event never reached the backend")
		}
	}
	if err := a.process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-answered:
		if !strings.HasPrefix(got, "no answer") {
			t.Errorf("the notification under way when Caddy stopped: %s, want the connection closed unanswered", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the notification under way was still unanswered 20 s after the SIGTERM")
	}
	locks, _ := filepath.Glob(filepath.Join(storage, "locks", "*.lock"))
	if len(locks) != 1 {
		t.Fatalf("locks left in the storage: %q, want the event's", locks)
	}
	lockInfo, err := os.Stat(locks[0])
	if err != nil {
		t.Fatal(err)
	}

	merchant.delay.Store(0)
	var refused int
	for {
		status, answer := notifyProcess(t, b, "/webhooks/cbtis", body, signature)
		if status == 200 && answer == "success" {
			break
		}
		if status != http.StatusServiceUnavailable || !strings.HasPrefix(answer, "fail: ") {
			t.Fatalf("a retry while the lock is held: %d %q, want 503 and the failure form", status, answer)
		}
		refused++
		if time.Since(lockInfo.ModTime()) > 25*time.Second {
			t.Fatalf("retries still refused %v after the lock was taken (%d refused)", time.Since(lockInfo.ModTime()).Round(time.Second), refused)
		}
	}
	if took := time.Since(lockInfo.ModTime()); took < 8*time.Second {
		t.Errorf("the retry was forwarded %v after the lock was taken, before file_system could find it stale", took.Round(time.Millisecond))
	}
	if refused == 0 || merchant.count(eventID) != 2 {
		t.Errorf("%d retries refused, the backend received the event %d times; want some refused and 2 (the stopped forwarding, the acknowledged one)", refused, merchant.count(eventID))
	}
	t.Logf("%d retries refused 503; forwarded and acknowledged %v after the lock was taken", refused, time.Since(lockInfo.ModTime()).Round(100*time.Millisecond))
	mustAck(t, b, "/webhooks/cbtis", body, signature)
	if got := merchant.count(eventID); got != 2 {
		t.Errorf("the acknowledged event was forwarded again: %d deliveries", got)
	}
}
