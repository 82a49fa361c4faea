package ato

import (
	"math"
	"slices"

	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
)

// input fills in what the detectors see of the evaluation.
func (e *Engine) input(ev *evaluation) {
	a, st, id := &ev.a, &ev.st, &ev.ident
	ev.in = signals.Input{
		Now:             a.time,
		Action:          a.action,
		User:            a.user,
		Fingerprint:     a.fingerprint,
		LastFingerprint: a.last,
		Version:         a.version,
		IP:              a.ip,
		Network:         a.network,
		Location:        ev.loc,
		Located:         ev.located,
		Email:           a.email,
		Phone:           a.phone,
		UserAgent:       a.userAgent,
		Metadata:        a.metadata,
		Profile:         &st.Profile,
		KnownSince:      a.time.Add(-e.cfg.knownWindow),
		Failures: signals.FailureCounts{
			User:           st.Failures.User,
			UserUnknown:    st.Failures.UserUnknown,
			NetworkUsers:   st.Failures.NetworkUsers,
			NetworkUnknown: st.Failures.NetworkUnknown,
			CampaignUsers:  st.Failures.CampaignUsers,
		},
		RecentChallenges: st.Challenges,
		Device: signals.Device{
			ID:         id.ID,
			Match:      id.Match,
			Confidence: id.Confidence,
			Known:      id.Known,
			Trusted:    id.Known && id.Profile.Trusted,
			Profile:    id.Profile,
			Token:      id.Token,
			Disowned:   st.Profile.IsDisowned(id.ID),
		},
	}
	if id.ID != "" {
		// The accounts seen on the device in the window, this one included.
		since := a.time.Add(-e.cfg.detectors.MultipleAccounts.Window)
		ev.in.DeviceUsers = storage.CountUsers(id.Device.Users, since)
		if !slices.ContainsFunc(id.Device.Users, func(u storage.DeviceUser) bool {
			return u.User == a.user && !u.LastSeen.Before(since)
		}) {
			ev.in.DeviceUsers++
		}
	}
}

// sane drops coordinates that are not finite numbers (a broken database or
// Locator), so that they never reach the signals or the store.
func sane(l signals.Location) signals.Location {
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	if !finite(l.Latitude) || !finite(l.Longitude) {
		l.Latitude, l.Longitude = 0, 0
	}
	if !finite(l.AccuracyKm) || l.AccuracyKm < 0 {
		l.AccuracyKm = 0
	}
	return l
}
