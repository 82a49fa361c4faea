package atod

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/sqlitestore"
	"github.com/atoguard/ato/storage"
)

// benchServer is atod over a store, on a loopback listener, logging JSON
// to nowhere (the formatting is paid for), with users 0..users-1 known on
// a laptop each.
func benchServer(b *testing.B, store storage.Store, users int) (*httptest.Server, *Server) {
	b.Helper()
	srv, err := New(Config{
		Store: store, Keys: []string{testKey},
		EngineOptions: []ato.Option{ato.WithSecret([]byte("0123456789abcdef0123456789abcdef"))},
		Logger:        slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	for u := range users {
		if _, err := srv.Engine().Evaluate(context.Background(), knownLogin(u)); err != nil {
			b.Fatal(err)
		}
	}
	ts := httptest.NewServer(srv)
	b.Cleanup(ts.Close)
	return ts, srv
}

// knownLogin is user u on their laptop at home: a known device presenting
// its last hash, the hot path.
func knownLogin(u int) ato.Request {
	fp := strings.Repeat(fmt.Sprintf("%08x", uint32(u+1)*2654435761), 256) // a browser of its own
	return ato.Request{User: fmt.Sprintf("user-%d", u), Fingerprint: fp, LastFingerprint: fp, IP: "203.0.113.9",
		Version: "2.32.0", Email: "someone@example.com", Metadata: map[string]string{"key": "value"}}
}

// evaluateBody is the JSON an application sends for knownLogin(u).
func evaluateBody(u int) []byte {
	r := knownLogin(u)
	data, _ := json.Marshal(map[string]any{"action": "login", "user": r.User, "fingerprint": r.Fingerprint,
		"last_fingerprint": r.LastFingerprint, "version": r.Version, "ip": r.IP, "email": r.Email, "metadata": r.Metadata})
	return data
}

// benchClient keeps conns connections open to each server.
func benchClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns}}
}

// roundTrip posts body to url and reads the answer, which must be a 200.
func roundTrip(c *http.Client, url string, body []byte) error {
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}

// bareServer is the floor: a loopback HTTP server that decodes the same
// JSON request into a struct and answers a JSON body of the same size as
// atod's, with nothing in between.
func bareServer(b *testing.B) *httptest.Server {
	type request struct {
		Action, User, Fingerprint, Version, IP, Email string
		LastFingerprint                               string `json:"last_fingerprint"`
		Metadata                                      map[string]string
	}
	answer := EvaluateResponse{Verdict: "allow", FingerprintID: "c361763b-a740-816c-9df3-efe55cb90f9f", Reasons: []string{},
		EvaluationID: "177b1a87-dd86-42fa-bbbf-efc3be0591b8", Confidence: 1, Rule: "otherwise",
		Explanation: "allow: nothing unusual, rule otherwise", Restrictions: []string{},
		DeviceToken: "AZfA19gGJGMzNjE3NjNiLWE3NDAtODE2Yy05ZGYzLWVmZTU1Y2I5MGY5ZqBkMc3blApIUrEt5LPRXBA"}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(answer)
	}))
	b.Cleanup(ts.Close)
	return ts
}

// BenchmarkRoundTrip is the pair the README quotes: one evaluate of a
// known device through atod on loopback (memstore), a bare loopback JSON
// round trip of the same request and answer sizes, and the library's own
// cost (Engine.Evaluate, no HTTP). overhead is what atod adds to the bare
// round trip (auth, decoding, metrics, logging), the library's cost aside.
func BenchmarkRoundTrip(b *testing.B) {
	const users = 64
	atod, srv := benchServer(b, memstore.New(), users)
	bare := bareServer(b)
	bodies, reqs := make([][]byte, users), make([]ato.Request, users)
	for u := range bodies {
		bodies[u], reqs[u] = evaluateBody(u), knownLogin(u)
	}
	c := benchClient(1)
	b.Run("bare", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := roundTrip(c, bare.URL, bodies[i%users]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("atod", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := roundTrip(c, atod.URL+"/v2/devices/evaluate", bodies[i%users]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := srv.Engine().Evaluate(context.Background(), reqs[i%users]); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The three interleaved, so that the ratios compare like with like on
	// a shared machine.
	b.Run("ratio", func(b *testing.B) {
		var tBare, tAtod, tLib time.Duration
		for i := 0; b.Loop(); i++ {
			body, req := bodies[i%users], reqs[i%users]
			t0 := time.Now()
			if err := roundTrip(c, bare.URL, body); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := roundTrip(c, atod.URL+"/v2/devices/evaluate", body); err != nil {
				b.Fatal(err)
			}
			t2 := time.Now()
			if _, err := srv.Engine().Evaluate(context.Background(), req); err != nil {
				b.Fatal(err)
			}
			t3 := time.Now()
			tBare, tAtod, tLib = tBare+t1.Sub(t0), tAtod+t2.Sub(t1), tLib+t3.Sub(t2)
		}
		n := float64(b.N)
		b.ReportMetric(float64(tBare.Nanoseconds())/n, "bare-ns")
		b.ReportMetric(float64(tAtod.Nanoseconds())/n, "atod-ns")
		b.ReportMetric(float64(tLib.Nanoseconds())/n, "library-ns")
		b.ReportMetric(float64(tAtod)/float64(tBare), "atod/bare")
		b.ReportMetric(float64(tAtod-tLib)/float64(tBare), "(atod-library)/bare")
	})
}

// BenchmarkLoad is the load test: 64 concurrent clients, each on its own
// connection, send b.N evaluates in all (run it with a fixed count, e.g.
// -benchtime=6400x) for 256 users' known devices; any error fails it, and
// it reports the latency's median and 99th percentile.
func BenchmarkLoad(b *testing.B) {
	const clients, users = 64, 256
	for _, st := range []struct {
		name string
		open func(b *testing.B) storage.Store
	}{
		{"memstore", func(*testing.B) storage.Store { return memstore.New() }},
		{"sqlite", func(b *testing.B) storage.Store {
			s, err := sqlitestore.Open(filepath.Join(b.TempDir(), "atod.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
	} {
		b.Run(st.name, func(b *testing.B) {
			ts, _ := benchServer(b, st.open(b), users)
			url := ts.URL + "/v2/devices/evaluate"
			bodies := make([][]byte, users)
			for u := range bodies {
				bodies[u] = evaluateBody(u)
			}
			c := benchClient(clients)
			var next, errs atomic.Int64
			var firstErr atomic.Value
			lat := make([][]time.Duration, clients)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						t0 := time.Now()
						if err := roundTrip(c, url, bodies[i%users]); err != nil {
							errs.Add(1)
							firstErr.CompareAndSwap(nil, err)
						}
						lat[w] = append(lat[w], time.Since(t0))
					}
				}()
			}
			wg.Wait()
			wall := time.Since(start)
			b.StopTimer()
			if n := errs.Load(); n > 0 {
				b.Fatalf("%d of %d requests failed, the first: %v", n, b.N, firstErr.Load())
			}
			all := slices.Concat(lat...)
			slices.Sort(all)
			b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(b.N)/wall.Seconds(), "req/s")
			b.ReportMetric(0, "errors")
		})
	}
}
