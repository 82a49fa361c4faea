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
// writer's stays warm. A read-only transaction (that of [Store.Load] or
// [Store.FindDevices]) therefore runs on the writer's connection when no
// write or other read is using it, and on a reader otherwise: a write that
// comes meanwhile waits for it, as it waits for another write.
//
// The fixed statements of the frequent calls are prepared once per
// connection and kept (see stmt.go).
//
// Every connection is configured by its DSN with busy_timeout(10000),
// journal_mode(WAL), synchronous(NORMAL) and foreign_keys(ON); reader
// connections are also query_only. Other processes may open the same file:
// they wait for each other's write locks up to the busy timeout.
//
// # Schema
//
// The schema is created and upgraded by ordered SQL migrations embedded in
// the package (migrations/NNNN_name.sql). [Open] applies, in order, those
// not yet recorded in the schema_migrations table, each in its own
// transaction together with its record, so that reopening a database applies
// only the new ones.
//
// A device is indexed under each of its keys in device_keys, and a key
// indexes at most [storage.MaxKeyDevices] devices: those indexed under it
// most recently. A device is indexed under a key when it is written with a
// key it is not indexed under (a new device, a changed fingerprint, or a
// key it was dropped from); a device written again with the keys it is
// indexed under keeps its place. A failure is kept in two lists, its user's
// (failures) and its network's (network_failures), each bounded on its own
// to [storage.MaxFailures].
//
// # Values
//
// Times are stored as INTEGER UTC unix milliseconds, which truncates finer
// times; the zero time.Time is stored as 0 and read back as the zero
// time.Time, and every other time is read back in UTC. Slices (hashes, keys,
// reasons, restrictions) and a challenge's attempt are stored as JSON text;
// empty slices are read back as nil. A link's restrictions are kept sorted,
// without repeats. Byte slices (a challenge's code hash, a factor's secret)
// are stored as BLOBs, and empty ones read back as nil.
//
// A Store is safe for concurrent use by many goroutines.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/atoguard/ato/storage"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// readConns is the size of the reader pool.
const readConns = 4

// Defaults of the storage contract for limits given as 0.
const (
	defaultCandidates = 16
	defaultDevices    = 32
	defaultEvents     = 50
	defaultHistory    = 50
)

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

	// rstmts and wstmts are the prepared statements of the reader and the
	// writer pool, indexed by readStmt and writeStmt (see stmt.go);
	// wrstmts are the read statements prepared on the writer pool.
	rstmts  []*sql.Stmt
	wstmts  []*sql.Stmt
	wrstmts []*sql.Stmt
}

var _ storage.Store = (*Store)(nil)

// Open opens the SQLite database file at path, creating it if needed, and
// applies the migrations it lacks. The file's directory must exist. The
// path is made absolute, so the Store keeps using the same file if the
// working directory changes. An in-memory database (":memory:") is not
// supported: each connection would see its own.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlitestore: open: empty path")
	}
	base, err := fileURI(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %q: %w", path, err)
	}
	const pragmas = "?_pragma=busy_timeout(10000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)" +
		"&_pragma=foreign_keys(ON)"

	w, err := sql.Open("sqlite", base+pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %q: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	// The writer connects and migrates first, so that the file exists, is
	// in WAL mode and has its schema before any reader connects.
	ctx := context.Background()
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlitestore: open %q: %w", path, err)
	}

	r, err := sql.Open("sqlite", base+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlitestore: open %q: %w", path, err)
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlitestore: open %q: %w", path, err)
	}
	s := &Store{write: w, read: r, writer: make(chan struct{}, 1)}
	if s.rstmts, err = prepareAll(ctx, r, readSQL[:]); err == nil {
		if s.wrstmts, err = prepareAll(ctx, w, readSQL[:]); err == nil {
			if s.wstmts, err = prepareAll(ctx, w, writeSQL[:]); err != nil {
				closeAll(s.wrstmts)
			}
		}
		if err != nil {
			closeAll(s.rstmts)
		}
	}
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlitestore: open %q: %w", path, err)
	}
	return s, nil
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
	err := errors.Join(closeAll(s.rstmts), closeAll(s.wrstmts), closeAll(s.wstmts), s.read.Close(), s.write.Close())
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

// reader is a read-only transaction and the read statements of its pool.
type reader struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts []*sql.Stmt
}

// stmt returns the read statement id bound to the transaction.
func (r *reader) stmt(id readStmt) *sql.Stmt { return r.tx.StmtContext(r.ctx, r.stmts[id]) }

// readTx runs f in a read-only transaction: every query of f sees the same
// snapshot. The transaction runs on the writer's connection if it is idle,
// and on one of the reader pool otherwise. SQLite keeps a connection's page
// cache while no other connection writes, so the writer's cache is warm,
// while a reader's is emptied by every write: a read that finds the writer
// idle reads no page from the file that the writer has read or written
// before. A write that comes meanwhile waits for the read, as it waits for
// another write.
func (s *Store) readTx(ctx context.Context, f func(r *reader) error) error {
	db, stmts := s.read, s.rstmts
	select {
	case s.writer <- struct{}{}:
		defer func() { <-s.writer }()
		db, stmts = s.write, s.wrstmts
	default:
	}
	// A read-only transaction of the writer begins with a plain BEGIN,
	// not BEGIN IMMEDIATE: it takes no write lock.
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(&reader{ctx: ctx, tx: tx, stmts: stmts}); err != nil {
		return err
	}
	return tx.Commit()
}

// writeTx runs f in a write transaction (BEGIN IMMEDIATE) of the writer and
// commits it if f returns nil; otherwise, or if f panics, it rolls back.
func (s *Store) writeTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	select {
	case s.writer <- struct{}{}:
		defer func() { <-s.writer }()
	case <-ctx.Done():
		return ctx.Err()
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}
