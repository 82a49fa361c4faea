// Package sqlitestore is a [storage.Store] kept in one SQLite database file,
// through the pure-Go driver modernc.org/sqlite (no cgo).
//
// # Connections
//
// The database runs in WAL mode, so that reading and writing connections do
// not block each other: a read sees the last transaction committed before
// it started. A [Store] holds two connection pools on the same file:
//
//   - a writer pool of exactly one connection, whose write transactions
//     begin with BEGIN IMMEDIATE, so that writes of this process are
//     serialized in Go and never fail to upgrade a read lock into a write
//     lock;
//   - a reader pool of a few connections, which serve the reads. Reads of
//     several tables (such as [Store.Load]) run in one read-only
//     transaction, which sees one consistent snapshot.
//
// SQLite empties a connection's page cache whenever another connection has
// written, so the readers' caches are cold after every write, while the
// writer's stays warm. A read-only transaction therefore runs on the
// writer's connection when no write or other read is using it, and on a
// reader otherwise.
//
// Every statement is prepared once per connection and kept (see
// statements). Every connection is configured by its DSN with
// busy_timeout(10000), journal_mode(WAL), synchronous(NORMAL),
// foreign_keys(ON) and temp_store(MEMORY) (statement journals, which the
// upserts of a commit need, in memory rather than in a temporary file);
// reader connections are also query_only. Other
// processes may open the same file: they wait for each other's write locks
// up to the busy timeout, and [Open] retries what a brand-new file's
// setup may refuse while another process sets it up.
//
// # Schema
//
// The schema is created and upgraded by ordered migrations embedded in the
// package: SQL files (migrations/NNNN_name.sql) and steps written in Go
// where data must be converted (see migrate.go). [Open] applies, in order,
// those not yet recorded in the schema_migrations table, each in its own
// write transaction together with its record.
//
// One file per kind of record holds its SQL, its arguments and its
// scanning: profile.go (profiles and the hashes users saw), device.go
// (devices and their index), event.go, failure.go, challenge.go, factor.go
// (factors and secrets). store.go puts them together into Load, Commit and
// the other calls of the contract.
//
// # Values
//
// Times are stored as INTEGER UTC unix milliseconds, which truncates finer
// times; the zero time.Time is stored as 0. A profile is one BLOB
// (internal/profilecodec). Lists of strings (hashes, keys, reasons) are
// JSON arrays in TEXT columns; empty ones read back as nil.
//
// A Store is safe for concurrent use by many goroutines.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/atoguard/ato/storage"

	"modernc.org/sqlite" // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// readConns is the size of the reader pool.
const readConns = 4

// Store is a [storage.Store] kept in a SQLite database file. Create one with
// [Open] and release it with [Store.Close]. It is safe for concurrent use.
type Store struct {
	// mu guards closed: every method holds it for reading while it runs,
	// and Close takes it for writing, so Close waits for the calls in
	// flight and no call starts on closed pools.
	mu     sync.RWMutex
	closed bool

	write *sql.DB // one connection; transactions are BEGIN IMMEDIATE
	read  *sql.DB // several query_only connections

	// writer is held by whoever uses the writer's connection: a write
	// transaction, or a read transaction that found it idle (see readTx).
	writer chan struct{}

	// wstmts and rstmts are the statements prepared on the writer and the
	// reader pool, indexed as statements.
	wstmts, rstmts []*sql.Stmt

	// readOnly: opened by OpenReadOnly; every write fails.
	readOnly bool
}

var _ storage.Store = (*Store)(nil)

// ErrMemory is returned by [Open] for ":memory:": each connection of a
// Store would see a database of its own. Use memstore for a store in
// memory.
var ErrMemory = errors.New("sqlitestore: an in-memory database (\":memory:\") is not supported: each connection would see its own; use memstore")

// Open opens the SQLite database file at path, creating it if needed, and
// applies the migrations it lacks. The file's directory must exist. The
// path is made absolute, so the Store keeps using the same file if the
// working directory changes.
func Open(path string) (*Store, error) { return open(path, false) }

// ErrReadOnly is returned by every write of a store opened with
// [OpenReadOnly].
var ErrReadOnly = errors.New("sqlitestore: the store is open read-only")

