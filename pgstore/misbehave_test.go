package pgstore_test

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/internal/fakehash"
	"github.com/atoguard/ato/internal/pgtest"
	"github.com/atoguard/ato/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"math/rand/v2"
)

// proxy stands between the store and the server; frozen, it passes
// nothing either way, as a network that drops everything would: what comes
// while it is frozen is lost, and its connections close when it thaws.
type proxy struct {
	ln     net.Listener
	target func() (net.Conn, error)
	mu     sync.Mutex
	frozen bool
	thaw   chan struct{}
}

func newProxy(t *testing.T, url string) *proxy {
	t.Helper()
	cfg, err := pgconn.ParseConfig(url)
	require.NoError(t, err)
	network, addr := "tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	if filepath.IsAbs(cfg.Host) {
		network, addr = "unix", filepath.Join(cfg.Host, ".s.PGSQL."+strconv.Itoa(int(cfg.Port)))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, thaw: make(chan struct{}), target: func() (net.Conn, error) { return net.Dial(network, addr) }}
	t.Cleanup(func() {
		ln.Close()
		p.unfreeze()
	})
	go p.serve()
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			s, err := p.target()
			if err != nil {
				return
			}
			defer s.Close()
			done := make(chan struct{}, 2)
			go func() { p.pipe(s, c); done <- struct{}{} }()
			go func() { p.pipe(c, s); done <- struct{}{} }()
			<-done
		}()
	}
}

// pipe copies from src to dst until the proxy is frozen; a chunk that
// comes while it is frozen is dropped, and the connection with it.
func (p *proxy) pipe(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if p.wait() {
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// wait waits while the proxy is frozen, and reports whether it was.
func (p *proxy) wait() bool {
	p.mu.Lock()
	frozen, thaw := p.frozen, p.thaw
	p.mu.Unlock()
	if frozen {
		<-thaw
	}
	return frozen
}

func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = true
}

func (p *proxy) unfreeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen {
		p.frozen = false
		close(p.thaw)
		p.thaw = make(chan struct{})
	}
}

// snapshot is what the database holds of a user: if an evaluation that
// failed wrote anything, it changed.
func snapshot(t *testing.T, conn *pgx.Conn, schema, user string) [2]int64 {
	t.Helper()
	s := pgx.Identifier{schema}.Sanitize()
	var v [2]int64
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT
		coalesce((SELECT version FROM `+s+`.profiles WHERE user_id = $1), 0),
		(SELECT count(*) FROM `+s+`.events WHERE user_id = $1)`, user).Scan(&v[0], &v[1]))
	return v
}

// TestDatabaseDownOrSlow: when the database stops answering, or a write
// waits on a lock another session holds, Evaluate returns an error that
// wraps the context's once its deadline passes — it does not hang — and
// writes nothing.
func TestDatabaseDownOrSlow(t *testing.T) {
	url := pgtest.URL(t)
	ctx := t.Context()
	p := newProxy(t, url)
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.ConnConfig.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", p.ln.Addr().String())
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	schema := pgtest.Schema(t)
	s, err := pgstore.New(ctx, pool, pgstore.WithSchema(schema))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	e, err := ato.New(s, ato.WithSecret(testSecret))
	require.NoError(t, err)
	laptop := fakehash.Random(rand.New(rand.NewPCG(5, 5)))
	login := ato.Request{User: "alice", Fingerprint: laptop, IP: "203.0.113.9"}
	_, err = e.Evaluate(ctx, login)
	require.NoError(t, err)

	direct, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { direct.Close(context.Background()) })
	before := snapshot(t, direct, schema, "alice")

	// evaluate runs an evaluation with a short deadline, with a hang guard
	// far beyond it.
	evaluate := func(what string) {
		t.Helper()
		done := make(chan error, 1)
		go func() {
			c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			_, err := e.Evaluate(c, login)
			done <- err
		}()
		select {
		case err := <-done:
			require.Error(t, err, what)
			assert.True(t, errors.Is(err, context.DeadlineExceeded), "%s: %v", what, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: Evaluate still running 30 s after its 300 ms deadline", what)
		}
	}

	t.Run("down", func(t *testing.T) {
		p.freeze()
		evaluate("a database that does not answer")
		p.unfreeze()
		assert.Equal(t, before, snapshot(t, direct, schema, "alice"), "nothing written")
	})

	t.Run("slow", func(t *testing.T) {
		// Another session holds the lock of alice's writes: the commit
		// waits for it past the deadline, and is cancelled.
		tx, err := direct.Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('alice', $1))`, pgstore.LockSeed(schema))
		require.NoError(t, err)
		evaluate("a write waiting on a lock")
		// The store's context ended, and pgx asked the server to cancel
		// the statement: once the server has, nothing of the batch can
		// commit when the lock goes. (Had the lock gone first, the
		// batch would have committed whole: a write whose context ends
		// after it was sent may still happen, never in part.)
		for i := 0; ; i++ {
			var waiting int
			require.NoError(t, direct.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE wait_event_type = 'Lock' AND query LIKE '%pg_advisory_xact_lock%' AND pid <> pg_backend_pid()`).Scan(&waiting))
			if waiting == 0 {
				break
			}
			require.Less(t, i, 1000, "the cancelled statement still waits on the lock")
			time.Sleep(10 * time.Millisecond)
		}
		require.NoError(t, tx.Rollback(ctx))
		assert.Equal(t, before, snapshot(t, direct, schema, "alice"), "nothing written")
	})

	// And afterwards the store works again.
	_, err = e.Evaluate(ctx, login)
	require.NoError(t, err)
	after := snapshot(t, direct, schema, "alice")
	assert.Equal(t, before[1]+1, after[1], "the next evaluation is recorded")
}
