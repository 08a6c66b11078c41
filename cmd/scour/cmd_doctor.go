package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/config"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/project"
	"github.com/scour-dev/scour/internal/search"
	"github.com/scour-dev/scour/internal/vision"
)

// finding is one line of doctor's report.
type finding struct {
	Check  string `json:"check"`
	Status string `json:"status"` // ok | warn | fail
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

func newDoctorCmd(g *globals) *cobra.Command {
	var offline bool
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check that everything scour needs is in place, and say what to fix",
		Long: `doctor checks the project's scour.yaml and catalog, the image store (can it be
written?), free disk space, the ONNX Runtime library and the embedded model
(used by clean), and whether each configured search engine still answers and
still parses (a live search; skipped with --offline).`,
		Example: `  scour doctor
  scour doctor --offline --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ui := newUI(g)
			var fs []finding
			add := func(check, status, detail, fix string) {
				fs = append(fs, finding{check, status, detail, fix})
			}
			p, err := project.Open(ctx, g.dir)
			if err != nil {
				fix := ""
				if errkind.Cause(err) == "config" {
					fix = "run `scour init DIR`, or fix scour.yaml as the message says"
				}
				add("project", "fail", err.Error(), fix)
			} else {
				defer p.Close()
				add("project", "ok", fmt.Sprintf("%s: %d classes, %d sources", p.Dir, len(p.Config.Classes), len(p.Config.Sources)), "")
				fs = append(fs, checkCatalog(ctx, p), checkStore(ctx, p), checkDisk(p.Dir))
			}
			fs = append(fs, checkRuntime(ctx))
			if p != nil {
				for _, s := range p.Config.Sources {
					fs = append(fs, checkEngine(ctx, p, s, offline))
				}
			}
			failed := 0
			for _, f := range fs {
				if f.Status == "fail" {
					failed++
				}
			}
			err = ui.result(fs, func(w io.Writer) {
				for _, f := range fs {
					fmt.Fprintf(w, "%-4s  %-22s %s\n", f.Status, f.Check, f.Detail)
					if f.Fix != "" {
						fmt.Fprintf(w, "      %-22s fix: %s\n", "", f.Fix)
					}
				}
			})
			if err == nil && failed > 0 {
				err = fmt.Errorf("%d check(s) failed", failed)
			}
			return err
		},
	}
	c.Flags().BoolVar(&offline, "offline", false, "do not contact search engines")
	return c
}

func checkCatalog(ctx context.Context, p *project.Project) finding {
	var res string
	if err := p.Catalog.DB().QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&res); err != nil || res != "ok" {
		return finding{"catalog", "fail", fmt.Sprintf("%s: integrity check says %q (%v)", p.Catalog.Path(), res, err), "restore scour.db from a backup, or move it aside and re-run gather"}
	}
	by, _, err := p.Catalog.CountURLs(ctx)
	if err != nil {
		return finding{"catalog", "fail", err.Error(), ""}
	}
	n := 0
	for _, v := range by {
		n += v
	}
	return finding{"catalog", "ok", fmt.Sprintf("%d URLs recorded", n), ""}
}

func checkStore(ctx context.Context, p *project.Project) finding {
	key := ".scour-doctor/probe"
	if err := p.Store.Put(ctx, key, strings.NewReader("probe"), 5); err != nil {
		return finding{"store", "fail", fmt.Sprintf("%s: cannot write: %v", p.Store, err), "check permissions, or for s3:// the credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE) and SCOUR_S3_ENDPOINT"}
	}
	if err := p.Store.Delete(ctx, key); err != nil {
		return finding{"store", "warn", fmt.Sprintf("%s: wrote a probe but could not delete it: %v", p.Store, err), "the store may lack delete permission, which quarantine needs"}
	}
	return finding{"store", "ok", fmt.Sprintf("%s is writable", p.Store), ""}
}

func checkDisk(dir string) finding {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return finding{"disk", "warn", err.Error(), ""}
	}
	free := float64(st.Bavail) * float64(st.Bsize)
	if free < 1<<30 {
		return finding{"disk", "warn", fmt.Sprintf("%.0f MB free in %s", free/1e6, dir), "free space: a gather of N images needs about N x 200 KB"}
	}
	return finding{"disk", "ok", fmt.Sprintf("%.1f GB free", free/1e9), ""}
}

func checkRuntime(ctx context.Context) finding {
	path, err := vision.RuntimeLibrary()
	if err != nil {
		return finding{"onnxruntime", "warn", "not found: clean's off-topic check will be skipped", "run .ci/onnxruntime.sh from the scour source tree, or set SCOUR_ONNXRUNTIME_LIB"}
	}
	l, err := vision.NewLocal(vision.MobileNetV2(), vision.LocalOptions{})
	if err != nil {
		return finding{"onnxruntime", "fail", fmt.Sprintf("%s: %v", path, err), "install ONNX Runtime " + vision.RuntimeVersion + " (.ci/onnxruntime.sh)"}
	}
	defer l.Close()
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	if _, err := l.Label(ctx, []image.Image{img}); err != nil {
		return finding{"onnxruntime", "fail", fmt.Sprintf("the model does not run: %v", err), ""}
	}
	return finding{"onnxruntime", "ok", fmt.Sprintf("%s; MobileNetV2 runs", path), ""}
}

func checkEngine(ctx context.Context, p *project.Project, s config.Source, offline bool) finding {
	name := "engine " + s.Engine
	web := s.Engine != "urls" && s.Engine != "folder"
	if offline && web {
		return recordedCheck(name, s.Engine, "live search not tried (--offline)")
	}
	so := search.Options{BaseURL: s.BaseURL}
	if s.Path != "" {
		so.Path = p.Path(s.Path)
	}
	eng, err := search.New(s.Engine, so)
	if err != nil {
		return finding{name, "fail", err.Error(), "fix the source in scour.yaml"}
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	q := "ship"
	if len(p.Config.Classes) > 0 && len(p.Config.Classes[0].Queries) > 0 {
		q = p.Config.Classes[0].Queries[0]
	}
	pager, err := eng.Search(ctx, search.Query{Text: q, SafeSearch: true})
	if err == nil {
		var rs []search.Result
		rs, err = pager.Page(ctx, 0)
		if err == nil || errors.Is(err, search.ErrNoMore) {
			return finding{name, "ok", fmt.Sprintf("%d results for %q", len(rs), q), ""}
		}
	}
	if strings.Contains(err.Error(), "markup") {
		return finding{name, "fail", err.Error(), "the engine changed its page: update scour, or use other sources meanwhile"}
	}
	if web {
		f := recordedCheck(name, s.Engine, fmt.Sprintf("no live answer (%v)", err))
		if f.Status == "ok" {
			f.Status, f.Fix = "warn", "offline? check the network; the parser itself is fine"
		}
		return f
	}
	return finding{name, "warn", fmt.Sprintf("no answer: %v", err), ""}
}

// recordedCheck parses the engine's recorded response, the check that works
// without a network.
func recordedCheck(name, engine, why string) finding {
	n, err := search.SelfCheck(engine)
	switch {
	case errors.Is(err, search.ErrNoRecording):
		return finding{name, "ok", why + "; no recorded page to check against", ""}
	case err != nil:
		return finding{name, "fail", why + "; the recorded page no longer parses: " + err.Error(), "a bug in this build: report it"}
	}
	return finding{name, "ok", fmt.Sprintf("%s; the recorded page parses (%d results)", why, n), ""}
}
