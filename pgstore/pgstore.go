// Package pgstore is a [storage.Store] kept in PostgreSQL, through
// github.com/jackc/pgx/v5, so that every instance of an app shares one ato
// state: a device known on one instance is known on all, and failure
// counts, challenge limits and restrictions hold across them.
//
// # Opening
//
// [Open] connects its own pool from a connection string; [New] uses a
// pool the app already has (and leaves it open on [Store.Close]). Both
// apply the embedded migrations the database lacks, under an advisory lock
// so that instances starting together take turns, unless
// [WithoutMigrations] is given: then run [Migrate] from a deploy step, and
// New checks that the schema is current. The tables live in their own
// schema, "ato" unless [WithSchema] names another (tests, or one schema
// per tenant).
//
// A role that migrates needs to create in the database (or in a schema
// made for it); an app whose owner role runs [Migrate] can run with a role
// that has only USAGE on the schema and SELECT, INSERT, UPDATE and DELETE
// on its tables. Run migrations over a direct connection: they hold a
// session lock across transactions, which a pooler handing out a
// connection per transaction (PgBouncer's transaction mode) would break.
// The store itself needs nothing of the session and works through one.
//
// Size the pool explicitly: each instance holds up to its pool's
// maximum (pgxpool's default is the larger of 4 and the number of CPUs;
// pool_max_conns=N in the connection string sets it), and the sum over all
// instances must stay under the server's max_connections. Keep
// synchronous_commit on: a counter increment acknowledged and then lost in
// a crash is a failed password that no longer counts.
//
// pgx prepares each statement on each connection and keeps up to 512 of
// them; a store uses about 50, so a pool shared by stores on many schemas
// (one per tenant) should have its statement cache raised to match, or
// prepared statements will be evicted and prepared again.
//
// # Round trips and atomicity
//
// [Store.Load] is one statement, so one round trip that reads one
// consistent snapshot: the profile, the counts, and either the device the
// fingerprint names or the user's hashes and the ranked candidates (the
// choice [storage.NeedsHashes] makes is made in SQL, from columns written
// beside the profile). [Store.Commit] and [Store.AddFailure] are one batch
// each, sent in one round trip and run by PostgreSQL as one implicit
// transaction: all of it or none of it. A condition a commit depends on (a
// challenge's status, the challenge limit, the profile's version) is
// checked inside the batch by a statement that raises an error when it does
// not hold, which rolls the whole batch back. No batch holds BEGIN or
// COMMIT: an error inside an explicit transaction in a batch would leave
// the connection in a failed transaction.
//
// Every write of a user begins by taking a transaction-level advisory lock
// on the user, so that a user's writes run one at a time across all
// instances (the count of a challenge limit and the insert it admits, the
// trim of a history and the event it keeps) while different users' writes
// run side by side; a failure then takes the lock of its network's list,
// which users share. This needs READ COMMITTED transactions (each
// statement sees what the lock's previous holder committed), PostgreSQL's
// default: a write checks it and fails otherwise. Rows shared between
// users (devices and their index entries) are written in the order of
// their keys, after the device's row is locked. A batch that PostgreSQL
// aborts for a deadlock (40P01) or a serialization failure (40001), or
// that never reached the server, is sent again whole, a few times. A
// profile written by another instance since it was loaded is merged as
// [storage.ResolveProfile] says, with one more read.
//
// # Failure
//
// Every call takes the caller's context. When its deadline passes while the
// database is down, slow, or holding a lock the call waits for, the call
// returns an error wrapping the context's (pgx asks the server to cancel
// the statement and drops the connection), and never hangs. A write is one
// transaction: it commits whole or not at all. One that was already on its
// way when the context ended may still commit — whole — so an error does
// not prove that nothing was written; an evaluation written twice is only
// an extra event in the history. What an app does when ato cannot answer
// is its choice, per action: see the package example.
//
// # Growth
//
// Measured on PostgreSQL 15 with the engine's defaults (TestSpaceUsed
// prints the figures), live data, after VACUUM FULL:
//
//   - a user with one device and a full history of 50 events takes about
//     24 kB: 19 kB of history (an event row with its index entries is about
//     380 bytes), 4 kB for the hash the user saw from the device, and a
//     profile row of about 1.4 kB;
//   - a device takes about 12 kB: its record, with its hashes, about
//     4.7 kB, and its 22 index entries about 7.5 kB;
//   - a login of a known device updates the profile row in place (HOT: the
//     table has no index but its key, and leaves room on each page),
//     appends an event and deletes the oldest: about 1.1 kB of WAL, and no
//     growth once the history is full. A user with 12 devices has a profile
//     row of about 2.2 kB, and a login writes about 4.8 kB of WAL.
//
// So 10 million users with a device each take about 365 GB, two thirds of
// it history: a shorter history (ato.WithHistory) shrinks that part in
// proportion. Rows updated in place leave dead versions until autovacuum
// reclaims them: leave it room beyond these figures. At 1,000 logins a
// second the server writes about 1.1 MB/s of WAL and deletes as many
// events as it inserts, which autovacuum keeps up with at its defaults. A
// known device's login is one Load (a function running five index
// lookups) and one Commit (four short statements) on the server: well
// under a millisecond of its time, so what bounds the rate is round trips
// and connections — on the 2-core development machine, with client and
// server sharing it, 16 goroutines on one instance reach about 2,000
// logins a second. [Store.Purge] (called by ato's Engine.Purge) deletes
// in bounded batches through the time indexes, skipping rows that writers
// hold.
//
// A Store is safe for concurrent use by many goroutines.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/atoguard/ato/storage"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultSchema is the schema the tables live in unless [WithSchema] names
// another.
const DefaultSchema = "ato"

