package ato

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
)

// Defaults of the options.
const (
	// DefaultMaxHistory events are kept per user…
	DefaultMaxHistory = 50
	// …for at most DefaultHistoryAge.
	DefaultHistoryAge = 180 * 24 * time.Hour
	// DefaultKnownWindow: a successful login makes its IP and country
	// known for this long.
	DefaultKnownWindow = 90 * 24 * time.Hour
	// DefaultChallengeTTL: a challenge whose code was never sent expires
	// after this long.
	DefaultChallengeTTL = time.Hour
	// DefaultRestrictFor: a restrict verdict holds back sensitive actions
	// on the user's device for this long, unless a challenge completes.
	DefaultRestrictFor = 72 * time.Hour
	// MinSecretLen is the shortest key WithSecret accepts.
	MinSecretLen = 32
	// MaxThreshold bounds the counts the brute-force, credential-stuffing
	// and multiple-accounts detectors ask for: [signals.MaxThreshold].
	MaxThreshold = signals.MaxThreshold
)

// ChallengeLimits bound what a challenge allows; see [WithChallengeLimits]
// and [challenge.Limits], which it is.
type ChallengeLimits = challenge.Limits

// DefaultChallengeLimits are the limits without [WithChallengeLimits].
var DefaultChallengeLimits = challenge.DefaultLimits

// Option configures an [Engine].
type Option func(*config) error

type config struct {
	locator      signals.Locator
	sender       challenge.Sender
	now          func() time.Time
	plugins      []signals.Signal
	policy       verdict.Policy
	secret       []byte
	maxHistory   int
	historyAge   time.Duration
	knownWindow  time.Duration
	challengeTTL time.Duration
	limits       challenge.Limits
	restrictFor  time.Duration
	replay       bool
	noTokens     bool // WithoutDeviceTokens
	// matchThreshold is the least similarity of a fuzzy device match.
	matchThreshold float64
	// profile bounds each user's profile.
	profile profile.Limits
	// detectors configures the built-in detectors; New sets its defaults.
	detectors signals.Config
}

// Bounds the engine asks a store to keep, from the detectors' thresholds
// and windows.

// maxUserFailures is how many of a user's failures are kept and counted:
// enough for the brute-force threshold with room for the owner's own typos.
func (c *config) maxUserFailures() int { return max(64, 4*c.detectors.BruteForce.Failures) }

// maxNetworkUsers is how many users failing from one network are kept and
// counted: at least the credential-stuffing thresholds.
func (c *config) maxNetworkUsers() int {
	return max(64, c.detectors.CredentialStuffing.Users, c.detectors.CredentialStuffing.UnknownUsers)
}

// maxCampaignUsers is how many user names that are not accounts are kept
// and counted in the campaign list: at least the stuffing-campaign
// threshold.
func (c *config) maxCampaignUsers() int { return max(64, c.detectors.StuffingCampaign.Users) }

// maxDeviceUsers is how many accounts a device remembers: at least the
// multiple-accounts thresholds.
func (c *config) maxDeviceUsers() int {
	return max(32, c.detectors.MultipleAccounts.AtSignup, c.detectors.MultipleAccounts.AtLogin)
}

// failureKeep is how long failures are kept: the longest window a detector
// counts them in.
func (c *config) failureKeep() time.Duration {
	d := &c.detectors
	return max(d.BruteForce.Window, d.CredentialStuffing.Window, d.CredentialStuffing.UnknownWindow, d.StuffingCampaign.Window)
}

func defaults() config {
	return config{
		now:          time.Now,
		policy:       verdict.Default(),
		maxHistory:   DefaultMaxHistory,
		historyAge:   DefaultHistoryAge,
		knownWindow:  DefaultKnownWindow,
		challengeTTL: DefaultChallengeTTL,
		limits:       challenge.DefaultLimits,
		restrictFor:  DefaultRestrictFor,

		matchThreshold: fingerprint.DefaultThreshold,
		profile:        profile.DefaultLimits,
	}
}

// WithLocator sets where IP addresses are located (a GeoIP database).
// Without it, attempts are not located and geo signals stay silent.
func WithLocator(l signals.Locator) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("ato: WithLocator: nil locator")
		}
		c.locator = l
		return nil
	}
}

// WithSender sets what delivers challenge codes. Without it, codes cannot
// be sent by email or SMS.
func WithSender(s challenge.Sender) Option {
	return func(c *config) error {
		if s == nil {
			return errors.New("ato: WithSender: nil sender")
		}
		c.sender = s
		return nil
	}
}

// WithClock sets the engine's clock, for tests and replays. Default:
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("ato: WithClock: nil clock")
		}
		c.now = now
		return nil
	}
}

