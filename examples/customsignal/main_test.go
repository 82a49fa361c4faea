package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBreachedPasswordPolicy(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out, func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }))
	assert.Equal(t, `first login
  allow: first login of the user, rule otherwise
known laptop, breached password
  restrict: breached password, rule breached-password
payment from the laptop
  deny: held-back action payment (restricted until 2026-01-04T00:00:00Z), rule restricted
new phone, same network, breached password
  challenge: new device and breached password, rule breached-password-new-device
`, out.String())
}

func TestSignal(t *testing.T) {
	t.Parallel()
	for value, want := range map[string]int{"": 0, "0": 0, "-3": 0, "many": 0, "12": 1} {
		fs, err := BreachedPassword{}.Detect(t.Context(), &signals.Input{Metadata: map[string]string{MetadataKey: value}})
		require.NoError(t, err)
		assert.Len(t, fs, want, "count %q", value)
	}
}

func TestPolicyNeedsThePlugin(t *testing.T) {
	t.Parallel()
	_, err := verdict.ParseRules(policyJSON, signals.IsBuiltin)
	require.ErrorIs(t, err, verdict.ErrUnknownReason, "without the plug-in the reason is unknown")
	policy, err := verdict.ParseRules(policyJSON, known)
	require.NoError(t, err)
	_, err = ato.New(memstore.New(), ato.WithPolicy(policy))
	require.ErrorIs(t, err, verdict.ErrUnknownReason, "the engine checks too")
}
