package pgstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/internal/fakehash"
	"github.com/atoguard/ato/internal/pgtest"
	"github.com/atoguard/ato/pgstore"
	"github.com/atoguard/ato/storage"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWithoutMigrations: a store told not to migrate refuses a schema
// that lacks this release's migrations and says what to run; after
// Migrate, it opens.
func TestWithoutMigrations(t *testing.T) {
	url := pgtest.URL(t)
	ctx := t.Context()
	schema := pgtest.Schema(t)
	pool := newPool(t, url)

	_, err := pgstore.New(ctx, pool, pgstore.WithSchema(schema), pgstore.WithoutMigrations())
	require.ErrorIs(t, err, storage.ErrOutdated)
	assert.Contains(t, err.Error(), "pgstore.Migrate")

	require.NoError(t, pgstore.Migrate(ctx, pool, pgstore.WithSchema(schema)))
	s, err := pgstore.New(ctx, pool, pgstore.WithSchema(schema), pgstore.WithoutMigrations())
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, pool.Ping(ctx), "the caller's pool stays open after Close")
}

// TestMigrationsRecordedOnce: opening a migrated schema again applies
// nothing twice.
func TestMigrationsRecordedOnce(t *testing.T) {
	url := pgtest.URL(t)
	ctx := t.Context()
	_, schema := openStore(t)
	for range 2 {
		s, err := pgstore.Open(ctx, url, pgstore.WithSchema(schema))
		require.NoError(t, err)
		require.NoError(t, s.Close())
	}
	pool := newPool(t, url)
	var n, distinct int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM `+
		pgx.Identifier{schema}.Sanitize()+`.schema_migrations`).Scan(&n, &distinct))
	assert.Equal(t, distinct, n)
	assert.Positive(t, n)
}

// TestBadSchemaName: a schema name is a plain identifier; anything else
// is refused before it reaches a statement.
func TestBadSchemaName(t *testing.T) {
	url := pgtest.URL(t)
	for _, name := range []string{"", "Ato", "1ato", "ato-x", `a"b`, "a'b", "a$$b", "x'||(select 1)||'",
		"a234567890123456789012345678901234567890123456789012345678901234"} {
		_, err := pgstore.Open(t.Context(), url, pgstore.WithSchema(name))
		assert.Error(t, err, "%q", name)
	}
}

// TestOpenBadURL: a connection string that does not parse is an error.
func TestOpenBadURL(t *testing.T) {
	_, err := pgstore.Open(t.Context(), "postgres://%zz")
	require.Error(t, err)
}

// TestLeastPrivilege: an owner role migrates the schema in a deploy step;
// the app's role, with only USAGE on the schema and SELECT, INSERT,
// UPDATE, DELETE on its tables, opens it (migrations on or off) and does
// every kind of write.
func TestLeastPrivilege(t *testing.T) {
	url := pgtest.URL(t)
	ctx := t.Context()
	admin := newPool(t, url)
	schema := pgtest.Schema(t)
	owner, app := schema+"_owner", schema+"_app"
	for _, q := range []string{
		`CREATE ROLE ` + owner + ` LOGIN`, `CREATE ROLE ` + app + ` LOGIN`,
		`CREATE SCHEMA ` + schema + ` AUTHORIZATION ` + owner,
	} {
		_, err := admin.Exec(ctx, q)
		require.NoError(t, err, q)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		admin.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
		for _, role := range []string{app, owner} {
			admin.Exec(ctx, `DROP OWNED BY `+role)
			admin.Exec(ctx, `DROP ROLE `+role)
		}
	})
	as := func(role string) *pgxpool.Pool {
		cfg, err := pgxpool.ParseConfig(url)
		require.NoError(t, err)
		cfg.ConnConfig.User = role
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		return pool
	}
	require.NoError(t, pgstore.Migrate(ctx, as(owner), pgstore.WithSchema(schema)))
	_, err := admin.Exec(ctx, `GRANT USAGE ON SCHEMA `+schema+` TO `+app+`;
		GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA `+schema+` TO `+app)
	require.NoError(t, err)

	pool := as(app)
	for _, opts := range [][]pgstore.Option{{pgstore.WithSchema(schema)}, {pgstore.WithSchema(schema), pgstore.WithoutMigrations()}} {
		s, err := pgstore.New(ctx, pool, opts...)
		require.NoError(t, err)
		e, err := ato.New(s, ato.WithSecret(testSecret))
		require.NoError(t, err)
		r := rand.New(rand.NewPCG(8, 8))
		for _, req := range []ato.Request{
			{User: "alice", Fingerprint: fakehash.Random(r), IP: "203.0.113.9"},
			{User: "alice", Fingerprint: fakehash.Random(r), IP: "198.51.100.9", Email: "alice@example.com"},
		} {
			_, err := e.Evaluate(ctx, req)
			require.NoError(t, err)
		}
		require.NoError(t, e.RecordFailure(ctx, ato.Request{User: "alice", IP: "198.51.100.9"}))
		_, err = e.Purge(ctx)
		require.NoError(t, err)
		require.NoError(t, e.DeleteUser(ctx, "alice"))
		require.NoError(t, s.Close())
	}
}

// TestUpgradeFromFirstRelease: a schema the first release made (its one
// migration, events in it) opens with this release: the events stay, and
// an export pages through them in order of (time, seq) on the index 0002
// builds.
func TestUpgradeFromFirstRelease(t *testing.T) {
	url := pgtest.URL(t)
	ctx := t.Context()
	schema := pgtest.Schema(t)
	pool := newPool(t, url)
	first, err := os.ReadFile("migrations/0001_init.sql")
	require.NoError(t, err)
	s := pgx.Identifier{schema}.Sanitize()
	_, err = pool.Exec(ctx, `CREATE SCHEMA `+s+`; CREATE TABLE `+s+`.schema_migrations (
		version bigint PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, strings.ReplaceAll(string(first), "{s}", s))
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO `+s+`.schema_migrations (version, name) VALUES (1, '0001_init.sql')`)
	require.NoError(t, err)
	at := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	for i := range 3 { // the same time: seq orders them
		_, err = pool.Exec(ctx, `INSERT INTO `+s+`.events (id, user_id, time, kind, action, verdict, success, device_id, ip, network,
			located, country, region, city, latitude, longitude, accuracy_km, asn, reasons, challenge_id)
			VALUES ($1, 'alice', $2, 'evaluation', 'login', 'allow', true, 'd1', '192.0.2.1', '192.0.2.1',
			false, '', '', '', 0, 0, 0, 0, NULL, '')`, fmt.Sprint("e", i), at)
		require.NoError(t, err)
	}

	st, err := pgstore.Open(ctx, url, pgstore.WithSchema(schema))
	require.NoError(t, err)
	defer st.Close()
	var ids []string
	require.NoError(t, st.ExportEvents(ctx, time.Time{}, func(e storage.Event) error {
		ids = append(ids, e.ID)
		return nil
	}))
	assert.Equal(t, []string{"e0", "e1", "e2"}, ids)
	var def string
	require.NoError(t, pool.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'events_time_seq'`, schema).Scan(&def))
	assert.Contains(t, def, "(\"time\", seq)")
	var old int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'events_time'`, schema).Scan(&old))
	assert.Zero(t, old, "the index on time alone is gone")
}
