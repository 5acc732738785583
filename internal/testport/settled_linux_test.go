package testport

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// soReusePort is SO_REUSEPORT on Linux's common architectures (the syscall
// package does not name it).
const soReusePort = 0xf

// reuse listens with SO_REUSEPORT, as Caddy's servers do.
var reuse = net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1) })
	if err != nil {
		return err
	}
	return serr
}}

// serveReused serves 404s on addr from a new SO_REUSEPORT socket.
func serveReused(addr string) (net.Listener, error) {
	l, err := reuse.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	go func() { _ = http.Serve(l, http.NotFoundHandler()) }()
	return l, nil
}

// TestSettledWaitsForTheStoppingServer: two servers on one port with
// SO_REUSEPORT, as Caddy has during a load; Settled returns only once the
// old one's listener is closed.
func TestSettledWaitsForTheStoppingServer(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(Free(t))
	listen := func() net.Listener {
		l, err := serveReused(addr)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	old, current := listen(), listen()
	defer current.Close()
	if doubled, listed := doubledListeners("self"); !listed || len(doubled) != 1 {
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
	if doubled, _ := doubledListeners("self"); len(doubled) != 0 {
		t.Fatalf("still doubled after Settled: %v", doubled)
	}
}

// childAddr, set in the environment of this test binary run as a child
// process, makes TestMain a server of that address that listens twice and
// closes its first listener after 300 ms, as a Caddy process does while a
// reload stops its old server.
const childAddr = "TESTPORT_REUSED_CHILD_ADDR"

func TestMain(m *testing.M) {
	if addr := os.Getenv(childAddr); addr != "" {
		old, err := serveReused(addr)
		if err == nil {
			_, err = serveReused(addr)
		}
		if err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		fmt.Println("listening")
		time.Sleep(300 * time.Millisecond)
		old.Close()
		select {} // killed by the test
	}
	os.Exit(m.Run())
}

// TestSettledProcessWaitsForItsStoppingServer: SettledProcess reads the
// other process's sockets, not this one's (which hold no doubled address),
// and returns only once that process closed its old listener.
func TestSettledProcessWaitsForItsStoppingServer(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(Free(t))
	child := exec.Command(os.Args[0], "-test.run", "^$")
	child.Env = append(os.Environ(), childAddr+"="+addr)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "listening\n" {
		t.Fatalf("child: %q", line)
	}
	started := time.Now()
	if doubled, listed := doubledListeners(strconv.Itoa(child.Process.Pid)); !listed || len(doubled) != 1 {
		t.Fatalf("doubledListeners of the child: %v (listed %v), want the one shared address", doubled, listed)
	}
	if err := SettledProcess(child.Process.Pid, addr); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(started); took < 200*time.Millisecond {
		t.Fatalf("SettledProcess returned after %v, while the child's old server still listened", took)
	}
	if doubled, _ := doubledListeners(strconv.Itoa(child.Process.Pid)); len(doubled) != 0 {
		t.Fatalf("still doubled after SettledProcess: %v", doubled)
	}
}
