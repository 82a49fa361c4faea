package signals_test

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/signals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// located is an attempt by a returning user from a located IP.
func located(loc signals.Location, history ...profile.Login) *signals.Input {
	p := learnt([]string{"dev-1"}, history...)
	d, _ := p.Device("dev-1")
	return &signals.Input{
		Now: now, KnownSince: now.Add(-90 * 24 * time.Hour), User: "alice", Action: "login",
		IP: netip.MustParseAddr("198.51.100.7"), Network: "198.51.100.7",
		Location: loc, Located: true,
		Device:  signals.Device{ID: "dev-1", Known: true, Profile: d},
		Profile: p,
	}
}

func loginAt(city, country string, lat, lon, acc float64, at time.Time) profile.Login {
	return profile.Login{Time: at, IP: "203.0.113.9", Network: "203.0.113.9", Located: true,
		City: city, Country: country, Latitude: lat, Longitude: lon, AccuracyKm: acc}
}

var (
	amsterdam = signals.Location{City: "Amsterdam", Country: "NL", Latitude: 52.37, Longitude: 4.90, AccuracyKm: 20}
	newYork   = signals.Location{City: "New York", Country: "US", Latitude: 40.71, Longitude: -74.01, AccuracyKm: 20}
	brussels  = signals.Location{City: "Brussels", Country: "BE", Latitude: 50.85, Longitude: 4.35, AccuracyKm: 20}
)

func TestNewCountry(t *testing.T) {
	t.Parallel()
	home := loginAt("Amsterdam", "NL", 52.37, 4.90, 20, now.Add(-24*time.Hour))
	fs := detect(t, signals.NewCountry(), located(newYork, home))
	require.Len(t, fs, 1)
	assert.Equal(t, "US", fs[0].Evidence["country"])
	assert.Equal(t, "NL", fs[0].Evidence["known_countries"])
	assert.Contains(t, fs[0].Detail, "new country US; known: NL")

	assert.Empty(t, detect(t, signals.NewCountry(), located(amsterdam, home)), "a known country")
	old := loginAt("New York", "US", 40.71, -74.01, 20, now.Add(-100*24*time.Hour))
	assert.Len(t, detect(t, signals.NewCountry(), located(newYork, home, old)), 1, "a country last used long ago is new again")
	notLocated := located(newYork, home)
	notLocated.Located = false
	assert.Empty(t, detect(t, signals.NewCountry(), notLocated))
}

func TestImpossibleTravel(t *testing.T) {
	t.Parallel()
	sig := signals.ImpossibleTravel(0, 0)
	// Amsterdam to New York (~5,860 km) in 2 hours: impossible.
	fs := detect(t, sig, located(newYork, loginAt("Amsterdam", "NL", 52.37, 4.90, 20, now.Add(-2*time.Hour))))
	require.Len(t, fs, 1)
	ev := fs[0].Evidence
	assert.Equal(t, "Amsterdam, NL", ev["from"])
	assert.Equal(t, "New York, US", ev["to"])
	assert.Equal(t, "2.00", ev["hours"])
	assert.InDelta(t, 5820, atof(t, ev["distance_km"]), 30, "distance less both accuracy radii")
	assert.InDelta(t, 2910, atof(t, ev["speed_kmh"]), 20)
	assert.Contains(t, fs[0].Detail, "from Amsterdam, NL to New York, US")

	// The traveller who took a flight: 9 hours later is fine.
	assert.Empty(t, detect(t, sig, located(newYork, loginAt("Amsterdam", "NL", 52.37, 4.90, 20, now.Add(-9*time.Hour)))))
	// A short hop, however fast: Amsterdam to Brussels (~175 km) is ignored.
	assert.Empty(t, detect(t, sig, located(brussels, loginAt("Amsterdam", "NL", 52.37, 4.90, 20, now.Add(-time.Minute)))))
	// Wide accuracy radii swallow the distance: 500 km apart, 300 km each.
	vague := signals.Location{Country: "DE", Latitude: 52.52, Longitude: 13.40, AccuracyKm: 300}
	assert.Empty(t, detect(t, sig, located(vague, loginAt("", "NL", 52.37, 5.9, 300, now.Add(-time.Minute)))))
	// No coordinates at either end: never.
	countryOnly := signals.Location{Country: "US"}
	assert.Empty(t, detect(t, sig, located(countryOnly, loginAt("Amsterdam", "NL", 52.37, 4.90, 20, now.Add(-time.Minute)))))
	assert.Empty(t, detect(t, sig, located(newYork, loginAt("", "NL", 0, 0, 0, now.Add(-time.Minute)))))
	// Options: a slower threshold catches the 9-hour trip.
	assert.Len(t, detect(t, signals.ImpossibleTravel(200, 500), located(newYork, loginAt("Amsterdam", "NL", 52.37, 4.90, 20, now.Add(-9*time.Hour)))), 1)
}

