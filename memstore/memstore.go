// Package memstore is an in-memory [storage.Store], for tests, demos and
// single-process programs that can afford to forget on restart. It is the
// reference implementation of the storage contract: each rule is a call to
// the function of package storage that states it.
//
// # Concurrency
//
// Records are kept in shards, each under its own lock: a user's records
// (profile, hashes, history, failures, challenges, factors) in the shard of
// the user, devices in the shard of the device, index entries in the shard
// of the key, and the users failing from a network in the shard of the
// network (the campaign list in that of its key, [storage.CampaignKey]; a
// call holds one network shard at a time). Evaluations of different users
// share no lock unless they write the same device or index key, which a
// known device does at most once an hour ([storage.TouchEvery]). Locks are
// taken in one order — user, device, key, network; the challenge-id index
// last — so no two calls wait for each other in a circle.
//
// # Memory
//
// Failures are kept for as long as the engine counts them
// ([storage.FailureLimits]), and dropped as new ones come, a few at a time;
// besides, a store tracks at most [MaxTracked] failures of users and
// [MaxTracked] networks' lists, the oldest going first, so that a flood of
// failures for made-up users or from fresh networks costs a bounded amount
// of memory: about 170 bytes per failure tracked (BenchmarkFailureFlood),
// some 90 MB at most.
//
// Profiles are immutable: a profile a commit gives is kept as it is, and
// Load returns it without copying it.
package memstore

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/storage"
)

// shards is the number of shards of each kind of record.
const shards = 64

// MaxTracked bounds, each on its own, the failures of users and the
// networks' lists of failing users a store keeps; past it, the oldest go.
const MaxTracked = 1 << 18

// Store is an in-memory [storage.Store]. The zero value is not usable; call
// [New].
type Store struct {
	users [shards]userShard
	devs  [shards]deviceShard
	keys  [shards]keyShard
	nets  [shards]networkShard
	chals [shards]challengeShard // challenge id → user

	seq  atomic.Int64 // index entry numbers
	seed maphash.Seed

	// ords number the devices for the index, byOrd names them.
	ordMu sync.RWMutex
	ords  map[string]*ordinal
	byOrd []*ordinal

	secretsMu sync.Mutex
	secrets   map[string][]byte

	maxTracked int // per shard
	campaign   int // the shard of the campaign list (storage.CampaignKey)
}

var _ storage.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store { return newStore(MaxTracked) }

func newStore(maxTracked int) *Store {
	s := &Store{seed: maphash.MakeSeed(), secrets: map[string][]byte{}, maxTracked: max(1, maxTracked/shards),
		ords: map[string]*ordinal{}}
	s.campaign = s.shard(storage.CampaignKey)
	for i := range shards {
		s.users[i].users = map[string]*user{}
		s.users[i].failures = map[string][]storage.Failure{}
		s.devs[i].devs = map[string]*device{}
		s.keys[i].keys = map[uint64]indexList{}
		s.nets[i].nets = map[string][]failed{}
		s.chals[i].users = map[string]string{}
	}
	return s
}

func (s *Store) shard(key string) int { return int(maphash.String(s.seed, key) % shards) }

// keyHash stands for a lookup key in the index: a 64-bit hash, so that the
// index holds no strings. Two keys with one hash would only nominate more
// candidates, which the engine compares by their hashes anyway.
func (s *Store) keyHash(key string) uint64 { return maphash.String(s.seed, key) }

// ordinal is a device's number in the index.
type ordinal struct {
	id string
	n  uint32
	// dropped is set when a key the device is indexed under drops it
	// (storage.MaxKeyDevices), and cleared before a write indexes the
	// device under each of its keys again: while it is clear, every key
	// the device was last written with still indexes it.
	dropped atomic.Bool
}

// ord returns the device's ordinal, numbering it if it has none.
func (s *Store) ord(id string) *ordinal {
	s.ordMu.RLock()
	o, ok := s.ords[id]
	s.ordMu.RUnlock()
	if ok {
		return o
	}
	s.ordMu.Lock()
	defer s.ordMu.Unlock()
	if o, ok := s.ords[id]; ok {
		return o
	}
	o = &ordinal{id: id, n: uint32(len(s.byOrd))}
	s.ords[id] = o
	s.byOrd = append(s.byOrd, o)
	return o
}

// ordinal returns the device with the number.
func (s *Store) ordinal(n uint32) *ordinal {
	s.ordMu.RLock()
	defer s.ordMu.RUnlock()
	return s.byOrd[n]
}

// user is everything a store holds for one user.
type user struct {
	// profile is kept by value (its slices are never modified: a new
	// profile has new ones); its Version is 0 when there is none.
	profile profile.Profile
	hashes  map[string][]string // device id → hashes; replaced, never modified
	events  history
	// challenges are the user's challenges, by id, and their ids in the
	// order they were created, with the time (so that counting the recent
	// ones looks none up); open lists those that may still be open.
	challenges map[string]*storage.Challenge
	order      []created
	open       []string
	factors    map[string]*storage.Factor
}

