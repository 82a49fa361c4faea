package ato_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/internal/fakehash"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Device tokens: a login that teaches a device returns a token, which the
// browser keeps in a cookie and sends back.

func TestDeviceTokenIsIssuedAndRecognised(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		first := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		require.Equal(t, verdict.Allow, first.Verdict)
		require.NotEmpty(t, first.DeviceToken, "a login that taught the device issues a token")

		again := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP, DeviceToken: first.DeviceToken})
		assert.Equal(t, verdict.Allow, again.Verdict)
		assert.Empty(t, again.Reasons)
		assert.NotEmpty(t, again.DeviceToken, "a fresh token each time")
		p := profileOf(t, h.store, "alice")
		require.Len(t, p.Devices, 1)
		assert.False(t, p.Devices[0].TokenSeen.IsZero(), "the device presented its token")

		// A challenged attempt issues none.
		ch := h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP, Email: "a@example.com"})
		require.Equal(t, verdict.Challenge, ch.Verdict)
		assert.Empty(t, ch.DeviceToken)
	})
}

// The browser's fingerprint without its token, once the device has shown
// one: a copy (a phishing kit replaying it) or a cleaned browser. On a new
// network it is challenged; on the user's own network it is only reported.
func TestCopiedFingerprintWithoutTheToken(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		tok := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP}).DeviceToken
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP, DeviceToken: tok})

		replay := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, LastFingerprint: laptop, IP: cafeIP, Email: "a@example.com"})
		assert.Contains(t, replay.Reasons, signals.DeviceTokenMissingReason)
		assert.Equal(t, verdict.Challenge, replay.Verdict)
		assert.Equal(t, "copied-fingerprint", replay.Rule)
		assert.Empty(t, replay.DeviceToken)

		home := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		assert.Contains(t, home.Reasons, signals.DeviceTokenMissingReason, "reported")
		assert.Equal(t, verdict.Allow, home.Verdict, "her own network: cookies cleared at home")

		// A device that never showed a token is not held to one (an
		// application that does not keep tokens).
		h.eval(t, ato.Request{User: "bob", Fingerprint: tablet, IP: homeIP})
		b := h.eval(t, ato.Request{User: "bob", Fingerprint: tablet, IP: cafeIP})
		assert.NotContains(t, b.Reasons, signals.DeviceTokenMissingReason)
		assert.Equal(t, verdict.Allow, b.Verdict, "a known device on a new network, as before tokens")
	})
}

// A token is the user's and the device's: another user's, a forged one or
// one made under another secret counts as none.
func TestDeviceTokenCannotBeMovedOrForged(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		aliceTok := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP}).DeviceToken
		bobTok := h.eval(t, ato.Request{User: "bob", Fingerprint: phone, IP: homeIP}).DeviceToken
		h.eval(t, ato.Request{User: "bob", Fingerprint: phone, IP: homeIP, DeviceToken: bobTok})

		// bob's phone with alice's token (one browser, two members of a
		// family): counted as none, so bob's phone lacks its own.
		res := h.eval(t, ato.Request{User: "bob", Fingerprint: phone, IP: cafeIP, DeviceToken: aliceTok, Email: "b@example.com"})
		assert.NotContains(t, res.Reasons, signals.DeviceTokenMismatchReason)
		assert.Contains(t, res.Reasons, signals.DeviceTokenMissingReason)

		other, err := ato.New(h.store, ato.WithSecret([]byte("another engine's secret of 32 bytes or more")), ato.WithClock(h.clock.Now))
		require.NoError(t, err)
		for name, tok := range map[string]string{
			"forged":         "AQHmdGhlLWxhcHRvcAAAAAAAAAAAAAAAAAAAAA",
			"garbage":        "not a token at all",
			"another secret": other.DeviceToken("bob", res.FingerprintID),
		} {
			r := h.eval(t, ato.Request{User: "bob", Fingerprint: phone, IP: cafeIP, DeviceToken: tok, Email: "b@example.com"})
			assert.Contains(t, r.Reasons, signals.DeviceTokenMissingReason, name)
		}

		_, err = h.engine.Evaluate(t.Context(), ato.Request{User: "bob", Fingerprint: phone, IP: homeIP,
			DeviceToken: string(make([]byte, ato.MaxDeviceTokenLen+1))})
		assert.ErrorIs(t, err, ato.ErrInvalidRequest, "a token longer than any the engine makes")
	})
}

