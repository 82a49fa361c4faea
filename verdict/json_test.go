package verdict_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const issuePolicy = `{"rules": [
  {"name": "breached-password", "when": "breached_password && !known_device", "verdict": "challenge"},
  {"name": "risky", "when": "score >= 0.8", "verdict": "challenge_and_restrict", "restrict": ["payment"]},
  {"name": "watch-new-country", "when": "new_country", "verdict": "challenge", "shadow": true}
]}`

func TestParseRules(t *testing.T) {
	t.Parallel()
	rules, err := verdict.ParseRules([]byte(issuePolicy), nil)
	require.NoError(t, err)
	require.Len(t, rules, 3)
	assert.Equal(t, "breached-password", rules[0].Name)
	assert.Equal(t, "breached_password && !known_device", rules[0].When.String())
	assert.Equal(t, verdict.Challenge, rules[0].Verdict)
	assert.Equal(t, []string{"payment"}, rules[1].Restrict)
	assert.True(t, rules[2].Shadow)

	d := rules.Decide(scored(0.9, "login", true, "breached_password", newCountry))
	assert.Equal(t, verdict.Decision{Verdict: verdict.ChallengeAndRestrict, Rule: "risky", Restrictions: []string{"payment"},
		Shadow: []verdict.ShadowMatch{{Rule: "watch-new-country", Verdict: verdict.Challenge}}}, d)

	_, err = verdict.ParseRules([]byte(issuePolicy), builtin)
	assert.EqualError(t, err, `verdict: rule 1 "breached-password": unknown reason "breached_password"`)
	assert.ErrorIs(t, err, verdict.ErrUnknownReason)

	empty, err := verdict.ParseRules([]byte(`{"rules": []}`), builtin)
	require.NoError(t, err)
	assert.Empty(t, empty)
}

func TestParseRulesErrors(t *testing.T) {
	t.Parallel()
	rule := func(fields string) string {
		return `{"rules": [{"name": "a", "when": "new_ip", "verdict": "allow"}, {` + fields + `}]}`
	}
	for _, tc := range []struct {
		name, data, err string
	}{
		{"not JSON", "rules", "verdict: line 1, column 1: invalid character 'r' looking for beginning of value"},
		{"syntax error on a later line", "{\"rules\": [\n  {\"name\": \"a\" \"when\": \"x\"}\n]}", "verdict: line 2, column 16: invalid character '\"' after object key:value pair"},
		{"wrong type", `{"rules": {}}`, "verdict: line 1, column 11: json: cannot unmarshal object"},
		{"no rules", `{}`, `verdict: no "rules" list`},
		{"null rules", `{"rules": null}`, `verdict: no "rules" list`},
		{"null", `null`, `verdict: no "rules" list`},
		{"unknown top-level field", `{"rules": [], "version": 2}`, `verdict: json: unknown field "version"`},
		{"data after the policy", `{"rules": []} {}`, "verdict: unexpected data after the JSON value"},
		{"unknown rule field", rule(`"name": "b", "wen": "new_ip", "verdict": "deny"`), `verdict: rule 2: json: unknown field "wen"`},
		{"wrong rule field type", rule(`"name": "b", "when": "new_ip", "verdict": "deny", "shadow": "yes"`), `verdict: rule 2: json: cannot unmarshal string`},
		{"no when", rule(`"name": "b", "verdict": "deny"`), `verdict: rule 2 "b": no condition ("when")`},
		{"syntax error in when", rule(`"name": "b", "when": "new_device && (new_ip || new_country", "verdict": "deny"`),
			`verdict: rule 2 "b": when: column 37: expected ")" after "new_ip || new_country"`},
		{"bad verdict", rule(`"name": "b", "when": "new_ip", "verdict": "block"`), `verdict: rule 2 "b": invalid verdict "block"`},
		{"no verdict", rule(`"name": "b", "when": "new_ip"`), `verdict: rule 2 "b": no verdict`},
		{"duplicate name", rule(`"name": "a", "when": "new_ip", "verdict": "deny"`), `verdict: rule 2 "a": the name is taken by rule 1`},
		{"restrict on deny", rule(`"name": "b", "when": "new_ip", "verdict": "deny", "restrict": ["payment"]`),
			`verdict: rule 2 "b": restrict is set but verdict "deny" does not restrict`},
		{"too many rules", `{"rules": [` + strings.Repeat(`{},`, 256) + `{}]}`, "verdict: 257 rules, at most 256"},
		{"too large", `{"rules": [], "x": "` + strings.Repeat("x", 1<<20) + `"}`, "verdict: policy is larger than 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rules, err := verdict.ParseRules([]byte(tc.data), builtin)
			assert.Nil(t, rules)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tc.err), "got %q\nwant %q…", err, tc.err)
		})
	}
}

