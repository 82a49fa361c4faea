package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/atoguard/ato/storage"
)

// deviceQuery selects the device with the id ?1.
const deviceQuery = `SELECT ` + deviceCols + ` FROM devices d WHERE d.id = ?1`

// Device returns the device with the id, or an error wrapping
// [storage.ErrNotFound].
func (s *Store) Device(ctx context.Context, id string) (storage.Device, error) {
	if err := s.enter(); err != nil {
		return storage.Device{}, err
	}
	defer s.leave()
	d, err := scanDevice(s.rstmt(rDevice).QueryRowContext(ctx, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storage.Device{}, fmt.Errorf("sqlitestore: device %q: %w", id, storage.ErrNotFound)
	case err != nil:
		return storage.Device{}, fmt.Errorf("sqlitestore: device %q: %w", id, err)
	}
	return d, nil
}

// UserDevices returns the user's known devices, most recently seen first.
func (s *Store) UserDevices(ctx context.Context, user string) ([]storage.UserDevice, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	uds, err := userDevices(ctx, s.rstmt(rUserDevices), user, -1)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: user devices: %w", err)
	}
	return uds, nil
}

// deviceUsersQuery selects the links of the device ?1 seen since ?2, most
// recently seen first.
const deviceUsersQuery = `SELECT ` + linkCols + ` FROM links l
	WHERE l.device_id = ?1 AND l.last_seen >= ?2
	ORDER BY l.last_seen DESC, l.user_id`

// DeviceUsers returns the links of a device seen since the time (inclusive),
// most recently seen first.
func (s *Store) DeviceUsers(ctx context.Context, deviceID string, since time.Time) ([]storage.Link, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	ls, err := scanLinks(s.rstmt(rDeviceUsers).QueryContext(ctx, deviceID, ms(since)))
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
	es, err := events(ctx, s.rstmt(rEvents), user, since, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: events: %w", err)
	}
	return es, nil
}

// eventsQuery selects up to ?3 of the events of user ?1 since ?2, newest
// first; events of the same millisecond come in reverse order of insertion.
const eventsQuery = `SELECT ` + eventReadCols + ` FROM events
	WHERE user_id = ?1 AND time >= ?2
	ORDER BY time DESC, seq DESC
	LIMIT ?3`

// events reads a user's events with st, the eventsQuery.
func events(ctx context.Context, st *sql.Stmt, user string, since time.Time, limit int) ([]storage.Event, error) {
	if limit <= 0 {
		limit = defaultEvents
	}
	rows, err := st.QueryContext(ctx, user, ms(since), int64(limit))
	if err != nil {
		return nil, err
	}
	return scanEvents(rows, user, min(limit, defaultEvents))
}

// CountFailures answers a failure query. Windows include their start.
func (s *Store) CountFailures(ctx context.Context, q storage.FailureQuery) (storage.FailureCounts, error) {
	if err := s.enter(); err != nil {
		return storage.FailureCounts{}, err
	}
	defer s.leave()
	fc, err := countFailures(ctx, s.rstmt(rCountFailures), q)
	if err != nil {
		return storage.FailureCounts{}, fmt.Errorf("sqlitestore: count failures: %w", err)
	}
	return fc, nil
}

// failureCounts are the columns of the counts of a failure query: user ?1
// since ?2 from the users' lists, network ?3 since ?4 from the networks'
// lists, in countFailures' order.
const failureCounts = `
	(SELECT count(*) FROM failures
		WHERE user_id = ?1 AND time >= ?2),
	(SELECT count(*) FROM failures
		WHERE user_id = ?1 AND time >= ?2 AND known_device = 0),
	CASE WHEN ?3 = '' THEN 0 ELSE
		(SELECT count(DISTINCT user_id) FROM network_failures
			WHERE network = ?3 AND time >= ?4 AND known_ip = 0)
	END`

// countFailuresQuery answers a failure query in one statement, hence from
// one snapshot.
const countFailuresQuery = `SELECT ` + failureCounts

// countFailures answers q with st, the countFailuresQuery.
func countFailures(ctx context.Context, st *sql.Stmt, q storage.FailureQuery) (storage.FailureCounts, error) {
	var fc storage.FailureCounts
	err := st.QueryRowContext(ctx, q.User, ms(q.UserSince), q.Network, ms(q.NetworkSince)).
		Scan(&fc.User, &fc.UserUnknown, &fc.NetworkUsers)
	return fc, err
}

// loadCountsQuery counts what Load counts: the failures of
// countFailuresQuery and the challenges of user ?1 created since ?5.
const loadCountsQuery = `SELECT ` + failureCounts + `,
	(SELECT count(*) FROM challenges WHERE user_id = ?1 AND created_at >= ?5)`

// Challenge returns the challenge with the id, or an error wrapping
// [storage.ErrNotFound].
func (s *Store) Challenge(ctx context.Context, id string) (storage.Challenge, error) {
	if err := s.enter(); err != nil {
		return storage.Challenge{}, err
	}
	defer s.leave()
	return challenge(s.rstmt(rChallenge).QueryRowContext(ctx, id), id)
}

// challengeQuery selects the challenge with the id ?1.
const challengeQuery = `SELECT ` + challengeCols + ` FROM challenges WHERE id = ?1`

