package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/atoguard/ato/internal/profilecodec"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/storage"
	"github.com/jackc/pgx/v5"
)

// Profiles: one row per user, the profile encoded whole
// (internal/profilecodec) with its version, and beside it the facts of it
// that statements read, so that Load can decide in SQL what else to read
// and AddFailure can classify a failure in SQL — keys and networks as
// 64-bit digests, which keep the row small:
//
//   - device_ids and newest_keys: each device and the digest of the key of
//     the newest hash the user saw from it (storage.NeedsHashes,
//     profile.DeviceWithKey; Load checks the key itself in Go);
//   - keys: the digest of every key of every device
//     (storage.ClassifyFailure);
//   - networks and network_seen: the digest of each network and its last
//     login (profile.KnownNetwork).
//
// Two keys with one digest (a chance of one in 2^64 a pair) would make a
// failure from an unknown device count as one from a known device.

var (
	qProfile = stmt(`SELECT version, data FROM {s}.profiles WHERE user_id = $1`)
	// qInsertProfile writes a user's first profile, as version 1, and
	// qUpdateProfile a profile as version $3 if the stored version is $2;
	// each fails the batch (codeStale) if the stored version is another.
	qInsertProfile = stmt(`WITH w AS (
			INSERT INTO {s}.profiles (user_id, version, data, device_ids, newest_keys, keys, networks, network_seen)
			VALUES ($1, 1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id) DO NOTHING RETURNING 1)
		SELECT {s}.ato_check(EXISTS (SELECT 1 FROM w), 'AT412', 'profile written meanwhile')`)
	qUpdateProfile = stmt(`WITH w AS (
			UPDATE {s}.profiles SET version = $3, data = $4, device_ids = $5, newest_keys = $6, keys = $7,
				networks = $8, network_seen = $9
			WHERE user_id = $1 AND version = $2 RETURNING 1)
		SELECT {s}.ato_check(EXISTS (SELECT 1 FROM w), 'AT412', 'profile written meanwhile')`)
	qDeleteProfile = stmt(`DELETE FROM {s}.profiles WHERE user_id = $1`)

	qPutHashes = stmt(`INSERT INTO {s}.user_hashes (user_id, device_id, hashes) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, device_id) DO UPDATE SET hashes = excluded.hashes`)
	qDeleteHashes    = stmt(`DELETE FROM {s}.user_hashes WHERE user_id = $1 AND device_id = ANY ($2::text[])`)
	qDeleteAllHashes = stmt(`DELETE FROM {s}.user_hashes WHERE user_id = $1`)
)

// readProfile reads the user's profile; an empty one when there is none.
func (s *Store) readProfile(ctx context.Context, q querier, user string) (profile.Profile, error) {
	p := profile.Profile{User: user}
	var data []byte
	err := q.QueryRow(ctx, s.sql[qProfile], user).Scan(&p.Version, &data)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return p, nil
	case err != nil:
		return profile.Profile{}, fmt.Errorf("read profile of %q: %w", user, err)
	}
	if err := decodeProfile(data, &p); err != nil {
		return profile.Profile{}, err
	}
	return p, nil
}

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// decodeProfile decodes a stored profile into p, whose User and Version
// are set.
func decodeProfile(data []byte, p *profile.Profile) error {
	if err := profilecodec.Decode(data, p); err != nil {
		return fmt.Errorf("read profile of %q: %w", p.User, err)
	}
	return nil
}

// queueProfile queues the write of p as version base+1 over version base,
// with its facts.
func (s *Store) queueProfile(b *pgx.Batch, user string, base int64, p *profile.Profile) {
	deviceIDs := make([]string, len(p.Devices))
	newest := make([]int64, len(p.Devices))
	keys := []int64{}
	for i := range p.Devices {
		d := &p.Devices[i]
		deviceIDs[i] = d.ID
		if len(d.Keys) > 0 {
			newest[i] = digest(d.Keys[0])
		}
		for _, k := range d.Keys {
			keys = append(keys, digest(k))
		}
	}
	networks := make([]int64, len(p.Networks))
	seen := make([]time.Time, len(p.Networks))
	for i := range p.Networks {
		networks[i], seen[i] = digest(p.Networks[i].Key), at(p.Networks[i].LastSeen)
	}
	data := profilecodec.Encode(make([]byte, 0, 512), p)
	if base == 0 {
		s.queue(b, qInsertProfile, user, data, deviceIDs, newest, keys, networks, seen)
	} else {
		s.queue(b, qUpdateProfile, user, base, base+1, data, deviceIDs, newest, keys, networks, seen)
	}
}

// queueHashes queues the write of the hashes the user saw from a device
// (none: deleted).
func (s *Store) queueHashes(b *pgx.Batch, user string, h *storage.DeviceHashes) {
	if len(h.Hashes) == 0 {
		s.queue(b, qDeleteHashes, user, []string{h.DeviceID})
	} else {
		s.queue(b, qPutHashes, user, h.DeviceID, h.Hashes)
	}
}
