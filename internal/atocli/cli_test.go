package atocli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/internal/pgtest"
	"github.com/atoguard/ato/internal/storeopen"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"
)

func TestUser(t *testing.T) {
	f := recorded(t)
	traveler := f.travelers[0]

	r := run(t, "", "user", "-db", f.db, traveler)
	require.Equal(t, 0, r.code, r.stderr)
	out := r.stdout
	assert.Contains(t, out, `user "`+traveler+`"`)
	assert.Contains(t, out, "2 KNOWN DEVICES")
	assert.Contains(t, out, "Chrome 131 on Linux", "the browser and system of the user agent")
	assert.Contains(t, out, "Lisbon, PT", "the trip is in the history")
	assert.Contains(t, out, "Amsterdam, NL")
	assert.Contains(t, out, "new_country")
	assert.Contains(t, out, "RECENT EVENTS (15 of the")

	r = run(t, "", "user", "-db", f.db, "-json", "-events", "3", traveler)
	require.Equal(t, 0, r.code, r.stderr)
	var got struct {
		User    string `json:"user"`
		Devices []struct {
			ID        string `json:"id"`
			UserAgent string `json:"user_agent"`
			Logins    int    `json:"logins"`
			Trusted   bool   `json:"trusted"`
		} `json:"devices"`
		Events []struct {
			Kind    string `json:"kind"`
			Verdict string `json:"verdict"`
		} `json:"events"`
		Countries []struct {
			Key string `json:"key"`
		} `json:"countries"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	assert.Equal(t, traveler, got.User)
	require.Len(t, got.Devices, 2)
	assert.Len(t, got.Events, 3)
	assert.Contains(t, got.Devices[0].UserAgent+got.Devices[1].UserAgent, "Chrome/131")
	logins := got.Devices[0].Logins + got.Devices[1].Logins
	assert.Equal(t, fixtureDays+fixtureDays/3, logins, "every login taught a device")
	var countries []string
	for _, c := range got.Countries {
		countries = append(countries, c.Key)
	}
	assert.ElementsMatch(t, []string{"NL", "PT"}, countries)

	// A victim of the attacker has an open challenge? No: it was never
	// sent, and it expired; but the attempt is in the history.
	r = run(t, "", "user", "-db", f.db, f.victims[0])
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Lagos, NG")

	// Ten minutes after the attacker's attempt, its challenge is open.
	attempt := f.start.AddDate(0, 0, 27).Add(3*time.Hour + 10*time.Minute)
	r = runEnv(t, context.Background(), Env{Now: func() time.Time { return attempt }}, "user", "-db", f.db, f.victims[0])
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "1 OPEN CHALLENGE")
	assert.Contains(t, r.stdout, "new_device")
	r = runEnv(t, context.Background(), Env{Now: func() time.Time { return attempt }}, "user", "-db", f.db, "-json", f.victims[0])
	require.Equal(t, 0, r.code, r.stderr)
	var open struct {
		Challenges []struct {
			Status, Email string
		} `json:"open_challenges"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &open))
	require.Len(t, open.Challenges, 1)
	assert.Equal(t, "pending", open.Challenges[0].Status)
	assert.NotContains(t, open.Challenges[0].Email, strings.Split(f.victims[0], "@")[0], "the address is masked")

	r = run(t, "", "user", "-db", f.db, "nobody@example.com")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `user "nobody@example.com": the store has no profile and no history`)

	r = run(t, "", "user", "-db", f.db)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "give one user")

	r = run(t, "", "user", "-db", filepath.Join(t.TempDir(), "missing.db"), "x")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "missing.db")
}

// exportLines runs ato export with the arguments and returns its lines.
func exportLines(t *testing.T, env Env, args ...string) []string {
	t.Helper()
	r := runEnv(t, context.Background(), env, append([]string{"export"}, args...)...)
	require.Equal(t, 0, r.code, r.stderr)
	return strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
}

