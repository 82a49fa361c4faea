package storeopen_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/ato/internal/pgtest"
	"github.com/atoguard/ato/internal/storeopen"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/sqlitestore"
	"github.com/atoguard/ato/storage"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	s, err := storeopen.Open(ctx, storeopen.Memory)
	require.NoError(t, err)
	assert.IsType(t, &memstore.Store{}, s.Store)
	require.NoError(t, s.Close())

	path := filepath.Join(t.TempDir(), "ato.db")
	s, err = storeopen.Open(ctx, path)
	require.NoError(t, err)
	assert.IsType(t, &sqlitestore.Store{}, s.Store)
	require.NoError(t, s.Close())
	assert.Equal(t, "SQLite file "+path, storeopen.Describe(path))

	_, err = storeopen.Open(ctx, "")
	require.Error(t, err)
}

func TestPostgresPasswordNeverShown(t *testing.T) {
	spec := "postgres://ato:s3cret-pw@127.0.0.1:1/ato?connect_timeout=1"
	assert.Equal(t, "postgres", storeopen.Kind(spec))
	assert.NotContains(t, storeopen.Describe(spec), "s3cret-pw")
	_, err := storeopen.Open(context.Background(), spec)
	require.Error(t, err, "nothing listens on port 1")
	assert.NotContains(t, err.Error(), "s3cret-pw")
	assert.True(t, strings.HasPrefix(storeopen.Describe(spec), "PostgreSQL postgres://ato:"), storeopen.Describe(spec))
}

func TestOpenReadOnly(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ato.db")
	_, err := storeopen.OpenReadOnly(ctx, path)
	require.Error(t, err, "a file that does not exist")
	_, err = os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist, "and it is not created")
	_, err = storeopen.OpenReadOnly(ctx, storeopen.Memory)
	require.ErrorContains(t, err, "nothing to read")

	w, err := storeopen.Open(ctx, path)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	r, err := storeopen.OpenReadOnly(ctx, path)
	require.NoError(t, err)
	defer r.Close()
	err = r.Commit(ctx, storage.Commit{User: "alice", Event: &storage.Event{ID: "e"}, History: storage.HistoryLimits{Max: 1}})
	require.ErrorIs(t, err, sqlitestore.ErrReadOnly)
	_, ok := r.Store.(storage.Exporter)
	assert.True(t, ok, "the store can be exported from")
}

func TestPostgresSchemaAndReadOnly(t *testing.T) {
	ctx := t.Context()
	spec, schema := pgtest.SchemaURL(t)
	w, err := storeopen.Open(ctx, spec)
	require.NoError(t, err)
	ev := storage.Event{ID: "e1", User: "alice", Time: time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC), Kind: storage.KindEvaluation}
	require.NoError(t, w.Commit(ctx, storage.Commit{User: "alice", Event: &ev, History: storage.HistoryLimits{Max: 10}}))
	require.NoError(t, w.Close())

	conn, err := pgx.Connect(ctx, pgtest.URL(t))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.events`).Scan(&n))
	assert.Equal(t, 1, n, "the event is in the schema %s names", storeopen.SchemaParam)

	r, err := storeopen.OpenReadOnly(ctx, spec)
	require.NoError(t, err)
	defer r.Close()
	evs, err := r.Events(ctx, "alice", time.Time{}, 10)
	require.NoError(t, err)
	assert.Len(t, evs, 1)
	ev.ID = "e2"
	err = r.Commit(ctx, storage.Commit{User: "alice", Event: &ev, History: storage.HistoryLimits{Max: 10}})
	require.ErrorContains(t, err, "read-only transaction")
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.events`).Scan(&n))
	assert.Equal(t, 1, n, "nothing was written")
}
