package ato

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
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
	// and multiple-accounts options ask for: a store keeps as many failures
	// per user, failing users per network and accounts per device as the
	// thresholds need, and their cost must stay bounded.
	MaxThreshold = 1000
)

// ChallengeLimits bound what a challenge allows; see [WithChallengeLimits].
// A zero field takes its default.
type ChallengeLimits struct {
	// CodeTTL: a code is valid this long from its sending. Default 10 min.
	CodeTTL time.Duration
	// MaxAttempts wrong codes fail the challenge. Default 5.
	MaxAttempts int
	// MaxSends codes may be sent per challenge, at least SendSpacing
	// apart. Defaults 3 and 30 s.
	MaxSends    int
	SendSpacing time.Duration
	// PerHour challenges may be created per user in an hour; an
	// evaluation that would create one more is denied with
	// too_many_challenges. Default 10.
	PerHour int
}

// DefaultChallengeLimits are the limits without [WithChallengeLimits].
var DefaultChallengeLimits = ChallengeLimits{
	CodeTTL:     10 * time.Minute,
	MaxAttempts: 5,
	MaxSends:    3,
	SendSpacing: 30 * time.Second,
	PerHour:     10,
}

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
	limits       ChallengeLimits
	restrictFor  time.Duration
	replay       bool
	// declared are the reasons plug-ins declare, by reason.
	declared map[signals.Reason]declared
	// matchThreshold is the least similarity of a fuzzy device match.
	matchThreshold float64
	// profile bounds each user's profile.
	profile profile.Limits

	travelMinKm, travelMaxKmh float64
	bruteForceFailures        int
	bruteForceWindow          time.Duration
	stuffingUsers             int
	stuffingWindow            time.Duration
	accountsAtSignup          int
	accountsAtLogin           int
	accountsWindow            time.Duration
	anonymousIPs              *signals.IPSet
	hostingASNs               map[uint32]string
	allowList, denyList       *signals.List
}

// maxUserFailures is how many of a user's failures are kept and counted:
// enough for the brute-force threshold with room for the owner's own typos.
func (c *config) maxUserFailures() int { return max(64, 4*c.bruteForceFailures) }

// maxNetworkUsers is how many users failing from one network are kept and
// counted: at least the credential-stuffing threshold.
func (c *config) maxNetworkUsers() int { return max(64, c.stuffingUsers) }

// maxDeviceUsers is how many accounts a device remembers: at least the
// multiple-accounts thresholds.
func (c *config) maxDeviceUsers() int { return max(32, c.accountsAtSignup, c.accountsAtLogin) }

// failureKeep is how long failures are kept: the longest window a signal
// counts them in.
func (c *config) failureKeep() time.Duration { return max(c.bruteForceWindow, c.stuffingWindow) }

// declared is a reason a plug-in declares, and the plug-in's name.
type declared struct {
	signals.ReasonInfo
	signal string
}

// builtin returns the built-in signals, in the order they run.
func builtin(c *config) []signals.Signal {
	s := []signals.Signal{
		signals.NewUser(),
		signals.NewDevice(),
		signals.NewIP(),
		signals.NewCountry(),
		signals.ImpossibleTravel(c.travelMinKm, c.travelMaxKmh),
		signals.AnonymousIP(c.anonymousIPs),
		signals.HostingIP(c.hostingASNs),
		signals.BruteForce(c.bruteForceFailures, c.bruteForceWindow),
		signals.CredentialStuffing(c.stuffingUsers, c.stuffingWindow),
		signals.MultipleAccounts(c.accountsAtSignup, c.accountsAtLogin, c.accountsWindow),
		signals.MissingFingerprint(),
		signals.Restricted(),
	}
	if c.allowList != nil || c.denyList != nil {
		s = append(s, signals.Lists(c.allowList, c.denyList))
	}
	return s
}