func TestExport(t *testing.T) {
	f := recorded(t)
	lines := exportLines(t, Env{}, "-db", f.db)
	n := storeEvents(t, f.db)
	require.Len(t, lines, n+2, "a header, every event, an end")
	assert.Contains(t, lines[0], `"type":"header","format":"ato-export","version":1`)
	assert.Equal(t, fmt.Sprintf(`{"type":"end","events":%d,"users":0,"devices":0}`, n), lines[len(lines)-1])
	var prev time.Time
	kinds := map[string]int{}
	for _, l := range lines[1 : len(lines)-1] {
		var e struct {
			Type, Time, Kind, User string
		}
		require.NoError(t, json.Unmarshal([]byte(l), &e), l)
		require.Equal(t, "event", e.Type)
		tm, err := time.Parse(time.RFC3339, e.Time)
		require.NoError(t, err)
		require.False(t, tm.Before(prev), "in order of time")
		prev = tm
		kinds[e.Kind]++
	}
	assert.Equal(t, f.events, kinds["evaluation"], "every evaluation of the run")
	assert.Positive(t, kinds["challenge_completed"])

	// -since as an age ends at the clock.
	now := f.end
	recent := exportLines(t, Env{Now: func() time.Time { return now }}, "-db", f.db, "-since", "7d")
	assert.Less(t, len(recent), len(lines))
	assert.Greater(t, len(recent), 2)
	assert.Contains(t, recent[0], `"since":"`+now.AddDate(0, 0, -7).Format("2006-01-02T15:04:05"))

	// -all adds users and devices; -o writes the file whole.
	out := filepath.Join(t.TempDir(), "all.jsonl")
	r := run(t, "", "export", "-db", f.db, "-all", "-o", out)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, fmt.Sprintf("wrote %s events, %d users and %d devices", count(n), fixtureUsers, 2*fixtureUsers))
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, fixtureUsers, strings.Count(string(data), `{"type":"user"`))
	assert.Equal(t, 2*fixtureUsers+fixtureUsers, strings.Count(string(data), `"user_agent":"Mozilla/5.0 (X11; Linux x86_64)`),
		"each device's user agent, and each user's last")
	assert.Equal(t, 2*fixtureUsers, strings.Count(string(data), `{"type":"device"`), "a laptop and a phone each (the attacker's never got in)")
	entries, _ := os.ReadDir(filepath.Dir(out))
	assert.Len(t, entries, 1, "no partial file is left")

	r = run(t, "", "export", "-db", f.db, "-since", "last tuesday")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, `-since: "last tuesday" is neither a time`)
}

