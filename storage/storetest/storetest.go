// Package storetest is the conformance suite for [storage.Store]
// implementations. A store's tests call [Run]; every subtest gets a fresh
// store and a fake clock, and a failure says in plain words which rule of the
// contract was broken.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storage.Store {
//			return mystore.New()
//		})
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atoguard/ato/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// Advance moves the clock forward and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Run runs the conformance suite against stores made by newStore, which is
// called once per subtest. newStore should register its own cleanup (Close)
// with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store, clk *Clock)
	}{
		{"LoadUnknownUserIsEmpty", testLoadUnknownUser},
		{"CommitAndLoad", testCommitAndLoad},
		{"DeviceUpsertMerges", testDeviceUpsert},
		{"DeviceLookupByKeys", testDeviceLookup},
		{"DeviceNotFound", testDeviceNotFound},
		{"LinkUpsertMerges", testLinkUpsert},
		{"LinkNeedsDevice", testLinkNeedsDevice},
		{"DeviceUsers", testDeviceUsers},
		{"HistoryBoundedByCount", testHistoryCount},
		{"HistoryTrimKeepsSuccesses", testHistoryKeepsSuccesses},
		{"HistoryBoundedByAge", testHistoryAge},
		{"EventsNewestFirstAndLimited", testEventsQuery},
		{"ReturnedValuesAreCopies", testCopies},
		{"FailureCounts", testFailureCounts},
		{"ConcurrentFailuresAllCounted", testConcurrentFailures},
		{"FailuresBounded", testFailuresBounded},
		{"ChallengeInsertAndGet", testChallengeRoundTrip},
		{"ChallengeNotFound", testChallengeNotFound},
		{"ChallengeLimit", testChallengeLimit},
		{"ChallengeLimitUnderRace", testChallengeLimitRace},
		{"ChallengeDuplicateID", testChallengeDuplicate},
		{"ChallengeUpdateError", testChallengeUpdateError},
		{"ChallengeOneStatusChangeWins", testChallengeRace},
		{"ChallengeAttemptsNotLost", testChallengeAttempts},
		{"NewChallengeOverridesOpenOne", testChallengeOverride},
		{"ChallengesCounted", testChallengeCount},
		{"SecretCreatedOnce", testSecret},
		{"ConcurrentCommitsNotLost", testConcurrentCommits},
		{"DeleteUser", testDeleteUser},
		{"Purge", testPurge},
		{"CommitNeedsUser", testCommitNeedsUser},
		{"CommitRecordsBelongToItsUser", testCommitUserOfRecords},
		{"ChallengeUserCannotChange", testChallengeUserFixed},
		{"DeleteUserErasesNamedDevices", testDeleteUserNamedDevices},
		{"RefusedCommitLeavesNoDevice", testRefusedCommitAtomic},
		{"QueryTimesTruncatedLikeStoredTimes", testQueryTimePrecision},
		{"NetworkFloodKeepsUserFailures", testFailureLimitsIndependent},
		{"FindDevicesRanksBySharedKeys", testFindRanking},
		{"KeyIndexCapped", testKeyCap},
		{"LoadCountsTheLoadedUser", testLoadFailureUser},
		{"ChallengeAndSecretCopies", testChallengeCopies},
		{"LinkHashes", testLinkHashes},
		{"LoadBoundsDevices", testLoadMaxDevices},
		{"LoadCountsDeviceUsers", testLoadDeviceUsers},
		{"LinkRestrictionsMerge", testLinkRestrictions},
		{"RestrictExtendsOrReplaces", testRestrict},
		{"LiftClearsRestriction", testLift},
		{"TransitionChecked", testTransition},
		{"TransitionOneWins", testTransitionRace},
		{"ChallengeChannel", testChallengeChannel},
		{"DeleteLink", testDeleteLink},
		{"FactorPutGetDelete", testFactors},
		{"FactorUpdate", testFactorUpdate},
		{"FactorUpdatesNotLost", testFactorRace},
		{"FactorsFollowTheUser", testFactorsLifecycle},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t), NewClock())
		})
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

func device(id string, at time.Time, hashes ...string) *storage.Device {
	keys := make([]string, len(hashes))
	for i, h := range hashes {
		keys[i] = "k:" + h
	}
	return &storage.Device{ID: id, Hashes: hashes, Keys: keys, FirstSeen: at, LastSeen: at}
}

func event(user string, n int, at time.Time, success bool) *storage.Event {
	return &storage.Event{
		ID: fmt.Sprintf("%s-ev-%d", user, n), User: user, Time: at, Kind: storage.KindEvaluation,
		Action: "login", Verdict: "allow", Success: success, DeviceID: "dev-" + user,
		IP: "203.0.113.9", Network: "203.0.113.9", Located: true, Country: "NL", Region: "NH",
		City: "Amsterdam", Latitude: 52.37, Longitude: 4.89, AccuracyKm: 20, ASN: 64500,
		Reasons: []string{"new_ip"},
	}
}

// login commits a successful login of user from device id at the time.
func login(t *testing.T, s storage.Store, user, id string, at time.Time, hashes ...string) {
	t.Helper()
	err := s.Commit(ctx(t), storage.Commit{
		User:   user,
		Event:  &storage.Event{ID: fmt.Sprintf("%s-%s-%d", user, id, at.UnixNano()), User: user, Time: at, Kind: storage.KindEvaluation, Success: true, DeviceID: id},
		Device: device(id, at, hashes...),
		Link:   &storage.Link{User: user, DeviceID: id, FirstSeen: at, LastSeen: at},
	})
	require.NoError(t, err, "Commit of a login")
}

func testLoadUnknownUser(t *testing.T, s storage.Store, clk *Clock) {
	st, err := s.Load(ctx(t), storage.LoadRequest{User: "nobody", DeviceKeys: []string{"k:x"}, Failures: storage.FailureQuery{Network: "198.51.100.1"}})
	require.NoError(t, err, "Load of a user the store never saw must not be an error")
	assert.Empty(t, st.Devices)
	assert.Empty(t, st.Candidates)
	assert.Empty(t, st.Events)
	assert.Zero(t, st.Failures)
	assert.Zero(t, st.Challenges)

	devs, err := s.UserDevices(ctx(t), "nobody")
	require.NoError(t, err)
	assert.Empty(t, devs)
}

func testCommitAndLoad(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	ev := event("alice", 1, now, true)
	dev := device("d1", now, "hash-a", "hash-b")
	link := &storage.Link{User: "alice", DeviceID: "d1", FirstSeen: now, LastSeen: now, RestrictedUntil: now.Add(72 * time.Hour),
		Restrictions: []string{"change_email", "change_password"}}
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Event: ev, Device: dev, Link: link}))

	st, err := s.Load(ctx(t), storage.LoadRequest{User: "alice", DeviceKeys: []string{"k:hash-b"}, EventsSince: now.Add(-time.Hour)})
	require.NoError(t, err)
	require.Len(t, st.Events, 1, "the committed event must be in the user's history")
	assert.Equal(t, *ev, st.Events[0], "an event must round-trip field for field")
	require.Len(t, st.Devices, 1, "the linked device must be among the user's devices")
	assert.Equal(t, *link, st.Devices[0].Link, "a link must round-trip field for field")
	assert.Equal(t, *dev, st.Devices[0].Device, "a device must round-trip field for field")
	require.Len(t, st.Candidates, 1, "a device must be found by any of its keys")
	assert.Equal(t, *dev, st.Candidates[0])

	got, err := s.Device(ctx(t), "d1")
	require.NoError(t, err)
	assert.Equal(t, *dev, got)
}

func testDeviceUpsert(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	login(t, s, "alice", "d1", t0, "h1")
	t1 := clk.Advance(time.Hour)
	login(t, s, "alice", "d1", t1, "h2", "h1")

	got, err := s.Device(ctx(t), "d1")
	require.NoError(t, err)
	assert.Equal(t, []string{"h2", "h1"}, got.Hashes, "an upsert must replace the hashes")
	assert.Equal(t, t0, got.FirstSeen, "an upsert must keep the earliest FirstSeen")
	assert.Equal(t, t1, got.LastSeen, "an upsert must keep the latest LastSeen")

	// An older write arriving late does not move LastSeen back.
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Device: device("d1", t0.Add(-time.Hour), "h3")}))
	got, err = s.Device(ctx(t), "d1")
	require.NoError(t, err)
	assert.Equal(t, t0.Add(-time.Hour), got.FirstSeen)
	assert.Equal(t, t1, got.LastSeen)
	assert.Equal(t, []string{"h3"}, got.Hashes)
	found, err := s.FindDevices(ctx(t), []string{"k:h1"}, 0)
	require.NoError(t, err)
	assert.Empty(t, found, "keys a device no longer has must not find it")
}

