package sqlitestore

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

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
		if m.version <= version {
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
	// last, and have a key of their own.
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	seen := func(i int) time.Time { return at.Add(time.Duration(i) * time.Minute) }
	const devices = storage.MaxKeyDevices + 6
	for i := range devices {
		id := fmt.Sprintf("d%03d", i)
		_, err := db.ExecContext(ctx, `INSERT INTO devices (id, hashes, keys, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)`,
			id, `["h"]`, fmt.Sprintf(`["k:popular","k:own%d"]`, i), seen(i).UnixMilli())
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, `INSERT INTO device_keys (lookup_key, device_id) VALUES ('k:popular', ?1), (?2, ?1)`,
			id, fmt.Sprintf("k:own%d", i))
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, `INSERT INTO links VALUES (?1, ?2, ?3, ?3, 0, 0)`, fmt.Sprintf("u%d", i), id, seen(i).UnixMilli())
		require.NoError(t, err)
	}
	// Failures of two users from one network, and one without a network.
	for i, f := range []storage.Failure{
		{User: "alice", Time: at, Network: "198.51.100.1"},
		{User: "bob", Time: at, Network: "198.51.100.1"},
		{User: "bob", Time: at, Network: "198.51.100.1", KnownIP: true},
		{User: "alice", Time: at},
	} {
		_, err := db.ExecContext(ctx, `INSERT INTO failures (user_id, time, ip, network, device_id, known_device, known_ip)
			VALUES (?1, ?2, '', ?3, '', 0, ?4)`, f.User, f.Time.UnixMilli(), f.Network, boolInt(f.KnownIP))
		require.NoError(t, err, "failure %d", i)
	}
	require.NoError(t, db.Close())

	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()

	found, err := s.FindDevices(ctx, []string{"k:popular"}, 1000)
	require.NoError(t, err)
	require.Len(t, found, storage.MaxKeyDevices, "the key cap applies to the devices indexed before it")
	assert.Equal(t, fmt.Sprintf("d%03d", devices-1), found[0].ID)
	assert.Equal(t, fmt.Sprintf("d%03d", devices-storage.MaxKeyDevices), found[len(found)-1].ID, "the most recently seen are kept")
	found, err = s.FindDevices(ctx, []string{"k:own0"}, 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"d000"}, ids(found), "a device dropped from a key keeps its others")

	// A device written again is indexed under the key it was dropped from,
	// as the key's most recent device.
	d0 := found[0]
	d0.LastSeen = seen(devices)
	require.NoError(t, s.Commit(ctx, storage.Commit{User: "u0", Device: &d0}))
	found, err = s.FindDevices(ctx, []string{"k:popular"}, 1000)
	require.NoError(t, err)
	require.Len(t, found, storage.MaxKeyDevices)
	assert.Equal(t, "d000", found[0].ID)
	assert.NotContains(t, ids(found), fmt.Sprintf("d%03d", devices-storage.MaxKeyDevices))

	links, err := s.DeviceUsers(ctx, "d005", seen(5))
	require.NoError(t, err)
	assert.Len(t, links, 1)

	counts, err := s.CountFailures(ctx, storage.FailureQuery{User: "alice", UserSince: at, Network: "198.51.100.1", NetworkSince: at})
	require.NoError(t, err)
	assert.Equal(t, storage.FailureCounts{User: 2, UserUnknown: 2, NetworkUsers: 2}, counts,
		"the failures with a network are in their network's list")
	n, err := s.Purge(ctx, at.Add(time.Millisecond))
	require.NoError(t, err)
	assert.Equal(t, int64(4), n, "a failure counts once")
	counts, err = s.CountFailures(ctx, storage.FailureQuery{User: "alice", UserSince: at, Network: "198.51.100.1", NetworkSince: at})
	require.NoError(t, err)
	assert.Zero(t, counts)
}

// ids returns the ids of the devices.
func ids(ds []storage.Device) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// TestMigrateAddsRestrictionsChannelFactors upgrades a database of the
// schema before 0004 (links with hashes, challenges without a channel, no
// factors), filled as the store wrote it then, and checks that its rows
// read back with the default restrictions where one was in place and no
// channel, and that the new records work on it.
func TestMigrateAddsRestrictionsChannelFactors(t *testing.T) {
	ctx := t.Context()
	db, path := databaseAt(t, 3)

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
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

	devs, err := s.UserDevices(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, devs, 1)
	assert.Equal(t, storage.Link{User: "alice", DeviceID: "d1", FirstSeen: at, LastSeen: at, Trusted: true,
		RestrictedUntil: until, Hashes: []string{"h1"}, Restrictions: []string{"email_change", "mfa_change", "password_change", "payment", "phone_change"}}, devs[0].Link,
		"a link restricted before 0004 held back the default actions, and still does")
	c, err := s.Challenge(ctx, "c1")
	require.NoError(t, err)
	assert.Empty(t, c.Channel, "an existing challenge has no channel")
	assert.Equal(t, storage.ChallengeSent, c.Status)

	// An existing restriction in force is extended, and its actions kept.
	require.NoError(t, s.Commit(ctx, storage.Commit{User: "alice",
		Restrict: &storage.Restriction{DeviceID: "d1", Now: at, Until: at.Add(time.Hour), Actions: []string{"withdraw"}},
		Transition: &storage.Transition{ChallengeID: "c1", From: []storage.ChallengeStatus{storage.ChallengeSent},
			To: storage.ChallengeVerified, At: at.Add(time.Minute)}}))
	devs, err = s.UserDevices(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, devs, 1)
	assert.Equal(t, until, devs[0].RestrictedUntil)
	assert.Equal(t, []string{"email_change", "mfa_change", "password_change", "payment", "phone_change", "withdraw"}, devs[0].Restrictions)
	c, err = s.UpdateChallenge(ctx, "c1", func(c *storage.Challenge) error { c.Channel = "sms"; return nil })
	require.NoError(t, err)
	assert.Equal(t, storage.ChallengeVerified, c.Status)
	assert.Equal(t, "sms", c.Channel)

	_, err = s.Factor(ctx, "alice", "totp")
	require.ErrorIs(t, err, storage.ErrNotFound)
	f := storage.Factor{User: "alice", Kind: "totp", Secret: []byte("sealed"), CreatedAt: at, UpdatedAt: at}
	require.NoError(t, s.PutFactor(ctx, f))
	got, err := s.Factor(ctx, "alice", "totp")
	require.NoError(t, err)
	assert.Equal(t, f, got)
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
