package search

import (
	"errors"
	"testing"
)

func TestSelfCheckParsesRecordings(t *testing.T) {
	for name, want := range map[string]int{"bing": 2, "commons": 1} {
		n, err := SelfCheck(name)
		if err != nil || n != want {
			t.Errorf("%s: %d results, %v; want %d", name, n, err, want)
		}
	}
	if _, err := SelfCheck("duckduckgo"); !errors.Is(err, ErrNoRecording) {
		t.Errorf("duckduckgo: %v", err)
	}
}
