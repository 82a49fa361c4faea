package fingerprint_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeys(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("zy", 1024) // not hex: opaque
	k := fingerprint.Key(long)
	assert.Len(t, k, 2+32, "keys stay small whatever the hash's length")
	assert.Equal(t, k, fingerprint.Key(long))
	assert.NotEqual(t, k, fingerprint.Key(long[:2047]))
	assert.Equal(t, []string{k}, fingerprint.DeviceKeys([]string{long, long}), "no repeats")
	assert.Equal(t, []string{k}, fingerprint.LookupKeys(long, ""), "an opaque hash has an exact key only")
	assert.Empty(t, fingerprint.LookupKeys("", ""))
}

func TestIdentifyOrder(t *testing.T) {
	t.Parallel()
	mine := dev{id: "mine", hashes: []string{"a2", "a1"}, trusted: true}
	other := storage.Device{ID: "other", Hashes: []string{"b1"}}
	both := storage.Device{ID: "both", Hashes: []string{"a1x"}}
	known := []dev{mine}
	cands := []storage.Device{other, both}

	for _, tc := range []struct {
		name, fp, last string
		id             string
		match          signals.Match
		conf           float64
		known          bool
	}{
		{"no fingerprint", "", "", "", signals.MatchNone, 0, false},
		{"exact on the user's device", "a2", "", "mine", signals.MatchExact, 1, true},
		{"exact on an older hash", "a1", "", "mine", signals.MatchExact, 1, true},
		{"exact on another user's device", "b1", "", "other", signals.MatchExact, 1, false},
		{"exact beats last", "b1", "a2", "other", signals.MatchExact, 1, false},
		{"last on the user's device", "zz", "a2", "mine", signals.MatchLast, fingerprint.LastConfidence, true},
		{"last on another user's device", "zz", "b1", "other", signals.MatchLast, fingerprint.LastConfidence, false},
		{"nothing matches", "zz", "yy", "", signals.MatchNew, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := identify(tc.fp, tc.last, known, cands, fingerprint.DefaultThreshold)
			assert.Equal(t, tc.id, got.ID)
			assert.Equal(t, tc.match, got.Match)
			assert.Equal(t, tc.conf, got.Confidence)
			assert.Equal(t, tc.known, got.Known)
			if tc.known {
				assert.True(t, got.Profile.Trusted, "the user's profile entry comes with a known device")
			}
		})
	}
}

func TestObserve(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := fingerprint.Observe(storage.Device{ID: "d"}, "h1", t0)
	assert.Equal(t, []string{"h1"}, d.Hashes)
	assert.Equal(t, fingerprint.DeviceKeys([]string{"h1"}), d.Keys)
	assert.Equal(t, t0, d.FirstSeen)
	assert.Equal(t, t0, d.LastSeen)

	for i, h := range []string{"h2", "h3", "h4", "h5"} {
		d = fingerprint.Observe(d, h, t0.Add(time.Duration(i+1)*time.Hour))
	}
	assert.Equal(t, []string{"h5", "h4", "h3", "h2"}, d.Hashes, "newest first, at most MaxHashes")
	assert.Equal(t, fingerprint.DeviceKeys(d.Hashes), d.Keys, "keys follow the hashes")
	assert.Equal(t, t0, d.FirstSeen)
	assert.Equal(t, t0.Add(4*time.Hour), d.LastSeen)

	d = fingerprint.Observe(d, "h3", t0.Add(-time.Hour))
	assert.Equal(t, []string{"h3", "h5", "h4", "h2"}, d.Hashes, "a device flipping back to an older state moves it to the front")
	assert.Equal(t, t0.Add(-time.Hour), d.FirstSeen, "times widen")
	assert.Equal(t, t0.Add(4*time.Hour), d.LastSeen)
}

func TestMatchExactlyAtTheThreshold(t *testing.T) {
	t.Parallel()
	base := []byte(strings.Repeat("0123456789abcdef", fingerprint.HashLen/16))
	base[fingerprint.HashLen-1] = 'f' // no padding: all 2048 positions count
	other := append([]byte(nil), base...)
	for i := range 205 { // 2048 - 205 = 1843 equal: 0.89990…
		other[i*9] = "123456789abcdef0"[strings.IndexByte("0123456789abcdef", other[i*9])]
	}
	a, b := string(base), string(other)
	sim := fingerprint.Similarity(a, b)
	known := []dev{{id: "d", hashes: []string{a}}}
	id := identify(b, "", known, nil, sim)
	assert.Equal(t, "d", id.ID, "a hash exactly at the threshold matches (threshold %v)", sim)
	assert.Equal(t, sim, id.Confidence)
	id = identify(b, "", known, nil, math.Nextafter(sim, 1))
	assert.Empty(t, id.ID, "just above it does not")
}

