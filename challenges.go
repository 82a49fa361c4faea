package ato

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/internal/id"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
)

// maxCodeLen bounds what VerifyChallengeCode reads of a typed code.
const maxCodeLen = 32

// ChallengeInfo is what an application shows on a challenge page. It never
// holds a code; destinations are masked.
type ChallengeInfo struct {
	ID, User string
	// DeviceID is the device of the challenged attempt (empty when it had
	// no fingerprint).
	DeviceID string
	// Status is one of pending, sent, verified, completed, failed, expired,
	// overridden.
	Status  storage.ChallengeStatus
	Reasons []signals.Reason
	// Channels a code can be sent on: email and sms when the request that
	// created the challenge gave an address or number, totp when the user
	// has a confirmed authenticator.
	Channels []challenge.Channel
	// Email and Phone are masked: "a•••@example.com", "•••4567".
	Email, Phone string
	// Channel is where the current code went; Sends counts the sends.
	Channel challenge.Channel
	Sends   int
	// Attempts counts wrong codes; AttemptsLeft how many more are allowed.
	Attempts, AttemptsLeft int
	// CodesLockedUntil, when not zero, is when email and SMS codes for
	// this challenge stop being refused after too many wrong ones across
	// the user's challenges (see [CodeMaxFailures]); Channels leaves them
	// out until then.
	CodesLockedUntil time.Time
	CreatedAt        time.Time
	// ExpiresAt is when the challenge ends; CodeExpiresAt when the current
	// code does (zero before the first send).
	ExpiresAt, CodeExpiresAt time.Time
}

// Challenge describes a challenge. An application should check that
// User is the user of the session asking before it shows the page or acts
// on the challenge.
func (e *Engine) Challenge(ctx context.Context, challengeID string) (ChallengeInfo, error) {
	c, err := e.challenge(ctx, challengeID)
	if err != nil {
		return ChallengeInfo{}, err
	}
	status := c.Status
	if status.Open() && !e.cfg.now().Before(c.ExpiresAt) {
		status = storage.ChallengeExpired
	}
	info := ChallengeInfo{
		ID:           c.ID,
		User:         c.User,
		DeviceID:     c.DeviceID,
		Status:       status,
		Email:        maskEmail(c.Email),
		Phone:        maskPhone(c.Phone),
		Channel:      challenge.Channel(c.Channel),
		Sends:        c.Sends,
		Attempts:     c.Attempts,
		AttemptsLeft: max(0, e.cfg.limits.MaxAttempts-c.Attempts),
		CreatedAt:    c.CreatedAt,
		ExpiresAt:    c.ExpiresAt,
	}
	for _, r := range c.Reasons {
		info.Reasons = append(info.Reasons, signals.Reason(r))
	}
	if g, err := e.store.Factor(ctx, c.User, codeGuard(c)); err == nil {
		info.CodesLockedUntil = codesLockedUntil(g, e.cfg.now())
	} else if !errors.Is(err, storage.ErrNotFound) {
		return ChallengeInfo{}, fmt.Errorf("ato: challenge: %w", err)
	}
	if info.CodesLockedUntil.IsZero() {
		if c.Email != "" {
			info.Channels = append(info.Channels, challenge.Email)
		}
		if c.Phone != "" {
			info.Channels = append(info.Channels, challenge.SMS)
		}
	}
	if f, err := e.store.Factor(ctx, c.User, factorTOTP); err == nil && f.Confirmed && !totpLocked(f, e.cfg.now()) {
		info.Channels = append(info.Channels, challenge.TOTP)
	} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return ChallengeInfo{}, fmt.Errorf("ato: challenge: %w", err)
	}
	if !c.SentAt.IsZero() && c.Channel != string(challenge.TOTP) {
		info.CodeExpiresAt = e.codeExpiry(c)
	}
	return info, nil
}

