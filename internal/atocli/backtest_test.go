package atocli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// historyFile writes an export of the event lines, in the order given.
func historyFile(t *testing.T, lines []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "history.jsonl")
	head := `{"type":"header","format":"ato-export","version":1,"exported_at":"2026-06-01T00:00:00Z"}`
	require.NoError(t, os.WriteFile(path, []byte(head+"\n"+strings.Join(lines, "\n")+"\n"), 0o644))
	return path
}

// attempt is the line of an evaluation: recorded as let in (success), or
// as challenged (challenge, the recorded challenge's id).
func attempt(id, user, action string, at time.Time, device, ip, country string, success bool, challenge string) string {
	line := fmt.Sprintf(`{"type":"event","id":%q,"user":%q,"time":%q,"kind":"evaluation","action":%q,"device_id":%q,"ip":%q,"location":{"country":%q,"lat":1,"lon":1}`,
		id, user, at.Format(timeLayout), action, device, ip, country)
	if success {
		line += `,"success":true`
	}
	if challenge != "" {
		line += fmt.Sprintf(`,"challenge_id":%q`, challenge)
	}
	return line + "}"
}

func completed(id, user string, at time.Time, challenge string) string {
	return fmt.Sprintf(`{"type":"event","id":%q,"user":%q,"time":%q,"kind":"challenge_completed","success":true,"challenge_id":%q}`,
		id, user, at.Format(timeLayout), challenge)
}

func backtestJSON(t *testing.T, args ...string) Report {
	t.Helper()
	r := run(t, "", append([]string{"backtest", "-json"}, args...)...)
	require.Equal(t, 0, r.code, r.stderr)
	var rep Report
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	return rep
}

// TestBacktestSamePolicy: a policy that is the baseline changes nothing,
// also where the engine overrides a decision (too many challenges in an
// hour: deny).
func TestBacktestSamePolicy(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	var lines []string
	for i := range 10 {
		lines = append(lines, attempt(fmt.Sprint("ok", i), "victim", "login", t0.AddDate(0, 0, i), "laptop", "198.51.100.7", "NL", true, ""))
	}
	attack := t0.AddDate(0, 0, 20)
	for i := range 20 { // twenty devices in twenty minutes: past the hourly limit
		lines = append(lines, attempt(fmt.Sprint("at", i), "victim", "login", attack.Add(time.Duration(i)*time.Minute), fmt.Sprint("attacker-", i),
			fmt.Sprintf("100.64.10.%d", i+1), "NG", false, fmt.Sprint("rc", i)))
	}
	rep := backtestJSON(t, "-history", historyFile(t, lines), "-policy", policyFile(t))
	assert.Zero(t, rep.Changed, "%+v", rep.Transitions)
	assert.Equal(t, rep.Policies[0].Verdicts, rep.Policies[1].Verdicts)
	assert.Equal(t, rep.Policies[0].Rules, rep.Policies[1].Rules)
	assert.Positive(t, hits(rep.Policies[1], "challenge-limit"), "%+v", rep.Policies[1].Rules)
}

// TestBacktestForks: users whose verdict changes fork into the policy's
// engine with their challenges, and those still open are passed there when
// the history completes them; across shards, and under -race.
func TestBacktestForks(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	type line struct {
		at   time.Time
		text string
	}
	var lines []line
	add := func(at time.Time, text string) { lines = append(lines, line{at, text}) }
	const users = 1500
	for i := range users {
		u := fmt.Sprintf("u%05d", i)
		off := time.Duration(i) * time.Second
		for d := range 3 {
			at := t0.AddDate(0, 0, d).Add(off)
			add(at, attempt(u+fmt.Sprint("ok", d), u, "login", at, "home-"+u, "198.51.100.7", "NL", true, ""))
		}
		// An attacker challenged; the owner's transfer, which the policy
		// denies (the user forks with the attacker's challenge open); the
		// owner's own new phone, challenged and completed.
		at := t0.AddDate(0, 0, 3).Add(off)
		add(at, attempt(u+"a", u, "login", at, "attacker-"+u, fmt.Sprintf("100.64.10.%d", i%250+1), "NG", false, "rc-a-"+u))
		at = at.Add(40 * time.Second)
		add(at, attempt(u+"t", u, "transfer", at, "home-"+u, "198.51.100.7", "NL", true, ""))
		at = at.Add(40 * time.Second)
		add(at, attempt(u+"p", u, "login", at, "phone-"+u, "203.0.113.9", "NL", false, "rc-p-"+u))
		at = at.Add(40 * time.Second)
		add(at, completed(u+"c", u, at, "rc-p-"+u))
		at = t0.AddDate(0, 0, 4).Add(off)
		add(at, attempt(u+"p2", u, "login", at, "phone-"+u, "203.0.113.9", "NL", true, ""))
	}
	slices.SortStableFunc(lines, func(a, b line) int { return a.at.Compare(b.at) })
	var text []string
	for _, l := range lines {
		text = append(text, l.text)
	}
	policy := policyFile(t, `{"name":"no-transfer","when":"action == \"transfer\"","verdict":"deny"}`)
	rep := backtestJSON(t, "-history", historyFile(t, text), "-policy", policy)
	require.Equal(t, []Transition{{From: "allow", To: "deny", Count: users}}, rep.Transitions,
		"the transfers, and nothing else: each forked user's phone passed its challenge in the policy's engine, and is known the next day")
	assert.EqualValues(t, users, hits(rep.Policies[1], "no-transfer"))
	assert.Equal(t, rep.Policies[0].Verdicts["challenge"], rep.Policies[1].Verdicts["challenge"])
}

