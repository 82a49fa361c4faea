package sqlitestore_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atoguard/ato/sqlitestore"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/storage/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store {
		s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "ato.db"))
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// open opens the store at path and closes it when the test ends.
func open(t *testing.T, path string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

func TestDataSurvivesReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ato.db")
	s := open(t, path)

	dev := storage.Device{ID: "d1", Hashes: []string{"h2", "h1"}, Keys: []string{"k2", "k1"}, FirstSeen: t0, LastSeen: t0.Add(time.Hour)}
	link := storage.Link{User: "alice", DeviceID: "d1", FirstSeen: t0, LastSeen: t0.Add(time.Hour), Trusted: true, RestrictedUntil: t0.Add(72 * time.Hour),
		Restrictions: []string{"change_email", "withdraw"}}
	ev1 := storage.Event{ID: "e1", User: "alice", Time: t0, Kind: storage.KindEvaluation, Action: "login", Verdict: "allow", Success: true, DeviceID: "d1",
		IP: "2001:db8::1", Network: "2001:db8::/64", Located: true, Country: "NL", Region: "NH", City: "Amsterdam",
		Latitude: 52.37, Longitude: 4.89, AccuracyKm: 20, ASN: 4294967295, Reasons: []string{"new_ip", "new_device"}, ChallengeID: "c1"}
	ev2 := storage.Event{ID: "e2", User: "alice", Time: t0.Add(time.Minute), Kind: storage.KindChallengeCompleted}
	ch := storage.Challenge{ID: "c1", User: "alice", DeviceID: "d1", Fingerprint: "h2", Status: storage.ChallengeSent,
		Reasons: []string{"new_device"}, Email: "a@example.com", Phone: "+15555550100", Channel: "sms", CodeHash: []byte{0, 1, 2, 255},
		Sends: 1, Attempts: 2, CreatedAt: t0, SentAt: t0.Add(time.Second), ExpiresAt: t0.Add(time.Hour), UpdatedAt: t0.Add(time.Second),
		Attempt: ev1}
	require.NoError(t, s.Commit(ctx, storage.Commit{User: "alice", Event: &ev1, Device: &dev, Link: &link, Challenge: &ch}))
	require.NoError(t, s.Commit(ctx, storage.Commit{User: "alice", Event: &ev2}))
	secret, err := s.Secret(ctx, "hmac", []byte("s3cret"))
	require.NoError(t, err)
	require.NoError(t, s.AddFailure(ctx, storage.Failure{User: "alice", Time: t0, IP: "198.51.100.1", Network: "198.51.100.1"}))
	f := storage.Factor{User: "alice", Kind: "totp", Secret: []byte{9, 0, 255}, Confirmed: true, LastStep: 59_000_123, CreatedAt: t0, UpdatedAt: t0.Add(time.Minute)}
	require.NoError(t, s.PutFactor(ctx, f))
	require.NoError(t, s.Close())

	s = open(t, path)
	st, err := s.Load(ctx, storage.LoadRequest{User: "alice", DeviceKeys: []string{"k1"},
		Failures: storage.FailureQuery{UserSince: t0, Network: "198.51.100.1", NetworkSince: t0}, ChallengesSince: t0})
	require.NoError(t, err)
	require.Len(t, st.Devices, 1)
	assert.Equal(t, storage.UserDevice{Link: link, Device: dev}, st.Devices[0])
	assert.Equal(t, []storage.Device{dev}, st.Candidates)
	assert.Equal(t, []storage.Event{ev2, ev1}, st.Events)
	assert.Equal(t, storage.FailureCounts{User: 1, UserUnknown: 1, NetworkUsers: 1}, st.Failures)
	assert.Equal(t, 1, st.Challenges)
	got, err := s.Challenge(ctx, "c1")
	require.NoError(t, err)
	assert.Equal(t, ch, got)
	again, err := s.Secret(ctx, "hmac", []byte("other"))
	require.NoError(t, err)
	assert.Equal(t, secret, again)
	assert.Equal(t, []byte("s3cret"), again)
	gotF, err := s.Factor(ctx, "alice", "totp")
	require.NoError(t, err)
	assert.Equal(t, f, gotF)
}

