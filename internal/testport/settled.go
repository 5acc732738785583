package testport

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Settled waits until the servers a Caddy configuration load stopped are
// gone and the admin endpoint at adminAddr answers. Every load starts new
// servers (the admin endpoint's, and the sites' on the ports they keep)
// beside the old ones, which it stops in the background, all listening with
// SO_REUSEPORT: the kernel hands a new connection to either, and one queued
// at a stopping server when it closes is reset. Where the process's sockets
// can be listed (Linux's /proc), it waits until no address has two of them
// listening; elsewhere, until the admin endpoint answers three new
// connections in a row.
func Settled(adminAddr string) error { return settled("self", adminAddr) }

// SettledProcess is Settled for the Caddy of another process (caddy run):
// a caddy reload returns once the new configuration runs, while the old
// servers still listen beside the new ones, and a connection the kernel
// queues at one of them then is reset (EOF to the client).
func SettledProcess(pid int, adminAddr string) error {
	return settled(strconv.Itoa(pid), adminAddr)
}

// settled is Settled for the process /proc/<proc> names ("self" or a pid).
func settled(proc, adminAddr string) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(10 * time.Second)
	for ok := 0; ; time.Sleep(5 * time.Millisecond) {
		doubled, listed := doubledListeners(proc)
		if len(doubled) > 0 {
			if time.Now().After(deadline) {
				return fmt.Errorf("two servers of this process still listen on %v after 10 s", doubled)
			}
			continue
		}
		res, err := client.Get("http://" + adminAddr + "/config/")
		if err != nil {
			ok = 0
			if time.Now().After(deadline) {
				return fmt.Errorf("the admin endpoint %s did not come back: %v", adminAddr, err)
			}
			continue
		}
		res.Body.Close()
		if ok++; listed || ok == 3 {
			return nil
		}
	}
}

// doubledListeners lists the local addresses (as /proc/net/tcp writes them)
// on which more than one socket of process proc ("self" or a pid) listens;
// listed is false where the kernel's socket tables cannot be read.
func doubledListeners(proc string) (doubled []string, listed bool) {
	fds, err := os.ReadDir("/proc/" + proc + "/fd")
	if err != nil {
		return nil, false
	}
	ours := map[string]bool{} // socket inodes
	for _, fd := range fds {
		link, err := os.Readlink("/proc/" + proc + "/fd/" + fd.Name())
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			ours[strings.TrimSuffix(inode, "]")] = true
		}
	}
	listeners := map[string]int{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		listed = true
		for _, line := range strings.Split(string(b), "\n") {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode; st 0A is LISTEN
			f := strings.Fields(line)
			if len(f) > 9 && f[3] == "0A" && ours[f[9]] {
				listeners[f[1]]++
			}
		}
	}
	for addr, n := range listeners {
		if n > 1 {
			doubled = append(doubled, addr)
		}
	}
	return doubled, listed
}
