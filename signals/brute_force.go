package signals

import (
	"context"
	"strconv"
	"time"
)

// BruteForceScore is the score of a brute_force finding.
const BruteForceScore = 0.5

// Defaults of [BruteForce].
const (
	DefaultBruteForceFailures = 5
	DefaultBruteForceWindow   = 15 * time.Minute
)

// BruteForce reports brute_force when the user has at least threshold
// failed attempts in the window (the engine loads the count for it; window
// is for the evidence) from devices that are not known for the user.
// Failures from the owner's known device do not count, so an owner who
// mistypes is not taken for an attacker; the default policy also spares
// the owner's known device while an attack goes on. A known network does
// not exempt a failure: an attacker may share the owner's NAT.
func BruteForce(threshold int, window time.Duration) Signal {
	if threshold < 1 {
		threshold = DefaultBruteForceFailures
	}
	if window <= 0 {
		window = DefaultBruteForceWindow
	}
	return bruteForce{threshold, window}
}

type bruteForce struct {
	threshold int
	window    time.Duration
}

func (bruteForce) Name() string { return string(BruteForceReason) }

func (s bruteForce) Detect(_ context.Context, in *Input) ([]Finding, error) {
	n := in.Failures.UserUnknown
	if n < s.threshold {
		return nil, nil
	}
	return []Finding{{
		Reason: BruteForceReason,
		Score:  BruteForceScore,
		Detail: strconv.Itoa(n) + " failed attempts on the account from unknown devices in the last " +
			s.window.String() + " (threshold " + strconv.Itoa(s.threshold) + ")",
		Evidence: map[string]string{
			"failures":       strconv.Itoa(n),
			"failures_total": strconv.Itoa(in.Failures.User),
			"window":         s.window.String(),
			"threshold":      strconv.Itoa(s.threshold),
		},
	}}, nil
}
