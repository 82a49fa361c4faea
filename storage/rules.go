package storage

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/atoguard/ato/profile"
)

// TouchEvery is the granularity of a device's LastSeen and of its Users'
// times: the engine writes a device again on a login only when its hashes
// change, or when the device or the user's entry was last touched at least
// this long before (see [NeedsTouch]), so that a known device's logins do
// not all write a record other users' logins write too.
const TouchEvery = time.Hour

// NeedsHashes reports whether Load must read the user's hashes of each
// device and search candidate devices: unless the attempt presents exactly
// the fingerprint the user saw last from one of their devices (whose key is
// fingerprintKey), the engine matches it by hash. Without a fingerprint
// there is nothing to match.
func NeedsHashes(p *profile.Profile, fingerprintKey string) bool {
	if fingerprintKey == "" {
		return false
	}
	_, ok := p.DeviceWithKey(fingerprintKey)
	return !ok
}

// ResolveProfile is the profile a commit stores, given the stored one: if
// the stored version is the one the engine loaded (w.Base), w.New; if
// another write came in between, w.Change applied again to the stored
// profile. Its Version is the stored one plus one. gone are the devices the
// result no longer holds that the stored profile held: the user's hashes of
// them go, and the user leaves their Users. An error (wrapping
// ErrConflict) means the change cannot be applied to the stored profile any
// more, and the commit must fail.
func ResolveProfile(stored profile.Profile, w ProfileWrite) (next profile.Profile, gone []string, err error) {
	if stored.Version == w.Base {
		next, gone = w.New, w.Gone
	} else {
		next, gone, err = stored.Apply(w.Change)
		if err != nil {
			return profile.Profile{}, nil, fmt.Errorf("%w: profile of user %q: %w", ErrConflict, stored.User, err)
		}
	}
	next.Version = stored.Version + 1
	next.User = stored.User
	return next, gone, nil
}

// NeedsTouch reports whether a login of user at the time from a device
// with fingerprint must write the global device d (nil when the store has
// none): when it is new, when its newest hash is not the fingerprint, or
// when the device or the user's entry in its Users was last touched
// [TouchEvery] or more before.
func NeedsTouch(d *Device, user, fingerprint string, at time.Time) bool {
	if d == nil || len(d.Hashes) == 0 || d.Hashes[0] != fingerprint || !at.Before(d.LastSeen.Add(TouchEvery)) {
		return true
	}
	for _, u := range d.Users {
		if u.User == user {
			return !at.Before(u.LastSeen.Add(TouchEvery))
		}
	}
	return true
}

// MergeDevice is the device a commit stores: stored is the device the
// store holds (nil for none), w the write. The device takes its Hashes and
// Keys from the write and keeps the earliest FirstSeen and the latest
// LastSeen; the commit's user becomes the first of its Users (or moves up,
// with the later of the two times), and Users keeps the w.MaxUsers most
// recent. The write's hashes and keys are copied, unless the stored device
// has the same already: its slices are then shared (a store modifies
// neither), so that a login that changes neither copies neither.
func MergeDevice(stored *Device, user string, w DeviceWrite) Device {
	d := w.Device
	var hashes, keys []string // the stored device's
	if stored != nil {
		hashes, keys = stored.Hashes, stored.Keys
	}
	d.Hashes, d.Keys = sameOrClone(d.Hashes, hashes), sameOrClone(d.Keys, keys)
	d.Users = nil
	seen := w.Seen
	if stored != nil {
		if !stored.FirstSeen.IsZero() && stored.FirstSeen.Before(d.FirstSeen) {
			d.FirstSeen = stored.FirstSeen
		}
		if stored.LastSeen.After(d.LastSeen) {
			d.LastSeen = stored.LastSeen
		}
		d.Users = make([]DeviceUser, 0, min(len(stored.Users)+1, w.MaxUsers))
		for _, u := range stored.Users {
			if u.User == user {
				if u.LastSeen.After(seen) {
					seen = u.LastSeen
				}
				continue
			}
			d.Users = append(d.Users, u)
		}
	}
	d.Users = append(d.Users, DeviceUser{User: user, LastSeen: seen})
	slices.SortStableFunc(d.Users, func(a, b DeviceUser) int {
		return cmp.Or(b.LastSeen.Compare(a.LastSeen), cmp.Compare(a.User, b.User))
	})
	if len(d.Users) > w.MaxUsers {
		d.Users = d.Users[:w.MaxUsers]
	}
	return d
}

// sameOrClone is stored when it holds what s holds, a copy of s otherwise.
func sameOrClone(s, stored []string) []string {
	if slices.Equal(s, stored) {
		return stored
	}
	return slices.Clone(s)
}

// WithoutUser returns the device's Users without user.
func WithoutUser(users []DeviceUser, user string) []DeviceUser {
	return slices.DeleteFunc(slices.Clone(users), func(u DeviceUser) bool { return u.User == user })
}

// CountUsers counts the device's users seen since the time.
func CountUsers(users []DeviceUser, since time.Time) int {
	n := 0
	for _, u := range users {
		if !u.LastSeen.Before(since) {
			n++
		}
	}
	return n
}

