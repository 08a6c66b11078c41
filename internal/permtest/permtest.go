// Package permtest runs tests that need the file system to refuse writes
// (an unwritable directory, a read-only or full file system) the same way
// as root, which is how CI runs them, and as any other user.
//
// Both helpers run the test again in a child process inside Linux
// namespaces. Root's capabilities override permission bits, so for
// ReadOnlyDir the child runs in a user namespace that maps root to root but
// not the directory's owner: the kernel then applies the directory's
// permission bits to root as to anyone. Tmpfs mounts its file system in
// the child's own mount namespace, so nothing is mounted on the machine and
// a user who may not mount can run the test too.
package permtest

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

const (
	envDir  = "SCOUR_PERMTEST_DIR"
	envTest = "SCOUR_PERMTEST_TEST"
	// owner is the unmapped owner given to the directory (nobody).
	owner = 65534
)

// child returns the directory handed to this process when it is the re-run
// of the test t.
func child(t *testing.T) (string, bool) {
	dir := os.Getenv(envDir)
	return dir, dir != "" && os.Getenv(envTest) == t.Name()
}

// ReadOnlyDir calls f with a new, empty directory (mode 0555) that the test
// can read but not write into, as root too.
//
// As any other user, f runs in this process. As root, ReadOnlyDir runs the
// test again in a child process, where the same call runs f, and reports
// the child's result as the test's; it skips the test, saying why, only
// where user namespaces are not available. Code before and after the call
// runs in both processes, so the test's work belongs inside f.
func ReadOnlyDir(t *testing.T, f func(t *testing.T, dir string)) {
	t.Helper()
	if dir, ok := child(t); ok {
		f(t, dir)
		return
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	// Clean-ups run last first: this one before TempDir removes dir.
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	if os.Geteuid() != 0 {
		f(t, dir)
		return
	}
	if err := os.Chown(dir, owner, owner); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chown(dir, 0, 0) })
	rerun(t, dir, &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}, "as root in a user namespace where "+dir+" is owned by an unmapped user")
}

// Tmpfs calls f with a directory on a new tmpfs mounted with opts, the
// mount(8) options ("size=256k", "ro,size=64k"): a small file system
// fills up, a read-only one refuses writes, for root as for anyone.
//
// f always runs in a child process, a re-run of the test in its own mount
// namespace (and, for a user other than root, its own user namespace, in
// which it may mount); the child's result is reported as the test's. The
// test skips, saying why, only where those namespaces are not available.
// Code before and after the call runs in both processes, so the test's
// work belongs inside f.
func Tmpfs(t *testing.T, opts string, f func(t *testing.T, dir string)) {
	t.Helper()
	flags, data := mountOptions(opts)
	if dir, ok := child(t); ok {
		if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, data); err != nil {
			t.Fatalf("mount a tmpfs (%s) on %s in this test's mount namespace: %v", opts, dir, err)
		}
		f(t, dir)
		return
	}
	attr := &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	where := "in its own mount namespace"
	if uid := os.Geteuid(); uid != 0 {
		attr.Cloneflags = syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
		where = "in its own user and mount namespaces"
	}
	rerun(t, t.TempDir(), attr, fmt.Sprintf("%s, on a tmpfs mounted with %q", where, opts))
}

// mountOptions splits mount(8) options into flags and the file system's
// own data.
func mountOptions(opts string) (uintptr, string) {
	var flags uintptr
	var data []string
	for o := range strings.SplitSeq(opts, ",") {
		switch o {
		case "ro":
			flags |= syscall.MS_RDONLY
		case "":
		default:
			data = append(data, o)
		}
	}
	return flags, strings.Join(data, ",")
}

// rerun runs the test t again in a child process started with attr,
// handing it dir, and reports the child's result as t's.
func rerun(t *testing.T, dir string, attr *syscall.SysProcAttr, where string) {
	t.Helper()
	args := []string{"-test.run=" + runPattern(t.Name()), "-test.v", "-test.count=1"}
	if f := flag.Lookup("test.timeout"); f != nil {
		args = append(args, "-test.timeout="+f.Value.String())
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envDir+"="+dir, envTest+"="+t.Name())
	cmd.SysProcAttr = attr
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err != nil && !errors.As(err, &exit):
		t.Skipf("cannot re-run the test %s (%v): this machine does not allow the namespaces the test needs", where, err)
	case err != nil:
		t.Fatalf("re-run %s: %v\n%s", where, err, out)
	case strings.Contains(string(out), "--- SKIP: "+t.Name()+" "):
		t.Skipf("skipped when re-run %s:\n%s", where, out)
	case !strings.Contains(string(out), "--- PASS: "+t.Name()+" "):
		t.Fatalf("the re-run %s ran no test %s:\n%s", where, t.Name(), out)
	}
	t.Logf("re-ran %s:\n%s", where, out)
}

// runPattern matches exactly the test called name ("TestA/sub_b" as
// testing spells it), level by level as -test.run reads it.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}
