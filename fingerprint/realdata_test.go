package fingerprint_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/internal/rupttest"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecordedHashes checks the default threshold against hashes recorded
// from the real SDK, and logs the similarity table the README quotes (run
// with -v to see it).
func TestRecordedHashes(t *testing.T) {
	t.Parallel()
	rec := rupttest.Load(t)
	base := rec.FP(t, "base")
	for name, v := range rec.Variants {
		require.True(t, fingerprint.IsFuzzy(v.FP), "%s is a fuzzy hash", name)
	}

	sameDevice := []string{"base_2", "base_3", "window_size_undocked", "timezone", "locale", "user_agent", "window_size", "window_size_docked", "drift_1"}
	otherDevice := []string{"phone", "tablet", "desktop_hidpi"}
	var table strings.Builder
	fmt.Fprintf(&table, "%-22s %s\n", "variant vs base", "similarity")
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range rec.Variants {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		fmt.Fprintf(&table, "%-22s %.4f\n", name, fingerprint.Similarity(rec.FP(t, name), base))
	}
	fmt.Fprintf(&table, "%-22s %.4f\n", "phone vs tablet", fingerprint.Similarity(rec.FP(t, "phone"), rec.FP(t, "tablet")))
	fmt.Fprintf(&table, "%-22s %.4f\n", "drift_2 vs drift_1", fingerprint.Similarity(rec.FP(t, "drift_2"), rec.FP(t, "drift_1")))
	fmt.Fprintf(&table, "%-22s %.4f\n", "drift_3 vs drift_2", fingerprint.Similarity(rec.FP(t, "drift_3"), rec.FP(t, "drift_2")))
	t.Log("\n" + table.String())

	for _, name := range sameDevice {
		assert.GreaterOrEqual(t, fingerprint.Similarity(rec.FP(t, name), base), fingerprint.DefaultThreshold,
			"%s: one changed property stays at or above the threshold", name)
	}
	for _, name := range otherDevice {
		assert.Less(t, fingerprint.Similarity(rec.FP(t, name), base), fingerprint.DefaultThreshold,
			"%s: another class of device falls below the threshold", name)
	}
	assert.Less(t, fingerprint.Similarity(rec.FP(t, "phone"), rec.FP(t, "tablet")), fingerprint.DefaultThreshold,
		"a phone and a tablet are told apart")
}

// TestRecordedDriftMatching runs Identify over the recorded hashes: a known
// device found by a drifted hash, directly and through the index keys.
func TestRecordedDriftMatching(t *testing.T) {
	t.Parallel()
	rec := rupttest.Load(t)
	baseDev := storage.Device{ID: "laptop", Hashes: []string{rec.FP(t, "base")}}
	baseDev.Keys = fingerprint.DeviceKeys(baseDev.Hashes)
	known := []dev{{id: "laptop", hashes: baseDev.Hashes}}

	for _, name := range []string{"timezone", "locale", "user_agent", "window_size"} {
		fp := rec.FP(t, name)
		id := identify(fp, "", known, nil, fingerprint.DefaultThreshold)
		assert.Equal(t, "laptop", id.ID, name)
		assert.Equal(t, signals.MatchFuzzy, id.Match, name)
		assert.InDelta(t, fingerprint.Similarity(fp, baseDev.Hashes[0]), id.Confidence, 1e-12, name)

		// Another user's lookup finds the device through its band keys.
		shared := 0
		for _, k := range fingerprint.LookupKeys(fp, "") {
			if slices.Contains(baseDev.Keys, k) {
				shared++
			}
		}
		assert.GreaterOrEqual(t, shared, 15, "%s shares most band keys with base", name)
		id = identify(fp, "", nil, []storage.Device{baseDev}, fingerprint.DefaultThreshold)
		assert.Equal(t, "laptop", id.ID, name)
		assert.False(t, id.Known)
	}
	for _, name := range []string{"phone", "tablet", "desktop_hidpi"} {
		id := identify(rec.FP(t, name), "", known, []storage.Device{baseDev}, fingerprint.DefaultThreshold)
		assert.Equal(t, signals.MatchNew, id.Match, name)
	}

	// Two properties at once fall below the threshold; the browser's last
	// fingerprint still names the device, with the similarity as confidence.
	drift2 := rec.FP(t, "drift_2")
	assert.Equal(t, signals.MatchNew, identify(drift2, "", known, nil, fingerprint.DefaultThreshold).Match)
	id := identify(drift2, rec.FP(t, "base"), known, nil, fingerprint.DefaultThreshold)
	assert.Equal(t, signals.MatchLast, id.Match)
	assert.Equal(t, "laptop", id.ID)
	assert.InDelta(t, fingerprint.LastConfidence, id.Confidence, 0.05)
}
