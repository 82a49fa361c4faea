package verdict_test

import (
	"testing"

	"github.com/atoguard/ato/verdict"
	"github.com/stretchr/testify/assert"
)

func TestShadowRules(t *testing.T) {
	t.Parallel()
	watchCountry := verdict.Rule{Name: "watch-country", When: verdict.Reason(newCountry), Verdict: verdict.Deny, Shadow: true}
	watchIP := verdict.Rule{Name: "watch-ip", When: verdict.Reason(newIP), Verdict: verdict.Restrict, Restrict: []string{"payment"}, Shadow: true}
	watchDevice := verdict.Rule{Name: "watch-device", When: verdict.Reason(newDevice), Verdict: verdict.ChallengeAndRestrict, Shadow: true}
	enforced := verdict.Rule{Name: "new-ip", When: verdict.Reason(newIP), Verdict: verdict.Challenge}
	broken := verdict.Rule{Name: "no-condition", Verdict: verdict.Deny, Shadow: true}

	for _, tc := range []struct {
		name  string
		rules verdict.Rules
		in    *verdict.Input
		want  verdict.Decision
	}{
		{
			"a shadow rule before the deciding one preempts it",
			verdict.Rules{watchCountry, enforced}, input("login", true, newCountry, newIP),
			verdict.Decision{Verdict: verdict.Challenge, Rule: "new-ip", Shadow: []verdict.ShadowMatch{
				{Rule: "watch-country", Verdict: verdict.Deny, Preempts: true},
			}},
		},
		{
			"a shadow rule after the deciding one does not preempt",
			verdict.Rules{enforced, watchCountry}, input("login", true, newCountry, newIP),
			verdict.Decision{Verdict: verdict.Challenge, Rule: "new-ip", Shadow: []verdict.ShadowMatch{
				{Rule: "watch-country", Verdict: verdict.Deny},
			}},
		},
		{
			"when otherwise decides, every matching shadow rule preempts",
			verdict.Rules{watchCountry, watchDevice}, input("login", true, newCountry, newDevice),
			verdict.Decision{Verdict: verdict.Allow, Rule: "otherwise", Shadow: []verdict.ShadowMatch{
				{Rule: "watch-country", Verdict: verdict.Deny, Preempts: true},
				{Rule: "watch-device", Verdict: verdict.ChallengeAndRestrict, Restrictions: verdict.DefaultRestrictions, Preempts: true},
			}},
		},
		{
			"several, in policy order, around the deciding rule",
			verdict.Rules{watchIP, enforced, watchDevice, watchCountry}, input("login", false, newIP, newDevice, newCountry),
			verdict.Decision{Verdict: verdict.Challenge, Rule: "new-ip", Shadow: []verdict.ShadowMatch{
				{Rule: "watch-ip", Verdict: verdict.Restrict, Restrictions: []string{"payment"}, Preempts: true},
				{Rule: "watch-device", Verdict: verdict.ChallengeAndRestrict, Restrictions: verdict.DefaultRestrictions},
				{Rule: "watch-country", Verdict: verdict.Deny},
			}},
		},
		{
			"a shadow rule that does not match is not reported",
			verdict.Rules{watchCountry, enforced, broken}, input("login", true, newIP),
			verdict.Decision{Verdict: verdict.Challenge, Rule: "new-ip"},
		},
		{
			"a shadow rule alone never decides",
			verdict.Rules{watchIP}, input("login", true),
			verdict.Decision{Verdict: verdict.Allow, Rule: "otherwise"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := tc.rules.Decide(tc.in)
			assert.Equal(t, tc.want, d)
			if len(tc.want.Shadow) == 0 {
				assert.Nil(t, d.Shadow, "no matches, no slice")
			}
		})
	}
}

func TestShadowRulesNeverChangeTheVerdict(t *testing.T) {
	t.Parallel()
	// Every default row, also as a shadow rule in front of the policy.
	shadowed := verdict.Rules{}
	for _, r := range verdict.Default() {
		r.Name = "shadow-" + r.Name
		r.Shadow = true
		shadowed = append(shadowed, r)
	}
	shadowed = append(shadowed, verdict.Default()...)
	for _, tc := range defaultCases {
		want := verdict.Default().Decide(tc.in)
		got := shadowed.Decide(tc.in)
		assert.Equal(t, want.Verdict, got.Verdict, tc.name)
		assert.Equal(t, want.Rule, got.Rule, tc.name)
		assert.Equal(t, want.Restrictions, got.Restrictions, tc.name)
		for _, s := range got.Shadow {
			assert.True(t, s.Preempts, "%s: %s comes first", tc.name, s.Rule)
		}
		if want.Rule != "otherwise" {
			assert.Equal(t, "shadow-"+want.Rule, got.Shadow[0].Rule, "%s: the first shadow match is the deciding row's twin", tc.name)
		}
	}
}

func TestShadowRestrictionsAreCopies(t *testing.T) {
	t.Parallel()
	rules := verdict.Rules{{Name: "watch", When: verdict.All(), Verdict: verdict.Restrict, Restrict: []string{"payment"}, Shadow: true}}
	d := rules.Decide(input("login", true))
	d.Shadow[0].Restrictions[0] = "changed"
	assert.Equal(t, []string{"payment"}, rules[0].Restrict)
	d = verdict.Rules{{Name: "watch", When: verdict.All(), Verdict: verdict.Restrict, Shadow: true}}.Decide(input("login", true))
	d.Shadow[0].Restrictions[0] = "changed"
	assert.Equal(t, "password_change", verdict.DefaultRestrictions[0])
}