func TestTimesTruncatedAndZero(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "ato.db"))
	local := time.FixedZone("X", 3*3600)
	fine := time.Date(2026, 1, 2, 3, 4, 5, 123_456_789, local)
	require.NoError(t, s.Commit(ctx, storage.Commit{User: "alice",
		Device: &storage.Device{ID: "d1", FirstSeen: fine},
		Event:  &storage.Event{ID: "e1", Time: fine},
	}))
	d, err := s.Device(ctx, "d1")
	require.NoError(t, err)
	assert.Equal(t, time.UnixMilli(fine.UnixMilli()).UTC(), d.FirstSeen)
	assert.Equal(t, time.UTC, d.FirstSeen.Location())
	assert.True(t, d.LastSeen.IsZero(), "a zero time comes back as the zero time")
	assert.Nil(t, d.Hashes)
	assert.Nil(t, d.Keys)
	evs, err := s.Events(ctx, "alice", time.Time{}, 0)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, storage.Event{ID: "e1", User: "alice", Time: time.UnixMilli(fine.UnixMilli()).UTC()}, evs[0],
		"the event is stored in the commit's user's history")
}

func TestMigrationsRecordedOnce(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ato.db")
	want, err := sqlitestore.Migrations()
	require.NoError(t, err)
	require.Positive(t, want)

	versions := func(s *sqlitestore.Store) map[int64]int64 {
		rows, err := sqlitestore.ReadDB(s).QueryContext(ctx, "SELECT version, applied_at FROM schema_migrations ORDER BY version")
		require.NoError(t, err)
		defer rows.Close()
		m := map[int64]int64{}
		for rows.Next() {
			var v, at int64
			require.NoError(t, rows.Scan(&v, &at))
			m[v] = at
		}
		require.NoError(t, rows.Err())
		return m
	}

	s := open(t, path)
	first := versions(s)
	assert.Len(t, first, want, "every migration is recorded")
	assert.Contains(t, first, int64(1))
	for v, at := range first {
		assert.Positive(t, at, "migration %d has its applied_at", v)
	}
	require.NoError(t, s.Close())

	time.Sleep(5 * time.Millisecond)
	s = open(t, path)
	assert.Equal(t, first, versions(s), "reopening applies no migration again")
}

func TestClosed(t *testing.T) {
	ctx := t.Context()
	s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "ato.db"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")

	calls := map[string]func() error{
		"Device":      func() error { _, err := s.Device(ctx, "d"); return err },
		"FindDevices": func() error { _, err := s.FindDevices(ctx, []string{"k"}, 0); return err },
		"UserDevices": func() error { _, err := s.UserDevices(ctx, "u"); return err },
		"DeviceUsers": func() error { _, err := s.DeviceUsers(ctx, "d", time.Time{}); return err },
		"Events":      func() error { _, err := s.Events(ctx, "u", time.Time{}, 0); return err },
		"AddFailure":  func() error { return s.AddFailure(ctx, storage.Failure{User: "u"}) },
		"CountFailures": func() error {
			_, err := s.CountFailures(ctx, storage.FailureQuery{User: "u"})
			return err
		},
		"Challenge": func() error { _, err := s.Challenge(ctx, "c"); return err },
		"UpdateChallenge": func() error {
			_, err := s.UpdateChallenge(ctx, "c", func(*storage.Challenge) error { return nil })
			return err
		},
		"Secret":     func() error { _, err := s.Secret(ctx, "n", []byte("x")); return err },
		"Load":       func() error { _, err := s.Load(ctx, storage.LoadRequest{User: "u"}); return err },
		"Commit":     func() error { return s.Commit(ctx, storage.Commit{User: "u"}) },
		"DeleteUser": func() error { return s.DeleteUser(ctx, "u") },
		"Purge":      func() error { _, err := s.Purge(ctx, t0); return err },
		"DeleteLink": func() error { return s.DeleteLink(ctx, "u", "d", t0) },
		"Factor":     func() error { _, err := s.Factor(ctx, "u", "totp"); return err },
		"PutFactor": func() error {
			return s.PutFactor(ctx, storage.Factor{User: "u", Kind: "totp"})
		},
		"UpdateFactor": func() error {
			_, err := s.UpdateFactor(ctx, "u", "totp", func(*storage.Factor) error { return nil })
			return err
		},
		"DeleteFactor": func() error { return s.DeleteFactor(ctx, "u", "totp") },
	}
	for name, call := range calls {
		err := call()
		assert.ErrorIs(t, err, storage.ErrClosed, "%s after Close", name)
		if err != nil {
			assert.True(t, strings.HasPrefix(err.Error(), "sqlitestore: "), "%s: %v", name, err)
		}
	}
}

