package challenge

import (
	"time"

	"github.com/atoguard/ato/internal/errs"
	"github.com/atoguard/ato/storage"
)

// Factor kinds the engine keeps in a store ([storage.Factor]): the user's
// authenticator app, one being enrolled, and the counters of wrong email
// and SMS codes on challenges of devices the user does not know, and on
// challenges of their known ones.
const (
	FactorTOTP        = "totp"
	FactorTOTPPending = "totp_pending"
	FactorCodes       = "codes"
	FactorCodesKnown  = "codes_known_device"
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
// other devices ([CodeGuard]): someone guessing from their own devices
// locks only the codes for unknown devices, and the owner on a known device
// still gets and checks codes.
const (
	CodeMaxFailures = 10
	CodeLockout     = time.Hour
)

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

// EnrollmentTTL is how long an authenticator enrolment waits for its first
// code.
const EnrollmentTTL = 15 * time.Minute

// Lockout is how long n wrong codes in a row lock a channel after the last
// one, when free wrong codes are allowed before the first lock, of base:
// zero below free, then base, doubling with every free more, up to 16 ×
// base.
func Lockout(n, free int, base time.Duration) time.Duration {
	if n < free {
		return 0
	}
	return base << min((n-free)/free, 4)
}

// lockedUntil is when the lock of f's run of wrong codes ends, or zero when
// it is not locked at the time.
func lockedUntil(f *storage.Factor, now time.Time, free int, base time.Duration) time.Time {
	if f.Failures < free {
		return time.Time{}
	}
	if until := f.FailedAt.Add(Lockout(f.Failures, free, base)); now.Before(until) {
		return until
	}
	return time.Time{}
}

// CodeGuard names the factor that counts the wrong email and SMS codes of
// the challenge: [FactorCodesKnown] for a challenge of one of the user's
// known devices, [FactorCodes] otherwise.
func CodeGuard(c *storage.Challenge) string {
	if c.KnownDevice {
		return FactorCodesKnown
	}
	return FactorCodes
}

// CodesLockedUntil is when the lock of the wrong codes f counts ends; zero
// when it does not lock them at the time.
func CodesLockedUntil(f *storage.Factor, now time.Time) time.Time {
	return lockedUntil(f, now, CodeMaxFailures, CodeLockout)
}

// CodesLocked returns an error matching [ErrRateLimited] while f, the
// [CodeGuard] of the challenge, locks its email and SMS codes; nil
// otherwise.
func CodesLocked(f *storage.Factor, c *storage.Challenge, now time.Time) error {
	until := CodesLockedUntil(f, now)
	if until.IsZero() {
		return nil
	}
	whose := "devices the user does not know"
	if c.KnownDevice {
		whose = "the user's known devices"
	}
	return errs.Errorf(ErrRateLimited, "%d wrong codes in a row for user %q lock email and SMS codes for challenges of %s until %s",
		f.Failures, c.User, whose, until.UTC().Format(time.RFC3339))
}

// TakeGuess counts a guess at the challenge's code as wrong, in f, its
// [CodeGuard], before the code is checked: done atomically with the check
// of the lock, of concurrent guesses those past the limit are refused
// however they interleave. It returns [CodesLocked]'s error instead while
// the codes are locked. A right code then ends the run ([RightGuess]); a
// guess that checked nothing is given back ([GiveBackGuess]).
func TakeGuess(f *storage.Factor, c *storage.Challenge, now time.Time) error {
	if err := CodesLocked(f, c, now); err != nil {
		return err
	}
	if f.CreatedAt.IsZero() { // the user's first guess
		f.CreatedAt, f.Confirmed = now, true
	}
	f.Failures++
	f.FailedAt, f.UpdatedAt = now, now
	return nil
}

// RightGuess ends the run of wrong codes f counts: the guess taken for a
// right code and the ones before it no longer count. It reports whether
// there was a counter to reset.
func RightGuess(f *storage.Factor, now time.Time) bool {
	if f.CreatedAt.IsZero() {
		return false
	}
	f.Failures, f.UpdatedAt = 0, now
	return true
}

// GiveBackGuess returns to f a guess that checked no code, and reports
// whether there was one to return. The time of the last wrong code stays:
// a lock may last a little longer, never less.
func GiveBackGuess(f *storage.Factor, now time.Time) bool {
	if f.CreatedAt.IsZero() || f.Failures == 0 {
		return false
	}
	f.Failures--
	f.UpdatedAt = now
	return true
}

// TOTPLockedUntil is when the lock of the authenticator f ends; zero when
// it is not locked at the time.
func TOTPLockedUntil(f *storage.Factor, now time.Time) time.Time {
	return lockedUntil(f, now, TOTPMaxFailures, TOTPLockout)
}

// TOTPLocked returns an error matching [ErrRateLimited] while the
// authenticator f is locked; nil otherwise.
func TOTPLocked(f *storage.Factor, now time.Time) error {
	until := TOTPLockedUntil(f, now)
	if until.IsZero() {
		return nil
	}
	return errs.Errorf(ErrRateLimited, "user %q's authenticator app is locked after too many wrong codes until %s; use email or SMS",
		f.User, until.UTC().Format(time.RFC3339))
}

// SealTOTP seals the secret of a new authenticator of the user under key,
// for [storage.Factor.Secret]: bound to the user, so that it cannot be
// moved to another.
func SealTOTP(key []byte, user, secret string) ([]byte, error) {
	return SealSecret(key, []byte(secret), totpBound(user))
}

// totpBound ties a sealed authenticator secret to its user.
func totpBound(user string) []byte { return []byte("ato totp factor\x00" + user) }

// CheckTOTP checks a code against the user's confirmed authenticator f,
// whose secret [SealTOTP] sealed under key, at now: a right code's time
// step is remembered, so that it is not accepted again, and ends the run of
// wrong codes; a wrong code is counted. It returns [TOTPLocked]'s error
// while the authenticator is locked, [ErrNoDestination] when f is none
// (zero CreatedAt), and an error matching [ErrSealed] for a secret sealed
// under another key or for another user.
func CheckTOTP(f *storage.Factor, key []byte, code string, now time.Time) (bool, error) {
	if f.CreatedAt.IsZero() {
		return false, errs.Errorf(ErrNoDestination, "user %q has no authenticator app", f.User)
	}
	if err := TOTPLocked(f, now); err != nil {
		return false, err
	}
	secret, err := OpenSecret(key, f.Secret, totpBound(f.User))
	if err != nil {
		return false, err
	}
	step, ok := VerifyTOTP(string(secret), code, now, f.LastStep)
	if ok {
		f.LastStep, f.Failures = step, 0
	} else {
		f.Failures++ // only a right code ends a run of wrong ones
		f.FailedAt = now
	}
	f.UpdatedAt = now
	return ok, nil
}

// ConfirmTOTP checks a first code from a new authenticator against the
// pending enrolment f ([FactorTOTPPending]), whose secret [SealTOTP]
// sealed under key, at now, and counts a wrong one. It returns the code's
// time step and true for a right code; [ErrNoDestination] when no
// enrolment waits (f is none, or older than [EnrollmentTTL]); and
// [ErrRateLimited] once maxAttempts wrong codes ended the enrolment, which
// should then be deleted.
func ConfirmTOTP(f *storage.Factor, key []byte, code string, now time.Time, maxAttempts int) (int64, bool, error) {
	if f.CreatedAt.IsZero() || now.Sub(f.CreatedAt) > EnrollmentTTL {
		return 0, false, errs.Errorf(ErrNoDestination, "no authenticator enrolment is waiting for user %q", f.User)
	}
	ended := func() error {
		return errs.Errorf(ErrRateLimited, "%d wrong codes ended the authenticator enrolment of user %q; start again", maxAttempts, f.User)
	}
	if f.Failures >= maxAttempts {
		return 0, false, ended()
	}
	secret, err := OpenSecret(key, f.Secret, totpBound(f.User))
	if err != nil {
		return 0, false, err
	}
	step, ok := VerifyTOTP(string(secret), code, now, 0)
	if ok {
		return step, true, nil
	}
	f.Failures++ // counted in the same write as the check
	f.FailedAt, f.UpdatedAt = now, now
	if f.Failures >= maxAttempts {
		return 0, false, ended()
	}
	return 0, false, nil
}
