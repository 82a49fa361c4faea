package ato_test

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// places is a Locator over a fixed table.
type places map[string]signals.Location

func (p places) Locate(ip netip.Addr) (signals.Location, bool) {
	l, ok := p[ip.String()]
	return l, ok
}

const (
	amsterdamIP = "198.51.100.1"
	newYorkIP   = "198.51.100.2"
	awsIP       = "198.51.100.3"
	vpnIP       = "198.51.100.4"
	amsterdam2  = "198.51.100.5"
	parisIP     = "198.51.100.6"
)

var world = places{
	amsterdamIP: {City: "Amsterdam", Country: "NL", Latitude: 52.37, Longitude: 4.90, AccuracyKm: 20, ASN: 1136},
	amsterdam2:  {City: "Amsterdam", Country: "NL", Latitude: 52.37, Longitude: 4.90, AccuracyKm: 20, ASN: 1136},
	parisIP:     {City: "Paris", Country: "FR", Latitude: 48.86, Longitude: 2.35, AccuracyKm: 20, ASN: 3215},
	newYorkIP:   {City: "New York", Country: "US", Latitude: 40.71, Longitude: -74.01, AccuracyKm: 20, ASN: 7922},
	awsIP:       {City: "Dublin", Country: "IE", Latitude: 53.35, Longitude: -6.26, AccuracyKm: 50, ASN: 16509},
	vpnIP:       {Country: "NL", Anonymous: true, ASN: 9009},
}

// geoStores runs fn per store with an engine that locates IPs in world.
func geoStores(t *testing.T, fn func(t *testing.T, h *harness), opts ...ato.Option) {
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newHarness(t, open(t), append([]ato.Option{ato.WithLocator(world)}, opts...)...))
		})
	}
}

func TestTravellerAndImpossibleTravel(t *testing.T) {
	t.Parallel()
	geoStores(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: amsterdamIP})
		h.clock.Advance(9 * time.Hour)
		trip := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: newYorkIP})
		assert.Equal(t, []signals.Reason{signals.NewIPReason, signals.NewCountryReason}, trip.Reasons,
			"a 9-hour flight is possible")
		assert.Equal(t, verdict.Restrict, trip.Verdict, "row 8: a new country from a known device")
		assert.Equal(t, verdict.DefaultRestrictions, trip.Restrictions)

		// An hour later in Paris, where she never was: New York to Paris
		// in an hour.
		h.clock.Advance(time.Hour)
		jump := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: parisIP})
		assert.Contains(t, jump.Reasons, signals.ImpossibleTravelReason, "New York to Paris in an hour")
		assert.Equal(t, verdict.ChallengeAndRestrict, jump.Verdict)
		assert.NotEmpty(t, jump.ChallengeID)
		var ev map[string]string
		for _, f := range jump.Findings {
			if f.Reason == signals.ImpossibleTravelReason {
				ev = f.Evidence
			}
		}
		assert.Equal(t, "New York, US", ev["from"])
		assert.Equal(t, "Paris, FR", ev["to"])

		// But back home in Amsterdam, on her own network, it is no jump:
		// she is known there.
		back := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: amsterdamIP})
		assert.NotContains(t, back.Reasons, signals.ImpossibleTravelReason, "a network the user is known at")
		assert.Equal(t, verdict.Allow, back.Verdict)
	})
}

func TestBruteForceSparesTheOwnersKnownDevice(t *testing.T) {
	t.Parallel()
	geoStores(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: amsterdamIP})
		for range 5 {
			require.NoError(t, h.engine.RecordFailure(t.Context(), ato.Request{User: "alice", Fingerprint: phone, IP: newYorkIP}))
		}
		attacker := h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: amsterdam2})
		assert.Contains(t, attacker.Reasons, signals.BruteForceReason)
		assert.Equal(t, verdict.Challenge, attacker.Verdict)
		assert.Equal(t, "brute-force", attacker.Rule)

		owner := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: amsterdamIP})
		assert.Contains(t, owner.Reasons, signals.BruteForceReason, "reported, for the record")
		assert.Equal(t, verdict.Allow, owner.Verdict, "the owner's known device is not locked out")
	})
}

func TestOwnTyposAreNotBruteForce(t *testing.T) {
	t.Parallel()
	geoStores(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: amsterdamIP})
		for range 6 {
			require.NoError(t, h.engine.RecordFailure(t.Context(), ato.Request{User: "alice", Fingerprint: laptop, IP: amsterdamIP}))
		}
		res := h.eval(t, ato.Request{User: "alice", Fingerprint: tablet, IP: amsterdamIP})
		assert.NotContains(t, res.Reasons, signals.BruteForceReason)
	})
}

