package ato_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/verdict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A login that lost its client address (a missing proxy header, a unix
// socket front end) must not pass for one from the owner's network, nor
// teach the engine its device.
func TestMissingIPIsAnUnknownNetworkAndTeachesNothing(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})

		attacker := h.eval(t, ato.Request{User: "alice", Fingerprint: phone})
		assert.Equal(t, verdict.Challenge, attacker.Verdict, "a new device without an IP")
		assert.Equal(t, []signals.Reason{signals.NewDeviceReason, signals.NewIPReason}, attacker.Reasons)
		assert.Equal(t, "new-device-new-network", attacker.Rule)
		assert.Contains(t, attacker.Explain(), "no IP address")

		bare := h.eval(t, ato.Request{User: "alice"})
		assert.Equal(t, verdict.Challenge, bare.Verdict, "neither fingerprint nor IP")
		assert.Equal(t, []signals.Reason{signals.NewIPReason, signals.MissingFingerprintReason}, bare.Reasons)

		own := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop})
		assert.Equal(t, verdict.Allow, own.Verdict, "the owner's known device without an IP")
		assert.Equal(t, []signals.Reason{signals.NewIPReason}, own.Reasons)

		// The challenged device did not become known, and neither did the
		// allowed attempt without an IP teach anything: the history's
		// latest success is still the one from home.
		later := h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: homeIP})
		assert.Contains(t, later.Reasons, signals.NewDeviceReason)
	})
}

// Whatever the policy lets through, an attempt without an IP teaches
// neither its device nor a network: the allowed attacker device is still
// new when it comes back from a real address, and so cannot age into one
// that may enrol an authenticator.
func TestAllowedAttemptWithoutIPTeachesNothing(t *testing.T) {
	t.Parallel()
	lenient := ato.WithPolicy(verdict.Rules{})
	eachStore(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		res := h.eval(t, ato.Request{User: "alice", Fingerprint: phone})
		require.Equal(t, verdict.Allow, res.Verdict)

		h.clock.Advance(8 * 24 * time.Hour)
		back := h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP})
		assert.Contains(t, back.Reasons, signals.NewDeviceReason)
		devs, err := h.engine.Devices(t.Context(), "alice")
		require.NoError(t, err)
		require.Len(t, devs, 2, "the laptop, and the phone from the café")
		_, err = h.engine.EnrollTOTP(t.Context(), ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP}, "Example")
		assert.ErrorIs(t, err, ato.ErrFactorRefused, "a device known for a minute may not enrol")

		// A new user's first attempt without an IP is let in but teaches
		// nothing either.
		first := h.eval(t, ato.Request{User: "bob", Fingerprint: tablet})
		assert.Equal(t, []signals.Reason{signals.NewUserReason}, first.Reasons)
		again := h.eval(t, ato.Request{User: "bob", Fingerprint: tablet, IP: homeIP})
		assert.Equal(t, []signals.Reason{signals.NewUserReason}, again.Reasons)
	}, lenient)
}

// embeddings writes an IPv4 address in each IPv6 form that carries one.
var embeddings = []struct {
	name string
	addr func(v4 netip.Addr) string
}{
	{"ipv4", func(v4 netip.Addr) string { return v4.String() }},
	{"ipv4-mapped", func(v4 netip.Addr) string { return "::ffff:" + v4.String() }},
	{"siit", func(v4 netip.Addr) string { return "::ffff:0:" + v4.String() }},
	{"ipv4-compatible", func(v4 netip.Addr) string { return "::" + v4.String() }},
	{"nat64", func(v4 netip.Addr) string { return "64:ff9b::" + v4.String() }},
	{"nat64-local", func(v4 netip.Addr) string { return "64:ff9b:1::" + v4.String() }},
	{"6to4", func(v4 netip.Addr) string {
		b := v4.As4()
		return fmt.Sprintf("2002:%02x%02x:%02x%02x:1::1", b[0], b[1], b[2], b[3])
	}},
	{"teredo", func(v4 netip.Addr) string {
		b := v4.As4()
		return fmt.Sprintf("2001:0:4136:e378:8000:63bf:%02x%02x:%02x%02x", ^b[0], ^b[1], ^b[2], ^b[3])
	}},
}

// Behind a translator every IPv4 client shares the translator's prefix;
// each must still be the network of its own IPv4 address.
func TestIPv4EmbeddedInIPv6IsThatIPv4Address(t *testing.T) {
	t.Parallel()
	owner, attacker := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("203.0.113.66")
	for _, form := range embeddings {
		t.Run(form.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, h *harness) {
				h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: form.addr(owner)})
				res := h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: form.addr(attacker)})
				assert.Equal(t, verdict.Challenge, res.Verdict, "another IPv4 client behind the translator is another network")
				assert.Equal(t, []signals.Reason{signals.NewDeviceReason, signals.NewIPReason}, res.Reasons)
				assert.Equal(t, attacker.String(), res.Findings[1].Evidence["ip"])

				same := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: owner.String()})
				assert.Empty(t, same.Reasons, "the embedded address and the plain one are one network")

				// Ten made-up users failing from the attacker's embedded
				// address do not make the owner's own network a stuffing one.
				for i := range 10 {
					require.NoError(t, h.engine.RecordFailure(t.Context(), ato.Request{User: fmt.Sprint("nobody", i), IP: form.addr(attacker)}))
				}
				mine := h.eval(t, ato.Request{User: "alice", Fingerprint: tablet, IP: form.addr(owner)})
				assert.Equal(t, verdict.Allow, mine.Verdict, "the owner's new phone on his own network")
				stuffed := h.eval(t, ato.Request{User: "alice", Fingerprint: fp("other"), IP: attacker.String()})
				assert.Equal(t, verdict.Deny, stuffed.Verdict, "the stuffing network is the embedded IPv4 address")
				assert.Contains(t, stuffed.Reasons, signals.CredentialStuffingReason)
			})
		})
	}
}

