package ato

import (
	"context"
	"errors"
	"fmt"
	"github.com/atoguard/ato/internal/text"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/internal/errs"
	"github.com/atoguard/ato/internal/id"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/verdict"
)

// The engine's side of a challenge: it checks the arguments, then its
// [challenge.Keeper] runs the step in the store with the rules of package
// challenge; completing one, which teaches the engine the login, is the
// engine's own.

// maxCodeLen bounds what VerifyChallengeCode reads of a typed code.
const maxCodeLen = 32

// ChallengeInfo is what an application shows on a challenge page
// ([challenge.Info]). It never holds a code; destinations are masked.
type ChallengeInfo = challenge.Info

// Challenge describes a challenge. An application should check that
// User is the user of the session asking before it shows the page or acts
// on the challenge.
//
// Errors: [ErrInvalidRequest] for an id that cannot be one,
// [ErrChallengeNotFound], store failures.
func (e *Engine) Challenge(ctx context.Context, challengeID string) (ChallengeInfo, error) {
	if err := checkChallengeID(challengeID); err != nil {
		return ChallengeInfo{}, err
	}
	info, err := e.challenges.Info(ctx, challengeID, e.cfg.now())
	return info, wrap(err)
}

// SendChallengeCode sends a new one-time code for the challenge over the
// channel, to the destination of the request that created it; the code it
// replaces stops working. If the sender fails, the previous code keeps
// working, but the send still counts against the limit. For
// [challenge.TOTP] nothing is sent: the person reads the code from their
// authenticator app, and this call only selects the channel.
//
// Errors: [ErrInvalidRequest] for an unknown channel; [ErrNoDestination]
// when the request gave no address for the channel, or the user has no
// confirmed authenticator; [ErrNoSender] without [WithSender];
// [ErrRateLimited] past the sends per challenge, too soon after the last
// send, or while too many wrong codes lock the channel (see
// [CodeMaxFailures], [TOTPMaxFailures]); the challenge errors
// [ErrChallengeNotFound], [ErrChallengeExpired], [ErrChallengeFailed],
// [ErrChallengeCompleted], [ErrChallengeVerified]; the sender's error;
// store failures.
func (e *Engine) SendChallengeCode(ctx context.Context, challengeID string, ch challenge.Channel) error {
	if ch != challenge.Email && ch != challenge.SMS && ch != challenge.TOTP {
		return invalid("channel", "must be email, sms or totp, not "+excerpt(string(ch)))
	}
	if err := checkChallengeID(challengeID); err != nil {
		return err
	}
	return wrap(e.challenges.Send(ctx, challengeID, ch, e.cfg.now()))
}

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
//
// Errors: [ErrInvalidRequest] for an empty code or one that cannot be a
// code; [ErrRateLimited] as above; [ErrNoDestination] when the user's
// authenticator is gone; the challenge errors [ErrChallengeNotFound],
// [ErrChallengeExpired] (the challenge or its code), [ErrChallengeFailed],
// [ErrChallengeCompleted], [ErrChallengeVerified], [ErrChallengeNotVerified]
// (no code was sent); store failures, with the outcome when the code was
// checked.
func (e *Engine) VerifyChallengeCode(ctx context.Context, challengeID, code string) (bool, error) {
	if code == "" {
		return false, invalid("code", "required")
	}
	if len(code) > maxCodeLen || !utf8.ValidString(code) {
		return false, invalid("code", "not a code")
	}
	if err := checkChallengeID(challengeID); err != nil {
		return false, err
	}
	right, err := e.challenges.Verify(ctx, challengeID, code, e.cfg.now())
	return right, wrap(err)
}

// CompleteChallenge completes a verified challenge, once: the challenged
// attempt becomes a successful login, so its device is trusted and its IP
// and country known for the user, and the restriction on that device is
// lifted. The next evaluation from that device and IP is allowed without
// the reasons that caused the challenge.
//
// Errors: [ErrChallengeNotVerified] for a challenge that was not verified;
// [ErrChallengeCompleted] when it was completed already, and to all but
// one of concurrent callers; [ErrInvalidRequest], [ErrChallengeNotFound],
// [ErrChallengeExpired], [ErrChallengeFailed]; store failures.
func (e *Engine) CompleteChallenge(ctx context.Context, challengeID string) error {
	if err := checkChallengeID(challengeID); err != nil {
		return err
	}
	c, err := e.challenges.Get(ctx, challengeID)
	if err != nil {
		return wrap(err)
	}
	now := e.cfg.now()
	if err := challenge.Completable(&c, now); err != nil {
		return wrap(err)
	}
	ev := c.Attempt
	ev.ID = id.New()
	ev.User = c.User
	ev.Time = now
	ev.Kind = storage.KindChallengeCompleted
	ev.Verdict = string(verdict.Allow)
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
	if err := e.completeLogin(ctx, &cm, &c, now); err != nil {
		return err
	}
	if err := e.save(ctx, cm); err != nil {
		if errors.Is(err, storage.ErrConflict) { // it moved on since it was read
			if cur, gerr := e.challenges.Get(ctx, c.ID); gerr == nil {
				if err := challenge.Usable(&cur, now); err != nil {
					return wrap(err)
				}
			}
			return errs.Errorf(ErrChallengeCompleted, "ato: challenge %q is already completed", c.ID)
		}
		return fmt.Errorf("ato: complete challenge: %w", err)
	}
	return nil
}

// completeLogin adds to cm what completing challenge c teaches: the
// challenged attempt as the user's latest successful login, its device
// trusted and its restriction lifted, and the device's hashes.
func (e *Engine) completeLogin(ctx context.Context, cm *storage.Commit, c *storage.Challenge, now time.Time) error {
	a := &c.Attempt
	login := profile.Login{
		Time: now, DeviceID: c.DeviceID, IP: a.IP, Network: a.Network,
		Located: a.Located, Country: a.Country, Region: a.Region, City: a.City,
		Latitude: a.Latitude, Longitude: a.Longitude, AccuracyKm: a.AccuracyKm, ASN: a.ASN,
	}
	ch := profile.Change{Now: now, Login: &login, Limits: e.cfg.profile}
	r := storage.LoadRequest{User: c.User}
	device := c.DeviceID != "" && c.Fingerprint != ""
	if device {
		ch.Trust, ch.Lift = true, c.DeviceID
		r.FingerprintKey = fingerprint.Key(c.Fingerprint)
		r.DeviceKeys, r.MaxCandidates = storage.Keys(fingerprint.LookupKeys(c.Fingerprint, "")...), maxCandidates
	}
	st, err := e.store.Load(ctx, r)
	if err != nil {
		return fmt.Errorf("ato: complete challenge: %w", err)
	}
	if device {
		// Completing always writes the device: it is trusted now.
		ident := fingerprint.Named(c.DeviceID, &st.Profile, st.Candidates)
		l := fingerprint.Learn(&ident, c.User, c.Fingerprint, r.FingerprintKey, st.Hashes, now, e.cfg.maxDeviceUsers(), true)
		cm.Device, cm.Hashes, ch.Keys = l.Device, l.Hashes, l.Keys
	}
	cm.Profile = profileWrite(new(storage.ProfileWrite), &st.Profile, ch)
	return nil
}

func checkChallengeID(id string) error {
	if id == "" || len(id) > 64 || text.Check(id, 64) != "" {
		return invalid("challenge_id", "must be a challenge id")
	}
	return nil
}

// wrap puts the engine's prefix before an error of the challenge Keeper,
// which says what it is about: `ato: challenge "x" expired`.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("ato: %w", err)
}
