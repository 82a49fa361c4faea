package ato_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/verdict"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flow is a harness with an outbox for codes.
type flow struct {
	*harness
	outbox *challenge.Outbox
}

func eachFlow(t *testing.T, fn func(t *testing.T, f *flow), opts ...ato.Option) {
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newFlow(t, open(t), opts...))
		})
	}
}

func newFlow(t *testing.T, s storage.Store, opts ...ato.Option) *flow {
	box := challenge.NewOutbox()
	return &flow{harness: newHarness(t, s, append([]ato.Option{ato.WithSender(box)}, opts...)...), outbox: box}
}

var (
	aliceLaptop = ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP, Email: "alice@example.com", Phone: "+15550104567"}
	alicePhone  = ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP, Email: "alice@example.com", Phone: "+15550104567"}
)

// challenged logs alice in from her laptop, then from a new phone on a new
// network, and returns the challenge id.
func (f *flow) challenged(t *testing.T) string {
	t.Helper()
	require.Equal(t, verdict.Allow, f.eval(t, aliceLaptop).Verdict)
	res := f.eval(t, alicePhone)
	require.Equal(t, verdict.Challenge, res.Verdict)
	require.NotEmpty(t, res.ChallengeID)
	return res.ChallengeID
}

// send sends a code by email and returns it as the outbox got it.
func (f *flow) send(t *testing.T, id string) string {
	t.Helper()
	require.NoError(t, f.engine.SendChallengeCode(t.Context(), id, challenge.Email))
	m, ok := f.outbox.Last(id)
	require.True(t, ok, "the sender got the code")
	return m.Code
}

func wrongCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

// race makes n calls of fn at once and counts those that succeeded and
// those that failed with one of the expected errors; any other error fails
// the test.
func race(t *testing.T, n int, fn func() error, expected ...error) (succeeded, refused int) {
	t.Helper()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { errs <- fn() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		switch {
		case err == nil:
			succeeded++
		case slices.ContainsFunc(expected, func(e error) bool { return errors.Is(err, e) }):
			refused++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	return succeeded, refused
}

func kinds(t *testing.T, s storage.Store, user string) []string {
	t.Helper()
	evs, err := s.Events(t.Context(), user, time.Time{}, 100)
	require.NoError(t, err)
	var ks []string
	for _, ev := range evs {
		ks = append(ks, ev.Kind)
	}
	slices.Reverse(ks)
	return ks
}

func TestSeedFlowEvaluateChallengeSendVerifyCompleteAllow(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		ctx := t.Context()
		id := f.challenged(t)

		info, err := f.engine.Challenge(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, "alice", info.User)
		assert.Equal(t, storage.ChallengePending, info.Status)
		assert.Equal(t, []challenge.Channel{challenge.Email, challenge.SMS}, info.Channels)
		assert.Equal(t, "a•••@example.com", info.Email)
		assert.Equal(t, "•••4567", info.Phone)
		assert.ElementsMatch(t, []signals.Reason{signals.NewDeviceReason, signals.NewIPReason}, info.Reasons)

		code := f.send(t, id)
		m, _ := f.outbox.Last(id)
		assert.Equal(t, "alice@example.com", m.To, "the code goes to the address of the request that created the challenge")
		assert.Regexp(t, `^[0-9]{6}$`, code)
		assert.Equal(t, f.clock.Now(), m.SentAt)
		assert.Equal(t, f.clock.Now().Add(10*time.Minute), m.ExpiresAt)

		ok, err := f.engine.VerifyChallengeCode(ctx, id, wrongCode(code))
		require.NoError(t, err)
		assert.False(t, ok, "a wrong code")
		ok, err = f.engine.VerifyChallengeCode(ctx, id, code[:3]+" "+code[3:])
		require.NoError(t, err)
		assert.True(t, ok, "the right code, typed with a space")
		require.NoError(t, f.engine.CompleteChallenge(ctx, id))

		again := f.eval(t, alicePhone)
		assert.Equal(t, verdict.Allow, again.Verdict)
		assert.NotContains(t, again.Reasons, signals.NewDeviceReason)
		assert.NotContains(t, again.Reasons, signals.NewIPReason)
		assert.Empty(t, again.ChallengeID)

		devs, err := f.engine.Devices(ctx, "alice")
		require.NoError(t, err)
		require.Len(t, devs, 2)
		assert.Equal(t, again.FingerprintID, devs[0].ID)
		assert.True(t, devs[0].Trusted, "completing a challenge trusts the device")
		assert.Equal(t, devs[0].ID, info.DeviceID, "the challenge named the device it trusts")
		assert.Equal(t, cafeIP, devs[0].IP)
		assert.False(t, devs[1].Trusted)

		assert.Equal(t, []string{
			storage.KindEvaluation, storage.KindEvaluation,
			storage.KindChallengeSent, storage.KindChallengeVerified, storage.KindChallengeCompleted,
			storage.KindEvaluation,
		}, kinds(t, f.store, "alice"), "every transition is on the user's history")
		for _, msg := range f.outbox.Messages() {
			assert.NotContains(t, dumpStore(t, f.store, "alice"), msg.Code, "the code is never stored")
		}
	})
}

