// Package verdict turns findings into a decision: a [Verdict], the rule
// that chose it and, for restrictions, the actions to hold back.
//
// A [Policy] decides. [Rules] is the policy ato ships: an ordered list of
// [Rule]s, the first whose condition holds wins. [Default] is the default
// table; operators write their own rules in the same form.
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

// Succeeds reports whether the attempt is let in now, so that it teaches
// the engine its device, IP and country: allow and restrict.
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
}

// Policy decides on an attempt. Decide may be called concurrently and
// must not modify its input.
type Policy interface {
	Decide(in *Input) Decision
}
