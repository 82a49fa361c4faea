package storage

import (
	"context"
	"time"

	"github.com/atoguard/ato/profile"
)

// Exporter is implemented by a store that can read out everything it
// holds of its users, for tools rather than for the engine: the operator's
// tool (cmd/ato) exports the history, lists what a store holds, and
// migrates from one store to another with it. It is optional: the engine
// never calls it, and a [Store] that does not implement it is still a
// store (storetest reports its export cases as skipped). memstore,
// sqlitestore and pgstore implement it.
//
// Each method streams: it calls fn once per record, in a stated order, and
// holds at most a bounded batch of records in memory whatever the store's
// size, so a million events never need a million in memory. fn is called
// with no lock of the store held, and may take its time; records written
// while an export runs may or may not be included, and a record seen is
// whole (never half of a write). fn gets a copy it may keep. An error of fn
// stops the export and is returned as given (test with errors.Is); so is
// the context's error when it is done. A store that is closed returns
// [ErrClosed].
type Exporter interface {
	// ExportEvents calls fn with every event of every user whose time is
	// not before since (all of them for the zero time), in order of time;
	// events of the same time in the order they were added (a user's
	// events, at least; a store may order the same millisecond of
	// different users by their insertion or by user).
	ExportEvents(ctx context.Context, since time.Time, fn func(Event) error) error
	// ExportUsers calls fn with every user that has a profile, in order of
	// user id as the store orders its keys (byte-wise in memstore and
	// sqlitestore, by the database's collation in pgstore): the profile
	// (with its Version), the hashes the user saw from each device of the
	// profile, in order of device id (byte-wise), and the user's factors.
	ExportUsers(ctx context.Context, fn func(UserRecord) error) error
	// ExportDevices calls fn with every global device, in order of id as
	// the store orders its keys, with its Hashes, Keys, FirstSeen,
	// LastSeen and Users.
	ExportDevices(ctx context.Context, fn func(Device) error) error
}

// UserRecord is what [Exporter.ExportUsers] reads of one user: what the
// engine learnt about them, and their second factors; without their
// history, failures or challenges.
type UserRecord struct {
	Profile profile.Profile
	// Hashes are the hashes the user saw from each device of the profile
	// that has any, in order of device id.
	Hashes []DeviceHashes
	// Factors are the user's second factors, in order of kind (byte-wise),
	// with their secrets sealed as the engine gave them to the store: they
	// open only under the same engine secret.
	Factors []Factor
}
