package sqlitestore

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/atoguard/ato/storage"
)

// Devices, global, and their index: device_keys has an entry per key of a
// device, numbered from the counter "index" when the device is indexed
// under the key; a key keeps the storage.MaxKeyDevices entries with the
// highest numbers.

// deviceCols are the columns of a device, in deviceDest's order.
const deviceCols = `id, hashes, keys, first_seen, last_seen, users`

var (
	qDevice       = prepared(`SELECT ` + deviceCols + ` FROM devices WHERE id = ?1`)
	qDevicesByID  = prepared(`SELECT ` + deviceCols + ` FROM devices WHERE id IN (SELECT value FROM json_each(?1))`)
	qUpsertDevice = prepared(`INSERT INTO devices (` + deviceCols + `) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
		ON CONFLICT (id) DO UPDATE SET hashes = excluded.hashes, keys = excluded.keys,
			first_seen = excluded.first_seen, last_seen = excluded.last_seen, users = excluded.users`)
	qSetUsers     = prepared(`UPDATE devices SET users = ?2 WHERE id = ?1`)
	qDeleteDevice = prepared(`DELETE FROM devices WHERE id = ?1`)

	// qRank ranks the devices indexed under the keys of the JSON array ?1
	// as storage.RankCandidates does, and returns the ids of the best ?2:
	// a device scores ?3 / n, an integer division, for each key, n being
	// the devices under the key; ties go to the highest entry number, then
	// to the least id.
	qRank = prepared(`WITH hits AS (
			SELECT j.value AS lookup_key, k.device_id, k.written
			FROM json_each(?1) j JOIN device_keys k ON k.lookup_key = j.value),
		per_key AS (SELECT lookup_key, count(*) AS n FROM hits GROUP BY lookup_key)
		SELECT h.device_id FROM hits h JOIN per_key p ON p.lookup_key = h.lookup_key
		GROUP BY h.device_id
		ORDER BY sum(?3 / p.n) DESC, max(h.written) DESC, h.device_id
		LIMIT ?2`)
	// qNextSeq takes ?1 numbers from the counter and returns the last.
	qNextSeq = prepared(`UPDATE counters SET value = value + ?1 WHERE name = 'index' RETURNING value`)
	// qIndex indexes device ?2 under each key of the JSON array ?1 it is
	// not indexed under, numbering the entries from ?3.
	qIndex = prepared(`INSERT INTO device_keys (lookup_key, device_id, written)
		SELECT value, ?2, ?3 + key FROM json_each(?1) WHERE true
		ON CONFLICT (lookup_key, device_id) DO NOTHING`)
	// qCapKeys drops, from each key of the JSON array ?1, the entries past
	// the ?2 highest numbers (a key holds at most ?2 + its new ones).
	qCapKeys = prepared(`DELETE FROM device_keys WHERE (lookup_key, device_id) IN (
		SELECT k.lookup_key, k.device_id FROM json_each(?1) j JOIN device_keys k ON k.lookup_key = j.value
		WHERE k.written < (SELECT c.written FROM device_keys c WHERE c.lookup_key = j.value
			ORDER BY c.written DESC LIMIT 1 OFFSET ?2 - 1))`)
	// qIndexed counts the entries of device ?2 under the keys of the JSON
	// array ?1.
	qIndexed = prepared(`SELECT count(*) FROM device_keys WHERE device_id = ?2 AND lookup_key IN (SELECT value FROM json_each(?1))`)
	// qUnindex drops the entries of device ?2 under the keys of the JSON
	// array ?1.
	qUnindex = prepared(`DELETE FROM device_keys WHERE device_id = ?2 AND lookup_key IN (SELECT value FROM json_each(?1))`)
)

// deviceDest returns the scan destinations of deviceCols into d.
func deviceDest(d *storage.Device) []any {
	return []any{&d.ID, (*strList)(&d.Hashes), (*strList)(&d.Keys),
		(*msTime)(&d.FirstSeen), (*msTime)(&d.LastSeen), (*deviceUsers)(&d.Users)}
}

// readDevice reads a device; ok is false when there is none.
func readDevice(t *tx, id string) (d storage.Device, ok bool, err error) {
	err = t.row(qDevice, id).Scan(deviceDest(&d)...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storage.Device{}, false, nil
	case err != nil:
		return storage.Device{}, false, fmt.Errorf("read device %q: %w", id, err)
	}
	return d, true, nil
}