// created is a challenge's id and its CreatedAt, in user.order.
type created struct {
	id string
	at time.Time
}

func (u *user) empty() bool {
	return u.profile.Version == 0 && len(u.hashes) == 0 && u.events.len() == 0 &&
		len(u.challenges) == 0 && len(u.factors) == 0
}

type userShard struct {
	mu    sync.RWMutex
	users map[string]*user
	// failures are the users' failed attempts, newest first: apart from
	// the users' other records, so that a name's first failure costs the
	// same whether or not it has a history, and a made-up name costs no
	// more than its failures.
	failures map[string][]storage.Failure
	// expiry lists failures in the order they came, to drop them when they
	// are too old or too many.
	expiry fifo
	_      pad
}

type deviceShard struct {
	mu   sync.RWMutex
	devs map[string]*device
	_    pad
}

// device is a stored device, replaced whole by each write: the device in an
// array of one, so that Load can return it as a slice of candidates without
// allocating, and its ordinal, so that a write finds it without the lock of
// the ordinals.
type device struct {
	d   [1]storage.Device
	ord *ordinal
}

// indexEntry is a device indexed under a key: the device by its ordinal
// (see Store.ords), so that the index holds no pointer for the garbage
// collector to follow.
type indexEntry struct {
	ord uint32
	seq int64
}

type keyShard struct {
	mu   sync.RWMutex
	keys map[uint64]indexList // by the key's hash (keyHash)
	_    pad
}

// indexList is the devices indexed under one key, oldest entry first. Most
// keys index one device: it is kept in the map's own memory, and the
// collector has no array to visit for it.
type indexList struct {
	first indexEntry
	rest  []indexEntry
}

func (l indexList) entries() []indexEntry {
	if l.first == (indexEntry{}) {
		return nil
	}
	return append([]indexEntry{l.first}, l.rest...)
}

func listOf(es []indexEntry) indexList {
	if len(es) == 0 {
		return indexList{}
	}
	return indexList{first: es[0], rest: slices.Clip(es[1:])}
}

// networkShard holds the lists of users who failed from networks, and
// the campaign list under its key (storage.CampaignKey) in its shard.
type networkShard struct {
	mu   sync.RWMutex
	nets map[string][]failed // network → users who failed from it, newest first
	// lists is len(nets), set by unlock after each change: a Load that
	// finds it 0 counts no failures without taking mu, which every Load
	// would otherwise write (the campaign list's shard on each, from every
	// processor).
	lists  atomic.Int32
	expiry fifo
	_      pad
}

// unlock sets ns.lists and releases the write lock: every change of nets
// ends with it.
func (ns *networkShard) unlock() {
	ns.lists.Store(int32(len(ns.nets)))
	ns.mu.Unlock()
}

// failed is an entry of a network's list: a user, when they failed from
// the network last, and whether that failure was a campaign failure
// (storage.Failure.Campaign).
type failed struct {
	user     string
	at       time.Time
	campaign bool
}

type challengeShard struct {
	mu    sync.RWMutex
	users map[string]string
	_     pad
}

// pad keeps neighbouring shards off one cache line, so that locking one
// does not slow a core working on the next.
type pad [64]byte

// fifo is a queue of (key, time) entries.
type fifo struct {
	items []fifoItem
	head  int
}

type fifoItem struct {
	key string
	at  time.Time
}

func (q *fifo) push(key string, at time.Time) { q.items = append(q.items, fifoItem{key, at}) }

func (q *fifo) len() int { return len(q.items) - q.head }

func (q *fifo) peek() fifoItem { return q.items[q.head] }

