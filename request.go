package ato

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/internal/netaddr"
)

// Action is what the person is trying to do.
type Action string

// Actions the default policy knows. Applications may use their own
// lower-case actions (for example "password_change") to ask whether a
// sensitive action is allowed.
const (
	ActionLogin  Action = "login"
	ActionSignup Action = "signup"
)

// Request describes one attempt, as the hosted API's evaluate call does.
type Request struct {
	Action          Action // empty means login
	User            string // required
	Fingerprint     string // from the browser, e.g. Rupt.getHash()[0]
	LastFingerprint string // the browser's previous hash, getHash()[1]
	Version         string // version of the fingerprinting script
	// IP is the client's address, as the server saw it (never a value
	// the client sent in a form). An attempt without one is treated as
	// coming from an unknown network: new_ip is reported, so the default
	// policy challenges a new device or a missing fingerprint, and the
	// attempt teaches nothing, even when allowed. An IPv6 address that
	// embeds an IPv4 address in a well-known way (IPv4-mapped, NAT64, SIIT,
	// 6to4, Teredo, …) is that IPv4 address.
	IP           string
	Email, Phone string // challenge destinations
	UserAgent    string
	Metadata     map[string]string
	// Time is when the attempt happened; zero means the engine clock. It
	// must come from the server, and may differ from the engine's clock by
	// at most MaxTimeSkew, unless the engine was made WithReplay: windows,
	// restrictions and rate limits are all measured in it.
	Time time.Time
}

// Limits on request fields. Longer values are refused, not truncated.
const (
	MaxUserLen        = 256
	MaxFingerprintLen = 4096
	MaxActionLen      = 32
	MaxVersionLen     = 64
	MaxEmailLen       = 254
	MaxPhoneLen       = 32
	MaxUserAgentLen   = 2048
	MaxMetadataKeys   = 32
	MaxMetadataKeyLen = 64
	MaxMetadataValLen = 1024
	// MaxTimeSkew is how far Request.Time may be from the engine's clock,
	// unless the engine replays history (WithReplay).
	MaxTimeSkew = 5 * time.Minute
)

// attempt is a validated, normalised request.
type attempt struct {
	Request
	action  string
	ip      netip.Addr // invalid when none
	network string
	time    time.Time
	// fpKey and lastKey are the exact keys of the hashes (see withKeys).
	fpKey, lastKey string
}

// withKeys fills in the exact keys of the attempt's hashes.
func (a *attempt) withKeys() {
	if a.Fingerprint == "" {
		return
	}
	a.fpKey = fingerprint.Key(a.Fingerprint)
	switch a.LastFingerprint {
	case "":
	case a.Fingerprint:
		a.lastKey = a.fpKey
	default:
		a.lastKey = fingerprint.Key(a.LastFingerprint)
	}
}

// lookupKeys returns the keys that find the devices the attempt may be:
// made only when the store searches them.
func (a *attempt) lookupKeys() []string {
	return fingerprint.LookupKeys(a.Fingerprint, a.LastFingerprint)
}

// normaliseLenient is normalise that drops invalid optional fields rather
// than refusing the request; only a missing or invalid user is an error.
func normaliseLenient(r Request, now func() time.Time, replay bool) (attempt, error) {
	for range 16 { // more than the fields that can be dropped
		a, err := normalise(r, now, replay)
		var re *RequestError
		if err == nil || !errors.As(err, &re) {
			return a, err
		}
		switch re.Field {
		case "action":
			r.Action = ""
		case "fingerprint":
			r.Fingerprint, r.LastFingerprint = "", ""
		case "last_fingerprint":
			r.LastFingerprint = ""
		case "version":
			r.Version = ""
		case "email":
			r.Email = ""
		case "phone":
			r.Phone = ""
		case "user_agent":
			r.UserAgent = ""
		case "metadata":
			r.Metadata = nil
		case "ip":
			r.IP = ""
		case "time":
			r.Time = time.Time{}
		default: // the user
			return attempt{}, err
		}
	}
	return normalise(r, now, replay)
}