func testDeviceLookup(t *testing.T, s storage.Store, clk *Clock) {
	for i := range 20 {
		login(t, s, fmt.Sprintf("u%d", i), fmt.Sprintf("d%d", i), clk.Advance(time.Minute), fmt.Sprintf("h%d", i), "shared")
	}
	found, err := s.FindDevices(ctx(t), []string{"k:h3", "k:h7", "k:nope"}, 10)
	require.NoError(t, err)
	ids := deviceIDs(found)
	assert.ElementsMatch(t, []string{"d3", "d7"}, ids)
	assert.Equal(t, "d7", ids[0], "FindDevices must return the most recently seen first")

	found, err = s.FindDevices(ctx(t), []string{"k:shared"}, 5)
	require.NoError(t, err)
	assert.Len(t, found, 5, "FindDevices must respect its limit")
	assert.Equal(t, "d19", found[0].ID)

	found, err = s.FindDevices(ctx(t), []string{"k:shared", "k:h19"}, 0)
	require.NoError(t, err)
	assert.Len(t, found, 16, "a limit of 0 means 16, and a device matching two keys is returned once")

	st, err := s.Load(ctx(t), storage.LoadRequest{User: "u1", DeviceKeys: []string{"k:shared"}, MaxCandidates: 3})
	require.NoError(t, err)
	assert.Len(t, st.Candidates, 3, "Load must respect MaxCandidates")

	found, err = s.FindDevices(ctx(t), nil, 10)
	require.NoError(t, err)
	assert.Empty(t, found, "no keys find no devices")
}

func deviceIDs(ds []storage.Device) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

func testDeviceNotFound(t *testing.T, s storage.Store, clk *Clock) {
	_, err := s.Device(ctx(t), "missing")
	require.ErrorIs(t, err, storage.ErrNotFound)
}

func testLinkUpsert(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	login(t, s, "alice", "d1", t0, "h1")
	t1 := clk.Advance(time.Hour)
	until := t1.Add(72 * time.Hour)
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Link: &storage.Link{User: "alice", DeviceID: "d1", FirstSeen: t1, LastSeen: t1, Trusted: true, RestrictedUntil: until}}))
	// A later plain login neither untrusts the device nor lifts the restriction.
	t2 := clk.Advance(time.Hour)
	login(t, s, "alice", "d1", t2, "h1")

	devs, err := s.UserDevices(ctx(t), "alice")
	require.NoError(t, err)
	require.Len(t, devs, 1)
	l := devs[0].Link
	assert.Equal(t, t0, l.FirstSeen, "a link keeps its earliest FirstSeen")
	assert.Equal(t, t2, l.LastSeen, "a link takes the latest LastSeen")
	assert.True(t, l.Trusted, "a trusted link stays trusted")
	assert.Equal(t, until, l.RestrictedUntil, "a link keeps the latest RestrictedUntil")

	login(t, s, "alice", "d2", clk.Advance(time.Minute), "h2")
	devs, err = s.UserDevices(ctx(t), "alice")
	require.NoError(t, err)
	require.Len(t, devs, 2)
	assert.Equal(t, "d2", devs[0].DeviceID, "UserDevices returns the most recently seen first")
	assert.Equal(t, "d2", devs[0].Device.ID)
}

func testLinkNeedsDevice(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	err := s.Commit(ctx(t), storage.Commit{User: "alice", Event: event("alice", 1, now, true), Link: &storage.Link{User: "alice", DeviceID: "ghost", FirstSeen: now, LastSeen: now}})
	require.ErrorIs(t, err, storage.ErrNotFound, "a link to a device that does not exist must be refused")
	st, err := s.Load(ctx(t), storage.LoadRequest{User: "alice"})
	require.NoError(t, err)
	assert.Empty(t, st.Events, "a refused commit must write nothing")
	assert.Empty(t, st.Devices)
}

func testDeviceUsers(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	login(t, s, "alice", "d1", t0, "h1")
	login(t, s, "bob", "d1", clk.Advance(time.Hour), "h1")
	login(t, s, "carol", "d1", clk.Advance(time.Hour), "h1")
	links, err := s.DeviceUsers(ctx(t), "d1", t0.Add(time.Minute))
	require.NoError(t, err)
	require.Len(t, links, 2, "DeviceUsers counts only links seen since the time")
	assert.Equal(t, "carol", links[0].User)
	assert.Equal(t, "bob", links[1].User)
}

func testHistoryCount(t *testing.T, s storage.Store, clk *Clock) {
	for i := range 60 {
		require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Event: event("alice", i, clk.Advance(time.Minute), true)}))
	}
	evs, err := s.Events(ctx(t), "alice", time.Time{}, 1000)
	require.NoError(t, err)
	require.Len(t, evs, 50, "MaxHistory 0 must keep 50 events")
	assert.Equal(t, "alice-ev-59", evs[0].ID, "the newest events are kept")
	assert.Equal(t, "alice-ev-10", evs[49].ID)

	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Event: event("alice", 60, clk.Advance(time.Minute), true), MaxHistory: 5}))
	evs, err = s.Events(ctx(t), "alice", time.Time{}, 1000)
	require.NoError(t, err)
	assert.Len(t, evs, 5, "MaxHistory bounds the history")
}

func testHistoryKeepsSuccesses(t *testing.T, s storage.Store, clk *Clock) {
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Event: event("alice", 0, clk.Advance(time.Minute), true), MaxHistory: 3}))
	for i := 1; i <= 5; i++ {
		require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Event: event("alice", i, clk.Advance(time.Minute), false), MaxHistory: 3}))
	}
	evs, err := s.Events(ctx(t), "alice", time.Time{}, 10)
	require.NoError(t, err)
	require.Len(t, evs, 3)
	assert.Equal(t, []string{"alice-ev-5", "alice-ev-4", "alice-ev-0"}, eventIDs(evs),
		"trimming must drop attempts without success before the successful login they would push out")
}

func eventIDs(evs []storage.Event) []string {
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	return ids
}

func testHistoryAge(t *testing.T, s storage.Store, clk *Clock) {
	old := clk.Now()
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Event: event("alice", 1, old, true)}))
	now := clk.Advance(200 * 24 * time.Hour)
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Event: event("alice", 2, now, true), HistorySince: now.Add(-180 * 24 * time.Hour)}))
	evs, err := s.Events(ctx(t), "alice", time.Time{}, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"alice-ev-2"}, eventIDs(evs), "events before HistorySince are dropped on commit")
}

func testEventsQuery(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	for i := range 10 {
		require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Event: event("alice", i, clk.Advance(time.Minute), i%2 == 0)}))
	}
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "bob", Event: event("bob", 0, clk.Now(), true)}))
	evs, err := s.Events(ctx(t), "alice", t0.Add(5*time.Minute), 3)
	require.NoError(t, err)
	assert.Equal(t, []string{"alice-ev-9", "alice-ev-8", "alice-ev-7"}, eventIDs(evs))
	evs, err = s.Events(ctx(t), "alice", t0.Add(8*time.Minute), 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"alice-ev-9", "alice-ev-8", "alice-ev-7"}, eventIDs(evs), "since is inclusive")

	st, err := s.Load(ctx(t), storage.LoadRequest{User: "alice", EventsSince: t0, MaxEvents: 4})
	require.NoError(t, err)
	assert.Equal(t, []string{"alice-ev-9", "alice-ev-8", "alice-ev-7", "alice-ev-6"}, eventIDs(st.Events))

	// Events at the same millisecond come back newest-written first.
	same := clk.Advance(time.Hour)
	for i := 20; i < 23; i++ {
		require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "carol", Event: event("carol", i, same, true)}))
	}
	evs, err = s.Events(ctx(t), "carol", time.Time{}, 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"carol-ev-22", "carol-ev-21", "carol-ev-20"}, eventIDs(evs))
}

func testCopies(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	ev := event("alice", 1, now, true)
	dev := device("d1", now, "h1")
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Event: ev, Device: dev, Link: &storage.Link{User: "alice", DeviceID: "d1", FirstSeen: now, LastSeen: now}}))
	// The caller's values change after the commit.
	ev.Reasons[0] = "changed"
	dev.Hashes[0] = "changed"
	dev.Keys[0] = "changed"

	st, err := s.Load(ctx(t), storage.LoadRequest{User: "alice", DeviceKeys: []string{"k:h1"}})
	require.NoError(t, err)
	require.Len(t, st.Events, 1)
	assert.Equal(t, []string{"new_ip"}, st.Events[0].Reasons, "a store must not keep the caller's slices")
	assert.Equal(t, []string{"h1"}, st.Devices[0].Device.Hashes)
	require.Len(t, st.Candidates, 1, "a store must index the keys it was given, not the caller's later edits")

	// The returned values change; the store must not see it.
	st.Events[0].Reasons[0] = "mutated"
	st.Devices[0].Device.Hashes[0] = "mutated"
	st.Candidates[0].Keys[0] = "mutated"
	st2, err := s.Load(ctx(t), storage.LoadRequest{User: "alice", DeviceKeys: []string{"k:h1"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"new_ip"}, st2.Events[0].Reasons, "a store must not return slices it keeps")
	assert.Equal(t, []string{"h1"}, st2.Devices[0].Device.Hashes)
	assert.Equal(t, []string{"k:h1"}, st2.Candidates[0].Keys)
}

