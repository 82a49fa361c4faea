// Package fingerprint identifies devices from the hashes a browser sends:
// the current fingerprint and the one it sent last time.
//
// # Formats
//
// A fuzzy hash is 2048 lowercase hex characters ([IsFuzzy]), the format of
// the Rupt browser SDK's getHash() and of scripts that copy it: each browser signal owns a
// segment of the hash, so two hashes of one browser differ only in the
// segments of the signals that changed. Anything else — a FingerprintJS
// visitor id, a device cookie — is an opaque id, matched exactly.
//
// # Matching
//
// A request is matched against devices in this order:
//
//  1. exact: a device has the fingerprint among its recent hashes
//     (confidence 1);
//  2. last fingerprint: a device has the browser's previous fingerprint
//     among its recent hashes — the browser changed and says what it was.
//     When both hashes are fuzzy they must be at least [LastMinSimilarity]
//     alike (a real browser's change is; a stolen previous hash sent by
//     another browser is not), and the confidence is their similarity;
//     for opaque ids it is [LastConfidence];
//  3. fuzzy: the device with the most similar recent hash, at or above the
//     threshold (confidence: the [Similarity]);
//  4. otherwise the device is new.
//
// At each step the user's own known devices are tried before devices known
// only to other users, so one browser keeps one id across every account it
// logs in to. A user's known device is matched against the hashes that user
// saw from it (exactly, by their keys in the user's profile; by similarity,
// against the hashes themselves), so that what another account does with a
// browser cannot change how it is recognised for this user; other users'
// devices against the device's own recent hashes. Recent hashes are the
// last [MaxHashes] presented, so a browser drifting step by step, or
// flipping between two states (a laptop docked and undocked), stays one
// device.
//
// # Index
//
// Devices are found in the store by lookup keys ([DeviceKeys],
// [LookupKeys]): an exact key per recent hash and, for a fuzzy hash, one
// band key per signal segment of the current hash. A drifted hash still
// shares most of its bands with the device's, so it finds the device through
// the store's index, and the cost of a lookup depends on the number of keys,
// not on the number of devices stored.
package fingerprint

import (
	"math/bits"
	"slices"
	"strconv"
	"time"

	"github.com/atoguard/ato/internal/hashkey"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
)

// MaxHashes is how many recent hashes a device keeps, newest first.
const MaxHashes = 4

// LastConfidence is the confidence of a match of opaque ids made through
// the browser's previous fingerprint: the browser vouches for its own
// change, which is strong but not proof.
const LastConfidence = 0.9

// LastMinSimilarity is how alike a fuzzy fingerprint must be to the
// previous fingerprint it names for the previous one to identify the
// device. Measured: three properties changed at once keep 0.917; another
// device of the same browser build is at most 0.88.
const LastMinSimilarity = 0.9

// DefaultThreshold is the least similarity for a fuzzy match. Measured with
// the Rupt SDK 2.24.1 in Chromium (see testdata and the README): one changed
// property keeps 0.95 or more, a different class of device falls to 0.90 or
// less.
const DefaultThreshold = 0.95

// Key returns the exact lookup key of a hash: a 128-bit digest of it, so
// index entries and profiles stay small whatever the hash's length. Two
// hashes with one key are taken for one: the digest need not resist crafted
// collisions, since crafting one needs the hash it collides with, which
// would itself do.
func Key(hash string) string { return hashkey.Exact(hash) }

// keys builds lookup keys in one buffer, so that a request's two dozen keys
// cost two allocations.
type keys struct {
	buf  []byte
	ends []int
}

// exact adds the exact key of h.
func (k *keys) exact(h string) {
	k.buf = hashkey.AppendExact(k.buf, h)
	k.ends = append(k.ends, len(k.buf))
}

// bands adds the band keys of a fuzzy hash: one per signal segment, naming
// the segment's position and a 64-bit digest of its content. Segments of
// padding alone are left out: every short hash shares them.
func (k *keys) bands(h string) {
	for i, band := 0, 0; i < len(h); i, band = i+SegmentLen, band+1 {
		seg := h[i:min(i+SegmentLen, len(h))]
		if padding(seg) == len(seg) {
			continue
		}
		k.buf = append(k.buf, 'b')
		k.buf = strconv.AppendInt(k.buf, int64(band), 10)
		k.buf = append(k.buf, ':')
		d, _ := hashkey.Digest(seg)
		k.buf = hashkey.AppendHex64(k.buf, d)
		k.ends = append(k.ends, len(k.buf))
	}
}

// strings returns the keys, without repeats, as substrings of one string.
func (k *keys) strings() []string {
	all := string(k.buf)
	out := make([]string, 0, len(k.ends))
	start := 0
	for _, end := range k.ends {
		if key := all[start:end]; !slices.Contains(out, key) {
			out = append(out, key)
		}
		start = end
	}
	return out
}

