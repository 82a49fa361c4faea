package sqlitestore

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/atoguard/ato/internal/hashkey"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// databaseAt makes a database file with the schema of migrations 0001 to
// version applied, as an older store left it, and returns it open on one
// connection with its path.
func databaseAt(t *testing.T, version int64) (*sql.DB, string) {
	t.Helper()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ato.db")
	uri, err := fileURI(path)
	require.NoError(t, err)
	db, err := sql.Open("sqlite", uri+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(ON)")
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	ms, err := migrations()
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER)`)
	require.NoError(t, err)
	var applied int64
	for _, m := range ms {
		if m.Version <= version {
			require.NoError(t, applyMigration(ctx, db, m))
			applied++
		}
	}
	require.Equal(t, version, applied, "migrations 0001 to %04d exist", version)
	return db, path
}

// TestMigrateFromFirstSchema upgrades a database that the first schema
// created and filled, as the store wrote it before the later migrations,
// and checks that the store reads it as it was.
func TestMigrateFromFirstSchema(t *testing.T) {
	ctx := t.Context()
	ms, err := migrations()
	require.NoError(t, err)
	require.Greater(t, len(ms), 1)
	db, path := databaseAt(t, 1)

	// 70 devices share the key "k:popular", each seen a minute after the
	// last, and have a key of their own; each is user uN's.
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	seen := func(i int) time.Time { return at.Add(time.Duration(i) * time.Minute) }
	const devices = storage.MaxKeyDevices + 6
	for i := range devices {
		id := fmt.Sprintf("d%03d", i)
		_, err := db.ExecContext(ctx, `INSERT INTO devices (id, hashes, keys, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)`,
			id, fmt.Sprintf(`["h%d"]`, i), fmt.Sprintf(`["k:popular","k:own%d"]`, i), seen(i).UnixMilli())
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, `INSERT INTO device_keys (lookup_key, device_id) VALUES ('k:popular', ?1), (?2, ?1)`,
			id, fmt.Sprintf("k:own%d", i))
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, `INSERT INTO links VALUES (?1, ?2, ?3, ?3, 0, 0)`, fmt.Sprintf("u%d", i), id, seen(i).UnixMilli())
		require.NoError(t, err)
	}
	// Failures of two users from one network, and one without a network.
	for i, f := range []struct {
		user, network string
		knownIP       bool
	}{
		{"alice", "198.51.100.1", false},
		{"bob", "198.51.100.1", false},
		{"bob", "198.51.100.1", true},
		{"alice", "", false},
	} {
		_, err := db.ExecContext(ctx, `INSERT INTO failures (user_id, time, ip, network, device_id, known_device, known_ip)
			VALUES (?1, ?2, '', ?3, '', 0, ?4)`, f.user, at.UnixMilli(), f.network, boolInt(f.knownIP))
		require.NoError(t, err, "failure %d", i)
	}
	require.NoError(t, db.Close())

	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()

	var popular int
	require.NoError(t, s.read.QueryRowContext(ctx, `SELECT count(*) FROM device_keys WHERE lookup_key = 'k:popular'`).Scan(&popular))
	assert.Equal(t, storage.MaxKeyDevices, popular, "the key cap applies to the devices indexed before it")
	st, err := s.Load(ctx, storage.LoadRequest{User: "u0", FingerprintKey: "x:other", DeviceKeys: storage.Keys("k:own0"), MaxCandidates: 16})
	require.NoError(t, err)
	require.Len(t, st.Candidates, 1, "a device dropped from a key keeps its others")
	assert.Equal(t, "d000", st.Candidates[0].ID)
	assert.Equal(t, []storage.DeviceUser{{User: "u0", LastSeen: seen(0)}}, st.Candidates[0].Users, "a device knows the accounts linked to it")
	require.Len(t, st.Profile.Devices, 1, "the link is the user's known device")
	d := st.Profile.Devices[0]
	assert.Equal(t, "d000", d.ID)
	assert.Equal(t, []string{hashkey.Exact("h0")}, d.Keys, "matched by the key of the device's hash")
	assert.Equal(t, map[string][]string{"d000": {"h0"}}, st.Hashes, "a link without hashes has the device's")

	st, err = s.Load(ctx, storage.LoadRequest{User: "alice", Failures: &storage.FailureQuery{
		UserSince: at, MaxUser: 64, Network: "198.51.100.1", NetworkSince: at, MaxNetworkUsers: 64}})
	require.NoError(t, err)
	assert.Equal(t, storage.FailureCounts{User: 2, UserUnknown: 2, NetworkUsers: 2}, st.Failures,
		"failures keep counting, and a network's users who did not know it")
	n, err := s.Purge(ctx, storage.PurgeRequest{FailuresBefore: at.Add(time.Millisecond), Batch: 100})
	require.NoError(t, err)
	assert.Equal(t, 6, n, "four failures, and two users in the network's list")
}

// TestMigrateAddsRestrictionsChannelFactors upgrades a database of the
// schema before 0004 (links with hashes, challenges without a channel, no
// factors), filled as the store wrote it then, and checks that its rows
// read back with the default restrictions where one was in place and no
// channel, and that the new records work on it.
func TestMigrateAddsRestrictionsChannelFactors(t *testing.T) {
	ctx := t.Context()
	db, path := databaseAt(t, 3)

	at := time.Now().UTC().Truncate(time.Millisecond)
	until := at.Add(72 * time.Hour)
	for _, q := range []string{
		`INSERT INTO devices (id, hashes, keys, first_seen, last_seen) VALUES ('d1', '["h1"]', '["k1"]', ?1, ?1)`,
		`INSERT INTO device_keys (lookup_key, device_id, written) VALUES ('k1', 'd1', 1)`,
		`INSERT INTO links (user_id, device_id, first_seen, last_seen, trusted, restricted_until, hashes)
			VALUES ('alice', 'd1', ?1, ?1, 1, ?2, '["h1"]')`,
		`INSERT INTO challenges (id, user_id, device_id, fingerprint, status, reasons, email, phone, code_hash,
			sends, attempts, created_at, sent_at, expires_at, updated_at, attempt)
			VALUES ('c1', 'alice', 'd1', 'h1', 'sent', '["new_device"]', 'a@example.com', '', NULL,
			1, 0, ?1, ?1, ?2, ?1, '{}')`,
	} {
		_, err := db.ExecContext(ctx, q, at.UnixMilli(), until.UnixMilli())
		require.NoError(t, err, q)
	}
	require.NoError(t, db.Close())

	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()

	st, err := s.Load(ctx, storage.LoadRequest{User: "alice"})
	require.NoError(t, err)
	require.Len(t, st.Profile.Devices, 1)
	d := st.Profile.Devices[0]
	assert.Equal(t, profile.Device{ID: "d1", Keys: []string{hashkey.Exact("h1")}, FirstSeen: at, LastSeen: at, Logins: 1, Trusted: true,
		RestrictedUntil: until, Restrictions: []string{"email_change", "mfa_change", "password_change", "payment", "phone_change"}}, d,
		"a link restricted before 0004 held back the default actions, and still does")
	c, err := s.Challenge(ctx, "c1")
	require.NoError(t, err)
	assert.Empty(t, c.Channel, "an existing challenge has no channel")
	assert.Equal(t, storage.ChallengeSent, c.Status)
	c, err = s.UpdateChallenge(ctx, "c1", func(c *storage.Challenge) error { c.Channel = "sms"; return nil })
	require.NoError(t, err)
	assert.Equal(t, "sms", c.Channel)

	_, err = s.Factor(ctx, "alice", "totp")
	require.ErrorIs(t, err, storage.ErrNotFound)
	f := storage.Factor{User: "alice", Kind: "totp", Secret: []byte("sealed"), CreatedAt: at, UpdatedAt: at}
	_, err = s.UpdateFactor(ctx, "alice", "totp", func(g *storage.Factor) error { *g = f; return nil })
	require.NoError(t, err)
	got, err := s.Factor(ctx, "alice", "totp")
	require.NoError(t, err)
	assert.Equal(t, f, got)
}

// TestMigrateBuildsProfiles upgrades a database at 0006, filled as the
// release before storage v2 wrote it, and checks each user's profile: the
// linked devices with their trust and restriction and the keys of the
// hashes the user saw, the places of the successful logins, the latest
// login; and each device's accounts.
func TestMigrateBuildsProfiles(t *testing.T) {
	ctx := t.Context()
	db, path := databaseAt(t, 6)
	at := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Hour)
	minute := func(i int) int64 { return at.Add(time.Duration(i) * time.Minute).UnixMilli() }
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO devices (id, hashes, keys, first_seen, last_seen) VALUES ('lap', '["lap2","lap1"]', '["x:l"]', ?1, ?2)`, []any{minute(0), minute(3)}},
		{`INSERT INTO devices (id, hashes, keys, first_seen, last_seen) VALUES ('pho', '["pho1"]', '["x:p"]', ?1, ?1)`, []any{minute(2)}},
		{`INSERT INTO devices (id, hashes, keys, first_seen, last_seen) VALUES ('old', '["old1"]', '["x:o"]', ?1, ?1)`, []any{minute(1)}},
		{`INSERT INTO links (user_id, device_id, first_seen, last_seen, trusted, restricted_until, hashes, restrictions)
			VALUES ('alice', 'lap', ?1, ?2, 0, ?3, '["lap1"]', '["payment"]')`, []any{minute(0), minute(3), minute(60 * 72)}},
		{`INSERT INTO links (user_id, device_id, first_seen, last_seen, trusted, restricted_until, hashes, restrictions)
			VALUES ('alice', 'pho', ?1, ?1, 1, 0, NULL, NULL)`, []any{minute(2)}},
		{`INSERT INTO links (user_id, device_id, first_seen, last_seen, trusted, restricted_until, hashes, restrictions)
			VALUES ('bob', 'pho', ?1, ?1, 0, 0, '["pho1"]', NULL)`, []any{minute(4)}},
	} {
		_, err := db.ExecContext(ctx, q.sql, q.args...)
		require.NoError(t, err, q.sql)
	}
	// alice's history: the laptop at home twice, the phone at a café, the
	// device she forgot since, and a challenged attempt that taught nothing.
	for i, e := range []struct {
		device, network, country, city string
		success                        bool
		minute                         int
	}{
		{"lap", "203.0.113.9", "NL", "Amsterdam", true, 0},
		{"old", "203.0.113.9", "NL", "Amsterdam", true, 1},
		{"pho", "192.0.2.77", "NL", "Rotterdam", true, 2},
		{"lap", "203.0.113.9", "NL", "Amsterdam", true, 3},
		{"new", "198.51.100.66", "US", "Boston", false, 5},
	} {
		_, err := db.ExecContext(ctx, `INSERT INTO events (id, user_id, time, kind, action, verdict, success, device_id, ip, network,
			located, country, region, city, latitude, longitude, accuracy_km, asn, reasons, challenge_id)
			VALUES (?1, 'alice', ?2, 'evaluation', 'login', 'allow', ?3, ?4, ?5, ?5, 1, ?6, '', ?7, 52.3, 4.9, 20, 1136, NULL, '')`,
			fmt.Sprint("e", i), minute(e.minute), boolInt(e.success), e.device, e.network, e.country, e.city)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	st, err := s.Load(ctx, storage.LoadRequest{User: "alice", FingerprintKey: "x:other"})
	require.NoError(t, err)
	p := st.Profile
	assert.Equal(t, int64(1), p.Version)
	require.Len(t, p.Devices, 2, "the linked devices; the forgotten one stays forgotten")
	lap, pho := p.Devices[0], p.Devices[1]
	assert.Equal(t, "lap", lap.ID)
	assert.Equal(t, []string{hashkey.Exact("lap1")}, lap.Keys, "the hashes alice saw, not the device's")
	assert.Equal(t, 2, lap.Logins)
	assert.Equal(t, []string{"payment"}, lap.Restrictions)
	assert.Equal(t, at.Add(72*time.Hour), lap.RestrictedUntil)
	assert.Equal(t, "Amsterdam", lap.City)
	assert.Equal(t, "pho", pho.ID)
	assert.True(t, pho.Trusted)
	assert.Equal(t, []string{hashkey.Exact("pho1")}, pho.Keys, "a link without hashes has the device's")
	assert.True(t, p.KnownNetwork("203.0.113.9", at.Add(-time.Hour)))
	assert.True(t, p.KnownNetwork("192.0.2.77", at.Add(-time.Hour)))
	assert.False(t, p.KnownNetwork("198.51.100.66", at.Add(-time.Hour)), "a challenged attempt taught nothing")
	assert.Equal(t, []string{"NL"}, p.RecentCountries(at.Add(-time.Hour)))
	assert.True(t, p.KnownASN(1136, at.Add(-time.Hour)))
	assert.Equal(t, "lap", p.Last.DeviceID)
	assert.Equal(t, at.Add(3*time.Minute), p.Last.Time)
	assert.Equal(t, map[string][]string{"lap": {"lap1"}, "pho": {"pho1"}}, st.Hashes)

	st, err = s.Load(ctx, storage.LoadRequest{User: "bob", FingerprintKey: hashkey.Exact("pho1")})
	require.NoError(t, err)
	require.Len(t, st.Candidates, 1, "bob's newest hash of the phone names its record")
	assert.Equal(t, []storage.DeviceUser{{User: "bob", LastSeen: at.Add(4 * time.Minute)}, {User: "alice", LastSeen: at.Add(2 * time.Minute)}},
		st.Candidates[0].Users)
	var links int
	require.NoError(t, s.read.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'links'`).Scan(&links))
	assert.Zero(t, links, "the links are dropped once read")
}

// TestMigrateAddsFactorFailures upgrades a database at 0004, with a factor
// written then, and checks that the factor reads back with no failures and
// that failures are then kept.
func TestMigrateAddsFactorFailures(t *testing.T) {
	ctx := t.Context()
	db, path := databaseAt(t, 4)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	_, err := db.ExecContext(ctx, `INSERT INTO factors (user_id, kind, secret, confirmed, last_step, created_at, updated_at)
		VALUES ('alice', 'totp', x'01', 1, 7, ?1, ?1)`, at.UnixMilli())
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	f, err := s.Factor(ctx, "alice", "totp")
	require.NoError(t, err)
	assert.Equal(t, storage.Factor{User: "alice", Kind: "totp", Secret: []byte{1}, Confirmed: true, LastStep: 7, CreatedAt: at, UpdatedAt: at}, f,
		"a factor from before 0005 has no failures")
	f, err = s.UpdateFactor(ctx, "alice", "totp", func(f *storage.Factor) error { f.Failures, f.FailedAt = 3, at; return nil })
	require.NoError(t, err)
	assert.Equal(t, 3, f.Failures)
	assert.Equal(t, at, f.FailedAt)
}

// TestMigrateAddsChallengeKnownDevice upgrades a database at 0005, with an
// open challenge written then, and checks that the challenge reads back
// as one of an unknown device (its wrong codes count in the stricter
// guard) and that the flag is then kept.
func TestMigrateAddsChallengeKnownDevice(t *testing.T) {
	ctx := t.Context()
	db, path := databaseAt(t, 5)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	_, err := db.ExecContext(ctx, `INSERT INTO challenges (id, user_id, device_id, fingerprint, status, reasons, email, phone,
		code_hash, sends, attempts, created_at, sent_at, expires_at, updated_at, attempt, channel)
		VALUES ('c1', 'alice', 'd1', 'h', 'sent', '["new_device"]', 'a@example.com', '', x'01', 1, 0, ?1, ?1, ?2, ?1, '{}', 'email')`,
		at.UnixMilli(), at.Add(time.Hour).UnixMilli())
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	c, err := s.Challenge(ctx, "c1")
	require.NoError(t, err)
	assert.False(t, c.KnownDevice)
	assert.Equal(t, storage.ChallengeSent, c.Status)
	c, err = s.UpdateChallenge(ctx, "c1", func(c *storage.Challenge) error { c.KnownDevice = true; return nil })
	require.NoError(t, err)
	assert.True(t, c.KnownDevice)
}
