package ato

import (
	"context"
	"time"

	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/internal/errs"
	"github.com/atoguard/ato/verdict"
)

// ActionMFAChange is the action an enrolment is evaluated as; restrictions
// hold it back by default.
const ActionMFAChange Action = "mfa_change"

// FactorDeviceAge is how long a device must have been known for the user
// before it may set up or change an authenticator without having completed
// a challenge (see [Engine.StepUp]).
const FactorDeviceAge = 7 * 24 * time.Hour

// The limits of authenticator codes, defined with their rules in package
// challenge.
const (
	// EnrollmentTTL is how long an authenticator enrolment waits for its
	// first code ([challenge.EnrollmentTTL]).
	EnrollmentTTL = challenge.EnrollmentTTL
	// TOTPMaxFailures and TOTPLockout: see [challenge.TOTPMaxFailures].
	TOTPMaxFailures = challenge.TOTPMaxFailures
	TOTPLockout     = challenge.TOTPLockout
	// CodeMaxFailures and CodeLockout limit wrong email and SMS codes
	// across challenges: see [challenge.CodeMaxFailures].
	CodeMaxFailures = challenge.CodeMaxFailures
	CodeLockout     = challenge.CodeLockout
)

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
//
// Errors: [ErrInvalidRequest] (no issuer, or r is invalid),
// [ErrFactorRefused], those of [Engine.Evaluate], store failures.
func (e *Engine) EnrollTOTP(ctx context.Context, r Request, issuer string) (challenge.TOTPKey, error) {
	if issuer == "" {
		return challenge.TOTPKey{}, invalid("issuer", "required")
	}
	if err := e.mayChangeFactor(ctx, r); err != nil {
		return challenge.TOTPKey{}, err
	}
	key, err := e.challenges.Enrol(ctx, r.User, issuer, e.cfg.now())
	return key, wrap(err)
}

// ConfirmTOTP finishes an enrolment with a first code from the app; the
// new authenticator replaces the old one. r is evaluated as for
// [Engine.EnrollTOTP]. A wrong code is (false, nil); the enrolment stays
// open for [EnrollmentTTL], and ends after as many wrong codes as a
// challenge allows.
//
// Errors: [ErrInvalidRequest], [ErrFactorRefused] and the errors of
// [Engine.Evaluate], as for EnrollTOTP; [ErrNoDestination] when no
// enrolment waits; [ErrRateLimited] when wrong codes ended it; store
// failures.
func (e *Engine) ConfirmTOTP(ctx context.Context, r Request, code string) (bool, error) {
	if code == "" || len(code) > maxCodeLen {
		return false, invalid("code", "not a code")
	}
	if err := e.mayChangeFactor(ctx, r); err != nil {
		return false, err
	}
	right, err := e.challenges.Confirm(ctx, r.User, code, e.cfg.now())
	return right, wrap(err)
}

// mayChangeFactor evaluates the session as an mfa_change and refuses
// anything but allow, from one of the user's devices that completed a
// challenge or has been known for FactorDeviceAge: someone with only the
// password (sharing the owner's network, or first to log in) must not
// make their brand-new device the one that sets the second factor.
func (e *Engine) mayChangeFactor(ctx context.Context, r Request) error {
	r.Action = ActionMFAChange
	r.Time = time.Time{} // a factor change happens now, never in a replay
	res, in, err := e.evaluate(ctx, r)
	if err != nil {
		return err
	}
	if res.Verdict != verdict.Allow {
		return errs.Errorf(ErrFactorRefused, "ato: second factor change refused: %s", res.Explain())
	}
	if !in.Device.Known {
		return errs.Errorf(ErrFactorRefused, "ato: second factor change refused: only from a device the user logged in from before (%s)", res.Explain())
	}
	if l := in.Device.Profile; !l.Trusted && in.Now.Sub(l.FirstSeen) < FactorDeviceAge {
		return errs.Errorf(ErrFactorRefused, "ato: second factor change refused: device %s is known for the user since %s only; complete a challenge from it first (Engine.StepUp)",
			in.Device.ID, l.FirstSeen.UTC().Format(time.RFC3339))
	}
	return nil
}
