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
// grown by as much as it holds, and marks the whole store each time; while
// it marks, every replayed login pays for write barriers and assists too:
// on a month of 10,000 users, even three collections cost a tenth of the
// run. So while it runs, a backtest lets the garbage pile up to gcExtra
// before a collection, or to as much as its live data once that is more
// (the default): a history of a few hundred thousand events is replayed
// without a collection, and a larger one is never collected more often
// than the default would. An operator who sets GOGC keeps it.

// gcExtra is how much garbage a backtest lets pile up, at least, before a
// collection.
const gcExtra = 1 << 30

// gcMinLive is the live heap the pace is set for before the collector has
// measured one: Go's smallest heap goal (4 MiB at GOGC=100).
const gcMinLive = 4 << 20

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

// newGCBudget reads the live heap the collector measures.
func newGCBudget() *gcBudget {
	return &gcBudget{sample: [1]metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
}

// startGCBudget starts pacing the collector for a backtest, unless GOGC
// is set; stop puts the pace back once no backtest runs.
func startGCBudget() (g *gcBudget, stop func()) {
	if os.Getenv("GOGC") != "" {
		return nil, func() {}
	}
	g = newGCBudget()
	gcState.Lock()
	if gcState.runs == 0 {
		gcState.percent = debug.SetGCPercent(gcPercent(g.live()))
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
	debug.SetGCPercent(gcPercent(g.live()))
}

// live is the live heap the collector measured last (0 before it has).
func (g *gcBudget) live() uint64 {
	metrics.Read(g.sample[:])
	if g.sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return g.sample[0].Value.Uint64()
}

// gcPercent is the GC percent that lets the heap grow by gcExtra past a
// live heap of the size, or by as much as it holds (100, the default)
// once that is more. The collector sets its next goal from the live heap
// it measured last, so a pace set from that same figure holds until the
// next collection.
func gcPercent(live uint64) int {
	return int(max(gcExtra*100/max(live, gcMinLive), 100))
}
