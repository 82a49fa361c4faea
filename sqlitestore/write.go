package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/atoguard/ato/storage"
)

// Commit writes what one evaluation decided in one write transaction, in
// this order: the challenge limit, checked first; the challenge transition,
// checked next; the device upsert;
// the link upsert; the restriction and then the lifting of one on the
// user's links; the event and the trimming of the user's history; and the
// challenge with the overriding of the open challenges of the same user and
// device (the challenge just moved among them, if it is still open).
// Nothing is written if any part fails.
//
// The event, link and challenge are c.User's: their User must be empty or
// c.User.
func (s *Store) Commit(ctx context.Context, c storage.Commit) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if c.User == "" {
		return errors.New("sqlitestore: commit: empty user")
	}
	if u := otherUser(&c); u != "" {
		return fmt.Errorf("sqlitestore: commit: a record of user %q in a commit of user %q", u, c.User)
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
		if l := c.ChallengeLimit; l != nil && c.Challenge != nil {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM challenges WHERE user_id = ? AND created_at >= ?`,
				c.User, ms(l.Since)).Scan(&n); err != nil {
				return fmt.Errorf("counting challenges: %w", err)
			}
			if n >= l.Max {
				return fmt.Errorf("user %q has %d challenges since %v: %w", c.User, n, l.Since, storage.ErrLimited)
			}
		}
		if c.Transition != nil {
			if err := s.transition(ctx, tx, c.User, c.Transition); err != nil {
				return fmt.Errorf("transition of challenge %q: %w", c.Transition.ChallengeID, err)
			}
		}
		if c.Device != nil {
			if err := s.upsertDevice(ctx, tx, c.Device); err != nil {
				return fmt.Errorf("device %q: %w", c.Device.ID, err)
			}
		}
		if c.Link != nil {
			l := *c.Link
			l.User = c.User
			// The device just upserted needs no check that it exists.
			checked := c.Device != nil && c.Device.ID == l.DeviceID
			if err := s.upsertLink(ctx, tx, &l, checked); err != nil {
				return fmt.Errorf("link %q/%q: %w", l.User, l.DeviceID, err)
			}
		}
		if r := c.Restrict; r != nil {
			if _, err := s.wtx(ctx, tx, wRestrict).ExecContext(ctx, c.User, r.DeviceID,
				ms(r.Now), ms(r.Until), encodeStrings(actionSet(r.Actions))); err != nil {
				return fmt.Errorf("restriction of link %q/%q: %w", c.User, r.DeviceID, err)
			}
		}
		if c.Lift != "" {
			if _, err := s.wtx(ctx, tx, wLift).ExecContext(ctx, c.User, c.Lift); err != nil {
				return fmt.Errorf("lifting the restriction of link %q/%q: %w", c.User, c.Lift, err)
			}
		}
		if c.Event != nil {
			if err := s.appendEvent(ctx, tx, c.User, c.Event, c.HistorySince, c.MaxHistory); err != nil {
				return fmt.Errorf("event %q: %w", c.Event.ID, err)
			}
		}
		if c.Challenge != nil {
			ch := *c.Challenge
			ch.User = c.User
			if err := s.insertChallenge(ctx, tx, &ch); err != nil {
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

// otherUser returns the User of c's event, link or challenge if it is
// neither empty nor c.User, and "" otherwise.
func otherUser(c *storage.Commit) string {
	var users [3]string
	if c.Event != nil {
		users[0] = c.Event.User
	}
	if c.Link != nil {
		users[1] = c.Link.User
	}
	if c.Challenge != nil {
		users[2] = c.Challenge.User
	}
	for _, u := range users {
		if u != "" && u != c.User {
			return u
		}
	}
	return ""
}

// transitionSQL sets the status ?1 and the update time ?2 on the challenge
// ?3 if it is user ?4's and its status is in the JSON array ?5.
const transitionSQL = `UPDATE challenges SET status = ?1, updated_at = ?2
	WHERE id = ?3 AND user_id = ?4 AND status IN (SELECT value FROM json_each(?5))`

// challengeUserQuery selects the user of the challenge ?1.
const challengeUserQuery = `SELECT user_id FROM challenges WHERE id = ?1`

// transition makes tr, the transition of one of user's challenges: it
// returns an error wrapping [storage.ErrNotFound] if the challenge does not
// exist or is another user's, and one wrapping [storage.ErrConflict] if
// its status is not one of tr.From. The check and the change are one
// statement; the transaction's write lock makes them atomic with the rest
// of the commit.
func (s *Store) transition(ctx context.Context, tx *sql.Tx, user string, tr *storage.Transition) error {
	from := make([]string, len(tr.From))
	for i, st := range tr.From {
		from[i] = string(st)
	}
	res, err := s.wtx(ctx, tx, wTransition).ExecContext(ctx,
		string(tr.To), ms(tr.At), tr.ChallengeID, user, stringsJSON(from))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	// Not moved: say why.
	var owner string
	err = s.wtx(ctx, tx, wChallengeUser).QueryRowContext(ctx, tr.ChallengeID).Scan(&owner)
	switch {
	case errors.Is(err, sql.ErrNoRows) || err == nil && owner != user:
		return fmt.Errorf("no such challenge of user %q: %w", user, storage.ErrNotFound)
	case err != nil:
		return err
	}
	return fmt.Errorf("status not one of %v: %w", tr.From, storage.ErrConflict)
}

// refreshDeviceSQL updates the device ?1 with the hashes ?2 and the times
// ?4 and ?5 if its keys are ?3 already and it is indexed under ?6 keys,
// which are then all of them: a device is indexed under some of its keys.
const refreshDeviceSQL = `UPDATE devices SET hashes = ?2,
		first_seen = min(first_seen, ?4), last_seen = max(last_seen, ?5)
	WHERE id = ?1 AND keys IS ?3
	AND (SELECT count(*) FROM device_keys WHERE device_id = ?1) = ?6`

// upsertDeviceSQL inserts a device or merges it into the stored one.
const upsertDeviceSQL = `INSERT INTO devices (id, hashes, keys, first_seen, last_seen)
	VALUES (?1, ?2, ?3, ?4, ?5)
	ON CONFLICT (id) DO UPDATE SET
		hashes = excluded.hashes,
		keys = excluded.keys,
		first_seen = min(first_seen, excluded.first_seen),
		last_seen = max(last_seen, excluded.last_seen)`

// deleteStaleKeysSQL deletes the key rows of the device ?1 whose key is
// not in the JSON array ?2.
const deleteStaleKeysSQL = `DELETE FROM device_keys
	WHERE device_id = ?1 AND lookup_key NOT IN (SELECT value FROM json_each(?2))`

// insertKeysSQL indexes the device ?1 under each key of the JSON array ?2
// it is not indexed under yet, as the key's most recent device.
const insertKeysSQL = `INSERT OR IGNORE INTO device_keys (lookup_key, device_id, written)
	SELECT j.value, ?1,
		coalesce((SELECT max(c.written) FROM device_keys c WHERE c.lookup_key = j.value), 0) + 1
	FROM json_each(?2) j`

// capKeysSQL drops, under each key of the JSON array ?1, the devices but
// the ?2 most recently indexed.
const capKeysSQL = `DELETE FROM device_keys WHERE (lookup_key, device_id) IN (
	SELECT lookup_key, device_id FROM (
		SELECT lookup_key, device_id,
			row_number() OVER (PARTITION BY lookup_key ORDER BY written DESC, device_id DESC) AS r
		FROM device_keys WHERE lookup_key IN (SELECT value FROM json_each(?1)))
	WHERE r > ?2)`

// upsertDevice inserts d or merges it into the stored device, and indexes
// the device under d.Keys: it deletes the key rows of the keys d lacks, and
// inserts those of the keys the device is not indexed under, each as the
// most recent device of its key, which drops the oldest device of a key that
// has more than [storage.MaxKeyDevices]. When the device is indexed under
// exactly d.Keys already, as it is whenever it presents the fingerprint it
// presented last, one statement updates it and the key rows are left alone.
func (s *Store) upsertDevice(ctx context.Context, tx *sql.Tx, d *storage.Device) error {
	hashes, keys := encodeStrings(d.Hashes), encodeStrings(d.Keys)
	first, last := ms(d.FirstSeen), ms(d.LastSeen)
	res, err := s.wtx(ctx, tx, wRefreshDevice).ExecContext(ctx,
		d.ID, hashes, keys, first, last, int64(distinct(d.Keys)))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	// A new device, new keys, or keys the device was dropped from.
	if _, err := s.wtx(ctx, tx, wUpsertDevice).ExecContext(ctx, d.ID, hashes, keys, first, last); err != nil {
		return err
	}
	list := stringsJSON(d.Keys)
	if _, err := s.wtx(ctx, tx, wDeleteStaleKeys).ExecContext(ctx, d.ID, list); err != nil {
		return err
	}
	if len(d.Keys) == 0 {
		return nil
	}
	if res, err = s.wtx(ctx, tx, wInsertKeys).ExecContext(ctx, d.ID, list); err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	_, err = s.wtx(ctx, tx, wCapKeys).ExecContext(ctx, list, int64(storage.MaxKeyDevices))
	return err
}

// distinct returns the number of distinct strings in v, a short list.
func distinct(v []string) int {
	n := 0
	for i, s := range v {
		if !slices.Contains(v[:i], s) {
			n++
		}
	}
	return n
}

// deviceExistsQuery selects 1 if the device ?1 exists.
const deviceExistsQuery = `SELECT 1 FROM devices WHERE id = ?1`

// unionSQL returns an expression for the union of a and b, two stored
// string lists (JSON arrays, sorted, without repeats; NULL when empty): a
// stored list, sorted by byte value as Go sorts strings, without repeats.
func unionSQL(a, b string) string {
	return `CASE WHEN ` + b + ` IS NULL THEN ` + a + ` WHEN ` + a + ` IS NULL THEN ` + b + ` ELSE
		(SELECT json_group_array(value ORDER BY value) FROM (
			SELECT value FROM json_each(` + a + `) UNION SELECT value FROM json_each(` + b + `)))
		END`
}

// actionSet returns the strings of v sorted, without repeats, in a new
// slice.
func actionSet(v []string) []string {
	out := slices.Clone(v)
	slices.Sort(out)
	return slices.Compact(out)
}

// upsertLinkSQL inserts a link or merges it into the stored one. The later
// restricted_until wins; the restrictions of a link restricted until no
// earlier than the stored one are added to the stored ones (a later
// restriction holds back its actions too), and otherwise the stored ones
// stay.
var upsertLinkSQL = `INSERT INTO links
	(user_id, device_id, first_seen, last_seen, trusted, restricted_until, hashes, restrictions)
	VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
	ON CONFLICT (user_id, device_id) DO UPDATE SET
		first_seen = min(first_seen, excluded.first_seen),
		last_seen = max(last_seen, excluded.last_seen),
		trusted = max(trusted, excluded.trusted),
		restricted_until = max(restricted_until, excluded.restricted_until),
		hashes = coalesce(excluded.hashes, hashes),
		restrictions = CASE WHEN restricted_until > excluded.restricted_until THEN restrictions
			ELSE ` + unionSQL("restrictions", "excluded.restrictions") + ` END`

// restrictSQL restricts the link of user ?1 to device ?2 at the time ?3
// until ?4, holding back the actions of the stored list ?5: a restriction
// still in force at ?3 is extended to the later time and takes the actions
// too; one that has ended is replaced. Without such a link it does
// nothing.
var restrictSQL = `UPDATE links SET
		restricted_until = CASE WHEN restricted_until > ?3 THEN max(restricted_until, ?4) ELSE ?4 END,
		restrictions = CASE WHEN restricted_until > ?3 THEN ` + unionSQL("restrictions", "?5") + ` ELSE ?5 END
	WHERE user_id = ?1 AND device_id = ?2`

// liftSQL lifts the restriction of the link of user ?1 to device ?2.
const liftSQL = `UPDATE links SET restricted_until = 0, restrictions = NULL
	WHERE user_id = ?1 AND device_id = ?2`

// upsertLink inserts l or merges it into the stored link. Its device must
// exist; deviceChecked says that the caller knows it does.
func (s *Store) upsertLink(ctx context.Context, tx *sql.Tx, l *storage.Link, deviceChecked bool) error {
	if !deviceChecked {
		var one int
		err := s.wtx(ctx, tx, wDeviceExists).QueryRowContext(ctx, l.DeviceID).Scan(&one)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("device %q: %w", l.DeviceID, storage.ErrNotFound)
		case err != nil:
			return err
		}
	}
	_, err := s.wtx(ctx, tx, wUpsertLink).ExecContext(ctx,
		l.User, l.DeviceID, ms(l.FirstSeen), ms(l.LastSeen), boolInt(l.Trusted), ms(l.RestrictedUntil),
		encodeStrings(l.Hashes), encodeStrings(actionSet(l.Restrictions)))
	return err
}

// insertEventSQL inserts an event, its columns in eventArgs' order.
const insertEventSQL = `INSERT INTO events (` + eventCols + `)
	VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
		?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)`

// trimUnsuccessfulSQL drops events of user ?1 without success since ?2,
// the oldest first, while more than ?3 events since ?2 remain. It reads the
// events_user_unsuccessful index, and the events_user_time index to count.
const trimUnsuccessfulSQL = `DELETE FROM events WHERE seq IN (
	SELECT seq FROM events WHERE user_id = ?1 AND success = 0 AND time >= ?2
	ORDER BY time, seq
	LIMIT max(0, (SELECT count(*) FROM events WHERE user_id = ?1 AND time >= ?2) - ?3))`

// trimOldestSQL drops the events of user ?1 before ?2 and then, while more
// than ?3 remain, the oldest: the first events in the order of time and
// insertion, as many as there are events before ?2 or beyond ?3, whichever
// is more. It reads the events_user_time index alone.
const trimOldestSQL = `DELETE FROM events WHERE seq IN (
	SELECT seq FROM events WHERE user_id = ?1
	ORDER BY time, seq
	LIMIT max(
		(SELECT count(*) FROM events WHERE user_id = ?1 AND time < ?2),
		(SELECT count(*) FROM events WHERE user_id = ?1) - ?3))`

// appendEvent inserts e into user's history and trims the history: events
// before since go (none when since is zero), then, while more than
// maxHistory (0 means 50) remain, the oldest event without success, or the
// oldest if all have it. trimUnsuccessfulSQL drops the events without
// success that must go; then, if too many remain, they all have success,
// and trimOldestSQL drops the events before since and the oldest others.
func (s *Store) appendEvent(ctx context.Context, tx *sql.Tx, user string, e *storage.Event, since time.Time, maxHistory int) error {
	if _, err := s.wtx(ctx, tx, wInsertEvent).ExecContext(ctx, eventArgs(e, user)...); err != nil {
		return err
	}
	from := int64(math.MinInt64) // no time is before it
	if !since.IsZero() {
		from = ms(since)
	}
	if maxHistory <= 0 {
		maxHistory = defaultHistory
	}
	if _, err := s.wtx(ctx, tx, wTrimUnsuccessful).ExecContext(ctx, user, from, int64(maxHistory)); err != nil {
		return err
	}
	_, err := s.wtx(ctx, tx, wTrimOldest).ExecContext(ctx, user, from, int64(maxHistory))
	return err
}

// challengeExistsQuery selects 1 if the challenge ?1 exists.
const challengeExistsQuery = `SELECT 1 FROM challenges WHERE id = ?1`

// overrideChallengesSQL sets the status ?1 and the update time ?2 on the
// challenges of user ?3 and device ?4 whose status is ?5, ?6 or ?7.
const overrideChallengesSQL = `UPDATE challenges SET status = ?1, updated_at = ?2
	WHERE user_id = ?3 AND device_id = ?4 AND status IN (?5, ?6, ?7)`

// insertChallengeSQL inserts a challenge, its columns in challengeArgs'
// order.
const insertChallengeSQL = `INSERT INTO challenges (` + challengeCols + `)
	VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)`

// insertChallenge inserts ch, which must be new, and overrides the open
// challenges of the same user and device (when it names one).
func (s *Store) insertChallenge(ctx context.Context, tx *sql.Tx, ch *storage.Challenge) error {
	var one int
	err := s.wtx(ctx, tx, wChallengeExists).QueryRowContext(ctx, ch.ID).Scan(&one)
	switch {
	case err == nil:
		return storage.ErrConflict
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	if ch.DeviceID == "" {
		// no device: nothing to override
	} else if _, err := s.wtx(ctx, tx, wOverrideChallenges).ExecContext(ctx,
		string(storage.ChallengeOverridden), ms(ch.CreatedAt), ch.User, ch.DeviceID,
		string(storage.ChallengePending), string(storage.ChallengeSent), string(storage.ChallengeVerified),
	); err != nil {
		return err
	}
	args, err := challengeArgs(ch)
	if err != nil {
		return err
	}
	_, err = s.wtx(ctx, tx, wInsertChallenge).ExecContext(ctx, args...)
	return err
}

// insertFailureSQL inserts a failure into its user's list.
const insertFailureSQL = `INSERT INTO failures
	(user_id, time, ip, network, device_id, known_device, known_ip)
	VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`

// trimUserFailuresSQL drops the failures of user ?1 beyond the ?2 newest.
const trimUserFailuresSQL = `DELETE FROM failures WHERE seq IN (
	SELECT seq FROM failures WHERE user_id = ?1
	ORDER BY time DESC, seq DESC
	LIMIT -1 OFFSET ?2)`

// insertNetworkFailureSQL inserts a failure into its network's list.
const insertNetworkFailureSQL = `INSERT INTO network_failures
	(network, time, user_id, known_ip)
	VALUES (?1, ?2, ?3, ?4)`

// trimNetworkFailuresSQL drops the failures of network ?1 beyond the ?2
// newest.
const trimNetworkFailuresSQL = `DELETE FROM network_failures WHERE seq IN (
	SELECT seq FROM network_failures WHERE network = ?1
	ORDER BY time DESC, seq DESC
	LIMIT -1 OFFSET ?2)`

// AddFailure records one failed attempt in its user's list and, if it has a
// network, in its network's list, and trims each list to its
// [storage.MaxFailures] newest.
func (s *Store) AddFailure(ctx context.Context, f storage.Failure) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.wtx(ctx, tx, wInsertFailure).ExecContext(ctx,
			f.User, ms(f.Time), f.IP, f.Network, f.DeviceID,
			boolInt(f.KnownDevice), boolInt(f.KnownIP)); err != nil {
			return err
		}
		if _, err := s.wtx(ctx, tx, wTrimUserFailures).ExecContext(ctx,
			f.User, int64(storage.MaxFailures)); err != nil {
			return err
		}
		if f.Network == "" {
			return nil
		}
		if _, err := s.wtx(ctx, tx, wInsertNetworkFailure).ExecContext(ctx,
			f.Network, ms(f.Time), f.User, boolInt(f.KnownIP)); err != nil {
			return err
		}
		_, err := s.wtx(ctx, tx, wTrimNetworkFailures).ExecContext(ctx,
			f.Network, int64(storage.MaxFailures))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: add failure: %w", err)
	}
	return nil
}

// UpdateChallenge reads the challenge, calls update on a copy and, if update
// returns nil, stores the copy (with the original ID and User), all in one write
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
		c, err := challenge(tx.QueryRowContext(ctx, challengeQuery, id), id)
		if err != nil {
			return err
		}
		user := c.User
		if updateErr = update(&c); updateErr != nil {
			return updateErr
		}
		c.ID, c.User = id, user // neither can change
		args, err := challengeArgs(&c)
		if err != nil {
			return err
		}
		// args[0] is the id: the SET list takes ?2 to ?18.
		if _, err := tx.ExecContext(ctx, `UPDATE challenges SET
			user_id = ?2, device_id = ?3, fingerprint = ?4, status = ?5, reasons = ?6,
			email = ?7, phone = ?8, code_hash = ?9, sends = ?10, attempts = ?11,
			created_at = ?12, sent_at = ?13, expires_at = ?14, updated_at = ?15, attempt = ?16,
			channel = ?17, known_device = ?18
			WHERE id = ?1`, args...); err != nil {
			return err
		}
		out, err = challenge(tx.QueryRowContext(ctx, challengeQuery, id), id)
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

// DeleteLink removes the user's link to the device, or returns an error
// wrapping [storage.ErrNotFound] if there is none. The device stays.
func (s *Store) DeleteLink(ctx context.Context, user, deviceID string, at time.Time) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var until int64
		err := tx.QueryRowContext(ctx, `SELECT restricted_until FROM links WHERE user_id = ?1 AND device_id = ?2`,
			user, deviceID).Scan(&until)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return storage.ErrNotFound
		case err != nil:
			return err
		case !at.IsZero() && until > ms(at):
			return fmt.Errorf("restricted until %v: %w", time.UnixMilli(until).UTC(), storage.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM links WHERE user_id = ?1 AND device_id = ?2`, user, deviceID)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: delete link %q/%q: %w", user, deviceID, err)
	}
	return nil
}

