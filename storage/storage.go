// Package storage defines the contract between the ato engine and the
// databases that keep its state: the [Store] interface, the records it holds
// and the sentinel errors it returns.
//
// # Shape
//
// A [Store] is composed of small role interfaces — [Devices], [Links],
// [Events], [Counters], [Challenges], [Factors] and [Secrets] — plus the two calls an
// evaluation is built on: [Store.Load] reads everything one login needs in
// one call, and [Store.Commit] writes everything it decided in one atomic
// call. A networked store (PostgreSQL, say) can serve each of them in a
// single round trip.
//
// # Concurrency
//
// Any of a Store's methods may be called concurrently from many goroutines.
// Each write (Commit, AddFailure, UpdateChallenge, DeleteLink, PutFactor,
// UpdateFactor, DeleteFactor, DeleteUser, Purge, Secret)
// is atomic: it is applied whole or not at all, and no concurrent write is
// lost. Reads see a consistent snapshot of one moment.
//
// # Values
//
// Records go in and come out by value: a store never keeps a slice or map
// that a caller passed in, and never returns one that it keeps, so callers
// may modify what they get. Times are kept in UTC at millisecond precision;
// a store truncates finer times.
//
// # Errors
//
// Errors are for failures of the store itself and for missing records:
// [ErrNotFound] (wrapped; test with errors.Is) when a named record does not
// exist. Reading the state of a user the store has never seen is not an
// error: it returns an empty [State].
package storage

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Stores wrap them; compare with errors.Is.
var (
	// ErrNotFound is returned when a named record (a device, a challenge,
	// a secret) does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict is returned when a record is not in the state a write
	// needs: a challenge id inserted twice, a challenge transition from a
	// status it is not in, a restricted link that DeleteLink must keep.
	ErrConflict = errors.New("storage: conflict")
	// ErrLimited is returned by a Commit whose challenge would go past its
	// ChallengeLimit.
	ErrLimited = errors.New("storage: limit reached")
	// ErrClosed is returned by every method of a store after Close.
	ErrClosed = errors.New("storage: store is closed")
)

// MaxFailures is the number of failed attempts a store keeps per user and per
// network: older ones are dropped as new ones arrive, so an attacker who
// drives failures cannot grow the store without bound. Counts in
// [FailureCounts] saturate at this number.
const MaxFailures = 1024

// MaxKeyDevices is the most devices a store indexes under one lookup key:
// the most recently added to it. A key that many devices share (a
// fingerprint segment common to a browser build) tells them apart poorly,
// and capping it keeps a lookup's cost independent of the number of devices
// stored. Devices dropped from one key stay findable by their other keys.
const MaxKeyDevices = 64

// Device is a browser or app install, identified across users by its
// fingerprint hashes. Devices are global: one device may be linked to many
// users through [Link] records.
type Device struct {
	// ID is the stable device id returned as ato's FingerprintID.
	ID string
	// Hashes are the device's recent fingerprints, newest first: Hashes[0]
	// is the one it presented last. The engine bounds their number.
	Hashes []string
	// Keys are the lookup keys the engine derived from Hashes. The store
	// indexes them: FindDevices and LoadRequest.DeviceKeys find a device by
	// any of its keys. Keys are opaque strings to the store.
	Keys []string
	// FirstSeen and LastSeen bound the logins this device taught the engine.
	FirstSeen, LastSeen time.Time
}

// Link records that a user logged in successfully from a device: the device
// is known for that user.
type Link struct {
	User     string
	DeviceID string
	// FirstSeen and LastSeen are the first and the latest successful logins.
	FirstSeen, LastSeen time.Time
	// Trusted reports that a challenge was completed from this device.
	Trusted bool
	// Hashes are the device's recent fingerprints as this user saw them,
	// newest first. A user's known device is matched against these, not
	// against the device's global Hashes, so that what other accounts do
	// with one browser cannot change how it is recognised for this user.
	Hashes []string
	// RestrictedUntil, when in the future, holds back the actions in
	// Restrictions for this user on this device.
	RestrictedUntil time.Time
	// Restrictions are the held-back actions, sorted, without repeats.
	Restrictions []string
}

