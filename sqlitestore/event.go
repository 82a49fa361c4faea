package sqlitestore

import (
	"fmt"
	"math"

	"github.com/atoguard/ato/storage"
)

// Events: the users' history. seq (the rowid) records insertion order, the
// tiebreak between events of the same millisecond.

// eventCols are the columns of an event, in eventArgs' order.
const eventCols = `id, user_id, time, kind, action, verdict, success,
	device_id, ip, network, located, country, region, city,
	latitude, longitude, accuracy_km, asn, reasons, challenge_id`

// eventReadCols are what scanEvents reads of an event, in its order: the
// text columns of eventCols packed by SQLite into one JSON array, in
// eventTexts' order, then the others but user_id, which the queries fix.
// Each column read costs the driver several calls into SQLite, each taking
// the connection's mutex: reading the eleven text columns one by one costs
// far more than packing them in SQL and parsing the pack (see
// appendStrings), which reads them back byte for byte.
const eventReadCols = `json_array(id, kind, action, verdict, device_id, ip, network,
		country, region, city, challenge_id),
	time, success, located, latitude, longitude, accuracy_km, asn, reasons`

var (
	qInsertEvent = prepared(`INSERT INTO events (` + eventCols + `)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)`)
	// qEvents selects up to ?3 of the events of user ?1 since ?2, newest
	// first; events of the same millisecond in reverse order of insertion.
	qEvents = prepared(`SELECT ` + eventReadCols + ` FROM events
		WHERE user_id = ?1 AND time >= ?2 ORDER BY time DESC, seq DESC LIMIT ?3`)
	// qTrimUnsuccessful drops events of user ?1 without success since ?2,
	// the oldest first, while more than ?3 events since ?2 remain.
	qTrimUnsuccessful = prepared(`DELETE FROM events WHERE seq IN (
		SELECT seq FROM events WHERE user_id = ?1 AND success = 0 AND time >= ?2
		ORDER BY time, seq
		LIMIT max(0, (SELECT count(*) FROM events WHERE user_id = ?1 AND time >= ?2) - ?3))`)
	// qTrimOldest drops the events of user ?1 before ?2 and then, while
	// more than ?3 remain, the oldest.
	qTrimOldest = prepared(`DELETE FROM events WHERE seq IN (
		SELECT seq FROM events WHERE user_id = ?1
		ORDER BY time, seq
		LIMIT max(
			(SELECT count(*) FROM events WHERE user_id = ?1 AND time < ?2),
			(SELECT count(*) FROM events WHERE user_id = ?1) - ?3))`)
	qDeleteEvents = prepared(`DELETE FROM events WHERE user_id = ?1`)
	// qPurgeEvents drops up to ?2 events older than ?1, through the
	// events_time index.
	qPurgeEvents = prepared(`DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE time < ?1 LIMIT ?2)`)
)

// eventArgs returns the values of eventCols for e, stored under user.
func eventArgs(e *storage.Event, user string) []any {
	return []any{
		e.ID, user, ms(e.Time), e.Kind, e.Action, e.Verdict, boolInt(e.Success),
		e.DeviceID, e.IP, e.Network, boolInt(e.Located), e.Country, e.Region, e.City,
		e.Latitude, e.Longitude, e.AccuracyKm, int64(e.ASN), encodeStrings(e.Reasons), e.ChallengeID,
	}
}

// appendEvent inserts e into user's history and trims the history as
// storage.TrimHistory says: qTrimUnsuccessful drops the events without
// success that must go; then, if too many remain, they all have success,
// and qTrimOldest drops the events before Since and the oldest others.
func appendEvent(t *tx, user string, e *storage.Event, lim storage.HistoryLimits) error {
	if _, err := t.exec(qInsertEvent, eventArgs(e, user)...); err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	from := int64(math.MinInt64) // no time is before it
	if !lim.Since.IsZero() {
		from = ms(lim.Since)
	}
	if _, err := t.exec(qTrimUnsuccessful, user, from, lim.Max); err != nil {
		return fmt.Errorf("trim history: %w", err)
	}
	if _, err := t.exec(qTrimOldest, user, from, lim.Max); err != nil {
		return fmt.Errorf("trim history: %w", err)
	}
	return nil
}

// readEvents reads up to limit of user's events since the time, newest
// first.
func readEvents(t *tx, user string, since int64, limit int) ([]storage.Event, error) {
	rows, err := t.rows(qEvents, user, since, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		out []storage.Event
		asn int64
	)
	for rows.Next() {
		if out == nil {
			out = make([]storage.Event, 0, min(limit, 64))
		}
		out = append(out, storage.Event{User: user})
		e := &out[len(out)-1]
		if err := rows.Scan((*eventTexts)(e), (*msTime)(&e.Time), (*intBool)(&e.Success), (*intBool)(&e.Located),
			(*sqlReal)(&e.Latitude), (*sqlReal)(&e.Longitude), (*sqlReal)(&e.AccuracyKm), &asn,
			(*strList)(&e.Reasons)); err != nil {
			return nil, err
		}
		e.ASN = uint32(asn)
	}
	return out, rows.Err()
}

// eventTexts scans the packed text columns of an event (see eventReadCols)
// into the event.
type eventTexts storage.Event

// Scan implements sql.Scanner.
func (e *eventTexts) Scan(src any) error {
	s, ok := src.(string)
	if !ok {
		return fmt.Errorf("scan event: text columns read as %T", src)
	}
	var buf [11]string
	v, ok := appendStrings(buf[:0], s)
	if !ok || len(v) != len(buf) {
		return fmt.Errorf("scan event: bad text columns %.100q", s)
	}
	e.ID, e.Kind, e.Action, e.Verdict, e.DeviceID, e.IP, e.Network = v[0], v[1], v[2], v[3], v[4], v[5], v[6]
	e.Country, e.Region, e.City, e.ChallengeID = v[7], v[8], v[9], v[10]
	return nil
}
