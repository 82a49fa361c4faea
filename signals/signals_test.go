package signals_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/signals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// success is a successful login from the network and country.
func success(network, country string, at time.Time) profile.Login {
	return profile.Login{Time: at, Network: network, IP: network, Located: country != "", Country: country}
}

// learnt is the profile of a user with the devices and the successful
// logins, applied in order.
func learnt(devices []string, logins ...profile.Login) *profile.Profile {
	p := profile.Profile{User: "alice"}
	for _, l := range logins {
		p, _, _ = p.Apply(profile.Change{Now: l.Time, Login: &l, Limits: profile.DefaultLimits})
	}
	for _, id := range devices {
		l := profile.Login{Time: now.Add(-48 * time.Hour), DeviceID: id}
		last := p.Last
		p, _, _ = p.Apply(profile.Change{Now: l.Time, Login: &l, Limits: profile.DefaultLimits})
		if !last.Time.IsZero() {
			p.Last = last
		}
	}
	return &p
}

func TestInputHelpers(t *testing.T) {
	t.Parallel()
	in := &signals.Input{
		Now:        now,
		KnownSince: now.Add(-90 * 24 * time.Hour),
		Profile: learnt(nil,
			success("198.51.100.1", "DE", now.Add(-100*24*time.Hour)), // too old
			success("203.0.113.9", "NL", now.Add(-2*time.Hour)),
		),
	}
	assert.False(t, in.NewUser())
	assert.True(t, in.KnownNetwork("203.0.113.9"))
	assert.False(t, in.KnownNetwork("192.0.2.1"), "only successes make a network known")
	assert.False(t, in.KnownNetwork("198.51.100.1"), "only successes inside the window count")
	assert.False(t, in.KnownNetwork(""))
	assert.True(t, in.KnownCountry("NL"))
	assert.False(t, in.KnownCountry("DE"))
	last, ok := in.LastSuccess()
	require.True(t, ok)
	assert.Equal(t, "203.0.113.9", last.IP)

	fresh := &signals.Input{Profile: &profile.Profile{User: "bob"}}
	assert.True(t, fresh.NewUser(), "failed attempts alone do not make a user known")
	_, ok = fresh.LastSuccess()
	assert.False(t, ok)
	fresh.Profile = &profile.Profile{Devices: []profile.Device{{ID: "d"}}}
	assert.False(t, fresh.NewUser(), "a known device does")
}

func detect(t *testing.T, s signals.Signal, in *signals.Input) []signals.Finding {
	t.Helper()
	fs, err := s.Detect(t.Context(), in)
	require.NoError(t, err)
	for _, f := range fs {
		assert.NotEmpty(t, f.Detail, "every finding says what was compared")
		assert.NotEmpty(t, f.Evidence)
		assert.Equal(t, string(f.Reason), s.Name())
	}
	return fs
}

func TestBuiltinSignals(t *testing.T) {
	t.Parallel()
	known := &signals.Input{
		Now: now, KnownSince: now.Add(-90 * 24 * time.Hour), User: "alice", Fingerprint: "fp",
		Network: "2001:db8:1:2::/64",
		Device:  signals.Device{ID: "dev-new", Match: signals.MatchNew},
		Profile: learnt([]string{"dev-1"}, success("203.0.113.9", "NL", now.Add(-time.Hour))),
	}
	ip := known.Network[:len("2001:db8:1:2::")] + "5"
	known.IP = mustAddr(t, ip)

	fs := detect(t, signals.NewDevice(), known)
	require.Len(t, fs, 1)
	assert.Equal(t, "dev-new", fs[0].Evidence["device_id"])

	fs = detect(t, signals.NewIP(), known)
	require.Len(t, fs, 1)
	assert.Equal(t, "203.0.113.9", fs[0].Evidence["last_ip"])
	assert.Contains(t, fs[0].Detail, "/64")

	assert.Empty(t, detect(t, signals.NewUser(), known))
	assert.Empty(t, detect(t, signals.MissingFingerprint(), known))

	newUser := &signals.Input{Now: now, User: "bob", Device: signals.Device{ID: "d", Match: signals.MatchNew}, Network: "203.0.113.9", IP: mustAddr(t, "203.0.113.9"),
		Profile: &profile.Profile{User: "bob"}}
	assert.Len(t, detect(t, signals.NewUser(), newUser), 1)
	assert.Empty(t, detect(t, signals.NewDevice(), newUser), "a new user's device is not reported new")
	assert.Empty(t, detect(t, signals.NewIP(), newUser), "nor its IP")

	bare := &signals.Input{Now: now, User: "carol", UserAgent: "curl/8", Profile: &profile.Profile{User: "carol"}}
	fs = detect(t, signals.MissingFingerprint(), bare)
	require.Len(t, fs, 1)
	assert.Equal(t, `"curl/8"`, fs[0].Evidence["user_agent"])
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	require.NoError(t, err)
	return a
}
