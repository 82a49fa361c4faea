-- 0002_key_cap_failure_lists: the cap on the devices one lookup key indexes,
-- separate bounds on a user's and a network's failures, and indexes that
-- make a login's writes cheaper.

-- device_keys.written orders the devices indexed under one key: a device
-- indexed under it later has a greater number. A key indexes at most
-- storage.MaxKeyDevices (64) devices, the most recent ones. The devices already
-- indexed are numbered by when they were last seen, and each key keeps the
-- most recent of them.
ALTER TABLE device_keys ADD COLUMN written INTEGER NOT NULL DEFAULT 0;

UPDATE device_keys SET written = r.n
FROM (
	SELECT k.lookup_key, k.device_id,
		row_number() OVER (PARTITION BY k.lookup_key ORDER BY d.last_seen, d.id) AS n
	FROM device_keys k JOIN devices d ON d.id = k.device_id
) AS r
WHERE r.lookup_key = device_keys.lookup_key AND r.device_id = device_keys.device_id;

DELETE FROM device_keys WHERE written <= (
	SELECT max(c.written) FROM device_keys c WHERE c.lookup_key = device_keys.lookup_key
) - 64;

-- A failure belongs to two lists, its user's and its network's, each of
-- which keeps its storage.MaxFailures newest on its own, so that a flood
-- from one network cannot push a user's failures out. failures holds the
-- users' lists; network_failures holds the networks'.
CREATE TABLE network_failures (
	seq      INTEGER NOT NULL PRIMARY KEY,
	network  TEXT    NOT NULL,
	time     INTEGER NOT NULL,
	user_id  TEXT    NOT NULL,
	known_ip INTEGER NOT NULL
) STRICT;

CREATE INDEX network_failures_network_time ON network_failures (network, time);
CREATE INDEX network_failures_user ON network_failures (user_id);

INSERT INTO network_failures (network, time, user_id, known_ip)
	SELECT network, time, user_id, known_ip FROM failures
	WHERE network <> ''
	ORDER BY seq;

DROP INDEX failures_network_time;

-- A login rewrites its link's last_seen: indexing links by device alone
-- spares it an index write. DeviceUsers filters a device's few links by
-- last_seen.
DROP INDEX links_device_last_seen;
CREATE INDEX links_device ON links (device_id);

-- The events without success, which a history drops first when it is
-- trimmed, by user and time. Most events have success, and the index
-- costs them nothing.
CREATE INDEX events_user_unsuccessful ON events (user_id, time) WHERE success = 0;
