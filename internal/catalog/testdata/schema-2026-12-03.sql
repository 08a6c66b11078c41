PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations VALUES(1,'2026-12-03T13:22:03.053938994Z');
INSERT INTO schema_migrations VALUES(2,'2026-12-03T13:22:03.054599715Z');
INSERT INTO schema_migrations VALUES(300,'2026-12-03T13:22:03.059522614Z');
INSERT INTO schema_migrations VALUES(301,'2026-12-03T13:22:03.059869962Z');
INSERT INTO schema_migrations VALUES(310,'2026-12-03T13:22:03.060142748Z');
INSERT INTO schema_migrations VALUES(500,'2026-12-03T13:22:03.06047287Z');
INSERT INTO schema_migrations VALUES(800,'2026-12-03T13:22:03.060858208Z');
INSERT INTO schema_migrations VALUES(900,'2026-12-03T13:22:03.061115513Z');
INSERT INTO schema_migrations VALUES(950,'2026-12-03T13:22:03.061313633Z');
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
CREATE TABLE searches (
	engine     TEXT NOT NULL,
	class      TEXT NOT NULL,
	query      TEXT NOT NULL,
	found      INTEGER NOT NULL,
	exhausted  INTEGER NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (engine, class, query)
);
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
CREATE TABLE clean_features (
	sha256    TEXT NOT NULL,
	model     TEXT NOT NULL,     -- Labeler.Name()
	labels    TEXT NOT NULL,     -- JSON [{"name": ..., "confidence": ...}], most confident first
	embedding BLOB,              -- float32 little-endian, L2-normalised; NULL when the model has none
	PRIMARY KEY (sha256, model)
);
CREATE TABLE clean_flags (
	sha256 TEXT NOT NULL,
	reason TEXT NOT NULL,
	score  REAL NOT NULL,
	method TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT '', -- duplicates: the sha256 of the copy kept
	PRIMARY KEY (sha256, reason)
);
CREATE TABLE clean_groups (
	sha256   TEXT PRIMARY KEY,
	group_id TEXT NOT NULL, -- the sha256 of the copy kept
	kind     TEXT NOT NULL  -- how it relates to that copy: kept | exact | near
);
CREATE TABLE clean_decisions (
	sha256     TEXT PRIMARY KEY,
	decision   TEXT NOT NULL, -- keep | reject
	decided_at TEXT NOT NULL
);
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
CREATE TABLE clean_scores (
	sha256             TEXT PRIMARY KEY,
	offtopic           REAL NOT NULL DEFAULT 0, -- higher = more likely off-topic
	offtopic_threshold REAL NOT NULL DEFAULT 0, -- flagged when offtopic >= this (0: not judged)
	offtopic_method    TEXT NOT NULL DEFAULT '', -- how the score was made (clean's method name)
	misfiled           REAL NOT NULL DEFAULT 0, -- higher = more likely another class of the project
	misfiled_threshold REAL NOT NULL DEFAULT 0, -- flagged when misfiled >= this (0: not judged)
	suggest            TEXT NOT NULL DEFAULT '', -- the class it more likely belongs to ('' = none)
	scored_at          TEXT NOT NULL DEFAULT ''
);
CREATE TABLE splits (
	sha256     TEXT PRIMARY KEY,
	split      TEXT NOT NULL,   -- train | val | test
	seed       INTEGER NOT NULL,
	updated_at TEXT NOT NULL
);
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
CREATE TABLE merged_shards (
	name       TEXT PRIMARY KEY,  -- shard-0003-of-0016
	version    TEXT NOT NULL,     -- size and time of the catalog object merged
	merged_at  TEXT NOT NULL
);
CREATE TABLE pipeline_stages (
	stage       TEXT PRIMARY KEY,
	fingerprint TEXT NOT NULL,   -- of the stage's inputs, as they stood when it finished
	finished_at TEXT NOT NULL
);
CREATE INDEX urls_state ON urls(state, id);
CREATE INDEX urls_sha ON urls(sha256);
CREATE INDEX images_class ON images(class, status);
CREATE INDEX clean_groups_group ON clean_groups(group_id);
CREATE INDEX splits_split ON splits(split);
CREATE INDEX review_decisions_at ON review_decisions(decided_at);
COMMIT;
