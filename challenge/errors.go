package challenge

import (
	"errors"

	"github.com/atoguard/ato/internal/errs"
	"github.com/atoguard/ato/storage"
)

// Errors of a challenge and of the codes that pass it, matched with
// errors.Is. The functions of this package return errors that match them
// and say in their own words which challenge or user it is about:
//
//	challenge "0f3c…" expired at 2026-05-04T09:00:00Z
//
// Package ato returns the same errors under its own names
// (ato.ErrChallengeExpired is ErrExpired, and so on).
var (
	// ErrNotFound: no challenge has the id. It also matches
	// storage.ErrNotFound.
	ErrNotFound = errs.Errorf(storage.ErrNotFound, "challenge: not found")
	// ErrExpired: the challenge, or its current code, is past its time.
	ErrExpired = errors.New("challenge: expired")
	// ErrFailed: the challenge's attempts ran out, or a newer challenge
	// for the same user and device replaced it.
	ErrFailed = errors.New("challenge: failed")
	// ErrCompleted: the challenge was already completed.
	ErrCompleted = errors.New("challenge: already completed")
	// ErrNotVerified: completing a challenge whose code was not verified,
	// or checking a code when none was sent.
	ErrNotVerified = errors.New("challenge: not verified")
	// ErrVerified: the challenge's code was already verified; complete
	// the challenge rather than sending or checking another code.
	ErrVerified = errors.New("challenge: already verified")
	// ErrRateLimited: too many codes sent for the challenge or sent too
	// close together, or too many wrong codes in a row lock the user's
	// email and SMS codes, authenticator or enrolment for a while.
	ErrRateLimited = errors.New("challenge: rate limited")
	// ErrNoDestination: there is nothing to send a code to on the
	// channel: the request gave no email address or phone number, or the
	// user has no confirmed authenticator (or no enrolment waiting for its
	// first code).
	ErrNoDestination = errors.New("challenge: no destination for the channel")
	// ErrNoSender: sending a code by email or SMS needs a [Sender].
	ErrNoSender = errors.New("challenge: no sender")
)
