package sqlitestore

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/atoguard/ato/internal/profilecodec"
	"github.com/atoguard/ato/storage"
)

// Export: everything a store holds of its users, read in pages of
// exportPage records, each page in a read transaction of its own, so that
// an export holds one page in memory and never holds the database's
// snapshot (nor keeps the WAL from being checkpointed) for long. Each page
// starts after the last record of the previous one: events by (time, seq)
// through events_time (an index on time carries the rowid, seq), users and
// devices by their keys.

var _ storage.Exporter = (*Store)(nil)

// exportPage is how many records an export reads at a time.
const exportPage = 500

var (
	// qExportEvents selects up to ?3 events after (?1, ?2) in order of
	// (time, seq).
	qExportEvents = prepared(`SELECT seq, user_id, ` + eventReadCols + ` FROM events
		WHERE (time, seq) > (?1, ?2) ORDER BY time, seq LIMIT ?3`)
	// qExportProfiles selects up to ?2 profiles of users after ?1.
	qExportProfiles = prepared(`SELECT user_id, version, data FROM profiles WHERE user_id > ?1 ORDER BY user_id LIMIT ?2`)
	// qExportHashes selects the hashes of the users from ?1 to ?2.
	qExportHashes = prepared(`SELECT user_id, device_id, hashes FROM user_hashes
		WHERE user_id >= ?1 AND user_id <= ?2 ORDER BY user_id, device_id`)
	// qExportFactors selects the factors of the users from ?1 to ?2.
	qExportFactors = prepared(`SELECT ` + factorCols + ` FROM factors
		WHERE user_id >= ?1 AND user_id <= ?2 ORDER BY user_id, kind`)
	// qExportDevices selects up to ?2 devices after ?1.
	qExportDevices = prepared(`SELECT ` + deviceCols + ` FROM devices WHERE id > ?1 ORDER BY id LIMIT ?2`)
)

// ExportEvents implements [storage.Exporter]: in order of time, events of
// one millisecond in the order they were added.
func (s *Store) ExportEvents(ctx context.Context, since time.Time, fn func(storage.Event) error) error {
	after, seq := int64(math.MinInt64), int64(0)
	if !since.IsZero() {
		after = ms(since)
	}
	page := make([]storage.Event, 0, exportPage)
	for {
		page = page[:0]
		err := s.readTx(ctx, func(t *tx) error {
			rows, err := t.rows(qExportEvents, after, seq, exportPage)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				page = append(page, storage.Event{})
				e := &page[len(page)-1]
				var asn int64
				if err := rows.Scan(&seq, &e.User, (*eventTexts)(e), (*msTime)(&e.Time), (*intBool)(&e.Success), (*intBool)(&e.Located),
					(*sqlReal)(&e.Latitude), (*sqlReal)(&e.Longitude), (*sqlReal)(&e.AccuracyKm), &asn,
					(*strList)(&e.Reasons)); err != nil {
					return err
				}
				e.ASN = uint32(asn)
				after = ms(e.Time)
			}
			return rows.Err()
		})
		if err != nil {
			return exportError("events", err)
		}
		for i := range page {
			if err := fn(page[i]); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// ExportUsers implements [storage.Exporter].
func (s *Store) ExportUsers(ctx context.Context, fn func(storage.UserRecord) error) error {
	after := ""
	var page []storage.UserRecord
	for {
		page = page[:0]
		err := s.readTx(ctx, func(t *tx) error {
			rows, err := t.rows(qExportProfiles, after, exportPage)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var (
					r    storage.UserRecord
					data []byte
				)
				if err := rows.Scan(&r.Profile.User, &r.Profile.Version, &data); err != nil {
					return err
				}
				if err := profilecodec.Decode(data, &r.Profile); err != nil {
					return fmt.Errorf("profile of %q: %w", r.Profile.User, err)
				}
				page = append(page, r)
			}
			if err := rows.Err(); err != nil || len(page) == 0 {
				return err
			}
			// The hashes of the page's users, in the same snapshot.
			hrows, err := t.rows(qExportHashes, page[0].Profile.User, page[len(page)-1].Profile.User)
			if err != nil {
				return err
			}
			defer hrows.Close()
			i := 0
			for hrows.Next() {
				var (
					user string
					h    storage.DeviceHashes
				)
				if err := hrows.Scan(&user, &h.DeviceID, (*strList)(&h.Hashes)); err != nil {
					return err
				}
				for i < len(page) && page[i].Profile.User < user {
					i++
				}
				if i < len(page) && page[i].Profile.User == user {
					page[i].Hashes = append(page[i].Hashes, h)
				}
			}
			if err := hrows.Err(); err != nil {
				return err
			}
			// Their factors, in the same snapshot.
			frows, err := t.rows(qExportFactors, page[0].Profile.User, page[len(page)-1].Profile.User)
			if err != nil {
				return err
			}
			defer frows.Close()
			i = 0
			for frows.Next() {
				f, err := scanFactor(frows)
				if err != nil {
					return err
				}
				for i < len(page) && page[i].Profile.User < f.User {
					i++
				}
				if i < len(page) && page[i].Profile.User == f.User {
					page[i].Factors = append(page[i].Factors, f)
				}
			}
			return frows.Err()
		})
		if err != nil {
			return exportError("users", err)
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		after = page[len(page)-1].Profile.User
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// ExportDevices implements [storage.Exporter].
func (s *Store) ExportDevices(ctx context.Context, fn func(storage.Device) error) error {
	after := ""
	var page []storage.Device
	for {
		page = page[:0]
		err := s.readTx(ctx, func(t *tx) error {
			rows, err := t.rows(qExportDevices, after, exportPage)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var d storage.Device
				if err := rows.Scan(deviceDest(&d)...); err != nil {
					return err
				}
				page = append(page, d)
			}
			return rows.Err()
		})
		if err != nil {
			return exportError("devices", err)
		}
		for _, d := range page {
			if err := fn(d); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		after = page[len(page)-1].ID
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// exportError wraps an error of reading a page; the store's own errors
// (closed) and the context's stay testable with errors.Is.
func exportError(what string, err error) error {
	return fmt.Errorf("sqlitestore: export %s: %w", what, err)
}