// WithSignals adds plug-in signals. They run after the built-in ones, in
// the order given; names must be unique.
func WithSignals(s ...signals.Signal) Option {
	return func(c *config) error {
		for i, sig := range s {
			if sig == nil {
				return fmt.Errorf("ato: WithSignals: signal %d is nil", i)
			}
			if sig.Name() == "" {
				return fmt.Errorf("ato: WithSignals: signal %d has no name", i)
			}
		}
		c.plugins = append(c.plugins, s...)
		return nil
	}
}

// WithPolicy replaces the default policy ([verdict.Default]).
func WithPolicy(p verdict.Policy) Option {
	return func(c *config) error {
		if p == nil {
			return errors.New("ato: WithPolicy: nil policy")
		}
		c.policy = p
		return nil
	}
}

// WithSecret sets the HMAC key for challenge codes and device ids; it must
// be at least 32 bytes, and should come from a secret manager. Without it,
// a random key is made once and kept in the store.
func WithSecret(key []byte) Option {
	return func(c *config) error {
		if len(key) < MinSecretLen {
			return fmt.Errorf("ato: WithSecret: key is %d bytes; at least %d are needed", len(key), MinSecretLen)
		}
		c.secret = append([]byte(nil), key...)
		return nil
	}
}

// WithChallengeLimits sets the limits of challenges; zero fields keep
// their defaults ([DefaultChallengeLimits]). The challenge itself ends
// after ttl (default [DefaultChallengeTTL]; 0 keeps it).
func WithChallengeLimits(l ChallengeLimits, ttl time.Duration) Option {
	return func(c *config) error {
		if l.CodeTTL < 0 || l.MaxAttempts < 0 || l.MaxSends < 0 || l.SendSpacing < 0 || l.PerHour < 0 || ttl < 0 {
			return fmt.Errorf("ato: WithChallengeLimits: negative limit in %+v, ttl %v", l, ttl)
		}
		c.limits = l.WithDefaults()
		c.challengeTTL = cmp.Or(ttl, c.challengeTTL)
		return nil
	}
}

// WithReplay lets Request.Time be any time, for replaying recorded logins
// in order (backfills, simulations). Without it, a Request.Time more than
// [MaxTimeSkew] from the engine's clock is refused: a time that a client
// could choose would move every window, restriction and rate limit.
func WithReplay() Option {
	return func(c *config) error {
		c.replay = true
		return nil
	}
}

// WithoutDeviceTokens makes Evaluate issue no device tokens: a successful
// login from a device leaves Result.DeviceToken empty, which skips
// computing a keyed hash per login. Use it when no client keeps the token
// (API clients, native apps without a cookie jar, replays). A token a
// browser presents is still checked, and [Engine.DeviceToken] still makes
// one when asked; but clients that never get one lose what it gives:
// neither the copied-fingerprint rule nor the default policy's exemptions
// for a valid token (from impossible-travel and new-country) apply to them.
func WithoutDeviceTokens() Option {
	return func(c *config) error {
		c.noTokens = true
		return nil
	}
}

// WithRestrictFor sets how long a restrict verdict holds back actions on
// the user's device, unless a challenge from it completes. Default:
// [DefaultRestrictFor].
func WithRestrictFor(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("ato: WithRestrictFor: %v is not positive", d)
		}
		c.restrictFor = d
		return nil
	}
}

// WithHistory bounds each user's history to maxEvents events no older than
// maxAge. Defaults: [DefaultMaxHistory], [DefaultHistoryAge].
//
// With maxEvents 0 the engine keeps no history: it writes no event (of a
// login, a challenge step, a device forgotten or reported, an
// authenticator app), so the store holds no log of logins and account
// changes; events written before stay until [Engine.Purge] drops them by
// age. Nothing the
// engine decides reads the history — the profile keeps what detection
// needs: the user's networks, countries and ASNs, and each device's latest
// IP and place — so verdicts are the same; what goes is the audit trail
// (and what ato export and a backtest read). The profile stays until
// [Engine.DeleteUser]; failed passwords, and challenges with the attempt
// they were made for, until Purge drops them by maxAge.
//
// maxAge must cover the windows challenges and failures are counted in,
// or [New] fails.
func WithHistory(maxEvents int, maxAge time.Duration) Option {
	return func(c *config) error {
		if maxEvents < 0 || maxAge <= 0 {
			return fmt.Errorf("ato: WithHistory: need 0 or more events and a positive age, got %d and %v", maxEvents, maxAge)
		}
		c.maxHistory, c.historyAge = maxEvents, maxAge
		return nil
	}
}

// WithKnownWindow sets how long a successful login keeps its IP and
// country known for the user (new_ip, new_country). Default:
// [DefaultKnownWindow].
func WithKnownWindow(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("ato: WithKnownWindow: %v is not positive", d)
		}
		c.knownWindow = d
		return nil
	}
}

