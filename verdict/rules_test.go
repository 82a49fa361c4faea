package verdict_test

import (
	"testing"

	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
	"github.com/stretchr/testify/assert"
)

func input(action string, known bool, rs ...signals.Reason) *verdict.Input {
	in := &verdict.Input{Action: action, KnownDevice: known}
	for _, r := range rs {
		in.Findings = append(in.Findings, signals.Finding{Reason: r})
	}
	return in
}

const (
	allowListed = signals.AllowListedReason
	denyListed  = signals.DenyListedReason
	stuffing    = signals.CredentialStuffingReason
	campaign    = signals.StuffingCampaignReason
	newUser     = signals.NewUserReason
	brute       = signals.BruteForceReason
	travel      = signals.ImpossibleTravelReason
	newDevice   = signals.NewDeviceReason
	newIP       = signals.NewIPReason
	newCountry  = signals.NewCountryReason
	anonymous   = signals.AnonymousIPReason
	hosting     = signals.HostingIPReason
	missing     = signals.MissingFingerprintReason
	multiple    = signals.MultipleAccountsReason
)

// defaultCases are the rows of the default table, each with an input that
// reaches it or falls past it.
var defaultCases = []struct {
	name    string
	in      *verdict.Input
	verdict verdict.Verdict
	rule    string
}{
	{"1 allow-listed wins over everything", input("login", false, denyListed, stuffing, allowListed), verdict.Allow, "allow-listed"},
	{"2 deny-listed", input("login", true, denyListed, newIP), verdict.Deny, "deny-listed"},
	{"4 stuffing from an unknown device", input("login", false, stuffing, newDevice, newIP), verdict.Deny, "credential-stuffing"},
	{"4 stuffing from a known device is not denied", input("login", true, stuffing), verdict.Allow, "otherwise"},
	{"5 a campaign: new device and new IP", input("login", false, campaign, newDevice, newIP), verdict.Deny, "stuffing-campaign"},
	{"5 a campaign: no fingerprint and new IP", input("login", false, campaign, missing, newIP), verdict.Deny, "stuffing-campaign"},
	{"5 a campaign: a first login", input("login", false, campaign, newUser), verdict.Deny, "stuffing-campaign"},
	{"5 a campaign: a known device on a new IP is untouched", input("login", true, campaign, newIP), verdict.Allow, "otherwise"},
	{"5 a campaign: a new device on a known network is untouched", input("login", false, campaign, newDevice), verdict.Allow, "otherwise"},
	{"5 a campaign: a signup is not a login", input("signup", false, campaign, newUser), verdict.Allow, "otherwise"},
	{"5 a campaign: a held-back action is not a login", input("payment", false, campaign, newDevice, newIP), verdict.Challenge, "new-device-new-network"},
	{"6 brute force from an unknown device", input("login", false, brute), verdict.Challenge, "brute-force"},
	{"6 the owner's known device during an attack", input("login", true, brute), verdict.Allow, "otherwise"},
	{"7 impossible travel", input("login", true, travel, newIP), verdict.ChallengeAndRestrict, "impossible-travel"},
	{"9 new device and new IP", input("login", false, newDevice, newIP), verdict.Challenge, "new-device-new-network"},
	{"9 new device and new country", input("login", false, newDevice, newCountry), verdict.Challenge, "new-device-new-network"},
	{"9 new device and anonymous IP", input("login", false, newDevice, anonymous), verdict.Challenge, "new-device-new-network"},
	{"9 new device and hosting IP", input("login", false, newDevice, hosting), verdict.Challenge, "new-device-new-network"},
	{"9 new device alone", input("login", false, newDevice), verdict.Allow, "otherwise"},
	{"10 no fingerprint and new IP", input("login", false, missing, newIP), verdict.Challenge, "missing-fingerprint-new-ip"},
	{"10 no fingerprint on a known IP", input("login", false, missing), verdict.Allow, "otherwise"},
	{"11 new country from a known device", input("login", true, newCountry, newIP), verdict.Restrict, "new-country"},
	{"12 many accounts on one device at signup", input("signup", false, multiple), verdict.Restrict, "multiple-accounts-signup"},
	{"12 many accounts at login is not row 12", input("login", true, multiple), verdict.Allow, "otherwise"},
	{"13 known device on a new IP", input("login", true, newIP), verdict.Allow, "otherwise"},
	{"13 nothing at all", input("login", true), verdict.Allow, "otherwise"},
}

