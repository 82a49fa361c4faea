package challenge

import (
	"bytes"
	"time"

	"github.com/atoguard/ato/internal/errs"
	"github.com/atoguard/ato/storage"
)

// Limits bound what a challenge allows. A zero field means its default, in
// [DefaultLimits].
type Limits struct {
	// CodeTTL: a code is valid this long from its sending. Default 10 min.
	CodeTTL time.Duration
	// MaxAttempts wrong codes fail the challenge. Default 5.
	MaxAttempts int
	// MaxSends codes may be sent per challenge, at least SendSpacing
	// apart. Defaults 3 and 30 s.
	MaxSends    int
	SendSpacing time.Duration
	// PerHour challenges may be created per user in an hour; the engine
	// denies an evaluation that would create one more, with
	// too_many_challenges. Default 10.
	PerHour int
}

// DefaultLimits are the limits of a zero [Limits].
var DefaultLimits = Limits{
	CodeTTL:     10 * time.Minute,
	MaxAttempts: 5,
	MaxSends:    3,
	SendSpacing: 30 * time.Second,
	PerHour:     10,
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits
	if l.CodeTTL == 0 {
		l.CodeTTL = d.CodeTTL
	}
	if l.MaxAttempts == 0 {
		l.MaxAttempts = d.MaxAttempts
	}
	if l.MaxSends == 0 {
		l.MaxSends = d.MaxSends
	}
	if l.SendSpacing == 0 {
		l.SendSpacing = d.SendSpacing
	}
	if l.PerHour == 0 {
		l.PerHour = d.PerHour
	}
	return l
}

// The lifecycle of a challenge, as rules over its stored record:
//
//	pending ─Send─▶ sent ─Settle(right)─▶ verified ─(complete)─▶ completed
//	                 │ └─Send─▶ sent (a new code replaces the old one)
//	                 └─Settle(wrong, the last attempt)─▶ failed
//
// An open challenge (pending, sent, verified) past its ExpiresAt is
// expired ([Expire]); a newer challenge for the same user and device
// overrides it (the store does that). The functions below take the limits
// with their defaults set ([Limits.WithDefaults]); those that change a
// challenge are meant to run inside a store's UpdateChallenge, so that
// concurrent calls cannot go past a limit.

// StatusAt is the challenge's status at the time: an open challenge past
// its end is expired, whether or not that was stored yet.
func StatusAt(c *storage.Challenge, now time.Time) storage.ChallengeStatus {
	if c.Status.Open() && !now.Before(c.ExpiresAt) {
		return storage.ChallengeExpired
	}
	return c.Status
}

// Expire marks an open challenge past its end as expired at now, and
// reports whether it did.
func Expire(c *storage.Challenge, now time.Time) bool {
	if StatusAt(c, now) != storage.ChallengeExpired || c.Status == storage.ChallengeExpired {
		return false
	}
	c.Status, c.UpdatedAt = storage.ChallengeExpired, now
	return true
}

