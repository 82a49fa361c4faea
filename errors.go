package ato

import (
	"errors"
	"strconv"

	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/internal/errs"
	"github.com/atoguard/ato/storage"
)

// ErrInvalidRequest is matched (errors.Is) by every error about a bad
// [Request] or argument; the error's message names the field, and
// errors.As with a *[RequestError] gives it to code.
var ErrInvalidRequest = errors.New("ato: invalid request")

// RequestError says which field of a [Request], or which argument, is
// wrong and why.
type RequestError struct {
	// Field is the field's name as the hosted API spells it: "user", "ip",
	// "fingerprint", "last_fingerprint", "metadata", …
	Field   string
	Problem string
}

// Error names the field and the problem, after "ato: invalid request".
func (e *RequestError) Error() string {
	return ErrInvalidRequest.Error() + ": " + e.Field + ": " + e.Problem
}

// Unwrap makes errors.Is(err, ErrInvalidRequest) hold.
func (e *RequestError) Unwrap() error { return ErrInvalidRequest }

func invalid(field, problem string) error { return &RequestError{Field: field, Problem: problem} }

// excerpt quotes at most the first 64 bytes of s, for error messages.
func excerpt(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:64]) + "…"
	}
	return strconv.Quote(s)
}

// Errors a caller can act on, one sentinel each, matched with errors.Is.
// The error a method returns says in its own words what it is about, once:
//
//	ato: challenge "0f3c…" not found
//	ato: challenge "0f3c…" expired at 2026-05-04T09:00:00Z
//	ato: challenge "0f3c…": wait 20s before sending another code
//
// The challenge errors are those of package [challenge], under the names
// callers of the engine know.
var (
	// ErrChallengeNotFound: no challenge has the id
	// ([challenge.ErrNotFound]). It also matches storage.ErrNotFound.
	ErrChallengeNotFound = challenge.ErrNotFound
	// ErrChallengeExpired: the challenge, or its code, is past its time
	// ([challenge.ErrExpired]).
	ErrChallengeExpired = challenge.ErrExpired
	// ErrChallengeFailed: the verification attempts ran out, or a newer
	// challenge for the same user and device replaced this one
	// ([challenge.ErrFailed]).
	ErrChallengeFailed = challenge.ErrFailed
	// ErrChallengeCompleted: the challenge was already completed
	// ([challenge.ErrCompleted]).
	ErrChallengeCompleted = challenge.ErrCompleted
	// ErrChallengeNotVerified: completing a challenge whose code was not
	// verified, or verifying one whose code was never sent
	// ([challenge.ErrNotVerified]).
	ErrChallengeNotVerified = challenge.ErrNotVerified
	// ErrChallengeVerified: the challenge's code was already verified;
	// complete it rather than sending or verifying another code
	// ([challenge.ErrVerified]).
	ErrChallengeVerified = challenge.ErrVerified
	// ErrRateLimited: too many sends, or sends too close together, for a
	// challenge; too many wrong codes in a row locking the user's email and
	// SMS codes, authenticator or enrolment for a while
	// ([challenge.ErrRateLimited]). Too many challenges in the hour is not
	// an error but a deny ([RuleChallengeLimit]).
	ErrRateLimited = challenge.ErrRateLimited
	// ErrNoDestination: the request that created the challenge gave no
	// address for the channel (no email for email, no phone for SMS), or
	// the user has no confirmed authenticator for TOTP, or no enrolment
	// waits for its first code ([challenge.ErrNoDestination]).
	ErrNoDestination = challenge.ErrNoDestination
	// ErrNoSender: sending needs a sender; see WithSender
	// ([challenge.ErrNoSender]).
	ErrNoSender = challenge.ErrNoSender
	// ErrFactorRefused: enrolling or changing a second factor was refused
	// because the session is challenged or restricted, or its device is
	// new to the user.
	ErrFactorRefused = errors.New("ato: second factor change refused")
	// ErrDeviceNotFound: the device is not one of the user's known
	// devices. It also matches storage.ErrNotFound.
	ErrDeviceNotFound = errs.Errorf(storage.ErrNotFound, "ato: device not found")
	// ErrDeviceRestricted: the device cannot be forgotten while a
	// restriction holds on it.
	ErrDeviceRestricted = errors.New("ato: device is restricted")
)
