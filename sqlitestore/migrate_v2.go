package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/atoguard/ato/internal/hashkey"
	"github.com/atoguard/ato/internal/profilecodec"
	"github.com/atoguard/ato/profile"
)

// The step of migration 0007: each user's profile, built from what the
// store held before — links (the user's known devices, with trust,
// restriction and the hashes the user saw) and the history (the places of
// successful logins) — and, for each device, its most recent accounts.
// Everything a user taught the engine still counts: every linked device
// stays known under its id, matched by the keys of the hashes the user saw
// from it (or, for a link that had none, the device's own); trusted devices
// stay trusted and restrictions keep holding. Places are those of the
// successful logins the history still held (the old bound of 50 events):
// what had already left the history was forgotten before this release too.

// v1Users is how many recent accounts a device keeps from the links: the
// engine's default.
const v1Users = 32

// v1Link is a row of the old links table.
type v1Link struct {
	user, device         string
	first, last          time.Time
	trusted              bool
	restrictedUntil      time.Time
	hashes, restrictions []string
	deviceHashes         []string
}

func buildProfiles(ctx context.Context, tx *sql.Tx) error {
	links := map[string][]v1Link{}
	var users []string
	rows, err := tx.QueryContext(ctx, `SELECT l.user_id, l.device_id, l.first_seen, l.last_seen, l.trusted,
		l.restricted_until, l.hashes, l.restrictions, d.hashes
		FROM links l JOIN devices d ON d.id = l.device_id
		ORDER BY l.user_id, l.last_seen DESC, l.device_id`)
	if err != nil {
		return fmt.Errorf("read links: %w", err)
	}
	for rows.Next() {
		var l v1Link
		if err := rows.Scan(&l.user, &l.device, (*msTime)(&l.first), (*msTime)(&l.last), (*intBool)(&l.trusted),
			(*msTime)(&l.restrictedUntil), (*strList)(&l.hashes), (*strList)(&l.restrictions), (*strList)(&l.deviceHashes)); err != nil {
			rows.Close()
			return fmt.Errorf("read links: %w", err)
		}
		if _, seen := links[l.user]; !seen {
			users = append(users, l.user)
		}
		links[l.user] = append(links[l.user], l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read links: %w", err)
	}

	successes := map[string][]profile.Login{}
	rows, err = tx.QueryContext(ctx, `SELECT user_id, time, device_id, ip, network, located, country, region, city,
		latitude, longitude, accuracy_km, asn
		FROM events WHERE success = 1 ORDER BY user_id, time, seq`)
	if err != nil {
		return fmt.Errorf("read history: %w", err)
	}
	for rows.Next() {
		var user string
		var l profile.Login
		var asn int64
		if err := rows.Scan(&user, (*msTime)(&l.Time), &l.DeviceID, &l.IP, &l.Network, (*intBool)(&l.Located),
			&l.Country, &l.Region, &l.City, (*sqlReal)(&l.Latitude), (*sqlReal)(&l.Longitude), (*sqlReal)(&l.AccuracyKm), &asn); err != nil {
			rows.Close()
			return fmt.Errorf("read history: %w", err)
		}
		l.ASN = uint32(asn)
		if _, seen := links[user]; !seen && len(successes[user]) == 0 {
			users = append(users, user)
		}
		successes[user] = append(successes[user], l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read history: %w", err)
	}

	for _, user := range users {
		p, hashes := v1Profile(links[user], successes[user])
		data := profilecodec.Encode(nil, &p)
		if _, err := tx.ExecContext(ctx, `INSERT INTO profiles (user_id, version, data) VALUES (?1, 1, ?2)`, user, data); err != nil {
			return fmt.Errorf("write profile of %q: %w", user, err)
		}
		for id, hs := range hashes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_hashes (user_id, device_id, hashes) VALUES (?1, ?2, ?3)`,
				user, id, stringsJSON(hs)); err != nil {
				return fmt.Errorf("write hashes of %q: %w", user, err)
			}
		}
	}

	// Each device's most recent accounts.
	byDevice := map[string][]v1Link{}
	for _, ls := range links {
		for _, l := range ls {
			byDevice[l.device] = append(byDevice[l.device], l)
		}
	}
	for id, ls := range byDevice {
		slices.SortFunc(ls, func(a, b v1Link) int { return cmp.Or(b.last.Compare(a.last), cmp.Compare(a.user, b.user)) })
		flat := make([]string, 0, 2*min(len(ls), v1Users))
		for _, l := range ls[:min(len(ls), v1Users)] {
			flat = append(flat, l.user, strconv.FormatInt(ms(l.last), 10))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET users = ?2 WHERE id = ?1`, id, stringsJSON(flat)); err != nil {
			return fmt.Errorf("write users of device %q: %w", id, err)
		}
	}
	return nil
}

// v1Profile builds a user's profile from the user's links (most recently
// seen first) and successful logins (oldest first), and returns it with
// the hashes the user saw from each device.
func v1Profile(links []v1Link, logins []profile.Login) (profile.Profile, map[string][]string) {
	linked := map[string]bool{}
	for _, l := range links {
		linked[l.device] = true
	}
	// The places, counts and last login from the history; devices only
	// for the links (a device the user forgot stays forgotten).
	var p profile.Profile
	for _, l := range logins {
		if !linked[l.DeviceID] {
			l.DeviceID = ""
		}
		p, _, _ = p.Apply(profile.Change{Now: l.Time, Login: &l, Limits: profile.DefaultLimits})
	}
	if n := len(logins); n > 0 {
		p.Last.DeviceID = logins[n-1].DeviceID
	}
	hashes := map[string][]string{}
	var devices []profile.Device
	for i, l := range links {
		hs := l.hashes
		if len(hs) == 0 {
			hs = l.deviceHashes
		}
		d, ok := p.Device(l.device)
		var dv profile.Device
		if ok {
			dv = *d
		} else {
			dv = profile.Device{ID: l.device, Logins: 1}
		}
		if dv.FirstSeen.IsZero() || l.first.Before(dv.FirstSeen) {
			dv.FirstSeen = l.first
		}
		if l.last.After(dv.LastSeen) {
			dv.LastSeen = l.last
		}
		dv.Trusted = l.trusted
		dv.RestrictedUntil, dv.Restrictions = l.restrictedUntil, profile.ActionSet(l.restrictions, nil)
		dv.Keys = nil
		for _, h := range hs[:min(len(hs), profile.MaxKeys)] {
			dv.Keys = append(dv.Keys, hashkey.Exact(h))
		}
		// The bound of the profile, kept as eviction would: the most recent
		// links, and every restricted one.
		if i >= profile.DefaultLimits.Devices && !dv.RestrictedUntil.After(time.Now()) {
			continue
		}
		devices = append(devices, dv)
		if len(hs) > 0 {
			hashes[l.device] = hs
		}
	}
	slices.SortStableFunc(devices, func(a, b profile.Device) int { return b.LastSeen.Compare(a.LastSeen) })
	p.Devices = devices
	return p, hashes
}