// OpenReadOnly opens an existing database file for reading only, for tools
// that must not change it (the ato tool's user, export and backtest): its
// connections are opened read-only by SQLite (mode=ro) and query_only, no
// migration is applied, and every write of the Store — Commit, AddFailure,
// UpdateChallenge, UpdateFactor, a Secret not stored yet, DeleteUser,
// Purge — returns [ErrReadOnly] without touching the file. The file must
// exist and have every migration of this release (open it once with [Open]
// to upgrade it). SQLite may still create the -wal and -shm files beside a
// database in WAL mode, as any reader does; the database itself is not
// written. Where SQLite cannot make them (a read-only file system: a
// backup, a snapshot; or a directory the process may not write), a
// database without a -wal file, or with an empty one, is read as
// immutable: from its file alone, without locks. That is sound when
// nothing writes the file meanwhile, as on a read-only mount; in a
// directory the process may not write, run the tool as the
// application's user instead. A database whose -wal file holds
// transactions, or cannot be looked at, is refused there.
func OpenReadOnly(path string) (*Store, error) { return open(path, true) }

func open(path string, readOnly bool) (*Store, error) {
	switch {
	case path == "":
		return nil, errors.New("sqlitestore: open: empty path")
	case path == ":memory:" || strings.HasPrefix(path, "file::memory:"):
		return nil, ErrMemory
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %q: %w", path, err)
	}
	if fi, err := os.Stat(filepath.Dir(abs)); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("sqlitestore: open %q: the directory %q does not exist", path, filepath.Dir(abs))
	}
	if readOnly {
		if fi, err := os.Stat(abs); err != nil || !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("sqlitestore: open %q read-only: no such database file", path)
		}
	}
	base, err := fileURI(abs)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %q: %w", path, err)
	}
	const pragmas = "?_pragma=busy_timeout(10000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)" +
		"&_pragma=foreign_keys(ON)" +
		"&_pragma=temp_store(MEMORY)"
	wdsn, rdsn := base+pragmas+"&_txlock=immediate", base+pragmas+"&_pragma=query_only(1)"
	if readOnly {
		wdsn, rdsn = base+readOnlyDSN, base+readOnlyDSN
	}
	s, err := connect(wdsn, rdsn, readOnly)
	if readOnly && err != nil && cantOpen(err) {
		s, err = openImmutable(abs, err)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %q: %w", path, err)
	}
	return s, nil
}

// readOnlyDSN are the parameters of a read-only connection. No
// journal_mode: setting it is a write (a no-op on a file in WAL mode
// already, an error on one that is not).
const readOnlyDSN = "?mode=ro&_pragma=busy_timeout(10000)&_pragma=temp_store(MEMORY)&_pragma=query_only(1)"

// openImmutable opens the database at path, which SQLite could not open
// read-only (err), as immutable. A reader of a file in WAL mode shares its
// -shm file with the others, and makes it when there is none: on a
// read-only file system (a backup, a snapshot) it cannot. Without a log
// beside the file (beside the file a symbolic link names, where SQLite
// keeps it), the file holds every transaction: it is read without the -shm
// file. With one, that would miss the log's transactions: err is returned,
// with what to do. When the fallback does not apply, or fails, err is
// returned as it is.
func openImmutable(path string, err error) (*Store, error) {
	real, rerr := filepath.EvalSymlinks(path)
	if rerr != nil {
		return nil, err
	}
	if hasLog(real) {
		return nil, fmt.Errorf("%w (read-only: its -wal file holds transactions that only a reader able to make the -shm file beside it can read: copy the database and its -wal file to a directory the tool may write)", err)
	}
	uri, uerr := fileURI(real)
	if uerr != nil {
		return nil, err
	}
	uri += readOnlyDSN + "&immutable=1"
	s, ierr := connect(uri, uri, true)
	if ierr != nil {
		return nil, err
	}
	return s, nil
}