func TestDefaultPolicyTable(t *testing.T) {
	t.Parallel()
	for _, tc := range defaultCases {
		t.Run(tc.name, func(t *testing.T) {
			d := verdict.Default().Decide(tc.in)
			assert.Equal(t, tc.verdict, d.Verdict)
			assert.Equal(t, tc.rule, d.Rule)
			if d.Verdict.Restricts() {
				assert.Equal(t, verdict.DefaultRestrictions, d.Restrictions)
			} else {
				assert.Empty(t, d.Restrictions)
			}
		})
	}
}

func TestFirstMatchingRuleWins(t *testing.T) {
	t.Parallel()
	rules := verdict.Rules{
		{Name: "a", When: verdict.Reason(newIP), Verdict: verdict.Challenge},
		{Name: "b", When: verdict.Reason(newIP), Verdict: verdict.Deny},
		{Name: "c", When: verdict.All(), Verdict: verdict.Restrict, Restrict: []string{"payment"}},
	}
	assert.Equal(t, verdict.Decision{Verdict: verdict.Challenge, Rule: "a"}, rules.Decide(input("login", true, newIP)))
	d := rules.Decide(input("login", true))
	assert.Equal(t, verdict.Decision{Verdict: verdict.Restrict, Rule: "c", Restrictions: []string{"payment"}}, d)
	d.Restrictions[0] = "changed"
	assert.Equal(t, []string{"payment"}, rules[2].Restrict, "a decision does not share the rule's list")
	assert.Equal(t, verdict.Decision{Verdict: verdict.Allow, Rule: "otherwise"}, verdict.Rules{}.Decide(input("login", true)))
}

func TestConditionsRenderAsExpressions(t *testing.T) {
	t.Parallel()
	rules := verdict.Default()
	want := map[string]string{
		"credential-stuffing":      "credential_stuffing && !known_device",
		"stuffing-campaign":        `stuffing_campaign && action == "login" && !known_device && (new_ip || new_user)`,
		"new-device-new-network":   "new_device && (new_ip || new_country || anonymous_ip || hosting_ip)",
		"multiple-accounts-signup": `action == "signup" && multiple_accounts_per_device`,
	}
	for _, r := range rules {
		if w, ok := want[r.Name]; ok {
			assert.Equal(t, w, r.When.String(), r.Name)
		}
	}
	assert.Equal(t, "!(new_ip || new_device)", verdict.Not(verdict.Any(verdict.Reason(newIP), verdict.Reason(newDevice))).String())
	assert.Equal(t, "true", verdict.All().String())
	assert.Equal(t, "false", verdict.Any().String())
	assert.False(t, verdict.Any().Eval(input("login", true)))
}

func TestVerdictPredicates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v                                   verdict.Verdict
		valid, challenges, restricts, succs bool
	}{
		{verdict.Allow, true, false, false, true},
		{verdict.Challenge, true, true, false, false},
		{verdict.Restrict, true, false, true, true},
		{verdict.ChallengeAndRestrict, true, true, true, false},
		{verdict.Deny, true, false, false, false},
		{"maybe", false, false, false, false},
	} {
		assert.Equal(t, tc.valid, tc.v.Valid(), tc.v)
		assert.Equal(t, tc.challenges, tc.v.Challenges(), tc.v)
		assert.Equal(t, tc.restricts, tc.v.Restricts(), tc.v)
		assert.Equal(t, tc.succs, tc.v.Succeeds(), tc.v)
	}
}

func TestRuleWithoutConditionNeverHolds(t *testing.T) {
	t.Parallel()
	d := verdict.Rules{{Name: "broken", Verdict: verdict.Deny}}.Decide(input("login", true))
	assert.Equal(t, verdict.Decision{Verdict: verdict.Allow, Rule: "otherwise"}, d)
}
