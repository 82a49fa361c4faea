package sqlitestore_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/internal/fakehash"
	"github.com/atoguard/ato/sqlitestore"
	"github.com/atoguard/ato/verdict"
)

func benchClock() func() time.Time { return steppingClock(time.Second) }

// steppingClock is an engine clock that moves by step at each reading.
func steppingClock(step time.Duration) func() time.Time {
	var now atomic.Int64
	now.Store(time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC).UnixNano())
	return func() time.Time { return time.Unix(0, now.Add(int64(step))).UTC() }
}

// benchEngine is an engine on a new database file with 1,000 users, each
// with a device of their own, and alice, whose laptop logged in 50 times
// from home.
func benchEngine(b *testing.B) (*ato.Engine, *sqlitestore.Store, string) {
	b.Helper()
	s, err := sqlitestore.Open(filepath.Join(b.TempDir(), "ato.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	e, err := ato.New(s, ato.WithClock(benchClock()))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
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

// BenchmarkEvaluate evaluates on a SQLite file: a known device presenting
// the hash it presented last (the hot path), a device drifting one signal
// at a time (a fuzzy match), a device the user never used. Compare
// known with BenchmarkFloor.
func BenchmarkEvaluate(b *testing.B) {
	e, _, laptop := benchEngine(b)
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
			res, err := e.Evaluate(ctx, ato.Request{User: fmt.Sprint("user", i%1000), Fingerprint: h,
				IP: fmt.Sprintf("10.0.%d.%d", i%1000>>8, i%1000&255)})
			if err != nil || res.Verdict != verdict.Allow {
				b.Fatal(err, res.Verdict)
			}
			i++
		}
	})
}

