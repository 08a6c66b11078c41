//go:build !linux

package catalogbench

import "github.com/scour-dev/scour/internal/rusage"

// Elsewhere the peak cannot be restarted: each step reports the process's
// peak so far, an upper bound.
func resetPeak() bool { return false }

func peakSinceReset() int64 { return rusage.PeakRSS() }
