package sqlitestore_test

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/sqlitestore"
	"github.com/atoguard/ato/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fileSums returns the SHA-256 of the database file and of its -wal, if
// it has frames (a reader may leave an empty one).
func fileSums(t *testing.T, path string) map[string][32]byte {
	t.Helper()
	sums := map[string][32]byte{}
	for _, p := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) || err == nil && len(data) == 0 && p != path {
			continue
		}
		require.NoError(t, err)
		sums[filepath.Base(p)] = sha256.Sum256(data)
	}
	return sums
}

func TestOpenReadOnlyWritesNothing(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ato.db")
	w, err := sqlitestore.Open(path)
	require.NoError(t, err)
	now := t0
	eng, err := ato.New(w, ato.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	res, err := eng.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: "fp-laptop", IP: "203.0.113.9"})
	require.NoError(t, err)
	now = now.Add(time.Hour)
	chal, err := eng.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: "fp-phone", IP: "198.51.100.7", Email: "a@example.com"})
	require.NoError(t, err)
	require.NotEmpty(t, chal.ChallengeID)
	require.NoError(t, w.Close())
	before := fileSums(t, path)

	r, err := sqlitestore.OpenReadOnly(path)
	require.NoError(t, err)
	defer r.Close()
	st, err := r.Load(ctx, storage.LoadRequest{User: "alice"})
	require.NoError(t, err)
	assert.Len(t, st.Profile.Devices, 1, "the reader sees what was written")
	evs, err := r.Events(ctx, "alice", time.Time{}, 10)
	require.NoError(t, err)
	assert.Len(t, evs, 2)
	_, err = r.Challenge(ctx, chal.ChallengeID)
	require.NoError(t, err)
	_, err = r.Secret(ctx, "ato.hmac.v1", nil)
	require.NoError(t, err, "a secret stored is read")

	// Every write is refused, and the engine over it cannot commit.
	writes := map[string]error{
		"Commit": r.Commit(ctx, storage.Commit{User: "alice", Event: &storage.Event{ID: "x", Time: now}, History: storage.HistoryLimits{Max: 10}}),
		"AddFailure": r.AddFailure(ctx, storage.Failure{User: "alice", Time: now}, storage.FailureLimits{Keep: time.Hour, MaxUser: 1,
			MaxNetworkUsers: 1}),
		"DeleteUser": r.DeleteUser(ctx, "alice"),
	}
	_, writes["UpdateChallenge"] = r.UpdateChallenge(ctx, chal.ChallengeID, func(*storage.Challenge) error { return nil })
	_, writes["UpdateFactor"] = r.UpdateFactor(ctx, "alice", "totp", func(*storage.Factor) error { return nil })
	_, writes["Secret"] = r.Secret(ctx, "another", []byte("new"))
	_, writes["Purge"] = r.Purge(ctx, storage.PurgeRequest{EventsBefore: now.Add(time.Hour), Batch: 10})
	for name, err := range writes {
		assert.ErrorIs(t, err, sqlitestore.ErrReadOnly, name)
	}
	ro, err := ato.New(r, ato.WithClock(func() time.Time { return now }))
	require.NoError(t, err, "the engine reads the stored key")
	_, err = ro.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: "fp-laptop", IP: "203.0.113.9"})
	assert.ErrorIs(t, err, sqlitestore.ErrReadOnly)
	require.NoError(t, r.Close())

	assert.Equal(t, before, fileSums(t, path), "the database file is unchanged")
	assert.NotEmpty(t, res.FingerprintID)
}

func TestOpenReadOnlyRefuses(t *testing.T) {
	dir := t.TempDir()
	_, err := sqlitestore.OpenReadOnly(filepath.Join(dir, "missing.db"))
	assert.ErrorContains(t, err, "no such database file")
	_, err = os.Stat(filepath.Join(dir, "missing.db"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing is created")

	other := filepath.Join(dir, "other.db")
	require.NoError(t, os.WriteFile(other, nil, 0o600))
	_, err = sqlitestore.OpenReadOnly(other)
	assert.ErrorContains(t, err, "not an ato database")
	assert.ErrorIs(t, err, storage.ErrOutdated, "a database without this release's migrations")
	_, err = sqlitestore.OpenReadOnly(":memory:")
	assert.ErrorIs(t, err, sqlitestore.ErrMemory)
}