func failure(user, network string, at time.Time, knownDevice, knownIP bool) storage.Failure {
	return storage.Failure{User: user, Time: at, IP: network, Network: network, DeviceID: "dx", KnownDevice: knownDevice, KnownIP: knownIP}
}

func testFailureCounts(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	add := func(f storage.Failure) { require.NoError(t, s.AddFailure(ctx(t), f)) }
	add(failure("alice", "198.51.100.7", t0.Add(-2*time.Hour), false, false)) // outside every window
	add(failure("alice", "198.51.100.7", t0, false, false))
	add(failure("alice", "198.51.100.7", t0, true, false))
	add(failure("alice", "198.51.100.7", t0, false, true))
	add(failure("bob", "198.51.100.7", t0, false, false))
	add(failure("bob", "198.51.100.7", t0, false, false))
	add(failure("carol", "198.51.100.7", t0, false, true)) // carol knows this network
	add(failure("dave", "2001:db8::/64", t0, false, false))

	q := storage.FailureQuery{User: "alice", UserSince: t0.Add(-15 * time.Minute), Network: "198.51.100.7", NetworkSince: t0.Add(-time.Hour)}
	got, err := s.CountFailures(ctx(t), q)
	require.NoError(t, err)
	assert.Equal(t, storage.FailureCounts{User: 3, UserUnknown: 2, NetworkUsers: 2}, got,
		"User counts the window, UserUnknown only failures from an unknown device, NetworkUsers distinct users who did not know the network")

	st, err := s.Load(ctx(t), storage.LoadRequest{User: "alice", Failures: q})
	require.NoError(t, err)
	assert.Equal(t, got, st.Failures, "Load must count failures as CountFailures does")

	got, err = s.CountFailures(ctx(t), storage.FailureQuery{User: "alice", UserSince: t0})
	require.NoError(t, err)
	assert.Equal(t, storage.FailureCounts{User: 3, UserUnknown: 2}, got, "since is inclusive; an empty network counts nothing")
}

func testConcurrentFailures(t *testing.T, s storage.Store, clk *Clock) {
	const n = 64
	now := clk.Now()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs <- s.AddFailure(context.Background(), failure("alice", fmt.Sprintf("198.51.100.%d", i%4), now, false, false))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := s.CountFailures(ctx(t), storage.FailureQuery{User: "alice", UserSince: now})
	require.NoError(t, err)
	assert.Equal(t, n, got.User, "every one of %d concurrent failures must be counted", n)
	assert.Equal(t, n, got.UserUnknown)
}

func testFailuresBounded(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	for i := range storage.MaxFailures + 10 {
		require.NoError(t, s.AddFailure(ctx(t), failure(fmt.Sprintf("u%d", i%3), "198.51.100.1", now, false, false)))
		require.NoError(t, s.AddFailure(ctx(t), failure("victim", fmt.Sprintf("203.0.113.%d", i%200), now, false, false)))
	}
	got, err := s.CountFailures(ctx(t), storage.FailureQuery{User: "victim", UserSince: now, Network: "198.51.100.1", NetworkSince: now})
	require.NoError(t, err)
	assert.Equal(t, storage.MaxFailures, got.User, "a store keeps at most MaxFailures per user")
	assert.Equal(t, 3, got.NetworkUsers)
}

func challenge(id, user, dev string, at time.Time) *storage.Challenge {
	return &storage.Challenge{
		ID: id, User: user, DeviceID: dev, Fingerprint: "hash-" + dev, Status: storage.ChallengePending,
		Reasons: []string{"new_device", "new_ip"}, Email: user + "@example.com", Phone: "+15555550100",
		CreatedAt: at, ExpiresAt: at.Add(time.Hour), UpdatedAt: at,
		Attempt: *event(user, 7, at, false),
	}
}

func testChallengeRoundTrip(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	c := challenge("c1", "alice", "d1", now)
	c.CodeHash = []byte{1, 2, 3}
	c.Sends, c.Attempts, c.SentAt = 1, 2, now.Add(time.Second)
	c.Channel = "email"
	c.KnownDevice = true
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Event: event("alice", 7, now, false), Challenge: c}))
	got, err := s.Challenge(ctx(t), "c1")
	require.NoError(t, err)
	assert.Equal(t, *c, got, "a challenge must round-trip field for field")
}

func testChallengeNotFound(t *testing.T, s storage.Store, clk *Clock) {
	_, err := s.Challenge(ctx(t), "missing")
	require.ErrorIs(t, err, storage.ErrNotFound)
	called := false
	_, err = s.UpdateChallenge(ctx(t), "missing", func(*storage.Challenge) error { called = true; return nil })
	require.ErrorIs(t, err, storage.ErrNotFound)
	assert.False(t, called, "update must not be called for a missing challenge")
}

func testChallengeDuplicate(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: challenge("c1", "alice", "d1", now)}))
	err := s.Commit(ctx(t), storage.Commit{User: "alice", Event: event("alice", 9, now, false), Challenge: challenge("c1", "alice", "d2", now)})
	require.ErrorIs(t, err, storage.ErrConflict)
	evs, err := s.Events(ctx(t), "alice", time.Time{}, 0)
	require.NoError(t, err)
	assert.Empty(t, evs, "a refused commit must write nothing")
}

func testChallengeUpdateError(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: challenge("c1", "alice", "d1", now)}))
	boom := errors.New("boom")
	_, err := s.UpdateChallenge(ctx(t), "c1", func(c *storage.Challenge) error {
		c.Status = storage.ChallengeFailed
		return boom
	})
	require.ErrorIs(t, err, boom, "update's error must come back")
	got, err := s.Challenge(ctx(t), "c1")
	require.NoError(t, err)
	assert.Equal(t, storage.ChallengePending, got.Status, "nothing is stored when update fails")

	got, err = s.UpdateChallenge(ctx(t), "c1", func(c *storage.Challenge) error {
		c.ID = "other"
		c.Status = storage.ChallengeSent
		c.CodeHash = []byte("hmac")
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, "c1", got.ID, "the id cannot be changed")
	again, err := s.Challenge(ctx(t), "c1")
	require.NoError(t, err)
	assert.Equal(t, got, again)
	assert.Equal(t, storage.ChallengeSent, again.Status)
}

func testChallengeRace(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	c := challenge("c1", "alice", "d1", now)
	c.Status = storage.ChallengeVerified
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: c}))
	errDone := errors.New("already completed")
	const n = 32
	var wins atomic.Int32
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := s.UpdateChallenge(context.Background(), "c1", func(c *storage.Challenge) error {
				if c.Status != storage.ChallengeVerified {
					return errDone
				}
				c.Status = storage.ChallengeCompleted
				return nil
			})
			if err == nil {
				wins.Add(1)
			} else if !errors.Is(err, errDone) {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, int32(1), wins.Load(), "exactly one of %d concurrent status changes must win", n)
}

func testChallengeAttempts(t *testing.T, s storage.Store, clk *Clock) {
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: challenge("c1", "alice", "d1", clk.Now())}))
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := s.UpdateChallenge(context.Background(), "c1", func(c *storage.Challenge) error {
				c.Attempts++
				return nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := s.Challenge(ctx(t), "c1")
	require.NoError(t, err)
	assert.Equal(t, n, got.Attempts, "no concurrent increment may be lost")
}

func testChallengeOverride(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: challenge("old", "alice", "d1", t0)}))
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: challenge("otherdev", "alice", "d2", t0)}))
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "bob", Challenge: challenge("bobs", "bob", "d1", t0)}))
	done := challenge("done", "alice", "d1", t0)
	done.Status = storage.ChallengeCompleted
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: done}))
	t1 := clk.Advance(time.Minute)
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: challenge("new", "alice", "d1", t1)}))

	status := func(id string) storage.ChallengeStatus {
		c, err := s.Challenge(ctx(t), id)
		require.NoError(t, err)
		return c.Status
	}
	assert.Equal(t, storage.ChallengeOverridden, status("old"), "a newer challenge for the same user and device overrides an open one")
	assert.Equal(t, storage.ChallengePending, status("new"))
	assert.Equal(t, storage.ChallengePending, status("otherdev"), "another device's challenge is untouched")
	assert.Equal(t, storage.ChallengePending, status("bobs"), "another user's challenge is untouched")
	assert.Equal(t, storage.ChallengeCompleted, status("done"), "a closed challenge is untouched")

	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: challenge("nodev1", "alice", "", t1)}))
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: challenge("nodev2", "alice", "", t1)}))
	assert.Equal(t, storage.ChallengePending, status("nodev1"), "a challenge without a device overrides nothing")
	assert.Equal(t, storage.ChallengePending, status("new"))
}

func testChallengeCount(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	for i := range 5 {
		require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: challenge(fmt.Sprintf("c%d", i), "alice", fmt.Sprintf("d%d", i), t0.Add(time.Duration(i)*20*time.Minute))}))
	}
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "bob", Challenge: challenge("b", "bob", "d1", t0)}))
	st, err := s.Load(ctx(t), storage.LoadRequest{User: "alice", ChallengesSince: t0.Add(40 * time.Minute)})
	require.NoError(t, err)
	assert.Equal(t, 3, st.Challenges, "challenges created since the time are counted, inclusively")
}

