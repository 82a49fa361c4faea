-- The schema of pgstore. {s} stands for the store's schema, quoted.
--
-- Times are timestamptz at millisecond precision, never NULL: the zero
-- time.Time is stored as 0001-01-01 00:00:00 UTC. Lists of strings are
-- text[]; a profile is one bytea (internal/profilecodec) with, beside it,
-- the few of its facts a statement needs (see profile.go).
--
-- Rows updated on every login (profiles) have no index but their primary
-- key, so that PostgreSQL updates them in place (HOT) without touching an
-- index; their tables leave room on each page for it.

-- ato_check raises the SQLSTATE code with the message unless ok: a batch
-- calls it to fail whole, in its implicit transaction, when a condition a
-- commit depends on does not hold.
CREATE FUNCTION {s}.ato_check(ok boolean, code text, message text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	IF ok IS NOT TRUE THEN
		RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message;
	END IF;
	RETURN true;
END
$$;

CREATE TABLE {s}.profiles (
	user_id text PRIMARY KEY,
	version bigint NOT NULL,
	data bytea NOT NULL,
	-- device_ids and newest_keys: each device of the profile and the key of
	-- the newest hash the user saw from it ('' without one), in the
	-- profile's order; keys: every key of every device.
	device_ids text[] NOT NULL,
	newest_keys text[] NOT NULL,
	keys text[] NOT NULL,
	-- networks and network_seen: each network of the profile and its last
	-- successful login.
	networks text[] NOT NULL,
	network_seen timestamptz[] NOT NULL
) WITH (fillfactor = 70);

CREATE TABLE {s}.user_hashes (
	user_id text NOT NULL,
	device_id text NOT NULL,
	hashes text[] NOT NULL,
	PRIMARY KEY (user_id, device_id)
);

CREATE TABLE {s}.devices (
	id text PRIMARY KEY,
	hashes text[] NOT NULL,
	keys text[] NOT NULL,
	first_seen timestamptz NOT NULL,
	last_seen timestamptz NOT NULL,
	-- user_ids and user_seen: the device's users, most recent first.
	user_ids text[] NOT NULL,
	user_seen timestamptz[] NOT NULL
) WITH (fillfactor = 80);

-- The index of devices by lookup key; written numbers entries as
-- storage.Device describes.
CREATE SEQUENCE {s}.device_key_seq;
CREATE TABLE {s}.device_keys (
	lookup_key text NOT NULL,
	device_id text NOT NULL,
	written bigint NOT NULL,
	PRIMARY KEY (lookup_key, device_id)
);
CREATE INDEX device_keys_written ON {s}.device_keys (lookup_key, written DESC);

CREATE TABLE {s}.events (
	seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id text NOT NULL,
	user_id text NOT NULL,
	time timestamptz NOT NULL,
	kind text NOT NULL,
	action text NOT NULL,
	verdict text NOT NULL,
	success boolean NOT NULL,
	device_id text NOT NULL,
	ip text NOT NULL,
	network text NOT NULL,
	located boolean NOT NULL,
	country text NOT NULL,
	region text NOT NULL,
	city text NOT NULL,
	latitude double precision NOT NULL,
	longitude double precision NOT NULL,
	accuracy_km double precision NOT NULL,
	asn bigint NOT NULL,
	reasons text[],
	challenge_id text NOT NULL
);
-- A user's history, newest last; success rides along so that trimming
-- reads the index only.
CREATE INDEX events_user_time ON {s}.events (user_id, time, seq) INCLUDE (success);
-- Retention.
CREATE INDEX events_time ON {s}.events (time);

CREATE TABLE {s}.failures (
	seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id text NOT NULL,
	time timestamptz NOT NULL,
	network text NOT NULL,
	device_key text NOT NULL,
	known_device boolean NOT NULL,
	known_network boolean NOT NULL
);
CREATE INDEX failures_user_time ON {s}.failures (user_id, time, seq);
CREATE INDEX failures_time ON {s}.failures (time);

-- The users who failed from each network without knowing it: one row per
-- network and user, with the latest time.
CREATE TABLE {s}.network_failures (
	network text NOT NULL,
	user_id text NOT NULL,
	time timestamptz NOT NULL,
	PRIMARY KEY (network, user_id)
);
CREATE INDEX network_failures_recent ON {s}.network_failures (network, time);
CREATE INDEX network_failures_time ON {s}.network_failures (time);
CREATE INDEX network_failures_user ON {s}.network_failures (user_id);

CREATE TABLE {s}.challenges (
	id text PRIMARY KEY,
	user_id text NOT NULL,
	device_id text NOT NULL,
	fingerprint text NOT NULL,
	known_device boolean NOT NULL,
	status text NOT NULL,
	reasons text[],
	email text NOT NULL,
	phone text NOT NULL,
	channel text NOT NULL,
	code_hash bytea,
	sends integer NOT NULL,
	attempts integer NOT NULL,
	created_at timestamptz NOT NULL,
	sent_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	attempt jsonb NOT NULL
);
CREATE INDEX challenges_user_created ON {s}.challenges (user_id, created_at);
CREATE INDEX challenges_created ON {s}.challenges (created_at);
-- The open challenges of a user's device, which a new one overrides.
CREATE INDEX challenges_open ON {s}.challenges (user_id, device_id)
	WHERE status IN ('pending', 'sent', 'verified');

CREATE TABLE {s}.factors (
	user_id text NOT NULL,
	kind text NOT NULL,
	secret bytea,
	confirmed boolean NOT NULL,
	last_step bigint NOT NULL,
	failures integer NOT NULL,
	failed_at timestamptz NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	PRIMARY KEY (user_id, kind)
);

CREATE TABLE {s}.secrets (
	name text PRIMARY KEY,
	value bytea NOT NULL
);
