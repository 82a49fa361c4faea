package atocli

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/atoguard/ato/internal/ident"
	"github.com/atoguard/ato/internal/text"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/verdict"
)

// The export format: JSON lines, one record a line, each an object whose
// "type" says what it is (see the package documentation for the fields).
// Events, the bulk of a file, are written and read by the hand-written
// code below (a replay reads hundreds of thousands a second; encoding/json
// takes about 6 µs a line); the other records, a few per user, by
// encoding/json.

// Record types.
const (
	typeHeader = "header"
	typeEvent  = "event"
	typeUser   = "user"
	typeDevice = "device"
	typeEnd    = "end"
)

// formatName and formatVersion identify the format in the header line.
const (
	formatName    = "ato-export"
	formatVersion = 1
)

// maxLine bounds a line: a user's record holds the hashes the user saw
// from each device (at most 32 devices of 4 hashes of 4 KiB).
const maxLine = 8 << 20

// timeLayout is how times are written: UTC, milliseconds (what stores
// keep).
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// header is the first line of an export.
type header struct {
	Type       string    `json:"type"`
	Format     string    `json:"format"`
	Version    int       `json:"version"`
	ExportedAt time.Time `json:"exported_at"`
	Since      time.Time `json:"since,omitzero"`
	Store      string    `json:"store,omitempty"`
	All        bool      `json:"all,omitempty"`
}

// end is the last line of a complete export: a file without one was cut
// short.
type end struct {
	Type    string `json:"type"`
	Events  int64  `json:"events"`
	Users   int64  `json:"users"`
	Devices int64  `json:"devices"`
}

// userLine is a user's record: the profile, the hashes the user saw from
// each device, and the user's second factors.
type userLine struct {
	Type    string       `json:"type"`
	User    string       `json:"user"`
	Profile profileJSON  `json:"profile"`
	Hashes  []hashesJSON `json:"hashes,omitempty"`
	Factors []factorJSON `json:"factors,omitempty"`
}

