package memstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/storage"
)

// BenchmarkLoadCandidates loads the candidates of 22 lookup keys among n
// stored devices, each indexed under a key its browser build shares and a
// key of its own; the per-key cap keeps the cost flat as n grows.
func BenchmarkLoadCandidates(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("devices=%d", n), func(b *testing.B) {
			s := memstore.New()
			ctx := b.Context()
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for i := range n {
				id := fmt.Sprintf("d%07d", i)
				keys := []string{fmt.Sprintf("build%02d", i%20), "own:" + id}
				w := &storage.DeviceWrite{Device: storage.Device{ID: id, Hashes: keys, Keys: keys, FirstSeen: at, LastSeen: at}, Seen: at, MaxUsers: 8}
				if err := s.Commit(ctx, storage.Commit{User: "u", Device: w}); err != nil {
					b.Fatal(err)
				}
			}
			keys := make([]string, 0, 22)
			for i := range 20 {
				keys = append(keys, fmt.Sprintf("build%02d", i))
			}
			keys = append(keys, "own:d0000007", "own:missing")
			r := storage.LoadRequest{User: "alice", FingerprintKey: "none", DeviceKeys: storage.Keys(keys...), MaxCandidates: 16}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Load(ctx, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