// UserDevice is a device as one user knows it: the link and the device.
type UserDevice struct {
	Link
	Device Device
}

// Event kinds.
const (
	// KindEvaluation is a login or signup evaluated by the engine.
	KindEvaluation = "evaluation"
	// KindChallengeSent, KindChallengeVerified and KindChallengeFailed
	// record a challenge's transitions: a code was sent, the right code
	// was typed, the attempts ran out.
	KindChallengeSent     = "challenge_sent"
	KindChallengeVerified = "challenge_verified"
	KindChallengeFailed   = "challenge_failed"
	// KindChallengeCompleted turns a challenged attempt into a successful
	// login.
	KindChallengeCompleted = "challenge_completed"
	// KindFactorEnrolled and KindFactorConfirmed record a second factor
	// (an authenticator app) being set up.
	KindFactorEnrolled  = "factor_enrolled"
	KindFactorConfirmed = "factor_confirmed"
	// KindCodesLocked records a wrong email or SMS code that locked the
	// user's codes for a while (too many wrong ones across challenges).
	KindCodesLocked = "codes_locked"
)

// Event is one entry of a user's history.
type Event struct {
	// ID is unique per event; for an evaluation it is the EvaluationID.
	ID   string
	User string
	Time time.Time
	// Kind is one of the Kind constants, or a later kind such as a
	// challenge transition.
	Kind    string
	Action  string
	Verdict string
	// Success reports that the event taught the engine: an allowed or
	// restricted login, or a completed challenge. Only such events make
	// their device, IP and country known for the user. When a history is
	// trimmed, events without success go first.
	Success  bool
	DeviceID string
	// IP is the client address; Network is the key it is compared by (the
	// address itself for IPv4, its /64 for IPv6).
	IP, Network string
	// Where the IP was located; Located is false when it was not.
	Located               bool
	Country, Region, City string
	Latitude, Longitude   float64
	AccuracyKm            float64
	ASN                   uint32
	// Reasons are the reasons reported for the attempt.
	Reasons []string
	// ChallengeID is the challenge the attempt created, if any.
	ChallengeID string
}

// Failure is a failed password attempt, recorded by the engine's
// RecordFailure. Known flags are decided when it is recorded, so that counts
// need no other user's state.
type Failure struct {
	User        string
	Time        time.Time
	IP, Network string
	DeviceID    string
	// KnownDevice and KnownIP report that the device or the network was
	// known for the user when the failure happened.
	KnownDevice, KnownIP bool
}

// FailureQuery asks for the failure counts one evaluation needs.
type FailureQuery struct {
	// User's failures since UserSince are counted.
	User      string
	UserSince time.Time
	// Network's failures since NetworkSince are counted; an empty Network
	// counts nothing.
	Network      string
	NetworkSince time.Time
}

// FailureCounts answers a [FailureQuery].
type FailureCounts struct {
	// User is the number of the user's failures in the window.
	User int
	// UserUnknown counts those of them that came from a device not known
	// for the user (a known network does not exempt a failure: an attacker
	// may share the owner's NAT or /64).
	UserUnknown int
	// NetworkUsers is the number of distinct users who failed from the
	// network in the window, counting only failures whose network was not
	// known for that user.
	NetworkUsers int
}

// ChallengeStatus is where a challenge stands.
type ChallengeStatus string

// Challenge statuses: pending → sent → verified → completed; or failed,
// expired, overridden (a newer challenge for the same user and device).
const (
	ChallengePending    ChallengeStatus = "pending"
	ChallengeSent       ChallengeStatus = "sent"
	ChallengeVerified   ChallengeStatus = "verified"
	ChallengeCompleted  ChallengeStatus = "completed"
	ChallengeFailed     ChallengeStatus = "failed"
	ChallengeExpired    ChallengeStatus = "expired"
	ChallengeOverridden ChallengeStatus = "overridden"
)

