// Package memstore is an in-memory [storage.Store], for tests, demos and
// single-process programs that can afford to forget on restart.
//
// It copies what it stores and what it returns, keeps times in UTC at
// millisecond precision like the SQLite store, and is safe for concurrent
// use: reads share a lock, writes take it alone.
package memstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/atoguard/ato/storage"
)

// Store is an in-memory [storage.Store]. The zero value is not usable; call
// [New].
type Store struct {
	mu sync.RWMutex

	devices map[string]*storage.Device
	// Devices are numbered for the key index, so that a lookup reads
	// compact lists of numbers rather than chasing id strings.
	ord        map[string]uint32                   // device id → number
	byOrd      []*storage.Device                   // number → device; nil once deleted
	keys       map[string][]uint32                 // key → device numbers, most recently added last
	links      map[string]map[string]*storage.Link // user → device id → link
	deviceUser map[string]map[string]struct{}      // device id → users
	events     map[string][]storage.Event          // user → events, oldest first

	userFailures map[string][]storage.Failure // user → failures, oldest first
	netFailures  map[string][]storage.Failure // network → failures, oldest first

	challenges     map[string]*storage.Challenge
	userChallenges map[string][]string // user → challenge ids

	factors map[string]map[string]*storage.Factor // user → kind → factor

	secrets map[string][]byte
}

var _ storage.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		devices:        map[string]*storage.Device{},
		ord:            map[string]uint32{},
		keys:           map[string][]uint32{},
		links:          map[string]map[string]*storage.Link{},
		deviceUser:     map[string]map[string]struct{}{},
		events:         map[string][]storage.Event{},
		userFailures:   map[string][]storage.Failure{},
		netFailures:    map[string][]storage.Failure{},
		challenges:     map[string]*storage.Challenge{},
		userChallenges: map[string][]string{},
		factors:        map[string]map[string]*storage.Factor{},
		secrets:        map[string][]byte{},
	}
}

