package ato_test

import (
	"path/filepath"
	"testing"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/internal/rupttest"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/sqlitestore"
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

// TestAnotherAccountCannotTakeOverAKnownDevice: mallory, who has alice's
// password and a copy of her browser's hash, uses his own account to tie
// her device to his browser, walking it there in small crafted steps. Her
// device must still be hers, and his browser still new on her account.
func TestAnotherAccountCannotTakeOverAKnownDevice(t *testing.T) {
	t.Parallel()
	rec := rupttest.Load(t)
	eachStore(t, func(t *testing.T, h *harness) {
		aliceFP, malloryFP := rec.FP(t, "base"), rec.FP(t, "phone")
		alice := h.eval(t, ato.Request{User: "alice", Fingerprint: aliceFP, IP: homeIP})

		// On his own account: her hash as his "previous" one, then steps.
		last := aliceFP
		for _, step := range walk(aliceFP, malloryFP, 6) {
			h.eval(t, ato.Request{User: "mallory", Fingerprint: step, LastFingerprint: last, IP: officeIP})
			last = step
		}
		h.eval(t, ato.Request{User: "mallory", Fingerprint: malloryFP, LastFingerprint: last, IP: officeIP})

		own := h.eval(t, ato.Request{User: "alice", Fingerprint: aliceFP, IP: homeIP})
		assert.Equal(t, alice.FingerprintID, own.FingerprintID)
		assert.Empty(t, own.Reasons, "alice's own laptop is still her known device")

		attack := h.eval(t, ato.Request{User: "alice", Fingerprint: malloryFP, IP: cafeIP})
		assert.Contains(t, attack.Reasons, signals.NewDeviceReason, "mallory's browser is not alice's device")
		assert.Equal(t, verdict.Challenge, attack.Verdict)

		stolen := h.eval(t, ato.Request{User: "alice", Fingerprint: malloryFP, LastFingerprint: aliceFP, IP: cafeIP})
		assert.Contains(t, stolen.Reasons, signals.NewDeviceReason, "a stolen previous hash does not vouch for another browser")
	})
}

// walk returns n hashes going from a to b, each one segment further.
func walk(a, b string, n int) []string {
	var out []string
	cur := []byte(a)
	for i := 0; i < len(a) && len(out) < n; i += fingerprint.SegmentLen {
		end := min(i+fingerprint.SegmentLen, len(a))
		if a[i:end] == b[i:end] {
			continue
		}
		copy(cur[i:end], b[i:end])
		out = append(out, string(cur))
	}
	return out
}

func TestThresholdOptionDecidesFuzzyMatches(t *testing.T) {
	t.Parallel()
	rec := rupttest.Load(t)
	strict := newHarness(t, memstore.New(), ato.WithDeviceMatchThreshold(0.99))
	first := strict.eval(t, ato.Request{User: "alice", Fingerprint: rec.FP(t, "base"), IP: homeIP})
	res := strict.eval(t, ato.Request{User: "alice", Fingerprint: rec.FP(t, "timezone"), IP: homeIP})
	assert.NotEqual(t, first.FingerprintID, res.FingerprintID, "at 0.99 a changed timezone is another device")

	loose := newHarness(t, memstore.New(), ato.WithDeviceMatchThreshold(0.85))
	first = loose.eval(t, ato.Request{User: "alice", Fingerprint: rec.FP(t, "base"), IP: homeIP})
	res = loose.eval(t, ato.Request{User: "alice", Fingerprint: rec.FP(t, "phone"), IP: homeIP})
	assert.Equal(t, first.FingerprintID, res.FingerprintID, "at 0.85 even the phone passes for the desktop")
}

func TestChallengedFuzzyMatchDoesNotMoveTheHash(t *testing.T) {
	t.Parallel()
	rec := rupttest.Load(t)
	policy := verdict.Rules{{Name: "challenge-new-ip", When: verdict.Reason(signals.NewIPReason), Verdict: verdict.Challenge}}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, open(t), ato.WithPolicy(policy))
			first := h.eval(t, ato.Request{User: "alice", Fingerprint: rec.FP(t, "base"), IP: homeIP})
			for range 2 {
				res := h.eval(t, ato.Request{User: "alice", Fingerprint: rec.FP(t, "timezone"), IP: cafeIP})
				assert.Equal(t, verdict.Challenge, res.Verdict)
				assert.Equal(t, first.FingerprintID, res.FingerprintID)
				assert.Less(t, res.Confidence, 1.0, "still a fuzzy match: the challenged attempt did not move the hash")
			}
			devs := profileOf(t, h.store, "alice").Devices
			require.Len(t, devs, 1)
			assert.Equal(t, []string{rec.FP(t, "base")}, deviceOf(t, h.store, rec.FP(t, "base")).Hashes)
			assert.Equal(t, []string{rec.FP(t, "base")}, hashesOf(t, h.store, "alice")[devs[0].ID])
		})
	}
}

func TestFirstHashOfADeviceThatMovedOnStillNamesIt(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		// A device cookie rotating five times: its first value drops out of
		// the four recent hashes.
		cookies := []string{"c0", "c1", "c2", "c3", "c4"}
		first := h.eval(t, ato.Request{User: "alice", Fingerprint: cookies[0], IP: homeIP})
		for i := 1; i < len(cookies); i++ {
			res := h.eval(t, ato.Request{User: "alice", Fingerprint: cookies[i], LastFingerprint: cookies[i-1], IP: homeIP})
			require.Equal(t, first.FingerprintID, res.FingerprintID)
		}
		bob := h.eval(t, ato.Request{User: "bob", Fingerprint: cookies[0], IP: officeIP})
		assert.Equal(t, first.FingerprintID, bob.FingerprintID)
		again := h.eval(t, ato.Request{User: "alice", Fingerprint: cookies[4], IP: homeIP})
		assert.Equal(t, first.FingerprintID, again.FingerprintID)
		assert.Empty(t, again.Reasons, "bob's login did not replace alice's device's hashes")
	})
}

func TestDriftAcrossARestart(t *testing.T) {
	t.Parallel()
	rec := rupttest.Load(t)
	path := filepath.Join(t.TempDir(), "ato.db")
	s, err := sqlitestore.Open(path)
	require.NoError(t, err)
	e, err := ato.New(s)
	require.NoError(t, err)
	first, err := e.Evaluate(t.Context(), ato.Request{User: "alice", Fingerprint: rec.FP(t, "base"), IP: homeIP})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = sqlitestore.Open(path)
	require.NoError(t, err)
	defer s.Close()
	e, err = ato.New(s)
	require.NoError(t, err)
	for _, user := range []string{"alice", "bob"} {
		res, err := e.Evaluate(t.Context(), ato.Request{User: user, Fingerprint: rec.FP(t, "locale"), IP: homeIP})
		require.NoError(t, err)
		assert.Equal(t, first.FingerprintID, res.FingerprintID, user)
	}
}
