package main

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel kill cmd if this process dies first
// (kill -9, a crash): no Caddy or wrk outlives the benchmark.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
