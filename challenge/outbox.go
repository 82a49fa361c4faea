package challenge

import (
	"context"
	"sync"
)

// OutboxCapacity is how many messages an [Outbox] keeps; older ones are
// dropped.
const OutboxCapacity = 1000

// Outbox is a [Sender] for tests, demos and local development: it delivers
// nothing and records every message instead.
//
// WARNING: an Outbox keeps plain codes in memory, where anything in the
// process can read them, and anyone who reads one can pass the challenge.
// Never use it to protect real accounts. It keeps only the last
// [OutboxCapacity] messages, so that codes do not pile up.
//
// An Outbox is safe for concurrent use. The zero value is not usable; call
// [NewOutbox].
type Outbox struct {
	// OnSend, if set, is called with each message after it is recorded,
	// outside the Outbox's lock, on the goroutine that called Send; a demo
	// can print the code with it. Set it before the first Send.
	OnSend func(Message)

	mu   sync.Mutex
	msgs []Message // oldest first, at most OutboxCapacity
}

var _ Sender = (*Outbox)(nil)

// NewOutbox returns an empty [Outbox].
func NewOutbox() *Outbox { return &Outbox{} }

// Send records m, dropping the oldest message if the Outbox is full. It
// fails only if ctx is already done.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	if len(o.msgs) == OutboxCapacity {
		n := copy(o.msgs, o.msgs[1:])
		o.msgs = o.msgs[:n]
	}
	o.msgs = append(o.msgs, m)
	o.mu.Unlock()
	if o.OnSend != nil {
		o.OnSend(m)
	}
	return nil
}

// Messages returns a copy of the recorded messages, oldest first.
func (o *Outbox) Messages() []Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Message(nil), o.msgs...)
}

// Last returns the most recent message sent for the challenge, and false if
// the Outbox holds none.
func (o *Outbox) Last(challengeID string) (Message, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.msgs) - 1; i >= 0; i-- {
		if o.msgs[i].ChallengeID == challengeID {
			return o.msgs[i], true
		}
	}
	return Message{}, false
}

// Reset forgets every recorded message.
func (o *Outbox) Reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	clear(o.msgs)
	o.msgs = o.msgs[:0]
}
