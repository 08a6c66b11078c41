package deploytest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/vision"
)

const dockerfilePath = "../../deploy/Dockerfile"

// instruction is one Dockerfile instruction with its continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
	line int
}

// stage is one FROM and what follows it up to the next FROM.
type stage struct {
	name  string // the AS name, "" when unnamed
	image string // the FROM image with global ARG defaults expanded
	body  []instruction
}

type dockerfile struct {
	globalArgs map[string]string // ARGs before the first FROM, with their defaults
	stages     []stage
}

var argRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

func parseDockerfile(text string) (dockerfile, error) {
	d := dockerfile{globalArgs: map[string]string{}}
	var ins []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		body, more := strings.CutSuffix(line, "\\")
		cur.WriteString(body + " ")
		if more {
			continue
		}
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		ins = append(ins, instruction{strings.ToUpper(cmd), strings.TrimSpace(args), start})
		cur.Reset()
	}
	if cur.Len() > 0 {
		return d, errors.New("the last instruction ends with a line continuation")
	}
	for _, in := range ins {
		switch {
		case in.cmd == "FROM":
			f := strings.Fields(in.args)
			st := stage{image: os.Expand(f[0], func(k string) string { return d.globalArgs[k] })}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			d.stages = append(d.stages, st)
		case len(d.stages) == 0 && in.cmd == "ARG":
			k, v, _ := strings.Cut(in.args, "=")
			d.globalArgs[k] = v
		case len(d.stages) == 0:
			return d, fmt.Errorf("line %d: %s before the first FROM", in.line, in.cmd)
		default:
			d.stages[len(d.stages)-1].body = append(d.stages[len(d.stages)-1].body, in)
		}
	}
	if len(d.stages) == 0 {
		return d, errors.New("no FROM")
	}
	return d, nil
}

// dockerWant is what the image must agree with elsewhere in the repository.
type dockerWant struct {
	goVersion   string // major.minor from go.mod
	onnxVersion string // vision.RuntimeVersion
	uid         int64  // the manifests' runAsUser
}

func (s stage) find(cmd string, match func(args string) bool) *instruction {
	for i := range s.body {
		if s.body[i].cmd == cmd && match(s.body[i].args) {
			return &s.body[i]
		}
	}
	return nil
}

func (s stage) env(name string) string {
	var v string
	for _, in := range s.body {
		if in.cmd != "ENV" {
			continue
		}
		for _, kv := range strings.Fields(in.args) {
			if k, val, ok := strings.Cut(kv, "="); ok && k == name {
				v = val
			}
		}
	}
	return v
}

// copyTo returns the COPY whose destination is dest.
func (s stage) copyTo(dest string) *instruction {
	return s.find("COPY", func(a string) bool {
		f := strings.Fields(a)
		return f[len(f)-1] == dest
	})
}

func checkDockerfile(d dockerfile, want dockerWant) error {
	if got := d.globalArgs["ONNXRUNTIME_VERSION"]; got != want.onnxVersion {
		return fmt.Errorf("ARG ONNXRUNTIME_VERSION=%s, but scour is built against ONNX Runtime %s (internal/vision)", got, want.onnxVersion)
	}
	if got := d.globalArgs["GO_VERSION"]; got != want.goVersion {
		return fmt.Errorf("ARG GO_VERSION=%s, but go.mod says go %s", got, want.goVersion)
	}
	// A global ARG is empty inside a stage unless the stage declares it again.
	for _, st := range d.stages {
		for _, in := range st.body {
			for _, m := range argRef.FindAllStringSubmatch(in.args, -1) {
				name := m[1]
				if _, global := d.globalArgs[name]; !global || in.cmd == "ARG" {
					continue
				}
				if st.find("ARG", func(a string) bool { k, _, _ := strings.Cut(a, "="); return k == name }) == nil {
					return fmt.Errorf("line %d uses $%s, but stage %q does not declare ARG %s: it would be empty there", in.line, name, st.name, name)
				}
			}
		}
	}

	final := d.stages[len(d.stages)-1]
	if !strings.HasPrefix(final.image, "debian:") || !strings.HasSuffix(final.image, "-slim") {
		return fmt.Errorf("final image is %q, want debian:<release>-slim", final.image)
	}
	if final.find("RUN", func(a string) bool { return strings.Contains(a, "ca-certificates") }) == nil {
		return errors.New("final stage does not install ca-certificates: HTTPS and S3 would fail")
	}

	lib := final.env("SCOUR_ONNXRUNTIME_LIB")
	if lib == "" {
		return errors.New("final stage does not set SCOUR_ONNXRUNTIME_LIB")
	}
	if c := final.copyTo(lib); c == nil || !strings.Contains(c.args, "libonnxruntime.so.1") {
		return fmt.Errorf("SCOUR_ONNXRUNTIME_LIB=%s, but no COPY puts libonnxruntime.so.1 there", lib)
	}

	ep := final.find("ENTRYPOINT", func(string) bool { return true })
	if ep == nil {
		return errors.New("no ENTRYPOINT")
	}
	var argv []string
	if err := json.Unmarshal([]byte(ep.args), &argv); err != nil || len(argv) == 0 {
		return fmt.Errorf("ENTRYPOINT %s: want the exec form, [\"/path/to/scour\"], so that signals reach scour", ep.args)
	}
	if path.Base(argv[0]) != "scour" {
		return fmt.Errorf("ENTRYPOINT runs %s, want scour", argv[0])
	}
	bin := final.copyTo(argv[0])
	if bin == nil {
		return fmt.Errorf("ENTRYPOINT runs %s, but no COPY puts the binary there", argv[0])
	}
	from, ok := strings.CutPrefix(strings.Fields(bin.args)[0], "--from=")
	if !ok {
		return fmt.Errorf("line %d: the binary should come from the build stage (COPY --from=...)", bin.line)
	}
	var build *stage
	for i := range d.stages {
		if d.stages[i].name == from {
			build = &d.stages[i]
		}
	}
	if build == nil {
		return fmt.Errorf("COPY --from=%s names no stage", from)
	}
	if !strings.HasPrefix(build.image, "golang:"+want.goVersion) {
		return fmt.Errorf("build stage image is %q, want golang:%s", build.image, want.goVersion)
	}
	if build.find("RUN", func(a string) bool { return strings.Contains(a, "CGO_ENABLED=1") && strings.Contains(a, "go build") }) == nil {
		return errors.New("the build stage must run go build with CGO_ENABLED=1: without cgo there is no ONNX Runtime")
	}

	user := final.find("USER", func(string) bool { return true })
	if user == nil {
		return errors.New("no USER: the image would run as root")
	}
	uidText, _, _ := strings.Cut(user.args, ":")
	uid, err := strconv.ParseInt(uidText, 10, 64)
	if err != nil || uid == 0 {
		// Kubernetes' runAsNonRoot can only verify a numeric user.
		return fmt.Errorf("USER %s: want a numeric user other than 0", user.args)
	}
	if uid != want.uid {
		return fmt.Errorf("USER %d, but the manifests run as %d", uid, want.uid)
	}
	return nil
}