// KeyHit is one index entry found for a lookup key: the device indexed
// under it, and the entry's sequence number (see [Device]).
type KeyHit struct {
	Key      string
	DeviceID string
	Seq      int64
}

// RankCandidates ranks the devices of index entries found for a lookup and
// returns the ids of the best limit, best first. A device scores
// [KeyWeight]/n (an integer division) for each key it was found under, n
// being the number of devices found under that key, so distinctive keys
// weigh more than common ones; integer scores sum alike in any order, so a
// store may rank in its own query language and tie exactly where this
// function ties. Ties go to the device with the most recently indexed entry
// (the highest sequence number), then to the least id: a tie is decided
// from the index alone, so however many devices tie, only limit of them
// need to be read. hits must hold each pair of key and device once. The
// cost is linear in the number of hits, which the index bounds at
// MaxKeyDevices per key.
func RankCandidates(hits []KeyHit, limit int) []string {
	if len(hits) == 0 || limit <= 0 {
		return nil
	}
	// The keys and the number of devices found under each.
	var keys []string
	for _, h := range hits {
		if !slices.Contains(keys, h.Key) {
			keys = append(keys, h.Key)
		}
	}
	count := make([]int64, len(keys))
	for _, h := range hits {
		count[slices.Index(keys, h.Key)]++
	}
	type ranked struct {
		id    string
		score int64
		seq   int64
	}
	rs := make([]ranked, 0, len(hits))
	at := make(map[string]int, len(hits))
	for k, key := range keys {
		w := KeyWeight / count[k]
		for _, h := range hits {
			if h.Key != key {
				continue
			}
			i, ok := at[h.DeviceID]
			if !ok {
				i = len(rs)
				at[h.DeviceID] = i
				rs = append(rs, ranked{id: h.DeviceID})
			}
			rs[i].score += w
			rs[i].seq = max(rs[i].seq, h.Seq)
		}
	}
	better := func(a, b *ranked) bool {
		if a.score != b.score {
			return a.score > b.score
		}
		if a.seq != b.seq {
			return a.seq > b.seq
		}
		return a.id < b.id
	}
	// The best limit, kept in order as they come.
	top := make([]*ranked, 0, min(limit, len(rs))+1)
	for i := range rs {
		r := &rs[i]
		if len(top) == limit && !better(r, top[len(top)-1]) {
			continue
		}
		j := len(top)
		for j > 0 && better(r, top[j-1]) {
			j--
		}
		top = slices.Insert(top, j, r)
		if len(top) > limit {
			top = top[:limit]
		}
	}
	out := make([]string, len(top))
	for i, r := range top {
		out[i] = r.id
	}
	return out
}

// ClassifyFailure sets the failure's KnownDevice and KnownNetwork from the
// user's profile: the device is known when its key is one of a known
// device's, the network when the user logged in from it since knownSince.
func ClassifyFailure(p *profile.Profile, f *Failure, knownSince time.Time) {
	f.KnownDevice = false
	if f.DeviceKey != "" {
		for i := range p.Devices {
			if slices.Contains(p.Devices[i].Keys, f.DeviceKey) {
				f.KnownDevice = true
				break
			}
		}
	}
	f.KnownNetwork = p.KnownNetwork(f.Network, knownSince)
}

// Campaign reports whether a failure, classified ([ClassifyFailure]), is a
// campaign failure: one for a name that is not an account
// ([Failure].UnknownUser), from a device and a network that were not known
// for the name. A name the engine knows (an account deleted in the
// application but not in ato) failing from its own device or network is
// its former owner, not a campaign. A campaign failure goes into the
// campaign list ([CampaignKey]) and is marked in its network's list, where
// [FailureQuery] counts such names apart.
func (f *Failure) Campaign() bool { return f.UnknownUser && !f.KnownDevice && !f.KnownNetwork }

// CountFailures answers the user's part of a query from the user's
// failures, newest first, as a store keeps them.
func CountFailures(newestFirst []Failure, q *FailureQuery) (user, unknown int) {
	for _, f := range newestFirst {
		if f.Time.Before(q.UserSince) || user == q.MaxUser {
			break
		}
		user++
		if !f.KnownDevice {
			unknown++
		}
	}
	return user, unknown
}

// TrimHistory returns which of a user's events a history keeps, given
// them oldest first: events before lim.Since go, then, while more than
// lim.Max remain, the oldest without Success, or the oldest if all have it.
func TrimHistory(oldestFirst []Event, lim HistoryLimits) []Event {
	evs := slices.DeleteFunc(slices.Clone(oldestFirst), func(e Event) bool { return e.Time.Before(lim.Since) })
	for len(evs) > lim.Max {
		j := slices.IndexFunc(evs, func(e Event) bool { return !e.Success })
		if j < 0 {
			j = 0
		}
		evs = slices.Delete(evs, j, j+1)
	}
	return evs
}