// Open reports whether the challenge can still move forward: pending, sent
// or verified.
func (s ChallengeStatus) Open() bool {
	return s == ChallengePending || s == ChallengeSent || s == ChallengeVerified
}

// Challenge is a request to prove ownership of an account, created by an
// evaluation whose verdict asks for one.
type Challenge struct {
	ID       string
	User     string
	DeviceID string
	// Fingerprint is the hash that identified the device, so that
	// completing the challenge can teach it.
	Fingerprint string
	// KnownDevice reports that the challenged attempt came from one of the
	// user's known devices: wrong codes on such challenges are counted
	// apart from those on challenges of unknown devices, so that someone
	// guessing from their own devices cannot lock the owner's out.
	KnownDevice bool
	Status      ChallengeStatus
	Reasons     []string
	// Email and Phone are where codes may be sent: those of the request
	// that created the challenge.
	Email, Phone string
	// Channel is the channel the current code went out on ("email",
	// "sms" or "totp"); empty before the first send.
	Channel string
	// CodeHash is a keyed hash of the current code; the code itself is
	// never stored.
	CodeHash []byte
	// Sends and Attempts count code sends and verification attempts.
	Sends, Attempts int
	CreatedAt       time.Time
	SentAt          time.Time
	ExpiresAt       time.Time
	UpdatedAt       time.Time
	// Attempt is the evaluation that created the challenge; completing the
	// challenge records it again as a success.
	Attempt Event
}

// LoadRequest names what an evaluation reads.
type LoadRequest struct {
	User string
	// DeviceKeys find global devices (any user's) that have one of these
	// keys, ranked as FindDevices ranks them; at most MaxCandidates of them
	// are returned (0 means 16).
	DeviceKeys    []string
	MaxCandidates int
	// The user's events since EventsSince, newest first, at most MaxEvents
	// (0 means 50).
	EventsSince time.Time
	MaxEvents   int
	// The user's devices, at most MaxDevices (0 means 32), the most
	// recently seen.
	MaxDevices int
	// Failures to count; Failures.User is ignored and User is used.
	Failures FailureQuery
	// ChallengesSince counts the user's challenges created since then.
	ChallengesSince time.Time
	// LinkedSince: for each loaded device (the user's and the candidates)
	// the users linked to it with a login since then are counted.
	LinkedSince time.Time
}

// State is what [Store.Load] returns: everything one evaluation looks at.
type State struct {
	// Devices are the user's known devices: the LoadRequest.MaxDevices
	// most recently seen, most recently seen first, then the user's links
	// to any of the Candidates beyond those (a device is the user's
	// whatever its place in the list).
	Devices []UserDevice
	// Candidates are devices that have one of the requested keys.
	Candidates []Device
	// Events are the user's recent events, newest first.
	Events []Event
	// Failures are the counts asked for in LoadRequest.Failures.
	Failures FailureCounts
	// Challenges is the number of the user's challenges created since
	// LoadRequest.ChallengesSince.
	Challenges int
	// DeviceUsers counts, for each device in Devices and Candidates, the
	// users whose link to it was seen since LoadRequest.LinkedSince;
	// devices with none are left out.
	DeviceUsers map[string]int
}

