package signals

import (
	"context"
	"time"
)

// NewIPScore is the score of a new_ip finding.
const NewIPScore = 0.25

// NewIP reports new_ip when the user has no successful login from the
// attempt's network (the IPv4 address, or the IPv6 /64) since
// [Input.KnownSince]. It is silent for a new user and when the attempt has
// no IP.
func NewIP() Signal { return newIP{} }

type newIP struct{}

func (newIP) Name() string { return string(NewIPReason) }

func (newIP) Detect(_ context.Context, in *Input) ([]Finding, error) {
	if in.Network == "" || in.NewUser() || in.KnownNetwork(in.Network) {
		return nil, nil
	}
	ev := map[string]string{
		"ip":          in.IP.String(),
		"network":     in.Network,
		"known_since": in.KnownSince.UTC().Format(time.RFC3339),
	}
	detail := "new IP " + in.IP.String()
	if last, ok := in.LastSuccess(); ok && last.IP != "" {
		ev["last_ip"] = last.IP
		detail += "; last successful login from " + last.IP
	} else {
		detail += "; no successful login since " + in.KnownSince.UTC().Format(time.DateOnly)
	}
	if in.IP.Is6() {
		detail += " (compared by /64: " + in.Network + ")"
	}
	return []Finding{{Reason: NewIPReason, Score: NewIPScore, Detail: detail, Evidence: ev}}, nil
}
