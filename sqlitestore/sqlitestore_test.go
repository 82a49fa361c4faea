package sqlitestore_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/sqlitestore"
	"github.com/atoguard/ato/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// open opens the store at path and closes it when the test ends.
func open(t *testing.T, path string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

var limits = profile.Limits{Devices: 32, Networks: 64, Countries: 32, ASNs: 32}

// learn is a profile write that learns a login from the device.
func learn(p profile.Profile, login profile.Login, keys ...string) *storage.ProfileWrite {
	ch := profile.Change{Now: login.Time, Login: &login, Keys: keys, Limits: limits}
	next, gone, err := p.Apply(ch)
	if err != nil {
		panic(err)
	}
	return &storage.ProfileWrite{Base: p.Version, New: next, Change: ch, Gone: gone}
}

func TestDataSurvivesReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ato.db")
	s := open(t, path)

	login := profile.Login{Time: t0, DeviceID: "d1", IP: "2001:db8::1", Network: "2001:db8::/64", Located: true,
		Country: "NL", Region: "NH", City: "Amsterdam", Latitude: 52.37, Longitude: 4.89, AccuracyKm: 20, ASN: 4294967295}
	pw := learn(profile.Profile{User: "alice"}, login, "k2", "k1")
	dev := storage.Device{ID: "d1", Hashes: []string{"h2", "h1"}, Keys: []string{"k2", "k1"}, FirstSeen: t0, LastSeen: t0.Add(time.Hour)}
	ev1 := storage.Event{ID: "e1", User: "alice", Time: t0, Kind: storage.KindEvaluation, Action: "login", Verdict: "allow", Success: true, DeviceID: "d1",
		IP: "2001:db8::1", Network: "2001:db8::/64", Located: true, Country: "NL", Region: "NH", City: "Amsterdam",
		Latitude: 52.37, Longitude: 4.89, AccuracyKm: 20, ASN: 4294967295, Reasons: []string{"new_ip", "new_device"}, ChallengeID: "c1"}
	ev2 := storage.Event{ID: "e2", User: "alice", Time: t0.Add(time.Minute), Kind: storage.KindChallengeCompleted}
	ch := storage.Challenge{ID: "c1", User: "alice", DeviceID: "d1", Fingerprint: "h2", KnownDevice: true, Status: storage.ChallengeSent,
		Reasons: []string{"new_device"}, Email: "a@example.com", Phone: "+15555550100", Channel: "sms", CodeHash: []byte{0, 1, 2, 255},
		Sends: 1, Attempts: 2, CreatedAt: t0, SentAt: t0.Add(time.Second), ExpiresAt: t0.Add(time.Hour), UpdatedAt: t0.Add(time.Second),
		Attempt: ev1}
	history := storage.HistoryLimits{Max: 50}
	require.NoError(t, s.Commit(ctx, storage.Commit{User: "alice", Profile: pw, Event: &ev1, History: history,
		Hashes: &storage.DeviceHashes{DeviceID: "d1", Hashes: []string{"h2", "h1"}},
		Device: &storage.DeviceWrite{Device: dev, Seen: t0, MaxUsers: 32}, Challenge: &ch}))
	require.NoError(t, s.Commit(ctx, storage.Commit{User: "alice", Event: &ev2, History: history}))
	secret, err := s.Secret(ctx, "hmac", []byte("s3cret"))
	require.NoError(t, err)
	require.NoError(t, s.AddFailure(ctx, storage.Failure{User: "alice", Time: t0, Network: "198.51.100.1"},
		storage.FailureLimits{Keep: time.Hour, MaxUser: 64, MaxNetworkUsers: 64}))
	f := storage.Factor{User: "alice", Kind: "totp", Secret: []byte{9, 0, 255}, Confirmed: true, LastStep: 59_000_123, CreatedAt: t0, UpdatedAt: t0.Add(time.Minute)}
	_, err = s.UpdateFactor(ctx, "alice", "totp", func(g *storage.Factor) error { *g = f; return nil })
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s = open(t, path)
	st, err := s.Load(ctx, storage.LoadRequest{User: "alice", FingerprintKey: "x:other", DeviceKeys: storage.Keys("k1"), MaxCandidates: 16,
		Failures:   &storage.FailureQuery{UserSince: t0, MaxUser: 64, Network: "198.51.100.1", NetworkSince: t0, MaxNetworkUsers: 64},
		Challenges: &storage.ChallengeQuery{Since: t0, Max: 10}})
	require.NoError(t, err)
	want := pw.New
	want.Version = 1
	assert.Equal(t, want, st.Profile)
	assert.Equal(t, map[string][]string{"d1": {"h2", "h1"}}, st.Hashes)
	dev.Users = []storage.DeviceUser{{User: "alice", LastSeen: t0}}
	assert.Equal(t, []storage.Device{dev}, st.Candidates)
	assert.Equal(t, storage.FailureCounts{User: 1, UserUnknown: 1, NetworkUsers: 1}, st.Failures)
	assert.Equal(t, 1, st.Challenges)
	evs, err := s.Events(ctx, "alice", time.Time{}, 10)
	require.NoError(t, err)
	assert.Equal(t, []storage.Event{ev2, ev1}, evs)
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

	s = open(t, path)
	assert.Equal(t, first, versions(s), "reopening applies no migration again")
}

