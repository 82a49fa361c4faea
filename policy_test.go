package ato_test

import (
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

// declaringSignal is a plug-in that declares its reasons.
type declaringSignal struct {
	staticSignal
	reasons []signals.ReasonInfo
}

func (s declaringSignal) Reasons() []signals.ReasonInfo { return s.reasons }

func rules(t *testing.T, js string, known ...signals.Reason) verdict.Rules {
	t.Helper()
	rs, err := verdict.ParseRules([]byte(js), func(r signals.Reason) bool {
		return signals.IsBuiltin(r) || len(known) > 0 && r == known[0]
	})
	require.NoError(t, err)
	return rs
}

func TestRestrictionHoldsBackActionsUntilItEnds(t *testing.T) {
	t.Parallel()
	policy := rules(t, `{"rules": [{"name": "restrict-new-ip", "when": "new_ip && known_device", "verdict": "restrict"}]}`)
	eachStore(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		h.eval(t, ato.Request{User: "alice", Fingerprint: tablet, IP: homeIP})
		res := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: cafeIP})
		require.Equal(t, verdict.Restrict, res.Verdict)
		assert.Equal(t, verdict.DefaultRestrictions, res.Restrictions)

		held := h.eval(t, ato.Request{User: "alice", Action: "password_change", Fingerprint: laptop, IP: cafeIP})
		assert.Equal(t, verdict.Deny, held.Verdict, "a held-back action from the restricted device")
		assert.Contains(t, held.Reasons, signals.RestrictedReason)
		assert.Equal(t, "restricted", held.Rule)

		other := h.eval(t, ato.Request{User: "alice", Action: "password_change", Fingerprint: tablet, IP: homeIP})
		assert.Equal(t, verdict.Allow, other.Verdict, "the restriction is on that device only")
		login := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: cafeIP})
		assert.Equal(t, verdict.Allow, login.Verdict, "logins are not held back")
		search := h.eval(t, ato.Request{User: "alice", Action: "search", Fingerprint: laptop, IP: cafeIP})
		assert.Equal(t, verdict.Allow, search.Verdict, "nor are actions off the list")

		h.clock.Advance(ato.DefaultRestrictFor)
		after := h.eval(t, ato.Request{User: "alice", Action: "password_change", Fingerprint: laptop, IP: cafeIP})
		assert.Equal(t, verdict.Allow, after.Verdict, "72 hours later the restriction has ended")
	}, ato.WithPolicy(policy))
}

func TestRestrictionIsLiftedByACompletedChallenge(t *testing.T) {
	t.Parallel()
	policy := rules(t, `{"rules": [
		{"name": "travel", "when": "new_ip && known_device", "verdict": "challenge_and_restrict", "restrict": ["payment"]},
		{"name": "new-device", "when": "new_device", "verdict": "challenge"}
	]}`)
	eachFlow(t, func(t *testing.T, f *flow) {
		ctx := t.Context()
		f.eval(t, aliceLaptop)
		laptopCafe := ato.Request{User: "alice", Fingerprint: laptop, IP: cafeIP, Email: "alice@example.com"}
		res := f.eval(t, laptopCafe)
		require.Equal(t, verdict.ChallengeAndRestrict, res.Verdict)
		assert.Equal(t, []string{"payment"}, res.Restrictions, "the rule's own list")

		pay := aliceLaptop
		pay.Action = "payment"
		assert.Equal(t, verdict.Deny, f.eval(t, pay).Verdict, "held back on the device, from any network")
		pw := aliceLaptop
		pw.Action = "password_change"
		assert.Equal(t, verdict.Allow, f.eval(t, pw).Verdict, "only the rule's actions are held back")

		require.NoError(t, f.engine.SendChallengeCode(ctx, res.ChallengeID, challenge.Email))
		m, _ := f.outbox.Last(res.ChallengeID)
		ok, err := f.engine.VerifyChallengeCode(ctx, res.ChallengeID, m.Code)
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, f.engine.CompleteChallenge(ctx, res.ChallengeID))

		assert.Equal(t, verdict.Allow, f.eval(t, pay).Verdict, "completing a challenge from the device lifts it")
		devs, err := f.engine.Devices(ctx, "alice")
		require.NoError(t, err)
		require.Len(t, devs, 1)
		assert.False(t, devs[0].Restricted(f.clock.Now()))
		assert.Empty(t, devs[0].Restrictions)
	}, ato.WithPolicy(policy))
}

