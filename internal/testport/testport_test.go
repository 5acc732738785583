package testport

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
)

// TestFreeNeverRepeats asks for many ports and checks each is new and can
// be listened on: more than the few thousand Linux draws a port-0
// listener's port from (when Pick tried only such draws, 100 in a row came
// back repeats after 6400 ports, and go test -count=40 of this test's
// 200-port version failed).
// It starts from none handed out, and leaves the process's record as it
// was, so that each of go test -count=N's runs asks for as many.
func TestFreeNeverRepeats(t *testing.T) {
	handedOut.Lock()
	before := handedOut.ports
	handedOut.ports = map[int]bool{}
	handedOut.Unlock()
	t.Cleanup(func() {
		handedOut.Lock()
		handedOut.ports = before
		handedOut.Unlock()
	})
	first, last := 32768, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if _, err := fmt.Sscan(string(b), &first, &last); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[int]bool{}
	for range 8000 {
		port := Free(t)
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		seen[port] = true
		if first <= port && port <= last {
			t.Fatalf("port %d is in the ephemeral range %d-%d, where an httptest.Server may take it", port, first, last)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatalf("port %d is not free: %v", port, err)
		}
		l.Close()
	}
}

// recordingTB is a testing.TB whose Cleanup, Skipped and Errorf are
// recorded, so that a test can watch another end skipped.
type recordingTB struct {
	testing.TB
	cleanups []func()
	skipped  bool
	errors   int
}

func (r *recordingTB) Cleanup(f func())      { r.cleanups = append(r.cleanups, f) }
func (r *recordingTB) Skipped() bool         { return r.skipped }
func (r *recordingTB) Errorf(string, ...any) { r.errors++ }

// TestNeverSkipped: a test that ends skipped fails, once however often it
// started Caddy; one that ran does not.
func TestNeverSkipped(t *testing.T) {
	for _, skipped := range []bool{false, true} {
		r := &recordingTB{TB: t, skipped: skipped}
		NeverSkipped(r)
		NeverSkipped(r) // a second Caddy in the same test
		if len(r.cleanups) != 1 {
			t.Fatalf("%d cleanups registered, want 1", len(r.cleanups))
		}
		r.cleanups[0]()
		if want := map[bool]int{false: 0, true: 1}[skipped]; r.errors != want {
			t.Fatalf("skipped %v: %d errors, want %d", skipped, r.errors, want)
		}
	}
}
