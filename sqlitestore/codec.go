package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/atoguard/ato/storage"
)

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// Scan destinations that convert a stored value as they scan it, so that a
// row scans straight into the record it fills: (*msTime)(&e.Time) scans a
// time stored by ms into e.Time. Being pointers, they are passed to Scan
// without an allocation, and they spare database/sql the reflection it
// uses to store an int64 or a float64.

// msTime scans a time stored by ms.
type msTime time.Time

// Scan implements sql.Scanner.
func (t *msTime) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("scan time: stored as %T", src)
	}
	*t = msTime(fromMS(v))
	return nil
}

// intBool scans a bool stored by boolInt.
type intBool bool

// Scan implements sql.Scanner.
func (b *intBool) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("scan bool: stored as %T", src)
	}
	*b = v != 0
	return nil
}

// sqlReal scans a float64 (a REAL column).
type sqlReal float64

// Scan implements sql.Scanner.
func (f *sqlReal) Scan(src any) error {
	v, ok := src.(float64)
	if !ok {
		return fmt.Errorf("scan real: stored as %T", src)
	}
	*f = sqlReal(v)
	return nil
}

// strList scans a string list stored by encodeStrings.
type strList []string

// Scan implements sql.Scanner.
func (l *strList) Scan(src any) error {
	var (
		v   []string
		err error
	)
	switch s := src.(type) {
	case nil:
	case string:
		v, err = decodeStrings(s)
	case []byte:
		v, err = decodeStrings(string(s))
	default:
		err = fmt.Errorf("scan string list: stored as %T", src)
	}
	*l = v
	return err
}

// Devices.

// deviceCols selects a device from devices aliased d, in deviceDest's
// order.
const deviceCols = `d.id, d.hashes, d.keys, d.first_seen, d.last_seen`

// deviceDest returns the scan destinations of deviceCols into d.
func deviceDest(d *storage.Device) []any {
	return []any{&d.ID, (*strList)(&d.Hashes), (*strList)(&d.Keys),
		(*msTime)(&d.FirstSeen), (*msTime)(&d.LastSeen)}
}

// scanDevice scans deviceCols.
func scanDevice(sc scanner) (storage.Device, error) {
	var d storage.Device
	if err := sc.Scan(deviceDest(&d)...); err != nil {
		return storage.Device{}, err
	}
	return d, nil
}

