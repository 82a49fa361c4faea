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
// [StuffingCampaign], [MultipleAccounts], [MissingFingerprint], [Restricted] and the operator
// [Lists] are ordinary Signals, built exactly as a plug-in would be, one
// file each: its reason, score, thresholds and window (a configuration
// struct whose zero value means the defaults), the evidence it reports and
// the short phrase [Finding.Summary] gives for it. [Config] gathers their
// configurations, the engine's one option for them; [Builtin] lists them
// in the order they run, and [BuiltinReasons] their reasons and scores.
// A new detector is a new file and a line in [Builtin] (and a field in
// [Config] if it has settings).
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
	"time"

	"github.com/atoguard/ato/profile"
)

// Reason names why an attempt looks risky, e.g. "new_device".
type Reason string

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
	// MatchToken: the browser's device token named one of the user's
	// devices, which its fingerprint did not match exactly (a browser that
	// changed, by an update or a new screen, keeps its token).
	MatchToken Match = "device_token"
)

// TokenState is what the browser's device token says of the device its
// fingerprint was identified as.
type TokenState string

// Token states.
const (
	// TokenNone: no valid token of the user's, and the device never
	// presented one (or the attempt is from a new device).
	TokenNone TokenState = ""
	// TokenValid: a valid token of the user's names the device.
	TokenValid TokenState = "valid"
	// TokenMissing: the device presented a valid token before, and this
	// attempt has none (cookies cleared, or the fingerprint is copied).
	TokenMissing TokenState = "missing"
	// TokenMismatch: a valid token of the user's names another device than
	// the one the fingerprint matched exactly: the fingerprint is copied
	// into another browser of the user's, or the token into another
	// browser.
	TokenMismatch TokenState = "mismatch"
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
	// Profile is the device's entry in the user's profile when Known (nil
	// otherwise): when it was first and last seen, its restriction.
	Profile *profile.Device
	// Token is what the browser's device token says of the device.
	Token TokenState
	// Disowned reports that the user said this device was not theirs.
	Disowned bool
}

// FailureCounts count recent failed attempts, as the engine loaded them.
type FailureCounts struct {
	// User counts the user's failures in the brute-force window, and
	// UserUnknown those of them from devices not known for the user.
	User, UserUnknown int
	// NetworkUsers counts the distinct users who failed from the attempt's
	// network in the credential-stuffing window, leaving out those who knew
	// the network; NetworkUnknown the user names that are not accounts
	// among those who failed from it, in the window of such names.
	NetworkUsers, NetworkUnknown int
	// CampaignUsers counts the distinct user names that are not accounts
	// that failed from anywhere in the stuffing-campaign window.
	CampaignUsers int
}

// Input is everything a signal may look at. Signals must not modify it,
// nor anything it points to.
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
	// Profile is what the engine has learnt about the user: known devices,
	// networks, countries, ASNs, the latest successful login.
	Profile *profile.Profile
	// KnownSince: only successful logins since then make an IP or a
	// country known (default: 90 days before Now).
	KnownSince time.Time
	// Failures counts recent failed attempts for the user and from the
	// network.
	Failures FailureCounts
	// RecentChallenges is the number of the user's challenges created in
	// the last hour.
	RecentChallenges int
	// DeviceUsers is the number of accounts with a recent login from the
	// attempt's device (the user included if they have one).
	DeviceUsers int
}

// NewUser reports whether the engine has learnt nothing about the user: no
// known device and no successful login.
func (in *Input) NewUser() bool { return in.Profile.New() }

// KnownNetwork reports whether the user logged in successfully from the
// network since KnownSince.
func (in *Input) KnownNetwork(network string) bool {
	return in.Profile.KnownNetwork(network, in.KnownSince)
}

// KnownCountry reports whether the user logged in successfully from the
// country since KnownSince.
func (in *Input) KnownCountry(country string) bool {
	return in.Profile.KnownCountry(country, in.KnownSince)
}

// KnownCountries returns the countries of the user's successful logins
// since KnownSince, most recent first.
func (in *Input) KnownCountries() []string { return in.Profile.RecentCountries(in.KnownSince) }

// LastSuccess returns the user's latest successful login since KnownSince.
func (in *Input) LastSuccess() (profile.Login, bool) { return in.Profile.LastSince(in.KnownSince) }
