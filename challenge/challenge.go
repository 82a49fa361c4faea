// Package challenge delivers and checks the one-time codes that let the
// real owner of an account through a challenge.
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
	To, Code  string
	ExpiresAt time.Time
}

// Sender delivers codes. Send may be called concurrently.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SenderFunc adapts a function to a [Sender].
type SenderFunc func(ctx context.Context, m Message) error

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, m Message) error { return f(ctx, m) }