func ms(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

func cloneDevice(d storage.Device) storage.Device {
	d.Hashes = cloneStrings(d.Hashes)
	d.Keys = cloneStrings(d.Keys)
	d.FirstSeen, d.LastSeen = ms(d.FirstSeen), ms(d.LastSeen)
	return d
}

func cloneLink(l storage.Link) storage.Link {
	l.Hashes = cloneStrings(l.Hashes)
	l.Restrictions = cloneStrings(l.Restrictions)
	l.FirstSeen, l.LastSeen, l.RestrictedUntil = ms(l.FirstSeen), ms(l.LastSeen), ms(l.RestrictedUntil)
	return l
}

func cloneEvent(e storage.Event) storage.Event {
	e.Reasons = cloneStrings(e.Reasons)
	e.Time = ms(e.Time)
	return e
}

func cloneChallenge(c storage.Challenge) storage.Challenge {
	c.Reasons = cloneStrings(c.Reasons)
	c.CodeHash = slices.Clone(c.CodeHash)
	if len(c.CodeHash) == 0 {
		c.CodeHash = nil
	}
	c.CreatedAt, c.SentAt, c.ExpiresAt, c.UpdatedAt = ms(c.CreatedAt), ms(c.SentAt), ms(c.ExpiresAt), ms(c.UpdatedAt)
	c.Attempt = cloneEvent(c.Attempt)
	return c
}

func cloneFactor(f storage.Factor) storage.Factor {
	f.Secret = slices.Clone(f.Secret)
	if len(f.Secret) == 0 {
		f.Secret = nil
	}
	f.CreatedAt, f.UpdatedAt, f.FailedAt = ms(f.CreatedAt), ms(f.UpdatedAt), ms(f.FailedAt)
	return f
}

// cloneStrings copies a slice; empty ones become nil, as the SQLite store
// returns them.
func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

// actionSet returns a new slice of the strings of a and b, sorted, without
// repeats; nil when there are none.
func actionSet(a, b []string) []string {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make([]string, 0, len(a)+len(b))
	out = append(append(out, a...), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// Device implements [storage.Devices].
func (s *Store) Device(_ context.Context, id string) (storage.Device, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, ok := s.devices[id]
	if !ok {
		return storage.Device{}, fmt.Errorf("memstore: device %q: %w", id, storage.ErrNotFound)
	}
	return cloneDevice(*d), nil
}

// FindDevices implements [storage.Devices].
func (s *Store) FindDevices(_ context.Context, keys []string, limit int) ([]storage.Device, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.findDevices(keys, limit), nil
}

func (s *Store) findDevices(keys []string, limit int) []storage.Device {
	if limit <= 0 {
		limit = 16
	}
	// Score each device by the keys it shares with the query, a key
	// counting 1/n when n devices are indexed under it: a key every device
	// of a browser build has says little, one only this device has says a
	// lot.
	score := make(map[uint32]float64, 64)
	for i, k := range keys {
		if slices.Contains(keys[:i], k) {
			continue
		}
		ords := s.keys[k]
		for _, o := range ords {
			score[o] += 1 / float64(len(ords))
		}
	}
	if len(score) == 0 {
		return nil
	}
	// Keep the best limit in order, without sorting everything: with the
	// per-key cap there are at most len(keys)·MaxKeyDevices candidates.
	type ranked struct {
		d     *storage.Device
		score float64
	}
	better := func(a, b ranked) bool {
		if a.score != b.score {
			return a.score > b.score
		}
		if !a.d.LastSeen.Equal(b.d.LastSeen) {
			return a.d.LastSeen.After(b.d.LastSeen)
		}
		return a.d.ID < b.d.ID
	}
	top := make([]ranked, 0, min(limit, len(score))+1)
	for o, sc := range score {
		if len(top) == limit && sc < top[len(top)-1].score {
			continue // decided without touching the device
		}
		r := ranked{s.byOrd[o], sc}
		if len(top) == limit && !better(r, top[len(top)-1]) {
			continue
		}
		i := len(top)
		for i > 0 && better(r, top[i-1]) {
			i--
		}
		top = slices.Insert(top, i, r)
		if len(top) > limit {
			top = top[:limit]
		}
	}
	out := make([]storage.Device, len(top))
	for i, r := range top {
		out[i] = cloneDevice(*r.d)
	}
	return out
}

// UserDevices implements [storage.Links].
func (s *Store) UserDevices(_ context.Context, user string) ([]storage.UserDevice, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.userDevices(user, 0), nil
}

// userDevices returns the user's devices, most recently seen first; at
// most limit of them when limit > 0.
func (s *Store) userDevices(user string, limit int) []storage.UserDevice {
	links := s.links[user]
	if len(links) == 0 {
		return nil
	}
	sorted := make([]*storage.Link, 0, len(links))
	for _, l := range links {
		sorted = append(sorted, l)
	}
	slices.SortFunc(sorted, func(a, b *storage.Link) int {
		return cmp.Or(b.LastSeen.Compare(a.LastSeen), cmp.Compare(a.DeviceID, b.DeviceID))
	})
	if limit > 0 && len(sorted) > limit {
		sorted = sorted[:limit]
	}
	out := make([]storage.UserDevice, len(sorted))
	for i, l := range sorted {
		// Stored records are already normalised: copy, and clone the slices.
		d := *s.devices[l.DeviceID]
		d.Hashes, d.Keys = slices.Clone(d.Hashes), slices.Clone(d.Keys)
		out[i] = storage.UserDevice{Link: *l, Device: d}
		out[i].Link.Hashes = slices.Clone(l.Hashes)
		out[i].Link.Restrictions = slices.Clone(l.Restrictions)
	}
	return out
}

// DeviceUsers implements [storage.Links].
func (s *Store) DeviceUsers(_ context.Context, deviceID string, since time.Time) ([]storage.Link, error) {
	since = ms(since)
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []storage.Link
	for user := range s.deviceUser[deviceID] {
		if l := s.links[user][deviceID]; !l.LastSeen.Before(since) {
			out = append(out, cloneLink(*l))
		}
	}
	slices.SortFunc(out, func(a, b storage.Link) int {
		return cmp.Or(b.LastSeen.Compare(a.LastSeen), cmp.Compare(a.User, b.User))
	})
	return out, nil
}

// DeleteLink implements [storage.Links].
func (s *Store) DeleteLink(_ context.Context, user, deviceID string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.links[user][deviceID]
	if !ok {
		return fmt.Errorf("memstore: link %q/%q: %w", user, deviceID, storage.ErrNotFound)
	}
	if !at.IsZero() && l.RestrictedUntil.After(ms(at)) {
		return fmt.Errorf("memstore: link %q/%q is restricted until %v: %w", user, deviceID, l.RestrictedUntil, storage.ErrConflict)
	}
	delete(s.links[user], deviceID)
	if len(s.links[user]) == 0 {
		delete(s.links, user)
	}
	delete(s.deviceUser[deviceID], user)
	if len(s.deviceUser[deviceID]) == 0 {
		delete(s.deviceUser, deviceID)
	}
	return nil
}

// Events implements [storage.Events].
func (s *Store) Events(_ context.Context, user string, since time.Time, limit int) ([]storage.Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.recentEvents(user, since, limit), nil
}

// recentEvents returns up to limit events since the time, newest first.
// Events are kept sorted by time, then write order.
func (s *Store) recentEvents(user string, since time.Time, limit int) []storage.Event {
	if limit <= 0 {
		limit = 50
	}
	since = ms(since)
	evs := s.events[user]
	first := len(evs) - limit // the oldest event that may be returned
	if first < 0 {
		first = 0
	}
	for first < len(evs) && evs[first].Time.Before(since) {
		first++
	}
	if first == len(evs) {
		return nil
	}
	out := make([]storage.Event, 0, len(evs)-first)
	n := 0
	for _, e := range evs[first:] {
		n += len(e.Reasons)
	}
	// One array holds every event's reasons; each event gets its own
	// capacity-limited part, so changing or appending to one cannot reach
	// another's.
	reasons := make([]string, 0, n)
	for i := len(evs) - 1; i >= first; i-- {
		e := evs[i] // stored events are already normalised
		if e.Reasons != nil {
			start := len(reasons)
			reasons = append(reasons, e.Reasons...)
			e.Reasons = reasons[start:len(reasons):len(reasons)]
		}
		out = append(out, e)
	}
	return out
}

// AddFailure implements [storage.Counters].
func (s *Store) AddFailure(_ context.Context, f storage.Failure) error {
	f.Time = ms(f.Time)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userFailures[f.User] = appendBounded(s.userFailures[f.User], f)
	if f.Network != "" {
		s.netFailures[f.Network] = appendBounded(s.netFailures[f.Network], f)
	}
	return nil
}

// appendBounded inserts f in time order and keeps the newest MaxFailures.
func appendBounded(fs []storage.Failure, f storage.Failure) []storage.Failure {
	i := len(fs)
	for i > 0 && fs[i-1].Time.After(f.Time) {
		i--
	}
	fs = slices.Insert(fs, i, f)
	if over := len(fs) - storage.MaxFailures; over > 0 {
		fs = slices.Delete(fs, 0, over)
	}
	return fs
}

// CountFailures implements [storage.Counters].
func (s *Store) CountFailures(_ context.Context, q storage.FailureQuery) (storage.FailureCounts, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.countFailures(q), nil
}

func (s *Store) countFailures(q storage.FailureQuery) storage.FailureCounts {
	q.UserSince, q.NetworkSince = ms(q.UserSince), ms(q.NetworkSince)
	var c storage.FailureCounts
	for _, f := range s.userFailures[q.User] {
		if !f.Time.Before(q.UserSince) {
			c.User++
			if !f.KnownDevice {
				c.UserUnknown++
			}
		}
	}
	if q.Network == "" {
		return c
	}
	users := map[string]struct{}{}
	for _, f := range s.netFailures[q.Network] {
		if !f.Time.Before(q.NetworkSince) && !f.KnownIP {
			users[f.User] = struct{}{}
		}
	}
	c.NetworkUsers = len(users)
	return c
}

// Challenge implements [storage.Challenges].
func (s *Store) Challenge(_ context.Context, id string) (storage.Challenge, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.challenges[id]
	if !ok {
		return storage.Challenge{}, fmt.Errorf("memstore: challenge %q: %w", id, storage.ErrNotFound)
	}
	return cloneChallenge(*c), nil
}

// UpdateChallenge implements [storage.Challenges].
func (s *Store) UpdateChallenge(_ context.Context, id string, update func(*storage.Challenge) error) (storage.Challenge, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.challenges[id]
	if !ok {
		return storage.Challenge{}, fmt.Errorf("memstore: challenge %q: %w", id, storage.ErrNotFound)
	}
	next := cloneChallenge(*c)
	if err := update(&next); err != nil {
		return storage.Challenge{}, err
	}
	next.ID, next.User = c.ID, c.User // neither can change
	next = cloneChallenge(next)
	*c = next
	return cloneChallenge(next), nil
}

// Factor implements [storage.Factors].
func (s *Store) Factor(_ context.Context, user, kind string) (storage.Factor, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f, ok := s.factors[user][kind]
	if !ok {
		return storage.Factor{}, fmt.Errorf("memstore: factor %q/%q: %w", user, kind, storage.ErrNotFound)
	}
	return cloneFactor(*f), nil
}

// PutFactor implements [storage.Factors]. A factor needs a user and a kind.
func (s *Store) PutFactor(_ context.Context, f storage.Factor) error {
	if f.User == "" || f.Kind == "" {
		return fmt.Errorf("memstore: put factor: empty user or kind (%q/%q)", f.User, f.Kind)
	}
	f = cloneFactor(f)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.factors[f.User] == nil {
		s.factors[f.User] = map[string]*storage.Factor{}
	}
	s.factors[f.User][f.Kind] = &f
	return nil
}

// UpdateFactor implements [storage.Factors].
func (s *Store) UpdateFactor(_ context.Context, user, kind string, update func(*storage.Factor) error) (storage.Factor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.factors[user][kind]
	if !ok {
		return storage.Factor{}, fmt.Errorf("memstore: factor %q/%q: %w", user, kind, storage.ErrNotFound)
	}
	next := cloneFactor(*f)
	if err := update(&next); err != nil {
		return storage.Factor{}, err
	}
	next.User, next.Kind = f.User, f.Kind // neither can change
	next = cloneFactor(next)
	*f = next
	return cloneFactor(next), nil
}

// DeleteFactor implements [storage.Factors].
func (s *Store) DeleteFactor(_ context.Context, user, kind string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.factors[user][kind]; !ok {
		return fmt.Errorf("memstore: factor %q/%q: %w", user, kind, storage.ErrNotFound)
	}
	delete(s.factors[user], kind)
	if len(s.factors[user]) == 0 {
		delete(s.factors, user)
	}
	return nil
}

// Secret implements [storage.Secrets].
func (s *Store) Secret(_ context.Context, name string, create []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.secrets[name]
	if !ok {
		v = slices.Clone(create)
		s.secrets[name] = v
	}
	return slices.Clone(v), nil
}

// Load implements [storage.Store].
func (s *Store) Load(_ context.Context, r storage.LoadRequest) (storage.State, error) {
	max := r.MaxCandidates
	if max <= 0 {
		max = 16
	}
	maxDevices := r.MaxDevices
	if maxDevices <= 0 {
		maxDevices = 32
	}
	q := r.Failures
	q.User = r.User
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := storage.State{
		Devices:    s.userDevices(r.User, maxDevices),
		Candidates: s.findDevices(r.DeviceKeys, max),
		Events:     s.recentEvents(r.User, r.EventsSince, r.MaxEvents),
		Failures:   s.countFailures(q),
	}
	// The user's own links to candidates beyond the MaxDevices most recent:
	// a device is the user's whatever its place in the list.
	for _, d := range st.Candidates {
		l, ok := s.links[r.User][d.ID]
		if !ok || slices.ContainsFunc(st.Devices, func(ud storage.UserDevice) bool { return ud.DeviceID == d.ID }) {
			continue
		}
		ud := storage.UserDevice{Link: *l, Device: d}
		ud.Device.Hashes, ud.Device.Keys = slices.Clone(d.Hashes), slices.Clone(d.Keys)
		ud.Link.Hashes, ud.Link.Restrictions = slices.Clone(l.Hashes), slices.Clone(l.Restrictions)
		st.Devices = append(st.Devices, ud)
	}
	linked := ms(r.LinkedSince)
	count := func(id string) {
		if _, done := st.DeviceUsers[id]; done {
			return
		}
		n := 0
		for user := range s.deviceUser[id] {
			if !s.links[user][id].LastSeen.Before(linked) {
				n++
			}
		}
		if n > 0 {
			if st.DeviceUsers == nil {
				st.DeviceUsers = map[string]int{}
			}
			st.DeviceUsers[id] = n
		}
	}
	for _, d := range st.Devices {
		count(d.DeviceID)
	}
	for _, d := range st.Candidates {
		count(d.ID)
	}
	st.Challenges = s.countChallenges(r.User, r.ChallengesSince)
	return st, nil
}

// countChallenges counts the user's challenges created since the time.
func (s *Store) countChallenges(user string, since time.Time) int {
	since = ms(since)
	n := 0
	for _, id := range s.userChallenges[user] {
		if !s.challenges[id].CreatedAt.Before(since) {
			n++
		}
	}
	return n
}

// Commit implements [storage.Store].
func (s *Store) Commit(_ context.Context, c storage.Commit) error {
	if c.User == "" {
		return errors.New("memstore: commit: no user")
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	// Check everything that can fail before changing anything: the
	// records first, then the transition, then what the records need.
	for _, u := range []string{eventUser(c.Event), linkUser(c.Link), challengeUser(c.Challenge)} {
		if u != "" && u != c.User {
			return fmt.Errorf("memstore: commit: record of user %q in a commit of user %q", u, c.User)
		}
	}
	if c.Device != nil && c.Device.ID == "" {
		return errors.New("memstore: commit: device without id")
	}
	if c.Challenge != nil && c.Challenge.ID == "" {
		return errors.New("memstore: commit: challenge without id")
	}
	var moved *storage.Challenge
	if tr := c.Transition; tr != nil {
		ch, ok := s.challenges[tr.ChallengeID]
		if !ok || ch.User != c.User {
			return fmt.Errorf("memstore: commit: challenge %q of user %q: %w", tr.ChallengeID, c.User, storage.ErrNotFound)
		}
		if !slices.Contains(tr.From, ch.Status) {
			return fmt.Errorf("memstore: commit: challenge %q is %s, not one of %v: %w", tr.ChallengeID, ch.Status, tr.From, storage.ErrConflict)
		}
		moved = ch
	}
	if c.Link != nil {
		if _, ok := s.devices[c.Link.DeviceID]; !ok && (c.Device == nil || c.Device.ID != c.Link.DeviceID) {
			return fmt.Errorf("memstore: commit: link to device %q: %w", c.Link.DeviceID, storage.ErrNotFound)
		}
	}
	if c.Challenge != nil {
		if _, ok := s.challenges[c.Challenge.ID]; ok {
			return fmt.Errorf("memstore: commit: challenge %q: %w", c.Challenge.ID, storage.ErrConflict)
		}
		if l := c.ChallengeLimit; l != nil && s.countChallenges(c.User, l.Since) >= l.Max {
			return fmt.Errorf("memstore: commit: user %q has %d challenges since %v: %w", c.User, l.Max, l.Since, storage.ErrLimited)
		}
	}

	// The transition is applied first, so that a challenge inserted
	// below overrides the moved challenge if it is still open.
	if moved != nil {
		moved.Status, moved.UpdatedAt = c.Transition.To, ms(c.Transition.At)
	}
	if c.Device != nil {
		s.upsertDevice(cloneDevice(*c.Device))
	}
	// A record's user is the commit's (an empty one means it).
	if c.Link != nil {
		l := cloneLink(*c.Link)
		l.User = c.User
		l.Restrictions = actionSet(l.Restrictions, nil)
		s.upsertLink(l)
	}
	if r := c.Restrict; r != nil {
		if l, ok := s.links[c.User][r.DeviceID]; ok {
			until := ms(r.Until)
			if l.RestrictedUntil.After(ms(r.Now)) {
				// In force: extended, and the actions merged.
				l.RestrictedUntil = maxTime(l.RestrictedUntil, until)
				l.Restrictions = actionSet(l.Restrictions, r.Actions)
			} else {
				// Ended (or never set): replaced.
				l.RestrictedUntil = until
				l.Restrictions = actionSet(r.Actions, nil)
			}
		}
	}
	if c.Lift != "" {
		if l, ok := s.links[c.User][c.Lift]; ok {
			l.RestrictedUntil, l.Restrictions = time.Time{}, nil
		}
	}
	if c.Event != nil {
		e := cloneEvent(*c.Event)
		e.User = c.User
		s.appendEvent(c.User, e, c.MaxHistory, ms(c.HistorySince))
	}
	if c.Challenge != nil {
		ch := cloneChallenge(*c.Challenge)
		ch.User = c.User
		for _, id := range s.userChallenges[ch.User] {
			if old := s.challenges[id]; ch.DeviceID != "" && old.DeviceID == ch.DeviceID && old.Status.Open() {
				old.Status, old.UpdatedAt = storage.ChallengeOverridden, ch.CreatedAt
			}
		}
		s.challenges[ch.ID] = &ch
		s.userChallenges[ch.User] = append(s.userChallenges[ch.User], ch.ID)
	}
	return nil
}

func eventUser(e *storage.Event) string {
	if e == nil {
		return ""
	}
	return e.User
}

func linkUser(l *storage.Link) string {
	if l == nil {
		return ""
	}
	return l.User
}

func challengeUser(c *storage.Challenge) string {
	if c == nil {
		return ""
	}
	return c.User
}

// upsertDevice stores d and indexes it under the keys it did not have
// before, dropping the keys it no longer has: a key lists its devices in
// the order they were added to it.
func (s *Store) upsertDevice(d storage.Device) {
	var had []string
	if old, ok := s.devices[d.ID]; ok {
		had = old.Keys
		for _, k := range old.Keys {
			if !slices.Contains(d.Keys, k) {
				s.unindex(k, d.ID)
			}
		}
		if old.FirstSeen.Before(d.FirstSeen) {
			d.FirstSeen = old.FirstSeen
		}
		if old.LastSeen.After(d.LastSeen) {
			d.LastSeen = old.LastSeen
		}
	}
	s.devices[d.ID] = &d
	o, ok := s.ord[d.ID]
	if !ok {
		o = uint32(len(s.byOrd))
		s.ord[d.ID] = o
		s.byOrd = append(s.byOrd, nil)
	}
	s.byOrd[o] = &d
	for i, k := range d.Keys {
		if slices.Contains(d.Keys[:i], k) || slices.Contains(had, k) && slices.Contains(s.keys[k], o) {
			continue
		}
		ords := append(s.keys[k], o)
		if over := len(ords) - storage.MaxKeyDevices; over > 0 {
			ords = slices.Delete(ords, 0, over) // the least recently added
		}
		s.keys[k] = ords
	}
}

func (s *Store) unindex(key, id string) {
	o := s.ord[id]
	ords := slices.DeleteFunc(s.keys[key], func(v uint32) bool { return v == o })
	if len(ords) == 0 {
		delete(s.keys, key)
	} else {
		s.keys[key] = ords
	}
}

// maxTime returns the later of a and b.
func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// upsertLink stores l or merges it into the stored link. The restriction
// merges like this: the later RestrictedUntil wins, and the Restrictions of
// l are added to the stored ones when l's RestrictedUntil is not earlier
// than the stored one (a link restricted until later holds back its
// actions too); otherwise the stored Restrictions stay as they are.
// l.Restrictions must be sorted without repeats.
func (s *Store) upsertLink(l storage.Link) {
	if s.links[l.User] == nil {
		s.links[l.User] = map[string]*storage.Link{}
	}
	if old, ok := s.links[l.User][l.DeviceID]; ok {
		if old.FirstSeen.Before(l.FirstSeen) {
			l.FirstSeen = old.FirstSeen
		}
		if old.LastSeen.After(l.LastSeen) {
			l.LastSeen = old.LastSeen
		}
		if old.RestrictedUntil.After(l.RestrictedUntil) {
			l.RestrictedUntil, l.Restrictions = old.RestrictedUntil, old.Restrictions
		} else {
			l.Restrictions = actionSet(old.Restrictions, l.Restrictions)
		}
		l.Trusted = l.Trusted || old.Trusted
		if len(l.Hashes) == 0 {
			l.Hashes = old.Hashes
		}
	}
	s.links[l.User][l.DeviceID] = &l
	if s.deviceUser[l.DeviceID] == nil {
		s.deviceUser[l.DeviceID] = map[string]struct{}{}
	}
	s.deviceUser[l.DeviceID][l.User] = struct{}{}
}

// appendEvent inserts e in time order, then trims the history as
// [storage.Commit] describes.
func (s *Store) appendEvent(user string, e storage.Event, max int, since time.Time) {
	if max <= 0 {
		max = 50
	}
	evs := s.events[user]
	i := len(evs)
	for i > 0 && evs[i-1].Time.After(e.Time) {
		i--
	}
	evs = slices.Insert(evs, i, e)
	evs = slices.DeleteFunc(evs, func(e storage.Event) bool { return e.Time.Before(since) })
	for len(evs) > max {
		j := slices.IndexFunc(evs, func(e storage.Event) bool { return !e.Success })
		if j < 0 {
			j = 0
		}
		evs = slices.Delete(evs, j, j+1)
	}
	s.events[user] = evs
}

// DeleteUser implements [storage.Store].
func (s *Store) DeleteUser(_ context.Context, user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The devices the user's records name: erased below unless another
	// user is linked to them.
	named := map[string]bool{}
	for id := range s.links[user] {
		named[id] = true
	}
	for _, e := range s.events[user] {
		named[e.DeviceID] = true
	}
	for _, id := range s.userChallenges[user] {
		named[s.challenges[id].DeviceID] = true
	}
	delete(s.events, user)
	delete(s.userFailures, user)
	for network, fs := range s.netFailures {
		fs = slices.DeleteFunc(fs, func(f storage.Failure) bool { return f.User == user })
		if len(fs) == 0 {
			delete(s.netFailures, network)
		} else {
			s.netFailures[network] = fs
		}
	}
	for _, id := range s.userChallenges[user] {
		delete(s.challenges, id)
	}
	delete(s.userChallenges, user)
	for id := range s.links[user] {
		delete(s.deviceUser[id], user)
	}
	delete(s.links, user)
	delete(s.factors, user)
	for id := range named {
		d, ok := s.devices[id]
		if !ok || len(s.deviceUser[id]) > 0 {
			continue
		}
		delete(s.deviceUser, id)
		for _, k := range d.Keys {
			s.unindex(k, id)
		}
		s.byOrd[s.ord[id]] = nil
		delete(s.ord, id)
		delete(s.devices, id)
	}
	return nil
}

// Purge implements [storage.Store].
func (s *Store) Purge(_ context.Context, before time.Time) (int64, error) {
	before = ms(before)
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	old := func(t time.Time) bool {
		if t.Before(before) {
			n++
			return true
		}
		return false
	}
	for user, evs := range s.events {
		if evs = slices.DeleteFunc(evs, func(e storage.Event) bool { return old(e.Time) }); len(evs) == 0 {
			delete(s.events, user)
		} else {
			s.events[user] = evs
		}
	}
	for user, fs := range s.userFailures {
		if fs = slices.DeleteFunc(fs, func(f storage.Failure) bool { return old(f.Time) }); len(fs) == 0 {
			delete(s.userFailures, user)
		} else {
			s.userFailures[user] = fs
		}
	}
	for network, fs := range s.netFailures {
		// Counted once, through the user lists above.
		if fs = slices.DeleteFunc(fs, func(f storage.Failure) bool { return f.Time.Before(before) }); len(fs) == 0 {
			delete(s.netFailures, network)
		} else {
			s.netFailures[network] = fs
		}
	}
	for user, ids := range s.userChallenges {
		ids = slices.DeleteFunc(ids, func(id string) bool {
			if old(s.challenges[id].CreatedAt) {
				delete(s.challenges, id)
				return true
			}
			return false
		})
		if len(ids) == 0 {
			delete(s.userChallenges, user)
		} else {
			s.userChallenges[user] = ids
		}
	}
	return n, nil
}