// WithDeviceMatchThreshold sets the least similarity, in (0,1], at which a
// drifted fuzzy fingerprint is taken for a known device rather than a new
// one. Lower keeps more drifted browsers as one device; higher tells close
// devices apart more often. Default: [fingerprint.DefaultThreshold].
func WithDeviceMatchThreshold(t float64) Option {
	return func(c *config) error {
		if !(t > 0 && t <= 1) {
			return fmt.Errorf("ato: WithDeviceMatchThreshold: %v is not in (0,1]", t)
		}
		c.matchThreshold = t
		return nil
	}
}

// WithDetectors configures the built-in detectors: their thresholds,
// windows and lists, each zero field meaning its default (see
// [signals.Config]). It replaces the configuration set before, including
// by the shorthands below.
func WithDetectors(d signals.Config) Option {
	return func(c *config) error {
		if err := d.Validate(); err != nil {
			return fmt.Errorf("ato: WithDetectors: %w", err)
		}
		c.detectors = d
		return nil
	}
}

// The options below are shorthands, kept for the code that uses them: each
// sets one detector's part of [signals.Config], as [WithDetectors] does,
// and refuses the zero values that WithDetectors takes for defaults.

// WithImpossibleTravel sets [signals.Config].ImpossibleTravel: travel from
// the last successful login is impossible when the distance less both
// places' accuracy radii is over minKm and the speed over maxKmh. Defaults:
// 200 km, 1000 km/h.
func WithImpossibleTravel(minKm, maxKmh float64) Option {
	return detector("WithImpossibleTravel", minKm > 0 && maxKmh > 0, func(d *signals.Config) {
		d.ImpossibleTravel = signals.ImpossibleTravelConfig{MinKm: minKm, MaxKmh: maxKmh}
	})
}

// WithBruteForce sets [signals.Config].BruteForce: at least failures
// failed attempts on the user from unknown devices within window. Defaults:
// 5 in 15 minutes.
func WithBruteForce(failures int, window time.Duration) Option {
	return detector("WithBruteForce", failures > 0 && window > 0, func(d *signals.Config) {
		d.BruteForce = signals.BruteForceConfig{Failures: failures, Window: window}
	})
}

// WithCredentialStuffing sets [signals.Config].CredentialStuffing: at
// least users distinct users failing from one network within window.
// Defaults: 10 in 1 hour. (The count of user names that are not accounts
// keeps its defaults: 5 in 3 hours.)
func WithCredentialStuffing(users int, window time.Duration) Option {
	return detector("WithCredentialStuffing", users > 0 && window > 0, func(d *signals.Config) {
		d.CredentialStuffing = signals.CredentialStuffingConfig{Users: users, Window: window}
	})
}

// WithMultipleAccounts sets [signals.Config].MultipleAccounts: a device
// used by at least signup accounts (at signup) or login accounts
// (otherwise) within window. Defaults: 5, 10, 30 days.
func WithMultipleAccounts(signup, login int, window time.Duration) Option {
	return detector("WithMultipleAccounts", signup > 0 && login > 0 && window > 0, func(d *signals.Config) {
		d.MultipleAccounts = signals.MultipleAccountsConfig{AtSignup: signup, AtLogin: login, Window: window}
	})
}

// WithAnonymousIPs sets [signals.Config].AnonymousIP: an operator's list of
// anonymising addresses (a Tor exit list, say; see [signals.LoadIPSet]),
// added to the geo data's flags.
func WithAnonymousIPs(s *signals.IPSet) Option {
	return detector("WithAnonymousIPs", s != nil, func(d *signals.Config) { d.AnonymousIP.List = s })
}

// WithHostingASNs sets [signals.Config].HostingIP: networks, by ASN and
// name, added to the built-in list of hosting and cloud networks
// ([signals.HostingASNs]).
func WithHostingASNs(asns map[uint32]string) Option {
	return detector("WithHostingASNs", true, func(d *signals.Config) { d.HostingIP.ASNs = maps.Clone(asns) })
}

// WithAllowList sets [signals.Config].Lists.Allow: attempts that match the
// list are let through (reason allow_listed): an IP or network, ASN,
// country, user or device id.
func WithAllowList(l *signals.List) Option {
	return detector("WithAllowList", l != nil, func(d *signals.Config) { d.Lists.Allow = l })
}

// WithDenyList sets [signals.Config].Lists.Deny: attempts that match the
// list are refused (reason deny_listed).
func WithDenyList(l *signals.List) Option {
	return detector("WithDenyList", l != nil, func(d *signals.Config) { d.Lists.Deny = l })
}

// detector is the option that sets a part of the detectors' configuration
// when given is true: the shorthand's arguments are all set (not zero,
// not nil).
func detector(name string, given bool, set func(*signals.Config)) Option {
	return func(c *config) error {
		if !given {
			return fmt.Errorf("ato: %s: a zero or negative setting, or nil (WithDetectors takes zero for the default)", name)
		}
		set(&c.detectors)
		if err := c.detectors.Validate(); err != nil {
			return fmt.Errorf("ato: %s: %w", name, err)
		}
		return nil
	}
}
