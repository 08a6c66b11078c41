// Package progress is how stages tell the user what they are doing without
// printing anything themselves: a stage emits Events to a Sink, and the CLI
// renders them as bars on a terminal, plain lines in a log, or JSON lines.
package progress

import "sync"

// Kind says what an Event means.
type Kind string

const (
	// Begin starts a unit of work of Total items (0 = unknown) named by Stage.
	Begin Kind = "begin"
	// Advance reports Done more items finished (a delta, not a total).
	Advance Kind = "advance"
	// Note is a human-readable message (Msg); Level is "info" or "warn".
	Note Kind = "note"
	// End closes the unit of work started by the matching Begin.
	End Kind = "end"
)

// Event is one thing a stage has to say.
type Event struct {
	Kind  Kind   `json:"kind"`
	Stage string `json:"stage"`
	Total int64  `json:"total,omitempty"`
	Done  int64  `json:"done,omitempty"`
	Level string `json:"level,omitempty"`
	Msg   string `json:"msg,omitempty"`
}

// Sink receives events. Emit must be safe for concurrent use and must not
// block for long: stages call it from their worker goroutines.
type Sink interface {
	Emit(Event)
}

// Discard drops every event.
var Discard Sink = discard{}

type discard struct{}

func (discard) Emit(Event) {}

// Func adapts a function to a Sink.
type Func func(Event)

func (f Func) Emit(e Event) { f(e) }

// Recorder keeps every event; tests use it to check what a stage reported.
type Recorder struct {
	mu     sync.Mutex
	Events []Event
}

func (r *Recorder) Emit(e Event) {
	r.mu.Lock()
	r.Events = append(r.Events, e)
	r.mu.Unlock()
}

// Notes returns the messages of all Note events.
func (r *Recorder) Notes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.Events {
		if e.Kind == Note {
			out = append(out, e.Msg)
		}
	}
	return out
}

// Helpers that keep call sites short. A nil Sink discards.

func emit(s Sink, e Event) {
	if s != nil {
		s.Emit(e)
	}
}

func Start(s Sink, stage string, total int64) {
	emit(s, Event{Kind: Begin, Stage: stage, Total: total})
}
func Step(s Sink, stage string, n int64) { emit(s, Event{Kind: Advance, Stage: stage, Done: n}) }
func Finish(s Sink, stage string)        { emit(s, Event{Kind: End, Stage: stage}) }
func Info(s Sink, stage, msg string) {
	emit(s, Event{Kind: Note, Stage: stage, Level: "info", Msg: msg})
}
func Warn(s Sink, stage, msg string) {
	emit(s, Event{Kind: Note, Stage: stage, Level: "warn", Msg: msg})
}