// dumpStore renders what the store holds for the user, to look for
// secrets in it.
func dumpStore(t *testing.T, s storage.Store, user string) string {
	t.Helper()
	evs, err := s.Events(t.Context(), user, time.Time{}, 100)
	require.NoError(t, err)
	out := ""
	for _, ev := range evs {
		c, err := s.Challenge(t.Context(), ev.ChallengeID)
		if err == nil {
			out += string(c.CodeHash) + c.Channel
		}
		out += ev.ID + ev.Kind + ev.Verdict
	}
	return out
}

func TestGuessingPastTheLimitFailsTheChallenge(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		ctx := t.Context()
		id := f.challenged(t)
		code := f.send(t, id)
		for i := range 5 {
			ok, err := f.engine.VerifyChallengeCode(ctx, id, wrongCode(code))
			require.NoError(t, err, "wrong code %d is (false, nil)", i+1)
			assert.False(t, ok)
		}
		ok, err := f.engine.VerifyChallengeCode(ctx, id, code)
		require.ErrorIs(t, err, ato.ErrChallengeFailed, "after five wrong codes even the right one fails")
		assert.False(t, ok)
		require.ErrorIs(t, f.engine.CompleteChallenge(ctx, id), ato.ErrChallengeFailed)
		require.ErrorIs(t, f.engine.SendChallengeCode(ctx, id, challenge.Email), ato.ErrChallengeFailed, "no fresh code for a failed challenge")
		assert.Contains(t, kinds(t, f.store, "alice"), storage.KindChallengeFailed)
	})
}

func TestConcurrentGuessesStopAtTheLimit(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		id := f.challenged(t)
		code := f.send(t, id)
		const guesses = 24
		counted, refused := race(t, guesses, func() error {
			ok, err := f.engine.VerifyChallengeCode(t.Context(), id, wrongCode(code))
			if ok {
				err = errors.New("a wrong code verified")
			}
			return err
			// A guess is counted against the user's wrong codes before the
			// code is checked, so a burst past CodeMaxFailures may also be
			// refused by that lock while the others are given back.
		}, ato.ErrChallengeFailed, ato.ErrRateLimited)
		assert.Equal(t, 5, counted, "exactly the allowed attempts were checked")
		assert.Equal(t, guesses-5, refused)
		info, err := f.engine.Challenge(t.Context(), id)
		require.NoError(t, err)
		assert.Equal(t, storage.ChallengeFailed, info.Status)
		assert.Equal(t, 0, info.AttemptsLeft)
	})
}

func TestCompletedChallengeCannotBeReplayed(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		ctx := t.Context()
		id := f.challenged(t)
		code := f.send(t, id)
		ok, err := f.engine.VerifyChallengeCode(ctx, id, code)
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, f.engine.CompleteChallenge(ctx, id))

		require.ErrorIs(t, f.engine.CompleteChallenge(ctx, id), ato.ErrChallengeCompleted)
		_, err = f.engine.VerifyChallengeCode(ctx, id, code)
		require.ErrorIs(t, err, ato.ErrChallengeCompleted)
		require.ErrorIs(t, f.engine.SendChallengeCode(ctx, id, challenge.Email), ato.ErrChallengeCompleted)
	})
}