func testChallengeLimit(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	limit := &storage.ChallengeLimit{Since: t0, Max: 2}
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: challenge("old", "alice", "d0", t0.Add(-time.Minute))}))
	for i := range 2 {
		require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", ChallengeLimit: limit,
			Challenge: challenge(fmt.Sprintf("c%d", i), "alice", fmt.Sprintf("d%d", i), t0)}),
			"challenges before the window do not count")
	}
	ev := event("alice", 1, t0, false)
	err := s.Commit(ctx(t), storage.Commit{User: "alice", Event: ev, ChallengeLimit: limit, Challenge: challenge("c2", "alice", "d2", t0)})
	require.ErrorIs(t, err, storage.ErrLimited, "a third challenge in the window is refused")
	_, err = s.Challenge(ctx(t), "c2")
	require.ErrorIs(t, err, storage.ErrNotFound, "the refused challenge is not stored")
	evs, err := s.Events(ctx(t), "alice", time.Time{}, 10)
	require.NoError(t, err)
	assert.Empty(t, evs, "a refused commit writes nothing")
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "bob", ChallengeLimit: limit, Challenge: challenge("b", "bob", "d2", t0)}),
		"the limit is per user")
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", ChallengeLimit: limit, Event: ev}),
		"a commit without a challenge is not limited")
}

func testChallengeLimitRace(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	const n, limit = 32, 5
	var ok, limited atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			err := s.Commit(context.Background(), storage.Commit{User: "alice",
				ChallengeLimit: &storage.ChallengeLimit{Since: t0, Max: limit},
				Challenge:      challenge(fmt.Sprintf("c%d", i), "alice", fmt.Sprintf("d%d", i), t0)})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, storage.ErrLimited):
				limited.Add(1)
			default:
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	assert.Equal(t, int32(limit), ok.Load(), "concurrent commits never go past the challenge limit")
	assert.Equal(t, int32(n-limit), limited.Load())
}

func testSecret(t *testing.T, s storage.Store, clk *Clock) {
	const n = 16
	got := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got[i], errs[i] = s.Secret(context.Background(), "hmac", []byte(fmt.Sprintf("candidate-%02d", i)))
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, got[0], got[i], "every caller must get the one secret stored first")
	}
	again, err := s.Secret(ctx(t), "hmac", []byte("late"))
	require.NoError(t, err)
	assert.Equal(t, got[0], again)
	other, err := s.Secret(ctx(t), "other", []byte("x"))
	require.NoError(t, err)
	assert.Equal(t, []byte("x"), other, "secrets are kept by name")
	got[0][0] ^= 0xff
	again, err = s.Secret(ctx(t), "hmac", []byte("late"))
	require.NoError(t, err)
	assert.NotEqual(t, got[0], again, "a store must not return the slice it keeps")
}

func testConcurrentCommits(t *testing.T, s storage.Store, clk *Clock) {
	const n = 32
	now := clk.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("d%d", i%4)
			errs <- s.Commit(context.Background(), storage.Commit{
				User:       "alice",
				Event:      event("alice", i, now.Add(time.Duration(i)*time.Millisecond), true),
				Device:     device(id, now.Add(time.Duration(i)*time.Millisecond), "h-"+id),
				Link:       &storage.Link{User: "alice", DeviceID: id, FirstSeen: now, LastSeen: now.Add(time.Duration(i) * time.Millisecond)},
				MaxHistory: 1000,
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	evs, err := s.Events(ctx(t), "alice", time.Time{}, 1000)
	require.NoError(t, err)
	assert.Len(t, evs, n, "no concurrent commit may be lost")
	devs, err := s.UserDevices(ctx(t), "alice")
	require.NoError(t, err)
	assert.Len(t, devs, 4)
	for _, d := range devs {
		assert.Equal(t, now.Add(time.Duration(28+d.DeviceID[1]-'0')*time.Millisecond), d.LastSeen, "LastSeen is the latest of concurrent writes for %s", d.DeviceID)
	}
}

func testDeleteUser(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	login(t, s, "alice", "shared", now, "hs")
	login(t, s, "bob", "shared", now, "hs")
	login(t, s, "alice", "own", now, "ho")
	require.NoError(t, s.AddFailure(ctx(t), failure("alice", "198.51.100.1", now, false, false)))
	require.NoError(t, s.AddFailure(ctx(t), failure("bob", "198.51.100.1", now, false, false)))
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: challenge("c1", "alice", "own", now)}))

	require.NoError(t, s.DeleteUser(ctx(t), "alice"))
	require.NoError(t, s.DeleteUser(ctx(t), "alice"), "deleting an unknown user is not an error")

	st, err := s.Load(ctx(t), storage.LoadRequest{User: "alice", DeviceKeys: []string{"k:ho", "k:hs"}, Failures: storage.FailureQuery{UserSince: now, Network: "198.51.100.1", NetworkSince: now}})
	require.NoError(t, err)
	assert.Empty(t, st.Devices, "DeleteUser erases the user's links")
	assert.Empty(t, st.Events, "DeleteUser erases the user's history")
	assert.Zero(t, st.Failures.User, "DeleteUser erases the user's failures")
	assert.Equal(t, 1, st.Failures.NetworkUsers, "other users' failures stay")
	assert.Equal(t, []string{"shared"}, deviceIDs(st.Candidates), "a device only the user had is erased; a shared one stays")
	_, err = s.Challenge(ctx(t), "c1")
	require.ErrorIs(t, err, storage.ErrNotFound, "DeleteUser erases the user's challenges")
	_, err = s.Device(ctx(t), "own")
	require.ErrorIs(t, err, storage.ErrNotFound)

	bob, err := s.UserDevices(ctx(t), "bob")
	require.NoError(t, err)
	assert.Len(t, bob, 1, "other users keep their devices")
	evs, err := s.Events(ctx(t), "bob", time.Time{}, 0)
	require.NoError(t, err)
	assert.Len(t, evs, 1)
}

func testPurge(t *testing.T, s storage.Store, clk *Clock) {
	old := clk.Now()
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Event: event("alice", 1, old, true), Challenge: challenge("c-old", "alice", "d1", old)}))
	require.NoError(t, s.AddFailure(ctx(t), failure("alice", "198.51.100.1", old, false, false)))
	now := clk.Advance(200 * 24 * time.Hour)
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Event: event("alice", 2, now, true), Challenge: challenge("c-new", "alice", "d2", now)}))
	require.NoError(t, s.AddFailure(ctx(t), failure("alice", "198.51.100.1", now, false, false)))

	n, err := s.Purge(ctx(t), now.Add(-180*24*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, int64(3), n, "Purge reports the event, failure and challenge it dropped")
	evs, err := s.Events(ctx(t), "alice", time.Time{}, 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"alice-ev-2"}, eventIDs(evs))
	got, err := s.CountFailures(ctx(t), storage.FailureQuery{User: "alice"})
	require.NoError(t, err)
	assert.Equal(t, 1, got.User)
	_, err = s.Challenge(ctx(t), "c-old")
	require.ErrorIs(t, err, storage.ErrNotFound)
	_, err = s.Challenge(ctx(t), "c-new")
	require.NoError(t, err)
}

func testCommitNeedsUser(t *testing.T, s storage.Store, clk *Clock) {
	err := s.Commit(ctx(t), storage.Commit{Event: event("", 1, clk.Now(), true)})
	require.Error(t, err, "a commit without a user must be refused")
}

func testCommitUserOfRecords(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	ev := event("", 1, now, true)
	dev := device("d1", now, "h1")
	ch := challenge("c1", "", "d1", now)
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Event: ev, Device: dev,
		Link: &storage.Link{DeviceID: "d1", FirstSeen: now, LastSeen: now}, Challenge: ch}))
	st, err := s.Load(ctx(t), storage.LoadRequest{User: "alice", ChallengesSince: now})
	require.NoError(t, err)
	require.Len(t, st.Events, 1, "records without a user are the commit's user's")
	assert.Equal(t, "alice", st.Events[0].User)
	require.Len(t, st.Devices, 1)
	assert.Equal(t, "alice", st.Devices[0].User)
	assert.Equal(t, 1, st.Challenges)
	got, err := s.Challenge(ctx(t), "c1")
	require.NoError(t, err)
	assert.Equal(t, "alice", got.User)

	err = s.Commit(ctx(t), storage.Commit{User: "alice", Event: event("bob", 2, now, true)})
	require.Error(t, err, "a record of another user must be refused")
	evs, err := s.Events(ctx(t), "bob", time.Time{}, 0)
	require.NoError(t, err)
	assert.Empty(t, evs)
}

func testChallengeUserFixed(t *testing.T, s storage.Store, clk *Clock) {
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: challenge("c1", "alice", "d1", clk.Now())}))
	got, err := s.UpdateChallenge(ctx(t), "c1", func(c *storage.Challenge) error {
		c.User = "mallory"
		c.Attempts = 1
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, "alice", got.User, "the user of a challenge cannot be changed")
	got, err = s.Challenge(ctx(t), "c1")
	require.NoError(t, err)
	assert.Equal(t, "alice", got.User)
	assert.Equal(t, 1, got.Attempts)
}