// BenchmarkFloor is what any store must do for the evaluation of a known
// device, written with plain database/sql on a file with the same pragmas
// and the same connections: in one read transaction, read the profile
// (the bytes of alice's, as sqlitestore keeps it), the device's row and
// the counts of failures and challenges; in one write transaction, write
// the profile back, add an event of the same columns and drop the oldest.
// The events are indexed by user and time (a user's history) and by time
// (retention), as a store of them must be.
func BenchmarkFloor(b *testing.B) {
	// alice's profile and device, as the engine wrote them.
	_, s, laptop := benchEngine(b)
	ctx := b.Context()
	var profileData []byte
	var version int64
	if err := sqlitestore.ReadDB(s).QueryRowContext(ctx, `SELECT version, data FROM profiles WHERE user_id = 'alice'`).Scan(&version, &profileData); err != nil {
		b.Fatal(err)
	}
	var dev [6]any
	if err := sqlitestore.ReadDB(s).QueryRowContext(ctx, `SELECT id, hashes, keys, first_seen, last_seen, users FROM devices
		WHERE id IN (SELECT device_id FROM device_keys WHERE lookup_key = ?1)`, fingerprint.Key(laptop)).
		Scan(&dev[0], &dev[1], &dev[2], &dev[3], &dev[4], &dev[5]); err != nil {
		b.Fatal(err)
	}

	path := filepath.Join(b.TempDir(), "floor.db")
	uri, err := sqlitestore.FileURI(path)
	if err != nil {
		b.Fatal(err)
	}
	const pragmas = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)"
	w, err := sql.Open("sqlite", uri+pragmas+"&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	w.SetMaxOpenConns(1)
	for _, q := range []string{
		`CREATE TABLE profiles (user_id TEXT NOT NULL PRIMARY KEY, version INTEGER NOT NULL, data BLOB NOT NULL) STRICT`,
		`CREATE TABLE devices (id TEXT NOT NULL PRIMARY KEY, hashes TEXT, keys TEXT, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, users TEXT) STRICT`,
		`CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, user_id TEXT NOT NULL, time INTEGER NOT NULL,
			kind TEXT NOT NULL, action TEXT NOT NULL, verdict TEXT NOT NULL, success INTEGER NOT NULL, device_id TEXT NOT NULL,
			ip TEXT NOT NULL, network TEXT NOT NULL, located INTEGER NOT NULL, country TEXT NOT NULL, region TEXT NOT NULL,
			city TEXT NOT NULL, latitude REAL NOT NULL, longitude REAL NOT NULL, accuracy_km REAL NOT NULL, asn INTEGER NOT NULL,
			reasons TEXT, challenge_id TEXT NOT NULL) STRICT`,
		`CREATE INDEX events_user_time ON events (user_id, time)`,
		`CREATE INDEX events_time ON events (time)`, // for retention, as any store needs
		`CREATE TABLE failures (seq INTEGER PRIMARY KEY, user_id TEXT NOT NULL, time INTEGER NOT NULL, known_device INTEGER NOT NULL) STRICT`,
		`CREATE INDEX failures_user_time ON failures (user_id, time)`,
		`CREATE TABLE network_failures (network TEXT NOT NULL, user_id TEXT NOT NULL, time INTEGER NOT NULL, PRIMARY KEY (network, user_id)) STRICT, WITHOUT ROWID`,
		`CREATE INDEX network_failures_recent ON network_failures (network, time)`,
		`CREATE TABLE challenges (id TEXT NOT NULL PRIMARY KEY, user_id TEXT NOT NULL, created_at INTEGER NOT NULL) STRICT`,
		`CREATE INDEX challenges_user_created ON challenges (user_id, created_at)`,
	} {
		if _, err := w.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := w.ExecContext(ctx, `INSERT INTO profiles VALUES ('alice', 1, ?1)`, profileData); err != nil {
		b.Fatal(err)
	}
	if _, err := w.ExecContext(ctx, `INSERT INTO devices VALUES (?1, ?2, ?3, ?4, ?5, ?6)`, dev[:]...); err != nil {
		b.Fatal(err)
	}
	insertEvent := `INSERT INTO events (id, user_id, time, kind, action, verdict, success, device_id, ip, network, located,
		country, region, city, latitude, longitude, accuracy_km, asn, reasons, challenge_id)
		VALUES (?1, 'alice', ?2, 'evaluation', 'login', 'allow', 1, ?3, '203.0.113.9', '203.0.113.9', 0, '', '', '', 0, 0, 0, 0, NULL, '')`
	for i := range 50 {
		if _, err := w.ExecContext(ctx, insertEvent, fmt.Sprint("seed", i), int64(i), dev[0]); err != nil {
			b.Fatal(err)
		}
	}
	read := func(q string) *sql.Stmt {
		st, err := w.PrepareContext(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	qProfile := read(`SELECT version, data FROM profiles WHERE user_id = ?1`)
	qDevice := read(`SELECT id, hashes, keys, first_seen, last_seen, users FROM devices WHERE id = ?1`)
	qCounts := read(`SELECT
		(SELECT count(*) FROM (SELECT 1 FROM failures WHERE user_id = ?1 AND time >= ?2 LIMIT 64)),
		(SELECT count(*) FROM (SELECT 1 FROM network_failures WHERE network = ?3 AND time >= ?2 LIMIT 64)),
		(SELECT count(*) FROM (SELECT 1 FROM challenges WHERE user_id = ?1 AND created_at >= ?2 LIMIT 10))`)
	qWrite := read(`UPDATE profiles SET version = version + 1, data = ?2 WHERE user_id = ?1`)
	qInsert := read(insertEvent)
	qTrim := read(`DELETE FROM events WHERE seq = (SELECT min(seq) FROM events WHERE user_id = 'alice')`)

	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rt, err := w.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		var v int64
		var data []byte
		var d [6]any
		var n [3]int
		err = rt.StmtContext(ctx, qProfile).QueryRowContext(ctx, "alice").Scan(&v, &data)
		if err == nil {
			err = rt.StmtContext(ctx, qDevice).QueryRowContext(ctx, dev[0]).Scan(&d[0], &d[1], &d[2], &d[3], &d[4], &d[5])
		}
		if err == nil {
			err = rt.StmtContext(ctx, qCounts).QueryRowContext(ctx, "alice", int64(i), "203.0.113.9").Scan(&n[0], &n[1], &n[2])
		}
		if err == nil {
			err = rt.Commit()
		}
		if err != nil {
			b.Fatal(err)
		}
		wt, err := w.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		_, err = wt.StmtContext(ctx, qWrite).ExecContext(ctx, "alice", data)
		if err == nil {
			_, err = wt.StmtContext(ctx, qInsert).ExecContext(ctx, fmt.Sprint("e", i), int64(100+i), dev[0])
		}
		if err == nil {
			_, err = wt.StmtContext(ctx, qTrim).ExecContext(ctx)
		}
		if err == nil {
			err = wt.Commit()
		}
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkFailureFlood records failed passwords for made-up users, each
// from a network of its own, and reports the file's growth per failure
// (bytes/failure): what a flood costs on disk while it is kept.
func BenchmarkFailureFlood(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ato.db")
	s, err := sqlitestore.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	// A millisecond apart: all of them inside the hour they are kept.
	e, err := ato.New(s, ato.WithClock(steppingClock(time.Millisecond)))
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	size := func() int64 {
		var pages, pageSize int64
		db := sqlitestore.ReadDB(s)
		if err := db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
			b.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
			b.Fatal(err)
		}
		return pages * pageSize
	}
	before := size()
	i := 0
	for b.Loop() {
		if err := e.RecordFailure(ctx, ato.Request{User: fmt.Sprintf("made-up-user-%08d", i),
			IP: fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff)}); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(size()-before)/float64(i), "bytes/failure")
}

// BenchmarkRecordFailure records a first failed password for accounts
// with a history and for names the store has never seen: the two must cost
// the same, or the time would tell an attacker which names are accounts.
func BenchmarkRecordFailure(b *testing.B) {
	e, _, laptop := benchEngine(b)
	ctx := b.Context()
	for _, who := range []string{"history", "unknown"} {
		b.Run(who, func(b *testing.B) {
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				user := fmt.Sprint("user", i%1000)
				if who == "unknown" {
					user = fmt.Sprint("nobody", i)
				}
				if err := e.RecordFailure(ctx, ato.Request{User: user, Fingerprint: laptop, IP: "203.0.113.9"}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkPlantedTies plants 22 × 64 devices that tie on the 22 keys of a
// "bomb" hash (an ordinary account logging in from made-up browsers, each
// sharing one segment with it), then records failed passwords and logins
// carrying the bomb, beside the same with a hash nothing ties with.
func BenchmarkPlantedTies(b *testing.B) {
	e, _, _ := benchEngine(b)
	ctx := b.Context()
	r := rand.New(rand.NewPCG(9, 9))
	bomb := fakehash.Random(r)
	for seg := range 22 {
		for range 64 {
			h := []byte(fakehash.Random(r))
			copy(h[seg*94:min((seg+1)*94, 2048)], bomb[seg*94:min((seg+1)*94, 2048)])
			if _, err := e.Evaluate(ctx, ato.Request{User: "mallory", Fingerprint: string(h), IP: "192.0.2.66"}); err != nil {
				b.Fatal(err)
			}
		}
	}
	plain := fakehash.Random(r)
	for _, tc := range []struct{ name, hash string }{{"failure/plain", plain}, {"failure/bomb", bomb}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := e.RecordFailure(ctx, ato.Request{User: "user7", Fingerprint: tc.hash, IP: "192.0.2.99"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, tc := range []struct{ name, hash string }{{"login/plain", plain}, {"login/bomb", bomb}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				// A new device on a new network: challenged, so nothing is
				// learnt and every attempt reads the candidates again.
				if _, err := e.Evaluate(ctx, ato.Request{User: "user7", Fingerprint: tc.hash, IP: "192.0.2.99"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
