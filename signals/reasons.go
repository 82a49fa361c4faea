package signals

import (
	"slices"
	"strings"
)

// ChallengeLimitReason is a reason the engine reports itself, not through
// a signal: the verdict asked for a challenge, but the user already had as
// many challenges in the last hour as the engine allows, so the attempt is
// denied instead (a guard against SMS pumping and code-guessing through
// fresh challenges).
const ChallengeLimitReason Reason = "too_many_challenges"

// ReasonInfo describes a reason a signal can report.
type ReasonInfo struct {
	Reason Reason
	// Score is the score the signal gives it (see [Declarer] for plug-ins).
	Score float64
	// Description says in a few words when it fires.
	Description string
}

// Declarer is implemented by signals that declare the reasons they can
// report; the built-in ones do. Policy rules may only name declared
// reasons (and the built-in ones), so that a typo in a rule is an error
// rather than a rule that never fires. A declared reason's Score is the
// default: a finding of that reason with a zero Score gets it. A signal
// that declares its reasons may report no others.
type Declarer interface {
	Reasons() []ReasonInfo
}

// summarizer is implemented by the built-in detectors: the short phrase
// for a finding of theirs, read from its evidence, or "" for the reason
// spelt out.
type summarizer interface {
	summary(f *Finding) string
}

// challengeLimit summarises the engine's own too_many_challenges.
type challengeLimit struct{}

func (challengeLimit) summary(f *Finding) string {
	if n := f.Evidence["challenges"]; n != "" {
		return n + " challenges in the last hour"
	}
	return ""
}

// builtin holds the reasons of the built-in detectors and of the engine, in
// the order the detectors run, and who summarises each: read from the
// detectors themselves, so that a detector is its own file and one line of
// [Builtin].
var builtin = func() (b struct {
	reasons   []ReasonInfo
	summaries map[Reason]summarizer
}) {
	b.summaries = map[Reason]summarizer{ChallengeLimitReason: challengeLimit{}}
	for _, s := range append(Builtin(Config{}), Lists(nil, nil)) {
		for _, ri := range s.(Declarer).Reasons() {
			b.reasons = append(b.reasons, ri)
			if sum, ok := s.(summarizer); ok {
				b.summaries[ri.Reason] = sum
			}
		}
	}
	b.reasons = append(b.reasons, ReasonInfo{ChallengeLimitReason, 0, "too many challenges for the user in the last hour"})
	return b
}()

// BuiltinReasons lists the reasons of the built-in signals and of the
// engine, with their scores.
func BuiltinReasons() []ReasonInfo { return slices.Clone(builtin.reasons) }

// IsBuiltin reports whether r is a reason of the built-in signals or of
// the engine.
func IsBuiltin(r Reason) bool {
	return slices.ContainsFunc(builtin.reasons, func(i ReasonInfo) bool { return i.Reason == r })
}

// Summary is a short phrase for the finding, for one-line explanations:
// "new IP 203.0.113.9 (first seen)". The built-in detectors phrase their
// own findings; other reasons are spelt out ("breached_password" →
// "breached password").
func (f Finding) Summary() string {
	if s, ok := builtin.summaries[f.Reason]; ok {
		if p := s.summary(&f); p != "" {
			return p
		}
	}
	return strings.ReplaceAll(string(f.Reason), "_", " ")
}
