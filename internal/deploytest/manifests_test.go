package deploytest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const manifestDir = "../../deploy/kubernetes"

// containerName is the name podFailurePolicy rules and `kubectl logs -c`
// refer to.
const containerName = "scour"

// credentialEnv must come from a Secret: the S3 store reads them the
// standard AWS way, and a literal value would put them in the manifest.
var credentialEnv = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}

// manifests is what a directory of manifests parses into.
type manifests struct {
	jobs map[string]*batchv1.Job // by file name
	pvcs map[string]*corev1.PersistentVolumeClaim
}

// parseManifest decodes one file strictly into the API type its kind names:
// a misspelt or misplaced field is an error here, as it would be for
// `kubectl apply --validate=strict`.
func parseManifest(data []byte) (any, error) {
	// sigs.k8s.io/yaml reads only the first document of a stream; a second
	// one would be silently ignored.
	if bytes.Contains(append([]byte("\n"), data...), []byte("\n---")) {
		return nil, errors.New("one document per file, please: found a --- separator")
	}
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(data, &tm); err != nil {
		return nil, fmt.Errorf("reading kind: %w", err)
	}
	var obj any
	switch tm.APIVersion + " " + tm.Kind {
	case "batch/v1 Job":
		obj = &batchv1.Job{}
	case "v1 PersistentVolumeClaim":
		obj = &corev1.PersistentVolumeClaim{}
	default:
		return nil, fmt.Errorf("unexpected apiVersion %q kind %q", tm.APIVersion, tm.Kind)
	}
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		return nil, fmt.Errorf("strict parse: %w", err)
	}
	return obj, nil
}

func loadManifests(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(manifestDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no manifests in %s", manifestDir)
	}
	m := manifests{jobs: map[string]*batchv1.Job{}, pvcs: map[string]*corev1.PersistentVolumeClaim{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		obj, err := parseManifest(data)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		switch o := obj.(type) {
		case *batchv1.Job:
			m.jobs[filepath.Base(f)] = o
		case *corev1.PersistentVolumeClaim:
			m.pvcs[filepath.Base(f)] = o
		}
	}
	return m
}

// invocation is what a container's args ask scour to do.
type invocation struct {
	dir     string // -C / --dir; "" when absent
	command string
	shards  int // --shards; 0 when absent
}

// parseArgs reads scour's global flags up to the subcommand, then the
// subcommand's --shards. It knows only the flags the manifests use, so an
// unknown global flag is an error rather than a guess.
func parseArgs(args []string) (invocation, error) {
	var inv invocation
	i := 0
	for ; i < len(args) && inv.command == ""; i++ {
		a := args[i]
		switch {
		case a == "-C" || a == "--dir":
			if i+1 == len(args) {
				return inv, fmt.Errorf("%s without a value", a)
			}
			i++
			inv.dir = args[i]
		case strings.HasPrefix(a, "--dir="):
			inv.dir = strings.TrimPrefix(a, "--dir=")
		case a == "--json" || a == "-q" || a == "--quiet" || a == "-v" || a == "--verbose":
		case strings.HasPrefix(a, "-"):
			return inv, fmt.Errorf("unknown global flag %q", a)
		default:
			inv.command = a
		}
	}
	if inv.command == "" {
		return inv, errors.New("no subcommand")
	}
	for ; i < len(args); i++ {
		v, ok := strings.CutPrefix(args[i], "--shards=")
		if args[i] == "--shards" {
			if i+1 == len(args) {
				return inv, errors.New("--shards without a value")
			}
			i++
			v, ok = args[i], true
		}
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return inv, fmt.Errorf("--shards %q: want a positive number", v)
		}
		inv.shards = n
	}
	return inv, nil
}

// scourContainer returns the one container of the pod, which must be scour.
func scourContainer(job *batchv1.Job) (*corev1.Container, error) {
	cs := job.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		return nil, fmt.Errorf("want exactly one container, have %d", len(cs))
	}
	if cs[0].Name != containerName {
		return nil, fmt.Errorf("container is named %q, want %q (podFailurePolicy and the README use that name)", cs[0].Name, containerName)
	}
	return &cs[0], nil
}

func jobInvocation(job *batchv1.Job) (invocation, error) {
	c, err := scourContainer(job)
	if err != nil {
		return invocation{}, err
	}
	return parseArgs(c.Args)
}