// SendChallengeCode sends a new one-time code for the challenge over the
// channel, to the destination of the request that created it; the code it
// replaces stops working. If the sender fails, the previous code keeps
// working, but the send still counts against the limit. For [challenge.TOTP] nothing is sent: the person
// reads the code from their authenticator app, and this call only selects
// the channel.
//
// Errors: [ErrNoDestination] when the request gave no address for the
// channel, [ErrNoSender] without [WithSender], [ErrRateLimited] past the
// sends per challenge, too soon after the last send, or while too many
// wrong codes lock email and SMS codes (see [CodeMaxFailures]), and the
// challenge errors ([ErrChallengeNotFound], [ErrChallengeExpired], …).
func (e *Engine) SendChallengeCode(ctx context.Context, challengeID string, ch challenge.Channel) error {
	if ch != challenge.Email && ch != challenge.SMS && ch != challenge.TOTP {
		return invalid("channel", "must be email, sms or totp, not "+excerpt(string(ch)))
	}
	c, err := e.challenge(ctx, challengeID)
	if err != nil {
		return err
	}
	var to string
	switch ch {
	case challenge.Email:
		to = c.Email
	case challenge.SMS:
		to = c.Phone
	case challenge.TOTP:
		f, err := e.store.Factor(ctx, c.User, factorTOTP)
		if errors.Is(err, storage.ErrNotFound) || err == nil && !f.Confirmed {
			return fmt.Errorf("%w: the user has no confirmed authenticator app (challenge %q)", ErrNoDestination, c.ID)
		}
		if err != nil {
			return fmt.Errorf("ato: send challenge code: %w", err)
		}
		if totpLocked(f, e.cfg.now()) {
			return lockedErr(f)
		}
	}
	if ch != challenge.TOTP {
		if to == "" {
			return fmt.Errorf("%w: the request that created challenge %q gave no %s", ErrNoDestination, c.ID, destinationName(ch))
		}
		if e.cfg.sender == nil {
			return fmt.Errorf("%w: cannot send challenge %q by %s", ErrNoSender, c.ID, ch)
		}
	}

	now := e.cfg.now()
	if ch != challenge.TOTP {
		// A code that could not be checked is not worth sending (nor an
		// SMS worth paying for).
		if err := e.codesLocked(ctx, c, now); err != nil {
			return err
		}
	}
	var code string
	var hash []byte
	if ch != challenge.TOTP {
		if code, err = challenge.NewCode(); err != nil {
			return fmt.Errorf("ato: send challenge code: %w", err)
		}
		hash = challenge.HashCode(e.cfg.secret, c.ID, code)
	}
	var expired bool
	var prev storage.Challenge
	c, err = e.store.UpdateChallenge(ctx, c.ID, func(c *storage.Challenge) error {
		if err := e.usable(c, now); err != nil {
			if errors.Is(err, ErrChallengeExpired) && c.Status.Open() {
				c.Status, c.UpdatedAt, expired = storage.ChallengeExpired, now, true
				return nil
			}
			return err
		}
		if c.Status == storage.ChallengeVerified {
			return fmt.Errorf("%w: challenge %q", ErrChallengeVerified, c.ID)
		}
		if c.Sends >= e.cfg.limits.MaxSends {
			return fmt.Errorf("%w: challenge %q already had %d codes sent", ErrRateLimited, c.ID, c.Sends)
		}
		if wait := c.SentAt.Add(e.cfg.limits.SendSpacing).Sub(now); !c.SentAt.IsZero() && wait > 0 {
			return fmt.Errorf("%w: challenge %q: wait %v before sending another code", ErrRateLimited, c.ID, wait.Round(time.Second))
		}
		prev = *c
		c.Status, c.Channel, c.CodeHash = storage.ChallengeSent, string(ch), hash
		c.Sends++
		c.SentAt, c.UpdatedAt = now, now
		return nil
	})
	if err != nil {
		return e.challengeErr("send challenge code", challengeID, err)
	}
	if expired {
		return fmt.Errorf("%w: challenge %q", ErrChallengeExpired, c.ID)
	}
	if ch != challenge.TOTP {
		m := challenge.Message{ChallengeID: c.ID, User: c.User, Channel: ch, To: to, Code: code, SentAt: now, ExpiresAt: e.codeExpiry(c)}
		if err := e.cfg.sender.Send(ctx, m); err != nil {
			e.unsend(c.ID, hash, prev)
			return fmt.Errorf("ato: send challenge code %q by %s: %w", c.ID, ch, err)
		}
	}
	// The code went out: a failure to note it in the history must not tell
	// the caller it did not (a retry would only hit the spacing limit).
	_ = e.record(ctx, c, storage.KindChallengeSent, now)
	return nil
}

