package search

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
)

//go:embed recorded/bing.html
var recordedBing []byte

//go:embed recorded/commons.json
var recordedCommons []byte

// ErrNoRecording means an engine has no recorded response to check against.
var ErrNoRecording = errors.New("no recorded response to check against")

// SelfCheck parses the recorded response of engine name, the check `scour
// doctor` makes when it cannot reach the live service: it proves this build
// still understands the markup the engine was written for, and returns how
// many results it read.
func SelfCheck(name string) (int, error) {
	switch name {
	case "bing":
		p, err := parseBing(recordedBing)
		if err != nil {
			return 0, err
		}
		if len(p.results) == 0 {
			return 0, errors.New("bing: 0 results parsed from the recorded page")
		}
		return len(p.results), nil
	case "commons":
		var reply struct {
			Query struct {
				Pages json.RawMessage `json:"pages"`
			} `json:"query"`
		}
		if err := json.Unmarshal(recordedCommons, &reply); err != nil {
			return 0, fmt.Errorf("commons: %w", err)
		}
		pages, err := decodePages(reply.Query.Pages)
		if err != nil {
			return 0, err
		}
		n := 0
		for _, pg := range pages {
			if _, ok := commonsResult(pg); ok {
				n++
			}
		}
		if n == 0 {
			return 0, errors.New("commons: no image parsed from the recorded reply")
		}
		return n, nil
	case "duckduckgo":
		return 0, ErrNoRecording
	}
	return 0, fmt.Errorf("engine %q: %w", name, ErrNoRecording)
}
