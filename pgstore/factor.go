package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/atoguard/ato/storage"
	"github.com/jackc/pgx/v5"
)

// Factors, one per user and kind, and the engine's secrets.

// factorCols are the columns of a factor, in factorArgs' and scanFactor's
// order.
const factorCols = `user_id, kind, secret, confirmed, last_step, failures, failed_at, created_at, updated_at`

var (
	qFactor     = stmt(`SELECT ` + factorCols + ` FROM {s}.factors WHERE user_id = $1 AND kind = $2`)
	qLockFactor = stmt(`SELECT ` + factorCols + ` FROM {s}.factors WHERE user_id = $1 AND kind = $2 FOR UPDATE`)
	qPutFactor  = stmt(`INSERT INTO {s}.factors (` + factorCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (user_id, kind) DO UPDATE SET secret = excluded.secret, confirmed = excluded.confirmed,
			last_step = excluded.last_step, failures = excluded.failures, failed_at = excluded.failed_at,
			created_at = excluded.created_at, updated_at = excluded.updated_at
		RETURNING ` + factorCols)
	qDeleteFactor  = stmt(`DELETE FROM {s}.factors WHERE user_id = $1 AND kind = $2`)
	qDeleteFactors = stmt(`DELETE FROM {s}.factors WHERE user_id = $1`)

	qSecret       = stmt(`SELECT value FROM {s}.secrets WHERE name = $1`)
	qInsertSecret = stmt(`INSERT INTO {s}.secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`)
)

// factorArgs returns the values of factorCols for f.
func factorArgs(f *storage.Factor) []any {
	var secret []byte // NULL when empty
	if len(f.Secret) > 0 {
		secret = f.Secret
	}
	return []any{f.User, f.Kind, secret, f.Confirmed, f.LastStep, int32(f.Failures), at(f.FailedAt), at(f.CreatedAt), at(f.UpdatedAt)}
}

// scanFactor scans a row of factorCols; ok is false when there is none.
func scanFactor(row pgx.Row) (f storage.Factor, ok bool, err error) {
	var failures int32
	err = row.Scan(&f.User, &f.Kind, &f.Secret, &f.Confirmed, &f.LastStep, &failures, &f.FailedAt, &f.CreatedAt, &f.UpdatedAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return storage.Factor{}, false, nil
	case err != nil:
		return storage.Factor{}, false, err
	}
	f.Failures = int(failures)
	f.FailedAt, f.CreatedAt, f.UpdatedAt = f.FailedAt.UTC(), f.CreatedAt.UTC(), f.UpdatedAt.UTC()
	if len(f.Secret) == 0 {
		f.Secret = nil
	}
	return f, true, nil
}

// Factor implements [storage.Store].
func (s *Store) Factor(ctx context.Context, user, kind string) (storage.Factor, error) {
	if err := s.enter(); err != nil {
		return storage.Factor{}, err
	}
	defer s.leave()
	f, ok, err := scanFactor(s.pool.QueryRow(ctx, s.sql[qFactor], user, kind))
	switch {
	case err != nil:
		return storage.Factor{}, fmt.Errorf("pgstore: factor %q/%q: %w", user, kind, err)
	case !ok:
		return storage.Factor{}, fmt.Errorf("pgstore: factor %q/%q: %w", user, kind, storage.ErrNotFound)
	}
	return f, nil
}

// UpdateFactor implements [storage.Store]: in one transaction, under the
// lock of the user's writes, the factor is read and locked, update runs,
// and what it made is written; so update must not call the store. As in
// UpdateChallenge, update is called once.
func (s *Store) UpdateFactor(ctx context.Context, user, kind string, update func(*storage.Factor) error) (storage.Factor, error) {
	if user == "" || kind == "" {
		return storage.Factor{}, fmt.Errorf("pgstore: update factor: %w: empty user or kind (%q/%q)", storage.ErrInvalid, user, kind)
	}
	if err := s.enter(); err != nil {
		return storage.Factor{}, err
	}
	defer s.leave()
	var out storage.Factor
	var updateErr error
	updated := false
	err := run(ctx, func() error {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, s.sql[qLockUser], user, s.lockSeed); err != nil {
				return err
			}
			f, ok, err := scanFactor(tx.QueryRow(ctx, s.sql[qLockFactor], user, kind))
			if err != nil {
				return err
			}
			if !ok {
				f = storage.Factor{User: user, Kind: kind}
			}
			updated = true
			switch updateErr = update(&f); {
			case errors.Is(updateErr, storage.ErrDelete):
				updateErr = nil
				out = storage.Factor{}
				_, err = tx.Exec(ctx, s.sql[qDeleteFactor], user, kind)
				return err
			case updateErr != nil:
				return updateErr
			}
			f.User, f.Kind = user, kind // neither can change
			out, _, err = scanFactor(tx.QueryRow(ctx, s.sql[qPutFactor], factorArgs(&f)...))
			return err
		})
		if err != nil && updated {
			return final{err} // update ran: never again
		}
		return err
	})
	switch {
	case updateErr != nil:
		return storage.Factor{}, updateErr
	case err != nil:
		return storage.Factor{}, fmt.Errorf("pgstore: update factor %q/%q: %w", user, kind, err)
	}
	return out, nil
}

// Secret implements [storage.Store]: of concurrent first calls, the first
// insert wins and every call returns its value.
func (s *Store) Secret(ctx context.Context, name string, create []byte) ([]byte, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if create == nil {
		create = []byte{}
	}
	for range maxAttempts {
		var v []byte
		err := s.pool.QueryRow(ctx, s.sql[qSecret], name).Scan(&v)
		switch {
		case err == nil:
			if v == nil {
				v = []byte{}
			}
			return v, nil
		case !errors.Is(err, pgx.ErrNoRows):
			return nil, fmt.Errorf("pgstore: secret %q: %w", name, err)
		}
		// None yet: store create, unless another call stores first; then
		// read what was stored.
		if _, err := s.pool.Exec(ctx, s.sql[qInsertSecret], name, create); err != nil {
			return nil, fmt.Errorf("pgstore: secret %q: %w", name, err)
		}
	}
	return nil, fmt.Errorf("pgstore: secret %q: not readable after it was stored", name)
}
