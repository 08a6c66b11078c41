package main

import (
	"bufio"
	"encoding/json"
	"io"

	"github.com/scour-dev/scour/internal/progress"
)

// awaitEvent reads the JSON progress lines a `scour --json` child writes to
// stderr until match accepts one, and reports whether one came before the
// stream ended. The rest of the stream is drained in the background so the
// child never blocks on a full pipe. Waiting on the child's own events,
// rather than polling its files with sleeps, makes a test act at the same
// point of the run every time.
func awaitEvent(r io.Reader, match func(progress.Event) bool) bool {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	found := false
	for sc.Scan() {
		var e progress.Event
		if json.Unmarshal(sc.Bytes(), &e) == nil && match(e) {
			found = true
			break
		}
	}
	go io.Copy(io.Discard, r)
	return found
}