// PutFactor inserts the factor, replacing the user's factor of its kind if
// there is one. A factor needs a user and a kind.
func (s *Store) PutFactor(ctx context.Context, f storage.Factor) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if f.User == "" || f.Kind == "" {
		return fmt.Errorf("sqlitestore: put factor: empty user or kind (%q/%q)", f.User, f.Kind)
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO factors (`+factorCols+`)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)`, factorArgs(&f)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: put factor %q/%q: %w", f.User, f.Kind, err)
	}
	return nil
}

// UpdateFactor reads the factor, calls update on a copy and, if update
// returns nil, stores the copy (with the original User and Kind), all in
// one write transaction. It returns the stored factor; an error wrapping
// [storage.ErrNotFound] if there is no such factor; or update's error,
// unchanged, in which case nothing is stored. update runs while the
// store's only write connection is held, so it must not call the store.
func (s *Store) UpdateFactor(ctx context.Context, user, kind string, update func(*storage.Factor) error) (storage.Factor, error) {
	if err := s.enter(); err != nil {
		return storage.Factor{}, err
	}
	defer s.leave()
	var (
		out       storage.Factor
		updateErr error
	)
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		f, err := factor(tx.QueryRowContext(ctx, factorQuery, user, kind), user, kind)
		if err != nil {
			return err
		}
		if updateErr = update(&f); updateErr != nil {
			return updateErr
		}
		f.User, f.Kind = user, kind // neither can change
		// args[0] and args[1] are the user and the kind: the SET list takes
		// ?3 to ?9.
		if _, err := tx.ExecContext(ctx, `UPDATE factors SET
			secret = ?3, confirmed = ?4, last_step = ?5, created_at = ?6, updated_at = ?7,
			failures = ?8, failed_at = ?9
			WHERE user_id = ?1 AND kind = ?2`, factorArgs(&f)...); err != nil {
			return err
		}
		out, err = factor(tx.QueryRowContext(ctx, factorQuery, user, kind), user, kind)
		return err
	})
	switch {
	case updateErr != nil:
		return storage.Factor{}, updateErr
	case err != nil:
		if errors.Is(err, storage.ErrNotFound) {
			return storage.Factor{}, err // already "sqlitestore: factor %q/%q: ..."
		}
		return storage.Factor{}, fmt.Errorf("sqlitestore: update factor %q/%q: %w", user, kind, err)
	}
	return out, nil
}

// DeleteFactor removes the user's factor of the kind, or returns an error
// wrapping [storage.ErrNotFound] if there is none.
func (s *Store) DeleteFactor(ctx context.Context, user, kind string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM factors WHERE user_id = ?1 AND kind = ?2`, user, kind)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			err = storage.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: delete factor %q/%q: %w", user, kind, err)
	}
	return nil
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
// events, links, failures, challenges, factors, and the user's devices — those
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
			`DELETE FROM network_failures WHERE user_id = ?1`,
			`DELETE FROM challenges WHERE user_id = ?1`,
			`DELETE FROM factors WHERE user_id = ?1`,
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
// returns how many records it dropped; a failure counts once, though it is
// dropped from its user's and its network's lists.
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
		// The networks' lists hold copies of failures counted above.
		_, err := tx.ExecContext(ctx, `DELETE FROM network_failures WHERE time < ?1`, ms(before))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: purge: %w", err)
	}
	return n, nil
}
