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
	t.Setenv(PortsVariable, "") // the default range: 8000 ports
	noneHandedOut(t)
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

// TestPickRangeFromEnvironment: PortsVariable's "lo-hi" is the range Pick
// draws from, every port of it handed out once and then none; a value
// that is no such range leaves the default.
func TestPickRangeFromEnvironment(t *testing.T) {
	t.Setenv(PortsVariable, "")
	defLo, defHi := pickRange()
	for _, tt := range []struct {
		value  string
		lo, hi int
	}{
		{"62900-63299", 62900, 63299}, {"1024-1024", 1024, 1024}, {"", defLo, defHi}, {"62900", defLo, defHi},
		{"x-y", defLo, defHi}, {"63299-62900", defLo, defHi}, {"0-10", defLo, defHi}, {"1-65536", defLo, defHi}, {"-1-5", defLo, defHi},
	} {
		t.Setenv(PortsVariable, tt.value)
		if lo, hi := pickRange(); lo != tt.lo || hi != tt.hi {
			t.Errorf("%s=%q: range %d-%d, want %d-%d", PortsVariable, tt.value, lo, hi, tt.lo, tt.hi)
		}
	}

	noneHandedOut(t)
	t.Setenv(PortsVariable, "63290-63299") // the last ten of this run's own range
	seen := map[int]bool{}
	for {
		port, err := Pick()
		if err != nil {
			break
		}
		if port < 63290 || port > 63299 || seen[port] {
			t.Fatalf("Pick gave %d (seen before: %v) from 63290-63299", port, seen[port])
		}
		seen[port] = true
	}
	if len(seen) == 0 {
		t.Error("Pick gave no port of 63290-63299")
	}
}

// noneHandedOut starts t from no port handed out, and puts the process's
// record back when t ends.
func noneHandedOut(t *testing.T) {
	handedOut.Lock()
	before := handedOut.ports
	handedOut.ports = map[int]bool{}
	handedOut.Unlock()
	t.Cleanup(func() {
		handedOut.Lock()
		handedOut.ports = before
		handedOut.Unlock()
	})
}
