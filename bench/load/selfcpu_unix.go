//go:build unix

package main

import "syscall"

// selfCPUTime is this process's user+system CPU time in µs: the upstream's
// work, and this benchmark's own bookkeeping (which is idle during a run).
func selfCPUTime() int {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return int(ru.Utime.Sec+ru.Stime.Sec)*1e6 + int(ru.Utime.Usec+ru.Stime.Usec)
}