func TestCompletingWithoutVerifyingFails(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		ctx := t.Context()
		id := f.challenged(t)
		require.ErrorIs(t, f.engine.CompleteChallenge(ctx, id), ato.ErrChallengeNotVerified, "pending")
		code := f.send(t, id)
		require.ErrorIs(t, f.engine.CompleteChallenge(ctx, id), ato.ErrChallengeNotVerified, "sent")
		ok, err := f.engine.VerifyChallengeCode(ctx, id, wrongCode(code))
		require.NoError(t, err)
		require.False(t, ok)
		require.ErrorIs(t, f.engine.CompleteChallenge(ctx, id), ato.ErrChallengeNotVerified, "after a wrong code")
		assert.Equal(t, verdict.Challenge, f.eval(t, alicePhone).Verdict, "nothing was learnt")
	})
}

func TestConcurrentCompletionsOneWins(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		id := f.challenged(t)
		code := f.send(t, id)
		ok, err := f.engine.VerifyChallengeCode(t.Context(), id, code)
		require.NoError(t, err)
		require.True(t, ok)
		const n = 16
		won, lost := race(t, n, func() error { return f.engine.CompleteChallenge(t.Context(), id) }, ato.ErrChallengeCompleted)
		assert.Equal(t, 1, won)
		assert.Equal(t, n-1, lost)
		completed := 0
		for _, k := range kinds(t, f.store, "alice") {
			if k == storage.KindChallengeCompleted {
				completed++
			}
		}
		assert.Equal(t, 1, completed, "the attempt is turned into a login once")
	})
}

func TestAnotherUsersCodeDoesNotVerify(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		ctx := t.Context()
		victim := f.challenged(t)
		f.send(t, victim)

		f.eval(t, ato.Request{User: "mallory", Fingerprint: tablet, IP: officeIP, Email: "m@example.net"})
		res := f.eval(t, ato.Request{User: "mallory", Fingerprint: fp("mallory-2"), IP: cafeIP, Email: "m@example.net"})
		require.Equal(t, verdict.Challenge, res.Verdict)
		own := f.send(t, res.ChallengeID)
		victimCode, _ := f.outbox.Last(victim)
		if own == victimCode.Code {
			t.Skip("the two random codes are equal (one in a million)")
		}
		ok, err := f.engine.VerifyChallengeCode(ctx, victim, own)
		require.NoError(t, err)
		assert.False(t, ok, "mallory's code does not open alice's challenge")
	})
}

func TestNewerChallengeOverridesThePendingOne(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		ctx := t.Context()
		old := f.challenged(t)
		code := f.send(t, old)
		newer := f.eval(t, alicePhone)
		require.Equal(t, verdict.Challenge, newer.Verdict)
		require.NotEqual(t, old, newer.ChallengeID)
		ok, err := f.engine.VerifyChallengeCode(ctx, old, code)
		require.ErrorIs(t, err, ato.ErrChallengeFailed, "the old challenge can no longer be verified")
		assert.False(t, ok)
		info, err := f.engine.Challenge(ctx, old)
		require.NoError(t, err)
		assert.Equal(t, storage.ChallengeOverridden, info.Status)
	})
}

func TestSendLimits(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		ctx := t.Context()
		id := f.challenged(t)
		first := f.send(t, id)
		require.ErrorIs(t, f.engine.SendChallengeCode(ctx, id, challenge.SMS), ato.ErrRateLimited, "too soon after the last send")
		f.clock.Advance(30 * time.Second)
		require.NoError(t, f.engine.SendChallengeCode(ctx, id, challenge.SMS))
		m, _ := f.outbox.Last(id)
		assert.Equal(t, "+15550104567", m.To)
		assert.Equal(t, challenge.SMS, m.Channel)
		if m.Code != first {
			ok, err := f.engine.VerifyChallengeCode(ctx, id, first)
			require.NoError(t, err)
			assert.False(t, ok, "a new send replaces the old code")
		}
		f.clock.Advance(30 * time.Second)
		f.send(t, id)
		f.clock.Advance(time.Minute)
		require.ErrorIs(t, f.engine.SendChallengeCode(ctx, id, challenge.Email), ato.ErrRateLimited, "three sends per challenge")
		assert.Len(t, f.outbox.Messages(), 3)

		require.ErrorIs(t, f.engine.SendChallengeCode(ctx, id, "pigeon"), ato.ErrInvalidRequest)
		require.ErrorIs(t, f.engine.SendChallengeCode(ctx, id, challenge.TOTP), ato.ErrNoDestination, "no authenticator enrolled")
	})
}

