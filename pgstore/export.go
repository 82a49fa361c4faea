package pgstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/atoguard/ato/internal/pages"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/storage"
	"github.com/jackc/pgx/v5"
)

// Export: everything a store holds of its users, read in pages of
// exportPage records, each page in a read-only transaction of its own, so
// that an export holds one page in memory and no snapshot for long. Each
// page starts after the last record of the previous one: events by (time,
// seq) through events_time_seq, users and devices by their primary keys (in
// the database's collation, the order of those indexes).

var _ storage.Exporter = (*Store)(nil)

// exportPage is how many records an export reads at a time.
const exportPage = 1000

var (
	// qExportEvents selects up to $3 events after ($1, $2) in order of
	// (time, seq).
	qExportEvents = stmt(`SELECT seq, ` + eventCols + ` FROM {s}.events
		WHERE (time, seq) > ($1, $2) ORDER BY time, seq LIMIT $3`)
	// qExportProfiles selects up to $2 profiles of users after $1.
	qExportProfiles = stmt(`SELECT user_id, version, data FROM {s}.profiles WHERE user_id > $1 ORDER BY user_id LIMIT $2`)
	// qExportHashes selects the hashes of the users $1.
	qExportHashes = stmt(`SELECT user_id, device_id, hashes FROM {s}.user_hashes WHERE user_id = ANY ($1::text[])`)
	// qExportFactors selects the factors of the users $1.
	qExportFactors = stmt(`SELECT ` + factorCols + ` FROM {s}.factors WHERE user_id = ANY ($1::text[])`)
	// qExportDevices selects up to $2 devices after $1.
	qExportDevices = stmt(`SELECT ` + deviceCols + ` FROM {s}.devices WHERE id > $1 ORDER BY id LIMIT $2`)
)

// readPage runs f in a read-only REPEATABLE READ transaction: the queries
// of one page see one snapshot.
func (s *Store) readPage(ctx context.Context, f func(tx pgx.Tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, f)
}

// ExportEvents implements [storage.Exporter]: in order of time, events of
// one millisecond in the order they were added.
func (s *Store) ExportEvents(ctx context.Context, since time.Time, fn func(storage.Event) error) error {
	after, seq := at(since), int64(0)
	if since.IsZero() {
		after = time.Time{} // the zero time is stored as year 1: before every event
	}
	return pages.Each(ctx, exportPage, func(page []storage.Event) ([]storage.Event, error) {
		err := s.readPage(ctx, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, s.sql[qExportEvents], after, seq, exportPage)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				page = append(page, storage.Event{})
				e := &page[len(page)-1]
				var asn int64
				if err := rows.Scan(append([]any{&seq}, scanEvent(e, &asn)...)...); err != nil {
					return err
				}
				finishEvent(e, asn)
				after = e.Time
			}
			return rows.Err()
		})
		return page, exportError("events", err)
	}, fn)
}

// ExportUsers implements [storage.Exporter].
func (s *Store) ExportUsers(ctx context.Context, fn func(storage.UserRecord) error) error {
	after := ""
	return pages.Each(ctx, exportPage, func(page []storage.UserRecord) ([]storage.UserRecord, error) {
		err := s.readPage(ctx, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, s.sql[qExportProfiles], after, exportPage)
			if err != nil {
				return err
			}
			var users []string
			for rows.Next() {
				var (
					p    profile.Profile
					data []byte
				)
				if err := rows.Scan(&p.User, &p.Version, &data); err != nil {
					rows.Close()
					return err
				}
				if err := decodeProfile(data, &p); err != nil {
					rows.Close()
					return err
				}
				page = append(page, storage.UserRecord{Profile: p})
				users = append(users, p.User)
			}
			rows.Close()
			if err := rows.Err(); err != nil || len(page) == 0 {
				return err
			}
			after = users[len(users)-1]
			at := make(map[string]int, len(page))
			for i := range page {
				at[page[i].Profile.User] = i
			}
			hrows, err := tx.Query(ctx, s.sql[qExportHashes], users)
			if err != nil {
				return err
			}
			defer hrows.Close()
			for hrows.Next() {
				var (
					user string
					h    storage.DeviceHashes
				)
				if err := hrows.Scan(&user, &h.DeviceID, &h.Hashes); err != nil {
					return err
				}
				if i, ok := at[user]; ok {
					page[i].Hashes = append(page[i].Hashes, h)
				}
			}
			if err := hrows.Err(); err != nil {
				return err
			}
			frows, err := tx.Query(ctx, s.sql[qExportFactors], users)
			if err != nil {
				return err
			}
			defer frows.Close()
			for frows.Next() {
				f, _, err := scanFactor(frows)
				if err != nil {
					return err
				}
				if i, ok := at[f.User]; ok {
					page[i].Factors = append(page[i].Factors, f)
				}
			}
			return frows.Err()
		})
		for i := range page {
			slices.SortFunc(page[i].Hashes, func(a, b storage.DeviceHashes) int { return cmp.Compare(a.DeviceID, b.DeviceID) })
			slices.SortFunc(page[i].Factors, func(a, b storage.Factor) int { return cmp.Compare(a.Kind, b.Kind) })
		}
		return page, exportError("users", err)
	}, fn)
}

// ExportDevices implements [storage.Exporter].
func (s *Store) ExportDevices(ctx context.Context, fn func(storage.Device) error) error {
	after := ""
	return pages.Each(ctx, exportPage, func(page []storage.Device) ([]storage.Device, error) {
		err := s.readPage(ctx, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, s.sql[qExportDevices], after, exportPage)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var (
					d    storage.Device
					ids  []string
					seen []time.Time
				)
				if err := rows.Scan(scanDevice(&d, &ids, &seen)...); err != nil {
					return err
				}
				finishDevice(&d, ids, seen)
				page = append(page, d)
				after = d.ID
			}
			return rows.Err()
		})
		return page, exportError("devices", err)
	}, fn)
}

// exportError wraps an error of reading a page (nil for none).
func exportError(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("pgstore: export %s: %w", what, err)
}
