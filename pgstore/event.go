package pgstore

import (
	"github.com/atoguard/ato/storage"
	"github.com/jackc/pgx/v5"
)

// Events: the users' histories, by user and time (events_user_time, which
// carries success so that a trim reads the index alone) and by (time, seq)
// for retention and exports (events_time_seq).

// eventCols are the columns of an event, in eventArgs' and scanEvent's
// order.
const eventCols = `id, user_id, time, kind, action, verdict, success, device_id, ip, network,
	located, country, region, city, latitude, longitude, accuracy_km, asn, reasons, challenge_id`

var (
	qInsertEvent = stmt(`INSERT INTO {s}.events (` + eventCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`)
	// qTrimHistory trims the history of user $1 as storage.TrimHistory
	// does, with Since $2 and Max $3: the events before $2 go; of the
	// others, as many as are over $3, the oldest without success first,
	// then the oldest.
	qTrimHistory = stmt(`WITH ev AS (
			SELECT seq, time, success FROM {s}.events WHERE user_id = $1 AND time >= $2),
		n AS (SELECT greatest(count(*) - $3, 0) AS excess, count(*) FILTER (WHERE NOT success) AS failed FROM ev)
		DELETE FROM {s}.events e WHERE e.user_id = $1 AND (e.time < $2 OR e.seq IN (
			(SELECT seq FROM ev WHERE NOT success ORDER BY time, seq LIMIT (SELECT excess FROM n))
			UNION ALL
			(SELECT seq FROM ev WHERE success ORDER BY time, seq LIMIT (SELECT greatest(excess - failed, 0) FROM n))))`)
	// qEvents selects up to $3 of the events of user $1 since $2, newest
	// first; events of the same millisecond in reverse order of insertion.
	qEvents = stmt(`SELECT ` + eventCols + ` FROM {s}.events
		WHERE user_id = $1 AND time >= $2 ORDER BY time DESC, seq DESC LIMIT $3`)
	qDeleteEvents = stmt(`DELETE FROM {s}.events WHERE user_id = $1`)
	// qPurgeEvents drops up to $2 events older than $1, oldest first.
	qPurgeEvents = stmt(`DELETE FROM {s}.events WHERE seq = ANY (ARRAY (
		SELECT seq FROM {s}.events WHERE time < $1 ORDER BY time LIMIT $2))`)
)

// queueEvent queues the append of an event to the user's history and the
// trim of the history.
func (s *Store) queueEvent(b *pgx.Batch, user string, e *storage.Event, lim storage.HistoryLimits) {
	s.queue(b, qInsertEvent, e.ID, user, at(e.Time), e.Kind, e.Action, e.Verdict, e.Success, e.DeviceID, e.IP, e.Network,
		e.Located, e.Country, e.Region, e.City, e.Latitude, e.Longitude, e.AccuracyKm, int64(e.ASN), emptyNil(e.Reasons), e.ChallengeID)
	s.queue(b, qTrimHistory, user, at(lim.Since), lim.Max)
}

// scanEvent returns the scan destinations of eventCols into e; asn is
// e.ASN's stored form, which finishEvent converts.
func scanEvent(e *storage.Event, asn *int64) []any {
	return []any{&e.ID, &e.User, &e.Time, &e.Kind, &e.Action, &e.Verdict, &e.Success, &e.DeviceID, &e.IP, &e.Network,
		&e.Located, &e.Country, &e.Region, &e.City, &e.Latitude, &e.Longitude, &e.AccuracyKm, asn, &e.Reasons, &e.ChallengeID}
}

// finishEvent puts a scanned event's fields in their stored form.
func finishEvent(e *storage.Event, asn int64) {
	e.Time = e.Time.UTC()
	e.ASN = uint32(asn)
	if len(e.Reasons) == 0 {
		e.Reasons = nil
	}
}

// emptyNil returns nil (NULL) for an empty list.
func emptyNil(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	return ss
}