// factorJSON is a second factor (an authenticator app: "totp"), its
// secret sealed by the engine that enrolled it (base64): it opens only
// under that engine's secret (ato.WithSecret).
type factorJSON struct {
	Kind      string    `json:"kind"`
	Secret    string    `json:"secret,omitempty"` // base64
	Confirmed bool      `json:"confirmed,omitempty"`
	LastStep  int64     `json:"last_step,omitempty"`
	Failures  int       `json:"failures,omitempty"`
	FailedAt  time.Time `json:"failed_at,omitzero"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// maxSealed bounds a factor's sealed secret: an authenticator's is under
// a hundred bytes.
const maxSealed = 1024

func factorToJSON(f *storage.Factor) factorJSON {
	return factorJSON{Kind: f.Kind, Secret: base64.StdEncoding.EncodeToString(f.Secret), Confirmed: f.Confirmed, LastStep: f.LastStep, Failures: f.Failures,
		FailedAt: f.FailedAt.UTC(), CreatedAt: f.CreatedAt.UTC(), UpdatedAt: f.UpdatedAt.UTC()}
}

// factorFromJSON is the factor of a checked line (checkUser); an error
// when its secret is not base64.
func factorFromJSON(user string, f *factorJSON) (storage.Factor, error) {
	secret, err := base64.StdEncoding.DecodeString(f.Secret)
	if err != nil {
		return storage.Factor{}, errors.New("not base64")
	}
	if len(secret) == 0 {
		secret = nil
	}
	return storage.Factor{User: user, Kind: f.Kind, Secret: secret, Confirmed: f.Confirmed, LastStep: f.LastStep,
		Failures: f.Failures, FailedAt: f.FailedAt.UTC(), CreatedAt: f.CreatedAt.UTC(), UpdatedAt: f.UpdatedAt.UTC()}, nil
}

type hashesJSON struct {
	DeviceID string   `json:"device_id"`
	Hashes   []string `json:"hashes"`
}

type profileJSON struct {
	Devices   []profileDeviceJSON `json:"devices,omitempty"`
	Networks  []placeJSON         `json:"networks,omitempty"`
	Countries []placeJSON         `json:"countries,omitempty"`
	ASNs      []placeJSON         `json:"asns,omitempty"`
	Last      *loginJSON          `json:"last,omitempty"`
	Disowned  []disownedJSON      `json:"disowned,omitempty"`
}

type profileDeviceJSON struct {
	ID              string    `json:"id"`
	Keys            []string  `json:"keys,omitempty"`
	FirstSeen       time.Time `json:"first_seen,omitzero"`
	LastSeen        time.Time `json:"last_seen,omitzero"`
	Logins          int       `json:"logins,omitempty"`
	Trusted         bool      `json:"trusted,omitempty"`
	RestrictedUntil time.Time `json:"restricted_until,omitzero"`
	Restrictions    []string  `json:"restrictions,omitempty"`
	IP              string    `json:"ip,omitempty"`
	Country         string    `json:"country,omitempty"`
	City            string    `json:"city,omitempty"`
	UserAgent       string    `json:"user_agent,omitempty"`
	TokenSeen       time.Time `json:"token_seen,omitzero"`
}

type placeJSON struct {
	Key       string    `json:"key"`
	Logins    int       `json:"logins"`
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
}

type loginJSON struct {
	Time      time.Time     `json:"time,omitzero"`
	DeviceID  string        `json:"device_id,omitempty"`
	IP        string        `json:"ip,omitempty"`
	Network   string        `json:"network,omitempty"`
	Location  *locationJSON `json:"location,omitempty"`
	UserAgent string        `json:"user_agent,omitempty"`
}

type locationJSON struct {
	Country    string  `json:"country,omitempty"`
	Region     string  `json:"region,omitempty"`
	City       string  `json:"city,omitempty"`
	Latitude   float64 `json:"lat"`
	Longitude  float64 `json:"lon"`
	AccuracyKm float64 `json:"accuracy_km,omitempty"`
	ASN        uint32  `json:"asn,omitempty"`
}

type disownedJSON struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
}

// deviceLine is a global device's record.
type deviceLine struct {
	Type      string           `json:"type"`
	ID        string           `json:"id"`
	Hashes    []string         `json:"hashes,omitempty"`
	Keys      []string         `json:"keys,omitempty"`
	FirstSeen time.Time        `json:"first_seen,omitzero"`
	LastSeen  time.Time        `json:"last_seen,omitzero"`
	Users     []deviceUserJSON `json:"users,omitempty"`
}

type deviceUserJSON struct {
	User     string    `json:"user"`
	LastSeen time.Time `json:"last_seen"`
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// profileToJSON is the written form of a profile.
func profileToJSON(p *profile.Profile) profileJSON {
	var out profileJSON
	for _, d := range p.Devices {
		out.Devices = append(out.Devices, profileDeviceJSON{
			ID: d.ID, Keys: d.Keys, FirstSeen: utc(d.FirstSeen), LastSeen: utc(d.LastSeen), Logins: d.Logins,
			Trusted: d.Trusted, RestrictedUntil: utc(d.RestrictedUntil), Restrictions: d.Restrictions,
			IP: d.IP, Country: d.Country, City: d.City, UserAgent: d.UserAgent, TokenSeen: utc(d.TokenSeen),
		})
	}
	places := func(ps []profile.Place) []placeJSON {
		var out []placeJSON
		for _, pl := range ps {
			out = append(out, placeJSON{Key: pl.Key, Logins: pl.Logins, FirstSeen: utc(pl.FirstSeen), LastSeen: utc(pl.LastSeen)})
		}
		return out
	}
	out.Networks, out.Countries, out.ASNs = places(p.Networks), places(p.Countries), places(p.ASNs)
	if l := p.Last; !l.Time.IsZero() || l.DeviceID != "" {
		lj := &loginJSON{Time: utc(l.Time), DeviceID: l.DeviceID, IP: l.IP, Network: l.Network, UserAgent: l.UserAgent}
		if l.Located {
			lj.Location = &locationJSON{Country: l.Country, Region: l.Region, City: l.City, Latitude: l.Latitude,
				Longitude: l.Longitude, AccuracyKm: l.AccuracyKm, ASN: l.ASN}
		}
		out.Last = lj
	}
	for _, d := range p.Disowned {
		out.Disowned = append(out.Disowned, disownedJSON{ID: d.ID, At: utc(d.At)})
	}
	return out
}

// profileFromJSON is the inverse of profileToJSON.
func profileFromJSON(user string, j *profileJSON) profile.Profile {
	p := profile.Profile{User: user}
	for _, d := range j.Devices {
		p.Devices = append(p.Devices, profile.Device{
			ID: d.ID, Keys: d.Keys, FirstSeen: utc(d.FirstSeen), LastSeen: utc(d.LastSeen), Logins: d.Logins,
			Trusted: d.Trusted, RestrictedUntil: utc(d.RestrictedUntil), Restrictions: d.Restrictions,
			IP: d.IP, Country: d.Country, City: d.City, UserAgent: d.UserAgent, TokenSeen: utc(d.TokenSeen),
		})
	}
	places := func(ps []placeJSON) []profile.Place {
		var out []profile.Place
		for _, pl := range ps {
			out = append(out, profile.Place{Key: pl.Key, Logins: pl.Logins, FirstSeen: utc(pl.FirstSeen), LastSeen: utc(pl.LastSeen)})
		}
		return out
	}
	p.Networks, p.Countries, p.ASNs = places(j.Networks), places(j.Countries), places(j.ASNs)
	if l := j.Last; l != nil {
		p.Last = profile.Login{Time: utc(l.Time), DeviceID: l.DeviceID, IP: l.IP, Network: l.Network, UserAgent: l.UserAgent}
		if loc := l.Location; loc != nil {
			p.Last.Located = true
			p.Last.Country, p.Last.Region, p.Last.City = loc.Country, loc.Region, loc.City
			p.Last.Latitude, p.Last.Longitude, p.Last.AccuracyKm, p.Last.ASN = loc.Latitude, loc.Longitude, loc.AccuracyKm, loc.ASN
		}
	}
	for _, d := range j.Disowned {
		p.Disowned = append(p.Disowned, profile.Disowned{ID: d.ID, At: utc(d.At)})
	}
	return p
}

func deviceToLine(d *storage.Device) deviceLine {
	l := deviceLine{Type: typeDevice, ID: d.ID, Hashes: d.Hashes, Keys: d.Keys, FirstSeen: utc(d.FirstSeen), LastSeen: utc(d.LastSeen)}
	for _, u := range d.Users {
		l.Users = append(l.Users, deviceUserJSON{User: u.User, LastSeen: utc(u.LastSeen)})
	}
	return l
}

func deviceFromLine(l *deviceLine) storage.Device {
	d := storage.Device{ID: l.ID, Hashes: l.Hashes, Keys: l.Keys, FirstSeen: utc(l.FirstSeen), LastSeen: utc(l.LastSeen)}
	for _, u := range l.Users {
		d.Users = append(d.Users, storage.DeviceUser{User: u.User, LastSeen: utc(u.LastSeen)})
	}
	return d
}

// ---------------------------------------------------------------------------
// Writing.

// appendEvent appends the line of an event (without the newline).
func appendEvent(b []byte, e *storage.Event) []byte {
	b = append(b, `{"type":"event"`...)
	str := func(name, v string) {
		if v != "" {
			b = append(b, `,"`...)
			b = append(b, name...)
			b = append(b, `":`...)
			b = appendJSONString(b, v)
		}
	}
	str("id", e.ID)
	str("user", e.User)
	if !e.Time.IsZero() {
		b = append(b, `,"time":"`...)
		b = e.Time.UTC().AppendFormat(b, timeLayout)
		b = append(b, '"')
	}
	str("kind", e.Kind)
	str("action", e.Action)
	str("verdict", e.Verdict)
	if e.Success {
		b = append(b, `,"success":true`...)
	}
	str("device_id", e.DeviceID)
	str("ip", e.IP)
	str("network", e.Network)
	if e.Located {
		b = append(b, `,"location":{`...)
		n := len(b)
		field := func(name string) {
			if len(b) > n {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, name...)
			b = append(b, `":`...)
		}
		for _, f := range []struct{ name, v string }{{"country", e.Country}, {"region", e.Region}, {"city", e.City}} {
			if f.v != "" {
				field(f.name)
				b = appendJSONString(b, f.v)
			}
		}
		field("lat")
		b = appendFloat(b, e.Latitude)
		field("lon")
		b = appendFloat(b, e.Longitude)
		if e.AccuracyKm != 0 {
			field("accuracy_km")
			b = appendFloat(b, e.AccuracyKm)
		}
		if e.ASN != 0 {
			field("asn")
			b = strconv.AppendUint(b, uint64(e.ASN), 10)
		}
		b = append(b, '}')
	}
	if len(e.Reasons) > 0 {
		b = append(b, `,"reasons":[`...)
		for i, r := range e.Reasons {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, r)
		}
		b = append(b, ']')
	}
	str("challenge_id", e.ChallengeID)
	return append(b, '}')
}

