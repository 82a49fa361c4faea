package signals

import (
	"context"
	"time"
)

// NewIPReason: the attempt's network is not among the user's recent
// successful logins.
const NewIPReason Reason = "new_ip"

// NewIPScore is the score of a new_ip finding.
const NewIPScore = 0.25

// NewIP reports new_ip when the user has no successful login from the
// attempt's network (the IPv4 address, or the IPv6 /64) since
// [Input.KnownSince], and when the attempt has no IP at all: a missing
// address is never evidence of a known network. It is silent for a new
// user.
func NewIP() Signal { return newIP{} }

type newIP struct{}

func (newIP) Name() string { return string(NewIPReason) }

func (newIP) Reasons() []ReasonInfo {
	return []ReasonInfo{{NewIPReason, NewIPScore, "the IP (IPv6: its /64) is not among the user's recent successful logins"}}
}

func (newIP) Detect(_ context.Context, in *Input) ([]Finding, error) {
	if in.NewUser() {
		return nil, nil
	}
	if in.Network == "" {
		return []Finding{{
			Reason: NewIPReason,
			Score:  NewIPScore,
			Detail: "the request carried no IP address; an attempt without one counts as coming from an unknown network",
			Evidence: map[string]string{
				"ip":          "",
				"missing":     "true",
				"known_since": in.KnownSince.UTC().Format(time.RFC3339),
			},
		}}, nil
	}
	if in.KnownNetwork(in.Network) {
		return nil, nil
	}
	// The address's text is made once, and the detail in one buffer: the
	// signal fires on every login from a network that changes each time
	// (a phone's).
	ip := in.IP.String()
	ev := map[string]string{
		"ip":          ip,
		"network":     in.Network,
		"known_since": in.KnownSince.UTC().Format(time.RFC3339),
	}
	var buf [160]byte
	b := append(append(buf[:0], "new IP "...), ip...)
	if last, ok := in.LastSuccess(); ok && last.IP != "" {
		ev["last_ip"] = last.IP
		b = append(append(b, "; last successful login from "...), last.IP...)
	} else {
		b = in.KnownSince.UTC().AppendFormat(append(b, "; no successful login since "...), time.DateOnly)
	}
	if in.IP.Is6() {
		b = append(append(append(b, " (compared by /64: "...), in.Network...), ')')
	}
	detail := string(b)
	return []Finding{{Reason: NewIPReason, Score: NewIPScore, Detail: detail, Evidence: ev}}, nil
}

func (newIP) summary(f *Finding) string {
	if f.Evidence["missing"] == "true" {
		return "no IP address (an unknown network)"
	}
	return with("new IP", f.Evidence["ip"]) + " (first seen)"
}
