package atocli

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// A backtest's garbage is short-lived (each replayed login's copies of
// what it touches) while its live data (the replays' stores) only grows.
// With the Go default (GOGC=100) the collector runs each time the heap has
// grown by as much as it holds, and marks the whole store each time: on a
// store of a few hundred megabytes, a tenth of the run. So while it runs,
// a backtest lets the heap grow by up to gcExtra before a collection, up
// to four times its live data (GOGC=400): as the store grows past gcExtra,
// the collector goes back to the default, and the heap is never more than
// gcExtra above what the default would let it be. An operator who sets
// GOGC keeps it.

// gcExtra is how far past its live data a backtest's heap may grow before
// a collection, at most.
const gcExtra = 1 << 30

// gcEvery is how many batches go by between two looks at the live heap.
const gcEvery = 16

var gcState struct {
	sync.Mutex
	runs    int // the backtests running
	percent int // the GC percent before the first of them
}

// gcBudget adjusts the collector's pace to a backtest's live heap.
type gcBudget struct {
	sample  [1]metrics.Sample
	batches int
}

// startGCBudget starts pacing the collector for a backtest, unless GOGC
// is set; stop puts the pace back once no backtest runs.
func startGCBudget() (g *gcBudget, stop func()) {
	if os.Getenv("GOGC") != "" {
		return nil, func() {}
	}
	g = &gcBudget{sample: [1]metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	gcState.Lock()
	if gcState.runs == 0 {
		gcState.percent = debug.SetGCPercent(gcPercent(0))
	}
	gcState.runs++
	gcState.Unlock()
	return g, func() {
		gcState.Lock()
		defer gcState.Unlock()
		if gcState.runs--; gcState.runs == 0 {
			debug.SetGCPercent(gcState.percent)
		}
	}
}

// batch is called after each batch of the backtest, by one goroutine.
func (g *gcBudget) batch() {
	if g == nil {
		return
	}
	if g.batches++; g.batches%gcEvery != 0 {
		return
	}
	metrics.Read(g.sample[:])
	if g.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	debug.SetGCPercent(gcPercent(g.sample[0].Value.Uint64()))
}

// gcPercent is the GC percent for a live heap of the size: what lets the
// heap grow by gcExtra, from 100 (the default) to 400.
func gcPercent(live uint64) int {
	if live == 0 {
		return 400
	}
	return int(min(max(gcExtra*100/live, 100), 400))
}
