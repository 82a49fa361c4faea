package atocli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/verdict"
)

// verdicts in the order reports list them.
var verdicts = []verdict.Verdict{verdict.Allow, verdict.Restrict, verdict.Challenge, verdict.ChallengeAndRestrict, verdict.Deny}

func verdictIndex(v verdict.Verdict) int {
	if i := slices.Index(verdicts, v); i >= 0 {
		return i
	}
	return -1
}

// Established users: friction is measured on the logins of users who had
// logged in successfully at least establishedLogins times, over at least
// establishedAge, before them (in the recorded history).
const (
	establishedLogins = 5
	establishedAge    = 14 * 24 * time.Hour
)

// userHistory is what the tally keeps of a user to tell whether they are
// established.
type userHistory struct {
	first  time.Time // the first successful login recorded
	logins int32
	// established: the user is counted in estUsers; met has bit p set once
	// they are counted in estFrictionUsers[p] (a backtest has two
	// policies).
	established bool
	met         uint8
}

// stats tallies the batches of a backtest.
type stats struct {
	sample           int
	events, replayed int64 // events read, evaluations replayed
	invalid          int64
	from, to         time.Time
	counts           [][]int64 // by policy, by verdict index
	rules            []map[string]int64
	hours            []map[int64]*[5]int64 // by policy: verdicts by hour since the epoch
	changed          int64
	changedUsers     map[string]struct{}
	transitions      map[[2]verdict.Verdict]int64
	samples          []Change
	users            map[string]*userHistory
	// open are the verdicts the replays gave established users' attempts
	// that the history challenged, by the recorded challenge: the attempt
	// was the user's if the history completes it.
	open             map[string][]verdict.Verdict
	estLogins        int64
	estUsers         int64
	estFriction      []int64
	estFrictionUsers []int64
}

func newStats(policies, sample int) *stats {
	s := &stats{sample: sample, changedUsers: map[string]struct{}{}, transitions: map[[2]verdict.Verdict]int64{},
		users: map[string]*userHistory{}, open: map[string][]verdict.Verdict{}}
	for range policies {
		s.counts = append(s.counts, make([]int64, len(verdicts)))
		s.rules = append(s.rules, map[string]int64{})
		s.hours = append(s.hours, map[int64]*[5]int64{})
		s.estFriction = append(s.estFriction, 0)
		s.estFrictionUsers = append(s.estFrictionUsers, 0)
	}
	return s
}

// add tallies a batch whose events every replay went through.
func (s *stats) add(b *batch) {
	for j := range b.events {
		e := &b.events[j]
		s.events++
		if s.from.IsZero() || e.Time.Before(s.from) {
			s.from = e.Time
		}
		if e.Time.After(s.to) {
			s.to = e.Time
		}
		if e.Kind != storage.KindEvaluation {
			if e.Kind == storage.KindChallengeCompleted {
				u := s.succeeded(e, s.users[e.User])
				if vs, ok := s.open[e.ChallengeID]; ok {
					delete(s.open, e.ChallengeID)
					s.friction(u, vs)
				}
			}
			continue
		}
		if b.outcomes[0][j].verdict == "invalid" {
			s.invalid++
			continue
		}
		s.replayed++
		hour := e.Time.Unix() / 3600
		u := s.users[e.User]
		established := u != nil && u.logins >= establishedLogins && e.Time.Sub(u.first) >= establishedAge
		var vs []verdict.Verdict // the replays' verdicts of an established user's attempt
		if established {
			vs = make([]verdict.Verdict, len(b.outcomes))
		}
		for p := range b.outcomes {
			o := &b.outcomes[p][j]
			vi := verdictIndex(o.verdict)
			if vi < 0 {
				continue
			}
			s.counts[p][vi]++
			s.rules[p][o.rule]++
			h := s.hours[p][hour]
			if h == nil {
				h = new([5]int64)
				s.hours[p][hour] = h
			}
			h[vi]++
			if vs != nil {
				vs[p] = o.verdict
			}
		}
		switch {
		case vs == nil:
		case e.Success:
			s.friction(u, vs)
		case e.ChallengeID != "":
			if len(s.open) >= maxOpen {
				clear(s.open) // challenges the history never completes
			}
			s.open[e.ChallengeID] = vs
		}
		if len(b.outcomes) > 1 {
			base, next := &b.outcomes[0][j], &b.outcomes[len(b.outcomes)-1][j]
			if base.verdict != next.verdict {
				s.changed++
				s.changedUsers[e.User] = struct{}{}
				s.transitions[[2]verdict.Verdict{base.verdict, next.verdict}]++
				if len(s.samples) < s.sample {
					s.samples = append(s.samples, Change{Time: e.Time, User: e.User, Action: e.Action, IP: e.IP,
						Country: e.Country, DeviceID: e.DeviceID, Recorded: verdict.Verdict(e.Verdict),
						From: base.verdict, To: next.verdict, FromRule: base.rule, ToRule: next.rule,
						Reasons: reasonStrings(next.reasons)})
				}
			}
		}
		if e.Success {
			s.succeeded(e, u)
		}
	}
}

