// Package profile is what the ato engine knows about one user: the devices
// the user logged in from, the networks, countries and networks' operators
// (ASNs) they logged in from, with how often and when, the place and time of
// their latest successful login, and the restrictions and trust on their
// devices.
//
// The engine decides from a [Profile] rather than from a replay of the
// user's history: each successful login updates it with [Profile.Apply],
// so an evaluation reads one bounded record however long the user's
// history is, and what the user taught the engine is not forgotten because
// they logged in often from one place.
//
// # Bounds and eviction
//
// A profile holds at most [Limits] entries of each kind. When a new entry
// would go past the limit, the entry with the lowest weight goes: its last
// login time, plus 30 days for every doubling of its logins (so a place seen
// 64 times last year outweighs one seen once last month), plus 60 days for
// a device the user completed a challenge from. A device whose restriction
// is in force is never evicted: forgetting it would lift the restriction.
//
// # Values
//
// Every method returns a new Profile and leaves its receiver as it was,
// sharing what did not change: a profile read from a store may be shared
// with other readers, and must not be modified in place.
package profile

import (
	"errors"
	"math/bits"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Profile is what the engine has learnt about one user.
type Profile struct {
	User string
	// Version counts the writes of the profile; the store sets it. A
	// profile never stored has version 0.
	Version int64
	// Devices are the user's known devices, most recently seen first.
	Devices []Device
	// Networks (keys as the engine compares addresses: an IPv4 address or
	// an IPv6 /64), Countries (ISO 3166-1 alpha-2) and ASNs (in decimal)
	// the user logged in from, most recently seen first.
	Networks, Countries, ASNs []Place
	// Last is the latest successful login; its Time is zero when there was
	// none.
	Last Login
	// Disowned are devices the user said were not theirs ("it was not me"),
	// most recent first, at most [MaxDisowned]: an attempt from one is
	// denied.
	Disowned []Disowned
}

// Disowned is a device the user said was not theirs, and when.
type Disowned struct {
	ID string
	At time.Time
}

// MaxDisowned bounds [Profile].Disowned: past it, the oldest go.
const MaxDisowned = 16

// IsDisowned reports whether the user said the device was not theirs.
func (p *Profile) IsDisowned(id string) bool {
	return id != "" && slices.ContainsFunc(p.Disowned, func(d Disowned) bool { return d.ID == id })
}

// Device is one of the user's known devices: one they logged in from
// successfully.
type Device struct {
	ID string
	// Keys are the exact lookup keys of the fingerprints the user saw from
	// the device, newest first. A device without keys (one written before
	// keys were kept) is matched by its hashes.
	Keys []string
	// FirstSeen and LastSeen bound the successful logins from it; Logins
	// counts them.
	FirstSeen, LastSeen time.Time
	Logins              int
	// Trusted reports that a challenge was completed from the device.
	Trusted bool
	// RestrictedUntil, when after the time of an attempt, holds back the
	// actions in Restrictions (sorted, without repeats) on this device.
	RestrictedUntil time.Time
	Restrictions    []string
	// IP, Country and City are those of the latest successful login from
	// the device.
	IP, Country, City string
	// UserAgent is that of the latest successful login from the device
	// that gave one, at most [MaxUserAgent] bytes: a login without one
	// does not erase it.
	UserAgent string
	// TokenSeen is when the device last presented a valid device token of
	// this user's (zero: never). Once it has, a browser that presents the
	// device's fingerprint without one is not the browser the token went
	// to: its cookies were cleared, or it copies the fingerprint.
	TokenSeen time.Time
}

// Restricted reports whether a restriction is in force on the device at the
// time.
func (d *Device) Restricted(at time.Time) bool { return d.RestrictedUntil.After(at) }

// Holds reports whether the device's restriction holds back action at the
// time.
func (d *Device) Holds(action string, at time.Time) bool {
	return d.Restricted(at) && slices.Contains(d.Restrictions, action)
}

// Place is a network, country or ASN the user logged in from.
type Place struct {
	Key                 string
	Logins              int
	FirstSeen, LastSeen time.Time
}

// Login is a successful login, where and when it happened.
type Login struct {
	Time     time.Time
	DeviceID string
	// IP and Network (the key addresses are compared by); empty without an
	// address.
	IP, Network string
	// Where the IP was located; Located is false when it was not.
	Located               bool
	Country, Region, City string
	Latitude, Longitude   float64
	AccuracyKm            float64
	ASN                   uint32
	// UserAgent is the browser's user agent; empty when it gave none.
	// [Profile.Apply] keeps at most [MaxUserAgent] bytes of it.
	UserAgent string
}

// MaxUserAgent bounds the user agent a profile keeps of a login, in bytes:
// a longer one is cut at the last UTF-8 character that fits. It names a
// browser and its system well within the bound; the rest is noise.
const MaxUserAgent = 256

// truncateUserAgent returns ua cut to at most [MaxUserAgent] bytes, at the
// start of a UTF-8 character.
func truncateUserAgent(ua string) string {
	if len(ua) <= MaxUserAgent {
		return ua
	}
	i := MaxUserAgent
	for i > 0 && !utf8.RuneStart(ua[i]) {
		i--
	}
	return ua[:i]
}

// Limits bound a profile. Every field must be positive.
type Limits struct {
	Devices, Networks, Countries, ASNs int
}

// DefaultLimits are the bounds the engine uses unless told otherwise.
var DefaultLimits = Limits{Devices: 32, Networks: 64, Countries: 32, ASNs: 32}

// MaxKeys is how many keys a device keeps: the fingerprints a user saw from
// it last.
const MaxKeys = 4

// New reports whether the engine has learnt nothing about the user: no
// known device and no successful login.
func (p *Profile) New() bool { return len(p.Devices) == 0 && p.Last.Time.IsZero() }

// Device returns the known device with the id.
func (p *Profile) Device(id string) (*Device, bool) {
	for i := range p.Devices {
		if p.Devices[i].ID == id {
			return &p.Devices[i], true
		}
	}
	return nil, false
}

// DeviceWithKey returns the known device whose newest key is key: the one
// the attempt presents exactly the fingerprint the user saw from it last.
func (p *Profile) DeviceWithKey(key string) (*Device, bool) {
	if key == "" {
		return nil, false
	}
	for i := range p.Devices {
		if d := &p.Devices[i]; len(d.Keys) > 0 && d.Keys[0] == key {
			return d, true
		}
	}
	return nil, false
}

// KnownNetwork reports whether the user logged in successfully from the
// network since the time.
func (p *Profile) KnownNetwork(network string, since time.Time) bool {
	return network != "" && seenSince(p.Networks, network, since)
}

// KnownCountry reports whether the user logged in successfully from the
// country since the time.
func (p *Profile) KnownCountry(country string, since time.Time) bool {
	return country != "" && seenSince(p.Countries, country, since)
}

// KnownASN reports whether the user logged in successfully from the ASN
// since the time.
func (p *Profile) KnownASN(asn uint32, since time.Time) bool {
	var b [10]byte
	return asn != 0 && seenSince(p.ASNs, string(strconv.AppendUint(b[:0], uint64(asn), 10)), since)
}

// asnKey is the key of the ASN in places: the key of its place when there
// is one, so that a known ASN costs no new string.
func asnKey(places []Place, asn uint32) string {
	var b [10]byte
	k := strconv.AppendUint(b[:0], uint64(asn), 10)
	for i := range places {
		if places[i].Key == string(k) {
			return places[i].Key
		}
	}
	return string(k)
}

func seenSince(places []Place, key string, since time.Time) bool {
	for i := range places {
		if places[i].Key == key {
			return !places[i].LastSeen.Before(since)
		}
	}
	return false
}

// RecentCountries returns the countries of the user's successful logins
// since the time, most recent first.
func (p *Profile) RecentCountries(since time.Time) []string {
	var out []string
	for _, c := range p.Countries {
		if !c.LastSeen.Before(since) {
			out = append(out, c.Key)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int {
		return lastSeen(p.Countries, b).Compare(lastSeen(p.Countries, a))
	})
	return out
}

func lastSeen(places []Place, key string) time.Time {
	for _, pl := range places {
		if pl.Key == key {
			return pl.LastSeen
		}
	}
	return time.Time{}
}

// LastSince returns the latest successful login if it happened since the
// time.
func (p *Profile) LastSince(since time.Time) (Login, bool) {
	if p.Last.Time.IsZero() || p.Last.Time.Before(since) {
		return Login{}, false
	}
	return p.Last, true
}

// RestrictionInForce returns, over all the user's devices restricted at
// the time, the latest end and the actions held back: what a device joining
// the user now inherits.
func (p *Profile) RestrictionInForce(at time.Time) (until time.Time, actions []string) {
	for i := range p.Devices {
		d := &p.Devices[i]
		if d.Restricted(at) {
			if d.RestrictedUntil.After(until) {
				until = d.RestrictedUntil
			}
			actions = append(actions, d.Restrictions...)
		}
	}
	return until, ActionSet(actions, nil)
}

// Inherit returns the restriction r of a device that joins the user now,
// merged with whatever restriction is in force at the time on the user's
// other devices ([Profile.RestrictionInForce]): it ends at the later end,
// and holds back both lists of actions. Otherwise a restricted session could
// shed its restriction by logging in again with another fingerprint.
func (p *Profile) Inherit(r Restriction, at time.Time) Restriction {
	if until, actions := p.RestrictionInForce(at); len(actions) > 0 {
		r.Until, r.Actions = later(r.Until, until), append(r.Actions, actions...)
	}
	return r
}

// Change is one write to a profile, described so that it can be applied
// again to a newer version of the profile (see [Profile.Apply]).
type Change struct {
	// Now is when the change happens: eviction and restrictions are
	// judged at this time.
	Now time.Time
	// Login, if set, is a successful login to learn: its device, network,
	// country and ASN become known, and it becomes the latest login if it is
	// the latest.
	Login *Login
	// Keys, if not nil, replace the keys of the login's device.
	Keys []string
	// Trust marks the login's device trusted (a completed challenge).
	Trust bool
	// Token records that the login's device presented a valid device
	// token at Now.
	Token bool
	// Disown, if set, names a device the user says is not theirs: it is
	// forgotten (whatever its restriction), and attempts from it are
	// denied from now on.
	Disown string
	// Own, if set, names a device the user says is theirs ("it was me"):
	// trusted if the user knows it, and no longer disowned.
	Own string
	// RestrictAll, if set, restricts every device of the user's as
	// Restrict restricts one (its DeviceID is ignored), after the rest of
	// the change.
	RestrictAll *Restriction
	// Restrict, if set, restricts one of the user's devices (after the
	// login is learnt, so it may be the login's device).
	Restrict *Restriction
	// Lift, if set, names a device whose restriction is lifted.
	Lift string
	// Forget, if set, names a device the user no longer knows. Applying
	// the change fails with [ErrRestricted] while it is restricted.
	Forget string
	// Limits bound the profile.
	Limits Limits
}

// Restriction holds back actions on one of the user's devices.
type Restriction struct {
	DeviceID string
	Until    time.Time
	Actions  []string
}

// ErrRestricted is returned by [Profile.Apply] for a change that forgets a
// device whose restriction is in force.
var ErrRestricted = errors.New("profile: the device is restricted")

// ErrNoDevice is returned by [Profile.Apply] for a change that forgets a
// device the user does not know.
var ErrNoDevice = errors.New("profile: no such device")

// Apply returns the profile after the change, and the ids of the devices
// it no longer holds (evicted, or forgotten). The receiver is left as it
// was. The version is not changed: the store sets it.
func (p Profile) Apply(c Change) (Profile, []string, error) {
	var gone []string
	if c.Forget != "" {
		d, ok := p.Device(c.Forget)
		switch {
		case !ok:
			return p, nil, ErrNoDevice
		case d.Restricted(c.Now):
			return p, nil, ErrRestricted
		}
		p.Devices = slices.DeleteFunc(slices.Clone(p.Devices), func(d Device) bool { return d.ID == c.Forget })
		gone = append(gone, c.Forget)
	}
	if l := c.Login; l != nil {
		p = p.learn(*l, c)
		if d := l.DeviceID; d != "" {
			var evicted string
			p.Devices, evicted = evictDevice(p.Devices, c.Limits.Devices, d, c.Now)
			if evicted != "" {
				gone = append(gone, evicted)
			}
		}
	}
	if r := c.Restrict; r != nil {
		p.Devices = restrict(p.Devices, r, c.Now)
	}
	if c.Lift != "" {
		p.Devices = editDevice(p.Devices, c.Lift, func(d *Device) { d.RestrictedUntil, d.Restrictions = time.Time{}, nil })
	}
	if id := c.Disown; id != "" {
		if _, ok := p.Device(id); ok {
			p.Devices = slices.DeleteFunc(slices.Clone(p.Devices), func(d Device) bool { return d.ID == id })
			gone = append(gone, id)
		}
		if !p.IsDisowned(id) {
			// The newest first; the oldest beyond the bound go.
			ds := make([]Disowned, 0, min(len(p.Disowned)+1, MaxDisowned))
			ds = append(ds, Disowned{ID: id, At: c.Now})
			p.Disowned = append(ds, p.Disowned[:min(len(p.Disowned), MaxDisowned-1)]...)
		}
	}
	if r := c.RestrictAll; r != nil {
		for _, d := range p.Devices {
			rr := *r
			rr.DeviceID = d.ID
			p.Devices = restrict(p.Devices, &rr, c.Now)
		}
	}
	if id := c.Own; id != "" {
		p.Devices = editDevice(p.Devices, id, func(d *Device) { d.Trusted = true })
		if p.IsDisowned(id) {
			p.Disowned = slices.DeleteFunc(slices.Clone(p.Disowned), func(d Disowned) bool { return d.ID == id })
		}
	}
	return p, gone, nil
}

// restrict applies the restriction to its device: one in force is
// extended and its actions merged; one that ended, or none, is replaced.
func restrict(ds []Device, r *Restriction, now time.Time) []Device {
	return editDevice(ds, r.DeviceID, func(d *Device) {
		if d.Restricted(now) {
			d.RestrictedUntil = later(d.RestrictedUntil, r.Until)
			d.Restrictions = ActionSet(d.Restrictions, r.Actions)
		} else {
			d.RestrictedUntil, d.Restrictions = r.Until, ActionSet(r.Actions, nil)
		}
	})
}

// learn adds a successful login.
func (p Profile) learn(l Login, c Change) Profile {
	t := l.Time
	l.UserAgent = truncateUserAgent(l.UserAgent)
	if id := l.DeviceID; id != "" {
		i := slices.IndexFunc(p.Devices, func(d Device) bool { return d.ID == id })
		var d Device
		if i >= 0 {
			d = p.Devices[i]
		} else {
			d = Device{ID: id, FirstSeen: t}
		}
		d.Logins++
		if t.Before(d.FirstSeen) {
			d.FirstSeen = t
		}
		if !t.Before(d.LastSeen) {
			d.LastSeen = t
			d.IP, d.Country, d.City = l.IP, l.Country, l.City
			if l.UserAgent != "" {
				d.UserAgent = l.UserAgent
			}
		} else if d.UserAgent == "" {
			// An earlier login's is better than none.
			d.UserAgent = l.UserAgent
		}
		if c.Keys != nil {
			d.Keys = slices.Clip(c.Keys)
		}
		d.Trusted = d.Trusted || c.Trust
		if c.Token {
			d.TokenSeen = c.Now
		}
		p.Devices = reorder(make([]Device, 0, grown(p.Devices, i)), p.Devices, i, d, d.LastSeen, deviceSeen)
	}
	// The places touched, each kind in a part of one new array (its
	// capacity ends there).
	places := [...][]Place{p.Networks, p.Countries, p.ASNs}
	keys := [len(places)]string{l.Network}
	limits := [len(places)]int{c.Limits.Networks, c.Limits.Countries, c.Limits.ASNs}
	if l.Located && l.Country != "" {
		keys[1] = l.Country
	}
	if l.Located && l.ASN != 0 {
		keys[2] = asnKey(p.ASNs, l.ASN)
	}
	var at, size [len(places)]int
	n := 0
	for j, key := range keys {
		if key != "" {
			at[j] = slices.IndexFunc(places[j], func(pl Place) bool { return pl.Key == key })
			size[j] = grown(places[j], at[j])
			n += size[j]
		}
	}
	buf := make([]Place, n)
	for j, key := range keys {
		if key != "" {
			places[j] = touch(buf[:0:size[j]], places[j], at[j], key, t, limits[j])
			buf = buf[size[j]:]
		}
	}
	p.Networks, p.Countries, p.ASNs = places[0], places[1], places[2]
	if !t.Before(p.Last.Time) {
		p.Last = l
	}
	return p
}

// grown is the length of s after the entry at i replaces one, or joins
// them when i is -1.
func grown[T any](s []T, i int) int {
	if i < 0 {
		return len(s) + 1
	}
	return len(s)
}

// reorder appends to out (empty, with room for them, not s's array) the
// entries of s with the one at i (if any) replaced by v, in
// order of last login, the most recent first: v goes before the entries it
// is not older than. seen is v's last login, last returns an entry's.
func reorder[T any](out, s []T, i int, v T, seen time.Time, last func(*T) time.Time) []T {
	placed := false
	for j := range s {
		if j == i {
			continue
		}
		if !placed && !seen.Before(last(&s[j])) {
			out = append(out, v)
			placed = true
		}
		out = append(out, s[j])
	}
	if !placed {
		out = append(out, v)
	}
	return out
}

func deviceSeen(d *Device) time.Time { return d.LastSeen }
func placeSeen(p *Place) time.Time   { return p.LastSeen }

// touch counts a login at the place key, the one at i in places (-1: a
// new one), most recent first, and evicts the lightest place past the limit
// (never the one just touched). The places after it are appended to out
// (empty, with room for them).
func touch(out, places []Place, i int, key string, t time.Time, limit int) []Place {
	pl := Place{Key: key, FirstSeen: t}
	if i >= 0 {
		pl = places[i]
	}
	pl.Logins++
	if t.Before(pl.FirstSeen) {
		pl.FirstSeen = t
	}
	if t.After(pl.LastSeen) {
		pl.LastSeen = t
	}
	places = reorder(out, places, i, pl, pl.LastSeen, placeSeen)
	if len(places) > limit && limit > 0 {
		light := -1
		for j := range places {
			if places[j].Key == key {
				continue
			}
			if light < 0 || weight(places[j].LastSeen, places[j].Logins, false).Before(weight(places[light].LastSeen, places[light].Logins, false)) {
				light = j
			}
		}
		places = slices.Delete(places, light, light+1)
	}
	return places
}

// evictDevice drops the lightest device past the limit: never keep, the
// device just learnt, nor one restricted at now.
func evictDevice(ds []Device, limit int, keep string, now time.Time) ([]Device, string) {
	if limit <= 0 || len(ds) <= limit {
		return ds, ""
	}
	light := -1
	for j := range ds {
		d := &ds[j]
		if d.ID == keep || d.Restricted(now) {
			continue
		}
		if light < 0 || weight(d.LastSeen, d.Logins, d.Trusted).Before(weight(ds[light].LastSeen, ds[light].Logins, ds[light].Trusted)) {
			light = j
		}
	}
	if light < 0 {
		return ds, "" // all restricted: the bound gives way
	}
	id := ds[light].ID
	return slices.Delete(ds, light, light+1), id
}

// weight orders entries for eviction: the last login time, plus 30 days for
// each doubling of the logins, plus 60 days for a trusted device.
func weight(last time.Time, logins int, trusted bool) time.Time {
	bonus := time.Duration(bits.Len(uint(max(logins, 0)))) * 30 * 24 * time.Hour
	if trusted {
		bonus += 60 * 24 * time.Hour
	}
	return last.Add(bonus)
}

// editDevice returns a copy of ds with the device id changed by f; ds
// itself when there is no such device.
func editDevice(ds []Device, id string, f func(*Device)) []Device {
	i := slices.IndexFunc(ds, func(d Device) bool { return d.ID == id })
	if i < 0 {
		return ds
	}
	ds = slices.Clone(ds)
	f(&ds[i])
	return ds
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// ActionSet returns a new slice of the strings of a and b, sorted, without
// repeats; nil when there are none.
func ActionSet(a, b []string) []string {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make([]string, 0, len(a)+len(b))
	out = append(append(out, a...), b...)
	slices.Sort(out)
	return slices.Clip(slices.Compact(out))
}
