package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/scour-dev/scour/internal/clean"
	"github.com/scour-dev/scour/internal/config"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/fetch"
	"github.com/scour-dev/scour/internal/gather"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/project"
	"github.com/scour-dev/scour/internal/search"
	"github.com/scour-dev/scour/internal/split"
	"github.com/scour-dev/scour/internal/train"
	"github.com/scour-dev/scour/internal/vision"
)

func configErr(format string, args ...any) error {
	return errkind.WithCause(fmt.Errorf(format, args...), "config")
}

// NewFetcher builds the fetcher scour.yaml's fetch section describes.
func NewFetcher(f config.Fetch) *fetch.Fetcher {
	return fetch.New(fetch.Options{
		PerHost: f.PerHost, Rate: f.Rate,
		Timeout: f.Timeout.D(), ConnectTimeout: f.Connect.D(), ReadTimeout: f.Idle.D(),
		MaxBytes: int64(f.MaxBytes), MaxRedirects: f.Redirects, Retries: f.Retries,
		UserAgent: f.UserAgent, AllowFiles: true,
		Limits: imaging.Limits{MaxPixels: f.MaxPixels, MinWidth: f.MinWidth, MinHeight: f.MinHeight},
	})
}

// GatherOptions turns scour.yaml into the gather stage's options: the
// classes (all, or those named in only) and one engine per source.
func GatherOptions(p *project.Project, only []string) (gather.Options, error) {
	cfg := p.Config
	want := map[string]bool{}
	for _, c := range only {
		want[c] = true
	}
	var o gather.Options
	for _, c := range cfg.Classes {
		if len(want) > 0 && !want[c.Name] {
			continue
		}
		delete(want, c.Name)
		o.Classes = append(o.Classes, gather.Class{Name: c.Name, Queries: c.Queries, Target: c.Target})
	}
	for c := range want {
		return o, configErr("class %q is not in scour.yaml (classes: %s)", c, strings.Join(cfg.ClassNames(), ", "))
	}
	if len(cfg.Sources) == 0 {
		return o, configErr("scour.yaml has no sources: add one under `sources:` (bing, duckduckgo, commons, urls or folder)")
	}
	for _, s := range cfg.Sources {
		var mu sync.Mutex
		var skipped []search.Skipped
		so := search.Options{BaseURL: s.BaseURL, UserAgent: cfg.Fetch.UserAgent, OnSkip: func(sk search.Skipped) {
			mu.Lock()
			skipped = append(skipped, sk)
			mu.Unlock()
		}}
		if s.Path != "" {
			so.Path = p.Path(s.Path)
		}
		eng, err := search.New(s.Engine, so)
		if err != nil {
			return o, err
		}
		src := gather.Source{Engine: eng, Classes: s.Classes, MaxPages: s.MaxPages}
		switch s.Engine {
		case "folder":
			src.Rescan, src.ClassFromResult, src.SkipCause = true, true, search.CauseSkipped
		case "urls":
			src.Rescan, src.ClassFromResult, src.SkipCause = true, true, search.CauseBadURL
		}
		if src.SkipCause != "" {
			src.Skipped = func() []search.Skipped {
				mu.Lock()
				defer mu.Unlock()
				out := skipped
				skipped = nil
				return out
			}
		}
		o.Sources = append(o.Sources, src)
	}
	o.Workers = cfg.Fetch.Workers
	o.SafeSearch = cfg.Fetch.SafeSearch == nil || *cfg.Fetch.SafeSearch
	o.RetryFailed = cfg.Fetch.RetryFailed == nil || *cfg.Fetch.RetryFailed
	return o, nil
}

// CleanClasses lists the classes with their reference images and methods.
func CleanClasses(p *project.Project) []clean.Class {
	var out []clean.Class
	for _, c := range p.Config.Classes {
		cl := clean.Class{Name: c.Name, Method: c.OffTopic}
		for _, r := range c.References {
			cl.References = append(cl.References, p.Path(r))
		}
		out = append(out, cl)
	}
	return out
}

// LocalLabeler is the in-process recognizer. Without ONNX Runtime it
// returns nil and says so through events: clean then runs its model-free
// checks only.
func LocalLabeler(events progress.Sink) (vision.Labeler, error) {
	l, err := clean.NewLocalLabeler(0)
	if errors.Is(err, vision.ErrNoRuntime) {
		progress.Warn(events, "clean", err.Error())
		return nil, nil
	}
	return l, err
}

// EmbeddingModel names the embeddings clean caches with the local labeler,
// which the transfer-learning head trains on.
func EmbeddingModel() string { return "local/" + vision.MobileNetV2().Name }

// LoadData reads the split's images at the configured input size.
func LoadData(ctx context.Context, p *project.Project, events progress.Sink) (train.Data, error) {
	ms, err := split.Members(ctx, p.Catalog, "")
	if err != nil {
		return train.Data{}, err
	}
	srcs := make([]train.Source, len(ms))
	for i, m := range ms {
		srcs[i] = train.Source{SHA256: m.SHA256, Class: m.Class, Key: m.Key, Split: m.Split}
	}
	d, err := train.Load(ctx, p.Store, p.Config.ClassNames(), p.Config.Train.InputSize, srcs, events)
	if err != nil {
		return d, err
	}
	for _, s := range d.Skipped {
		progress.Warn(events, "train", "skipped unreadable image "+s)
	}
	return d, nil
}

// LoadEmbedded returns the split's images as the embeddings clean cached.
func LoadEmbedded(ctx context.Context, p *project.Project) (tr, val, test []train.Embedded, missing int, err error) {
	ms, err := split.Members(ctx, p.Catalog, "")
	if err != nil {
		return nil, nil, nil, 0, err
	}
	embs, err := clean.Embeddings(ctx, p.Catalog, EmbeddingModel())
	if err != nil {
		return nil, nil, nil, 0, err
	}
	idx := map[string]int32{}
	for i, c := range p.Config.ClassNames() {
		idx[c] = int32(i)
	}
	for _, m := range ms {
		x, ok := embs[m.SHA256]
		lab, known := idx[m.Class]
		if !ok || !known {
			missing++
			continue
		}
		e := train.Embedded{SHA256: m.SHA256, Label: lab, X: x}
		switch m.Split {
		case split.Train:
			tr = append(tr, e)
		case split.Val:
			val = append(val, e)
		case split.Test:
			test = append(test, e)
		}
	}
	return tr, val, test, missing, nil
}