// DeviceKeys returns the keys a device is indexed by: an exact key per
// hash, and the band keys of the newest hash (hashes[0]) when it is fuzzy.
func DeviceKeys(hashes []string) []string {
	var k keys
	k.buf = make([]byte, 0, 35*len(hashes)+23*segments)
	k.ends = make([]int, 0, len(hashes)+segments)
	for _, h := range hashes {
		if h != "" {
			k.exact(h)
		}
	}
	if len(hashes) > 0 && IsFuzzy(hashes[0]) {
		k.bands(hashes[0])
	}
	return k.strings()
}

// LookupKeys returns the keys to find the devices a request may be: the
// exact keys of the fingerprint (first, when there is one) and the last
// fingerprint, and the band keys of the fingerprint when it is fuzzy.
func LookupKeys(fingerprint, last string) []string {
	var k keys
	var ends [2 + segments]int
	k.buf = make([]byte, 0, 70+23*segments)
	k.ends = ends[:0]
	if fingerprint != "" {
		k.exact(fingerprint)
	}
	if last != "" && last != fingerprint {
		k.exact(last)
	}
	if IsFuzzy(fingerprint) {
		k.bands(fingerprint)
	}
	if len(k.ends) == 0 {
		return nil
	}
	return k.strings()
}

// Attempt is what identifies an attempt's device: its two hashes and their
// exact keys ([Key]; empty for an empty hash).
type Attempt struct {
	Fingerprint, Last       string
	FingerprintKey, LastKey string
	// Token is the device a valid device token of the user's names (the
	// engine checks the token); "" without one.
	Token string
}

// Identity is the outcome of [Identify].
type Identity struct {
	// ID is the matched device's id; empty when the device is new or the
	// attempt had no fingerprint.
	ID string
	// Device is the global record of the matched device, when the store
	// returned it (a zero Device otherwise).
	Device storage.Device
	Match  signals.Match
	// Confidence in [0,1]: see the package documentation.
	Confidence float64
	// Similarity of the fingerprint to the device's closest recent hash,
	// for a fuzzy or last-fingerprint match of fuzzy hashes.
	Similarity float64
	// Known reports that the device is one of the user's; Profile is then
	// its entry in the user's profile (read-only).
	Known   bool
	Profile *profile.Device
	// Token is what the attempt's device token says of the device.
	Token signals.TokenState
}

// Identify matches the attempt against the user's known devices — by the
// keys in the profile, and by the hashes the user saw from them (hashes, by
// device id) when those were loaded — and then against candidates, devices
// found by the attempt's keys whoever they belong to. threshold is the
// least similarity of a fuzzy match.
func Identify(a Attempt, p *profile.Profile, hashes map[string][]string, candidates []storage.Device, threshold float64) Identity {
	if a.Fingerprint == "" {
		return Identity{Match: signals.MatchNone}
	}
	var tok *profile.Device // the user's device the token names
	if a.Token != "" {
		tok, _ = p.Device(a.Token)
	}
	if id, ok := find(a.Fingerprint, a.FingerprintKey, p, hashes, candidates); ok && (tok == nil || id.Known) {
		id.Match, id.Confidence = signals.MatchExact, 1
		return withToken(id, tok)
	}
	if tok != nil {
		// The browser's own word: it holds the token of one of the user's
		// devices, which its fingerprint did not match exactly — a browser
		// update or a new screen changed it, however much. (A fingerprint
		// that is another user's device's exactly is that device's twin,
		// not this browser's.)
		id := known(tok, candidates)
		id.Match, id.Confidence, id.Token = signals.MatchToken, 1, signals.TokenValid
		return id
	}
	// A fuzzy hash and an opaque one never vouch for each other: a browser
	// does not switch formats, and a stolen fuzzy hash sent beside a
	// made-up one must not skip the similarity check.
	if a.Last != "" && IsFuzzy(a.Fingerprint) == IsFuzzy(a.Last) {
		fuzzy := IsFuzzy(a.Fingerprint)
		sim := 0.0
		if fuzzy {
			sim = Similarity(a.Fingerprint, a.Last)
		}
		if !fuzzy || sim >= LastMinSimilarity {
			// The previous hash vouches only for a device that never had a
			// token: one that had would present it, and a look-alike
			// browser sending a phished hash as its previous one must not
			// inherit the device.
			if id, ok := find(a.Last, a.LastKey, p, hashes, candidates); ok && (!id.Known || id.Profile.TokenSeen.IsZero()) {
				id.Match, id.Confidence = signals.MatchLast, LastConfidence
				if fuzzy {
					id.Similarity, id.Confidence = sim, sim
				}
				return withToken(id, nil)
			}
		}
	}
	if IsFuzzy(a.Fingerprint) {
		if id, ok := closest(a.Fingerprint, p, hashes, candidates, threshold); ok {
			return withToken(id, nil)
		}
	}
	return Identity{Match: signals.MatchNew, Confidence: 1}
}

