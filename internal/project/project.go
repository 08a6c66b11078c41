// Package project ties a project directory together: its scour.yaml, its
// catalog and its blob store. Every command opens one with Open.
package project

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/config"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/store"
)

// CatalogFile is the catalog's name inside a project directory.
const CatalogFile = "scour.db"

// Project is an open project.
type Project struct {
	Dir     string
	Config  config.Config
	Catalog *catalog.Catalog
	Store   store.Store
}

// Open loads dir's scour.yaml, opens its catalog and its store.
func Open(ctx context.Context, dir string) (*Project, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(filepath.Join(abs, config.FileName))
	if err != nil {
		return nil, errkind.WithCause(err, "config")
	}
	cat, err := catalog.Open(ctx, filepath.Join(abs, CatalogFile))
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.Store, abs)
	if err != nil {
		cat.Close()
		return nil, errkind.Fatal(fmt.Errorf("store %q: %w", cfg.Store, err))
	}
	return &Project{Dir: abs, Config: cfg, Catalog: cat, Store: st}, nil
}

// Close releases the catalog.
func (p *Project) Close() error { return p.Catalog.Close() }

// Path resolves a path from scour.yaml relative to the project directory.
func (p *Project) Path(rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(p.Dir, rel)
}

// Init creates a project in dir with the given scour.yaml text. It refuses to
// overwrite an existing scour.yaml.
func Init(ctx context.Context, dir string, yaml []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errkind.Fatal(fmt.Errorf("creating project directory: %w", err))
	}
	cfgPath := filepath.Join(dir, config.FileName)
	if _, err := os.Stat(cfgPath); err == nil {
		return fmt.Errorf("%s already exists: edit it, or choose another directory", cfgPath)
	} else if !errors.Is(err, os.ErrNotExist) {
		return errkind.Fatal(err)
	}
	if _, err := config.Parse(cfgPath, yaml); err != nil {
		return fmt.Errorf("template is invalid: %w", err)
	}
	for _, d := range []string{"images", "references"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return errkind.Fatal(err)
		}
	}
	if err := os.WriteFile(cfgPath, yaml, 0o644); err != nil {
		return errkind.Fatal(fmt.Errorf("writing %s: %w", cfgPath, err))
	}
	cat, err := catalog.Open(ctx, filepath.Join(dir, CatalogFile))
	if err != nil {
		return err
	}
	return cat.Close()
}

// Template is the scour.yaml that `scour init` writes: the original
// two-warship experiment, ready to edit.
const Template = `# scour.yaml: what to collect and how.
# Each class is one thing the classifier must tell apart.
classes:
  - name: zumwalt
    queries: ["Zumwalt-class destroyer", "USS Zumwalt DDG-1000"]
    # references: [references/zumwalt.jpg]   # one or more typical images, for clean
    target: 300
  - name: type052
    queries: ["Type 052 destroyer", "Type 052D destroyer"]
    target: 300

# Where candidate URLs come from, in order.
sources:
  - engine: bing
  - engine: duckduckgo
  - engine: commons
  # - engine: urls          # a text file with one URL per line, or a CSV with url,class columns
  #   path: urls.txt
  #   classes: [zumwalt]
  # - engine: folder        # a local tree: folder/<class>/*.jpg
  #   path: photos

# Where image bytes live: local (this directory) or s3://bucket/prefix.
store: local

# How politely to download.
fetch:
  # Your email address or web page, sent in the User-Agent so that site owners
  # can reach you (Wikimedia's User-Agent policy asks for it). Please fill it in.
  contact: ""
  # robots: false     # robots.txt is honoured; turn it off only for your own servers
  workers: 32         # downloads at once, in all
  per_host: 4         # downloads at once from one host
  rate: 2             # requests per second per host (0 = no limit)
  timeout: 60s
  max_bytes: 25MB
  min_width: 64
  min_height: 64

# Training: the original experiments' CNN, Keras ImageDataGenerator-style
# augmentation, and the variants a sweep compares.
train:
  input_size: 128
  epochs: 20
  model: 32-64-128/d1
  augment: "shear_range=0.2, zoom_range=0.2, horizontal_flip=True"
  sweep: [32-64-128/d1, 32-64-128/d2, 32-64/d1, 32-64/d2]
`
