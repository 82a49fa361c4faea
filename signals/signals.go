// Package signals holds ato's detectors: each one looks at a login attempt
// and reports findings — a [Reason], a score and evidence a person can read.
//
// # Writing a signal
//
// A signal implements [Signal]. It is given an [Input] holding everything
// the engine loaded for the attempt — the request, where its IP is, the
// device it was identified as, the user's known devices and recent history —
// and must not modify it. Signals never talk to the store: whatever they may
// look at is in the Input, loaded in one read. That keeps an evaluation to
// two store round trips however many signals run.
//
// Detect may be called concurrently for different attempts. It returns the
// findings it has (none is fine) or an error, which fails the evaluation:
// a signal that cannot decide should say so rather than guess.
//
// # Built-in signals
//
// [NewUser], [NewDevice], [NewIP], [NewCountry], [ImpossibleTravel],
// [AnonymousIP], [HostingIP], [BruteForce], [CredentialStuffing],
// [MultipleAccounts], [MissingFingerprint], [Restricted] and the operator
// [Lists] are ordinary Signals, built exactly as a plug-in would be; the
// engine runs them with the thresholds of its options. [BuiltinReasons]
// lists their reasons and scores.
//
// # Declaring reasons
//
// A plug-in that implements [Declarer] names the reasons it reports and
// their default scores; policy rules may then use them. Plug-ins may not
// report built-in reasons.
package signals

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/atoguard/ato/storage"
)

// Reason names why an attempt looks risky, e.g. "new_device".
type Reason string

// The reasons of the built-in signals.
const (
	NewUserReason            Reason = "new_user"
	NewDeviceReason          Reason = "new_device"
	NewIPReason              Reason = "new_ip"
	NewCountryReason         Reason = "new_country"
	ImpossibleTravelReason   Reason = "impossible_travel"
	AnonymousIPReason        Reason = "anonymous_ip"
	HostingIPReason          Reason = "hosting_ip"
	BruteForceReason         Reason = "brute_force"
	CredentialStuffingReason Reason = "credential_stuffing"
	MultipleAccountsReason   Reason = "multiple_accounts_per_device"
	DenyListedReason         Reason = "deny_listed"
	AllowListedReason        Reason = "allow_listed"
	MissingFingerprintReason Reason = "missing_fingerprint"
	RestrictedReason         Reason = "restricted"
)

// Finding is one thing a signal found.
type Finding struct {
	Reason Reason
	// Score in [0,1] is this finding's weight in the combined risk.
	Score float64
	// Signal is the name of the signal that reported it; the engine fills
	// it in.
	Signal string
	// Detail says in one sentence what was compared with what.
	Detail string
	// Evidence holds the compared values by name, for logs and tools.
	Evidence map[string]string
}

// Signal is a detector. Built-in signals and plug-ins implement it alike.
type Signal interface {
	// Name identifies the signal in errors and findings.
	Name() string
	// Detect reports what the signal finds in the attempt.
	Detect(ctx context.Context, in *Input) ([]Finding, error)
}

// Location is where an IP address is, as a [Locator] knows it.
type Location struct {
	Country, Region, City string  // ISO 3166-1 alpha-2 country
	Latitude, Longitude   float64 // degrees
	AccuracyKm            float64 // 0 = unknown
	ASN                   uint32
	ASOrg                 string
	Anonymous, Hosting    bool
}

// Locator finds where an IP address is. ok is false when it does not know.
// Locate may be called concurrently.
type Locator interface {
	Locate(ip netip.Addr) (loc Location, ok bool)
}

// Match says how the device of an attempt was identified.
type Match string

// Ways a device is identified.
const (
	// MatchNone: the attempt had no fingerprint.
	MatchNone Match = "none"
	// MatchNew: the fingerprint named no device the engine knows.
	MatchNew Match = "new"
	// MatchExact: a device had exactly this fingerprint.
	MatchExact Match = "exact"
	// MatchLast: the browser's previous fingerprint named a device.
	MatchLast Match = "last_fingerprint"
	// MatchFuzzy: the fingerprint was similar enough to a device's.
	MatchFuzzy Match = "fuzzy"
)

