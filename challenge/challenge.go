// Package challenge delivers and checks the one-time codes that let the
// real owner of an account through a challenge. It holds the primitives;
// the engine (package ato) keeps the challenges and applies the limits.
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