// Validate checks a commit against the contract: a user; records of that
// user (an empty user in a record means the commit's); ids where records
// need them; positive limits where they apply. Its errors wrap ErrInvalid.
func (c *Commit) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.User == "" {
		bad("no user")
	}
	for _, u := range []struct{ what, user string }{
		{"event", ptrUser(c.Event, func(e *Event) string { return e.User })},
		{"challenge", ptrUser(c.Challenge, func(ch *Challenge) string { return ch.User })},
		{"profile", ptrUser(c.Profile, func(w *ProfileWrite) string { return w.New.User })},
	} {
		if u.user != "" && u.user != c.User {
			bad("%s of user %q in a commit of user %q", u.what, u.user, c.User)
		}
	}
	if c.Event != nil && c.History.Max <= 0 {
		bad("an event without a positive History.Max")
	}
	if c.Device != nil {
		if c.Device.Device.ID == "" {
			bad("a device without an id")
		}
		if c.Device.MaxUsers <= 0 {
			bad("device %q without a positive MaxUsers", c.Device.Device.ID)
		}
	}
	if c.Hashes != nil && c.Hashes.DeviceID == "" {
		bad("hashes without a device id")
	}
	if c.Challenge != nil && c.Challenge.ID == "" {
		bad("a challenge without an id")
	}
	if c.ChallengeLimit != nil && (c.Challenge == nil || c.ChallengeLimit.Max <= 0) {
		bad("a challenge limit without a challenge or a positive Max")
	}
	if c.Transition != nil && (c.Transition.ChallengeID == "" || len(c.Transition.From) == 0) {
		bad("a transition without a challenge id or a status to move from")
	}
	if c.Profile != nil {
		l := c.Profile.Change.Limits
		if l.Devices <= 0 || l.Networks <= 0 || l.Countries <= 0 || l.ASNs <= 0 {
			bad("a profile change without positive limits (%+v)", l)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: commit: %w", ErrInvalid, errors.Join(errs...))
	}
	return nil
}

func ptrUser[T any](p *T, user func(*T) string) string {
	if p == nil {
		return ""
	}
	return user(p)
}

// Validate checks a load request: a user, and positive maximums for what
// it asks to count or find.
func (r *LoadRequest) Validate() error {
	switch {
	case r.User == "":
		return fmt.Errorf("%w: load: no user", ErrInvalid)
	case r.DeviceKeys != nil && r.MaxCandidates <= 0:
		return fmt.Errorf("%w: load: device keys without a positive MaxCandidates", ErrInvalid)
	case r.Failures != nil && (r.Failures.MaxUser <= 0 || r.Failures.MaxNetworkUsers <= 0):
		return fmt.Errorf("%w: load: a failure query without positive maximums", ErrInvalid)
	case r.Failures != nil && (r.Failures.MaxNetworkUnknown < 0 || r.Failures.MaxCampaignUsers < 0):
		return fmt.Errorf("%w: load: a failure query with a negative maximum", ErrInvalid)
	case r.Failures != nil && r.Failures.Network == CampaignKey:
		return fmt.Errorf("%w: load: a failure query of the network %q, the campaign list's key", ErrInvalid, CampaignKey)
	case r.Challenges != nil && r.Challenges.Max <= 0:
		return fmt.Errorf("%w: load: a challenge query without a positive Max", ErrInvalid)
	}
	return nil
}

// Validate checks failure limits: all set, but for MaxCampaignUsers, which
// may be zero (no campaign list), and then CampaignPerNetwork.
func (l *FailureLimits) Validate() error {
	if l.Keep <= 0 || l.MaxUser <= 0 || l.MaxNetworkUsers <= 0 || l.MaxCampaignUsers < 0 ||
		l.MaxCampaignUsers > 0 && l.CampaignPerNetwork <= 0 || l.CampaignPerNetwork < 0 {
		return fmt.Errorf("%w: failure limits must be positive (%+v)", ErrInvalid, *l)
	}
	return nil
}

// Validate checks a failure: a user, and a network that is not
// [CampaignKey].
func (f *Failure) Validate() error {
	switch {
	case f.User == "":
		return fmt.Errorf("%w: failure without a user", ErrInvalid)
	case f.Network == CampaignKey:
		return fmt.Errorf("%w: failure from the network %q, the campaign list's key", ErrInvalid, CampaignKey)
	}
	return nil
}

// Validate checks a purge request: a positive batch.
func (r *PurgeRequest) Validate() error {
	if r.Batch <= 0 {
		return fmt.Errorf("%w: purge: the batch must be positive, not %d", ErrInvalid, r.Batch)
	}
	return nil
}

// KeyWeight is what one key is worth to a candidate device found under it
// alone; see [RankCandidates].
const KeyWeight = 1 << 32

// Keys returns a DeviceKeys function of fixed keys.
func Keys(keys ...string) func() []string { return func() []string { return keys } }

// FailureExpiry is how many expired failures of other users, and expired
// entries of networks' lists, a store drops in each AddFailure (at least):
// more than one, so that the lists shrink while failures go on after a
// flood.
const FailureExpiry = 4
