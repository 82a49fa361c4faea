package sqlitestore

import (
	"fmt"

	"github.com/atoguard/ato/storage"
)

// Failed attempts: failures holds each user's (the newest MaxUser, none
// older than Keep), network_failures the users who failed from each network
// without knowing it (one row per network and user, with the latest time;
// the newest MaxNetworkUsers, none older than Keep). Each AddFailure also
// drops a few rows, in each table, that have been older than Keep for a
// while (storage.FailureExpiry), through the time indexes, so that the
// failures of users and networks that never fail again go too.

// failureCounts counts the failures of a load: user ?1 since ?2 (of the
// newest ?3), all and from unknown devices; the users of network ?4 since
// ?5 (at most ?6).
const failureCounts = `
	(SELECT count(*) FROM (SELECT 1 FROM failures
		WHERE user_id = ?1 AND time >= ?2 ORDER BY time DESC, seq DESC LIMIT ?3)),
	(SELECT count(*) FROM (SELECT known_device FROM failures
		WHERE user_id = ?1 AND time >= ?2 ORDER BY time DESC, seq DESC LIMIT ?3) WHERE known_device = 0),
	(SELECT count(*) FROM (SELECT 1 FROM network_failures
		WHERE network = ?4 AND time >= ?5 LIMIT ?6))`

var (
	qInsertFailure = prepared(`INSERT INTO failures (user_id, time, network, device_key, known_device, known_network)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6)`)
	// qTrimUserFailures keeps the newest ?3 failures of user ?1 since ?2.
	qTrimUserFailures = prepared(`DELETE FROM failures WHERE user_id = ?1 AND (time < ?2 OR seq NOT IN (
		SELECT seq FROM failures WHERE user_id = ?1 ORDER BY time DESC, seq DESC LIMIT ?3))`)
	qPutNetworkFailure = prepared(`INSERT INTO network_failures (network, user_id, time) VALUES (?1, ?2, ?3)
		ON CONFLICT (network, user_id) DO UPDATE SET time = max(time, excluded.time)`)
	// qTrimNetwork keeps the ?3 users of network ?1 who failed last, since
	// ?2.
	qTrimNetwork = prepared(`DELETE FROM network_failures WHERE network = ?1 AND (time < ?2 OR user_id NOT IN (
		SELECT user_id FROM network_failures WHERE network = ?1 ORDER BY time DESC, user_id LIMIT ?3))`)
	// qExpireFailures and qExpireNetworks drop up to ?2 rows older than ?1.
	qExpireFailures = prepared(`DELETE FROM failures WHERE seq IN (
		SELECT seq FROM failures WHERE time < ?1 ORDER BY time LIMIT ?2)`)
	qExpireNetworks = prepared(`DELETE FROM network_failures WHERE (network, user_id) IN (
		SELECT network, user_id FROM network_failures WHERE time < ?1 ORDER BY time LIMIT ?2)`)
	qDeleteFailures        = prepared(`DELETE FROM failures WHERE user_id = ?1`)
	qDeleteNetworkFailures = prepared(`DELETE FROM network_failures WHERE user_id = ?1`)
)

// addFailure keeps a classified failure, bounds its lists and expires a few
// old rows.
func addFailure(t *tx, f *storage.Failure, lim *storage.FailureLimits) error {
	at, cutoff := ms(f.Time), ms(f.Time.Add(-lim.Keep))
	if _, err := t.exec(qInsertFailure, f.User, at, f.Network, f.DeviceKey, boolInt(f.KnownDevice), boolInt(f.KnownNetwork)); err != nil {
		return fmt.Errorf("add failure: %w", err)
	}
	if _, err := t.exec(qTrimUserFailures, f.User, cutoff, lim.MaxUser); err != nil {
		return fmt.Errorf("add failure: %w", err)
	}
	if !f.KnownNetwork && f.Network != "" {
		if _, err := t.exec(qPutNetworkFailure, f.Network, f.User, at); err != nil {
			return fmt.Errorf("add failure: %w", err)
		}
		if _, err := t.exec(qTrimNetwork, f.Network, cutoff, lim.MaxNetworkUsers); err != nil {
			return fmt.Errorf("add failure: %w", err)
		}
	}
	if _, err := t.exec(qExpireFailures, cutoff, storage.FailureExpiry); err != nil {
		return fmt.Errorf("expire failures: %w", err)
	}
	if _, err := t.exec(qExpireNetworks, cutoff, storage.FailureExpiry); err != nil {
		return fmt.Errorf("expire failures: %w", err)
	}
	return nil
}