// normalise validates r and returns it normalised. Every error wraps
// ErrInvalidRequest and names the field.
func normalise(r Request, now func() time.Time, replay bool) (attempt, error) {
	a := attempt{Request: r, action: string(r.Action)}
	if a.action == "" {
		a.action = string(ActionLogin)
	}
	if err := checkAction(a.action); err != nil {
		return attempt{}, err
	}
	if r.User == "" {
		return attempt{}, invalid("user", "required")
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"user", r.User, MaxUserLen},
		{"fingerprint", r.Fingerprint, MaxFingerprintLen},
		{"last_fingerprint", lastToCheck(r), MaxFingerprintLen},
		{"version", r.Version, MaxVersionLen},
		{"email", r.Email, MaxEmailLen},
		{"phone", r.Phone, MaxPhoneLen},
		{"user_agent", r.UserAgent, MaxUserAgentLen},
	} {
		if err := checkText(f.name, f.value, f.max); err != nil {
			return attempt{}, err
		}
	}
	if r.Fingerprint == "" && r.LastFingerprint != "" {
		return attempt{}, invalid("last_fingerprint", "given without fingerprint")
	}
	if err := checkMetadata(r.Metadata); err != nil {
		return attempt{}, err
	}
	if r.IP != "" {
		ip, err := netip.ParseAddr(r.IP)
		if err != nil {
			return attempt{}, invalid("ip", excerpt(r.IP)+" is not an IP address")
		}
		a.ip, _ = netaddr.Canonical(ip)
		a.IP = a.ip.String()
		if a.ip.Is4() {
			a.network = a.IP // the network of an IPv4 address is the address
		} else {
			a.network = netaddr.Network(a.ip)
		}
	}
	a.time = now()
	if !r.Time.IsZero() {
		if d := r.Time.Sub(a.time); !replay && (d > MaxTimeSkew || d < -MaxTimeSkew) {
			return attempt{}, invalid("time", r.Time.UTC().Format(time.RFC3339)+" is more than "+MaxTimeSkew.String()+
				" from the engine's clock; only a replay (WithReplay) may set another time")
		}
		a.time = r.Time
	}
	a.time = a.time.UTC()
	return a, nil
}

// lastToCheck is the last fingerprint to validate: none when it is the
// fingerprint itself, as a browser that did not change sends it, and which
// is checked already.
func lastToCheck(r Request) string {
	if r.LastFingerprint == r.Fingerprint {
		return ""
	}
	return r.LastFingerprint
}

func checkAction(a string) error {
	if !lowerIdent(a, MaxActionLen, false) {
		return invalid("action", excerpt(a)+" must be 1 to "+strconv.Itoa(MaxActionLen)+" lower-case letters, digits and '_'")
	}
	return nil
}

// lowerIdent reports whether s is 1 to max bytes of [a-z0-9_], starting
// with a letter if letterFirst.
func lowerIdent(s string, max int, letterFirst bool) bool {
	if s == "" || len(s) > max || letterFirst && (s[0] < 'a' || s[0] > 'z') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// checkText refuses values that are too long, not UTF-8, or hold control
// characters.
func checkText(field, s string, max int) error {
	if len(s) > max {
		return invalid(field, "longer than "+strconv.Itoa(max)+" bytes ("+strconv.Itoa(len(s))+")")
	}
	for i := 0; i < len(s); {
		if i+32 <= len(s) && plainASCII32(s[i:i+32]) {
			i += 32
			continue
		}
		if i+8 <= len(s) && plainASCII8(s[i:i+8]) {
			i += 8
			continue
		}
		if b := s[i]; b < utf8.RuneSelf {
			if b < 0x20 || b == 0x7f {
				return invalid(field, "contains control character "+strconv.QuoteRune(rune(b)))
			}
			i++
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			return invalid(field, "not valid UTF-8")
		}
		if unicode.IsControl(c) {
			return invalid(field, "contains control character "+strconv.QuoteRune(c))
		}
		i += size
	}
	return nil
}

// plainASCII8 reports whether the 8 bytes of s are printable ASCII (0x20 to
// 0x7e), testing them at once, so that 4 KiB fingerprints are checked fast.
func plainASCII8(s string) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	x := binary.LittleEndian.Uint64([]byte(s))
	ctl := (x - 0x20*lo) & ^x & hi // a byte below 0x20
	y := x ^ 0x7f*lo
	del := (y - lo) & ^y & hi // a byte equal to 0x7f
	return (x&hi)|ctl|del == 0
}

// plainASCII32 is plainASCII8 for 32 bytes, the four words tested at once.
func plainASCII32(s string) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	var bad uint64
	for w := 0; w < 32; w += 8 {
		x := binary.LittleEndian.Uint64([]byte(s[w : w+8]))
		y := x ^ 0x7f*lo
		bad |= (x & hi) | (x-0x20*lo)&^x&hi | (y-lo)&^y&hi
	}
	return bad == 0
}

func checkMetadata(m map[string]string) error {
	if len(m) > MaxMetadataKeys {
		return invalid("metadata", strconv.Itoa(len(m))+" keys; at most "+strconv.Itoa(MaxMetadataKeys))
	}
	for k, v := range m {
		if k == "" {
			return invalid("metadata", "empty key")
		}
		if err := checkText("metadata", k, MaxMetadataKeyLen); err != nil {
			return invalid("metadata", "key "+excerpt(k)+": "+err.(*RequestError).Problem)
		}
		if len(v) > MaxMetadataValLen {
			return invalid("metadata", "value of "+strconv.Quote(k)+" longer than "+strconv.Itoa(MaxMetadataValLen)+" bytes")
		}
		if !utf8.ValidString(v) {
			return invalid("metadata", "value of "+strconv.Quote(k)+" is not valid UTF-8")
		}
	}
	return nil
}
