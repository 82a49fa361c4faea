package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/atoguard/ato/storage"
)

// Commit writes what one evaluation decided in one write transaction: the
// device upsert, the link upsert, the event and the trimming of the user's
// history, and the challenge with the overriding of the open challenges of
// the same user and device. Nothing is written if any part fails.
//
// The event is stored in the history of c.User whatever its User field. A
// link or challenge with an empty User is stored under c.User.
func (s *Store) Commit(ctx context.Context, c storage.Commit) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if c.User == "" {
		return errors.New("sqlitestore: commit: empty user")
	}
	if c.Device != nil && c.Device.ID == "" {
		return errors.New("sqlitestore: commit: device with an empty id")
	}
	if c.Link != nil && c.Link.DeviceID == "" {
		return errors.New("sqlitestore: commit: link with an empty device id")
	}
	if c.Challenge != nil && c.Challenge.ID == "" {
		return errors.New("sqlitestore: commit: challenge with an empty id")
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if c.Device != nil {
			if err := upsertDevice(ctx, tx, c.Device); err != nil {
				return fmt.Errorf("device %q: %w", c.Device.ID, err)
			}
		}
		if c.Link != nil {
			l := *c.Link
			if l.User == "" {
				l.User = c.User
			}
			if err := upsertLink(ctx, tx, &l); err != nil {
				return fmt.Errorf("link %q/%q: %w", l.User, l.DeviceID, err)
			}
		}
		if c.Event != nil {
			if err := appendEvent(ctx, tx, c.User, c.Event, c.HistorySince, c.MaxHistory); err != nil {
				return fmt.Errorf("event %q: %w", c.Event.ID, err)
			}
		}
		if c.Challenge != nil {
			ch := *c.Challenge
			if ch.User == "" {
				ch.User = c.User
			}
			if err := insertChallenge(ctx, tx, &ch); err != nil {
				return fmt.Errorf("challenge %q: %w", ch.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: commit: %w", err)
	}
	return nil
}

// upsertDevice inserts d or merges it into the stored device, and replaces
// the device's key rows with d.Keys.
func upsertDevice(ctx context.Context, tx *sql.Tx, d *storage.Device) error {
	hashes, err := encodeStrings(d.Hashes)
	if err != nil {
		return err
	}
	keys, err := encodeStrings(d.Keys)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO devices (id, hashes, keys, first_seen, last_seen)
		VALUES (?1, ?2, ?3, ?4, ?5)
		ON CONFLICT (id) DO UPDATE SET
			hashes = excluded.hashes,
			keys = excluded.keys,
			first_seen = min(first_seen, excluded.first_seen),
			last_seen = max(last_seen, excluded.last_seen)`,
		d.ID, hashes, keys, ms(d.FirstSeen), ms(d.LastSeen)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM device_keys WHERE device_id = ?1`, d.ID); err != nil {
		return err
	}
	if len(d.Keys) == 0 {
		return nil
	}
	list, err := keysJSON(d.Keys)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT OR IGNORE INTO device_keys (lookup_key, device_id)
		SELECT value, ?1 FROM json_each(?2)`, d.ID, list)
	return err
}

// upsertLink inserts l or merges it into the stored link. Its device must
// exist.
func upsertLink(ctx context.Context, tx *sql.Tx, l *storage.Link) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM devices WHERE id = ?1`, l.DeviceID).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("device %q: %w", l.DeviceID, storage.ErrNotFound)
	case err != nil:
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO links
		(user_id, device_id, first_seen, last_seen, trusted, restricted_until)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6)
		ON CONFLICT (user_id, device_id) DO UPDATE SET
			first_seen = min(first_seen, excluded.first_seen),
			last_seen = max(last_seen, excluded.last_seen),
			trusted = max(trusted, excluded.trusted),
			restricted_until = max(restricted_until, excluded.restricted_until)`,
		l.User, l.DeviceID, ms(l.FirstSeen), ms(l.LastSeen), boolInt(l.Trusted), ms(l.RestrictedUntil))
	return err
}

// appendEvent inserts e into user's history and trims the history: events
// before since go, then, while more than maxHistory (0 means 50) remain,
// the oldest event without success, or the oldest if all have it. Repeating
// that choice drops the events in the order (success, time, insertion), so
// the events kept are the first maxHistory in the reverse order.
func appendEvent(ctx context.Context, tx *sql.Tx, user string, e *storage.Event, since time.Time, maxHistory int) error {
	args, err := eventArgs(e, user)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (`+eventCols+`)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
			?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)`, args...); err != nil {
		return err
	}
	if !since.IsZero() {
		if _, err := tx.ExecContext(ctx, `DELETE FROM events WHERE user_id = ?1 AND time < ?2`,
			user, ms(since)); err != nil {
			return err
		}
	}
	if maxHistory <= 0 {
		maxHistory = defaultHistory
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM events
		WHERE user_id = ?1 AND seq NOT IN (
			SELECT seq FROM events WHERE user_id = ?1
			ORDER BY success DESC, time DESC, seq DESC
			LIMIT ?2)`, user, maxHistory)
	return err
}

// insertChallenge inserts ch, which must be new, and overrides the open
// challenges of the same user and device.
func insertChallenge(ctx context.Context, tx *sql.Tx, ch *storage.Challenge) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM challenges WHERE id = ?1`, ch.ID).Scan(&one)
	switch {
	case err == nil:
		return storage.ErrConflict
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE challenges SET status = ?1, updated_at = ?2
		WHERE user_id = ?3 AND device_id = ?4 AND status IN (?5, ?6, ?7)`,
		string(storage.ChallengeOverridden), ms(ch.CreatedAt), ch.User, ch.DeviceID,
		string(storage.ChallengePending), string(storage.ChallengeSent), string(storage.ChallengeVerified),
	); err != nil {
		return err
	}
	args, err := challengeArgs(ch)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO challenges (`+challengeCols+`)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)`, args...)
	return err
}

