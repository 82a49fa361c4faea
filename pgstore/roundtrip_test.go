package pgstore_test

import (
	"context"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/internal/fakehash"
	"github.com/atoguard/ato/internal/pgtest"
	"github.com/atoguard/ato/pgstore"
	"github.com/atoguard/ato/storage"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// counter counts what the store asks of the server in two ways: the calls
// pgx traces (a query, a batch, a prepare), and the round trips on the
// wire — each time the client writes after it has read, it waits for the
// server once more.
type counter struct {
	calls  atomic.Int64
	trips  atomic.Int64
	mu     sync.Mutex
	traced []string
}

func (c *counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.calls.Add(1)
	c.mu.Lock()
	c.traced = append(c.traced, d.SQL)
	c.mu.Unlock()
	return ctx
}
func (c *counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *counter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	c.calls.Add(1)
	c.mu.Lock()
	c.traced = append(c.traced, "batch")
	c.mu.Unlock()
	return ctx
}
func (c *counter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *counter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}
func (c *counter) TracePrepareStart(ctx context.Context, _ *pgx.Conn, d pgx.TracePrepareStartData) context.Context {
	c.calls.Add(1)
	return ctx
}
func (c *counter) TracePrepareEnd(context.Context, *pgx.Conn, pgx.TracePrepareEndData) {}

// reset zeroes the counts.
func (c *counter) reset() {
	c.calls.Store(0)
	c.trips.Store(0)
	c.mu.Lock()
	c.traced = nil
	c.mu.Unlock()
}

// countingConn counts a round trip at each write that follows a read (or
// opens the connection).
type countingConn struct {
	net.Conn
	c    *counter
	read bool
}

func (cc *countingConn) Write(b []byte) (int, error) {
	if cc.read {
		cc.c.trips.Add(1)
		cc.read = false
	}
	return cc.Conn.Write(b)
}

func (cc *countingConn) Read(b []byte) (int, error) {
	cc.read = true
	return cc.Conn.Read(b)
}

// countedStore is a store on a pool of one connection whose calls and
// round trips c counts.
func countedStore(t *testing.T) (*pgstore.Store, *counter) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	require.NoError(t, err)
	c := &counter{}
	cfg.MaxConns = 1
	cfg.ConnConfig.Tracer = c
	dial := cfg.ConnConfig.DialFunc
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: conn, c: c, read: true}, nil
	}
	// No liveness ping when a connection is taken from the pool: this test
	// counts what the store sends.
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s, err := pgstore.New(t.Context(), pool, pgstore.WithSchema(pgtest.Schema(t)))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, c
}

// TestRoundTrips counts, on the wire, what an evaluation costs in round
// trips to the server once the statements are prepared: one for Load, one
// for Commit, whatever the attempt; one for a failed password.
func TestRoundTrips(t *testing.T) {
	s, c := countedStore(t)
	now := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	e, err := ato.New(s, ato.WithClock(func() time.Time { now = now.Add(time.Minute); return now }))
	require.NoError(t, err)
	ctx := t.Context()
	r := rand.New(rand.NewPCG(1, 2))
	laptop := fakehash.Random(r)

	attempts := []struct {
		name string
		req  func() ato.Request
	}{
		{"new user", func() ato.Request {
			return ato.Request{User: "u" + fakehash.Random(r)[:8], Fingerprint: fakehash.Random(r), IP: "198.51.100.7"}
		}},
		{"known device", func() ato.Request {
			return ato.Request{User: "alice", Fingerprint: laptop, LastFingerprint: laptop, IP: "203.0.113.9"}
		}},
		{"drifted device", func() ato.Request {
			laptop = fakehash.Drift(r, laptop)
			return ato.Request{User: "alice", Fingerprint: laptop, IP: "203.0.113.9"}
		}},
		{"new device of a known user", func() ato.Request {
			return ato.Request{User: "alice", Fingerprint: fakehash.Random(r), IP: "203.0.113.9"}
		}},
		{"no fingerprint", func() ato.Request { return ato.Request{User: "alice", IP: "203.0.113.9"} }},
	}
	// Twice each first, so that every statement is prepared on the
	// connection (pgx prepares a statement the first time it runs there).
	for range 2 {
		for _, a := range attempts {
			_, err := e.Evaluate(ctx, a.req())
			require.NoError(t, err)
		}
		require.NoError(t, e.RecordFailure(ctx, ato.Request{User: "alice", Fingerprint: laptop, IP: "203.0.113.9"}))
	}
	for _, a := range attempts {
		c.reset()
		res, err := e.Evaluate(ctx, a.req())
		require.NoError(t, err)
		assert.EqualValues(t, 2, c.trips.Load(), "%s (%s): round trips of Load and Commit; calls: %q", a.name, res.Verdict, c.traced)
		assert.EqualValues(t, 2, c.calls.Load(), "%s: traced calls %q", a.name, c.traced)
	}
	c.reset()
	require.NoError(t, e.RecordFailure(ctx, ato.Request{User: "alice", Fingerprint: laptop, IP: "203.0.113.9"}))
	assert.EqualValues(t, 1, c.trips.Load(), "a failed password: one batch")

	// And at the store: one each.
	c.reset()
	_, err = s.Load(ctx, storage.LoadRequest{User: "alice", FingerprintKey: "x:none", DeviceKeys: storage.Keys("x:a", "x:b"), MaxCandidates: 4,
		Failures:   &storage.FailureQuery{UserSince: now.Add(-time.Hour), MaxUser: 10, Network: "203.0.113.9", NetworkSince: now.Add(-time.Hour), MaxNetworkUsers: 10},
		Challenges: &storage.ChallengeQuery{Since: now.Add(-time.Hour), Max: 10}})
	require.NoError(t, err)
	assert.EqualValues(t, 1, c.trips.Load(), "Load")
}