func TestRestrictionsMergeWhileInForce(t *testing.T) {
	t.Parallel()
	policy := rules(t, `{"rules": [
		{"name": "a", "when": "new_ip && known_device", "verdict": "restrict", "restrict": ["payment"]},
		{"name": "b", "when": "action == \"login\" && known_device && score > 0", "verdict": "restrict", "restrict": ["email_change"]}
	]}`)
	h := newHarness(t, memstore.New(), ato.WithPolicy(policy), ato.WithRestrictFor(time.Hour))
	h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
	assert.Equal(t, "a", h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: cafeIP}).Rule)
	devs, err := h.engine.Devices(t.Context(), "alice")
	require.NoError(t, err)
	assert.Equal(t, []string{"payment"}, devs[0].Restrictions)
	assert.Equal(t, h.clock.Now().Add(time.Hour), devs[0].RestrictedUntil)
}

func TestEnforcedWhateverThePolicy(t *testing.T) {
	t.Parallel()
	// An operator policy that allows everything still cannot let a
	// held-back action through.
	allowAll := rules(t, `{"rules": [
		{"name": "restrict-new-ip", "when": "new_ip && known_device && action == \"login\"", "verdict": "restrict"},
		{"name": "all", "when": "true", "verdict": "allow"}
	]}`)
	h := newHarness(t, memstore.New(), ato.WithPolicy(allowAll))
	h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
	require.Equal(t, verdict.Restrict, h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: cafeIP}).Verdict)
	res := h.eval(t, ato.Request{User: "alice", Action: "mfa_change", Fingerprint: laptop, IP: homeIP})
	assert.Equal(t, verdict.Deny, res.Verdict)
	assert.Equal(t, "restricted", res.Rule)
}

func TestShadowRulesReportWithoutDeciding(t *testing.T) {
	t.Parallel()
	policy := append(rules(t, `{"rules": [
		{"name": "strict-new-ip", "when": "new_ip", "verdict": "deny", "shadow": true}
	]}`), verdict.Default()...)
	h := newHarness(t, memstore.New(), ato.WithPolicy(policy))
	h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
	res := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: cafeIP})
	assert.Equal(t, verdict.Allow, res.Verdict, "the shadow rule does not decide")
	assert.Equal(t, "otherwise", res.Rule)
	require.Len(t, res.Shadow, 1)
	assert.Equal(t, "strict-new-ip", res.Shadow[0].Rule)
	assert.Equal(t, verdict.Deny, res.Shadow[0].Verdict)
	assert.True(t, res.Shadow[0].Preempts)
	assert.Contains(t, res.Explain(), "shadow rule strict-new-ip would deny")

	quiet := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: cafeIP})
	assert.Empty(t, quiet.Shadow, "the IP is known now")
}

func TestExplain(t *testing.T) {
	t.Parallel()
	h := newHarness(t, memstore.New())
	first := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
	assert.Equal(t, "allow: first login of the user, rule otherwise", first.Explain())
	same := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
	assert.Equal(t, "allow: nothing unusual, rule otherwise", same.Explain())
	res := h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP})
	assert.Equal(t, "challenge: new device and new IP 192.0.2.77 (first seen), rule new-device-new-network", res.Explain())
}