func TestSendNeedsADestinationAndASender(t *testing.T) {
	t.Parallel()
	f := newFlow(t, memstore.New())
	ctx := t.Context()
	f.eval(t, ato.Request{User: "bob", Fingerprint: laptop, IP: homeIP})
	res := f.eval(t, ato.Request{User: "bob", Fingerprint: phone, IP: cafeIP, Email: "bob@example.com"})
	require.Equal(t, verdict.Challenge, res.Verdict)
	err := f.engine.SendChallengeCode(ctx, res.ChallengeID, challenge.SMS)
	require.ErrorIs(t, err, ato.ErrNoDestination, "the request gave no phone")
	assert.Contains(t, err.Error(), "phone number")

	h := newHarness(t, memstore.New())
	h.eval(t, ato.Request{User: "bob", Fingerprint: laptop, IP: homeIP})
	res = h.eval(t, ato.Request{User: "bob", Fingerprint: phone, IP: cafeIP, Email: "bob@example.com"})
	require.ErrorIs(t, h.engine.SendChallengeCode(ctx, res.ChallengeID, challenge.Email), ato.ErrNoSender)
}

func TestCodesAndChallengesExpire(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		ctx := t.Context()
		id := f.challenged(t)
		code := f.send(t, id)
		f.clock.Advance(10 * time.Minute)
		_, err := f.engine.VerifyChallengeCode(ctx, id, code)
		require.ErrorIs(t, err, ato.ErrChallengeExpired, "a code is valid ten minutes")
		code = f.send(t, id)
		ok, err := f.engine.VerifyChallengeCode(ctx, id, code)
		require.NoError(t, err)
		assert.True(t, ok, "a fresh code works")

		other := f.eval(t, ato.Request{User: "alice", Fingerprint: tablet, IP: officeIP, Email: "alice@example.com"})
		require.Equal(t, verdict.Challenge, other.Verdict)
		f.clock.Advance(time.Hour)
		require.ErrorIs(t, f.engine.SendChallengeCode(ctx, other.ChallengeID, challenge.Email), ato.ErrChallengeExpired, "a challenge lasts an hour")
		info, err := f.engine.Challenge(ctx, other.ChallengeID)
		require.NoError(t, err)
		assert.Equal(t, storage.ChallengeExpired, info.Status)
	})
}

func TestTooManyChallengesAnHourIsDenied(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		f.eval(t, aliceLaptop)
		for i := range 10 {
			res := f.eval(t, ato.Request{User: "alice", Fingerprint: fp("attacker" + string(rune('a'+i))), IP: cafeIP})
			require.Equal(t, verdict.Challenge, res.Verdict, "challenge %d", i+1)
		}
		res := f.eval(t, alicePhone)
		assert.Equal(t, verdict.Deny, res.Verdict, "the eleventh challenge in an hour is a deny")
		assert.Contains(t, res.Reasons, signals.ChallengeLimitReason)
		assert.Equal(t, "challenge-limit", res.Rule)
		assert.Empty(t, res.ChallengeID)
		assert.Contains(t, res.Explain(), "10 challenges in the last hour")

		f.clock.Advance(time.Hour)
		assert.Equal(t, verdict.Challenge, f.eval(t, alicePhone).Verdict, "an hour later challenges come back")
	})
}

// stepUp proves ownership from r's device with an email challenge, so the
// device becomes trusted.
func (f *flow) stepUp(t *testing.T, r ato.Request) {
	t.Helper()
	res, err := f.engine.StepUp(t.Context(), r)
	require.NoError(t, err)
	require.Equal(t, verdict.Challenge, res.Verdict)
	require.Equal(t, "step-up", res.Rule)
	code := f.send(t, res.ChallengeID)
	ok, err := f.engine.VerifyChallengeCode(t.Context(), res.ChallengeID, code)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, f.engine.CompleteChallenge(t.Context(), res.ChallengeID))
}

