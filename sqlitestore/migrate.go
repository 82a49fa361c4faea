package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds the schema migrations, named NNNN_description.sql
// and applied in the order of their number.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// goSteps are the migrations' steps written in Go, by version: each runs
// after the SQL of its version, in the same transaction, where data must be
// converted in ways SQL cannot (a digest of a hash, a profile's encoding).
var goSteps = map[int64]func(ctx context.Context, tx *sql.Tx) error{
	7: buildProfiles,
}

// migration is one schema step.
type migration struct {
	version int64
	name    string
	sql     string
	step    func(ctx context.Context, tx *sql.Tx) error
}

// migrations returns the embedded migrations in order of version.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		if !ok {
			return nil, fmt.Errorf("migration %s: name is not NNNN_description.sql", name)
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name is not NNNN_description.sql", name)
		}
		b, err := fs.ReadFile(migrationFiles, "migrations/"+name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b), step: goSteps[v]})
	}
	slices.SortFunc(ms, func(a, b migration) int {
		switch {
		case a.version < b.version:
			return -1
		case a.version > b.version:
			return 1
		}
		return 0
	})
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s have the same version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// migrate creates schema_migrations if needed and applies, in order, the
// migrations it does not record, each in its own write transaction together
// with its record. Each transaction checks the record again after taking
// the write lock, so that processes opening the same new file at once do
// not apply a migration twice; and each is retried while SQLite refuses its
// locks at once, as it does to a connection whose file another process is
// setting up (see retryBusy).
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	err = retryBusy(ctx, func() error {
		tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the writer's DSN says so
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at INTEGER
		)`); err != nil {
			return err
		}
		return tx.Commit()
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range ms {
		if err := retryBusy(ctx, func() error { return applyMigration(ctx, db, m) }); err != nil {
			return fmt.Errorf("migrate: %s: %w", m.name, err)
		}
	}
	return nil
}

// applyMigration applies m unless it is recorded as applied.
func applyMigration(ctx context.Context, db *sql.DB, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations WHERE version = ?1`, m.version).Scan(&one)
	switch {
	case err == nil:
		return nil // already applied
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if m.step != nil {
		if err := m.step(ctx, tx); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)`,
		m.version, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}
