// Package storeopen opens the store a command-line flag names, in one way
// for every command of the project (the demo, atod, the ato tool):
//
//   - a PostgreSQL connection string, "postgres://…" or "postgresql://…":
//     pgstore, migrated if needed, in the schema "ato" unless the query
//     parameter ato_schema names another ("postgres://host/db?ato_schema=t1",
//     taken out before the string reaches the driver);
//   - ":memory:": memstore, which forgets everything when the process
//     ends;
//   - anything else: the path of a SQLite file (sqlitestore), created if
//     missing.
package storeopen

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/pgstore"
	"github.com/atoguard/ato/sqlitestore"
	"github.com/atoguard/ato/storage"
)

// Memory is the flag value for a store in memory.
const Memory = ":memory:"

// Kind names the store a flag value opens: "postgres", "memory" or
// "sqlite".
func Kind(spec string) string {
	switch {
	case IsPostgres(spec):
		return "postgres"
	case spec == Memory:
		return "memory"
	}
	return "sqlite"
}

// IsPostgres reports whether spec is a PostgreSQL connection string.
func IsPostgres(spec string) bool {
	return strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://")
}

// Store is an open store and how to close it.
type Store struct {
	storage.Store
	close func() error
}

// Close releases the store.
func (s *Store) Close() error {
	if s.close == nil {
		return nil
	}
	return s.close()
}

// Open opens the store spec names (see the package documentation).
func Open(ctx context.Context, spec string) (*Store, error) {
	switch Kind(spec) {
	case "postgres":
		return openPostgres(ctx, spec, false)
	case "memory":
		return &Store{Store: memstore.New()}, nil
	}
	if spec == "" {
		return nil, errNoStore
	}
	s, err := sqlitestore.Open(spec)
	if err != nil {
		return nil, err
	}
	return &Store{Store: s, close: s.Close}, nil
}

// OpenReadOnly opens the store spec names for reading only, for tools
// that must not change it: a SQLite file that must exist, opened by
// sqlitestore.OpenReadOnly; a PostgreSQL database whose sessions are
// read-only (default_transaction_read_only), not migrated. Every write
// fails. ":memory:" is refused: a new memory store has nothing to read.
func OpenReadOnly(ctx context.Context, spec string) (*Store, error) {
	switch Kind(spec) {
	case "postgres":
		return openPostgres(ctx, spec, true)
	case "memory":
		return nil, errors.New(":memory: is a new, empty store: there is nothing to read in it")
	}
	if spec == "" {
		return nil, errNoStore
	}
	s, err := sqlitestore.OpenReadOnly(spec)
	if err != nil {
		return nil, err
	}
	return &Store{Store: s, close: s.Close}, nil
}

var errNoStore = errors.New("no store: give a SQLite file, a postgres:// connection string or :memory:")

// SchemaParam is the query parameter of a PostgreSQL connection string
// that names pgstore's schema.
const SchemaParam = "ato_schema"

// openPostgres opens pgstore on the connection string spec, in the schema
// its SchemaParam names; read-only, its sessions are read-only and it is
// not migrated.
func openPostgres(ctx context.Context, spec string, readOnly bool) (*Store, error) {
	conn, opts := spec, []pgstore.Option(nil)
	if u, err := url.Parse(spec); err == nil {
		q := u.Query()
		if name := q.Get(SchemaParam); name != "" {
			opts = append(opts, pgstore.WithSchema(name))
		}
		q.Del(SchemaParam)
		if readOnly {
			q.Set("default_transaction_read_only", "on")
			opts = append(opts, pgstore.WithoutMigrations())
		}
		u.RawQuery = q.Encode()
		conn = u.String()
	} else if readOnly {
		return nil, errors.New(Redact("a read-only store needs a postgres:// URL: "+err.Error(), spec))
	}
	s, err := pgstore.Open(ctx, conn, opts...)
	if err != nil {
		return nil, errors.New(Redact(Redact(err.Error(), conn), spec))
	}
	return &Store{Store: s, close: s.Close}, nil
}

// Describe names the store spec opens for a person to read: a connection
// string without its password.
func Describe(spec string) string {
	switch Kind(spec) {
	case "postgres":
		return "PostgreSQL " + Redact(spec, spec)
	case "memory":
		return "memory (forgotten when the process ends)"
	}
	return "SQLite file " + spec
}

// Redact returns s with the password of the connection string spec, if it
// has one, replaced by "xxxxx".
func Redact(s, spec string) string {
	u, err := url.Parse(spec)
	if err != nil {
		// An unparsable connection string may still carry a password:
		// say nothing of it.
		return strings.ReplaceAll(s, spec, "<the connection string>")
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		return s
	}
	redacted := u.Redacted()
	s = strings.ReplaceAll(s, spec, redacted)
	return strings.ReplaceAll(s, pw, "xxxxx")
}