func TestClosed(t *testing.T) {
	ctx := t.Context()
	s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "ato.db"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")

	lim := storage.FailureLimits{Keep: time.Hour, MaxUser: 1, MaxNetworkUsers: 1}
	calls := map[string]func() error{
		"Load":       func() error { _, err := s.Load(ctx, storage.LoadRequest{User: "u"}); return err },
		"Commit":     func() error { return s.Commit(ctx, storage.Commit{User: "u"}) },
		"AddFailure": func() error { return s.AddFailure(ctx, storage.Failure{User: "u"}, lim) },
		"Challenge":  func() error { _, err := s.Challenge(ctx, "c"); return err },
		"UpdateChallenge": func() error {
			_, err := s.UpdateChallenge(ctx, "c", func(*storage.Challenge) error { return nil })
			return err
		},
		"Factor": func() error { _, err := s.Factor(ctx, "u", "totp"); return err },
		"UpdateFactor": func() error {
			_, err := s.UpdateFactor(ctx, "u", "totp", func(*storage.Factor) error { return nil })
			return err
		},
		"Secret":     func() error { _, err := s.Secret(ctx, "n", []byte("x")); return err },
		"Events":     func() error { _, err := s.Events(ctx, "u", time.Time{}, 1); return err },
		"DeleteUser": func() error { return s.DeleteUser(ctx, "u") },
		"Purge":      func() error { _, err := s.Purge(ctx, storage.PurgeRequest{EventsBefore: t0, Batch: 1}); return err },
	}
	for name, call := range calls {
		err := call()
		assert.ErrorIs(t, err, storage.ErrClosed, "%s after Close", name)
		if err != nil {
			assert.True(t, strings.HasPrefix(err.Error(), "sqlitestore: "), "%s: %v", name, err)
		}
	}
}

// An in-memory database would be one per connection: it is refused, and
// no file of that name is made.
func TestMemoryRefused(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, path := range []string{":memory:", "file::memory:?cache=shared"} {
		_, err := sqlitestore.Open(path)
		require.ErrorIs(t, err, sqlitestore.ErrMemory, path)
	}
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	assert.Empty(t, entries, "no file named after the in-memory database")
}

func TestMissingDirectorySaysSo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "no", "such")
	_, err := sqlitestore.Open(filepath.Join(dir, "ato.db"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the directory "+fmt.Sprintf("%q", dir)+" does not exist")
}

// TestTwoProcessesOpenANewFile starts two processes that open the same new
// database file at once, twenty times over: both must succeed each time.
// A process is this test binary, run again as helperOpen.
func TestTwoProcessesOpenANewFile(t *testing.T) {
	if os.Getenv("ATO_SQLITE_OPEN") != "" {
		t.Skip("a helper process")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	for run := range 20 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("race%d.db", run))
		var wg sync.WaitGroup
		outs := make([][]byte, 2)
		errs := make([]error, 2)
		start := time.Now().Add(300 * time.Millisecond).UnixNano()
		for i := range 2 {
			cmd := exec.Command(exe, "-test.run=^TestHelperOpen$", "-test.count=1")
			cmd.Env = append(os.Environ(), "ATO_SQLITE_OPEN="+path, fmt.Sprintf("ATO_SQLITE_START=%d", start))
			wg.Go(func() { outs[i], errs[i] = cmd.CombinedOutput() })
		}
		wg.Wait()
		for i := range 2 {
			require.NoError(t, errs[i], "run %d, process %d:\n%s", run, i, outs[i])
		}
		s := open(t, path)
		n, err := sqlitestore.Migrations()
		require.NoError(t, err)
		var applied int
		require.NoError(t, sqlitestore.ReadDB(s).QueryRowContext(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&applied))
		assert.Equal(t, n, applied, "run %d: each migration applied once", run)
		require.NoError(t, s.Close())
	}
}

