// Package storeopen opens the store a command-line flag names, in one way
// for every command of the project (the demo, atod, the ato tool):
//
//   - a PostgreSQL connection string, "postgres://…" or "postgresql://…":
//     pgstore, migrated if needed;
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
		s, err := pgstore.Open(ctx, spec)
		if err != nil {
			return nil, errors.New(Redact(err.Error(), spec))
		}
		return &Store{Store: s, close: s.Close}, nil
	case "memory":
		return &Store{Store: memstore.New()}, nil
	}
	if spec == "" {
		return nil, errors.New("no store: give a SQLite file, a postgres:// connection string or :memory:")
	}
	s, err := sqlitestore.Open(spec)
	if err != nil {
		return nil, err
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