// scanDevices scans every row of rows as deviceCols and closes rows.
func scanDevices(rows *sql.Rows, err error) ([]storage.Device, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.Device
	for rows.Next() {
		out = append(out, storage.Device{})
		if err := rows.Scan(deviceDest(&out[len(out)-1])...); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

// Links.

// linkCols selects a link from links aliased l, in scanLinks' order.
const linkCols = `l.user_id, l.device_id, l.first_seen, l.last_seen, l.trusted, l.restricted_until, l.hashes,
	l.restrictions`

// scanLinks scans every row of rows as linkCols and closes rows.
func scanLinks(rows *sql.Rows, err error) ([]storage.Link, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.Link
	for rows.Next() {
		out = append(out, storage.Link{})
		l := &out[len(out)-1]
		if err := rows.Scan(&l.User, &l.DeviceID, (*msTime)(&l.FirstSeen), (*msTime)(&l.LastSeen),
			(*intBool)(&l.Trusted), (*msTime)(&l.RestrictedUntil), (*strList)(&l.Hashes),
			(*strList)(&l.Restrictions)); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

// userDevicesQuery selects the devices of user ?1: the link's columns and
// the device's, in userDevices' order. The user and the device id, which
// the link and the device share, are not read. The index on (user_id,
// last_seen DESC, device_id) gives the rows in order without a sorter; at
// most ?2 of them (all when ?2 is -1).
const userDevicesQuery = `SELECT l.device_id, l.first_seen, l.last_seen, l.trusted, l.restricted_until, l.hashes,
		l.restrictions, d.hashes, d.keys, d.first_seen, d.last_seen
	FROM links l INDEXED BY links_user_last_seen JOIN devices d ON d.id = l.device_id
	WHERE l.user_id = ?1
	ORDER BY l.last_seen DESC, l.device_id
	LIMIT ?2`

// userLinksOfQuery selects, as userDevicesQuery does, the user ?1's devices
// among the ids of the JSON array ?2, whatever their place in the user's
// list.
const userLinksOfQuery = `SELECT l.device_id, l.first_seen, l.last_seen, l.trusted, l.restricted_until, l.hashes,
		l.restrictions, d.hashes, d.keys, d.first_seen, d.last_seen
	FROM links l JOIN devices d ON d.id = l.device_id
	WHERE l.user_id = ?1 AND l.device_id IN (SELECT value FROM json_each(?2))
	ORDER BY l.last_seen DESC, l.device_id`

// userDevices runs st, the userDevicesQuery (with limit) or the
// userLinksOfQuery (with ids), for user and returns the user's devices,
// most recently seen first.
func userDevices(ctx context.Context, st *sql.Stmt, user string, limit any) ([]storage.UserDevice, error) {
	rows, err := st.QueryContext(ctx, user, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.UserDevice
	for rows.Next() {
		out = append(out, storage.UserDevice{})
		ud := &out[len(out)-1]
		l, d := &ud.Link, &ud.Device
		if err := rows.Scan(&l.DeviceID, (*msTime)(&l.FirstSeen), (*msTime)(&l.LastSeen),
			(*intBool)(&l.Trusted), (*msTime)(&l.RestrictedUntil), (*strList)(&l.Hashes),
			(*strList)(&l.Restrictions), (*strList)(&d.Hashes), (*strList)(&d.Keys), (*msTime)(&d.FirstSeen), (*msTime)(&d.LastSeen)); err != nil {
			return nil, err
		}
		l.User, d.ID = user, l.DeviceID
	}
	return out, rows.Err()
}

// Events.

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

// eventArgs returns the values of eventCols for e, stored under user.
func eventArgs(e *storage.Event, user string) []any {
	return []any{
		e.ID, user, ms(e.Time), e.Kind, e.Action, e.Verdict, boolInt(e.Success),
		e.DeviceID, e.IP, e.Network, boolInt(e.Located), e.Country, e.Region, e.City,
		e.Latitude, e.Longitude, e.AccuracyKm, int64(e.ASN), encodeStrings(e.Reasons), e.ChallengeID,
	}
}

// scanEvents scans every row of rows as eventReadCols, the events of user,
// and closes rows. capHint is the number of rows expected.
func scanEvents(rows *sql.Rows, user string, capHint int) ([]storage.Event, error) {
	defer rows.Close()
	var (
		out []storage.Event
		asn int64
	)
	for rows.Next() {
		if out == nil {
			out = make([]storage.Event, 0, capHint)
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

// eventJSON is the stored form of a challenge's attempt.
type eventJSON struct {
	ID          string   `json:"id,omitempty"`
	User        string   `json:"user,omitempty"`
	Time        int64    `json:"time,omitempty"`
	Kind        string   `json:"kind,omitempty"`
	Action      string   `json:"action,omitempty"`
	Verdict     string   `json:"verdict,omitempty"`
	Success     bool     `json:"success,omitempty"`
	DeviceID    string   `json:"device_id,omitempty"`
	IP          string   `json:"ip,omitempty"`
	Network     string   `json:"network,omitempty"`
	Located     bool     `json:"located,omitempty"`
	Country     string   `json:"country,omitempty"`
	Region      string   `json:"region,omitempty"`
	City        string   `json:"city,omitempty"`
	Latitude    float64  `json:"lat,omitempty"`
	Longitude   float64  `json:"lon,omitempty"`
	AccuracyKm  float64  `json:"accuracy_km,omitempty"`
	ASN         uint32   `json:"asn,omitempty"`
	Reasons     []string `json:"reasons,omitempty"`
	ChallengeID string   `json:"challenge_id,omitempty"`
}

// encodeEvent returns the stored form of a challenge's attempt.
func encodeEvent(e *storage.Event) (string, error) {
	b, err := json.Marshal(eventJSON{
		ID: e.ID, User: e.User, Time: ms(e.Time),
		Kind: e.Kind, Action: e.Action, Verdict: e.Verdict, Success: e.Success,
		DeviceID: e.DeviceID, IP: e.IP, Network: e.Network,
		Located: e.Located, Country: e.Country, Region: e.Region, City: e.City,
		Latitude: e.Latitude, Longitude: e.Longitude, AccuracyKm: e.AccuracyKm,
		ASN: e.ASN, Reasons: e.Reasons, ChallengeID: e.ChallengeID,
	})
	if err != nil {
		return "", fmt.Errorf("encode attempt: %w", err)
	}
	return string(b), nil
}

// decodeEvent is the inverse of encodeEvent.
func decodeEvent(s string) (storage.Event, error) {
	var j eventJSON
	if s != "" {
		if err := json.Unmarshal([]byte(s), &j); err != nil {
			return storage.Event{}, fmt.Errorf("decode attempt: %w", err)
		}
	}
	e := storage.Event{
		ID: j.ID, User: j.User, Time: fromMS(j.Time),
		Kind: j.Kind, Action: j.Action, Verdict: j.Verdict, Success: j.Success,
		DeviceID: j.DeviceID, IP: j.IP, Network: j.Network,
		Located: j.Located, Country: j.Country, Region: j.Region, City: j.City,
		Latitude: j.Latitude, Longitude: j.Longitude, AccuracyKm: j.AccuracyKm,
		ASN: j.ASN, ChallengeID: j.ChallengeID,
	}
	if len(j.Reasons) > 0 {
		e.Reasons = j.Reasons
	}
	return e, nil
}

// Challenges.

// challengeCols are the columns of a challenge, in scanChallenge's and
// challengeArgs' order.
const challengeCols = `id, user_id, device_id, fingerprint, status, reasons,
	email, phone, code_hash, sends, attempts,
	created_at, sent_at, expires_at, updated_at, attempt, channel, known_device`

// challengeArgs returns the values of challengeCols for c.
func challengeArgs(c *storage.Challenge) ([]any, error) {
	attempt, err := encodeEvent(&c.Attempt)
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
		ms(c.CreatedAt), ms(c.SentAt), ms(c.ExpiresAt), ms(c.UpdatedAt), attempt, c.Channel,
		boolInt(c.KnownDevice),
	}, nil
}

// scanChallenge scans challengeCols.
func scanChallenge(sc scanner) (storage.Challenge, error) {
	var (
		c               storage.Challenge
		status          string
		code            []byte
		sends, attempts int64
		attempt         string
	)
	if err := sc.Scan(&c.ID, &c.User, &c.DeviceID, &c.Fingerprint, &status, (*strList)(&c.Reasons),
		&c.Email, &c.Phone, &code, &sends, &attempts,
		(*msTime)(&c.CreatedAt), (*msTime)(&c.SentAt), (*msTime)(&c.ExpiresAt), (*msTime)(&c.UpdatedAt),
		&attempt, &c.Channel, (*intBool)(&c.KnownDevice)); err != nil {
		return storage.Challenge{}, err
	}
	var err error
	c.Status = storage.ChallengeStatus(status)
	if len(code) > 0 {
		c.CodeHash = code // Scan copies into a fresh slice
	}
	c.Sends, c.Attempts = int(sends), int(attempts)
	if c.Attempt, err = decodeEvent(attempt); err != nil {
		return storage.Challenge{}, err
	}
	return c, nil
}

// Factors.

// factorCols are the columns of a factor, in scanFactor's and factorArgs'
// order.
const factorCols = `user_id, kind, secret, confirmed, last_step, created_at, updated_at, failures, failed_at`

// factorArgs returns the values of factorCols for f.
func factorArgs(f *storage.Factor) []any {
	var secret any // NULL when empty
	if len(f.Secret) > 0 {
		secret = f.Secret
	}
	return []any{f.User, f.Kind, secret, boolInt(f.Confirmed), f.LastStep, ms(f.CreatedAt), ms(f.UpdatedAt), f.Failures, ms(f.FailedAt)}
}

// scanFactor scans factorCols.
func scanFactor(sc scanner) (storage.Factor, error) {
	var (
		f      storage.Factor
		secret []byte
	)
	if err := sc.Scan(&f.User, &f.Kind, &secret, (*intBool)(&f.Confirmed), &f.LastStep,
		(*msTime)(&f.CreatedAt), (*msTime)(&f.UpdatedAt), &f.Failures, (*msTime)(&f.FailedAt)); err != nil {
		return storage.Factor{}, err
	}
	if len(secret) > 0 {
		f.Secret = secret // Scan copies into a fresh slice
	}
	return f, nil
}