// challenge scans row, the result of challengeQuery for id; its errors are
// final.
func challenge(row *sql.Row, id string) (storage.Challenge, error) {
	c, err := scanChallenge(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storage.Challenge{}, fmt.Errorf("sqlitestore: challenge %q: %w", id, storage.ErrNotFound)
	case err != nil:
		return storage.Challenge{}, fmt.Errorf("sqlitestore: challenge %q: %w", id, err)
	}
	return c, nil
}

// Factor returns the user's factor of the kind, or an error wrapping
// [storage.ErrNotFound].
func (s *Store) Factor(ctx context.Context, user, kind string) (storage.Factor, error) {
	if err := s.enter(); err != nil {
		return storage.Factor{}, err
	}
	defer s.leave()
	return factor(s.rstmt(rFactor).QueryRowContext(ctx, user, kind), user, kind)
}

// factorQuery selects the factor of user ?1 and kind ?2.
const factorQuery = `SELECT ` + factorCols + ` FROM factors WHERE user_id = ?1 AND kind = ?2`

// factor scans row, the result of factorQuery for user and kind; its
// errors are final.
func factor(row *sql.Row, user, kind string) (storage.Factor, error) {
	f, err := scanFactor(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storage.Factor{}, fmt.Errorf("sqlitestore: factor %q/%q: %w", user, kind, storage.ErrNotFound)
	case err != nil:
		return storage.Factor{}, fmt.Errorf("sqlitestore: factor %q/%q: %w", user, kind, err)
	}
	return f, nil
}

// Load reads what one evaluation needs, in one read-only transaction so
// that all of it comes from the same snapshot.
func (s *Store) Load(ctx context.Context, r storage.LoadRequest) (storage.State, error) {
	if err := s.enter(); err != nil {
		return storage.State{}, err
	}
	defer s.leave()
	var st storage.State
	err := s.readTx(ctx, func(rd *reader) error {
		var err error
		maxDevices := r.MaxDevices
		if maxDevices <= 0 {
			maxDevices = defaultDevices
		}
		if st.Devices, err = userDevices(ctx, rd.stmt(rUserDevices), r.User, maxDevices); err != nil {
			return fmt.Errorf("devices: %w", err)
		}
		if st.Candidates, err = findDevices(ctx, rd.stmt(rKeyHits), rd.stmt(rDevicesByID),
			r.DeviceKeys, r.MaxCandidates, st.Devices); err != nil {
			return fmt.Errorf("candidates: %w", err)
		}
		// The user's own links to candidates beyond the MaxDevices most
		// recent: a device is the user's whatever its place in the list.
		var beyond []string
		for _, d := range st.Candidates {
			if !slices.ContainsFunc(st.Devices, func(ud storage.UserDevice) bool { return ud.DeviceID == d.ID }) {
				beyond = append(beyond, d.ID)
			}
		}
		if len(beyond) > 0 {
			more, err := userDevices(ctx, rd.stmt(rUserLinksOf), r.User, stringsJSON(beyond))
			if err != nil {
				return fmt.Errorf("devices by key: %w", err)
			}
			st.Devices = append(st.Devices, more...)
		}
		if st.Events, err = events(ctx, rd.stmt(rEvents), r.User, r.EventsSince, r.MaxEvents); err != nil {
			return fmt.Errorf("events: %w", err)
		}
		// The failures counted are the loaded user's, whatever
		// r.Failures.User says.
		fq, fc := r.Failures, &st.Failures
		if err := rd.stmt(rLoadCounts).QueryRowContext(ctx, r.User, ms(fq.UserSince), fq.Network,
			ms(fq.NetworkSince), ms(r.ChallengesSince)).
			Scan(&fc.User, &fc.UserUnknown, &fc.NetworkUsers, &st.Challenges); err != nil {
			return fmt.Errorf("counts: %w", err)
		}
		if st.DeviceUsers, err = linkedUsers(ctx, rd.stmt(rLinkedUsers), st.Devices, st.Candidates, r.LinkedSince); err != nil {
			return fmt.Errorf("device users: %w", err)
		}
		return nil
	})
	if err != nil {
		return storage.State{}, fmt.Errorf("sqlitestore: load: %w", err)
	}
	return st, nil
}

// linkedUsersQuery counts, for each device of the JSON array ?1, the users
// linked to it with a login since ?2.
const linkedUsersQuery = `SELECT device_id, count(*) FROM links
	WHERE device_id IN (SELECT value FROM json_each(?1)) AND last_seen >= ?2
	GROUP BY device_id`

// linkedUsers runs st, the linkedUsersQuery, for the loaded devices.
func linkedUsers(ctx context.Context, st *sql.Stmt, mine []storage.UserDevice, cands []storage.Device, since time.Time) (map[string]int, error) {
	ids := make([]string, 0, len(mine)+len(cands))
	for _, d := range mine {
		ids = append(ids, d.DeviceID)
	}
	for _, d := range cands {
		ids = append(ids, d.ID)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := st.QueryContext(ctx, stringsJSON(ids), ms(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out map[string]int
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		if out == nil {
			out = map[string]int{}
		}
		out[id] = n
	}
	return out, rows.Err()
}