// Lists and the locator see the embedded IPv4 address too.
func TestEmbeddedIPv4IsListedAndLocated(t *testing.T) {
	t.Parallel()
	deny, err := signals.ReadList(strings.NewReader("ip 203.0.113.0/24\n"))
	require.NoError(t, err)
	eachStore(t, func(t *testing.T, h *harness) {
		res := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: "64:ff9b::203.0.113.66"})
		assert.Equal(t, verdict.Deny, res.Verdict)
		assert.Contains(t, res.Reasons, signals.DenyListedReason)
		require.NotNil(t, res.Location)
		assert.Equal(t, "JP", res.Location.Country)
	}, ato.WithDenyList(deny), ato.WithLocator(places{
		"203.0.113.66": {Country: "JP", City: "Tokyo", Latitude: 35.68, Longitude: 139.69},
	}))
}

// guessAWeek plays someone with alice's password for a simulated week: a
// fresh device as often as the challenge limit allows, a code sent by
// email, and wrong codes typed until the engine refuses. It returns how
// many codes the engine checked.
func guessAWeek(t *testing.T, f *flow) (checked int) {
	t.Helper()
	ctx := t.Context()
	end := f.clock.Now().Add(7 * 24 * time.Hour)
	for i := 0; f.clock.Now().Before(end); i++ {
		f.clock.Advance(6 * time.Minute) // ten challenges an hour
		r := alicePhone
		r.Fingerprint = fp(fmt.Sprint("attacker", i))
		res, err := f.engine.Evaluate(ctx, r)
		require.NoError(t, err)
		if res.Verdict != verdict.Challenge {
			continue
		}
		err = f.engine.SendChallengeCode(ctx, res.ChallengeID, challenge.Email)
		if errors.Is(err, ato.ErrRateLimited) {
			continue
		}
		require.NoError(t, err)
		code, _ := f.outbox.Last(res.ChallengeID)
		for {
			ok, err := f.engine.VerifyChallengeCode(ctx, res.ChallengeID, wrongCode(code.Code))
			if err != nil {
				require.True(t, errors.Is(err, ato.ErrRateLimited) || errors.Is(err, ato.ErrChallengeFailed), err)
				break
			}
			require.False(t, ok)
			checked++
		}
	}
	return checked
}

// Codes sent by email or SMS cannot be guessed across challenges without
// limit: a week of trying checks at most 200 of them, and the owner's
// known device still gets and checks codes meanwhile.
func TestWrongCodesAcrossChallengesAreLimited(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		ctx := t.Context()
		require.Equal(t, verdict.Allow, f.eval(t, aliceLaptop).Verdict)
		checked := guessAWeek(t, f)
		t.Logf("codes checked in a week of guessing: %d", checked)
		assert.LessOrEqual(t, checked, 200)
		assert.GreaterOrEqual(t, checked, ato.CodeMaxFailures, "the first wrong codes are checked")
		assert.Contains(t, kinds(t, f.store, "alice"), storage.KindCodesLocked)

		// The owner's new phone is caught in the lock: no code goes out.
		f.clock.Advance(time.Hour) // past the attacker's challenges of the hour
		res := f.eval(t, alicePhone)
		require.Equal(t, verdict.Challenge, res.Verdict)
		info, err := f.engine.Challenge(ctx, res.ChallengeID)
		require.NoError(t, err)
		assert.True(t, info.CodesLockedUntil.After(f.clock.Now()))
		assert.NotContains(t, info.Channels, challenge.Email)
		assert.ErrorIs(t, f.engine.SendChallengeCode(ctx, res.ChallengeID, challenge.Email), ato.ErrRateLimited)

		// Her known laptop is not: a step-up from it sends, checks and
		// completes, and her wrong codes there are counted apart.
		up, err := f.engine.StepUp(ctx, aliceLaptop)
		require.NoError(t, err)
		require.Equal(t, verdict.Challenge, up.Verdict)
		code := f.send(t, up.ChallengeID)
		ok, err := f.engine.VerifyChallengeCode(ctx, up.ChallengeID, wrongCode(code))
		require.NoError(t, err, "the owner's typo on her known device")
		assert.False(t, ok)
		ok, err = f.engine.VerifyChallengeCode(ctx, up.ChallengeID, code)
		require.NoError(t, err)
		assert.True(t, ok)
		require.NoError(t, f.engine.CompleteChallenge(ctx, up.ChallengeID))
	})
}

// A right code ends a run of wrong ones, so an owner who mistypes now and
// then is never locked.
func TestRightCodeEndsTheRunOfWrongOnes(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		ctx := t.Context()
		require.Equal(t, verdict.Allow, f.eval(t, aliceLaptop).Verdict)
		for round := range 3 {
			res := f.eval(t, alicePhone)
			require.Equal(t, verdict.Challenge, res.Verdict)
			code := f.send(t, res.ChallengeID)
			for range ato.CodeMaxFailures/2 - 1 {
				ok, err := f.engine.VerifyChallengeCode(ctx, res.ChallengeID, wrongCode(code))
				require.NoError(t, err, "round %d", round)
				require.False(t, ok)
			}
			ok, err := f.engine.VerifyChallengeCode(ctx, res.ChallengeID, code)
			require.NoError(t, err, "round %d", round)
			require.True(t, ok)
			// Not completed: the phone stays unknown, its next challenge
			// counts in the same guard.
			f.clock.Advance(time.Hour)
		}
	})
}
