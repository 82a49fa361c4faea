package ato

import (
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/internal/devicetoken"
	"github.com/atoguard/ato/internal/ident"
	"github.com/atoguard/ato/internal/netaddr"
	"github.com/atoguard/ato/internal/text"
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
	// DeviceToken is the token a login that taught the browser's device
	// returned ([Result].DeviceToken), which the application keeps in a
	// long-lived cookie (HttpOnly, Secure, SameSite) and passes back with
	// every attempt; "" when the browser has none. A token that does not
	// check (forged, another user's, expired, made under another secret)
	// counts as none. See the README's "Device tokens".
	DeviceToken string
	// Time is when the attempt happened; zero means the engine clock. It
	// must come from the server, and may differ from the engine's clock by
	// at most MaxTimeSkew, unless the engine was made WithReplay: windows,
	// restrictions and rate limits are all measured in it.
	Time time.Time
	// UnknownUser reports that User is not an account: set it when the
	// login form's user name does not exist (ato never learns it
	// otherwise). Only [Engine.RecordFailure] reads it; Evaluate ignores
	// it. Failures for names that do not exist are the strongest tell of
	// credential stuffing: a combo list is mostly accounts of other sites.
	UnknownUser bool
}

// Limits on request fields. Longer values are refused, not truncated.
const (
	MaxUserLen        = 256
	MaxFingerprintLen = 4096
	MaxActionLen      = ident.MaxAction
	MaxVersionLen     = 64
	MaxEmailLen       = 254
	MaxPhoneLen       = 32
	MaxUserAgentLen   = 2048
	MaxDeviceTokenLen = devicetoken.MaxLen
	MaxMetadataKeys   = 32
	MaxMetadataKeyLen = 64
	MaxMetadataValLen = 1024
	// MaxTimeSkew is how far Request.Time may be from the engine's clock,
	// unless the engine replays history (WithReplay).
	MaxTimeSkew = 5 * time.Minute
)

// attempt is a request as the steps of an evaluation compare it: valid,
// with the action defaulted, the IP canonical and its network key, the
// time checked and in UTC, and the exact keys of the hashes.
type attempt struct {
	action, user          string
	fingerprint, last     string // the fingerprint and the last one
	fpKey, lastKey        string // their exact keys (see withKeys)
	version, email, phone string
	userAgent             string
	metadata              map[string]string
	token                 string     // the device token, not yet checked
	ip                    netip.Addr // invalid when none
	ipText                string     // ip as text; "" when none
	network               string     // the key IPs are compared by
	time                  time.Time
}

// withKeys fills in the exact keys of the attempt's hashes.
func (a *attempt) withKeys() {
	if a.fingerprint == "" {
		return
	}
	a.fpKey = fingerprint.Key(a.fingerprint)
	switch a.last {
	case "":
	case a.fingerprint:
		a.lastKey = a.fpKey
	default:
		a.lastKey = fingerprint.Key(a.last)
	}
}