func testDeleteUserNamedDevices(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	// A device only alice's history names, and one bob is linked to.
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "carol", Device: device("lonely", now, "hl")}))
	login(t, s, "bob", "bobs", now, "hb")
	ev := event("alice", 1, now, false)
	ev.DeviceID = "lonely"
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Event: ev, Challenge: challenge("c1", "alice", "bobs", now)}))
	require.NoError(t, s.DeleteUser(ctx(t), "alice"))
	_, err := s.Device(ctx(t), "lonely")
	require.ErrorIs(t, err, storage.ErrNotFound, "a device the user's history names and no one is linked to is erased")
	_, err = s.Device(ctx(t), "bobs")
	require.NoError(t, err, "a device another user is linked to stays")
}

func testRefusedCommitAtomic(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: challenge("c1", "alice", "d0", now)}))
	err := s.Commit(ctx(t), storage.Commit{User: "alice", Event: event("alice", 1, now, true), Device: device("d1", now, "h1"),
		Link: &storage.Link{User: "alice", DeviceID: "d1", FirstSeen: now, LastSeen: now}, Challenge: challenge("c1", "alice", "d1", now)})
	require.ErrorIs(t, err, storage.ErrConflict)
	_, err = s.Device(ctx(t), "d1")
	require.ErrorIs(t, err, storage.ErrNotFound, "a refused commit must not write its device")
	found, err := s.FindDevices(ctx(t), []string{"k:h1"}, 0)
	require.NoError(t, err)
	assert.Empty(t, found, "nor index its keys")
	devs, err := s.UserDevices(ctx(t), "alice")
	require.NoError(t, err)
	assert.Empty(t, devs)

	const n = 16
	var wins atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			err := s.Commit(context.Background(), storage.Commit{User: "bob", Event: event("bob", i, now, false), Challenge: challenge("same", "bob", "d1", now)})
			if err == nil {
				wins.Add(1)
			} else if !errors.Is(err, storage.ErrConflict) {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, int32(1), wins.Load(), "one of %d inserts of one challenge id wins", n)
	evs, err := s.Events(ctx(t), "bob", time.Time{}, 0)
	require.NoError(t, err)
	assert.Len(t, evs, 1, "the losers' events are not written")
}

func testQueryTimePrecision(t *testing.T, s storage.Store, clk *Clock) {
	// A time with nanoseconds in another zone: stored as its millisecond,
	// and a window that starts at the same instant includes the record.
	at := clk.Now().Add(567_891 * time.Nanosecond).In(time.FixedZone("X", -5*3600))
	login(t, s, "alice", "d1", at, "h1")
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Event: event("alice", 1, at, true), Challenge: challenge("c1", "alice", "d1", at)}))
	require.NoError(t, s.AddFailure(ctx(t), failure("alice", "198.51.100.1", at, false, false)))

	evs, err := s.Events(ctx(t), "alice", at, 0)
	require.NoError(t, err)
	require.Len(t, evs, 2, "a window starting at a record's own (finer) time includes it")
	assert.Equal(t, clk.Now(), evs[0].Time, "times come back in UTC at millisecond precision")
	links, err := s.DeviceUsers(ctx(t), "d1", at)
	require.NoError(t, err)
	assert.Len(t, links, 1)
	got, err := s.CountFailures(ctx(t), storage.FailureQuery{User: "alice", UserSince: at, Network: "198.51.100.1", NetworkSince: at})
	require.NoError(t, err)
	assert.Equal(t, storage.FailureCounts{User: 1, UserUnknown: 1, NetworkUsers: 1}, got)
	st, err := s.Load(ctx(t), storage.LoadRequest{User: "alice", ChallengesSince: at, EventsSince: at})
	require.NoError(t, err)
	assert.Equal(t, 1, st.Challenges)
	assert.Len(t, st.Events, 2)

	n, err := s.Purge(ctx(t), at)
	require.NoError(t, err)
	assert.Zero(t, n, "Purge keeps records at exactly its time")
	n, err = s.Purge(ctx(t), at.Add(time.Millisecond))
	require.NoError(t, err)
	assert.Equal(t, int64(4), n, "two events, a failure and a challenge")
}

func testFailureLimitsIndependent(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	const network = "198.51.100.9"
	require.NoError(t, s.AddFailure(ctx(t), failure("victim", network, now, false, false)))
	for i := range storage.MaxFailures + 5 {
		require.NoError(t, s.AddFailure(ctx(t), failure(fmt.Sprintf("flood%d", i%7), network, now.Add(time.Millisecond), false, true)))
	}
	got, err := s.CountFailures(ctx(t), storage.FailureQuery{User: "victim", UserSince: now, Network: network, NetworkSince: now})
	require.NoError(t, err)
	assert.Equal(t, 1, got.User, "a flood from one network must not push a user's own failures out")
	assert.Equal(t, 1, got.UserUnknown)
}

func testFindRanking(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	// "one" shares one key with the query and is the most recent; "three"
	// shares three.
	login(t, s, "u1", "three", t0, "a", "b", "c", "x3")
	login(t, s, "u2", "two", clk.Advance(time.Minute), "a", "b", "x2")
	login(t, s, "u3", "one", clk.Advance(time.Minute), "a", "x1")
	found, err := s.FindDevices(ctx(t), []string{"k:a", "k:b", "k:c"}, 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"three", "two", "one"}, deviceIDs(found), "devices sharing more keys come first")
	found, err = s.FindDevices(ctx(t), []string{"k:a", "k:b", "k:c"}, 2)
	require.NoError(t, err)
	assert.Equal(t, []string{"three", "two"}, deviceIDs(found))
	st, err := s.Load(ctx(t), storage.LoadRequest{User: "u1", DeviceKeys: []string{"k:a", "k:x1"}, MaxCandidates: 1})
	require.NoError(t, err)
	assert.Equal(t, []string{"one"}, deviceIDs(st.Candidates), "Load ranks candidates as FindDevices does")

	// Two keys that five devices share weigh less than one only "rare" has.
	for i := range 5 {
		login(t, s, fmt.Sprintf("p%d", i), fmt.Sprintf("pop%d", i), clk.Advance(time.Minute), "p1", "p2")
	}
	login(t, s, "r", "rare", t0.Add(-time.Hour), "r1")
	found, err = s.FindDevices(ctx(t), []string{"k:p1", "k:p2", "k:r1"}, 3)
	require.NoError(t, err)
	assert.Equal(t, []string{"rare", "pop4", "pop3"}, deviceIDs(found), "distinctive keys weigh more than common ones")
}

func testKeyCap(t *testing.T, s storage.Store, clk *Clock) {
	const extra = 10
	for i := range storage.MaxKeyDevices + extra {
		login(t, s, fmt.Sprintf("u%d", i), fmt.Sprintf("d%03d", i), clk.Advance(time.Minute), "popular", fmt.Sprintf("own%d", i))
	}
	found, err := s.FindDevices(ctx(t), []string{"k:popular"}, 1000)
	require.NoError(t, err)
	assert.Len(t, found, storage.MaxKeyDevices, "one key indexes at most MaxKeyDevices devices")
	assert.Equal(t, fmt.Sprintf("d%03d", storage.MaxKeyDevices+extra-1), found[0].ID, "the most recently written are kept")
	found, err = s.FindDevices(ctx(t), []string{"k:own0"}, 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"d000"}, deviceIDs(found), "a device dropped from one key stays findable by its others")
}

func testLoadFailureUser(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	require.NoError(t, s.AddFailure(ctx(t), failure("alice", "198.51.100.1", now, false, false)))
	st, err := s.Load(ctx(t), storage.LoadRequest{User: "alice", Failures: storage.FailureQuery{User: "bob", UserSince: now}})
	require.NoError(t, err)
	assert.Equal(t, 1, st.Failures.User, "Load counts the failures of the user it loads")
}

func testChallengeCopies(t *testing.T, s storage.Store, clk *Clock) {
	c := challenge("c1", "alice", "d1", clk.Now())
	c.CodeHash = []byte("hmac")
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: c}))
	c.Reasons[0], c.CodeHash[0], c.Attempt.Reasons[0] = "x", 'x', "x"
	got, err := s.Challenge(ctx(t), "c1")
	require.NoError(t, err)
	assert.Equal(t, []string{"new_device", "new_ip"}, got.Reasons, "a store must not keep the caller's slices")
	assert.Equal(t, []byte("hmac"), got.CodeHash)
	assert.Equal(t, []string{"new_ip"}, got.Attempt.Reasons)
	got.Reasons[0], got.CodeHash[0], got.Attempt.Reasons[0] = "y", 'y', "y"
	again, err := s.Challenge(ctx(t), "c1")
	require.NoError(t, err)
	assert.Equal(t, []string{"new_device", "new_ip"}, again.Reasons, "a store must not return slices it keeps")
	assert.Equal(t, []byte("hmac"), again.CodeHash)
	assert.Equal(t, []string{"new_ip"}, again.Attempt.Reasons)

	create := []byte("secret-value")
	_, err = s.Secret(ctx(t), "k", create)
	require.NoError(t, err)
	create[0] = 'X'
	v, err := s.Secret(ctx(t), "k", nil)
	require.NoError(t, err)
	assert.Equal(t, []byte("secret-value"), v, "a store must not keep the create slice")
}