// passTOTP passes the challenge with the authenticator's current code, and
// returns the code.
func (f *flow) passTOTP(t *testing.T, id, secret string) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, f.clock.Now())
	require.NoError(t, err)
	ok, err := f.engine.VerifyChallengeCode(t.Context(), id, code)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, f.engine.CompleteChallenge(t.Context(), id))
	return code
}

// enrol enrols alice's authenticator from her known laptop and returns its
// secret.
func (f *flow) enrol(t *testing.T) string {
	t.Helper()
	f.stepUp(t, aliceLaptop)
	key, err := f.engine.EnrollTOTP(t.Context(), aliceLaptop, "ato test")
	require.NoError(t, err)
	code, err := totp.GenerateCode(key.Secret, f.clock.Now())
	require.NoError(t, err)
	ok, err := f.engine.ConfirmTOTP(t.Context(), aliceLaptop, code)
	require.NoError(t, err)
	require.True(t, ok)
	return key.Secret
}

func TestAuthenticatorAppChallenge(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		ctx := t.Context()
		f.eval(t, aliceLaptop)
		secret := f.enrol(t)
		f.clock.Advance(time.Minute)

		res := f.eval(t, alicePhone)
		require.Equal(t, verdict.Challenge, res.Verdict)
		info, err := f.engine.Challenge(ctx, res.ChallengeID)
		require.NoError(t, err)
		assert.Contains(t, info.Channels, challenge.TOTP)
		require.NoError(t, f.engine.SendChallengeCode(ctx, res.ChallengeID, challenge.TOTP))
		_, sent := f.outbox.Last(res.ChallengeID)
		assert.False(t, sent, "nothing is sent for an authenticator")

		code := f.passTOTP(t, res.ChallengeID, secret)

		// The same code, within its 30 seconds, on a fresh challenge.
		next, err := f.engine.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: tablet, IP: officeIP})
		require.NoError(t, err)
		require.Equal(t, verdict.Challenge, next.Verdict)
		require.NoError(t, f.engine.SendChallengeCode(ctx, next.ChallengeID, challenge.TOTP))
		ok, err := f.engine.VerifyChallengeCode(ctx, next.ChallengeID, code)
		require.NoError(t, err)
		assert.False(t, ok, "an authenticator code is accepted once")
		f.clock.Advance(30 * time.Second)
		fresh, err := totp.GenerateCode(secret, f.clock.Now())
		require.NoError(t, err)
		ok, err = f.engine.VerifyChallengeCode(ctx, next.ChallengeID, fresh)
		require.NoError(t, err)
		assert.True(t, ok, "the next code works")
	})
}

func TestFactorChangesRefusedFromChallengedOrRestrictedSessions(t *testing.T) {
	t.Parallel()
	policy, err := verdict.ParseRules([]byte(`{"rules": [
		{"name": "travel", "when": "new_device && new_ip", "verdict": "challenge"},
		{"name": "watch", "when": "new_ip", "verdict": "restrict"}
	]}`), nil)
	require.NoError(t, err)
	eachFlow(t, func(t *testing.T, f *flow) {
		ctx := t.Context()
		f.eval(t, aliceLaptop)
		_, err := f.engine.EnrollTOTP(ctx, alicePhone, "ato test")
		require.ErrorIs(t, err, ato.ErrFactorRefused, "a new device on a new network is challenged")

		res := f.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: officeIP})
		require.Equal(t, verdict.Restrict, res.Verdict)
		_, err = f.engine.EnrollTOTP(ctx, ato.Request{User: "alice", Fingerprint: laptop, IP: officeIP}, "ato test")
		require.ErrorIs(t, err, ato.ErrFactorRefused, "a restricted device")
		assert.Contains(t, err.Error(), "restricted")

		_, err = f.engine.EnrollTOTP(ctx, aliceLaptop, "ato test")
		require.ErrorIs(t, err, ato.ErrFactorRefused, "the restriction is on the device, whatever the network")
	}, ato.WithPolicy(policy))
}

