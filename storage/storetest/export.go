package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/ato/storage"
)

// The export cases check [storage.Exporter], which a store may leave out:
// a store that does not implement it has them skipped, with a word why.

var exportTests = []test{
	{"events_in_order", testExportEventsOrder},
	{"events_since", testExportEventsSince},
	{"events_many", testExportEventsMany},
	{"events_same_as_history", testExportEventsFields},
	{"users", testExportUsers},
	{"devices", testExportDevices},
	{"erased_user", testExportErased},
	{"stop", testExportStop},
}

// exporter returns the store as a storage.Exporter, or skips the test.
func exporter(t *testing.T, s storage.Store) storage.Exporter {
	t.Helper()
	ex, ok := s.(storage.Exporter)
	if !ok {
		t.Skipf("the store does not implement storage.Exporter, which is optional: %T cannot be exported from, nor migrated by the ato tool", s)
	}
	return ex
}

// exportedEvents returns what ExportEvents gives since the time.
func exportedEvents(t *testing.T, ex storage.Exporter, since time.Time) []storage.Event {
	t.Helper()
	var evs []storage.Event
	must(t, ex.ExportEvents(t.Context(), since, func(e storage.Event) error {
		evs = append(evs, e)
		return nil
	}), "ExportEvents")
	return evs
}

func addEvent(t *testing.T, s storage.Store, e *storage.Event) {
	t.Helper()
	commit(t, s, storage.Commit{User: e.User, Event: e, History: history}, "Commit of event "+e.ID)
}

func testExportEventsOrder(t *testing.T, s storage.Store, clk *Clock) {
	ex := exporter(t, s)
	t0 := clk.Now()
	// Committed out of time order, three users interleaved, with several
	// events of one millisecond.
	add := func(user string, n int, at time.Time) {
		addEvent(t, s, event(user, n, at, n%2 == 0))
	}
	add("carol", 5, t0.Add(5*time.Minute))
	add("alice", 1, t0.Add(time.Minute))
	add("bob", 3, t0.Add(3*time.Minute))
	add("alice", 0, t0)
	for i := 10; i < 14; i++ {
		add("alice", i, t0.Add(4*time.Minute)) // one millisecond, in this order
	}
	add("bob", 2, t0.Add(2*time.Minute))
	want := []string{"alice-0", "alice-1", "bob-2", "bob-3", "alice-10", "alice-11", "alice-12", "alice-13", "carol-5"}
	got := eventIDs(exportedEvents(t, ex, time.Time{}))
	if !slices.Equal(got, want) {
		t.Errorf("ExportEvents must give every user's events in order of time, a user's events of one millisecond in the order they were added; it gives %q, want %q", got, want)
	}
}

func testExportEventsSince(t *testing.T, s storage.Store, clk *Clock) {
	ex := exporter(t, s)
	t0 := clk.Now()
	for i := range 6 {
		addEvent(t, s, event(fmt.Sprintf("u%d", i%2), i, t0.Add(time.Duration(i)*time.Hour), true))
	}
	got := eventIDs(exportedEvents(t, ex, t0.Add(3*time.Hour)))
	if want := []string{"u1-3", "u0-4", "u1-5"}; !slices.Equal(got, want) {
		t.Errorf("ExportEvents must give the events since the time, one at exactly the time included; it gives %q, want %q", got, want)
	}
	if got := exportedEvents(t, ex, t0.Add(6*time.Hour)); len(got) != 0 {
		t.Errorf("ExportEvents since a time after every event must give nothing; it gives %q", eventIDs(got))
	}
}

