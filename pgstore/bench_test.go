package pgstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/internal/fakehash"
	"github.com/atoguard/ato/internal/pgtest"
	"github.com/atoguard/ato/pgstore"
	"github.com/atoguard/ato/verdict"
	"github.com/jackc/pgx/v5"
)

// steppingClock is an engine clock that moves by step at each reading.
func steppingClock(step time.Duration) func() time.Time {
	var now atomic.Int64
	now.Store(time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC).UnixNano())
	return func() time.Time { return time.Unix(0, now.Add(int64(step))).UTC() }
}

// benchUsers is how many users a benchmark's schema holds besides alice.
const benchUsers = 1000

// benchEngine is an engine on a new schema with benchUsers users, each
// with a device of their own, and alice, whose laptop logged in 50 times
// from home.
func benchEngine(b *testing.B, schema string) (*ato.Engine, *pgstore.Store, string) {
	b.Helper()
	s, err := pgstore.Open(b.Context(), pgtest.URL(b), pgstore.WithSchema(schema))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	e, err := ato.New(s, ato.WithClock(steppingClock(time.Second)), ato.WithSecret(testSecret))
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range benchUsers {
		ip := fmt.Sprintf("10.0.%d.%d", i>>8, i&255)
		if _, err := e.Evaluate(ctx, ato.Request{User: fmt.Sprint("user", i), Fingerprint: fakehash.Random(r), IP: ip}); err != nil {
			b.Fatal(err)
		}
	}
	laptop := fakehash.Random(r)
	for range 50 {
		if _, err := e.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: laptop, IP: "203.0.113.9"}); err != nil {
			b.Fatal(err)
		}
	}
	return e, s, laptop
}

// BenchmarkEvaluate evaluates on PostgreSQL (over a unix socket): a known
// device presenting the hash it presented last (the hot path), a device
// drifting one signal at a time (a fuzzy match), a device the user never
// used. Compare known with BenchmarkFloor.
func BenchmarkEvaluate(b *testing.B) {
	e, _, laptop := benchEngine(b, pgtest.Schema(b))
	ctx := b.Context()
	b.Run("known", func(b *testing.B) {
		req := ato.Request{User: "alice", Fingerprint: laptop, LastFingerprint: laptop, IP: "203.0.113.9"}
		b.ReportAllocs()
		for b.Loop() {
			res, err := e.Evaluate(ctx, req)
			if err != nil || res.Verdict != verdict.Allow || len(res.Reasons) > 0 {
				b.Fatal(err, res.Verdict, res.Reasons)
			}
		}
	})
	// The drift and the new devices go on from where they were when -count
	// runs them again: starting over would present hashes the engine has
	// learnt.
	r := rand.New(rand.NewPCG(3, 4))
	h := laptop
	b.Run("drifted", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			h = fakehash.Drift(r, h)
			b.StartTimer()
			res, err := e.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: h, IP: "203.0.113.9"})
			if err != nil || res.Verdict != verdict.Allow || res.Confidence == 1 {
				b.Fatal(err, res.Verdict, res.Reasons, res.Confidence)
			}
		}
	})
	rn := rand.New(rand.NewPCG(5, 6))
	i := 0
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			h := fakehash.Random(rn)
			b.StartTimer()
			res, err := e.Evaluate(ctx, ato.Request{User: fmt.Sprint("user", i%benchUsers), Fingerprint: h,
				IP: fmt.Sprintf("10.0.%d.%d", i%benchUsers>>8, i%benchUsers&255)})
			if err != nil || res.Verdict != verdict.Allow {
				b.Fatal(err, res.Verdict)
			}
			i++
		}
	})
}