// appendFloat appends a finite float as JSON (a non-finite one, which no
// store keeps, as 0).
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		f = 0
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD (as
// encoding/json does), U+2028 and U+2029 escaped so that a line of
// JavaScript can hold it.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ---------------------------------------------------------------------------
// Reading.

// record is one line read: its type and, by type, what it holds.
type record struct {
	typ    string
	event  storage.Event
	user   storage.UserRecord
	device storage.Device
	header header
	end    end
}

// LineError is bad input: the line, the field at fault ("" for the line as
// a whole) and what is wrong.
type LineError struct {
	Line  int64
	Field string
	Err   error
}

func (e *LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("line %d: field %q: %v", e.Line, e.Field, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// reader reads the lines of an export.
type reader struct {
	br    *bufio.Reader
	line  int64 // the number of the line last read
	bytes int64 // bytes read so far
	buf   []byte
	// intern keeps one copy of the short strings that repeat (kinds,
	// actions, verdicts, reasons, countries, cities).
	intern map[string]string
	path   [][]byte // the parser's, kept from line to line
}

// maxIntern bounds the strings a reader keeps.
const maxIntern = 1 << 16

func newReader(r io.Reader) *reader {
	return &reader{br: bufio.NewReaderSize(r, 1<<16), intern: map[string]string{}}
}

// next reads the next record into rec; io.EOF at the end of the input.
// Blank lines are skipped.
func (r *reader) next(rec *record) error {
	for {
		line, err := r.readLine()
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := r.parse(line, rec); err != nil {
			var (
				le *LineError
				fe *fieldError
			)
			switch {
			case errors.As(err, &le):
				return err
			case errors.As(err, &fe):
				return &LineError{Line: r.line, Field: fe.field, Err: fe.err}
			}
			return &LineError{Line: r.line, Err: err}
		}
		return nil
	}
}

// readLine returns the next line without its end; the slice is valid
// until the next call.
func (r *reader) readLine() ([]byte, error) {
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.bytes += int64(len(chunk))
		if len(r.buf)+len(chunk) > maxLine {
			r.line++
			return nil, &LineError{Line: r.line, Err: fmt.Errorf("longer than %d bytes", maxLine)}
		}
		switch {
		case err == nil:
			r.line++
			if len(r.buf) == 0 {
				return trimEOL(chunk), nil
			}
			r.buf = append(r.buf, chunk...)
			return trimEOL(r.buf), nil
		case errors.Is(err, bufio.ErrBufferFull):
			r.buf = append(r.buf, chunk...)
		case errors.Is(err, io.EOF):
			r.buf = append(r.buf, chunk...)
			if len(r.buf) == 0 {
				return nil, io.EOF
			}
			r.line++
			return trimEOL(r.buf), nil
		default:
			return nil, err
		}
	}
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
}

// parse reads one line.
func (r *reader) parse(line []byte, rec *record) error {
	p := parser{b: line, r: r, path: r.path[:0]}
	defer func() { r.path = p.path[:0] }()
	rec.event = storage.Event{}
	typ, err := p.event(&rec.event)
	if err != nil {
		return &LineError{Line: r.line, Field: p.fieldName(), Err: err}
	}
	rec.typ = typ
	switch typ {
	case typeEvent:
		if err := checkEvent(&rec.event); err != nil {
			return &LineError{Line: r.line, Field: err.field, Err: err.err}
		}
		return nil
	case typeHeader:
		rec.header = header{}
		if err := strictJSON(line, &rec.header); err != nil {
			return err
		}
		if rec.header.Format != formatName {
			return &LineError{Line: r.line, Field: "format", Err: fmt.Errorf("%q is not %q", rec.header.Format, formatName)}
		}
		if rec.header.Version != formatVersion {
			return &LineError{Line: r.line, Field: "version", Err: fmt.Errorf("version %d; this ato reads version %d", rec.header.Version, formatVersion)}
		}
		return nil
	case typeEnd:
		rec.end = end{}
		return strictJSON(line, &rec.end)
	case typeUser:
		var u userLine
		if err := strictJSON(line, &u); err != nil {
			return err
		}
		if field, problem := checkUser(&u); problem != "" {
			return &LineError{Line: r.line, Field: field, Err: errors.New(problem)}
		}
		rec.user = storage.UserRecord{Profile: profileFromJSON(u.User, &u.Profile)}
		for _, h := range u.Hashes {
			rec.user.Hashes = append(rec.user.Hashes, storage.DeviceHashes{DeviceID: h.DeviceID, Hashes: h.Hashes})
		}
		for i := range u.Factors {
			f, err := factorFromJSON(u.User, &u.Factors[i])
			if err != nil {
				return &LineError{Line: r.line, Field: fmt.Sprintf("factors[%d].secret", i), Err: err}
			}
			rec.user.Factors = append(rec.user.Factors, f)
		}
		return nil
	case typeDevice:
		var d deviceLine
		if err := strictJSON(line, &d); err != nil {
			return err
		}
		if field, problem := checkDevice(&d); problem != "" {
			return &LineError{Line: r.line, Field: field, Err: errors.New(problem)}
		}
		rec.device = deviceFromLine(&d)
		return nil
	case "":
		return &LineError{Line: r.line, Field: "type", Err: errors.New(`required: "event", "user", "device", "header" or "end"`)}
	}
	return &LineError{Line: r.line, Field: "type", Err: fmt.Errorf("%q is not a record type of this ato (event, user, device, header, end)", typ)}
}

// strictJSON decodes a line that is not an event with encoding/json; a
// field of the wrong type is named.
func strictJSON(line []byte, v any) error {
	err := json.Unmarshal(line, v)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return &fieldError{field: te.Field, err: fmt.Errorf("%s where %s is expected", te.Value, te.Type)}
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("a time that is not RFC 3339: %q", pe.Value)
	}
	return err
}

// fieldError is an error about one field, which next turns into a
// LineError.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return fmt.Sprintf("field %q: %v", e.field, e.err) }

// Limits on the fields of an event, as the engine and the stores have
// them.
const (
	maxUser     = 256  // ato.MaxUserLen
	maxDeviceID = 4096 // a device id is sent as a fingerprint in a replay (ato.MaxFingerprintLen)
	maxShort    = 256  // ids, networks, places
)

// checkEvent checks what a replay and an import rely on.
func checkEvent(e *storage.Event) *fieldError {
	bad := func(field, format string, args ...any) *fieldError {
		return &fieldError{field: field, err: fmt.Errorf(format, args...)}
	}
	if e.User == "" {
		return bad("user", "required")
	}
	if p := text.Check(e.User, maxUser); p != "" {
		return bad("user", "%s", p)
	}
	if e.Time.IsZero() {
		return bad("time", "required")
	}
	if e.Kind == "" {
		return bad("kind", "required")
	}
	if !ident.Action(e.Kind) {
		return bad("kind", "%q must be 1 to %d lower-case letters, digits and '_'", e.Kind, ident.MaxAction)
	}
	if e.Action != "" && !ident.Action(e.Action) {
		return bad("action", "%q must be 1 to %d lower-case letters, digits and '_'", e.Action, ident.MaxAction)
	}
	if e.Verdict != "" && !verdict.Verdict(e.Verdict).Valid() {
		return bad("verdict", "%q is not a verdict (allow, challenge, restrict, challenge_and_restrict, deny)", e.Verdict)
	}
	if p := checkIP(e.IP); p != "" {
		return bad("ip", "%s", p)
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"id", e.ID, maxShort}, {"device_id", e.DeviceID, maxDeviceID}, {"network", e.Network, maxShort},
		{"challenge_id", e.ChallengeID, maxShort}, {"location.country", e.Country, maxShort},
		{"location.region", e.Region, maxShort}, {"location.city", e.City, maxShort},
	} {
		if p := text.Check(f.v, f.max); p != "" {
			return bad(f.name, "%s", p)
		}
	}
	if e.Located {
		if e.Latitude < -90 || e.Latitude > 90 {
			return bad("location.lat", "%v is not a latitude", e.Latitude)
		}
		if e.Longitude < -180 || e.Longitude > 180 {
			return bad("location.lon", "%v is not a longitude", e.Longitude)
		}
		if e.AccuracyKm < 0 {
			return bad("location.accuracy_km", "%v is negative", e.AccuracyKm)
		}
	}
	for i, reason := range e.Reasons {
		if !ident.Reason(reason) && reason != "" {
			return bad(fmt.Sprintf("reasons[%d]", i), "%q is not a reason (lower-case letters, digits and '_')", reason)
		}
		if reason == "" {
			return bad(fmt.Sprintf("reasons[%d]", i), "empty")
		}
	}
	return nil
}