func TestChallengeLimitHoldsUnderConcurrency(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		f.eval(t, aliceLaptop)
		const n = 40
		verdicts := make(chan verdict.Verdict, n)
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				res, err := f.engine.Evaluate(t.Context(), ato.Request{User: "alice", Fingerprint: fp(fmt.Sprint("racer", i)), IP: cafeIP})
				if err != nil {
					errs <- err
					return
				}
				verdicts <- res.Verdict
			})
		}
		wg.Wait()
		close(errs)
		close(verdicts)
		for err := range errs {
			t.Errorf("evaluate: %v", err)
		}
		count := map[verdict.Verdict]int{}
		for v := range verdicts {
			count[v]++
		}
		assert.Equal(t, map[verdict.Verdict]int{verdict.Challenge: 10, verdict.Deny: n - 10}, count,
			"racing evaluations never create more than ten challenges an hour")
	})
}

func TestFailedSendKeepsTheCodeThePersonHas(t *testing.T) {
	t.Parallel()
	box := challenge.NewOutbox()
	fail := false
	sender := challenge.SenderFunc(func(ctx context.Context, m challenge.Message) error {
		if fail {
			return errors.New("gateway down")
		}
		return box.Send(ctx, m)
	})
	f := &flow{harness: newHarness(t, memstore.New(), ato.WithSender(sender)), outbox: box}
	ctx := t.Context()
	id := f.challenged(t)
	code := f.send(t, id)
	f.clock.Advance(time.Minute)
	fail = true
	require.ErrorContains(t, f.engine.SendChallengeCode(ctx, id, challenge.SMS), "gateway down")
	ok, err := f.engine.VerifyChallengeCode(ctx, id, code)
	require.NoError(t, err)
	assert.True(t, ok, "the code that was delivered still works")
	info, err := f.engine.Challenge(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, 2, info.Sends, "the failed send still counts")
	assert.Equal(t, challenge.Email, info.Channel)
}

func TestAuthenticatorLocksAfterWrongCodesAcrossChallenges(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		ctx := t.Context()
		f.eval(t, aliceLaptop)
		secret := f.enrol(t)
		wrong := 0
		for i := 0; wrong < ato.TOTPMaxFailures; i++ {
			res := f.eval(t, ato.Request{User: "alice", Fingerprint: fp(fmt.Sprint("guesser", i)), IP: cafeIP})
			require.Equal(t, verdict.Challenge, res.Verdict)
			require.NoError(t, f.engine.SendChallengeCode(ctx, res.ChallengeID, challenge.TOTP))
			for range 3 {
				good, err := totp.GenerateCode(secret, f.clock.Now())
				require.NoError(t, err)
				ok, err := f.engine.VerifyChallengeCode(ctx, res.ChallengeID, wrongCode(good))
				require.NoError(t, err)
				require.False(t, ok)
				if wrong++; wrong == ato.TOTPMaxFailures {
					break
				}
			}
		}
		res := f.eval(t, ato.Request{User: "alice", Fingerprint: fp("owner-phone"), IP: cafeIP, Email: "alice@example.com"})
		require.ErrorIs(t, f.engine.SendChallengeCode(ctx, res.ChallengeID, challenge.TOTP), ato.ErrRateLimited,
			"ten wrong codes in a row lock the authenticator")
		info, err := f.engine.Challenge(ctx, res.ChallengeID)
		require.NoError(t, err)
		assert.Equal(t, []challenge.Channel{challenge.Email}, info.Channels, "a locked authenticator is not offered")
		assert.Equal(t, 5, info.AttemptsLeft)
		code := f.send(t, res.ChallengeID)
		ok, err := f.engine.VerifyChallengeCode(ctx, res.ChallengeID, code)
		require.NoError(t, err)
		assert.True(t, ok, "email codes still work")

		f.clock.Advance(ato.TOTPLockout)
		later := f.eval(t, ato.Request{User: "alice", Fingerprint: fp("owner-tablet"), IP: cafeIP})
		require.NoError(t, f.engine.SendChallengeCode(ctx, later.ChallengeID, challenge.TOTP))
		good, err := totp.GenerateCode(secret, f.clock.Now())
		require.NoError(t, err)
		ok, err = f.engine.VerifyChallengeCode(ctx, later.ChallengeID, good)
		require.NoError(t, err)
		assert.True(t, ok, "an hour later the authenticator works again")
	}, ato.WithChallengeLimits(ato.ChallengeLimits{}, 3*time.Hour))
}

