package signals

import "errors"

// MaxThreshold bounds the counts the brute-force, credential-stuffing and
// multiple-accounts detectors ask for: a store keeps as many failures per
// user, failing users per network and accounts per device as the
// thresholds need, and their cost must stay bounded.
const MaxThreshold = 1000

// Config configures the built-in detectors. The zero value is the
// defaults: every field of every detector's configuration means its
// default when zero, as its type says. Each detector's configuration is
// defined in the detector's file, beside its thresholds, window, evidence
// and summary.
type Config struct {
	ImpossibleTravel   ImpossibleTravelConfig
	AnonymousIP        AnonymousIPConfig
	HostingIP          HostingIPConfig
	BruteForce         BruteForceConfig
	CredentialStuffing CredentialStuffingConfig
	StuffingCampaign   StuffingCampaignConfig
	MultipleAccounts   MultipleAccountsConfig
	Lists              ListsConfig
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.ImpossibleTravel = c.ImpossibleTravel.withDefaults()
	c.BruteForce = c.BruteForce.withDefaults()
	c.CredentialStuffing = c.CredentialStuffing.withDefaults()
	c.StuffingCampaign = c.StuffingCampaign.withDefaults()
	c.MultipleAccounts = c.MultipleAccounts.withDefaults()
	return c
}

// Validate reports every field that is out of range: a negative count or
// window, a threshold above [MaxThreshold], a distance or speed that is
// not a finite number, an ASN 0.
func (c Config) Validate() error {
	return errors.Join(
		c.ImpossibleTravel.validate(),
		c.HostingIP.validate(),
		c.BruteForce.validate(),
		c.CredentialStuffing.validate(),
		c.StuffingCampaign.validate(),
		c.MultipleAccounts.validate(),
	)
}

// Builtin returns the built-in detectors configured by c, in the order the
// engine runs them: the registration of each detector. The operator lists
// run only when c has one.
func Builtin(c Config) []Signal {
	s := []Signal{
		NewUser(),
		NewDevice(),
		DeviceToken(),
		NewIP(),
		NewCountry(),
		ImpossibleTravel(c.ImpossibleTravel.MinKm, c.ImpossibleTravel.MaxKmh),
		AnonymousIP(c.AnonymousIP.List),
		HostingIP(c.HostingIP.ASNs),
		BruteForce(c.BruteForce.Failures, c.BruteForce.Window),
		credentialStuffingOf(c.CredentialStuffing),
		StuffingCampaign(c.StuffingCampaign.Users, c.StuffingCampaign.Window),
		MultipleAccounts(c.MultipleAccounts.AtSignup, c.MultipleAccounts.AtLogin, c.MultipleAccounts.Window),
		MissingFingerprint(),
		Restricted(),
	}
	if c.Lists.Allow != nil || c.Lists.Deny != nil {
		s = append(s, Lists(c.Lists.Allow, c.Lists.Deny))
	}
	return s
}
