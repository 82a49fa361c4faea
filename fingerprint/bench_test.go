package fingerprint

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/atoguard/ato/storage"
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
func population(r *rand.Rand, n int) []storage.UserDevice {
	base := randomHash(r, 120)
	out := make([]storage.UserDevice, n)
	for i := range out {
		cur := mutate(r, base, r.IntN(21), r.IntN(21), r.IntN(21), r.IntN(21))
		prev := mutate(r, cur, r.IntN(21))
		id := fmt.Sprintf("dev-%02d", i)
		out[i] = storage.UserDevice{Link: storage.Link{DeviceID: id}, Device: storage.Device{ID: id, Hashes: []string{cur, prev}}}
	}
	return out
}

// BenchmarkIdentify matches a request against a user's 20 known devices.
func BenchmarkIdentify(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	known := population(r, 20)
	drifted := mutate(r, known[13].Device.Hashes[0], 5) // one signal changed
	for _, bc := range []struct{ name, fp, last string }{
		{"exact", known[13].Device.Hashes[1], ""},
		{"last", drifted, known[13].Device.Hashes[0]},
		{"fuzzy", drifted, ""},
		{"new", randomHash(r, 120), ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				id := Identify(bc.fp, bc.last, known, nil, DefaultThreshold)
				if bc.name != "new" && id.Device.ID != "dev-13" {
					b.Fatalf("matched %q", id.Device.ID)
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
