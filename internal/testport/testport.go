// Package testport hands out loopback ports to tests that start servers
// (Caddy sites, admin endpoints, fake providers) in one test process.
package testport

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"testing"
)

// handedOut holds the ports Pick has returned: two "listen on :0, close"
// calls can return the same port while neither is in use yet, and a site
// that lands on another's port (the admin endpoint's, say) answers 404s.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// Pick returns a loopback port that was free a moment ago and that this
// process has not been given before.
func Pick() (int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 10 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port, nil
		}
	}
	// Linux draws a port-0 listener's port from a few thousand of its
	// ephemeral range only (6500 distinct in 20000 draws): a process given
	// most of them (6400 ports, as go test -count=N of a package that
	// starts many servers asks for) drew 100 repeats in a row and failed.
	// The rest of the range, tried in turn, is as free.
	start := rand.IntN(lastEphemeral - firstEphemeral + 1)
	for i := range lastEphemeral - firstEphemeral + 1 {
		port := firstEphemeral + (start+i)%(lastEphemeral-firstEphemeral+1)
		if handedOut.ports[port] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue // in use
		}
		l.Close()
		handedOut.ports[port] = true
		return port, nil
	}
	return 0, errors.New("testport: every port of the ephemeral range was handed out or in use")
}

// The ephemeral range of Linux (net.ipv4.ip_local_port_range), where
// port-0 listeners land; other systems' ports there are as good.
const firstEphemeral, lastEphemeral = 32768, 60999

// Free is Pick for a test: a failure ends the test.
func Free(tb testing.TB) int {
	tb.Helper()
	port, err := Pick()
	if err != nil {
		tb.Fatal(err)
	}
	return port
}

// neverSkipped holds the tests NeverSkipped was given, so that a test
// that starts Caddy several times is checked once.
var neverSkipped sync.Map

// NeverSkipped makes tb fail if it ends skipped. caddytest skips a test
// whose Caddy it cannot start (go test -short, or a failed prerequisite
// such as a busy admin port): an integration test that drove no Caddy must
// not pass as a skip wherever it runs, not only where .ci/run reads SKIP.
func NeverSkipped(tb testing.TB) {
	if _, seen := neverSkipped.LoadOrStore(tb, true); seen {
		return
	}
	tb.Cleanup(func() {
		neverSkipped.Delete(tb)
		if tb.Skipped() {
			tb.Errorf("skipped: caddytest did not start Caddy (go test -short, or a failed prerequisite); an integration test never skips")
		}
	})
}