func TestAwkwardPath(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "my data?#%20x")
	require.NoError(t, os.Mkdir(dir, 0o755))
	path := filepath.Join(dir, "ato db?.sqlite")
	s := open(t, path)
	got, err := s.Secret(ctx, "n", []byte("v"))
	require.NoError(t, err)
	assert.Equal(t, []byte("v"), got)
	require.NoError(t, s.Close())

	_, err = os.Stat(path)
	require.NoError(t, err, "the database is the file at the path given")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.True(t, strings.HasPrefix(e.Name(), "ato db?.sqlite"), "unexpected file %q", e.Name())
	}

	s = open(t, path)
	got, err = s.Secret(ctx, "n", []byte("other"))
	require.NoError(t, err)
	assert.Equal(t, []byte("v"), got, "reopening the same path finds the same data")
}

func TestRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	s := open(t, "ato.db")
	_, err := s.Secret(t.Context(), "n", []byte("v"))
	require.NoError(t, err)
	_, err = os.Stat("ato.db")
	require.NoError(t, err)
}

func TestFileURI(t *testing.T) {
	uri, err := sqlitestore.FileURI("/tmp/a b?c#d%e/f.db")
	require.NoError(t, err)
	assert.Equal(t, "file:///tmp/a%20b%3Fc%23d%25e/f.db", uri)
}

func TestWALMode(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "ato.db"))
	mode, err := sqlitestore.JournalMode(t.Context(), s)
	require.NoError(t, err)
	assert.Equal(t, "wal", strings.ToLower(mode))
}

func TestDeleteUserKeepsOtherUsersDevices(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "ato.db"))
	// bob's device, seen in one of alice's failed attempts but linked to bob.
	require.NoError(t, s.Commit(ctx, storage.Commit{User: "bob",
		Device: &storage.Device{ID: "bobs", Keys: []string{"kb"}, FirstSeen: t0, LastSeen: t0},
		Link:   &storage.Link{User: "bob", DeviceID: "bobs", FirstSeen: t0, LastSeen: t0}}))
	// An unlinked device of carol's.
	require.NoError(t, s.Commit(ctx, storage.Commit{User: "carol",
		Device: &storage.Device{ID: "carols", Keys: []string{"kc"}, FirstSeen: t0, LastSeen: t0},
		Event:  &storage.Event{ID: "c1", Time: t0, DeviceID: "carols"}}))
	// alice: a failed attempt from bob's device, and an unlinked device.
	require.NoError(t, s.Commit(ctx, storage.Commit{User: "alice",
		Device: &storage.Device{ID: "alices", Keys: []string{"ka"}, FirstSeen: t0, LastSeen: t0},
		Event:  &storage.Event{ID: "a1", Time: t0, DeviceID: "alices"}}))
	require.NoError(t, s.Commit(ctx, storage.Commit{User: "alice",
		Event: &storage.Event{ID: "a2", Time: t0, DeviceID: "bobs"}}))

	require.NoError(t, s.DeleteUser(ctx, "alice"))
	_, err := s.Device(ctx, "alices")
	assert.ErrorIs(t, err, storage.ErrNotFound, "a device named only by the user's records is erased")
	found, err := s.FindDevices(ctx, []string{"ka"}, 0)
	require.NoError(t, err)
	assert.Empty(t, found, "an erased device's keys go with it")
	_, err = s.Device(ctx, "bobs")
	assert.NoError(t, err, "a device another user is linked to stays")
	_, err = s.Device(ctx, "carols")
	assert.NoError(t, err, "a device of another user's records stays")
}

func TestUpdateChallengeErrorUnchanged(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "ato.db"))
	require.NoError(t, s.Commit(ctx, storage.Commit{User: "alice",
		Challenge: &storage.Challenge{ID: "c1", User: "alice", Status: storage.ChallengePending, CreatedAt: t0}}))
	boom := errors.New("boom")
	_, err := s.UpdateChallenge(ctx, "c1", func(c *storage.Challenge) error { return boom })
	assert.Same(t, boom, err, "update's error comes back unchanged")
}

