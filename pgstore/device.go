package pgstore

import (
	"slices"
	"time"

	"github.com/atoguard/ato/storage"
	"github.com/jackc/pgx/v5"
)

// Devices, global, and their index: device_keys has an entry per key of a
// device, numbered (written, an identity column) when the device is
// indexed under the key; a key keeps the storage.MaxKeyDevices entries
// with the highest numbers. A device's users are two arrays, user_ids and
// user_seen, most recent first. Strings are ordered as Go orders them
// (COLLATE "C"), whatever the database's collation.

// deviceCols are the columns of a device, in scanDevice's order.
const deviceCols = `id, hashes, keys, first_seen, last_seen, user_ids, user_seen`

var (
	// qUnindexGone drops the entries of device $1 under keys other than
	// $2. It runs after qMergeDevice, which locks the device's row, so
	// that it sees every entry a writer before it made.
	qUnindexGone = stmt(`DELETE FROM {s}.device_keys WHERE device_id = $1 AND lookup_key <> ALL ($2::text[])`)
	// qMergeDevice writes device $1 as storage.MergeDevice merges it into
	// the stored one: hashes $2 and keys $3, the earliest first_seen
	// (the stored one unless it is zero), the latest last_seen, and user
	// $6 seen at $7 first among the $8 most recent users.
	qMergeDevice = stmt(`INSERT INTO {s}.devices AS d (` + deviceCols + `)
		VALUES ($1, $2, $3, $4, $5, ARRAY[$6::text], ARRAY[$7::timestamptz])
		ON CONFLICT (id) DO UPDATE SET hashes = excluded.hashes, keys = excluded.keys,
			first_seen = CASE WHEN d.first_seen > '0001-01-01 00:00:00Z' AND d.first_seen < excluded.first_seen
				THEN d.first_seen ELSE excluded.first_seen END,
			last_seen = greatest(d.last_seen, excluded.last_seen),
			(user_ids, user_seen) = (
				SELECT array_agg(u ORDER BY s DESC, u COLLATE "C"), array_agg(s ORDER BY s DESC, u COLLATE "C")
				FROM (
					SELECT u, s FROM (
						SELECT $6::text AS u, greatest($7::timestamptz,
							(SELECT max(o.s) FROM unnest(d.user_ids, d.user_seen) AS o(u, s) WHERE o.u = $6)) AS s
						UNION ALL
						SELECT o.u, o.s FROM unnest(d.user_ids, d.user_seen) AS o(u, s) WHERE o.u <> $6
					) a ORDER BY s DESC, u COLLATE "C" LIMIT $8
				) b)`)
	// qIndexDevice indexes device $1 under each of the keys $2 it is not
	// indexed under, numbering the new entries (written, an identity
	// column) in the order of the keys, so that writers lock entries in
	// one order.
	qIndexDevice = stmt(`INSERT INTO {s}.device_keys (lookup_key, device_id)
		SELECT k, $1 FROM unnest($2::text[]) AS k ORDER BY k COLLATE "C"
		ON CONFLICT (lookup_key, device_id) DO NOTHING`)
	// qCapKeys drops, from each key of $1, the entries past the $2 highest
	// numbers.
	qCapKeys = stmt(`DELETE FROM {s}.device_keys dk USING (
			SELECT k.lookup_key, (SELECT c.written FROM {s}.device_keys c WHERE c.lookup_key = k.lookup_key
				ORDER BY c.written DESC OFFSET $2 - 1 LIMIT 1) AS lowest
			FROM unnest($1::text[]) AS k(lookup_key)) f
		WHERE dk.lookup_key = f.lookup_key AND dk.written < f.lowest`)
	// qLeaveDevices takes user $2 out of the users of the devices $1.
	qLeaveDevices = stmt(`UPDATE {s}.devices d SET (user_ids, user_seen) = (
			SELECT coalesce(array_agg(o.u ORDER BY o.n), '{}'), coalesce(array_agg(o.s ORDER BY o.n), '{}')
			FROM unnest(d.user_ids, d.user_seen) WITH ORDINALITY AS o(u, s, n) WHERE o.u <> $2)
		WHERE d.id = ANY ($1::text[]) AND $2 = ANY (d.user_ids)`)

	// For DeleteUser: the devices of user $1's profile, locked in the
	// order of their ids; the index entries and the records of those of
	// them the user is the only user of; the user's place in the others.
	qLockUserDevices = stmt(`SELECT id FROM {s}.devices
		WHERE id = ANY ((SELECT device_ids FROM {s}.profiles WHERE user_id = $1)::text[])
		ORDER BY id COLLATE "C" FOR UPDATE`)
	qUnindexLastUser = stmt(`DELETE FROM {s}.device_keys WHERE device_id IN (SELECT id FROM {s}.devices
		WHERE id = ANY ((SELECT device_ids FROM {s}.profiles WHERE user_id = $1)::text[])
			AND cardinality(array_remove(user_ids, $1)) = 0)`)
	qDeleteLastUser = stmt(`DELETE FROM {s}.devices
		WHERE id = ANY ((SELECT device_ids FROM {s}.profiles WHERE user_id = $1)::text[])
			AND cardinality(array_remove(user_ids, $1)) = 0`)
	qLeaveProfileDevices = stmt(`UPDATE {s}.devices d SET (user_ids, user_seen) = (
			SELECT coalesce(array_agg(o.u ORDER BY o.n), '{}'), coalesce(array_agg(o.s ORDER BY o.n), '{}')
			FROM unnest(d.user_ids, d.user_seen) WITH ORDINALITY AS o(u, s, n) WHERE o.u <> $1)
		WHERE d.id = ANY ((SELECT device_ids FROM {s}.profiles WHERE user_id = $1)::text[]) AND $1 = ANY (d.user_ids)`)
)

