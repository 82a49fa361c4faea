// Package storage is the contract between the ato engine and the databases
// that keep its state: the [Store] interface, the records it holds, the
// rules every store applies, and the sentinel errors it returns.
//
// # What a store keeps
//
//   - one [profile.Profile] per user: what the engine learnt about the user,
//     written whole, with a version for optimistic concurrency;
//   - the hashes each user saw from each of their devices ([DeviceHashes]),
//     read only when the attempt's fingerprint is not the newest one the
//     user saw from a known device;
//   - global [Device] records — one per browser across all users — indexed
//     by their lookup keys, each with the most recent accounts that logged
//     in from it (the fan-in that multiple_accounts_per_device counts);
//   - the users' history of [Event] records: the audit trail, never read
//     when an attempt is evaluated;
//   - failed attempts ([Failure]), per user and per network, and the
//     names that are not accounts failing anywhere (the campaign list),
//     kept only as long as a signal reads them;
//   - challenges, second factors and the engine's secrets.
//
// # The two calls of an evaluation
//
// [Store.Load] reads everything one attempt needs, and [Store.Commit]
// writes everything the engine decided, atomically. A networked store can
// serve each in one round trip. What Load reads is bounded whatever a user's
// history, however many accounts share a device and however many users
// fail from one network: every list it reads is capped by a limit the
// engine passes in the request.
//
// # Writing a store
//
// A store is a few maps or tables and the rules below; the rules are
// exported functions of this package, so a new store calls them rather than
// writing them again (a SQL store may apply one in SQL instead, as
// sqlitestore trims histories and ranks candidates, provided the results
// are the same; the conformance suite checks):
//
//   - Load: read the user's profile. If [NeedsHashes] says so, also read
//     the user's [DeviceHashes] of every device in the profile and find the
//     candidate devices: read the index entries of the request's keys and
//     rank them with [RankCandidates], then read the winning devices.
//     Otherwise return the one global device [profile.Profile.DeviceWithKey]
//     names as the only candidate (if it exists). Count failures and
//     challenges as [FailureQuery] and [ChallengeQuery] say.
//   - Commit: check it with [Commit.Validate]; check the transition, the
//     challenge limit and the challenge id before writing anything; resolve
//     the profile with [ResolveProfile]; merge the device with
//     [MergeDevice] and update its index entries as [Device] describes;
//     for each device ResolveProfile says the profile no longer holds,
//     drop the user's hashes of it and take the user out of its Users;
//     append the event and trim the history with [TrimHistory]. All of
//     it, or nothing.
//   - AddFailure: classify the failure against the user's profile with
//     [ClassifyFailure], then keep it in the user's list; unless its
//     network was known, in the network's, marked when it is a campaign
//     failure ([Failure.Campaign]); and, when it is one, in the campaign
//     list (the list of the network [CampaignKey]) unless its network
//     put enough there already; all as [FailureLimits] bounds them.
//
// The conformance suite, storage/storetest, checks each rule on a fresh
// store and reports every one broken, in words; run it from your store's
// tests. memstore is the reference implementation, sqlitestore the one for
// a SQL database.
//
// # Reading everything
//
// The engine reads one user at a time. Tools that read a whole store —
// exporting the history, migrating to another store — use [Exporter], an
// optional interface a store may implement beside Store; the conformance
// suite checks it where it is implemented.
//
// # Concurrency
//
// Any of a Store's methods may be called concurrently. Each write (Commit,
// AddFailure, UpdateChallenge, UpdateFactor, DeleteUser, Purge, Secret) is
// atomic: applied whole or not at all, and no concurrent write is lost.
// Each read sees the records of one user as of one moment.
//
// # Values
//
// Records go into a store by value: a store never keeps a slice a caller
// passed in. What Load returns is read-only: a store may share it with
// other readers, and the engine never modifies it. Every other method
// returns copies. Times are kept in UTC at millisecond precision; a store
// truncates finer times.
//
// # Errors
//
// Errors are for failures of the store itself and for missing records:
// [ErrNotFound] (wrapped; test with errors.Is) when a named record does not
// exist. Reading the state of a user the store has never seen is not an
// error: it returns an empty profile.
package storage