// Store is a [storage.Store] kept in PostgreSQL. Create one with [Open] or
// [New] and release it with [Store.Close].
type Store struct {
	pool   *pgxpool.Pool
	owned  bool   // Close closes the pool
	schema string // quoted
	// lockSeed makes the advisory lock keys of this schema's users differ
	// from another schema's in the same database.
	lockSeed int64
	sql      []string // statement texts, by statement, for this schema

	// mu guards closed: every call holds it for reading while it runs, and
	// Close takes it for writing, so that Close waits for the calls in
	// flight and no call starts on a closed pool.
	mu     sync.RWMutex
	closed bool
}

var _ storage.Store = (*Store)(nil)

// Option configures [Open], [New] and [Migrate].
type Option func(*options)

type options struct {
	schema  string
	migrate bool
}

// WithSchema names the schema the tables live in (created if missing):
// 1 to 63 of a-z, 0-9 and _, not starting with a digit. The default is
// [DefaultSchema].
func WithSchema(name string) Option { return func(o *options) { o.schema = name } }

// WithoutMigrations makes [Open] and [New] leave the schema as it is, for
// apps that run [Migrate] in a deploy step: they fail if the schema lacks a
// migration this release needs.
func WithoutMigrations() Option { return func(o *options) { o.migrate = false } }

// schemaName is what a schema name may be: PostgreSQL's plain
// identifiers, which need no quoting anywhere a statement names them.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func config(opts []Option) (options, error) {
	o := options{schema: DefaultSchema, migrate: true}
	for _, opt := range opts {
		opt(&o)
	}
	if !schemaName.MatchString(o.schema) {
		return o, fmt.Errorf("pgstore: schema name %q: want 1 to 63 of a-z, 0-9 and _, not starting with a digit", o.schema)
	}
	return o, nil
}

// Open connects a pool to the database at url (a PostgreSQL connection
// string, as pgxpool.ParseConfig reads it: "postgres://user@host/db" or
// "host=… dbname=…", with pool settings such as pool_max_conns) and
// returns a Store on it, migrated unless [WithoutMigrations] is given.
// Close closes the pool.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	s, err := New(ctx, pool, opts...)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// New returns a Store on the caller's pool, migrated unless
// [WithoutMigrations] is given. The pool stays the caller's: Close does not
// close it.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: new: nil pool")
	}
	o, err := config(opts)
	if err != nil {
		return nil, err
	}
	schema := pgx.Identifier{o.schema}.Sanitize()
	if o.migrate {
		if err := migrate(ctx, pool, o.schema); err != nil {
			return nil, err
		}
	} else if err := checkSchema(ctx, pool, schema); err != nil {
		return nil, err
	}
	s := &Store{pool: pool, schema: schema, lockSeed: lockSeed(o.schema), sql: make([]string, len(statements))}
	for i, q := range statements {
		s.sql[i] = strings.ReplaceAll(q, "{s}", schema)
	}
	return s, nil
}

// Close releases the Store: it waits for the calls in flight, then closes
// the pool if [Open] made it. Closing twice is not an error; after Close
// every method returns an error wrapping [storage.ErrClosed].
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.owned {
		s.pool.Close()
	}
	return nil
}

var errClosed = fmt.Errorf("pgstore: %w", storage.ErrClosed)

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

func (s *Store) leave() { s.mu.RUnlock() }

