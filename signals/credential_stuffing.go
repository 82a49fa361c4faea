package signals

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// CredentialStuffingReason: many users failing to log in from the
// attempt's network.
const CredentialStuffingReason Reason = "credential_stuffing"

// CredentialStuffingScore is the score of a credential_stuffing finding.
const CredentialStuffingScore = 0.6

// Defaults of [CredentialStuffingConfig].
const (
	DefaultStuffingUsers  = 10
	DefaultStuffingWindow = time.Hour
)

// CredentialStuffingConfig configures [CredentialStuffing].
type CredentialStuffingConfig struct {
	// Users is the least number of distinct users failing from one
	// network that is credential stuffing. Zero means
	// [DefaultStuffingUsers]; at most [MaxThreshold].
	Users int
	// Window is how far back failures count; the engine loads the count in
	// it ([Input.Failures]). Zero means [DefaultStuffingWindow].
	Window time.Duration
}

func (c CredentialStuffingConfig) withDefaults() CredentialStuffingConfig {
	if c.Users == 0 {
		c.Users = DefaultStuffingUsers
	}
	if c.Window == 0 {
		c.Window = DefaultStuffingWindow
	}
	return c
}

func (c CredentialStuffingConfig) validate() error {
	if c.Users < 0 || c.Users > MaxThreshold || c.Window < 0 {
		return fmt.Errorf("signals: CredentialStuffing: need 0 (the default) to %d users and a window not negative, got %d and %v", MaxThreshold, c.Users, c.Window)
	}
	return nil
}

// CredentialStuffing reports credential_stuffing when at least threshold
// distinct users failed to log in from the attempt's network (the IPv4
// address, or the IPv6 /64) in the window (the engine counts them in it).
// Users who had that network as a known one do not count, so an office or
// carrier NAT is not punished for its own users' typos. Zero arguments
// mean the defaults.
func CredentialStuffing(threshold int, window time.Duration) Signal {
	c := CredentialStuffingConfig{Users: max(threshold, 0), Window: max(window, 0)}.withDefaults()
	return credentialStuffing{c.Users, c.Window}
}

type credentialStuffing struct {
	threshold int
	window    time.Duration
}

func (credentialStuffing) Name() string { return string(CredentialStuffingReason) }

func (credentialStuffing) Reasons() []ReasonInfo {
	return []ReasonInfo{{CredentialStuffingReason, CredentialStuffingScore, "many users failing from this network"}}
}

func (s credentialStuffing) Detect(_ context.Context, in *Input) ([]Finding, error) {
	n := in.Failures.NetworkUsers
	if in.Network == "" || n < s.threshold {
		return nil, nil
	}
	return []Finding{{
		Reason: CredentialStuffingReason,
		Score:  CredentialStuffingScore,
		Detail: strconv.Itoa(n) + " different users failed to log in from " + in.Network + " in the last " +
			formatDuration(s.window) + " (threshold " + strconv.Itoa(s.threshold) + ")",
		Evidence: map[string]string{
			"network":   in.Network,
			"users":     strconv.Itoa(n),
			"window":    s.window.String(),
			"threshold": strconv.Itoa(s.threshold),
		},
	}}, nil
}

func (credentialStuffing) summary(f *Finding) string {
	n := f.Evidence["users"]
	if n == "" {
		return ""
	}
	return n + " users failing from " + f.Evidence["network"] + " in " + evidenceDuration(f.Evidence["window"])
}
