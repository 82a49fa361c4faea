package ato_test

import (
	"testing"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/internal/rupttest"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests use hashes recorded from the real Rupt browser SDK in
// headless Chromium (fingerprint/testdata).

func TestOneChangedBrowserPropertyKeepsTheDevice(t *testing.T) {
	t.Parallel()
	rec := rupttest.Load(t)
	for _, variant := range []string{"timezone", "locale", "user_agent", "window_size"} {
		t.Run(variant, func(t *testing.T) {
			eachStore(t, func(t *testing.T, h *harness) {
				first := h.eval(t, ato.Request{User: "alice", Fingerprint: rec.FP(t, "base"), IP: homeIP})
				res := h.eval(t, ato.Request{User: "alice", Fingerprint: rec.FP(t, variant), IP: cafeIP})
				assert.Equal(t, first.FingerprintID, res.FingerprintID)
				assert.NotContains(t, res.Reasons, signals.NewDeviceReason)
				assert.Equal(t, verdict.Allow, res.Verdict, "a known device on a new IP is allowed")
				assert.Less(t, res.Confidence, 1.0)
				assert.GreaterOrEqual(t, res.Confidence, fingerprint.DefaultThreshold)

				// The device's hash moved: the drifted one is now exact.
				again := h.eval(t, ato.Request{User: "alice", Fingerprint: rec.FP(t, variant), IP: cafeIP})
				assert.Equal(t, first.FingerprintID, again.FingerprintID)
				assert.Equal(t, 1.0, again.Confidence)
			})
		})
	}
}

func TestAnotherClassOfDeviceIsNew(t *testing.T) {
	t.Parallel()
	rec := rupttest.Load(t)
	for _, variant := range []string{"phone", "tablet", "desktop_hidpi"} {
		t.Run(variant, func(t *testing.T) {
			eachStore(t, func(t *testing.T, h *harness) {
				first := h.eval(t, ato.Request{User: "alice", Fingerprint: rec.FP(t, "base"), IP: homeIP})
				res := h.eval(t, ato.Request{User: "alice", Fingerprint: rec.FP(t, variant), IP: cafeIP})
				assert.NotEqual(t, first.FingerprintID, res.FingerprintID)
				assert.Contains(t, res.Reasons, signals.NewDeviceReason)
				assert.Equal(t, verdict.Challenge, res.Verdict)
			})
		})
	}
}

func TestBrowserDriftingStepByStepStaysOneDevice(t *testing.T) {
	t.Parallel()
	rec := rupttest.Load(t)
	eachStore(t, func(t *testing.T, h *harness) {
		first := h.eval(t, ato.Request{User: "alice", Fingerprint: rec.FP(t, "base"), IP: homeIP})
		for _, step := range []string{"drift_1", "drift_2", "drift_3"} {
			res := h.eval(t, ato.Request{User: "alice", Fingerprint: rec.FP(t, step), IP: homeIP})
			assert.Equal(t, first.FingerprintID, res.FingerprintID, step)
			assert.Empty(t, res.Reasons, step)
		}
		// drift_3 differs from base in three properties: far below the
		// threshold, yet the same device because it got there one step at
		// a time.
		assert.Less(t, fingerprint.Similarity(rec.FP(t, "drift_3"), rec.FP(t, "base")), fingerprint.DefaultThreshold)
	})
}

func TestDockedUndockedLaptopStaysOneDevice(t *testing.T) {
	t.Parallel()
	rec := rupttest.Load(t)
	eachStore(t, func(t *testing.T, h *harness) {
		undocked, docked := rec.FP(t, "window_size_undocked"), rec.FP(t, "window_size_docked")
		first := h.eval(t, ato.Request{User: "alice", Fingerprint: undocked, IP: homeIP})
		for i, fp := range []string{docked, undocked, docked, undocked} {
			res := h.eval(t, ato.Request{User: "alice", Fingerprint: fp, IP: homeIP})
			assert.Equal(t, first.FingerprintID, res.FingerprintID, "flip %d", i)
			assert.Empty(t, res.Reasons)
			if i > 0 {
				assert.Equal(t, 1.0, res.Confidence, "both states are among the device's recent hashes")
			}
		}
	})
}

func TestDriftedBrowserKeepsItsIDAcrossUsers(t *testing.T) {
	t.Parallel()
	rec := rupttest.Load(t)
	eachStore(t, func(t *testing.T, h *harness) {
		alice := h.eval(t, ato.Request{User: "alice", Fingerprint: rec.FP(t, "base"), IP: homeIP})
		h.eval(t, ato.Request{User: "carol", Fingerprint: rec.FP(t, "phone"), IP: homeIP})
		bob := h.eval(t, ato.Request{User: "bob", Fingerprint: rec.FP(t, "timezone"), IP: officeIP})
		assert.Equal(t, alice.FingerprintID, bob.FingerprintID, "the same browser, drifted, is one device for every user")
		require.Contains(t, bob.Reasons, signals.NewUserReason)
	})
}

func TestLastFingerprintBridgesABigChange(t *testing.T) {
	t.Parallel()
	rec := rupttest.Load(t)
	eachStore(t, func(t *testing.T, h *harness) {
		first := h.eval(t, ato.Request{User: "alice", Fingerprint: rec.FP(t, "base"), IP: homeIP})
		// Two properties at once are below the threshold without help…
		res := h.eval(t, ato.Request{User: "bob", Fingerprint: rec.FP(t, "drift_2"), IP: homeIP})
		assert.NotEqual(t, first.FingerprintID, res.FingerprintID)
		// …but the browser's saved previous hash names the device.
		res = h.eval(t, ato.Request{User: "alice", Fingerprint: rec.FP(t, "drift_3"), LastFingerprint: rec.FP(t, "base"), IP: cafeIP})
		assert.Equal(t, first.FingerprintID, res.FingerprintID)
		assert.NotContains(t, res.Reasons, signals.NewDeviceReason)
		assert.InDelta(t, fingerprint.Similarity(rec.FP(t, "drift_3"), rec.FP(t, "base")), res.Confidence, 1e-12,
			"confidence is the similarity, at least LastConfidence: the saved hash vouches for a change bigger than the threshold")
	})
}