// A token of one of the user's devices with another of her device's exact
// fingerprint: the fingerprint is copied into another browser.
func TestDeviceTokenOfAnotherDevice(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		laptopTok := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP}).DeviceToken
		h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: homeIP})
		res := h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP, DeviceToken: laptopTok, Email: "a@example.com"})
		assert.Contains(t, res.Reasons, signals.DeviceTokenMismatchReason)
		assert.Equal(t, verdict.Challenge, res.Verdict)
		assert.Equal(t, "copied-fingerprint", res.Rule)
	})
}

// last_fingerprint as the browser's own word: with its token, a browser
// that changed beyond any similarity keeps its device; without it, a
// look-alike sending the phished hash as its previous one does not inherit
// the device.
func TestLastFingerprintNeedsTheToken(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		r := rand.New(rand.NewPCG(1, 2))
		before := fakehash.Random(r)
		first := h.eval(t, ato.Request{User: "alice", Fingerprint: before, IP: homeIP})
		tok := h.eval(t, ato.Request{User: "alice", Fingerprint: before, IP: homeIP, DeviceToken: first.DeviceToken}).DeviceToken

		// A major update: six signals changed at once.
		after := before
		for range 6 {
			after = fakehash.Drift(r, after)
		}
		require.Less(t, fingerprint.Similarity(after, before), fingerprint.LastMinSimilarity)
		upd := h.eval(t, ato.Request{User: "alice", Fingerprint: after, LastFingerprint: before, IP: cafeIP, DeviceToken: tok})
		assert.Equal(t, first.FingerprintID, upd.FingerprintID, "the token keeps the device")
		assert.Equal(t, verdict.Allow, upd.Verdict, "%v", upd.Reasons)
		assert.NotContains(t, upd.Reasons, signals.NewDeviceReason)

		// A look-alike two signals away, sending the phished hash as its
		// previous one, without the cookie.
		look := fakehash.Drift(r, fakehash.Drift(r, after))
		res := h.eval(t, ato.Request{User: "alice", Fingerprint: look, LastFingerprint: after, IP: officeIP, Email: "a@example.com"})
		assert.NotEqual(t, verdict.Allow, res.Verdict, "%v", res.Reasons)
		if res.FingerprintID == first.FingerprintID {
			assert.Contains(t, res.Reasons, signals.DeviceTokenMissingReason, "matched by similarity, it lacks the token")
		}
	})
}

// A completed challenge teaches the device; the application sets the
// cookie from Engine.DeviceToken.
func TestDeviceTokenAfterAChallenge(t *testing.T) {
	t.Parallel()
	outbox := challenge.NewOutbox()
	eachStore(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		res := h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP, Email: "alice@example.com"})
		require.Equal(t, verdict.Challenge, res.Verdict)
		ctx := t.Context()
		require.NoError(t, h.engine.SendChallengeCode(ctx, res.ChallengeID, challenge.Email))
		m, ok := outbox.Last(res.ChallengeID)
		require.True(t, ok)
		good, err := h.engine.VerifyChallengeCode(ctx, res.ChallengeID, m.Code)
		require.NoError(t, err)
		require.True(t, good)
		require.NoError(t, h.engine.CompleteChallenge(ctx, res.ChallengeID))
		tok := h.engine.DeviceToken("alice", res.FingerprintID)

		next := h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: officeIP, DeviceToken: tok})
		assert.Equal(t, verdict.Allow, next.Verdict, "%v", next.Reasons)
		assert.Equal(t, res.FingerprintID, next.FingerprintID)
	}, ato.WithSender(outbox))
}

// With its token, a known device travels: a new country or a jump the
// speed of a plane cannot explain (a VPN, a roaming phone) is its owner's.
func TestTokenHolderTravels(t *testing.T) {
	t.Parallel()
	geoStores(t, func(t *testing.T, h *harness) {
		tok := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: amsterdamIP}).DeviceToken
		h.clock.Advance(time.Hour)
		abroad := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: newYorkIP, DeviceToken: tok})
		assert.Contains(t, abroad.Reasons, signals.ImpossibleTravelReason, "reported")
		assert.Equal(t, verdict.Allow, abroad.Verdict, "the browser holds its token")

		// Without it, the same jump is challenged.
		h.clock.Advance(time.Hour)
		bare := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: parisIP, Email: "a@example.com"})
		assert.Equal(t, verdict.ChallengeAndRestrict, bare.Verdict, "%v", bare.Reasons)
	})
}

