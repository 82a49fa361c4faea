package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/atoguard/ato/internal/sqlmigrate"
	"github.com/atoguard/ato/storage"
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

// migration is one schema step: its SQL and, for some, a step in Go.
type migration struct {
	sqlmigrate.Migration
	step func(ctx context.Context, tx *sql.Tx) error
}

// migrations returns the embedded migrations in order of version.
func migrations() ([]migration, error) {
	ms, err := sqlmigrate.Read(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	out := make([]migration, len(ms))
	for i, m := range ms {
		out[i] = migration{Migration: m, step: goSteps[m.Version]}
	}
	return out, nil
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
			return fmt.Errorf("migrate: %s: %w", m.Name, err)
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
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations WHERE version = ?1`, m.Version).Scan(&one)
	switch {
	case err == nil:
		return nil // already applied
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if m.step != nil {
		if err := m.step(ctx, tx); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)`,
		m.Version, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// checkMigrated fails unless the database has every migration of this
// release: what a store opened read-only, which cannot migrate, needs.
func checkMigrated(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	want := ms[len(ms)-1].Version
	var have sql.NullInt64
	err = db.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&have)
	if err != nil && !strings.Contains(err.Error(), "no such table") {
		return fmt.Errorf("read the schema version: %w", err)
	}
	if !have.Valid || have.Int64 < want {
		return fmt.Errorf("the database is at migration %d, this release needs %d: open it once for writing (sqlitestore.Open) to upgrade it, or it is not an ato database: %w", have.Int64, want, storage.ErrOutdated)
	}
	return nil
}
