package pgstore

import (
	"github.com/atoguard/ato/storage"
	"github.com/jackc/pgx/v5"
)

// Failed attempts: failures holds each user's (the newest MaxUser, none
// older than Keep), network_failures the users who failed from each network
// without knowing it (one row per network and user, with the latest time
// and whether that failure was a campaign failure; the newest
// MaxNetworkUsers, none older than Keep), and the campaign list as the list
// of the network storage.CampaignKey (the newest MaxCampaignUsers). Each AddFailure also
// drops a few rows of each table that are older than Keep
// (storage.FailureExpiry), skipping rows another writer holds, so that the
// failures of users and networks that never fail again go too.

var (
	// qAddFailure keeps the failure of user $1 at $2 from network $3 and
	// device key $4, classified as storage.ClassifyFailure does against
	// the profile's facts: the device is known when the digest $6 of the
	// key is one of the profile's keys, the network when its digest $7 is
	// one of its networks, seen since $5. It is a campaign failure
	// (storage.Failure.Campaign) when the name is not an account ($8) and
	// neither was known. Unless its network was known, the user goes into
	// the network's list, marked if so; a campaign failure goes into the
	// list of network $9, the campaign list, too, when $9 is not '' and,
	// before the statement, fewer than $11 other users of its network's
	// list were marked since $10. A list's row takes the later time and
	// that failure's mark.
	qAddFailure = stmt(`WITH p AS (
			SELECT keys, networks, network_seen FROM {s}.profiles WHERE user_id = $1),
		f AS (
			INSERT INTO {s}.failures (user_id, time, network, device_key, known_device, known_network)
			SELECT $1, $2, $3, $4,
				$4 <> '' AND EXISTS (SELECT 1 FROM p WHERE $6::bigint = ANY (p.keys)),
				$3 <> '' AND EXISTS (SELECT 1 FROM p, unnest(p.networks, p.network_seen) AS n(k, s) WHERE n.k = $7 AND n.s >= $5)
			RETURNING known_device, known_network),
		c AS (
			SELECT $8::boolean AND NOT f.known_device AND NOT f.known_network AS campaign, f.known_network FROM f)
		INSERT INTO {s}.network_failures AS nf (network, user_id, time, campaign)
		SELECT $3, $1, $2, c.campaign FROM c WHERE NOT c.known_network AND $3 <> ''
		UNION ALL
		SELECT $9, $1, $2, true FROM c WHERE c.campaign AND $9 <> '' AND ($3 = '' OR (
			SELECT count(*) FROM (SELECT 1 FROM {s}.network_failures m
				WHERE m.network = $3 AND m.time >= $10 AND m.campaign AND m.user_id <> $1 LIMIT $11) m) < $11)
		ON CONFLICT (network, user_id) DO UPDATE SET time = greatest(nf.time, excluded.time),
			campaign = CASE WHEN excluded.time >= nf.time THEN excluded.campaign ELSE nf.campaign END`)
	// qTrimUserFailures keeps the newest $3 failures of user $1 since $2.
	qTrimUserFailures = stmt(`DELETE FROM {s}.failures WHERE user_id = $1 AND (time < $2 OR seq NOT IN (
		SELECT seq FROM {s}.failures WHERE user_id = $1 ORDER BY time DESC, seq DESC LIMIT $3))`)
	// qTrimNetwork keeps the $3 users of network $1 who failed last, since
	// $2.
	qTrimNetwork = stmt(`DELETE FROM {s}.network_failures WHERE network = $1 AND (time < $2 OR user_id NOT IN (
		SELECT user_id FROM {s}.network_failures WHERE network = $1 ORDER BY time DESC, user_id COLLATE "C" LIMIT $3))`)
	// qExpireFailures and qExpireNetworks drop up to $2 rows older than $1,
	// the oldest first, skipping rows another writer holds: each
	// AddFailure drops a few in passing. (= ANY (ARRAY (…)) keeps the
	// plan on the time index even when it is generic.)
	qExpireFailures = stmt(`DELETE FROM {s}.failures WHERE seq = ANY (ARRAY (
		SELECT seq FROM {s}.failures WHERE time < $1 ORDER BY time LIMIT $2 FOR UPDATE SKIP LOCKED))`)
	qExpireNetworks = stmt(`DELETE FROM {s}.network_failures WHERE (network, user_id) IN (
		SELECT network, user_id FROM {s}.network_failures WHERE time < $1 ORDER BY time LIMIT $2 FOR UPDATE SKIP LOCKED)`)
	// qPurgeFailures and qPurgeNetworks are the same for Purge, which
	// waits for rows a writer holds, so that fewer than $2 means none is
	// left.
	qPurgeFailures = stmt(`DELETE FROM {s}.failures WHERE seq = ANY (ARRAY (
		SELECT seq FROM {s}.failures WHERE time < $1 ORDER BY time LIMIT $2))`)
	qPurgeNetworks = stmt(`DELETE FROM {s}.network_failures WHERE (network, user_id) IN (
		SELECT network, user_id FROM {s}.network_failures WHERE time < $1 ORDER BY time LIMIT $2)`)
	qDeleteFailures        = stmt(`DELETE FROM {s}.failures WHERE user_id = $1`)
	qDeleteNetworkFailures = stmt(`DELETE FROM {s}.network_failures WHERE user_id = $1`)
)

// queueFailure queues, after the lock of the user's writes, the lock of
// the network's list (and of the campaign list, for a name that is not an
// account), the keeping of a failure, the bounds of its lists and the
// expiry of a few old rows. Writers of one network's list take turns,
// always after their user's lock, and the campaign list's after their
// network's: otherwise two of them could each trim the row the other just
// wrote.
func (s *Store) queueFailure(b *pgx.Batch, f *storage.Failure, lim *storage.FailureLimits) {
	t, cutoff := at(f.Time), at(f.Time.Add(-lim.Keep))
	var key, network int64
	if f.DeviceKey != "" {
		key = digest(f.DeviceKey)
	}
	if f.Network != "" {
		network = digest(f.Network)
		s.queue(b, qLockNetwork, f.Network, s.lockSeed)
	}
	campaign := "" // the campaign list's key, when the failure may go into it
	if f.UnknownUser && lim.MaxCampaignUsers > 0 {
		campaign = storage.CampaignKey
		s.queue(b, qLockNetwork, campaign, s.lockSeed)
	}
	s.queue(b, qAddFailure, f.User, t, f.Network, f.DeviceKey, at(lim.KnownSince), key, network, f.UnknownUser, campaign,
		cutoff, lim.CampaignPerNetwork)
	s.queue(b, qTrimUserFailures, f.User, cutoff, lim.MaxUser)
	if f.Network != "" {
		s.queue(b, qTrimNetwork, f.Network, cutoff, lim.MaxNetworkUsers)
	}
	if campaign != "" {
		s.queue(b, qTrimNetwork, campaign, cutoff, lim.MaxCampaignUsers)
	}
	s.queue(b, qExpireFailures, cutoff, storage.FailureExpiry)
	s.queue(b, qExpireNetworks, cutoff, storage.FailureExpiry)
}