// TestImport moves a store into another through an export, and the
// second store exports the same lines.
func TestImport(t *testing.T) {
	f := recorded(t)
	// One user set up an authenticator app from their laptop.
	i := fixtureTravelers
	owner := ato.Request{User: f.users[i], Fingerprint: fmt.Sprintf("laptop-%02d", i), IP: fmt.Sprintf("198.51.100.%d", 10+i)}
	now := f.end.Add(24 * time.Hour)
	engineOn := func(t *testing.T, db string) *ato.Engine {
		st, err := storeopen.Open(t.Context(), db)
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		eng, err := ato.New(st, ato.WithClock(func() time.Time { return now }), ato.WithLocator(mapLocator{}),
			ato.WithSecret(fixtureSecret), ato.WithSender(challenge.NewOutbox()))
		require.NoError(t, err)
		return eng
	}
	src := engineOn(t, f.db)
	key, err := src.EnrollTOTP(t.Context(), owner, "Example")
	require.NoError(t, err)
	code, err := totp.GenerateCode(key.Secret, now)
	require.NoError(t, err)
	ok, err := src.ConfirmTOTP(t.Context(), owner, code)
	require.True(t, ok, err)
	now = now.Add(time.Hour)

	dir := t.TempDir()
	exp := filepath.Join(dir, "all.jsonl")
	require.Equal(t, 0, run(t, "", "export", "-db", f.db, "-all", "-o", exp).code)
	// What each import is held to: the original store's export, event
	// count and user command, and the app's code for the challenge.
	want := exportLines(t, Env{}, "-db", f.db, "-all")
	imported := count(storeEvents(t, f.db))
	a := run(t, "", "user", "-db", f.db, "-json", f.travelers[1])
	code, err = totp.GenerateCode(key.Secret, now)
	require.NoError(t, err)

	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			target := filepath.Join(dir, "copy.db")
			if kind == "postgres" {
				target, _ = pgtest.SchemaURL(t)
			}
			r := run(t, "", "import", "-db", target, "-from", exp)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Contains(t, r.stderr, fmt.Sprintf("imported %s events, %d users and %d devices", imported, fixtureUsers, 2*fixtureUsers))

			got := exportLines(t, Env{}, "-db", target, "-all")
			require.Equal(t, len(want), len(got))
			for i := 1; i < len(want); i++ { // the headers differ in the store's kind
				if i < len(want)-1 && strings.Contains(want[i], `"type":"user"`) {
					assert.JSONEq(t, noVersion(t, want[i]), noVersion(t, got[i]), "line %d", i+1)
					continue
				}
				assert.Equal(t, want[i], got[i], "line %d", i+1)
			}

			// The tool engages the engine on the imported store as on the
			// original: the user command reads the same.
			b := run(t, "", "user", "-db", target, "-json", f.travelers[1])
			assert.JSONEq(t, noVersion(t, a.stdout), noVersion(t, b.stdout))

			// The authenticator moved with its user: under the same engine
			// secret, a challenge on the new store takes the app's code.
			eng := engineOn(t, target)
			res, err := eng.StepUp(t.Context(), owner)
			require.NoError(t, err)
			require.NotEmpty(t, res.ChallengeID, res.Verdict)
			require.NoError(t, eng.SendChallengeCode(t.Context(), res.ChallengeID, challenge.TOTP))
			ok, err := eng.VerifyChallengeCode(t.Context(), res.ChallengeID, code)
			assert.True(t, ok, "the app's code, on the imported store: %v", err)

			r = run(t, "", "import", "-db", target, "-from", exp)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "already holds events: import into an empty store")
		})
	}

	// An export cut short is imported up to where it ends, and said so.
	data, err := os.ReadFile(exp)
	require.NoError(t, err)
	cut := data[:bytes.LastIndex(data[:len(data)/2], []byte("\n"))+1]
	r := run(t, string(cut), "import", "-db", filepath.Join(dir, "cut.db"))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "without the end line of an export: it was cut short")

	// Input that is no export of -all creates no store.
	for _, c := range []struct{ input, want string }{
		{string(data[bytes.IndexByte(data, '\n')+1:]), `line 1: field "type": "event": the first line of an export is its header`},
		{`{"type":"header","format":"ato-export","version":1,"exported_at":"2026-06-01T00:00:00Z"}` + "\n",
			`line 1: field "all": this export holds events only`},
		{"", "the input is empty"},
	} {
		target := filepath.Join(dir, "never.db")
		r := run(t, c.input, "import", "-db", target)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, c.want)
		assert.NoFileExists(t, target)
	}

	// What a terminal would take for a command is no text.
	allHead := `{"type":"header","format":"ato-export","version":1,"exported_at":"2026-06-01T00:00:00Z","all":true}`
	for _, c := range []struct{ line, want string }{
		{`{"type":"user","user":"mallory","profile":{"devices":[{"id":"d1","city":"\u001b]0;owned\u0007"}]}}`,
			`line 2: field "profile.devices[0].city": `},
		{`{"type":"user","user":"mallory","profile":{"last":{"ip":"fe80::1%eth0"}}}`, `line 2: field "profile.last.ip": "fe80::1%eth0" is not an IP address`},
		{`{"type":"device","id":"d1","users":[{"user":"a\nb","last_seen":"2026-05-04T08:00:00Z"}]}`, `line 2: field "users[0].user": `},
		{`{"type":"user","user":"mallory","profile":{},"factors":[{"kind":"totp\u001b[2J","secret":"AAAA"}]}`, `line 2: field "factors[0].kind": `},
		{`{"type":"user","user":"mallory","profile":{},"factors":[{"kind":"totp"},{"kind":"totp"}]}`, `line 2: field "factors[1].kind": a second factor of kind "totp"`},
		{`{"type":"user","user":"mallory","profile":{},"factors":[{"kind":"totp","failures":-1}]}`, `line 2: field "factors[0].failures": -1 is negative`},
		{`{"type":"user","user":"mallory","profile":{},"factors":[{"kind":"totp","secret":"not base64!"}]}`, `line 2: field "factors[0].secret": not base64`},
	} {
		r = run(t, allHead+"\n"+c.line+"\n", "import", "-db", storeMemory)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, c.want)
	}

	events := exportLines(t, Env{}, "-db", f.db)
	r = run(t, strings.Join(events, "\n"), "import", "-db", storeMemory)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `import needs the profiles and devices of "ato export -all"`)
}

const storeMemory = ":memory:"

// noVersion drops the profile versions, which count writes, from a JSON
// document.
func noVersion(t *testing.T, doc string) string {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(doc), &v))
	var drop func(any)
	drop = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			delete(v, "profile_version")
			delete(v, "version")
			for _, x := range v {
				drop(x)
			}
		case []any:
			for _, x := range v {
				drop(x)
			}
		}
	}
	drop(v)
	out, err := json.Marshal(v)
	require.NoError(t, err)
	return string(out)
}

