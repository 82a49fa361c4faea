package ato_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/sqlitestore"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/verdict"
)

// BenchmarkEvaluate evaluates a returning user — 10 known devices, a full
// history of 50 events — logging in from a known device with a 2048-character
// fingerprint: one store read, signals, policy, one store write.
func BenchmarkEvaluate(b *testing.B) {
	b.Run("memstore", func(b *testing.B) { benchEvaluate(b, memstore.New()) })
	b.Run("sqlitestore", func(b *testing.B) {
		s, err := sqlitestore.Open(filepath.Join(b.TempDir(), "ato.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchEvaluate(b, s)
	})
}

func benchEvaluate(b *testing.B, s storage.Store) {
	var now atomic.Int64
	now.Store(time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Add(int64(time.Second))).UTC() }
	e, err := ato.New(s, ato.WithClock(clock))
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	devices := make([]string, 10)
	for i := range devices {
		devices[i] = fp(fmt.Sprintf("device-%d", i))
		if _, err := e.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: devices[i], IP: homeIP}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 50 {
		if _, err := e.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: devices[i%10], IP: fmt.Sprintf("198.51.100.%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	req := ato.Request{User: "alice", Fingerprint: devices[3], IP: homeIP, Email: "alice@example.com", UserAgent: "Mozilla/5.0"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := e.Evaluate(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if res.Verdict != verdict.Allow {
			b.Fatalf("verdict %s", res.Verdict)
		}
	}
}
