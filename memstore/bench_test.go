package memstore_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/storage"
)

const hexdigits = "0123456789abcdef"

// drift returns h with the given signal segments replaced by random hex.
func drift(r *rand.Rand, h []byte, segments ...int) []byte {
	out := append([]byte(nil), h...)
	for _, s := range segments {
		for i := s * fingerprint.SegmentLen; i < min((s+1)*fingerprint.SegmentLen, fingerprint.HashLen); i++ {
			out[i] = hexdigits[r.IntN(16)]
		}
	}
	return out
}

// BenchmarkFindDrifted looks up a device by a drifted fuzzy hash (one
// signal changed) among n stored devices. The devices come from 20 browser
// builds: each shares most segments with its build and has 6 of its own,
// the way real browsers share engine, math and CSS signals but differ in
// canvas, fonts and screen. Shared segments make popular lookup keys; the
// store's per-key cap keeps the lookup's cost flat as n grows.
func BenchmarkFindDrifted(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("devices=%d", n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, uint64(n)))
			builds := make([][]byte, 20)
			for i := range builds {
				builds[i] = drift(r, make([]byte, fingerprint.HashLen), rangeN(22)...)
				for j := fingerprint.HashLen - 100; j < fingerprint.HashLen; j++ {
					builds[i][j] = '0' // padding
				}
			}
			s := memstore.New()
			ctx := b.Context()
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			hashes := make([]string, 0, 1000) // a sample to look up
			for i := range n {
				h := string(drift(r, builds[i%len(builds)], r.Perm(21)[:6]...))
				d := storage.Device{ID: fmt.Sprintf("d%07d", i), Hashes: []string{h}, Keys: fingerprint.DeviceKeys([]string{h}), FirstSeen: at, LastSeen: at}
				if err := s.Commit(ctx, storage.Commit{User: "u", Device: &d}); err != nil {
					b.Fatal(err)
				}
				if i%(n/1000) == 0 {
					hashes = append(hashes, h)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			found := 0
			i := 0
			for b.Loop() {
				h := hashes[i%len(hashes)]
				i++
				q := string(drift(r, []byte(h), r.IntN(21)))
				ds, err := s.FindDevices(ctx, fingerprint.LookupKeys(q, ""), 16)
				if err != nil {
					b.Fatal(err)
				}
				if id := fingerprint.Identify(q, "", nil, ds, fingerprint.DefaultThreshold); id.Device.ID != "" && id.Device.Hashes[0] == h {
					found++
				}
			}
			b.ReportMetric(float64(found)/float64(i), "found/op")
		})
	}
}

func rangeN(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
