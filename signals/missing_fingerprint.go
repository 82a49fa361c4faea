package signals

import (
	"context"
	"strconv"
)

// MissingFingerprintReason: the attempt carries no fingerprint.
const MissingFingerprintReason Reason = "missing_fingerprint"

// MissingFingerprintScore is the score of a missing_fingerprint finding.
const MissingFingerprintScore = 0.3

// MissingFingerprint reports missing_fingerprint when the attempt carries
// no fingerprint at all: scripts and bots send none.
func MissingFingerprint() Signal { return missingFingerprint{} }

type missingFingerprint struct{}

func (missingFingerprint) Name() string { return string(MissingFingerprintReason) }

func (missingFingerprint) Reasons() []ReasonInfo {
	return []ReasonInfo{{MissingFingerprintReason, MissingFingerprintScore, "the request carried no fingerprint"}}
}

func (missingFingerprint) Detect(_ context.Context, in *Input) ([]Finding, error) {
	if in.Fingerprint != "" { // a last fingerprint comes only with a fingerprint
		return nil, nil
	}
	return []Finding{{
		Reason:   MissingFingerprintReason,
		Score:    MissingFingerprintScore,
		Detail:   "the request carried no device fingerprint",
		Evidence: map[string]string{"user_agent": strconv.Quote(in.UserAgent)},
	}}, nil
}

func (missingFingerprint) summary(*Finding) string { return "no fingerprint" }
