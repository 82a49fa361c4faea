package ato

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/atoguard/ato/internal/id"
	"github.com/atoguard/ato/storage"
)

// Limits of email and SMS codes across challenges. A challenge allows a
// few wrong codes and a user a few challenges an hour, so on their own they
// let someone with the password check codes all week long. Wrong codes are
// therefore also counted per user, across challenges and both channels:
// after CodeMaxFailures in a row, codes are refused (not sent, not checked:
// [ErrRateLimited]) until CodeLockout after the last wrong one, and each
// further wrong code locks them again, twice as long with every
// CodeMaxFailures more, up to 16 times as long, until a right code ends the
// run. Guessing as fast as the locks allow checks about 50 codes in a
// week.
//
// Challenges of the user's known devices are counted apart from those of
// other devices: someone guessing from their own devices locks only the
// codes for unknown devices, and the owner on a known device still gets
// and checks codes.
const (
	CodeMaxFailures = 10
	CodeLockout     = time.Hour
)

// Factor kinds that count wrong email and SMS codes: on challenges of
// devices the user does not know, and on challenges of known ones.
const (
	guardUnknown = "codes"
	guardKnown   = "codes_known_device"
)

// lockout is how long n wrong codes in a row lock a channel after the last
// one, when free wrong codes are allowed before the first lock of base.
func lockout(n, free int, base time.Duration) time.Duration {
	if n < free {
		return 0
	}
	return base << min((n-free)/free, 4)
}

// codeGuard names the counter of wrong codes a challenge's guesses go to.
func codeGuard(c storage.Challenge) string {
	if c.KnownDevice {
		return guardKnown
	}
	return guardUnknown
}

// codesLockedUntil is when the guard's lock ends; zero or past when it is
// not locked at the time.
func codesLockedUntil(f storage.Factor, now time.Time) time.Time {
	if f.Failures < CodeMaxFailures {
		return time.Time{}
	}
	if until := f.FailedAt.Add(lockout(f.Failures, CodeMaxFailures, CodeLockout)); now.Before(until) {
		return until
	}
	return time.Time{}
}

// codesLocked returns ErrRateLimited while the guard of the challenge's
// codes is locked.
func (e *Engine) codesLocked(ctx context.Context, c storage.Challenge, now time.Time) error {
	f, err := e.store.Factor(ctx, c.User, codeGuard(c))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("ato: wrong codes of user %q: %w", c.User, err)
	}
	if until := codesLockedUntil(f, now); !until.IsZero() {
		return codesLockedErr(c, f, until)
	}
	return nil
}

func codesLockedErr(c storage.Challenge, f storage.Factor, until time.Time) error {
	whose := "devices the user does not know"
	if c.KnownDevice {
		whose = "the user's known devices"
	}
	return fmt.Errorf("%w: %d wrong codes in a row for user %q lock email and SMS codes for challenges of %s until %s",
		ErrRateLimited, f.Failures, c.User, whose, until.UTC().Format(time.RFC3339))
}

// takeGuess counts a guess at the challenge's code as wrong, atomically
// with the check of the lock, before the code is checked: of concurrent
// guesses, those past the limit are refused however they interleave. A
// right code then ends the run ([Engine.rightGuess]); a guess that checked
// nothing is given back ([Engine.giveBackGuess]).
func (e *Engine) takeGuess(ctx context.Context, c storage.Challenge, now time.Time) error {
	var locked storage.Factor
	var until time.Time
	_, err := e.store.UpdateFactor(ctx, c.User, codeGuard(c), func(f *storage.Factor) error {
		if until = codesLockedUntil(*f, now); !until.IsZero() {
			locked = *f
			return errLocked
		}
		if f.CreatedAt.IsZero() { // the user's first guess
			f.CreatedAt, f.Confirmed = now, true
		}
		f.Failures++
		f.FailedAt, f.UpdatedAt = now, now
		return nil
	})
	if errors.Is(err, errLocked) {
		return codesLockedErr(c, locked, until)
	}
	if err != nil {
		return fmt.Errorf("ato: wrong codes of user %q: %w", c.User, err)
	}
	return nil
}

// rightGuess ends the run of wrong codes: the guess taken for a right code
// and the ones before it no longer count.
func (e *Engine) rightGuess(ctx context.Context, c storage.Challenge, now time.Time) error {
	_, err := e.store.UpdateFactor(ctx, c.User, codeGuard(c), func(f *storage.Factor) error {
		if f.CreatedAt.IsZero() {
			return errChanged
		}
		f.Failures, f.UpdatedAt = 0, now
		return nil
	})
	if err != nil && !errors.Is(err, errChanged) {
		return fmt.Errorf("ato: wrong codes of user %q: %w", c.User, err)
	}
	return nil
}

// giveBackGuess returns a guess that checked no code (the challenge could
// not be verified). The time of the last wrong code stays: a lock may last
// a little longer, never less.
func (e *Engine) giveBackGuess(c storage.Challenge, now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // the caller's ctx may be what failed
	defer cancel()
	e.store.UpdateFactor(ctx, c.User, codeGuard(c), func(f *storage.Factor) error {
		if f.CreatedAt.IsZero() || f.Failures == 0 {
			return errChanged
		}
		f.Failures--
		f.UpdatedAt = now
		return nil
	})
}

// noteLock records in the user's history that a wrong code locked the
// challenge's codes.
func (e *Engine) noteLock(ctx context.Context, c storage.Challenge, now time.Time) error {
	f, err := e.store.Factor(ctx, c.User, codeGuard(c))
	if err != nil || codesLockedUntil(f, now).IsZero() {
		return nil
	}
	ev := storage.Event{
		ID: id.New(), User: c.User, Time: now, Kind: storage.KindCodesLocked, Action: c.Attempt.Action,
		DeviceID: c.DeviceID, IP: c.Attempt.IP, Network: c.Attempt.Network, ChallengeID: c.ID,
	}
	return e.commitEvent(ctx, ev)
}