func defaults() config {
	return config{
		now:          time.Now,
		policy:       verdict.Default(),
		maxHistory:   DefaultMaxHistory,
		historyAge:   DefaultHistoryAge,
		knownWindow:  DefaultKnownWindow,
		challengeTTL: DefaultChallengeTTL,
		limits:       DefaultChallengeLimits,
		restrictFor:  DefaultRestrictFor,

		matchThreshold: fingerprint.DefaultThreshold,
		profile:        profile.DefaultLimits,

		travelMinKm:        signals.DefaultTravelMinKm,
		travelMaxKmh:       signals.DefaultTravelMaxKmh,
		bruteForceFailures: signals.DefaultBruteForceFailures,
		bruteForceWindow:   signals.DefaultBruteForceWindow,
		stuffingUsers:      signals.DefaultStuffingUsers,
		stuffingWindow:     signals.DefaultStuffingWindow,
		accountsAtSignup:   signals.DefaultAccountsAtSignup,
		accountsAtLogin:    signals.DefaultAccountsAtLogin,
		accountsWindow:     signals.DefaultAccountsWindow,
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
		d := DefaultChallengeLimits
		c.limits = ChallengeLimits{
			CodeTTL:     cmp.Or(l.CodeTTL, d.CodeTTL),
			MaxAttempts: cmp.Or(l.MaxAttempts, d.MaxAttempts),
			MaxSends:    cmp.Or(l.MaxSends, d.MaxSends),
			SendSpacing: cmp.Or(l.SendSpacing, d.SendSpacing),
			PerHour:     cmp.Or(l.PerHour, d.PerHour),
		}
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
func WithHistory(maxEvents int, maxAge time.Duration) Option {
	return func(c *config) error {
		if maxEvents < 1 || maxAge <= 0 {
			return fmt.Errorf("ato: WithHistory: need at least 1 event and a positive age, got %d and %v", maxEvents, maxAge)
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

// WithImpossibleTravel sets when travel from the last successful login is
// impossible: the distance less both places' accuracy radii is over minKm
// and the speed over maxKmh. Defaults: 200 km, 1000 km/h.
func WithImpossibleTravel(minKm, maxKmh float64) Option {
	return func(c *config) error {
		if !(minKm > 0) || !(maxKmh > 0) || math.IsInf(minKm, 0) || math.IsInf(maxKmh, 0) {
			return fmt.Errorf("ato: WithImpossibleTravel: need positive distance and speed, got %v km and %v km/h", minKm, maxKmh)
		}
		c.travelMinKm, c.travelMaxKmh = minKm, maxKmh
		return nil
	}
}

// WithBruteForce sets brute_force: at least failures failed attempts on
// the user from unknown devices and networks within window. Defaults: 5
// in 15 minutes.
func WithBruteForce(failures int, window time.Duration) Option {
	return func(c *config) error {
		if failures < 1 || failures > MaxThreshold || window <= 0 {
			return fmt.Errorf("ato: WithBruteForce: need 1 to %d failures and a positive window, got %d and %v", MaxThreshold, failures, window)
		}
		c.bruteForceFailures, c.bruteForceWindow = failures, window
		return nil
	}
}

// WithCredentialStuffing sets credential_stuffing: at least users distinct
// users failing from one network within window. Defaults: 10 in 1 hour.
func WithCredentialStuffing(users int, window time.Duration) Option {
	return func(c *config) error {
		if users < 1 || users > MaxThreshold || window <= 0 {
			return fmt.Errorf("ato: WithCredentialStuffing: need 1 to %d users and a positive window, got %d and %v", MaxThreshold, users, window)
		}
		c.stuffingUsers, c.stuffingWindow = users, window
		return nil
	}
}

// WithMultipleAccounts sets multiple_accounts_per_device: a device used by
// at least signup accounts (at signup) or login accounts (otherwise)
// within window. Defaults: 5, 10, 30 days.
func WithMultipleAccounts(signup, login int, window time.Duration) Option {
	return func(c *config) error {
		if signup < 1 || login < 1 || signup > MaxThreshold || login > MaxThreshold || window <= 0 {
			return fmt.Errorf("ato: WithMultipleAccounts: need thresholds of 1 to %d and a positive window, got %d, %d and %v", MaxThreshold, signup, login, window)
		}
		c.accountsAtSignup, c.accountsAtLogin, c.accountsWindow = signup, login, window
		return nil
	}
}

// WithAnonymousIPs adds an operator's list of anonymising addresses (a Tor
// exit list, say; see [signals.LoadIPSet]) to the geo data's flags.
func WithAnonymousIPs(s *signals.IPSet) Option {
	return func(c *config) error {
		if s == nil {
			return errors.New("ato: WithAnonymousIPs: nil set")
		}
		c.anonymousIPs = s
		return nil
	}
}

// WithHostingASNs adds networks, by ASN and name, to the built-in list of
// hosting and cloud networks ([signals.HostingASNs]).
func WithHostingASNs(asns map[uint32]string) Option {
	return func(c *config) error {
		for asn := range asns {
			if asn == 0 {
				return errors.New("ato: WithHostingASNs: ASN 0")
			}
		}
		c.hostingASNs = maps.Clone(asns)
		return nil
	}
}

// WithAllowList lets through attempts that match the list (reason
// allow_listed): an IP or network, ASN, country, user or device id.
func WithAllowList(l *signals.List) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("ato: WithAllowList: nil list")
		}
		c.allowList = l
		return nil
	}
}

// WithDenyList refuses attempts that match the list (reason deny_listed).
func WithDenyList(l *signals.List) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("ato: WithDenyList: nil list")
		}
		c.denyList = l
		return nil
	}
}