// "Was this you?": the owner's answer about a device.
func TestReportDevice(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		// Someone with her password, on a new device at her home network
		// (a new device on a known network is allowed).
		intruder := h.eval(t, ato.Request{User: "alice", Fingerprint: tablet, IP: homeIP})
		require.Equal(t, verdict.Allow, intruder.Verdict)

		require.NoError(t, h.engine.ReportDevice(ctx, "alice", intruder.FingerprintID, false))
		again := h.eval(t, ato.Request{User: "alice", Fingerprint: tablet, IP: homeIP})
		assert.Equal(t, verdict.Deny, again.Verdict, "denied from now on")
		assert.Contains(t, again.Reasons, signals.DisownedDeviceReason)
		assert.Equal(t, "disowned-device", again.Rule)
		devices, err := h.engine.Devices(ctx, "alice")
		require.NoError(t, err)
		require.Len(t, devices, 1, "forgotten")
		assert.True(t, devices[0].Restricted(h.clock.Now()), "her own device's sensitive actions are held back until a challenge")
		change := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP, Action: "email_change"})
		assert.Equal(t, verdict.Deny, change.Verdict)
		assert.Equal(t, ato.RuleRestricted, change.Rule)

		// "It was me" about her laptop: trusted.
		require.NoError(t, h.engine.ReportDevice(ctx, "alice", devices[0].ID, true))
		devices, err = h.engine.Devices(ctx, "alice")
		require.NoError(t, err)
		assert.True(t, devices[0].Trusted)
		// and about the tablet after all: no longer disowned (but forgotten:
		// it must log in again as a new device).
		err = h.engine.ReportDevice(ctx, "alice", intruder.FingerprintID, true)
		assert.ErrorIs(t, err, ato.ErrDeviceNotFound)

		var kinds []string
		for _, ev := range eventsOf(t, h.store, "alice") {
			kinds = append(kinds, ev.Kind)
		}
		assert.Contains(t, kinds, ato.KindDeviceDisowned)
		assert.Contains(t, kinds, ato.KindDeviceConfirmed)
		assert.ErrorIs(t, h.engine.ReportDevice(ctx, "", "x", true), ato.ErrInvalidRequest)
	})
}

// Ids that are not text are refused as invalid requests, before any store
// sees them.
func TestIdsAreChecked(t *testing.T) {
	t.Parallel()
	h := newHarness(t, memstore.New())
	ctx := t.Context()
	for _, bad := range []string{"a\x00b", "\xff", ""} {
		_, err := h.engine.Devices(ctx, bad)
		assert.ErrorIs(t, err, ato.ErrInvalidRequest, "%q", bad)
		assert.ErrorIs(t, h.engine.ForgetDevice(ctx, "alice", bad), ato.ErrInvalidRequest, "%q", bad)
		assert.ErrorIs(t, h.engine.ReportDevice(ctx, bad, "d", true), ato.ErrInvalidRequest, "%q", bad)
		_, err = h.engine.Challenge(ctx, bad)
		assert.ErrorIs(t, err, ato.ErrInvalidRequest, "%q", bad)
	}
}

// An engine made WithoutDeviceTokens issues none on login, and still
// checks the one a browser presents (issued before, or by Engine.DeviceToken).
func TestWithoutDeviceTokens(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		tok := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP}).DeviceToken
		require.NotEmpty(t, tok, "the default engine issues one")

		quiet, err := ato.New(h.store, ato.WithClock(h.clock.Now), ato.WithoutDeviceTokens())
		require.NoError(t, err)
		h.clock.Advance(time.Minute)
		res, err := quiet.Evaluate(t.Context(), ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP, DeviceToken: tok})
		require.NoError(t, err)
		assert.Equal(t, verdict.Allow, res.Verdict)
		assert.Empty(t, res.DeviceToken, "none issued")
		assert.False(t, profileOf(t, h.store, "alice").Devices[0].TokenSeen.IsZero(), "the token presented was checked and counted")

		h.clock.Advance(time.Minute)
		res, err = quiet.Evaluate(t.Context(), ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP, DeviceToken: tok + "x"})
		require.NoError(t, err)
		assert.Contains(t, res.Reasons, signals.DeviceTokenMissingReason, "a bad one still counts as none")
		assert.NotEmpty(t, quiet.DeviceToken("alice", res.FingerprintID), "one is made when asked")
	})
}