// Commit is everything one evaluation writes, applied atomically.
type Commit struct {
	// User whose records are written. Required. The User of the Event,
	// Link and Challenge below must be empty (meaning this user) or equal
	// to it.
	User string
	// Event, if set, is appended to the user's history. The history is then
	// trimmed: events before HistorySince are dropped, and then, while more
	// than MaxHistory (0 means 50) remain, the oldest event without Success,
	// or the oldest event if all have it.
	Event        *Event
	MaxHistory   int
	HistorySince time.Time
	// Device, if set, is upserted: a new one is inserted; an existing one
	// takes Hashes and Keys from it, keeps the earliest FirstSeen and the
	// latest LastSeen.
	Device *Device
	// Link, if set, is upserted: an existing link keeps the earliest
	// FirstSeen, the latest LastSeen and the latest RestrictedUntil, and
	// stays trusted once trusted; when the given RestrictedUntil is not
	// earlier than the stored one, its Restrictions are merged into the
	// stored ones, otherwise the stored ones stay. (The upsert cannot tell
	// a restriction in force from one that ended: restrict through
	// Restrict.) The device must exist, in the store or in
	// this commit; otherwise the commit fails with ErrNotFound. Its Hashes
	// replace the stored ones when given; empty keeps them.
	Link *Link
	// Challenge, if set, is inserted (ErrConflict if its id exists). Open
	// challenges of the same user and device become overridden; a challenge
	// without a DeviceID (an attempt without a fingerprint) overrides
	// nothing, so that a script sending none cannot cancel the owner's.
	Challenge *Challenge
	// ChallengeLimit, if set with a Challenge, is checked atomically with
	// the insert: when the user already has Max or more challenges created
	// since Since, the commit fails with ErrLimited and writes nothing. It
	// closes the race in which concurrent evaluations each see room for
	// one more challenge.
	ChallengeLimit *ChallengeLimit
	// Transition, if set, moves one of the user's challenges from one
	// status to another. It is checked before anything is written and
	// applied first (a Challenge in the same commit then overrides the
	// moved one if it is still open): if the
	// challenge does not exist or is another user's, the commit fails with
	// ErrNotFound; if its status is not one of From, with ErrConflict. Of
	// concurrent commits making the same transition, exactly one succeeds.
	Transition *Transition
	// Restrict, if set, holds back actions on the user's link to a device
	// (stored, or written by this commit). Without such a link it does
	// nothing. It is applied after Link.
	Restrict *Restriction
	// Lift, if set, names a device whose restriction on the user's link is
	// lifted: RestrictedUntil becomes zero and Restrictions empty. It is
	// applied after Restrict.
	Lift string
}

// ChallengeLimit bounds the challenges a user may have in a window, inside
// a [Commit].
type ChallengeLimit struct {
	Since time.Time
	Max   int
}

// Transition moves a challenge between statuses inside a [Commit].
type Transition struct {
	ChallengeID string
	// From lists the statuses the challenge may be in; To is the new one.
	From []ChallengeStatus
	To   ChallengeStatus
	// At becomes the challenge's UpdatedAt.
	At time.Time
}

// Restriction holds back actions for a user on a device, inside a
// [Commit].
type Restriction struct {
	DeviceID string
	// Now is the time of the commit. A stored restriction still in force at
	// Now (RestrictedUntil after Now) is extended: the later Until wins and
	// the actions are merged. One that has ended is replaced.
	Now   time.Time
	Until time.Time
	// Actions to hold back; stores keep them sorted and without repeats.
	Actions []string
}

// Devices is the global device registry.
type Devices interface {
	// Device returns the device with the id, or ErrNotFound.
	Device(ctx context.Context, id string) (Device, error)
	// FindDevices returns up to limit devices (0 means 16) that have any of
	// the keys, best first: a device scores 1/n for each key it shares with
	// the query, n being the number of devices indexed under that key (so
	// distinctive keys weigh more than common ones); ties go to the most
	// recently seen. See [MaxKeyDevices].
	FindDevices(ctx context.Context, keys []string, limit int) ([]Device, error)
}

// Links relates users and devices.
type Links interface {
	// UserDevices returns the user's known devices, most recently seen
	// first; none for an unknown user.
	UserDevices(ctx context.Context, user string) ([]UserDevice, error)
	// DeviceUsers returns the links of a device seen since the time, most
	// recently seen first.
	DeviceUsers(ctx context.Context, deviceID string, since time.Time) ([]Link, error)
	// DeleteLink removes the user's link to the device, so the device is no
	// longer known for the user, or returns ErrNotFound. The device record
	// stays; it is global. While the link is restricted at the time given
	// (RestrictedUntil after it), it is kept and ErrConflict returned, so
	// that forgetting a device cannot drop a restriction written a moment
	// before; a zero time deletes regardless.
	DeleteLink(ctx context.Context, user, deviceID string, at time.Time) error
}

