// Package storetest is the conformance suite for [storage.Store]
// implementations. It checks, each on a fresh store, the rules the storage
// package documents for a store author — profile versions, hashes, the
// global devices and their index, what Load reads, the history, failures,
// challenges, factors, secrets, erasure, purging, validation, values, times
// and concurrency — and reports every rule broken in plain words, in the
// manner of testing/fstest and testing/slogtest.
//
// A store's tests run it with [Run]:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storage.Store {
//			s := mystore.New()
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Every subtest gets a fresh store from newStore and its own fake [Clock]:
// the suite never reads the wall clock, and the times it writes are in UTC
// at millisecond precision unless a test says otherwise. Subtests are
// grouped by role (go test -run 'TestConformance/challenges/' runs one
// group) and run in parallel.
//
// Lookup keys, hashes and ids are opaque strings to a store, and the suite
// uses made-up ones ("x:aaa"). Records are compared field for field, with a
// nil and an empty slice or map alike and times compared as instants.
package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/storage"
)

// Clock is a fake clock the suite moves by hand. Its times are UTC at
// millisecond precision, as stores keep them.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at a fixed instant.
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d, rounded down to the millisecond,
// and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d.Truncate(time.Millisecond))
	return c.now
}

type test struct {
	name string
	fn   func(t *testing.T, s storage.Store, clk *Clock)
}

// Run runs the conformance suite against stores made by newStore, which is
// called once per subtest, from the subtest. newStore should register the
// store's cleanup (Close) with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Helper()
	groups := []struct {
		name  string
		tests []test
	}{
		{"profiles", []test{
			{"unknown_user", testProfileUnknownUser},
			{"first_write", testProfileFirstWrite},
			{"current_base", testProfileCurrentBase},
			{"stale_base", testProfileStaleBase},
			{"evictions", testProfileEvictions},
			{"forget", testProfileForget},
			{"conflict", testProfileConflict},
			{"version_counts_profile_writes", testProfileVersion},
			{"user_agent", testProfileUserAgent},
		}},
		{"hashes", []test{
			{"replace", testHashesReplace},
			{"delete", testHashesDelete},
			{"per_user", testHashesPerUser},
		}},
		{"devices", []test{
			{"merge", testDeviceMerge},
			{"users_cap", testDeviceUsersCap},
			{"index", testDeviceIndex},
			{"ranking", testDeviceRanking},
			{"ties", testDeviceTies},
			{"key_cap", testDeviceKeyCap},
			{"tie_cap", testDeviceTieCap},
		}},
		{"load", []test{
			{"newest_key", testLoadNewestKey},
			{"other_key", testLoadOtherKey},
			{"no_fingerprint", testLoadNoFingerprint},
			{"no_keys", testLoadNoKeys},
			{"unknown_user", testLoadUnknownUser},
		}},
		{"history", []test{
			{"round_trip", testHistoryRoundTrip},
			{"newest_first", testHistoryOrder},
			{"trim_since", testHistoryTrimSince},
			{"trim_max", testHistoryTrimMax},
			{"trim_as_TrimHistory", testHistoryTrimModel},
		}},
		{"failures", []test{
			{"counts", testFailureCounts},
			{"classification", testFailureClassification},
			{"saturation", testFailureSaturation},
			{"user_cap", testFailureUserCap},
			{"network_cap", testFailureNetworkCap},
			{"expiry", testFailureExpiry},
			{"flood", testFailureFlood},
			{"concurrent", testFailureConcurrent},
		}},
		{"campaign", []test{
			{"counts", testCampaignCounts},
			{"network_unknown", testCampaignNetworkUnknown},
			{"known_names", testCampaignKnownNames},
			{"cap", testCampaignCap},
			{"per_network", testCampaignPerNetwork},
			{"expiry", testCampaignExpiry},
			{"delete_user", testCampaignDeleteUser},
			{"purge", testCampaignPurge},
			{"concurrent", testCampaignConcurrent},
		}},
		{"challenges", []test{
			{"round_trip", testChallengeRoundTrip},
			{"not_found", testChallengeNotFound},
			{"duplicate_id", testChallengeDuplicate},
			{"update", testChallengeUpdate},
			{"update_race", testChallengeUpdateRace},
			{"override", testChallengeOverride},
			{"transition", testChallengeTransition},
			{"transition_race", testChallengeTransitionRace},
			{"count", testChallengeCount},
			{"limit", testChallengeLimit},
			{"limit_race", testChallengeLimitRace},
		}},
		{"factors", []test{
			{"upsert", testFactorUpsert},
			{"update_error", testFactorUpdateError},
			{"delete", testFactorDelete},
			{"user_and_kind_fixed", testFactorFixed},
			{"race", testFactorRace},
		}},
		{"secrets", []test{
			{"first_stored_wins", testSecretFirstWins},
			{"by_name", testSecretByName},
		}},
		{"erasure", []test{
			{"delete_user", testDeleteUser},
		}},
		{"purge", []test{
			{"old_records", testPurgeOld},
			{"batches", testPurgeBatches},
			{"drain", testPurgeDrain},
		}},
		{"validation", []test{
			{"commits", testValidationCommits},
			{"requests", testValidationRequests},
		}},
		{"values", []test{
			{"inputs_not_kept", testValuesInputs},
			{"outputs_are_copies", testValuesOutputs},
			{"updates_work_on_copies", testValuesUpdates},
		}},
		{"times", []test{
			{"stored_precision", testTimesStored},
			{"windows", testTimesWindows},
		}},
		{"concurrency", []test{
			{"commits_of_one_user", testConcurrentCommits},
			{"logins_on_one_device", testConcurrentDeviceUsers},
			{"index_writes", testConcurrentIndex},
			{"reads_see_one_moment", testConcurrentReads},
			{"one_challenge_id", testConcurrentChallengeID},
		}},
		{"export", exportTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, newStore(t), NewClock())
				})
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Helpers: errors and comparisons.

// must stops the test if err is not nil; doing says what was being done.
func must(t *testing.T, err error, doing string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s failed: %v", doing, err)
	}
}

// mustFail reports whether err is want, and reports an error if it is not.
func mustFail(t *testing.T, err, want error, doing string) bool {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s must fail with %q; it succeeded", doing, want)
		return false
	case !errors.Is(err, want):
		t.Errorf("%s must fail with %q (errors.Is); it failed with: %v", doing, want, err)
		return false
	}
	return true
}

// sameAs reports whether got and want are the same record, field for
// field, and reports an error listing the differences if they are not.
func sameAs(t *testing.T, got, want any, format string, args ...any) bool {
	t.Helper()
	d := diff(got, want)
	if len(d) == 0 {
		return true
	}
	t.Errorf("%s; it differs:\n\t%s", fmt.Sprintf(format, args...), strings.Join(d, "\n\t"))
	return false
}

// diff lists the differences between got and want: exported fields are
// compared one by one, nil and empty slices and maps are alike, and times
// are compared as instants.
func diff(got, want any) []string {
	var d differ
	d.walk("", reflect.ValueOf(got), reflect.ValueOf(want))
	return d.out
}

type differ struct{ out []string }

var timeType = reflect.TypeFor[time.Time]()

func (d *differ) add(path string, g, w reflect.Value) {
	if len(d.out) == 12 {
		d.out = append(d.out, "…")
	}
	if len(d.out) > 12 {
		return
	}
	if path == "" {
		path = "the value"
	}
	d.out = append(d.out, fmt.Sprintf("%s: got %s, want %s", path, show(g), show(w)))
}

