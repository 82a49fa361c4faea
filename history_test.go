package ato_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/verdict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An engine that keeps no history (WithHistory with 0 events) decides as
// one that keeps it, and writes no event: its store holds profiles,
// devices and challenges, and no log of who logged in from where.
func TestWithoutHistory(t *testing.T) {
	t.Parallel()
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			kept := newFlow(t, open(t))
			none := newFlow(t, open(t), ato.WithHistory(0, ato.DefaultHistoryAge))
			assert.Equal(t, historySteps(t, kept), historySteps(t, none), "the same verdicts")

			assert.Equal(t, []string{"evaluation", "evaluation", "evaluation", "challenge_sent", "challenge_verified",
				"challenge_completed", "evaluation", "device_confirmed", "evaluation", "device_forgotten", "evaluation"},
				kinds(t, kept.store, "alice"), "every kind of event the engine writes")
			assert.Empty(t, eventsOf(t, none.store, "alice"), "no login, challenge or device event is written")
			assert.Len(t, profileOf(t, none.store, "alice").Devices, 2, "the profile is kept")
			assert.Empty(t, eventsOf(t, none.store, "bob"))
			assert.Zero(t, profileOf(t, none.store, "bob").Version, "an attempt that teaches nothing writes nothing")
		})
	}
}

// historySteps takes alice through a month of an account's life, and bob
// through an attempt that teaches nothing, and returns what the engine
// answered at each step.
func historySteps(t *testing.T, f *flow) []string {
	t.Helper()
	ctx := t.Context()
	var out []string
	note := func(res ato.Result) {
		out = append(out, fmt.Sprint(res.Verdict, res.Reasons, res.Rule, res.FingerprintID != "", res.ChallengeID != ""))
	}
	note(f.eval(t, aliceLaptop))
	note(f.eval(t, aliceLaptop))
	res := f.eval(t, alicePhone)
	note(res)
	require.Equal(t, verdict.Challenge, res.Verdict)
	code := f.send(t, res.ChallengeID)
	ok, err := f.engine.VerifyChallengeCode(ctx, res.ChallengeID, wrongCode(code))
	require.NoError(t, err)
	require.False(t, ok)
	ok, err = f.engine.VerifyChallengeCode(ctx, res.ChallengeID, code)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, f.engine.CompleteChallenge(ctx, res.ChallengeID))
	note(f.eval(t, alicePhone))
	require.NoError(t, f.engine.ReportDevice(ctx, "alice", res.FingerprintID, true))
	note(f.eval(t, ato.Request{User: "alice", Fingerprint: tablet, IP: officeIP, Email: "alice@example.com"}))
	require.NoError(t, f.engine.ForgetDevice(ctx, "alice", res.FingerprintID))
	note(f.eval(t, alicePhone))
	bob := f.eval(t, ato.Request{User: "bob", Fingerprint: laptop, Action: "password_change"})
	require.Empty(t, bob.ChallengeID, "an attempt without an IP, not a login: it teaches nothing and asks for nothing")
	note(bob)
	return out
}

// staleCounts is a store whose loads miss the user's recent challenges, as
// a load does when concurrent evaluations take the user's last challenges
// of the hour before its commit.
type staleCounts struct{ storage.Store }

func (s staleCounts) Load(ctx context.Context, r storage.LoadRequest) (storage.State, error) {
	st, err := s.Store.Load(ctx, r)
	st.Challenges = 0
	return st, err
}

// Without a history, an attempt the store refuses a challenge to (the
// hourly limit, reached since the load) is denied as with one, and writes
// nothing.
func TestWithoutHistoryChallengeLimitedAtCommit(t *testing.T) {
	t.Parallel()
	f := newFlow(t, staleCounts{memstore.New()}, ato.WithHistory(0, ato.DefaultHistoryAge))
	f.eval(t, aliceLaptop)
	for i := range 10 {
		res := f.eval(t, ato.Request{User: "alice", Fingerprint: fp("attacker" + string(rune('a'+i))), IP: cafeIP})
		require.Equal(t, verdict.Challenge, res.Verdict, "challenge %d", i+1)
	}
	res := f.eval(t, alicePhone)
	assert.Equal(t, verdict.Deny, res.Verdict, "the store refused the eleventh challenge of the hour")
	assert.Contains(t, res.Reasons, signals.ChallengeLimitReason)
	assert.Empty(t, res.ChallengeID)
	assert.Empty(t, eventsOf(t, f.store, "alice"))
}

// Without a history, an authenticator app is enrolled, confirmed and
// passes a challenge; no step of it is written as an event.
func TestWithoutHistoryAuthenticator(t *testing.T) {
	t.Parallel()
	f := newFlow(t, memstore.New(), ato.WithHistory(0, ato.DefaultHistoryAge))
	f.eval(t, aliceLaptop)
	secret := f.enrol(t)
	f.clock.Advance(time.Minute)
	res := f.eval(t, alicePhone)
	require.Equal(t, verdict.Challenge, res.Verdict)
	require.NoError(t, f.engine.SendChallengeCode(t.Context(), res.ChallengeID, challenge.TOTP))
	f.passTOTP(t, res.ChallengeID, secret)
	assert.Equal(t, verdict.Allow, f.eval(t, alicePhone).Verdict)
	assert.Empty(t, eventsOf(t, f.store, "alice"))
}