func checkKind(job *batchv1.Job) error {
	if job.APIVersion != "batch/v1" || job.Kind != "Job" {
		return fmt.Errorf("apiVersion/kind is %s/%s, want batch/v1 Job", job.APIVersion, job.Kind)
	}
	if job.Name == "" {
		return errors.New("metadata.name is empty")
	}
	return nil
}

func checkContainer(job *batchv1.Job) error {
	c, err := scourContainer(job)
	if err != nil {
		return err
	}
	if len(c.Command) > 0 {
		return fmt.Errorf("command %q overrides the image's ENTRYPOINT (scour): pass everything in args", c.Command)
	}
	if c.Image == "" {
		return errors.New("no image")
	}
	_, err = parseArgs(c.Args)
	return err
}

func checkRestartNever(job *batchv1.Job) error {
	// OnFailure would restart the container in place, outside the per-index
	// backoff and podFailurePolicy, which both need Never.
	if p := job.Spec.Template.Spec.RestartPolicy; p != corev1.RestartPolicyNever {
		return fmt.Errorf("restartPolicy is %q, want Never", p)
	}
	return nil
}

func checkShards(job *batchv1.Job) error {
	inv, err := jobInvocation(job)
	if err != nil {
		return err
	}
	s := job.Spec
	indexed := s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion
	if inv.shards == 0 {
		// One writer of the project catalog: merge must not run twice at once.
		if indexed {
			return fmt.Errorf("completionMode Indexed but %q has no --shards", inv.command)
		}
		if (s.Completions != nil && *s.Completions != 1) || (s.Parallelism != nil && *s.Parallelism != 1) {
			return errors.New("a job without --shards must run one pod: completions and parallelism 1")
		}
		return nil
	}
	if !indexed {
		return fmt.Errorf("--shards %d needs completionMode Indexed (the pod's index is JOB_COMPLETION_INDEX)", inv.shards)
	}
	if s.Completions == nil || int(*s.Completions) != inv.shards {
		return fmt.Errorf("completions is %s, want %d as --shards says: each index is one shard", int32String(s.Completions), inv.shards)
	}
	if s.Parallelism == nil || *s.Parallelism < 1 || *s.Parallelism > *s.Completions {
		return fmt.Errorf("parallelism is %s, want 1..%d", int32String(s.Parallelism), *s.Completions)
	}
	return nil
}

func checkRetries(job *batchv1.Job) error {
	s := job.Spec
	if s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion {
		if s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex < 1 {
			return fmt.Errorf("backoffLimitPerIndex is %s, want at least 1: a failed shard resumes when retried", int32String(s.BackoffLimitPerIndex))
		}
		if s.MaxFailedIndexes == nil || s.Completions == nil || *s.MaxFailedIndexes < 0 || *s.MaxFailedIndexes > *s.Completions {
			return fmt.Errorf("maxFailedIndexes is %s, want 0..completions", int32String(s.MaxFailedIndexes))
		}
	}
	if s.PodFailurePolicy == nil {
		return nil
	}
	for i, r := range s.PodFailurePolicy.Rules {
		if r.Action == batchv1.PodFailurePolicyActionFailIndex && s.BackoffLimitPerIndex == nil {
			return fmt.Errorf("podFailurePolicy rule %d: FailIndex needs backoffLimitPerIndex", i)
		}
		if r.OnExitCodes != nil && r.OnExitCodes.ContainerName != nil && *r.OnExitCodes.ContainerName != containerName {
			return fmt.Errorf("podFailurePolicy rule %d names container %q, want %q", i, *r.OnExitCodes.ContainerName, containerName)
		}
	}
	return nil
}

func checkSecretEnv(job *batchv1.Job) error {
	c, err := scourContainer(job)
	if err != nil {
		return err
	}
	secret := ""
	for _, name := range credentialEnv {
		i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
		if i < 0 {
			return fmt.Errorf("env %s is missing", name)
		}
		e := c.Env[i]
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			return fmt.Errorf("env %s must come from a Secret (valueFrom.secretKeyRef)", name)
		}
		ref := e.ValueFrom.SecretKeyRef
		if ref.Optional != nil && *ref.Optional {
			return fmt.Errorf("env %s is optional: a pod without credentials would fail later and less clearly", name)
		}
		// The README creates the Secret with keys named like the variables.
		if ref.Key != name {
			return fmt.Errorf("env %s reads key %q of the Secret, want %q", name, ref.Key, name)
		}
		if secret != "" && ref.Name != secret {
			return fmt.Errorf("env %s reads Secret %q, the others %q", name, ref.Name, secret)
		}
		secret = ref.Name
	}
	return nil
}

