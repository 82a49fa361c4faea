package signals_test

import (
	"math"
	"testing"
	"time"

	"github.com/atoguard/ato/signals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	d := signals.Config{}.WithDefaults()
	assert.Equal(t, signals.ImpossibleTravelConfig{MinKm: 200, MaxKmh: 1000}, d.ImpossibleTravel)
	assert.Equal(t, signals.BruteForceConfig{Failures: 5, Window: 15 * time.Minute}, d.BruteForce)
	assert.Equal(t, signals.CredentialStuffingConfig{Users: 10, Window: time.Hour, UnknownUsers: 5, UnknownWindow: 3 * time.Hour}, d.CredentialStuffing)
	assert.Equal(t, signals.StuffingCampaignConfig{Users: 25, Window: 15 * time.Minute}, d.StuffingCampaign)
	assert.Equal(t, signals.MultipleAccountsConfig{AtSignup: 5, AtLogin: 10, Window: 30 * 24 * time.Hour}, d.MultipleAccounts)
	set := signals.Config{BruteForce: signals.BruteForceConfig{Failures: 3}}.WithDefaults()
	assert.Equal(t, signals.BruteForceConfig{Failures: 3, Window: 15 * time.Minute}, set.BruteForce, "a zero field takes its default, the others stay")
	require.NoError(t, signals.Config{}.Validate())
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]signals.Config{
		"negative distance":        {ImpossibleTravel: signals.ImpossibleTravelConfig{MinKm: -1}},
		"NaN speed":                {ImpossibleTravel: signals.ImpossibleTravelConfig{MaxKmh: math.NaN()}},
		"infinite speed":           {ImpossibleTravel: signals.ImpossibleTravelConfig{MaxKmh: math.Inf(1)}},
		"ASN 0":                    {HostingIP: signals.HostingIPConfig{ASNs: map[uint32]string{0: "x"}}},
		"negative failures":        {BruteForce: signals.BruteForceConfig{Failures: -1}},
		"too many failures":        {BruteForce: signals.BruteForceConfig{Failures: signals.MaxThreshold + 1}},
		"negative window":          {CredentialStuffing: signals.CredentialStuffingConfig{Window: -time.Minute}},
		"too many stuffing users":  {CredentialStuffing: signals.CredentialStuffingConfig{Users: signals.MaxThreshold + 1}},
		"too many unknown users":   {CredentialStuffing: signals.CredentialStuffingConfig{UnknownUsers: signals.MaxThreshold + 1}},
		"negative unknown users":   {CredentialStuffing: signals.CredentialStuffingConfig{UnknownUsers: -1}},
		"negative unknown window":  {CredentialStuffing: signals.CredentialStuffingConfig{UnknownWindow: -time.Hour}},
		"too many campaign users":  {StuffingCampaign: signals.StuffingCampaignConfig{Users: signals.MaxThreshold + 1}},
		"negative campaign window": {StuffingCampaign: signals.StuffingCampaignConfig{Window: -time.Minute}},
		"too many accounts":        {MultipleAccounts: signals.MultipleAccountsConfig{AtLogin: signals.MaxThreshold + 1}},
	} {
		assert.Error(t, c.Validate(), name)
	}
}

func TestBuiltinIsTheRegistrationOfEachDetector(t *testing.T) {
	t.Parallel()
	var names []string
	for _, s := range signals.Builtin(signals.Config{}) {
		names = append(names, s.Name())
		_, declares := s.(signals.Declarer)
		assert.True(t, declares, "%s declares its reasons", s.Name())
	}
	assert.Equal(t, []string{"new_user", "new_device", "device_token", "new_ip", "new_country", "impossible_travel", "anonymous_ip",
		"hosting_ip", "brute_force", "credential_stuffing", "stuffing_campaign", "multiple_accounts_per_device", "missing_fingerprint", "restricted"}, names)
	lists := signals.Builtin(signals.Config{Lists: signals.ListsConfig{Deny: &signals.List{}}})
	assert.Equal(t, "operator_lists", lists[len(lists)-1].Name(), "the lists run when there is one")

	var reasons []signals.Reason
	for _, ri := range signals.BuiltinReasons() {
		reasons = append(reasons, ri.Reason)
		assert.True(t, signals.IsBuiltin(ri.Reason))
		assert.NotEmpty(t, ri.Description, ri.Reason)
	}
	assert.ElementsMatch(t, []signals.Reason{"new_user", "new_device", "new_ip", "new_country", "impossible_travel",
		"anonymous_ip", "hosting_ip", "brute_force", "credential_stuffing", "stuffing_campaign", "multiple_accounts_per_device",
		"deny_listed", "allow_listed", "missing_fingerprint", "restricted", "too_many_challenges",
		"device_token_missing", "device_token_mismatch", "disowned_device"}, reasons)
	assert.False(t, signals.IsBuiltin("breached_password"))
}

