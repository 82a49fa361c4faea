package ato

import (
	"slices"
	"strconv"
	"strings"

	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
)

// The overrides: decisions the engine takes whatever the policy said, and
// the rule names [Result.Rule] gives them. Policies may not use these names
// ([verdict.EngineRules] reserves them).
const (
	// RuleRestricted: an action held back by a restriction is denied.
	RuleRestricted = "restricted"
	// RuleStepUp: [Engine.StepUp] asks for a challenge.
	RuleStepUp = "step-up"
	// RuleChallengeLimit: a challenge past the user's hourly limit is
	// denied, with the reason too_many_challenges.
	RuleChallengeLimit = "challenge-limit"
)

// enforceRestriction applies what no policy may overrule: a held-back
// action from a restricted device is denied, with RuleRestricted. That is
// the case when a finding is restricted, or when the policy's own verdict
// restricts the very action asked for: letting it through once would defeat
// the restriction. It reports whether the action is held back, and a
// policy's own deny stays what it is.
func (e *Engine) enforceRestriction(ev *evaluation) (held bool) {
	dec, action := &ev.dec, ev.a.action
	held = slices.ContainsFunc(ev.found, func(f signals.Finding) bool { return f.Reason == signals.RestrictedReason })
	if !held && dec.Verdict == verdict.Restrict && slices.Contains(dec.Restrictions, action) {
		held = true
		ev.found = append(slices.Clip(ev.found), signals.Finding{
			Reason: signals.RestrictedReason,
			Signal: "engine",
			Detail: "rule " + dec.Rule + " restricts this device, and its restriction holds back " + action + " itself",
			Evidence: map[string]string{
				"action":       action,
				"rule":         dec.Rule,
				"restrictions": strings.Join(dec.Restrictions, ","),
			},
		})
	}
	if !held || dec.Verdict == verdict.Deny {
		return false
	}
	*dec = verdict.Decision{Verdict: verdict.Deny, Rule: RuleRestricted, Restrictions: dec.Restrictions, Shadow: dec.Shadow}
	return true
}

// stepUp asks for a challenge instead of the verdict: a step-up challenge
// is also the way out of a restriction, since completing it lifts the
// restriction, and that needs the code.
func (e *Engine) stepUp(ev *evaluation) {
	ev.dec = verdict.Decision{Verdict: verdict.Challenge, Rule: RuleStepUp, Shadow: ev.dec.Shadow}
}

// limitChallenges turns a challenge past the user's hourly limit (count
// challenges in the last hour) into a deny with too_many_challenges: a
// guard against SMS pumping and against guessing codes through fresh
// challenges.
func (e *Engine) limitChallenges(ev *evaluation, count int) {
	dec, limit := &ev.dec, e.cfg.limits.PerHour
	ev.found = append(slices.Clip(ev.found), signals.Finding{
		Reason: signals.ChallengeLimitReason,
		Signal: "engine",
		Detail: strconv.Itoa(count) + " challenges for the user in the last hour; at most " +
			strconv.Itoa(limit) + " are allowed, so rule " + dec.Rule + "'s " + string(dec.Verdict) + " becomes deny",
		Evidence: map[string]string{
			"challenges": strconv.Itoa(count),
			"limit":      strconv.Itoa(limit),
			"rule":       dec.Rule,
			"verdict":    string(dec.Verdict),
		},
	})
	*dec = verdict.Decision{Verdict: verdict.Deny, Rule: RuleChallengeLimit, Shadow: dec.Shadow}
}