func atof(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return f
}

func TestAnonymousIP(t *testing.T) {
	t.Parallel()
	list, err := signals.ReadIPSet(strings.NewReader("# tor exits\n198.51.100.7\n192.0.2.0/24 # a range\n\n"))
	require.NoError(t, err)
	assert.Equal(t, 2, list.Len())

	fs := detect(t, signals.AnonymousIP(list), located(amsterdam))
	require.Len(t, fs, 1)
	assert.Equal(t, "list", fs[0].Evidence["source"])
	assert.Equal(t, "198.51.100.7", fs[0].Evidence["entry"])

	flagged := located(amsterdam)
	flagged.IP, flagged.Location.Anonymous = netip.MustParseAddr("203.0.113.50"), true
	fs = detect(t, signals.AnonymousIP(nil), flagged)
	require.Len(t, fs, 1)
	assert.Equal(t, "geo data", fs[0].Evidence["source"])

	clean := located(amsterdam)
	clean.IP = netip.MustParseAddr("203.0.113.50")
	assert.Empty(t, detect(t, signals.AnonymousIP(list), clean))
	inRange := located(amsterdam)
	inRange.IP = netip.MustParseAddr("::ffff:192.0.2.99")
	assert.Len(t, detect(t, signals.AnonymousIP(list), inRange), 1, "networks and mapped addresses match")

	_, err = signals.ReadIPSet(strings.NewReader("198.51.100.7\nnot-an-ip\n"))
	require.ErrorContains(t, err, "line 2")
}

func TestHostingIP(t *testing.T) {
	t.Parallel()
	aws := amsterdam
	aws.ASN = 16509
	fs := detect(t, signals.HostingIP(nil), located(aws))
	require.Len(t, fs, 1)
	assert.Equal(t, "16509", fs[0].Evidence["asn"])
	assert.Equal(t, "Amazon AWS", fs[0].Evidence["as_org"])

	isp := amsterdam
	isp.ASN, isp.ASOrg = 1136, "KPN"
	assert.Empty(t, detect(t, signals.HostingIP(nil), located(isp)), "a residential ISP")
	assert.Len(t, detect(t, signals.HostingIP(map[uint32]string{1136: "lab"}), located(isp)), 1, "operators add ASNs")
	flagged := isp
	flagged.Hosting = true
	fs = detect(t, signals.HostingIP(nil), located(flagged))
	require.Len(t, fs, 1)
	assert.Equal(t, "geo data", fs[0].Evidence["source"])
}

func TestBruteForce(t *testing.T) {
	t.Parallel()
	in := located(amsterdam)
	in.Failures = signals.FailureCounts{User: 9, UserUnknown: 5}
	fs := detect(t, signals.BruteForce(0, 0), in)
	require.Len(t, fs, 1)
	assert.Equal(t, "5", fs[0].Evidence["failures"])
	assert.Equal(t, "15m0s", fs[0].Evidence["window"])

	owner := located(amsterdam)
	owner.Failures = signals.FailureCounts{User: 9, UserUnknown: 4}
	assert.Empty(t, detect(t, signals.BruteForce(0, 0), owner), "the owner's own typos from known devices do not count")
	assert.Len(t, detect(t, signals.BruteForce(3, time.Minute), owner), 1)
}

