package challenge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/atoguard/ato/internal/errs"
	"github.com/atoguard/ato/internal/id"
	"github.com/atoguard/ato/storage"
)

// Keeper runs the steps of challenges kept in a store, and of the user's
// authenticator: each step reads the records, applies this package's rules
// inside the store's atomic updates (so that concurrent steps cannot go
// past a limit), delivers codes through the Sender, and records what
// happened in the user's history. The engine (package ato) keeps one and
// completes challenges itself, since completing one teaches it the login.
// A Keeper is safe for concurrent use.
//
// Its errors match this package's sentinels, or wrap the store's or the
// sender's error, and say what they are about without a package prefix —
// `challenge "x" expired` — for the caller to put its own before them.
type Keeper struct {
	Store  storage.Store
	Limits Limits // with their defaults set
	// Key is the engine's secret: codes are hashed and authenticator
	// secrets sealed under it.
	Key []byte
	// Sender delivers email and SMS codes; nil: none can be sent.
	Sender Sender
	// History bounds the user's history when a step is recorded in it; a
	// Max of 0 keeps none: steps are not recorded.
	History func(at time.Time) storage.HistoryLimits
}

// Get reads the challenge with the id: [ErrNotFound] when there is none.
func (k *Keeper) Get(ctx context.Context, challengeID string) (storage.Challenge, error) {
	c, err := k.Store.Challenge(ctx, challengeID)
	if err != nil {
		return storage.Challenge{}, k.storeErr("read challenge", challengeID, err)
	}
	return c, nil
}

// Info is what a page may show of the challenge at now ([Describe]).
func (k *Keeper) Info(ctx context.Context, challengeID string, now time.Time) (Info, error) {
	c, err := k.Get(ctx, challengeID)
	if err != nil {
		return Info{}, err
	}
	codes, err := k.factor(ctx, c.User, CodeGuard(&c))
	if err != nil {
		return Info{}, fmt.Errorf("challenge %q: %w", c.ID, err)
	}
	totp, err := k.factor(ctx, c.User, FactorTOTP)
	if err != nil {
		return Info{}, fmt.Errorf("challenge %q: %w", c.ID, err)
	}
	return Describe(&c, codes, totp, now, k.Limits), nil
}

// Send sends a new code for the challenge on the channel at now, to the
// address of the request that created it, or selects the user's
// authenticator for [TOTP] (nothing is sent). If the sender fails, the
// previous code keeps working ([Unsend]), but the send still counts.
//
// Errors: [ErrNoDestination], [ErrNoSender], [ErrRateLimited] ([Send],
// [CodesLocked], [TOTPLocked]), those of [Usable], [ErrNotFound], the
// sender's, the store's.
func (k *Keeper) Send(ctx context.Context, challengeID string, ch Channel, now time.Time) error {
	c, err := k.Get(ctx, challengeID)
	if err != nil {
		return err
	}
	var to, code string
	var hash []byte
	switch ch {
	case TOTP:
		f, err := k.factor(ctx, c.User, FactorTOTP)
		switch {
		case err != nil:
			return fmt.Errorf("challenge %q: %w", c.ID, err)
		case f == nil || !f.Confirmed:
			return errs.Errorf(ErrNoDestination, "challenge %q: the user has no confirmed authenticator app", c.ID)
		}
		if err := TOTPLocked(f, now); err != nil {
			return err
		}
	default:
		to = c.Email
		if ch == SMS {
			to = c.Phone
		}
		if to == "" {
			what := "email address"
			if ch == SMS {
				what = "phone number"
			}
			return errs.Errorf(ErrNoDestination, "challenge %q: the request that created it gave no %s", c.ID, what)
		}
		if k.Sender == nil {
			return errs.Errorf(ErrNoSender, "challenge %q: no sender to send a code by %s", c.ID, ch)
		}
		// A code that could not be checked is not worth sending (nor an
		// SMS worth paying for).
		if err := k.codesLocked(ctx, &c, now); err != nil {
			return err
		}
		if code, err = NewCode(); err != nil {
			return fmt.Errorf("challenge %q: %w", c.ID, err)
		}
		hash = HashCode(k.Key, c.ID, code)
	}
	var expired bool
	var prev storage.Challenge
	c, err = k.Store.UpdateChallenge(ctx, c.ID, func(c *storage.Challenge) error {
		if expired = Expire(c, now); expired {
			return nil // stored: the challenge ended
		}
		prev = *c
		return Send(c, ch, hash, now, k.Limits)
	})
	if err != nil {
		return k.storeErr("send a code for challenge", challengeID, err)
	}
	if expired {
		return Usable(&c, now)
	}
	if ch != TOTP {
		m := Message{ChallengeID: c.ID, User: c.User, Channel: ch, To: to, Code: code, SentAt: c.SentAt, ExpiresAt: CodeExpiry(&c, k.Limits)}
		if err := k.Sender.Send(ctx, m); err != nil {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second) // ctx may be what failed
			defer cancel()
			k.changeChallenge(ctx, c.ID, func(c *storage.Challenge) bool { return Unsend(c, &prev, hash) })
			return fmt.Errorf("send a code for challenge %q by %s: %w", c.ID, ch, err)
		}
	}
	// The code went out: a failure to note it in the history must not tell
	// the caller it did not (a retry would only hit the spacing limit).
	_ = k.record(ctx, &c, storage.KindChallengeSent, now)
	return nil
}

