package sqlitestore_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/sqlitestore"
	"github.com/atoguard/ato/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readOnlyView returns a view of dir that nobody may write: a read-only
// bind mount of it for root (whom permissions do not stop), the directory
// itself made read-only for another user.
func readOnlyView(t *testing.T, dir string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		require.NoError(t, os.Chmod(dir, 0o555))
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		return dir
	}
	view := t.TempDir()
	if err := syscall.Mount(dir, view, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("a read-only file system is needed: bind mount: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(view, syscall.MNT_DETACH) })
	if err := syscall.Mount("", view, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("a read-only file system is needed: remount read-only: %v", err)
	}
	return view
}

// An operator inspects a copy of the database on a read-only file system
// (a backup, a snapshot): SQLite cannot make the -shm file a reader of a
// WAL database shares there.
func TestOpenReadOnlyOnReadOnlyFileSystem(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "ato.db")
	w, err := sqlitestore.Open(path)
	require.NoError(t, err)
	now := t0
	eng, err := ato.New(w, ato.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	_, err = eng.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: "fp-laptop", IP: "203.0.113.9"})
	require.NoError(t, err)
	require.NoError(t, w.Close(), "a clean close leaves no -wal file")
	before := fileSums(t, path)

	view := readOnlyView(t, dir)
	r, err := sqlitestore.OpenReadOnly(filepath.Join(view, "ato.db"))
	require.NoError(t, err, "a database closed cleanly is read on a read-only file system")
	st, err := r.Load(ctx, storage.LoadRequest{User: "alice"})
	require.NoError(t, err)
	assert.Len(t, st.Profile.Devices, 1)
	evs, err := r.Events(ctx, "alice", time.Time{}, 10)
	require.NoError(t, err)
	assert.Len(t, evs, 1)
	assert.ErrorIs(t, r.DeleteUser(ctx, "alice"), sqlitestore.ErrReadOnly)
	require.NoError(t, r.Close())
	assert.Equal(t, before, fileSums(t, path))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no -wal or -shm file was made")
}

// A database whose -wal file holds transactions is not read as immutable:
// that would miss them. On a read-only file system it is either read with
// them or refused.
func TestOpenReadOnlyOnReadOnlyFileSystemWithLog(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "ato.db")
	w, err := sqlitestore.Open(path)
	require.NoError(t, err)
	defer w.Close() // open: its last transactions are in the -wal file
	now := t0
	eng, err := ato.New(w, ato.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	_, err = eng.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: "fp-laptop", IP: "203.0.113.9"})
	require.NoError(t, err)
	fi, err := os.Stat(path + "-wal")
	require.NoError(t, err)
	require.Positive(t, fi.Size(), "the write is in the -wal file")

	view := readOnlyView(t, dir)
	r, err := sqlitestore.OpenReadOnly(filepath.Join(view, "ato.db"))
	if err != nil {
		assert.ErrorContains(t, err, "unable to open")
		return
	}
	defer r.Close()
	st, err := r.Load(ctx, storage.LoadRequest{User: "alice"})
	require.NoError(t, err)
	assert.Len(t, st.Profile.Devices, 1, "the -wal file's transactions are read")
}