func (q *fifo) pop() fifoItem {
	it := q.items[q.head]
	q.items[q.head] = fifoItem{}
	q.head++
	if q.head > 1024 && q.head*2 > len(q.items) {
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
	return it
}

func ms(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// cloneStrings copies a slice; empty ones become nil.
func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func cloneEvent(e storage.Event) storage.Event { return cloneEventSharing(e, nil) }

// cloneEventSharing is cloneEvent, but its reasons are shared when they
// are those of shared (see shareStrings).
func cloneEventSharing(e storage.Event, shared []string) storage.Event {
	e.Reasons = shareStrings(e.Reasons, shared)
	e.Time = ms(e.Time)
	return e
}

func cloneChallenge(c storage.Challenge) storage.Challenge {
	c.Reasons = cloneStrings(c.Reasons)
	c.Attempt = cloneEvent(c.Attempt)
	return cloneChallengeRest(c)
}

// cloneChallengeSharing is cloneChallenge for the store to keep: its
// reasons, and its attempt's, when they are those of shared, a copy the
// store keeps already, are not copied again (a commit's challenge has the
// reasons of the commit's event). The store modifies none of its slices,
// and what it returns is a cloneChallenge, whose slices are its own.
func cloneChallengeSharing(c storage.Challenge, shared []string) storage.Challenge {
	c.Reasons = shareStrings(c.Reasons, shared)
	c.Attempt = cloneEventSharing(c.Attempt, c.Reasons)
	return cloneChallengeRest(c)
}

// cloneChallengeRest copies the code hash and truncates the times.
func cloneChallengeRest(c storage.Challenge) storage.Challenge {
	c.CodeHash = slices.Clone(c.CodeHash)
	if len(c.CodeHash) == 0 {
		c.CodeHash = nil
	}
	c.CreatedAt, c.SentAt, c.ExpiresAt, c.UpdatedAt = ms(c.CreatedAt), ms(c.SentAt), ms(c.ExpiresAt), ms(c.UpdatedAt)
	return c
}

// shareStrings is shared when s has its strings, a copy of s otherwise
// (nil for an empty one).
func shareStrings(s, shared []string) []string {
	if len(s) > 0 && slices.Equal(s, shared) {
		return shared
	}
	return cloneStrings(s)
}

func cloneFactor(f storage.Factor) storage.Factor {
	f.Secret = slices.Clone(f.Secret)
	if len(f.Secret) == 0 {
		f.Secret = nil
	}
	f.CreatedAt, f.UpdatedAt, f.FailedAt = ms(f.CreatedAt), ms(f.UpdatedAt), ms(f.FailedAt)
	return f
}

func cloneDevice(d storage.Device) storage.Device {
	d.Hashes, d.Keys = cloneStrings(d.Hashes), cloneStrings(d.Keys)
	d.FirstSeen, d.LastSeen = ms(d.FirstSeen), ms(d.LastSeen)
	if len(d.Users) == 0 {
		d.Users = nil
	} else {
		d.Users = slices.Clone(d.Users)
		for i := range d.Users {
			d.Users[i].LastSeen = ms(d.Users[i].LastSeen)
		}
	}
	return d
}

// decoy is the profile a failure of a name without one is classified
// against: one of a typical shape, which no failure matches, so that the
// work is the same whether or not the name has a history.
var decoy = &profile.Profile{
	Devices:  []profile.Device{{ID: "decoy", Keys: []string{"decoy", "decoy"}}, {ID: "decoy", Keys: []string{"decoy"}}},
	Networks: []profile.Place{{Key: "decoy"}, {Key: "decoy"}},
}

// emptyHashes is what Load returns as the hashes of a user without any,
// when it must return them: read-only.
var emptyHashes = map[string][]string{}

// Load implements [storage.Store].
func (s *Store) Load(_ context.Context, r storage.LoadRequest) (storage.State, error) {
	if err := r.Validate(); err != nil {
		return storage.State{}, err
	}
	us := &s.users[s.shard(r.User)]
	us.mu.RLock()
	defer us.mu.RUnlock()
	u := us.users[r.User]
	st := storage.State{Profile: profile.Profile{User: r.User}}
	if u != nil && u.profile.Version != 0 {
		st.Profile = u.profile
	}
	if storage.NeedsHashes(&st.Profile, r.FingerprintKey) {
		st.Hashes = emptyHashes
		if u != nil && u.hashes != nil {
			st.Hashes = u.hashes
		}
		if r.DeviceKeys != nil {
			st.Candidates = s.candidates(r.DeviceKeys(), r.MaxCandidates)
		}
	} else if d, ok := st.Profile.DeviceWithKey(r.FingerprintKey); ok {
		ds := &s.devs[s.shard(d.ID)]
		ds.mu.RLock()
		if dev := ds.devs[d.ID]; dev != nil {
			st.Candidates = dev.d[:]
		}
		ds.mu.RUnlock()
	}
	if r.Failures != nil {
		// Windows start at millisecond precision, as stored times.
		q := *r.Failures
		q.UserSince, q.NetworkSince = ms(q.UserSince), ms(q.NetworkSince)
		st.Failures.User, st.Failures.UserUnknown = storage.CountFailures(us.failures[r.User], &q)
		if q.Network != "" {
			if ns := &s.nets[s.shard(q.Network)]; ns.lists.Load() != 0 {
				ns.mu.RLock()
				l := ns.nets[q.Network]
				st.Failures.NetworkUsers = countFailed(l, q.NetworkSince, q.MaxNetworkUsers, false)
				st.Failures.NetworkUnknown = countFailed(l, ms(q.UnknownSince), q.MaxNetworkUnknown, true)
				ns.mu.RUnlock()
			}
		}
		if ns := &s.nets[s.campaign]; q.MaxCampaignUsers > 0 && ns.lists.Load() != 0 {
			ns.mu.RLock()
			st.Failures.CampaignUsers = countFailed(ns.nets[storage.CampaignKey], ms(q.CampaignSince), q.MaxCampaignUsers, false)
			ns.mu.RUnlock()
		}
	}
	if q := r.Challenges; q != nil && u != nil {
		st.Challenges = countSince(u, ms(q.Since), q.Max)
	}
	return st, nil
}

// candidates finds the devices the keys index, ranked.
func (s *Store) candidates(keys []string, limit int) []storage.Device {
	var hits []storage.KeyHit
	for _, k := range keys {
		h := s.keyHash(k)
		ks := &s.keys[h%shards]
		ks.mu.RLock()
		es := ks.keys[h].entries()
		ks.mu.RUnlock()
		for _, e := range es {
			hits = append(hits, storage.KeyHit{Key: k, DeviceID: s.ordinal(e.ord).id, Seq: e.seq})
		}
	}
	ids := storage.RankCandidates(hits, limit)
	out := make([]storage.Device, 0, len(ids))
	for _, id := range ids {
		ds := &s.devs[s.shard(id)]
		ds.mu.RLock()
		if d := ds.devs[id]; d != nil {
			out = append(out, d.d[0])
		}
		ds.mu.RUnlock()
	}
	return out
}

// Commit implements [storage.Store].
func (s *Store) Commit(_ context.Context, c storage.Commit) error {
	if err := c.Validate(); err != nil {
		return err
	}
	us := &s.users[s.shard(c.User)]
	us.mu.Lock()
	defer us.mu.Unlock()
	u := us.users[c.User]
	fresh := u == nil
	if fresh {
		u = &user{}
	}

	// Check everything that can fail before changing anything.
	var moved *storage.Challenge
	if tr := c.Transition; tr != nil {
		ch := u.challenges[tr.ChallengeID]
		if ch == nil {
			return fmt.Errorf("memstore: commit: challenge %q of user %q: %w", tr.ChallengeID, c.User, storage.ErrNotFound)
		}
		if !slices.Contains(tr.From, ch.Status) {
			return fmt.Errorf("memstore: commit: challenge %q is %s, not one of %v: %w", tr.ChallengeID, ch.Status, tr.From, storage.ErrConflict)
		}
		moved = ch
	}
	var cs *challengeShard
	if ch := c.Challenge; ch != nil {
		cs = &s.chals[s.shard(ch.ID)]
		cs.mu.RLock()
		_, taken := cs.users[ch.ID]
		cs.mu.RUnlock()
		if taken {
			return fmt.Errorf("memstore: commit: challenge %q: %w", ch.ID, storage.ErrConflict)
		}
		if l := c.ChallengeLimit; l != nil {
			if n := countSince(u, ms(l.Since), l.Max); n >= l.Max {
				return fmt.Errorf("memstore: commit: user %q has %d challenges since %v: %w", c.User, n, l.Since, storage.ErrLimited)
			}
		}
	}
	var next profile.Profile
	var gone []string
	if w := c.Profile; w != nil {
		stored := profile.Profile{User: c.User}
		if u.profile.Version != 0 {
			stored = u.profile
		}
		var err error
		if next, gone, err = storage.ResolveProfile(stored, *w); err != nil {
			return fmt.Errorf("memstore: commit: %w", err)
		}
	}

	if ch := c.Challenge; ch != nil {
		// Reserve the id: another user's commit may be inserting it.
		cs.mu.Lock()
		_, taken := cs.users[ch.ID]
		if !taken {
			cs.users[ch.ID] = c.User
		}
		cs.mu.Unlock()
		if taken {
			return fmt.Errorf("memstore: commit: challenge %q: %w", ch.ID, storage.ErrConflict)
		}
	}

	if fresh {
		us.users[c.User] = u
	}
	if moved != nil {
		moved.Status, moved.UpdatedAt = c.Transition.To, ms(c.Transition.At)
		if moved.Status.Open() && !slices.Contains(u.open, moved.ID) {
			u.open = append(u.open, moved.ID)
		}
	}
	if c.Profile != nil {
		u.profile = next
	}
	if len(gone) > 0 || c.Hashes != nil {
		hs := make(map[string][]string, len(u.hashes)+1)
		for id, h := range u.hashes {
			if !slices.Contains(gone, id) {
				hs[id] = h
			}
		}
		if h := c.Hashes; h != nil {
			if len(h.Hashes) == 0 {
				delete(hs, h.DeviceID)
			} else {
				hs[h.DeviceID] = slices.Clone(h.Hashes)
			}
		}
		u.hashes = hs
	}
	for _, id := range gone {
		s.leaveDevice(id, c.User, false)
	}
	if w := c.Device; w != nil {
		s.writeDevice(c.User, *w)
	}
	var reasons []string // the stored event's
	if c.Event != nil {
		e := cloneEvent(*c.Event)
		e.User = c.User
		reasons = e.Reasons
		u.events.add(e, storage.HistoryLimits{Max: c.History.Max, Since: ms(c.History.Since)})
	}
	if ch := c.Challenge; ch != nil {
		s.insertChallenge(u, c.User, cloneChallengeSharing(*ch, reasons), cs)
	}
	return nil
}

// countSince counts the user's challenges created since the time, up to
// limit; u.order is in order of creation.
func countSince(u *user, since time.Time, limit int) int {
	n := 0
	for i := len(u.order) - 1; i >= 0 && n < limit; i-- {
		if u.order[i].at.Before(since) {
			break
		}
		n++
	}
	return n
}

// insertChallenge stores a new challenge and overrides the open challenges
// of the same user and device that have not ended. u.open lists the
// challenges that may be open and not ended; those found ended leave it,
// so a user's abandoned challenges do not make each new one cost more.
func (s *Store) insertChallenge(u *user, name string, ch storage.Challenge, cs *challengeShard) {
	ch.User = name
	if u.challenges == nil {
		u.challenges = map[string]*storage.Challenge{}
	}
	open := u.open[:0]
	for _, id := range u.open {
		old := u.challenges[id]
		if old == nil || !old.Status.Open() {
			continue
		}
		if !old.ExpiresAt.After(ch.CreatedAt) {
			continue // ended: left as it is, and no longer looked at
		}
		if ch.DeviceID != "" && old.DeviceID == ch.DeviceID {
			old.Status, old.UpdatedAt = storage.ChallengeOverridden, ch.CreatedAt
			continue
		}
		open = append(open, id)
	}
	u.open = append(open, ch.ID)
	u.challenges[ch.ID] = &ch
	placeChallenge(u, ch.ID)
	cs.mu.Lock()
	cs.users[ch.ID] = name
	cs.mu.Unlock()
}

// placeChallenge puts the id in u.order, which is kept in order of
// creation (commits may come in out of order).
func placeChallenge(u *user, id string) {
	at := u.challenges[id].CreatedAt
	i := len(u.order)
	for i > 0 && u.order[i-1].at.After(at) {
		i--
	}
	u.order = slices.Insert(u.order, i, created{id, at})
}

// writeDevice merges a device write and updates the key index. A device
// written with the keys it has, and dropped by none of them since, is
// indexed under each already: the index is left as it is.
func (s *Store) writeDevice(name string, w storage.DeviceWrite) {
	// MergeDevice copies the hashes and keys and makes the users anew:
	// the write's slices are not kept.
	w.Device.FirstSeen, w.Device.LastSeen, w.Device.Users = ms(w.Device.FirstSeen), ms(w.Device.LastSeen), nil
	w.Seen = ms(w.Seen)
	ds := &s.devs[s.shard(w.Device.ID)]
	ds.mu.Lock()
	defer ds.mu.Unlock()
	var stored *storage.Device
	var had []string
	var o *ordinal
	if old := ds.devs[w.Device.ID]; old != nil {
		stored, had, o = &old.d[0], old.d[0].Keys, old.ord
	} else {
		o = s.ord(w.Device.ID)
	}
	// MergeDevice keeps the stored hashes and keys when the write has the
	// same, and copies the write's otherwise.
	d := storage.MergeDevice(stored, name, w)
	sameKeys := stored != nil && slices.Equal(d.Keys, had)
	ds.devs[d.ID] = &device{d: [1]storage.Device{d}, ord: o}
	if sameKeys && !o.dropped.Load() {
		return
	}
	o.dropped.Store(false) // before indexing: a key that drops it meanwhile sets it again
	for _, k := range had {
		if !slices.Contains(d.Keys, k) {
			s.unindex(k, o.n)
		}
	}
	for _, k := range d.Keys {
		s.index(k, o.n)
	}
}

// index puts the device with the ordinal under the key, unless it is
// there; the devices the key drops for it are marked dropped.
func (s *Store) index(key string, o uint32) {
	h := s.keyHash(key)
	ks := &s.keys[h%shards]
	ks.mu.Lock()
	defer ks.mu.Unlock()
	l := ks.keys[h]
	if l.first.ord == o && l.first.seq != 0 || slices.ContainsFunc(l.rest, func(e indexEntry) bool { return e.ord == o }) {
		return
	}
	e := indexEntry{o, s.seq.Add(1)}
	if l.first.seq == 0 {
		ks.keys[h] = indexList{first: e}
		return
	}
	es := append(l.entries(), e)
	if over := len(es) - storage.MaxKeyDevices; over > 0 {
		for _, x := range es[:over] {
			s.ordinal(x.ord).dropped.Store(true)
		}
		es = slices.Delete(es, 0, over) // the lowest numbers: the least recently indexed
	}
	ks.keys[h] = listOf(es)
}

// unindex takes the device with the ordinal from under the key.
func (s *Store) unindex(key string, o uint32) {
	h := s.keyHash(key)
	ks := &s.keys[h%shards]
	ks.mu.Lock()
	defer ks.mu.Unlock()
	es := slices.DeleteFunc(ks.keys[h].entries(), func(e indexEntry) bool { return e.ord == o })
	if len(es) == 0 {
		delete(ks.keys, h)
	} else {
		ks.keys[h] = listOf(es)
	}
}

// leaveDevice takes the user out of the device's Users; with drop, a
// device left without users is deleted.
func (s *Store) leaveDevice(id, name string, drop bool) {
	ds := &s.devs[s.shard(id)]
	ds.mu.Lock()
	defer ds.mu.Unlock()
	old := ds.devs[id]
	if old == nil {
		return
	}
	d := old.d[0]
	d.Users = storage.WithoutUser(d.Users, name)
	if len(d.Users) == 0 && drop {
		delete(ds.devs, id)
		for _, k := range d.Keys {
			s.unindex(k, old.ord.n)
		}
		return
	}
	if len(d.Users) == 0 {
		d.Users = nil
	}
	ds.devs[id] = &device{d: [1]storage.Device{d}, ord: old.ord}
}

// AddFailure implements [storage.Store].
func (s *Store) AddFailure(_ context.Context, f storage.Failure, lim storage.FailureLimits) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if err := lim.Validate(); err != nil {
		return err
	}
	f.Time = ms(f.Time)
	cutoff := f.Time.Add(-lim.Keep)
	us := &s.users[s.shard(f.User)]
	us.mu.Lock()
	defer us.mu.Unlock()
	u := us.users[f.User]
	p := decoy
	if u != nil && u.profile.Version != 0 {
		p = &u.profile
	}
	storage.ClassifyFailure(p, &f, ms(lim.KnownSince))
	fs := us.failures[f.User]
	i := 0 // newest first
	for i < len(fs) && fs[i].Time.After(f.Time) {
		i++
	}
	us.failures[f.User] = keepFailures(slices.Insert(fs, i, f), cutoff, lim.MaxUser)
	us.expiry.push(f.User, f.Time)
	for it, c := range expire(&us.expiry, cutoff, s.maxTracked) {
		if fs := keepFailures(us.failures[it], c, lim.MaxUser); len(fs) == 0 {
			delete(us.failures, it)
		} else {
			us.failures[it] = fs
		}
	}
	marked := 0 // other names of the network's list marked before
	if !f.KnownNetwork && f.Network != "" {
		marked = s.putFailed(s.shard(f.Network), f.Network, &f, cutoff, &lim)
	}
	if f.Campaign() && lim.MaxCampaignUsers > 0 && (f.Network == "" || marked < lim.CampaignPerNetwork) {
		s.putFailed(s.campaign, storage.CampaignKey, &f, cutoff, &lim)
	}
	return nil
}

// putFailed puts the failure's user first in the list of the key, a
// network's or the campaign list, in shard i; bounds the list; and expires
// a few old entries of the shard. It returns how many other users of the
// list were marked, since the cutoff, before.
func (s *Store) putFailed(i int, key string, f *storage.Failure, cutoff time.Time, lim *storage.FailureLimits) (marked int) {
	ns := &s.nets[i]
	ns.mu.Lock()
	defer ns.unlock()
	for _, e := range ns.nets[key] {
		if e.campaign && e.user != f.User && !e.at.Before(cutoff) {
			marked++
		}
	}
	ns.nets[key] = keepFailed(upsertFailed(ns.nets[key], f.User, f.Time, f.Campaign()), cutoff, listMax(key, lim))
	ns.expiry.push(key, f.Time)
	for it, c := range expire(&ns.expiry, cutoff, s.maxTracked) {
		if l := keepFailed(ns.nets[it], c, listMax(it, lim)); len(l) == 0 {
			delete(ns.nets, it)
		} else {
			ns.nets[it] = l
		}
	}
	return marked
}

// listMax is how many users the list of the key keeps.
func listMax(key string, lim *storage.FailureLimits) int {
	if key == storage.CampaignKey {
		return lim.MaxCampaignUsers
	}
	return lim.MaxNetworkUsers
}

// expire pops from q the entries to drop now, each with the time before
// which its key's records go: up to storage.FailureExpiry entries older
// than cutoff, and, while q holds more than max, the oldest whatever their
// time.
func expire(q *fifo, cutoff time.Time, max int) func(yield func(string, time.Time) bool) {
	return func(yield func(string, time.Time) bool) {
		for n := 0; q.len() > 0; n++ {
			it := q.peek()
			c := cutoff
			switch {
			case q.len() > max:
				if !it.at.Before(cutoff) {
					c = it.at.Add(time.Millisecond) // too many tracked: this one goes even so
				}
			case n >= storage.FailureExpiry || !it.at.Before(cutoff):
				return
			}
			q.pop()
			if !yield(it.key, c) {
				return
			}
		}
	}
}

// keepFailures drops failures before the cutoff and past max, newest first.
func keepFailures(fs []storage.Failure, cutoff time.Time, max int) []storage.Failure {
	n := min(len(fs), max)
	for n > 0 && fs[n-1].Time.Before(cutoff) {
		n--
	}
	clear(fs[n:])
	return fs[:n]
}

// upsertFailed puts the user in its place in a newest-first list, with
// the later of its times and that failure's mark (the new one's when the
// times are equal).
func upsertFailed(l []failed, name string, at time.Time, campaign bool) []failed {
	if i := slices.IndexFunc(l, func(e failed) bool { return e.user == name }); i >= 0 {
		if l[i].at.After(at) {
			at, campaign = l[i].at, l[i].campaign
		}
		l = slices.Delete(l, i, i+1)
	}
	j := 0
	for j < len(l) && l[j].at.After(at) {
		j++
	}
	return slices.Insert(l, j, failed{user: name, at: at, campaign: campaign})
}

// keepFailed drops entries before the cutoff and past max, newest first.
func keepFailed(l []failed, cutoff time.Time, max int) []failed {
	n := min(len(l), max)
	for n > 0 && l[n-1].at.Before(cutoff) {
		n--
	}
	clear(l[n:])
	return l[:n]
}

// countFailed counts the entries of a newest-first list since the time, up
// to max; only the marked ones if campaign.
func countFailed(l []failed, since time.Time, max int, campaign bool) int {
	n := 0
	for i := 0; i < len(l) && n < max && !l[i].at.Before(since); i++ {
		if !campaign || l[i].campaign {
			n++
		}
	}
	return n
}

// userOf returns the user a challenge id belongs to.
func (s *Store) userOf(id string) (string, bool) {
	cs := &s.chals[s.shard(id)]
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	name, ok := cs.users[id]
	return name, ok
}

// Challenge implements [storage.Store].
func (s *Store) Challenge(_ context.Context, id string) (storage.Challenge, error) {
	name, ok := s.userOf(id)
	if ok {
		us := &s.users[s.shard(name)]
		us.mu.RLock()
		defer us.mu.RUnlock()
		if u := us.users[name]; u != nil && u.challenges[id] != nil {
			return cloneChallenge(*u.challenges[id]), nil
		}
	}
	return storage.Challenge{}, fmt.Errorf("memstore: challenge %q: %w", id, storage.ErrNotFound)
}

// UpdateChallenge implements [storage.Store].
func (s *Store) UpdateChallenge(_ context.Context, id string, update func(*storage.Challenge) error) (storage.Challenge, error) {
	name, ok := s.userOf(id)
	if ok {
		us := &s.users[s.shard(name)]
		us.mu.Lock()
		defer us.mu.Unlock()
		if u := us.users[name]; u != nil && u.challenges[id] != nil {
			c := u.challenges[id]
			next := cloneChallenge(*c)
			if err := update(&next); err != nil {
				return storage.Challenge{}, err
			}
			next = cloneChallenge(next)
			next.ID, next.User = c.ID, c.User // neither can change
			moved := !next.CreatedAt.Equal(c.CreatedAt)
			*c = next
			if moved {
				u.order = slices.DeleteFunc(u.order, func(o created) bool { return o.id == id })
				placeChallenge(u, id)
			}
			if next.Status.Open() && !slices.Contains(u.open, id) {
				u.open = append(u.open, id)
			}
			return cloneChallenge(next), nil
		}
	}
	return storage.Challenge{}, fmt.Errorf("memstore: challenge %q: %w", id, storage.ErrNotFound)
}

// Factor implements [storage.Store].
func (s *Store) Factor(_ context.Context, name, kind string) (storage.Factor, error) {
	us := &s.users[s.shard(name)]
	us.mu.RLock()
	defer us.mu.RUnlock()
	if u := us.users[name]; u != nil && u.factors[kind] != nil {
		return cloneFactor(*u.factors[kind]), nil
	}
	return storage.Factor{}, fmt.Errorf("memstore: factor %q/%q: %w", name, kind, storage.ErrNotFound)
}

// UpdateFactor implements [storage.Store].
func (s *Store) UpdateFactor(_ context.Context, name, kind string, update func(*storage.Factor) error) (storage.Factor, error) {
	if name == "" || kind == "" {
		return storage.Factor{}, fmt.Errorf("memstore: update factor: %w: empty user or kind (%q/%q)", storage.ErrInvalid, name, kind)
	}
	us := &s.users[s.shard(name)]
	us.mu.Lock()
	defer us.mu.Unlock()
	u := us.users[name]
	next := storage.Factor{User: name, Kind: kind}
	if u != nil && u.factors[kind] != nil {
		next = cloneFactor(*u.factors[kind])
	}
	err := update(&next)
	switch {
	case errors.Is(err, storage.ErrDelete):
		if u != nil {
			delete(u.factors, kind)
			if u.empty() {
				delete(us.users, name)
			}
		}
		return storage.Factor{}, nil
	case err != nil:
		return storage.Factor{}, err
	}
	next = cloneFactor(next)
	next.User, next.Kind = name, kind // neither can change
	if u == nil {
		u = &user{}
		us.users[name] = u
	}
	if u.factors == nil {
		u.factors = map[string]*storage.Factor{}
	}
	u.factors[kind] = &next
	return cloneFactor(next), nil
}

// Secret implements [storage.Store].
func (s *Store) Secret(_ context.Context, name string, create []byte) ([]byte, error) {
	s.secretsMu.Lock()
	defer s.secretsMu.Unlock()
	v, ok := s.secrets[name]
	if !ok {
		v = slices.Clone(create)
		s.secrets[name] = v
	}
	return slices.Clone(v), nil
}

// Events implements [storage.Store].
func (s *Store) Events(_ context.Context, name string, since time.Time, limit int) ([]storage.Event, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("memstore: events: %w: limit %d", storage.ErrInvalid, limit)
	}
	since = ms(since)
	us := &s.users[s.shard(name)]
	us.mu.RLock()
	defer us.mu.RUnlock()
	u := us.users[name]
	if u == nil {
		return nil, nil
	}
	var out []storage.Event
	for i := u.events.len() - 1; i >= 0 && len(out) < limit; i-- {
		e := u.events.at(i)
		if e.Time.Before(since) {
			break
		}
		out = append(out, cloneEvent(*e))
	}
	return out, nil
}

