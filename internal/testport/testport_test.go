package testport

import (
	"net"
	"strconv"
	"testing"
)

// TestFreeNeverRepeats asks for many ports and checks each is new and can
// be listened on.
func TestFreeNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		port := Free(t)
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		seen[port] = true
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
