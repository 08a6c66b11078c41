PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations VALUES(1,'2026-12-03T13:21:50.36000576Z');
INSERT INTO schema_migrations VALUES(2,'2026-12-03T13:21:50.360192076Z');
INSERT INTO schema_migrations VALUES(300,'2026-12-03T13:21:50.360750248Z');
INSERT INTO schema_migrations VALUES(301,'2026-12-03T13:21:50.360872921Z');
INSERT INTO schema_migrations VALUES(500,'2026-12-03T13:21:50.361033082Z');
INSERT INTO schema_migrations VALUES(800,'2026-12-03T13:21:50.361213468Z');
INSERT INTO schema_migrations VALUES(900,'2026-12-03T13:21:50.361334365Z');
INSERT INTO schema_migrations VALUES(950,'2026-12-03T13:21:50.361449227Z');
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
INSERT INTO urls VALUES('u1','http://example.test/1.jpg','cat','','',0,'','','','','','done','','',0,0,0,'aa00000000000000000000000000000000000000000000000000000000000001','','');
INSERT INTO urls VALUES('u2','http://example.test/2.jpg','cat','','',0,'','','','','','done','','',0,0,0,'bb00000000000000000000000000000000000000000000000000000000000002','','');
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
INSERT INTO images VALUES('aa00000000000000000000000000000000000000000000000000000000000001','cat','images/cat/aa00000000000000000000000000000000000000000000000000000000000001.jpg','jpeg',64,48,1000,-5,'u1','2026-12-02T10:00:00Z','kept','',0.0,'');
INSERT INTO images VALUES('bb00000000000000000000000000000000000000000000000000000000000002','cat','quarantine/blurry/cat/bb00000000000000000000000000000000000000000000000000000000000002.jpg','jpeg',64,48,1000,7,'u2','2026-12-02T10:00:00Z','quarantined','blurry',12.5,'laplacian');
CREATE TABLE searches (
	engine     TEXT NOT NULL,
	class      TEXT NOT NULL,
	query      TEXT NOT NULL,
	found      INTEGER NOT NULL,
	exhausted  INTEGER NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (engine, class, query)
);
INSERT INTO searches VALUES('bing','cat','cat photo',40,1,'2026-12-02T10:00:00Z');
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
INSERT INTO clean_measures VALUES('aa00000000000000000000000000000000000000000000000000000000000001',3,40000000,'','',64,48,'ph1',-5,120.5,0.5,0.25,7.5,30.0);
CREATE TABLE clean_features (
	sha256    TEXT NOT NULL,
	model     TEXT NOT NULL,     -- Labeler.Name()
	labels    TEXT NOT NULL,     -- JSON [{"name": ..., "confidence": ...}], most confident first
	embedding BLOB,              -- float32 little-endian, L2-normalised; NULL when the model has none
	PRIMARY KEY (sha256, model)
);
INSERT INTO clean_features VALUES('aa00000000000000000000000000000000000000000000000000000000000001','test/model','[{"name":"tabby","confidence":0.9}]',X'0000803f');
CREATE TABLE clean_flags (
	sha256 TEXT NOT NULL,
	reason TEXT NOT NULL,
	score  REAL NOT NULL,
	method TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT '', -- duplicates: the sha256 of the copy kept
	PRIMARY KEY (sha256, reason)
);
INSERT INTO clean_flags VALUES('bb00000000000000000000000000000000000000000000000000000000000002','blurry',12.5,'laplacian','');
CREATE TABLE clean_groups (
	sha256   TEXT PRIMARY KEY,
	group_id TEXT NOT NULL, -- the sha256 of the copy kept
	kind     TEXT NOT NULL  -- how it relates to that copy: kept | exact | near
);
INSERT INTO clean_groups VALUES('aa00000000000000000000000000000000000000000000000000000000000001','aa00000000000000000000000000000000000000000000000000000000000001','kept');
CREATE TABLE clean_decisions (
	sha256     TEXT PRIMARY KEY,
	decision   TEXT NOT NULL, -- keep | reject
	decided_at TEXT NOT NULL
);
INSERT INTO clean_decisions VALUES('aa00000000000000000000000000000000000000000000000000000000000001','keep','2026-12-02T10:00:00Z');
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
INSERT INTO clean_moves VALUES('bb00000000000000000000000000000000000000000000000000000000000002','images/cat/bb00000000000000000000000000000000000000000000000000000000000002.jpg','','','','','',0.0);
CREATE TABLE splits (
	sha256     TEXT PRIMARY KEY,
	split      TEXT NOT NULL,   -- train | val | test
	seed       INTEGER NOT NULL,
	updated_at TEXT NOT NULL
);
INSERT INTO splits VALUES('aa00000000000000000000000000000000000000000000000000000000000001','train',1,'2026-12-02T10:00:00Z');
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
INSERT INTO review_decisions VALUES('bb00000000000000000000000000000000000000000000000000000000000002','discard','blurry',12.5,'laplacian','quarantine/blurry/cat/bb00000000000000000000000000000000000000000000000000000000000002.jpg','2026-12-02T10:00:00.000000000Z',0);
CREATE TABLE merged_shards (
	name       TEXT PRIMARY KEY,  -- shard-0003-of-0016
	version    TEXT NOT NULL,     -- size and time of the catalog object merged
	merged_at  TEXT NOT NULL
);
INSERT INTO merged_shards VALUES('shard-0001-of-0002','100@1','2026-12-02T10:00:00Z');
CREATE TABLE pipeline_stages (
	stage       TEXT PRIMARY KEY,
	fingerprint TEXT NOT NULL,   -- of the stage's inputs, as they stood when it finished
	finished_at TEXT NOT NULL
);
INSERT INTO pipeline_stages VALUES('gather','fp1','2026-12-02T10:00:00Z');
CREATE INDEX urls_state ON urls(state, id);
CREATE INDEX urls_sha ON urls(sha256);
CREATE INDEX images_class ON images(class, status);
CREATE INDEX clean_groups_group ON clean_groups(group_id);
CREATE INDEX splits_split ON splits(split);
CREATE INDEX review_decisions_at ON review_decisions(decided_at);
COMMIT;