// TestBacktestOutOfOrder: an event earlier than one before it, in another
// batch, is an error naming its line.
func TestBacktestOutOfOrder(t *testing.T) {
	t0 := time.Date(2026, 5, 2, 8, 0, 0, 0, time.UTC)
	var lines []string
	for i := range backtestBatch + 10 {
		lines = append(lines, attempt(fmt.Sprint("e", i), fmt.Sprint("u", i%50), "login", t0.Add(time.Duration(i)*time.Second), "d", "198.51.100.7", "NL", true, ""))
	}
	lines = append(lines, attempt("late", "u1", "login", t0.AddDate(0, -1, 0), "d", "198.51.100.7", "NL", true, ""))
	r := run(t, "", "backtest", "-history", historyFile(t, lines), "-policy", policyFile(t))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, fmt.Sprintf(`line %d: field "time": 2026-04-02T08:00:00.000Z is before the event above it`, len(lines)+1))
}

// TestBacktestShardsOne: with one shard, a backtest replays in the
// history's order and gives the same report every time, also where users
// share devices (the synthetic attackers use fifty devices across all).
func TestBacktestShardsOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	require.NoError(t, os.WriteFile(path, synthHistory(300, 30, 4), 0o644))
	policy := stricterPolicy(t)
	var reports []Report
	for range 2 {
		rep := backtestJSON(t, "-history", path, "-policy", policy, "-shards", "1")
		rep.Elapsed, rep.EventsPerSecond = 0, 0
		reports = append(reports, rep)
	}
	assert.Equal(t, reports[0], reports[1])
	assert.Positive(t, reports[0].Changed)
}

// TestBacktestBlockedInput: Ctrl-C stops a backtest whose input is a pipe
// that is open and silent, without waiting for it.
func TestBacktestBlockedInput(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		hist := synthHistory(200, 30, 5)
		pw.Write(hist[:bytes.LastIndexByte(hist[:len(hist)/2], '\n')+1]) // and then nothing, the pipe open
	}()
	ctx, cancel := context.WithCancel(context.Background())
	reads := 0
	now := func() time.Time { // read three times at the start, then once a batch is tallied: Ctrl-C at the first
		if reads++; reads == 4 {
			cancel()
		}
		return time.Date(2026, 6, 1, 0, 0, reads, 0, time.UTC)
	}
	done := make(chan ran, 1)
	go func() {
		var out, errOut bytes.Buffer
		code := Run(ctx, []string{"backtest", "-history", "-", "-policy", policyFile(t)},
			Env{Stdin: pr, Stdout: &out, Stderr: &errOut, Now: now, Terminal: true})
		done <- ran{code: code, stdout: out.String(), stderr: errOut.String()}
	}()
	select {
	case r := <-done:
		assert.Equal(t, 130, r.code, r.stderr)
		assert.Contains(t, r.stderr, "ato backtest: interrupted after")
	case <-time.After(30 * time.Second): // a watchdog, not a timing
		t.Fatal("the backtest waits for its input after Ctrl-C")
	}
}

// TestGCPace checks that a backtest paces the collector by its live heap
// while it runs (gcExtra of garbage before a collection, the default once
// the live heap is larger), and puts the pace back once the last of
// overlapping backtests is done, unless GOGC is set.
func TestGCPace(t *testing.T) {
	for live, want := range map[uint64]int{0: 25600, gcMinLive: 25600, 1 << 26: 1600, gcExtra / 2: 200, gcExtra: 100, 8 * gcExtra: 100} {
		assert.Equal(t, want, gcPercent(live), "live heap %d", live)
	}
	pace := func() int { p := debug.SetGCPercent(-1); debug.SetGCPercent(p); return p }
	// paced checks that the pace is the one for the live heap, which a
	// collection may have measured again meanwhile.
	paced := func(g *gcBudget, before uint64, msg string) {
		t.Helper()
		assert.Contains(t, []int{gcPercent(before), gcPercent(g.live())}, pace(), msg)
	}
	was := debug.SetGCPercent(123)
	defer debug.SetGCPercent(was)
	t.Setenv("GOGC", "")
	live := newGCBudget().live()
	g, stop := startGCBudget()
	require.NotNil(t, g)
	paced(g, live, "paced by the live heap while a backtest runs")
	g2, stop2 := startGCBudget()
	require.NotNil(t, g2)
	debug.SetGCPercent(123)
	live = g.live()
	for range gcEvery {
		g.batch()
	}
	paced(g, live, "paced again after gcEvery batches")
	stop()
	assert.NotEqual(t, 123, pace(), "paced while another backtest runs")
	stop2()
	assert.Equal(t, 123, pace(), "the pace before the backtests is back")

	t.Setenv("GOGC", "150")
	g, stop = startGCBudget()
	assert.Nil(t, g)
	g.batch()
	stop()
	assert.Equal(t, 123, pace(), "an operator's GOGC is left alone")
}