func checkResources(job *batchv1.Job) error {
	c, err := scourContainer(job)
	if err != nil {
		return err
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[name]
		lim, okLim := c.Resources.Limits[name]
		if !okReq || !okLim {
			return fmt.Errorf("%s needs both a request and a limit", name)
		}
		if req.Sign() <= 0 {
			return fmt.Errorf("%s request is %s", name, req.String())
		}
		if req.Cmp(lim) > 0 {
			return fmt.Errorf("%s request %s is above its limit %s", name, req.String(), lim.String())
		}
	}
	return nil
}

// checkProjectMount checks that -C names a writable directory (the catalog
// is written there) with scour.yaml mounted into it from a ConfigMap.
func checkProjectMount(job *batchv1.Job) error {
	inv, err := jobInvocation(job)
	if err != nil {
		return err
	}
	if !path.IsAbs(inv.dir) {
		return fmt.Errorf("-C is %q, want the absolute path where the project is mounted", inv.dir)
	}
	c, _ := scourContainer(job)
	volumes := job.Spec.Template.Spec.Volumes
	volumeOf := func(m corev1.VolumeMount) *corev1.Volume {
		i := slices.IndexFunc(volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if i < 0 {
			return nil
		}
		return &volumes[i]
	}
	mountAt := func(p string) *corev1.VolumeMount {
		i := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return path.Clean(m.MountPath) == p })
		if i < 0 {
			return nil
		}
		return &c.VolumeMounts[i]
	}

	dir := path.Clean(inv.dir)
	m := mountAt(dir)
	if m == nil {
		return fmt.Errorf("nothing is mounted at %s, the -C directory", dir)
	}
	v := volumeOf(*m)
	switch {
	case v == nil:
		return fmt.Errorf("mount %s names no volume %q", dir, m.Name)
	case m.ReadOnly:
		return fmt.Errorf("%s is mounted read-only; scour writes its catalog there", dir)
	case v.EmptyDir == nil && v.PersistentVolumeClaim == nil:
		return fmt.Errorf("%s is volume %q, want an emptyDir or a PersistentVolumeClaim (writable)", dir, v.Name)
	}

	cfg := path.Join(dir, "scour.yaml")
	m = mountAt(cfg)
	if m == nil {
		return fmt.Errorf("nothing is mounted at %s", cfg)
	}
	v = volumeOf(*m)
	if v == nil || v.ConfigMap == nil {
		return fmt.Errorf("%s must come from a ConfigMap volume", cfg)
	}
	if m.SubPath == "" {
		return fmt.Errorf("%s needs subPath: without it the ConfigMap would be a directory there", cfg)
	}
	key := m.SubPath
	for _, it := range v.ConfigMap.Items {
		if it.Path == m.SubPath {
			key = it.Key
		}
	}
	if key != "scour.yaml" {
		return fmt.Errorf("%s is ConfigMap key %q, want scour.yaml (as `kubectl create configmap --from-file=scour.yaml` names it)", cfg, key)
	}
	return nil
}

// jobChecks is what every Job manifest must pass.
var jobChecks = map[string]func(*batchv1.Job) error{
	"kind":      checkKind,
	"container": checkContainer,
	"restart":   checkRestartNever,
	"shards":    checkShards,
	"retries":   checkRetries,
	"secret":    checkSecretEnv,
	"resources": checkResources,
	"project":   checkProjectMount,
}

