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

// aliceLogsIn has an engine over s log alice in from her laptop.
func aliceLogsIn(t *testing.T, s *sqlitestore.Store) {
	t.Helper()
	eng, err := ato.New(s, ato.WithClock(func() time.Time { return t0 }))
	require.NoError(t, err)
	_, err = eng.Evaluate(t.Context(), ato.Request{User: "alice", Fingerprint: "fp-laptop", IP: "203.0.113.9"})
	require.NoError(t, err)
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
	aliceLogsIn(t, w)
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

// A database whose -wal file holds transactions is not read as immutable,
// which would miss them, also through a symbolic link: on a read-only file
// system, where the reader cannot make the -shm file, it is refused with
// what to do. A link to a database closed cleanly is read.
func TestOpenReadOnlyOnReadOnlyFileSystemWithLog(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "ato.db")
	w, err := sqlitestore.Open(path)
	require.NoError(t, err)
	require.NoError(t, w.Close(), "the schema is in the database file")
	w, err = sqlitestore.Open(path)
	require.NoError(t, err)
	aliceLogsIn(t, w)
	// A copy of the database and its log, as a backup of a running
	// application's would be, without the -shm file.
	copied := t.TempDir()
	for _, name := range []string{"ato.db", "ato.db-wal"} {
		copyFile(t, filepath.Join(dir, name), filepath.Join(copied, name))
	}
	require.NoError(t, w.Close())
	fi, err := os.Stat(filepath.Join(copied, "ato.db-wal"))
	require.NoError(t, err)
	require.Positive(t, fi.Size(), "alice's login is in the -wal file")

	view := readOnlyView(t, copied)
	links := t.TempDir()
	link := filepath.Join(links, "link.db")
	require.NoError(t, os.Symlink(filepath.Join(view, "ato.db"), link))
	for _, p := range []string{filepath.Join(view, "ato.db"), link} {
		_, err := sqlitestore.OpenReadOnly(p)
		assert.ErrorContains(t, err, "its -wal file holds transactions", p)
	}

	clean := filepath.Join(links, "clean.db")
	require.NoError(t, os.Symlink(filepath.Join(readOnlyView(t, dir), "ato.db"), clean))
	r, err := sqlitestore.OpenReadOnly(clean)
	require.NoError(t, err, "a link to a database closed cleanly")
	defer r.Close()
	st, err := r.Load(ctx, storage.LoadRequest{User: "alice"})
	require.NoError(t, err)
	assert.Len(t, st.Profile.Devices, 1)
}
