package transformtest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// ConnServer is a test server that counts the connections it has open,
// as its ConnState sees them: accepted and not yet closed (or hijacked).
type ConnServer struct {
	*httptest.Server
	open atomic.Int64
}

// NewConnServer starts a server of h counting its open connections; it is
// closed when the test ends.
func NewConnServer(tb testing.TB, h http.Handler) *ConnServer {
	tb.Helper()
	s := &ConnServer{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		switch state {
		case http.StateNew:
			s.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.open.Add(-1)
		}
	}
	s.Start()
	tb.Cleanup(s.Close)
	return s
}

// Open is how many connections the server has open now.
func (s *ConnServer) Open() int { return int(s.open.Load()) }

// OpenAfter is how many connections the server has open once they have
// dropped to want or d has passed: a connection the client closes is seen
// closed by the server a moment later.
func (s *ConnServer) OpenAfter(want int, d time.Duration) int {
	for deadline := time.Now().Add(d); s.Open() != want && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	return s.Open()
}