// unsend puts back the code, channel and send time a failed send replaced,
// if nothing else changed the challenge since, so that a flaky gateway does
// not kill the code the person already has. The send stays counted: a
// gateway that fails after delivering must not open the door to unlimited
// sends.
func (e *Engine) unsend(id string, hash []byte, prev storage.Challenge) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // the caller's ctx may be what failed
	defer cancel()
	e.store.UpdateChallenge(ctx, id, func(c *storage.Challenge) error {
		if c.Status != storage.ChallengeSent || c.Sends != prev.Sends+1 ||
			!bytes.Equal(c.CodeHash, hash) || c.Attempts != prev.Attempts {
			return errChanged // overridden, verified, sent again, guessed at: leave it
		}
		c.Status, c.Channel, c.CodeHash, c.SentAt = prev.Status, prev.Channel, prev.CodeHash, prev.SentAt
		return nil
	})
}

var errChanged = errors.New("changed")

// VerifyChallengeCode checks a code the person typed, in constant time.
// A wrong code is (false, nil) while attempts remain; the attempt that uses
// the last one fails the challenge, and from then on it returns
// [ErrChallengeFailed]. Attempts are counted atomically, so concurrent
// guesses cannot go past the limit. A right code verifies the challenge;
// [Engine.CompleteChallenge] then lets the person in. Wrong email and SMS
// codes are also counted across the user's challenges: past
// [CodeMaxFailures] in a row, codes are refused for a while with
// [ErrRateLimited], without using up an attempt. On the TOTP channel, an
// authenticator locked after [TOTPMaxFailures] wrong codes does the same.
func (e *Engine) VerifyChallengeCode(ctx context.Context, challengeID, code string) (bool, error) {
	if code == "" {
		return false, invalid("code", "required")
	}
	if len(code) > maxCodeLen || !utf8.ValidString(code) {
		return false, invalid("code", "not a code")
	}
	c, err := e.challenge(ctx, challengeID)
	if err != nil {
		return false, err
	}
	now := e.cfg.now()
	if c.Channel == string(challenge.TOTP) {
		return e.verifyTOTP(ctx, c, code, now)
	}
	if err := e.takeGuess(ctx, c, now); err != nil {
		return false, err
	}
	guessed := c
	var ok, expired bool
	c, err = e.store.UpdateChallenge(ctx, c.ID, func(c *storage.Challenge) error {
		if err := e.verifiable(c, now); err != nil {
			if errors.Is(err, ErrChallengeExpired) && !now.Before(c.ExpiresAt) {
				c.Status, c.UpdatedAt, expired = storage.ChallengeExpired, now, true
				return nil
			}
			return err
		}
		ok = challenge.CodeMatches(e.cfg.secret, c.ID, code, c.CodeHash)
		e.settle(c, ok, now)
		return nil
	})
	if err != nil || expired {
		e.giveBackGuess(guessed, now)
	}
	if err != nil {
		return false, e.challengeErr("verify challenge code", challengeID, err)
	}
	if expired {
		return false, fmt.Errorf("%w: challenge %q", ErrChallengeExpired, c.ID)
	}
	var guard error
	if ok {
		guard = e.rightGuess(ctx, c, now)
	} else {
		guard = e.noteLock(ctx, c, now)
	}
	return ok, errors.Join(guard, e.recordVerify(ctx, c, now))
}

