package signals

import (
	"context"
	"strconv"
	"time"
)

// MultipleAccountsScore is the score of a multiple_accounts_per_device
// finding.
const MultipleAccountsScore = 0.3

// Defaults of [MultipleAccounts].
const (
	DefaultAccountsAtSignup = 5
	DefaultAccountsAtLogin  = 10
	DefaultAccountsWindow   = 30 * 24 * time.Hour
)

// MultipleAccounts reports multiple_accounts_per_device when the attempt's
// device is used by at least signup users (for a signup) or login users
// (for any other action) in the window, counting the attempt's user
// ([Input.DeviceUsers], which the engine counts in the same window).
func MultipleAccounts(signup, login int, window time.Duration) Signal {
	if signup < 1 {
		signup = DefaultAccountsAtSignup
	}
	if login < 1 {
		login = DefaultAccountsAtLogin
	}
	if window <= 0 {
		window = DefaultAccountsWindow
	}
	return multipleAccounts{signup, login, window}
}

type multipleAccounts struct {
	signup, login int
	window        time.Duration
}

func (multipleAccounts) Name() string { return string(MultipleAccountsReason) }

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
			s.window.String() + " (threshold " + strconv.Itoa(threshold) + " at " + in.Action + ")",
		Evidence: map[string]string{
			"device_id": in.Device.ID,
			"accounts":  strconv.Itoa(users),
			"threshold": strconv.Itoa(threshold),
			"action":    in.Action,
		},
	}}, nil
}
