package signals

import (
	"context"
	"strings"
	"time"

	"github.com/atoguard/ato/profile"
)

// RestrictedReason: the attempt's action is held back by a restriction in
// force.
const RestrictedReason Reason = "restricted"

// RestrictedScore is the score of a restricted finding: a hold is a
// decision already taken, not new risk.
const RestrictedScore = 0.0

// Restricted reports restricted when the attempt's action is one that a
// restriction in force holds back: a restriction on the attempt's device
// or, when the device is not one of the user's known devices (a new
// fingerprint, or none), a restriction on any of the user's devices —
// otherwise a restricted session could shed its restriction by sending
// another fingerprint. The engine denies such an attempt whatever the
// policy says.
func Restricted() Signal { return restricted{} }

type restricted struct{}

func (restricted) Name() string { return string(RestrictedReason) }

func (restricted) Reasons() []ReasonInfo {
	return []ReasonInfo{{RestrictedReason, RestrictedScore, "a held-back action from a restricted device"}}
}

func (restricted) Detect(_ context.Context, in *Input) ([]Finding, error) {
	var d *profile.Device
	if in.Device.Known {
		if d = in.Device.Profile; !d.Holds(in.Action, in.Now) {
			return nil, nil
		}
	} else {
		for i := range in.Profile.Devices {
			if in.Profile.Devices[i].Holds(in.Action, in.Now) {
				d = &in.Profile.Devices[i]
				break
			}
		}
		if d == nil {
			return nil, nil
		}
	}
	until := d.RestrictedUntil.UTC().Format(time.RFC3339)
	detail := "action " + in.Action + " is held back on device " + d.ID + " until " + until
	if !in.Device.Known {
		detail += ", and this attempt's device is not a known one"
	}
	return []Finding{{
		Reason: RestrictedReason,
		Score:  RestrictedScore,
		Detail: detail,
		Evidence: map[string]string{
			"action":       in.Action,
			"device_id":    d.ID,
			"until":        until,
			"restrictions": strings.Join(d.Restrictions, ","),
		},
	}}, nil
}

func (restricted) summary(f *Finding) string {
	return with("held-back action", f.Evidence["action"]) + " (restricted until " + f.Evidence["until"] + ")"
}