// verifyTOTP checks a code from the user's authenticator: first it takes
// one attempt from the challenge, then it checks the code against the
// factor (which remembers the last accepted time step, so that no code
// works twice), then it records the outcome.
func (e *Engine) verifyTOTP(ctx context.Context, c storage.Challenge, code string, now time.Time) (bool, error) {
	if err := e.checkTOTPLock(ctx, c.User, now); err != nil {
		return false, err
	}
	_, err := e.store.UpdateChallenge(ctx, c.ID, func(c *storage.Challenge) error {
		if err := e.verifiable(c, now); err != nil {
			return err
		}
		c.Attempts++
		c.UpdatedAt = now
		return nil
	})
	if err != nil {
		return false, e.challengeErr("verify challenge code", c.ID, err)
	}
	ok, err := e.checkTOTP(ctx, c.User, code, now)
	if err != nil {
		if errors.Is(err, ErrRateLimited) { // locked since the check above: give the attempt back
			e.store.UpdateChallenge(ctx, c.ID, func(c *storage.Challenge) error {
				if c.Status != storage.ChallengeSent || c.Attempts == 0 {
					return errChanged
				}
				c.Attempts--
				return nil
			})
		}
		return false, err
	}
	c, err = e.store.UpdateChallenge(ctx, c.ID, func(c *storage.Challenge) error {
		if c.Status != storage.ChallengeSent { // a concurrent attempt settled it
			if err := e.usable(c, now); err != nil {
				return err
			}
			return fmt.Errorf("%w: challenge %q", ErrChallengeVerified, c.ID)
		}
		c.Attempts-- // settle counts it again
		e.settle(c, ok, now)
		return nil
	})
	if err != nil {
		return false, e.challengeErr("verify challenge code", c.ID, err)
	}
	return ok, e.recordVerify(ctx, c, now)
}

// settle counts an attempt and moves the challenge to verified, or to
// failed when it was the last one.
func (e *Engine) settle(c *storage.Challenge, ok bool, now time.Time) {
	c.Attempts++
	c.UpdatedAt = now
	switch {
	case ok:
		c.Status, c.CodeHash = storage.ChallengeVerified, nil
	case c.Attempts >= e.cfg.limits.MaxAttempts:
		c.Status, c.CodeHash = storage.ChallengeFailed, nil
	}
}

func (e *Engine) recordVerify(ctx context.Context, c storage.Challenge, now time.Time) error {
	switch c.Status {
	case storage.ChallengeVerified:
		return e.record(ctx, c, storage.KindChallengeVerified, now)
	case storage.ChallengeFailed:
		return e.record(ctx, c, storage.KindChallengeFailed, now)
	}
	return nil
}

// CompleteChallenge completes a verified challenge, once: the challenged
// attempt becomes a successful login, so its device is trusted and its IP
// and country known for the user, and the restriction on that device is
// lifted. The next evaluation from that device and IP is allowed without
// the reasons that caused the challenge.
//
// Completing a challenge that was not verified returns
// [ErrChallengeNotVerified]; completing it again, or concurrently, returns
// [ErrChallengeCompleted] to all but one caller.
func (e *Engine) CompleteChallenge(ctx context.Context, challengeID string) error {
	c, err := e.challenge(ctx, challengeID)
	if err != nil {
		return err
	}
	now := e.cfg.now()
	if c.Status != storage.ChallengeVerified {
		if err := e.usable(&c, now); err != nil {
			return err
		}
		return fmt.Errorf("%w: challenge %q is %s", ErrChallengeNotVerified, c.ID, c.Status)
	}
	if !now.Before(c.ExpiresAt) {
		return fmt.Errorf("%w: challenge %q ended at %s", ErrChallengeExpired, c.ID, c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	ev := c.Attempt
	ev.ID = id.New()
	ev.User = c.User
	ev.Time = now
	ev.Kind = storage.KindChallengeCompleted
	ev.Verdict = "allow"
	ev.Success = true
	ev.ChallengeID = c.ID
	ev.Reasons = slices.Clone(c.Reasons)
	cm := storage.Commit{
		User:    c.User,
		Event:   &ev,
		History: e.historyLimits(now),
		Transition: &storage.Transition{
			ChallengeID: c.ID,
			From:        []storage.ChallengeStatus{storage.ChallengeVerified},
			To:          storage.ChallengeCompleted,
			At:          now,
		},
	}
	if err := e.completeLogin(ctx, &cm, c, now); err != nil {
		return err
	}
	if err := e.store.Commit(ctx, cm); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			if cur, gerr := e.challenge(ctx, c.ID); gerr == nil {
				if err := e.usable(&cur, now); err != nil {
					return err
				}
			}
			return fmt.Errorf("%w: challenge %q", ErrChallengeCompleted, c.ID)
		}
		return fmt.Errorf("ato: complete challenge: %w", err)
	}
	return nil
}