func (d *differ) walk(path string, g, w reflect.Value) {
	if !g.IsValid() || !w.IsValid() || g.Type() != w.Type() {
		if g.IsValid() != w.IsValid() || (g.IsValid() && g.Type() != w.Type()) {
			d.add(path, g, w)
		}
		return
	}
	if g.Type() == timeType {
		if !g.Interface().(time.Time).Equal(w.Interface().(time.Time)) {
			d.add(path, g, w)
		}
		return
	}
	switch g.Kind() {
	case reflect.Pointer, reflect.Interface:
		if g.IsNil() || w.IsNil() {
			if g.IsNil() != w.IsNil() {
				d.add(path, g, w)
			}
			return
		}
		d.walk(path, g.Elem(), w.Elem())
	case reflect.Struct:
		for i := range g.NumField() {
			if f := g.Type().Field(i); f.IsExported() {
				p := f.Name
				if path != "" {
					p = path + "." + f.Name
				}
				d.walk(p, g.Field(i), w.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		if g.Len() != w.Len() {
			d.add(path, g, w)
			return
		}
		for i := range g.Len() {
			d.walk(fmt.Sprintf("%s[%d]", path, i), g.Index(i), w.Index(i))
		}
	case reflect.Map:
		keys := append(g.MapKeys(), w.MapKeys()...)
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		keys = slices.CompactFunc(keys, func(a, b reflect.Value) bool { return fmt.Sprint(a) == fmt.Sprint(b) })
		for _, k := range keys {
			d.walk(fmt.Sprintf("%s[%s]", path, show(k)), g.MapIndex(k), w.MapIndex(k))
		}
	default:
		if !g.Equal(w) {
			d.add(path, g, w)
		}
	}
}

func show(v reflect.Value) string {
	if !v.IsValid() {
		return "nothing"
	}
	if v.Type() == timeType {
		return v.Interface().(time.Time).Format("2006-01-02T15:04:05.999999999 MST")
	}
	switch v.Kind() {
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		if v.IsNil() {
			return "nil"
		}
	}
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String {
		return fmt.Sprintf("%q", v.Interface())
	}
	return fmt.Sprintf("%+v", v.Interface())
}

// race calls f(0), …, f(n-1) at once, each in its own goroutine, and
// returns their errors by index.
func race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// ---------------------------------------------------------------------------
// Helpers: records.

const (
	// noKey is a fingerprint key no test gives a device: loading with it
	// makes NeedsHashes hold, so the store reads the user's hashes and
	// searches the candidates.
	noKey = "storetest:no-such-key"
	// reader is a user no test writes: loading it with noKey finds global
	// devices by their keys.
	reader = "storetest-reader"
	// maxUsers is the MaxUsers of the suite's device writes.
	maxUsers = 32
)

var history = storage.HistoryLimits{Max: 1000}

// hashOf is the made-up hash whose lookup key is key.
func hashOf(key string) string { return "hash(" + key + ")" }

func hashesOf(keys []string) []string {
	var hs []string
	for _, k := range keys {
		hs = append(hs, hashOf(k))
	}
	return hs
}

// learn is the change of a successful login from the device, seen with the
// keys (newest first), from the network, at the time.
func learn(at time.Time, deviceID, network string, keys ...string) profile.Change {
	return profile.Change{
		Now:    at,
		Login:  &profile.Login{Time: at, DeviceID: deviceID, IP: network, Network: network},
		Keys:   slices.Clone(keys),
		Limits: profile.DefaultLimits,
	}
}

// write is the profile write of the change to the loaded profile base, as
// the engine computes it.
func write(t *testing.T, base profile.Profile, ch profile.Change) *storage.ProfileWrite {
	t.Helper()
	next, gone, err := base.Apply(ch)
	if err != nil {
		t.Fatalf("storetest: applying a change to a test profile: %v", err)
	}
	return &storage.ProfileWrite{Base: base.Version, New: next, Change: ch, Gone: gone}
}

// deviceWrite is the write of a global device with the keys, seen at the
// time.
func deviceWrite(id string, at time.Time, keys ...string) *storage.DeviceWrite {
	return &storage.DeviceWrite{
		Device:   storage.Device{ID: id, Hashes: hashesOf(keys), Keys: slices.Clone(keys), FirstSeen: at, LastSeen: at},
		Seen:     at,
		MaxUsers: maxUsers,
	}
}

// loginCommit is the commit of a successful login of user from the device
// with the keys from the network at the time, computed from the loaded
// profile base as the engine computes it: the profile learns the device,
// the global device and the user's hashes of it are written, and the
// attempt is appended to the history.
func loginCommit(t *testing.T, base profile.Profile, user, deviceID, network string, at time.Time, keys ...string) storage.Commit {
	t.Helper()
	return storage.Commit{
		User:    user,
		Profile: write(t, base, learn(at, deviceID, network, keys...)),
		Device:  deviceWrite(deviceID, at, keys...),
		Hashes:  &storage.DeviceHashes{DeviceID: deviceID, Hashes: hashesOf(keys)},
		Event: &storage.Event{
			ID: fmt.Sprintf("%s/login/%s/%d", user, deviceID, at.UnixMilli()), User: user, Time: at,
			Kind: storage.KindEvaluation, Action: "login", Verdict: "allow", Success: true,
			DeviceID: deviceID, IP: network, Network: network,
		},
		History: history,
	}
}

// login commits a successful login of user from the device with the keys.
func login(t *testing.T, s storage.Store, user, deviceID string, at time.Time, keys ...string) {
	t.Helper()
	loginFrom(t, s, user, deviceID, "", at, keys...)
}

// loginFrom commits a successful login of user from the device with the
// keys, from the network.
func loginFrom(t *testing.T, s storage.Store, user, deviceID, network string, at time.Time, keys ...string) {
	t.Helper()
	c := loginCommit(t, profileOf(t, s, user), user, deviceID, network, at, keys...)
	commit(t, s, c, fmt.Sprintf("Commit of a login of %s from device %s", user, deviceID))
}

func commit(t *testing.T, s storage.Store, c storage.Commit, doing string) {
	t.Helper()
	must(t, s.Commit(t.Context(), c), doing)
}

// event is the n-th made-up event of the user, every field set.
func event(user string, n int, at time.Time, success bool) *storage.Event {
	return &storage.Event{
		ID: fmt.Sprintf("%s-%d", user, n), User: user, Time: at, Kind: storage.KindEvaluation,
		Action: "login", Verdict: "allow", Success: success, DeviceID: "d-" + user,
		IP: "203.0.113.9", Network: "203.0.113.9", Located: true, Country: "NL", Region: "NH",
		City: "Amsterdam", Latitude: 52.37, Longitude: 4.89, AccuracyKm: 20, ASN: 64500,
		Reasons: []string{"new_ip", "new_device"},
	}
}

// challenge is a made-up pending challenge of the user for the device,
// created at the time.
func challenge(id, user, deviceID string, at time.Time) *storage.Challenge {
	return &storage.Challenge{
		ID: id, User: user, DeviceID: deviceID, Fingerprint: "fp-" + deviceID, Status: storage.ChallengePending,
		Reasons: []string{"new_device", "new_ip"}, Email: user + "@example.com", Phone: "+15555550100",
		CreatedAt: at, ExpiresAt: at.Add(time.Hour), UpdatedAt: at,
		Attempt: *event(user, 0, at, false),
	}
}

// insert commits the challenge alone.
func insert(t *testing.T, s storage.Store, c *storage.Challenge) {
	t.Helper()
	commit(t, s, storage.Commit{User: c.User, Challenge: c}, "Commit of challenge "+c.ID)
}

// factor is a made-up factor, every field set.
func factor(user, kind string, at time.Time) storage.Factor {
	return storage.Factor{
		User: user, Kind: kind, Secret: []byte("sealed:" + user + "/" + kind), Confirmed: true,
		LastStep: 59_000_123, Failures: 2, FailedAt: at.Add(-time.Second), CreatedAt: at.Add(-time.Hour), UpdatedAt: at,
	}
}

// putFactor stores the factor with UpdateFactor.
func putFactor(t *testing.T, s storage.Store, f storage.Factor) {
	t.Helper()
	_, err := s.UpdateFactor(t.Context(), f.User, f.Kind, func(g *storage.Factor) error {
		*g = f
		g.Secret = slices.Clone(f.Secret)
		return nil
	})
	must(t, err, "UpdateFactor storing a factor")
}

// failureLimits are limits that keep everything the tests add.
func failureLimits(at time.Time) storage.FailureLimits {
	return storage.FailureLimits{KnownSince: at.Add(-30 * 24 * time.Hour), Keep: 24 * time.Hour, MaxUser: 1000, MaxNetworkUsers: 1000,
		MaxCampaignUsers: 1000, CampaignPerNetwork: 1000}
}

func addFailure(t *testing.T, s storage.Store, f storage.Failure, lim storage.FailureLimits) {
	t.Helper()
	must(t, s.AddFailure(t.Context(), f, lim), fmt.Sprintf("AddFailure of %s from network %q", f.User, f.Network))
}

// ---------------------------------------------------------------------------
// Helpers: reading.

func profileOf(t *testing.T, s storage.Store, user string) profile.Profile {
	t.Helper()
	st, err := s.Load(t.Context(), storage.LoadRequest{User: user})
	must(t, err, "Load of user "+user)
	return st.Profile
}

// userHashes are the user's hashes, as Load returns them when NeedsHashes
// holds.
func userHashes(t *testing.T, s storage.Store, user string) map[string][]string {
	t.Helper()
	st, err := s.Load(t.Context(), storage.LoadRequest{User: user, FingerprintKey: noKey})
	must(t, err, "Load of user "+user)
	if st.Hashes == nil {
		t.Errorf("Load of %s with a fingerprint key that is no device's newest key (NeedsHashes holds) must return the user's hashes as a non-nil map; Hashes is nil", user)
	}
	return st.Hashes
}

func allEvents(t *testing.T, s storage.Store, user string) []storage.Event {
	t.Helper()
	evs, err := s.Events(t.Context(), user, time.Time{}, 1000)
	must(t, err, "Events of "+user)
	return evs
}

func eventIDs(evs []storage.Event) []string {
	ids := []string{}
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	return ids
}

// findDevices returns the global devices Load finds by the keys, best
// first.
func findDevices(t *testing.T, s storage.Store, keys ...string) []storage.Device {
	t.Helper()
	st, err := s.Load(t.Context(), storage.LoadRequest{User: reader, FingerprintKey: noKey, DeviceKeys: storage.Keys(keys...), MaxCandidates: 1000})
	must(t, err, fmt.Sprintf("Load of the candidates of keys %q", keys))
	return st.Candidates
}

// globalDevice returns the global device with the id, found by the key.
func globalDevice(t *testing.T, s storage.Store, id, key string) (storage.Device, bool) {
	t.Helper()
	for _, d := range findDevices(t, s, key) {
		if d.ID == id {
			return d, true
		}
	}
	return storage.Device{}, false
}

func mustDevice(t *testing.T, s storage.Store, id, key string) storage.Device {
	t.Helper()
	d, ok := globalDevice(t, s, id, key)
	if !ok {
		t.Fatalf("Load must find the global device %s by its key %q; it does not", id, key)
	}
	return d
}

func deviceIDs(ds []storage.Device) []string {
	ids := []string{}
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

func userNames(us []storage.DeviceUser) []string {
	names := []string{}
	for _, u := range us {
		names = append(names, u.User)
	}
	return names
}

// failureCounts are the user's failures, the network's failing users and
// names that are not accounts, and the campaign list's names, since the
// time, counted up to 1000.
func failureCounts(t *testing.T, s storage.Store, user, network string, since time.Time) storage.FailureCounts {
	t.Helper()
	st, err := s.Load(t.Context(), storage.LoadRequest{User: user, Failures: &storage.FailureQuery{
		UserSince: since, MaxUser: 1000, Network: network, NetworkSince: since, MaxNetworkUsers: 1000,
		UnknownSince: since, MaxNetworkUnknown: 1000, CampaignSince: since, MaxCampaignUsers: 1000,
	}})
	must(t, err, "Load counting failures")
	return st.Failures
}

func challengeCount(t *testing.T, s storage.Store, user string, since time.Time, limit int) int {
	t.Helper()
	st, err := s.Load(t.Context(), storage.LoadRequest{User: user, Challenges: &storage.ChallengeQuery{Since: since, Max: limit}})
	must(t, err, "Load counting challenges")
	return st.Challenges
}

func mustChallenge(t *testing.T, s storage.Store, id string) storage.Challenge {
	t.Helper()
	c, err := s.Challenge(t.Context(), id)
	must(t, err, "Challenge "+id)
	return c
}

func checkStatus(t *testing.T, s storage.Store, id string, want storage.ChallengeStatus, rule string) {
	t.Helper()
	if got := mustChallenge(t, s, id).Status; got != want {
		t.Errorf("%s: challenge %s is %s, want %s", rule, id, got, want)
	}
}

// snapshot is what the suite can read of one user, to check that a refused
// write wrote nothing.
type snapshot struct {
	Profile    profile.Profile
	Hashes     map[string][]string
	Devices    []storage.Device
	Events     []storage.Event
	Failures   storage.FailureCounts
	Count      int
	Challenges map[string]*storage.Challenge
}

// snap reads the user's records, the global devices the keys find and the
// challenges with the ids.
func snap(t *testing.T, s storage.Store, user string, keys []string, challengeIDs ...string) snapshot {
	t.Helper()
	st, err := s.Load(t.Context(), storage.LoadRequest{
		User: user, FingerprintKey: noKey,
		Failures:   &storage.FailureQuery{MaxUser: 1000, MaxNetworkUsers: 1000},
		Challenges: &storage.ChallengeQuery{Max: 1000},
	})
	must(t, err, "Load of "+user)
	sn := snapshot{Profile: st.Profile, Hashes: st.Hashes, Failures: st.Failures, Count: st.Challenges,
		Events: allEvents(t, s, user), Challenges: map[string]*storage.Challenge{}}
	if len(keys) > 0 {
		sn.Devices = findDevices(t, s, keys...)
	}
	for _, id := range challengeIDs {
		c, err := s.Challenge(t.Context(), id)
		switch {
		case err == nil:
			sn.Challenges[id] = &c
		case errors.Is(err, storage.ErrNotFound):
			sn.Challenges[id] = nil
		default:
			must(t, err, "Challenge "+id)
		}
	}
	return sn
}

// unchanged reports what differs between two snapshots.
func unchanged(t *testing.T, before, after snapshot, what string) {
	t.Helper()
	if d := diff(after, before); len(d) > 0 {
		t.Errorf("%s must write nothing at all; after it the store differs:\n\t%s", what, strings.Join(d, "\n\t"))
	}
}

// ---------------------------------------------------------------------------
// profiles

func testProfileUnknownUser(t *testing.T, s storage.Store, clk *Clock) {
	st, err := s.Load(t.Context(), storage.LoadRequest{
		User:       "nobody",
		Failures:   &storage.FailureQuery{MaxUser: 10, Network: "198.51.100.1", MaxNetworkUsers: 10},
		Challenges: &storage.ChallengeQuery{Max: 10},
	})
	must(t, err, "Load of a user the store never saw (it is not an error)")
	sameAs(t, st.Profile, profile.Profile{User: "nobody"}, "Load of a user the store never saw must return an empty profile with User set and Version 0")
	if st.Failures != (storage.FailureCounts{}) || st.Challenges != 0 {
		t.Errorf("Load of a user the store never saw must count no failures and no challenges; got %+v and %d challenges", st.Failures, st.Challenges)
	}
	if len(st.Candidates) != 0 {
		t.Errorf("Load without a fingerprint must return no candidates; got %q", deviceIDs(st.Candidates))
	}
}

func testProfileFirstWrite(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	c := loginCommit(t, profile.Profile{User: "alice"}, "alice", "d1", "192.0.2.1", t0, "x:d1")
	commit(t, s, c, "Commit of a first profile write")
	got := profileOf(t, s, "alice")
	if got.Version != 1 {
		t.Errorf("the first write of a profile (Base 0) must store it with Version 1; the stored profile has Version %d", got.Version)
	}
	want := c.Profile.New
	want.Version = 1
	sameAs(t, got, want, "the first write of a profile must store New as given, with Version 1")

	// A profile without a user is the commit's user's.
	c = loginCommit(t, profile.Profile{}, "bob", "d1", "", t0, "x:d1")
	c.Profile.New.User = ""
	commit(t, s, c, "Commit of a profile without a user")
	if p := profileOf(t, s, "bob"); p.User != "bob" || p.Version != 1 {
		t.Errorf("a profile written without a user must be stored as the commit's user's (ResolveProfile sets User); Load returns User %q, Version %d, want \"bob\", 1", p.User, p.Version)
	}
}

func testProfileCurrentBase(t *testing.T, s storage.Store, clk *Clock) {
	login(t, s, "alice", "d1", clk.Now(), "x:d1")
	base := profileOf(t, s, "alice")
	c := loginCommit(t, base, "alice", "d2", "", clk.Advance(time.Minute), "x:d2")
	// Something only New has: with the stored version as Base, a store
	// stores New as given rather than applying the change again.
	at := clk.Now()
	c.Profile.New.Networks = append(slices.Clone(c.Profile.New.Networks), profile.Place{Key: "marker", Logins: 1, FirstSeen: at, LastSeen: at})
	commit(t, s, c, "Commit of a profile write based on the stored version")
	got := profileOf(t, s, "alice")
	if got.Version != base.Version+1 {
		t.Errorf("Commit with the stored profile's version as Base must store the profile with the version one more; the stored profile has Version %d, want %d", got.Version, base.Version+1)
	}
	want := c.Profile.New
	want.Version = base.Version + 1
	sameAs(t, got, want, "Commit with the stored profile's version as Base must store New as given (ResolveProfile)")
}

func testProfileStaleBase(t *testing.T, s storage.Store, clk *Clock) {
	login(t, s, "alice", "d1", clk.Now(), "x:d1")
	// Two evaluations load version 1; the first writes d2, then the second,
	// whose base is stale, writes d3.
	base := profileOf(t, s, "alice")
	commit(t, s, loginCommit(t, base, "alice", "d2", "", clk.Advance(time.Minute), "x:d2"), "Commit of a login from d2")
	stored := profileOf(t, s, "alice")
	c := loginCommit(t, base, "alice", "d3", "", clk.Advance(time.Minute), "x:d3")
	commit(t, s, c, "Commit of a login from d3 with a stale profile version")

	got := profileOf(t, s, "alice")
	want, _, err := stored.Apply(c.Profile.Change)
	must(t, err, "storetest: applying the change to the stored profile")
	want.Version = stored.Version + 1
	if len(got.Devices) != len(want.Devices) {
		t.Errorf("Commit with a stale profile version must apply the change again to the stored profile; the stored profile has %d devices, want %d", len(got.Devices), len(want.Devices))
	}
	if got.Version != stored.Version+1 {
		t.Errorf("Commit with a stale profile version must store the profile with the stored version plus one; it has Version %d, want %d", got.Version, stored.Version+1)
	}
	sameAs(t, got, want, "Commit with a stale profile version (Base %d, stored %d) must store the change applied again to the stored profile (ResolveProfile)", base.Version, stored.Version)
}

// checkGone checks that the user's hashes of the device are gone and that
// the user left its Users, the other user staying.
func checkGone(t *testing.T, s storage.Store, user, deviceID, key, other, how string) {
	t.Helper()
	if hs, ok := userHashes(t, s, user)[deviceID]; ok {
		t.Errorf("%s, the user's hashes of that device must go; Load still returns %q for it", how, hs)
	}
	d := mustDevice(t, s, deviceID, key)
	if names := userNames(d.Users); slices.Contains(names, user) || !slices.Contains(names, other) {
		t.Errorf("%s, the user must leave that device's Users, and only that user; its Users are %q", how, names)
	}
}

func testProfileEvictions(t *testing.T, s storage.Store, clk *Clock) {
	lim := profile.Limits{Devices: 2, Networks: 8, Countries: 8, ASNs: 8}
	loginLimited := func(base profile.Profile, id string, at time.Time) storage.Commit {
		c := loginCommit(t, base, "alice", id, "", at, "x:"+id)
		ch := c.Profile.Change
		ch.Limits = lim
		c.Profile = write(t, base, ch)
		return c
	}
	t0 := clk.Now()
	for i, id := range []string{"d1", "d2", "d3", "d4"} {
		login(t, s, "bob", id, t0.Add(time.Duration(i)*time.Millisecond), "x:"+id)
	}
	commit(t, s, loginLimited(profileOf(t, s, "alice"), "d1", clk.Advance(time.Minute)), "Commit of a login from d1")
	commit(t, s, loginLimited(profileOf(t, s, "alice"), "d2", clk.Advance(time.Minute)), "Commit of a login from d2")

	// With the stored version as base: New evicts d1, Gone names it.
	c := loginLimited(profileOf(t, s, "alice"), "d3", clk.Advance(time.Minute))
	if !slices.Equal(c.Profile.Gone, []string{"d1"}) {
		t.Fatalf("storetest: the login from d3 should evict d1, not %q", c.Profile.Gone)
	}
	commit(t, s, c, "Commit of a login from d3 evicting d1")
	checkGone(t, s, "alice", "d1", "x:d1", "bob", "when ProfileWrite.Gone names a device")

	// With a stale base: the write computed Gone d2 from its base, but
	// applied again to the stored profile the change evicts d3.
	base := profileOf(t, s, "alice") // d3, d2
	commit(t, s, loginLimited(base, "d4", clk.Advance(time.Minute)), "Commit of a login from d4 evicting d2")
	stale := loginLimited(base, "d5", clk.Advance(time.Minute))
	commit(t, s, stale, "Commit of a login from d5 with a stale profile version")
	got := profileOf(t, s, "alice")
	if ids := profileDeviceIDs(got); !slices.Equal(ids, []string{"d5", "d4"}) {
		t.Errorf("Commit with a stale profile version must apply the change again to the stored profile (which evicts d3); the profile's devices are %q, want [d5 d4]", ids)
	}
	checkGone(t, s, "alice", "d3", "x:d3", "bob", "when a change applied again to a stored profile evicts a device")
	checkGone(t, s, "alice", "d2", "x:d2", "bob", "when ProfileWrite.Gone names a device")
	if _, ok := userHashes(t, s, "alice")["d4"]; !ok {
		t.Errorf("the user's hashes of a device the profile still holds (d4) must stay")
	}
}

func profileDeviceIDs(p profile.Profile) []string {
	ids := []string{}
	for _, d := range p.Devices {
		ids = append(ids, d.ID)
	}
	return ids
}

func testProfileForget(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	login(t, s, "alice", "d1", t0, "x:d1")
	login(t, s, "alice", "d2", t0.Add(time.Millisecond), "x:d2")
	login(t, s, "alice", "d3", t0.Add(2*time.Millisecond), "x:d3")
	login(t, s, "bob", "d1", t0, "x:d1")
	login(t, s, "bob", "d2", t0, "x:d2")

	at := clk.Advance(time.Minute)
	forget := func(id string) profile.Change {
		return profile.Change{Now: at, Forget: id, Limits: profile.DefaultLimits}
	}
	c := storage.Commit{User: "alice", Profile: write(t, profileOf(t, s, "alice"), forget("d1")),
		Event: &storage.Event{ID: "forget-d1", Time: at, Kind: storage.KindDeviceForgotten, DeviceID: "d1"}, History: history}
	commit(t, s, c, "Commit forgetting device d1")
	checkGone(t, s, "alice", "d1", "x:d1", "bob", "when a device is forgotten (ProfileWrite.Gone)")
	if _, ok := userHashes(t, s, "alice")["d2"]; !ok {
		t.Errorf("forgetting a device must keep the user's hashes of the others")
	}

	// Forgetting with a stale base: the change is applied again.
	base := profileOf(t, s, "alice")
	login(t, s, "alice", "d3", clk.Advance(time.Minute), "x:d3")
	c = storage.Commit{User: "alice", Profile: write(t, base, forget("d2"))}
	c.Profile.Gone = nil // the change names the device; the store must find it gone
	commit(t, s, c, "Commit forgetting device d2 with a stale profile version")
	if ids := profileDeviceIDs(profileOf(t, s, "alice")); !slices.Equal(ids, []string{"d3"}) {
		t.Errorf("Commit with a stale profile version forgetting a device must apply the change again to the stored profile; its devices are %q, want [d3]", ids)
	}
	checkGone(t, s, "alice", "d2", "x:d2", "bob", "when a change forgetting a device is applied again to a stored profile")
}

func testProfileConflict(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	login(t, s, "alice", "d1", t0, "x:d1")
	login(t, s, "alice", "d2", t0.Add(time.Millisecond), "x:d2")
	base := profileOf(t, s, "alice")

	// Another write restricts d1 after base was loaded.
	at := clk.Advance(time.Minute)
	restrict := profile.Change{Now: at, Restrict: &profile.Restriction{DeviceID: "d1", Until: at.Add(24 * time.Hour), Actions: []string{"withdraw"}}, Limits: profile.DefaultLimits}
	commit(t, s, storage.Commit{User: "alice", Profile: write(t, base, restrict)}, "Commit restricting d1")

	refused := func(what string, w *storage.ProfileWrite) {
		t.Helper()
		c := loginCommit(t, profileOf(t, s, "alice"), "alice", "d9", "", at, "x:d9")
		c.Profile = w
		c.Challenge = challenge("c-refused", "alice", "d9", at)
		keys := []string{"x:d9", "x:d1", "x:d2"}
		before := snap(t, s, "alice", keys, "c-refused")
		if mustFail(t, s.Commit(t.Context(), c), storage.ErrConflict, what) {
			unchanged(t, before, snap(t, s, "alice", keys, "c-refused"), what)
		}
	}
	forget := func(id string) profile.Change {
		return profile.Change{Now: at, Forget: id, Limits: profile.DefaultLimits}
	}
	refused("Commit of a stale profile change forgetting a device restricted since (ResolveProfile)", write(t, base, forget("d1")))

	// Forgotten since by another write: the change cannot be applied either.
	commit(t, s, storage.Commit{User: "alice", Profile: write(t, profileOf(t, s, "alice"), forget("d2"))}, "Commit forgetting d2")
	refused("Commit of a stale profile change forgetting a device forgotten since (ResolveProfile)", write(t, base, forget("d2")))
}

func testProfileVersion(t *testing.T, s storage.Store, clk *Clock) {
	for i := range 3 {
		login(t, s, "alice", "d1", clk.Advance(time.Minute), "x:d1", fmt.Sprintf("x:%d", i))
	}
	if v := profileOf(t, s, "alice").Version; v != 3 {
		t.Errorf("each profile write must add one to the version; after 3 writes the version is %d", v)
	}
	commit(t, s, storage.Commit{User: "alice", Event: event("alice", 1, clk.Now(), false), History: history}, "Commit of an event alone")
	insert(t, s, challenge("c1", "alice", "d1", clk.Now()))
	if v := profileOf(t, s, "alice").Version; v != 3 {
		t.Errorf("a commit without a profile write must not change the profile's version; it went from 3 to %d", v)
	}
}

func testProfileUserAgent(t *testing.T, s storage.Store, clk *Clock) {
	// As long as a profile keeps, with characters of several bytes.
	ua := "Mozilla/5.0 (Linux; Android 14; Pixel 8 «Ünïcødé») Chrome/131.0.6778.81 Mobile Safari/537.36 "
	ua += strings.Repeat("x", profile.MaxUserAgent-len(ua))
	c := loginCommit(t, profile.Profile{User: "alice"}, "alice", "d1", "192.0.2.1", clk.Now(), "x:d1")
	ch := c.Profile.Change
	l := *ch.Login
	l.UserAgent = ua
	ch.Login = &l
	c.Profile = write(t, profile.Profile{User: "alice"}, ch)
	commit(t, s, c, "Commit of a profile whose device and last login have a user agent")
	got := profileOf(t, s, "alice")
	if len(got.Devices) != 1 || got.Devices[0].UserAgent != ua || got.Last.UserAgent != ua {
		t.Errorf("a store must keep a device's UserAgent and the last login's as given (%d bytes); Load returns %+v", len(ua), got)
	}
	want := c.Profile.New
	want.Version = 1
	sameAs(t, got, want, "a profile with user agents must be stored as given")

	// Two writes from version 1: the second, stale, is applied again to
	// the first's result, and its login without a user agent keeps the
	// device's.
	base := got
	commit(t, s, loginCommit(t, base, "alice", "d2", "", clk.Advance(time.Minute), "x:d2"), "Commit of a login from d2")
	commit(t, s, loginCommit(t, base, "alice", "d1", "", clk.Advance(time.Minute), "x:d1"), "Commit of a login from d1 without a user agent, with a stale profile version")
	got = profileOf(t, s, "alice")
	if d, ok := got.Device("d1"); !ok || d.UserAgent != ua {
		t.Errorf("a login without a user agent, applied again to the stored profile, must keep the device's; Load returns %+v", got.Devices)
	}
}

// ---------------------------------------------------------------------------
// hashes

func testHashesReplace(t *testing.T, s storage.Store, clk *Clock) {
	login(t, s, "alice", "d1", clk.Now(), "x:a1")
	login(t, s, "alice", "d2", clk.Advance(time.Millisecond), "x:b1")
	commit(t, s, storage.Commit{User: "alice", Hashes: &storage.DeviceHashes{DeviceID: "d1", Hashes: []string{"h3", "h2"}}}, "Commit of hashes")
	sameAs(t, userHashes(t, s, "alice"), map[string][]string{"d1": {"h3", "h2"}, "d2": {hashOf("x:b1")}},
		"Commit.Hashes must replace the user's hashes of that device, and only of that device")
}

func testHashesDelete(t *testing.T, s storage.Store, clk *Clock) {
	login(t, s, "alice", "d1", clk.Now(), "x:a1")
	login(t, s, "alice", "d2", clk.Advance(time.Millisecond), "x:b1")
	login(t, s, "alice", "d3", clk.Advance(time.Millisecond), "x:c1")
	commit(t, s, storage.Commit{User: "alice", Hashes: &storage.DeviceHashes{DeviceID: "d1"}}, "Commit of nil hashes")
	commit(t, s, storage.Commit{User: "alice", Hashes: &storage.DeviceHashes{DeviceID: "d2", Hashes: []string{}}}, "Commit of empty hashes")
	got := userHashes(t, s, "alice")
	for _, id := range []string{"d1", "d2"} {
		if hs, ok := got[id]; ok {
			t.Errorf("Commit.Hashes with an empty list must delete the user's hashes of the device; Load still returns %q for %s", hs, id)
		}
	}
	sameAs(t, got["d3"], []string{hashOf("x:c1")}, "deleting the hashes of some devices must keep the others'")
}

func testHashesPerUser(t *testing.T, s storage.Store, clk *Clock) {
	login(t, s, "alice", "d1", clk.Now(), "x:a1")
	login(t, s, "bob", "d1", clk.Advance(time.Millisecond), "x:a2", "x:a1")
	commit(t, s, storage.Commit{User: "bob", Hashes: &storage.DeviceHashes{DeviceID: "d1", Hashes: []string{"bobs"}}}, "Commit of bob's hashes")
	sameAs(t, userHashes(t, s, "alice"), map[string][]string{"d1": {hashOf("x:a1")}},
		"the hashes one user saw from a device must not change when another user's hashes of it do")
	sameAs(t, userHashes(t, s, "bob"), map[string][]string{"d1": {"bobs"}}, "each user's hashes of a device must be their own")
}

// ---------------------------------------------------------------------------
// devices

func testDeviceMerge(t *testing.T, s storage.Store, clk *Clock) {
	var model *storage.Device
	step := func(what, user string, w storage.DeviceWrite) storage.Device {
		t.Helper()
		commit(t, s, storage.Commit{User: user, Device: &w}, "Commit of "+what)
		m := storage.MergeDevice(model, user, w)
		model = &m
		got := mustDevice(t, s, w.Device.ID, w.Device.Keys[0])
		sameAs(t, got, m, "after %s, the stored device must be MergeDevice of the stored device and the write", what)
		return got
	}
	t0 := clk.Now()
	d := step("a first device write", "alice", storage.DeviceWrite{
		Device: storage.Device{ID: "d1", Hashes: []string{"h1"}, Keys: []string{"x:1"}, FirstSeen: t0, LastSeen: t0,
			Users: []storage.DeviceUser{{User: "mallory", LastSeen: t0}}},
		Seen: t0, MaxUsers: 4,
	})
	if names := userNames(d.Users); !slices.Equal(names, []string{"alice"}) {
		t.Errorf("a new device's Users must hold the commit's user alone (DeviceWrite's Users is ignored); they are %q", names)
	}

	t1 := clk.Advance(time.Hour)
	d = step("bob's write", "bob", storage.DeviceWrite{
		Device: storage.Device{ID: "d1", Hashes: []string{"h2", "h1"}, Keys: []string{"x:2", "x:1"}, FirstSeen: t1, LastSeen: t1},
		Seen:   t1, MaxUsers: 4,
	})
	if !d.FirstSeen.Equal(t0) {
		t.Errorf("a device write must keep the earliest FirstSeen; FirstSeen is %v, want %v", d.FirstSeen, t0)
	}
	if !slices.Equal(d.Hashes, []string{"h2", "h1"}) || !slices.Equal(d.Keys, []string{"x:2", "x:1"}) {
		t.Errorf("a device write must take the device's Hashes and Keys from the write; they are %q and %q", d.Hashes, d.Keys)
	}
	if names := userNames(d.Users); !slices.Equal(names, []string{"bob", "alice"}) {
		t.Errorf("a device write must put the commit's user first in Users, the most recent first; they are %q, want [bob alice]", names)
	}

	// A late write of alice's: older times than those stored.
	late := t0.Add(-time.Hour)
	d = step("a late write of alice's", "alice", storage.DeviceWrite{
		Device: storage.Device{ID: "d1", Hashes: []string{"h3"}, Keys: []string{"x:3"}, FirstSeen: late, LastSeen: late},
		Seen:   late, MaxUsers: 4,
	})
	if !d.FirstSeen.Equal(late) || !d.LastSeen.Equal(t1) {
		t.Errorf("a device write must keep the earliest FirstSeen and the latest LastSeen; they are %v and %v, want %v and %v", d.FirstSeen, d.LastSeen, late, t1)
	}
	if len(d.Users) != 2 || d.Users[0].User != "bob" || d.Users[1].User != "alice" || !d.Users[1].LastSeen.Equal(t0) {
		t.Errorf("a user written again with an older time must keep the later of the two times, and its place; Users are %+v", d.Users)
	}

	t2 := clk.Advance(time.Hour)
	d = step("a later write of alice's", "alice", storage.DeviceWrite{
		Device: storage.Device{ID: "d1", Hashes: []string{"h4", "h3"}, Keys: []string{"x:4", "x:3"}, FirstSeen: t2, LastSeen: t2},
		Seen:   t2, MaxUsers: 4,
	})
	if names := userNames(d.Users); !slices.Equal(names, []string{"alice", "bob"}) {
		t.Errorf("a user written again must move up to the first place in Users, once; they are %q, want [alice bob]", names)
	}
}

func testDeviceUsersCap(t *testing.T, s storage.Store, clk *Clock) {
	var model *storage.Device
	step := func(user string, maxUsers int) storage.Device {
		t.Helper()
		at := clk.Advance(time.Minute)
		w := deviceWrite("d1", at, "x:d1")
		w.MaxUsers = maxUsers
		commit(t, s, storage.Commit{User: user, Device: w}, "Commit of a device write")
		m := storage.MergeDevice(model, user, *w)
		model = &m
		got := mustDevice(t, s, "d1", "x:d1")
		sameAs(t, got, m, "the stored device must be MergeDevice of the stored device and the write (MaxUsers %d)", maxUsers)
		return got
	}
	var d storage.Device
	for i := range 6 {
		d = step(fmt.Sprintf("u%d", i), 4)
	}
	if names := userNames(d.Users); !slices.Equal(names, []string{"u5", "u4", "u3", "u2"}) {
		t.Errorf("a device's Users must keep the MaxUsers (4) most recent, most recent first; they are %q", names)
	}
	d = step("u0", 4)
	if names := userNames(d.Users); !slices.Equal(names, []string{"u0", "u5", "u4", "u3"}) {
		t.Errorf("a user logging in again must come back first in Users; they are %q", names)
	}
	d = step("u5", 4)
	if names := userNames(d.Users); !slices.Equal(names, []string{"u5", "u0", "u4", "u3"}) {
		t.Errorf("Users must hold one entry per user; they are %q", names)
	}
	d = step("u4", 2)
	if names := userNames(d.Users); !slices.Equal(names, []string{"u4", "u5"}) {
		t.Errorf("a device's Users must hold at most the MaxUsers of the last write (2); they are %q", names)
	}
}

func testDeviceIndex(t *testing.T, s storage.Store, clk *Clock) {
	found := func(key string) []string { t.Helper(); return deviceIDs(findDevices(t, s, key)) }
	t0 := clk.Now()
	commit(t, s, storage.Commit{User: "alice", Device: deviceWrite("d1", t0, "x:a", "x:b")}, "Commit of d1")
	for _, k := range []string{"x:a", "x:b"} {
		if ids := found(k); !slices.Equal(ids, []string{"d1"}) {
			t.Errorf("a device must be found by each of its keys; Load with key %q finds %q, want [d1]", k, ids)
		}
	}
	if ids := found("x:c"); len(ids) != 0 {
		t.Errorf("a key no device has must find nothing; Load with key x:c finds %q", ids)
	}

	commit(t, s, storage.Commit{User: "alice", Device: deviceWrite("d1", clk.Advance(time.Minute), "x:b", "x:c")}, "Commit of d1 with other keys")
	if ids := found("x:a"); len(ids) != 0 {
		t.Errorf("a device must not be found by a key it no longer has; Load with key x:a finds %q", ids)
	}
	for _, k := range []string{"x:b", "x:c"} {
		if ids := found(k); !slices.Equal(ids, []string{"d1"}) {
			t.Errorf("a device written with new keys must be found by each of them; Load with key %q finds %q, want [d1]", k, ids)
		}
	}

	commit(t, s, storage.Commit{User: "bob", Device: deviceWrite("d2", clk.Advance(time.Minute), "x:c")}, "Commit of d2")
	if ids := found("x:c"); !slices.Equal(ids, []string{"d2", "d1"}) {
		t.Errorf("a key must find every device indexed under it, best first; Load with key x:c finds %q, want [d2 d1]", ids)
	}
	commit(t, s, storage.Commit{User: "alice", Device: deviceWrite("d1", clk.Advance(time.Minute), "x:a")}, "Commit of d1 with its first key again")
	if ids := found("x:a"); !slices.Equal(ids, []string{"d1"}) {
		t.Errorf("a device written again with a key it had lost must be found by it; Load with key x:a finds %q", ids)
	}
	if ids := found("x:c"); !slices.Equal(ids, []string{"d2"}) {
		t.Errorf("a device must not be found by a key it no longer has; Load with key x:c finds %q, want [d2]", ids)
	}
}

func testDeviceRanking(t *testing.T, s storage.Store, clk *Clock) {
	rank := func(limit int, keys ...string) []string {
		t.Helper()
		st, err := s.Load(t.Context(), storage.LoadRequest{User: reader, FingerprintKey: noKey, DeviceKeys: storage.Keys(keys...), MaxCandidates: limit})
		must(t, err, "Load of candidates")
		return deviceIDs(st.Candidates)
	}
	// Written in the order a, b, c, d: k1 indexes all four, k2 a and b, k3
	// c alone. For k1, k2, k3: c scores 1/4 + 1, a and b 1/4 + 1/2 (b
	// indexed last wins the tie), d 1/4.
	for _, w := range []struct {
		id   string
		keys []string
	}{{"a", []string{"k1", "k2"}}, {"b", []string{"k1", "k2"}}, {"c", []string{"k1", "k3"}}, {"d", []string{"k1"}}} {
		commit(t, s, storage.Commit{User: "u-" + w.id, Device: deviceWrite(w.id, clk.Advance(time.Minute), w.keys...)}, "Commit of device "+w.id)
	}
	if got := rank(16, "k1", "k2", "k3"); !slices.Equal(got, []string{"c", "b", "a", "d"}) {
		t.Errorf("Load must rank candidates as RankCandidates does: 1/n for each key a device is found under, n the devices under it, ties to the most recently indexed; it returns %q, want [c b a d]", got)
	}
	if got := rank(2, "k1", "k2", "k3"); !slices.Equal(got, []string{"c", "b"}) {
		t.Errorf("Load must return the best MaxCandidates (2) candidates; it returns %q, want [c b]", got)
	}
	for _, keys := range [][]string{{"k1", "k3"}, {"k3", "k1"}} {
		if got := rank(16, keys...); !slices.Equal(got, []string{"c", "d", "b", "a"}) {
			t.Errorf("the order of the request's keys must not change the ranking (RankCandidates sums the scores in the order of the keys as strings); with keys %q Load returns %q, want [c d b a]", keys, got)
		}
	}
	if got := rank(16, "x:none"); len(got) != 0 {
		t.Errorf("keys that index nothing must find no candidates; Load returns %q", got)
	}

	// One distinctive key outweighs two common ones: rare scores 1, each
	// pop 2/5.
	commit(t, s, storage.Commit{User: "r", Device: deviceWrite("rare", clk.Advance(time.Minute), "r1")}, "Commit of device rare")
	for i := range 5 {
		commit(t, s, storage.Commit{User: "p", Device: deviceWrite(fmt.Sprintf("pop%d", i), clk.Advance(time.Minute), "p1", "p2")}, "Commit of a pop device")
	}
	if got := rank(3, "p1", "p2", "r1"); !slices.Equal(got, []string{"rare", "pop4", "pop3"}) {
		t.Errorf("a key few devices share must weigh more than keys many share; Load returns %q, want [rare pop4 pop3]", got)
	}
}

func testDeviceTies(t *testing.T, s storage.Store, clk *Clock) {
	write := func(id string, keys ...string) {
		t.Helper()
		commit(t, s, storage.Commit{User: "alice", Device: deviceWrite(id, clk.Advance(time.Minute), keys...)}, "Commit of device "+id)
	}
	found := func() []string { t.Helper(); return deviceIDs(findDevices(t, s, "x:t")) }
	write("c", "x:t", "x:c")
	write("a", "x:t", "x:a")
	write("b", "x:t", "x:b")
	if got := found(); !slices.Equal(got, []string{"b", "a", "c"}) {
		t.Errorf("tied candidates must be ranked by their index entry, the most recently indexed first; Load returns %q, want [b a c]", got)
	}
	write("c", "x:t", "x:c2") // still indexed under x:t
	if got := found(); !slices.Equal(got, []string{"b", "a", "c"}) {
		t.Errorf("a device written again with a key it is indexed under must keep its index entry and number (not be ranked as newly indexed); Load returns %q, want [b a c]", got)
	}
	write("a", "x:a")
	write("a", "x:t", "x:a")
	if got := found(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("a device indexed again under a key it had lost must get a new index entry, the most recent; Load returns %q, want [a b c]", got)
	}
}

func testDeviceKeyCap(t *testing.T, s storage.Store, clk *Clock) {
	id := func(i int) string { return fmt.Sprintf("d%03d", i) }
	write := func(i int) {
		t.Helper()
		commit(t, s, storage.Commit{User: "alice", Device: deviceWrite(id(i), clk.Advance(time.Minute), "x:popular", "x:own"+id(i))}, "Commit of device "+id(i))
	}
	want := func(ids ...int) []string {
		var out []string
		for _, i := range ids {
			out = append(out, id(i))
		}
		return out
	}
	newest := func(from, to int) []int { // to down to from
		var out []int
		for i := to; i >= from; i-- {
			out = append(out, i)
		}
		return out
	}
	const n = storage.MaxKeyDevices + 10
	for i := range n {
		write(i)
	}
	got := deviceIDs(findDevices(t, s, "x:popular"))
	if len(got) != storage.MaxKeyDevices {
		t.Errorf("a key must index at most MaxKeyDevices (%d) devices; Load finds %d by it", storage.MaxKeyDevices, len(got))
	}
	if !slices.Equal(got, want(newest(10, n-1)...)) {
		t.Errorf("a key must keep the MaxKeyDevices most recently indexed devices (%s to %s); Load finds %q", id(n-1), id(10), got)
	}
	if ids := deviceIDs(findDevices(t, s, "x:own"+id(0))); !slices.Equal(ids, []string{id(0)}) {
		t.Errorf("a device dropped from one key must stay findable by its others; Load with its own key finds %q", ids)
	}

	// d010 holds the oldest entry; written again it keeps it, and goes
	// when another device is indexed.
	write(10)
	write(n)
	if got := deviceIDs(findDevices(t, s, "x:popular")); !slices.Equal(got, want(newest(11, n)...)) {
		t.Errorf("a device written again with a key it is indexed under must keep its entry and number, and so be the first dropped when the key is full; Load finds %q", got)
	}
	// d000, dropped, is indexed again: the newest entry.
	write(0)
	if got := deviceIDs(findDevices(t, s, "x:popular")); !slices.Equal(got, append(want(0), want(newest(12, n)...)...)) {
		t.Errorf("a device written again with a key it was dropped from must be indexed under it again, as the newest entry; Load finds %q", got)
	}
}

func testDeviceTieCap(t *testing.T, s storage.Store, clk *Clock) {
	// 22 keys, each indexing 64 devices of its own: 1408 devices tie.
	const keys, per = 22, storage.MaxKeyDevices
	var all []string
	for k := range keys {
		key := fmt.Sprintf("b%02d:shared", k)
		all = append(all, key)
		for j := range per {
			id := fmt.Sprintf("b%02d-%02d", k, j)
			commit(t, s, storage.Commit{User: "bomber", Device: deviceWrite(id, clk.Advance(time.Millisecond), key)}, "Commit of device "+id)
		}
	}
	st, err := s.Load(t.Context(), storage.LoadRequest{User: "alice", FingerprintKey: noKey, DeviceKeys: storage.Keys(all...), MaxCandidates: 16})
	must(t, err, "Load with 22 keys that 1408 devices tie on")
	got := deviceIDs(st.Candidates)
	if len(got) != 16 {
		t.Errorf("Load must return at most MaxCandidates (16) candidates however many tie; it returns %d", len(got))
	}
	var want []string
	for j := per - 1; j >= per-16; j-- {
		want = append(want, fmt.Sprintf("b%02d-%02d", keys-1, j))
	}
	if !slices.Equal(got, want) {
		t.Errorf("tied candidates must go to the most recently indexed (RankCandidates); Load returns %q, want %q", got, want)
	}
}

// ---------------------------------------------------------------------------
// load

// loadFixture: alice knows d1 (keys x:d1new, x:d1old) and d2 (x:d2); bob
// and carol have devices b1 and c1 sharing x:shared.
func loadFixture(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	login(t, s, "alice", "d1", t0, "x:d1old")
	login(t, s, "alice", "d1", t0.Add(time.Minute), "x:d1new", "x:d1old")
	login(t, s, "alice", "d2", t0.Add(2*time.Minute), "x:d2")
	login(t, s, "bob", "b1", t0.Add(3*time.Minute), "x:b1", "x:shared")
	login(t, s, "carol", "c1", t0.Add(4*time.Minute), "x:c1", "x:shared")
	clk.Advance(time.Hour)
}

func testLoadNewestKey(t *testing.T, s storage.Store, clk *Clock) {
	loadFixture(t, s, clk)
	st, err := s.Load(t.Context(), storage.LoadRequest{User: "alice", FingerprintKey: "x:d1new", DeviceKeys: storage.Keys("x:shared", "x:b1", "x:d2"), MaxCandidates: 16})
	must(t, err, "Load with the newest key of a known device")
	if st.Hashes != nil {
		t.Errorf("Load with the newest key of one of the user's devices must not read the user's hashes (NeedsHashes is false): Hashes must be nil; they are %v", st.Hashes)
	}
	if ids := deviceIDs(st.Candidates); !slices.Equal(ids, []string{"d1"}) {
		t.Errorf("Load with the newest key of one of the user's devices must return that device's global record as the only candidate, whatever the keys find; it returns %q, want [d1]", ids)
	} else {
		sameAs(t, st.Candidates[0], mustDevice(t, s, "d1", "x:d1new"), "the candidate Load returns for the newest key of a known device must be the device's global record")
	}

	// A known device without a global record.
	at := clk.Advance(time.Minute)
	commit(t, s, storage.Commit{User: "alice", Profile: write(t, profileOf(t, s, "alice"), learn(at, "d3", "", "x:d3"))}, "Commit of a profile learning d3")
	st, err = s.Load(t.Context(), storage.LoadRequest{User: "alice", FingerprintKey: "x:d3", DeviceKeys: storage.Keys("x:shared"), MaxCandidates: 16})
	must(t, err, "Load with the newest key of a known device")
	if st.Hashes != nil || len(st.Candidates) != 0 {
		t.Errorf("Load with the newest key of a known device the store holds no global record of must return no hashes (nil) and no candidates; it returns hashes %v and candidates %q", st.Hashes, deviceIDs(st.Candidates))
	}
}

func testLoadOtherKey(t *testing.T, s storage.Store, clk *Clock) {
	loadFixture(t, s, clk)
	want := map[string][]string{"d1": {hashOf("x:d1new"), hashOf("x:d1old")}, "d2": {hashOf("x:d2")}}
	for _, c := range []struct{ what, key string }{
		{"an older key of a known device", "x:d1old"},
		{"a key of no known device", "x:unknown"},
		{"another user's newest key", "x:b1"},
	} {
		st, err := s.Load(t.Context(), storage.LoadRequest{User: "alice", FingerprintKey: c.key, DeviceKeys: storage.Keys("x:shared", "x:b1"), MaxCandidates: 16})
		must(t, err, "Load with "+c.what)
		if st.Hashes == nil {
			t.Errorf("Load with %s (NeedsHashes holds) must return the user's hashes as a non-nil map; Hashes is nil", c.what)
		} else {
			sameAs(t, st.Hashes, want, "Load with %s must return the user's hashes of every device of the profile", c.what)
		}
		if ids := deviceIDs(st.Candidates); !slices.Equal(ids, []string{"b1", "c1"}) {
			t.Errorf("Load with %s must return the candidates the request's keys find, ranked by RankCandidates; it returns %q, want [b1 c1]", c.what, ids)
		}
	}
	st, err := s.Load(t.Context(), storage.LoadRequest{User: "alice", FingerprintKey: "x:d1old", DeviceKeys: storage.Keys("x:shared"), MaxCandidates: 1})
	must(t, err, "Load with MaxCandidates 1")
	if ids := deviceIDs(st.Candidates); !slices.Equal(ids, []string{"c1"}) {
		t.Errorf("Load must return at most MaxCandidates (1) candidates, the best; it returns %q, want [c1]", ids)
	}
}

func testLoadNoFingerprint(t *testing.T, s storage.Store, clk *Clock) {
	loadFixture(t, s, clk)
	st, err := s.Load(t.Context(), storage.LoadRequest{User: "alice", DeviceKeys: storage.Keys("x:shared"), MaxCandidates: 16})
	must(t, err, "Load without a fingerprint")
	if st.Hashes != nil || len(st.Candidates) != 0 {
		t.Errorf("Load without a fingerprint key has nothing to match (NeedsHashes is false, and no device's newest key is empty): it must return no hashes (nil) and no candidates; it returns hashes %v and candidates %q", st.Hashes, deviceIDs(st.Candidates))
	}
	if len(st.Profile.Devices) != 2 {
		t.Errorf("Load without a fingerprint must still return the user's profile; it has %d devices, want 2", len(st.Profile.Devices))
	}
}

func testLoadNoKeys(t *testing.T, s storage.Store, clk *Clock) {
	loadFixture(t, s, clk)
	st, err := s.Load(t.Context(), storage.LoadRequest{User: "alice", FingerprintKey: "x:unknown"})
	must(t, err, "Load without device keys")
	if st.Hashes == nil || len(st.Hashes) != 2 {
		t.Errorf("Load with a fingerprint that needs hashes must return the user's hashes even without device keys; they are %v", st.Hashes)
	}
	if len(st.Candidates) != 0 {
		t.Errorf("Load without device keys must search no candidates; it returns %q", deviceIDs(st.Candidates))
	}
}

func testLoadUnknownUser(t *testing.T, s storage.Store, clk *Clock) {
	loadFixture(t, s, clk)
	st, err := s.Load(t.Context(), storage.LoadRequest{User: "nobody", FingerprintKey: "x:b1", DeviceKeys: storage.Keys("x:b1"), MaxCandidates: 16})
	must(t, err, "Load of a user the store never saw")
	sameAs(t, st.Profile, profile.Profile{User: "nobody"}, "Load of a user the store never saw must return an empty profile with User set")
	if st.Hashes == nil || len(st.Hashes) != 0 {
		t.Errorf("Load of a user without hashes, when NeedsHashes holds, must return an empty non-nil map of hashes; it returns %v (nil: %v)", st.Hashes, st.Hashes == nil)
	}
	if ids := deviceIDs(st.Candidates); !slices.Equal(ids, []string{"b1"}) {
		t.Errorf("Load of a user the store never saw must still find candidates by the keys; it returns %q, want [b1]", ids)
	}
}

// ---------------------------------------------------------------------------
// history

func testHistoryRoundTrip(t *testing.T, s storage.Store, clk *Clock) {
	ev := event("alice", 1, clk.Now(), true)
	ev.Kind, ev.ChallengeID = "a_later_kind", "c1"
	commit(t, s, storage.Commit{User: "alice", Event: ev, History: history}, "Commit of an event")
	evs := allEvents(t, s, "alice")
	if len(evs) != 1 {
		t.Fatalf("Events must return the committed event; it returns %d events", len(evs))
	}
	sameAs(t, evs[0], *ev, "an event must come back from Events as it was committed, field for field")

	anon := event("", 2, clk.Advance(time.Minute), true)
	commit(t, s, storage.Commit{User: "alice", Event: anon, History: history}, "Commit of an event without a user")
	if evs := allEvents(t, s, "alice"); len(evs) != 2 || evs[0].User != "alice" {
		t.Errorf("an event without a user is the commit's user's; Events returns %d events, the newest of user %q", len(evs), evs[0].User)
	}
}

func testHistoryOrder(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	// Committed out of time order.
	for _, i := range []int{3, 0, 7, 1, 9, 2, 8, 4, 6, 5} {
		commit(t, s, storage.Commit{User: "alice", Event: event("alice", i, t0.Add(time.Duration(i)*time.Minute), i%2 == 0), History: history}, "Commit of an event")
	}
	commit(t, s, storage.Commit{User: "bob", Event: event("bob", 0, t0.Add(5*time.Minute), true), History: history}, "Commit of bob's event")

	var all []string
	for i := 9; i >= 0; i-- {
		all = append(all, fmt.Sprintf("alice-%d", i))
	}
	if got := eventIDs(allEvents(t, s, "alice")); !slices.Equal(got, all) {
		t.Errorf("Events must return the user's events newest first (by time, whatever the order they were committed in); it returns %q", got)
	}
	evs, err := s.Events(t.Context(), "alice", t0.Add(5*time.Minute), 3)
	must(t, err, "Events with a limit")
	if got := eventIDs(evs); !slices.Equal(got, all[:3]) {
		t.Errorf("Events must return at most limit (3) events, the newest; it returns %q", got)
	}
	evs, err = s.Events(t.Context(), "alice", t0.Add(7*time.Minute), 100)
	must(t, err, "Events since a time")
	if got := eventIDs(evs); !slices.Equal(got, all[:3]) {
		t.Errorf("Events must return the events since the time, an event at exactly the time included; it returns %q, want %q", got, all[:3])
	}
	if got := eventIDs(allEvents(t, s, "bob")); !slices.Equal(got, []string{"bob-0"}) {
		t.Errorf("Events must return the user's events only; for bob it returns %q", got)
	}
	if got := allEvents(t, s, "nobody"); len(got) != 0 {
		t.Errorf("Events of a user the store never saw must return nothing; it returns %q", eventIDs(got))
	}
}

func testHistoryTrimSince(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	commit(t, s, storage.Commit{User: "alice", Event: event("alice", 0, t0, true), History: history}, "Commit of an event")
	commit(t, s, storage.Commit{User: "alice", Event: event("alice", 1, t0.Add(24*time.Hour), true), History: history}, "Commit of an event")
	commit(t, s, storage.Commit{User: "alice", Event: event("alice", 2, clk.Advance(10*24*time.Hour), true),
		History: storage.HistoryLimits{Max: 100, Since: t0.Add(24 * time.Hour)}}, "Commit of an event with History.Since")
	if got := eventIDs(allEvents(t, s, "alice")); !slices.Equal(got, []string{"alice-2", "alice-1"}) {
		t.Errorf("a commit must drop the events before History.Since (an event at exactly Since stays); Events returns %q, want [alice-2 alice-1]", got)
	}
}

func testHistoryTrimMax(t *testing.T, s storage.Store, clk *Clock) {
	lim := storage.HistoryLimits{Max: 3}
	commit(t, s, storage.Commit{User: "alice", Event: event("alice", 0, clk.Now(), true), History: lim}, "Commit of an event")
	for i := 1; i <= 5; i++ {
		commit(t, s, storage.Commit{User: "alice", Event: event("alice", i, clk.Advance(time.Minute), false), History: lim}, "Commit of an event")
	}
	if got := eventIDs(allEvents(t, s, "alice")); !slices.Equal(got, []string{"alice-5", "alice-4", "alice-0"}) {
		t.Errorf("past History.Max, the oldest events without Success must go first; Events returns %q, want [alice-5 alice-4 alice-0]", got)
	}
	for i := range 5 {
		commit(t, s, storage.Commit{User: "bob", Event: event("bob", i, clk.Advance(time.Minute), true), History: lim}, "Commit of an event")
	}
	if got := eventIDs(allEvents(t, s, "bob")); !slices.Equal(got, []string{"bob-4", "bob-3", "bob-2"}) {
		t.Errorf("past History.Max, when every event has Success, the oldest must go; Events returns %q, want [bob-4 bob-3 bob-2]", got)
	}
}

func testHistoryTrimModel(t *testing.T, s storage.Store, clk *Clock) {
	r := rand.New(rand.NewPCG(7, 11))
	var model []storage.Event // oldest first
	for i := range 80 {
		now := clk.Advance(time.Duration(1+r.IntN(120)) * time.Minute)
		at := now.Add(-time.Duration(r.IntN(90))*time.Minute + time.Duration(i)*time.Millisecond)
		ev := event("alice", i, at, r.IntN(3) == 0)
		lim := storage.HistoryLimits{Max: 3 + r.IntN(6), Since: now.Add(-time.Duration(r.IntN(600)) * time.Minute)}
		commit(t, s, storage.Commit{User: "alice", Event: ev, History: lim}, "Commit of an event")
		model = append(model, *ev)
		slices.SortStableFunc(model, func(a, b storage.Event) int { return a.Time.Compare(b.Time) })
		model = storage.TrimHistory(model, lim)
		var want []string
		for j := len(model) - 1; j >= 0; j-- {
			want = append(want, model[j].ID)
		}
		if got := eventIDs(allEvents(t, s, "alice")); !slices.Equal(got, want) {
			t.Fatalf("after commit %d (History %+v), the history must be what TrimHistory keeps of the events and the new one, newest first; Events returns %q, want %q", i, lim, got, want)
		}
	}
}

// ---------------------------------------------------------------------------
// failures

func testFailureCounts(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	const n, m = "198.51.100.7", "2001:db8:1::/64"
	lim := failureLimits(t0)
	for _, f := range []storage.Failure{
		{User: "alice", Network: n, Time: t0.Add(-2 * time.Hour)}, // before every window
		{User: "alice", Network: n, Time: t0},
		{User: "alice", Network: m, Time: t0.Add(-15 * time.Minute)}, // out of order; at exactly UserSince
		{User: "alice", Network: n, Time: t0.Add(-30 * time.Minute)}, // before UserSince, after NetworkSince
		{User: "bob", Network: n, Time: t0},
		{User: "bob", Network: n, Time: t0.Add(-time.Minute)},        // bob again: one user
		{User: "carol", Network: n, Time: t0.Add(-61 * time.Minute)}, // before NetworkSince
		{User: "erin", Network: n, Time: t0.Add(-time.Hour)},         // at exactly NetworkSince
		{User: "dave", Time: t0},
	} {
		addFailure(t, s, f, lim)
	}
	q := &storage.FailureQuery{UserSince: t0.Add(-15 * time.Minute), MaxUser: 100, Network: n, NetworkSince: t0.Add(-time.Hour), MaxNetworkUsers: 100}
	st, err := s.Load(t.Context(), storage.LoadRequest{User: "alice", Failures: q})
	must(t, err, "Load counting failures")
	got := st.Failures
	if got.User != 2 {
		t.Errorf("FailureCounts.User must count the user's failures since UserSince, one at exactly UserSince included; it is %d, want 2", got.User)
	}
	if got.UserUnknown != 2 {
		t.Errorf("FailureCounts.UserUnknown must count the user's failures in the window from a device not known for the user; it is %d, want 2", got.UserUnknown)
	}
	if got.NetworkUsers != 3 {
		t.Errorf("FailureCounts.NetworkUsers must count the distinct users who failed from the network since NetworkSince, one at exactly NetworkSince included (alice, bob, erin); it is %d, want 3", got.NetworkUsers)
	}
	if c := failureCounts(t, s, "bob", "", t0.Add(-15*time.Minute)); c.User != 2 || c.NetworkUsers != 0 {
		t.Errorf("a failure query without a network must count the user's failures and no network's; for bob it counts %+v, want User 2 and no NetworkUsers", c)
	}
	if c := failureCounts(t, s, "nobody", n, t0.Add(-time.Hour)); c != (storage.FailureCounts{NetworkUsers: 3}) {
		t.Errorf("a failure query for a user without failures must count none of theirs and still the network's users; it counts %+v, want NetworkUsers 3", c)
	}
}

func testFailureClassification(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	const a, b, c = "198.51.100.1", "198.51.100.2", "198.51.100.3"
	loginFrom(t, s, "alice", "d1", a, t0, "x:old")
	loginFrom(t, s, "alice", "d1", b, t0.Add(time.Millisecond), "x:new", "x:old")
	loginFrom(t, s, "alice", "d2", c, t0.Add(2*time.Millisecond), "x:d2")
	at := clk.Advance(time.Hour)
	lim := func(knownSince time.Time) storage.FailureLimits {
		return storage.FailureLimits{KnownSince: knownSince, Keep: 24 * time.Hour, MaxUser: 100, MaxNetworkUsers: 100}
	}
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	check := func(what, key, network string, knownSince time.Time, knownDevice, knownNetwork bool) {
		t.Helper()
		before := failureCounts(t, s, "alice", network, time.Time{})
		addFailure(t, s, storage.Failure{User: "alice", Time: at, Network: network, DeviceKey: key}, lim(knownSince))
		after := failureCounts(t, s, "alice", network, time.Time{})
		if after.User != before.User+1 {
			t.Errorf("a failure %s must count among the user's failures; FailureCounts.User went from %d to %d", what, before.User, after.User)
		}
		if d, want := after.UserUnknown-before.UserUnknown, b2i(!knownDevice); d != want {
			t.Errorf("a failure %s must be classified KnownDevice=%v (ClassifyFailure: known when its key is any key of a device of the profile), so add %d to UserUnknown; it added %d", what, knownDevice, want, d)
		}
		if network == "" {
			return
		}
		if d, want := after.NetworkUsers-before.NetworkUsers, b2i(!knownNetwork); d != want {
			t.Errorf("a failure %s must be classified KnownNetwork=%v (ClassifyFailure: known when the user logged in from it since KnownSince), and a failure from a known network is not counted among the network's users, so add %d to NetworkUsers; it added %d", what, knownNetwork, want, d)
		}
	}
	check("with an older key of a known device, from a network the user logged in from at exactly KnownSince", "x:old", a, t0, true, true)
	check("with the newest key of a known device, from a network the user never logged in from", "x:new", "203.0.113.1", t0, true, false)
	check("with a key of no known device, from a known network", "x:zzz", b, t0, false, true)
	check("without a key, from an unknown network", "", "203.0.113.2", t0, false, false)
	check("without a network", "x:zzz", "", t0, false, false)
	check("from a network the user last logged in from before KnownSince", "x:d2", c, t0.Add(3*time.Millisecond), true, false)

	// A failure is classified against the profile as it is when it
	// happens.
	before := failureCounts(t, s, "alice", "", time.Time{})
	addFailure(t, s, storage.Failure{User: "alice", Time: at, DeviceKey: "x:later"}, lim(t0))
	login(t, s, "alice", "d3", clk.Advance(time.Minute), "x:later")
	if after := failureCounts(t, s, "alice", "", time.Time{}); after.UserUnknown != before.UserUnknown+1 {
		t.Errorf("a failure must be classified when it is added (the device became known only after): UserUnknown went from %d to %d, want %d", before.UserUnknown, after.UserUnknown, before.UserUnknown+1)
	}
	check("with the key of a device the user logged in from since", "x:later", "", t0, true, false)
}

func testFailureSaturation(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	login(t, s, "alice", "d1", t0, "x:mine")
	lim := failureLimits(t0)
	const n = "198.51.100.9"
	for i := range 5 {
		addFailure(t, s, storage.Failure{User: "alice", Time: t0.Add(time.Duration(i) * time.Millisecond), DeviceKey: "x:theirs"}, lim)
	}
	for i := range 3 {
		addFailure(t, s, storage.Failure{User: "alice", Time: t0.Add(time.Duration(10+i) * time.Millisecond), DeviceKey: "x:mine"}, lim)
	}
	for i := range 10 {
		addFailure(t, s, storage.Failure{User: fmt.Sprintf("u%d", i), Time: t0, Network: n}, lim)
	}
	count := func(maxUser, maxNetwork int) storage.FailureCounts {
		st, err := s.Load(t.Context(), storage.LoadRequest{User: "alice", Failures: &storage.FailureQuery{MaxUser: maxUser, Network: n, MaxNetworkUsers: maxNetwork}})
		must(t, err, "Load counting failures")
		return st.Failures
	}
	if got := count(3, 4); got != (storage.FailureCounts{User: 3, UserUnknown: 0, NetworkUsers: 4}) {
		t.Errorf("failure counts must saturate at the query's maximums, UserUnknown counting among the MaxUser newest only (CountFailures); with MaxUser 3 and MaxNetworkUsers 4 Load counts %+v, want {User:3 UserUnknown:0 NetworkUsers:4}", got)
	}
	if got := count(6, 100); got != (storage.FailureCounts{User: 6, UserUnknown: 3, NetworkUsers: 10}) {
		t.Errorf("with MaxUser 6, Load must count the 6 newest failures, 3 of them from an unknown device, and the 10 users of the network; it counts %+v", got)
	}
}

func testFailureUserCap(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	lim := failureLimits(t0)
	lim.MaxUser = 10
	for i := range 15 {
		addFailure(t, s, storage.Failure{User: "alice", Time: t0.Add(time.Duration(i) * time.Second)}, lim)
	}
	if got := failureCounts(t, s, "alice", "", time.Time{}).User; got != 10 {
		t.Errorf("AddFailure must keep at most FailureLimits.MaxUser (10) failures per user; Load counts %d", got)
	}
	if got := failureCounts(t, s, "alice", "", t0.Add(10*time.Second)).User; got != 5 {
		t.Errorf("AddFailure must keep the user's newest failures; since the 11th, Load counts %d, want 5", got)
	}
}

func testFailureNetworkCap(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	const n = "198.51.100.9"
	lim := failureLimits(t0)
	lim.MaxNetworkUsers = 5
	for i := range 8 {
		addFailure(t, s, storage.Failure{User: fmt.Sprintf("u%d", i), Time: t0.Add(time.Duration(i) * time.Second), Network: n}, lim)
	}
	if got := failureCounts(t, s, "x", n, time.Time{}).NetworkUsers; got != 5 {
		t.Errorf("AddFailure must keep at most FailureLimits.MaxNetworkUsers (5) users per network; Load counts %d", got)
	}
	if got := failureCounts(t, s, "x", n, t0.Add(5*time.Second)).NetworkUsers; got != 3 {
		t.Errorf("AddFailure must keep the users who failed from a network last; since the 6th, Load counts %d, want 3", got)
	}
	addFailure(t, s, storage.Failure{User: "u0", Time: t0.Add(10 * time.Second), Network: n}, lim)
	if got := failureCounts(t, s, "x", n, t0.Add(5*time.Second)).NetworkUsers; got != 4 {
		t.Errorf("a user failing again from a network must count as one of those who failed from it last; since the 6th, Load counts %d, want 4", got)
	}
}

func testFailureExpiry(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	const n = "198.51.100.9"
	lim := failureLimits(t0)
	lim.Keep = time.Hour
	for i := range 3 {
		addFailure(t, s, storage.Failure{User: "alice", Time: t0, Network: "203.0.113.1"}, lim)
		addFailure(t, s, storage.Failure{User: fmt.Sprintf("u%d", i), Time: t0, Network: n}, lim)
	}
	edge := t0.Add(time.Hour)
	addFailure(t, s, storage.Failure{User: "alice", Time: edge}, lim)
	addFailure(t, s, storage.Failure{User: "v0", Time: edge, Network: n}, lim)
	if got := failureCounts(t, s, "alice", n, time.Time{}); got.User != 4 || got.NetworkUsers != 4 {
		t.Errorf("a failure at exactly Time - Keep must be kept; Load counts %+v, want User 4 and NetworkUsers 4", got)
	}
	after := edge.Add(time.Millisecond)
	addFailure(t, s, storage.Failure{User: "alice", Time: after}, lim)
	addFailure(t, s, storage.Failure{User: "v1", Time: after, Network: n}, lim)
	if got := failureCounts(t, s, "alice", n, time.Time{}); got.User != 2 || got.NetworkUsers != 2 {
		t.Errorf("failures before Time - Keep (FailureLimits.Keep) must be dropped as new ones come, in the user's list and the network's; Load counts %+v, want User 2 and NetworkUsers 2", got)
	}
}

func testFailureFlood(t *testing.T, s storage.Store, clk *Clock) {
	// A flood of failures for made-up users from made-up networks ages out
	// without Purge.
	const old, fresh = 256, 2048
	t0 := clk.Now()
	lim := failureLimits(t0)
	lim.Keep = time.Hour
	for i := range old {
		addFailure(t, s, storage.Failure{User: fmt.Sprintf("old%d", i), Time: t0, Network: fmt.Sprintf("10.1.%d.%d", i/256, i%256)}, lim)
	}
	t1 := clk.Advance(2 * time.Hour)
	lim = failureLimits(t1)
	lim.Keep = time.Hour
	for i := range fresh {
		addFailure(t, s, storage.Failure{User: fmt.Sprintf("new%d", i), Time: t1, Network: fmt.Sprintf("10.2.%d.%d", i/256, i%256)}, lim)
	}
	left := 0
	for i := range old {
		c := failureCounts(t, s, fmt.Sprintf("old%d", i), fmt.Sprintf("10.1.%d.%d", i/256, i%256), time.Time{})
		if c.User != 0 || c.NetworkUsers != 0 {
			left++
		}
	}
	if left > 0 {
		t.Errorf("failures older than Keep must be dropped as new ones come, so that a flood of failures for made-up users ages out: after %d failures of others, %d of %d old users or their networks still have failures counted", fresh, left, old)
	}
	if c := failureCounts(t, s, "new7", "10.2.0.7", time.Time{}); c.User != 1 || c.NetworkUsers != 1 {
		t.Errorf("the new failures must be kept; Load counts %+v for one of them", c)
	}
}

func testFailureConcurrent(t *testing.T, s storage.Store, clk *Clock) {
	const n = 64
	now := clk.Now()
	lim := failureLimits(now)
	errs := race(n, func(i int) error {
		return s.AddFailure(t.Context(), storage.Failure{User: "alice", Time: now, Network: fmt.Sprintf("198.51.100.%d", i%4)}, lim)
	})
	errs = append(errs, race(n, func(i int) error {
		return s.AddFailure(t.Context(), storage.Failure{User: fmt.Sprintf("u%d", i), Time: now, Network: "203.0.113.7"}, lim)
	})...)
	for _, err := range errs {
		must(t, err, "concurrent AddFailure")
	}
	if got := failureCounts(t, s, "alice", "203.0.113.7", now); got.User != n || got.UserUnknown != n || got.NetworkUsers != n {
		t.Errorf("every one of %d concurrent failures of a user, and of %d users from one network, must be counted; Load counts %+v", n, n, got)
	}
}

// ---------------------------------------------------------------------------
// campaign: failures for names that are not accounts

// unknown is a failure of a name that is not an account.
func unknown(name string, at time.Time, network string) storage.Failure {
	return storage.Failure{User: name, Time: at, Network: network, UnknownUser: true}
}

// campaignCount counts the campaign list's names since the time, up to
// max.
func campaignCount(t *testing.T, s storage.Store, since time.Time, max int) int {
	t.Helper()
	st, err := s.Load(t.Context(), storage.LoadRequest{User: reader, Failures: &storage.FailureQuery{
		MaxUser: 1, MaxNetworkUsers: 1, CampaignSince: since, MaxCampaignUsers: max,
	}})
	must(t, err, "Load counting the campaign list")
	return st.Failures.CampaignUsers
}

func testCampaignCounts(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	lim := failureLimits(t0)
	for _, f := range []storage.Failure{
		unknown("ghost1", t0.Add(-2*time.Hour), "198.51.100.1"), // before the window
		unknown("ghost2", t0, "198.51.100.1"),
		unknown("ghost3", t0.Add(-30*time.Minute), "198.51.100.2"), // out of order
		unknown("ghost2", t0.Add(-time.Minute), "198.51.100.3"),    // again, from elsewhere: one name
		unknown("ghost4", t0.Add(-time.Hour), ""),                  // at exactly CampaignSince, without a network
		{User: "alice", Time: t0, Network: "198.51.100.1"},         // an account: not in the list
		{User: "bob", Time: t0},
	} {
		addFailure(t, s, f, lim)
	}
	since := t0.Add(-time.Hour)
	if got := campaignCount(t, s, since, 100); got != 3 {
		t.Errorf("FailureCounts.CampaignUsers must count the distinct names that are not accounts (Failure.UnknownUser) that failed from any network or none since CampaignSince, one at exactly CampaignSince included, and no account's (ghost2, ghost3, ghost4); it is %d, want 3", got)
	}
	if got := campaignCount(t, s, time.Time{}, 100); got != 4 {
		t.Errorf("since the zero time, the campaign list must count all 4 names that are not accounts; it counts %d", got)
	}
	if got := campaignCount(t, s, time.Time{}, 2); got != 2 {
		t.Errorf("FailureCounts.CampaignUsers must saturate at the query's MaxCampaignUsers (2); it is %d", got)
	}
	st, err := s.Load(t.Context(), storage.LoadRequest{User: "ghost2", Failures: &storage.FailureQuery{
		MaxUser: 100, Network: "198.51.100.1", MaxNetworkUsers: 100}})
	must(t, err, "Load counting failures")
	if want := (storage.FailureCounts{User: 2, UserUnknown: 2, NetworkUsers: 3}); st.Failures != want {
		t.Errorf("a failure of a name that is not an account must count as any other for the name and its network, and a query with MaxCampaignUsers and MaxNetworkUnknown 0 must count neither; Load counts %+v, want %+v", st.Failures, want)
	}
}

func testCampaignNetworkUnknown(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	const n = "198.51.100.7"
	lim := failureLimits(t0)
	for _, f := range []storage.Failure{
		unknown("ghost1", t0.Add(-7*time.Hour), n), // before UnknownSince
		unknown("ghost2", t0, n),
		unknown("ghost3", t0.Add(-6*time.Hour), n), // at exactly UnknownSince
		unknown("ghost4", t0.Add(-2*time.Hour), n), // before NetworkSince, after UnknownSince
		unknown("ghost5", t0, "198.51.100.8"),      // another network
		{User: "alice", Time: t0, Network: n},      // an account
		unknown("carol", t0.Add(-3*time.Hour), n),  // carol's latest failure from n is an account's
		{User: "carol", Time: t0.Add(-2 * time.Hour), Network: n},
		{User: "dave", Time: t0.Add(-3 * time.Hour), Network: n}, // dave's latest is a name's that is not an account
		unknown("dave", t0.Add(-4*time.Hour), n),                 // out of order, older: dave stays an account
		{User: "erin", Time: t0.Add(-5 * time.Hour), Network: n},
		unknown("erin", t0.Add(-4*time.Hour), n), // erin's latest is
	} {
		addFailure(t, s, f, lim)
	}
	count := func(max int) storage.FailureCounts {
		t.Helper()
		st, err := s.Load(t.Context(), storage.LoadRequest{User: "alice", Failures: &storage.FailureQuery{
			UserSince: t0.Add(-time.Hour), MaxUser: 100, Network: n, NetworkSince: t0.Add(-time.Hour), MaxNetworkUsers: 100,
			UnknownSince: t0.Add(-6 * time.Hour), MaxNetworkUnknown: max,
		}})
		must(t, err, "Load counting failures")
		return st.Failures
	}
	got := count(100)
	if got.NetworkUnknown != 4 {
		t.Errorf("FailureCounts.NetworkUnknown must count the names in the network's list whose latest failure from it, since UnknownSince (one at exactly UnknownSince included), was for a name that is not an account (ghost2, ghost3, ghost4, erin; not ghost1, too old, ghost5, from another network, carol and dave, whose latest failure was an account's); it is %d, want 4", got.NetworkUnknown)
	}
	if got.NetworkUsers != 2 {
		t.Errorf("FailureCounts.NetworkUsers must count every user in its own window, names that are not accounts included (ghost2, alice); it is %d, want 2", got.NetworkUsers)
	}
	if got := count(3).NetworkUnknown; got != 3 {
		t.Errorf("FailureCounts.NetworkUnknown must saturate at MaxNetworkUnknown (3); it is %d", got)
	}
	if got := count(0).NetworkUnknown; got != 0 {
		t.Errorf("a query with MaxNetworkUnknown 0 must not count names that are not accounts; it counts %d", got)
	}
}

func testCampaignKnownNames(t *testing.T, s storage.Store, clk *Clock) {
	// A name the engine knows, failing as one that is not an account (the
	// application deleted the account), from its own device or network, is
	// its former owner: not a campaign.
	t0 := clk.Now()
	const home, other = "198.51.100.1", "203.0.113.1"
	loginFrom(t, s, "alice", "d1", home, t0, "x:mine")
	at := clk.Advance(time.Hour)
	lim := failureLimits(at)
	check := func(what string, f storage.Failure, campaign, network bool) {
		t.Helper()
		before := failureCounts(t, s, f.User, f.Network, time.Time{})
		addFailure(t, s, f, lim)
		after := failureCounts(t, s, f.User, f.Network, time.Time{})
		if after.User != before.User+1 {
			t.Errorf("a failure %s must count among the name's failures; User went from %d to %d", what, before.User, after.User)
		}
		b2i := func(b bool) int {
			if b {
				return 1
			}
			return 0
		}
		if d := after.CampaignUsers - before.CampaignUsers; d != b2i(campaign) {
			t.Errorf("a failure %s must %sgo into the campaign list (Failure.Campaign); CampaignUsers went from %d to %d", what, map[bool]string{false: "not "}[campaign], before.CampaignUsers, after.CampaignUsers)
		}
		if f.Network == "" {
			return
		}
		if d := after.NetworkUsers - before.NetworkUsers; d != b2i(network) {
			t.Errorf("a failure %s must %scount among the network's users; NetworkUsers went from %d to %d", what, map[bool]string{false: "not "}[network], before.NetworkUsers, after.NetworkUsers)
		}
		if d := after.NetworkUnknown - before.NetworkUnknown; d != b2i(campaign) {
			t.Errorf("a failure %s must %scount among the network's names that are not accounts; NetworkUnknown went from %d to %d", what, map[bool]string{false: "not "}[campaign], before.NetworkUnknown, after.NetworkUnknown)
		}
	}
	known := unknown("alice", at, home)
	known.DeviceKey = "x:theirs"
	check("of a known name said not to be an account, from its known network", known, false, false)
	ownDevice := unknown("alice", at, other)
	ownDevice.DeviceKey = "x:mine"
	check("of a known name said not to be an account, from its known device on another network", ownDevice, false, true)
	stranger := unknown("alice", at.Add(time.Millisecond), "203.0.113.2")
	stranger.DeviceKey = "x:theirs"
	check("of a known name said not to be an account, from a device and a network not known for it", stranger, true, true)
	check("of a name without a profile, said not to be an account, without a network", unknown("ghost", at, ""), true, false)
}

func testCampaignCap(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	lim := failureLimits(t0)
	lim.MaxCampaignUsers = 5
	for i := range 8 {
		addFailure(t, s, unknown(fmt.Sprintf("ghost%d", i), t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("10.0.0.%d", i)), lim)
	}
	if got := campaignCount(t, s, time.Time{}, 100); got != 5 {
		t.Errorf("AddFailure must keep at most FailureLimits.MaxCampaignUsers (5) names in the campaign list; Load counts %d", got)
	}
	if got := campaignCount(t, s, t0.Add(5*time.Second), 100); got != 3 {
		t.Errorf("AddFailure must keep the names that failed last in the campaign list; since the 6th, Load counts %d, want 3", got)
	}
	addFailure(t, s, unknown("ghost0", t0.Add(10*time.Second), "10.0.0.9"), lim)
	if got := campaignCount(t, s, t0.Add(5*time.Second), 100); got != 4 {
		t.Errorf("a name failing again must count as one of those who failed last; since the 6th, Load counts %d, want 4", got)
	}
	for i := range 100 {
		addFailure(t, s, unknown("ghost-same", t0.Add(time.Duration(20_000+i)*time.Millisecond), fmt.Sprintf("10.1.%d.%d", i/256, i%256)), lim)
	}
	if got := campaignCount(t, s, time.Time{}, 100); got != 5 {
		t.Errorf("one name failing many times is one entry of the campaign list; Load counts %d, want 5", got)
	}

	none := failureLimits(t0)
	none.MaxCampaignUsers = 0
	addFailure(t, s, unknown("ghost-unlisted", t0.Add(time.Hour), ""), none)
	if got := campaignCount(t, s, t0.Add(time.Hour), 100); got != 0 {
		t.Errorf("with FailureLimits.MaxCampaignUsers 0, AddFailure must keep no campaign list; Load counts %d", got)
	}
	if c := failureCounts(t, s, "ghost-unlisted", "", time.Time{}); c.User != 1 {
		t.Errorf("with FailureLimits.MaxCampaignUsers 0, the failure must still be kept for its name; Load counts %d", c.User)
	}
}

func testCampaignPerNetwork(t *testing.T, s storage.Store, clk *Clock) {
	// One network puts a few names in the campaign list, then is counted on
	// its own.
	t0 := clk.Now()
	const n, m = "198.51.100.1", "198.51.100.2"
	lim := failureLimits(t0)
	lim.Keep, lim.CampaignPerNetwork = time.Hour, 2
	add := func(f storage.Failure) {
		t.Helper()
		addFailure(t, s, f, lim)
	}
	add(unknown("ghost1", t0, n))
	add(storage.Failure{User: "alice", Time: t0, Network: n}) // an account: not marked
	add(unknown("ghost2", t0, n))
	add(unknown("ghost3", t0, n))
	add(unknown("ghost2", t0.Add(time.Millisecond), n)) // again: ghost2 is in already
	if got := campaignCount(t, s, time.Time{}, 100); got != 2 {
		t.Errorf("a campaign failure must go into the campaign list only if fewer than FailureLimits.CampaignPerNetwork (2) other names of its network's list were marked before: of ghost1, ghost2 and ghost3 from one network, Load counts %d in the campaign list, want 2", got)
	}
	if got := failureCounts(t, s, "x", n, time.Time{}).NetworkUnknown; got != 3 {
		t.Errorf("the network's list must mark every campaign failure, whether or not it went into the campaign list; Load counts %d, want 3", got)
	}
	add(unknown("ghost4", t0, ""))
	add(unknown("ghost5", t0, ""))
	add(unknown("ghost6", t0, ""))
	add(unknown("ghost7", t0, m))
	if got := campaignCount(t, s, time.Time{}, 100); got != 6 {
		t.Errorf("campaign failures without a network, and from another network, must go into the campaign list; Load counts %d, want 6", got)
	}
	later := t0.Add(time.Hour + time.Millisecond)
	lim = failureLimits(later)
	lim.Keep, lim.CampaignPerNetwork = time.Hour, 2
	add(unknown("ghost8", later, n))
	if got := campaignCount(t, s, later, 100); got != 1 {
		t.Errorf("only names marked since Time - Keep count against a network's share: a name failing from it after Keep must go into the campaign list; Load counts %d since then, want 1", got)
	}
}

func testCampaignExpiry(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	lim := failureLimits(t0)
	lim.Keep = time.Hour
	for i := range 3 {
		addFailure(t, s, unknown(fmt.Sprintf("ghost%d", i), t0, fmt.Sprintf("10.0.0.%d", i)), lim)
	}
	edge := t0.Add(time.Hour)
	addFailure(t, s, unknown("later0", edge, ""), lim)
	if got := campaignCount(t, s, time.Time{}, 100); got != 4 {
		t.Errorf("a name that failed at exactly Time - Keep must stay in the campaign list; Load counts %d, want 4", got)
	}
	addFailure(t, s, unknown("later1", edge.Add(time.Millisecond), ""), lim)
	if got := campaignCount(t, s, time.Time{}, 100); got != 2 {
		t.Errorf("names that failed before Time - Keep (FailureLimits.Keep) must leave the campaign list as new ones come; Load counts %d, want 2", got)
	}
}

func testCampaignDeleteUser(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	const n = "198.51.100.1"
	lim := failureLimits(t0)
	addFailure(t, s, unknown("ghost", t0, n), lim)
	addFailure(t, s, unknown("other", t0, n), lim)
	login(t, s, "alice", "d1", t0, "x:a")
	addFailure(t, s, unknown("alice", t0, n), lim) // a known name said not to be an account
	must(t, s.DeleteUser(t.Context(), "ghost"), "DeleteUser of a name that is not an account")
	must(t, s.DeleteUser(t.Context(), "alice"), "DeleteUser")
	c := failureCounts(t, s, "ghost", n, time.Time{})
	if want := (storage.FailureCounts{NetworkUsers: 1, NetworkUnknown: 1, CampaignUsers: 1}); c != want {
		t.Errorf("DeleteUser must erase the name's failures, in the network's list and the campaign list too (another name's stay); Load counts %+v, want %+v", c, want)
	}
}

func testCampaignPurge(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	cut := t0.Add(time.Hour)
	lim := failureLimits(cut)
	addFailure(t, s, unknown("ghost-old", t0, ""), lim)
	addFailure(t, s, unknown("ghost-cut", cut, ""), lim)
	clk.Advance(2 * time.Hour)
	n, err := s.Purge(t.Context(), storage.PurgeRequest{FailuresBefore: cut, Batch: 100})
	must(t, err, "Purge")
	if n != 2 {
		t.Errorf("Purge must drop a failure before FailuresBefore and the name's entry in the campaign list, and count each; it returns %d, want 2", n)
	}
	if got := campaignCount(t, s, time.Time{}, 100); got != 1 {
		t.Errorf("Purge must drop the campaign list's names that failed before FailuresBefore and keep one at exactly the time; Load counts %d, want 1", got)
	}
}

func testCampaignConcurrent(t *testing.T, s storage.Store, clk *Clock) {
	const n = 64
	now := clk.Now()
	lim := failureLimits(now)
	errs := race(n, func(i int) error {
		return s.AddFailure(t.Context(), unknown(fmt.Sprintf("ghost%d", i), now, fmt.Sprintf("198.51.100.%d", i%4)), lim)
	})
	for _, err := range errs {
		must(t, err, "concurrent AddFailure")
	}
	if got := campaignCount(t, s, now, 1000); got != n {
		t.Errorf("every one of %d concurrent failures of names that are not accounts, from a few networks, must count in the campaign list; Load counts %d", n, got)
	}
	if got := failureCounts(t, s, "x", "198.51.100.1", now).NetworkUnknown; got != n/4 {
		t.Errorf("every one of %d concurrent failures of names that are not accounts from one network must count among its names that are not accounts; Load counts %d", n/4, got)
	}
}

// ---------------------------------------------------------------------------
// challenges

func testChallengeRoundTrip(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	c := challenge("c1", "alice", "d1", now)
	c.KnownDevice, c.Status, c.Channel = true, storage.ChallengeSent, "sms"
	c.CodeHash = []byte{1, 2, 3, 0xff}
	c.Sends, c.Attempts, c.SentAt = 1, 2, now.Add(time.Second)
	c.Attempt.ChallengeID = "c1"
	commit(t, s, storage.Commit{User: "alice", Event: event("alice", 1, now, false), History: history, Challenge: c}, "Commit of a challenge")
	sameAs(t, mustChallenge(t, s, "c1"), *c, "a challenge must come back from Challenge as it was committed, field for field")

	anon := challenge("c2", "", "d2", now)
	commit(t, s, storage.Commit{User: "alice", Challenge: anon}, "Commit of a challenge without a user")
	if got := mustChallenge(t, s, "c2").User; got != "alice" {
		t.Errorf("a challenge without a user is the commit's user's; Challenge returns user %q", got)
	}
}

func testChallengeNotFound(t *testing.T, s storage.Store, clk *Clock) {
	_, err := s.Challenge(t.Context(), "missing")
	mustFail(t, err, storage.ErrNotFound, "Challenge of an id that does not exist")
	called := false
	_, err = s.UpdateChallenge(t.Context(), "missing", func(*storage.Challenge) error { called = true; return nil })
	mustFail(t, err, storage.ErrNotFound, "UpdateChallenge of an id that does not exist")
	if called {
		t.Errorf("UpdateChallenge must not call update for a challenge that does not exist")
	}
}

func testChallengeDuplicate(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	orig := challenge("c1", "alice", "d1", now)
	insert(t, s, orig)
	for _, user := range []string{"alice", "bob"} {
		c := loginCommit(t, profileOf(t, s, user), user, "d2", "", now, "x:d2")
		c.Challenge = challenge("c1", user, "d2", now)
		before := snap(t, s, user, []string{"x:d2"})
		what := fmt.Sprintf("Commit of a challenge whose id exists (for %s)", user)
		if mustFail(t, s.Commit(t.Context(), c), storage.ErrConflict, what) {
			unchanged(t, before, snap(t, s, user, []string{"x:d2"}), what)
		}
	}
	sameAs(t, mustChallenge(t, s, "c1"), *orig, "a refused insert must leave the challenge with that id as it was")
}

func testChallengeUpdate(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	orig := challenge("c1", "alice", "d1", t0)
	insert(t, s, orig)

	boom := errors.New("boom")
	_, err := s.UpdateChallenge(t.Context(), "c1", func(c *storage.Challenge) error {
		sameAs(t, *c, *orig, "UpdateChallenge must call update with the stored challenge")
		c.Status, c.Attempts = storage.ChallengeFailed, 9
		return boom
	})
	if err != boom {
		t.Errorf("UpdateChallenge must return update's error as given; it returns %v", err)
	}
	sameAs(t, mustChallenge(t, s, "c1"), *orig, "when update fails, UpdateChallenge must store nothing")

	t1 := clk.Advance(time.Minute)
	got, err := s.UpdateChallenge(t.Context(), "c1", func(c *storage.Challenge) error {
		c.ID, c.User = "other", "mallory"
		c.Status, c.Channel, c.CodeHash, c.Sends, c.SentAt, c.UpdatedAt = storage.ChallengeSent, "email", []byte("hmac"), 1, t1, t1
		return nil
	})
	must(t, err, "UpdateChallenge")
	want := *orig
	want.Status, want.Channel, want.CodeHash, want.Sends, want.SentAt, want.UpdatedAt = storage.ChallengeSent, "email", []byte("hmac"), 1, t1, t1
	sameAs(t, got, want, "UpdateChallenge must store the update, its ID and User unchanged, and return the stored challenge")
	sameAs(t, mustChallenge(t, s, "c1"), want, "Challenge must return what UpdateChallenge stored")
	_, err = s.Challenge(t.Context(), "other")
	mustFail(t, err, storage.ErrNotFound, "Challenge of the id an update tried to give a challenge (the ID cannot change)")
	if n := challengeCount(t, s, "mallory", time.Time{}, 10); n != 0 {
		t.Errorf("the user of a challenge cannot be changed; Load counts %d challenges for the user an update named", n)
	}
	if n := challengeCount(t, s, "alice", time.Time{}, 10); n != 1 {
		t.Errorf("an updated challenge must stay its user's; Load counts %d challenges for alice, want 1", n)
	}
}

func testChallengeUpdateRace(t *testing.T, s storage.Store, clk *Clock) {
	insert(t, s, challenge("c1", "alice", "d1", clk.Now()))
	const n = 40
	for _, err := range race(n, func(int) error {
		_, err := s.UpdateChallenge(t.Context(), "c1", func(c *storage.Challenge) error {
			read := c.Attempts
			runtime.Gosched()
			c.Attempts = read + 1
			return nil
		})
		return err
	}) {
		must(t, err, "concurrent UpdateChallenge")
	}
	if got := mustChallenge(t, s, "c1").Attempts; got != n {
		t.Errorf("UpdateChallenge must be atomic: after %d concurrent increments, Attempts is %d", n, got)
	}

	// Of concurrent updates that each complete a verified challenge only
	// if it is still verified, exactly one wins.
	v := challenge("c2", "alice", "d2", clk.Now())
	v.Status = storage.ChallengeVerified
	insert(t, s, v)
	errDone := errors.New("already completed")
	wins := 0
	for _, err := range race(32, func(int) error {
		_, err := s.UpdateChallenge(t.Context(), "c2", func(c *storage.Challenge) error {
			if c.Status != storage.ChallengeVerified {
				return errDone
			}
			c.Status = storage.ChallengeCompleted
			return nil
		})
		return err
	}) {
		switch {
		case err == nil:
			wins++
		case err != errDone:
			t.Errorf("concurrent UpdateChallenge: unexpected error %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("exactly one of 32 concurrent updates completing a verified challenge must win; %d did", wins)
	}
}

func testChallengeOverride(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	insert(t, s, challenge("old", "alice", "d1", t0))
	sent := challenge("sent", "alice", "d3", t0)
	sent.Status = storage.ChallengeSent
	insert(t, s, sent)
	expired := challenge("expired", "alice", "d4", t0.Add(-2*time.Hour)) // pending, past ExpiresAt
	insert(t, s, expired)
	done := challenge("done", "alice", "d5", t0)
	done.Status = storage.ChallengeCompleted
	insert(t, s, done)
	insert(t, s, challenge("otherdev", "alice", "d2", t0))
	insert(t, s, challenge("bobs", "bob", "d1", t0))

	t1 := clk.Advance(time.Minute)
	for _, d := range []string{"d1", "d3", "d4", "d5"} {
		insert(t, s, challenge("new-"+d, "alice", d, t1))
	}
	const rule = "a new challenge must override the open challenges of the same user and device, and no others"
	checkStatus(t, s, "old", storage.ChallengeOverridden, rule+" (a pending one)")
	checkStatus(t, s, "sent", storage.ChallengeOverridden, rule+" (a sent one)")
	checkStatus(t, s, "expired", storage.ChallengePending, "a challenge that has ended (past its ExpiresAt) is left as it is: only open challenges that have not ended are overridden")
	checkStatus(t, s, "done", storage.ChallengeCompleted, rule+" (a completed one is not open)")
	checkStatus(t, s, "otherdev", storage.ChallengePending, rule+" (another device's)")
	checkStatus(t, s, "bobs", storage.ChallengePending, rule+" (another user's)")
	checkStatus(t, s, "new-d1", storage.ChallengePending, rule+" (the new one)")

	insert(t, s, challenge("nodev1", "alice", "", t1))
	insert(t, s, challenge("nodev2", "alice", "", t1))
	const rule2 = "a challenge without a DeviceID must override nothing"
	checkStatus(t, s, "nodev1", storage.ChallengePending, rule2)
	checkStatus(t, s, "new-d1", storage.ChallengePending, rule2)
	checkStatus(t, s, "otherdev", storage.ChallengePending, rule2)

	// Challenges opened again are open like any other.
	_, err := s.UpdateChallenge(t.Context(), "done", func(c *storage.Challenge) error { c.Status = storage.ChallengeSent; return nil })
	must(t, err, "UpdateChallenge reopening a challenge")
	failed := challenge("failed", "alice", "d6", t1)
	failed.Status = storage.ChallengeFailed
	insert(t, s, failed)
	insert(t, s, challenge("between", "alice", "d7", t1))
	commit(t, s, storage.Commit{User: "alice", Transition: &storage.Transition{ChallengeID: "failed",
		From: []storage.ChallengeStatus{storage.ChallengeFailed}, To: storage.ChallengePending, At: t1}}, "Commit of a transition reopening a challenge")
	t2 := clk.Advance(time.Minute)
	insert(t, s, challenge("newer-d5", "alice", "d5", t2))
	insert(t, s, challenge("newer-d6", "alice", "d6", t2))
	checkStatus(t, s, "done", storage.ChallengeOverridden, rule+" (one reopened by UpdateChallenge)")
	checkStatus(t, s, "new-d5", storage.ChallengeOverridden, rule)
	checkStatus(t, s, "failed", storage.ChallengeOverridden, rule+" (one reopened by a transition)")
}

func testChallengeTransition(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	orig := challenge("c1", "alice", "d1", t0)
	orig.Status = storage.ChallengeSent
	insert(t, s, orig)
	insert(t, s, challenge("cb", "bob", "d1", t0))

	t1 := clk.Advance(time.Minute)
	tr := func(id string, from ...storage.ChallengeStatus) *storage.Transition {
		return &storage.Transition{ChallengeID: id, From: from, To: storage.ChallengeVerified, At: t1}
	}
	full := func(user string, tr *storage.Transition) storage.Commit {
		c := loginCommit(t, profileOf(t, s, user), user, "d9", "", t1, "x:d9")
		c.Challenge = challenge("new-"+user, user, "d1", t1)
		c.Transition = tr
		return c
	}
	for _, r := range []struct {
		what string
		c    storage.Commit
		want error
	}{
		{"from a status the challenge is not in", full("alice", tr("c1", storage.ChallengePending)), storage.ErrConflict},
		{"of another user's challenge", full("bob", tr("c1", storage.ChallengeSent)), storage.ErrNotFound},
		{"of a challenge that does not exist", full("alice", tr("missing", storage.ChallengeSent)), storage.ErrNotFound},
	} {
		what := "Commit with a transition " + r.what
		ids := []string{"c1", "cb", "new-alice", "new-bob"}
		before := []snapshot{snap(t, s, "alice", []string{"x:d9"}, ids...), snap(t, s, "bob", nil)}
		if mustFail(t, s.Commit(t.Context(), r.c), r.want, what) {
			unchanged(t, before[0], snap(t, s, "alice", []string{"x:d9"}, ids...), what)
			unchanged(t, before[1], snap(t, s, "bob", nil), what)
		}
	}

	// A valid transition in a commit refused for another reason is not
	// applied either.
	insert(t, s, challenge("taken", "alice", "d7", t0))
	commit(t, s, loginCommit(t, profileOf(t, s, "alice"), "alice", "d8", "", t1, "x:d8"), "Commit of a login")
	base := profileOf(t, s, "alice") // loaded before d8 was restricted
	at := t1.Add(time.Second)
	restrict := profile.Change{Now: at, Restrict: &profile.Restriction{DeviceID: "d8", Until: at.Add(time.Hour), Actions: []string{"x"}}, Limits: profile.DefaultLimits}
	commit(t, s, storage.Commit{User: "alice", Profile: write(t, base, restrict)}, "Commit restricting d8")
	for _, r := range []struct {
		what string
		c    storage.Commit
		want error
	}{
		{"and a challenge whose id exists", storage.Commit{User: "alice", Transition: tr("c1", storage.ChallengeSent), Challenge: challenge("taken", "alice", "d6", t1)}, storage.ErrConflict},
		{"and a challenge over its limit", storage.Commit{User: "alice", Transition: tr("c1", storage.ChallengeSent), Challenge: challenge("c-limited", "alice", "d6", t1),
			ChallengeLimit: &storage.ChallengeLimit{Since: t0, Max: 1}}, storage.ErrLimited},
		{"and a profile change that cannot be applied", storage.Commit{User: "alice", Transition: tr("c1", storage.ChallengeSent),
			Profile: write(t, base, profile.Change{Now: at, Forget: "d8", Limits: profile.DefaultLimits})}, storage.ErrConflict},
	} {
		what := "Commit with a valid transition " + r.what
		before := snap(t, s, "alice", []string{"x:d8"}, "c1", "taken", "c-limited")
		if mustFail(t, s.Commit(t.Context(), r.c), r.want, what) {
			unchanged(t, before, snap(t, s, "alice", []string{"x:d8"}, "c1", "taken", "c-limited"), what)
		}
	}

	ev := event("alice", 2, t1, true)
	commit(t, s, storage.Commit{User: "alice", Event: ev, History: history, Transition: tr("c1", storage.ChallengePending, storage.ChallengeSent)}, "Commit with a transition")
	want := *orig
	want.Status, want.UpdatedAt = storage.ChallengeVerified, t1
	sameAs(t, mustChallenge(t, s, "c1"), want, "a transition must set the challenge's Status to To and UpdatedAt to At, and change nothing else")
	if got := eventIDs(allEvents(t, s, "alice")); !slices.Contains(got, ev.ID) {
		t.Errorf("the rest of a commit with a transition must be written; Events returns %q", got)
	}

	// The transition is applied first; a challenge of the same device in
	// the commit then overrides the moved one if it is still open.
	for _, c := range []struct {
		to   storage.ChallengeStatus
		want storage.ChallengeStatus
	}{{storage.ChallengeVerified, storage.ChallengeOverridden}, {storage.ChallengeFailed, storage.ChallengeFailed}} {
		id, dev := "moved-"+string(c.to), "dev-"+string(c.to)
		m := challenge(id, "alice", dev, t1)
		m.Status = storage.ChallengeSent
		insert(t, s, m)
		commit(t, s, storage.Commit{User: "alice", Challenge: challenge("after-"+id, "alice", dev, t1),
			Transition: &storage.Transition{ChallengeID: id, From: []storage.ChallengeStatus{storage.ChallengeSent}, To: c.to, At: t1}},
			"Commit with a transition and a challenge of the same device")
		checkStatus(t, s, id, c.want, fmt.Sprintf("a transition must be applied before the commit's challenge, which then overrides the moved challenge only if it is still open (moved to %s)", c.to))
	}
}

func testChallengeTransitionRace(t *testing.T, s storage.Store, clk *Clock) {
	c := challenge("c1", "alice", "d1", clk.Now())
	c.Status = storage.ChallengeVerified
	insert(t, s, c)
	at := clk.Advance(time.Second)
	const n = 32
	wins := 0
	for _, err := range race(n, func(i int) error {
		return s.Commit(t.Context(), storage.Commit{User: "alice", Event: event("alice", i, at, true), History: history,
			Transition: &storage.Transition{ChallengeID: "c1", From: []storage.ChallengeStatus{storage.ChallengeVerified}, To: storage.ChallengeCompleted, At: at}})
	}) {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, storage.ErrConflict):
			t.Errorf("the losers of concurrent commits of one transition must fail with ErrConflict; one failed with %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("exactly one of %d concurrent commits making the same transition must succeed; %d did", n, wins)
	}
	if evs := allEvents(t, s, "alice"); len(evs) != 1 {
		t.Errorf("the commits that lost a transition race must write nothing; Events returns %d events, want 1", len(evs))
	}
	checkStatus(t, s, "c1", storage.ChallengeCompleted, "the winning transition must be stored")
}

func testChallengeCount(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	// Inserted out of creation order.
	for _, i := range []int{4, 0, 3, 1, 2} {
		insert(t, s, challenge(fmt.Sprintf("c%d", i), "alice", fmt.Sprintf("d%d", i), t0.Add(time.Duration(i)*20*time.Minute)))
	}
	insert(t, s, challenge("b", "bob", "d1", t0.Add(time.Hour)))
	since := t0.Add(40 * time.Minute)
	if got := challengeCount(t, s, "alice", since, 10); got != 3 {
		t.Errorf("Load must count the user's challenges created since ChallengeQuery.Since (by CreatedAt, one at exactly Since included); it counts %d, want 3", got)
	}
	if got := challengeCount(t, s, "alice", since, 2); got != 2 {
		t.Errorf("Load must count challenges up to ChallengeQuery.Max (2); it counts %d", got)
	}
	if got := challengeCount(t, s, "bob", t0, 10); got != 1 {
		t.Errorf("Load must count the user's challenges only; for bob it counts %d, want 1", got)
	}
}

func testChallengeLimit(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	limit := &storage.ChallengeLimit{Since: t0, Max: 2}
	insert(t, s, challenge("before", "alice", "d0", t0.Add(-time.Millisecond)))
	for i := range 2 {
		c := challenge(fmt.Sprintf("c%d", i), "alice", fmt.Sprintf("d%d", i), t0.Add(time.Duration(i)*time.Minute))
		commit(t, s, storage.Commit{User: "alice", ChallengeLimit: limit, Challenge: c},
			"Commit of a challenge within its limit (a challenge created before ChallengeLimit.Since does not count)")
	}
	c := loginCommit(t, profileOf(t, s, "alice"), "alice", "d9", "", t0, "x:d9")
	c.Challenge, c.ChallengeLimit = challenge("c2", "alice", "d1", t0.Add(2*time.Minute)), limit
	before := snap(t, s, "alice", []string{"x:d9"}, "c1", "c2")
	const what = "Commit of a challenge when the user has ChallengeLimit.Max challenges since Since (one at exactly Since counts)"
	if mustFail(t, s.Commit(t.Context(), c), storage.ErrLimited, what) {
		unchanged(t, before, snap(t, s, "alice", []string{"x:d9"}, "c1", "c2"), what)
	}
	commit(t, s, storage.Commit{User: "bob", ChallengeLimit: limit, Challenge: challenge("b", "bob", "d1", t0)}, "Commit of another user's challenge (the limit is per user)")
}

func testChallengeLimitRace(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	const n, limit = 32, 5
	ok, limited := 0, 0
	for _, err := range race(n, func(i int) error {
		return s.Commit(t.Context(), storage.Commit{User: "alice", ChallengeLimit: &storage.ChallengeLimit{Since: t0, Max: limit},
			Challenge: challenge(fmt.Sprintf("c%d", i), "alice", fmt.Sprintf("d%d", i), t0)})
	}) {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, storage.ErrLimited):
			limited++
		default:
			t.Errorf("a commit over its challenge limit must fail with ErrLimited; one failed with %v", err)
		}
	}
	if ok != limit || limited != n-limit {
		t.Errorf("the challenge limit must be checked atomically with the insert: of %d concurrent commits under a limit of %d, %d succeeded and %d were limited", n, limit, ok, limited)
	}
	if got := challengeCount(t, s, "alice", t0, 100); got != limit {
		t.Errorf("concurrent commits must never insert more challenges than their limit (%d); Load counts %d", limit, got)
	}
}

// ---------------------------------------------------------------------------
// factors

func testFactorUpsert(t *testing.T, s storage.Store, clk *Clock) {
	_, err := s.Factor(t.Context(), "alice", "totp")
	mustFail(t, err, storage.ErrNotFound, "Factor of a factor that does not exist")

	want := factor("alice", "totp", clk.Now())
	got, err := s.UpdateFactor(t.Context(), "alice", "totp", func(f *storage.Factor) error {
		sameAs(t, *f, storage.Factor{User: "alice", Kind: "totp"}, "UpdateFactor of a factor that does not exist must call update with a zero Factor with only User and Kind set")
		*f = want
		f.Secret = slices.Clone(want.Secret)
		return nil
	})
	must(t, err, "UpdateFactor creating a factor")
	sameAs(t, got, want, "UpdateFactor must return the factor it stored")
	stored, err := s.Factor(t.Context(), "alice", "totp")
	must(t, err, "Factor")
	sameAs(t, stored, want, "Factor must return the factor UpdateFactor stored, field for field")

	at := clk.Advance(time.Minute)
	got, err = s.UpdateFactor(t.Context(), "alice", "totp", func(f *storage.Factor) error {
		sameAs(t, *f, want, "UpdateFactor must call update with the stored factor")
		f.LastStep, f.Failures, f.UpdatedAt = 59_000_124, 0, at
		return nil
	})
	must(t, err, "UpdateFactor")
	want.LastStep, want.Failures, want.UpdatedAt = 59_000_124, 0, at
	sameAs(t, got, want, "UpdateFactor must store the update and return it")

	putFactor(t, s, factor("alice", "other", at))
	putFactor(t, s, factor("bob", "totp", at))
	stored, err = s.Factor(t.Context(), "alice", "totp")
	must(t, err, "Factor")
	sameAs(t, stored, want, "factors must be kept per user and kind: writing another kind, or another user's, must leave this one")
}

func testFactorUpdateError(t *testing.T, s storage.Store, clk *Clock) {
	boom := errors.New("boom")
	_, err := s.UpdateFactor(t.Context(), "alice", "totp", func(f *storage.Factor) error {
		f.Secret, f.Confirmed = []byte("x"), true
		return boom
	})
	if err != boom {
		t.Errorf("UpdateFactor must return update's error as given; it returns %v", err)
	}
	_, err = s.Factor(t.Context(), "alice", "totp")
	mustFail(t, err, storage.ErrNotFound, "Factor after an update that failed on no factor (nothing stored)")

	want := factor("alice", "totp", clk.Now())
	putFactor(t, s, want)
	_, err = s.UpdateFactor(t.Context(), "alice", "totp", func(f *storage.Factor) error {
		f.Secret[0], f.Confirmed, f.LastStep = 'X', false, 1
		return boom
	})
	if err != boom {
		t.Errorf("UpdateFactor must return update's error as given; it returns %v", err)
	}
	got, err := s.Factor(t.Context(), "alice", "totp")
	must(t, err, "Factor")
	sameAs(t, got, want, "when update fails, UpdateFactor must store nothing (update works on a copy)")
}

func testFactorDelete(t *testing.T, s storage.Store, clk *Clock) {
	at := clk.Now()
	putFactor(t, s, factor("alice", "totp", at))
	putFactor(t, s, factor("alice", "other", at))
	putFactor(t, s, factor("bob", "totp", at))
	for range 2 {
		got, err := s.UpdateFactor(t.Context(), "alice", "totp", func(*storage.Factor) error { return storage.ErrDelete })
		if err != nil {
			t.Errorf("UpdateFactor whose update returns ErrDelete must delete the factor and return nil; it returns %v", err)
		}
		sameAs(t, got, storage.Factor{}, "UpdateFactor whose update returns ErrDelete must return a zero Factor")
		_, err = s.Factor(t.Context(), "alice", "totp")
		mustFail(t, err, storage.ErrNotFound, "Factor of a deleted factor")
	}
	for _, k := range [][2]string{{"alice", "other"}, {"bob", "totp"}} {
		got, err := s.Factor(t.Context(), k[0], k[1])
		must(t, err, "Factor of a factor another deletion must leave")
		sameAs(t, got, factor(k[0], k[1], at), "deleting a factor must leave the user's other kinds and other users' factors")
	}
}

func testFactorFixed(t *testing.T, s storage.Store, clk *Clock) {
	putFactor(t, s, factor("alice", "totp", clk.Now()))
	got, err := s.UpdateFactor(t.Context(), "alice", "totp", func(f *storage.Factor) error {
		f.User, f.Kind, f.LastStep = "mallory", "other", 7
		return nil
	})
	must(t, err, "UpdateFactor")
	if got.User != "alice" || got.Kind != "totp" || got.LastStep != 7 {
		t.Errorf("UpdateFactor must store the update with the factor's User and Kind unchanged; it returns User %q, Kind %q, LastStep %d", got.User, got.Kind, got.LastStep)
	}
	for _, k := range [][2]string{{"mallory", "other"}, {"mallory", "totp"}, {"alice", "other"}} {
		_, err := s.Factor(t.Context(), k[0], k[1])
		mustFail(t, err, storage.ErrNotFound, fmt.Sprintf("Factor %s/%s (an update cannot move a factor to another user or kind)", k[0], k[1]))
	}
}

func testFactorRace(t *testing.T, s storage.Store, clk *Clock) {
	const n = 32
	steps := make([]int64, n)
	for i, err := range race(n, func(i int) error {
		// Each reads the step and stores the next, as a code check does;
		// the first creates the factor.
		f, err := s.UpdateFactor(t.Context(), "alice", "totp", func(f *storage.Factor) error {
			read := f.LastStep
			runtime.Gosched()
			f.LastStep = read + 1
			return nil
		})
		steps[i] = f.LastStep
		return err
	}) {
		must(t, err, fmt.Sprintf("concurrent UpdateFactor %d", i))
	}
	slices.Sort(steps)
	if distinct := len(slices.Compact(steps)); distinct != n {
		t.Errorf("UpdateFactor must be atomic: %d concurrent updates returned only %d distinct steps (two read the same factor)", n, distinct)
	}
	got, err := s.Factor(t.Context(), "alice", "totp")
	must(t, err, "Factor")
	if got.LastStep != n {
		t.Errorf("no concurrent update of a factor may be lost: after %d increments, LastStep is %d", n, got.LastStep)
	}
}

// ---------------------------------------------------------------------------
// secrets

func testSecretFirstWins(t *testing.T, s storage.Store, clk *Clock) {
	const n = 16
	got := make([][]byte, n)
	for i, err := range race(n, func(i int) error {
		var err error
		got[i], err = s.Secret(t.Context(), "hmac", []byte(fmt.Sprintf("candidate-%02d", i)))
		return err
	}) {
		must(t, err, fmt.Sprintf("concurrent Secret %d", i))
	}
	if !strings.HasPrefix(string(got[0]), "candidate-") {
		t.Errorf("Secret must store and return one of the values given; it returns %q", got[0])
	}
	for i := range n {
		if string(got[i]) != string(got[0]) {
			t.Errorf("concurrent calls of Secret must all return the one value stored first; they returned %q and %q", got[0], got[i])
			break
		}
	}
	again, err := s.Secret(t.Context(), "hmac", []byte("late"))
	must(t, err, "Secret")
	if string(again) != string(got[0]) {
		t.Errorf("Secret must keep returning the value stored first; it returns %q, want %q", again, got[0])
	}
}

func testSecretByName(t *testing.T, s storage.Store, clk *Clock) {
	for _, name := range []string{"a", "b"} {
		v, err := s.Secret(t.Context(), name, []byte("value-"+name))
		must(t, err, "Secret")
		if string(v) != "value-"+name {
			t.Errorf("Secret of a name without one must store and return the value given; it returns %q", v)
		}
	}
	v, err := s.Secret(t.Context(), "a", nil)
	must(t, err, "Secret")
	if string(v) != "value-a" {
		t.Errorf("secrets must be kept by name; Secret of \"a\" returns %q", v)
	}
}

// ---------------------------------------------------------------------------
// erasure

func testDeleteUser(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	const n = "198.51.100.1"
	login(t, s, "alice", "shared", t0, "x:shared")
	login(t, s, "alice", "own", t0.Add(time.Millisecond), "x:own")
	login(t, s, "bob", "shared", t0.Add(2*time.Millisecond), "x:shared")
	addFailure(t, s, storage.Failure{User: "alice", Time: t0, Network: n}, failureLimits(t0))
	addFailure(t, s, storage.Failure{User: "bob", Time: t0, Network: n}, failureLimits(t0))
	insert(t, s, challenge("c1", "alice", "own", t0))
	insert(t, s, challenge("cb", "bob", "shared", t0))
	putFactor(t, s, factor("alice", "totp", t0))
	putFactor(t, s, factor("bob", "totp", t0))
	bobBefore := snap(t, s, "bob", []string{"x:shared"}, "cb")

	must(t, s.DeleteUser(t.Context(), "alice"), "DeleteUser")

	st, err := s.Load(t.Context(), storage.LoadRequest{User: "alice", FingerprintKey: noKey,
		Failures:   &storage.FailureQuery{MaxUser: 100, Network: n, MaxNetworkUsers: 100},
		Challenges: &storage.ChallengeQuery{Max: 100}})
	must(t, err, "Load of a deleted user")
	sameAs(t, st.Profile, profile.Profile{User: "alice"}, "DeleteUser must erase the user's profile")
	if len(st.Hashes) != 0 {
		t.Errorf("DeleteUser must erase the user's hashes; Load returns %v", st.Hashes)
	}
	if st.Failures.User != 0 || st.Failures.NetworkUsers != 1 {
		t.Errorf("DeleteUser must erase the user's failures, in the networks' lists too (another user's stay); Load counts %+v, want User 0 and NetworkUsers 1", st.Failures)
	}
	if st.Challenges != 0 {
		t.Errorf("DeleteUser must erase the user's challenges; Load counts %d", st.Challenges)
	}
	if evs := allEvents(t, s, "alice"); len(evs) != 0 {
		t.Errorf("DeleteUser must erase the user's history; Events returns %q", eventIDs(evs))
	}
	_, err = s.Challenge(t.Context(), "c1")
	mustFail(t, err, storage.ErrNotFound, "Challenge of a deleted user's challenge")
	_, err = s.Factor(t.Context(), "alice", "totp")
	mustFail(t, err, storage.ErrNotFound, "Factor of a deleted user's factor")
	if d, ok := globalDevice(t, s, "shared", "x:shared"); !ok {
		t.Errorf("DeleteUser must keep a device another user still has in its Users")
	} else if names := userNames(d.Users); !slices.Equal(names, []string{"bob"}) {
		t.Errorf("DeleteUser must take the user out of the Users of the devices of their profile; the shared device's Users are %q, want [bob]", names)
	}
	if ids := deviceIDs(findDevices(t, s, "x:own")); len(ids) != 0 {
		t.Errorf("DeleteUser must delete a device of the user's profile left with no user, and it must no longer be found by its keys; Load finds %q", ids)
	}
	bobAfter := snap(t, s, "bob", []string{"x:shared"}, "cb")
	bobBefore.Devices, bobAfter.Devices = nil, nil // alice left the shared device's Users
	unchanged(t, bobBefore, bobAfter, "DeleteUser of another user")
	if c := failureCounts(t, s, "bob", n, time.Time{}); c.User != 1 {
		t.Errorf("DeleteUser must keep other users' failures; Load counts %d of bob's", c.User)
	}
	if _, err := s.Factor(t.Context(), "bob", "totp"); err != nil {
		t.Errorf("DeleteUser must keep other users' factors; Factor returns %v", err)
	}

	commit(t, s, storage.Commit{User: "carol", Challenge: challenge("c1", "carol", "d1", t0)},
		"Commit of a challenge with the id of an erased one (no challenge with the id exists any more)")

	must(t, s.DeleteUser(t.Context(), "alice"), "DeleteUser of a user deleted already (not an error)")
	must(t, s.DeleteUser(t.Context(), "nobody"), "DeleteUser of a user the store never saw (not an error)")
}

// ---------------------------------------------------------------------------
// purge

func testPurgeOld(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	cut, later := t0.Add(time.Hour), t0.Add(2*time.Hour)
	lim := failureLimits(later)
	login(t, s, "alice", "d1", t0, "x:d1")
	putFactor(t, s, factor("alice", "totp", t0))
	for i, at := range []time.Time{t0, cut, later} {
		name := []string{"old", "cut", "new"}[i]
		ev := event("alice", 0, at, true)
		ev.ID = "e-" + name
		commit(t, s, storage.Commit{User: "alice", Event: ev, History: history, Challenge: challenge("c-"+name, "alice", "dev-"+name, at)}, "Commit of an event and a challenge")
		addFailure(t, s, storage.Failure{User: "alice", Time: at}, lim)
	}
	clk.Advance(3 * time.Hour)
	p := profileOf(t, s, "alice")
	hashes := userHashes(t, s, "alice")

	n, err := s.Purge(t.Context(), storage.PurgeRequest{EventsBefore: cut, FailuresBefore: cut, ChallengesBefore: cut, Batch: 100})
	must(t, err, "Purge")
	if n != 4 {
		t.Errorf("Purge must return how many records it dropped: the login event, one more event, one failure and one challenge before the time; it returns %d, want 4", n)
	}
	if got := eventIDs(allEvents(t, s, "alice")); !slices.Equal(got, []string{"e-new", "e-cut"}) {
		t.Errorf("Purge must drop the events before EventsBefore and keep one at exactly the time; Events returns %q, want [e-new e-cut]", got)
	}
	if got := failureCounts(t, s, "alice", "", time.Time{}).User; got != 2 {
		t.Errorf("Purge must drop the failures before FailuresBefore and keep one at exactly the time; Load counts %d, want 2", got)
	}
	_, err = s.Challenge(t.Context(), "c-old")
	mustFail(t, err, storage.ErrNotFound, "Challenge of a challenge created before ChallengesBefore, after Purge")
	for _, id := range []string{"c-cut", "c-new"} {
		if _, err := s.Challenge(t.Context(), id); err != nil {
			t.Errorf("Purge must keep a challenge created at or after ChallengesBefore; Challenge %s returns %v", id, err)
		}
	}
	if n, err := s.Purge(t.Context(), storage.PurgeRequest{EventsBefore: cut, FailuresBefore: cut, ChallengesBefore: cut, Batch: 100}); err != nil || n != 0 {
		t.Errorf("Purge with nothing left to drop must return 0; it returns %d, %v", n, err)
	}
	commit(t, s, storage.Commit{User: "bob", Challenge: challenge("c-old", "bob", "d1", later)},
		"Commit of a challenge with the id of a purged one (no challenge with the id exists any more)")

	// Each kind by its own time.
	n, err = s.Purge(t.Context(), storage.PurgeRequest{EventsBefore: later.Add(time.Millisecond), Batch: 100})
	must(t, err, "Purge of events")
	if n != 2 || len(allEvents(t, s, "alice")) != 0 || failureCounts(t, s, "alice", "", time.Time{}).User != 2 || challengeCount(t, s, "alice", time.Time{}, 10) != 2 {
		t.Errorf("Purge must drop each kind of record by its own time: with only EventsBefore set, it must drop the 2 events left and no failure or challenge; it returned %d", n)
	}

	sameAs(t, profileOf(t, s, "alice"), p, "Purge must keep the user's profile")
	sameAs(t, userHashes(t, s, "alice"), hashes, "Purge must keep the user's hashes")
	if _, err := s.Factor(t.Context(), "alice", "totp"); err != nil {
		t.Errorf("Purge must keep factors, however old; Factor returns %v", err)
	}
	if ids := deviceIDs(findDevices(t, s, "x:d1")); !slices.Equal(ids, []string{"d1"}) {
		t.Errorf("Purge must keep devices; Load finds %q", ids)
	}
}

func testPurgeBatches(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	lim := failureLimits(t0)
	for i := range 4 {
		commit(t, s, storage.Commit{User: "alice", Event: event("alice", i, t0, false), History: history}, "Commit of an event")
	}
	insert(t, s, challenge("c1", "alice", "d1", t0))
	for i := range 3 {
		addFailure(t, s, storage.Failure{User: "bob", Time: t0.Add(time.Duration(i) * time.Millisecond)}, lim)
	}
	for i := range 2 {
		commit(t, s, storage.Commit{User: "bob", Event: event("bob", i, t0, false), History: history}, "Commit of an event")
	}
	before := clk.Advance(time.Hour)
	r := storage.PurgeRequest{EventsBefore: before, FailuresBefore: before, ChallengesBefore: before, Batch: 3}
	var got []int
	for range 10 {
		n, err := s.Purge(t.Context(), r)
		must(t, err, "Purge")
		got = append(got, n)
		if n < r.Batch {
			break
		}
	}
	if !slices.Equal(got, []int{3, 3, 3, 1}) {
		t.Errorf("Purge must drop at most Batch records a call, and fewer only when nothing is left: of 10 records in batches of 3, the calls returned %v, want [3 3 3 1]", got)
	}
}

func testPurgeDrain(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	const users, shared = 40, "198.51.100.200"
	t1 := t0.Add(2 * time.Hour)
	lim := failureLimits(t1)
	for i := range users {
		u := fmt.Sprintf("u%02d", i)
		own := fmt.Sprintf("10.0.0.%d", i)
		for j, at := range []time.Time{t0, t0.Add(time.Minute), t1} {
			commit(t, s, storage.Commit{User: u, Event: event(u, j, at, j%2 == 0), History: history}, "Commit of an event")
			addFailure(t, s, storage.Failure{User: u, Time: at, Network: shared}, lim)
			if j < 2 {
				addFailure(t, s, storage.Failure{User: u, Time: at, Network: own}, lim)
			}
		}
		insert(t, s, challenge(u+"-old", u, "d1", t0))
		insert(t, s, challenge(u+"-new", u, "d2", t1))
	}
	cut := t0.Add(time.Hour)
	r := storage.PurgeRequest{EventsBefore: cut, FailuresBefore: cut, ChallengesBefore: cut, Batch: 7}
	calls, total := 0, 0
	for ; calls < 1000; calls++ {
		n, err := s.Purge(t.Context(), r)
		must(t, err, "Purge")
		if n > r.Batch {
			t.Errorf("Purge must drop at most Batch (%d) records a call; it dropped %d", r.Batch, n)
		}
		total += n
		if n < r.Batch {
			break
		}
	}
	if total < users*7 {
		t.Errorf("calling Purge until it returns fewer than Batch must drop every record before the times: at least %d (2 events, 4 failures and a challenge per user); the calls dropped %d", users*7, total)
	}
	bad := 0
	for i := range users {
		u := fmt.Sprintf("u%02d", i)
		evs := eventIDs(allEvents(t, s, u))
		own := failureCounts(t, s, u, fmt.Sprintf("10.0.0.%d", i), time.Time{})
		_, errOld := s.Challenge(t.Context(), u+"-old")
		_, errNew := s.Challenge(t.Context(), u+"-new")
		if !slices.Equal(evs, []string{u + "-2"}) || own.User != 1 || own.NetworkUsers != 0 || !errors.Is(errOld, storage.ErrNotFound) || errNew != nil {
			bad++
			if bad == 1 {
				t.Errorf("after calling Purge until it returns fewer than Batch, %s must have only its new event, failure and challenge; it has events %q, %d failures, %d users failing from its old network, old challenge: %v, new challenge: %v",
					u, evs, own.User, own.NetworkUsers, errOld, errNew)
			}
		}
	}
	if bad > 1 {
		t.Errorf("%d users in all kept records Purge must drop, or lost records it must keep", bad)
	}
	if got := failureCounts(t, s, "x", shared, time.Time{}).NetworkUsers; got != users {
		t.Errorf("Purge must keep the users who failed from a network after FailuresBefore; Load counts %d, want %d", got, users)
	}
}

// ---------------------------------------------------------------------------
// validation

func testValidationCommits(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	valid := func() storage.Commit {
		c := loginCommit(t, profile.Profile{User: "alice"}, "alice", "d1", "", t0, "x:v")
		c.Event.User = "alice"
		c.Challenge = challenge("cv", "alice", "d1", t0)
		return c
	}
	for _, c := range []struct {
		what string
		edit func(*storage.Commit)
	}{
		{"without a user", func(c *storage.Commit) { c.User = "" }},
		{"with an event of another user", func(c *storage.Commit) { c.Event.User = "bob" }},
		{"with a challenge of another user", func(c *storage.Commit) { c.Challenge.User = "bob" }},
		{"with a profile of another user", func(c *storage.Commit) { c.Profile.New.User = "bob" }},
		{"with an event and no positive History.Max", func(c *storage.Commit) { c.History = storage.HistoryLimits{} }},
		{"with a device without an id", func(c *storage.Commit) { c.Device.Device.ID = "" }},
		{"with a device without a positive MaxUsers", func(c *storage.Commit) { c.Device.MaxUsers = 0 }},
		{"with hashes without a device id", func(c *storage.Commit) { c.Hashes.DeviceID = "" }},
		{"with a challenge without an id", func(c *storage.Commit) { c.Challenge.ID = "" }},
		{"with a challenge limit without a positive Max", func(c *storage.Commit) { c.ChallengeLimit = &storage.ChallengeLimit{Since: t0} }},
		{"with a challenge limit without a challenge", func(c *storage.Commit) {
			c.Challenge, c.ChallengeLimit = nil, &storage.ChallengeLimit{Since: t0, Max: 5}
		}},
		{"with a transition without a challenge id", func(c *storage.Commit) {
			c.Transition = &storage.Transition{From: []storage.ChallengeStatus{storage.ChallengePending}, To: storage.ChallengeSent}
		}},
		{"with a transition without a status to move from", func(c *storage.Commit) {
			c.Transition = &storage.Transition{ChallengeID: "cv", To: storage.ChallengeSent}
		}},
		{"with a profile change without positive limits", func(c *storage.Commit) { c.Profile.Change.Limits = profile.Limits{Devices: 32} }},
	} {
		cm := valid()
		c.edit(&cm)
		what := "Commit " + c.what
		before := []snapshot{snap(t, s, "alice", []string{"x:v"}, "cv"), snap(t, s, "bob", nil)}
		if mustFail(t, s.Commit(t.Context(), cm), storage.ErrInvalid, what) {
			unchanged(t, before[0], snap(t, s, "alice", []string{"x:v"}, "cv"), what)
			unchanged(t, before[1], snap(t, s, "bob", nil), what)
		}
	}
	commit(t, s, valid(), "the valid commit the invalid ones were made from")
}

func testValidationRequests(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	for _, r := range []struct {
		what string
		r    storage.LoadRequest
	}{
		{"without a user", storage.LoadRequest{}},
		{"with device keys and no positive MaxCandidates", storage.LoadRequest{User: "alice", FingerprintKey: noKey, DeviceKeys: storage.Keys("x:a")}},
		{"with a failure query without a positive MaxUser", storage.LoadRequest{User: "alice", Failures: &storage.FailureQuery{MaxNetworkUsers: 5}}},
		{"with a failure query without a positive MaxNetworkUsers", storage.LoadRequest{User: "alice", Failures: &storage.FailureQuery{MaxUser: 5}}},
		{"with a failure query with a negative MaxNetworkUnknown", storage.LoadRequest{User: "alice", Failures: &storage.FailureQuery{MaxUser: 5, MaxNetworkUsers: 5, MaxNetworkUnknown: -1}}},
		{"with a failure query with a negative MaxCampaignUsers", storage.LoadRequest{User: "alice", Failures: &storage.FailureQuery{MaxUser: 5, MaxNetworkUsers: 5, MaxCampaignUsers: -1}}},
		{"with a failure query of the network storage.CampaignKey", storage.LoadRequest{User: "alice", Failures: &storage.FailureQuery{MaxUser: 5, Network: storage.CampaignKey, MaxNetworkUsers: 5}}},
		{"with a challenge query without a positive Max", storage.LoadRequest{User: "alice", Challenges: &storage.ChallengeQuery{Since: t0}}},
	} {
		_, err := s.Load(t.Context(), r.r)
		mustFail(t, err, storage.ErrInvalid, "Load "+r.what)
	}

	const n = "198.51.100.1"
	ok := failureLimits(t0)
	for _, c := range []struct {
		what string
		f    storage.Failure
		lim  storage.FailureLimits
	}{
		{"without a user", storage.Failure{Time: t0, Network: n}, ok},
		{"without a positive Keep", storage.Failure{User: "alice", Time: t0, Network: n}, storage.FailureLimits{MaxUser: 5, MaxNetworkUsers: 5}},
		{"without a positive MaxUser", storage.Failure{User: "alice", Time: t0, Network: n}, storage.FailureLimits{Keep: time.Hour, MaxNetworkUsers: 5}},
		{"without a positive MaxNetworkUsers", storage.Failure{User: "alice", Time: t0, Network: n}, storage.FailureLimits{Keep: time.Hour, MaxUser: 5}},
		{"with a negative MaxCampaignUsers", storage.Failure{User: "alice", Time: t0, Network: n, UnknownUser: true}, storage.FailureLimits{Keep: time.Hour, MaxUser: 5, MaxNetworkUsers: 5, MaxCampaignUsers: -1}},
		{"with a MaxCampaignUsers and no positive CampaignPerNetwork", storage.Failure{User: "alice", Time: t0, Network: n, UnknownUser: true}, storage.FailureLimits{Keep: time.Hour, MaxUser: 5, MaxNetworkUsers: 5, MaxCampaignUsers: 5}},
		{"from the network storage.CampaignKey", storage.Failure{User: "alice", Time: t0, Network: storage.CampaignKey, UnknownUser: true}, ok},
	} {
		what := "AddFailure " + c.what
		if mustFail(t, s.AddFailure(t.Context(), c.f, c.lim), storage.ErrInvalid, what) {
			if got := failureCounts(t, s, "alice", n, time.Time{}); got != (storage.FailureCounts{}) {
				t.Errorf("%s must write nothing; Load counts %+v", what, got)
			}
			if got := campaignCount(t, s, time.Time{}, 100); got != 0 {
				t.Errorf("%s must write nothing; Load counts %d names in the campaign list", what, got)
			}
		}
	}

	commit(t, s, storage.Commit{User: "alice", Event: event("alice", 1, t0, true), History: history}, "Commit of an event")
	later := clk.Advance(time.Hour)
	for _, b := range []int{0, -1} {
		_, err := s.Purge(t.Context(), storage.PurgeRequest{EventsBefore: later, Batch: b})
		if mustFail(t, err, storage.ErrInvalid, fmt.Sprintf("Purge with Batch %d", b)) && len(allEvents(t, s, "alice")) != 1 {
			t.Errorf("Purge with Batch %d must drop nothing", b)
		}
	}
}

// ---------------------------------------------------------------------------
// values

func testValuesInputs(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	c := loginCommit(t, profile.Profile{User: "alice"}, "alice", "d1", "", t0, "x:a", "x:b")
	c.Event = event("alice", 1, t0, true)
	c.Challenge = challenge("c1", "alice", "d1", t0)
	c.Challenge.CodeHash = []byte("code")
	c.Hashes.Hashes = []string{"h1", "h2"}
	commit(t, s, c, "Commit")
	create := []byte("secret-value")
	_, err := s.Secret(t.Context(), "k", create)
	must(t, err, "Secret")

	// The caller's values change after the calls.
	c.Event.Reasons[0] = "changed"
	c.Challenge.Reasons[0], c.Challenge.CodeHash[0], c.Challenge.Attempt.Reasons[0] = "changed", 'X', "changed"
	c.Device.Device.Hashes[0], c.Device.Device.Keys[0] = "changed", "x:changed"
	c.Hashes.Hashes[0] = "changed"
	create[0] = 'X'

	const rule = "a store must not keep a slice the caller passed in"
	sameAs(t, allEvents(t, s, "alice")[0], *event("alice", 1, t0, true), "%s (Event.Reasons)", rule)
	want := challenge("c1", "alice", "d1", t0)
	want.CodeHash = []byte("code")
	sameAs(t, mustChallenge(t, s, "c1"), *want, "%s (Challenge.Reasons, CodeHash, Attempt.Reasons)", rule)
	if d, ok := globalDevice(t, s, "d1", "x:a"); !ok {
		t.Errorf("%s: the device must be found by the key it was written with", rule)
	} else if !slices.Equal(d.Keys, []string{"x:a", "x:b"}) || !slices.Equal(d.Hashes, hashesOf([]string{"x:a", "x:b"})) {
		t.Errorf("%s (Device.Hashes and Keys): the device has Hashes %q and Keys %q", rule, d.Hashes, d.Keys)
	}
	if ids := deviceIDs(findDevices(t, s, "x:changed")); len(ids) != 0 {
		t.Errorf("%s: a store must index the keys it was given, not the caller's later edits; Load finds %q by an edited key", rule, ids)
	}
	sameAs(t, userHashes(t, s, "alice")["d1"], []string{"h1", "h2"}, "%s (DeviceHashes.Hashes)", rule)
	v, err := s.Secret(t.Context(), "k", nil)
	must(t, err, "Secret")
	if string(v) != "secret-value" {
		t.Errorf("%s (Secret's create): Secret returns %q", rule, v)
	}
}

func testValuesOutputs(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	commit(t, s, storage.Commit{User: "alice", Event: event("alice", 1, t0, true), History: history}, "Commit of an event")
	ch := challenge("c1", "alice", "d1", t0)
	ch.CodeHash = []byte("code")
	insert(t, s, ch)
	putFactor(t, s, factor("alice", "totp", t0))
	_, err := s.Secret(t.Context(), "k", []byte("secret-value"))
	must(t, err, "Secret")

	const rule = "a store must return copies, not the slices it keeps"
	evs := allEvents(t, s, "alice")
	evs[0].Reasons[0] = "mutated"
	sameAs(t, allEvents(t, s, "alice")[0], *event("alice", 1, t0, true), "%s (Events)", rule)

	got := mustChallenge(t, s, "c1")
	got.Reasons[0], got.CodeHash[0], got.Attempt.Reasons[0] = "mutated", 'X', "mutated"
	sameAs(t, mustChallenge(t, s, "c1"), *ch, "%s (Challenge)", rule)
	got, err = s.UpdateChallenge(t.Context(), "c1", func(*storage.Challenge) error { return nil })
	must(t, err, "UpdateChallenge")
	got.Reasons[0], got.CodeHash[0], got.Attempt.Reasons[0] = "mutated", 'X', "mutated"
	sameAs(t, mustChallenge(t, s, "c1"), *ch, "%s (UpdateChallenge)", rule)

	f, err := s.Factor(t.Context(), "alice", "totp")
	must(t, err, "Factor")
	f.Secret[0] = 'X'
	f, err = s.UpdateFactor(t.Context(), "alice", "totp", func(*storage.Factor) error { return nil })
	must(t, err, "UpdateFactor")
	f.Secret[1] = 'X'
	f, err = s.Factor(t.Context(), "alice", "totp")
	must(t, err, "Factor")
	sameAs(t, f, factor("alice", "totp", t0), "%s (Factor, UpdateFactor)", rule)

	v, err := s.Secret(t.Context(), "k", nil)
	must(t, err, "Secret")
	v[0] = 'X'
	v, err = s.Secret(t.Context(), "k", nil)
	must(t, err, "Secret")
	if string(v) != "secret-value" {
		t.Errorf("%s (Secret): it returns %q", rule, v)
	}
}

func testValuesUpdates(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	ch := challenge("c1", "alice", "d1", t0)
	ch.CodeHash = []byte("code")
	insert(t, s, ch)
	putFactor(t, s, factor("alice", "totp", t0))
	boom := errors.New("boom")

	_, _ = s.UpdateChallenge(t.Context(), "c1", func(c *storage.Challenge) error {
		c.Reasons[0], c.CodeHash[0], c.Attempt.Reasons[0] = "mutated", 'X', "mutated"
		return boom
	})
	sameAs(t, mustChallenge(t, s, "c1"), *ch, "UpdateChallenge must call update on a copy: what a failed update changed in place must not be stored")
	code := []byte("new-code")
	_, err := s.UpdateChallenge(t.Context(), "c1", func(c *storage.Challenge) error { c.CodeHash = code; return nil })
	must(t, err, "UpdateChallenge")
	code[0] = 'X'
	if got := mustChallenge(t, s, "c1").CodeHash; string(got) != "new-code" {
		t.Errorf("UpdateChallenge must not keep a slice update set; CodeHash is %q", got)
	}

	_, _ = s.UpdateFactor(t.Context(), "alice", "totp", func(f *storage.Factor) error {
		f.Secret[0] = 'X'
		return boom
	})
	f, err := s.Factor(t.Context(), "alice", "totp")
	must(t, err, "Factor")
	sameAs(t, f, factor("alice", "totp", t0), "UpdateFactor must call update on a copy: what a failed update changed in place must not be stored")
	secret := []byte("new-secret")
	_, err = s.UpdateFactor(t.Context(), "alice", "totp", func(f *storage.Factor) error { f.Secret = secret; return nil })
	must(t, err, "UpdateFactor")
	secret[0] = 'X'
	if f, err = s.Factor(t.Context(), "alice", "totp"); err == nil && string(f.Secret) != "new-secret" {
		t.Errorf("UpdateFactor must not keep a slice update set; Secret is %q", f.Secret)
	}
}

// ---------------------------------------------------------------------------
// times

func testTimesStored(t *testing.T, s storage.Store, clk *Clock) {
	zone := time.FixedZone("X", -5*3600)
	fine := func(at time.Time) time.Time { return at.Add(567_891 * time.Nanosecond).In(zone) }
	check := func(what string, got, want time.Time) {
		t.Helper()
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s must be kept in UTC at millisecond precision (truncated): it comes back as %s, want %s",
				what, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
		}
	}
	t0, t1 := clk.Now(), clk.Advance(time.Minute)

	ev := event("alice", 1, fine(t0), true)
	c := challenge("c1", "alice", "d1", fine(t0))
	c.SentAt, c.ExpiresAt, c.UpdatedAt = fine(t1), fine(t1.Add(time.Hour)), fine(t1)
	w := deviceWrite("d1", fine(t0), "x:d1")
	commit(t, s, storage.Commit{User: "alice", Event: ev, History: history, Challenge: c, Device: w}, "Commit with times finer than a millisecond")

	check("Event.Time", allEvents(t, s, "alice")[0].Time, t0)
	got := mustChallenge(t, s, "c1")
	check("Challenge.CreatedAt", got.CreatedAt, t0)
	check("Challenge.SentAt", got.SentAt, t1)
	check("Challenge.ExpiresAt", got.ExpiresAt, t1.Add(time.Hour))
	check("Challenge.UpdatedAt", got.UpdatedAt, t1)
	check("Challenge.Attempt.Time", got.Attempt.Time, t0)
	d := mustDevice(t, s, "d1", "x:d1")
	check("Device.FirstSeen", d.FirstSeen, t0)
	check("Device.LastSeen", d.LastSeen, t0)
	if len(d.Users) == 1 {
		check("a device's DeviceUser.LastSeen (DeviceWrite.Seen)", d.Users[0].LastSeen, t0)
	}

	t2 := clk.Advance(time.Minute)
	commit(t, s, storage.Commit{User: "alice", Transition: &storage.Transition{ChallengeID: "c1",
		From: []storage.ChallengeStatus{storage.ChallengePending}, To: storage.ChallengeSent, At: fine(t2)}}, "Commit of a transition")
	check("a challenge's UpdatedAt set by a transition", mustChallenge(t, s, "c1").UpdatedAt, t2)
	got, err := s.UpdateChallenge(t.Context(), "c1", func(c *storage.Challenge) error { c.SentAt = fine(t2); return nil })
	must(t, err, "UpdateChallenge")
	check("a challenge's SentAt set by UpdateChallenge (as returned)", got.SentAt, t2)
	check("a challenge's SentAt set by UpdateChallenge", mustChallenge(t, s, "c1").SentAt, t2)

	f, err := s.UpdateFactor(t.Context(), "alice", "totp", func(f *storage.Factor) error {
		f.CreatedAt, f.UpdatedAt, f.FailedAt = fine(t0), fine(t1), fine(t2)
		return nil
	})
	must(t, err, "UpdateFactor")
	check("Factor.CreatedAt (as UpdateFactor returns it)", f.CreatedAt, t0)
	f, err = s.Factor(t.Context(), "alice", "totp")
	must(t, err, "Factor")
	check("Factor.CreatedAt", f.CreatedAt, t0)
	check("Factor.UpdatedAt", f.UpdatedAt, t1)
	check("Factor.FailedAt", f.FailedAt, t2)
}

func testTimesWindows(t *testing.T, s storage.Store, clk *Clock) {
	// A record at a time finer than a millisecond is kept at the
	// millisecond; a window starting at that same time must include it.
	at := clk.Now().Add(567_891 * time.Nanosecond).In(time.FixedZone("X", -5*3600))
	const n = "198.51.100.1"
	commit(t, s, storage.Commit{User: "alice", Event: event("alice", 0, at, true), History: history, Challenge: challenge("c0", "alice", "d0", at)}, "Commit")
	addFailure(t, s, storage.Failure{User: "alice", Time: at, Network: n}, failureLimits(at))
	addFailure(t, s, unknown("ghost", at, n), failureLimits(at))

	const rule = "a window starting at a record's own time, finer than a millisecond, must include the record"
	evs, err := s.Events(t.Context(), "alice", at, 10)
	must(t, err, "Events")
	if len(evs) != 1 {
		t.Errorf("%s: Events since its time returns %d events, want 1", rule, len(evs))
	}
	if c := failureCounts(t, s, "alice", n, at); c != (storage.FailureCounts{User: 1, UserUnknown: 1, NetworkUsers: 2, NetworkUnknown: 1, CampaignUsers: 1}) {
		t.Errorf("%s: a FailureQuery since its time counts %+v, want 1 of the user's, 2 users and 1 name that is not an account from the network, and 1 in the campaign list", rule, c)
	}
	if got := challengeCount(t, s, "alice", at, 10); got != 1 {
		t.Errorf("%s: a ChallengeQuery since its time counts %d, want 1", rule, got)
	}
	c := challenge("c1", "alice", "d1", at.Add(time.Minute))
	err = s.Commit(t.Context(), storage.Commit{User: "alice", Challenge: c, ChallengeLimit: &storage.ChallengeLimit{Since: at, Max: 1}})
	mustFail(t, err, storage.ErrLimited, rule+": a Commit whose ChallengeLimit starts at a challenge's time")

	commit(t, s, storage.Commit{User: "alice", Event: event("alice", 1, at.Add(time.Minute), false), History: history}, "Commit of an event")
	commit(t, s, storage.Commit{User: "alice", Event: event("alice", 2, at.Add(2*time.Minute), false),
		History: storage.HistoryLimits{Max: 2, Since: at}}, "Commit of an event with History.Since at the first event's time")
	if got := eventIDs(allEvents(t, s, "alice")); !slices.Equal(got, []string{"alice-2", "alice-0"}) {
		t.Errorf("%s: with History.Since at the first event's time and Max 2, a commit must keep it and drop the oldest without success; Events returns %q, want [alice-2 alice-0]", rule, got)
	}

	r := storage.PurgeRequest{EventsBefore: at, FailuresBefore: at, ChallengesBefore: at, Batch: 100}
	if n, err := s.Purge(t.Context(), r); err != nil || n != 0 {
		t.Errorf("Purge must keep a record at exactly its time, finer than a millisecond; it dropped %d (%v)", n, err)
	}
}

// ---------------------------------------------------------------------------
// concurrency

func testConcurrentCommits(t *testing.T, s storage.Store, clk *Clock) {
	// Concurrent evaluations of one user, all from the same loaded
	// profile, each teaching a device.
	const n = 24
	t0 := clk.Now()
	for i, err := range race(n, func(i int) error {
		c := loginCommit(t, profile.Profile{User: "alice"}, "alice", fmt.Sprintf("d%02d", i), "", t0.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("x:%02d", i))
		return s.Commit(t.Context(), c)
	}) {
		must(t, err, fmt.Sprintf("concurrent Commit %d", i))
	}
	p := profileOf(t, s, "alice")
	if len(p.Devices) != n || p.Version != n {
		t.Errorf("of %d concurrent commits each teaching a device from the same loaded profile, none may be lost (each change is applied again to the stored profile): the stored profile has %d devices and Version %d, want %d and %d", n, len(p.Devices), p.Version, n, n)
	}
	if hs := userHashes(t, s, "alice"); len(hs) != n {
		t.Errorf("no concurrent commit's hashes may be lost: Load returns hashes of %d devices, want %d", len(hs), n)
	}
	if evs := allEvents(t, s, "alice"); len(evs) != n {
		t.Errorf("no concurrent commit's event may be lost: Events returns %d, want %d", len(evs), n)
	}
}

func testConcurrentDeviceUsers(t *testing.T, s storage.Store, clk *Clock) {
	const n = 24
	t0 := clk.Now()
	for i, err := range race(n, func(i int) error {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		w := deviceWrite("shared", at, "x:shared")
		w.MaxUsers = 64
		return s.Commit(t.Context(), storage.Commit{User: fmt.Sprintf("u%02d", i), Device: w})
	}) {
		must(t, err, fmt.Sprintf("concurrent Commit %d", i))
	}
	d := mustDevice(t, s, "shared", "x:shared")
	var want []string
	for i := n - 1; i >= 0; i-- {
		want = append(want, fmt.Sprintf("u%02d", i))
	}
	if got := userNames(d.Users); !slices.Equal(got, want) {
		t.Errorf("concurrent writes of one device by %d users must all be merged, most recent first; Users are %q", n, got)
	}
	if !d.FirstSeen.Equal(t0) || !d.LastSeen.Equal(t0.Add((n-1)*time.Millisecond)) {
		t.Errorf("concurrent writes of one device must keep the earliest FirstSeen and the latest LastSeen; they are %v and %v", d.FirstSeen, d.LastSeen)
	}
}

func testConcurrentIndex(t *testing.T, s storage.Store, clk *Clock) {
	const n = 48
	t0 := clk.Now()
	for i, err := range race(n, func(i int) error {
		return s.Commit(t.Context(), storage.Commit{User: fmt.Sprintf("u%02d", i), Device: deviceWrite(fmt.Sprintf("d%02d", i), t0, "x:k", fmt.Sprintf("x:own%02d", i))})
	}) {
		must(t, err, fmt.Sprintf("concurrent Commit %d", i))
	}
	if got := findDevices(t, s, "x:k"); len(got) != n {
		t.Errorf("concurrent writes of %d devices under one key must all be indexed; Load finds %d", n, len(got))
	}
}

func testConcurrentReads(t *testing.T, s storage.Store, clk *Clock) {
	// Each commit teaches one device and writes its hashes, so a Load
	// that sees one moment sees as many hashes as devices, and as many
	// devices as the version.
	const n = 30
	t0 := clk.Now()
	var done atomic.Bool
	var bad atomic.Value
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !done.Load() {
				st, err := s.Load(t.Context(), storage.LoadRequest{User: "alice", FingerprintKey: noKey})
				if err != nil {
					bad.CompareAndSwap(nil, fmt.Sprintf("Load failed: %v", err))
					return
				}
				if len(st.Hashes) != len(st.Profile.Devices) || int64(len(st.Profile.Devices)) != st.Profile.Version {
					bad.CompareAndSwap(nil, fmt.Sprintf("a Load must see the user's records as of one moment: it returned a profile of version %d with %d devices, and hashes of %d devices",
						st.Profile.Version, len(st.Profile.Devices), len(st.Hashes)))
				}
				if _, err := s.Events(t.Context(), "alice", time.Time{}, 10); err != nil {
					bad.CompareAndSwap(nil, fmt.Sprintf("Events failed: %v", err))
				}
			}
		})
	}
	for i := range n {
		login(t, s, "alice", fmt.Sprintf("d%02d", i), t0.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("x:%02d", i))
	}
	done.Store(true)
	wg.Wait()
	if msg := bad.Load(); msg != nil {
		t.Error(msg)
	}
}