// Device is the device an attempt was identified as.
type Device struct {
	// ID is the stable device id; empty when the attempt had no
	// fingerprint.
	ID    string
	Match Match
	// Confidence in [0,1] is how sure the identification is.
	Confidence float64
	// Known reports that the user logged in successfully from this device
	// before; Trusted that a challenge was completed from it.
	Known, Trusted bool
	// Link is the user's link to the device when Known.
	Link storage.Link
}

// Input is everything a signal may look at. Signals must not modify it.
type Input struct {
	// Now is the time of the attempt.
	Now time.Time
	// Action is "login", "signup" or an application's own action.
	Action string
	User   string
	// Fingerprint and LastFingerprint as the browser sent them; Version of
	// the script that made them.
	Fingerprint, LastFingerprint, Version string
	// IP is invalid when the request had none. Network is the key IPs are
	// compared by: the address itself for IPv4, its /64 for IPv6.
	IP      netip.Addr
	Network string
	// Location of IP; Located is false when there is no IP or no Locator,
	// or the Locator did not know it.
	Location Location
	Located  bool
	Email    string
	Phone    string
	// UserAgent and Metadata as the application passed them.
	UserAgent string
	Metadata  map[string]string

	// Device is the device the attempt was identified as.
	Device Device
	// Devices are the user's known devices, most recently seen first.
	Devices []storage.UserDevice
	// History is the user's recent events, newest first.
	History []storage.Event
	// KnownSince: only successful logins since then make an IP or a
	// country known (default: 90 days before Now).
	KnownSince time.Time
	// Failures counts recent failed attempts for the user and from the
	// network.
	Failures storage.FailureCounts
	// RecentChallenges is the number of the user's challenges created in
	// the last hour.
	RecentChallenges int
	// DeviceUsers is the number of users with a recent login from the
	// attempt's device (the user included if they have one).
	DeviceUsers int
}

// NewUser reports whether the engine has learnt nothing about the user: no
// known device and no successful login in the history.
func (in *Input) NewUser() bool {
	if len(in.Devices) > 0 {
		return false
	}
	for i := range in.History {
		if in.History[i].Success {
			return false
		}
	}
	return true
}

// KnownNetwork reports whether the user logged in successfully from the
// network since KnownSince.
func (in *Input) KnownNetwork(network string) bool {
	return network != "" && in.lastSuccess(func(e *storage.Event) bool { return e.Network == network }) != nil
}

// KnownCountry reports whether the user logged in successfully from the
// country since KnownSince.
func (in *Input) KnownCountry(country string) bool {
	return country != "" && in.lastSuccess(func(e *storage.Event) bool { return e.Country == country }) != nil
}

// KnownCountries returns the countries of the user's successful logins
// since KnownSince, most recent first, without repeats.
func (in *Input) KnownCountries() []string {
	var out []string
	in.lastSuccess(func(e *storage.Event) bool {
		if e.Country != "" && !slices.Contains(out, e.Country) {
			out = append(out, e.Country)
		}
		return false // visit them all
	})
	return out
}

// LastSuccess returns the user's latest successful login since KnownSince.
func (in *Input) LastSuccess() (storage.Event, bool) {
	if e := in.lastSuccess(func(*storage.Event) bool { return true }); e != nil {
		return *e, true
	}
	return storage.Event{}, false
}

func (in *Input) lastSuccess(match func(*storage.Event) bool) *storage.Event {
	for i := range in.History {
		e := &in.History[i]
		if e.Time.Before(in.KnownSince) {
			break // newest first: the rest are older
		}
		if e.Success && match(e) {
			return e
		}
	}
	return nil
}
