package testport

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// soReusePort is SO_REUSEPORT on Linux's common architectures (the syscall
// package does not name it).
const soReusePort = 0xf

// TestSettledWaitsForTheStoppingServer: two servers on one port with
// SO_REUSEPORT, as Caddy has during a load; Settled returns only once the
// old one's listener is closed.
func TestSettledWaitsForTheStoppingServer(t *testing.T) {
	reuse := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1) })
		if err != nil {
			return err
		}
		return serr
	}}
	addr := "127.0.0.1:" + strconv.Itoa(Free(t))
	listen := func() net.Listener {
		l, err := reuse.Listen(context.Background(), "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = http.Serve(l, http.NotFoundHandler()) }()
		return l
	}
	old, current := listen(), listen()
	defer current.Close()
	if doubled, listed := doubledListeners(); !listed || len(doubled) != 1 {
		t.Fatalf("doubledListeners: %v (listed %v), want the one shared address", doubled, listed)
	}
	closedAt := make(chan time.Time, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		closedAt <- time.Now()
		old.Close()
	}()
	if err := Settled(addr); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closedAt:
	default:
		t.Fatal("Settled returned while the old server still listened")
	}
	if doubled, _ := doubledListeners(); len(doubled) != 0 {
		t.Fatalf("still doubled after Settled: %v", doubled)
	}
}