// textField is a text field of a record, and its limit; a required one
// may not be empty.
type textField struct {
	name, v  string
	max      int
	required bool
}

// checkTexts returns the first field that is not text of its length (no
// control characters, valid UTF-8), and why.
func checkTexts(fs []textField) (string, string) {
	for _, f := range fs {
		if f.v == "" && f.required {
			return f.name, "required"
		}
		if p := text.Check(f.v, f.max); p != "" {
			return f.name, p
		}
	}
	return "", ""
}

// checkIP returns why ip, which may be empty, is not an address without a
// zone ("" when it is).
func checkIP(ip string) string {
	if ip == "" {
		return ""
	}
	if a, err := netip.ParseAddr(ip); err != nil || a.Zone() != "" {
		return fmt.Sprintf("%q is not an IP address (without a zone)", ip)
	}
	return ""
}

// checkUser checks what a user's record holds, as the engine and the
// stores would have it: ids, addresses, places and user agents are text,
// so that nothing an export holds can reach a terminal as a control
// sequence.
func checkUser(u *userLine) (field, problem string) {
	fs := []textField{{"user", u.User, maxUser, true}}
	for i, d := range u.Profile.Devices {
		at := fmt.Sprintf("profile.devices[%d].", i)
		fs = append(fs, textField{at + "id", d.ID, maxDeviceID, true}, textField{at + "country", d.Country, maxShort, false},
			textField{at + "city", d.City, maxShort, false}, textField{at + "user_agent", d.UserAgent, profile.MaxUserAgent, false})
		if p := checkIP(d.IP); p != "" {
			return at + "ip", p
		}
		for j, k := range d.Keys {
			fs = append(fs, textField{fmt.Sprintf("%skeys[%d]", at, j), k, maxDeviceID, true})
		}
		for j, a := range d.Restrictions {
			if !ident.Action(a) {
				return fmt.Sprintf("%srestrictions[%d]", at, j), fmt.Sprintf("%q is not an action", a)
			}
		}
	}
	for _, places := range []struct {
		name string
		ps   []placeJSON
	}{{"networks", u.Profile.Networks}, {"countries", u.Profile.Countries}, {"asns", u.Profile.ASNs}} {
		for i, pl := range places.ps {
			fs = append(fs, textField{fmt.Sprintf("profile.%s[%d].key", places.name, i), pl.Key, maxShort, true})
		}
	}
	if l := u.Profile.Last; l != nil {
		if p := checkIP(l.IP); p != "" {
			return "profile.last.ip", p
		}
		fs = append(fs, textField{"profile.last.device_id", l.DeviceID, maxDeviceID, false}, textField{"profile.last.network", l.Network, maxShort, false},
			textField{"profile.last.user_agent", l.UserAgent, profile.MaxUserAgent, false})
		if loc := l.Location; loc != nil {
			fs = append(fs, textField{"profile.last.location.country", loc.Country, maxShort, false},
				textField{"profile.last.location.region", loc.Region, maxShort, false}, textField{"profile.last.location.city", loc.City, maxShort, false})
		}
	}
	for i, d := range u.Profile.Disowned {
		fs = append(fs, textField{fmt.Sprintf("profile.disowned[%d].id", i), d.ID, maxDeviceID, true})
	}
	for i, h := range u.Hashes {
		fs = append(fs, textField{fmt.Sprintf("hashes[%d].device_id", i), h.DeviceID, maxDeviceID, true})
		for j, x := range h.Hashes {
			fs = append(fs, textField{fmt.Sprintf("hashes[%d].hashes[%d]", i, j), x, maxDeviceID, true})
		}
	}
	kinds := make(map[string]bool, len(u.Factors)) // a line may hold many: not a scan of those before each
	for i, f := range u.Factors {
		at := fmt.Sprintf("factors[%d].", i)
		switch {
		case kinds[f.Kind]:
			return at + "kind", fmt.Sprintf("a second factor of kind %q", f.Kind)
		case base64.StdEncoding.DecodedLen(len(f.Secret)) > maxSealed:
			return at + "secret", fmt.Sprintf("more than %d bytes", maxSealed)
		case f.LastStep < 0:
			return at + "last_step", fmt.Sprintf("%d is negative", f.LastStep)
		case f.Failures < 0:
			return at + "failures", fmt.Sprintf("%d is negative", f.Failures)
		}
		kinds[f.Kind] = true
		fs = append(fs, textField{at + "kind", f.Kind, maxShort, true})
	}
	return checkTexts(fs)
}

