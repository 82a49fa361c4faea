package verdict_test

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func FuzzParseCondition(f *testing.F) {
	for _, seed := range []string{
		"new_ip", "known_device", "true", "false", "!new_ip",
		"new_device && (new_ip || new_country || anonymous_ip || hosting_ip)",
		"credential_stuffing && !known_device",
		`action == "signup" && multiple_accounts_per_device`,
		`action != "login"`, `!action == "signup"`,
		"score >= 0.8", "score > 0.5 || score < 0.1", "score <= 1", "score == 0", "!score >= 0.3",
		"a || b && c", "(a || b) && !(c && d)", "((a))", "!!a",
		"new_device && (new_ip || new_country", "a b", "a)", "score >= 1.5", "score >= .5", `action == "Sign"`,
		"a | b", "é", "\xff", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		c, err := verdict.ParseCondition(expr)
		if err != nil {
			var se *verdict.SyntaxError
			require.True(t, errors.As(err, &se), "%v", err)
			require.Nil(t, c)
			assert.GreaterOrEqual(t, se.Column, 1)
			assert.LessOrEqual(t, se.Column, utf8.RuneCountInString(expr)+1)
			return
		}
		s := c.String()
		back, err := verdict.ParseCondition(s)
		require.NoError(t, err, "String %q of %q re-parses", s, expr)
		require.Equal(t, s, back.String(), "String is idempotent for %q", expr)
		require.NoError(t, verdict.Rules{{Name: "r", When: c, Verdict: verdict.Deny}}.Validate(nil), "a parsed condition is valid")

		// The two agree on inputs built from the condition's own reasons.
		rs := verdict.Reasons(c)
		for i, known := range []bool{false, true} {
			for _, score := range []float64{0, 0.5, 0.8, 1} {
				for _, action := range []string{"login", "signup"} {
					var some []signals.Reason
					for j, r := range rs {
						if (i+j)%2 == 0 {
							some = append(some, r)
						}
					}
					for _, in := range []*verdict.Input{scored(score, action, known), scored(score, action, known, rs...), scored(score, action, known, some...)} {
						require.Equal(t, c.Eval(in), back.Eval(in), "%q and %q on %+v", expr, s, *in)
					}
				}
			}
		}
	})
}

func FuzzParseRules(f *testing.F) {
	f.Add([]byte(issuePolicy))
	if data, err := verdict.Default().MarshalJSON(); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"rules": []}`))
	f.Add([]byte(`{"rules": [{"name": "a", "when": "new_ip ||", "verdict": "deny"}]}`))
	f.Add([]byte(`{"rules": [{"name": "a", "when": "new_ip", "verdict": "deny", "restrict": ["payment"]}]}`))
	f.Add([]byte(`{"rules": [{}]} x`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := verdict.ParseRules(data, nil)
		if err != nil {
			require.Nil(t, rules)
			return
		}
		out, err := rules.MarshalJSON()
		require.NoError(t, err)
		back, err := verdict.ParseRules(out, nil)
		require.NoError(t, err, "%s", out)
		again, err := back.MarshalJSON()
		require.NoError(t, err)
		require.Equal(t, string(out), string(again))
		rules.Decide(scored(0.5, "login", true, newIP))
	})
}
