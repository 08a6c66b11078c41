package main

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsNoStage keeps cmd/scour to flags, printing and exit codes: the
// stages are reached through internal/pipeline (and the benchmarks through
// internal/bench), so that every command runs the code `scour run` runs.
func TestImportsNoStage(t *testing.T) {
	allowed := map[string]bool{
		"internal/pipeline": true, "internal/progress": true, "internal/errkind": true,
		"internal/project": true, "internal/config": true, "internal/bench": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			rel, ok := strings.CutPrefix(path, "github.com/scour-dev/scour/")
			if ok && !allowed[rel] {
				t.Errorf("%s imports %s: reach it through internal/pipeline", f, path)
			}
		}
	}
}