// checkDevice checks a device's record as checkUser does a user's.
func checkDevice(d *deviceLine) (field, problem string) {
	fs := []textField{{"id", d.ID, maxDeviceID, true}}
	for i, h := range d.Hashes {
		fs = append(fs, textField{fmt.Sprintf("hashes[%d]", i), h, maxDeviceID, true})
	}
	for i, k := range d.Keys {
		fs = append(fs, textField{fmt.Sprintf("keys[%d]", i), k, maxDeviceID, true})
	}
	for i, u := range d.Users {
		fs = append(fs, textField{fmt.Sprintf("users[%d].user", i), u.User, maxUser, true})
	}
	return checkTexts(fs)
}

// parser reads one JSON object, the fields of an event into an Event, and
// skips the others (they belong to another record type, or to a later
// version).
type parser struct {
	b []byte
	i int
	r *reader
	// path is the field being read, for errors: the names of the members
	// from the line's object down, in the line's bytes.
	path [][]byte
}

// fieldName is the field being read: "location.city".
func (p *parser) fieldName() string {
	return string(bytes.Join(p.path, []byte(".")))
}

var errEnd = errors.New("unexpected end of line")

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

// expect consumes c after white space.
func (p *parser) expect(c byte) error {
	p.ws()
	if p.i >= len(p.b) {
		return errEnd
	}
	if p.b[p.i] != c {
		return fmt.Errorf("expected %q at column %d, found %q", c, p.i+1, p.b[p.i])
	}
	p.i++
	return nil
}

