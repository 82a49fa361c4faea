package verdict_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scored is input with a combined score.
func scored(score float64, action string, known bool, rs ...signals.Reason) *verdict.Input {
	in := input(action, known, rs...)
	in.Score = score
	return in
}

// inputs are every combination of three reasons, a known device or not,
// two actions and a few scores: enough to tell conditions over them apart.
func inputs() []*verdict.Input {
	reasons := []signals.Reason{newIP, newDevice, newCountry}
	var ins []*verdict.Input
	for mask := range 1 << len(reasons) {
		var rs []signals.Reason
		for i, r := range reasons {
			if mask&(1<<i) != 0 {
				rs = append(rs, r)
			}
		}
		for _, known := range []bool{false, true} {
			for _, action := range []string{"login", "signup"} {
				for _, score := range []float64{0, 0.3, 0.8, 1} {
					ins = append(ins, scored(score, action, known, rs...))
				}
			}
		}
	}
	return ins
}

// assertEquivalent checks that two conditions agree on every input.
func assertEquivalent(t *testing.T, want, got verdict.Condition, msg string) {
	t.Helper()
	for _, in := range inputs() {
		if !assert.Equal(t, want.Eval(in), got.Eval(in), "%s on %+v", msg, *in) {
			return
		}
	}
}

func must(t *testing.T, expr string) verdict.Condition {
	t.Helper()
	c, err := verdict.ParseCondition(expr)
	require.NoError(t, err, expr)
	return c
}

func score(t *testing.T, op string, v float64) verdict.Condition {
	t.Helper()
	c, err := verdict.Score(op, v)
	require.NoError(t, err)
	return c
}

func TestParseCondition(t *testing.T) {
	t.Parallel()
	ip, dev, ctry := verdict.Reason(newIP), verdict.Reason(newDevice), verdict.Reason(newCountry)
	for _, tc := range []struct {
		expr string
		want verdict.Condition // built in Go
		str  string            // the canonical String
	}{
		{"new_ip", ip, "new_ip"},
		{"  new_ip\t\n", ip, "new_ip"},
		{"known_device", verdict.KnownDevice(), "known_device"},
		{"true", verdict.All(), "true"},
		{"false", verdict.Any(), "false"},
		{"new_ip&&new_device", verdict.All(ip, dev), "new_ip && new_device"},
		{"new_ip || new_device || new_country", verdict.Any(ip, dev, ctry), "new_ip || new_device || new_country"},
		// && binds tighter than ||, ! tighter than both.
		{"new_ip || new_device && new_country", verdict.Any(ip, verdict.All(dev, ctry)), "new_ip || new_device && new_country"},
		{"new_ip && new_device || new_country", verdict.Any(verdict.All(ip, dev), ctry), "new_ip && new_device || new_country"},
		{"(new_ip || new_device) && new_country", verdict.All(verdict.Any(ip, dev), ctry), "(new_ip || new_device) && new_country"},
		{"!new_ip && new_device", verdict.All(verdict.Not(ip), dev), "!new_ip && new_device"},
		{"!(new_ip && new_device)", verdict.Not(verdict.All(ip, dev)), "!(new_ip && new_device)"},
		{"!!new_ip", verdict.Not(verdict.Not(ip)), "!!new_ip"},
		{"((new_ip))", ip, "new_ip"},
		{"(new_ip && new_device) && (new_country)", verdict.All(ip, dev, ctry), "new_ip && new_device && new_country"},
		{"new_ip || (new_device || new_country)", verdict.Any(ip, dev, ctry), "new_ip || new_device || new_country"},
		{`action == "signup"`, verdict.ActionIs("signup"), `action == "signup"`},
		{`action=="signup"`, verdict.ActionIs("signup"), `action == "signup"`},
		{`action != "signup"`, verdict.Not(verdict.ActionIs("signup")), `action != "signup"`},
		{`!action == "signup"`, verdict.Not(verdict.ActionIs("signup")), `action != "signup"`},
		{`!action != "signup"`, verdict.Not(verdict.Not(verdict.ActionIs("signup"))), `!action != "signup"`},
		{`action != "login" && new_device`, verdict.All(verdict.Not(verdict.ActionIs("login")), dev), `action != "login" && new_device`},
		{"score >= 0.8", score(t, ">=", 0.8), "score >= 0.8"},
		{"score>0.3", score(t, ">", 0.3), "score > 0.3"},
		{"score <= 0.30", score(t, "<=", 0.3), "score <= 0.3"},
		{"score < 1.0", score(t, "<", 1), "score < 1"},
		{"score == 0", score(t, "==", 0), "score == 0"},
		{"score == 1", score(t, "==", 1), "score == 1"},
		{"!score >= 0.8", verdict.Not(score(t, ">=", 0.8)), "!(score >= 0.8)"},
		{"score >= 0.8 || new_ip && known_device", verdict.Any(score(t, ">=", 0.8), verdict.All(ip, verdict.KnownDevice())), "score >= 0.8 || new_ip && known_device"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			t.Parallel()
			c := must(t, tc.expr)
			assert.Equal(t, tc.str, c.String())
			assert.Equal(t, tc.want.String(), c.String(), "the Go-built condition renders alike")
			assertEquivalent(t, tc.want, c, tc.expr)
		})
	}
}

