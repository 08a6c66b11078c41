package catalogbench

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// resetPeak starts a new high-water mark of the resident set, so that each
// step's peak is its own rather than the largest of all steps so far.
// Writing 5 to clear_refs does that on Linux 4.0 and later.
func resetPeak() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakSinceReset is VmHWM, the high-water mark resetPeak restarted.
func peakSinceReset() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
