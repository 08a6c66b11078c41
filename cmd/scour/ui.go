package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/scour-dev/scour/internal/progress"
)

// ui renders what stages report: bars with rate and ETA on a terminal, plain
// lines in a pipe or log, JSON lines with --json. Results go to stdout,
// everything else to stderr, so `scour export > file` stays clean.
type ui struct {
	g    *globals
	out  io.Writer
	err  io.Writer
	tty  bool
	mu   sync.Mutex
	bars map[string]*bar
}

type bar struct {
	stage       string
	total, done int64
	start       time.Time
	lastPrint   time.Time
}

func newUI(g *globals) *ui {
	return &ui{g: g, out: os.Stdout, err: os.Stderr, tty: term.IsTerminal(int(os.Stderr.Fd())), bars: map[string]*bar{}}
}

// Emit implements progress.Sink.
func (u *ui) Emit(e progress.Event) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.g.json {
		json.NewEncoder(u.err).Encode(e)
		return
	}
	switch e.Kind {
	case progress.Note:
		if u.g.quiet && e.Level != "warn" {
			return
		}
		if !u.g.verbose && e.Level == "info" && e.Stage == "search" {
			return
		}
		u.clearLine()
		prefix := ""
		if e.Level == "warn" {
			prefix = "warning: "
		}
		fmt.Fprintf(u.err, "%s%s\n", prefix, e.Msg)
	case progress.Begin:
		now := time.Now()
		u.bars[e.Stage] = &bar{stage: e.Stage, total: e.Total, start: now, lastPrint: now}
	case progress.Advance:
		b := u.bars[e.Stage]
		if b == nil {
			now := time.Now()
			b = &bar{stage: e.Stage, start: now, lastPrint: now}
			u.bars[e.Stage] = b
		}
		b.done += e.Done
		u.draw(b, false)
	case progress.End:
		if b := u.bars[e.Stage]; b != nil {
			u.draw(b, true)
			delete(u.bars, e.Stage)
		}
	}
}

func (u *ui) clearLine() {
	if u.tty {
		fmt.Fprint(u.err, "\r\033[K")
	}
}

func (u *ui) draw(b *bar, final bool) {
	if u.g.quiet {
		return
	}
	now := time.Now()
	el := now.Sub(b.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(b.done) / el
	}
	if u.tty {
		if !final && now.Sub(b.lastPrint) < 100*time.Millisecond {
			return
		}
		b.lastPrint = now
		line := fmt.Sprintf("%-7s %s %d", b.stage, barGlyphs(b.done, b.total, 24), b.done)
		if b.total > 0 {
			line += fmt.Sprintf("/%d", b.total)
		}
		if el >= 1 {
			line += fmt.Sprintf("  %.0f/s", rate)
		}
		if b.total > 0 && rate > 0 && el >= 1 && b.done < b.total {
			line += "  ETA " + (time.Duration(float64(b.total-b.done)/rate) * time.Second).Round(time.Second).String()
		}
		fmt.Fprint(u.err, "\r\033[K"+line)
		if final {
			fmt.Fprintln(u.err)
		}
		return
	}
	// Not a terminal: a plain line every 10 seconds, and at the end.
	if final || now.Sub(b.lastPrint) >= 10*time.Second {
		b.lastPrint = now
		line := fmt.Sprintf("%s: %d", b.stage, b.done)
		if b.total > 0 {
			line += fmt.Sprintf("/%d", b.total)
		}
		if el >= 1 {
			line += fmt.Sprintf(" (%.0f/s)", rate)
		}
		fmt.Fprintln(u.err, line)
	}
}

func barGlyphs(done, total int64, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat("·", width) + "]"
	}
	n := int(float64(width) * float64(done) / float64(total))
	n = max(0, min(width, n))
	return "[" + strings.Repeat("█", n) + strings.Repeat("░", width-n) + "]"
}

// result prints v as JSON with --json, else calls human.
func (u *ui) result(v any, human func(w io.Writer)) error {
	if u.g.json {
		enc := json.NewEncoder(u.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	if !u.g.quiet {
		human(u.out)
	}
	return nil
}

func (u *ui) errorf(code int, err error) {
	if u.g.json {
		json.NewEncoder(u.err).Encode(map[string]any{"error": err.Error(), "exit_code": code})
		return
	}
	u.clearLine()
	fmt.Fprintf(u.err, "scour: %v\n", err)
	if code == exitInterrupted {
		fmt.Fprintln(u.err, "scour: interrupted; everything recorded so far is kept. Run the same command again to continue.")
	}
}

var _ progress.Sink = (*ui)(nil)