// withToken says what the token (the user's device tok names, nil for
// none) says of the device the fingerprint matched: the same device, another
// of the user's, or none when the device had presented one before.
func withToken(id Identity, tok *profile.Device) Identity {
	switch {
	case tok != nil && id.ID == tok.ID:
		id.Token = signals.TokenValid
	case tok != nil:
		id.Token = signals.TokenMismatch
	case id.Known && !id.Profile.TokenSeen.IsZero():
		id.Token = signals.TokenMissing
	}
	return id
}

// Named returns the identity of the device with the id, which no hash
// matched (a new fingerprint's id, made from it): one of the user's known
// devices, or a device the store returned among the candidates, matched
// exactly; or else a new device. The confidence is 1.
func Named(id string, p *profile.Profile, candidates []storage.Device) Identity {
	if d, ok := p.Device(id); ok {
		ident := known(d, candidates)
		ident.Match, ident.Confidence = signals.MatchExact, 1
		return ident
	}
	for _, c := range candidates {
		if c.ID == id {
			return Identity{ID: id, Device: c, Match: signals.MatchExact, Confidence: 1}
		}
	}
	return Identity{ID: id, Match: signals.MatchNew, Confidence: 1}
}

// known returns the identity of the user's device d.
func known(d *profile.Device, candidates []storage.Device) Identity {
	id := Identity{ID: d.ID, Known: true, Profile: d}
	for _, c := range candidates {
		if c.ID == d.ID {
			id.Device = c
			break
		}
	}
	return id
}

// find returns the device that has the hash (whose key is key) among its
// recent ones, the user's own devices first: a known device by its keys
// (or, one without keys, by the hashes the user saw), a candidate by its
// keys or its hashes.
func find(hash, key string, p *profile.Profile, hashes map[string][]string, candidates []storage.Device) (Identity, bool) {
	for i := range p.Devices {
		d := &p.Devices[i]
		if len(d.Keys) > 0 && slices.Contains(d.Keys, key) || len(d.Keys) == 0 && hasHash(hashes[d.ID], hash) {
			return known(d, candidates), true
		}
	}
	for _, c := range candidates {
		if slices.Contains(c.Keys, key) || hasHash(c.Hashes, hash) {
			return Identity{ID: c.ID, Device: c}, true
		}
	}
	return Identity{}, false
}

// hasHash reports whether hash is among hashes. Hashes of one browser build
// share long stretches, so a sample of one character per segment rules out
// most unequal hashes before comparing them whole.
func hasHash(hashes []string, hash string) bool {
	for _, h := range hashes {
		if len(h) != len(hash) {
			continue
		}
		if len(h) == HashLen && !sameSample(h, hash) {
			continue
		}
		if h == hash {
			return true
		}
	}
	return false
}

// sampleAt are the positions sampled in fuzzy hashes: one in the middle of
// each segment, where a changed signal changes the character with
// probability 15/16.
var sampleAt = func() (at [segments]int) {
	for i := range at {
		at[i] = min(i*SegmentLen+SegmentLen/2, HashLen-1)
	}
	return at
}()