func TestFailedSendDoesNotReopenAnOverriddenChallenge(t *testing.T) {
	t.Parallel()
	var f *flow
	var newer string
	sender := challenge.SenderFunc(func(ctx context.Context, m challenge.Message) error {
		// While the gateway hangs, the same device tries again and gets a
		// newer challenge; then the gateway fails.
		res, err := f.engine.Evaluate(ctx, alicePhone)
		if err != nil {
			return err
		}
		newer = res.ChallengeID
		return errors.New("gateway timeout")
	})
	f = &flow{harness: newHarness(t, memstore.New(), ato.WithSender(sender))}
	ctx := t.Context()
	id := f.challenged(t)
	require.Error(t, f.engine.SendChallengeCode(ctx, id, challenge.Email))
	require.NotEmpty(t, newer)
	info, err := f.engine.Challenge(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, storage.ChallengeOverridden, info.Status, "the failed send does not bring the old challenge back")
}

func TestAuthenticatorLockoutGrowsWhileGuessingGoesOn(t *testing.T) {
	t.Parallel()
	f := newFlow(t, memstore.New(), ato.WithChallengeLimits(ato.ChallengeLimits{PerHour: 1000}, 48*time.Hour),
		ato.WithHistory(ato.DefaultMaxHistory, 30*24*time.Hour))
	ctx := t.Context()
	f.eval(t, aliceLaptop)
	secret := f.enrol(t)
	guess := func(i int) error {
		res := f.eval(t, ato.Request{User: "alice", Fingerprint: fp(fmt.Sprint("g", i)), IP: cafeIP})
		require.Equal(t, verdict.Challenge, res.Verdict)
		if err := f.engine.SendChallengeCode(ctx, res.ChallengeID, challenge.TOTP); err != nil {
			return err
		}
		good, err := totp.GenerateCode(secret, f.clock.Now())
		require.NoError(t, err)
		ok, err := f.engine.VerifyChallengeCode(ctx, res.ChallengeID, wrongCode(good))
		require.False(t, ok)
		return err
	}
	// One day of an attacker guessing as fast as the locks allow.
	start, guesses := f.clock.Now(), 0
	for i := 0; f.clock.Now().Sub(start) < 24*time.Hour; i++ {
		if err := guess(i); err != nil {
			require.ErrorIs(t, err, ato.ErrRateLimited)
			f.clock.Advance(10 * time.Minute)
			continue
		}
		guesses++
	}
	t.Logf("%d wrong codes checked in a day", guesses)
	assert.Less(t, guesses, 30, "a day of guessing gets through only a few dozen wrong codes")
	assert.GreaterOrEqual(t, guesses, ato.TOTPMaxFailures)
}

func TestOneWrongCodeDoesNotLockAnotherEngineWhoseClockIsBehind(t *testing.T) {
	t.Parallel()
	f := newFlow(t, memstore.New())
	ctx := t.Context()
	f.eval(t, aliceLaptop)
	secret := f.enrol(t)
	res := f.eval(t, alicePhone)
	require.NoError(t, f.engine.SendChallengeCode(ctx, res.ChallengeID, challenge.TOTP))
	ok, err := f.engine.VerifyChallengeCode(ctx, res.ChallengeID, "000000")
	require.NoError(t, err)
	require.False(t, ok)

	behind, err := ato.New(f.store, ato.WithClock(func() time.Time { return f.clock.Now().Add(-2 * time.Second) }))
	require.NoError(t, err)
	good, err := totp.GenerateCode(secret, f.clock.Now())
	require.NoError(t, err)
	ok, err = behind.VerifyChallengeCode(ctx, res.ChallengeID, good)
	require.NoError(t, err, "one wrong code locks nothing, whatever the clocks")
	assert.True(t, ok)
}

func TestConcurrentWrongFirstCodesStopAtTheLimit(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		f.eval(t, aliceLaptop)
		f.stepUp(t, aliceLaptop)
		_, err := f.engine.EnrollTOTP(t.Context(), aliceLaptop, "ato test")
		require.NoError(t, err)
		const n = 20
		checked, _ := race(t, n, func() error {
			ok, err := f.engine.ConfirmTOTP(t.Context(), aliceLaptop, "000000")
			if ok {
				err = errors.New("a wrong first code confirmed")
			}
			return err
		}, ato.ErrRateLimited, ato.ErrNoDestination)
		assert.Equal(t, 4, checked, "four wrong codes answer false; the fifth ends the enrolment")
	})
}