// BenchmarkFloor is what any store must do for the evaluation of a known
// device, in plain pgx on the same server, with tables of the same shape
// holding alice's rows: one SELECT round trip reading her profile, her
// device and the three counts; one batch writing the profile back,
// appending an event and dropping her oldest, under a lock of her writes.
func BenchmarkFloor(b *testing.B) {
	schema := pgtest.Schema(b)
	benchEngine(b, schema)
	ctx := b.Context()
	pool := newPool(b, pgtest.URL(b))
	// The floor's own tables: copies of the store's, with their indexes.
	src, dst := pgx.Identifier{schema}.Sanitize(), pgx.Identifier{schema + "_floor"}.Sanitize()
	b.Cleanup(func() { pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+dst+` CASCADE`) })
	for _, q := range []string{
		`CREATE SCHEMA ` + dst,
		`CREATE TABLE ` + dst + `.profiles (LIKE ` + src + `.profiles INCLUDING ALL) WITH (fillfactor = 70)`,
		`CREATE TABLE ` + dst + `.devices (LIKE ` + src + `.devices INCLUDING ALL)`,
		`CREATE TABLE ` + dst + `.events (LIKE ` + src + `.events INCLUDING ALL)`,
		`CREATE TABLE ` + dst + `.failures (LIKE ` + src + `.failures INCLUDING ALL)`,
		`CREATE TABLE ` + dst + `.network_failures (LIKE ` + src + `.network_failures INCLUDING ALL)`,
		`CREATE TABLE ` + dst + `.challenges (LIKE ` + src + `.challenges INCLUDING ALL)`,
		`INSERT INTO ` + dst + `.profiles SELECT * FROM ` + src + `.profiles WHERE user_id = 'alice'`,
		`INSERT INTO ` + dst + `.devices SELECT * FROM ` + src + `.devices`,
		`INSERT INTO ` + dst + `.events OVERRIDING SYSTEM VALUE SELECT * FROM ` + src + `.events WHERE user_id = 'alice'`,
		`ALTER TABLE ` + dst + `.events ALTER COLUMN seq RESTART WITH 1000000000`,
		`ANALYZE ` + dst + `.profiles, ` + dst + `.devices, ` + dst + `.events`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			b.Fatal(q, err)
		}
	}
	var deviceID string
	if err := pool.QueryRow(ctx, `SELECT device_ids[1] FROM `+dst+`.profiles WHERE user_id = 'alice'`).Scan(&deviceID); err != nil {
		b.Fatal(err)
	}
	read := `SELECT p.version, p.data, d.id, d.hashes, d.keys, d.first_seen, d.last_seen, d.user_ids, d.user_seen,
			(SELECT count(*) FROM (SELECT 1 FROM ` + dst + `.failures WHERE user_id = $1 AND time >= $3 LIMIT 64) f),
			(SELECT count(*) FROM (SELECT 1 FROM ` + dst + `.network_failures WHERE network = $4 AND time >= $3 LIMIT 64) n),
			(SELECT count(*) FROM (SELECT 1 FROM ` + dst + `.challenges WHERE user_id = $1 AND created_at >= $3 LIMIT 10) c)
		FROM ` + dst + `.profiles p, ` + dst + `.devices d WHERE p.user_id = $1 AND d.id = $2`
	lock := `SELECT pg_advisory_xact_lock(hashtextextended($1, 1))`
	write := `UPDATE ` + dst + `.profiles SET version = $2, data = $3 WHERE user_id = $1`
	insert := `INSERT INTO ` + dst + `.events (id, user_id, time, kind, action, verdict, success, device_id, ip, network,
			located, country, region, city, latitude, longitude, accuracy_km, asn, reasons, challenge_id)
		VALUES ($1, $2, $3, 'evaluation', 'login', 'allow', true, $4, '203.0.113.9', '203.0.113.9', false, '', '', '', 0, 0, 0, 0, NULL, '')`
	trim := `DELETE FROM ` + dst + `.events WHERE seq = (SELECT min(seq) FROM ` + dst + `.events WHERE user_id = $1)`
	since := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		var (
			version             int64
			data                []byte
			id                  string
			hashes, keys, users []string
			first, last         time.Time
			seen                []time.Time
			n                   [3]int64
		)
		if err := pool.QueryRow(ctx, read, "alice", deviceID, since, "203.0.113.9").Scan(&version, &data, &id, &hashes, &keys,
			&first, &last, &users, &seen, &n[0], &n[1], &n[2]); err != nil {
			b.Fatal(err)
		}
		var batch pgx.Batch
		batch.Queue(lock, "alice")
		batch.Queue(write, "alice", version+1, data)
		batch.Queue(insert, "e"+strconv.Itoa(i), "alice", since.Add(time.Duration(i)*time.Second), id)
		batch.Queue(trim, "alice")
		if err := pool.SendBatch(ctx, &batch).Close(); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// throughputEnv makes TestThroughputChild a process of