// peek returns the next byte after white space, or 0 at the end.
func (p *parser) peek() byte {
	p.ws()
	if p.i >= len(p.b) {
		return 0
	}
	return p.b[p.i]
}

// event reads the line's object, the fields of an event into e, and
// returns its type.
func (p *parser) event(e *storage.Event) (typ string, err error) {
	p.path = p.path[:0]
	if err := p.expect('{'); err != nil {
		if errors.Is(err, errEnd) {
			return "", err
		}
		return "", errors.New("not a JSON object")
	}
	err = p.object(func(key []byte) error {
		switch string(key) {
		case "type":
			s, err := p.str(false)
			typ = s
			return err
		case "id":
			return p.strInto(&e.ID, false)
		case "user":
			return p.strInto(&e.User, false)
		case "time":
			raw, err := p.rawStr()
			if err != nil {
				return err
			}
			t, err := parseTime(raw)
			if err != nil {
				return err
			}
			e.Time = t
			return nil
		case "kind":
			return p.strInto(&e.Kind, true)
		case "action":
			return p.strInto(&e.Action, true)
		case "verdict":
			return p.strInto(&e.Verdict, true)
		case "success":
			return p.boolInto(&e.Success)
		case "device_id":
			return p.strInto(&e.DeviceID, false)
		case "ip":
			return p.strInto(&e.IP, false)
		case "network":
			return p.strInto(&e.Network, false)
		case "location":
			if p.peek() == 'n' {
				return p.null()
			}
			e.Located = true
			if err := p.expect('{'); err != nil {
				return errors.New("an object is expected")
			}
			return p.object(func(key []byte) error {
				switch string(key) {
				case "country":
					return p.strInto(&e.Country, true)
				case "region":
					return p.strInto(&e.Region, true)
				case "city":
					return p.strInto(&e.City, true)
				case "lat":
					return p.floatInto(&e.Latitude)
				case "lon":
					return p.floatInto(&e.Longitude)
				case "accuracy_km":
					return p.floatInto(&e.AccuracyKm)
				case "asn":
					return p.uintInto(&e.ASN)
				}
				return p.skip(0)
			})
		case "reasons":
			if p.peek() == 'n' {
				e.Reasons = nil
				return p.null()
			}
			if err := p.expect('['); err != nil {
				return errors.New("an array of strings is expected")
			}
			e.Reasons = e.Reasons[:0]
			return p.array(func() error {
				s, err := p.str(true)
				e.Reasons = append(e.Reasons, s)
				return err
			})
		case "challenge_id":
			return p.strInto(&e.ChallengeID, false)
		}
		return p.skip(0)
	})
	if err != nil {
		return typ, err
	}
	p.path = p.path[:0]
	if p.peek() != 0 {
		return typ, fmt.Errorf("text after the object at column %d", p.i+1)
	}
	if len(e.Reasons) == 0 {
		e.Reasons = nil
	}
	return typ, nil
}

