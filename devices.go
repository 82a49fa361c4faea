package ato

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/atoguard/ato/storage"
)

// DeviceInfo is one of a user's known devices, for a "my devices" page.
type DeviceInfo struct {
	// ID is the device id (Result.FingerprintID).
	ID string
	// FirstSeen and LastSeen bound the user's successful logins from it.
	FirstSeen, LastSeen time.Time
	// Trusted reports that a challenge was completed from the device.
	Trusted bool
	// RestrictedUntil is when a restriction on the device ends (zero or
	// past: none), and Restrictions the actions it holds back.
	RestrictedUntil time.Time
	Restrictions    []string
	// IP, Country and City are those of the latest successful login from
	// the device still in the user's history; empty when unknown.
	IP, Country, City string
}

// Restricted reports whether the device is restricted at the time.
func (d DeviceInfo) Restricted(at time.Time) bool { return d.RestrictedUntil.After(at) }

// Devices lists the user's known devices, most recently seen first.
func (e *Engine) Devices(ctx context.Context, user string) ([]DeviceInfo, error) {
	if user == "" {
		return nil, invalid("user", "required")
	}
	uds, err := e.store.UserDevices(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("ato: devices: %w", err)
	}
	evs, err := e.store.Events(ctx, user, e.cfg.now().Add(-e.cfg.historyAge), e.cfg.maxHistory)
	if err != nil {
		return nil, fmt.Errorf("ato: devices: %w", err)
	}
	out := make([]DeviceInfo, len(uds))
	for i, ud := range uds {
		d := DeviceInfo{
			ID:              ud.DeviceID,
			FirstSeen:       ud.FirstSeen,
			LastSeen:        ud.LastSeen,
			Trusted:         ud.Trusted,
			RestrictedUntil: ud.RestrictedUntil,
			Restrictions:    slices.Clone(ud.Restrictions),
		}
		for _, ev := range evs { // newest first
			if ev.Success && ev.DeviceID == ud.DeviceID {
				d.IP, d.Country, d.City = ev.IP, ev.Country, ev.City
				break
			}
		}
		out[i] = d
	}
	return out, nil
}

// ForgetDevice removes a device from the user's known devices: the next
// login from it is a new device again, and a trust earned by completing a
// challenge there is gone. It returns an error matching
// storage.ErrNotFound when the device is not one of the user's, and
// [ErrDeviceRestricted] while a restriction holds on it (forgetting it
// would drop the restriction).
func (e *Engine) ForgetDevice(ctx context.Context, user, deviceID string) error {
	if user == "" {
		return invalid("user", "required")
	}
	if deviceID == "" {
		return invalid("device_id", "required")
	}
	if err := e.store.DeleteLink(ctx, user, deviceID, e.cfg.now()); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("%w: device %q: it can be forgotten when its restriction ends or a challenge from it completes: %w",
				ErrDeviceRestricted, deviceID, err)
		}
		return fmt.Errorf("ato: forget device: %w", err)
	}
	return nil
}