func TestScoreComparisonsAtTheirBoundaries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr  string
		score float64
		holds bool
	}{
		{"score >= 0.8", 0.8, true},
		{"score >= 0.8", 0.79, false},
		{"score > 0.8", 0.8, false},
		{"score > 0.8", 0.81, true},
		{"score <= 0.8", 0.8, true},
		{"score <= 0.8", 0.81, false},
		{"score < 0.8", 0.8, false},
		{"score < 0.8", 0.79, true},
		{"score == 0.8", 0.8, true},
		{"score == 0.8", 0.8000001, false},
		{"score >= 0", 0, true},
		{"score <= 1", 1, true},
		{"score > 1", 1, false},
		{"score < 0", 0, false},
		{"!score >= 0.8", 0.5, true},
		{"!score >= 0.8", 0.8, false},
	} {
		assert.Equal(t, tc.holds, must(t, tc.expr).Eval(scored(tc.score, "login", true)), "%s at %v", tc.expr, tc.score)
	}
}

func TestScoreConstructor(t *testing.T) {
	t.Parallel()
	c, err := verdict.Score(">=", 0.75)
	require.NoError(t, err)
	assert.Equal(t, "score >= 0.75", c.String())
	assert.True(t, c.Eval(scored(0.75, "login", true)))

	for _, tc := range []struct {
		op string
		v  float64
	}{{"=>", 0.5}, {"!=", 0.5}, {"", 0.5}, {">=", -0.1}, {">=", 1.1}, {">=", nan()}} {
		_, err := verdict.Score(tc.op, tc.v)
		assert.Error(t, err, "%s %v", tc.op, tc.v)
	}
}

func nan() float64 { zero := 0.0; return zero / zero }

func TestParseConditionErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr   string
		column int
		msg    string
	}{
		{"", 1, "empty expression"},
		{"   ", 4, "empty expression"},
		{"new_device && (new_ip || new_country", 37, `expected ")" after "new_ip || new_country"`},
		{"new_device && (new_ip || new_country new_user", 38, `expected ")" after "new_ip || new_country", found "new_user"`},
		{"new_ip new_country", 8, `expected "&&" or "||" after "new_ip", found "new_country"`},
		{"new_ip)", 7, `unmatched ")"`},
		{"new_ip &&", 10, `expected a condition after "&&"`},
		{"new_ip && || new_device", 11, `expected a condition after "&&", found "||"`},
		{"|| new_ip", 1, `expected a condition, found "||"`},
		{"()", 2, `expected a condition after "(", found ")"`},
		{"!", 2, `expected a condition after "!"`},
		{"new_ip | new_device", 8, `unexpected "|", did you mean "||"?`},
		{"new_ip & new_device", 8, `unexpected "&", did you mean "&&"?`},
		{"new_ip # comment", 8, `unexpected character "#"`},
		{"new-ip", 4, `unexpected character "-"`},
		{"né", 2, `unexpected character "é"`},
		{"é && new_ip", 1, `unexpected character "é"`},
		{"\xff", 1, `unexpected character "\xff"`},
		{"New_IP", 1, `invalid reason "New_IP": want lower-case letters, digits and "_", starting with a letter`},
		{"_ip", 1, `invalid reason "_ip": want lower-case letters, digits and "_", starting with a letter`},
		{"new_ip && " + strings.Repeat("x", 65), 11, "reason is longer than 64 bytes"},
		{"action", 7, `expected "==" or "!=" after "action"`},
		{"action = \"signup\"", 8, `unexpected "=", did you mean "=="?`},
		{"action >= \"signup\"", 8, `expected "==" or "!=" after "action", found ">="`},
		{"action == signup", 11, `expected a quoted action after "action ==", found "signup"`},
		{`action == "signup`, 11, "unterminated string"},
		{`action == "Sign Up"`, 11, `invalid action "Sign Up": want 1 to 32 lower-case letters, digits or "_"`},
		{`action == ""`, 11, `invalid action "": want 1 to 32 lower-case letters, digits or "_"`},
		{`action == "` + strings.Repeat("a", 33) + `"`, 11, `invalid action "` + strings.Repeat("a", 33) + `": want 1 to 32 lower-case letters, digits or "_"`},
		{"score", 6, `expected ">=", ">", "<=", "<" or "==" after "score"`},
		{"score != 0.5", 7, `expected ">=", ">", "<=", "<" or "==" after "score", found "!="`},
		{"score >=", 9, `expected a number after "score >="`},
		{"score >= high", 10, `expected a number after "score >=", found "high"`},
		{"score >= 1.5", 10, "score 1.5 is outside [0,1]"},
		{"score >= 2", 10, "score 2 is outside [0,1]"},
		{"score >= .5", 10, `invalid number ".5": want a decimal from 0 to 1 such as 0.8`},
		{"score >= 1.", 10, `invalid number "1.": want a decimal from 0 to 1 such as 0.8`},
		{"score >= 0.5.1", 10, `invalid number "0.5.1": want a decimal from 0 to 1 such as 0.8`},
		{"score >= -0.5", 10, `unexpected character "-"`},
		{"0.5", 1, `expected a condition, found "0.5"`},
		{"é(", 1, `unexpected character "é"`},
		{strings.Repeat("(", 65) + "x" + strings.Repeat(")", 65), 65, "parentheses nest deeper than 64"},
		{strings.Repeat("x&&", 1365) + "xx", 4097, "expression is longer than 4096 bytes besides spaces and parentheses"},
		{strings.Repeat("é", 2049), 2049, "expression is longer than 4096 bytes besides spaces and parentheses"},
		{strings.Repeat(" ", 64<<10) + "x", 65537, "expression is longer than 65536 bytes"},
	} {
		t.Run(short(tc.expr), func(t *testing.T) {
			t.Parallel()
			c, err := verdict.ParseCondition(tc.expr)
			assert.Nil(t, c)
			var se *verdict.SyntaxError
			require.True(t, errors.As(err, &se), "%v", err)
			assert.Equal(t, tc.expr, se.Expr)
			assert.Equal(t, tc.column, se.Column)
			assert.Equal(t, tc.msg, se.Msg)
		})
	}
}