// goModVersion returns go.mod's go directive as major.minor, the form the
// golang image tags use.
func goModVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			parts := strings.Split(v, ".")
			if len(parts) < 2 {
				t.Fatalf("go.mod: go %s has no minor version", v)
			}
			return parts[0] + "." + parts[1]
		}
	}
	t.Fatal("go.mod has no go directive")
	return ""
}

// manifestUID is the runAsUser every Job shares.
func manifestUID(t *testing.T) int64 {
	t.Helper()
	var uid int64
	for f, job := range loadManifests(t).jobs {
		sc := job.Spec.Template.Spec.SecurityContext
		if sc == nil || sc.RunAsUser == nil {
			t.Fatalf("%s: no pod securityContext.runAsUser", f)
		}
		if uid != 0 && *sc.RunAsUser != uid {
			t.Fatalf("%s: runAsUser %d, another manifest %d", f, *sc.RunAsUser, uid)
		}
		uid = *sc.RunAsUser
	}
	return uid
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	want := dockerWant{goVersion: goModVersion(t), onnxVersion: vision.RuntimeVersion, uid: manifestUID(t)}
	d, err := parseDockerfile(text)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkDockerfile(d, want); err != nil {
		t.Fatal(err)
	}

	// Each case edits the real Dockerfile and expects the check to notice.
	cases := []struct {
		name, old, new, want string
	}{
		{"stale ONNX Runtime", "ONNXRUNTIME_VERSION=" + want.onnxVersion, "ONNXRUNTIME_VERSION=1.19.0", "ONNX Runtime"},
		{"stale Go", "GO_VERSION=" + want.goVersion, "GO_VERSION=1.22", "go.mod says"},
		{"stage forgets its ARG", "ARG ONNXRUNTIME_VERSION\nCOPY .ci", "COPY .ci", "does not declare ARG ONNXRUNTIME_VERSION"},
		{"fat final image", "FROM debian:${DEBIAN}-slim", "FROM debian:${DEBIAN}", "want debian"},
		{"no CA certificates", "--no-install-recommends ca-certificates", "--no-install-recommends", "ca-certificates"},
		{"library path unset", "ENV SCOUR_ONNXRUNTIME_LIB", "ENV SCOUR_ONNXRUNTIME", "does not set SCOUR_ONNXRUNTIME_LIB"},
		{"library elsewhere", "ENV SCOUR_ONNXRUNTIME_LIB=/usr/local/lib/", "ENV SCOUR_ONNXRUNTIME_LIB=/opt/", "no COPY puts libonnxruntime.so.1"},
		{"shell-form entrypoint", `ENTRYPOINT ["/usr/local/bin/scour"]`, `ENTRYPOINT /usr/local/bin/scour`, "exec form"},
		{"entrypoint not scour", `ENTRYPOINT ["/usr/local/bin/scour"]`, `ENTRYPOINT ["/bin/sh"]`, "want scour"},
		{"binary not copied", "COPY --from=build /out/scour /usr/local/bin/scour", "COPY --from=build /out/scour /usr/bin/scour", "no COPY puts the binary"},
		{"cgo off", "CGO_ENABLED=1", "CGO_ENABLED=0", "CGO_ENABLED=1"},
		{"root", "USER 10001:10001", "USER 0", "numeric user other than 0"},
		{"named user", "USER 10001:10001", "USER scour", "numeric user"},
		{"user differs from manifests", "USER 10001:10001", "USER 20002", "manifests run as"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(text, tc.old) {
				t.Fatalf("the Dockerfile has no %q", tc.old)
			}
			d, err := parseDockerfile(strings.Replace(text, tc.old, tc.new, 1))
			if err == nil {
				err = checkDockerfile(d, want)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