// Statements.
//
// Every statement is declared once, by the file of its record, with
// stmt(text), where {s} stands for the schema; New makes the texts of its
// schema. pgx prepares each text on each connection the first time it
// runs there and keeps it, so later runs send only the arguments.

// statement names a statement.
type statement int

// statements holds the text of every statement, by its name.
var statements []string

// stmt declares a statement; call it from package-level variables.
func stmt(text string) statement {
	statements = append(statements, text)
	return statement(len(statements) - 1)
}

// queue adds the statement to the batch.
func (s *Store) queue(b *pgx.Batch, q statement, args ...any) *pgx.QueuedQuery {
	return b.Queue(s.sql[q], args...)
}

// Errors raised inside a batch by ato_check, as SQLSTATE codes: each makes
// the batch fail whole.
const (
	codeNotFound = "AT404" // storage.ErrNotFound
	codeConflict = "AT409" // storage.ErrConflict
	codeLimited  = "AT429" // storage.ErrLimited
	codeStale    = "AT412" // the profile's version moved: resolve and retry
)

// errStale is a batch that failed because the profile it writes was
// written by someone else since it was loaded.
var errStale = errors.New("profile written since it was loaded")

// mapError turns an error of a batch into the storage error it stands for.
func mapError(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case codeNotFound:
		return fmt.Errorf("%s: %w", pe.Message, storage.ErrNotFound)
	case codeConflict:
		return fmt.Errorf("%s: %w", pe.Message, storage.ErrConflict)
	case codeLimited:
		return fmt.Errorf("%s: %w", pe.Message, storage.ErrLimited)
	case codeStale:
		return errStale
	}
	return err
}

// final is an error a write must not be retried after, whatever it wraps:
// a read-modify-write whose update function ran (it is called once).
type final struct{ error }

func (f final) Unwrap() error { return f.error }

// maxAttempts bounds how often a write is sent again after a deadlock, a
// serialization failure, a connection lost before it was sent, or a
// profile written meanwhile.
const maxAttempts = 8

// retryable reports whether a write that failed with err may be sent
// again whole: PostgreSQL aborted it for a deadlock or a serialization
// failure (nothing of it was applied), or it never reached the server.
func retryable(err error) bool {
	if errors.As(err, new(final)) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40P01" || pe.Code == "40001"
	}
	return pgconn.SafeToRetry(err)
}

// backoff waits before attempt n+1 (a few milliseconds, growing, with
// jitter so that the writers that deadlocked do not meet again), or until
// the context is done.
func backoff(ctx context.Context, n int) error {
	d := time.Duration(1<<min(n, 6)) * time.Millisecond
	d += rand.N(d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run calls f until it succeeds, fails with an error that is not
// retryable, or has been tried maxAttempts times.
func run(ctx context.Context, f func() error) error {
	for n := 0; ; n++ {
		err := f()
		if err == nil || n+1 == maxAttempts || !retryable(err) {
			return err
		}
		if waitErr := backoff(ctx, n); waitErr != nil {
			return errors.Join(err, waitErr)
		}
	}
}

// at is the stored form of a time: UTC, at millisecond precision.
func at(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// lockSeed is the seed of the advisory lock keys of the users of the
// schema.
func lockSeed(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte(schema))
	return int64(h.Sum64())
}

// qLockUser takes the advisory lock of user $1's writes ($2 is the lock
// seed of the schema), released when the transaction ends. It first checks
// that the transaction is READ COMMITTED: each statement after the lock
// must see what the writes that held the lock before committed, which a
// snapshot taken before the lock (REPEATABLE READ) would not.
var qLockUser = stmt(`SELECT {s}.ato_check(current_setting('transaction_isolation') = 'read committed', 'AT500',
		'pgstore needs READ COMMITTED transactions, not ' || current_setting('transaction_isolation')),
	pg_advisory_xact_lock(hashtextextended($1, $2))`)

// qLockNetwork takes the advisory lock of the writes of network $1's list
// of failures. A writer takes it after its user's, never before.
var qLockNetwork = stmt(`SELECT pg_advisory_xact_lock(hashtextextended('network ' || $1, $2))`)

// lock queues the lock of the user's writes.
func (s *Store) lock(b *pgx.Batch, user string) { s.queue(b, qLockUser, user, s.lockSeed) }

// digest is the 64-bit digest of a key or a network that the profile's
// facts hold (FNV-1a); never 0, which stands for none.
func digest(s string) int64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	if d := int64(h.Sum64()); d != 0 {
		return d
	}
	return 1
}
