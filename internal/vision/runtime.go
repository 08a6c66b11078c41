package vision

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// RuntimeVersion is the ONNX Runtime release scour is built and tested
// against; the Go binding needs a library at least this new.
const RuntimeVersion = "1.30.0"

// ErrNoRuntime means the ONNX Runtime shared library could not be found or
// loaded. Callers can go on with the checks that need no model.
var ErrNoRuntime = errors.New("ONNX Runtime library not available")

const runtimeHelp = "run .ci/onnxruntime.sh from the scour source tree (it unpacks libonnxruntime.so.1 " +
	"from the npm package onnxruntime-node@" + RuntimeVersion + " into ~/.cache/scour), " +
	"or set SCOUR_ONNXRUNTIME_LIB to the path of libonnxruntime.so.1"

// systemLibDirs are searched last, after the user's setting and the cache.
var systemLibDirs = []string{"/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib64"}

// RuntimeLibrary returns the path of the ONNX Runtime shared library to load:
// $SCOUR_ONNXRUNTIME_LIB when set (it must exist), else the newest
// onnxruntime-*/libonnxruntime.so.1 under the user cache directory's scour
// folder ($XDG_CACHE_HOME or ~/.cache), else one in the system library
// directories. The error wraps ErrNoRuntime and says how to get the library.
func RuntimeLibrary() (string, error) {
	if p := os.Getenv("SCOUR_ONNXRUNTIME_LIB"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: SCOUR_ONNXRUNTIME_LIB=%s: %v; %s", ErrNoRuntime, p, err, runtimeHelp)
		}
		return p, nil
	}
	var looked []string
	if cache, err := os.UserCacheDir(); err == nil {
		pattern := filepath.Join(cache, "scour", "onnxruntime-*", "libonnxruntime.so.1")
		looked = append(looked, pattern)
		found, _ := filepath.Glob(pattern)
		if len(found) > 0 {
			slices.SortFunc(found, func(a, b string) int {
				return compareVersions(versionOf(a), versionOf(b))
			})
			return found[len(found)-1], nil
		}
	}
	for _, d := range systemLibDirs {
		p := filepath.Join(d, "libonnxruntime.so.1")
		looked = append(looked, p)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: looked for %s; %s", ErrNoRuntime, strings.Join(looked, ", "), runtimeHelp)
}

// versionOf extracts "1.30.0" from ".../onnxruntime-1.30.0/libonnxruntime.so.1".
func versionOf(path string) string {
	return strings.TrimPrefix(filepath.Base(filepath.Dir(path)), "onnxruntime-")
}

// compareVersions orders dotted versions numerically, so 1.30.0 > 1.9.0.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			fmt.Sscan(as[i], &x)
		}
		if i < len(bs) {
			fmt.Sscan(bs[i], &y)
		}
		if x != y {
			return x - y
		}
	}
	return 0
}