// Verify checks a code the person typed against the challenge at now, in
// constant time, and counts the attempt: a wrong code with attempts left is
// (false, nil), the last one fails the challenge, a right one verifies it.
// An email or SMS guess is first counted against the user's codes
// ([TakeGuess]), and given back if it checked nothing; a TOTP code is
// checked against the user's authenticator ([CheckTOTP]).
//
// Errors: [ErrRateLimited] while the user's codes or authenticator are
// locked, [ErrNoDestination] when the authenticator is gone, those of
// [Verifiable], [ErrNotFound], the store's (with the outcome, when the
// code was checked).
func (k *Keeper) Verify(ctx context.Context, challengeID, code string, now time.Time) (bool, error) {
	c, err := k.Get(ctx, challengeID)
	if err != nil {
		return false, err
	}
	if c.Channel == string(TOTP) {
		return k.verifyTOTP(ctx, &c, code, now)
	}
	if err := k.takeGuess(ctx, &c, now); err != nil {
		return false, err
	}
	guessed := c
	var right, expired bool
	c, err = k.Store.UpdateChallenge(ctx, c.ID, func(c *storage.Challenge) error {
		if expired = Expire(c, now); expired {
			return nil // stored: the challenge ended
		}
		if err := Verifiable(c, now, k.Limits); err != nil {
			return err
		}
		right = CodeMatches(k.Key, c.ID, code, c.CodeHash)
		Settle(c, right, now, k.Limits)
		return nil
	})
	if err != nil || expired {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second) // ctx may be what failed
		defer cancel()
		k.changeFactor(ctx, guessed.User, CodeGuard(&guessed), func(f *storage.Factor) bool { return GiveBackGuess(f, now) })
	}
	if err != nil {
		return false, k.storeErr("check a code for challenge", challengeID, err)
	}
	if expired {
		return false, Usable(&c, now)
	}
	var guard error
	if !right {
		guard = k.noteLock(ctx, &c, now)
	} else if err := k.changeFactor(ctx, c.User, CodeGuard(&c), func(f *storage.Factor) bool { return RightGuess(f, now) }); err != nil {
		guard = fmt.Errorf("wrong codes of user %q: %w", c.User, err)
	}
	return right, errors.Join(guard, k.recordVerify(ctx, &c, now))
}

// verifyTOTP checks a code from the user's authenticator: first it takes
// one attempt from the challenge, then it checks the code against the
// factor (which remembers the last accepted time step, so that no code
// works twice), then it settles the attempt and records the outcome.
func (k *Keeper) verifyTOTP(ctx context.Context, c *storage.Challenge, code string, now time.Time) (bool, error) {
	if f, err := k.factor(ctx, c.User, FactorTOTP); err == nil && f != nil {
		if err := TOTPLocked(f, now); err != nil {
			return false, err
		}
	} // a missing factor is refused where it is used
	_, err := k.Store.UpdateChallenge(ctx, c.ID, func(c *storage.Challenge) error {
		return TakeAttempt(c, now, k.Limits)
	})
	if err != nil {
		return false, k.storeErr("check a code for challenge", c.ID, err)
	}
	var right bool
	var refused error
	_, err = k.Store.UpdateFactor(ctx, c.User, FactorTOTP, func(f *storage.Factor) error {
		right, refused = CheckTOTP(f, k.Key, code, now)
		return refused
	})
	switch {
	case errors.Is(refused, ErrRateLimited): // locked since the check above: give the attempt back
		k.changeChallenge(ctx, c.ID, ReturnAttempt)
		return false, refused
	case errors.Is(refused, ErrNoDestination):
		return false, refused
	case err != nil:
		return false, fmt.Errorf("check an authenticator code of user %q: %w", c.User, err)
	}
	settled, err := k.Store.UpdateChallenge(ctx, c.ID, func(c *storage.Challenge) error {
		return SettleTaken(c, right, now, k.Limits)
	})
	if err != nil {
		return false, k.storeErr("check a code for challenge", c.ID, err)
	}
	return right, k.recordVerify(ctx, &settled, now)
}

