package signals

import (
	"context"
	"strconv"
)

// NewDeviceReason: the attempt's device is none of the user's known
// devices.
const NewDeviceReason Reason = "new_device"

// NewDeviceScore is the score of a new_device finding.
const NewDeviceScore = 0.4

// NewDevice reports new_device when the attempt's device is none of the
// user's known devices. It is silent for a new user and when the attempt
// has no fingerprint ([MissingFingerprint] covers that).
func NewDevice() Signal { return newDevice{} }

type newDevice struct{}

func (newDevice) Name() string { return string(NewDeviceReason) }

func (newDevice) Reasons() []ReasonInfo {
	return []ReasonInfo{{NewDeviceReason, NewDeviceScore, "the device is none of the user's known devices"}}
}

func (newDevice) Detect(_ context.Context, in *Input) ([]Finding, error) {
	if in.Device.ID == "" || in.Device.Known || in.NewUser() {
		return nil, nil
	}
	return []Finding{{
		Reason: NewDeviceReason,
		Score:  NewDeviceScore,
		Detail: "device " + in.Device.ID + " is not among the user's " + strconv.Itoa(len(in.Profile.Devices)) + " known devices",
		Evidence: map[string]string{
			"device_id":     in.Device.ID,
			"match":         string(in.Device.Match),
			"known_devices": strconv.Itoa(len(in.Profile.Devices)),
		},
	}}, nil
}

func (newDevice) summary(*Finding) string { return "new device" }