// TestBacktestStricter replays the recorded month under a policy that
// challenges every login from a new country, against the default, which
// restricts one from a known device: the travellers' first logins abroad
// change, and nothing else.
func TestBacktestStricter(t *testing.T) {
	f := recorded(t)
	dir := t.TempDir()
	policy := policyFile(t, `{"name":"new-country-challenge","when":"new_country","verdict":"challenge"}`)
	exp := filepath.Join(dir, "history.jsonl")
	require.Equal(t, 0, run(t, "", "export", "-db", f.db, "-o", exp).code)
	html := filepath.Join(dir, "report.html")

	r := run(t, "", "backtest", "-history", exp, "-policy", policy, "-html", html, "-json")
	require.Equal(t, 0, r.code, r.stderr)
	var rep Report
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	assert.EqualValues(t, storeEvents(t, f.db), rep.Events)
	assert.EqualValues(t, f.events, rep.Replayed)
	base, next := rep.Policies[0], rep.Policies[1]
	assert.Equal(t, "the default policy", base.File)

	// The replay of the default policy gives what the recorded run gave.
	recordedVerdicts := map[string]int64{}
	for _, l := range exportLines(t, Env{}, "-db", f.db)[1:] {
		var e struct{ Kind, Verdict string }
		require.NoError(t, json.Unmarshal([]byte(l), &e))
		if e.Kind == "evaluation" {
			recordedVerdicts[e.Verdict]++
		}
	}
	for v, n := range base.Verdicts {
		assert.Equal(t, recordedVerdicts[string(v)], n, "baseline %s", v)
	}

	// Each traveller's first login abroad: restricted by default,
	// challenged by the stricter policy; everything else is the same.
	require.Len(t, rep.Transitions, 1, "%+v", rep.Transitions)
	assert.Equal(t, Transition{From: "restrict", To: "challenge", Count: fixtureTravelers}, rep.Transitions[0])
	assert.EqualValues(t, fixtureTravelers, rep.Changed)
	assert.Equal(t, fixtureTravelers, rep.ChangedUsers)
	require.Len(t, rep.Sample, fixtureTravelers)
	for i, c := range rep.Sample {
		assert.Equal(t, f.travelers[i], c.User)
		assert.Equal(t, "PT", c.Country)
		assert.Equal(t, "new-country-challenge", c.ToRule)
		assert.Contains(t, c.Reasons, "new_country")
	}
	assert.EqualValues(t, fixtureTravelers+fixtureVictims, hits(next, "new-country-challenge"),
		"the travellers' first logins abroad and the attacker's attempts from Lagos")
	assert.EqualValues(t, fixtureTravelers, base.Friction, "restricted")
	assert.EqualValues(t, fixtureTravelers, next.Friction, "challenged")
	assert.Equal(t, fixtureTravelers, next.FrictionUsers)

	// The HTML report is one page, without script, with a chart per policy.
	page, err := os.ReadFile(html)
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(page), "<svg"))
	assert.NotContains(t, string(page), "<script")
	assert.Contains(t, string(page), "restrict → challenge")
	assert.Regexp(t, `<text x="[0-9.]+" y="174\.0" text-anchor="middle">May \d+</text>`, string(page), "the bars' dates")

	// Reading the store gives the same report as reading its export.
	r2 := run(t, "", "backtest", "-db", f.db, "-policy", policy, "-json")
	require.Equal(t, 0, r2.code, r2.stderr)
	var rep2 Report
	require.NoError(t, json.Unmarshal([]byte(r2.stdout), &rep2))
	assert.Equal(t, rep.Transitions, rep2.Transitions)
	assert.Equal(t, rep.Policies[1].Verdicts, rep2.Policies[1].Verdicts)

	// The text report says the same for a person.
	r3 := run(t, "", "backtest", "-history", exp, "-policy", policy)
	require.Equal(t, 0, r3.code, r3.stderr)
	assert.Contains(t, r3.stdout, fmt.Sprintf("Changed verdicts: %d of %d evaluations", fixtureTravelers, f.events))
	assert.Contains(t, r3.stdout, "restrict → challenge")
	assert.Contains(t, r3.stdout, "new-country-challenge")
}

