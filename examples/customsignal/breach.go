package main

import (
	"context"
	"strconv"

	"github.com/atoguard/ato/signals"
)

// BreachedPasswordReason is reported when the password that was just typed
// is known from a public breach.
const BreachedPasswordReason signals.Reason = "breached_password"

// BreachedPasswordScore is the declared score of breached_password: a
// breached password is strong evidence that someone else may have it.
const BreachedPasswordScore = 0.6

// MetadataKey is where the application puts, for each login, how many times
// the typed password appears in breach corpora ("0" when never). The
// application checks the password itself when it has it in hand — for
// example against the Have I Been Pwned range API, which sees only the
// first five hex characters of its SHA-1 — so neither the password nor its
// hash ever reaches ato.
const MetadataKey = "password_breach_count"

// BreachedPassword is a plug-in signal. It implements signals.Signal, and
// signals.Declarer so that policy rules may name its reason.
type BreachedPassword struct{}

// Name implements signals.Signal.
func (BreachedPassword) Name() string { return "breached_password" }

// Reasons implements signals.Declarer.
func (BreachedPassword) Reasons() []signals.ReasonInfo {
	return []signals.ReasonInfo{{
		Reason:      BreachedPasswordReason,
		Score:       BreachedPasswordScore,
		Description: "the password appears in a public breach",
	}}
}

// Detect implements signals.Signal. A missing or malformed count is no
// finding: the signal cannot say, so it says nothing.
func (BreachedPassword) Detect(_ context.Context, in *signals.Input) ([]signals.Finding, error) {
	n, err := strconv.Atoi(in.Metadata[MetadataKey])
	if err != nil || n <= 0 {
		return nil, nil
	}
	return []signals.Finding{{
		Reason: BreachedPasswordReason,
		// Score left zero: the engine gives it the declared score.
		Detail:   "the password was seen " + strconv.Itoa(n) + " times in breaches",
		Evidence: map[string]string{"breach_count": strconv.Itoa(n)},
	}}, nil
}
