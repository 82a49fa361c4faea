package atocli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/verdict"
)

// synthHistory writes an export of a month of a site's logins, without an
// engine (an engine's run is what makes a history; this one only has to
// have a history's shape, fast, at any size): users who log in about once
// a day from one of their one to three devices, at home or on their phone's
// network, a few on trips abroad; one attempt in twenty is an attacker's
// from a new device and a foreign network, which the history records as a
// challenge never completed.
func synthHistory(users, days int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	start := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var evs []storage.Event
	home := []storage.Event{
		{Located: true, Country: "NL", City: "Amsterdam", Region: "North Holland", Latitude: 52.37, Longitude: 4.89, AccuracyKm: 20, ASN: 1136},
		{Located: true, Country: "DE", City: "Berlin", Region: "Berlin", Latitude: 52.52, Longitude: 13.40, AccuracyKm: 20, ASN: 3320},
		{Located: true, Country: "GB", City: "London", Region: "England", Latitude: 51.51, Longitude: -0.13, AccuracyKm: 20, ASN: 5089},
	}
	abroad := storage.Event{Located: true, Country: "PT", City: "Lisbon", Region: "Lisbon", Latitude: 38.72, Longitude: -9.14, AccuracyKm: 20, ASN: 3243}
	attacker := storage.Event{Located: true, Country: "NG", City: "Lagos", Region: "Lagos", Latitude: 6.45, Longitude: 3.39, AccuracyKm: 50, ASN: 37148}
	for u := range users {
		user := fmt.Sprintf("user%06d@example.com", u)
		devices := 1 + r.IntN(3)
		h := home[u%len(home)]
		trip := r.IntN(8) == 0
		for d := range days {
			t := start.AddDate(0, 0, d).Add(time.Duration(r.IntN(24*3600)) * time.Second)
			e := h
			e.User, e.Time, e.Kind, e.Action, e.Verdict, e.Success = user, t, storage.KindEvaluation, "login", "allow", true
			if d == 0 {
				e.Action = "signup"
			}
			dev := r.IntN(devices)
			e.DeviceID = fmt.Sprintf("%08x-0000-4000-8000-%012x", u, dev)
			e.IP = fmt.Sprintf("10.%d.%d.%d", u>>16&255, u>>8&255, u&255)
			if dev == 2 {
				e.IP = fmt.Sprintf("100.%d.%d.%d", 64+u%64, u>>8&255, r.IntN(256))
			}
			if trip && d >= 20 && d < 24 {
				loc := abroad
				loc.User, loc.Time, loc.Kind, loc.Action, loc.Verdict, loc.Success, loc.DeviceID = e.User, e.Time, e.Kind, e.Action, e.Verdict, e.Success, e.DeviceID
				loc.IP = fmt.Sprintf("192.0.2.%d", u%250)
				e = loc
			}
			evs = append(evs, e)
			if r.IntN(20) == 0 {
				a := attacker
				a.User, a.Time, a.Kind, a.Action, a.Verdict = user, t.Add(time.Hour), storage.KindEvaluation, "login", "challenge"
				a.DeviceID = fmt.Sprintf("ffffffff-0000-4000-8000-%012x", r.IntN(50))
				a.IP = fmt.Sprintf("100.64.%d.%d", r.IntN(4), r.IntN(256))
				a.ChallengeID = fmt.Sprintf("c%d-%d", u, d)
				evs = append(evs, a)
			}
		}
	}
	slices.SortStableFunc(evs, func(a, b storage.Event) int { return a.Time.Compare(b.Time) })
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `{"type":"header","format":"ato-export","version":1,"exported_at":"2026-06-01T00:00:00Z"}`+"\n")
	var line []byte
	for i := range evs {
		evs[i].ID = fmt.Sprintf("e%d", i)
		line = appendEvent(line[:0], &evs[i])
		buf.Write(line)
		buf.WriteByte('\n')
	}
	fmt.Fprintf(&buf, `{"type":"end","events":%d,"users":0,"devices":0}`+"\n", len(evs))
	return buf.Bytes()
}

// stricterPolicy is the default policy, but a known device in a new
// country is challenged rather than restricted: the experiment an operator
// is likeliest to try.
func stricterPolicy(t testing.TB) string {
	rules := verdict.Default()
	for i := range rules {
		if rules[i].Name == "new-country" {
			rules[i].Verdict = verdict.Challenge
		}
	}
	data, err := rules.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "stricter.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// benchHistory writes the synthetic month to a file, as an operator's
// export is, and returns its path and number of events: the backtest reads
// it as the command does, with no copy of it live in the heap.
func benchHistory(b *testing.B) (string, int) {
	b.Helper()
	hist := synthHistory(10000, 30, 1)
	path := filepath.Join(b.TempDir(), "month.jsonl")
	if err := os.WriteFile(path, hist, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(hist)))
	lines := bytes.Count(hist, []byte("\n")) - 2
	runtime.GC() // the synthesis's garbage is not the backtest's
	return path, lines
}

// BenchmarkBacktest replays a synthetic month (~320,000 events of 10,000
// users) under the default policy and a stricter one, from the export's
// lines to the report: the events/s metric is the figure in the README.
func BenchmarkBacktest(b *testing.B) {
	path, lines := benchHistory(b)
	policy := stricterPolicy(b)
	b.ResetTimer()
	for b.Loop() {
		r := runEnv(b, context.Background(), Env{Now: time.Now}, "backtest", "-history", path, "-policy", policy)
		if r.code != 0 {
			b.Fatal(r.stderr)
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkBacktestRead is the floor: reading the same lines, without a
// replay.
func BenchmarkBacktestRead(b *testing.B) {
	path, lines := benchHistory(b)
	b.ResetTimer()
	for b.Loop() {
		src, err := fileSource(path, nil, "", time.Time{})
		if err != nil {
			b.Fatal(err)
		}
		batch := make([]storage.Event, 0, backtestBatch)
		for {
			batch, err = src.next(context.Background(), batch[:0])
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		src.close()
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
