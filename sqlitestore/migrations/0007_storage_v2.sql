-- 0007_storage_v2: per-user profiles, the hashes each user saw from each
-- device, devices that know their recent accounts, and failures kept only
-- as long as they are counted. The profiles are built from links and
-- events by a step in Go (migrate_v2.go) in the same transaction; 0008
-- drops the links it read.

-- One row per user: the profile encoded whole (internal/profilecodec) and
-- its version, for optimistic writes.
CREATE TABLE profiles (
	user_id TEXT    NOT NULL PRIMARY KEY,
	version INTEGER NOT NULL,
	data    BLOB    NOT NULL
) STRICT;

-- The hashes a user saw from a device of their profile: a JSON array,
-- newest first.
CREATE TABLE user_hashes (
	user_id   TEXT NOT NULL,
	device_id TEXT NOT NULL,
	hashes    TEXT NOT NULL,
	PRIMARY KEY (user_id, device_id)
) STRICT, WITHOUT ROWID;

-- The most recent accounts that logged in from a device: a JSON array of
-- each user and the unix milliseconds of its last login, in turn.
ALTER TABLE devices ADD COLUMN users TEXT;

-- Index entries are numbered from one counter across keys, so that the
-- most recently indexed entry decides ties between devices.
CREATE TABLE counters (
	name  TEXT    NOT NULL PRIMARY KEY,
	value INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('index', (SELECT coalesce(max(written), 0) FROM device_keys));

-- The index is one B-tree: a new device writes its two dozen keys at
-- random places, and each further index (by device, by number) or foreign
-- key would write them again. The store knows a device's keys from its
-- row, and finds and drops its entries by them.
CREATE TABLE device_keys_v2 (
	lookup_key TEXT    NOT NULL,
	device_id  TEXT    NOT NULL,
	written    INTEGER NOT NULL,
	PRIMARY KEY (lookup_key, device_id)
) STRICT, WITHOUT ROWID;
INSERT INTO device_keys_v2 (lookup_key, device_id, written) SELECT lookup_key, device_id, written FROM device_keys;
DROP TABLE device_keys;
ALTER TABLE device_keys_v2 RENAME TO device_keys;

-- Failures carry the exact key of the attempt's fingerprint rather than a
-- device id, and whether its network was known; those kept before carry
-- no key and keep their flags.
CREATE TABLE failures_v2 (
	seq           INTEGER NOT NULL PRIMARY KEY,
	user_id       TEXT    NOT NULL,
	time          INTEGER NOT NULL,
	network       TEXT    NOT NULL,
	device_key    TEXT    NOT NULL,
	known_device  INTEGER NOT NULL,
	known_network INTEGER NOT NULL
) STRICT;
INSERT INTO failures_v2 (user_id, time, network, device_key, known_device, known_network)
	SELECT user_id, time, network, '', known_device, known_ip FROM failures ORDER BY seq;
DROP TABLE failures;
ALTER TABLE failures_v2 RENAME TO failures;
CREATE INDEX failures_user_time ON failures (user_id, time);
CREATE INDEX failures_time ON failures (time);

-- A network's list holds one row per user who failed from it without
-- knowing it, with the latest time.
CREATE TABLE network_failures_v2 (
	network TEXT    NOT NULL,
	user_id TEXT    NOT NULL,
	time    INTEGER NOT NULL,
	PRIMARY KEY (network, user_id)
) STRICT, WITHOUT ROWID;
INSERT INTO network_failures_v2 (network, user_id, time)
	SELECT network, user_id, max(time) FROM network_failures WHERE known_ip = 0 GROUP BY network, user_id;
DROP TABLE network_failures;
ALTER TABLE network_failures_v2 RENAME TO network_failures;
CREATE INDEX network_failures_recent ON network_failures (network, time);
CREATE INDEX network_failures_time ON network_failures (time);
CREATE INDEX network_failures_user ON network_failures (user_id);

-- Purge deletes by age across users: each login pays for one more index
-- entry, so that retention never scans the history.
CREATE INDEX events_time ON events (time);
CREATE INDEX challenges_created ON challenges (created_at);
