package verdict

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/atoguard/ato/signals"
)

// Condition is a test on a policy [Input]. String renders it in the rule
// expression syntax, e.g. `new_device && (new_ip || new_country)`; for the
// conditions of this package, [ParseCondition] reads that text back into an
// equivalent condition.
type Condition interface {
	Eval(in *Input) bool
	String() string
}

// Reason holds when a finding has the reason.
func Reason(r signals.Reason) Condition { return reasonCond(r) }

type reasonCond signals.Reason

func (c reasonCond) Eval(in *Input) bool { return in.Has(signals.Reason(c)) }
func (c reasonCond) String() string      { return string(c) }

// KnownDevice holds when the attempt comes from a device known for the
// user.
func KnownDevice() Condition { return knownDevice{} }

type knownDevice struct{}

func (knownDevice) Eval(in *Input) bool { return in.KnownDevice }
func (knownDevice) String() string      { return "known_device" }

// DeviceToken holds when the browser presented a valid device token of
// the user's for the device its fingerprint was identified as: the
// browser the engine issued the token to.
func DeviceToken() Condition { return deviceToken{} }

type deviceToken struct{}

func (deviceToken) Eval(in *Input) bool { return in.DeviceToken }
func (deviceToken) String() string      { return "device_token" }

// ActionIs holds when the attempt's action is a. Not(ActionIs(a)) renders
// as `action != "a"`.
func ActionIs(a string) Condition { return actionCond(a) }

type actionCond string

func (c actionCond) Eval(in *Input) bool { return in.Action == string(c) }
func (c actionCond) String() string      { return `action == "` + string(c) + `"` }

// Score compares the attempt's combined risk score with v: it holds when
// `score op v` does. op is one of ">=", ">", "<=", "<" and "=="; v is in
// [0,1].
func Score(op string, v float64) (Condition, error) {
	if !validScoreOp(op) {
		return nil, fmt.Errorf("verdict: invalid score comparison %q, want >=, >, <=, < or ==", op)
	}
	if !(v >= 0 && v <= 1) {
		return nil, fmt.Errorf("verdict: score %v is outside [0,1]", v)
	}
	return scoreCond{op: op, v: v}, nil
}

func validScoreOp(op string) bool {
	switch op {
	case ">=", ">", "<=", "<", "==":
		return true
	}
	return false
}

type scoreCond struct {
	op string
	v  float64
}

func (c scoreCond) Eval(in *Input) bool {
	switch c.op {
	case ">=":
		return in.Score >= c.v
	case ">":
		return in.Score > c.v
	case "<=":
		return in.Score <= c.v
	case "<":
		return in.Score < c.v
	case "==":
		return in.Score == c.v
	}
	return false
}

func (c scoreCond) String() string {
	return "score " + c.op + " " + strconv.FormatFloat(c.v, 'f', -1, 64)
}

// All holds when every condition holds (true for none).
func All(cs ...Condition) Condition { return junction{cs: cs, all: true} }

// Any holds when some condition holds (false for none).
func Any(cs ...Condition) Condition { return junction{cs: cs} }

type junction struct {
	cs  []Condition
	all bool
}

func (j junction) Eval(in *Input) bool {
	for _, c := range j.cs {
		if c.Eval(in) != j.all {
			return !j.all
		}
	}
	return j.all
}

func (j junction) String() string {
	op, empty := " || ", "false"
	if j.all {
		op, empty = " && ", "true"
	}
	if len(j.cs) == 0 {
		return empty
	}
	own := precedence(j)
	parts := make([]string, len(j.cs))
	for i, c := range j.cs {
		parts[i] = c.String()
		if precedence(c) < own {
			parts[i] = "(" + parts[i] + ")"
		}
	}
	return strings.Join(parts, op)
}

// Not holds when c does not.
func Not(c Condition) Condition { return not{c} }

type not struct{ c Condition }

func (n not) Eval(in *Input) bool { return !n.c.Eval(in) }

func (n not) String() string {
	if a, ok := operand(n.c).(actionCond); ok {
		return `action != "` + string(a) + `"`
	}
	if _, ok := operand(n.c).(scoreCond); ok || precedence(n.c) < precNot {
		return "!(" + n.c.String() + ")"
	}
	return "!" + n.c.String()
}

// How tightly a rendered condition binds: String wraps an operand in
// parentheses only when it binds more loosely than its operator, so that
// the text is as short as the grammar allows.
const (
	precOr = iota + 1
	precAnd
	precNot
	precAtom
)

func precedence(c Condition) int {
	switch c := operand(c).(type) {
	case junction:
		switch {
		case len(c.cs) == 0:
			return precAtom
		case c.all:
			return precAnd
		}
		return precOr
	case not:
		if _, ok := operand(c.c).(actionCond); ok {
			return precAtom // action != "a"
		}
		return precNot
	}
	return precAtom
}

// operand unwraps junctions of one operand, which render as that operand.
func operand(c Condition) Condition {
	for {
		j, ok := c.(junction)
		if !ok || len(j.cs) != 1 {
			return c
		}
		c = j.cs[0]
	}
}

// Reasons returns the distinct reasons c refers to, in order of first
// appearance; known_device is not a reason. It looks inside the conditions
// of this package and ignores other implementations.
func Reasons(c Condition) []signals.Reason {
	var rs []signals.Reason
	walk(c, func(c Condition) {
		if r, ok := c.(reasonCond); ok && !slices.Contains(rs, signals.Reason(r)) {
			rs = append(rs, signals.Reason(r))
		}
	})
	return rs
}

// walk calls f on c and, depth first, on every condition inside it,
// including nil ones.
func walk(c Condition, f func(Condition)) {
	f(c)
	switch c := c.(type) {
	case junction:
		for _, x := range c.cs {
			walk(x, f)
		}
	case not:
		walk(c.c, f)
	}
}
