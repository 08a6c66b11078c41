package clean

import (
	"os"
	"runtime/debug"
)

// judgeGCPercent is the garbage collector's target while clean runs: the
// heap may grow to 1.5 times what is live instead of twice (Go's default,
// GOGC=100). Clean holds every image's embedding at once, 5 KB each, and
// makes garbage of the same order as it goes (decoded photos while
// reading, matrices while judging); at 100,000 images the default would
// let the heap reach a gigabyte more than it holds. Those are float and
// pixel arrays without pointers, which a collection does not scan, so
// collecting more often costs little: 1.6% of the CPU when judging 80,000
// images.
const judgeGCPercent = 50

// tightenGC sets judgeGCPercent until the returned function restores the
// previous target. A GOGC the user set is left alone.
func tightenGC() (restore func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	prev := debug.SetGCPercent(judgeGCPercent)
	if prev >= 0 && prev < judgeGCPercent {
		debug.SetGCPercent(prev)
	}
	return func() { debug.SetGCPercent(prev) }
}