// connect opens the writer's and the readers' connections with their data
// source names, and checks (readOnly) or applies the migrations.
func connect(wdsn, rdsn string, readOnly bool) (*Store, error) {
	w, err := sql.Open("sqlite", wdsn)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	// The writer connects and migrates first, so that the file exists, is
	// in WAL mode and has its schema before any reader connects.
	ctx := context.Background()
	if readOnly {
		err = checkMigrated(ctx, w)
	} else {
		err = migrate(ctx, w)
	}
	if err != nil {
		w.Close()
		return nil, err
	}

	r, err := sql.Open("sqlite", rdsn)
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	s := &Store{write: w, read: r, writer: make(chan struct{}, 1), readOnly: readOnly}
	err = retryBusy(ctx, func() error { return r.PingContext(ctx) })
	if err == nil {
		s.wstmts, err = prepareAll(ctx, w)
	}
	if err == nil {
		s.rstmts, err = prepareAll(ctx, r)
	}
	if err != nil {
		closeAll(s.wstmts)
		r.Close()
		w.Close()
		return nil, err
	}
	return s, nil
}

// cantOpen reports whether err is SQLite's SQLITE_CANTOPEN: a file it
// needs cannot be opened or made.
func cantOpen(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CANTOPEN
}

// hasLog reports whether the database file at path has a write-ahead log
// beside it that may hold transactions (one that is not empty, or that
// cannot be looked at).
func hasLog(path string) bool {
	fi, err := os.Stat(path + "-wal")
	return !errors.Is(err, fs.ErrNotExist) && (err != nil || fi.Size() > 0)
}

// Close closes the database. It waits for the calls in progress to end.
// Closing twice is not an error; after Close every method returns an error
// wrapping [storage.ErrClosed].
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	// Statements before their connections; readers first, so that the
	// writer's connection is the last one and checkpoints the WAL into the
	// database file.
	err := errors.Join(closeAll(s.rstmts), closeAll(s.wstmts), s.read.Close(), s.write.Close())
	if err != nil {
		return fmt.Errorf("sqlitestore: close: %w", err)
	}
	return nil
}

// errClosed is what methods return after Close.
var errClosed = fmt.Errorf("sqlitestore: %w", storage.ErrClosed)

// enter marks the start of a call: it fails once the store is closed, and
// otherwise keeps Close waiting until the matching leave.
func (s *Store) enter() error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return errClosed
	}
	return nil
}

// leave marks the end of a call that entered.
func (s *Store) leave() { s.mu.RUnlock() }

// fileURI returns the SQLite URI ("file:///abs/path") of the file at path,
// with every byte that is not plainly safe in a URI path percent-encoded,
// so that paths with spaces, '?', '#' or '%' name the right file.
func fileURI(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows volume: file:///C:/dir/file
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.WriteString("file://")
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/', c == ':':
			b.WriteByte(c)
		case c == 0:
			return "", errors.New("path contains a NUL byte")
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String(), nil
}

// retryBusy calls f until it does not fail with SQLITE_BUSY or
// SQLITE_LOCKED, for up to 30 seconds: setting up a brand-new file (its
// journal mode, its first schema) takes locks that SQLite refuses at once,
// without waiting for the busy timeout, to a connection that another
// process is setting up the same file beside.
func retryBusy(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	wait := 5 * time.Millisecond
	for {
		err := f()
		if err == nil || !busy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// busy reports whether err is SQLite's "database is locked" or "table is
// locked".
func busy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "SQLITE_LOCKED") ||
		strings.Contains(msg, "database is locked") || strings.Contains(msg, "database table is locked")
}

// ms returns the stored form of t: UTC unix milliseconds, 0 for the zero
// time.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS is the inverse of ms.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// boolInt is the stored form of a bool.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// tx is a transaction and the statements of its connection's pool.
type tx struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts []*sql.Stmt
}

// stmt returns the statement id bound to the transaction.
func (t *tx) stmt(id statement) *sql.Stmt { return t.tx.StmtContext(t.ctx, t.stmts[id]) }

// exec runs the statement id in the transaction.
func (t *tx) exec(id statement, args ...any) (sql.Result, error) {
	return t.stmt(id).ExecContext(t.ctx, args...)
}

// row runs the statement id, which returns one row.
func (t *tx) row(id statement, args ...any) *sql.Row {
	return t.stmt(id).QueryRowContext(t.ctx, args...)
}

// rows runs the statement id.
func (t *tx) rows(id statement, args ...any) (*sql.Rows, error) {
	return t.stmt(id).QueryContext(t.ctx, args...)
}

