-- 0001_init: the initial schema.
--
-- Every time is an INTEGER of UTC unix milliseconds; 0 stands for the zero
-- time. Slices are JSON arrays in TEXT columns; NULL stands for an empty one.

CREATE TABLE devices (
	id         TEXT    NOT NULL PRIMARY KEY,
	hashes     TEXT,
	keys       TEXT,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL
) STRICT;

-- device_keys indexes devices by their lookup keys: its primary key leads
-- with the key, so a lookup by key is an index search.
CREATE TABLE device_keys (
	lookup_key TEXT NOT NULL,
	device_id  TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	PRIMARY KEY (lookup_key, device_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX device_keys_device ON device_keys (device_id);

CREATE TABLE links (
	user_id          TEXT    NOT NULL,
	device_id        TEXT    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	first_seen       INTEGER NOT NULL,
	last_seen        INTEGER NOT NULL,
	trusted          INTEGER NOT NULL,
	restricted_until INTEGER NOT NULL,
	PRIMARY KEY (user_id, device_id)
) STRICT;

CREATE INDEX links_device_last_seen ON links (device_id, last_seen);

-- seq (the rowid) records insertion order, the tiebreak between events of
-- the same millisecond.
CREATE TABLE events (
	seq          INTEGER NOT NULL PRIMARY KEY,
	id           TEXT    NOT NULL,
	user_id      TEXT    NOT NULL,
	time         INTEGER NOT NULL,
	kind         TEXT    NOT NULL,
	action       TEXT    NOT NULL,
	verdict      TEXT    NOT NULL,
	success      INTEGER NOT NULL,
	device_id    TEXT    NOT NULL,
	ip           TEXT    NOT NULL,
	network      TEXT    NOT NULL,
	located      INTEGER NOT NULL,
	country      TEXT    NOT NULL,
	region       TEXT    NOT NULL,
	city         TEXT    NOT NULL,
	latitude     REAL    NOT NULL,
	longitude    REAL    NOT NULL,
	accuracy_km  REAL    NOT NULL,
	asn          INTEGER NOT NULL,
	reasons      TEXT,
	challenge_id TEXT    NOT NULL
) STRICT;

CREATE INDEX events_user_time ON events (user_id, time);

CREATE TABLE failures (
	seq          INTEGER NOT NULL PRIMARY KEY,
	user_id      TEXT    NOT NULL,
	time         INTEGER NOT NULL,
	ip           TEXT    NOT NULL,
	network      TEXT    NOT NULL,
	device_id    TEXT    NOT NULL,
	known_device INTEGER NOT NULL,
	known_ip     INTEGER NOT NULL
) STRICT;

CREATE INDEX failures_user_time ON failures (user_id, time);
CREATE INDEX failures_network_time ON failures (network, time);

CREATE TABLE challenges (
	id          TEXT    NOT NULL PRIMARY KEY,
	user_id     TEXT    NOT NULL,
	device_id   TEXT    NOT NULL,
	fingerprint TEXT    NOT NULL,
	status      TEXT    NOT NULL,
	reasons     TEXT,
	email       TEXT    NOT NULL,
	phone       TEXT    NOT NULL,
	code_hash   BLOB,
	sends       INTEGER NOT NULL,
	attempts    INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	sent_at     INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	attempt     TEXT    NOT NULL
) STRICT;

CREATE INDEX challenges_user_device ON challenges (user_id, device_id);
CREATE INDEX challenges_user_created ON challenges (user_id, created_at);

CREATE TABLE secrets (
	name  TEXT NOT NULL PRIMARY KEY,
	value BLOB NOT NULL
) STRICT, WITHOUT ROWID;
