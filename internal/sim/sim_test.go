package sim

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/signals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// data returns the real data, skipping the test without it (failing in CI,
// which installs it).
func data(t *testing.T) Data {
	t.Helper()
	d, err := DefaultData()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must install the data: %v", err)
		}
		t.Skip(err)
	}
	return d
}

// render is the report without its wall-clock time.
func render(r *Report) string {
	c := *r
	c.Elapsed = 0
	return c.Markdown()
}

// TestReport runs the CI-size simulation and checks the population it
// measured: seasoned users have the history claimed, attackers' addresses
// are where their attack says, and the report has every row. It asserts
// no targets. ATO_SIM_REPORT=1 prints the table (-v).
func TestReport(t *testing.T) {
	d := data(t)
	cfg := CISize
	cfg.Data = &d
	rep, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	if os.Getenv("ATO_SIM_REPORT") != "" {
		t.Log("\n" + rep.Markdown())
	}

	// the population
	assert.Equal(t, cfg.Users, rep.Users)
	assert.Greater(t, rep.Seasoned, cfg.Users/2, "most users are seasoned by the end")
	assert.Greater(t, rep.mobileUsers, cfg.Users/2)
	assert.Positive(t, rep.offices)
	assert.Positive(t, rep.trips)
	assert.Positive(t, rep.natAddrs)

	// seasoned users have the history claimed
	require.Positive(t, rep.total.Count)
	assert.GreaterOrEqual(t, rep.minDays, cfg.withDefaults().SeasonedAfter.Hours()/24)
	assert.GreaterOrEqual(t, rep.minLogins, cfg.withDefaults().SeasonedLogins)
	assert.Positive(t, rep.unseasoned, "new users' logins are left out")

	// every row, with something in it
	var names []string
	for _, row := range rep.Legit {
		names = append(names, row.Name)
	}
	assert.Equal(t, append(slices.Clone(scenarioOrder), rep.total.Name), names)
	sum := 0
	for _, row := range rep.Legit[:len(rep.Legit)-1] {
		sum += row.Count
		if row.Name != scCleared && row.Name != scNewDevice {
			assert.Positive(t, row.Count, row.Name)
		}
	}
	assert.Equal(t, rep.total.Count, sum, "each measured login is in one scenario")
	require.Len(t, rep.Attacks, len(attackOrder))
	for i, a := range rep.Attacks {
		assert.Equal(t, attackOrder[i], a.Name)
		assert.Positive(t, a.Count, a.Name)
		if strings.HasPrefix(a.Name, "stuffing") {
			assert.Greater(t, a.Tries, 10*a.Count, "%s: a few per cent of tries are hits", a.Name)
		} else {
			assert.Equal(t, cfg.Attacks, a.Count+a.Skipped, a.Name)
		}
	}
	md := rep.Markdown()
	for _, row := range append(scenarioOrder, attackOrder...) {
		assert.Contains(t, md, "| "+row+" |")
	}

	// attackers' addresses are where the attack says
	loc, err := locator(d)
	require.NoError(t, err)
	require.NotEmpty(t, rep.checks)
	kinds := map[string]int{}
	for _, c := range rep.checks {
		kinds[c.where]++
		l, ok := loc.Locate(c.ip)
		require.True(t, ok, "%s %s is located", c.kind, c.ip)
		v := c.victim
		switch {
		case c.where == "victim's city":
			km := signals.DistanceKm(l.Latitude, l.Longitude, v.home.at.Lat, v.home.at.Lon)
			assert.LessOrEqual(t, km, 31.0, "%s from %s (%s) for a victim in %s", c.kind, c.ip, l.City, v.home.at.City)
		case c.where == "victim's carrier":
			assert.Contains(t, v.carrier.spec.asns, l.ASN, "%s from %s (AS%d %s), victim on %s", c.kind, c.ip, l.ASN, l.ASOrg, v.carrier.spec.name)
		case c.where == "abroad":
			assert.NotEqual(t, v.country.code, l.Country, "%s from %s", c.kind, c.ip)
		case c.where == "victim's country":
			assert.Equal(t, v.country.code, l.Country, "%s from %s", c.kind, c.ip)
		case strings.HasPrefix(c.where, "VPN exit"):
			assert.Contains(t, vpnASNs, l.ASN, "%s from %s (AS%d %s)", c.kind, c.ip, l.ASN, l.ASOrg)
		default:
			t.Errorf("unknown origin %q", c.where)
		}
	}
	for _, w := range []string{"victim's city", "victim's carrier", "abroad", "victim's country"} {
		assert.Positive(t, kinds[w], w)
	}
}

// TestDeterministic: one seed, one report; another seed, another.
func TestDeterministic(t *testing.T) {
	d := data(t)
	cfg := Config{Users: 80, Weeks: 6, Attacks: 10, Stuffing: 300, Seed: 7, Data: &d}
	a, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	b, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, render(a), render(b))
	cfg.Seed = 8
	c, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.NotEqual(t, render(a), render(c))
}

// TestHashCalibration: the browser model keeps the similarities measured
// with the real SDK (RUPT-COMPAT.md) for one changed property.
func TestHashCalibration(t *testing.T) {
	c := config{OS: "win11", Family: "chrome", Form: desktop, Major: 156, Patch: 1, Screen: "1920x1080", DPR: "1",
		GPU: "Intel Iris Xe", HW: "8c/8g", Media: "cam1/mic1/spk1", Quota: "512G", TZ: "NL/+1", Lang: "en-US", Audio: "48000"}
	base := c.hash()
	require.Len(t, base, hashLen)
	sim := func(f func(*config)) float64 {
		d := c
		f(&d)
		return fingerprint.Similarity(base, d.hash())
	}
	for _, tc := range []struct {
		name     string
		change   func(*config)
		measured float64
	}{
		{"timezone", func(d *config) { d.TZ = "US/-5" }, 0.978},
		{"locale", func(d *config) { d.Lang = "de-DE" }, 0.979},
		{"user-agent patch", func(d *config) { d.Patch++ }, 0.972},
		{"window size", func(d *config) { d.Screen = "2560x1440" }, 0.962},
	} {
		assert.InDelta(t, tc.measured, sim(tc.change), 0.006, tc.name)
	}
	assert.Equal(t, 1.0, sim(func(*config) {}))
	assert.Less(t, sim(func(d *config) { d.Noise = 42 }), 0.95, "a privacy browser's session is a new device")
}
