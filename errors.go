package ato

import (
	"errors"
	"strconv"
)

// ErrInvalidRequest is matched (errors.Is) by every error about a bad
// [Request]; the error's message names the field, and errors.As with a
// *[RequestError] gives it to code.
var ErrInvalidRequest = errors.New("ato: invalid request")

// RequestError says which field of a [Request] is wrong and why.
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

// Challenge errors. Each is matched with errors.Is; the error returned
// carries the challenge id.
var (
	// ErrChallengeNotFound: no challenge has the id. It also matches
	// storage.ErrNotFound.
	ErrChallengeNotFound = errors.New("ato: challenge not found")
	// ErrChallengeExpired: the challenge, or its code, is past its time.
	ErrChallengeExpired = errors.New("ato: challenge expired")
	// ErrChallengeFailed: the verification attempts ran out, or a newer
	// challenge for the same user and device replaced this one.
	ErrChallengeFailed = errors.New("ato: challenge failed")
	// ErrChallengeCompleted: the challenge was already completed.
	ErrChallengeCompleted = errors.New("ato: challenge already completed")
	// ErrChallengeNotVerified: completing a challenge whose code was not
	// verified, or verifying one whose code was never sent.
	ErrChallengeNotVerified = errors.New("ato: challenge not verified")
	// ErrRateLimited: too many sends, sends too close together, or too many
	// challenges for the user in the last hour.
	ErrRateLimited = errors.New("ato: rate limited")
	// ErrNoDestination: the request that created the challenge gave no
	// address for the channel (no email for email, no phone for SMS), or
	// the user has no confirmed authenticator for TOTP.
	ErrNoDestination = errors.New("ato: no destination for the channel")
	// ErrNoSender: sending needs a sender; see WithSender.
	ErrNoSender = errors.New("ato: no sender configured")
	// ErrFactorRefused: enrolling or changing a second factor was refused
	// because the session is challenged or restricted.
	ErrFactorRefused = errors.New("ato: second factor change refused")
	// ErrChallengeVerified: the challenge's code was already verified;
	// complete it rather than sending or verifying another code.
	ErrChallengeVerified = errors.New("ato: challenge already verified")
	// ErrDeviceRestricted: the device cannot be forgotten while a
	// restriction holds on it.
	ErrDeviceRestricted = errors.New("ato: device is restricted")
)
