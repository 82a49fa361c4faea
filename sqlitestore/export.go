package sqlitestore

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/atoguard/ato/internal/pages"
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
	return pages.Each(ctx, exportPage, func(page []storage.Event) ([]storage.Event, error) {
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
		return page, exportError("events", err)
	}, fn)
}

// ExportUsers implements [storage.Exporter].
func (s *Store) ExportUsers(ctx context.Context, fn func(storage.UserRecord) error) error {
	after := ""
	return pages.Each(ctx, exportPage, func(page []storage.UserRecord) ([]storage.UserRecord, error) {
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
			first, last := page[0].Profile.User, page[len(page)-1].Profile.User
			after = last
			// The hashes and factors of the page's users, in the same
			// snapshot, in order of user as the page is.
			hrows, err := t.rows(qExportHashes, first, last)
			if err != nil {
				return err
			}
			defer hrows.Close()
			hs := userCursor{page: page}
			for hrows.Next() {
				var (
					user string
					h    storage.DeviceHashes
				)
				if err := hrows.Scan(&user, &h.DeviceID, (*strList)(&h.Hashes)); err != nil {
					return err
				}
				if r := hs.find(user); r != nil {
					r.Hashes = append(r.Hashes, h)
				}
			}
			if err := hrows.Err(); err != nil {
				return err
			}
			frows, err := t.rows(qExportFactors, first, last)
			if err != nil {
				return err
			}
			defer frows.Close()
			fs := userCursor{page: page}
			for frows.Next() {
				f, err := scanFactor(frows)
				if err != nil {
					return err
				}
				if r := fs.find(f.User); r != nil {
					r.Factors = append(r.Factors, f)
				}
			}
			return frows.Err()
		})
		return page, exportError("users", err)
	}, fn)
}

// userCursor finds the page's record of each user of rows that come in
// order of user, as the page's records do.
type userCursor struct {
	page []storage.UserRecord
	i    int
}

// find returns the user's record, or nil when the page has none.
func (c *userCursor) find(user string) *storage.UserRecord {
	for c.i < len(c.page) && c.page[c.i].Profile.User < user {
		c.i++
	}
	if c.i < len(c.page) && c.page[c.i].Profile.User == user {
		return &c.page[c.i]
	}
	return nil
}

// ExportDevices implements [storage.Exporter].
func (s *Store) ExportDevices(ctx context.Context, fn func(storage.Device) error) error {
	after := ""
	return pages.Each(ctx, exportPage, func(page []storage.Device) ([]storage.Device, error) {
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
				after = d.ID
			}
			return rows.Err()
		})
		return page, exportError("devices", err)
	}, fn)
}

// exportError wraps an error of reading a page (nil for none); the
// store's own errors (closed) and the context's stay testable with
// errors.Is.
func exportError(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlitestore: export %s: %w", what, err)
}
