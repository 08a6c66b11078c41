// Package sharedtest finds the ../shared folder of real test data (models,
// photos, recorded API responses) that sits beside the repository. Tests use
// it; the product never does.
package sharedtest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir returns the absolute path of ../shared, or skips the test with a
// message that says where it looked. SCOUR_SHARED overrides the location.
func Dir(t testing.TB) string {
	t.Helper()
	d, ok := Find()
	if !ok {
		t.Skipf("shared test data not found at %s (set SCOUR_SHARED to its location)", d)
	}
	return d
}

// Path joins elems under the shared folder and skips the test if that path
// does not exist.
func Path(t testing.TB, elems ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Dir(t)}, elems...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test file missing: %v", err)
	}
	return p
}

// Find returns the shared folder and whether it exists. Benchmarks that are
// not tests use it directly.
func Find() (string, bool) {
	if d := os.Getenv("SCOUR_SHARED"); d != "" {
		_, err := os.Stat(d)
		return d, err == nil
	}
	_, file, _, _ := runtime.Caller(0)
	// file is <repo>/internal/sharedtest/sharedtest.go; shared sits beside <repo>.
	d := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared")
	d, _ = filepath.Abs(d)
	_, err := os.Stat(d)
	return d, err == nil
}
