package ato

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/atoguard/ato/internal/errs"
	"github.com/atoguard/ato/internal/id"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/verdict"
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
	// the device; empty when unknown.
	IP, Country, City string
	// UserAgent is the Request.UserAgent of the latest successful login
	// from the device that gave one (at most 256 bytes), for a "my
	// devices" page to name the browser; empty when none did.
	UserAgent string
}

// Restricted reports whether the device is restricted at the time.
func (d DeviceInfo) Restricted(at time.Time) bool { return d.RestrictedUntil.After(at) }

// Devices lists the user's known devices, most recently seen first.
//
// Errors: [ErrInvalidRequest] without a user; store failures.
func (e *Engine) Devices(ctx context.Context, user string) ([]DeviceInfo, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	st, err := e.store.Load(ctx, storage.LoadRequest{User: user})
	if err != nil {
		return nil, fmt.Errorf("ato: devices: %w", err)
	}
	out := make([]DeviceInfo, len(st.Profile.Devices))
	for i, d := range st.Profile.Devices {
		out[i] = DeviceInfo{
			ID:              d.ID,
			FirstSeen:       d.FirstSeen,
			LastSeen:        d.LastSeen,
			Trusted:         d.Trusted,
			RestrictedUntil: d.RestrictedUntil,
			Restrictions:    slices.Clone(d.Restrictions),
			IP:              d.IP,
			Country:         d.Country,
			City:            d.City,
			UserAgent:       d.UserAgent,
		}
	}
	return out, nil
}

// ForgetDevice removes a device from the user's known devices: the next
// login from it is a new device again (with the same id: the id comes from
// the browser's fingerprint), and a trust earned by completing a challenge
// there is gone.
//
// Errors: [ErrInvalidRequest] without a user or device id;
// [ErrDeviceNotFound] when the device is not one of the user's;
// [ErrDeviceRestricted] while a restriction holds on it (forgetting it
// would drop the restriction); store failures.
func (e *Engine) ForgetDevice(ctx context.Context, user, deviceID string) error {
	if err := checkDevice(user, deviceID); err != nil {
		return err
	}
	now := e.cfg.now()
	st, err := e.store.Load(ctx, storage.LoadRequest{User: user})
	if err != nil {
		return fmt.Errorf("ato: forget device: %w", err)
	}
	ch := profile.Change{Now: now, Forget: deviceID, Limits: e.cfg.profile}
	next, gone, err := st.Profile.Apply(ch)
	if err == nil {
		ev := storage.Event{ID: id.New(), User: user, Time: now, Kind: storage.KindDeviceForgotten, DeviceID: deviceID}
		err = e.save(ctx, storage.Commit{
			User:    user,
			Profile: &storage.ProfileWrite{Base: st.Profile.Version, New: next, Change: ch, Gone: gone},
			Event:   &ev,
			History: e.historyLimits(now),
		})
	}
	switch {
	case errors.Is(err, profile.ErrNoDevice):
		return errs.Errorf(ErrDeviceNotFound, "ato: device %q is not one of user %q's", deviceID, user)
	case errors.Is(err, profile.ErrRestricted):
		return errs.Errorf(ErrDeviceRestricted, "ato: device %q is restricted: it can be forgotten when its restriction ends or a challenge from it completes", deviceID)
	case err != nil:
		return fmt.Errorf("ato: forget device: %w", err)
	}
	return nil
}

// Event kinds of [Engine.ReportDevice].
const (
	// KindDeviceConfirmed records the user's "it was me" about a device.
	KindDeviceConfirmed = "device_confirmed"
	// KindDeviceDisowned records the user's "it was not me".
	KindDeviceDisowned = "device_disowned"
)

// ReportDevice records the user's answer to "was this you?" about a
// device — one on a "my devices" page, or the device of a login the
// application told them about:
//
//   - mine ("it was me"): the device is trusted, as completing a challenge
//     from it makes it, and no longer disowned;
//   - not mine ("it was not me"): the device is forgotten for the user,
//     whatever restriction it had; every attempt from it is denied from now
//     on (disowned_device, rule disowned-device); and the sensitive actions
//     of the user's other devices ([verdict.DefaultRestrictions]) are held
//     back, for as long as [WithRestrictFor] says, or until a challenge
//     from each completes — whoever said "not me" may have a stolen
//     password too.
//
// Each answer is an event in the user's history. A device the user does
// not know (no longer, or never did) may be disowned, not confirmed.
//
// Errors: [ErrInvalidRequest] without a user or device id;
// [ErrDeviceNotFound] when a device confirmed is not one of the user's;
// store failures.
func (e *Engine) ReportDevice(ctx context.Context, user, deviceID string, mine bool) error {
	if err := checkDevice(user, deviceID); err != nil {
		return err
	}
	now := e.cfg.now()
	st, err := e.store.Load(ctx, storage.LoadRequest{User: user})
	if err != nil {
		return fmt.Errorf("ato: report device: %w", err)
	}
	ch := profile.Change{Now: now, Limits: e.cfg.profile}
	kind := KindDeviceConfirmed
	if mine {
		if _, ok := st.Profile.Device(deviceID); !ok {
			return errs.Errorf(ErrDeviceNotFound, "ato: device %q is not one of user %q's", deviceID, user)
		}
		ch.Own = deviceID
	} else {
		kind = KindDeviceDisowned
		ch.Disown = deviceID
		ch.RestrictAll = &profile.Restriction{Until: now.Add(e.cfg.restrictFor), Actions: slices.Clone(verdict.DefaultRestrictions)}
	}
	next, gone, err := st.Profile.Apply(ch)
	if err != nil {
		return fmt.Errorf("ato: report device: %w", err)
	}
	ev := storage.Event{ID: id.New(), User: user, Time: now, Kind: kind, DeviceID: deviceID}
	err = e.save(ctx, storage.Commit{
		User:    user,
		Profile: &storage.ProfileWrite{Base: st.Profile.Version, New: next, Change: ch, Gone: gone},
		Event:   &ev,
		History: e.historyLimits(now),
	})
	if err != nil {
		return fmt.Errorf("ato: report device: %w", err)
	}
	return nil
}

// MaxDeviceIDLen bounds a device id given to [Engine.ForgetDevice] and
// [Engine.ReportDevice]; the engine's are 36 characters.
const MaxDeviceIDLen = 64

// checkDevice checks the user and the device id of a call about a device.
func checkDevice(user, deviceID string) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if deviceID == "" {
		return invalid("device_id", "required")
	}
	return checkText("device_id", deviceID, MaxDeviceIDLen)
}
