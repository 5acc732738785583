// Package testport hands out loopback ports to tests that start servers
// (Caddy sites, admin endpoints, fake providers) in one test process.
package testport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// handedOut holds the ports Pick has returned, so that no two servers of
// one process are given the same port before either listens.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// Pick returns a loopback port that was free a moment ago, that this
// process has not been given before, and that lies outside the kernel's
// ephemeral range. A port-0 listener (every httptest.Server, every
// outgoing connection's local end) is drawn from that range, so a port
// picked there and closed until Caddy binds it could meanwhile be taken
// by a test's fake provider or merchant: CI, 7 December, the fault mix's
// merchant backend landed on the admin port picked at process start, and
// caddytest's POST /load reached the backend ("failed to load config: not
// an event").
func Pick() (int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	lo, hi := pickRange()
	n := hi - lo + 1
	start := rand.IntN(n)
	for i := range n {
		port := lo + (start+i)%n
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
	return 0, fmt.Errorf("testport: every port of %d-%d was handed out or in use", lo, hi)
}

// PortsVariable names the environment variable that gives Pick a range of
// its own, "lo-hi" (62900-63299): several test runs on one machine, each
// told its own ports, then never pick one another's. A value that is not
// such a range is ignored.
const PortsVariable = "MINIPAY_TEST_PORTS"

// pickRange is the ports Pick draws from: PortsVariable's range when set;
// else below the ephemeral range that /proc/sys/net/ipv4/ip_local_port_range
// gives (Linux's default 32768-60999 where it cannot be read), or above it
// when too few lie below.
func pickRange() (lo, hi int) {
	if a, z, ok := strings.Cut(os.Getenv(PortsVariable), "-"); ok {
		lo, errLo := strconv.Atoi(a)
		hi, errHi := strconv.Atoi(z)
		if errLo == nil && errHi == nil && 0 < lo && lo <= hi && hi <= 65535 {
			return lo, hi
		}
	}
	first, last := 32768, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			a, errA := strconv.Atoi(f[0])
			z, errZ := strconv.Atoi(f[1])
			if errA == nil && errZ == nil && 0 < a && a <= z && z <= 65535 {
				first, last = a, z
			}
		}
	}
	const floor, enough = 10000, 8192 // TestFreeNeverRepeats asks for 8000
	switch {
	case first-floor >= enough:
		return floor, first - 1
	case 65535-last >= enough:
		return last + 1, 65535
	default:
		return floor, 65535 // no room outside: the old behaviour's odds
	}
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