// maxOpen bounds the established users' attempts whose challenge the
// tally waits to see completed.
const maxOpen = 1 << 16

// friction counts an established user's login that the history says was
// theirs, under each policy.
func (s *stats) friction(u *userHistory, vs []verdict.Verdict) {
	s.estLogins++
	if !u.established {
		u.established = true
		s.estUsers++
	}
	for p, v := range vs {
		if v != verdict.Allow {
			s.estFriction[p]++
			if u.met&(1<<p) == 0 {
				u.met |= 1 << p
				s.estFrictionUsers[p]++
			}
		}
	}
}

// succeeded counts a successful login of the recorded history; u is what
// the tally keeps of its user (nil: nothing yet), which it returns.
func (s *stats) succeeded(e *storage.Event, u *userHistory) *userHistory {
	if u == nil {
		u = &userHistory{first: e.Time}
		s.users[e.User] = u
	}
	u.logins++
	return u
}

func reasonStrings(rs []signals.Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// Report is what a backtest found; -json prints it.
type Report struct {
	Source   string        `json:"source"`
	From     time.Time     `json:"from"`
	To       time.Time     `json:"to"`
	Events   int64         `json:"events"`
	Replayed int64         `json:"replayed"`
	Invalid  int64         `json:"invalid,omitempty"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	// EventsPerSecond is the pace of the whole run: events read and
	// replayed under every policy.
	EventsPerSecond float64        `json:"events_per_second"`
	Policies        []PolicyReport `json:"policies"`
	// Changed counts the evaluations whose verdict differs between the
	// baseline and the policy, ChangedUsers their users.
	Changed      int64        `json:"changed"`
	ChangedUsers int          `json:"changed_users"`
	Transitions  []Transition `json:"transitions"`
	Sample       []Change     `json:"sample"`
	// EstablishedLogins counts the logins of users with a long history
	// that the history says were theirs (let in, or their challenge
	// completed), EstablishedUsers those users.
	EstablishedLogins int64 `json:"established_logins"`
	EstablishedUsers  int   `json:"established_users"`
	// Buckets are the verdicts over time, for the chart.
	Buckets []Bucket `json:"buckets"`
}

// PolicyReport is one policy's part of the report.
type PolicyReport struct {
	namedPolicy
	Verdicts map[verdict.Verdict]int64 `json:"verdicts"`
	Rules    []RuleHits                `json:"rules"`
	// Friction counts the logins of established users that were not
	// allowed, FrictionUsers the users who met any.
	Friction      int64 `json:"friction"`
	FrictionUsers int   `json:"friction_users"`
}

// RuleHits is how often a rule decided.
type RuleHits struct {
	Rule string `json:"rule"`
	Hits int64  `json:"hits"`
}

// Transition counts the logins whose verdict went From the baseline's To
// the policy's.
type Transition struct {
	From  verdict.Verdict `json:"from"`
	To    verdict.Verdict `json:"to"`
	Count int64           `json:"count"`
}

// Change is a login whose verdict changes.
type Change struct {
	Time     time.Time       `json:"time"`
	User     string          `json:"user"`
	Action   string          `json:"action"`
	IP       string          `json:"ip,omitempty"`
	Country  string          `json:"country,omitempty"`
	DeviceID string          `json:"device_id,omitempty"`
	Recorded verdict.Verdict `json:"recorded"`
	From     verdict.Verdict `json:"from"`
	To       verdict.Verdict `json:"to"`
	FromRule string          `json:"from_rule,omitempty"`
	ToRule   string          `json:"to_rule,omitempty"`
	Reasons  []string        `json:"reasons,omitempty"`
}

// Bucket is a span of time and each policy's verdicts in it.
type Bucket struct {
	Start    time.Time  `json:"start"`
	Verdicts [][5]int64 `json:"verdicts"` // by policy, in the order allow, restrict, challenge, challenge_and_restrict, deny
}

// maxBuckets is the most bars the chart has.
const maxBuckets = 60

func (bt *backtest) report(elapsed time.Duration) *Report {
	s := bt.stats
	r := &Report{From: s.from, To: s.to, Events: s.events, Replayed: s.replayed, Invalid: s.invalid, Elapsed: elapsed,
		Changed: s.changed, ChangedUsers: len(s.changedUsers), Sample: s.samples,
		EstablishedLogins: s.estLogins, EstablishedUsers: int(s.estUsers)}
	if elapsed > 0 {
		r.EventsPerSecond = float64(s.events) / elapsed.Seconds()
	}
	for p, np := range bt.policies {
		pr := PolicyReport{namedPolicy: np, Verdicts: map[verdict.Verdict]int64{}, Friction: s.estFriction[p], FrictionUsers: int(s.estFrictionUsers[p])}
		for i, v := range verdicts {
			pr.Verdicts[v] = s.counts[p][i]
		}
		for rule, n := range s.rules[p] {
			pr.Rules = append(pr.Rules, RuleHits{Rule: cmp.Or(rule, "(none)"), Hits: n})
		}
		slices.SortFunc(pr.Rules, func(a, b RuleHits) int { return cmp.Or(cmp.Compare(b.Hits, a.Hits), cmp.Compare(a.Rule, b.Rule)) })
		r.Policies = append(r.Policies, pr)
	}
	for t, n := range s.transitions {
		r.Transitions = append(r.Transitions, Transition{From: t[0], To: t[1], Count: n})
	}
	slices.SortFunc(r.Transitions, func(a, b Transition) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
	r.Buckets = buckets(s, len(bt.policies))
	return r
}

// buckets groups the hourly counts into at most maxBuckets bars of a whole
// number of hours, days or weeks.
func buckets(s *stats, policies int) []Bucket {
	if s.replayed == 0 {
		return nil
	}
	first, last := s.from.Unix()/3600, s.to.Unix()/3600
	span := last - first + 1
	width := int64(1)
	for _, w := range []int64{1, 2, 3, 6, 12, 24, 48, 24 * 7, 24 * 14, 24 * 28, 24 * 91, 24 * 365} {
		width = w
		if span/w < maxBuckets {
			break
		}
	}
	for span/width >= maxBuckets { // a very long history: wider bars
		width *= 2
	}
	start := first - first%width
	if width >= 24 {
		start = first - first%24 // days start at midnight UTC
	}
	n := (last-start)/width + 1
	out := make([]Bucket, n)
	for i := range out {
		out[i] = Bucket{Start: time.Unix((start+int64(i)*width)*3600, 0).UTC(), Verdicts: make([][5]int64, policies)}
	}
	for p := range policies {
		for _, h := range slices.Sorted(maps.Keys(s.hours[p])) {
			i := (h - start) / width // from and to are the first and last event's
			for v, c := range s.hours[p][h] {
				out[i].Verdicts[p][v] += c
			}
		}
	}
	return out
}

func pct(n, of int64) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(of))
}

func signed(n int64) string {
	if n > 0 {
		return "+" + count(n)
	}
	return count(n)
}

// writeReportText writes the report for a terminal.
func writeReportText(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "Replayed %s of %s", plural(r.Events, "event", "events"), r.Source)
	if r.Events > 0 {
		fmt.Fprintf(ew, " (%s to %s)", r.From.Format(time.DateTime), r.To.Format(time.DateTime))
	}
	fmt.Fprintf(ew, " in %s: %s evaluations under each policy, %s events/s.\n",
		r.Elapsed.Round(time.Millisecond), count(r.Replayed), count(int64(r.EventsPerSecond)))
	if r.Invalid > 0 {
		fmt.Fprintf(ew, "%s the engine refuses were skipped.\n", plural(r.Invalid, "evaluation", "evaluations"))
	}
	fmt.Fprintln(ew)
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "verdict\t")
	for _, p := range r.Policies {
		fmt.Fprintf(tw, "%s\t\t", p.Name)
	}
	fmt.Fprint(tw, "change\t\n")
	for _, v := range verdicts {
		fmt.Fprintf(tw, "%s\t", v)
		for _, p := range r.Policies {
			fmt.Fprintf(tw, "%s\t%s\t", count(p.Verdicts[v]), pct(p.Verdicts[v], r.Replayed))
		}
		fmt.Fprintf(tw, "%s\t\n", signed(r.Policies[len(r.Policies)-1].Verdicts[v]-r.Policies[0].Verdicts[v]))
	}
	tw.Flush()
	for _, p := range r.Policies {
		fmt.Fprintf(ew, "  %s: %s\n", p.Name, p.File)
	}

	fmt.Fprintf(ew, "\nChanged verdicts: %s of %s (%s), of %s.\n", count(r.Changed), plural(r.Replayed, "evaluation", "evaluations"),
		pct(r.Changed, r.Replayed), plural(int64(r.ChangedUsers), "user", "users"))
	tw = tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
	for _, t := range r.Transitions {
		fmt.Fprintf(tw, "  %s → %s\t%s\n", t.From, t.To, count(t.Count))
	}
	tw.Flush()
	if len(r.Sample) > 0 {
		fmt.Fprintf(ew, "\nSample (the first %d):\n", len(r.Sample))
		tw = tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
		fmt.Fprint(tw, "  time\tuser\taction\tip\tcountry\trecorded\tbaseline → policy\trule\treasons\n")
		for _, c := range r.Sample {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s → %s\t%s\t%s\n", c.Time.Format(time.DateTime), cell(c.User, 32), cell(c.Action, 32),
				cell(orNone(c.IP), 46), cell(orNone(c.Country), 16), cell(orNone(string(c.Recorded)), 24), c.From, c.To,
				cell(orNone(c.ToRule), 48), cell(orNone(strings.Join(c.Reasons, ",")), 120))
		}
		tw.Flush()
	}

	fmt.Fprintln(ew, "\nRules that decided:")
	tw = tabwriter.NewWriter(ew, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "  rule\t")
	for _, p := range r.Policies {
		fmt.Fprintf(tw, "%s\t", p.Name)
	}
	fmt.Fprint(tw, "\n")
	for _, rule := range ruleNames(r) {
		fmt.Fprintf(tw, "  %s\t", cell(rule, 48))
		for _, p := range r.Policies {
			fmt.Fprintf(tw, "%s\t", count(hits(p, rule)))
		}
		fmt.Fprint(tw, "\n")
	}
	tw.Flush()

	fmt.Fprintf(ew, "\nFriction on users with a long history (%d+ successful logins over %d+ days): of the %s the history\nsays were theirs (let in, or the challenge passed), by %s,\n",
		establishedLogins, int(establishedAge.Hours()/24), plural(r.EstablishedLogins, "login", "logins"), plural(int64(r.EstablishedUsers), "user", "users"))
	for _, p := range r.Policies {
		fmt.Fprintf(ew, "  %-9s %s not allowed (%s); %s met any\n", p.Name+":", count(p.Friction),
			pct(p.Friction, r.EstablishedLogins), plural(int64(p.FrictionUsers), "user", "users"))
	}
	return ew.err
}

// ruleNames are the rules that decided under any policy, most hits first.
func ruleNames(r *Report) []string {
	total := map[string]int64{}
	for _, p := range r.Policies {
		for _, h := range p.Rules {
			total[h.Rule] += h.Hits
		}
	}
	names := slices.Collect(maps.Keys(total))
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(total[b], total[a]), cmp.Compare(a, b)) })
	return names
}

func hits(p PolicyReport, rule string) int64 {
	for _, h := range p.Rules {
		if h.Rule == rule {
			return h.Hits
		}
	}
	return 0
}

func writeReportJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeFileAtomic writes a file through a temporary one beside it, so that
// it appears whole or not at all; readable by its owner only (mode 0600),
// as what the tool writes names users.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := createBeside(path)
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// checkWritable reports, before a long run, that a file cannot be written
// at path: its directory is missing or read-only, or it is a directory.
func checkWritable(path string) error {
	f, err := createBeside(path)
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// createBeside creates the temporary file that becomes path: hidden, in
// its directory; an error when path is a directory.
func createBeside(path string) (*os.File, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory", path)
	}
	return os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.partial")
}
