// Package testport hands out loopback ports to tests that start servers
// (Caddy sites, admin endpoints, fake providers) in one test process.
package testport

import (
	"errors"
	"net"
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
	for range 100 {
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
	return 0, errors.New("testport: no new free port after 100 tries")
}

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