func testExportEventsMany(t *testing.T, s storage.Store, clk *Clock) {
	ex := exporter(t, s)
	// More events than a store reads in one batch, many of one
	// millisecond, so that batches end inside a run of ties.
	const users, perUser = 7, 150
	t0 := clk.Now()
	for n := range perUser {
		at := t0.Add(time.Duration(n/50) * time.Second) // 50 rounds a millisecond
		for u := range users {
			user := fmt.Sprintf("user%d", u)
			addEvent(t, s, event(user, n, at, true))
		}
	}
	got := exportedEvents(t, ex, time.Time{})
	if len(got) != users*perUser {
		t.Fatalf("ExportEvents must give every event (%d); it gives %d", users*perUser, len(got))
	}
	next := map[string]int{}
	for i, e := range got {
		if i > 0 && e.Time.Before(got[i-1].Time) {
			t.Fatalf("ExportEvents must give events in order of time; event %d (%s at %v) comes after %s at %v", i, e.ID, e.Time, got[i-1].ID, got[i-1].Time)
		}
		if id := fmt.Sprintf("%s-%d", e.User, next[e.User]); e.ID != id {
			t.Fatalf("ExportEvents must give a user's events of one millisecond in the order they were added; event %d is %s, want %s", i, e.ID, id)
		}
		next[e.User]++
	}
}

func testExportEventsFields(t *testing.T, s storage.Store, clk *Clock) {
	ex := exporter(t, s)
	ev := event("alice", 1, clk.Now(), true)
	ev.Kind, ev.ChallengeID = "a_later_kind", "c1"
	addEvent(t, s, ev)
	bare := &storage.Event{ID: "bare", User: "bob", Time: clk.Advance(time.Second), Kind: storage.KindEvaluation}
	addEvent(t, s, bare)
	got := exportedEvents(t, ex, time.Time{})
	if len(got) != 2 {
		t.Fatalf("ExportEvents must give the 2 events committed; it gives %d", len(got))
	}
	sameAs(t, got[0], *ev, "an event must come out of ExportEvents as it was committed, field for field")
	sameAs(t, got[1], *bare, "an event with empty fields must come out of ExportEvents as it was committed")
	sameAs(t, got[0], allEvents(t, s, "alice")[0], "ExportEvents and Events must give the same event")
}

func testExportUsers(t *testing.T, s storage.Store, clk *Clock) {
	ex := exporter(t, s)
	t0 := clk.Now()
	loginFrom(t, s, "carol", "d3", "198.51.100.7", t0, "x:c1")
	loginFrom(t, s, "alice", "d2", "203.0.113.9", t0.Add(time.Minute), "x:a2", "x:a1")
	loginFrom(t, s, "alice", "d1", "203.0.113.9", t0.Add(2*time.Minute), "x:a3")
	loginFrom(t, s, "bob", "d1", "192.0.2.1", t0.Add(3*time.Minute), "x:a3")
	// A user with a history and no profile is not exported.
	addEvent(t, s, event("dave", 1, t0, false))
	// Factors go with their user, in order of kind.
	putFactor(t, s, factor("alice", "totp", t0))
	putFactor(t, s, factor("alice", "a-key", t0))
	putFactor(t, s, factor("bob", "totp", t0.Add(time.Minute)))

	var got []storage.UserRecord
	must(t, ex.ExportUsers(t.Context(), func(r storage.UserRecord) error {
		got = append(got, r)
		return nil
	}), "ExportUsers")
	var names []string
	for _, r := range got {
		names = append(names, r.Profile.User)
	}
	if want := []string{"alice", "bob", "carol"}; !slices.Equal(names, want) {
		t.Fatalf("ExportUsers must give every user with a profile, in order of user id; it gives %q, want %q", names, want)
	}
	for _, r := range got {
		sameAs(t, r.Profile, profileOf(t, s, r.Profile.User), "ExportUsers must give user %s's profile as Load does, version included", r.Profile.User)
		want := []storage.DeviceHashes{}
		hs := userHashes(t, s, r.Profile.User)
		for id, h := range hs {
			want = append(want, storage.DeviceHashes{DeviceID: id, Hashes: h})
		}
		slices.SortFunc(want, func(a, b storage.DeviceHashes) int { return strings.Compare(a.DeviceID, b.DeviceID) })
		sameAs(t, r.Hashes, want, "ExportUsers must give the hashes user %s saw from each device, in order of device id", r.Profile.User)
	}
	factors := map[string][]storage.Factor{
		"alice": {factor("alice", "a-key", t0), factor("alice", "totp", t0)},
		"bob":   {factor("bob", "totp", t0.Add(time.Minute))},
	}
	for _, r := range got {
		sameAs(t, r.Factors, factors[r.Profile.User], "ExportUsers must give user %s's factors, sealed secrets included, in order of kind", r.Profile.User)
	}
}

