package ato_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/verdict"
)

// benchClock is an engine clock that moves a second at each reading, so
// that every evaluation happens at a time of its own.
func benchClock() func() time.Time { return steppingClock(time.Second) }

// steppingClock is an engine clock that moves by step at each reading.
func steppingClock(step time.Duration) func() time.Time {
	var now atomic.Int64
	now.Store(time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC).UnixNano())
	return func() time.Time { return time.Unix(0, now.Add(int64(step))).UTC() }
}

// drift returns h with one signal segment (94 characters) replaced, as a
// changed browser property changes it.
func drift(r *rand.Rand, h string) string {
	b := []byte(h)
	seg := r.IntN(21)
	for i := seg * 94; i < (seg+1)*94; i++ {
		b[i] = "0123456789abcdef"[r.IntN(16)]
	}
	return string(b)
}

// randomHash is a fuzzy hash of random content.
func randomHash(r *rand.Rand) string {
	b := make([]byte, 2048)
	for i := range b {
		b[i] = "0123456789abcdef"[r.IntN(16)]
	}
	return string(b)
}

// population fills the store through the engine with users, each with a
// device of their own and a login from a network of their own, and gives
// the benchmarked user, "alice", a laptop with 50 logins from home.
func population(b *testing.B, e *ato.Engine, users int) {
	b.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range users {
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		if _, err := e.Evaluate(ctx, ato.Request{User: fmt.Sprint("user", i), Fingerprint: randomHash(r), IP: ip}); err != nil {
			b.Fatal(err)
		}
	}
	for range 50 {
		if _, err := e.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchEvaluate runs the three paths of an evaluation on an engine over s,
// among 1,000 other users: a known device presenting the hash it presented
// last (the hot path), a drifted one (one signal changed: a fuzzy match),
// and a device the user never used.
func benchEvaluate(b *testing.B, s storage.Store) {
	e, err := ato.New(s, ato.WithClock(benchClock()))
	if err != nil {
		b.Fatal(err)
	}
	population(b, e, 1000)
	runtime.GC() // the setup's garbage is not the evaluations'
	ctx := b.Context()
	b.Run("known", func(b *testing.B) {
		req := ato.Request{User: "alice", Fingerprint: laptop, LastFingerprint: laptop, IP: homeIP, Email: "alice@example.com", UserAgent: "Mozilla/5.0"}
		b.ReportAllocs()
		for b.Loop() {
			res, err := e.Evaluate(ctx, req)
			if err != nil || res.Verdict != verdict.Allow || len(res.Reasons) > 0 {
				b.Fatal(err, res.Verdict, res.Reasons)
			}
		}
	})
	// A browser drifting one signal at a time: each attempt presents a hash
	// one segment away from the one before, a fuzzy match. The walk goes on
	// from where it was when -count runs the benchmark again: starting over
	// would present hashes the engine has learnt, exact matches.
	r := rand.New(rand.NewPCG(3, 4))
	h := laptop
	b.Run("drifted", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			h = drift(r, h)
			b.StartTimer()
			res, err := e.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: h, IP: homeIP})
			if err != nil || res.Verdict != verdict.Allow || res.Confidence == 1 {
				b.Fatal(err, res.Verdict, res.Reasons, res.Confidence)
			}
		}
	})
	// New devices, new on each run of -count too.
	rn := rand.New(rand.NewPCG(5, 6))
	i := 0
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			// A new device of a known user, at home: allowed, and learnt.
			res, err := e.Evaluate(ctx, ato.Request{User: fmt.Sprint("user", i%1000), Fingerprint: randomHash(rn),
				IP: fmt.Sprintf("10.0.%d.%d", i%1000>>8, i%1000&255)})
			if err != nil || res.Verdict != verdict.Allow {
				b.Fatal(err, res.Verdict)
			}
			i++
		}
	})
}

// BenchmarkEvaluate evaluates on memstore; sqlitestore's is in its package,
// beside the floor it is compared with.
func BenchmarkEvaluate(b *testing.B) {
	b.Run("memstore", func(b *testing.B) {
		benchEvaluate(b, memstore.New())
		b.Run("returning", func(b *testing.B) { benchReturning(b, memstore.New()) })
	})
}

