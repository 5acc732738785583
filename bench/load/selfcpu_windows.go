package main

import "syscall"

// selfCPUTime is this process's user+system CPU time in µs: Windows has no
// getrusage; GetProcessTimes counts in 100 ns units.
func selfCPUTime() int {
	var creation, exit, kernel, user syscall.Filetime
	h, err := syscall.GetCurrentProcess()
	if err != nil || syscall.GetProcessTimes(h, &creation, &exit, &kernel, &user) != nil {
		return 0
	}
	ticks := func(f syscall.Filetime) int64 { return int64(f.HighDateTime)<<32 | int64(f.LowDateTime) }
	return int((ticks(kernel) + ticks(user)) / 10)
}