func testExportDevices(t *testing.T, s storage.Store, clk *Clock) {
	ex := exporter(t, s)
	t0 := clk.Now()
	login(t, s, "alice", "d2", t0, "x:k2", "x:k1")
	login(t, s, "bob", "d2", t0.Add(time.Hour), "x:k3")
	login(t, s, "alice", "d1", t0.Add(2*time.Hour), "x:k4")
	var got []storage.Device
	must(t, ex.ExportDevices(t.Context(), func(d storage.Device) error {
		got = append(got, d)
		return nil
	}), "ExportDevices")
	if ids := deviceIDs(got); !slices.Equal(ids, []string{"d1", "d2"}) {
		t.Fatalf("ExportDevices must give every global device in order of id; it gives %q, want [d1 d2]", ids)
	}
	sameAs(t, got[0], mustDevice(t, s, "d1", "x:k4"), "ExportDevices must give device d1 as Load finds it")
	sameAs(t, got[1], mustDevice(t, s, "d2", "x:k3"), "ExportDevices must give device d2 (its hashes, keys, times and users) as Load finds it")
}

func testExportErased(t *testing.T, s storage.Store, clk *Clock) {
	ex := exporter(t, s)
	t0 := clk.Now()
	loginFrom(t, s, "alice", "d1", "203.0.113.9", t0, "x:a1")
	loginFrom(t, s, "bob", "d2", "203.0.113.9", t0.Add(time.Minute), "x:b1")
	must(t, s.DeleteUser(t.Context(), "alice"), "DeleteUser")
	for _, e := range exportedEvents(t, ex, time.Time{}) {
		if e.User == "alice" {
			t.Errorf("ExportEvents must not give an erased user's events; it gives %s", e.ID)
		}
	}
	must(t, ex.ExportUsers(t.Context(), func(r storage.UserRecord) error {
		if r.Profile.User == "alice" {
			t.Errorf("ExportUsers must not give an erased user")
		}
		return nil
	}), "ExportUsers")
	must(t, ex.ExportDevices(t.Context(), func(d storage.Device) error {
		if d.ID == "d1" {
			t.Errorf("ExportDevices must not give a device whose only user was erased")
		}
		return nil
	}), "ExportDevices")
}

func testExportStop(t *testing.T, s storage.Store, clk *Clock) {
	ex := exporter(t, s)
	t0 := clk.Now()
	for i := range 5 {
		loginFrom(t, s, fmt.Sprintf("u%d", i), fmt.Sprintf("d%d", i), "203.0.113.9", t0.Add(time.Duration(i)*time.Minute), fmt.Sprintf("x:%d", i))
	}
	stop := errors.New("storetest: stop")
	for _, c := range []struct {
		name string
		run  func(fn func() error) error
	}{
		{"ExportEvents", func(fn func() error) error {
			return ex.ExportEvents(t.Context(), time.Time{}, func(storage.Event) error { return fn() })
		}},
		{"ExportUsers", func(fn func() error) error {
			return ex.ExportUsers(t.Context(), func(storage.UserRecord) error { return fn() })
		}},
		{"ExportDevices", func(fn func() error) error {
			return ex.ExportDevices(t.Context(), func(storage.Device) error { return fn() })
		}},
	} {
		calls := 0
		err := c.run(func() error {
			calls++
			if calls == 2 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) {
			t.Errorf("%s must return the error of fn as given; it returns %v", c.name, err)
		}
		if calls != 2 {
			t.Errorf("%s must stop at the first error of fn; fn was called %d times, want 2", c.name, calls)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for name, err := range map[string]error{
		"ExportEvents":  ex.ExportEvents(ctx, time.Time{}, func(storage.Event) error { return nil }),
		"ExportUsers":   ex.ExportUsers(ctx, func(storage.UserRecord) error { return nil }),
		"ExportDevices": ex.ExportDevices(ctx, func(storage.Device) error { return nil }),
	} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context must return its error (context.Canceled); it returns %v", name, err)
		}
	}
}
