package profile_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/ato/profile"
)

var t0 = time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)

var small = profile.Limits{Devices: 3, Networks: 3, Countries: 2, ASNs: 2}

// login applies a successful login from the device and network at the time.
func login(t *testing.T, p profile.Profile, device, network string, at time.Time, lim profile.Limits) (profile.Profile, []string) {
	t.Helper()
	l := profile.Login{Time: at, DeviceID: device, IP: network, Network: network, Located: true, Country: "NL", ASN: 1136}
	next, gone, err := p.Apply(profile.Change{Now: at, Login: &l, Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	return next, gone
}

func ids(ds []profile.Device) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func TestLearn(t *testing.T) {
	var p profile.Profile
	if !p.New() {
		t.Fatal("an empty profile is a new user's")
	}
	p, _ = login(t, p, "laptop", "203.0.113.9", t0, profile.DefaultLimits)
	p, _ = login(t, p, "laptop", "203.0.113.9", t0.Add(time.Hour), profile.DefaultLimits)
	p, _ = login(t, p, "phone", "192.0.2.77", t0.Add(2*time.Hour), profile.DefaultLimits)
	if p.New() {
		t.Error("a user with logins is not new")
	}
	if got := ids(p.Devices); !slices.Equal(got, []string{"phone", "laptop"}) {
		t.Errorf("devices most recently seen first: %v", got)
	}
	d, _ := p.Device("laptop")
	if d.Logins != 2 || !d.FirstSeen.Equal(t0) || !d.LastSeen.Equal(t0.Add(time.Hour)) {
		t.Errorf("laptop: %+v", *d)
	}
	if !p.KnownNetwork("203.0.113.9", t0) || p.KnownNetwork("203.0.113.9", t0.Add(90*time.Minute)) {
		t.Error("a network is known while seen since the time")
	}
	if p.Last.DeviceID != "phone" || !p.Last.Time.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("last login: %+v", p.Last)
	}
	// A replayed older login counts, but is not the latest.
	p, _ = login(t, p, "laptop", "198.51.100.1", t0.Add(-time.Hour), profile.DefaultLimits)
	if p.Last.DeviceID != "phone" {
		t.Errorf("an older login must not become the last: %+v", p.Last)
	}
	if d, _ := p.Device("laptop"); !d.FirstSeen.Equal(t0.Add(-time.Hour)) || d.Logins != 3 {
		t.Errorf("an older login widens FirstSeen: %+v", *d)
	}
}

// A device keeps the user agent of its latest login that gave one, cut to
// MaxUserAgent bytes at a character's start.
func TestDeviceUserAgent(t *testing.T) {
	t.Parallel()
	apply := func(p profile.Profile, at time.Time, ua string) profile.Profile {
		t.Helper()
		l := profile.Login{Time: at, DeviceID: "laptop", IP: "203.0.113.9", Network: "203.0.113.9", UserAgent: ua}
		next, _, err := p.Apply(profile.Change{Now: at, Login: &l, Limits: profile.DefaultLimits})
		if err != nil {
			t.Fatal(err)
		}
		return next
	}
	ua := func(p profile.Profile) string {
		d, ok := p.Device("laptop")
		if !ok {
			t.Fatal("no laptop")
		}
		return d.UserAgent
	}
	const chrome, firefox = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Firefox/133.0"
	p := apply(profile.Profile{}, t0, "")
	if got := ua(p); got != "" {
		t.Errorf("a login without a user agent: %q", got)
	}
	p = apply(p, t0.Add(time.Hour), chrome)
	if got := ua(p); got != chrome {
		t.Errorf("the latest login's: %q", got)
	}
	if p.Last.UserAgent != chrome {
		t.Errorf("the last login's: %q", p.Last.UserAgent)
	}
	p = apply(p, t0.Add(2*time.Hour), "")
	if got := ua(p); got != chrome {
		t.Errorf("a login without one must not erase it: %q", got)
	}
	p = apply(p, t0.Add(-time.Hour), firefox)
	if got := ua(p); got != chrome {
		t.Errorf("an older login's must not replace the latest's: %q", got)
	}
	p = apply(p, t0.Add(3*time.Hour), firefox)
	if got := ua(p); got != firefox {
		t.Errorf("a newer login's replaces it: %q", got)
	}

	// Long ones are cut, never inside a character.
	long := strings.Repeat("a", profile.MaxUserAgent-1) + "é" + "tail"
	p = apply(p, t0.Add(4*time.Hour), long)
	if got, want := ua(p), strings.Repeat("a", profile.MaxUserAgent-1); got != want {
		t.Errorf("cut to %d bytes (%d), want %d", profile.MaxUserAgent, len(got), len(want))
	}
	if got := p.Last.UserAgent; len(got) > profile.MaxUserAgent {
		t.Errorf("the last login keeps %d bytes", len(got))
	}
	exact := strings.Repeat("b", profile.MaxUserAgent)
	if got := ua(apply(p, t0.Add(5*time.Hour), exact+"c")); got != exact {
		t.Errorf("cut at the bound: %d bytes", len(got))
	}

	// An older login fills in a device's that it never had.
	q := apply(profile.Profile{}, t0, "")
	if got := ua(apply(q, t0.Add(-time.Hour), firefox)); got != firefox {
		t.Errorf("an older login's is better than none: %q", got)
	}
}

func TestApplyLeavesTheReceiverAsItWas(t *testing.T) {
	p, _ := login(t, profile.Profile{}, "laptop", "203.0.113.9", t0, profile.DefaultLimits)
	before := fmt.Sprintf("%+v", p)
	login(t, p, "laptop", "192.0.2.1", t0.Add(time.Hour), profile.DefaultLimits)
	login(t, p, "phone", "192.0.2.2", t0.Add(time.Hour), profile.DefaultLimits)
	r := profile.Restriction{DeviceID: "laptop", Until: t0.Add(time.Hour), Actions: []string{"payment"}}
	if _, _, err := p.Apply(profile.Change{Now: t0, Restrict: &r, Limits: profile.DefaultLimits}); err != nil {
		t.Fatal(err)
	}
	if after := fmt.Sprintf("%+v", p); after != before {
		t.Errorf("Apply changed its receiver:\n%s\n%s", before, after)
	}
}

// An often-used device outweighs newer one-off devices; a restricted one
// is never evicted.
func TestEvictionByRecencyAndFrequency(t *testing.T) {
	var p profile.Profile
	at := t0
	for range 8 {
		p, _ = login(t, p, "laptop", "203.0.113.9", at, small)
		at = at.Add(time.Hour)
	}
	var gone []string
	for i := range 4 {
		var g []string
		p, g = login(t, p, fmt.Sprint("oneoff", i), "203.0.113.9", at, small)
		gone = append(gone, g...)
		at = at.Add(time.Hour)
	}
	if got := ids(p.Devices); len(got) != 3 || !slices.Contains(got, "laptop") {
		t.Errorf("a device of 8 logins outweighs newer one-off devices; kept %v", got)
	}
	if !slices.Equal(gone, []string{"oneoff0", "oneoff1"}) {
		t.Errorf("the lightest went, one at a time: %v", gone)
	}

	r := profile.Restriction{DeviceID: "oneoff2", Until: at.Add(72 * time.Hour), Actions: []string{"payment"}}
	p, _, _ = p.Apply(profile.Change{Now: at, Restrict: &r, Limits: small})
	for i := range 5 {
		p, _ = login(t, p, fmt.Sprint("more", i), "203.0.113.9", at, small)
	}
	if !slices.Contains(ids(p.Devices), "oneoff2") {
		t.Errorf("a restricted device is never evicted: %v", ids(p.Devices))
	}
	if len(p.Networks) > small.Networks || len(p.Countries) > small.Countries {
		t.Errorf("places are bounded too: %d networks, %d countries", len(p.Networks), len(p.Countries))
	}
}

func TestPlacesKeepTheOftenUsed(t *testing.T) {
	var p profile.Profile
	at := t0
	for range 20 {
		p, _ = login(t, p, "laptop", "home", at, small)
		at = at.Add(time.Minute)
	}
	p, _ = login(t, p, "laptop", "office", at, small)
	for i := range 10 {
		p, _ = login(t, p, "laptop", fmt.Sprint("hotel", i), at.Add(time.Duration(i)*time.Minute), small)
	}
	if !p.KnownNetwork("home", t0) {
		t.Error("home, used 20 times, outweighs a run of one-off networks")
	}
}

func TestRestrictions(t *testing.T) {
	p, _ := login(t, profile.Profile{}, "laptop", "203.0.113.9", t0, profile.DefaultLimits)
	apply := func(c profile.Change) profile.Profile {
		t.Helper()
		c.Limits = profile.DefaultLimits
		next, _, err := p.Apply(c)
		if err != nil {
			t.Fatal(err)
		}
		return next
	}
	p = apply(profile.Change{Now: t0, Restrict: &profile.Restriction{DeviceID: "laptop", Until: t0.Add(72 * time.Hour), Actions: []string{"payment", "email_change"}}})
	d, _ := p.Device("laptop")
	if !d.Holds("payment", t0) || d.Holds("payment", t0.Add(72*time.Hour)) || d.Holds("login", t0) {
		t.Errorf("restriction: %+v", *d)
	}
	// In force: extended, actions merged.
	p = apply(profile.Change{Now: t0.Add(time.Hour), Restrict: &profile.Restriction{DeviceID: "laptop", Until: t0.Add(time.Hour), Actions: []string{"payment", "withdraw"}}})
	d, _ = p.Device("laptop")
	if !d.RestrictedUntil.Equal(t0.Add(72*time.Hour)) || !slices.Equal(d.Restrictions, []string{"email_change", "payment", "withdraw"}) {
		t.Errorf("extended restriction: %+v", *d)
	}
	if until, actions := p.RestrictionInForce(t0); !until.Equal(t0.Add(72*time.Hour)) || len(actions) != 3 {
		t.Errorf("in force: %v %v", until, actions)
	}
	// Forgetting a restricted device fails; lifted, it works.
	if _, _, err := p.Apply(profile.Change{Now: t0, Forget: "laptop", Limits: profile.DefaultLimits}); !errors.Is(err, profile.ErrRestricted) {
		t.Errorf("forgetting a restricted device: %v", err)
	}
	p = apply(profile.Change{Now: t0, Lift: "laptop"})
	next, gone, err := p.Apply(profile.Change{Now: t0, Forget: "laptop", Limits: profile.DefaultLimits})
	if err != nil || len(next.Devices) != 0 || !slices.Equal(gone, []string{"laptop"}) {
		t.Errorf("forgetting a lifted device: %v %v %v", err, next.Devices, gone)
	}
	if _, _, err := next.Apply(profile.Change{Now: t0, Forget: "laptop", Limits: profile.DefaultLimits}); !errors.Is(err, profile.ErrNoDevice) {
		t.Errorf("forgetting an unknown device: %v", err)
	}
}

func TestAJoiningDeviceInheritsTheRestrictionInForce(t *testing.T) {
	p, _ := login(t, profile.Profile{}, "laptop", "203.0.113.9", t0, profile.DefaultLimits)
	p, _ = login(t, p, "tablet", "203.0.113.9", t0, profile.DefaultLimits)
	restrict := func(device string, until time.Time, actions ...string) {
		next, _, err := p.Apply(profile.Change{Now: t0, Restrict: &profile.Restriction{DeviceID: device, Until: until, Actions: actions}, Limits: profile.DefaultLimits})
		if err != nil {
			t.Fatal(err)
		}
		p = next
	}
	restrict("laptop", t0.Add(72*time.Hour), "payment")
	restrict("tablet", t0.Add(24*time.Hour), "email_change")
	for _, tc := range []struct {
		name   string
		r      profile.Restriction
		at     time.Time
		until  time.Time
		action []string
	}{
		{"nothing asked: both in force", profile.Restriction{DeviceID: "phone"}, t0.Add(time.Hour),
			t0.Add(72 * time.Hour), []string{"email_change", "payment"}},
		{"one asked, the later end wins", profile.Restriction{DeviceID: "phone", Until: t0.Add(100 * time.Hour), Actions: []string{"mfa_change"}},
			t0.Add(time.Hour), t0.Add(100 * time.Hour), []string{"email_change", "mfa_change", "payment"}},
		{"the tablet's ended", profile.Restriction{DeviceID: "phone"}, t0.Add(48 * time.Hour), t0.Add(72 * time.Hour), []string{"payment"}},
		{"none in force", profile.Restriction{DeviceID: "phone"}, t0.Add(72 * time.Hour), time.Time{}, nil},
	} {
		got := p.Inherit(tc.r, tc.at)
		slices.Sort(got.Actions)
		if got.DeviceID != "phone" || !got.Until.Equal(tc.until) || !slices.Equal(got.Actions, tc.action) {
			t.Errorf("%s: %+v", tc.name, got)
		}
	}
}
