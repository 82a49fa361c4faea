package signals_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func success(network, country string, at time.Time) storage.Event {
	return storage.Event{Time: at, Success: true, Network: network, IP: network, Country: country}
}

func TestInputHelpers(t *testing.T) {
	t.Parallel()
	in := &signals.Input{
		Now:        now,
		KnownSince: now.Add(-90 * 24 * time.Hour),
		History: []storage.Event{
			{Time: now.Add(-time.Hour), Network: "192.0.2.1", Country: "FR"}, // challenged: teaches nothing
			success("203.0.113.9", "NL", now.Add(-2*time.Hour)),
			success("198.51.100.1", "DE", now.Add(-100*24*time.Hour)), // too old
		},
	}
	assert.False(t, in.NewUser())
	assert.True(t, in.KnownNetwork("203.0.113.9"))
	assert.False(t, in.KnownNetwork("192.0.2.1"), "only successes make a network known")
	assert.False(t, in.KnownNetwork("198.51.100.1"), "only successes inside the window count")
	assert.False(t, in.KnownNetwork(""))
	assert.True(t, in.KnownCountry("NL"))
	assert.False(t, in.KnownCountry("FR"))
	assert.False(t, in.KnownCountry("DE"))
	last, ok := in.LastSuccess()
	require.True(t, ok)
	assert.Equal(t, "203.0.113.9", last.IP)

	fresh := &signals.Input{History: []storage.Event{{Time: now, Network: "192.0.2.1"}}}
	assert.True(t, fresh.NewUser(), "failed attempts alone do not make a user known")
	_, ok = fresh.LastSuccess()
	assert.False(t, ok)
	fresh.Devices = []storage.UserDevice{{}}
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
		Devices: []storage.UserDevice{{Link: storage.Link{DeviceID: "dev-1"}}},
		History: []storage.Event{success("203.0.113.9", "NL", now.Add(-time.Hour))},
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

	newUser := &signals.Input{Now: now, User: "bob", Device: signals.Device{ID: "d", Match: signals.MatchNew}, Network: "203.0.113.9", IP: mustAddr(t, "203.0.113.9")}
	assert.Len(t, detect(t, signals.NewUser(), newUser), 1)
	assert.Empty(t, detect(t, signals.NewDevice(), newUser), "a new user's device is not reported new")
	assert.Empty(t, detect(t, signals.NewIP(), newUser), "nor its IP")

	bare := &signals.Input{Now: now, User: "carol", UserAgent: "curl/8"}
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