func TestPluginReasonsMustBeDeclaredToBeUsed(t *testing.T) {
	t.Parallel()
	policy := verdict.Rules{{Name: "breached", When: verdict.Reason("breached_password"), Verdict: verdict.Challenge}}
	undeclared := staticSignal{name: "breach", findings: []signals.Finding{{Reason: "breached_password"}}}
	_, err := ato.New(memstore.New(), ato.WithSignals(undeclared), ato.WithPolicy(policy))
	require.ErrorIs(t, err, verdict.ErrUnknownReason, "no plug-in declares the reason the rule uses")

	declaring := declaringSignal{undeclared, []signals.ReasonInfo{{Reason: "breached_password", Score: 0.6, Description: "breached"}}}
	h := newHarness(t, memstore.New(), ato.WithSignals(declaring), ato.WithPolicy(policy))
	res := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
	assert.Equal(t, verdict.Challenge, res.Verdict)
	require.Len(t, res.Findings, 2)
	assert.Equal(t, 0.6, res.Findings[1].Score, "a finding without a score gets the declared one")

	liar := declaringSignal{staticSignal{name: "liar", findings: []signals.Finding{{Reason: "other"}}}, declaring.reasons}
	h = newHarness(t, memstore.New(), ato.WithSignals(liar))
	_, err = h.engine.Evaluate(t.Context(), ato.Request{User: "alice"})
	require.ErrorContains(t, err, "not one it declares")

	for name, bad := range map[string][]signals.ReasonInfo{
		"builtin":   {{Reason: signals.NewIPReason}},
		"bad name":  {{Reason: "Breached"}},
		"bad score": {{Reason: "breached", Score: 2}},
	} {
		_, err := ato.New(memstore.New(), ato.WithSignals(declaringSignal{staticSignal{name: "x"}, bad}))
		assert.Error(t, err, name)
	}
}

func TestDefaultPolicyRowsEndToEnd(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		for _, tc := range []struct {
			r    ato.Request
			rule string
			v    verdict.Verdict
		}{
			{ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP}, "new-device-new-network", verdict.Challenge},
			{ato.Request{User: "alice", IP: cafeIP}, "missing-fingerprint-new-ip", verdict.Challenge},
			{ato.Request{User: "alice", IP: homeIP}, "otherwise", verdict.Allow},
			{ato.Request{User: "alice", Fingerprint: laptop, IP: cafeIP}, "otherwise", verdict.Allow},
		} {
			res := h.eval(t, tc.r)
			assert.Equal(t, tc.v, res.Verdict, tc.rule)
			assert.Equal(t, tc.rule, res.Rule)
		}
		evs, err := h.store.Events(t.Context(), "alice", time.Time{}, 10)
		require.NoError(t, err)
		assert.Equal(t, storage.KindEvaluation, evs[0].Kind)
	})
}

func TestRestrictionCannotBeShedWithAnotherFingerprint(t *testing.T) {
	t.Parallel()
	policy := rules(t, `{"rules": [{"name": "restrict-new-ip", "when": "new_ip && known_device", "verdict": "restrict"}]}`)
	eachFlow(t, func(t *testing.T, f *flow) {
		ctx := t.Context()
		f.eval(t, aliceLaptop)
		laptopCafe := ato.Request{User: "alice", Fingerprint: laptop, IP: cafeIP}
		require.Equal(t, verdict.Restrict, f.eval(t, laptopCafe).Verdict)

		for name, r := range map[string]ato.Request{
			"a fresh fingerprint": {User: "alice", Action: "password_change", Fingerprint: fp("fresh"), IP: cafeIP},
			"no fingerprint":      {User: "alice", Action: "password_change", IP: cafeIP},
		} {
			res := f.eval(t, r)
			assert.Equal(t, verdict.Deny, res.Verdict, name)
			assert.Contains(t, res.Reasons, signals.RestrictedReason, name)
		}
		_, err := f.engine.EnrollTOTP(ctx, ato.Request{User: "alice", Fingerprint: fp("fresh"), IP: cafeIP}, "ato test")
		require.ErrorIs(t, err, ato.ErrFactorRefused, "a new device cannot add a factor")

		// A login with another fingerprint from the now-known network is
		// allowed, and its device joins the user restricted.
		relog := f.eval(t, ato.Request{User: "alice", Fingerprint: fp("fresh"), IP: cafeIP})
		require.Equal(t, verdict.Allow, relog.Verdict)
		res := f.eval(t, ato.Request{User: "alice", Action: "password_change", Fingerprint: fp("fresh"), IP: cafeIP})
		assert.Equal(t, verdict.Deny, res.Verdict, "a device linked during a restriction inherits it")
		assert.Equal(t, "restricted", res.Rule)

		devs, err := f.engine.Devices(ctx, "alice")
		require.NoError(t, err)
		laptopID := devs[len(devs)-1].ID
		require.ErrorIs(t, f.engine.ForgetDevice(ctx, "alice", laptopID), ato.ErrDeviceRestricted,
			"forgetting the device would drop its restriction")
		f.clock.Advance(ato.DefaultRestrictFor)
		require.NoError(t, f.engine.ForgetDevice(ctx, "alice", laptopID))
		require.ErrorIs(t, f.engine.ForgetDevice(ctx, "alice", laptopID), storage.ErrNotFound)
	}, ato.WithPolicy(policy))
}