// normalise validates r and returns it as an attempt at the time of the
// clock (or r.Time). Every error wraps ErrInvalidRequest and names the
// field; strict, the first invalid field in the order of [Request]'s
// checks is the error. Lenient, an invalid optional field is dropped rather
// than refusing the request (it keeps its zero value; an invalid action is
// a login), and only a missing or invalid user is an error.
func normalise(r Request, clock func() time.Time, replay, lenient bool) (attempt, error) {
	a := attempt{
		action: string(r.Action), user: r.User, fingerprint: r.Fingerprint, last: r.LastFingerprint,
		version: r.Version, email: r.Email, phone: r.Phone, userAgent: r.UserAgent, metadata: r.Metadata,
		token: r.DeviceToken,
	}
	var first error // the first invalid field
	bad := func(err error) bool {
		if err != nil && first == nil {
			first = err
		}
		return err != nil
	}
	if a.action == "" || bad(checkAction(a.action)) {
		a.action = string(ActionLogin)
	}
	if err := checkUser(r.User); err != nil {
		if first != nil && !lenient {
			return attempt{}, first
		}
		return attempt{}, err
	}
	if bad(checkText("fingerprint", a.fingerprint, MaxFingerprintLen)) {
		a.fingerprint, a.last = "", ""
	}
	// A browser that did not change sends its fingerprint as the last one,
	// checked already.
	if a.last != a.fingerprint && bad(checkText("last_fingerprint", a.last, MaxFingerprintLen)) {
		a.last = ""
	}
	if bad(checkText("version", a.version, MaxVersionLen)) {
		a.version = ""
	}
	if bad(checkText("email", a.email, MaxEmailLen)) {
		a.email = ""
	}
	if bad(checkText("phone", a.phone, MaxPhoneLen)) {
		a.phone = ""
	}
	if bad(checkText("user_agent", a.userAgent, MaxUserAgentLen)) {
		a.userAgent = ""
	}
	if a.fingerprint == "" && a.last != "" && bad(invalid("last_fingerprint", "given without fingerprint")) {
		a.last = ""
	}
	if bad(checkText("device_token", a.token, MaxDeviceTokenLen)) {
		a.token = ""
	}
	if bad(checkMetadata(a.metadata)) {
		a.metadata = nil
	}
	if r.IP != "" {
		if ip, err := netip.ParseAddr(r.IP); !bad(addrError(r.IP, err)) {
			a.ip, _ = netaddr.Canonical(ip)
			a.ipText = ipText(a.ip, r.IP)
			if a.ip.Is4() {
				a.network = a.ipText // the network of an IPv4 address is the address
			} else {
				a.network = netaddr.Network(a.ip)
			}
		}
	}
	a.time = clock()
	if !r.Time.IsZero() && !bad(checkTime(r.Time, a.time, replay)) {
		a.time = r.Time
	}
	a.time = a.time.UTC()
	if first != nil && !lenient {
		return attempt{}, first
	}
	return a, nil
}

// ipText returns ip as text: the request's text s when it is that
// already, as it mostly is, so that it costs no new string.
func ipText(ip netip.Addr, s string) string {
	var b [48]byte // room for any address without a zone (at most 45 bytes)
	if t := ip.AppendTo(b[:0]); string(t) != s {
		return string(t)
	}
	return s
}

func checkAction(a string) error {
	if !ident.Action(a) {
		return invalid("action", excerpt(a)+" must be 1 to "+strconv.Itoa(MaxActionLen)+" lower-case letters, digits and '_'")
	}
	return nil
}

func checkUser(u string) error {
	if u == "" {
		return invalid("user", "required")
	}
	return checkText("user", u, MaxUserLen)
}

func addrError(s string, err error) error {
	if err != nil {
		return invalid("ip", excerpt(s)+" is not an IP address")
	}
	return nil
}

// checkTime refuses a time more than MaxTimeSkew from the engine's clock,
// unless the engine replays history.
func checkTime(t, now time.Time, replay bool) error {
	if d := t.Sub(now); !replay && (d > MaxTimeSkew || d < -MaxTimeSkew) {
		return invalid("time", t.UTC().Format(time.RFC3339)+" is more than "+MaxTimeSkew.String()+
			" from the engine's clock; only a replay (WithReplay) may set another time")
	}
	return nil
}

// checkText refuses values that are too long, not UTF-8, or hold control
// characters.
func checkText(field, s string, max int) error {
	if problem := text.Check(s, max); problem != "" {
		return invalid(field, problem)
	}
	return nil
}

func checkMetadata(m map[string]string) error {
	if len(m) > MaxMetadataKeys {
		return invalid("metadata", strconv.Itoa(len(m))+" keys; at most "+strconv.Itoa(MaxMetadataKeys))
	}
	for k, v := range m {
		if k == "" {
			return invalid("metadata", "empty key")
		}
		if problem := text.Check(k, MaxMetadataKeyLen); problem != "" {
			return invalid("metadata", "key "+excerpt(k)+": "+problem)
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
