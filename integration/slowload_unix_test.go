//go:build unix

package integration

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestStartCaddyWaitsForASlowLoad: a configuration whose load takes longer
// than caddytest's own 5 s (its LoadRequestTimeout default) still starts.
// Under -race on a loaded two-core machine a large one did:
// TestUpstreamAndMerchantFaults failed with "POST /load: context deadline
// exceeded" (1 run in 5, one CPU shared with other work). Here the key file
// is a FIFO: the load, reading it, waits until the test writes the key,
// 6 s after the load opened it.
func TestStartCaddyWaitsForASlowLoad(t *testing.T) {
	const slow = 6 * time.Second
	key := filepath.Join(t.TempDir(), "api_key")
	if err := syscall.Mkfifo(key, 0o600); err != nil {
		t.Fatal(err)
	}
	written := make(chan error, 1)
	go func() { written <- writeWhenRead(key, apiKey, slow) }()
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+keyedSite(port, key, "127.0.0.1:9"))
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	// The configuration loaded is the one serving: a query reaches the
	// (absent) provider and fails as README "Errors" says.
	r := postJSON(t, tc, "http://localhost:"+port+"/wechat/query", `{"order_id":"SLOW-1"}`)
	if e := r.errorOf(t); r.status != 502 || e["code"] != "upstream_error" {
		t.Fatalf("query: %d %s, want 502 upstream_error", r.status, r.body)
	}
}

// writeWhenRead writes text to the FIFO path once a reader has had it open
// for wait.
func writeWhenRead(path, text string, wait time.Duration) error {
	deadline := time.Now().Add(time.Minute)
	for {
		// Without a reader, a FIFO opened for writing without blocking is ENXIO.
		fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			f := os.NewFile(uintptr(fd), path)
			time.Sleep(wait)
			_, err = f.WriteString(text)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return err
		}
		if err != syscall.ENXIO || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}
