//go:build !linux

package main

import "os/exec"

// setParentDeathSignal does nothing where the kernel has no parent death
// signal; Ctrl-C still stops every process the benchmark started.
func setParentDeathSignal(*exec.Cmd) {}
