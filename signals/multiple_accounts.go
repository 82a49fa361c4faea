package signals

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// MultipleAccountsReason: the attempt's device is used by many accounts.
const MultipleAccountsReason Reason = "multiple_accounts_per_device"

// MultipleAccountsScore is the score of a multiple_accounts_per_device
// finding.
const MultipleAccountsScore = 0.3

// Defaults of [MultipleAccountsConfig].
const (
	DefaultAccountsAtSignup = 5
	DefaultAccountsAtLogin  = 10
	DefaultAccountsWindow   = 30 * 24 * time.Hour
)

// MultipleAccountsConfig configures [MultipleAccounts].
type MultipleAccountsConfig struct {
	// AtSignup and AtLogin are the least numbers of accounts on one device
	// that are many, for a signup and for any other action. Zero means
	// [DefaultAccountsAtSignup] and [DefaultAccountsAtLogin]; at most
	// [MaxThreshold].
	AtSignup, AtLogin int
	// Window is how far back an account's logins count; the engine counts
	// the accounts in it ([Input.DeviceUsers]). Zero means
	// [DefaultAccountsWindow].
	Window time.Duration
}

func (c MultipleAccountsConfig) withDefaults() MultipleAccountsConfig {
	if c.AtSignup == 0 {
		c.AtSignup = DefaultAccountsAtSignup
	}
	if c.AtLogin == 0 {
		c.AtLogin = DefaultAccountsAtLogin
	}
	if c.Window == 0 {
		c.Window = DefaultAccountsWindow
	}
	return c
}

func (c MultipleAccountsConfig) validate() error {
	if c.AtSignup < 0 || c.AtLogin < 0 || c.AtSignup > MaxThreshold || c.AtLogin > MaxThreshold || c.Window < 0 {
		return fmt.Errorf("signals: MultipleAccounts: need thresholds of 0 (the default) to %d and a window not negative, got %d, %d and %v",
			MaxThreshold, c.AtSignup, c.AtLogin, c.Window)
	}
	return nil
}

// MultipleAccounts reports multiple_accounts_per_device when the attempt's
// device is used by at least signup users (for a signup) or login users
// (for any other action) in the window, counting the attempt's user
// ([Input.DeviceUsers], which the engine counts in the same window). Zero
// arguments mean the defaults.
func MultipleAccounts(signup, login int, window time.Duration) Signal {
	c := MultipleAccountsConfig{AtSignup: max(signup, 0), AtLogin: max(login, 0), Window: max(window, 0)}.withDefaults()
	return multipleAccounts{c.AtSignup, c.AtLogin, c.Window}
}

type multipleAccounts struct {
	signup, login int
	window        time.Duration
}

func (multipleAccounts) Name() string { return string(MultipleAccountsReason) }

func (multipleAccounts) Reasons() []ReasonInfo {
	return []ReasonInfo{{MultipleAccountsReason, MultipleAccountsScore, "the device is linked to many accounts"}}
}

func (s multipleAccounts) Detect(_ context.Context, in *Input) ([]Finding, error) {
	if in.Device.ID == "" {
		return nil, nil
	}
	users := in.DeviceUsers
	threshold := s.login
	if in.Action == "signup" {
		threshold = s.signup
	}
	if users < threshold {
		return nil, nil
	}
	return []Finding{{
		Reason: MultipleAccountsReason,
		Score:  MultipleAccountsScore,
		Detail: "device " + in.Device.ID + " is used by " + strconv.Itoa(users) + " accounts in the last " +
			formatDuration(s.window) + " (threshold " + strconv.Itoa(threshold) + " at " + in.Action + ")",
		Evidence: map[string]string{
			"device_id": in.Device.ID,
			"accounts":  strconv.Itoa(users),
			"threshold": strconv.Itoa(threshold),
			"action":    in.Action,
		},
	}}, nil
}

func (multipleAccounts) summary(f *Finding) string {
	if n := f.Evidence["accounts"]; n != "" {
		return "device used by " + n + " accounts"
	}
	return ""
}