func (k *Keeper) recordVerify(ctx context.Context, c *storage.Challenge, now time.Time) error {
	switch c.Status {
	case storage.ChallengeVerified:
		return k.record(ctx, c, storage.KindChallengeVerified, now)
	case storage.ChallengeFailed:
		return k.record(ctx, c, storage.KindChallengeFailed, now)
	}
	return nil
}

// codesLocked returns [CodesLocked]'s error while the challenge's email and
// SMS codes are locked.
func (k *Keeper) codesLocked(ctx context.Context, c *storage.Challenge, now time.Time) error {
	f, err := k.factor(ctx, c.User, CodeGuard(c))
	if err != nil {
		return fmt.Errorf("wrong codes of user %q: %w", c.User, err)
	}
	if f == nil {
		return nil
	}
	return CodesLocked(f, c, now)
}

// takeGuess counts a guess at the challenge's code as wrong before it is
// checked, atomically with the check of the lock ([TakeGuess]).
func (k *Keeper) takeGuess(ctx context.Context, c *storage.Challenge, now time.Time) error {
	var refused error
	_, err := k.Store.UpdateFactor(ctx, c.User, CodeGuard(c), func(f *storage.Factor) error {
		refused = TakeGuess(f, c, now)
		return refused
	})
	if refused != nil {
		return refused
	}
	if err != nil {
		return fmt.Errorf("wrong codes of user %q: %w", c.User, err)
	}
	return nil
}

// noteLock records in the user's history that a wrong code locked the
// challenge's codes.
func (k *Keeper) noteLock(ctx context.Context, c *storage.Challenge, now time.Time) error {
	f, err := k.factor(ctx, c.User, CodeGuard(c))
	if err != nil || f == nil || CodesLockedUntil(f, now).IsZero() {
		return nil
	}
	return k.record(ctx, c, storage.KindCodesLocked, now)
}

// Enrol starts enrolling an authenticator app for the user at now and
// returns its key, to show once; the user's current authenticator, if any,
// keeps working until [Keeper.Confirm] accepts a first code from the new
// one. issuer is the application's name, as the app shows it. Errors: the
// store's.
func (k *Keeper) Enrol(ctx context.Context, user, issuer string, now time.Time) (TOTPKey, error) {
	key, err := NewTOTPKey(issuer, user)
	if err != nil {
		return TOTPKey{}, err
	}
	sealed, err := SealTOTP(k.Key, user, key.Secret)
	if err != nil {
		return TOTPKey{}, err
	}
	f := storage.Factor{User: user, Kind: FactorTOTPPending, Secret: sealed, CreatedAt: now, UpdatedAt: now}
	if err := k.putFactor(ctx, f); err != nil {
		return TOTPKey{}, fmt.Errorf("enrol an authenticator for user %q: %w", user, err)
	}
	if err := k.record(ctx, &storage.Challenge{User: user}, storage.KindFactorEnrolled, now); err != nil {
		return TOTPKey{}, err
	}
	return key, nil
}

