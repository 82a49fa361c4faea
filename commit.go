package ato

import (
	"context"
	"slices"
	"time"

	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/internal/devicetoken"
	"github.com/atoguard/ato/internal/id"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
)

// write is what the evaluation writes: the attempt (which save leaves out
// when the engine keeps no history); what it
// teaches, when it is a login or signup from a known address that succeeds
// (an attempt without an IP never teaches, since nothing says which network
// it came from): its device and place in the user's profile, and what it
// teaches about the device ([fingerprint.Learn]); the restriction the
// policy asked for on the device, with any a joining device inherits
// ([profile.Profile.Inherit]); the challenge when the verdict asks for one.
func (e *Engine) write(ev *evaluation) storage.Commit {
	a, ident, v := &ev.a, &ev.ident, ev.dec.Verdict
	teaches := v.Succeeds() && a.ip.IsValid() && (a.action == string(ActionLogin) || a.action == string(ActionSignup))
	ev.event = storage.Event{
		ID:       ev.id,
		User:     a.user,
		Time:     a.time,
		Kind:     storage.KindEvaluation,
		Action:   a.action,
		Verdict:  string(v),
		Success:  teaches,
		DeviceID: ident.ID,
		IP:       a.ipText,
		Network:  a.network,
	}
	event := &ev.event
	if len(ev.reasons) > 0 {
		event.Reasons = make([]string, len(ev.reasons))
		for i, r := range ev.reasons {
			event.Reasons[i] = string(r)
		}
	}
	ev.login = profile.Login{Time: a.time, DeviceID: ident.ID, IP: a.ipText, Network: a.network, UserAgent: a.userAgent}
	login := &ev.login
	if in := &ev.in; in.Located {
		l := &in.Location
		event.Located, event.Country, event.Region, event.City = true, l.Country, l.Region, l.City
		event.Latitude, event.Longitude, event.AccuracyKm, event.ASN = l.Latitude, l.Longitude, l.AccuracyKm, l.ASN
		login.Located, login.Country, login.Region, login.City = true, l.Country, l.Region, l.City
		login.Latitude, login.Longitude, login.AccuracyKm, login.ASN = l.Latitude, l.Longitude, l.AccuracyKm, l.ASN
	}
	c := storage.Commit{User: a.user, Event: event, History: e.historyLimits(a.time)}
	ch := profile.Change{Now: a.time, Limits: e.cfg.profile}
	ev.token = ""
	if teaches {
		ch.Login = login
		if ident.ID != "" {
			l := fingerprint.Learn(ident, a.user, a.fingerprint, a.fpKey, ev.st.Hashes, a.time, e.cfg.maxDeviceUsers(), false)
			c.Device, c.Hashes, ch.Keys = l.Device, l.Hashes, l.Keys
			// The browser presented its token: from now on, the device's
			// fingerprint without one is a copy or a cleaned browser. A
			// fresh token replaces the one it has.
			ch.Token = ident.Token == signals.TokenValid
			if !e.cfg.noTokens {
				ev.token = devicetoken.Issue(&e.tokenKey, a.user, ident.ID, a.time)
			}
		}
	}
	if ident.ID != "" && (teaches || ident.Known) {
		r := profile.Restriction{DeviceID: ident.ID}
		if len(ev.hold) > 0 {
			r.Until, r.Actions = a.time.Add(e.cfg.restrictFor), slices.Clone(ev.hold)
		}
		if !ident.Known {
			r = ev.st.Profile.Inherit(r, a.time)
		}
		if len(r.Actions) > 0 {
			restrict := r // on the heap only when there is one
			ch.Restrict = &restrict
		}
	}
	if ch.Login != nil || ch.Restrict != nil {
		c.Profile = profileWrite(&ev.write, &ev.st.Profile, ch)
	}
	ev.chal = ""
	if v.Challenges() {
		c.ChallengeLimit = &storage.ChallengeLimit{Since: a.time.Add(-challengeRateSpan), Max: e.cfg.limits.PerHour}
		ev.chal = id.New()
		event.ChallengeID = ev.chal
		c.Challenge = &storage.Challenge{
			ID:          ev.chal,
			User:        a.user,
			DeviceID:    ident.ID,
			Fingerprint: a.fingerprint,
			KnownDevice: ident.Known,
			Status:      storage.ChallengePending,
			Reasons:     event.Reasons,
			Email:       a.email,
			Phone:       a.phone,
			CreatedAt:   a.time,
			ExpiresAt:   a.time.Add(e.cfg.challengeTTL),
			UpdatedAt:   a.time,
			Attempt:     *event,
		}
	}
	return c
}

// profileWrite fills w with the write of the change to the loaded profile
// p, and returns it.
func profileWrite(w *storage.ProfileWrite, p *profile.Profile, ch profile.Change) *storage.ProfileWrite {
	next, gone, err := p.Apply(ch)
	if err != nil {
		// Only a change that forgets a device can fail; callers that make
		// one apply it themselves first.
		panic("ato: " + err.Error())
	}
	*w = storage.ProfileWrite{Base: p.Version, New: next, Change: ch, Gone: gone}
	return w
}

// save is how the engine writes: c without its event when the engine keeps
// no history (WithHistory with 0 events, so c.History.Max is 0), and no
// store call at all when nothing else is left (an attempt that teaches
// nothing, restricts nothing and asks for no challenge).
func (e *Engine) save(ctx context.Context, c storage.Commit) error {
	if c.History.Max == 0 {
		c.Event = nil
		if c.Profile == nil && c.Hashes == nil && c.Device == nil && c.Challenge == nil && c.Transition == nil {
			return nil
		}
	}
	return e.store.Commit(ctx, c)
}

// historyLimits bound the user's history for a write at the time.
func (e *Engine) historyLimits(at time.Time) storage.HistoryLimits {
	return storage.HistoryLimits{Max: e.cfg.maxHistory, Since: at.Add(-e.cfg.historyAge)}
}