// checkTogether checks what the manifests must agree on.
func checkTogether(m manifests) error {
	var image, imageFile string
	shards, shardsFile := 0, ""
	for _, f := range slices.Sorted(maps.Keys(m.jobs)) {
		job := m.jobs[f]
		inv, err := jobInvocation(job)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if want := inv.command + "-job.yaml"; f != want {
			return fmt.Errorf("%s runs scour %s: name it %s", f, inv.command, want)
		}
		c, _ := scourContainer(job)
		if image == "" {
			image, imageFile = c.Image, f
		} else if c.Image != image {
			return fmt.Errorf("%s uses image %q, %s uses %q: one build runs every stage", f, c.Image, imageFile, image)
		}
		// The bucket records its layout on first use and refuses another N.
		if inv.shards > 0 {
			if shards == 0 {
				shards, shardsFile = inv.shards, f
			} else if inv.shards != shards {
				return fmt.Errorf("%s has --shards %d, %s has %d: a bucket is split one way only", f, inv.shards, shardsFile, shards)
			}
		}
		for _, v := range job.Spec.Template.Spec.Volumes {
			if v.PersistentVolumeClaim == nil {
				continue
			}
			claim := v.PersistentVolumeClaim.ClaimName
			if !slices.ContainsFunc(slices.Collect(maps.Values(m.pvcs)), func(p *corev1.PersistentVolumeClaim) bool { return p.Name == claim }) {
				return fmt.Errorf("%s mounts claim %q, which no manifest here creates", f, claim)
			}
		}
	}
	return nil
}

func TestManifestsPass(t *testing.T) {
	m := loadManifests(t)
	for _, want := range []string{"gather-job.yaml", "clean-job.yaml", "merge-job.yaml"} {
		if m.jobs[want] == nil {
			t.Errorf("%s is missing", want)
		}
	}
	for f, job := range m.jobs {
		for name, check := range jobChecks {
			if err := check(job); err != nil {
				t.Errorf("%s: %s: %v", f, name, err)
			}
		}
	}
	if err := checkTogether(m); err != nil {
		t.Error(err)
	}
}

