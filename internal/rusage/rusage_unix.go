//go:build unix

// Package rusage reads what the benchmarks report about a process: its peak
// resident memory and the CPU time it used.
package rusage

import (
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// maxrssUnit is the unit of ru_maxrss: bytes on macOS, KiB elsewhere.
func maxrssUnit() int64 {
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return 1
	}
	return 1024
}

// PeakRSS is this process's high-water resident set size in bytes, or 0.
func PeakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss) * maxrssUnit()
}

// ChildPeakRSS is a finished child's high-water resident set size, or 0.
func ChildPeakRSS(cmd *exec.Cmd) int64 {
	if cmd.ProcessState == nil {
		return 0
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss) * maxrssUnit()
	}
	return 0
}

// CPUTime is this process's user+system CPU time, or -1 if unknown.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