// candidates finds the devices the keys index, ranked as
// storage.RankCandidates ranks them (in SQL, so that only the winners come
// out of SQLite, however many tie), and reads them.
func candidates(t *tx, keys []string, limit int) ([]storage.Device, error) {
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	rows, err := t.rows(qRank, stringsJSON(keys), limit, int64(storage.KeyWeight))
	if err != nil {
		return nil, fmt.Errorf("find devices: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("find devices: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find devices: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err = t.rows(qDevicesByID, stringsJSON(ids))
	if err != nil {
		return nil, fmt.Errorf("read devices: %w", err)
	}
	defer rows.Close()
	byID := make(map[string]storage.Device, len(ids))
	for rows.Next() {
		var d storage.Device
		if err := rows.Scan(deviceDest(&d)...); err != nil {
			return nil, fmt.Errorf("read devices: %w", err)
		}
		byID[d.ID] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read devices: %w", err)
	}
	out := make([]storage.Device, 0, len(ids))
	for _, id := range ids { // in rank order
		if d, ok := byID[id]; ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// writeDevice merges a device write into the stored device
// (storage.MergeDevice) and indexes it under its keys.
func writeDevice(t *tx, user string, w *storage.DeviceWrite) error {
	stored, ok, err := readDevice(t, w.Device.ID)
	if err != nil {
		return err
	}
	var prev *storage.Device
	if ok {
		prev = &stored
	}
	d := storage.MergeDevice(prev, user, *w)
	if _, err := t.exec(qUpsertDevice, d.ID, encodeStrings(d.Hashes), encodeStrings(d.Keys),
		ms(d.FirstSeen), ms(d.LastSeen), encodeUsers(d.Users)); err != nil {
		return fmt.Errorf("write device %q: %w", d.ID, err)
	}
	// The keys to index: all of a new device's; those a stored device
	// gains; all of them again if some were dropped from a full key.
	add, gone := d.Keys, []string(nil)
	if ok {
		add = nil
		for _, k := range d.Keys {
			if !slices.Contains(stored.Keys, k) {
				add = append(add, k)
			}
		}
		for _, k := range stored.Keys {
			if !slices.Contains(d.Keys, k) {
				gone = append(gone, k)
			}
		}
		var n int
		if err := t.row(qIndexed, stringsJSON(d.Keys), d.ID).Scan(&n); err != nil {
			return fmt.Errorf("index device %q: %w", d.ID, err)
		}
		if n != len(slices.Compact(slices.Sorted(slices.Values(d.Keys))))-len(add) {
			add = d.Keys // dropped from a key the cap filled: indexed again
		}
	}
	if len(gone) > 0 {
		if _, err := t.exec(qUnindex, stringsJSON(gone), d.ID); err != nil {
			return fmt.Errorf("index device %q: %w", d.ID, err)
		}
	}
	if len(add) == 0 {
		return nil
	}
	keys := stringsJSON(add)
	var last int64
	if err := t.row(qNextSeq, len(add)).Scan(&last); err != nil {
		return fmt.Errorf("index device %q: %w", d.ID, err)
	}
	if _, err := t.exec(qIndex, keys, d.ID, last-int64(len(add))+1); err != nil {
		return fmt.Errorf("index device %q: %w", d.ID, err)
	}
	if _, err := t.exec(qCapKeys, keys, storage.MaxKeyDevices); err != nil {
		return fmt.Errorf("index device %q: %w", d.ID, err)
	}
	return nil
}

// leaveDevice takes the user out of the device's Users; with drop, a
// device left without users is deleted.
func leaveDevice(t *tx, id, user string, drop bool) error {
	d, ok, err := readDevice(t, id)
	if err != nil || !ok {
		return err
	}
	users := storage.WithoutUser(d.Users, user)
	if len(users) == 0 && drop {
		if _, err = t.exec(qUnindex, stringsJSON(d.Keys), id); err == nil {
			_, err = t.exec(qDeleteDevice, id)
		}
	} else {
		_, err = t.exec(qSetUsers, id, encodeUsers(users))
	}
	if err != nil {
		return fmt.Errorf("device %q: %w", id, err)
	}
	return nil
}

// encodeUsers stores a device's users as a JSON array of each user and the
// unix milliseconds of its last login, in turn; NULL for none.
func encodeUsers(us []storage.DeviceUser) any {
	if len(us) == 0 {
		return nil
	}
	flat := make([]string, 0, 2*len(us))
	for _, u := range us {
		flat = append(flat, u.User, strconv.FormatInt(ms(u.LastSeen), 10))
	}
	return stringsJSON(flat)
}

// deviceUsers scans the users of a device stored by encodeUsers.
type deviceUsers []storage.DeviceUser

// Scan implements sql.Scanner.
func (us *deviceUsers) Scan(src any) error {
	var flat strList
	if err := flat.Scan(src); err != nil {
		return err
	}
	if len(flat)%2 != 0 {
		return fmt.Errorf("scan device users: %d strings", len(flat))
	}
	*us = nil
	for i := 0; i < len(flat); i += 2 {
		v, err := strconv.ParseInt(strings.TrimSpace(flat[i+1]), 10, 64)
		if err != nil {
			return fmt.Errorf("scan device users: %w", err)
		}
		*us = append(*us, storage.DeviceUser{User: flat[i], LastSeen: fromMS(v)})
	}
	return nil
}
