package pgstore_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/internal/fakehash"
	"github.com/atoguard/ato/internal/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSpaceUsed measures what users and logins cost the database, for the
// capacity figures of the package documentation (go test -run
// TestSpaceUsed -v ./pgstore prints them): users with one device each and a
// full history of 50 logins, then known-device logins, whose WAL it
// measures. Its bounds are loose: they catch a change that multiplies the
// space, not the drift of a page.
func TestSpaceUsed(t *testing.T) {
	url := pgtest.URL(t)
	s, schema := openStore(t)
	ctx := t.Context()
	e, err := ato.New(s, ato.WithClock(steppingClock(time.Minute)), ato.WithSecret(testSecret))
	require.NoError(t, err)
	const users, logins = 40, 55
	r := rand.New(rand.NewPCG(21, 22))
	reqs := make([]ato.Request, users)
	for i := range reqs {
		reqs[i] = ato.Request{User: fmt.Sprintf("user-%04d", i), Fingerprint: fakehash.Random(r), IP: fmt.Sprintf("10.2.%d.%d", i>>8, i&255)}
	}
	for range logins {
		for _, req := range reqs {
			_, err := e.Evaluate(ctx, req)
			require.NoError(t, err)
		}
	}
	pool := newPool(t, url)
	q := pgx.Identifier{schema}.Sanitize()
	// Live data only: the rows updated in place (profiles, devices) leave
	// dead versions that vacuum reclaims for reuse, which a server needs
	// room for beside these figures.
	_, err = pool.Exec(ctx, `VACUUM FULL `+q+`.profiles, `+q+`.events, `+q+`.devices, `+q+`.device_keys, `+q+`.user_hashes`)
	require.NoError(t, err)
	sizes := map[string]int64{}
	for _, table := range []string{"profiles", "user_hashes", "devices", "device_keys", "events"} {
		var n int64
		require.NoError(t, pool.QueryRow(ctx, `SELECT pg_total_relation_size($1::regclass)`, q+"."+table).Scan(&n))
		sizes[table] = n
	}
	perUser := (sizes["profiles"] + sizes["user_hashes"] + sizes["events"]) / users
	perDevice := (sizes["devices"] + sizes["device_keys"]) / users
	perEvent := sizes["events"] / (users * 50)
	t.Logf("per user (profile, hashes, 50 events): %d bytes; per event: %d bytes; per device (record and index): %d bytes",
		perUser, perEvent, perDevice)
	t.Logf("tables: %v", sizes)

	// WAL of known-device logins.
	var before, after string
	require.NoError(t, pool.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&before))
	for _, req := range reqs {
		req.LastFingerprint = req.Fingerprint
		_, err := e.Evaluate(ctx, req)
		require.NoError(t, err)
	}
	var wal int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&after))
	require.NoError(t, pool.QueryRow(ctx, `SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::bigint`, after, before).Scan(&wal))
	t.Logf("WAL per known-device login: %d bytes", wal/users)

	assert.Less(t, perUser, int64(64<<10), "bytes per user")
	assert.Less(t, perDevice, int64(16<<10), "bytes per device")
	assert.Less(t, wal/users, int64(16<<10), "WAL bytes per login")
}
