package sqlitestore

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/atoguard/ato/internal/profilecodec"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/storage"
)

// Profiles: one row per user, the profile encoded whole
// (internal/profilecodec), with its version beside it for the optimistic
// write of storage.ResolveProfile.
var (
	qProfile       = prepared(`SELECT version, data FROM profiles WHERE user_id = ?1`)
	qInsertProfile = prepared(`INSERT INTO profiles (user_id, version, data) VALUES (?1, ?2, ?3) ON CONFLICT (user_id) DO NOTHING`)
	qUpdateProfile = prepared(`UPDATE profiles SET version = ?3, data = ?4 WHERE user_id = ?1 AND version = ?2`)
	qDeleteProfile = prepared(`DELETE FROM profiles WHERE user_id = ?1`)
)

// readProfile reads the user's profile; an empty one when there is none.
func readProfile(t *tx, user string) (profile.Profile, error) {
	p := profile.Profile{User: user}
	var data []byte
	err := t.row(qProfile, user).Scan(&p.Version, &data)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return p, nil
	case err != nil:
		return profile.Profile{}, fmt.Errorf("read profile of %q: %w", user, err)
	}
	if err := profilecodec.Decode(data, &p); err != nil {
		return profile.Profile{}, fmt.Errorf("read profile of %q: %w", user, err)
	}
	return p, nil
}

// writeProfile writes the profile of a commit: New if the stored version
// is still w.Base, which one statement checks as it writes; otherwise what
// storage.ResolveProfile makes of the stored profile. It returns the
// devices the profile no longer holds.
func writeProfile(t *tx, user string, w *storage.ProfileWrite) ([]string, error) {
	if ok, err := putProfile(t, user, w.Base, &w.New); err != nil || ok {
		return w.Gone, err
	}
	stored, err := readProfile(t, user)
	if err != nil {
		return nil, err
	}
	next, gone, err := storage.ResolveProfile(stored, *w)
	if err != nil {
		return nil, err
	}
	if ok, err := putProfile(t, user, stored.Version, &next); err != nil || !ok {
		return nil, errors.Join(err, fmt.Errorf("write profile of %q: version %d changed in a write transaction", user, stored.Version))
	}
	return gone, nil
}

// putProfile writes p as version base+1 if the stored version is base (0:
// none stored), and reports whether it did.
func putProfile(t *tx, user string, base int64, p *profile.Profile) (bool, error) {
	data := profilecodec.Encode(make([]byte, 0, 512), p)
	var res sql.Result
	var err error
	if base == 0 {
		res, err = t.exec(qInsertProfile, user, base+1, data)
	} else {
		res, err = t.exec(qUpdateProfile, user, base, base+1, data)
	}
	if err != nil {
		return false, fmt.Errorf("write profile of %q: %w", user, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// The hashes each user saw from each device of their profile, as a JSON
// array.
var (
	qHashes          = prepared(`SELECT device_id, hashes FROM user_hashes WHERE user_id = ?1`)
	qPutHashes       = prepared(`INSERT INTO user_hashes (user_id, device_id, hashes) VALUES (?1, ?2, ?3) ON CONFLICT (user_id, device_id) DO UPDATE SET hashes = excluded.hashes`)
	qDeleteHashes    = prepared(`DELETE FROM user_hashes WHERE user_id = ?1 AND device_id = ?2`)
	qDeleteAllHashes = prepared(`DELETE FROM user_hashes WHERE user_id = ?1`)
)

// readHashes reads the hashes the user saw, by device id: a non-nil map.
func readHashes(t *tx, user string) (map[string][]string, error) {
	rows, err := t.rows(qHashes, user)
	if err != nil {
		return nil, fmt.Errorf("read hashes of %q: %w", user, err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var id string
		var hs strList
		if err := rows.Scan(&id, &hs); err != nil {
			return nil, fmt.Errorf("read hashes of %q: %w", user, err)
		}
		out[id] = hs
	}
	return out, rows.Err()
}

// writeHashes replaces (or, empty, deletes) the hashes of one device.
func writeHashes(t *tx, user string, h *storage.DeviceHashes) error {
	var err error
	if len(h.Hashes) == 0 {
		_, err = t.exec(qDeleteHashes, user, h.DeviceID)
	} else {
		_, err = t.exec(qPutHashes, user, h.DeviceID, stringsJSON(h.Hashes))
	}
	if err != nil {
		return fmt.Errorf("write hashes of %q: %w", user, err)
	}
	return nil
}