func TestCredentialStuffing(t *testing.T) {
	t.Parallel()
	in := located(amsterdam)
	in.Failures.NetworkUsers = 10
	fs := detect(t, signals.CredentialStuffing(0, 0), in)
	require.Len(t, fs, 1)
	assert.Equal(t, "198.51.100.7", fs[0].Evidence["network"])
	assert.Equal(t, "10", fs[0].Evidence["users"])

	nat := located(amsterdam)
	nat.Failures.NetworkUsers = 9 // the NAT's own users who know it are not counted by the store
	assert.Empty(t, detect(t, signals.CredentialStuffing(0, 0), nat))

	// The slow shape: under 10 users an hour, but names that are not
	// accounts pile up in the longer window.
	slow := located(amsterdam)
	slow.Failures = signals.FailureCounts{NetworkUsers: 6, NetworkUnknown: 5}
	fs = detect(t, signals.CredentialStuffing(0, 0), slow)
	require.Len(t, fs, 1)
	assert.Equal(t, "5", fs[0].Evidence["unknown_users"])
	assert.Equal(t, "3h0m0s", fs[0].Evidence["unknown_window"])
	assert.Contains(t, fs[0].Detail, "5 user names that are not accounts failed to log in from 198.51.100.7 in the last 3 hours (threshold 5)")
	assert.Equal(t, "5 unknown user names failing from 198.51.100.7 in 3 hours", fs[0].Summary())

	// A carrier NAT's own users mistyping their passwords are accounts:
	// however many of them, only the short window counts them, and a
	// stray mistyped name or four does not make a campaign.
	carrier := located(amsterdam)
	carrier.Failures = signals.FailureCounts{NetworkUsers: 9, NetworkUnknown: 4}
	assert.Empty(t, detect(t, signals.CredentialStuffing(0, 0), carrier))

	cfg := signals.Config{CredentialStuffing: signals.CredentialStuffingConfig{UnknownUsers: 20}}
	var cs signals.Signal
	for _, s := range signals.Builtin(cfg) {
		if s.Name() == string(signals.CredentialStuffingReason) {
			cs = s
		}
	}
	require.NotNil(t, cs)
	assert.Empty(t, detect(t, cs, slow), "Config sets the threshold of names that are not accounts")
	slow.Failures.NetworkUnknown = 20
	assert.Len(t, detect(t, cs, slow), 1)

	none := located(amsterdam)
	none.Network, none.IP = "", netip.Addr{}
	none.Failures = signals.FailureCounts{NetworkUsers: 50, NetworkUnknown: 50}
	assert.Empty(t, detect(t, signals.CredentialStuffing(0, 0), none), "no network, no network's count")
}

func TestStuffingCampaign(t *testing.T) {
	t.Parallel()
	in := located(amsterdam)
	in.Failures.CampaignUsers = 24
	assert.Empty(t, detect(t, signals.StuffingCampaign(0, 0), in), "under the default threshold")
	in.Failures.CampaignUsers = 25
	fs := detect(t, signals.StuffingCampaign(0, 0), in)
	require.Len(t, fs, 1)
	assert.Equal(t, signals.StuffingCampaignScore, fs[0].Score)
	assert.Equal(t, map[string]string{"unknown_users": "25", "window": "15m0s", "threshold": "25"}, fs[0].Evidence)
	assert.Equal(t, "25 user names that are not accounts failed to log in, from any network, in the last 15 minutes (threshold 25): a credential-stuffing campaign", fs[0].Detail)
	assert.Equal(t, "stuffing campaign: 25 unknown user names failing in 15 minutes", fs[0].Summary())

	// A busy site raises the threshold above its own users' mistyped
	// names.
	assert.Empty(t, detect(t, signals.StuffingCampaign(200, time.Hour), in))
	in.Failures.CampaignUsers = 200
	assert.Len(t, detect(t, signals.StuffingCampaign(200, time.Hour), in), 1)

	// It is global: the attempt's own network does not matter.
	in.Network, in.IP = "", netip.Addr{}
	assert.Len(t, detect(t, signals.StuffingCampaign(200, time.Hour), in), 1)
}