// TestSourceUntouched: user, export and backtest leave the store's file
// as they found it.
func TestSourceUntouched(t *testing.T) {
	f := recorded(t)
	sum := func() [32]byte {
		data, err := os.ReadFile(f.db)
		require.NoError(t, err)
		return sha256.Sum256(data)
	}
	files := func() []string {
		entries, err := os.ReadDir(filepath.Dir(f.db))
		require.NoError(t, err)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	before, beforeFiles := sum(), files()
	require.Equal(t, []string{"ato.db"}, beforeFiles)
	fi, err := os.Stat(f.db)
	require.NoError(t, err)
	policy := stricterPolicy(t)
	for _, args := range [][]string{
		{"user", "-db", f.db, f.users[0]},
		{"export", "-db", f.db, "-all"},
		{"backtest", "-db", f.db, "-policy", policy},
	} {
		r := run(t, "", args...)
		require.Equal(t, 0, r.code, "%v: %s", args, r.stderr)
	}
	assert.Equal(t, before, sum())
	// SQLite's readers of a database in WAL mode create its -wal and -shm
	// files if they are missing; nothing goes into the log.
	assert.Subset(t, append(beforeFiles, "ato.db-shm", "ato.db-wal"), files())
	if fi, err := os.Stat(f.db + "-wal"); err == nil {
		assert.Zero(t, fi.Size(), "the log is empty")
	}
	fi2, err := os.Stat(f.db)
	require.NoError(t, err)
	assert.Equal(t, fi.ModTime(), fi2.ModTime())
}

// cancelAfter reads r and cancels the run once n bytes were read.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= n
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

// TestInterrupted: Ctrl-C stops a backtest, an export and an import; each
// says how far it got and exits 130, and an export to a file leaves none.
func TestInterrupted(t *testing.T) {
	hist := synthHistory(300, 30, 2)
	policy := stricterPolicy(t)
	ctx, cancel := context.WithCancel(context.Background())
	// The clock is read for each batch tallied (for the progress bar):
	// Ctrl-C comes at the third.
	reads := 0
	now := func() time.Time {
		if reads++; reads == 4 {
			cancel()
		}
		return time.Date(2026, 6, 1, 0, 0, reads, 0, time.UTC)
	}
	r := runEnv(t, ctx, Env{Stdin: bytes.NewReader(hist), Now: now, Terminal: true}, "backtest", "-history", "-", "-policy", policy)
	assert.Equal(t, 130, r.code, r.stderr)
	assert.Regexp(t, `\r\x1b\[Kato backtest: interrupted after [1-9][0-9,]+ events of the history \(up to 2026-05-\d\d \d\d:\d\d:\d\d\); no report was written\n$`, r.stderr,
		"the progress bar is cleared, then the message")
	assert.Empty(t, r.stdout)

	f := recorded(t)
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(t.TempDir(), "x.jsonl")
	r = runEnv(t, ctx, Env{}, "export", "-db", f.db, "-all", "-o", out)
	assert.Equal(t, 130, r.code, r.stderr)
	assert.Contains(t, r.stderr, "ato export: interrupted after 0 events, 0 users and 0 devices; no file was written")
	assert.NoFileExists(t, out)
	entries, _ := os.ReadDir(filepath.Dir(out))
	assert.Empty(t, entries)

	exp := filepath.Join(t.TempDir(), "all.jsonl")
	require.Equal(t, 0, run(t, "", "export", "-db", f.db, "-all", "-o", exp).code)
	data, err := os.ReadFile(exp)
	require.NoError(t, err)
	ctx, cancel = context.WithCancel(context.Background())
	r = runEnv(t, ctx, Env{Stdin: &cancelAfter{r: bytes.NewReader(data), n: len(data) / 2, cancel: cancel}},
		"import", "-db", filepath.Join(t.TempDir(), "half.db"))
	assert.Equal(t, 130, r.code, r.stderr)
	assert.Regexp(t, `^ato import: interrupted after [0-9,]+ events, \d+ users and \d+ devices; what was imported stays \(to start again, import into an empty store\)\n$`, r.stderr)
}

// TestBadInput: a bad line of an export is an error that names its line
// and field, and stops the run.
func TestBadInput(t *testing.T) {
	policy := stricterPolicy(t)
	head := `{"type":"header","format":"ato-export","version":1,"exported_at":"2026-06-01T00:00:00Z"}`
	ev := func(fields string) string {
		return `{"type":"event","id":"e1","user":"alice","time":"2026-05-04T08:00:00.000Z","kind":"evaluation","action":"login","verdict":"allow","ip":"192.0.2.1"` + fields + `}`
	}
	for _, c := range []struct {
		name, input, want string
	}{
		{"not JSON", head + "\n" + ev("") + "\n{\"type\":\"event\",\n", `line 3: `},
		{"bad time", head + "\n" + ev(`,"time":"yesterday"`), `line 2: field "time": "yesterday" is not an RFC 3339 time`},
		{"no user", head + "\n" + ev(`,"user":""`), `line 2: field "user": required`},
		{"bad ip", head + "\n" + ev(`,"ip":"300.1.2.3"`), `line 2: field "ip"`},
		{"wrong type", head + "\n" + ev(`,"success":"yes"`), `line 2: field "success"`},
		{"unknown record", head + "\n" + `{"type":"cookie"}`, `line 2: field "type": "cookie" is not a record type`},
		{"zoned ip", head + "\n" + ev(`,"ip":"fe80::1%\u001b[2J"`), `line 2: field "ip": "fe80::1%\x1b[2J" is not an IP address (without a zone)`},
		{"out of order", head + "\n" + ev("") + "\n" + ev(`,"time":"2026-05-03T08:00:00.000Z"`), `line 3: field "time": 2026-05-03T08:00:00.000Z is before the event above it`},
		{"two exports", head + "\n" + ev("") + "\n" + head, `line 3: field "type": a second header: two exports were put together`},
		{"after the end", head + "\n" + ev("") + "\n" + `{"type":"end","events":1}` + "\n" + ev(""), `line 4: a record after the end line`},
		{"newer format", `{"type":"header","format":"ato-export","version":9}`, `line 1: field "version": version 9; this ato reads version 1`},
		{"no header", ev(""), `line 1: field "type": "event": the first line of an export is its header`},
		{"empty", "", `the history is empty`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, c.input, "backtest", "-history", "-", "-policy", policy)
			assert.Equal(t, 1, r.code, r.stdout)
			assert.Contains(t, r.stderr, c.want)
			assert.Empty(t, r.stdout)
		})
	}
}

