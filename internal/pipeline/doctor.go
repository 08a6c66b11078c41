package pipeline

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strings"
	"syscall"
	"time"

	"github.com/scour-dev/scour/internal/config"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/project"
	"github.com/scour-dev/scour/internal/search"
	"github.com/scour-dev/scour/internal/useragent"
	"github.com/scour-dev/scour/internal/vision"
)

// Finding is one line of doctor's report.
type Finding struct {
	Check  string `json:"check"`
	Status string `json:"status"` // ok | warn | fail
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Doctor checks the project in dir (scour.yaml, catalog, store, disk), the
// ONNX Runtime and the embedded model, and each configured search engine
// (a live search unless offline; else, or when it fails, the recorded page).
func Doctor(ctx context.Context, dir string, offline bool) []Finding {
	var fs []Finding
	p, err := project.Open(ctx, dir)
	if err != nil {
		fix := ""
		if errkind.Cause(err) == "config" {
			fix = "run `scour init DIR`, or fix scour.yaml as the message says"
		}
		fs = append(fs, Finding{"project", "fail", err.Error(), fix})
	} else {
		defer p.Close()
		fs = append(fs, Finding{"project", "ok", fmt.Sprintf("%s: %d classes, %d sources", p.Dir, len(p.Config.Classes), len(p.Config.Sources)), ""})
		fs = append(fs, checkCatalog(ctx, p), checkStore(ctx, p), checkDisk(p.Dir), checkContact(p.Config))
	}
	fs = append(fs, checkRuntime(ctx))
	if p != nil {
		for _, s := range p.Config.Sources {
			fs = append(fs, checkEngine(ctx, p, s, offline))
		}
	}
	return fs
}

// checkContact warns when downloads would go out with no way for a site
// owner to reach the person running scour.
func checkContact(cfg config.Config) Finding {
	f := cfg.Fetch
	switch {
	case f.UserAgent != "":
		return Finding{"user agent", "ok", f.UserAgent + " (fetch.user_agent)", ""}
	case f.Contact != "":
		return Finding{"user agent", "ok", useragent.String(f.Contact), ""}
	}
	for _, s := range cfg.Sources {
		if s.Engine != "folder" {
			return Finding{"user agent", "warn", "fetch.contact is empty: site owners cannot reach you, and Wikimedia asks every bot for a contact", "add your email address or web page as fetch.contact in scour.yaml"}
		}
	}
	return Finding{"user agent", "ok", "folder sources only: nothing is downloaded", ""}
}

func checkCatalog(ctx context.Context, p *project.Project) Finding {
	if res, err := p.Catalog.QuickCheck(ctx); err != nil || res != "ok" {
		return Finding{"catalog", "fail", fmt.Sprintf("%s: integrity check says %q (%v)", p.Catalog.Path(), res, err), "restore scour.db from a backup, or move it aside and re-run gather"}
	}
	by, _, err := p.Catalog.CountURLs(ctx)
	if err != nil {
		return Finding{"catalog", "fail", err.Error(), ""}
	}
	n := 0
	for _, v := range by {
		n += v
	}
	return Finding{"catalog", "ok", fmt.Sprintf("%d URLs recorded", n), ""}
}

func checkStore(ctx context.Context, p *project.Project) Finding {
	key := ".scour-doctor/probe"
	if err := p.Store.Put(ctx, key, strings.NewReader("probe"), 5); err != nil {
		return Finding{"store", "fail", fmt.Sprintf("%s: cannot write: %v", p.Store, err), "check permissions, or for s3:// the credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE) and SCOUR_S3_ENDPOINT"}
	}
	if err := p.Store.Delete(ctx, key); err != nil {
		return Finding{"store", "warn", fmt.Sprintf("%s: wrote a probe but could not delete it: %v", p.Store, err), "the store may lack delete permission, which quarantine needs"}
	}
	return Finding{"store", "ok", fmt.Sprintf("%s is writable", p.Store), ""}
}

func checkDisk(dir string) Finding {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return Finding{"disk", "warn", err.Error(), ""}
	}
	free := float64(st.Bavail) * float64(st.Bsize)
	if free < 1<<30 {
		return Finding{"disk", "warn", fmt.Sprintf("%.0f MB free in %s", free/1e6, dir), "free space: a gather of N images needs about N x 200 KB"}
	}
	return Finding{"disk", "ok", fmt.Sprintf("%.1f GB free", free/1e9), ""}
}

func checkRuntime(ctx context.Context) Finding {
	path, err := vision.RuntimeLibrary()
	if err != nil {
		return Finding{"onnxruntime", "warn", "not found: clean's off-topic check will be skipped", "run .ci/onnxruntime.sh from the scour source tree, or set SCOUR_ONNXRUNTIME_LIB"}
	}
	l, err := vision.NewLocal(vision.MobileNetV2(), vision.LocalOptions{})
	if err != nil {
		return Finding{"onnxruntime", "fail", fmt.Sprintf("%s: %v", path, err), "install ONNX Runtime " + vision.RuntimeVersion + " (.ci/onnxruntime.sh)"}
	}
	defer l.Close()
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	if _, err := l.Label(ctx, []image.Image{img}); err != nil {
		return Finding{"onnxruntime", "fail", fmt.Sprintf("the model does not run: %v", err), ""}
	}
	return Finding{"onnxruntime", "ok", fmt.Sprintf("%s; MobileNetV2 runs", path), ""}
}

func checkEngine(ctx context.Context, p *project.Project, s config.Source, offline bool) Finding {
	name := "engine " + s.Engine
	web := s.Engine != "urls" && s.Engine != "folder"
	if offline && web {
		return recordedCheck(name, s.Engine, "live search not tried (--offline)")
	}
	so := search.Options{BaseURL: s.BaseURL, UserAgent: p.Config.Fetch.UserAgent, Contact: p.Config.Fetch.Contact}
	if s.Path != "" {
		so.Path = p.Path(s.Path)
	}
	eng, err := search.New(s.Engine, so)
	if err != nil {
		return Finding{name, "fail", err.Error(), "fix the source in scour.yaml"}
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
			return Finding{name, "ok", fmt.Sprintf("%d results for %q", len(rs), q), ""}
		}
	}
	if errors.Is(err, search.ErrMarkupChanged) {
		return Finding{name, "fail", err.Error(), "the engine changed its page: update scour, or use other sources meanwhile"}
	}
	if web {
		f := recordedCheck(name, s.Engine, fmt.Sprintf("no live answer (%v)", err))
		if f.Status == "ok" {
			f.Status, f.Fix = "warn", "offline? check the network; the parser itself is fine"
		}
		return f
	}
	return Finding{name, "warn", fmt.Sprintf("no answer: %v", err), ""}
}

// recordedCheck parses the engine's recorded response, the check that works
// without a network.
func recordedCheck(name, engine, why string) Finding {
	n, err := search.SelfCheck(engine)
	switch {
	case errors.Is(err, search.ErrNoRecording):
		return Finding{name, "ok", why + "; no recorded page to check against", ""}
	case err != nil:
		return Finding{name, "fail", why + "; the recorded page no longer parses: " + err.Error(), "a bug in this build: report it"}
	}
	return Finding{name, "ok", fmt.Sprintf("%s; the recorded page parses (%d results)", why, n), ""}
}
