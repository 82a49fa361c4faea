package atod

import (
	"context"
	"errors"
	"time"

	"github.com/atoguard/ato/storage"
)

// countingStore counts the store's failures in atod_store_errors_total:
// errors of the store itself, not a record that is not there, a client
// that went away, or an error the engine's own update function returned
// through UpdateChallenge or UpdateFactor (a challenge's rules refusing a
// step).
type countingStore struct {
	storage.Store
	errs func(op string)
}

func (s countingStore) count(op string, err error) {
	if err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, context.Canceled) {
		s.errs(op)
	}
}

func (s countingStore) Load(ctx context.Context, r storage.LoadRequest) (storage.State, error) {
	st, err := s.Store.Load(ctx, r)
	s.count("load", err)
	return st, err
}

func (s countingStore) Commit(ctx context.Context, c storage.Commit) error {
	err := s.Store.Commit(ctx, c)
	s.count("commit", err)
	return err
}

func (s countingStore) AddFailure(ctx context.Context, f storage.Failure, lim storage.FailureLimits) error {
	err := s.Store.AddFailure(ctx, f, lim)
	s.count("add_failure", err)
	return err
}

func (s countingStore) Challenge(ctx context.Context, id string) (storage.Challenge, error) {
	c, err := s.Store.Challenge(ctx, id)
	s.count("challenge", err)
	return c, err
}

func (s countingStore) UpdateChallenge(ctx context.Context, id string, update func(*storage.Challenge) error) (storage.Challenge, error) {
	var own error
	c, err := s.Store.UpdateChallenge(ctx, id, func(c *storage.Challenge) error {
		own = update(c)
		return own
	})
	if own == nil || !errors.Is(err, own) {
		s.count("update_challenge", err)
	}
	return c, err
}

func (s countingStore) Factor(ctx context.Context, user, kind string) (storage.Factor, error) {
	f, err := s.Store.Factor(ctx, user, kind)
	s.count("factor", err)
	return f, err
}

func (s countingStore) UpdateFactor(ctx context.Context, user, kind string, update func(*storage.Factor) error) (storage.Factor, error) {
	var own error
	f, err := s.Store.UpdateFactor(ctx, user, kind, func(f *storage.Factor) error {
		own = update(f)
		return own
	})
	if own == nil || !errors.Is(err, own) {
		s.count("update_factor", err)
	}
	return f, err
}

func (s countingStore) Secret(ctx context.Context, name string, create []byte) ([]byte, error) {
	b, err := s.Store.Secret(ctx, name, create)
	s.count("secret", err)
	return b, err
}

func (s countingStore) Events(ctx context.Context, user string, since time.Time, limit int) ([]storage.Event, error) {
	ev, err := s.Store.Events(ctx, user, since, limit)
	s.count("events", err)
	return ev, err
}

func (s countingStore) DeleteUser(ctx context.Context, user string) error {
	err := s.Store.DeleteUser(ctx, user)
	s.count("delete_user", err)
	return err
}

func (s countingStore) Purge(ctx context.Context, r storage.PurgeRequest) (int, error) {
	n, err := s.Store.Purge(ctx, r)
	s.count("purge", err)
	return n, err
}
