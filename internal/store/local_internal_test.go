package store

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/scour-dev/scour/internal/errkind"
)

// The conditions behind these errors (a full disk, a read-only mount) cannot
// be created by an unprivileged test, so the mapping is checked directly.
func TestLocalFailMapping(t *testing.T) {
	l := &Local{root: "/data/proj"}
	tests := []struct {
		errno      syscall.Errno
		fatal      bool
		wantAdvice string
	}{
		{syscall.ENOSPC, true, "free some space"},
		{syscall.EDQUOT, true, "free some space"},
		{syscall.EROFS, true, "remount it read-write"},
		{syscall.EACCES, true, "writable by this user"},
		{syscall.EPERM, true, "writable by this user"},
		{syscall.EIO, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.errno.Error(), func(t *testing.T) {
			cause := &fs.PathError{Op: "write", Path: "/data/proj/x", Err: tt.errno}
			err := l.fail("put", "x", cause)
			if errkind.IsFatal(err) != tt.fatal {
				t.Errorf("fatal = %v, want %v (%v)", errkind.IsFatal(err), tt.fatal, err)
			}
			if !errors.Is(err, tt.errno) {
				t.Errorf("%v does not wrap %v", err, tt.errno)
			}
			if !strings.Contains(err.Error(), tt.wantAdvice) || !strings.Contains(err.Error(), `"x"`) {
				t.Errorf("message %q should name the key and say %q", err, tt.wantAdvice)
			}
		})
	}
}
