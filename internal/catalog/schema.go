package catalog

// The whole schema, in the order it is applied. A catalog records the
// versions it has applied in schema_migrations, so a migration, once
// shipped, never changes: its version and text stay as they are, and a
// change to the schema is a new entry at the end with a higher version.
// Versions leave gaps by area (3xx clean, 5xx split, 8xx review, 9xx shard
// and pipeline) only because that is how they were first numbered.

type migration struct {
	version int
	sql     string
}

var migrations = []migration{
	// 1: what gather found and kept.
	{1, `
CREATE TABLE urls (
	id          TEXT PRIMARY KEY,   -- URLID(class, url)
	url         TEXT NOT NULL,
	class       TEXT NOT NULL,
	engine      TEXT NOT NULL DEFAULT '',
	query       TEXT NOT NULL DEFAULT '',
	rank        INTEGER NOT NULL DEFAULT 0,
	page_url    TEXT NOT NULL DEFAULT '',
	thumb_url   TEXT NOT NULL DEFAULT '',
	title       TEXT NOT NULL DEFAULT '',
	license     TEXT NOT NULL DEFAULT '',
	author      TEXT NOT NULL DEFAULT '',
	state       TEXT NOT NULL DEFAULT 'pending', -- pending | done | duplicate | failed
	cause       TEXT NOT NULL DEFAULT '',
	error       TEXT NOT NULL DEFAULT '',
	retryable   INTEGER NOT NULL DEFAULT 0,
	http_status INTEGER NOT NULL DEFAULT 0,
	attempts    INTEGER NOT NULL DEFAULT 0,
	sha256      TEXT NOT NULL DEFAULT '',
	found_at    TEXT NOT NULL DEFAULT '',
	updated_at  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX urls_state ON urls(state, id);
CREATE INDEX urls_sha ON urls(sha256);
CREATE TABLE images (
	sha256      TEXT PRIMARY KEY,
	class       TEXT NOT NULL,
	key         TEXT NOT NULL,      -- where the bytes are in the store
	format      TEXT NOT NULL,
	width       INTEGER NOT NULL,
	height      INTEGER NOT NULL,
	bytes       INTEGER NOT NULL,
	phash       INTEGER NOT NULL,   -- uint64 stored as its int64 bit pattern
	url_id      TEXT NOT NULL DEFAULT '', -- the URL row it was first fetched from
	fetched_at  TEXT NOT NULL,
	status      TEXT NOT NULL DEFAULT 'kept', -- kept | quarantined
	reason      TEXT NOT NULL DEFAULT '',
	score       REAL NOT NULL DEFAULT 0,
	method      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX images_class ON images(class, status);
`},
	// 2: how far each query was searched, so a resumed gather does not ask again.
	{2, `
CREATE TABLE searches (
	engine     TEXT NOT NULL,
	class      TEXT NOT NULL,
	query      TEXT NOT NULL,
	found      INTEGER NOT NULL,
	exhausted  INTEGER NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (engine, class, query)
);`},
	// 300: everything clean knows, keyed by content hash like the catalog's own
	// rows, so the catalogs of several shards still merge.
	{300, `
-- What decoding an image's bytes showed (see Measure); a function of the
-- bytes, so it is never stale for the same sha256 and version.
CREATE TABLE clean_measures (
	sha256        TEXT PRIMARY KEY,
	version       INTEGER NOT NULL,
	max_pixels    INTEGER NOT NULL, -- the decoding limit, which decides "too-many-pixels"
	broken        TEXT NOT NULL DEFAULT '',
	broken_msg    TEXT NOT NULL DEFAULT '',
	width         INTEGER NOT NULL DEFAULT 0,
	height        INTEGER NOT NULL DEFAULT 0,
	pixel_hash    TEXT NOT NULL DEFAULT '',
	phash         INTEGER NOT NULL DEFAULT 0, -- uint64 as its int64 bit pattern
	sharpness     REAL NOT NULL DEFAULT 0,
	brightness    REAL NOT NULL DEFAULT 0,
	contrast      REAL NOT NULL DEFAULT 0,
	entropy       REAL NOT NULL DEFAULT 0,
	colourfulness REAL NOT NULL DEFAULT 0
);
-- What a labeler said about some bytes: a re-run with the same model asks nothing.
CREATE TABLE clean_features (
	sha256    TEXT NOT NULL,
	model     TEXT NOT NULL,     -- Labeler.Name()
	labels    TEXT NOT NULL,     -- JSON [{"name": ..., "confidence": ...}], most confident first
	embedding BLOB,              -- float32 little-endian, L2-normalised; NULL when the model has none
	PRIMARY KEY (sha256, model)
);
-- Every flag of the last run, several per image when several checks fire.
CREATE TABLE clean_flags (
	sha256 TEXT NOT NULL,
	reason TEXT NOT NULL,
	score  REAL NOT NULL,
	method TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT '', -- duplicates: the sha256 of the copy kept
	PRIMARY KEY (sha256, reason)
);
-- Duplicate groups: split keeps each group on one side.
CREATE TABLE clean_groups (
	sha256   TEXT PRIMARY KEY,
	group_id TEXT NOT NULL, -- the sha256 of the copy kept
	kind     TEXT NOT NULL  -- how it relates to that copy: kept | exact | near
);
CREATE INDEX clean_groups_group ON clean_groups(group_id);
-- A person's word on an image (review, restore): clean obeys it on every run.
CREATE TABLE clean_decisions (
	sha256     TEXT PRIMARY KEY,
	decision   TEXT NOT NULL, -- keep | reject
	decided_at TEXT NOT NULL
);
-- Where clean found each image it moved, so Restore puts it back exactly,
-- and the move in flight, so a crash between the store and the catalog is
-- repaired on the next run.
CREATE TABLE clean_moves (
	sha256         TEXT PRIMARY KEY,
	original_key   TEXT NOT NULL,
	pending_from   TEXT NOT NULL DEFAULT '',
	pending_to     TEXT NOT NULL DEFAULT '',
	pending_status TEXT NOT NULL DEFAULT '',
	pending_reason TEXT NOT NULL DEFAULT '',
	pending_method TEXT NOT NULL DEFAULT '',
	pending_score  REAL NOT NULL DEFAULT 0
);
`},
	// 301: labels cached by the local model before the reference method read
	// LabelsPerImage of them were its top 5: label again.
	{301, `DELETE FROM clean_features WHERE model LIKE 'local/%';`},
	// 310: clean's doubt about every image, for export and review.
	{310, `
-- Clean's doubt about every image of its last run, flagged or not, so that
-- export and review can show the most doubtful first and say why.
CREATE TABLE clean_scores (
	sha256             TEXT PRIMARY KEY,
	offtopic           REAL NOT NULL DEFAULT 0, -- higher = more likely off-topic
	offtopic_threshold REAL NOT NULL DEFAULT 0, -- flagged when offtopic >= this (0: not judged)
	offtopic_method    TEXT NOT NULL DEFAULT '', -- how the score was made (clean's method name)
	misfiled           REAL NOT NULL DEFAULT 0, -- higher = more likely another class of the project
	misfiled_threshold REAL NOT NULL DEFAULT 0, -- flagged when misfiled >= this (0: not judged)
	suggest            TEXT NOT NULL DEFAULT '', -- the class it more likely belongs to ('' = none)
	scored_at          TEXT NOT NULL DEFAULT ''
);`},
	// 500: the train/val/test split.
	{500, `
CREATE TABLE splits (
	sha256     TEXT PRIMARY KEY,
	split      TEXT NOT NULL,   -- train | val | test
	seed       INTEGER NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE INDEX splits_split ON splits(split);`},
	// 800: what the review page records besides clean's decision: why the
	// image was in quarantine when the person decided (a kept image no longer
	// says), where its bytes were (to undo a keep) and when (to undo the last
	// decision first).
	{800, `
CREATE TABLE review_decisions (
	sha256     TEXT PRIMARY KEY,
	decision   TEXT NOT NULL,            -- keep | discard
	reason     TEXT NOT NULL,            -- the image's quarantine reason, score, method and key when decided
	score      REAL NOT NULL DEFAULT 0,
	method     TEXT NOT NULL DEFAULT '',
	from_key   TEXT NOT NULL,
	decided_at TEXT NOT NULL,
	undoing    INTEGER NOT NULL DEFAULT 0 -- an undo started and not finished: recover settles it
);
CREATE INDEX review_decisions_at ON review_decisions(decided_at);
`},
	// 810: a person's moves of images to another class of the project
	// (review's "move to the suggested class"), undoable exactly.
	{810, `
-- A person's decision, in review, that an image belongs to another class of
-- the project: what moved, from where to where and when, and what it was
-- before, so the move can be undone exactly. One row per image while the
-- move stands; undoing it deletes the row. Keyed by content hash, so shards'
-- catalogs still merge.
CREATE TABLE class_moves (
	sha256        TEXT PRIMARY KEY,
	from_class    TEXT NOT NULL,
	to_class      TEXT NOT NULL,
	from_key      TEXT NOT NULL,            -- where the bytes were (images/<from>/ or quarantine/<reason>/<from>/)
	to_key        TEXT NOT NULL,            -- images/<to>/<sha256>.<ext>
	from_status   TEXT NOT NULL,            -- kept | quarantined, with the quarantine's reason, method and score
	from_reason   TEXT NOT NULL DEFAULT '',
	from_method   TEXT NOT NULL DEFAULT '',
	from_score    REAL NOT NULL DEFAULT 0,
	prev_original TEXT NOT NULL DEFAULT '', -- where clean meant to restore it to before the move ('' = no record)
	prev_decision TEXT NOT NULL DEFAULT '', -- clean's decision on it before the move ('' = none)
	state         TEXT NOT NULL,            -- moving | done | undoing: anything but done is settled after a crash
	moved_at      TEXT NOT NULL
);
`},
	// 900: which shard catalogs have been merged, and which version of each.
	{900, `
CREATE TABLE merged_shards (
	name       TEXT PRIMARY KEY,  -- shard-0003-of-0016
	version    TEXT NOT NULL,     -- size and time of the catalog object merged
	merged_at  TEXT NOT NULL
);`},
	// 950: each pipeline stage's input fingerprint when it last finished, so `scour run` skips what did not change.
	{950, `
CREATE TABLE pipeline_stages (
	stage       TEXT PRIMARY KEY,
	fingerprint TEXT NOT NULL,   -- of the stage's inputs, as they stood when it finished
	finished_at TEXT NOT NULL
);`},
	// 1010: every (engine, query) that found a URL, not only the first: a
	// second query or engine finding a known URL adds a sighting, so per-query
	// counts are true and the query that brings garbage can be told apart.
	// Keyed by the URL row and the search, free of counters, so the sightings
	// of shards merge by union. Existing URL rows become their first sighting.
	{1010, `
CREATE TABLE url_sightings (
	url_id   TEXT NOT NULL,              -- urls.id = URLID(class, url)
	engine   TEXT NOT NULL,
	query    TEXT NOT NULL DEFAULT '',   -- '' for urls and folder sources
	class    TEXT NOT NULL,              -- the class the search was for (= urls.class)
	rank     INTEGER NOT NULL DEFAULT 0,
	page_url TEXT NOT NULL DEFAULT '',
	found_at TEXT NOT NULL,
	PRIMARY KEY (url_id, engine, query)
);
CREATE INDEX url_sightings_query ON url_sightings(engine, class, query);
INSERT OR IGNORE INTO url_sightings(url_id, engine, query, class, rank, page_url, found_at)
	SELECT id, engine, query, class, rank, page_url, found_at FROM urls;
`},
	// 1020: why a class ended its last top-up (gather -> clean rounds) short
	// of its target, for the summary and the report.
	{1020, `
CREATE TABLE topup_shortfalls (
	class      TEXT PRIMARY KEY,
	target     INTEGER NOT NULL,
	kept       INTEGER NOT NULL,   -- clean images when the rounds ended
	rounds     INTEGER NOT NULL,
	reason     TEXT NOT NULL,      -- exhausted | rounds-cap | garbage | no-progress
	detail     TEXT NOT NULL,      -- the reason in words, with its figures
	updated_at TEXT NOT NULL
);`},
	// 1040: the review page counts and pages the quarantined images by reason
	// and class; without this it reads every image row, kept ones included.
	{1040, `CREATE INDEX images_status ON images(status, reason, class);`},
}

// cacheTables are tables whose rows are facts about content (keyed by a
// hash), so Merge copies them from shard catalogs as they are; INSERT OR
// IGNORE keeps one copy of each fact. Measurements and labels are facts
// about bytes: shards compute them and merge carries them into the project
// catalog.
var cacheTables = []string{"clean_measures", "clean_features"}
