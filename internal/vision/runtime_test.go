package vision

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRuntimeLibrary(t *testing.T) {
	touch := func(t *testing.T, path string) string {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("lib"), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, cache string) (env, want string)
		noLib bool   // expect ErrNoRuntime
		inMsg string // with this in the message
	}{
		{
			name: "env var wins over the cache",
			setup: func(t *testing.T, cache string) (string, string) {
				touch(t, filepath.Join(cache, "scour", "onnxruntime-1.30.0", "libonnxruntime.so.1"))
				p := touch(t, filepath.Join(t.TempDir(), "custom.so"))
				return p, p
			},
		},
		{
			name: "env var naming a missing file",
			setup: func(t *testing.T, cache string) (string, string) {
				touch(t, filepath.Join(cache, "scour", "onnxruntime-1.30.0", "libonnxruntime.so.1"))
				return filepath.Join(cache, "nope.so"), ""
			},
			noLib: true, inMsg: "SCOUR_ONNXRUNTIME_LIB=",
		},
		{
			name: "newest version in the cache, compared as numbers",
			setup: func(t *testing.T, cache string) (string, string) {
				touch(t, filepath.Join(cache, "scour", "onnxruntime-1.9.0", "libonnxruntime.so.1"))
				touch(t, filepath.Join(cache, "scour", "onnxruntime-1.22.1", "libonnxruntime.so.1"))
				return "", touch(t, filepath.Join(cache, "scour", "onnxruntime-1.30.0", "libonnxruntime.so.1"))
			},
		},
		{
			name:  "nothing anywhere",
			setup: func(t *testing.T, cache string) (string, string) { return "", "" },
			noLib: true, inMsg: ".ci/onnxruntime.sh",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			t.Setenv("XDG_CACHE_HOME", cache)
			env, want := tc.setup(t, cache)
			t.Setenv("SCOUR_ONNXRUNTIME_LIB", env)
			old := systemLibDirs
			systemLibDirs = []string{filepath.Join(cache, "no-system-lib")}
			defer func() { systemLibDirs = old }()

			got, err := RuntimeLibrary()
			if tc.noLib {
				if !errors.Is(err, ErrNoRuntime) {
					t.Fatalf("got %q, %v; want ErrNoRuntime", got, err)
				}
				for _, s := range []string{tc.inMsg, "SCOUR_ONNXRUNTIME_LIB", ".ci/onnxruntime.sh"} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil || got != want {
				t.Errorf("got %q, %v; want %q", got, err, want)
			}
		})
	}
}