func TestParseRulesSyntaxErrorUnwraps(t *testing.T) {
	t.Parallel()
	_, err := verdict.ParseRules([]byte(`{"rules": [{"name": "risky", "when": "score >= 1.5", "verdict": "deny"}]}`), nil)
	assert.EqualError(t, err, `verdict: rule 1 "risky": when: column 10: score 1.5 is outside [0,1]`)
	var se *verdict.SyntaxError
	require.True(t, errors.As(err, &se))
	assert.Equal(t, "score >= 1.5", se.Expr)
	assert.Equal(t, 10, se.Column)
}

func TestDefaultJSONRoundTrip(t *testing.T) {
	t.Parallel()
	data, err := verdict.Default().MarshalJSON()
	require.NoError(t, err)
	assert.Contains(t, string(data), `"when":"credential_stuffing && !known_device"`, "no HTML escaping")
	assert.True(t, strings.HasPrefix(string(data), "{\"rules\": [\n  {\"name\":\"allow-listed\""), string(data))

	back, err := verdict.ParseRules(data, builtin)
	require.NoError(t, err)
	require.Len(t, back, len(verdict.Default()))
	for i, r := range verdict.Default() {
		assert.Equal(t, r.Name, back[i].Name)
		assert.Equal(t, r.Verdict, back[i].Verdict)
		assert.Equal(t, r.When.String(), back[i].When.String())
	}
	for _, tc := range defaultCases {
		assert.Equal(t, verdict.Default().Decide(tc.in), back.Decide(tc.in), tc.name)
	}
	again, err := back.MarshalJSON()
	require.NoError(t, err)
	assert.Equal(t, string(data), string(again))

	viaEncoding, err := json.Marshal(verdict.Default())
	require.NoError(t, err)
	fromEncoding, err := verdict.ParseRules(viaEncoding, builtin)
	require.NoError(t, err, "json.Marshal escapes & but the result reads back")
	assert.Equal(t, len(back), len(fromEncoding))
}

func TestMarshalJSON(t *testing.T) {
	t.Parallel()
	rules := verdict.Rules{
		{Name: "risky", When: must(t, "score > 0.5 && new_ip"), Verdict: verdict.Restrict, Restrict: []string{"payment"}, Shadow: true},
		{Name: "broken", Verdict: verdict.Deny},
	}
	data, err := rules.MarshalJSON()
	require.NoError(t, err)
	assert.Equal(t, `{"rules": [
  {"name":"risky","when":"score > 0.5 && new_ip","verdict":"restrict","restrict":["payment"],"shadow":true},
  {"name":"broken","when":"false","verdict":"deny"}
]}`, string(data))

	data, err = verdict.Rules{}.MarshalJSON()
	require.NoError(t, err)
	assert.Equal(t, `{"rules": []}`, string(data))

	_, err = verdict.Rules{{Name: "custom", When: verdict.All(verdict.Reason(newIP), foreign{}), Verdict: verdict.Deny}}.MarshalJSON()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `verdict: rule 1 "custom": condition "new_ip && foreign()" does not parse`)
}

func TestLoadRules(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.json")
	require.NoError(t, os.WriteFile(path, []byte(issuePolicy), 0o600))
	rules, err := verdict.LoadRules(path, func(r signals.Reason) bool { return r == "breached_password" || builtin(r) })
	require.NoError(t, err)
	assert.Len(t, rules, 3)

	_, err = verdict.LoadRules(path, builtin)
	assert.EqualError(t, err, `verdict: `+path+`: rule 1 "breached-password": unknown reason "breached_password"`)
	assert.ErrorIs(t, err, verdict.ErrUnknownReason)

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte("{\"rules\": [\n"), 0o600))
	_, err = verdict.LoadRules(bad, nil)
	assert.ErrorContains(t, err, "verdict: "+bad+": ")

	_, err = verdict.LoadRules(filepath.Join(dir, "missing.json"), nil)
	assert.ErrorIs(t, err, os.ErrNotExist)

	big := filepath.Join(dir, "big.json")
	require.NoError(t, os.WriteFile(big, make([]byte, 1<<20+1), 0o600))
	_, err = verdict.LoadRules(big, nil)
	assert.EqualError(t, err, "verdict: "+big+": policy is larger than 1048576 bytes")
}