func TestPluginsCannotReportBuiltinReasons(t *testing.T) {
	t.Parallel()
	forger := staticSignal{name: "forger", findings: []signals.Finding{{Reason: signals.AllowListedReason}}}
	h := newHarness(t, memstore.New(), ato.WithSignals(forger))
	_, err := h.engine.Evaluate(t.Context(), ato.Request{User: "alice", Fingerprint: laptop})
	require.ErrorContains(t, err, "built-in reason")
}

func TestOnlyLoginsAndSignupsTeach(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		pay := h.eval(t, ato.Request{User: "alice", Action: "payment", Fingerprint: laptop, IP: cafeIP})
		require.Equal(t, verdict.Allow, pay.Verdict)
		assert.Contains(t, pay.Reasons, signals.NewIPReason)
		login := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: cafeIP})
		assert.Contains(t, login.Reasons, signals.NewIPReason, "a payment does not make its network known")

		other := h.eval(t, ato.Request{User: "alice", Action: "search", Fingerprint: tablet, IP: homeIP})
		require.Equal(t, verdict.Allow, other.Verdict)
		devs, err := h.engine.Devices(t.Context(), "alice")
		require.NoError(t, err)
		assert.Len(t, devs, 1, "nor does another action make its device known")
	})
}

func TestFactorChangesNeedAKnownDeviceEvenOnAKnownNetwork(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		f.eval(t, aliceLaptop)
		stranger := ato.Request{User: "alice", Fingerprint: fp("stranger"), IP: homeIP}
		for i := range 3 {
			_, err := f.engine.EnrollTOTP(t.Context(), stranger, "ato test")
			require.ErrorIs(t, err, ato.ErrFactorRefused, "attempt %d: a device the user never logged in from", i+1)
		}
		_, err := f.engine.EnrollTOTP(t.Context(), aliceLaptop, "ato test")
		require.ErrorIs(t, err, ato.ErrFactorRefused, "nor may a device first seen minutes ago")
		f.clock.Advance(ato.FactorDeviceAge)
		f.eval(t, aliceLaptop)
		_, err = f.engine.EnrollTOTP(t.Context(), aliceLaptop, "ato test")
		require.NoError(t, err, "a device known for a week may")
		_, err = f.engine.EnrollTOTP(t.Context(), stranger, "ato test")
		require.ErrorIs(t, err, ato.ErrFactorRefused, "the stranger still may not")
	})
}

func TestStepUpTrustsTheDeviceForFactorChanges(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		ctx := t.Context()
		f.eval(t, aliceLaptop)
		_, err := f.engine.EnrollTOTP(ctx, aliceLaptop, "ato test")
		require.ErrorIs(t, err, ato.ErrFactorRefused)
		assert.ErrorContains(t, err, "StepUp")
		f.stepUp(t, aliceLaptop)
		key, err := f.engine.EnrollTOTP(ctx, aliceLaptop, "ato test")
		require.NoError(t, err, "after a completed step-up challenge")
		for range 4 {
			ok, err := f.engine.ConfirmTOTP(ctx, aliceLaptop, "000000")
			require.NoError(t, err)
			require.False(t, ok)
		}
		_, err = f.engine.ConfirmTOTP(ctx, aliceLaptop, "000001")
		require.ErrorIs(t, err, ato.ErrRateLimited, "five wrong first codes end the enrolment")
		_, err = f.engine.ConfirmTOTP(ctx, aliceLaptop, "000002")
		require.ErrorIs(t, err, ato.ErrNoDestination, "nothing is waiting any more")
		assert.NotEmpty(t, key.URL)

		denied := f.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP})
		require.Equal(t, verdict.Challenge, denied.Verdict)
		res, err := f.engine.StepUp(ctx, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP, Action: "payment"})
		require.NoError(t, err)
		assert.Equal(t, verdict.Challenge, res.Verdict, "step-up always asks")
	})
}

