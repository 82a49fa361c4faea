package ato_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A campaign spread one try per address over the internet: no network sees
// more than one failure, but the names that are not accounts pile up.
func TestStuffingCampaignDeniesNewDevicesOnNewNetworks(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		h.eval(t, ato.Request{User: "bob", Fingerprint: tablet, IP: officeIP})
		spread := func(from, n int) {
			for i := from; i < from+n; i++ {
				require.NoError(t, h.engine.RecordFailure(ctx, ato.Request{UnknownUser: true,
					User: fmt.Sprintf("ghost%03d@example.net", i), Fingerprint: fp(fmt.Sprint("bot", i)),
					IP: fmt.Sprintf("100.64.%d.%d", i/200, i%200+1)}))
			}
		}
		spread(0, signals.DefaultCampaignUsers-1)
		under := h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP, Email: "alice@example.com"})
		assert.Equal(t, verdict.Challenge, under.Verdict, "under the threshold, a new device on a new network is challenged")
		assert.NotContains(t, under.Reasons, signals.StuffingCampaignReason)

		spread(100, 1)
		hit := h.eval(t, ato.Request{User: "alice", Fingerprint: fp("attacker"), IP: "192.0.2.200", Email: "alice@example.com"})
		assert.Equal(t, verdict.Deny, hit.Verdict, "a hit during the campaign is denied outright")
		assert.Equal(t, "stuffing-campaign", hit.Rule)
		assert.Empty(t, hit.ChallengeID, "no code goes to the owner")
		require.Contains(t, hit.Reasons, signals.StuffingCampaignReason)
		for _, f := range hit.Findings {
			if f.Reason == signals.StuffingCampaignReason {
				assert.Equal(t, "25", f.Evidence["unknown_users"])
				assert.Equal(t, "stuffing campaign: 25 unknown user names failing in 15 minutes", f.Summary())
			}
		}
		noFingerprint := h.eval(t, ato.Request{User: "alice", IP: "192.0.2.201"})
		assert.Equal(t, verdict.Deny, noFingerprint.Verdict, "a script without a fingerprint on a new network too")
		first := h.eval(t, ato.Request{User: "carol", Fingerprint: fp("carol"), IP: "192.0.2.202"})
		assert.Equal(t, verdict.Deny, first.Verdict, "a first login is a new device on a new network")

		// The owners on known devices or known networks are untouched.
		travelling := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: "192.0.2.203"})
		assert.Equal(t, verdict.Allow, travelling.Verdict, "a known device on a new network")
		assert.Contains(t, travelling.Reasons, signals.StuffingCampaignReason, "reported, not acted on")
		newPhone := h.eval(t, ato.Request{User: "bob", Fingerprint: phone, IP: officeIP})
		assert.Equal(t, verdict.Allow, newPhone.Verdict, "a new device on a known network")
		signup := h.eval(t, ato.Request{Action: ato.ActionSignup, User: "dave", Fingerprint: fp("dave"), IP: "192.0.2.204"})
		assert.Equal(t, verdict.Allow, signup.Verdict, "a signup is not a login")

		// The campaign ends: its window passes.
		h.clock.Advance(signals.DefaultCampaignWindow)
		after := h.eval(t, ato.Request{User: "alice", Fingerprint: fp("attacker"), IP: "192.0.2.200", Email: "alice@example.com"})
		assert.Equal(t, verdict.Challenge, after.Verdict)
		assert.NotContains(t, after.Reasons, signals.StuffingCampaignReason)
	})
}

// One network, slow enough to stay under ten users an hour: the names that
// are not accounts give it away over the longer window; the accounts of a
// carrier NAT's own users mistyping their passwords never do.
func TestSlowStuffingFromOneNetwork(t *testing.T) {
	t.Parallel()
	const botIP, natIP = "198.51.100.66", "100.64.0.1"
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		// Thirty users of a carrier NAT mistype their passwords over six
		// hours, a few at a time: accounts, and never ten an hour.
		for i := range 30 {
			u := fmt.Sprint("subscriber", i)
			require.NoError(t, h.engine.RecordFailure(ctx, ato.Request{User: u, Fingerprint: fp(u), IP: natIP}))
			h.clock.Advance(12 * time.Minute)
		}
		// A bot tries the combo list from one address, one try every 8
		// minutes: three accounts and five names that do not exist.
		for i := range 8 {
			unknown := i%3 != 0
			require.NoError(t, h.engine.RecordFailure(ctx, ato.Request{UnknownUser: unknown,
				User: fmt.Sprint("combo", i), Fingerprint: fp("bot"), IP: botIP}))
			h.clock.Advance(8 * time.Minute)
		}

		subscriber := h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: natIP, Email: "alice@example.com"})
		assert.NotContains(t, subscriber.Reasons, signals.CredentialStuffingReason, "a NAT's mistyped passwords are no stuffing")
		assert.Equal(t, verdict.Challenge, subscriber.Verdict)

		hit := h.eval(t, ato.Request{User: "alice", Fingerprint: fp("bot"), IP: botIP, Email: "alice@example.com"})
		assert.Equal(t, verdict.Deny, hit.Verdict)
		assert.Equal(t, "credential-stuffing", hit.Rule)
		require.Contains(t, hit.Reasons, signals.CredentialStuffingReason)
		for _, f := range hit.Findings {
			if f.Reason == signals.CredentialStuffingReason {
				assert.Equal(t, "5", f.Evidence["unknown_users"])
				assert.Equal(t, "7", f.Evidence["users"], "under ten users in the last hour")
			}
		}
		owner := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: botIP})
		assert.Equal(t, verdict.Allow, owner.Verdict, "the owner's known device on that network")

		// The window passes: the network is clean again.
		h.clock.Advance(signals.DefaultStuffingUnknownWindow)
		later := h.eval(t, ato.Request{User: "alice", Fingerprint: fp("bot"), IP: botIP, Email: "alice@example.com"})
		assert.NotContains(t, later.Reasons, signals.CredentialStuffingReason)
	})
}

// Evaluate ignores UnknownUser: only RecordFailure takes it.
func TestUnknownUserOnlyCountsFailures(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		for i := range signals.DefaultCampaignUsers {
			h.eval(t, ato.Request{UnknownUser: true, User: fmt.Sprint("ghost", i), Fingerprint: fp(fmt.Sprint("g", i)),
				IP: fmt.Sprintf("100.64.1.%d", i+1)})
		}
		res := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		assert.Equal(t, verdict.Allow, res.Verdict)
		assert.NotContains(t, res.Reasons, signals.StuffingCampaignReason)
	})
}