// queueDevice queues the merge of a device write (storage.MergeDevice, in
// SQL) and the update of its index entries.
func (s *Store) queueDevice(b *pgx.Batch, user string, w *storage.DeviceWrite) {
	d := &w.Device
	keys := slices.Compact(slices.Sorted(slices.Values(d.Keys)))
	if keys == nil {
		keys = []string{}
	}
	hashes := d.Hashes
	if hashes == nil {
		hashes = []string{}
	}
	s.queue(b, qMergeDevice, d.ID, hashes, nonNil(d.Keys), at(d.FirstSeen), at(d.LastSeen), user, at(w.Seen), w.MaxUsers)
	s.queue(b, qUnindexGone, d.ID, keys)
	if len(keys) > 0 {
		s.queue(b, qIndexDevice, d.ID, keys)
		s.queue(b, qCapKeys, keys, storage.MaxKeyDevices)
	}
}

// scanDevice returns the scan destinations of deviceCols into d and the
// users' two arrays, which usersOf joins.
func scanDevice(d *storage.Device, ids *[]string, seen *[]time.Time) []any {
	return []any{&d.ID, &d.Hashes, &d.Keys, &d.FirstSeen, &d.LastSeen, ids, seen}
}

// finishDevice puts a scanned device's users and times in their stored
// form.
func finishDevice(d *storage.Device, ids []string, seen []time.Time) {
	d.FirstSeen, d.LastSeen = d.FirstSeen.UTC(), d.LastSeen.UTC()
	if len(d.Hashes) == 0 {
		d.Hashes = nil
	}
	if len(d.Keys) == 0 {
		d.Keys = nil
	}
	d.Users = nil
	if n := min(len(ids), len(seen)); n > 0 {
		d.Users = make([]storage.DeviceUser, n)
		for i := range n {
			d.Users[i] = storage.DeviceUser{User: ids[i], LastSeen: seen[i].UTC()}
		}
	}
}

// nonNil returns ss, or an empty slice for nil: a NOT NULL array column
// takes '{}', not NULL.
func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}