// completeLogin adds to cm what completing challenge c teaches: the
// challenged attempt as the user's latest successful login, its device
// trusted and its restriction lifted, and the device's hashes.
func (e *Engine) completeLogin(ctx context.Context, cm *storage.Commit, c storage.Challenge, now time.Time) error {
	a := c.Attempt
	login := profile.Login{
		Time: now, DeviceID: c.DeviceID, IP: a.IP, Network: a.Network,
		Located: a.Located, Country: a.Country, Region: a.Region, City: a.City,
		Latitude: a.Latitude, Longitude: a.Longitude, AccuracyKm: a.AccuracyKm, ASN: a.ASN,
	}
	ch := profile.Change{Now: now, Login: &login, Limits: e.cfg.profile}
	r := storage.LoadRequest{User: c.User}
	if c.DeviceID != "" && c.Fingerprint != "" {
		ch.Trust, ch.Lift = true, c.DeviceID
		r.FingerprintKey = fingerprint.Key(c.Fingerprint)
		r.DeviceKeys, r.MaxCandidates = storage.Keys(fingerprint.LookupKeys(c.Fingerprint, "")...), maxCandidates
	}
	st, err := e.store.Load(ctx, r)
	if err != nil {
		return fmt.Errorf("ato: complete challenge: %w", err)
	}
	if c.DeviceID != "" && c.Fingerprint != "" {
		ev := &evaluation{st: st, ident: fingerprint.Identity{ID: c.DeviceID}}
		ev.a.User = c.User
		for _, d := range st.Candidates {
			if d.ID == c.DeviceID {
				ev.ident.Device = d
			}
		}
		if d, ok := st.Profile.Device(c.DeviceID); ok {
			ev.ident.Known, ev.ident.Profile = true, d
		}
		ch.Keys = e.teachDevice(cm, ev, c.Fingerprint, r.FingerprintKey, now)
		if cm.Device == nil {
			// Completing always writes the device: it is trusted now.
			d := ev.ident.Device
			d.ID = c.DeviceID
			cm.Device = &storage.DeviceWrite{Device: fingerprint.Observe(d, c.Fingerprint, now), Seen: now, MaxUsers: e.cfg.maxDeviceUsers()}
		}
	}
	cm.Profile = e.profileWrite(new(storage.ProfileWrite), &st.Profile, ch)
	return nil
}

