package atocli

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// A backtest's garbage is short-lived (each replayed login's copies of
// what it touches) while its live data (the replays' stores) only grows.
// With the Go default (GOGC=100) the collector runs each time the heap has
// grown by as much as it holds, and marks the whole store each time; and
// while it marks, every replayed login pays for its write barriers and
// assists. So while it runs, a backtest turns the collector's pace off and
// sets a memory limit gcExtra above the live data instead: the collector
// runs only once that much garbage has piled up (never, for a history of
// a few hundred thousand events), and the limit follows the live data as
// the stores grow, so the heap is never more than gcExtra above it. An
// operator who sets GOGC or GOMEMLIMIT keeps it.

// gcExtra is how far past its live data a backtest's heap may grow before
// a collection.
const gcExtra = 1 << 30

var gcState struct {
	sync.Mutex
	runs    int   // the backtests running
	percent int   // the GC percent before the first of them
	limit   int64 // the memory limit before the first of them
}

// gcBudget paces the collector by a backtest's live data.
type gcBudget struct {
	live  [1]metrics.Sample
	base  uint64 // the memory the process held when the backtest started
	limit int64  // the limit set last
}

// startGCBudget starts pacing the collector for a backtest, unless GOGC or
// GOMEMLIMIT is set; stop puts the pace back once no backtest runs.
func startGCBudget() (g *gcBudget, stop func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return nil, func() {}
	}
	g = &gcBudget{live: [1]metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	held := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(held)
	g.base = sampled(held[0])
	gcState.Lock()
	if gcState.runs == 0 {
		gcState.limit = debug.SetMemoryLimit(-1)
		gcState.percent = debug.SetGCPercent(-1)
	}
	gcState.runs++
	g.batch()
	gcState.Unlock()
	return g, func() {
		gcState.Lock()
		defer gcState.Unlock()
		if gcState.runs--; gcState.runs == 0 {
			debug.SetGCPercent(gcState.percent)
			debug.SetMemoryLimit(gcState.limit)
		}
	}
}

// batch is called after each batch of the backtest, by one goroutine: it
// moves the limit up as the live data grows.
func (g *gcBudget) batch() {
	if g == nil {
		return
	}
	metrics.Read(g.live[:])
	if limit := gcLimit(g.base, sampled(g.live[0]), g.limit); limit != g.limit {
		g.limit = limit
		debug.SetMemoryLimit(limit)
	}
}

// sampled is the sample's value, 0 if the runtime has none.
func sampled(s metrics.Sample) uint64 {
	if s.Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s.Value.Uint64()
}

// gcLimit is the memory limit (which counts all the memory the runtime
// holds, not only the heap) for a backtest that started with the process
// holding base, now that the collector last found live bytes of the heap
// live: base, live and gcExtra; never lower than the limit set before,
// since the collector only measures the live heap when it runs, and the
// stores only grow.
func gcLimit(base, live uint64, before int64) int64 {
	limit := uint64(math.MaxInt64)
	if base < limit-gcExtra && live < limit-gcExtra-base {
		limit = base + live + gcExtra
	}
	return max(before, int64(limit))
}