func TestSummaries(t *testing.T) {
	t.Parallel()
	f := func(r signals.Reason, ev ...string) signals.Finding {
		m := map[string]string{}
		for i := 0; i+1 < len(ev); i += 2 {
			m[ev[i]] = ev[i+1]
		}
		return signals.Finding{Reason: r, Evidence: m}
	}
	for _, tc := range []struct {
		f    signals.Finding
		want string
	}{
		{f(signals.NewUserReason), "first login of the user"},
		{f(signals.NewDeviceReason), "new device"},
		{f(signals.NewIPReason, "ip", "203.0.113.9"), "new IP 203.0.113.9 (first seen)"},
		{f(signals.NewIPReason, "missing", "true"), "no IP address (an unknown network)"},
		{f(signals.NewCountryReason, "country", "US", "known_countries", "NL,DE"), "new country US (known: NL,DE)"},
		{f(signals.ImpossibleTravelReason, "from", "Amsterdam, NL", "to", "New York, US", "distance_km", "5760", "hours", "2.00"),
			"impossible travel from Amsterdam, NL to New York, US (5760 km in 2.00 h)"},
		{f(signals.ImpossibleTravelReason), "impossible travel"},
		{f(signals.AnonymousIPReason, "ip", "198.51.100.7"), "anonymous network 198.51.100.7"},
		{f(signals.HostingIPReason, "asn", "16509", "as_org", "Amazon AWS"), "hosting network AS16509 (Amazon AWS)"},
		{f(signals.BruteForceReason, "failures", "5", "window", "15m0s"), "5 failed passwords from unknown devices in 15 minutes"},
		{f(signals.CredentialStuffingReason, "users", "10", "network", "203.0.113.9", "window", "1h0m0s"),
			"10 users failing from 203.0.113.9 in 1 hour"},
		{f(signals.CredentialStuffingReason, "users", "12", "network", "203.0.113.9", "window", "1h0m0s", "threshold", "10",
			"unknown_users", "7", "unknown_window", "3h0m0s", "unknown_threshold", "5"), "12 users failing from 203.0.113.9 in 1 hour"},
		{f(signals.CredentialStuffingReason, "users", "3", "network", "203.0.113.9", "window", "1h0m0s", "threshold", "10",
			"unknown_users", "5", "unknown_window", "3h0m0s", "unknown_threshold", "5"), "5 unknown user names failing from 203.0.113.9 in 3 hours"},
		{f(signals.StuffingCampaignReason, "unknown_users", "40", "window", "15m0s"), "stuffing campaign: 40 unknown user names failing in 15 minutes"},
		{f(signals.StuffingCampaignReason), "stuffing campaign"},
		{f(signals.MultipleAccountsReason, "accounts", "12"), "device used by 12 accounts"},
		{f(signals.DenyListedReason, "entry", "country KP"), "deny-listed (country KP)"},
		{f(signals.AllowListedReason, "entry", "user ci-bot"), "allow-listed (user ci-bot)"},
		{f(signals.MissingFingerprintReason), "no fingerprint"},
		{f(signals.RestrictedReason, "action", "payment", "until", "2026-05-07T08:03:00Z"),
			"held-back action payment (restricted until 2026-05-07T08:03:00Z)"},
		{f(signals.ChallengeLimitReason, "challenges", "10"), "10 challenges in the last hour"},
		{f("breached_password"), "breached password"},
	} {
		assert.Equal(t, tc.want, tc.f.Summary(), string(tc.f.Reason))
	}
}

func TestDetailsWriteDurationsForPeople(t *testing.T) {
	t.Parallel()
	in := &signals.Input{Failures: signals.FailureCounts{User: 6, UserUnknown: 6}, Network: "203.0.113.9"}
	fs := detect(t, signals.BruteForce(0, 0), in)
	require.Len(t, fs, 1)
	assert.Contains(t, fs[0].Detail, "in the last 15 minutes")
	assert.Equal(t, "15m0s", fs[0].Evidence["window"], "evidence keeps the machine form")
	fs = detect(t, signals.BruteForce(5, 90*time.Minute), in)
	assert.Contains(t, fs[0].Detail, "in the last 1 hour 30 minutes")
}
