// Package permtest lets tests of unwritable directories run as root, which
// is how CI runs them. Root's capabilities override permission bits, so a
// plain chmod protects nothing from a root test; here, as root, the test is
// run again in a child process inside a user namespace that maps root to
// root but not the directory's owner, and the kernel then applies the
// directory's permission bits to it as to any other user.
package permtest

import (
	"errors"
	"flag"
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
	if dir := os.Getenv(envDir); dir != "" && os.Getenv(envTest) == t.Name() {
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

	args := []string{"-test.run=" + runPattern(t.Name()), "-test.v", "-test.count=1"}
	if f := flag.Lookup("test.timeout"); f != nil {
		args = append(args, "-test.timeout="+f.Value.String())
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envDir+"="+dir, envTest+"="+t.Name())
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err != nil && !errors.As(err, &exit):
		t.Skipf("running as root, and cannot start the test in a user namespace, where permission bits would bind root (%v): the test needs a non-root user or user namespaces", err)
	case err != nil:
		t.Fatalf("as root in a user namespace where %s is not root's (%v):\n%s", dir, err, out)
	case strings.Contains(string(out), "--- SKIP: "+t.Name()+" "):
		t.Skipf("skipped as root in a user namespace:\n%s", out)
	case !strings.Contains(string(out), "--- PASS: "+t.Name()+" "):
		t.Fatalf("the re-run as root in a user namespace ran no test %s:\n%s", t.Name(), out)
	}
	t.Logf("ran as root in a user namespace where %s is owned by an unmapped user:\n%s", dir, out)
}

// runPattern matches exactly the test called name ("TestA/sub b" as
// testing spells it), level by level as -test.run reads it.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}
