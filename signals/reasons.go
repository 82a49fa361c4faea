package signals

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/atoguard/ato/profile"
)

// Reasons the engine reports itself, not through a signal.
const (
	// ChallengeLimitReason: the verdict asked for a challenge, but the user
	// already had as many challenges in the last hour as the engine allows,
	// so the attempt is denied instead (a guard against SMS pumping and
	// code-guessing through fresh challenges).
	ChallengeLimitReason Reason = "too_many_challenges"
)

// ReasonInfo describes a reason a signal can report.
type ReasonInfo struct {
	Reason Reason
	// Score is the score the signal gives it (see [Declarer] for plug-ins).
	Score float64
	// Description says in a few words when it fires.
	Description string
}

// Declarer is implemented by signals that declare the reasons they can
// report. Policy rules may only name declared reasons (and the built-in
// ones), so that a typo in a rule is an error rather than a rule that never
// fires. A declared reason's Score is the default: a finding of that reason
// with a zero Score gets it. A signal that declares its reasons may report
// no others.
type Declarer interface {
	Reasons() []ReasonInfo
}

// BuiltinReasons lists the reasons of the built-in signals and of the
// engine, with their scores.
func BuiltinReasons() []ReasonInfo {
	return slices.Clone(builtinReasons)
}

var builtinReasons = []ReasonInfo{
	{NewUserReason, NewUserScore, "the engine has no history for the user"},
	{NewDeviceReason, NewDeviceScore, "the device is none of the user's known devices"},
	{NewIPReason, NewIPScore, "the IP (IPv6: its /64) is not among the user's recent successful logins"},
	{NewCountryReason, NewCountryScore, "the country is not among the user's recent successful logins"},
	{ImpossibleTravelReason, ImpossibleTravelScore, "too far, too fast from the last successful login"},
	{AnonymousIPReason, AnonymousIPScore, "Tor, VPN or proxy address"},
	{HostingIPReason, HostingIPScore, "hosting or cloud network"},
	{BruteForceReason, BruteForceScore, "many failed passwords for the user from unknown devices"},
	{CredentialStuffingReason, CredentialStuffingScore, "many users failing from this network"},
	{MultipleAccountsReason, MultipleAccountsScore, "the device is linked to many accounts"},
	{DenyListedReason, ListsScore, "on the operator's deny list"},
	{AllowListedReason, 0, "on the operator's allow list"},
	{MissingFingerprintReason, MissingFingerprintScore, "the request carried no fingerprint"},
	{RestrictedReason, RestrictedScore, "a held-back action from a restricted device"},
	{ChallengeLimitReason, 0, "too many challenges for the user in the last hour"},
}

// IsBuiltin reports whether r is a reason of the built-in signals or of
// the engine.
func IsBuiltin(r Reason) bool {
	return slices.ContainsFunc(builtinReasons, func(i ReasonInfo) bool { return i.Reason == r })
}

// RestrictedScore is the score of a restricted finding: a hold is a
// decision already taken, not new risk.
const RestrictedScore = 0.0

// Restricted reports restricted when the attempt's action is one that a
// restriction in force holds back: a restriction on the attempt's device
// or, when the device is not one of the user's known devices (a new
// fingerprint, or none), a restriction on any of the user's devices —
// otherwise a restricted session could shed its restriction by sending
// another fingerprint. The engine denies such an attempt whatever the
// policy says.
func Restricted() Signal { return restricted{} }

type restricted struct{}

func (restricted) Name() string { return string(RestrictedReason) }

func (restricted) Detect(_ context.Context, in *Input) ([]Finding, error) {
	var d *profile.Device
	if in.Device.Known {
		if d = in.Device.Profile; !d.Holds(in.Action, in.Now) {
			return nil, nil
		}
	} else {
		for i := range in.Profile.Devices {
			if in.Profile.Devices[i].Holds(in.Action, in.Now) {
				d = &in.Profile.Devices[i]
				break
			}
		}
		if d == nil {
			return nil, nil
		}
	}
	until := d.RestrictedUntil.UTC().Format(time.RFC3339)
	detail := "action " + in.Action + " is held back on device " + d.ID + " until " + until
	if !in.Device.Known {
		detail += ", and this attempt's device is not a known one"
	}
	return []Finding{{
		Reason: RestrictedReason,
		Score:  RestrictedScore,
		Detail: detail,
		Evidence: map[string]string{
			"action":       in.Action,
			"device_id":    d.ID,
			"until":        until,
			"restrictions": strings.Join(d.Restrictions, ","),
		},
	}}, nil
}

// Summary is a short phrase for the finding, for one-line explanations:
// "new IP 203.0.113.9 (first seen)". Reasons it does not know are spelt out
// ("breached_password" → "breached password").
func (f Finding) Summary() string {
	ev := f.Evidence
	with := func(phrase, key string) string {
		if v := ev[key]; v != "" {
			return phrase + " " + v
		}
		return phrase
	}
	switch f.Reason {
	case NewUserReason:
		return "first login of the user"
	case NewIPReason:
		if ev["missing"] == "true" {
			return "no IP address (an unknown network)"
		}
		return with("new IP", "ip") + " (first seen)"
	case NewCountryReason:
		s := with("new country", "country")
		if k := ev["known_countries"]; k != "" {
			s += " (known: " + k + ")"
		}
		return s
	case ImpossibleTravelReason:
		if ev["from"] != "" && ev["to"] != "" {
			return "impossible travel from " + ev["from"] + " to " + ev["to"] + " (" + ev["distance_km"] + " km in " + ev["hours"] + " h)"
		}
	case AnonymousIPReason:
		return with("anonymous network", "ip")
	case HostingIPReason:
		s := "hosting network"
		if a := ev["asn"]; a != "" {
			s += " AS" + a
		}
		if o := ev["as_org"]; o != "" {
			s += " (" + o + ")"
		}
		return s
	case BruteForceReason:
		if n := ev["failures"]; n != "" {
			return n + " failed passwords from unknown devices in " + ev["window"]
		}
	case CredentialStuffingReason:
		if n := ev["users"]; n != "" {
			return n + " users failing from " + ev["network"] + " in " + ev["window"]
		}
	case MultipleAccountsReason:
		if n := ev["accounts"]; n != "" {
			return "device used by " + n + " accounts"
		}
	case DenyListedReason, AllowListedReason:
		s := strings.Replace(string(f.Reason), "_", "-", 1)
		if e := ev["entry"]; e != "" {
			s += " (" + e + ")"
		}
		return s
	case MissingFingerprintReason:
		return "no fingerprint"
	case RestrictedReason:
		return with("held-back action", "action") + " (restricted until " + ev["until"] + ")"
	case ChallengeLimitReason:
		if n := ev["challenges"]; n != "" {
			return n + " challenges in the last hour"
		}
	}
	return strings.ReplaceAll(string(f.Reason), "_", " ")
}