// home places every address in one city, on one residential network.
type home struct{}

func (home) Locate(netip.Addr) (signals.Location, bool) {
	return signals.Location{Country: "FR", Region: "IDF", City: "Paris", Latitude: 48.86, Longitude: 2.35,
		AccuracyKm: 20, ASN: 3215, ASOrg: "Orange"}, true
}

// benchReturning evaluates the login most real ones are, and the operator's
// backtest replays: a returning user, among 10,000, on one of the 1 to 3
// devices they use, from their located home network, a day after their
// previous login. Each login touches the profile, writes the device (last
// seen more than storage.TouchEvery before) and adds an event; the users
// take turns, so no cache holds the next one's state.
func benchReturning(b *testing.B, s storage.Store) {
	const users = 10_000
	e, err := ato.New(s, ato.WithClock(func() time.Time { return time.Time{} }), ato.WithReplay(), ato.WithLocator(home{}))
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	r := rand.New(rand.NewPCG(9, 10))
	start := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	devices := make([][]ato.Request, users) // each user's logins, one a device
	at := start.Add(-10 * 24 * time.Hour)   // the devices are learnt over the 10 days before
	for u := range users {
		user := fmt.Sprint("user", u)
		ip := fmt.Sprintf("81.%d.%d.%d", u>>16&255, u>>8&255, u&255)
		for range 1 + r.IntN(3) {
			h := randomHash(r)
			req := ato.Request{User: user, Fingerprint: h, LastFingerprint: h, IP: ip, UserAgent: "Mozilla/5.0 (X11; Linux x86_64)"}
			devices[u] = append(devices[u], req)
			req.Time = at
			at = at.Add(time.Second)
			if res, err := e.Evaluate(ctx, req); err != nil || res.Verdict != verdict.Allow {
				b.Fatal(err, res.Verdict, res.Reasons)
			}
		}
	}
	runtime.GC()                   // the setup's garbage is not the evaluations'
	step := 24 * time.Hour / users // a user's logins a day apart
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		own := devices[i%users]
		req := own[i/users%len(own)]
		req.Time = start.Add(time.Duration(i) * step)
		res, err := e.Evaluate(ctx, req)
		if err != nil || res.Verdict != verdict.Allow || len(res.Reasons) > 0 {
			b.Fatal(err, res.Verdict, res.Reasons)
		}
	}
}

// BenchmarkGrowth evaluates alice's known device on memstore as the store
// grows in each direction an evaluation could come to depend on: more
// users; more accounts on alice's device (an office image, a kiosk); more
// users behind alice's address (a carrier NAT), each having failed a
// password there. Each pair is compared in one run.
func BenchmarkGrowth(b *testing.B) {
	known := func(b *testing.B, e *ato.Engine, ip string) {
		ctx := b.Context()
		req := ato.Request{User: "alice", Fingerprint: laptop, IP: ip}
		if _, err := e.Evaluate(ctx, req); err != nil {
			b.Fatal(err)
		}
		runtime.GC() // the setup's garbage is not the evaluations'
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			res, err := e.Evaluate(ctx, req)
			if err != nil || res.Verdict != verdict.Allow {
				b.Fatal(err, res.Verdict)
			}
		}
	}
	engine := func(b *testing.B) *ato.Engine {
		e, err := ato.New(memstore.New(), ato.WithClock(benchClock()))
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			e := engine(b)
			population(b, e, n)
			known(b, e, homeIP)
		})
	}
	for _, n := range []int{1_000, 20_000} {
		b.Run(fmt.Sprintf("accounts-on-device=%d", n), func(b *testing.B) {
			e := engine(b)
			ctx := b.Context()
			for i := range n {
				if _, err := e.Evaluate(ctx, ato.Request{User: fmt.Sprint("user", i), Fingerprint: laptop, IP: officeIP}); err != nil {
					b.Fatal(err)
				}
			}
			known(b, e, officeIP)
		})
	}
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("users-behind-ip=%d", n), func(b *testing.B) {
			e := engine(b)
			ctx := b.Context()
			r := rand.New(rand.NewPCG(7, 8))
			for i := range n {
				user := fmt.Sprint("user", i)
				if _, err := e.Evaluate(ctx, ato.Request{User: user, Fingerprint: randomHash(r), IP: cafeIP}); err != nil {
					b.Fatal(err)
				}
				if err := e.RecordFailure(ctx, ato.Request{User: user, IP: cafeIP}); err != nil {
					b.Fatal(err)
				}
			}
			known(b, e, cafeIP)
		})
	}
}