// object reads the members of an object whose '{' was read, calling
// member with each key (the parser at its value), up to the '}'.
func (p *parser) object(member func(key []byte) error) error {
	depth := len(p.path)
	if p.peek() == '}' {
		p.i++
		return nil
	}
	for {
		p.path = p.path[:depth]
		raw, err := p.rawStr()
		if err != nil {
			if errors.Is(err, errEnd) {
				return err
			}
			return fmt.Errorf("expected a member's name in quotes at column %d", p.i+1)
		}
		key := raw
		if bytes.IndexByte(raw, '\\') >= 0 {
			s, err := unescape(raw)
			if err != nil {
				return err
			}
			key = []byte(s)
		}
		p.path = append(p.path, key)
		if err := p.expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err // the path names the member at fault
		}
		p.path = p.path[:depth]
		if more, err := p.more('}'); !more {
			return err
		}
	}
}

// array reads the elements of an array whose '[' was read, calling elem
// with the parser at each, up to the ']'.
func (p *parser) array(elem func() error) error {
	if p.peek() == ']' {
		p.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		if more, err := p.more(']'); !more {
			return err
		}
	}
}

// more reads what follows a member or an element: a ',' (more follow) or
// the closing byte of the object or array (none; err is nil).
func (p *parser) more(closing byte) (bool, error) {
	switch p.peek() {
	case ',':
		p.i++
		return true, nil
	case closing:
		p.i++
		return false, nil
	case 0:
		return false, errEnd
	}
	return false, fmt.Errorf("expected ',' or '%c' at column %d", closing, p.i+1)
}

// rawStr reads a string and returns its bytes between the quotes, escapes
// and all; valid until the next line is read.
func (p *parser) rawStr() ([]byte, error) {
	p.ws()
	if p.i >= len(p.b) {
		return nil, errEnd
	}
	if p.b[p.i] != '"' {
		return nil, fmt.Errorf("a string is expected at column %d", p.i+1)
	}
	start := p.i + 1
	b := p.b
	i := start
	for {
		// Eight bytes at a time to the first that is a quote, a backslash or
		// a control character (the lowest byte each test flags is one).
		for ; i+8 <= len(b); i += 8 {
			const lo, hi = 0x0101010101010101, 0x8080808080808080
			x := binary.LittleEndian.Uint64(b[i:])
			q, e := x^('"'*lo), x^('\\'*lo)
			if m := ((q-lo)&^q | (e-lo)&^e | (x-0x20*lo)&^x) & hi; m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
		}
		for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 {
			i++
		}
		if i >= len(b) {
			p.i = len(b)
			return nil, errEnd
		}
		switch b[i] {
		case '"':
			p.i = i + 1
			return b[start:i], nil
		case '\\':
			i += 2
		default:
			p.i = i
			return nil, fmt.Errorf("a control character in a string at column %d", i+1)
		}
	}
}

