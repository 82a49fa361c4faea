package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/atoguard/ato/storage"
)

// FindDevices returns up to limit devices (16 when limit <= 0) that have any
// of the keys, best first: see findDevices.
func (s *Store) FindDevices(ctx context.Context, keys []string, limit int) ([]storage.Device, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if len(keys) == 0 {
		return nil, nil
	}
	var ds []storage.Device
	err := s.readTx(ctx, func(r *reader) (err error) {
		ds, err = findDevices(ctx, r.stmt(rKeyHits), r.stmt(rDevicesByID), keys, limit, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: find devices: %w", err)
	}
	return ds, nil
}

// keyHitsQuery selects the devices indexed under each key of the JSON array
// ?1: the key's index in the array and the device's id.
const keyHitsQuery = `SELECT j.key, k.device_id
	FROM json_each(?1) j JOIN device_keys k ON k.lookup_key = j.value`

// devicesByIDQuery selects the devices whose ids are in the JSON array ?1.
const devicesByIDQuery = `SELECT ` + deviceCols + ` FROM devices d
	WHERE d.id IN (SELECT value FROM json_each(?1))`

// findDevices returns up to limit devices (16 when limit <= 0) that have
// any of the keys, best first: a device scores 1/n for each of the keys it
// has, n being the number of devices indexed under the key, and ties go to
// the most recently seen, then to the least id. hits is the keyHitsQuery and
// byID the devicesByIDQuery, of one snapshot; known are devices read from
// that snapshot already, which are copied rather than read again.
//
// Only the devices that can make the cut are read: the best limit and those
// tied with the last of them.
func findDevices(ctx context.Context, hits, byID *sql.Stmt, keys []string, limit int, known []storage.UserDevice) ([]storage.Device, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	if limit <= 0 {
		limit = defaultCandidates
	}
	score, err := keyScores(ctx, hits, keys)
	if err != nil || len(score) == 0 {
		return nil, err
	}

	// The devices that can make the cut.
	ids := make([]string, 0, len(score))
	for id := range score {
		ids = append(ids, id)
	}
	if len(ids) > limit {
		slices.SortFunc(ids, func(a, b string) int { return cmp.Compare(score[b], score[a]) })
		cut := limit
		for cut < len(ids) && score[ids[cut]] == score[ids[limit-1]] {
			cut++
		}
		ids = ids[:cut]
	}

	// Copy the known devices, read the others.
	var (
		ds     []storage.Device
		unread []string
	)
	for _, id := range ids {
		i := slices.IndexFunc(known, func(ud storage.UserDevice) bool { return ud.DeviceID == id })
		if i < 0 {
			unread = append(unread, id)
			continue
		}
		d := known[i].Device
		d.Hashes, d.Keys = slices.Clone(d.Hashes), slices.Clone(d.Keys) // no slice is returned twice
		ds = append(ds, d)
	}
	if len(unread) > 0 {
		read, err := scanDevices(byID.QueryContext(ctx, stringsJSON(unread)))
		if err != nil {
			return nil, err
		}
		ds = append(ds, read...)
	}
	slices.SortFunc(ds, func(a, b storage.Device) int {
		return cmp.Or(cmp.Compare(score[b.ID], score[a.ID]), b.LastSeen.Compare(a.LastSeen), cmp.Compare(a.ID, b.ID))
	})
	return ds[:min(limit, len(ds))], nil
}

// keyScores runs hits, the keyHitsQuery, for the keys and returns the score
// of each device found. The scores are summed in Go, key by key in the
// order of the keys, as the memory store sums them, so that both rank alike
// to the last bit, and devices with the same keys tie exactly.
func keyScores(ctx context.Context, hits *sql.Stmt, keys []string) (map[string]float64, error) {
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	type hit struct {
		key    int64 // index in keys
		device string
	}
	var found []hit
	rows, err := hits.QueryContext(ctx, stringsJSON(keys))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var h hit
		if err := rows.Scan(&h.key, &h.device); err != nil {
			return nil, err
		}
		found = append(found, h)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	slices.SortStableFunc(found, func(a, b hit) int { return cmp.Compare(a.key, b.key) })
	score := make(map[string]float64, len(found))
	for i := 0; i < len(found); {
		// found[i:j] are the devices indexed under one key.
		j := i + 1
		for j < len(found) && found[j].key == found[i].key {
			j++
		}
		w := 1 / float64(j-i)
		for _, h := range found[i:j] {
			score[h.device] += w
		}
		i = j
	}
	return score, nil
}