// AddFailure records one failed attempt, then drops the user's and the
// network's failures beyond the [storage.MaxFailures] newest.
func (s *Store) AddFailure(ctx context.Context, f storage.Failure) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO failures
			(user_id, time, ip, network, device_id, known_device, known_ip)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`,
			f.User, ms(f.Time), f.IP, f.Network, f.DeviceID,
			boolInt(f.KnownDevice), boolInt(f.KnownIP)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM failures WHERE seq IN (
			SELECT seq FROM failures WHERE user_id = ?1
			ORDER BY time DESC, seq DESC
			LIMIT -1 OFFSET ?2)`, f.User, storage.MaxFailures); err != nil {
			return err
		}
		if f.Network == "" {
			return nil
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM failures WHERE seq IN (
			SELECT seq FROM failures WHERE network = ?1
			ORDER BY time DESC, seq DESC
			LIMIT -1 OFFSET ?2)`, f.Network, storage.MaxFailures)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: add failure: %w", err)
	}
	return nil
}

// UpdateChallenge reads the challenge, calls update on a copy and, if update
// returns nil, stores the copy (with the original ID), all in one write
// transaction. It returns the stored challenge; an error wrapping
// [storage.ErrNotFound] if there is no such challenge; or update's error,
// unchanged, in which case nothing is stored. update runs while the store's
// only write connection is held, so it must not call the store.
func (s *Store) UpdateChallenge(ctx context.Context, id string, update func(*storage.Challenge) error) (storage.Challenge, error) {
	if err := s.enter(); err != nil {
		return storage.Challenge{}, err
	}
	defer s.leave()
	var (
		out       storage.Challenge
		updateErr error
	)
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		c, err := challenge(ctx, tx, id)
		if err != nil {
			return err
		}
		if updateErr = update(&c); updateErr != nil {
			return updateErr
		}
		c.ID = id
		args, err := challengeArgs(&c)
		if err != nil {
			return err
		}
		// args[0] is the id: the SET list takes ?2 to ?16.
		if _, err := tx.ExecContext(ctx, `UPDATE challenges SET
			user_id = ?2, device_id = ?3, fingerprint = ?4, status = ?5, reasons = ?6,
			email = ?7, phone = ?8, code_hash = ?9, sends = ?10, attempts = ?11,
			created_at = ?12, sent_at = ?13, expires_at = ?14, updated_at = ?15, attempt = ?16
			WHERE id = ?1`, args...); err != nil {
			return err
		}
		out, err = challenge(ctx, tx, id)
		return err
	})
	switch {
	case updateErr != nil:
		return storage.Challenge{}, updateErr
	case err != nil:
		if errors.Is(err, storage.ErrNotFound) {
			return storage.Challenge{}, err // already "sqlitestore: challenge %q: ..."
		}
		return storage.Challenge{}, fmt.Errorf("sqlitestore: update challenge %q: %w", id, err)
	}
	return out, nil
}

// Secret returns the secret stored under name, storing create first if
// there is none. Concurrent calls all return the value stored first.
func (s *Store) Secret(ctx context.Context, name string, create []byte) ([]byte, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if create == nil {
		create = []byte{} // a NULL would break the NOT NULL column
	}
	var v []byte
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO secrets (name, value) VALUES (?1, ?2)
			ON CONFLICT (name) DO NOTHING`, name, create); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?1`, name).Scan(&v)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: secret %q: %w", name, err)
	}
	return v, nil
}

// DeleteUser erases every record of the user in one write transaction:
// events, links, failures, challenges, and the user's devices — those
// linked to the user or named by the user's events or challenges — that no
// other user is linked to. Deleting an unknown user is not an error.
func (s *Store) DeleteUser(ctx context.Context, user string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		// Devices first, while the user's links and records still name
		// them; their keys (and the user's links to them) go by cascade.
		stmts := []string{
			`DELETE FROM devices WHERE id IN (
				SELECT device_id FROM links WHERE user_id = ?1
				UNION SELECT device_id FROM events WHERE user_id = ?1
				UNION SELECT device_id FROM challenges WHERE user_id = ?1)
			AND NOT EXISTS (
				SELECT 1 FROM links o WHERE o.device_id = devices.id AND o.user_id <> ?1)`,
			`DELETE FROM events WHERE user_id = ?1`,
			`DELETE FROM links WHERE user_id = ?1`,
			`DELETE FROM failures WHERE user_id = ?1`,
			`DELETE FROM challenges WHERE user_id = ?1`,
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q, user); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: delete user %q: %w", user, err)
	}
	return nil
}

// Purge drops the events and failures whose time is before the given time
// and the challenges created before it, in one write transaction, and
// returns how many rows it dropped.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	var n int64
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		n = 0
		for _, q := range []string{
			`DELETE FROM events WHERE time < ?1`,
			`DELETE FROM failures WHERE time < ?1`,
			`DELETE FROM challenges WHERE created_at < ?1`,
		} {
			res, err := tx.ExecContext(ctx, q, ms(before))
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: purge: %w", err)
	}
	return n, nil
}
