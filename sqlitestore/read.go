package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/atoguard/ato/storage"
)

// Device returns the device with the id, or an error wrapping
// [storage.ErrNotFound].
func (s *Store) Device(ctx context.Context, id string) (storage.Device, error) {
	if err := s.enter(); err != nil {
		return storage.Device{}, err
	}
	defer s.leave()
	d, err := scanDevice(s.read.QueryRowContext(ctx,
		`SELECT `+deviceCols+` FROM devices d WHERE d.id = ?1`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storage.Device{}, fmt.Errorf("sqlitestore: device %q: %w", id, storage.ErrNotFound)
	case err != nil:
		return storage.Device{}, fmt.Errorf("sqlitestore: device %q: %w", id, err)
	}
	return d, nil
}

// FindDevices returns up to limit devices (16 when limit <= 0) that have any
// of the keys, most recently seen first.
func (s *Store) FindDevices(ctx context.Context, keys []string, limit int) ([]storage.Device, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	ds, err := findDevices(ctx, s.read, keys, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: find devices: %w", err)
	}
	return ds, nil
}

// findDevices looks devices up by key through the device_keys index.
func findDevices(ctx context.Context, q querier, keys []string, limit int) ([]storage.Device, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	if limit <= 0 {
		limit = defaultCandidates
	}
	list, err := keysJSON(keys)
	if err != nil {
		return nil, err
	}
	return scanDevices(q.QueryContext(ctx, `SELECT `+deviceCols+` FROM devices d
		WHERE d.id IN (
			SELECT k.device_id FROM device_keys k
			WHERE k.lookup_key IN (SELECT value FROM json_each(?1)))
		ORDER BY d.last_seen DESC, d.id
		LIMIT ?2`, list, limit))
}

// UserDevices returns the user's known devices, most recently seen first.
func (s *Store) UserDevices(ctx context.Context, user string) ([]storage.UserDevice, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	uds, err := scanUserDevices(s.read.QueryContext(ctx, userDevicesQuery, user))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: user devices: %w", err)
	}
	return uds, nil
}

// DeviceUsers returns the links of a device seen since the time (inclusive),
// most recently seen first.
func (s *Store) DeviceUsers(ctx context.Context, deviceID string, since time.Time) ([]storage.Link, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	ls, err := scanLinks(s.read.QueryContext(ctx, `SELECT `+linkCols+` FROM links l
		WHERE l.device_id = ?1 AND l.last_seen >= ?2
		ORDER BY l.last_seen DESC, l.user_id`, deviceID, ms(since)))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: device users: %w", err)
	}
	return ls, nil
}

// Events returns up to limit (50 when limit <= 0) of the user's events since
// the time (inclusive), newest first.
func (s *Store) Events(ctx context.Context, user string, since time.Time, limit int) ([]storage.Event, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	es, err := events(ctx, s.read, user, since, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: events: %w", err)
	}
	return es, nil
}

// events reads a user's events, newest first; events of the same
// millisecond come in reverse order of insertion.
func events(ctx context.Context, q querier, user string, since time.Time, limit int) ([]storage.Event, error) {
	if limit <= 0 {
		limit = defaultEvents
	}
	return scanEvents(q.QueryContext(ctx, `SELECT `+eventCols+` FROM events
		WHERE user_id = ?1 AND time >= ?2
		ORDER BY time DESC, seq DESC
		LIMIT ?3`, user, ms(since), limit))
}

// CountFailures answers a failure query. Windows include their start.
func (s *Store) CountFailures(ctx context.Context, q storage.FailureQuery) (storage.FailureCounts, error) {
	if err := s.enter(); err != nil {
		return storage.FailureCounts{}, err
	}
	defer s.leave()
	fc, err := countFailures(ctx, s.read, q)
	if err != nil {
		return storage.FailureCounts{}, fmt.Errorf("sqlitestore: count failures: %w", err)
	}
	return fc, nil
}

// countFailures answers q in one statement, hence from one snapshot.
func countFailures(ctx context.Context, db querier, q storage.FailureQuery) (storage.FailureCounts, error) {
	var fc storage.FailureCounts
	err := db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM failures
			WHERE user_id = ?1 AND time >= ?2),
		(SELECT count(*) FROM failures
			WHERE user_id = ?1 AND time >= ?2 AND known_device = 0 AND known_ip = 0),
		CASE WHEN ?3 = '' THEN 0 ELSE
			(SELECT count(DISTINCT user_id) FROM failures
				WHERE network = ?3 AND time >= ?4 AND known_ip = 0)
		END`,
		q.User, ms(q.UserSince), q.Network, ms(q.NetworkSince),
	).Scan(&fc.User, &fc.UserUnknown, &fc.NetworkUsers)
	return fc, err
}

// Challenge returns the challenge with the id, or an error wrapping
// [storage.ErrNotFound].
func (s *Store) Challenge(ctx context.Context, id string) (storage.Challenge, error) {
	if err := s.enter(); err != nil {
		return storage.Challenge{}, err
	}
	defer s.leave()
	c, err := challenge(ctx, s.read, id)
	if err != nil {
		return storage.Challenge{}, err
	}
	return c, nil
}

// challenge reads one challenge; its errors are final.
func challenge(ctx context.Context, q querier, id string) (storage.Challenge, error) {
	c, err := scanChallenge(q.QueryRowContext(ctx,
		`SELECT `+challengeCols+` FROM challenges WHERE id = ?1`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storage.Challenge{}, fmt.Errorf("sqlitestore: challenge %q: %w", id, storage.ErrNotFound)
	case err != nil:
		return storage.Challenge{}, fmt.Errorf("sqlitestore: challenge %q: %w", id, err)
	}
	return c, nil
}

// Load reads what one evaluation needs, in one read-only transaction so
// that all of it comes from the same snapshot.
func (s *Store) Load(ctx context.Context, r storage.LoadRequest) (storage.State, error) {
	if err := s.enter(); err != nil {
		return storage.State{}, err
	}
	defer s.leave()
	var st storage.State
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		if st.Devices, err = scanUserDevices(tx.QueryContext(ctx, userDevicesQuery, r.User)); err != nil {
			return fmt.Errorf("devices: %w", err)
		}
		if st.Candidates, err = findDevices(ctx, tx, r.DeviceKeys, r.MaxCandidates); err != nil {
			return fmt.Errorf("candidates: %w", err)
		}
		if st.Events, err = events(ctx, tx, r.User, r.EventsSince, r.MaxEvents); err != nil {
			return fmt.Errorf("events: %w", err)
		}
		fq := r.Failures
		fq.User = r.User
		if st.Failures, err = countFailures(ctx, tx, fq); err != nil {
			return fmt.Errorf("failures: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM challenges
			WHERE user_id = ?1 AND created_at >= ?2`,
			r.User, ms(r.ChallengesSince)).Scan(&st.Challenges); err != nil {
			return fmt.Errorf("challenges: %w", err)
		}
		return nil
	})
	if err != nil {
		return storage.State{}, fmt.Errorf("sqlitestore: load: %w", err)
	}
	return st, nil
}