func TestAnAttemptThatTripsARestrictionOnItsOwnActionIsDenied(t *testing.T) {
	t.Parallel()
	policy := rules(t, `{"rules": [{"name": "restrict-new-ip", "when": "new_ip && known_device", "verdict": "restrict"}]}`)
	eachStore(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		// A stolen session on another network goes straight for the email.
		res := h.eval(t, ato.Request{User: "alice", Action: "email_change", Fingerprint: laptop, IP: cafeIP})
		assert.Equal(t, verdict.Deny, res.Verdict, "not even once")
		assert.Equal(t, "restricted", res.Rule)
		assert.Contains(t, res.Reasons, signals.RestrictedReason)
		assert.Empty(t, res.Restrictions)
		devs, err := h.engine.Devices(t.Context(), "alice")
		require.NoError(t, err)
		assert.True(t, devs[0].Restricted(h.clock.Now()), "and the device is restricted from now on")

		search := h.eval(t, ato.Request{User: "alice", Action: "search", Fingerprint: laptop, IP: cafeIP})
		assert.Equal(t, verdict.Restrict, search.Verdict, "an action off the list is let through, restricted")
	}, ato.WithPolicy(policy))
}

func TestStepUpKeepsRestrictionsAndIsTheWayOutOfThem(t *testing.T) {
	t.Parallel()
	policy := rules(t, `{"rules": [{"name": "restrict-new-ip", "when": "new_ip && known_device", "verdict": "restrict"}]}`)
	eachFlow(t, func(t *testing.T, f *flow) {
		ctx := t.Context()
		f.eval(t, aliceLaptop)
		laptopCafe := ato.Request{User: "alice", Fingerprint: laptop, IP: cafeIP, Email: "alice@example.com"}
		res, err := f.engine.StepUp(ctx, laptopCafe)
		require.NoError(t, err)
		require.Equal(t, verdict.Challenge, res.Verdict)
		devs, err := f.engine.Devices(ctx, "alice")
		require.NoError(t, err)
		assert.True(t, devs[0].Restricted(f.clock.Now()), "the policy's restriction is written though the verdict became a step-up challenge")

		held := laptopCafe
		held.Action = "mfa_change"
		require.Equal(t, verdict.Deny, f.eval(t, held).Verdict)
		res, err = f.engine.StepUp(ctx, held)
		require.NoError(t, err)
		require.Equal(t, verdict.Challenge, res.Verdict, "a step-up is the way out of a restriction")
		require.Equal(t, "step-up", res.Rule)
		code := f.send(t, res.ChallengeID)
		ok, err := f.engine.VerifyChallengeCode(ctx, res.ChallengeID, code)
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, f.engine.CompleteChallenge(ctx, res.ChallengeID))
		assert.Equal(t, verdict.Allow, f.eval(t, held).Verdict, "completing it lifted the restriction")

		deny := rules(t, `{"rules": [{"name": "no", "when": "true", "verdict": "deny"}]}`)
		h := newHarness(t, memstore.New(), ato.WithPolicy(deny))
		res, err = h.engine.StepUp(ctx, aliceLaptop)
		require.NoError(t, err)
		assert.Equal(t, verdict.Deny, res.Verdict, "any other deny stays a deny")
	}, ato.WithPolicy(policy))
}

func TestStepUpNeverSoftensAPolicyDeny(t *testing.T) {
	t.Parallel()
	_, err := verdict.ParseRules([]byte(`{"rules": [{"name": "restricted", "when": "new_ip", "verdict": "deny"}]}`), nil)
	require.Error(t, err, "engine rule names are reserved")

	policy := rules(t, `{"rules": [
		{"name": "restrict-new-ip", "when": "new_ip && known_device && action == \"login\"", "verdict": "restrict"},
		{"name": "no-payments", "when": "action == \"payment\"", "verdict": "deny"}
	]}`)
	h := newHarness(t, memstore.New(), ato.WithPolicy(policy))
	h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
	require.Equal(t, verdict.Restrict, h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: cafeIP}).Verdict)
	res, err := h.engine.StepUp(t.Context(), ato.Request{User: "alice", Action: "payment", Fingerprint: laptop, IP: cafeIP})
	require.NoError(t, err)
	assert.Equal(t, verdict.Deny, res.Verdict, "held back and denied by the policy too: the policy's deny stands")
	assert.Equal(t, "no-payments", res.Rule)
}
