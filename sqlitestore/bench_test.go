package sqlitestore_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/ato/sqlitestore"
	"github.com/atoguard/ato/storage"
)

// benchHash makes a distinct 2048-character hex hash, the size of a fuzzy
// fingerprint.
func benchHash(seed int) string {
	const hexdigits = "0123456789abcdef"
	var b strings.Builder
	for i := 0; b.Len() < 2048; i++ {
		b.WriteByte(hexdigits[(seed*31+i*7+i/16)%16])
	}
	return b.String()
}

// benchKeys makes the lookup keys of a device: an exact key and 22 band
// keys, as the engine derives them from a fuzzy hash.
func benchKeys(seed int) []string {
	keys := []string{fmt.Sprintf("x:%032x", seed)}
	for band := range 22 {
		keys = append(keys, fmt.Sprintf("b%d:%x", band, uint64(seed)*0x9e3779b97f4a7c15+uint64(band)))
	}
	return keys
}

// benchStore opens a store holding what BenchmarkLoadCommit needs: a user
// with 10 known devices, whose hashes are 2048 characters, and a full
// history of 50 events. commit commits a login from a device, at a time
// one second after the last.
func benchStore(b *testing.B) (s *sqlitestore.Store, devices []storage.Device, commit func(d *storage.Device)) {
	ctx := b.Context()
	s, err := sqlitestore.Open(filepath.Join(b.TempDir(), "ato.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })

	at := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	n := 0
	commit = func(d *storage.Device) {
		n++
		at = at.Add(time.Second)
		d.LastSeen = at
		ev := &storage.Event{ID: fmt.Sprintf("e%d", n), User: "alice", Time: at, Kind: storage.KindEvaluation,
			Action: "login", Verdict: "allow", Success: true, DeviceID: d.ID,
			IP: "203.0.113.9", Network: "203.0.113.9", Reasons: []string{"new_ip"}}
		if err := s.Commit(ctx, storage.Commit{User: "alice", Event: ev, HistorySince: at.Add(-90 * 24 * time.Hour),
			Device: d, Link: &storage.Link{User: "alice", DeviceID: d.ID, FirstSeen: at, LastSeen: at}}); err != nil {
			b.Fatal(err)
		}
	}
	devices = make([]storage.Device, 10)
	for i := range devices {
		devices[i] = storage.Device{ID: fmt.Sprintf("d%d", i), Hashes: []string{benchHash(i)}, Keys: benchKeys(i), FirstSeen: at}
		commit(&devices[i])
	}
	for i := range 50 {
		commit(&devices[i%10])
	}
	return s, devices, commit
}

// BenchmarkLoadCommit is the store's part of one evaluation of a returning
// user — 10 known devices with 2048-character hashes, a full history of 50
// events — logging in from a known device: one Load, and one Commit of the
// event, the device and the link.
func BenchmarkLoadCommit(b *testing.B) {
	ctx := b.Context()
	s, devices, commit := benchStore(b)
	d := devices[3]
	b.ReportAllocs()
	for b.Loop() {
		at := d.LastSeen
		st, err := s.Load(ctx, storage.LoadRequest{User: "alice", DeviceKeys: d.Keys,
			EventsSince:     at.Add(-90 * 24 * time.Hour),
			Failures:        storage.FailureQuery{UserSince: at.Add(-time.Hour), Network: "203.0.113.9", NetworkSince: at.Add(-time.Hour)},
			ChallengesSince: at.Add(-time.Hour)})
		if err != nil {
			b.Fatal(err)
		}
		if len(st.Devices) != 10 || len(st.Events) != 50 || len(st.Candidates) != 1 {
			b.Fatalf("loaded %d devices, %d events, %d candidates", len(st.Devices), len(st.Events), len(st.Candidates))
		}
		commit(&d)
	}
}

// BenchmarkCommit is BenchmarkLoadCommit's Commit alone.
func BenchmarkCommit(b *testing.B) {
	_, devices, commit := benchStore(b)
	d := devices[3]
	b.ReportAllocs()
	for b.Loop() {
		commit(&d)
	}
}
