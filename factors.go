package ato

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/verdict"
)

// Factor kinds in the store: a confirmed authenticator, and one being
// enrolled.
const (
	factorTOTP        = "totp"
	factorTOTPPending = "totp_pending"
)

// ActionMFAChange is the action an enrolment is evaluated as; restrictions
// hold it back by default.
const ActionMFAChange Action = "mfa_change"

// EnrollmentTTL is how long an authenticator enrolment waits for its first
// code.
const EnrollmentTTL = 15 * time.Minute

// EnrollTOTP starts enrolling an authenticator app for r.User and returns
// its key: the secret, the otpauth:// URL and a QR code to show once. The
// user's current authenticator, if any, keeps working until
// [Engine.ConfirmTOTP] accepts a first code from the new one.
//
// r describes the session asking, as for a login; it is evaluated as the
// action mfa_change, and unless the verdict is allow, from a device of the
// user's that completed a challenge (see [Engine.StepUp]) or has been known
// for [FactorDeviceAge], the enrolment is refused with [ErrFactorRefused]:
// someone who only has the password, on a challenged or restricted session
// or a device they just logged in from, must not add their own factor.
func (e *Engine) EnrollTOTP(ctx context.Context, r Request, issuer string) (challenge.TOTPKey, error) {
	if issuer == "" {
		return challenge.TOTPKey{}, invalid("issuer", "required")
	}
	if err := e.mayChangeFactor(ctx, r); err != nil {
		return challenge.TOTPKey{}, err
	}
	key, err := challenge.NewTOTPKey(issuer, r.User)
	if err != nil {
		return challenge.TOTPKey{}, fmt.Errorf("ato: enroll: %w", err)
	}
	sealed, err := challenge.SealSecret(e.cfg.secret, []byte(key.Secret), sealBound(r.User))
	if err != nil {
		return challenge.TOTPKey{}, fmt.Errorf("ato: enroll: %w", err)
	}
	now := e.cfg.now()
	f := storage.Factor{User: r.User, Kind: factorTOTPPending, Secret: sealed, CreatedAt: now, UpdatedAt: now}
	if err := e.putFactor(ctx, f); err != nil {
		return challenge.TOTPKey{}, fmt.Errorf("ato: enroll: %w", err)
	}
	if err := e.factorEvent(ctx, r.User, storage.KindFactorEnrolled, now); err != nil {
		return challenge.TOTPKey{}, err
	}
	return key, nil
}

// ConfirmTOTP finishes an enrolment with a first code from the app; the
// new authenticator replaces the old one. r is evaluated as for
// [Engine.EnrollTOTP]. A wrong code is (false, nil); the enrolment stays
// open for [EnrollmentTTL], and ends after as many wrong codes as a
// challenge allows ([ErrRateLimited]).
func (e *Engine) ConfirmTOTP(ctx context.Context, r Request, code string) (bool, error) {
	if code == "" || len(code) > maxCodeLen {
		return false, invalid("code", "not a code")
	}
	if err := e.mayChangeFactor(ctx, r); err != nil {
		return false, err
	}
	now := e.cfg.now()
	var step int64
	var ok, ended bool
	p, err := e.store.UpdateFactor(ctx, r.User, factorTOTPPending, func(f *storage.Factor) error {
		if f.CreatedAt.IsZero() || now.Sub(f.CreatedAt) > EnrollmentTTL {
			return storage.ErrNotFound
		}
		if f.Failures >= e.cfg.limits.MaxAttempts {
			ended = true
			return errLocked
		}
		secret, err := challenge.OpenSecret(e.cfg.secret, f.Secret, sealBound(r.User))
		if err != nil {
			return err
		}
		if step, ok = challenge.VerifyTOTP(string(secret), code, now, 0); !ok {
			f.Failures++ // counted in the same write as the check
			f.FailedAt, f.UpdatedAt = now, now
			ended = f.Failures >= e.cfg.limits.MaxAttempts
		}
		return nil
	})
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return false, fmt.Errorf("%w: no authenticator enrolment is waiting for user %q", ErrNoDestination, r.User)
	case err != nil && !errors.Is(err, errLocked):
		return false, fmt.Errorf("ato: confirm: %w", err)
	case ended:
		if err := e.deleteFactor(ctx, r.User, factorTOTPPending); err != nil {
			return false, fmt.Errorf("ato: confirm: %w", err)
		}
		return false, fmt.Errorf("%w: %d wrong codes ended the enrolment; start again", ErrRateLimited, e.cfg.limits.MaxAttempts)
	case !ok:
		return false, nil
	}
	f := storage.Factor{User: r.User, Kind: factorTOTP, Secret: p.Secret, Confirmed: true, LastStep: step, CreatedAt: now, UpdatedAt: now}
	if err := e.putFactor(ctx, f); err != nil {
		return false, fmt.Errorf("ato: confirm: %w", err)
	}
	if err := e.deleteFactor(ctx, r.User, factorTOTPPending); err != nil {
		return false, fmt.Errorf("ato: confirm: %w", err)
	}
	return true, e.factorEvent(ctx, r.User, storage.KindFactorConfirmed, now)
}

// FactorDeviceAge is how long a device must have been known for the user
// before it may set up or change an authenticator without having completed
// a challenge (see [Engine.StepUp]).
const FactorDeviceAge = 7 * 24 * time.Hour

