package storeopen_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atoguard/ato/internal/storeopen"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/sqlitestore"
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