func TestCredentialStuffingAndTheOfficeNAT(t *testing.T) {
	t.Parallel()
	geoStores(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		// Ten office users who log in from the NAT mistype their passwords.
		for i := range 10 {
			u := "staff" + string(rune('a'+i))
			h.eval(t, ato.Request{User: u, Fingerprint: fp(u), IP: amsterdamIP})
			require.NoError(t, h.engine.RecordFailure(ctx, ato.Request{User: u, Fingerprint: fp(u), IP: amsterdamIP}))
		}
		colleague := h.eval(t, ato.Request{User: "staffk", Fingerprint: fp("k"), IP: amsterdamIP})
		assert.NotContains(t, colleague.Reasons, signals.CredentialStuffingReason, "a NAT's own users do not count")

		// A script tries ten other accounts from one address.
		for i := range 10 {
			require.NoError(t, h.engine.RecordFailure(ctx, ato.Request{User: "victim" + string(rune('a'+i)), IP: newYorkIP}))
		}
		h.eval(t, ato.Request{User: "bob", Fingerprint: laptop, IP: amsterdamIP})
		res := h.eval(t, ato.Request{User: "bob", Fingerprint: phone, IP: newYorkIP})
		assert.Contains(t, res.Reasons, signals.CredentialStuffingReason)
		assert.Equal(t, verdict.Deny, res.Verdict)
	})
}

func TestMultipleAccountsAtSignup(t *testing.T) {
	t.Parallel()
	geoStores(t, func(t *testing.T, h *harness) {
		for _, u := range []string{"u1", "u2", "u3", "u4"} {
			res := h.eval(t, ato.Request{Action: ato.ActionSignup, User: u, Fingerprint: tablet, IP: amsterdamIP})
			require.Equal(t, verdict.Allow, res.Verdict, u)
		}
		fifth := h.eval(t, ato.Request{Action: ato.ActionSignup, User: "u5", Fingerprint: tablet, IP: amsterdamIP})
		assert.Contains(t, fifth.Reasons, signals.MultipleAccountsReason)
		assert.Equal(t, verdict.Restrict, fifth.Verdict)
		login := h.eval(t, ato.Request{User: "u1", Fingerprint: tablet, IP: amsterdamIP})
		assert.NotContains(t, login.Reasons, signals.MultipleAccountsReason, "logging in needs ten")
	})
}

func TestAnonymousAndHostingNetworks(t *testing.T) {
	t.Parallel()
	geoStores(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: amsterdamIP})
		vpn := h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: vpnIP})
		assert.Contains(t, vpn.Reasons, signals.AnonymousIPReason)
		assert.Equal(t, verdict.Challenge, vpn.Verdict)
		h.clock.Advance(5 * time.Hour) // Amsterdam to Dublin a minute later would be impossible travel
		cloud := h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: awsIP})
		assert.Contains(t, cloud.Reasons, signals.HostingIPReason)
		assert.Equal(t, verdict.Challenge, cloud.Verdict)
	})
}

func TestOperatorLists(t *testing.T) {
	t.Parallel()
	allow, err := signals.ReadList(strings.NewReader("user monitoring-bot\n"))
	require.NoError(t, err)
	deny, err := signals.ReadList(strings.NewReader("country US\n"))
	require.NoError(t, err)
	geoStores(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: amsterdamIP})
		res := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: newYorkIP})
		assert.Equal(t, verdict.Deny, res.Verdict)
		assert.Contains(t, res.Reasons, signals.DenyListedReason)
		bot := h.eval(t, ato.Request{User: "monitoring-bot", Fingerprint: phone, IP: newYorkIP})
		assert.Equal(t, verdict.Allow, bot.Verdict, "allow_listed wins")
	}, ato.WithAllowList(allow), ato.WithDenyList(deny))
}

func TestTheOwnersKnownDeviceOnAnAttackedNetwork(t *testing.T) {
	t.Parallel()
	geoStores(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: amsterdamIP})
		h.clock.Advance(12 * time.Hour)
		// A stuffing run from alice's hotel network, which she never used.
		for i := range 10 {
			require.NoError(t, h.engine.RecordFailure(t.Context(), ato.Request{User: "victim" + string(rune('a'+i)), IP: newYorkIP}))
		}
		res := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: newYorkIP})
		assert.Contains(t, res.Reasons, signals.CredentialStuffingReason)
		assert.NotEqual(t, verdict.Deny, res.Verdict, "row 3 spares the owner's known device")

		// Behind a VPN on her own laptop she is not challenged either.
		vpn := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: vpnIP})
		assert.Contains(t, vpn.Reasons, signals.AnonymousIPReason)
		assert.NotEqual(t, verdict.Challenge, vpn.Verdict)
	})
}

func TestFailuresInOneIPv6Slash64CountTogether(t *testing.T) {
	t.Parallel()
	geoStores(t, func(t *testing.T, h *harness) {
		for i := range 10 {
			ip := "2001:db8:7:7::" + strconv.Itoa(i+1)
			require.NoError(t, h.engine.RecordFailure(t.Context(), ato.Request{User: "victim" + string(rune('a'+i)), IP: ip}))
		}
		res := h.eval(t, ato.Request{User: "bob", Fingerprint: phone, IP: "2001:db8:7:7:ffff::1"})
		assert.Contains(t, res.Reasons, signals.CredentialStuffingReason, "ten addresses of one /64 are one network")
	})
}