func testConcurrentChallengeID(t *testing.T, s storage.Store, clk *Clock) {
	// Rounds of concurrent commits by different users, each of a whole
	// login and a challenge with the round's id: in each, exactly one wins.
	const rounds, n = 20, 16
	now := clk.Now()
	for round := range rounds {
		id := fmt.Sprintf("same-%02d", round)
		user := func(i int) string { return fmt.Sprintf("r%02d-u%02d", round, i) }
		winner := -1
		for i, err := range race(n, func(i int) error {
			u := user(i)
			c := loginCommit(t, profile.Profile{User: u}, u, fmt.Sprintf("d%02d", i), "", now, fmt.Sprintf("x:%02d", i))
			c.Challenge = challenge(id, u, "d1", now)
			return s.Commit(t.Context(), c)
		}) {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("of concurrent commits of one challenge id by different users, exactly one must succeed; %s and %s both did", user(winner), user(i))
				}
				winner = i
			case !errors.Is(err, storage.ErrConflict):
				t.Fatalf("a commit of a challenge whose id exists must fail with ErrConflict; one failed with %v", err)
			}
		}
		if winner < 0 {
			t.Fatalf("of concurrent commits of one challenge id, one must succeed; none did")
		}
		if got := mustChallenge(t, s, id).User; got != user(winner) {
			t.Fatalf("the challenge must be the winning commit's: it is %s's, the winner %s", got, user(winner))
		}
		for i := range n {
			if evs := allEvents(t, s, user(i)); (i == winner) != (len(evs) == 1) {
				t.Fatalf("the commits that lost the challenge id must write nothing, the winner all: %s has %d events", user(i), len(evs))
			}
		}
	}
}