import (
	"context"
	"errors"
	"time"

	"github.com/atoguard/ato/profile"
)

// Sentinel errors. Stores wrap them; compare with errors.Is.
var (
	// ErrNotFound is returned when a named record (a challenge, a factor)
	// does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict is returned when a record is not in the state a write
	// needs: a challenge id inserted twice, a challenge transition from a
	// status it is not in, a profile change that cannot be applied (a
	// device forgotten while it is restricted).
	ErrConflict = errors.New("storage: conflict")
	// ErrLimited is returned by a Commit whose challenge would go past its
	// ChallengeLimit.
	ErrLimited = errors.New("storage: limit reached")
	// ErrClosed is returned by every method of a store after Close.
	ErrClosed = errors.New("storage: store is closed")
	// ErrInvalid is returned for a request or commit that breaks the
	// contract (a missing user, a limit that is not positive); see
	// [Commit.Validate].
	ErrInvalid = errors.New("storage: invalid")
	// ErrDelete is returned by an update function of [Store.UpdateFactor]
	// to delete the factor.
	ErrDelete = errors.New("storage: delete")
	// ErrOutdated is wrapped by the error of a store that will not migrate
	// (opened read-only, or told not to) when the database lacks
	// migrations of this release.
	ErrOutdated = errors.New("storage: the database's schema is older than this release")
)

// MaxKeyDevices is the most devices a store indexes under one lookup key:
// the most recently indexed under it. A key that many devices share (a
// fingerprint segment common to a browser build) tells them apart poorly,
// and capping it keeps a lookup's cost independent of the number of devices
// stored. Devices dropped from one key stay findable by their other keys.
const MaxKeyDevices = 64

// Device is a browser or app install, identified across users by its
// fingerprint hashes.
//
// A store indexes a device under each of its Keys. Each index entry has a
// sequence number from a counter of the store's, taken when the device is
// indexed under the key: when the device is first written with the key, or
// written with the key again after being dropped from it. A device written
// again with a key it is indexed under keeps its entry and number. A key
// keeps the [MaxKeyDevices] entries with the highest numbers. Keys a device
// no longer has are dropped from the index.
type Device struct {
	// ID is the stable device id returned as ato's FingerprintID.
	ID string
	// Hashes are the device's recent fingerprints, newest first.
	Hashes []string
	// Keys are the lookup keys the engine derived from Hashes; opaque to
	// the store.
	Keys []string
	// FirstSeen and LastSeen bound the logins this device taught the
	// engine, to within [TouchEvery].
	FirstSeen, LastSeen time.Time
	// Users are the most recent accounts that logged in from the device,
	// most recent first, one entry per user, at most the MaxUsers of the
	// last write (see [MergeDevice]).
	Users []DeviceUser
}

// DeviceUser is an account that logged in from a device, and when it did
// last (to within [TouchEvery]).
type DeviceUser struct {
	User     string
	LastSeen time.Time
}

// DeviceHashes are the fingerprints one user saw from one device, newest
// first: the user's known device is matched against these, not against the
// device's global Hashes, so that what other accounts do with a browser
// cannot change how it is recognised for this user.
type DeviceHashes struct {
	DeviceID string
	Hashes   []string
}

// Event kinds.
const (
	// KindEvaluation is an attempt evaluated by the engine.
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
	// KindDeviceForgotten records a device the user forgot.
	KindDeviceForgotten = "device_forgotten"
)

