package sqlitestore

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/atoguard/ato/internal/eventjson"
	"github.com/atoguard/ato/storage"
)

// Challenges. A challenge's attempt (the evaluation that created it) is
// kept as JSON (internal/eventjson).

// challengeCols are the columns of a challenge, in scanChallenge's and
// challengeArgs' order.
const challengeCols = `id, user_id, device_id, fingerprint, status, reasons,
	email, phone, code_hash, sends, attempts,
	created_at, sent_at, expires_at, updated_at, attempt, channel, known_device`

var (
	qChallenge       = prepared(`SELECT ` + challengeCols + ` FROM challenges WHERE id = ?1`)
	qChallengeExists = prepared(`SELECT 1 FROM challenges WHERE id = ?1`)
	qInsertChallenge = prepared(`INSERT INTO challenges (` + challengeCols + `)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)`)
	// qUpdateChallenge writes challengeArgs whose first, the id, names it.
	qUpdateChallenge = prepared(`UPDATE challenges SET
		user_id = ?2, device_id = ?3, fingerprint = ?4, status = ?5, reasons = ?6,
		email = ?7, phone = ?8, code_hash = ?9, sends = ?10, attempts = ?11,
		created_at = ?12, sent_at = ?13, expires_at = ?14, updated_at = ?15, attempt = ?16,
		channel = ?17, known_device = ?18
		WHERE id = ?1`)
	// qOverride sets the status overridden and the update time ?1 on the
	// open challenges of user ?2 and device ?3 that have not ended at ?1.
	qOverride = prepared(`UPDATE challenges SET status = 'overridden', updated_at = ?1
		WHERE user_id = ?2 AND device_id = ?3 AND status IN ('pending', 'sent', 'verified') AND expires_at > ?1`)
	// qTransition sets the status ?1 and the update time ?2 on the
	// challenge ?3 if it is user ?4's and its status is in the JSON array
	// ?5.
	qTransition = prepared(`UPDATE challenges SET status = ?1, updated_at = ?2
		WHERE id = ?3 AND user_id = ?4 AND status IN (SELECT value FROM json_each(?5))`)
	qChallengeUser = prepared(`SELECT user_id FROM challenges WHERE id = ?1`)
	// qCountChallenges counts the challenges of user ?1 created since ?2,
	// up to ?3.
	qCountChallenges  = prepared(`SELECT count(*) FROM (SELECT 1 FROM challenges WHERE user_id = ?1 AND created_at >= ?2 LIMIT ?3)`)
	qDeleteChallenges = prepared(`DELETE FROM challenges WHERE user_id = ?1`)
	qPurgeChallenges  = prepared(`DELETE FROM challenges WHERE id IN (SELECT id FROM challenges WHERE created_at < ?1 LIMIT ?2)`)
)

// challengeArgs returns the values of challengeCols for c.
func challengeArgs(c *storage.Challenge) ([]any, error) {
	attempt, err := eventjson.Encode(&c.Attempt)
	if err != nil {
		return nil, err
	}
	var code any // NULL when empty
	if len(c.CodeHash) > 0 {
		code = c.CodeHash
	}
	return []any{
		c.ID, c.User, c.DeviceID, c.Fingerprint, string(c.Status), encodeStrings(c.Reasons),
		c.Email, c.Phone, code, int64(c.Sends), int64(c.Attempts),
		ms(c.CreatedAt), ms(c.SentAt), ms(c.ExpiresAt), ms(c.UpdatedAt), string(attempt), c.Channel,
		boolInt(c.KnownDevice),
	}, nil
}

// scanChallenge scans challengeCols; a missing row is storage.ErrNotFound.
func scanChallenge(sc scanner, id string) (storage.Challenge, error) {
	var (
		c               storage.Challenge
		status          string
		code            []byte
		sends, attempts int64
		attempt         string
	)
	err := sc.Scan(&c.ID, &c.User, &c.DeviceID, &c.Fingerprint, &status, (*strList)(&c.Reasons),
		&c.Email, &c.Phone, &code, &sends, &attempts,
		(*msTime)(&c.CreatedAt), (*msTime)(&c.SentAt), (*msTime)(&c.ExpiresAt), (*msTime)(&c.UpdatedAt),
		&attempt, &c.Channel, (*intBool)(&c.KnownDevice))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storage.Challenge{}, fmt.Errorf("sqlitestore: challenge %q: %w", id, storage.ErrNotFound)
	case err != nil:
		return storage.Challenge{}, fmt.Errorf("sqlitestore: challenge %q: %w", id, err)
	}
	c.Status = storage.ChallengeStatus(status)
	if len(code) > 0 {
		c.CodeHash = code // Scan copies into a fresh slice
	}
	c.Sends, c.Attempts = int(sends), int(attempts)
	if c.Attempt, err = eventjson.Decode([]byte(attempt)); err != nil {
		return storage.Challenge{}, fmt.Errorf("sqlitestore: challenge %q: %w", id, err)
	}
	return c, nil
}

// insertChallenge inserts ch, which must be new (storage.ErrConflict
// otherwise), and overrides the open challenges of the same user and
// device (when it names one).
func insertChallenge(t *tx, ch *storage.Challenge) error {
	var one int
	err := t.row(qChallengeExists, ch.ID).Scan(&one)
	switch {
	case err == nil:
		return fmt.Errorf("challenge %q: %w", ch.ID, storage.ErrConflict)
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	if ch.DeviceID != "" {
		if _, err := t.exec(qOverride, ms(ch.CreatedAt), ch.User, ch.DeviceID); err != nil {
			return err
		}
	}
	args, err := challengeArgs(ch)
	if err != nil {
		return err
	}
	_, err = t.exec(qInsertChallenge, args...)
	return err
}

// transition makes tr, the transition of one of user's challenges: it
// returns an error wrapping [storage.ErrNotFound] if the challenge does not
// exist or is another user's, and one wrapping [storage.ErrConflict] if
// its status is not one of tr.From. The check and the change are one
// statement.
func transition(t *tx, user string, tr *storage.Transition) error {
	from := make([]string, len(tr.From))
	for i, st := range tr.From {
		from[i] = string(st)
	}
	res, err := t.exec(qTransition, string(tr.To), ms(tr.At), tr.ChallengeID, user, stringsJSON(from))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	// Not moved: say why.
	var owner string
	err = t.row(qChallengeUser, tr.ChallengeID).Scan(&owner)
	switch {
	case errors.Is(err, sql.ErrNoRows) || err == nil && owner != user:
		return fmt.Errorf("challenge %q of user %q: %w", tr.ChallengeID, user, storage.ErrNotFound)
	case err != nil:
		return err
	}
	return fmt.Errorf("challenge %q: status not one of %v: %w", tr.ChallengeID, tr.From, storage.ErrConflict)
}