// Events is the users' history.
type Events interface {
	// Events returns up to limit of the user's events since the time,
	// newest first.
	Events(ctx context.Context, user string, since time.Time, limit int) ([]Event, error)
}

// Counters records what an attacker can drive — failed attempts — and
// counts it in windows. The store keeps at most [MaxFailures] per user and
// per network, and the two limits are independent: failures flooding in
// from one network never push a user's own failures out of that user's
// count.
type Counters interface {
	// AddFailure records one failed attempt.
	AddFailure(ctx context.Context, f Failure) error
	// CountFailures answers a failure query.
	CountFailures(ctx context.Context, q FailureQuery) (FailureCounts, error)
}

// Challenges are created by Commit and changed here.
type Challenges interface {
	// Challenge returns the challenge with the id, or ErrNotFound.
	Challenge(ctx context.Context, id string) (Challenge, error)
	// UpdateChallenge reads the challenge, calls update on a copy and, if
	// update returns nil, stores the copy, all atomically: no other change
	// to the challenge happens in between. It returns the stored challenge,
	// ErrNotFound, or update's error (as given) in which case nothing is
	// stored. The ID and User cannot be changed. update must not call the
	// store.
	UpdateChallenge(ctx context.Context, id string, update func(*Challenge) error) (Challenge, error)
}

// Factor is a user's second factor, such as an authenticator app.
type Factor struct {
	User string
	// Kind names the factor; "totp" is the one ato uses.
	Kind string
	// Secret is the factor's key, sealed by the engine: stores keep it
	// as given and never see it in plain text.
	Secret []byte
	// Confirmed reports that the user proved the factor works by typing a
	// first code.
	Confirmed bool
	// LastStep is the last time step a code was accepted for, so that no
	// code is accepted twice.
	LastStep int64
	// Failures counts wrong codes in a row, FailedAt the last one, so that
	// guesses spread over many challenges still run into a limit.
	Failures  int
	FailedAt  time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Factors keeps the users' second factors, one per user and kind.
type Factors interface {
	// Factor returns the user's factor of the kind, or ErrNotFound.
	Factor(ctx context.Context, user, kind string) (Factor, error)
	// PutFactor inserts the factor, replacing the user's factor of that
	// kind if there is one. A factor needs a User and a Kind.
	PutFactor(ctx context.Context, f Factor) error
	// UpdateFactor reads the factor, calls update on a copy and, if update
	// returns nil, stores the copy, atomically, as UpdateChallenge does.
	// The User and Kind cannot be changed.
	UpdateFactor(ctx context.Context, user, kind string, update func(*Factor) error) (Factor, error)
	// DeleteFactor removes the factor, or returns ErrNotFound.
	DeleteFactor(ctx context.Context, user, kind string) error
}

// Secrets keeps the engine's keys.
type Secrets interface {
	// Secret returns the secret stored under name. If there is none, it
	// stores create and returns it. Concurrent calls all return the one
	// value that was stored first.
	Secret(ctx context.Context, name string, create []byte) ([]byte, error)
}

// Store is everything ato persists. See the package documentation for the
// concurrency and value contract.
type Store interface {
	Devices
	Links
	Events
	Counters
	Challenges
	Factors
	Secrets

	// Load reads what one evaluation needs in one call.
	Load(ctx context.Context, r LoadRequest) (State, error)
	// Commit writes what one evaluation decided, atomically.
	Commit(ctx context.Context, c Commit) error
	// DeleteUser erases every record of the user: history, links,
	// failures, challenges, factors, and the devices these name that no other user
	// is linked to. Deleting an unknown user is not an error.
	DeleteUser(ctx context.Context, user string) error
	// Purge drops events, failures and challenges older than before (by
	// event time, failure time and challenge creation; a record at exactly
	// before stays) and returns how many records it dropped.
	Purge(ctx context.Context, before time.Time) (int64, error)
}