// Event is one entry of a user's history.
type Event struct {
	// ID is unique per event; for an evaluation it is the EvaluationID.
	ID   string
	User string
	Time time.Time
	// Kind is one of the Kind constants, or a later kind.
	Kind    string
	Action  string
	Verdict string
	// Success reports that the event taught the engine: an allowed or
	// restricted login, or a completed challenge. When a history is
	// trimmed, events without success go first.
	Success  bool
	DeviceID string
	// IP is the client address; Network is the key it is compared by.
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

// CampaignKey is the network key of the campaign list: the distinct names
// that are not accounts (see [Failure.Campaign]) that failed from
// anywhere, kept as a network's list is, newest first. No network's key is
// it (a network key is an address or a prefix), and [Failure.Validate] and
// [LoadRequest.Validate] refuse it as a failure's or a query's network.
const CampaignKey = "*"

// Failure is a failed password attempt, recorded by the engine's
// RecordFailure.
type Failure struct {
	User string
	Time time.Time
	// Network is the key of the attempt's address ("" without one).
	Network string
	// DeviceKey is the exact lookup key of the attempt's fingerprint (""
	// without one).
	DeviceKey string
	// UnknownUser reports that User is not an account: the application
	// said so (ato never learns it otherwise). See [Failure.Campaign].
	UnknownUser bool
	// KnownDevice and KnownNetwork report that the device or the network
	// was known for the user when the failure happened. The store sets
	// them, with [ClassifyFailure], from the profile it holds then.
	KnownDevice, KnownNetwork bool
}

// FailureLimits bound what [Store.AddFailure] keeps. Every field must be
// set.
type FailureLimits struct {
	// KnownSince: a network counts as known for the user when they logged
	// in successfully from it since then ([ClassifyFailure]).
	KnownSince time.Time
	// Keep is how long failures are kept: the longest window a signal
	// counts them in. Older ones (before Time - Keep) are dropped as new
	// ones arrive: the user's own at once, and up to [FailureExpiry] of
	// any other user's and any network's in each call, so that a flood of
	// failures for made-up users ages out as failures go on; Purge drops
	// the rest.
	Keep time.Duration
	// MaxUser failures are kept per user (the newest), and MaxNetworkUsers
	// users per network (those who failed from it last).
	MaxUser, MaxNetworkUsers int
	// MaxCampaignUsers names are kept in the campaign list (those who
	// failed last); zero keeps no campaign list.
	MaxCampaignUsers int
	// CampaignPerNetwork bounds what one network puts in the campaign
	// list: a campaign failure goes into it only if, before it is
	// written, fewer than CampaignPerNetwork other names in its network's
	// list are marked, since Time - Keep. A network past that has shown
	// its hand, and is counted on its own (FailureCounts.NetworkUnknown):
	// the campaign list is for campaigns spread over many networks, and
	// one network must not fill it. Failures without a network are not
	// bounded so. Required (positive) with MaxCampaignUsers.
	CampaignPerNetwork int
}

// FailureQuery asks for the failure counts one evaluation needs.
type FailureQuery struct {
	// The user's failures since UserSince are counted, up to MaxUser.
	UserSince time.Time
	MaxUser   int
	// The distinct users who failed from Network since NetworkSince, not
	// counting failures whose network was known for their user, are
	// counted up to MaxNetworkUsers; an empty Network counts nothing.
	Network         string
	NetworkSince    time.Time
	MaxNetworkUsers int
	// The names in Network's list whose latest failure from it was a
	// campaign failure ([Failure.Campaign]), since UnknownSince, are
	// counted up to MaxNetworkUnknown (of the MaxNetworkUsers the list
	// keeps); zero: not counted.
	UnknownSince      time.Time
	MaxNetworkUnknown int
	// The names in the campaign list (see [CampaignKey]) since
	// CampaignSince are counted up to MaxCampaignUsers; zero: not counted.
	CampaignSince    time.Time
	MaxCampaignUsers int
}

// FailureCounts answers a [FailureQuery]. Counts saturate at the query's
// maximums.
type FailureCounts struct {
	// User is the number of the user's failures in the window (of the
	// MaxUser newest kept), UserUnknown those of them from a device that was
	// not known for the user (a known network does not exempt a failure: an
	// attacker may share the owner's NAT or /64).
	User, UserUnknown int
	// NetworkUsers is the number of distinct users who failed from the
	// network in the window, NetworkUnknown the number of names that are
	// not accounts among those who failed from it in its window.
	NetworkUsers, NetworkUnknown int
	// CampaignUsers is the number of distinct names that are not accounts
	// that failed from anywhere in the window.
	CampaignUsers int
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

// Factor is a user's second factor, such as an authenticator app, or a
// counter of wrong codes the engine keeps beside them.
type Factor struct {
	User string
	// Kind names the factor: "totp" for an authenticator app.
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

// LoadRequest names what an evaluation reads. See [Store.Load].
type LoadRequest struct {
	User string
	// FingerprintKey is the exact lookup key of the attempt's fingerprint
	// ("" without one): [NeedsHashes] decides with it what else to read.
	FingerprintKey string
	// DeviceKeys returns the lookup keys that find the candidate devices,
	// any user's, without repeats: at most MaxCandidates of them, ranked by
	// [RankCandidates]. A store calls it only when it searches candidates
	// (when NeedsHashes holds): the keys cost about as much to make as the
	// rest of the evaluation of a known device. (A store that reads
	// everything in one round trip may call it before it knows.) Nil: no
	// candidates are searched.
	DeviceKeys    func() []string
	MaxCandidates int
	// Failures, if set, are counted.
	Failures *FailureQuery
	// Challenges, if set, are counted.
	Challenges *ChallengeQuery
}

// ChallengeQuery counts the user's challenges created since Since, up to
// Max.
type ChallengeQuery struct {
	Since time.Time
	Max   int
}

// State is what [Store.Load] returns. It is read-only.
type State struct {
	// Profile is the user's profile; an empty one (version 0) for a user
	// the store has never seen.
	Profile profile.Profile
	// Hashes are, when [NeedsHashes] held, the hashes the user saw from
	// each device of the profile, by device id; nil otherwise.
	Hashes map[string][]string
	// Candidates are global devices: when NeedsHashes held, those found by
	// the request's keys, best first; otherwise the device of the profile
	// whose newest key is the fingerprint's, if the store has it.
	Candidates []Device
	// Failures answers LoadRequest.Failures.
	Failures FailureCounts
	// Challenges is the number of the user's challenges created since
	// LoadRequest.Challenges.Since, at most its Max.
	Challenges int
}

// Commit is everything one evaluation, or one step of a challenge, writes,
// applied atomically. See [Commit.Validate] for what must be set.
type Commit struct {
	// User whose records are written. Required.
	User string
	// Profile, if set, writes the user's profile: see [ResolveProfile].
	Profile *ProfileWrite
	// Hashes, if set, replace the hashes the user saw from a device of
	// the profile.
	Hashes *DeviceHashes
	// Device, if set, is merged into the global device with its id
	// ([MergeDevice]); a new one is inserted.
	Device *DeviceWrite
	// Event, if set, is appended to the user's history, which is then
	// trimmed as History says ([TrimHistory]).
	Event   *Event
	History HistoryLimits
	// Challenge, if set, is inserted (ErrConflict if its id exists). Open
	// challenges of the same user and device that have not ended
	// (ExpiresAt after the new one's CreatedAt) become overridden, with the
	// new one's CreatedAt as their UpdatedAt; ended ones are left as they
	// are, so that the cost of a challenge does not grow with the ones
	// abandoned before it. A challenge without a DeviceID (an attempt
	// without a fingerprint) overrides nothing, so that a script sending
	// none cannot cancel the owner's.
	Challenge *Challenge
	// ChallengeLimit, if set with a Challenge, is checked atomically with
	// the insert: when the user already has Max or more challenges created
	// since Since, the commit fails with ErrLimited and writes nothing.
	ChallengeLimit *ChallengeLimit
	// Transition, if set, moves one of the user's challenges from one
	// status to another. It is checked before anything is written and
	// applied first (a Challenge in the same commit then overrides the
	// moved one if it is still open): if the challenge does not exist or is
	// another user's, the commit fails with ErrNotFound; if its status is
	// not one of From, with ErrConflict. Of concurrent commits making the
	// same transition, exactly one succeeds.
	Transition *Transition
}

// ProfileWrite writes a profile with optimistic concurrency: the engine
// computed New from the version Base it loaded, by applying Change. See
// [ResolveProfile].
type ProfileWrite struct {
	Base   int64
	New    profile.Profile
	Change profile.Change
	// Gone are the devices New no longer holds that Base held (evicted or
	// forgotten): the user's hashes of them go, and the user leaves their
	// Users.
	Gone []string
}

// DeviceWrite is a device seen in a successful login of the commit's user.
type DeviceWrite struct {
	// Device is the device as the engine sees it now: its ID, Hashes,
	// Keys, FirstSeen and LastSeen (Users is ignored).
	Device Device
	// Seen is when the user logged in from it; MaxUsers bounds its Users.
	Seen     time.Time
	MaxUsers int
}

// HistoryLimits bound a user's history: events before Since are dropped,
// then, while more than Max remain, the oldest without Success, or the
// oldest if all have it.
type HistoryLimits struct {
	Max   int
	Since time.Time
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

// PurgeRequest names the records [Store.Purge] drops: events, failures and
// challenges older than the times (by event time, failure time and
// challenge creation; a record at exactly the time stays), at most Batch
// records per call. A failure counts as a record in its user's list, the
// user's entry in its network's list as another, and the name's entry in
// the campaign list as another.
type PurgeRequest struct {
	EventsBefore, FailuresBefore, ChallengesBefore time.Time
	Batch                                          int
}

// Store is everything ato persists. See the package documentation for the
// rules, the concurrency and the value contract.
type Store interface {
	// Load reads what one evaluation needs in one call.
	Load(ctx context.Context, r LoadRequest) (State, error)
	// Commit writes what one evaluation decided, atomically.
	Commit(ctx context.Context, c Commit) error
	// AddFailure records a failed attempt, classified against the user's
	// profile ([ClassifyFailure]) and bounded by the limits.
	AddFailure(ctx context.Context, f Failure, lim FailureLimits) error

	// Challenge returns the challenge with the id, or ErrNotFound.
	Challenge(ctx context.Context, id string) (Challenge, error)
	// UpdateChallenge reads the challenge, calls update on a copy and, if
	// update returns nil, stores the copy, all atomically: no other change
	// to the challenge happens in between. It returns the stored challenge,
	// ErrNotFound, or update's error (as given), in which case nothing is
	// stored. The ID and User cannot be changed. update must not call the
	// store.
	UpdateChallenge(ctx context.Context, id string, update func(*Challenge) error) (Challenge, error)

	// Factor returns the user's factor of the kind, or ErrNotFound.
	Factor(ctx context.Context, user, kind string) (Factor, error)
	// UpdateFactor reads the user's factor of the kind — a zero Factor
	// with only User and Kind set when there is none — calls update on a
	// copy and, atomically, stores the copy if update returns nil, deletes
	// the factor if update returns [ErrDelete] (returning a zero Factor
	// and nil), and stores nothing otherwise, returning update's error as
	// given. The User and Kind cannot be changed. update must not call the
	// store.
	UpdateFactor(ctx context.Context, user, kind string, update func(*Factor) error) (Factor, error)

	// Secret returns the secret stored under name. If there is none, it
	// stores create and returns it. Concurrent calls all return the one
	// value that was stored first.
	Secret(ctx context.Context, name string, create []byte) ([]byte, error)

	// Events returns up to limit of the user's events since the time,
	// newest first: the audit trail.
	Events(ctx context.Context, user string, since time.Time, limit int) ([]Event, error)
	// DeleteUser erases every record of the user: profile, hashes,
	// history, failures (in the networks' lists and the campaign list
	// too), challenges, factors,
	// the user's place in the Users of the devices of the profile, and
	// those devices when no user is left in their Users. Deleting an
	// unknown user is not an error.
	DeleteUser(ctx context.Context, user string) error
	// Purge drops at most r.Batch of the records r names, in one short
	// write, and returns how many it dropped: fewer than r.Batch means
	// nothing is left to drop.
	Purge(ctx context.Context, r PurgeRequest) (int, error)
}