// BenchmarkThroughput evaluates known devices of different users on
// memstore from 1 goroutine and, under b.RunParallel, from 2: ns/op is the
// wall time per evaluation, so 2 goroutines should take about half as long
// as 1. The clock stands still: a shared stepping clock would be a cache
// line both goroutines write on every evaluation, which no real clock is.
func BenchmarkThroughput(b *testing.B) {
	for _, g := range []int{1, 2} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			procs := runtime.GOMAXPROCS(0)
			if procs < g || g > 1 && procs%g != 0 {
				b.Skipf("GOMAXPROCS is %d", procs)
			}
			now := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
			e, err := ato.New(memstore.New(), ato.WithClock(func() time.Time { return now }))
			if err != nil {
				b.Fatal(err)
			}
			ctx := b.Context()
			const users = 64
			reqs := make([]ato.Request, users)
			for i := range reqs {
				reqs[i] = ato.Request{User: fmt.Sprint("user", i), Fingerprint: fp(fmt.Sprint("device", i)), IP: homeIP}
				if _, err := e.Evaluate(ctx, reqs[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			if g == 1 {
				for i := 0; b.Loop(); i++ {
					if _, err := e.Evaluate(ctx, reqs[i%users]); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			var worker atomic.Int64
			b.SetParallelism(g / procs)
			b.RunParallel(func(pb *testing.PB) {
				i := int(worker.Add(1)) * 7
				for pb.Next() {
					if _, err := e.Evaluate(ctx, reqs[i%users]); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
}

// BenchmarkRecordFailure records a first failed password for accounts
// with a history and for names the store has never seen, as someone
// probing which names are accounts would: the two must cost the same, or
// the time would tell them apart.
func BenchmarkRecordFailure(b *testing.B) {
	const users = 20_000
	e, err := ato.New(memstore.New(), ato.WithClock(benchClock()))
	if err != nil {
		b.Fatal(err)
	}
	population(b, e, users)
	runtime.GC()
	ctx := b.Context()
	for _, who := range []string{"history", "unknown"} {
		b.Run(who, func(b *testing.B) {
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				// A second apart: a name comes back after its failure
				// expired (20,000 s > 3 h, the longest window failures are
				// kept for), so each is a first failure.
				user := fmt.Sprint("user", i%users)
				if who == "unknown" {
					user = fmt.Sprint("nobody", i)
				}
				if err := e.RecordFailure(ctx, ato.Request{User: user, Fingerprint: laptop, IP: homeIP}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkFailureFlood records failed passwords for made-up user names,
// each from a network of its own, as a flood of guesses would: ns/op is
// the cost of one, and MB-held the heap the store holds once twice
// memstore.MaxTracked of them have come, all within the time they are
// kept — the most a flood can make it hold.
func BenchmarkFailureFlood(b *testing.B) {
	// A millisecond apart: all of them inside the hour they are kept.
	e, err := ato.New(memstore.New(), ato.WithClock(steppingClock(time.Millisecond)))
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	i := 0
	fail := func() {
		if err := e.RecordFailure(ctx, ato.Request{User: fmt.Sprintf("made-up-user-%08d", i),
			IP: fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff)}); err != nil {
			b.Fatal(err)
		}
		i++
	}
	for b.Loop() {
		fail()
	}
	b.StopTimer()
	for i < 2*memstore.MaxTracked {
		fail()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(e) // the store holds the failures
	b.ReportMetric((float64(after.HeapAlloc)-float64(before.HeapAlloc))/(1<<20), "MB-held")
}