func testLinkHashes(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Device: device("d1", now, "g1"),
		Link: &storage.Link{User: "alice", DeviceID: "d1", FirstSeen: now, LastSeen: now, Hashes: []string{"a2", "a1"}}}))
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice",
		Link: &storage.Link{User: "alice", DeviceID: "d1", FirstSeen: now, LastSeen: clk.Advance(time.Minute)}}))
	devs, err := s.UserDevices(ctx(t), "alice")
	require.NoError(t, err)
	require.Len(t, devs, 1)
	assert.Equal(t, []string{"a2", "a1"}, devs[0].Link.Hashes, "a link without hashes keeps the stored ones")
	assert.Equal(t, []string{"g1"}, devs[0].Device.Hashes, "the link's hashes are the user's, apart from the device's")

	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice",
		Link: &storage.Link{User: "alice", DeviceID: "d1", FirstSeen: now, LastSeen: now, Hashes: []string{"a3"}}}))
	st, err := s.Load(ctx(t), storage.LoadRequest{User: "alice"})
	require.NoError(t, err)
	require.Len(t, st.Devices, 1)
	assert.Equal(t, []string{"a3"}, st.Devices[0].Link.Hashes, "given hashes replace the stored ones")
	st.Devices[0].Link.Hashes[0] = "mutated"
	links, err := s.DeviceUsers(ctx(t), "d1", time.Time{})
	require.NoError(t, err)
	require.Len(t, links, 1)
	assert.Equal(t, []string{"a3"}, links[0].Hashes)
}

func testLoadMaxDevices(t *testing.T, s storage.Store, clk *Clock) {
	for i := range 40 {
		login(t, s, "alice", fmt.Sprintf("d%02d", i), clk.Advance(time.Minute), fmt.Sprintf("h%d", i))
	}
	st, err := s.Load(ctx(t), storage.LoadRequest{User: "alice"})
	require.NoError(t, err)
	require.Len(t, st.Devices, 32, "MaxDevices 0 means 32")
	assert.Equal(t, "d39", st.Devices[0].DeviceID, "the most recently seen are loaded")
	assert.Equal(t, "d08", st.Devices[31].DeviceID)
	st, err = s.Load(ctx(t), storage.LoadRequest{User: "alice", MaxDevices: 3})
	require.NoError(t, err)
	assert.Len(t, st.Devices, 3)
	all, err := s.UserDevices(ctx(t), "alice")
	require.NoError(t, err)
	assert.Len(t, all, 40, "UserDevices returns them all")

	st, err = s.Load(ctx(t), storage.LoadRequest{User: "alice", DeviceKeys: []string{"k:h2"}})
	require.NoError(t, err)
	require.Len(t, st.Devices, 33, "a candidate that is the user's is loaded as theirs, beyond the 32")
	assert.Equal(t, "d02", st.Devices[32].DeviceID)
	assert.Equal(t, "alice", st.Devices[32].User)
	assert.Equal(t, []string{"h2"}, st.Devices[32].Device.Hashes)
	st, err = s.Load(ctx(t), storage.LoadRequest{User: "alice", DeviceKeys: []string{"k:h39"}})
	require.NoError(t, err)
	assert.Len(t, st.Devices, 32, "one already among the 32 is not repeated")
}

func testLoadDeviceUsers(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	login(t, s, "old", "shared", t0, "hs")
	for _, u := range []string{"alice", "bob", "carol"} {
		login(t, s, u, "shared", clk.Advance(time.Hour), "hs")
	}
	login(t, s, "alice", "own", clk.Now(), "ho")
	login(t, s, "dave", "other", clk.Now(), "hx")
	st, err := s.Load(ctx(t), storage.LoadRequest{User: "alice", DeviceKeys: []string{"k:hx"}, LinkedSince: t0.Add(time.Minute)})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"shared": 3, "own": 1, "other": 1}, st.DeviceUsers,
		"users linked since the time are counted for the user's devices and the candidates")
}

// link returns the user's link to the device, failing the test if there is
// none.
func link(t *testing.T, s storage.Store, user, deviceID string) storage.Link {
	t.Helper()
	devs, err := s.UserDevices(ctx(t), user)
	require.NoError(t, err)
	for _, d := range devs {
		if d.DeviceID == deviceID {
			return d.Link
		}
	}
	require.Failf(t, "link not found", "user %q has no link to device %q", user, deviceID)
	return storage.Link{}
}

func testLinkRestrictions(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	actions := []string{"withdraw", "change_email", "withdraw"}
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Device: device("d1", now, "h1"),
		Link: &storage.Link{User: "alice", DeviceID: "d1", FirstSeen: now, LastSeen: now, RestrictedUntil: now.Add(time.Hour), Restrictions: actions}}))
	actions[0] = "changed"
	l := link(t, s, "alice", "d1")
	assert.Equal(t, []string{"change_email", "withdraw"}, l.Restrictions, "a link's restrictions are kept sorted, without repeats, and not the caller's slice")
	l.Restrictions[0] = "mutated"
	links, err := s.DeviceUsers(ctx(t), "d1", time.Time{})
	require.NoError(t, err)
	require.Len(t, links, 1)
	assert.Equal(t, []string{"change_email", "withdraw"}, links[0].Restrictions, "a store must not return the restrictions it keeps")
	links[0].Restrictions[0] = "mutated"
	st, err := s.Load(ctx(t), storage.LoadRequest{User: "alice"})
	require.NoError(t, err)
	require.Len(t, st.Devices, 1)
	assert.Equal(t, []string{"change_email", "withdraw"}, st.Devices[0].Restrictions)

	// A link restricted until later adds its actions; one restricted until
	// earlier, or not at all, leaves them.
	later := now.Add(2 * time.Hour)
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice",
		Link: &storage.Link{DeviceID: "d1", FirstSeen: now, LastSeen: now, RestrictedUntil: later, Restrictions: []string{"add_payee"}}}))
	l = link(t, s, "alice", "d1")
	assert.Equal(t, later, l.RestrictedUntil, "a link takes the later RestrictedUntil")
	assert.Equal(t, []string{"add_payee", "change_email", "withdraw"}, l.Restrictions, "a link restricted until later merges its restrictions in")
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice",
		Link: &storage.Link{DeviceID: "d1", FirstSeen: now, LastSeen: now, RestrictedUntil: now.Add(time.Hour), Restrictions: []string{"delete_account"}}}))
	login(t, s, "alice", "d1", clk.Advance(time.Minute), "h1")
	l = link(t, s, "alice", "d1")
	assert.Equal(t, later, l.RestrictedUntil)
	assert.Equal(t, []string{"add_payee", "change_email", "withdraw"}, l.Restrictions,
		"a link restricted until earlier, or a plain login, leaves the stored restrictions as they are")
}

func testRestrict(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	login(t, s, "alice", "d1", t0, "h1")
	restrict := func(now, until time.Time, actions ...string) {
		t.Helper()
		require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice",
			Restrict: &storage.Restriction{DeviceID: "d1", Now: now, Until: until, Actions: actions}}))
	}
	check := func(until time.Time, actions []string, msg string) {
		t.Helper()
		l := link(t, s, "alice", "d1")
		assert.Equal(t, until, l.RestrictedUntil, msg)
		assert.Equal(t, actions, l.Restrictions, msg)
	}

	restrict(t0, t0.Add(24*time.Hour), "b", "a", "b")
	check(t0.Add(24*time.Hour), []string{"a", "b"}, "Restrict restricts the link; actions are kept sorted, without repeats")
	t1 := t0.Add(time.Hour)
	restrict(t1, t0.Add(2*time.Hour), "c")
	check(t0.Add(24*time.Hour), []string{"a", "b", "c"}, "a restriction in force keeps its later end and takes the new actions")
	restrict(t1, t0.Add(48*time.Hour), "a")
	check(t0.Add(48*time.Hour), []string{"a", "b", "c"}, "a restriction in force is extended to the later end")
	t2 := t0.Add(48 * time.Hour) // exactly when it ends: no longer in force
	restrict(t2, t2.Add(time.Hour), "d")
	check(t2.Add(time.Hour), []string{"d"}, "a restriction that has ended is replaced")

	// Without a link of the user's to the device, nothing happens; the
	// rest of the commit is written.
	login(t, s, "bob", "bobs", t0, "hb")
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Event: event("alice", 1, t0, false),
		Restrict: &storage.Restriction{DeviceID: "bobs", Now: t0, Until: t0.Add(time.Hour), Actions: []string{"x"}}}))
	l := link(t, s, "bob", "bobs")
	assert.True(t, l.RestrictedUntil.IsZero(), "Restrict touches the commit's user's link only")
	assert.Empty(t, l.Restrictions)
	devs, err := s.UserDevices(ctx(t), "alice")
	require.NoError(t, err)
	assert.Len(t, devs, 1, "Restrict without a link creates none")
	evs, err := s.Events(ctx(t), "alice", time.Time{}, 0)
	require.NoError(t, err)
	assert.Len(t, evs, 2, "a Restrict without a link is not an error")

	// A link written by the same commit is restricted.
	t3 := clk.Advance(time.Minute)
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Device: device("d2", t3, "h2"),
		Link:     &storage.Link{DeviceID: "d2", FirstSeen: t3, LastSeen: t3},
		Restrict: &storage.Restriction{DeviceID: "d2", Now: t3, Until: t3.Add(time.Hour), Actions: []string{"withdraw"}}}))
	l = link(t, s, "alice", "d2")
	assert.Equal(t, t3.Add(time.Hour), l.RestrictedUntil, "Restrict applies to the link the same commit writes")
	assert.Equal(t, []string{"withdraw"}, l.Restrictions)
}