// Confirm finishes the user's enrolment with a first code from the new
// app at now ([ConfirmTOTP]): the new authenticator replaces the old one. A
// wrong code is (false, nil).
//
// Errors: [ErrNoDestination] when no enrolment waits; [ErrRateLimited]
// when wrong codes ended it (it is then deleted); the store's.
func (k *Keeper) Confirm(ctx context.Context, user, code string, now time.Time) (bool, error) {
	var step int64
	var right bool
	var refused error
	p, err := k.Store.UpdateFactor(ctx, user, FactorTOTPPending, func(f *storage.Factor) error {
		step, right, refused = ConfirmTOTP(f, k.Key, code, now, k.Limits.MaxAttempts)
		if refused != nil && !errors.Is(refused, ErrRateLimited) {
			return refused // none waits, or its secret does not open: nothing to store
		}
		return nil // the count of wrong codes is stored with the check
	})
	switch {
	case errors.Is(refused, ErrNoDestination):
		return false, refused
	case err != nil:
		return false, fmt.Errorf("confirm the authenticator of user %q: %w", user, err)
	case refused != nil: // ended
		if err := k.deleteFactor(ctx, user, FactorTOTPPending); err != nil {
			return false, fmt.Errorf("confirm the authenticator of user %q: %w", user, err)
		}
		return false, refused
	case !right:
		return false, nil
	}
	f := storage.Factor{User: user, Kind: FactorTOTP, Secret: p.Secret, Confirmed: true, LastStep: step, CreatedAt: now, UpdatedAt: now}
	if err := k.putFactor(ctx, f); err != nil {
		return false, fmt.Errorf("confirm the authenticator of user %q: %w", user, err)
	}
	if err := k.deleteFactor(ctx, user, FactorTOTPPending); err != nil {
		return false, fmt.Errorf("confirm the authenticator of user %q: %w", user, err)
	}
	return true, k.record(ctx, &storage.Challenge{User: user}, storage.KindFactorConfirmed, now)
}

// storeErr is the error for err, which a store call on the challenge
// returned: a rule's refusal as it is, a missing challenge ErrNotFound,
// anything else a failure of what was being done.
func (k *Keeper) storeErr(doing, challengeID string, err error) error {
	for _, s := range [...]error{ErrCompleted, ErrFailed, ErrExpired, ErrNotVerified, ErrVerified, ErrRateLimited, ErrNoDestination} {
		if errors.Is(err, s) {
			return err
		}
	}
	if errors.Is(err, storage.ErrNotFound) {
		return errs.Errorf(ErrNotFound, "challenge %q not found", challengeID)
	}
	return fmt.Errorf("%s %q: %w", doing, challengeID, err)
}

// errUnchanged is what an update function returns to store nothing.
var errUnchanged = errors.New("challenge: unchanged")

// changeChallenge applies f to the challenge in one atomic store update,
// storing it when f reports a change. A challenge gone is no error: there
// is nothing to change.
func (k *Keeper) changeChallenge(ctx context.Context, id string, f func(*storage.Challenge) bool) {
	k.Store.UpdateChallenge(ctx, id, func(c *storage.Challenge) error {
		if !f(c) {
			return errUnchanged
		}
		return nil
	})
}

// factor returns the user's factor of the kind; nil when there is none.
func (k *Keeper) factor(ctx context.Context, user, kind string) (*storage.Factor, error) {
	f, err := k.Store.Factor(ctx, user, kind)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &f, nil
}

// changeFactor applies f to the user's factor of the kind (a zero Factor
// when there is none) in one atomic store update, storing it when f
// reports a change.
func (k *Keeper) changeFactor(ctx context.Context, user, kind string, f func(*storage.Factor) bool) error {
	_, err := k.Store.UpdateFactor(ctx, user, kind, func(g *storage.Factor) error {
		if !f(g) {
			return errUnchanged
		}
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

// putFactor stores f, replacing the user's factor of its kind.
func (k *Keeper) putFactor(ctx context.Context, f storage.Factor) error {
	return k.changeFactor(ctx, f.User, f.Kind, func(g *storage.Factor) bool {
		*g = f
		return true
	})
}

// deleteFactor deletes the user's factor of the kind, if there is one.
func (k *Keeper) deleteFactor(ctx context.Context, user, kind string) error {
	_, err := k.Store.UpdateFactor(ctx, user, kind, func(f *storage.Factor) error {
		if f.CreatedAt.IsZero() {
			return errUnchanged // none
		}
		return storage.ErrDelete
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

// record adds a step of the challenge (or, with only a user, of the user's
// authenticator) to the user's history.
func (k *Keeper) record(ctx context.Context, c *storage.Challenge, kind string, now time.Time) error {
	lim := k.History(now)
	if lim.Max == 0 {
		return nil // no history is kept
	}
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
	if err := k.Store.Commit(ctx, storage.Commit{User: ev.User, Event: &ev, History: lim}); err != nil {
		return fmt.Errorf("record %s: %w", kind, err)
	}
	return nil
}
