package sqlmigrate_test

import (
	"testing"
	"testing/fstest"

	"github.com/atoguard/ato/internal/sqlmigrate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRead(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_second.sql": {Data: []byte("B")},
		"m/0001_first.sql":  {Data: []byte("A")},
		"m/0010_tenth.sql":  {Data: []byte("C")},
		"m/README":          {Data: []byte("not a migration")},
	}
	ms, err := sqlmigrate.Read(fsys, "m")
	require.NoError(t, err)
	require.Len(t, ms, 3)
	assert.Equal(t, []int64{1, 2, 10}, []int64{ms[0].Version, ms[1].Version, ms[2].Version})
	assert.Equal(t, "0010_tenth.sql", ms[2].Name)
	assert.Equal(t, "C", ms[2].SQL)
}

func TestReadRefuses(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"no number":    {"m/first.sql": {}},
		"zero":         {"m/0000_zero.sql": {}},
		"same version": {"m/0001_a.sql": {}, "m/001_b.sql": {}},
	} {
		_, err := sqlmigrate.Read(fsys, "m")
		assert.Error(t, err, name)
	}
}