// DeleteUser implements [storage.Store].
func (s *Store) DeleteUser(_ context.Context, name string) error {
	us := &s.users[s.shard(name)]
	us.mu.Lock()
	defer us.mu.Unlock()
	u := us.users[name]
	delete(us.users, name)
	delete(us.failures, name)
	if u == nil {
		u = &user{}
	}
	if u.profile.Version != 0 {
		for _, d := range u.profile.Devices {
			s.leaveDevice(d.ID, name, true)
		}
	}
	for i := range s.nets {
		ns := &s.nets[i]
		ns.mu.Lock()
		for network, l := range ns.nets {
			if !slices.ContainsFunc(l, func(e failed) bool { return e.user == name }) {
				continue
			}
			if l = slices.DeleteFunc(l, func(e failed) bool { return e.user == name }); len(l) == 0 {
				delete(ns.nets, network)
			} else {
				ns.nets[network] = l
			}
		}
		ns.unlock()
	}
	for id := range u.challenges {
		cs := &s.chals[s.shard(id)]
		cs.mu.Lock()
		delete(cs.users, id)
		cs.mu.Unlock()
	}
	return nil
}

// Purge implements [storage.Store].
func (s *Store) Purge(_ context.Context, r storage.PurgeRequest) (int, error) {
	if err := r.Validate(); err != nil {
		return 0, err
	}
	events, failures, challenges := ms(r.EventsBefore), ms(r.FailuresBefore), ms(r.ChallengesBefore)
	n := 0
	for i := range s.users {
		us := &s.users[i]
		us.mu.Lock()
		for name, u := range us.users {
			if n >= r.Batch {
				break
			}
			n += u.events.dropBefore(events, r.Batch-n)
			k := 0
			k = 0
			for k < len(u.order) && n < r.Batch {
				id := u.order[k].id
				if !u.order[k].at.Before(challenges) {
					break
				}
				delete(u.challenges, id)
				cs := &s.chals[s.shard(id)]
				cs.mu.Lock()
				delete(cs.users, id)
				cs.mu.Unlock()
				k++
				n++
			}
			u.order = slices.Delete(u.order, 0, k)
			u.open = slices.DeleteFunc(u.open, func(id string) bool { return u.challenges[id] == nil })
			if u.empty() {
				delete(us.users, name)
			}
		}
		for name, fs := range us.failures {
			keep := len(fs)
			for keep > 0 && fs[keep-1].Time.Before(failures) && n < r.Batch {
				keep--
				n++
			}
			if keep == 0 {
				delete(us.failures, name)
			} else {
				clear(fs[keep:])
				us.failures[name] = fs[:keep]
			}
		}
		us.mu.Unlock()
		if n >= r.Batch {
			return n, nil
		}
	}
	for i := range s.nets {
		ns := &s.nets[i]
		ns.mu.Lock()
		for network, l := range ns.nets {
			if n >= r.Batch {
				break
			}
			keep := len(l)
			for keep > 0 && l[keep-1].at.Before(failures) && n < r.Batch {
				keep--
				n++
			}
			if keep == 0 {
				delete(ns.nets, network)
			} else {
				clear(l[keep:])
				ns.nets[network] = l[:keep]
			}
		}
		ns.unlock()
	}
	return n, nil
}