// mayChangeFactor evaluates the session as an mfa_change and refuses
// anything but allow, from one of the user's devices that completed a
// challenge or has been known for FactorDeviceAge: someone with only the
// password (sharing the owner's network, or first to log in) must not
// make their brand-new device the one that sets the second factor.
func (e *Engine) mayChangeFactor(ctx context.Context, r Request) error {
	r.Action = ActionMFAChange
	r.Time = time.Time{} // a factor change happens now, never in a replay
	res, in, err := e.evaluate(ctx, r, false)
	if err != nil {
		return err
	}
	if res.Verdict != verdict.Allow {
		return fmt.Errorf("%w: %s", ErrFactorRefused, res.Explain())
	}
	if !in.Device.Known {
		return fmt.Errorf("%w: only from a device the user logged in from before (%s)", ErrFactorRefused, res.Explain())
	}
	if l := in.Device.Profile; !l.Trusted && in.Now.Sub(l.FirstSeen) < FactorDeviceAge {
		return fmt.Errorf("%w: device %s is known for the user since %s only; complete a challenge from it first (Engine.StepUp)",
			ErrFactorRefused, in.Device.ID, l.FirstSeen.UTC().Format(time.RFC3339))
	}
	return nil
}

// Limits of authenticator codes across challenges: after TOTPMaxFailures
// wrong codes in a row, the authenticator is refused for TOTPLockout after
// the last one; each further wrong code locks it again, for twice as long
// with every TOTPMaxFailures more (at most 16 times as long), until a right
// code. Guesses spread over many challenges thus run into a wall that
// grows: about one guess an hour once locked, fewer later. Email and SMS
// codes keep working meanwhile.
const (
	TOTPMaxFailures = 10
	TOTPLockout     = time.Hour
)

// totpLockout is how long n wrong codes in a row lock the authenticator
// after the last.
func totpLockout(n int) time.Duration { return lockout(n, TOTPMaxFailures, TOTPLockout) }

// checkTOTP checks a code against the user's confirmed authenticator and,
// atomically, remembers its time step so the code is not accepted again,
// or counts the failure.
func (e *Engine) checkTOTP(ctx context.Context, user, code string, now time.Time) (bool, error) {
	var ok bool
	var locked storage.Factor
	_, err := e.store.UpdateFactor(ctx, user, factorTOTP, func(f *storage.Factor) error {
		if f.CreatedAt.IsZero() {
			return storage.ErrNotFound
		}
		if totpLocked(*f, now) {
			locked = *f
			return errLocked
		}
		secret, err := challenge.OpenSecret(e.cfg.secret, f.Secret, sealBound(user))
		if err != nil {
			return err
		}
		step, match := challenge.VerifyTOTP(string(secret), code, now, f.LastStep)
		ok = match
		if match {
			f.LastStep, f.Failures = step, 0
		} else {
			f.Failures++ // only a right code ends a run of wrong ones
			f.FailedAt = now
		}
		f.UpdatedAt = now
		return nil
	})
	switch {
	case errors.Is(err, errLocked):
		return false, lockedErr(locked)
	case errors.Is(err, storage.ErrNotFound):
		return false, fmt.Errorf("%w: user %q has no authenticator app", ErrNoDestination, user)
	case err != nil:
		return false, fmt.Errorf("ato: check authenticator code: %w", err)
	}
	return ok, nil
}

var errLocked = errors.New("locked")

// totpLocked reports whether the authenticator is locked at the time.
func totpLocked(f storage.Factor, now time.Time) bool {
	return f.Failures >= TOTPMaxFailures && now.Before(f.FailedAt.Add(totpLockout(f.Failures)))
}

// checkTOTPLock returns ErrRateLimited while the user's authenticator is
// locked.
func (e *Engine) checkTOTPLock(ctx context.Context, user string, now time.Time) error {
	f, err := e.store.Factor(ctx, user, factorTOTP)
	if err != nil {
		return nil // checked where the factor is used
	}
	if totpLocked(f, now) {
		return lockedErr(f)
	}
	return nil
}

// lockedErr says until when the locked authenticator f is refused.
func lockedErr(f storage.Factor) error {
	return fmt.Errorf("%w: user %q's authenticator app is locked after too many wrong codes until %s; use email or SMS",
		ErrRateLimited, f.User, f.FailedAt.Add(totpLockout(f.Failures)).UTC().Format(time.RFC3339))
}

// sealBound ties a sealed authenticator secret to its user.
func sealBound(user string) []byte { return []byte("ato totp factor\x00" + user) }

func (e *Engine) factorEvent(ctx context.Context, user, kind string, now time.Time) error {
	return e.record(ctx, storage.Challenge{User: user}, kind, now)
}

// putFactor stores f, replacing the user's factor of its kind.
func (e *Engine) putFactor(ctx context.Context, f storage.Factor) error {
	_, err := e.store.UpdateFactor(ctx, f.User, f.Kind, func(g *storage.Factor) error {
		*g = f
		return nil
	})
	return err
}

// deleteFactor deletes the user's factor of the kind, if there is one.
func (e *Engine) deleteFactor(ctx context.Context, user, kind string) error {
	_, err := e.store.UpdateFactor(ctx, user, kind, func(f *storage.Factor) error {
		if f.CreatedAt.IsZero() {
			return errChanged // none
		}
		return storage.ErrDelete
	})
	if errors.Is(err, errChanged) {
		return nil
	}
	return err
}
