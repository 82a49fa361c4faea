// Package challenge delivers and checks the one-time codes that let the
// real owner of an account through a challenge, and holds the rules of a
// challenge's life, applied inside a store's atomic updates.
//
// # Codes
//
// [NewCode] draws a code of [CodeDigits] digits from crypto/rand. Only its
// [HashCode] is stored: an HMAC under the engine's key, bound to the
// challenge id so that a hash is worthless for any other challenge.
// [CodeMatches] checks what a person typed, after [NormaliseCode] removes
// spaces and dashes, in constant time.
//
// # Delivery
//
// A [Sender] delivers a [Message], the only value that carries a plain
// code. [SMTPSender] emails codes through an SMTP server, with STARTTLS.
// [Outbox] delivers nothing and records messages in memory, for tests and
// demos only. [SenderFunc] adapts a function, e.g. to call an SMS gateway.
//
// # Authenticator apps
//
// [NewTOTPKey] enrols an authenticator app (RFC 6238: SHA-1, 6 digits,
// 30 s) and gives the QR code to show. [VerifyTOTP] checks a code within
// [TOTPSkew] steps of now and never accepts a step twice: store the step
// it returns. [SealSecret] and [OpenSecret] encrypt the TOTP secret under
// the engine's key, so that stores never see it in plain text.
//
// # Lifecycle
//
// A challenge is pending, then sent ([Send]), verified ([Settle] with the
// right code) and completed ([Completable]); or failed, when its attempts
// run out or a newer challenge for the device replaces it, or expired
// ([Expire]). The rules are functions over the stored record
// ([storage.Challenge]) and the [Limits], without a store: [Usable],
// [Verifiable], [CodeExpiry], [Unsend] and [Describe], which gives what a
// page may show ([Info]).
//
// A [Keeper] runs those rules against a store: it sends and checks codes,
// enrols authenticators and records every step in the user's history. The
// engine keeps one, and completes challenges itself.
//
// # Lockouts
//
// Wrong codes are also counted per user, across challenges, in counters
// kept as [storage.Factor] records: email and SMS codes lock after
// [CodeMaxFailures] in a row ([CodeGuard], [TakeGuess]), the authenticator
// after [TOTPMaxFailures] ([CheckTOTP]), each lock growing while the
// guessing goes on ([Lockout]).
//
// # Errors
//
// One sentinel per thing a caller can act on ([ErrNotFound], [ErrExpired],
// [ErrFailed], [ErrCompleted], [ErrNotVerified], [ErrVerified],
// [ErrRateLimited], [ErrNoDestination], [ErrNoSender]); the errors returned
// match one with errors.Is and say which challenge or user they are about,
// without a package prefix, for the caller to put its own before them.
//
// # Thread safety
//
// The functions are safe to call concurrently; so are [Outbox] and
// [SMTPSender] (given a safe smtp.Auth). Senders are called concurrently.
package challenge

import (
	"context"
	"time"
)

// Channel is how a code reaches the person.
type Channel string

// Channels.
const (
	Email Channel = "email"
	SMS   Channel = "sms"
	TOTP  Channel = "totp"
)

// Message is a code to deliver.
type Message struct {
	ChallengeID, User string
	Channel           Channel
	// To is the address or number; Code the plain code — the only place
	// it ever appears.
	To, Code string
	// SentAt is when the engine sent the code; ExpiresAt when it stops
	// working.
	SentAt, ExpiresAt time.Time
}

// Sender delivers codes. Send may be called concurrently.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SenderFunc adapts a function to a [Sender].
type SenderFunc func(ctx context.Context, m Message) error

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, m Message) error { return f(ctx, m) }
