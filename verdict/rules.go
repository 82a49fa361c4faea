package verdict

import (
	"errors"
	"fmt"
	"slices"

	"github.com/atoguard/ato/internal/ident"
	"github.com/atoguard/ato/signals"
)

// Rule is one row of a policy: when its condition holds, its verdict wins.
type Rule struct {
	Name    string
	When    Condition
	Verdict Verdict
	// Restrict lists the actions to hold back when Verdict restricts;
	// empty means [DefaultRestrictions].
	Restrict []string
	// Shadow marks a rule that is watched but not enforced: it never
	// decides, and Decide reports in [Decision.Shadow] when it matches.
	Shadow bool
}

// EngineRules are the rule names the ato engine gives the decisions it
// takes whatever the policy (its overrides: ato.RuleRestricted,
// ato.RuleStepUp, ato.RuleChallengeLimit). A policy may not use them.
var EngineRules = []string{"restricted", "step-up", "challenge-limit"}

// Rules is a [Policy]: the first rule whose condition holds decides. When
// none does, the verdict is allow, by the rule "otherwise". A rule without
// a condition never holds; shadow rules never decide.
type Rules []Rule

// Decide implements [Policy]. Every shadow rule whose condition holds is
// reported in the decision, in order, whether it comes before the deciding
// rule (it preempts) or after.
func (rs Rules) Decide(in *Input) Decision {
	var d Decision
	decided := false
	for i := range rs {
		r := &rs[i] // not a copy of each rule
		if (decided && !r.Shadow) || r.When == nil || !r.When.Eval(in) {
			continue
		}
		if r.Shadow {
			d.Shadow = append(d.Shadow, ShadowMatch{Rule: r.Name, Verdict: r.Verdict, Restrictions: r.restrictions(), Preempts: !decided})
			continue
		}
		d.Verdict, d.Rule, d.Restrictions = r.Verdict, r.Name, r.restrictions()
		decided = true
	}
	if !decided {
		d.Verdict, d.Rule = Allow, "otherwise"
	}
	return d
}

// restrictions returns a copy of the actions the rule holds back.
func (r *Rule) restrictions() []string {
	switch {
	case !r.Verdict.Restricts():
		return nil
	case len(r.Restrict) == 0:
		return slices.Clone(DefaultRestrictions)
	}
	return slices.Clone(r.Restrict)
}

// Default returns the default policy, the table in ato's architecture,
// written in the form operators use (name: condition → verdict):
//
//  1. allow-listed: allow_listed → allow
//  2. deny-listed: deny_listed → deny
//  3. disowned-device: disowned_device → deny
//  4. credential-stuffing: credential_stuffing && !known_device → deny
//  5. stuffing-campaign: stuffing_campaign && action == "login" &&
//     !known_device && (new_ip || new_user) → deny: while a campaign lasts,
//     a login from a device and a network both new for the user (a first
//     login is both) is refused rather than challenged, so that no code
//     reaches the owners of the accounts on the combo list; known devices
//     and known networks are untouched
//  6. brute-force: brute_force && !known_device → challenge
//  7. impossible-travel: impossible_travel && !device_token →
//     challenge_and_restrict
//  8. copied-fingerprint: (device_token_mismatch || device_token_missing)
//     && (new_ip || new_country) → challenge
//  9. new-device-new-network: new_device && (new_ip || new_country ||
//     anonymous_ip || hosting_ip) → challenge
//  10. missing-fingerprint-new-ip: missing_fingerprint && new_ip → challenge
//  11. new-country: new_country && known_device && !device_token →
//     restrict
//  12. multiple-accounts-signup: action == "signup" &&
//     multiple_accounts_per_device → restrict
//  13. otherwise → allow
//
// Each call returns a new slice, which the caller may change.
func Default() Rules { return slices.Clone(defaultRules) }

var defaultTable = []struct {
	name, when string
	verdict    Verdict
}{
	{"allow-listed", "allow_listed", Allow},
	{"deny-listed", "deny_listed", Deny},
	{"disowned-device", "disowned_device", Deny},
	{"credential-stuffing", "credential_stuffing && !known_device", Deny},
	{"stuffing-campaign", `stuffing_campaign && action == "login" && !known_device && (new_ip || new_user)`, Deny},
	{"brute-force", "brute_force && !known_device", Challenge},
	{"impossible-travel", "impossible_travel && !device_token", ChallengeAndRestrict},
	{"copied-fingerprint", "(device_token_mismatch || device_token_missing) && (new_ip || new_country)", Challenge},
	{"new-device-new-network", "new_device && (new_ip || new_country || anonymous_ip || hosting_ip)", Challenge},
	{"missing-fingerprint-new-ip", "missing_fingerprint && new_ip", Challenge},
	{"new-country", "new_country && known_device && !device_token", Restrict},
	{"multiple-accounts-signup", `action == "signup" && multiple_accounts_per_device`, Restrict},
}

// defaultRules is parsed once. A row that failed to parse would have no
// condition and never hold rather than panic at init; a test proves every
// row parses.
var defaultRules = func() Rules {
	rs := make(Rules, len(defaultTable))
	for i, row := range defaultTable {
		c, _ := ParseCondition(row.when)
		rs[i] = Rule{Name: row.name, When: c, Verdict: row.verdict}
	}
	return rs
}()