// readTx runs f in a read-only transaction: every query of f sees the same
// snapshot. The transaction runs on the writer's connection if it is idle,
// and on one of the reader pool otherwise. SQLite keeps a connection's page
// cache while no other connection writes, so the writer's cache is warm,
// while a reader's is emptied by every write. A write that comes meanwhile
// waits for the read, as it waits for another write.
func (s *Store) readTx(ctx context.Context, f func(t *tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	db, stmts := s.read, s.rstmts
	select {
	case s.writer <- struct{}{}:
		defer func() { <-s.writer }()
		db, stmts = s.write, s.wstmts
	default:
	}
	// A read-only transaction of the writer begins with a plain BEGIN,
	// not BEGIN IMMEDIATE: it takes no write lock.
	t, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer t.Rollback()
	if err := f(&tx{ctx: ctx, tx: t, stmts: stmts}); err != nil {
		return err
	}
	return t.Commit()
}

// writeTx runs f in a write transaction (BEGIN IMMEDIATE) of the writer and
// commits it if f returns nil; otherwise, or if f panics, it rolls back.
func (s *Store) writeTx(ctx context.Context, f func(t *tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if s.readOnly {
		return ErrReadOnly
	}
	select {
	case s.writer <- struct{}{}:
		defer func() { <-s.writer }()
	case <-ctx.Done():
		return ctx.Err()
	}
	t, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer t.Rollback()
	if err := f(&tx{ctx: ctx, tx: t, stmts: s.wstmts}); err != nil {
		return err
	}
	return t.Commit()
}

// Statements.
//
// SQLite parses and plans a statement each time its text is executed, which
// for the short statements of an evaluation costs about as much as running
// them. So every statement is declared once, by the file of its record,
// with prepared(text), and prepared on both pools when the store opens;
// database/sql then prepares it at most once per connection of a pool, when
// first used there, and keeps it. Statements whose text would vary with
// their arguments take a list as one JSON parameter read with json_each, so
// that their text is fixed. They are prepared when the store opens rather
// than on first use because preparing on a pool takes one of its
// connections: a transaction of the one-connection writer that prepared a
// statement would wait for itself.

// statement names a prepared statement.
type statement int

// statements holds the text of every statement, by its name.
var statements []string

// prepared declares a statement; call it from package-level variables.
func prepared(text string) statement {
	statements = append(statements, text)
	return statement(len(statements) - 1)
}

// prepareAll prepares every statement on db. On failure it closes those it
// prepared.
func prepareAll(ctx context.Context, db *sql.DB) ([]*sql.Stmt, error) {
	stmts := make([]*sql.Stmt, 0, len(statements))
	for _, q := range statements {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			closeAll(stmts)
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		stmts = append(stmts, st)
	}
	return stmts, nil
}

// closeAll closes the statements and joins their errors.
func closeAll(stmts []*sql.Stmt) error {
	var errs []error
	for _, st := range stmts {
		if err := st.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Scan destinations that convert a stored value as they scan it, so that a
// row scans straight into the record it fills: (*msTime)(&e.Time) scans a
// time stored by ms into e.Time. Being pointers, they are passed to Scan
// without an allocation, and they spare database/sql the reflection it
// uses to store an int64 or a float64.

// msTime scans a time stored by ms.
type msTime time.Time

// Scan implements sql.Scanner.
func (t *msTime) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("scan time: stored as %T", src)
	}
	*t = msTime(fromMS(v))
	return nil
}

// intBool scans a bool stored by boolInt.
type intBool bool

// Scan implements sql.Scanner.
func (b *intBool) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("scan bool: stored as %T", src)
	}
	*b = v != 0
	return nil
}

// sqlReal scans a float64 (a REAL column).
type sqlReal float64

// Scan implements sql.Scanner.
func (f *sqlReal) Scan(src any) error {
	v, ok := src.(float64)
	if !ok {
		return fmt.Errorf("scan real: stored as %T", src)
	}
	*f = sqlReal(v)
	return nil
}

// strList scans a string list stored by encodeStrings.
type strList []string

// Scan implements sql.Scanner.
func (l *strList) Scan(src any) error {
	var (
		v   []string
		err error
	)
	switch s := src.(type) {
	case nil:
	case string:
		v, err = decodeStrings(s)
	case []byte:
		v, err = decodeStrings(string(s))
	default:
		err = fmt.Errorf("scan string list: stored as %T", src)
	}
	*l = v
	return err
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}