// TestHelperOpen is the body of a process of TestTwoProcessesOpenANewFile:
// it waits for the agreed instant, opens the file, writes, and closes.
func TestHelperOpen(t *testing.T) {
	path := os.Getenv("ATO_SQLITE_OPEN")
	if path == "" {
		t.Skip("run by TestTwoProcessesOpenANewFile")
	}
	var start int64
	fmt.Sscan(os.Getenv("ATO_SQLITE_START"), &start)
	time.Sleep(time.Until(time.Unix(0, start)))
	s, err := sqlitestore.Open(path)
	require.NoError(t, err)
	_, err = s.Secret(t.Context(), "n", []byte(fmt.Sprint(os.Getpid())))
	require.NoError(t, err)
	require.NoError(t, s.Close())
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
	err = s.Commit(ctx, storage.Commit{User: "alice", Event: &storage.Event{ID: "e"}, History: storage.HistoryLimits{Max: 1}})
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
		require.NoError(t, s.Commit(ctx, storage.Commit{User: "alice", Event: &e, History: storage.HistoryLimits{Max: 50}}))
		// Reasons are stored as JSON, which holds valid UTF-8 only.
		for j, r := range e.Reasons {
			e.Reasons[j] = strings.ToValidUTF8(r, "\uFFFD")
		}
		want = append([]storage.Event{e}, want...)
	}
	got, err := s.Events(ctx, "alice", time.Time{}, 100)
	require.NoError(t, err)
	assert.Equal(t, want, got)
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
				st, err := s.Load(ctx, storage.LoadRequest{User: user, FingerprintKey: "x:" + d.ID, DeviceKeys: storage.Keys(d.Keys...), MaxCandidates: 16})
				if err == nil {
					err = s.Commit(ctx, storage.Commit{User: user,
						Profile: learn(st.Profile, profile.Login{Time: at, DeviceID: d.ID, Network: "192.0.2.1"}, "x:"+d.ID),
						Device:  &storage.DeviceWrite{Device: d, Seen: at, MaxUsers: 32},
						Event:   &storage.Event{ID: fmt.Sprintf("e%d-%d", w, i), Time: at, Success: true, DeviceID: d.ID},
						History: storage.HistoryLimits{Max: 50}})
				}
				if err == nil {
					_, err = s.Events(ctx, user, time.Time{}, 50)
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
	st, err := s.Load(ctx, storage.LoadRequest{User: "nobody", FingerprintKey: "x:none", DeviceKeys: storage.Keys("shared"), MaxCandidates: 100})
	require.NoError(t, err)
	assert.Len(t, st.Candidates, workers)
	total := 0
	for u := range 3 {
		p, err := s.Load(ctx, storage.LoadRequest{User: fmt.Sprintf("u%d", u)})
		require.NoError(t, err)
		for _, d := range p.Profile.Devices {
			total += d.Logins
		}
	}
	assert.Equal(t, workers*rounds, total, "concurrent profile writes lose no login")
}

// Failures for one account from a new IPv6 /64 each, for twice as long as
// the engine keeps failures (its longest window, the 3 hours of names that
// are not accounts): the store tracks the networks of the last 3 hours
// only, and the account's newest failures only.
func TestFailuresFromManyNetworksAreBounded(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "ato.db"))
	now := t0
	e, err := ato.New(s, ato.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	const n = 1200
	for i := range n {
		now = t0.Add(time.Duration(i) * 2 * signals.DefaultStuffingUnknownWindow / n)
		require.NoError(t, e.RecordFailure(ctx, ato.Request{User: "alice", IP: fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff)}))
	}
	var networks, failures int
	db := sqlitestore.ReadDB(s)
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM network_failures`).Scan(&networks))
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM failures`).Scan(&failures))
	assert.LessOrEqual(t, networks, n/2+1, "only the last 3 hours' networks (the window includes its start), of %d", n)
	assert.LessOrEqual(t, failures, 64, "only the account's newest failures")
	dropped, err := e.Purge(ctx)
	require.NoError(t, err)
	assert.Zero(t, dropped, "new failures expired the old ones as they came: nothing is left for Purge")
}
