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
