// Package proc measures the process a benchmark child runs in: its CPU time and its peak RSS, the
// figures the bench programs print beside their baselines.
package proc

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// CPU is the process's user plus system time in seconds (getrusage), 0 when unavailable.
func CPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// PeakRSS is the process's high-water resident set (VmHWM, Linux) in MiB, 0 elsewhere.
func PeakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}
