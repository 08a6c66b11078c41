// Package catalog is the project's memory: one SQLite file (pure Go, no cgo)
// that records every URL scour was given, what became of it, and every image
// it kept, with provenance.
//
// Rows are keyed by content, never by counters: a URL row's id is a hash of
// its class and URL, an image row's key is the sha256 of its bytes. So the
// catalogs written by N independent shards merge without renumbering, and
// every write is an idempotent upsert: replaying a batch after a crash
// changes nothing.
package catalog

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/scour-dev/scour/internal/errkind"
	_ "modernc.org/sqlite"
)

// Catalog is an open catalog file. It is safe for concurrent use; SQLite
// serialises writers, so stages batch their writes.
type Catalog struct {
	db   *sql.DB
	path string
}

// Open opens or creates the catalog at path and brings its schema up to date.
// A file that is not a catalog, or a damaged one, is reported as a fatal
// error naming the file; Open never modifies such a file.
func Open(ctx context.Context, path string) (*Catalog, error) {
	// Processes opening a new catalog at the same moment (shards sharing a
	// project directory) can meet in SQLite's switch to WAL mode, where it
	// answers "busy" at once rather than wait, to avoid a deadlock. Opening
	// again a moment later then finds the work done.
	var c *Catalog
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		c, err = openOnce(ctx, path)
		if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") || ctx.Err() != nil {
			return c, err
		}
		time.Sleep(time.Duration(10+attempt*10) * time.Millisecond)
	}
	return c, err
}

func openOnce(ctx context.Context, path string) (*Catalog, error) {
	if dir := filepath.Dir(path); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return nil, errkind.Fatal(fmt.Errorf("catalog: %w", err))
		}
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, errkind.Fatal(fmt.Errorf("catalog %s: %w", path, err))
	}
	// One connection for writes keeps SQLite's locking simple and fast; WAL
	// lets the same connection serve reads without blocking on them.
	db.SetMaxOpenConns(1)
	c := &Catalog{db: db, path: path}
	if err := c.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the catalog.
func (c *Catalog) Close() error { return c.db.Close() }

// Path is the catalog's file name.
func (c *Catalog) Path() string { return c.path }

// DB exposes the database to tests that inspect or damage tables on
// purpose. Product code reads and writes the catalog through its typed
// methods only, so that every SQL statement lives in this package.
func (c *Catalog) DB() *sql.DB { return c.db }

func (c *Catalog) corrupt(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if strings.Contains(msg, "not a database") || strings.Contains(msg, "malformed") || strings.Contains(msg, "corrupt") {
		return errkind.Fatal(fmt.Errorf("catalog %s is damaged (%v): restore it from a backup, or move it aside and re-run gather to rebuild it from the images", c.path, err))
	}
	if strings.Contains(msg, "readonly") || strings.Contains(msg, "read-only") {
		return errkind.Fatal(fmt.Errorf("catalog %s cannot be written (%v): check the project directory's permissions", c.path, err))
	}
	// SQLite says no more than this when it may not create the file (an
	// unwritable project directory) or open it.
	if strings.Contains(msg, "unable to open database file") || strings.Contains(msg, "SQLITE_CANTOPEN") {
		return errkind.Fatal(fmt.Errorf("catalog %s cannot be created or opened (%v): check the project directory's permissions", c.path, err))
	}
	if strings.Contains(msg, "disk is full") || strings.Contains(msg, "SQLITE_FULL") {
		return errkind.Fatal(fmt.Errorf("catalog %s: disk full (%v): free space and re-run; nothing recorded so far is lost", c.path, err))
	}
	return err
}

func (c *Catalog) migrate(ctx context.Context) error {
	if _, err := c.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return c.corrupt(fmt.Errorf("catalog %s: %w", c.path, err))
	}
	done := map[int]bool{}
	rows, err := c.db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return c.corrupt(err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return c.corrupt(err)
		}
		done[v] = true
	}
	rows.Close()
	for _, m := range migrations {
		if done[m.version] {
			continue
		}
		// Another process may be migrating the same file right now (shards
		// sharing a project directory): the write lock of an immediate
		// transaction serialises us, and the check inside it skips what the
		// other one did.
		tx, err := c.db.BeginTx(ctx, nil)
		if err != nil {
			return c.corrupt(err)
		}
		var one int
		if tx.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations WHERE version=?`, m.version).Scan(&one) == nil {
			tx.Rollback()
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			tx.Rollback()
			return c.corrupt(fmt.Errorf("catalog %s: migration %d: %w", c.path, m.version, err))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied_at) VALUES(?, ?)`, m.version, now()); err != nil {
			tx.Rollback()
			return c.corrupt(err)
		}
		if err := tx.Commit(); err != nil {
			return c.corrupt(err)
		}
	}
	return nil
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// URLID is the stable identity of a URL within a class. The same URL in two
// classes is two candidates: each class asked for it.
func URLID(class, url string) string {
	h := sha256.New()
	h.Write([]byte(class))
	h.Write([]byte{0})
	h.Write([]byte(url))
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// ErrNotFound is returned when a row asked for by key does not exist.
var ErrNotFound = errors.New("not in catalog")