func sameSample(a, b string) bool {
	for _, i := range sampleAt {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sampleDiff returns a mask of the segments whose sampled character differs
// between two fuzzy hashes: a cheap guess of where they differ.
func sampleDiff(a, b string) uint32 {
	var mask uint32
	for seg, i := range sampleAt {
		if a[i] != b[i] {
			mask |= 1 << seg
		}
	}
	return mask
}

// closest returns the device with the recent hash most similar to the
// fingerprint, at or above threshold; on a tie the user's own device wins.
//
// A sample of one character per segment guesses how each hash differs from
// the fingerprint. The hash that looks closest is scored first; every other
// one is then scored against it, starting with the segments where it seems
// to differ, so that a hash that cannot win is dropped after a segment or
// two.
func closest(fingerprint string, p *profile.Profile, hashes map[string][]string, candidates []storage.Device, threshold float64) (Identity, bool) {
	type entry struct {
		hash    string
		suspect uint32
		order   int // known devices first, then candidates, as given
	}
	var buf [64]entry
	entries := buf[:0]
	first := -1 // the entry with the fewest differing samples
	add := func(order int, hashes []string) {
		for _, h := range hashes {
			if len(h) != HashLen {
				continue
			}
			m := sampleDiff(fingerprint, h)
			if first < 0 || bits.OnesCount32(m) < bits.OnesCount32(entries[first].suspect) {
				first = len(entries)
			}
			entries = append(entries, entry{h, m, order})
		}
	}
	for i := range p.Devices {
		add(i, hashes[p.Devices[i].ID])
	}
	for i := range candidates {
		add(len(p.Devices)+i, candidates[i].Hashes)
	}
	if first < 0 {
		return Identity{}, false
	}
	entries[0], entries[first] = entries[first], entries[0]

	pad := padding(fingerprint)
	bestOrder, bestSim := -1, 0.0
	for _, e := range entries {
		s := similarity(fingerprint, e.hash, pad, e.suspect, max(threshold, bestSim))
		if s >= threshold && (s > bestSim || s == bestSim && e.order < bestOrder) {
			bestOrder, bestSim = e.order, s
		}
	}
	if bestOrder < 0 {
		return Identity{}, false
	}
	var id Identity
	if bestOrder < len(p.Devices) {
		id = known(&p.Devices[bestOrder], candidates)
	} else {
		c := candidates[bestOrder-len(p.Devices)]
		id = Identity{ID: c.ID, Device: c}
	}
	id.Match, id.Confidence, id.Similarity = signals.MatchFuzzy, bestSim, bestSim
	return id, true
}

// Push returns hashes with fingerprint moved or added to the front, at most
// [MaxHashes] of them.
func Push(hashes []string, fingerprint string) []string {
	if len(hashes) > 0 && hashes[0] == fingerprint {
		return hashes
	}
	out := make([]string, 0, MaxHashes)
	out = append(out, fingerprint)
	for _, h := range hashes {
		if h != fingerprint && len(out) < MaxHashes {
			out = append(out, h)
		}
	}
	return out
}

// PushKey returns keys with key moved or added to the front, at most
// [MaxHashes] of them.
func PushKey(keys []string, key string) []string { return Push(keys, key) }

// Keys returns the exact key of each hash.
func Keys(hashes []string) []string {
	out := make([]string, len(hashes))
	for i, h := range hashes {
		out[i] = Key(h)
	}
	return out
}

// Lesson is what a successful login from an identified device teaches
// ([Learn]): what a commit writes of the device, and the keys of the
// user's hashes of it for the profile (nil when they did not change).
type Lesson struct {
	Device *storage.DeviceWrite
	Hashes *storage.DeviceHashes
	Keys   []string
}

// Learn returns what a successful login of the user at the time, with
// fingerprint fp (whose exact key is fpKey), teaches about the identified
// device: its global record, seen now ([Observe]), when it changed or was
// last written a while ago ([storage.NeedsTouch]), or always if always is
// set; and the hashes the user saw from it, when fp is not the one they saw
// last. hashes are those of the user's devices as the store loaded them,
// nil when it did not; maxUsers bounds the accounts the device remembers.
func Learn(ident *Identity, user, fp, fpKey string, hashes map[string][]string, at time.Time, maxUsers int, always bool) Lesson {
	var l Lesson
	var stored *storage.Device
	if ident.Device.ID != "" {
		stored = &ident.Device
	}
	if always || storage.NeedsTouch(stored, user, fp, at) {
		d := ident.Device
		d.ID = ident.ID
		l.Device = &storage.DeviceWrite{Device: Observe(d, fp, at), Seen: at, MaxUsers: maxUsers}
	}
	switch {
	case ident.Known && len(ident.Profile.Keys) > 0 && ident.Profile.Keys[0] == fpKey:
		// the hash the user saw last from it
	case hashes == nil && ident.Known:
		// The hashes were not read (the fingerprint is another of the
		// device's newest ones): move its key up.
		l.Keys = PushKey(ident.Profile.Keys, fpKey)
	default:
		seen := Push(hashes[ident.ID], fp)
		l.Hashes = &storage.DeviceHashes{DeviceID: ident.ID, Hashes: seen}
		l.Keys = Keys(seen)
	}
	return l
}

// Observe returns the device as it is after being seen with fingerprint at
// the time: the fingerprint moves to the front of its hashes (at most
// [MaxHashes] kept), the keys follow the hashes, and the times widen. The
// first key stays: it is the exact key of the hash the device was first
// seen with, which its id is made from, so that hash keeps finding it.
func Observe(d storage.Device, fingerprint string, at time.Time) storage.Device {
	if len(d.Hashes) == 0 || d.Hashes[0] != fingerprint {
		d.Hashes = Push(d.Hashes, fingerprint)
		keys := DeviceKeys(d.Hashes)
		if len(d.Keys) > 0 && !slices.Contains(keys, d.Keys[0]) {
			keys = append([]string{d.Keys[0]}, keys...)
		}
		d.Keys = keys
	}
	if d.FirstSeen.IsZero() || at.Before(d.FirstSeen) {
		d.FirstSeen = at
	}
	if at.After(d.LastSeen) {
		d.LastSeen = at
	}
	return d
}
