package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/atoguard/ato/storage"
)

// Factors, one per user and kind, and the engine's secrets.

// factorCols are the columns of a factor, in scanFactor's and factorArgs'
// order.
const factorCols = `user_id, kind, secret, confirmed, last_step, created_at, updated_at, failures, failed_at`

var (
	qFactor    = prepared(`SELECT ` + factorCols + ` FROM factors WHERE user_id = ?1 AND kind = ?2`)
	qPutFactor = prepared(`INSERT INTO factors (` + factorCols + `) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
		ON CONFLICT (user_id, kind) DO UPDATE SET secret = excluded.secret, confirmed = excluded.confirmed,
			last_step = excluded.last_step, created_at = excluded.created_at, updated_at = excluded.updated_at,
			failures = excluded.failures, failed_at = excluded.failed_at`)
	qDeleteFactor  = prepared(`DELETE FROM factors WHERE user_id = ?1 AND kind = ?2`)
	qDeleteFactors = prepared(`DELETE FROM factors WHERE user_id = ?1`)

	qSecret       = prepared(`SELECT value FROM secrets WHERE name = ?1`)
	qInsertSecret = prepared(`INSERT INTO secrets (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING`)
)

// factorArgs returns the values of factorCols for f.
func factorArgs(f *storage.Factor) []any {
	var secret any // NULL when empty
	if len(f.Secret) > 0 {
		secret = f.Secret
	}
	return []any{f.User, f.Kind, secret, boolInt(f.Confirmed), f.LastStep, ms(f.CreatedAt), ms(f.UpdatedAt), f.Failures, ms(f.FailedAt)}
}

// scanFactor scans the factorCols of a row.
func scanFactor(row scanner) (f storage.Factor, err error) {
	var secret []byte
	err = row.Scan(&f.User, &f.Kind, &secret, (*intBool)(&f.Confirmed), &f.LastStep,
		(*msTime)(&f.CreatedAt), (*msTime)(&f.UpdatedAt), &f.Failures, (*msTime)(&f.FailedAt))
	if len(secret) > 0 {
		f.Secret = secret // Scan copies into a fresh slice
	}
	return f, err
}

// readFactor reads the factor; ok is false when there is none.
func readFactor(t *tx, user, kind string) (f storage.Factor, ok bool, err error) {
	f, err = scanFactor(t.row(qFactor, user, kind))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storage.Factor{}, false, nil
	case err != nil:
		return storage.Factor{}, false, fmt.Errorf("factor %q/%q: %w", user, kind, err)
	}
	return f, true, nil
}

// Factor implements [storage.Store].
func (s *Store) Factor(ctx context.Context, user, kind string) (storage.Factor, error) {
	var f storage.Factor
	var ok bool
	err := s.readTx(ctx, func(t *tx) (err error) {
		f, ok, err = readFactor(t, user, kind)
		return err
	})
	switch {
	case err != nil:
		return storage.Factor{}, fmt.Errorf("sqlitestore: %w", err)
	case !ok:
		return storage.Factor{}, fmt.Errorf("sqlitestore: factor %q/%q: %w", user, kind, storage.ErrNotFound)
	}
	return f, nil
}

// UpdateFactor implements [storage.Store]: the read, the update and the
// write are one write transaction, so update must not call the store.
func (s *Store) UpdateFactor(ctx context.Context, user, kind string, update func(*storage.Factor) error) (storage.Factor, error) {
	if user == "" || kind == "" {
		return storage.Factor{}, fmt.Errorf("sqlitestore: update factor: %w: empty user or kind (%q/%q)", storage.ErrInvalid, user, kind)
	}
	var out storage.Factor
	var updateErr error
	err := s.writeTx(ctx, func(t *tx) error {
		f, ok, err := readFactor(t, user, kind)
		if err != nil {
			return err
		}
		if !ok {
			f = storage.Factor{User: user, Kind: kind}
		}
		switch updateErr = update(&f); {
		case errors.Is(updateErr, storage.ErrDelete):
			updateErr = nil
			_, err = t.exec(qDeleteFactor, user, kind)
			return err
		case updateErr != nil:
			return updateErr
		}
		f.User, f.Kind = user, kind // neither can change
		if _, err := t.exec(qPutFactor, factorArgs(&f)...); err != nil {
			return err
		}
		out, _, err = readFactor(t, user, kind)
		return err
	})
	switch {
	case updateErr != nil:
		return storage.Factor{}, updateErr
	case err != nil:
		return storage.Factor{}, fmt.Errorf("sqlitestore: update factor %q/%q: %w", user, kind, err)
	}
	return out, nil
}

// Secret implements [storage.Store].
func (s *Store) Secret(ctx context.Context, name string, create []byte) ([]byte, error) {
	var v []byte
	if s.readOnly {
		err := s.readTx(ctx, func(t *tx) error { return t.row(qSecret, name).Scan(&v) })
		if errors.Is(err, sql.ErrNoRows) {
			err = ErrReadOnly
		}
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: secret %q: %w", name, err)
		}
		return v, nil
	}
	err := s.writeTx(ctx, func(t *tx) error {
		err := t.row(qSecret, name).Scan(&v)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if create == nil {
			create = []byte{}
		}
		if _, err := t.exec(qInsertSecret, name, create); err != nil {
			return err
		}
		return t.row(qSecret, name).Scan(&v)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: secret %q: %w", name, err)
	}
	return v, nil
}