func testLift(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	login(t, s, "alice", "d1", now, "h1")
	login(t, s, "bob", "d1", now, "h1")
	for _, u := range []string{"alice", "bob"} {
		require.NoError(t, s.Commit(ctx(t), storage.Commit{User: u,
			Restrict: &storage.Restriction{DeviceID: "d1", Now: now, Until: now.Add(time.Hour), Actions: []string{"withdraw"}}}))
	}
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Lift: "d1"}))
	l := link(t, s, "alice", "d1")
	assert.True(t, l.RestrictedUntil.IsZero(), "Lift clears RestrictedUntil")
	assert.Empty(t, l.Restrictions, "Lift clears the restrictions")
	l = link(t, s, "bob", "d1")
	assert.Equal(t, now.Add(time.Hour), l.RestrictedUntil, "Lift touches the commit's user's link only")
	assert.Equal(t, []string{"withdraw"}, l.Restrictions)

	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "bob",
		Restrict: &storage.Restriction{DeviceID: "d1", Now: now, Until: now.Add(2 * time.Hour), Actions: []string{"add_payee"}},
		Lift:     "d1"}))
	l = link(t, s, "bob", "d1")
	assert.True(t, l.RestrictedUntil.IsZero(), "Lift is applied after Restrict")
	assert.Empty(t, l.Restrictions)

	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "carol", Event: event("carol", 1, now, false), Lift: "d1"}),
		"a Lift without a link is not an error")
	devs, err := s.UserDevices(ctx(t), "carol")
	require.NoError(t, err)
	assert.Empty(t, devs, "Lift without a link creates none")
}

func testTransition(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	c := challenge("c1", "alice", "d1", now)
	c.Status = storage.ChallengeSent
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: c}))
	t1 := clk.Advance(time.Minute)
	tr := func(from ...storage.ChallengeStatus) *storage.Transition {
		return &storage.Transition{ChallengeID: "c1", From: from, To: storage.ChallengeVerified, At: t1}
	}
	refused := []struct {
		name   string
		commit storage.Commit
		want   error
	}{
		{"a status not in From", storage.Commit{User: "alice", Event: event("alice", 1, t1, true), Device: device("d1", t1, "h1"),
			Link: &storage.Link{DeviceID: "d1", FirstSeen: t1, LastSeen: t1}, Transition: tr(storage.ChallengePending)}, storage.ErrConflict},
		{"another user's challenge", storage.Commit{User: "bob", Event: event("bob", 1, t1, true), Device: device("d1", t1, "h1"),
			Link: &storage.Link{DeviceID: "d1", FirstSeen: t1, LastSeen: t1}, Transition: tr(storage.ChallengeSent)}, storage.ErrNotFound},
		{"a missing challenge", storage.Commit{User: "alice", Event: event("alice", 1, t1, true), Device: device("d1", t1, "h1"),
			Link:       &storage.Link{DeviceID: "d1", FirstSeen: t1, LastSeen: t1},
			Transition: &storage.Transition{ChallengeID: "missing", From: []storage.ChallengeStatus{storage.ChallengeSent}, To: storage.ChallengeVerified, At: t1}}, storage.ErrNotFound},
	}
	for _, r := range refused {
		err := s.Commit(ctx(t), r.commit)
		require.ErrorIs(t, err, r.want, "a transition of %s must be refused", r.name)
		evs, err := s.Events(ctx(t), r.commit.User, time.Time{}, 0)
		require.NoError(t, err)
		assert.Empty(t, evs, "a commit whose transition of %s is refused must write nothing", r.name)
		devs, err := s.UserDevices(ctx(t), r.commit.User)
		require.NoError(t, err)
		assert.Empty(t, devs, "a commit whose transition of %s is refused must write nothing", r.name)
		_, err = s.Device(ctx(t), "d1")
		require.ErrorIs(t, err, storage.ErrNotFound, "a commit whose transition of %s is refused must write nothing", r.name)
		got, err := s.Challenge(ctx(t), "c1")
		require.NoError(t, err)
		assert.Equal(t, *c, got, "a refused transition (%s) leaves the challenge as it was", r.name)
	}

	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Event: event("alice", 2, t1, true),
		Transition: tr(storage.ChallengePending, storage.ChallengeSent)}))
	got, err := s.Challenge(ctx(t), "c1")
	require.NoError(t, err)
	want := *c
	want.Status, want.UpdatedAt = storage.ChallengeVerified, t1
	assert.Equal(t, want, got, "a transition sets Status to To and UpdatedAt to At, and nothing else")
	evs, err := s.Events(ctx(t), "alice", time.Time{}, 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"alice-ev-2"}, eventIDs(evs), "the rest of a commit with a transition is written")
}

func testTransitionRace(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	c := challenge("c1", "alice", "d1", now)
	c.Status = storage.ChallengeVerified
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: c}))
	at := clk.Advance(time.Second)
	const n = 32
	var wins atomic.Int32
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := s.Commit(context.Background(), storage.Commit{User: "alice", Event: event("alice", i, at, true),
				Transition: &storage.Transition{ChallengeID: "c1", From: []storage.ChallengeStatus{storage.ChallengeVerified}, To: storage.ChallengeCompleted, At: at}})
			if err == nil {
				wins.Add(1)
			} else if !errors.Is(err, storage.ErrConflict) {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "the losers of a transition race get ErrConflict")
	}
	assert.Equal(t, int32(1), wins.Load(), "exactly one of %d concurrent commits of one transition must win", n)
	evs, err := s.Events(ctx(t), "alice", time.Time{}, 0)
	require.NoError(t, err)
	assert.Len(t, evs, 1, "the losers' events are not written")
	got, err := s.Challenge(ctx(t), "c1")
	require.NoError(t, err)
	assert.Equal(t, storage.ChallengeCompleted, got.Status)
}

func testChallengeChannel(t *testing.T, s storage.Store, clk *Clock) {
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice", Challenge: challenge("c1", "alice", "d1", clk.Now())}))
	got, err := s.Challenge(ctx(t), "c1")
	require.NoError(t, err)
	assert.Empty(t, got.Channel, "a challenge without a channel comes back without one")
	for _, ch := range []string{"sms", "email", ""} {
		got, err = s.UpdateChallenge(ctx(t), "c1", func(c *storage.Challenge) error {
			c.Channel = ch
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, ch, got.Channel, "UpdateChallenge returns the channel it stored")
		got, err = s.Challenge(ctx(t), "c1")
		require.NoError(t, err)
		assert.Equal(t, ch, got.Channel, "UpdateChallenge can change the channel")
	}
}

func testDeleteLink(t *testing.T, s storage.Store, clk *Clock) {
	t0 := clk.Now()
	login(t, s, "alice", "d1", t0, "h1")
	login(t, s, "alice", "d2", t0, "h2")
	login(t, s, "bob", "d1", t0, "h1")
	require.NoError(t, s.DeleteLink(ctx(t), "alice", "d1", t0))

	devs, err := s.UserDevices(ctx(t), "alice")
	require.NoError(t, err)
	assert.Equal(t, []string{"d2"}, userDeviceIDs(devs), "a deleted link is no longer among the user's devices")
	st, err := s.Load(ctx(t), storage.LoadRequest{User: "alice", DeviceKeys: []string{"k:h1"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"d2"}, userDeviceIDs(st.Devices), "Load no longer lists a deleted link")
	assert.Equal(t, map[string]int{"d1": 1, "d2": 1}, st.DeviceUsers, "a deleted link no longer counts among a device's users")
	links, err := s.DeviceUsers(ctx(t), "d1", time.Time{})
	require.NoError(t, err)
	require.Len(t, links, 1, "DeviceUsers no longer lists a deleted link")
	assert.Equal(t, "bob", links[0].User)
	_, err = s.Device(ctx(t), "d1")
	require.NoError(t, err, "deleting a link keeps the device")
	found, err := s.FindDevices(ctx(t), []string{"k:h1"}, 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"d1"}, deviceIDs(found), "deleting a link keeps the device findable")

	require.NoError(t, s.DeleteLink(ctx(t), "alice", "d2", time.Time{}))
	_, err = s.Device(ctx(t), "d2")
	require.NoError(t, err, "deleting a device's last link keeps the device")
	devs, err = s.UserDevices(ctx(t), "alice")
	require.NoError(t, err)
	assert.Empty(t, devs)

	for _, l := range [][2]string{{"alice", "d1"}, {"carol", "d1"}, {"alice", "ghost"}} {
		err := s.DeleteLink(ctx(t), l[0], l[1], t0)
		require.ErrorIs(t, err, storage.ErrNotFound, "deleting the missing link %s/%s must return ErrNotFound", l[0], l[1])
	}
	login(t, s, "alice", "d1", clk.Advance(time.Minute), "h1")
	l := link(t, s, "alice", "d1")
	assert.Equal(t, clk.Now(), l.FirstSeen, "a link made again after deletion starts afresh")

	now := clk.Now()
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice",
		Restrict: &storage.Restriction{DeviceID: "d1", Now: now, Until: now.Add(time.Hour), Actions: []string{"payment"}}}))
	err = s.DeleteLink(ctx(t), "alice", "d1", now)
	require.ErrorIs(t, err, storage.ErrConflict, "a link restricted at the time given is kept")
	assert.Equal(t, []string{"payment"}, link(t, s, "alice", "d1").Restrictions, "and so is its restriction")
	require.NoError(t, s.DeleteLink(ctx(t), "alice", "d1", now.Add(time.Hour)), "once the restriction has ended it can go")

	login(t, s, "alice", "d1", now, "h1")
	require.NoError(t, s.Commit(ctx(t), storage.Commit{User: "alice",
		Restrict: &storage.Restriction{DeviceID: "d1", Now: now, Until: now.Add(time.Hour), Actions: []string{"payment"}}}))
	require.NoError(t, s.DeleteLink(ctx(t), "alice", "d1", time.Time{}), "a zero time deletes regardless")
}

