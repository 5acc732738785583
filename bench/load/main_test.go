package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStartSideCaddyExits: a Caddy that exits at start (here a stand-in
// that fails as Caddy does when its port is taken) is reported at once,
// with the end of its log in the error, since the work directory holding
// the log is removed when the benchmark returns. It used to wait 30 s for
// the admin endpoint and name the removed log file.
func TestStartSideCaddyExits(t *testing.T) {
	dir := t.TempDir()
	const refusal = "listen tcp 127.0.0.1:1: bind: address already in use"
	caddy := filepath.Join(dir, "caddy")
	if err := os.WriteFile(caddy, []byte("#!/bin/sh\necho '"+refusal+"' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s, err := startSide(context.Background(), caddy, dir, "plain", "", "\trespond ok\n")
	if err == nil {
		s.stop()
		t.Fatal("a Caddy that exited at start was taken as started")
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("reported after %s", waited)
	}
	if !strings.Contains(err.Error(), refusal) {
		t.Errorf("the error does not carry the end of Caddy's log: %v", err)
	}
}