// TestJobChecksCatchMistakes proves each check can fail: every case breaks
// one thing in a real manifest and expects that check to say so.
func TestJobChecksCatchMistakes(t *testing.T) {
	m := loadManifests(t)
	base := m.jobs["gather-job.yaml"]
	if base == nil {
		t.Fatal("gather-job.yaml is missing")
	}
	container := func(j *batchv1.Job) *corev1.Container { return &j.Spec.Template.Spec.Containers[0] }
	env := func(j *batchv1.Job, name string) *corev1.EnvVar {
		c := container(j)
		for i := range c.Env {
			if c.Env[i].Name == name {
				return &c.Env[i]
			}
		}
		t.Fatalf("no env %s in gather-job.yaml", name)
		return nil
	}
	mount := func(j *batchv1.Job, p string) *corev1.VolumeMount {
		c := container(j)
		for i := range c.VolumeMounts {
			if c.VolumeMounts[i].MountPath == p {
				return &c.VolumeMounts[i]
			}
		}
		t.Fatalf("no mount at %s in gather-job.yaml", p)
		return nil
	}
	setArg := func(j *batchv1.Job, old, new string) {
		args := container(j).Args
		i := slices.Index(args, old)
		if i < 0 {
			t.Fatalf("gather-job.yaml args %q have no %q", args, old)
		}
		args[i] = new
	}
	ptr := func(n int32) *int32 { return &n }

	cases := []struct {
		name   string
		check  string
		mutate func(*batchv1.Job)
		want   string
	}{
		{"not a Job", "kind", func(j *batchv1.Job) { j.Kind = "CronJob" }, "want batch/v1 Job"},
		{"no name", "kind", func(j *batchv1.Job) { j.Name = "" }, "name is empty"},
		{"second container", "container", func(j *batchv1.Job) {
			j.Spec.Template.Spec.Containers = append(j.Spec.Template.Spec.Containers, corev1.Container{Name: "sidecar"})
		}, "exactly one container"},
		{"container renamed", "container", func(j *batchv1.Job) { container(j).Name = "main" }, `want "scour"`},
		{"entrypoint overridden", "container", func(j *batchv1.Job) { container(j).Command = []string{"/bin/sh"} }, "ENTRYPOINT"},
		{"unknown global flag", "container", func(j *batchv1.Job) { container(j).Args = append([]string{"--colour"}, container(j).Args...) }, "unknown global flag"},
		{"restart on failure", "restart", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }, "want Never"},
		{"not indexed", "shards", func(j *batchv1.Job) { j.Spec.CompletionMode = nil }, "needs completionMode Indexed"},
		{"completions differ from --shards", "shards", func(j *batchv1.Job) { j.Spec.Completions = ptr(8) }, "as --shards says"},
		{"--shards differs from completions", "shards", func(j *batchv1.Job) { setArg(j, "16", "32") }, "want 32"},
		{"parallelism above completions", "shards", func(j *batchv1.Job) { j.Spec.Parallelism = ptr(17) }, "want 1..16"},
		{"indexed without --shards", "shards", func(j *batchv1.Job) {
			c := container(j)
			c.Args = c.Args[:slices.Index(c.Args, "--shards")]
		}, "has no --shards"},
		{"no per-index retries", "retries", func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = nil }, "backoffLimitPerIndex"},
		{"zero per-index retries", "retries", func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = ptr(0) }, "backoffLimitPerIndex"},
		{"maxFailedIndexes above completions", "retries", func(j *batchv1.Job) { j.Spec.MaxFailedIndexes = ptr(17) }, "maxFailedIndexes"},
		{"maxFailedIndexes unset", "retries", func(j *batchv1.Job) { j.Spec.MaxFailedIndexes = nil }, "maxFailedIndexes"},
		{"policy names another container", "retries", func(j *batchv1.Job) {
			name := "main"
			j.Spec.PodFailurePolicy.Rules[0].OnExitCodes.ContainerName = &name
		}, "names container"},
		{"secret key missing", "secret", func(j *batchv1.Job) {
			c := container(j)
			c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "AWS_SECRET_ACCESS_KEY" })
		}, "AWS_SECRET_ACCESS_KEY is missing"},
		{"literal credential", "secret", func(j *batchv1.Job) {
			*env(j, "AWS_ACCESS_KEY_ID") = corev1.EnvVar{Name: "AWS_ACCESS_KEY_ID", Value: "AKIA0000"}
		}, "must come from a Secret"},
		{"optional credential", "secret", func(j *batchv1.Job) {
			yes := true
			env(j, "AWS_ACCESS_KEY_ID").ValueFrom.SecretKeyRef.Optional = &yes
		}, "is optional"},
		{"credential from another key", "secret", func(j *batchv1.Job) {
			env(j, "AWS_SECRET_ACCESS_KEY").ValueFrom.SecretKeyRef.Key = "secret"
		}, `reads key "secret"`},
		{"credentials from two Secrets", "secret", func(j *batchv1.Job) {
			env(j, "AWS_SECRET_ACCESS_KEY").ValueFrom.SecretKeyRef.Name = "other"
		}, `reads Secret "other"`},
		{"no memory limit", "resources", func(j *batchv1.Job) { delete(container(j).Resources.Limits, corev1.ResourceMemory) }, "memory needs both"},
		{"no cpu request", "resources", func(j *batchv1.Job) { delete(container(j).Resources.Requests, corev1.ResourceCPU) }, "cpu needs both"},
		{"request above limit", "resources", func(j *batchv1.Job) {
			container(j).Resources.Requests[corev1.ResourceCPU] = resource.MustParse("3")
		}, "above its limit"},
		{"-C elsewhere", "project", func(j *batchv1.Job) { setArg(j, "/work", "/data") }, "nothing is mounted at /data"},
		{"relative -C", "project", func(j *batchv1.Job) { setArg(j, "/work", "work") }, "absolute path"},
		{"project read-only", "project", func(j *batchv1.Job) { mount(j, "/work").ReadOnly = true }, "read-only"},
		{"project on the ConfigMap", "project", func(j *batchv1.Job) { mount(j, "/work").Name = "project" }, "want an emptyDir"},
		{"scour.yaml not mounted", "project", func(j *batchv1.Job) { mount(j, "/work/scour.yaml").MountPath = "/etc/scour.yaml" }, "nothing is mounted at /work/scour.yaml"},
		{"scour.yaml without subPath", "project", func(j *batchv1.Job) { mount(j, "/work/scour.yaml").SubPath = "" }, "needs subPath"},
		{"scour.yaml from another key", "project", func(j *batchv1.Job) { mount(j, "/work/scour.yaml").SubPath = "config.yaml" }, `key "config.yaml"`},
		{"scour.yaml from an emptyDir", "project", func(j *batchv1.Job) { mount(j, "/work/scour.yaml").Name = "tmp" }, "from a ConfigMap"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check := jobChecks[tc.check]
			if check == nil {
				t.Fatalf("no check %q", tc.check)
			}
			job := base.DeepCopy()
			if err := check(job); err != nil {
				t.Fatalf("%s fails before the mutation: %v", tc.check, err)
			}
			tc.mutate(job)
			err := check(job)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%s: got %v, want an error containing %q", tc.check, err, tc.want)
			}
		})
	}
}

