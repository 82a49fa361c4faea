// Package verdict turns findings into a decision: a [Verdict], the rule
// that chose it and, for restrictions, the actions to hold back.
//
// A [Policy] decides. [Rules] is the policy ato ships: an ordered list of
// [Rule]s, the first whose condition holds wins. [Default] is the default
// table; operators write their own rules in the same form, in Go or in a
// JSON file read by [ParseRules] or [LoadRules].
//
// # Conditions
//
// A rule's condition is an expression, parsed by [ParseCondition]:
//
//	new_device && (new_ip || new_country)
//	credential_stuffing && !known_device
//	action == "signup" && multiple_accounts_per_device
//	score >= 0.8 || deny_listed
//
// Its atoms are
//
//   - a reason such as new_ip (lower-case letters, digits and '_',
//     starting with a letter, at most 64): holds when a finding has it;
//   - known_device: the attempt comes from a device known for the user;
//   - device_token: the browser presented a valid device token of the
//     user's for that device (see ato's Result.DeviceToken);
//   - true and false;
//   - action == "signup" and action != "signup": the attempt's action
//     (1 to 32 lower-case letters, digits and '_');
//   - score OP number, with OP one of >=, >, <=, < and ==, and a decimal
//     number from 0 to 1 such as 0.8 or 1: the combined risk score.
//
// They combine with ! (not), && (and) and || (or), binding in that order
// from tightest to loosest, and parentheses. A ! before a comparison
// negates the whole comparison: !score >= 0.8, written back as
// !(score >= 0.8), holds when the score is below 0.8. Spaces, tabs and
// newlines are free. An expression holds at most 4096 bytes besides them
// and parentheses, and nests parentheses at most 64 deep; the words true,
// false, known_device, device_token, action and score cannot name reasons.
// A condition's String method writes it back in this syntax.
//
// # Policy files
//
// [ParseRules] reads a policy from JSON, [Rules.MarshalJSON] writes it:
//
//	{"rules": [
//	  {"name": "breached-password", "when": "breached_password && !known_device", "verdict": "challenge"},
//	  {"name": "risky", "when": "score >= 0.8", "verdict": "challenge_and_restrict", "restrict": ["payment"]},
//	  {"name": "watch-new-country", "when": "new_country", "verdict": "challenge", "shadow": true}
//	]}
//
// Every rule has a name, a condition ("when") and a verdict; "restrict"
// lists the actions a restricting verdict holds back (default
// [DefaultRestrictions]). A "shadow" rule never decides: [Rules.Decide]
// reports in [Decision.Shadow] when it would have matched, so that a new
// rule can be watched before it is enforced. [Rules.Validate] states what
// a well-formed policy is.
package verdict

import (
	"slices"

	"github.com/atoguard/ato/signals"
)

// Verdict is what the application should do with the attempt.
type Verdict string

// Verdicts.
const (
	Allow                Verdict = "allow"
	Challenge            Verdict = "challenge"
	Restrict             Verdict = "restrict"
	ChallengeAndRestrict Verdict = "challenge_and_restrict"
	Deny                 Verdict = "deny"
)

// Valid reports whether v is one of the five verdicts.
func (v Verdict) Valid() bool {
	switch v {
	case Allow, Challenge, Restrict, ChallengeAndRestrict, Deny:
		return true
	}
	return false
}

// Challenges reports whether the verdict asks for a challenge.
func (v Verdict) Challenges() bool { return v == Challenge || v == ChallengeAndRestrict }

// Restricts reports whether the verdict holds back sensitive actions.
func (v Verdict) Restricts() bool { return v == Restrict || v == ChallengeAndRestrict }

// Succeeds reports whether the attempt is let in now: allow and restrict.
// A login or signup that succeeds teaches the engine its device, IP and
// country.
func (v Verdict) Succeeds() bool { return v == Allow || v == Restrict }

// DefaultRestrictions are the actions a restriction holds back when a rule
// names none.
var DefaultRestrictions = []string{"password_change", "email_change", "phone_change", "mfa_change", "payment"}

// Input is what a policy decides on.
type Input struct {
	Action   string
	Findings []signals.Finding
	// Score in [0,1] combines the findings' scores.
	Score float64
	// KnownDevice reports that the user logged in successfully from the
	// attempt's device before.
	KnownDevice bool
	// DeviceToken reports that the browser presented a valid device token
	// of the user's for that device.
	DeviceToken bool
}

// Has reports whether a finding has the reason.
func (in *Input) Has(r signals.Reason) bool {
	return slices.ContainsFunc(in.Findings, func(f signals.Finding) bool { return f.Reason == r })
}

// Decision is a policy's answer.
type Decision struct {
	Verdict Verdict
	// Rule names the rule that decided.
	Rule string
	// Restrictions are the actions held back when the verdict restricts.
	Restrictions []string
	// Shadow lists the shadow rules that matched, in policy order; nil
	// when none did. They never change the verdict.
	Shadow []ShadowMatch
}

// ShadowMatch is a shadow rule whose condition held: what it would have
// decided had it been enforced.
type ShadowMatch struct {
	// Rule names the shadow rule.
	Rule string
	// Verdict is what the shadow rule would have decided.
	Verdict Verdict
	// Restrictions are the actions it would hold back when its verdict
	// restricts.
	Restrictions []string
	// Preempts reports that the shadow rule comes before the rule that
	// decided (or that the implicit "otherwise" decided), so enforcing it
	// would have made it the deciding rule.
	Preempts bool
}

// Policy decides on an attempt. Decide may be called concurrently and
// must not modify its input.
type Policy interface {
	Decide(in *Input) Decision
}
