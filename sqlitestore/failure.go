package sqlitestore

import (
	"fmt"

	"github.com/atoguard/ato/storage"
)

// Failed attempts: failures holds each user's (the newest MaxUser, none
// older than Keep), network_failures the users who failed from each network
// without knowing it (one row per network and user, with the latest time
// and whether that failure was a campaign failure; the newest
// MaxNetworkUsers, none older than Keep). The campaign list is the list of
// the network storage.CampaignKey in network_failures (the newest
// MaxCampaignUsers). Each AddFailure also drops a few rows, in each table,
// that have been older than Keep for a while (storage.FailureExpiry),
// through the time indexes, so that the failures of users and networks
// that never fail again go too.

// failureCounts counts the failures of a load: user ?1 since ?2 (of the
// newest ?3), all and from unknown devices; the users of network ?4 since
// ?5 (at most ?6), and those marked as campaign failures since ?9 (at most
// ?10); the names of the campaign list, network ?11, since ?12 (at most
// ?13).
const failureCounts = `
	(SELECT count(*) FROM (SELECT 1 FROM failures
		WHERE user_id = ?1 AND time >= ?2 ORDER BY time DESC, seq DESC LIMIT ?3)),
	(SELECT count(*) FROM (SELECT known_device FROM failures
		WHERE user_id = ?1 AND time >= ?2 ORDER BY time DESC, seq DESC LIMIT ?3) WHERE known_device = 0),
	(SELECT count(*) FROM (SELECT 1 FROM network_failures
		WHERE network = ?4 AND time >= ?5 LIMIT ?6)),
	(SELECT count(*) FROM (SELECT 1 FROM network_failures
		WHERE network = ?4 AND time >= ?9 AND campaign = 1 LIMIT ?10)),
	(SELECT count(*) FROM (SELECT 1 FROM network_failures
		WHERE network = ?11 AND time >= ?12 LIMIT ?13))`

var (
	qInsertFailure = prepared(`INSERT INTO failures (user_id, time, network, device_key, known_device, known_network)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6)`)
	// qTrimUserFailures keeps the newest ?3 failures of user ?1 since ?2.
	qTrimUserFailures = prepared(`DELETE FROM failures WHERE user_id = ?1 AND (time < ?2 OR seq NOT IN (
		SELECT seq FROM failures WHERE user_id = ?1 ORDER BY time DESC, seq DESC LIMIT ?3))`)
	// qPutNetworkFailure puts user ?2 in the list of network ?1 with the
	// later of its times and that failure's mark ?4 (the new one's when the
	// times are equal).
	qPutNetworkFailure = prepared(`INSERT INTO network_failures (network, user_id, time, campaign) VALUES (?1, ?2, ?3, ?4)
		ON CONFLICT (network, user_id) DO UPDATE SET time = max(time, excluded.time),
			campaign = CASE WHEN excluded.time >= time THEN excluded.campaign ELSE campaign END`)
	// qMarkedOthers counts the users of network ?1 other than ?2 marked
	// since ?3, up to ?4.
	qMarkedOthers = prepared(`SELECT count(*) FROM (SELECT 1 FROM network_failures
		WHERE network = ?1 AND time >= ?3 AND campaign = 1 AND user_id <> ?2 LIMIT ?4)`)
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

// putNetworkFailure puts the failure's user in the list of the network (a
// network's or the campaign list) and bounds the list.
func putNetworkFailure(t *tx, network string, f *storage.Failure, at, cutoff int64, max int) error {
	if _, err := t.exec(qPutNetworkFailure, network, f.User, at, boolInt(f.Campaign())); err != nil {
		return fmt.Errorf("add failure: %w", err)
	}
	if _, err := t.exec(qTrimNetwork, network, cutoff, max); err != nil {
		return fmt.Errorf("add failure: %w", err)
	}
	return nil
}

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
	campaign := f.Campaign() && lim.MaxCampaignUsers > 0
	if campaign && f.Network != "" {
		// The network may have put enough in the campaign list.
		var marked int
		if err := t.row(qMarkedOthers, f.Network, f.User, cutoff, lim.CampaignPerNetwork).Scan(&marked); err != nil {
			return fmt.Errorf("add failure: %w", err)
		}
		campaign = marked < lim.CampaignPerNetwork
	}
	if !f.KnownNetwork && f.Network != "" {
		if err := putNetworkFailure(t, f.Network, f, at, cutoff, lim.MaxNetworkUsers); err != nil {
			return err
		}
	}
	if campaign {
		if err := putNetworkFailure(t, storage.CampaignKey, f, at, cutoff, lim.MaxCampaignUsers); err != nil {
			return err
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
