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
	DefaultStuffingUsers         = 10
	DefaultStuffingWindow        = time.Hour
	DefaultStuffingUnknownUsers  = 5
	DefaultStuffingUnknownWindow = 3 * time.Hour
)

// CredentialStuffingConfig configures [CredentialStuffing]: many users
// failing from one network in a short window, or a few user names that are
// not accounts in a longer one (a campaign slow enough to stay under the
// first count).
type CredentialStuffingConfig struct {
	// Users is the least number of distinct users failing from one
	// network that is credential stuffing. Zero means
	// [DefaultStuffingUsers]; at most [MaxThreshold].
	Users int
	// Window is how far back failures count; the engine loads the count in
	// it ([Input.Failures]). Zero means [DefaultStuffingWindow].
	Window time.Duration
	// UnknownUsers is the least number of distinct user names that are not
	// accounts (failures the application recorded with
	// ato.Request.UnknownUser) failing from one network in UnknownWindow
	// that is credential stuffing too, however slowly they come: a combo
	// list is mostly names that do not exist here, which a network's own
	// users seldom type. Zero means [DefaultStuffingUnknownUsers]; at most
	// [MaxThreshold].
	UnknownUsers int
	// UnknownWindow is how far back those failures count. Zero means
	// [DefaultStuffingUnknownWindow].
	UnknownWindow time.Duration
}

func (c CredentialStuffingConfig) withDefaults() CredentialStuffingConfig {
	if c.Users == 0 {
		c.Users = DefaultStuffingUsers
	}
	if c.Window == 0 {
		c.Window = DefaultStuffingWindow
	}
	if c.UnknownUsers == 0 {
		c.UnknownUsers = DefaultStuffingUnknownUsers
	}
	if c.UnknownWindow == 0 {
		c.UnknownWindow = DefaultStuffingUnknownWindow
	}
	return c
}

func (c CredentialStuffingConfig) validate() error {
	if c.Users < 0 || c.Users > MaxThreshold || c.Window < 0 ||
		c.UnknownUsers < 0 || c.UnknownUsers > MaxThreshold || c.UnknownWindow < 0 {
		return fmt.Errorf("signals: CredentialStuffing: need 0 (the default) to %d users, 0 to %d unknown users and windows not negative, got %d, %d, %v and %v",
			MaxThreshold, MaxThreshold, c.Users, c.UnknownUsers, c.Window, c.UnknownWindow)
	}
	return nil
}

// CredentialStuffing reports credential_stuffing when at least threshold
// distinct users failed to log in from the attempt's network (the IPv4
// address, or the IPv6 /64) in the window, or when at least
// [DefaultStuffingUnknownUsers] user names that are not accounts did in
// [DefaultStuffingUnknownWindow] (the engine counts both; [Config] sets
// the second pair too). Users who had that network as a known one do not
// count, so an office or carrier NAT is not punished for its own users'
// typos; and only names that do not exist count in the longer window,
// which its users' ordinary typos of their passwords never reach. Zero
// arguments mean the defaults.
func CredentialStuffing(threshold int, window time.Duration) Signal {
	return credentialStuffingOf(CredentialStuffingConfig{Users: max(threshold, 0), Window: max(window, 0)})
}

func credentialStuffingOf(c CredentialStuffingConfig) Signal {
	c = c.withDefaults()
	return credentialStuffing{c.Users, c.Window, c.UnknownUsers, c.UnknownWindow}
}

type credentialStuffing struct {
	threshold        int
	window           time.Duration
	unknownThreshold int
	unknownWindow    time.Duration
}

func (credentialStuffing) Name() string { return string(CredentialStuffingReason) }

func (credentialStuffing) Reasons() []ReasonInfo {
	return []ReasonInfo{{CredentialStuffingReason, CredentialStuffingScore, "many users, or user names that are not accounts, failing from this network"}}
}

func (s credentialStuffing) Detect(_ context.Context, in *Input) ([]Finding, error) {
	n, u := in.Failures.NetworkUsers, in.Failures.NetworkUnknown
	many, unknown := n >= s.threshold, u >= s.unknownThreshold
	if in.Network == "" || !many && !unknown {
		return nil, nil
	}
	var detail string
	if many {
		detail = strconv.Itoa(n) + " different users failed to log in from " + in.Network + " in the last " +
			formatDuration(s.window) + " (threshold " + strconv.Itoa(s.threshold) + ")"
	} else {
		detail = strconv.Itoa(u) + " user names that are not accounts failed to log in from " + in.Network + " in the last " +
			formatDuration(s.unknownWindow) + " (threshold " + strconv.Itoa(s.unknownThreshold) + ")"
	}
	return []Finding{{
		Reason: CredentialStuffingReason,
		Score:  CredentialStuffingScore,
		Detail: detail,
		Evidence: map[string]string{
			"network":           in.Network,
			"users":             strconv.Itoa(n),
			"window":            s.window.String(),
			"threshold":         strconv.Itoa(s.threshold),
			"unknown_users":     strconv.Itoa(u),
			"unknown_window":    s.unknownWindow.String(),
			"unknown_threshold": strconv.Itoa(s.unknownThreshold),
		},
	}}, nil
}

func (credentialStuffing) summary(f *Finding) string {
	n, u := f.Evidence["users"], f.Evidence["unknown_users"]
	if u != "" && !atLeast(n, f.Evidence["threshold"]) && atLeast(u, f.Evidence["unknown_threshold"]) {
		return u + " unknown user names failing from " + f.Evidence["network"] + " in " + evidenceDuration(f.Evidence["unknown_window"])
	}
	if n == "" {
		return ""
	}
	return n + " users failing from " + f.Evidence["network"] + " in " + evidenceDuration(f.Evidence["window"])
}

// atLeast reports whether the count a reaches the threshold t, both as
// evidence keeps them; a missing or unreadable threshold is reached.
func atLeast(a, t string) bool {
	n, err1 := strconv.Atoi(a)
	m, err2 := strconv.Atoi(t)
	return err2 != nil || err1 == nil && n >= m
}
