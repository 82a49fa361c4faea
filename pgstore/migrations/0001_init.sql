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
	-- The facts of the profile that statements read, keys and networks as
	-- 64-bit digests (pgstore's digest) to keep the row small:
	-- device_ids and newest_keys are each device and the digest of the
	-- key of the newest hash the user saw from it (0 without one), in the
	-- profile's order; keys, the digest of every key of every device;
	-- networks and network_seen, the digest of each network and its last
	-- successful login.
	device_ids text[] NOT NULL,
	newest_keys bigint[] NOT NULL,
	keys bigint[] NOT NULL,
	networks bigint[] NOT NULL,
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
-- storage.Device describes (an identity column: an app's role needs no
-- right on a sequence to write it).
CREATE TABLE {s}.device_keys (
	lookup_key text NOT NULL,
	device_id text NOT NULL,
	written bigint GENERATED ALWAYS AS IDENTITY,
	PRIMARY KEY (lookup_key, device_id)
);
CREATE INDEX device_keys_written ON {s}.device_keys (lookup_key, written DESC);
CREATE INDEX device_keys_device ON {s}.device_keys (device_id);

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
-- network and user, with the latest time and whether that failure was a
-- campaign failure (storage.Failure.Campaign: a name that is not an
-- account). The campaign list, the names that are not accounts failing
-- from anywhere, is the list of the reserved network '*'
-- (storage.CampaignKey), which no network's key is.
CREATE TABLE {s}.network_failures (
	network text NOT NULL,
	user_id text NOT NULL,
	time timestamptz NOT NULL,
	campaign boolean NOT NULL,
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
-- The open challenges of a user's device, which a new one overrides, by
-- when they end: those that ended are not read again.
CREATE INDEX challenges_open ON {s}.challenges (user_id, device_id, expires_at)
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

-- ato_load_v1 reads everything an evaluation needs (pgstore's Load): as a
-- STABLE function, its queries see the snapshot of the statement that
-- calls it, and it runs only those the attempt needs. (A release that
-- changes what it returns adds ato_load_v2 beside it, so that instances
-- still running this one keep working during a rolling deploy.) Its rows
-- are in parts:
--
--   - part 0, one row: the profile of the user (a NULL version when there
--     is none) and the counts: the user's failures since p_fsince (of the
--     newest p_maxu), all and from unknown devices; the users who failed
--     from p_net since p_nsince (at most p_maxn), and those of them whose
--     latest failure from it was a campaign failure since p_usince (at
--     most p_maxun); the names of the campaign list, the list of network
--     p_camp, since p_gsince (at most p_maxg); the user's challenges
--     created since p_csince (at most p_maxc). A count whose time is NULL
--     is 0.
--   - part 1: global devices with their rank. When p_key, the digest of
--     the fingerprint's key, is that of the newest key of a device of the
--     profile, that device alone (rank 0); otherwise, when there is a
--     fingerprint (p_key is not 0), the best p_max of the devices indexed
--     under the keys p_keys, ranked as storage.RankCandidates ranks them:
--     a device scores p_weight / n, an integer division, for each key it
--     is indexed under, n being the devices under the key (the newest
--     storage.MaxKeyDevices, p_cap, of them); ties go to the highest entry
--     number, then to the least id (in Go's order of strings).
--   - part 2: when the candidates were searched, the hashes the user saw
--     from each device.
--
-- pgstore checks in Go that the profile's newest key is the fingerprint's
-- (a digest may collide), and searches again if it is not.
CREATE FUNCTION {s}.ato_load_v1(p_user text, p_key bigint, p_keys text[], p_max int, p_weight bigint, p_cap int,
	p_fsince timestamptz, p_maxu int, p_net text, p_nsince timestamptz, p_maxn int,
	p_csince timestamptz, p_maxc int,
	p_usince timestamptz, p_maxun int, p_camp text, p_gsince timestamptz, p_maxg int)
RETURNS TABLE (o_part int, o_version bigint, o_data bytea,
	o_user bigint, o_unknown bigint, o_network bigint, o_challenges bigint,
	o_network_unknown bigint, o_campaign bigint,
	o_id text, o_hashes text[], o_keys text[], o_first_seen timestamptz, o_last_seen timestamptz,
	o_user_ids text[], o_user_seen timestamptz[], o_rank bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
	pr record;
	known text;
BEGIN
	SELECT p.version, p.data, p.device_ids, p.newest_keys INTO pr FROM {s}.profiles p WHERE p.user_id = p_user;
	o_part := 0;
	o_version := pr.version;
	o_data := pr.data;
	o_user := 0; o_unknown := 0; o_network := 0; o_challenges := 0; o_rank := 0;
	o_network_unknown := 0; o_campaign := 0;
	IF p_fsince IS NOT NULL THEN
		SELECT count(*), count(*) FILTER (WHERE NOT f.known_device) INTO o_user, o_unknown
		FROM (SELECT f.known_device FROM {s}.failures f WHERE f.user_id = p_user AND f.time >= p_fsince
			ORDER BY f.time DESC, f.seq DESC LIMIT p_maxu) f;
		IF p_net <> '' THEN
			SELECT count(*) INTO o_network
			FROM (SELECT 1 FROM {s}.network_failures n WHERE n.network = p_net AND n.time >= p_nsince LIMIT p_maxn) n;
			IF p_maxun > 0 THEN
				SELECT count(*) INTO o_network_unknown
				FROM (SELECT 1 FROM {s}.network_failures n
					WHERE n.network = p_net AND n.time >= p_usince AND n.campaign LIMIT p_maxun) n;
			END IF;
		END IF;
		IF p_maxg > 0 THEN
			SELECT count(*) INTO o_campaign
			FROM (SELECT 1 FROM {s}.network_failures n WHERE n.network = p_camp AND n.time >= p_gsince LIMIT p_maxg) n;
		END IF;
	END IF;
	IF p_csince IS NOT NULL THEN
		SELECT count(*) INTO o_challenges
		FROM (SELECT 1 FROM {s}.challenges c WHERE c.user_id = p_user AND c.created_at >= p_csince LIMIT p_maxc) c;
	END IF;
	RETURN NEXT;
	IF p_key = 0 THEN
		RETURN;
	END IF;
	known := pr.device_ids[array_position(pr.newest_keys, p_key)];
	IF known IS NOT NULL THEN
		RETURN QUERY SELECT 1, NULL::bigint, NULL::bytea, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint,
			d.id, d.hashes, d.keys, d.first_seen, d.last_seen, d.user_ids, d.user_seen, 0::bigint
		FROM {s}.devices d WHERE d.id = known;
		RETURN;
	END IF;
	IF cardinality(p_keys) > 0 THEN
		RETURN QUERY WITH hits AS (
				SELECT k.lookup_key, e.device_id, e.written
				FROM unnest(p_keys) AS k(lookup_key),
					LATERAL (SELECT dk.device_id, dk.written FROM {s}.device_keys dk WHERE dk.lookup_key = k.lookup_key
						ORDER BY dk.written DESC LIMIT p_cap) e),
			ranked AS (
				SELECT h.device_id, row_number() OVER (ORDER BY sum(p_weight / n.n) DESC, max(h.written) DESC, h.device_id COLLATE "C") AS rank
				FROM hits h JOIN (SELECT lookup_key, count(*) AS n FROM hits GROUP BY lookup_key) n USING (lookup_key)
				GROUP BY h.device_id
				ORDER BY rank LIMIT p_max)
			SELECT 1, NULL::bigint, NULL::bytea, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint,
				d.id, d.hashes, d.keys, d.first_seen, d.last_seen, d.user_ids, d.user_seen, r.rank
			FROM ranked r JOIN {s}.devices d ON d.id = r.device_id;
	END IF;
	RETURN QUERY SELECT 2, NULL::bigint, NULL::bytea, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint,
		h.device_id, h.hashes, NULL::text[], NULL::timestamptz, NULL::timestamptz, NULL::text[], NULL::timestamptz[], 0::bigint
	FROM {s}.user_hashes h WHERE h.user_id = p_user;
END
$$;
