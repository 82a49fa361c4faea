package ato_test

import (
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/signals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// WithDetectors configures every built-in detector at once; the older
// per-detector options set the same fields.
func TestWithDetectorsAndItsShorthandsAgree(t *testing.T) {
	t.Parallel()
	bruteForceAfter := func(t *testing.T, opt ato.Option) int {
		h := newHarness(t, memstore.New(), opt)
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		for n := 1; n <= 10; n++ {
			require.NoError(t, h.engine.RecordFailure(t.Context(), ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP}))
			if res := h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP}); res.Verdict != "allow" {
				for _, r := range res.Reasons {
					if r == signals.BruteForceReason {
						return n
					}
				}
			}
		}
		return 0
	}
	assert.Equal(t, 2, bruteForceAfter(t, ato.WithDetectors(signals.Config{BruteForce: signals.BruteForceConfig{Failures: 2}})))
	assert.Equal(t, 2, bruteForceAfter(t, ato.WithBruteForce(2, 15*time.Minute)))
	assert.Equal(t, 5, bruteForceAfter(t, ato.WithDetectors(signals.Config{})), "zero fields are the defaults")

	for name, opt := range map[string]ato.Option{
		"a negative threshold":    ato.WithDetectors(signals.Config{BruteForce: signals.BruteForceConfig{Failures: -1}}),
		"above MaxThreshold":      ato.WithDetectors(signals.Config{MultipleAccounts: signals.MultipleAccountsConfig{AtSignup: ato.MaxThreshold + 1}}),
		"a shorthand above it":    ato.WithCredentialStuffing(ato.MaxThreshold+1, time.Hour),
		"history shorter":         ato.WithDetectors(signals.Config{CredentialStuffing: signals.CredentialStuffingConfig{Window: 10000 * time.Hour}}),
		"ASN 0 in the hosting IP": ato.WithDetectors(signals.Config{HostingIP: signals.HostingIPConfig{ASNs: map[uint32]string{0: "x"}}}),
	} {
		_, err := ato.New(memstore.New(), opt)
		assert.Error(t, err, name)
	}
}
