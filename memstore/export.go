package memstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/atoguard/ato/storage"
)

var _ storage.Exporter = (*Store)(nil)

// ExportEvents implements [storage.Exporter]. The events are in memory
// already: it copies those since the time, one shard of users at a time,
// sorts the copies by time (a user's events of one millisecond keep their
// order; different users' of one millisecond are in order of user), and
// calls fn with no lock held.
func (s *Store) ExportEvents(ctx context.Context, since time.Time, fn func(storage.Event) error) error {
	since = ms(since)
	var evs []storage.Event
	for i := range s.users {
		if err := ctx.Err(); err != nil {
			return err
		}
		us := &s.users[i]
		us.mu.RLock()
		for _, u := range us.users {
			for j := range u.events.len() {
				if e := u.events.at(j); !e.Time.Before(since) {
					evs = append(evs, cloneEvent(*e))
				}
			}
		}
		us.mu.RUnlock()
	}
	slices.SortStableFunc(evs, func(a, b storage.Event) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.User, b.User))
	})
	for i := range evs {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := fn(evs[i]); err != nil {
			return err
		}
		evs[i] = storage.Event{} // let it go as the export moves on
	}
	return nil
}

// ExportUsers implements [storage.Exporter]. The profile is shared, as
// Load shares it: read-only.
func (s *Store) ExportUsers(ctx context.Context, fn func(storage.UserRecord) error) error {
	var names []string
	for i := range s.users {
		us := &s.users[i]
		us.mu.RLock()
		for name, u := range us.users {
			if u.profile.Version != 0 {
				names = append(names, name)
			}
		}
		us.mu.RUnlock()
	}
	slices.Sort(names)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		us := &s.users[s.shard(name)]
		us.mu.RLock()
		u := us.users[name]
		var rec storage.UserRecord
		ok := u != nil && u.profile.Version != 0
		if ok {
			rec.Profile = u.profile
			for id, hs := range u.hashes {
				rec.Hashes = append(rec.Hashes, storage.DeviceHashes{DeviceID: id, Hashes: slices.Clone(hs)})
			}
			for _, f := range u.factors {
				rec.Factors = append(rec.Factors, cloneFactor(*f))
			}
		}
		us.mu.RUnlock()
		if !ok {
			continue // erased meanwhile
		}
		slices.SortFunc(rec.Hashes, func(a, b storage.DeviceHashes) int { return cmp.Compare(a.DeviceID, b.DeviceID) })
		slices.SortFunc(rec.Factors, func(a, b storage.Factor) int { return cmp.Compare(a.Kind, b.Kind) })
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}

// ExportDevices implements [storage.Exporter].
func (s *Store) ExportDevices(ctx context.Context, fn func(storage.Device) error) error {
	var ids []string
	for i := range s.devs {
		ds := &s.devs[i]
		ds.mu.RLock()
		for id := range ds.devs {
			ids = append(ids, id)
		}
		ds.mu.RUnlock()
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		ds := &s.devs[s.shard(id)]
		ds.mu.RLock()
		dev := ds.devs[id]
		var d storage.Device
		if dev != nil {
			d = cloneDevice(dev.d[0])
		}
		ds.mu.RUnlock()
		if dev == nil {
			continue // dropped meanwhile
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}
