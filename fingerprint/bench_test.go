package fingerprint

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/atoguard/ato/profile"
)

// mutate returns h with the given signal segments replaced by random hex,
// the way a changed browser signal changes its segment.
func mutate(r *rand.Rand, h string, segments ...int) string {
	b := []byte(h)
	for _, s := range segments {
		for i := s * SegmentLen; i < min((s+1)*SegmentLen, HashLen); i++ {
			b[i] = "0123456789abcdef"[r.IntN(16)]
		}
	}
	return string(b)
}

// population returns n devices of one browser build: they share most
// segments (same engine, same fonts…) and differ in a few, like real
// devices do; each has a current and a previous hash.
func population(r *rand.Rand, n int) (*profile.Profile, map[string][]string) {
	base := randomHash(r, 120)
	p := &profile.Profile{User: "alice"}
	hashes := map[string][]string{}
	for i := range n {
		cur := mutate(r, base, r.IntN(21), r.IntN(21), r.IntN(21), r.IntN(21))
		prev := mutate(r, cur, r.IntN(21))
		id := fmt.Sprintf("dev-%02d", i)
		hashes[id] = []string{cur, prev}
		p.Devices = append(p.Devices, profile.Device{ID: id, Keys: Keys(hashes[id])})
	}
	return p, hashes
}

// BenchmarkIdentify matches a request against a user's 20 known devices.
func BenchmarkIdentify(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	p, hashes := population(r, 20)
	dev13 := hashes["dev-13"]
	drifted := mutate(r, dev13[0], 5) // one signal changed
	for _, bc := range []struct{ name, fp, last string }{
		{"exact", dev13[1], ""},
		{"last", drifted, dev13[0]},
		{"fuzzy", drifted, ""},
		{"new", randomHash(r, 120), ""},
	} {
		a := Attempt{Fingerprint: bc.fp, Last: bc.last, FingerprintKey: Key(bc.fp)}
		if bc.last != "" {
			a.LastKey = Key(bc.last)
		}
		// Only a fingerprint that is no device's newest needs the hashes.
		loaded := hashes
		if bc.name == "exact" {
			loaded = nil
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				id := Identify(a, p, loaded, nil, DefaultThreshold)
				if bc.name != "new" && id.ID != "dev-13" {
					b.Fatalf("matched %q", id.ID)
				}
			}
		})
	}
}

func BenchmarkSimilarity(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	a := randomHash(r, 120)
	c := mutate(r, a, 3, 9)
	b.ReportAllocs()
	for b.Loop() {
		Similarity(a, c)
	}
}

func BenchmarkLookupKeys(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 12))
	a := randomHash(r, 120)
	b.ReportAllocs()
	for b.Loop() {
		LookupKeys(a, a)
	}
}