func TestLastFingerprintMustResembleTheFingerprint(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 1))
	prev := hexHash(r)
	known := []dev{{id: "d", hashes: []string{prev}}}
	near := []byte(prev)
	for i := range 100 {
		near[i*20] = "0123456789abcdef"[(strings.IndexByte("0123456789abcdef", near[i*20])+1)%16]
	}
	id := identify(string(near), prev, known, nil, 0.99)
	assert.Equal(t, signals.MatchLast, id.Match, "a browser that changed a little names its previous hash")
	assert.InDelta(t, fingerprint.Similarity(string(near), prev), id.Confidence, 1e-12)

	id = identify(hexHash(r), prev, known, nil, 0.99)
	assert.Equal(t, signals.MatchNew, id.Match, "another browser sending a stolen previous hash is not that device")

	id = identify("made-up-opaque-id", prev, known, nil, 0.99)
	assert.Equal(t, signals.MatchNew, id.Match, "nor is a made-up opaque hash sent beside a stolen fuzzy one")
	opaque := []dev{{id: "o", hashes: []string{"opaque-1"}}}
	id = identify("opaque-2", "opaque-1", opaque, nil, 0.99)
	assert.Equal(t, signals.MatchLast, id.Match, "two opaque hashes still name the previous one")
}

func hexHash(r *rand.Rand) string {
	b := make([]byte, fingerprint.HashLen)
	for i := range b {
		b[i] = "0123456789abcdef"[r.IntN(16)]
	}
	return string(b)
}

func TestNamed(t *testing.T) {
	t.Parallel()
	p := &profile.Profile{User: "alice", Devices: []profile.Device{{ID: "mine", Trusted: true}}}
	cands := []storage.Device{{ID: "mine", Hashes: []string{"h1"}}, {ID: "theirs", Hashes: []string{"h2"}}}

	id := fingerprint.Named("mine", p, cands)
	assert.True(t, id.Known)
	assert.Equal(t, "mine", id.Profile.ID)
	assert.Equal(t, []string{"h1"}, id.Device.Hashes, "its global record, when the store returned it")
	assert.Equal(t, signals.MatchExact, id.Match)
	assert.Equal(t, 1.0, id.Confidence)

	id = fingerprint.Named("theirs", p, cands)
	assert.False(t, id.Known)
	assert.Equal(t, "theirs", id.Device.ID)
	assert.Equal(t, signals.MatchExact, id.Match)

	id = fingerprint.Named("fresh", p, cands)
	assert.Equal(t, fingerprint.Identity{ID: "fresh", Match: signals.MatchNew, Confidence: 1}, id)
}

func TestLearn(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	fp, older := hexHash(rand.New(rand.NewPCG(1, 2))), hexHash(rand.New(rand.NewPCG(3, 4)))
	stored := storage.Device{ID: "d1", Hashes: []string{fp}, LastSeen: at, Users: []storage.DeviceUser{{User: "alice", LastSeen: at}}}
	known := func(keys ...string) fingerprint.Identity {
		return fingerprint.Identity{ID: "d1", Device: stored, Known: true, Profile: &profile.Device{ID: "d1", Keys: keys}}
	}

	// The hash the user saw last, from a device written a minute ago: nothing to write.
	id := known(fingerprint.Key(fp))
	l := fingerprint.Learn(&id, "alice", fp, fingerprint.Key(fp), nil, at.Add(time.Minute), 32, false)
	assert.Equal(t, fingerprint.Lesson{}, l)

	// Completing a challenge writes the device whatever.
	l = fingerprint.Learn(&id, "alice", fp, fingerprint.Key(fp), nil, at.Add(time.Minute), 32, true)
	require.NotNil(t, l.Device)
	assert.Equal(t, "d1", l.Device.Device.ID)
	assert.Equal(t, 32, l.Device.MaxUsers)

	// Another of the device's newest hashes, without the hashes read: its key moves up.
	id = known(fingerprint.Key(older), fingerprint.Key(fp))
	l = fingerprint.Learn(&id, "alice", fp, fingerprint.Key(fp), nil, at.Add(time.Minute), 32, false)
	assert.Nil(t, l.Hashes)
	assert.Equal(t, []string{fingerprint.Key(fp), fingerprint.Key(older)}, l.Keys)

	// A new device: its record, and the user's hashes of it.
	fresh := fingerprint.Identity{ID: "d2"}
	l = fingerprint.Learn(&fresh, "alice", fp, fingerprint.Key(fp), map[string][]string{}, at, 32, false)
	require.NotNil(t, l.Device)
	assert.Equal(t, []string{fp}, l.Device.Device.Hashes)
	assert.Equal(t, &storage.DeviceHashes{DeviceID: "d2", Hashes: []string{fp}}, l.Hashes)
	assert.Equal(t, []string{fingerprint.Key(fp)}, l.Keys)
}
