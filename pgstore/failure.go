package pgstore

import (
	"github.com/atoguard/ato/storage"
	"github.com/jackc/pgx/v5"
)

// Failed attempts: failures holds each user's (the newest MaxUser, none
// older than Keep), network_failures the users who failed from each network
// without knowing it (one row per network and user, with the latest time;
// the newest MaxNetworkUsers, none older than Keep). Each AddFailure also
// drops a few rows of each table that are older than Keep
// (storage.FailureExpiry), skipping rows another writer holds, so that the
// failures of users and networks that never fail again go too.

var (
	// qAddFailure keeps the failure of user $1 at $2 from network $3 and
	// device key $4, classified as storage.ClassifyFailure does against
	// the profile's keys and networks (known since $5), and, unless its
	// network was known, puts the user in the network's list.
	qAddFailure = stmt(`WITH p AS (
			SELECT keys, networks, network_seen FROM {s}.profiles WHERE user_id = $1),
		f AS (
			INSERT INTO {s}.failures (user_id, time, network, device_key, known_device, known_network)
			SELECT $1, $2, $3, $4,
				$4 <> '' AND EXISTS (SELECT 1 FROM p WHERE $4 = ANY (p.keys)),
				$3 <> '' AND EXISTS (SELECT 1 FROM p, unnest(p.networks, p.network_seen) AS n(k, s) WHERE n.k = $3 AND n.s >= $5)
			RETURNING known_network)
		INSERT INTO {s}.network_failures AS nf (network, user_id, time)
		SELECT $3, $1, $2 FROM f WHERE NOT f.known_network AND $3 <> ''
		ON CONFLICT (network, user_id) DO UPDATE SET time = greatest(nf.time, excluded.time)`)
	// qTrimUserFailures keeps the newest $3 failures of user $1 since $2.
	qTrimUserFailures = stmt(`DELETE FROM {s}.failures WHERE user_id = $1 AND (time < $2 OR seq NOT IN (
		SELECT seq FROM {s}.failures WHERE user_id = $1 ORDER BY time DESC, seq DESC LIMIT $3))`)
	// qTrimNetwork keeps the $3 users of network $1 who failed last, since
	// $2.
	qTrimNetwork = stmt(`DELETE FROM {s}.network_failures WHERE network = $1 AND (time < $2 OR user_id NOT IN (
		SELECT user_id FROM {s}.network_failures WHERE network = $1 ORDER BY time DESC, user_id COLLATE "C" LIMIT $3))`)
	// qExpireFailures and qExpireNetworks drop up to $2 rows older than $1,
	// the oldest first.
	qExpireFailures = stmt(`DELETE FROM {s}.failures WHERE seq IN (
		SELECT seq FROM {s}.failures WHERE time < $1 ORDER BY time LIMIT $2 FOR UPDATE SKIP LOCKED)`)
	qExpireNetworks = stmt(`DELETE FROM {s}.network_failures WHERE (network, user_id) IN (
		SELECT network, user_id FROM {s}.network_failures WHERE time < $1 ORDER BY time LIMIT $2 FOR UPDATE SKIP LOCKED)`)
	qDeleteFailures        = stmt(`DELETE FROM {s}.failures WHERE user_id = $1`)
	qDeleteNetworkFailures = stmt(`DELETE FROM {s}.network_failures WHERE user_id = $1`)
)

// queueFailure queues the keeping of a failure, the bounds of its lists
// and the expiry of a few old rows.
func (s *Store) queueFailure(b *pgx.Batch, f *storage.Failure, lim *storage.FailureLimits) {
	t, cutoff := at(f.Time), at(f.Time.Add(-lim.Keep))
	s.queue(b, qAddFailure, f.User, t, f.Network, f.DeviceKey, at(lim.KnownSince))
	s.queue(b, qTrimUserFailures, f.User, cutoff, lim.MaxUser)
	if f.Network != "" {
		s.queue(b, qTrimNetwork, f.Network, cutoff, lim.MaxNetworkUsers)
	}
	s.queue(b, qExpireFailures, cutoff, storage.FailureExpiry)
	s.queue(b, qExpireNetworks, cutoff, storage.FailureExpiry)
}
