package sqlitestore

import (
	"context"
	"database/sql"
)

// ReadDB returns the reader pool, for tests that inspect the database.
func ReadDB(s *Store) *sql.DB { return s.read }

// JournalMode returns the journal mode a connection of the reader pool
// reports.
func JournalMode(ctx context.Context, s *Store) (string, error) {
	var mode string
	err := s.read.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
	return mode, err
}

// Migrations returns the number of embedded migrations.
func Migrations() (int, error) {
	ms, err := migrations()
	return len(ms), err
}

// FileURI exposes fileURI.
var FileURI = fileURI
