package signals

import (
	"context"
	"strconv"
)

// MissingFingerprintScore is the score of a missing_fingerprint finding.
const MissingFingerprintScore = 0.3

// MissingFingerprint reports missing_fingerprint when the attempt carries
// no fingerprint at all: scripts and bots send none.
func MissingFingerprint() Signal { return missingFingerprint{} }

type missingFingerprint struct{}

func (missingFingerprint) Name() string { return string(MissingFingerprintReason) }

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
