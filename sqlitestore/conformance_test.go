package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/atoguard/ato/sqlitestore"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/storage/storetest"
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