func TestMultipleAccountsPerDevice(t *testing.T) {
	t.Parallel()
	signup := located(amsterdam)
	signup.Action, signup.Device = "signup", signals.Device{ID: "dev-9"}
	signup.DeviceUsers = 5 // four accounts already; this signup is the fifth
	fs := detect(t, signals.MultipleAccounts(0, 0, 0), signup)
	require.Len(t, fs, 1)
	assert.Equal(t, "5", fs[0].Evidence["accounts"])
	assert.Equal(t, "signup", fs[0].Evidence["action"])

	login := located(amsterdam)
	login.DeviceUsers = 5 // a family computer: five accounts, this one among them
	assert.Empty(t, detect(t, signals.MultipleAccounts(0, 0, 0), login), "login needs 10")
	login.DeviceUsers = 10
	assert.Len(t, detect(t, signals.MultipleAccounts(0, 0, 0), login), 1)
}

func TestLists(t *testing.T) {
	t.Parallel()
	allow, err := signals.ReadList(strings.NewReader("user ci-bot\nip 10.0.0.0/8\n"))
	require.NoError(t, err)
	deny, err := signals.ReadList(strings.NewReader("country KP\nasn AS64500\ndevice dev-stolen\nip 198.51.100.7\n"))
	require.NoError(t, err)
	sig := signals.Lists(allow, deny)

	fs := detect2(t, sig, located(amsterdam))
	require.Len(t, fs, 1)
	assert.Equal(t, signals.DenyListedReason, fs[0].Reason)
	assert.Equal(t, "ip 198.51.100.7", fs[0].Evidence["entry"])

	bot := located(amsterdam)
	bot.User, bot.IP = "ci-bot", netip.MustParseAddr("203.0.113.1")
	fs = detect2(t, sig, bot)
	require.Len(t, fs, 1)
	assert.Equal(t, signals.AllowListedReason, fs[0].Reason)

	byASN := located(signals.Location{Country: "NL", ASN: 64500})
	byASN.IP = netip.MustParseAddr("203.0.113.1")
	assert.Equal(t, "asn 64500", detect2(t, sig, byASN)[0].Evidence["entry"])
	byDevice := located(amsterdam)
	byDevice.IP, byDevice.Device.ID = netip.MustParseAddr("203.0.113.1"), "dev-stolen"
	assert.Equal(t, "device dev-stolen", detect2(t, sig, byDevice)[0].Evidence["entry"])

	for _, bad := range []string{"colour red", "asn twelve", "country Netherlands", "ip 1.2.3", "user"} {
		_, err := signals.ReadList(strings.NewReader("user ok\n" + bad + "\n"))
		assert.ErrorContains(t, err, "line 2", bad)
	}
}

// detect2 is detect for signals whose name is not a reason.
func detect2(t *testing.T, s signals.Signal, in *signals.Input) []signals.Finding {
	t.Helper()
	fs, err := s.Detect(t.Context(), in)
	require.NoError(t, err)
	for _, f := range fs {
		assert.NotEmpty(t, f.Detail)
		assert.NotEmpty(t, f.Evidence)
	}
	return fs
}

func TestDistanceKm(t *testing.T) {
	t.Parallel()
	assert.InDelta(t, 5860, signals.DistanceKm(52.37, 4.90, 40.71, -74.01), 20)
	assert.InDelta(t, 0, signals.DistanceKm(1, 2, 1, 2), 1e-9)
	assert.InDelta(t, 20015, signals.DistanceKm(0, 0, 0, 180), 5)
}

func TestImpossibleTravelEdgeCases(t *testing.T) {
	t.Parallel()
	sig := signals.ImpossibleTravel(0, 0)
	// A replay out of order: the last login is after the attempt.
	assert.Empty(t, detect(t, sig, located(newYork, loginAt("Amsterdam", "NL", 52.37, 4.90, 20, now.Add(5*time.Hour)))))
	// At the same instant: instant travel, and no Inf in the evidence.
	fs := detect(t, sig, located(newYork, loginAt("Amsterdam", "NL", 52.37, 4.90, 20, now)))
	require.Len(t, fs, 1)
	assert.Equal(t, "instant", fs[0].Evidence["speed_kmh"])
	// Unknown accuracy counts UnknownAccuracyKm at each end: 290 km apart
	// (more than 200) but 190 km after 2×50 km.
	a := signals.Location{Country: "NL", Latitude: 52.37, Longitude: 4.90}
	b := loginAt("", "DE", 51.23, 8.40, 0, now.Add(-time.Minute))
	require.Greater(t, signals.DistanceKm(a.Latitude, a.Longitude, b.Latitude, b.Longitude), 200.0)
	assert.Empty(t, detect(t, sig, located(a, b)))
}