func TestMergeMustRunOnce(t *testing.T) {
	m := loadManifests(t)
	base := m.jobs["merge-job.yaml"]
	if base == nil {
		t.Fatal("merge-job.yaml is missing")
	}
	two := int32(2)
	indexed := batchv1.IndexedCompletion
	cases := []struct {
		name   string
		mutate func(*batchv1.Job)
		want   string
	}{
		{"two completions", func(j *batchv1.Job) { j.Spec.Completions = &two }, "one pod"},
		{"two at once", func(j *batchv1.Job) { j.Spec.Parallelism = &two }, "one pod"},
		{"indexed", func(j *batchv1.Job) { j.Spec.CompletionMode = &indexed }, "has no --shards"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := base.DeepCopy()
			tc.mutate(job)
			if err := checkShards(job); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestCheckTogetherCatchesMistakes(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(manifests)
		want   string
	}{
		{"two images", func(m manifests) { m.jobs["clean-job.yaml"].Spec.Template.Spec.Containers[0].Image = "scour:old" }, "one build"},
		{"two shard counts", func(m manifests) {
			args := m.jobs["clean-job.yaml"].Spec.Template.Spec.Containers[0].Args
			args[slices.Index(args, "--shards")+1] = "8"
		}, "split one way only"},
		{"file named after another stage", func(m manifests) {
			m.jobs["fetch-job.yaml"] = m.jobs["gather-job.yaml"]
			delete(m.jobs, "gather-job.yaml")
		}, "name it gather-job.yaml"},
		{"claim nobody creates", func(m manifests) { clear(m.pvcs) }, "no manifest here creates"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := loadManifests(t)
			if err := checkTogether(m); err != nil {
				t.Fatalf("fails before the mutation: %v", err)
			}
			tc.mutate(m)
			if err := checkTogether(m); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestParseIsStrict edits the text of a real manifest: a field the API does
// not have, or one given twice, must not parse.
func TestParseIsStrict(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(manifestDir, "gather-job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseManifest(data); err != nil {
		t.Fatalf("gather-job.yaml does not parse as it is: %v", err)
	}
	cases := []struct {
		name, old, new, want string
	}{
		{"misspelt field", "backoffLimitPerIndex:", "backoffLimitPerIndx:", "unknown field"},
		{"field at the wrong level", "  completionMode: Indexed\n", "  completionMode: Indexed\n  restartPolicy: Never\n", "unknown field"},
		{"duplicate field", "  parallelism: 8\n", "  parallelism: 8\n  parallelism: 4\n", "parallelism"},
		{"wrong type", "completions: 16", "completions: sixteen", "completions"},
		{"second document", "apiVersion: batch/v1\n", "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: batch/v1\n", "one document per file"},
		{"another kind", "kind: Job", "kind: Deployment", "unexpected apiVersion"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(data, []byte(tc.old)) {
				t.Fatalf("gather-job.yaml has no %q", tc.old)
			}
			bad := bytes.Replace(data, []byte(tc.old), []byte(tc.new), 1)
			if _, err := parseManifest(bad); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	cases := []struct {
		args    []string
		want    invocation
		wantErr string
	}{
		{[]string{"-C", "/work", "gather", "--shards", "16"}, invocation{"/work", "gather", 16}, ""},
		{[]string{"--dir=/p", "-q", "clean", "--shards=4", "--no-retry"}, invocation{"/p", "clean", 4}, ""},
		{[]string{"--json", "--dir", "/p", "merge"}, invocation{"/p", "merge", 0}, ""},
		{[]string{"-C"}, invocation{}, "without a value"},
		{[]string{"-C", "/work"}, invocation{}, "no subcommand"},
		{[]string{"gather", "--shards", "0"}, invocation{}, "positive"},
		{[]string{"gather", "--shards"}, invocation{}, "without a value"},
		{[]string{"--bogus", "gather"}, invocation{}, "unknown global flag"},
	}
	for _, tc := range cases {
		got, err := parseArgs(tc.args)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseArgs(%q) = %v, want an error containing %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseArgs(%q) = %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}
}

func int32String(p *int32) string {
	if p == nil {
		return "unset"
	}
	return strconv.Itoa(int(*p))
}