// BenchmarkThroughput/processes=2: the schema, the evaluations it runs and
// its number, space separated.
const throughputEnv = "ATO_PGSTORE_THROUGHPUT"

// BenchmarkThroughput evaluates known devices of different users from
// many goroutines at once: from 16 goroutines in this process on one
// store, and from 2 processes (this test binary again) of 8 goroutines and
// a store each. ns/op is the wall time per evaluation.
func BenchmarkThroughput(b *testing.B) {
	schema := pgtest.Schema(b)
	s, err := pgstore.Open(b.Context(), pgtest.URL(b), pgstore.WithSchema(schema))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const users = 256
	reqs := throughputRequests(users)
	e, err := ato.New(s, ato.WithClock(steppingClock(time.Second)), ato.WithSecret(testSecret))
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range reqs {
		if _, err := e.Evaluate(b.Context(), r); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("goroutines=16", func(b *testing.B) {
		s, err := pgstore.Open(b.Context(), withPoolSize(pgtest.URL(b), 16), pgstore.WithSchema(schema))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		e, err := ato.New(s, ato.WithClock(steppingClock(time.Second)), ato.WithSecret(testSecret))
		if err != nil {
			b.Fatal(err)
		}
		var worker atomic.Int64
		b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(worker.Add(1)) * 17
			for pb.Next() {
				if _, err := e.Evaluate(b.Context(), reqs[i%users]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
	b.Run("processes=2", func(b *testing.B) {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		outs := make([][]byte, 2)
		for p := range 2 {
			wg.Go(func() {
				n := b.N / 2
				if p == 0 {
					n += b.N % 2
				}
				cmd := exec.CommandContext(b.Context(), os.Args[0], "-test.run=^TestThroughputChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d", throughputEnv, schema, n, p), pgtest.Env+"="+pgtest.URL(b))
				outs[p], errs[p] = cmd.CombinedOutput()
			})
		}
		wg.Wait()
		for p := range errs {
			if errs[p] != nil {
				b.Fatalf("process %d: %v\n%s", p, errs[p], outs[p])
			}
		}
	})
}

// throughputRequests are the logins of BenchmarkThroughput: a known
// device of each user.
func throughputRequests(users int) []ato.Request {
	r := rand.New(rand.NewPCG(11, 12))
	reqs := make([]ato.Request, users)
	for i := range reqs {
		fp := fakehash.Random(r)
		reqs[i] = ato.Request{User: fmt.Sprint("t", i), Fingerprint: fp, LastFingerprint: fp, IP: fmt.Sprintf("10.1.%d.%d", i>>8, i&255)}
	}
	return reqs
}

// withPoolSize returns the connection string url with a pool of n
// connections.
func withPoolSize(url string, n int) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "pool_max_conns=" + strconv.Itoa(n)
}

// TestThroughputChild is one process of BenchmarkThroughput/processes=2:
// 8 goroutines evaluating known devices. It does nothing unless started by
// it.
func TestThroughputChild(t *testing.T) {
	v := os.Getenv(throughputEnv)
	if v == "" {
		return
	}
	var schema string
	var n, p int
	if _, err := fmt.Sscan(v, &schema, &n, &p); err != nil {
		t.Fatal(err)
	}
	s, err := pgstore.Open(t.Context(), withPoolSize(pgtest.URL(t), 8), pgstore.WithSchema(schema), pgstore.WithoutMigrations())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e, err := ato.New(s, ato.WithClock(steppingClock(time.Second)), ato.WithSecret(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	const users = 256
	reqs := throughputRequests(users)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if _, err := e.Evaluate(t.Context(), reqs[(int(i)*16+w*2+p)%users]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
