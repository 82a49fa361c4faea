package pgstore

import (
	"fmt"

	"github.com/atoguard/ato/internal/eventjson"
	"github.com/atoguard/ato/storage"
	"github.com/jackc/pgx/v5"
)

// Challenges. A challenge's attempt (the evaluation that created it) is
// kept as JSON (internal/eventjson).

// challengeCols are the columns of a challenge, in challengeArgs' and
// scanChallenge's order.
const challengeCols = `id, user_id, device_id, fingerprint, known_device, status, reasons,
	email, phone, channel, code_hash, sends, attempts,
	created_at, sent_at, expires_at, updated_at, attempt`

var (
	qChallenge = stmt(`SELECT ` + challengeCols + ` FROM {s}.challenges WHERE id = $1`)
	// qLockChallenge reads a challenge and locks it until the transaction
	// ends.
	qLockChallenge = stmt(`SELECT ` + challengeCols + ` FROM {s}.challenges WHERE id = $1 FOR UPDATE`)
	// qInsertChallenge inserts a challenge, failing the batch if its id
	// is taken.
	qInsertChallenge = stmt(`WITH ins AS (
			INSERT INTO {s}.challenges (` + challengeCols + `)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
			ON CONFLICT (id) DO NOTHING RETURNING 1)
		SELECT {s}.ato_check(EXISTS (SELECT 1 FROM ins), 'AT409', format('challenge %L exists', $1::text))`)
	// qUpdateChallenge writes challengeArgs, whose first, the id, names
	// the challenge, and returns what it stored.
	qUpdateChallenge = stmt(`UPDATE {s}.challenges SET
			user_id = $2, device_id = $3, fingerprint = $4, known_device = $5, status = $6, reasons = $7,
			email = $8, phone = $9, channel = $10, code_hash = $11, sends = $12, attempts = $13,
			created_at = $14, sent_at = $15, expires_at = $16, updated_at = $17, attempt = $18
		WHERE id = $1 RETURNING ` + challengeCols)
	// qOverride sets the status overridden and the update time $1 on the
	// open challenges of user $2 and device $3 that have not ended at $1.
	qOverride = stmt(`UPDATE {s}.challenges SET status = 'overridden', updated_at = $1
		WHERE user_id = $2 AND device_id = $3 AND status IN ('pending', 'sent', 'verified') AND expires_at > $1`)
	// qTransition sets the status $1 and the update time $2 on challenge
	// $3 if it is user $4's and its status is one of $5; otherwise it
	// fails the batch, as not found or as a conflict.
	qTransition = stmt(`WITH moved AS (
			UPDATE {s}.challenges SET status = $1, updated_at = $2
			WHERE id = $3 AND user_id = $4 AND status = ANY ($5::text[]) RETURNING 1)
		SELECT CASE WHEN EXISTS (SELECT 1 FROM moved) THEN true
			WHEN EXISTS (SELECT 1 FROM {s}.challenges WHERE id = $3 AND user_id = $4)
				THEN {s}.ato_check(false, 'AT409', format('challenge %L: status not one of %s', $3::text, $5::text[]))
			ELSE {s}.ato_check(false, 'AT404', format('challenge %L of user %L', $3::text, $4::text)) END`)
	// qChallengeLimit fails the batch if user $1 has $3 or more challenges
	// created since $2.
	qChallengeLimit = stmt(`SELECT {s}.ato_check(
		(SELECT count(*) FROM (SELECT 1 FROM {s}.challenges WHERE user_id = $1 AND created_at >= $2 LIMIT $3) c) < $3,
		'AT429', format('user %L has %s challenges since %s', $1::text, $3::int, $2::timestamptz))`)
	qDeleteChallenges = stmt(`DELETE FROM {s}.challenges WHERE user_id = $1`)
	// qPurgeChallenges drops up to $2 challenges created before $1.
	qPurgeChallenges = stmt(`DELETE FROM {s}.challenges WHERE id = ANY (ARRAY (
		SELECT id FROM {s}.challenges WHERE created_at < $1 ORDER BY created_at LIMIT $2))`)
)

// challengeArgs returns the values of challengeCols for c.
func challengeArgs(c *storage.Challenge) ([]any, error) {
	attempt, err := eventjson.Encode(&c.Attempt)
	if err != nil {
		return nil, err
	}
	var code []byte // NULL when empty
	if len(c.CodeHash) > 0 {
		code = c.CodeHash
	}
	return []any{
		c.ID, c.User, c.DeviceID, c.Fingerprint, c.KnownDevice, string(c.Status), emptyNil(c.Reasons),
		c.Email, c.Phone, c.Channel, code, int32(c.Sends), int32(c.Attempts),
		at(c.CreatedAt), at(c.SentAt), at(c.ExpiresAt), at(c.UpdatedAt), attempt,
	}, nil
}

// scanChallenge scans a row of challengeCols.
func scanChallenge(row pgx.Row) (storage.Challenge, error) {
	var (
		c               storage.Challenge
		status          string
		sends, attempts int32
		attempt         []byte
	)
	err := row.Scan(&c.ID, &c.User, &c.DeviceID, &c.Fingerprint, &c.KnownDevice, &status, &c.Reasons,
		&c.Email, &c.Phone, &c.Channel, &c.CodeHash, &sends, &attempts,
		&c.CreatedAt, &c.SentAt, &c.ExpiresAt, &c.UpdatedAt, &attempt)
	if err != nil {
		return storage.Challenge{}, err
	}
	c.Status = storage.ChallengeStatus(status)
	c.Sends, c.Attempts = int(sends), int(attempts)
	c.CreatedAt, c.SentAt, c.ExpiresAt, c.UpdatedAt = c.CreatedAt.UTC(), c.SentAt.UTC(), c.ExpiresAt.UTC(), c.UpdatedAt.UTC()
	if len(c.Reasons) == 0 {
		c.Reasons = nil
	}
	if len(c.CodeHash) == 0 {
		c.CodeHash = nil
	}
	if c.Attempt, err = eventjson.Decode(attempt); err != nil {
		return storage.Challenge{}, fmt.Errorf("challenge %q: %w", c.ID, err)
	}
	return c, nil
}

// queueChallenge queues the insert of a new challenge and the override of
// the open challenges of the same user and device.
func (s *Store) queueChallenge(b *pgx.Batch, ch *storage.Challenge) error {
	if ch.DeviceID != "" {
		s.queue(b, qOverride, at(ch.CreatedAt), ch.User, ch.DeviceID)
	}
	args, err := challengeArgs(ch)
	if err != nil {
		return err
	}
	s.queue(b, qInsertChallenge, args...)
	return nil
}

// queueTransition queues a transition of one of the user's challenges.
func (s *Store) queueTransition(b *pgx.Batch, user string, tr *storage.Transition) {
	from := make([]string, len(tr.From))
	for i, st := range tr.From {
		from[i] = string(st)
	}
	s.queue(b, qTransition, string(tr.To), at(tr.At), tr.ChallengeID, user, from)
}