// short names a subtest after a long expression.
func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func TestSyntaxErrorMessage(t *testing.T) {
	t.Parallel()
	_, err := verdict.ParseCondition("new_device && (new_ip || new_country")
	assert.EqualError(t, err, `verdict: column 37: expected ")" after "new_ip || new_country"`)
}

func TestParseConditionLimits(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("(", 64) + "new_ip" + strings.Repeat(")", 64)
	assert.Equal(t, "new_ip", must(t, deep).String())

	long := strings.Repeat("x && ", 1365) + "x" // 4096 bytes besides spaces
	c := must(t, long)
	assert.Equal(t, long, c.String())
	spaced := strings.ReplaceAll(long, " ", "   ")
	assert.Equal(t, long, must(t, spaced).String(), "spaces do not count")

	assert.Equal(t, "a"+strings.Repeat("b", 63), must(t, "a"+strings.Repeat("b", 63)).String())
	must(t, `action == "`+strings.Repeat("a", 32)+`"`)

	bangs := must(t, strings.Repeat("!", 4000)+"new_ip")
	assert.True(t, bangs.Eval(input("login", true, newIP)), "an even number of nots")
}

func TestDefaultRulesRoundTrip(t *testing.T) {
	t.Parallel()
	for _, r := range verdict.Default() {
		require.NotNil(t, r.When, "%s parses", r.Name)
		c := must(t, r.When.String())
		assert.Equal(t, r.When.String(), c.String(), r.Name)
		assertEquivalent(t, r.When, c, r.Name)
	}
}

// randomCondition builds a condition of depth at most d with the Go
// constructors, singletons and empty junctions included.
func randomCondition(t *testing.T, rnd *rand.Rand, d int) verdict.Condition {
	atoms := []verdict.Condition{
		verdict.Reason(newIP), verdict.Reason(newDevice), verdict.Reason(newCountry),
		verdict.KnownDevice(), verdict.ActionIs("signup"), verdict.Not(verdict.ActionIs("login")),
		score(t, ">=", 0.8), score(t, "<", 0.3), score(t, "==", 1), verdict.All(), verdict.Any(),
	}
	if d == 0 || rnd.IntN(3) == 0 {
		return atoms[rnd.IntN(len(atoms))]
	}
	if rnd.IntN(4) == 0 {
		return verdict.Not(randomCondition(t, rnd, d-1))
	}
	cs := make([]verdict.Condition, rnd.IntN(4))
	for i := range cs {
		cs[i] = randomCondition(t, rnd, d-1)
	}
	if rnd.IntN(2) == 0 {
		return verdict.All(cs...)
	}
	return verdict.Any(cs...)
}

func TestRandomConditionsRoundTrip(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		c := randomCondition(t, rnd, 5)
		s := c.String()
		back := must(t, s)
		require.Equal(t, s, back.String(), "String is canonical")
		assertEquivalent(t, c, back, s)
	}
}

func TestReasons(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr string
		want []signals.Reason
	}{
		{"new_ip", []signals.Reason{newIP}},
		{"known_device && true", nil},
		{`action == "signup" || score >= 0.5`, nil},
		{"new_device && (new_ip || !new_device) || new_ip && !known_device", []signals.Reason{newDevice, newIP}},
		{"breached_password && (new_ip || new_country)", []signals.Reason{"breached_password", newIP, newCountry}},
	} {
		assert.Equal(t, tc.want, verdict.Reasons(must(t, tc.expr)), tc.expr)
	}
	assert.Equal(t, []signals.Reason{newIP}, verdict.Reasons(verdict.All(verdict.Reason(newIP), foreign{})), "other conditions are ignored")
	assert.Nil(t, verdict.Reasons(nil))
}

// foreign is a Condition from another package.
type foreign struct{}

func (foreign) Eval(*verdict.Input) bool { return true }
func (foreign) String() string           { return "foreign()" }