// ErrUnknownReason is wrapped by the error of [Rules.Validate] and
// [ParseRules] when a condition uses a reason no signal reports.
var ErrUnknownReason = errors.New("verdict: unknown reason")

// maxRules bounds a policy.
const maxRules = 256

// Validate reports the first thing wrong with the policy, naming the rule
// by its position (from 1) and name. A valid policy has at most 256 rules,
// and every rule
//
//   - has a name of lower-case letters, digits, '-' and '_', at most 64
//     bytes, unique in the policy and not "otherwise" or one of [EngineRules];
//   - has a condition, whose reasons each satisfy known (nil accepts every
//     reason; an unknown one is an error wrapping [ErrUnknownReason]) and
//     whose reasons and actions could be written in an expression;
//   - has one of the five verdicts;
//   - lists Restrict actions only if its verdict restricts, each 1 to 32
//     lower-case letters, digits and '_'.
func (rs Rules) Validate(known func(signals.Reason) bool) error {
	return rs.validate(known, "")
}

// validate is Validate for a policy read from file (empty: none).
func (rs Rules) validate(known func(signals.Reason) bool, file string) error {
	if len(rs) > maxRules {
		return fmt.Errorf("%s%d rules, at most %d", prefix(file), len(rs), maxRules)
	}
	for i := range rs {
		if err := rs.validateRule(i, known, file); err != nil {
			return err
		}
	}
	return nil
}

// validateRule checks rule i, and that no rule before it has its name.
func (rs Rules) validateRule(i int, known func(signals.Reason) bool, file string) error {
	r := &rs[i]
	err := r.validate(known)
	for j := 0; err == nil && j < i; j++ {
		if rs[j].Name == r.Name {
			err = &ruleError{msg: fmt.Sprintf("the name is taken by rule %d", j+1)}
		}
	}
	if err != nil {
		err.file, err.index, err.name = file, i+1, r.Name
		return err
	}
	return nil
}

func (r *Rule) validate(known func(signals.Reason) bool) *ruleError {
	switch {
	case r.Name == "":
		return &ruleError{msg: "no name"}
	case !ident.Rule(r.Name):
		return &ruleError{msg: "invalid name: want at most 64 lower-case letters, digits, '-' and '_'"}
	case r.Name == "otherwise":
		return &ruleError{msg: `the name "otherwise" is reserved for the implicit last rule`}
	case slices.Contains(EngineRules, r.Name):
		return &ruleError{msg: fmt.Sprintf("the name %q is reserved for a decision the engine makes", r.Name)}
	case r.When == nil:
		return &ruleError{msg: "no condition"}
	case r.Verdict == "":
		return &ruleError{msg: "no verdict"}
	case !r.Verdict.Valid():
		return &ruleError{msg: fmt.Sprintf("invalid verdict %q", r.Verdict)}
	case len(r.Restrict) > 0 && !r.Verdict.Restricts():
		return &ruleError{msg: fmt.Sprintf("restrict is set but verdict %q does not restrict", r.Verdict)}
	}
	for _, a := range r.Restrict {
		if !ident.Action(a) {
			return &ruleError{msg: fmt.Sprintf(`invalid restrict action %q: want 1 to %d lower-case letters, digits or "_"`, a, ident.MaxAction)}
		}
	}
	var err *ruleError
	walk(r.When, func(c Condition) {
		if err != nil {
			return
		}
		switch c := c.(type) {
		case nil:
			err = &ruleError{msg: "the condition holds a nil condition"}
		case reasonCond:
			name := string(c)
			switch {
			case !ident.Reason(name) || isKeyword(name):
				err = &ruleError{msg: fmt.Sprintf("invalid reason %q: want at most %d lower-case letters, digits and '_', starting with a letter", name, ident.MaxReason)}
			case known != nil && !known(signals.Reason(c)):
				err = &ruleError{msg: fmt.Sprintf("unknown reason %q", name), err: ErrUnknownReason}
			}
		case actionCond:
			if !ident.Action(string(c)) {
				err = &ruleError{msg: fmt.Sprintf(`invalid action %q in the condition: want 1 to %d lower-case letters, digits or "_"`, string(c), ident.MaxAction)}
			}
		}
	})
	return err
}

// isKeyword reports whether s is a word of the expression syntax, which
// cannot name a reason.
func isKeyword(s string) bool {
	switch s {
	case "true", "false", "known_device", "device_token", "action", "score":
		return true
	}
	return false
}

// ruleError is what is wrong with one rule of a policy.
type ruleError struct {
	file  string // the policy file, if any
	index int    // from 1
	name  string
	msg   string
	err   error // wrapped: ErrUnknownReason, *SyntaxError
}

func (e *ruleError) Error() string {
	s := fmt.Sprintf("%srule %d", prefix(e.file), e.index)
	if e.name != "" {
		s += fmt.Sprintf(" %q", e.name)
	}
	return s + ": " + e.msg
}

func (e *ruleError) Unwrap() error { return e.err }

// prefix starts an error message about a policy, read from file if it is
// not empty.
func prefix(file string) string {
	if file == "" {
		return "verdict: "
	}
	return "verdict: " + file + ": "
}
