package ato

import (
	"slices"
	"strings"

	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
)

// Result is the engine's answer to an attempt.
type Result struct {
	// EvaluationID identifies this evaluation (a UUID).
	EvaluationID string
	Verdict      verdict.Verdict
	// Reasons are the reasons of the findings, in order, without repeats.
	Reasons []signals.Reason
	// FingerprintID is the stable device id (UUID text); empty when the
	// request had no fingerprint.
	FingerprintID string
	// Confidence in [0,1] is how sure the device identification is: 1 for
	// an exact match or a newly seen device, less for a match through the
	// last fingerprint, 0 without a fingerprint.
	Confidence float64
	// ChallengeID is set when the verdict includes a challenge.
	ChallengeID string
	// Score in [0,1] combines the findings' scores: 1 - Π(1 - score).
	Score float64
	// Findings are the trace: every finding with its evidence.
	Findings []signals.Finding
	// Rule names the policy rule that decided, or the engine's override
	// ([RuleRestricted], [RuleStepUp], [RuleChallengeLimit]).
	Rule string
	// Restrictions are the actions held back when the verdict restricts.
	Restrictions []string
	// Location is where the attempt's IP is, per the Locator; nil when it
	// was not located.
	Location *signals.Location
	// Shadow lists the shadow rules whose conditions held: what they would
	// have decided, had they been enforced. See [verdict.Rule].
	Shadow []verdict.ShadowMatch
	// DeviceToken is set when the attempt taught the engine its device (an
	// allowed or restricted login): a fresh token naming the device and
	// the user, for the application to keep in the browser's cookie and
	// send back as [Request].DeviceToken, replacing the one it has. See
	// the README's "Device tokens".
	DeviceToken string
}

// Explain renders the result as one line a person can read: the verdict,
// what was found, the rule that decided and any shadow rule that would
// have decided otherwise, e.g. "challenge: new device and new IP
// 203.0.113.9 (first seen), rule new-device-new-network".
func (r Result) Explain() string {
	var b strings.Builder
	b.WriteString(string(r.Verdict))
	b.WriteString(": ")
	var phrases []string
	for _, f := range r.Findings {
		if p := f.Summary(); !slices.Contains(phrases, p) {
			phrases = append(phrases, p)
		}
	}
	switch n := len(phrases); n {
	case 0:
		b.WriteString("nothing unusual")
	case 1:
		b.WriteString(phrases[0])
	default:
		b.WriteString(strings.Join(phrases[:n-1], ", "))
		b.WriteString(" and ")
		b.WriteString(phrases[n-1])
	}
	b.WriteString(", rule ")
	b.WriteString(r.Rule)
	for _, s := range r.Shadow {
		if s.Preempts && s.Verdict != r.Verdict {
			b.WriteString("; shadow rule ")
			b.WriteString(s.Rule)
			b.WriteString(" would ")
			b.WriteString(string(s.Verdict))
		}
	}
	return b.String()
}
