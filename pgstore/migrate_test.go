package pgstore_test

import (
	"testing"

	"github.com/atoguard/ato/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWithoutMigrations: a store told not to migrate refuses a schema
// that lacks this release's migrations and says what to run; after
// Migrate, it opens.
func TestWithoutMigrations(t *testing.T) {
	url := serverURL(t)
	ctx := t.Context()
	schema := newSchema(t)
	pool := newPool(t, url)

	_, err := pgstore.New(ctx, pool, pgstore.WithSchema(schema), pgstore.WithoutMigrations())
	require.Error(t, err)
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
	url := serverURL(t)
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

// TestBadSchemaName: a schema name PostgreSQL cannot hold is an error, and
// one with quotes in it is quoted, not spliced.
func TestBadSchemaName(t *testing.T) {
	url := serverURL(t)
	_, err := pgstore.Open(t.Context(), url, pgstore.WithSchema(""))
	require.Error(t, err)
	odd := newSchema(t) + `"; DROP TABLE x; --`
	t.Cleanup(func() {
		pool := newPool(t, url)
		pool.Exec(t.Context(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{odd}.Sanitize()+` CASCADE`)
	})
	s, err := pgstore.Open(t.Context(), url, pgstore.WithSchema(odd))
	require.NoError(t, err)
	require.NoError(t, s.Close())
}

// TestOpenBadURL: a connection string that does not parse is an error.
func TestOpenBadURL(t *testing.T) {
	_, err := pgstore.Open(t.Context(), "postgres://%zz")
	require.Error(t, err)
}
