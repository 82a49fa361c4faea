package signals

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// BruteForceReason: many failed passwords for the user from devices not
// known for them.
const BruteForceReason Reason = "brute_force"

// BruteForceScore is the score of a brute_force finding.
const BruteForceScore = 0.5

// Defaults of [BruteForceConfig].
const (
	DefaultBruteForceFailures = 5
	DefaultBruteForceWindow   = 15 * time.Minute
)

// BruteForceConfig configures [BruteForce].
type BruteForceConfig struct {
	// Failures is the least number of failed attempts on the user, from
	// devices not known for them, that is brute force. Zero means
	// [DefaultBruteForceFailures]; at most [MaxThreshold].
	Failures int
	// Window is how far back failures count; the engine loads the count in
	// it ([Input.Failures]). Zero means [DefaultBruteForceWindow].
	Window time.Duration
}

func (c BruteForceConfig) withDefaults() BruteForceConfig {
	if c.Failures == 0 {
		c.Failures = DefaultBruteForceFailures
	}
	if c.Window == 0 {
		c.Window = DefaultBruteForceWindow
	}
	return c
}

func (c BruteForceConfig) validate() error {
	if c.Failures < 0 || c.Failures > MaxThreshold || c.Window < 0 {
		return fmt.Errorf("signals: BruteForce: need 0 (the default) to %d failures and a window not negative, got %d and %v", MaxThreshold, c.Failures, c.Window)
	}
	return nil
}

// BruteForce reports brute_force when the user has at least threshold
// failed attempts in the window (the engine counts them in it: see
// [Config.WithDefaults]) from devices that are not known for the user.
// Failures from the owner's known device do not count, so an owner who
// mistypes is not taken for an attacker; the default policy also spares
// the owner's known device while an attack goes on. A known network does
// not exempt a failure: an attacker may share the owner's NAT. Zero
// arguments mean the defaults.
func BruteForce(threshold int, window time.Duration) Signal {
	c := BruteForceConfig{Failures: max(threshold, 0), Window: max(window, 0)}.withDefaults()
	return bruteForce{c.Failures, c.Window}
}

type bruteForce struct {
	threshold int
	window    time.Duration
}

func (bruteForce) Name() string { return string(BruteForceReason) }

func (bruteForce) Reasons() []ReasonInfo {
	return []ReasonInfo{{BruteForceReason, BruteForceScore, "many failed passwords for the user from unknown devices"}}
}

func (s bruteForce) Detect(_ context.Context, in *Input) ([]Finding, error) {
	n := in.Failures.UserUnknown
	if n < s.threshold {
		return nil, nil
	}
	return []Finding{{
		Reason: BruteForceReason,
		Score:  BruteForceScore,
		Detail: strconv.Itoa(n) + " failed attempts on the account from unknown devices in the last " +
			formatDuration(s.window) + " (threshold " + strconv.Itoa(s.threshold) + ")",
		Evidence: map[string]string{
			"failures":       strconv.Itoa(n),
			"failures_total": strconv.Itoa(in.Failures.User),
			"window":         s.window.String(),
			"threshold":      strconv.Itoa(s.threshold),
		},
	}}, nil
}

func (bruteForce) summary(f *Finding) string {
	n := f.Evidence["failures"]
	if n == "" {
		return ""
	}
	return n + " failed passwords from unknown devices in " + evidenceDuration(f.Evidence["window"])
}