func TestNewCountryNeedsALocatedPast(t *testing.T) {
	t.Parallel()
	unlocated := profile.Login{Time: now.Add(-time.Hour), Network: "10.0.0.1", IP: "10.0.0.1"}
	assert.Empty(t, detect(t, signals.NewCountry(), located(amsterdam, unlocated)),
		"geo data just turned on, or private addresses so far: nothing to compare with")
}

// TestNewIPFinding pins new_ip's whole finding, each way it is worded.
func TestNewIPFinding(t *testing.T) {
	t.Parallel()
	since := now.Add(-90 * 24 * time.Hour)
	input := func(ip, network string, logins ...profile.Login) *signals.Input {
		in := &signals.Input{Now: now, KnownSince: since, User: "alice", Network: network, Profile: learnt(nil, logins...)}
		if ip != "" {
			in.IP = netip.MustParseAddr(ip)
		}
		return in
	}
	home := success("203.0.113.9", "NL", now.Add(-time.Hour))
	old := success("203.0.113.9", "NL", now.Add(-100*24*time.Hour))
	for name, c := range map[string]struct {
		in       *signals.Input
		detail   string
		evidence map[string]string
	}{
		"after a login": {input("198.51.100.7", "198.51.100.7", home),
			"new IP 198.51.100.7; last successful login from 203.0.113.9",
			map[string]string{"ip": "198.51.100.7", "network": "198.51.100.7", "known_since": "2026-03-03T12:00:00Z", "last_ip": "203.0.113.9"}},
		"none since": {input("198.51.100.7", "198.51.100.7", old),
			"new IP 198.51.100.7; no successful login since 2026-03-03",
			map[string]string{"ip": "198.51.100.7", "network": "198.51.100.7", "known_since": "2026-03-03T12:00:00Z"}},
		"IPv6": {input("2001:db8:1:2::7", "2001:db8:1:2::/64", home),
			"new IP 2001:db8:1:2::7; last successful login from 203.0.113.9 (compared by /64: 2001:db8:1:2::/64)",
			map[string]string{"ip": "2001:db8:1:2::7", "network": "2001:db8:1:2::/64", "known_since": "2026-03-03T12:00:00Z", "last_ip": "203.0.113.9"}},
		"IPv6, none since": {input("2001:db8:1:2::7", "2001:db8:1:2::/64", old),
			"new IP 2001:db8:1:2::7; no successful login since 2026-03-03 (compared by /64: 2001:db8:1:2::/64)",
			map[string]string{"ip": "2001:db8:1:2::7", "network": "2001:db8:1:2::/64", "known_since": "2026-03-03T12:00:00Z"}},
		"no IP": {input("", "", home),
			"the request carried no IP address; an attempt without one counts as coming from an unknown network",
			map[string]string{"ip": "", "missing": "true", "known_since": "2026-03-03T12:00:00Z"}},
	} {
		fs := detect(t, signals.NewIP(), c.in)
		if assert.Len(t, fs, 1, name) {
			assert.Equal(t, signals.NewIPReason, fs[0].Reason, name)
			assert.Equal(t, signals.NewIPScore, fs[0].Score, name)
			assert.Equal(t, c.detail, fs[0].Detail, name)
			assert.Equal(t, c.evidence, fs[0].Evidence, name)
		}
	}
	assert.Empty(t, detect(t, signals.NewIP(), input("203.0.113.9", "203.0.113.9", home)), "a known network")
}

// BenchmarkNewIP is new_ip on a login from a network the user has not
// used (a phone's, which changes every login), after a login from home.
func BenchmarkNewIP(b *testing.B) {
	in := &signals.Input{Now: now, KnownSince: now.Add(-90 * 24 * time.Hour), User: "alice",
		IP: netip.MustParseAddr("100.64.3.7"), Network: "100.64.3.7",
		Profile: learnt(nil, success("203.0.113.9", "NL", now.Add(-time.Hour)))}
	s := signals.NewIP()
	b.ReportAllocs()
	for b.Loop() {
		if fs, _ := s.Detect(b.Context(), in); len(fs) != 1 {
			b.Fatal(fs)
		}
	}
}