func TestContextRespected(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "ato.db"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Load(ctx, storage.LoadRequest{User: "alice"})
	assert.ErrorIs(t, err, context.Canceled)
	err = s.Commit(ctx, storage.Commit{User: "alice", Event: &storage.Event{ID: "e"}})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestEventTextsRoundTrip(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "ato.db"))
	// Event texts are read packed by SQLite into JSON: every byte must
	// come back as it went in.
	awkward := []string{"", `"quoted"`, `back\slash`, "nul\x00byte", "ctl\x01\x1f\x7f", "bad\xffutf8\xc3",
		"\u2028\u2029", "é😀", `["json"]`, strings.Repeat("long,", 100)}
	var want []storage.Event
	for i, a := range awkward {
		e := storage.Event{ID: fmt.Sprintf("e%d%s", i, a), User: "alice", Time: t0.Add(time.Duration(i) * time.Second),
			Kind: a, Action: a + "x", Verdict: a, Success: i%2 == 0, DeviceID: a, IP: a, Network: a,
			Located: i%3 == 0, Country: a, Region: a, City: a,
			Latitude: -float64(i+1) / 3, Longitude: math.Nextafter(float64(i), 1000), AccuracyKm: 1e300 * float64(i),
			ASN: math.MaxUint32 - uint32(i), Reasons: []string{a, "x" + a}, ChallengeID: a}
		require.NoError(t, s.Commit(ctx, storage.Commit{User: "alice", Event: &e}))
		// Reasons are stored as JSON, which holds valid UTF-8 only.
		for j, r := range e.Reasons {
			e.Reasons[j] = strings.ToValidUTF8(r, "\uFFFD")
		}
		want = append([]storage.Event{e}, want...)
	}
	got, err := s.Events(ctx, "alice", time.Time{}, 0)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	st, err := s.Load(ctx, storage.LoadRequest{User: "alice"})
	require.NoError(t, err)
	assert.Equal(t, want, st.Events)
}

func TestCandidatesDoNotShareSlices(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "ato.db"))
	d := storage.Device{ID: "d1", Hashes: []string{"h1"}, Keys: []string{"k1"}, FirstSeen: t0, LastSeen: t0}
	require.NoError(t, s.Commit(ctx, storage.Commit{User: "alice", Device: &d,
		Link: &storage.Link{DeviceID: "d1", FirstSeen: t0, LastSeen: t0}}))
	st, err := s.Load(ctx, storage.LoadRequest{User: "alice", DeviceKeys: []string{"k1"}})
	require.NoError(t, err)
	require.Len(t, st.Devices, 1)
	require.Len(t, st.Candidates, 1)
	assert.Equal(t, d, st.Candidates[0])
	st.Candidates[0].Hashes[0], st.Candidates[0].Keys[0] = "x", "x"
	assert.Equal(t, d, st.Devices[0].Device, "a candidate that is also a known device is a copy")
}

func TestConcurrentReadsAndWrites(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "ato.db"))
	// Reads take the writer's connection when it is idle and a reader's
	// otherwise; every read and write must go through either way.
	const workers, rounds = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			user := fmt.Sprintf("u%d", w%3)
			for i := range rounds {
				at := t0.Add(time.Duration(i) * time.Second)
				d := storage.Device{ID: fmt.Sprintf("d%d", w), Hashes: []string{fmt.Sprintf("h%d", i%3)},
					Keys: []string{"shared", fmt.Sprintf("k%d-%d", w, i%3)}, FirstSeen: at, LastSeen: at}
				err := s.Commit(ctx, storage.Commit{User: user, Device: &d,
					Link:  &storage.Link{DeviceID: d.ID, FirstSeen: at, LastSeen: at},
					Event: &storage.Event{ID: fmt.Sprintf("e%d-%d", w, i), Time: at, Success: true, DeviceID: d.ID}})
				if err == nil {
					_, err = s.Load(ctx, storage.LoadRequest{User: user, DeviceKeys: d.Keys})
				}
				if err == nil {
					_, err = s.FindDevices(ctx, []string{"shared"}, 0)
				}
				if err == nil {
					_, err = s.Events(ctx, user, time.Time{}, 0)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	found, err := s.FindDevices(ctx, []string{"shared"}, 100)
	require.NoError(t, err)
	assert.Len(t, found, workers)
}