// usable returns the error for a challenge that cannot move forward: done,
// failed, replaced or past its end.
func (e *Engine) usable(c *storage.Challenge, now time.Time) error {
	switch c.Status {
	case storage.ChallengeCompleted:
		return fmt.Errorf("%w: challenge %q", ErrChallengeCompleted, c.ID)
	case storage.ChallengeFailed:
		return fmt.Errorf("%w: challenge %q: no attempts left", ErrChallengeFailed, c.ID)
	case storage.ChallengeOverridden:
		return fmt.Errorf("%w: challenge %q was replaced by a newer challenge for the same device", ErrChallengeFailed, c.ID)
	case storage.ChallengeExpired:
		return fmt.Errorf("%w: challenge %q", ErrChallengeExpired, c.ID)
	}
	if !now.Before(c.ExpiresAt) {
		return fmt.Errorf("%w: challenge %q ended at %s", ErrChallengeExpired, c.ID, c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// verifiable returns the error for a challenge whose code cannot be checked
// now.
func (e *Engine) verifiable(c *storage.Challenge, now time.Time) error {
	if err := e.usable(c, now); err != nil {
		return err
	}
	switch {
	case c.Status == storage.ChallengeVerified:
		return fmt.Errorf("%w: challenge %q", ErrChallengeVerified, c.ID)
	case c.Status != storage.ChallengeSent:
		return fmt.Errorf("%w: no code was sent for challenge %q", ErrChallengeNotVerified, c.ID)
	case c.Attempts >= e.cfg.limits.MaxAttempts:
		return fmt.Errorf("%w: challenge %q: no attempts left", ErrChallengeFailed, c.ID)
	case c.Channel != string(challenge.TOTP) && !now.Before(e.codeExpiry(*c)):
		return fmt.Errorf("%w: the code of challenge %q expired; send a new one", ErrChallengeExpired, c.ID)
	}
	return nil
}

// codeExpiry is when the current code stops working: CodeTTL after it was
// sent, and never after the challenge ends.
func (e *Engine) codeExpiry(c storage.Challenge) time.Time {
	t := c.SentAt.Add(e.cfg.limits.CodeTTL)
	if c.ExpiresAt.Before(t) {
		return c.ExpiresAt
	}
	return t
}

// challengeErr wraps a store error of a challenge update.
func (e *Engine) challengeErr(op, challengeID string, err error) error {
	for _, s := range []error{ErrChallengeCompleted, ErrChallengeFailed, ErrChallengeExpired, ErrChallengeNotVerified, ErrChallengeVerified, ErrRateLimited} {
		if errors.Is(err, s) {
			return err
		}
	}
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: %q: %w", ErrChallengeNotFound, challengeID, err)
	}
	return fmt.Errorf("ato: %s: %w", op, err)
}

// record adds a challenge transition to the user's history.
func (e *Engine) record(ctx context.Context, c storage.Challenge, kind string, now time.Time) error {
	ev := storage.Event{
		ID:          id.New(),
		User:        c.User,
		Time:        now,
		Kind:        kind,
		Action:      c.Attempt.Action,
		DeviceID:    c.DeviceID,
		IP:          c.Attempt.IP,
		Network:     c.Attempt.Network,
		ChallengeID: c.ID,
	}
	return e.commitEvent(ctx, ev)
}

// commitEvent adds an event to its user's history.
func (e *Engine) commitEvent(ctx context.Context, ev storage.Event) error {
	err := e.store.Commit(ctx, storage.Commit{User: ev.User, Event: &ev, History: e.historyLimits(ev.Time)})
	if err != nil {
		return fmt.Errorf("ato: record %s: %w", ev.Kind, err)
	}
	return nil
}

func (e *Engine) challenge(ctx context.Context, challengeID string) (storage.Challenge, error) {
	if challengeID == "" || len(challengeID) > 64 {
		return storage.Challenge{}, invalid("challenge_id", "must be a challenge id")
	}
	c, err := e.store.Challenge(ctx, challengeID)
	if err != nil {
		return storage.Challenge{}, e.challengeErr("challenge", challengeID, err)
	}
	return c, nil
}

func destinationName(ch challenge.Channel) string {
	if ch == challenge.SMS {
		return "phone number"
	}
	return "email address"
}

// maskEmail keeps the first letter and the domain: "a•••@example.com".
func maskEmail(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at < 1 {
		return maskTail(s, 0)
	}
	r, _ := utf8.DecodeRuneInString(s)
	return string(r) + "•••" + s[at:]
}

// maskPhone keeps the last four characters: "•••4567".
func maskPhone(s string) string { return maskTail(s, 4) }

func maskTail(s string, keep int) string {
	if s == "" {
		return ""
	}
	rs := []rune(s)
	if len(rs) <= keep {
		return "•••"
	}
	return "•••" + string(rs[len(rs)-keep:])
}