// TestProgress: on a terminal, a backtest that lasts shows a progress
// bar, and clears it; elsewhere it is quiet.
func TestProgress(t *testing.T) {
	hist := synthHistory(200, 30, 3)
	policy := stricterPolicy(t)
	path := filepath.Join(t.TempDir(), "h.jsonl")
	require.NoError(t, os.WriteFile(path, hist, 0o644))
	slow := &clock{t: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), step: 300 * time.Millisecond}
	r := runEnv(t, context.Background(), Env{Terminal: true, Now: slow.now}, "backtest", "-history", path, "-policy", policy)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `\r\[=* *\] +\d+% [0-9,]+ events, [0-9,]+/s`, r.stderr)
	assert.True(t, strings.HasSuffix(r.stderr, "\r\x1b[K"), "the bar is cleared: %q", r.stderr[max(0, len(r.stderr)-40):])

	r = runEnv(t, context.Background(), Env{Terminal: false, Now: slow.now}, "backtest", "-history", path, "-policy", policy)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stderr)
}

func TestUsage(t *testing.T) {
	r := run(t, "")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "ato backtest")
	r = run(t, "", "help", "backtest")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stderr, "Replays a recorded history")
	r = run(t, "", "frobnicate")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, `unknown command "frobnicate"`)
	r = run(t, "", "backtest", "-history", "x.jsonl")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "give -policy")
	r = run(t, "", "backtest", "-history", "x.jsonl", "-policy", filepath.Join(t.TempDir(), "none.json"))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "none.json")
	r = run(t, "", "user", "x")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "give -db")
}

// policyFile writes the default policy with the rules (JSON objects) put
// first, and returns its path.
func policyFile(t testing.TB, rules ...string) string {
	t.Helper()
	first, err := verdict.ParseRules([]byte(`{"rules":[`+strings.Join(rules, ",")+`]}`), signals.IsBuiltin)
	require.NoError(t, err)
	data, err := append(first, verdict.Default()...).MarshalJSON()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "policy.json")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	return path
}

// TestOutdatedStore: a database an older release made, which the tool
// will not migrate, is refused with what to do.
func TestOutdatedStore(t *testing.T) {
	f := recorded(t)
	db, err := sql.Open("sqlite", f.db)
	require.NoError(t, err)
	_, err = db.Exec(`DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	r := run(t, "", "user", "-db", f.db, f.users[0])
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "this release needs")
	assert.Contains(t, r.stderr, "the ato tool reads a store without changing it: upgrade it first")
}
