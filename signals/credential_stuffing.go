package signals

import (
	"context"
	"strconv"
	"time"
)

// CredentialStuffingScore is the score of a credential_stuffing finding.
const CredentialStuffingScore = 0.6

// Defaults of [CredentialStuffing].
const (
	DefaultStuffingUsers  = 10
	DefaultStuffingWindow = time.Hour
)

// CredentialStuffing reports credential_stuffing when at least threshold
// distinct users failed to log in from the attempt's network (the IPv4
// address, or the IPv6 /64) in the window. Users who had that network as a
// known one do not count, so an office or carrier NAT is not punished for
// its own users' typos.
func CredentialStuffing(threshold int, window time.Duration) Signal {
	if threshold < 1 {
		threshold = DefaultStuffingUsers
	}
	if window <= 0 {
		window = DefaultStuffingWindow
	}
	return credentialStuffing{threshold, window}
}

type credentialStuffing struct {
	threshold int
	window    time.Duration
}

func (credentialStuffing) Name() string { return string(CredentialStuffingReason) }

func (s credentialStuffing) Detect(_ context.Context, in *Input) ([]Finding, error) {
	n := in.Failures.NetworkUsers
	if in.Network == "" || n < s.threshold {
		return nil, nil
	}
	return []Finding{{
		Reason: CredentialStuffingReason,
		Score:  CredentialStuffingScore,
		Detail: strconv.Itoa(n) + " different users failed to log in from " + in.Network + " in the last " +
			s.window.String() + " (threshold " + strconv.Itoa(s.threshold) + ")",
		Evidence: map[string]string{
			"network":   in.Network,
			"users":     strconv.Itoa(n),
			"window":    s.window.String(),
			"threshold": strconv.Itoa(s.threshold),
		},
	}}, nil
}
