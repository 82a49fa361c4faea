package verdict_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// builtin knows the reasons of the built-in signals.
func builtin(r signals.Reason) bool {
	switch r {
	case signals.NewUserReason, newDevice, newIP, newCountry, travel, anonymous, hosting, brute,
		stuffing, campaign, multiple, denyListed, allowListed, missing, signals.RestrictedReason,
		signals.DeviceTokenMissingReason, signals.DeviceTokenMismatchReason, signals.DisownedDeviceReason:
		return true
	}
	return false
}

func TestDefaultIsValid(t *testing.T) {
	t.Parallel()
	require.NoError(t, verdict.Default().Validate(builtin))
	names := make([]string, 0, 9)
	for _, r := range verdict.Default() {
		names = append(names, r.Name)
	}
	assert.Equal(t, []string{"allow-listed", "deny-listed", "disowned-device", "credential-stuffing", "stuffing-campaign",
		"brute-force", "impossible-travel", "copied-fingerprint", "new-device-new-network", "missing-fingerprint-new-ip",
		"new-country", "multiple-accounts-signup"}, names)
}

func TestDefaultReturnsACopy(t *testing.T) {
	t.Parallel()
	rs := verdict.Default()
	rs[0].Verdict, rs[0].Shadow = verdict.Deny, true
	assert.Equal(t, verdict.Allow, verdict.Default()[0].Verdict)
	assert.False(t, verdict.Default()[0].Shadow)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := func(name string) verdict.Rule {
		return verdict.Rule{Name: name, When: verdict.Reason(newIP), Verdict: verdict.Challenge}
	}
	with := func(f func(r *verdict.Rule)) verdict.Rules {
		r := ok("breach")
		f(&r)
		return verdict.Rules{ok("first"), ok("second"), r}
	}
	many := make(verdict.Rules, 257)
	for i := range many {
		many[i] = ok(fmt.Sprint("r", i))
	}
	for _, tc := range []struct {
		name    string
		rules   verdict.Rules
		err     string
		unknown bool // wraps ErrUnknownReason
	}{
		{"unknown reason", with(func(r *verdict.Rule) { r.When = verdict.All(verdict.Reason("breached_pasword"), verdict.KnownDevice()) }),
			`verdict: rule 3 "breach": unknown reason "breached_pasword"`, true},
		{"unknown reason under not", with(func(r *verdict.Rule) {
			r.When = verdict.Not(verdict.Any(verdict.Reason(newIP), verdict.Reason("nope")))
		}),
			`verdict: rule 3 "breach": unknown reason "nope"`, true},
		{"no name", with(func(r *verdict.Rule) { r.Name = "" }), `verdict: rule 3: no name`, false},
		{"bad name", with(func(r *verdict.Rule) { r.Name = "Breach Rule" }),
			`verdict: rule 3 "Breach Rule": invalid name: want at most 64 lower-case letters, digits, '-' and '_'`, false},
		{"long name", with(func(r *verdict.Rule) { r.Name = string(make([]byte, 65)) }), "invalid name", false},
		{"otherwise", with(func(r *verdict.Rule) { r.Name = "otherwise" }),
			`verdict: rule 3 "otherwise": the name "otherwise" is reserved for the implicit last rule`, false},
		{"duplicate name", with(func(r *verdict.Rule) { r.Name = "first" }),
			`verdict: rule 3 "first": the name is taken by rule 1`, false},
		{"no condition", with(func(r *verdict.Rule) { r.When = nil }), `verdict: rule 3 "breach": no condition`, false},
		{"nil inside", with(func(r *verdict.Rule) { r.When = verdict.All(verdict.Reason(newIP), nil) }),
			`verdict: rule 3 "breach": the condition holds a nil condition`, false},
		{"no verdict", with(func(r *verdict.Rule) { r.Verdict = "" }), `verdict: rule 3 "breach": no verdict`, false},
		{"bad verdict", with(func(r *verdict.Rule) { r.Verdict = "block" }), `verdict: rule 3 "breach": invalid verdict "block"`, false},
		{"restrict on allow", with(func(r *verdict.Rule) { r.Verdict, r.Restrict = verdict.Allow, []string{"payment"} }),
			`verdict: rule 3 "breach": restrict is set but verdict "allow" does not restrict`, false},
		{"restrict on challenge", with(func(r *verdict.Rule) { r.Restrict = []string{"payment"} }),
			`verdict: rule 3 "breach": restrict is set but verdict "challenge" does not restrict`, false},
		{"bad restrict action", with(func(r *verdict.Rule) { r.Verdict, r.Restrict = verdict.Restrict, []string{"payment", "Wire Transfer"} }),
			`verdict: rule 3 "breach": invalid restrict action "Wire Transfer": want 1 to 32 lower-case letters, digits or "_"`, false},
		{"reason that cannot be written", with(func(r *verdict.Rule) { r.When = verdict.Reason("New IP") }),
			`verdict: rule 3 "breach": invalid reason "New IP": want at most 64 lower-case letters, digits and '_', starting with a letter`, false},
		{"reason named like a keyword", with(func(r *verdict.Rule) { r.When = verdict.Reason("score") }), `invalid reason "score"`, false},
		{"action that cannot be written", with(func(r *verdict.Rule) { r.When = verdict.ActionIs("Sign Up") }),
			`verdict: rule 3 "breach": invalid action "Sign Up" in the condition: want 1 to 32 lower-case letters, digits or "_"`, false},
		{"too many rules", many, "verdict: 257 rules, at most 256", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.rules.Validate(builtin)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
			assert.Equal(t, tc.unknown, errors.Is(err, verdict.ErrUnknownReason), err.Error())
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	t.Parallel()
	rules := verdict.Rules{
		{Name: "breached_password-2", When: verdict.Reason("breached_password"), Verdict: verdict.Challenge},
		{Name: "risky", When: must(t, "score >= 0.8"), Verdict: verdict.ChallengeAndRestrict, Restrict: []string{"payment", "email_change"}},
		{Name: "watch", When: verdict.Reason(newCountry), Verdict: verdict.Deny, Shadow: true},
		{Name: "custom", When: foreign{}, Verdict: verdict.Allow},
	}
	assert.NoError(t, rules.Validate(nil), "nil knows every reason")
	assert.ErrorIs(t, rules.Validate(builtin), verdict.ErrUnknownReason)
	assert.NoError(t, verdict.Rules{}.Validate(builtin))
}
