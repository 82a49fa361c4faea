package verdict

import (
	"slices"
	"strings"

	"github.com/atoguard/ato/signals"
)

// Condition is a test on a policy [Input]. String renders it in the rule
// expression syntax, e.g. `new_device && (new_ip || new_country)`.
type Condition interface {
	Eval(in *Input) bool
	String() string
}

// Rule is one row of a policy: when its condition holds, its verdict wins.
type Rule struct {
	Name    string
	When    Condition
	Verdict Verdict
	// Restrict lists the actions to hold back when Verdict restricts;
	// empty means [DefaultRestrictions].
	Restrict []string
}

// Rules is a [Policy]: the first rule whose condition holds decides. When
// none does, the verdict is allow, by the rule "otherwise". A rule without
// a condition never holds.
type Rules []Rule

// Decide implements [Policy].
func (rs Rules) Decide(in *Input) Decision {
	for _, r := range rs {
		if r.When != nil && r.When.Eval(in) {
			d := Decision{Verdict: r.Verdict, Rule: r.Name}
			if r.Verdict.Restricts() {
				d.Restrictions = slices.Clone(r.Restrict)
				if len(d.Restrictions) == 0 {
					d.Restrictions = slices.Clone(DefaultRestrictions)
				}
			}
			return d
		}
	}
	return Decision{Verdict: Allow, Rule: "otherwise"}
}

// Default returns the default policy, the table in ato's architecture:
//
//  1. allow_listed → allow
//  2. deny_listed → deny
//  3. credential_stuffing from a device not known for the user → deny
//  4. brute_force from a device not known for the user → challenge
//  5. impossible_travel → challenge_and_restrict
//  6. new_device and any of new_ip, new_country, anonymous_ip, hosting_ip → challenge
//  7. missing_fingerprint and new_ip → challenge
//  8. new_country from a known device → restrict
//  9. multiple_accounts_per_device on signup → restrict
//  10. otherwise → allow
func Default() Rules {
	return Rules{
		{Name: "allow-listed", When: Reason(signals.AllowListedReason), Verdict: Allow},
		{Name: "deny-listed", When: Reason(signals.DenyListedReason), Verdict: Deny},
		{Name: "credential-stuffing", When: All(Reason(signals.CredentialStuffingReason), Not(KnownDevice())), Verdict: Deny},
		{Name: "brute-force", When: All(Reason(signals.BruteForceReason), Not(KnownDevice())), Verdict: Challenge},
		{Name: "impossible-travel", When: Reason(signals.ImpossibleTravelReason), Verdict: ChallengeAndRestrict},
		{Name: "new-device-new-network", When: All(Reason(signals.NewDeviceReason), Any(
			Reason(signals.NewIPReason), Reason(signals.NewCountryReason),
			Reason(signals.AnonymousIPReason), Reason(signals.HostingIPReason))), Verdict: Challenge},
		{Name: "missing-fingerprint-new-ip", When: All(Reason(signals.MissingFingerprintReason), Reason(signals.NewIPReason)), Verdict: Challenge},
		{Name: "new-country", When: All(Reason(signals.NewCountryReason), KnownDevice()), Verdict: Restrict},
		{Name: "multiple-accounts-signup", When: All(ActionIs("signup"), Reason(signals.MultipleAccountsReason)), Verdict: Restrict},
	}
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

// ActionIs holds when the attempt's action is a.
func ActionIs(a string) Condition { return actionCond(a) }

type actionCond string

func (c actionCond) Eval(in *Input) bool { return in.Action == string(c) }
func (c actionCond) String() string      { return `action == "` + string(c) + `"` }

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
	parts := make([]string, len(j.cs))
	for i, c := range j.cs {
		parts[i] = c.String()
		if inner, ok := c.(junction); ok && inner.all != j.all && len(inner.cs) > 1 {
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
	if j, ok := n.c.(junction); ok && len(j.cs) > 1 {
		return "!(" + n.c.String() + ")"
	}
	return "!" + n.c.String()
}
