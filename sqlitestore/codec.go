package sqlitestore

import (
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/atoguard/ato/storage"
)

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// encodeStrings returns the stored form of a string slice: a JSON array, or
// NULL when it is empty.
func encodeStrings(v []string) (any, error) {
	if len(v) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// decodeStrings is the inverse of encodeStrings; it returns nil for an empty
// slice.
func decodeStrings(s sql.NullString) ([]string, error) {
	if !s.Valid || s.String == "" {
		return nil, nil
	}
	var v []string
	if err := json.Unmarshal([]byte(s.String), &v); err != nil {
		return nil, fmt.Errorf("decode string list: %w", err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

// keysJSON returns keys as a JSON array for json_each, never NULL.
func keysJSON(keys []string) (string, error) {
	if keys == nil {
		keys = []string{}
	}
	b, err := json.Marshal(keys)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Devices.

// deviceCols selects a device from devices aliased d, in scanDevice's order.
const deviceCols = `d.id, d.hashes, d.keys, d.first_seen, d.last_seen`

// scanDevice scans deviceCols.
func scanDevice(sc scanner) (storage.Device, error) {
	var (
		d             storage.Device
		hashes, keys  sql.NullString
		first, latest int64
	)
	if err := sc.Scan(&d.ID, &hashes, &keys, &first, &latest); err != nil {
		return storage.Device{}, err
	}
	var err error
	if d.Hashes, err = decodeStrings(hashes); err != nil {
		return storage.Device{}, err
	}
	if d.Keys, err = decodeStrings(keys); err != nil {
		return storage.Device{}, err
	}
	d.FirstSeen, d.LastSeen = fromMS(first), fromMS(latest)
	return d, nil
}

// scanDevices scans every row of rows with scanDevice and closes rows.
func scanDevices(rows *sql.Rows, err error) ([]storage.Device, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Links.

// linkCols selects a link from links aliased l, in scanLink's order.
const linkCols = `l.user_id, l.device_id, l.first_seen, l.last_seen, l.trusted, l.restricted_until`

// linkDest returns the scan destinations of linkCols and a function that
// finishes the link once they are scanned.
func linkDest(l *storage.Link) ([]any, func()) {
	var first, latest, restricted, trusted int64
	dest := []any{&l.User, &l.DeviceID, &first, &latest, &trusted, &restricted}
	return dest, func() {
		l.FirstSeen, l.LastSeen = fromMS(first), fromMS(latest)
		l.Trusted = trusted != 0
		l.RestrictedUntil = fromMS(restricted)
	}
}

// scanLinks scans every row of rows as linkCols and closes rows.
func scanLinks(rows *sql.Rows, err error) ([]storage.Link, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.Link
	for rows.Next() {
		var l storage.Link
		dest, finish := linkDest(&l)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		finish()
		out = append(out, l)
	}
	return out, rows.Err()
}

// userDevicesQuery selects a user's devices, most recently seen first.
const userDevicesQuery = `SELECT ` + linkCols + `, ` + deviceCols + `
	FROM links l JOIN devices d ON d.id = l.device_id
	WHERE l.user_id = ?1
	ORDER BY l.last_seen DESC, l.device_id`

// scanUserDevices scans the rows of userDevicesQuery and closes rows.
func scanUserDevices(rows *sql.Rows, err error) ([]storage.UserDevice, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.UserDevice
	for rows.Next() {
		var (
			ud            storage.UserDevice
			hashes, keys  sql.NullString
			first, latest int64
		)
		dest, finish := linkDest(&ud.Link)
		dest = append(dest, &ud.Device.ID, &hashes, &keys, &first, &latest)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		finish()
		if ud.Device.Hashes, err = decodeStrings(hashes); err != nil {
			return nil, err
		}
		if ud.Device.Keys, err = decodeStrings(keys); err != nil {
			return nil, err
		}
		ud.Device.FirstSeen, ud.Device.LastSeen = fromMS(first), fromMS(latest)
		out = append(out, ud)
	}
	return out, rows.Err()
}

// Events.

// eventCols are the columns of an event, in scanEvent's and eventArgs'
// order.
const eventCols = `id, user_id, time, kind, action, verdict, success,
	device_id, ip, network, located, country, region, city,
	latitude, longitude, accuracy_km, asn, reasons, challenge_id`

// eventArgs returns the values of eventCols for e, stored under user.
func eventArgs(e *storage.Event, user string) ([]any, error) {
	reasons, err := encodeStrings(e.Reasons)
	if err != nil {
		return nil, err
	}
	return []any{
		e.ID, user, ms(e.Time), e.Kind, e.Action, e.Verdict, boolInt(e.Success),
		e.DeviceID, e.IP, e.Network, boolInt(e.Located), e.Country, e.Region, e.City,
		e.Latitude, e.Longitude, e.AccuracyKm, int64(e.ASN), reasons, e.ChallengeID,
	}, nil
}

// scanEvents scans every row of rows as eventCols and closes rows.
func scanEvents(rows *sql.Rows, err error) ([]storage.Event, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.Event
	for rows.Next() {
		var (
			e                storage.Event
			t, asn           int64
			success, located int64
			reasons          sql.NullString
		)
		if err := rows.Scan(&e.ID, &e.User, &t, &e.Kind, &e.Action, &e.Verdict, &success,
			&e.DeviceID, &e.IP, &e.Network, &located, &e.Country, &e.Region, &e.City,
			&e.Latitude, &e.Longitude, &e.AccuracyKm, &asn, &reasons, &e.ChallengeID); err != nil {
			return nil, err
		}
		e.Time = fromMS(t)
		e.Success, e.Located = success != 0, located != 0
		e.ASN = uint32(asn)
		if e.Reasons, err = decodeStrings(reasons); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
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
	created_at, sent_at, expires_at, updated_at, attempt`

// challengeArgs returns the values of challengeCols for c.
func challengeArgs(c *storage.Challenge) ([]any, error) {
	reasons, err := encodeStrings(c.Reasons)
	if err != nil {
		return nil, err
	}
	attempt, err := encodeEvent(&c.Attempt)
	if err != nil {
		return nil, err
	}
	var code any // NULL when empty
	if len(c.CodeHash) > 0 {
		code = c.CodeHash
	}
	return []any{
		c.ID, c.User, c.DeviceID, c.Fingerprint, string(c.Status), reasons,
		c.Email, c.Phone, code, int64(c.Sends), int64(c.Attempts),
		ms(c.CreatedAt), ms(c.SentAt), ms(c.ExpiresAt), ms(c.UpdatedAt), attempt,
	}, nil
}

// scanChallenge scans challengeCols.
func scanChallenge(sc scanner) (storage.Challenge, error) {
	var (
		c                               storage.Challenge
		status                          string
		reasons                         sql.NullString
		code                            []byte
		sends, attempts                 int64
		created, sent, expires, updated int64
		attempt                         string
	)
	if err := sc.Scan(&c.ID, &c.User, &c.DeviceID, &c.Fingerprint, &status, &reasons,
		&c.Email, &c.Phone, &code, &sends, &attempts,
		&created, &sent, &expires, &updated, &attempt); err != nil {
		return storage.Challenge{}, err
	}
	var err error
	c.Status = storage.ChallengeStatus(status)
	if c.Reasons, err = decodeStrings(reasons); err != nil {
		return storage.Challenge{}, err
	}
	if len(code) > 0 {
		c.CodeHash = code // Scan copies into a fresh slice
	}
	c.Sends, c.Attempts = int(sends), int(attempts)
	c.CreatedAt, c.SentAt = fromMS(created), fromMS(sent)
	c.ExpiresAt, c.UpdatedAt = fromMS(expires), fromMS(updated)
	if c.Attempt, err = decodeEvent(attempt); err != nil {
		return storage.Challenge{}, err
	}
	return c, nil
}