// str reads a string; interned if short strings of its field repeat.
func (p *parser) str(intern bool) (string, error) {
	if p.peek() == 'n' {
		return "", p.null()
	}
	raw, err := p.rawStr()
	if err != nil {
		return "", err
	}
	if bytes.IndexByte(raw, '\\') >= 0 {
		return unescape(raw)
	}
	if !utf8.Valid(raw) {
		return "", errors.New("not valid UTF-8")
	}
	if intern && len(raw) <= 64 {
		if s, ok := p.r.intern[string(raw)]; ok {
			return s, nil
		}
		s := string(raw)
		if len(p.r.intern) < maxIntern {
			p.r.intern[s] = s
		}
		return s, nil
	}
	return string(raw), nil
}

func (p *parser) strInto(dst *string, intern bool) error {
	s, err := p.str(intern)
	*dst = s
	return err
}

func (p *parser) boolInto(dst *bool) error {
	p.ws()
	switch {
	case bytes.HasPrefix(p.b[p.i:], []byte("true")):
		*dst = true
		p.i += 4
	case bytes.HasPrefix(p.b[p.i:], []byte("false")):
		*dst = false
		p.i += 5
	case bytes.HasPrefix(p.b[p.i:], []byte("null")):
		p.i += 4
	default:
		return errors.New("true or false is expected")
	}
	return nil
}

func (p *parser) null() error {
	p.ws()
	if !bytes.HasPrefix(p.b[p.i:], []byte("null")) {
		return errors.New("a value is expected")
	}
	p.i += 4
	return nil
}

// number returns the bytes of a JSON number.
func (p *parser) number() ([]byte, error) {
	p.ws()
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			p.i++
			continue
		}
		break
	}
	if p.i == start {
		return nil, errors.New("a number is expected")
	}
	n := p.b[start:p.i]
	if !validNumber(n) {
		return nil, fmt.Errorf("%q is not a JSON number", n)
	}
	return n, nil
}

// validNumber reports whether b is a number in JSON's grammar.
func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i == len(b)
}

func (p *parser) floatInto(dst *float64) error {
	if p.peek() == 'n' {
		return p.null()
	}
	n, err := p.number()
	if err != nil {
		return err
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) {
		return fmt.Errorf("%s is out of range", n)
	}
	*dst = f
	return nil
}

func (p *parser) uintInto(dst *uint32) error {
	if p.peek() == 'n' {
		return p.null()
	}
	n, err := p.number()
	if err != nil {
		return err
	}
	v, err := strconv.ParseUint(string(n), 10, 32)
	if err != nil {
		return fmt.Errorf("%s is not a whole number from 0 to %d", n, uint32(math.MaxUint32))
	}
	*dst = uint32(v)
	return nil
}

// skip skips a value of any type, nested at most 64 deep.
func (p *parser) skip(depth int) error {
	if depth > 64 {
		return errors.New("nested too deep")
	}
	switch c := p.peek(); {
	case c == 0:
		return errEnd
	case c == '"':
		raw, err := p.rawStr()
		if err == nil && bytes.IndexByte(raw, '\\') >= 0 {
			_, err = unescape(raw)
		}
		return err
	case c == '{':
		p.i++
		return p.object(func([]byte) error { return p.skip(depth + 1) })
	case c == '[':
		p.i++
		return p.array(func() error { return p.skip(depth + 1) })
	case c == 't':
		var b bool
		return p.boolInto(&b)
	case c == 'f':
		var b bool
		return p.boolInto(&b)
	case c == 'n':
		return p.null()
	default:
		_, err := p.number()
		return err
	}
}

// unescape decodes the escapes of a JSON string's bytes (without quotes),
// the rare case of a line: encoding/json does it, once the bytes are known
// to be UTF-8 (it would replace what is not, rather than refuse it).
func unescape(raw []byte) (string, error) {
	if !utf8.Valid(raw) {
		return "", errors.New("not valid UTF-8")
	}
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return "", errors.New("a string with an invalid escape")
	}
	return s, nil
}

// parseTime reads an RFC 3339 time, fast when it is in timeLayout.
func parseTime(b []byte) (time.Time, error) {
	if t, ok := fastTime(b); ok {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (2026-05-04T08:00:00.000Z)", b)
	}
	return t.UTC(), nil
}

// fastTime parses "2006-01-02T15:04:05.000Z" exactly.
func fastTime(b []byte) (time.Time, bool) {
	if len(b) != 24 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[19] != '.' || b[23] != 'Z' {
		return time.Time{}, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	h, ok4 := num(b[11:13])
	mi, ok5 := num(b[14:16])
	s, ok6 := num(b[17:19])
	ms, ok7 := num(b[20:23])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, ms*int(time.Millisecond), time.UTC)
	if t.Day() != d { // February 30th and the like: let time.Parse refuse it
		return time.Time{}, false
	}
	return t, true
}
