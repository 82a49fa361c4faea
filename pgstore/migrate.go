package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/atoguard/ato/internal/sqlmigrate"
	"github.com/atoguard/ato/storage"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationFiles holds the schema migrations, named NNNN_description.sql,
// in which {s} stands for the schema.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrate applies to the database the migrations of this release that its
// schema lacks, for apps that migrate in a deploy step and open stores
// [WithoutMigrations]. [Open] and [New] call it unless told not to. It is
// safe to run from several processes at once: they take turns under an
// advisory lock, and each migration is applied once, in its own
// transaction together with its record in the schema's schema_migrations
// table. Options other than [WithSchema] are ignored.
func Migrate(ctx context.Context, pool *pgxpool.Pool, opts ...Option) error {
	if pool == nil {
		return errors.New("pgstore: migrate: nil pool")
	}
	o, err := config(opts)
	if err != nil {
		return err
	}
	return migrate(ctx, pool, o.schema)
}

// latest is the version of the newest migration of this release.
func latest() (int64, error) {
	ms, err := sqlmigrate.Read(migrationFiles, "migrations")
	if err != nil || len(ms) == 0 {
		return 0, errors.Join(err, errors.New("no migrations"))
	}
	return ms[len(ms)-1].Version, nil
}

// migrate applies the migrations the schema named name lacks. A schema
// that has them all is only read: a role without the right to create
// anything in it can open it.
func migrate(ctx context.Context, pool *pgxpool.Pool, name string) error {
	schema := pgx.Identifier{name}.Sanitize()
	ms, err := sqlmigrate.Read(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	if have, err := schemaVersion(ctx, pool, schema); err != nil {
		return err
	} else if have >= ms[len(ms)-1].Version {
		return nil
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	defer conn.Release()
	// A session lock, held across the migrations' transactions (so run
	// them on a direct connection, not through a pooler that hands each
	// transaction another one); keyed by the schema, so that two schemas
	// migrate side by side.
	const lockKey = `hashtextextended('ato migrate ' || $1, 0)`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lockKey+`)`, schema); err != nil {
		return fmt.Errorf("pgstore: migrate: lock: %w", err)
	}
	defer func() {
		// Even when ctx is done; if the unlock fails, the connection is
		// closed, which releases the lock.
		unlockCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(unlockCtx, `SELECT pg_advisory_unlock(`+lockKey+`)`, schema); err != nil {
			conn.Conn().Close(unlockCtx)
		}
	}()
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("pgstore: migrate: schema %s: %w", schema, err)
	}
	setup := `CREATE TABLE IF NOT EXISTS ` + schema + `.schema_migrations (
			version bigint PRIMARY KEY,
			name text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`
	if !exists {
		setup = `CREATE SCHEMA ` + schema + `; ` + setup
	}
	if _, err := conn.Exec(ctx, setup); err != nil {
		return fmt.Errorf("pgstore: migrate: schema %s: %w", schema, err)
	}
	for _, m := range ms {
		if err := applyMigration(ctx, conn.Conn(), schema, m); err != nil {
			return fmt.Errorf("pgstore: migrate: %s: %w", m.Name, err)
		}
	}
	return nil
}

// schemaVersion is the newest migration the schema records; 0 for a
// schema, or a database, without any.
func schemaVersion(ctx context.Context, pool *pgxpool.Pool, schema string) (int64, error) {
	var have int64
	err := pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+schema+`.schema_migrations`).Scan(&have)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000"): // no such table, no such schema
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("pgstore: schema %s: %w", schema, err)
	}
	return have, nil
}

// applyMigration applies m in a transaction with its record, unless it is
// recorded.
func applyMigration(ctx context.Context, conn *pgx.Conn, schema string, m sqlmigrate.Migration) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+schema+`.schema_migrations WHERE version = $1)`,
			m.Version).Scan(&done); err != nil || done {
			return err
		}
		// A migration that must wait for a lock held by the traffic fails
		// after a while, rather than holding every login up behind it.
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '10s'`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, strings.ReplaceAll(m.SQL, "{s}", schema)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO `+schema+`.schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
		return err
	})
}

// checkSchema fails unless the schema has every migration of this release
// (a newer release's migrations beside them are fine: they only add).
func checkSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	want, err := latest()
	if err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	have, err := schemaVersion(ctx, pool, schema)
	if err != nil {
		return err
	}
	if have < want {
		return fmt.Errorf("pgstore: schema %s is at migration %d, this release needs %d: run pgstore.Migrate: %w", schema, have, want, storage.ErrOutdated)
	}
	return nil
}