// Usable returns nil when the challenge can still move forward at the
// time, or why it cannot: [ErrCompleted], [ErrFailed] (no attempts left,
// or replaced by a newer challenge) or [ErrExpired].
func Usable(c *storage.Challenge, now time.Time) error {
	switch c.Status {
	case storage.ChallengeCompleted:
		return errs.Errorf(ErrCompleted, "challenge %q is already completed", c.ID)
	case storage.ChallengeFailed:
		return errs.Errorf(ErrFailed, "challenge %q failed: no attempts left", c.ID)
	case storage.ChallengeOverridden:
		return errs.Errorf(ErrFailed, "challenge %q failed: a newer challenge for the same device replaced it", c.ID)
	case storage.ChallengeExpired:
		return errs.Errorf(ErrExpired, "challenge %q expired", c.ID)
	}
	if !now.Before(c.ExpiresAt) {
		return errs.Errorf(ErrExpired, "challenge %q expired at %s", c.ID, c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// CodeExpiry is when the challenge's current code stops working: CodeTTL
// after it was sent, and never after the challenge ends.
func CodeExpiry(c *storage.Challenge, l Limits) time.Time {
	t := c.SentAt.Add(l.CodeTTL)
	if c.ExpiresAt.Before(t) {
		return c.ExpiresAt
	}
	return t
}

// Send records that a new code goes out on the channel at now, replacing
// the current one: hash is its [HashCode] (nil for [TOTP], where nothing
// is sent and the channel is only selected). It returns why the code may
// not go out instead: the challenge is not [Usable], is already verified
// ([ErrVerified]), or had MaxSends codes sent, the last less than
// SendSpacing ago ([ErrRateLimited]).
func Send(c *storage.Challenge, ch Channel, hash []byte, now time.Time, l Limits) error {
	if err := Usable(c, now); err != nil {
		return err
	}
	if c.Status == storage.ChallengeVerified {
		return errs.Errorf(ErrVerified, "challenge %q is already verified; complete it", c.ID)
	}
	if c.Sends >= l.MaxSends {
		return errs.Errorf(ErrRateLimited, "challenge %q already had %d codes sent", c.ID, c.Sends)
	}
	if wait := c.SentAt.Add(l.SendSpacing).Sub(now); !c.SentAt.IsZero() && wait > 0 {
		return errs.Errorf(ErrRateLimited, "challenge %q: wait %v before sending another code", c.ID, wait.Round(time.Second))
	}
	c.Status, c.Channel, c.CodeHash = storage.ChallengeSent, string(ch), hash
	c.Sends++
	c.SentAt, c.UpdatedAt = now, now
	return nil
}

// Unsend puts back the code, channel and send time that a send whose
// delivery failed replaced (prev is the challenge before [Send], hash the
// code it sent), so that a flaky gateway does not kill the code the person
// already has, and reports whether it did. It does nothing when anything
// changed the challenge since: it was overridden, verified, sent again, or
// a code was tried against it. The send stays counted: a gateway that fails
// after delivering must not open the door to unlimited sends.
func Unsend(c *storage.Challenge, prev *storage.Challenge, hash []byte) bool {
	if c.Status != storage.ChallengeSent || c.Sends != prev.Sends+1 ||
		!bytes.Equal(c.CodeHash, hash) || c.Attempts != prev.Attempts {
		return false
	}
	c.Status, c.Channel, c.CodeHash, c.SentAt = prev.Status, prev.Channel, prev.CodeHash, prev.SentAt
	return true
}

// Verifiable returns nil when a code can be checked against the challenge
// at the time, or why not: the challenge is not [Usable], is already
// verified ([ErrVerified]), had no code sent ([ErrNotVerified]), has no
// attempts left ([ErrFailed]), or its code expired ([ErrExpired]).
func Verifiable(c *storage.Challenge, now time.Time, l Limits) error {
	if err := Usable(c, now); err != nil {
		return err
	}
	switch {
	case c.Status == storage.ChallengeVerified:
		return errs.Errorf(ErrVerified, "challenge %q is already verified; complete it", c.ID)
	case c.Status != storage.ChallengeSent:
		return errs.Errorf(ErrNotVerified, "challenge %q: no code was sent", c.ID)
	case c.Attempts >= l.MaxAttempts:
		return errs.Errorf(ErrFailed, "challenge %q failed: no attempts left", c.ID)
	case c.Channel != string(TOTP) && !now.Before(CodeExpiry(c, l)):
		return errs.Errorf(ErrExpired, "challenge %q: its code expired; send a new one", c.ID)
	}
	return nil
}

// Settle counts an attempt at the challenge's code and its outcome: a
// right code verifies the challenge, a wrong one that uses the last
// attempt fails it. Call it when [Verifiable] returned nil.
func Settle(c *storage.Challenge, right bool, now time.Time, l Limits) {
	c.Attempts++
	c.UpdatedAt = now
	switch {
	case right:
		c.Status, c.CodeHash = storage.ChallengeVerified, nil
	case c.Attempts >= l.MaxAttempts:
		c.Status, c.CodeHash = storage.ChallengeFailed, nil
	}
}

// An authenticator code is checked against the user's factor, outside the
// challenge, so its attempt is taken first ([TakeAttempt]), then settled
// ([SettleTaken]) or given back ([ReturnAttempt]) when the check could not
// be made.

// TakeAttempt counts an attempt before a code is checked elsewhere, or
// returns why no code can be checked ([Verifiable]).
func TakeAttempt(c *storage.Challenge, now time.Time, l Limits) error {
	if err := Verifiable(c, now, l); err != nil {
		return err
	}
	c.Attempts++
	c.UpdatedAt = now
	return nil
}

// ReturnAttempt gives back an attempt [TakeAttempt] took for a check that
// was not made, and reports whether it did: not when the challenge moved on
// meanwhile.
func ReturnAttempt(c *storage.Challenge) bool {
	if c.Status != storage.ChallengeSent || c.Attempts == 0 {
		return false
	}
	c.Attempts--
	return true
}

// SettleTaken settles an attempt [TakeAttempt] took, as [Settle] does. If a
// concurrent attempt settled the challenge meanwhile, it changes nothing
// and returns why: the challenge is not [Usable], or is already verified
// ([ErrVerified]).
func SettleTaken(c *storage.Challenge, right bool, now time.Time, l Limits) error {
	if c.Status != storage.ChallengeSent {
		if err := Usable(c, now); err != nil {
			return err
		}
		return errs.Errorf(ErrVerified, "challenge %q is already verified; complete it", c.ID)
	}
	c.Attempts-- // Settle counts it again
	Settle(c, right, now, l)
	return nil
}

// Completable returns nil when the challenge may be completed at the time,
// or why not: it is not [Usable], or was not verified ([ErrNotVerified]).
func Completable(c *storage.Challenge, now time.Time) error {
	if err := Usable(c, now); err != nil {
		return err
	}
	if c.Status != storage.ChallengeVerified {
		return errs.Errorf(ErrNotVerified, "challenge %q is %s, not verified", c.ID, c.Status)
	}
	return nil
}
