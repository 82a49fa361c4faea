package signals

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// StuffingCampaignReason: many user names that are not accounts failing
// to log in, from anywhere: a credential-stuffing campaign under way, even
// one spread over so many networks (one try per residential proxy) that no
// network's count shows it. It is reported on every attempt while the
// campaign lasts; the default policy then denies the logins that come
// from a device and a network both new for the user, so that no code
// reaches the owners, and leaves the others alone.
const StuffingCampaignReason Reason = "stuffing_campaign"

// StuffingCampaignScore is the score of a stuffing_campaign finding: low,
// since it says nothing of the attempt itself.
const StuffingCampaignScore = 0.2

// Defaults of [StuffingCampaignConfig].
const (
	DefaultCampaignUsers  = 25
	DefaultCampaignWindow = 15 * time.Minute
)

// StuffingCampaignConfig configures [StuffingCampaign].
type StuffingCampaignConfig struct {
	// Users is the least number of distinct user names that are not
	// accounts (failures the application recorded with
	// ato.Request.UnknownUser) failing to log in, from anywhere, in Window
	// that is a campaign. Zero means [DefaultCampaignUsers]; at most
	// [MaxThreshold].
	//
	// An application's own users mistype their names too, and those
	// typos grow with its traffic: the default suits a site whose users
	// type up to about 50 names that do not exist in its busiest hour
	// (some 3 % of 1,500 logins). A busier site raises it, to a few times
	// the names that do not exist its users type in Window at its busiest;
	// otherwise the campaign appears without one, and logins from a new
	// device on a new network are refused meanwhile.
	Users int
	// Window is how far back failures count; the engine loads the count in
	// it ([Input.Failures]). Zero means [DefaultCampaignWindow]. A short
	// window ends the finding soon after the campaign does.
	Window time.Duration
}

func (c StuffingCampaignConfig) withDefaults() StuffingCampaignConfig {
	if c.Users == 0 {
		c.Users = DefaultCampaignUsers
	}
	if c.Window == 0 {
		c.Window = DefaultCampaignWindow
	}
	return c
}

func (c StuffingCampaignConfig) validate() error {
	if c.Users < 0 || c.Users > MaxThreshold || c.Window < 0 {
		return fmt.Errorf("signals: StuffingCampaign: need 0 (the default) to %d users and a window not negative, got %d and %v", MaxThreshold, c.Users, c.Window)
	}
	return nil
}

// StuffingCampaign reports stuffing_campaign when at least threshold
// distinct user names that are not accounts failed to log in, from any
// network or none, in the window (the engine counts them in it). Zero
// arguments mean the defaults.
func StuffingCampaign(threshold int, window time.Duration) Signal {
	c := StuffingCampaignConfig{Users: max(threshold, 0), Window: max(window, 0)}.withDefaults()
	return stuffingCampaign{c.Users, c.Window}
}

type stuffingCampaign struct {
	threshold int
	window    time.Duration
}

func (stuffingCampaign) Name() string { return string(StuffingCampaignReason) }

func (stuffingCampaign) Reasons() []ReasonInfo {
	return []ReasonInfo{{StuffingCampaignReason, StuffingCampaignScore, "many user names that are not accounts failing, from anywhere"}}
}

func (s stuffingCampaign) Detect(_ context.Context, in *Input) ([]Finding, error) {
	n := in.Failures.CampaignUsers
	if n < s.threshold {
		return nil, nil
	}
	return []Finding{{
		Reason: StuffingCampaignReason,
		Score:  StuffingCampaignScore,
		Detail: strconv.Itoa(n) + " user names that are not accounts failed to log in, from any network, in the last " +
			formatDuration(s.window) + " (threshold " + strconv.Itoa(s.threshold) + "): a credential-stuffing campaign",
		Evidence: map[string]string{
			"unknown_users": strconv.Itoa(n),
			"window":        s.window.String(),
			"threshold":     strconv.Itoa(s.threshold),
		},
	}}, nil
}

func (stuffingCampaign) summary(f *Finding) string {
	n := f.Evidence["unknown_users"]
	if n == "" {
		return ""
	}
	return "stuffing campaign: " + n + " unknown user names failing in " + evidenceDuration(f.Evidence["window"])
}