func userDeviceIDs(ds []storage.UserDevice) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.DeviceID
	}
	return ids
}

func factor(user, kind string, at time.Time) storage.Factor {
	return storage.Factor{User: user, Kind: kind, Secret: []byte("sealed-" + user + "-" + kind), CreatedAt: at, UpdatedAt: at,
		Failures: 2, FailedAt: at.Add(-time.Second)}
}

func testFactors(t *testing.T, s storage.Store, clk *Clock) {
	now := clk.Now()
	_, err := s.Factor(ctx(t), "alice", "totp")
	require.ErrorIs(t, err, storage.ErrNotFound, "a missing factor is ErrNotFound")

	f := factor("alice", "totp", now)
	require.NoError(t, s.PutFactor(ctx(t), f))
	want := f
	want.Secret = slices.Clone(f.Secret)
	f.Secret[0] = 'X'
	got, err := s.Factor(ctx(t), "alice", "totp")
	require.NoError(t, err)
	assert.Equal(t, want, got, "a factor must round-trip field for field, and a store must not keep the caller's secret")
	got.Secret[0] = 'Y'
	got, err = s.Factor(ctx(t), "alice", "totp")
	require.NoError(t, err)
	assert.Equal(t, want, got, "a store must not return the secret it keeps")

	// Factors are kept per user and kind; putting one again replaces it.
	other := factor("alice", "other", now)
	require.NoError(t, s.PutFactor(ctx(t), other))
	bobs := factor("bob", "totp", now)
	require.NoError(t, s.PutFactor(ctx(t), bobs))
	t1 := clk.Advance(time.Minute)
	repl := factor("alice", "totp", t1)
	repl.Secret, repl.Confirmed, repl.LastStep = []byte{0, 1, 255}, true, 59_000_000
	require.NoError(t, s.PutFactor(ctx(t), repl))
	got, err = s.Factor(ctx(t), "alice", "totp")
	require.NoError(t, err)
	assert.Equal(t, repl, got, "PutFactor replaces the user's factor of that kind")
	got, err = s.Factor(ctx(t), "alice", "other")
	require.NoError(t, err)
	assert.Equal(t, other, got, "a user's factors of other kinds stay")
	got, err = s.Factor(ctx(t), "bob", "totp")
	require.NoError(t, err)
	assert.Equal(t, bobs, got, "other users' factors stay")

	require.NoError(t, s.DeleteFactor(ctx(t), "alice", "totp"))
	_, err = s.Factor(ctx(t), "alice", "totp")
	require.ErrorIs(t, err, storage.ErrNotFound, "a deleted factor is gone")
	require.ErrorIs(t, s.DeleteFactor(ctx(t), "alice", "totp"), storage.ErrNotFound, "deleting a missing factor returns ErrNotFound")
	_, err = s.Factor(ctx(t), "alice", "other")
	require.NoError(t, err, "DeleteFactor removes that kind only")
	_, err = s.Factor(ctx(t), "bob", "totp")
	require.NoError(t, err, "DeleteFactor removes that user's only")
}

func testFactorUpdate(t *testing.T, s storage.Store, clk *Clock) {
	called := false
	_, err := s.UpdateFactor(ctx(t), "alice", "totp", func(*storage.Factor) error { called = true; return nil })
	require.ErrorIs(t, err, storage.ErrNotFound, "updating a missing factor returns ErrNotFound")
	assert.False(t, called, "update must not be called for a missing factor")

	f := factor("alice", "totp", clk.Now())
	require.NoError(t, s.PutFactor(ctx(t), f))
	boom := errors.New("boom")
	_, err = s.UpdateFactor(ctx(t), "alice", "totp", func(f *storage.Factor) error {
		f.Confirmed, f.LastStep = true, 7
		return boom
	})
	assert.Same(t, boom, err, "update's error must come back as given")
	got, err := s.Factor(ctx(t), "alice", "totp")
	require.NoError(t, err)
	assert.Equal(t, f, got, "nothing is stored when update fails")

	t1 := clk.Advance(time.Minute)
	got, err = s.UpdateFactor(ctx(t), "alice", "totp", func(f *storage.Factor) error {
		f.User, f.Kind = "mallory", "other"
		f.Confirmed, f.LastStep, f.UpdatedAt = true, 42, t1
		f.Failures, f.FailedAt = 3, t1
		f.Secret[0] = 'Z'
		return nil
	})
	require.NoError(t, err)
	want := f
	want.Confirmed, want.LastStep, want.UpdatedAt = true, 42, t1
	want.Failures, want.FailedAt = 3, t1
	want.Secret = append([]byte("Z"), f.Secret[1:]...)
	assert.Equal(t, want, got, "UpdateFactor returns the stored factor, with its user and kind unchanged")
	got.Secret[0] = 'Y'
	again, err := s.Factor(ctx(t), "alice", "totp")
	require.NoError(t, err)
	assert.Equal(t, want, again, "UpdateFactor stores the update and returns a copy")
	_, err = s.Factor(ctx(t), "mallory", "other")
	require.ErrorIs(t, err, storage.ErrNotFound, "the user and kind of a factor cannot be changed")
}

func testFactorRace(t *testing.T, s storage.Store, clk *Clock) {
	require.NoError(t, s.PutFactor(ctx(t), factor("alice", "totp", clk.Now())))
	errStale := errors.New("stale")
	const n = 32
	var wg sync.WaitGroup
	steps := make(chan int64, n)
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			// Each reads the step and stores the next one only if the step
			// is still what it read, as a code check does; atomic updates
			// make that hold every time.
			f, err := s.UpdateFactor(context.Background(), "alice", "totp", func(f *storage.Factor) error {
				read := f.LastStep
				runtime.Gosched()
				if f.LastStep != read {
					return errStale
				}
				f.LastStep = read + 1
				return nil
			})
			if err != nil {
				errs <- err
				return
			}
			steps <- f.LastStep
		})
	}
	wg.Wait()
	close(errs)
	close(steps)
	for err := range errs {
		require.NoError(t, err)
	}
	seen := map[int64]bool{}
	for st := range steps {
		assert.False(t, seen[st], "two concurrent updates returned the same step %d: one was lost", st)
		seen[st] = true
	}
	got, err := s.Factor(ctx(t), "alice", "totp")
	require.NoError(t, err)
	assert.Equal(t, int64(n), got.LastStep, "no concurrent update of a factor may be lost")
}

func testFactorsLifecycle(t *testing.T, s storage.Store, clk *Clock) {
	old := clk.Now()
	require.NoError(t, s.PutFactor(ctx(t), factor("alice", "totp", old)))
	require.NoError(t, s.PutFactor(ctx(t), factor("bob", "totp", old)))
	now := clk.Advance(400 * 24 * time.Hour)
	n, err := s.Purge(ctx(t), now)
	require.NoError(t, err)
	assert.Zero(t, n, "Purge does not count factors")
	_, err = s.Factor(ctx(t), "alice", "totp")
	require.NoError(t, err, "Purge keeps factors, however old")

	require.NoError(t, s.DeleteUser(ctx(t), "alice"))
	_, err = s.Factor(ctx(t), "alice", "totp")
	require.ErrorIs(t, err, storage.ErrNotFound, "DeleteUser erases the user's factors")
	_, err = s.Factor(ctx(t), "bob", "totp")
	require.NoError(t, err, "DeleteUser keeps other users' factors")
}
