package atocli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/internal/storeopen"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/verdict"
)

const backtestAbout = `Replays a recorded history through a fresh engine under a policy, and under
a baseline (the default policy unless -baseline names another), and reports
what the policy would have changed: verdict counts under each, the logins
whose verdict changes (a sample is listed), how often each rule decided, and
the friction on users with a long history (logins that were not allowed).
-html writes the same as a one-page report with a chart of verdicts over
time. Both replays run at once, each on its own memory store, with the
engine's clock following the events; the store read is opened read-only.

The history is the JSON lines of "ato export" (-history FILE, "-" for
standard input) or a store (-db). A replay sees what the history recorded:
the device id as the fingerprint (so a device is recognised exactly, as the
first run recognised it), the IP and where it was located then, the action.
A challenge the replay asks for is taken as passed when the recorded attempt
was the user's: it succeeded, or its own challenge was completed (then at
the time it was). Failed passwords are not in the history, so brute force
and credential stuffing do not fire in a replay.

Each event is replayed once, under the baseline; the policy decides on the
same input. A user whose verdict it changes is copied, as they were just
before, into an engine of the policy's own, which replays them from then on.
Users are replayed in shards at once, four per processor, in batches of
1,024 events, a shard at most two batches ahead of another: what users who
share a device teach about it can then come in another order than the
history's, and a count can differ by a few from run
to run; -shards 1 replays in the history's order, and gives the same report
every time.
Friction counts the logins of users with a long history that the history
says were theirs and that a policy did not allow (restrict included).
`

// backtestBatch is how many events go through the replays at a time.
const backtestBatch = 1024

func runBacktest(ctx context.Context, args []string, env Env) error {
	fs := flags(env, "backtest", "(-history FILE | -db STORE) -policy NEW.json [-baseline OLD.json] [-html REPORT.html]", backtestAbout)
	history := fs.String("history", "", `the JSON lines of "ato export" ("-": standard input)`)
	spec := storeFlag(fs, env, "the store whose history to replay, instead of -history")
	policyFile := fs.String("policy", "", "the policy to try: a JSON policy file (required)")
	baselineFile := fs.String("baseline", "", "the policy to compare it with (default: the default policy)")
	htmlFile := fs.String("html", "", "write a one-page HTML report there too (readable by its owner only: it names users)")
	sample := fs.Int("sample", 20, "how many changed logins to list")
	sinceFlag := fs.String("since", "", "only events from then on: a time (2026-05-01) or an age (30d: before the export was made, for -history); the replay starts from empty profiles then")
	asJSON := fs.Bool("json", false, "print the report as JSON, for scripts")
	shards := fs.Int("shards", defaultShards(), "replay the users in this many shards at once (four per processor); with users who share devices, the counts can differ a little from run to run unless it is 1")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError(fs, env, "unexpected argument %q", fs.Arg(0))
	}
	if *policyFile == "" {
		return usageError(fs, env, "give -policy with the policy to try")
	}
	if *sample < 0 {
		return usageError(fs, env, "-sample %d: not a count", *sample)
	}
	if *shards < 1 || *shards > maxShards {
		return usageError(fs, env, "-shards %d: from 1 to %d", *shards, maxShards)
	}
	if *history != "" && *spec != "" && *spec != env.Getenv("ATO_DB") {
		return usageError(fs, env, "give -history or -db, not both")
	}
	if *history == "" && *spec == "" {
		return usageError(fs, env, "give -history with an export, or -db with a store")
	}
	now := env.Now().UTC()
	since, err := parseSince(*sinceFlag, now)
	if err != nil {
		return usageError(fs, env, "-since: %v", err)
	}
	if *htmlFile != "" {
		if err := checkWritable(*htmlFile); err != nil {
			return fmt.Errorf("-html: %w", err)
		}
	}
	policies := []namedPolicy{{Name: "baseline", File: "the default policy", Policy: verdict.Default()}, {Name: "policy", File: *policyFile}}
	if *baselineFile != "" {
		policies[0].File = *baselineFile
	}
	for i := range policies {
		if i == 0 && *baselineFile == "" {
			continue
		}
		rules, err := verdict.LoadRules(policies[i].File, signals.IsBuiltin)
		if err != nil {
			return fmt.Errorf("-%s: %w", map[int]string{0: "baseline", 1: "policy"}[i], err)
		}
		policies[i].Policy = rules
	}

	var src eventSource
	if *history != "" {
		src, err = fileSource(*history, env.Stdin, *sinceFlag, since)
	} else {
		src, err = storeSource(ctx, *spec, since)
	}
	if err != nil {
		return err
	}
	defer src.close()

	bt, err := newBacktest(policies, *sample, *shards)
	if err != nil {
		return err
	}
	var prog *progress
	if env.Terminal {
		prog = newProgress(env.Stderr, env.Now, src.size)
	}
	start := env.Now()
	var stopGC func()
	bt.gc, stopGC = startGCBudget()
	defer stopGC()
	err = bt.run(ctx, src, prog)
	prog.done()
	rep := bt.report(env.Now().Sub(start))
	rep.Source = src.name
	if err != nil {
		if interrupted(ctx, err) {
			fmt.Fprintf(env.Stderr, "ato backtest: interrupted after %s of the history", plural(rep.Events, "event", "events"))
			if !rep.To.IsZero() {
				fmt.Fprintf(env.Stderr, " (up to %s)", rep.To.Format(time.DateTime))
			}
			fmt.Fprintln(env.Stderr, "; no report was written")
			return errInterrupted
		}
		return err
	}
	if *htmlFile != "" {
		if err := writeFileAtomic(*htmlFile, func(w io.Writer) error { return writeHTML(w, rep) }); err != nil {
			return err
		}
	}
	if *asJSON {
		return writeReportJSON(env.Stdout, rep)
	}
	if err := writeReportText(env.Stdout, rep); err != nil {
		return err
	}
	if *htmlFile != "" {
		fmt.Fprintf(env.Stdout, "\nreport: %s\n", *htmlFile)
	}
	return nil
}

// namedPolicy is one of the policies a backtest replays.
type namedPolicy struct {
	Name, File string
	Policy     verdict.Policy `json:"-"`
}

// eventSource is where a backtest reads its events: next fills a batch
// (io.EOF at the end); size is the input's size in bytes and read what
// was read of it (0 when unknown).
type eventSource struct {
	name  string
	next  func(ctx context.Context, batch []storage.Event) ([]storage.Event, error)
	size  int64
	read  func() int64
	close func()
}

// fileSource reads the events of an export, skipping its other records.
//
// since is sinceFlag (checked) as of now; an age (-since 30d) counts back
// from when the export was made, once its header says when.
func fileSource(path string, stdin io.Reader, sinceFlag string, since time.Time) (eventSource, error) {
	in, name, size := stdin, "standard input", int64(0)
	closeFn := func() {}
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return eventSource{}, err
		}
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		in, name, closeFn = f, path, func() { f.Close() }
	}
	r := newReader(in)
	var (
		rec  record
		read atomic.Int64 // r.bytes, for the progress bar's goroutine
	)
	first, ended := true, false
	var last time.Time // the time of the last event read
	next := func(ctx context.Context, batch []storage.Event) ([]storage.Event, error) {
		defer func() { read.Store(r.bytes) }()
		for len(batch) < cap(batch) {
			err := r.next(&rec)
			if errors.Is(err, io.EOF) {
				if first {
					return batch, errors.New("the history is empty: expected the lines of ato export")
				}
				return batch, io.EOF
			}
			if err != nil {
				return batch, err
			}
			switch {
			case ended:
				return batch, &LineError{Line: r.line, Err: errors.New("a record after the end line: two exports were put together")}
			case !first && rec.typ == typeHeader:
				return batch, &LineError{Line: r.line, Field: "type", Err: errors.New("a second header: two exports were put together")}
			case rec.typ == typeEnd:
				ended = true
			}
			if first {
				first = false
				if rec.typ != typeHeader {
					return batch, &LineError{Line: r.line, Field: "type", Err: fmt.Errorf("%q: the first line of an export is its header", rec.typ)}
				}
				if at := rec.header.ExportedAt; !at.IsZero() {
					since, _ = parseSince(sinceFlag, at.UTC())
				}
				continue
			}
			if rec.typ == typeEvent {
				if rec.event.Time.Before(last) {
					return batch, &LineError{Line: r.line, Field: "time", Err: fmt.Errorf("%s is before the event above it (%s): an export is in order of time",
						rec.event.Time.Format(timeLayout), last.Format(timeLayout))}
				}
				last = rec.event.Time
				if !rec.event.Time.Before(since) {
					batch = append(batch, rec.event)
				}
			}
		}
		return batch, nil
	}
	return eventSource{name: name, next: next, size: size, read: read.Load, close: closeFn}, nil
}

// storeSource reads the events of a store, opened read-only, through its
// Exporter; the export runs in a goroutine and hands over pages.
func storeSource(ctx context.Context, spec string, since time.Time) (eventSource, error) {
	s, err := openSource(ctx, spec)
	if err != nil {
		return eventSource{}, err
	}
	ex, err := exporter(s, spec)
	if err != nil {
		s.Close()
		return eventSource{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	pages := make(chan []storage.Event, 4)
	var exportErr error
	go func() {
		defer close(pages)
		page := make([]storage.Event, 0, backtestBatch)
		exportErr = ex.ExportEvents(ctx, since, func(e storage.Event) error {
			page = append(page, e)
			if len(page) == cap(page) {
				select {
				case pages <- page:
				case <-ctx.Done():
					return ctx.Err()
				}
				page = make([]storage.Event, 0, backtestBatch)
			}
			return nil
		})
		if exportErr == nil && len(page) > 0 {
			pages <- page
		}
	}()
	var n atomic.Int64
	next := func(ctx context.Context, batch []storage.Event) ([]storage.Event, error) {
		select {
		case page, ok := <-pages:
			if !ok {
				if exportErr != nil {
					return batch, fmt.Errorf("read the history of %s: %w", storeopen.Describe(spec), exportErr)
				}
				return batch, io.EOF
			}
			n.Add(int64(len(page)))
			return append(batch, page...), nil
		case <-ctx.Done():
			return batch, ctx.Err()
		}
	}
	return eventSource{name: storeopen.Describe(spec), next: next, read: n.Load, close: func() {
		cancel()
		for range pages {
		}
		s.Close()
	}}, nil
}

// replayLocator answers with the location the history recorded for the
// event being replayed: one replay locates one event at a time.
type replayLocator struct {
	loc signals.Location
	ok  bool
}

func (l *replayLocator) Locate(netip.Addr) (signals.Location, bool) { return l.loc, l.ok }

// replay is one policy's run: an engine on a memory store whose clock is
// the time of the event being replayed.
type replay struct {
	eng   *ato.Engine
	store *memstore.Store
	now   time.Time
	loc   replayLocator
	code  string // the code the engine sent last
	// waiting are challenges of the replay whose recorded attempt was
	// challenged too, by user and recorded challenge id (waitKey): they
	// are passed when the history says that one was completed.
	waiting map[string]string // the replay's challenge id
	// recent are each user's challenges of the last hour, oldest first:
	// what the engine's hourly limit counts, and what a fork copies.
	recent map[string][]recentChallenge
	// sweepAt is the size of recent at which its users without a recent
	// challenge are dropped.
	sweepAt int
}

// recentChallenge is a challenge of the replay, and the recorded one it
// waits for ("" for none).
type recentChallenge struct {
	id, recorded string
	at           time.Time
}

// challengeWindow is how long a replay remembers a challenge: the window
// of the engine's hourly limit, and longer than a challenge lives
// (ato.DefaultChallengeTTL).
const challengeWindow = time.Hour

// replaySecret keys the replays' codes and device ids: a replay keeps
// nothing, so it needs no secret of its own.
var replaySecret = []byte("ato backtest: replays keep nothing")

func newReplay(p verdict.Policy, store *memstore.Store) (*replay, error) {
	r := &replay{store: store, waiting: map[string]string{}, recent: map[string][]recentChallenge{}, sweepAt: minSweep}
	eng, err := ato.New(r.store,
		ato.WithReplay(),
		ato.WithPolicy(p),
		ato.WithClock(func() time.Time { return r.now }),
		ato.WithLocator(&r.loc),
		ato.WithSecret(replaySecret),
		// Nothing a decision reads is in a user's history: a replay keeps
		// none.
		ato.WithHistory(0, 365*24*time.Hour),
		// Nobody receives a replay's results.
		ato.WithoutDeviceTokens(),
		ato.WithSender(challenge.SenderFunc(func(_ context.Context, m challenge.Message) error {
			r.code = m.Code
			return nil
		})),
	)
	if err != nil {
		return nil, err
	}
	r.eng = eng
	return r, nil
}

// outcome is what a replay made of one event.
type outcome struct {
	verdict verdict.Verdict // "" for an event that is not an evaluation
	rule    string
	reasons []signals.Reason
}

// replayEmail is where a replay's challenges "send" their codes.
const replayEmail = "backtest@replay.invalid"

// event replays one event of the history.
func (r *replay) event(ctx context.Context, e *storage.Event) (outcome, error) {
	r.now = e.Time
	switch e.Kind {
	case storage.KindEvaluation:
	case storage.KindChallengeCompleted:
		// The owner completed the recorded challenge: the replay's
		// challenge of the same attempt is passed now.
		if id, ok := r.waiting[waitKey(e.User, e.ChallengeID)]; ok {
			delete(r.waiting, waitKey(e.User, e.ChallengeID))
			return outcome{}, r.pass(ctx, id)
		}
		return outcome{}, nil
	default:
		return outcome{}, nil
	}
	r.loc.ok = e.Located
	r.loc.loc = signals.Location{Country: e.Country, Region: e.Region, City: e.City, Latitude: e.Latitude,
		Longitude: e.Longitude, AccuracyKm: e.AccuracyKm, ASN: e.ASN}
	res, err := r.eng.Evaluate(ctx, ato.Request{
		User: e.User, Action: ato.Action(e.Action), Fingerprint: e.DeviceID, IP: e.IP, Time: e.Time, Email: replayEmail,
	})
	if err != nil {
		if errors.Is(err, ato.ErrInvalidRequest) {
			return outcome{verdict: "invalid"}, nil
		}
		return outcome{}, fmt.Errorf("replay the event %s of %q at %s: %w", e.ID, e.User, e.Time.Format(timeLayout), err)
	}
	out := outcome{verdict: res.Verdict, rule: res.Rule, reasons: res.Reasons}
	if res.ChallengeID != "" {
		recorded := ""
		if !e.Success {
			recorded = e.ChallengeID
		}
		r.remember(e.User, recentChallenge{id: res.ChallengeID, recorded: recorded, at: e.Time})
		if e.Success {
			// The recorded attempt was let in: the owner's, who passes the
			// challenge at once.
			err = r.pass(ctx, res.ChallengeID)
		}
	}
	return out, err
}

// remember keeps a challenge of the user's among their recent ones, and,
// when it waits for a recorded challenge, among the waiting; what is older
// than the window goes, and at most maxRecentUser of a user's stay.
func (r *replay) remember(user string, c recentChallenge) {
	rs := r.recentOf(user)
	if len(rs) >= maxRecentUser {
		r.forget(user, rs[0])
		rs = slices.Delete(rs, 0, 1)
	}
	r.recent[user] = append(rs, c)
	if c.recorded != "" {
		r.waiting[waitKey(user, c.recorded)] = c.id
	}
	if len(r.recent) >= r.sweepAt {
		for u := range r.recent {
			r.recentOf(u)
		}
		r.sweepAt = max(minSweep, 2*len(r.recent))
	}
}

// recentOf returns the user's challenges of the last hour, having dropped
// the older ones.
func (r *replay) recentOf(user string) []recentChallenge {
	rs := r.recent[user]
	n := 0
	for n < len(rs) && rs[n].at.Before(r.now.Add(-challengeWindow)) {
		r.forget(user, rs[n])
		n++
	}
	if n == len(rs) {
		delete(r.recent, user)
		return nil
	}
	if n > 0 {
		rs = slices.Delete(rs, 0, n)
		r.recent[user] = rs
	}
	return rs
}

// forget drops a challenge from the waiting: it ended.
func (r *replay) forget(user string, c recentChallenge) {
	if id, ok := r.waiting[waitKey(user, c.recorded)]; ok && id == c.id {
		delete(r.waiting, waitKey(user, c.recorded))
	}
}

// waitKey keys the waiting by user and recorded challenge: the history's
// ids are taken as they come, and a user's line can complete only their
// own.
func waitKey(user, recorded string) string { return user + "\x00" + recorded }

// maxRecentUser bounds the challenges remembered of one user: more than
// the engine lets a user have in an hour.
const maxRecentUser = 64

// minSweep is the least size of a replay's recent at which it is swept.
const minSweep = 1 << 16

// pass sends the challenge's code, types it and completes the challenge,
// as the owner would. A challenge the engine no longer lets pass (expired,
// overridden, limited) stays unpassed.
func (r *replay) pass(ctx context.Context, id string) error {
	r.code = ""
	if err := r.eng.SendChallengeCode(ctx, id, challenge.Email); err != nil {
		return ignoreChallengeEnd(err)
	}
	ok, err := r.eng.VerifyChallengeCode(ctx, id, r.code)
	if err != nil || !ok {
		return ignoreChallengeEnd(err)
	}
	return ignoreChallengeEnd(r.eng.CompleteChallenge(ctx, id))
}

// ignoreChallengeEnd drops the errors of a challenge that cannot be passed
// any more, which the replay takes as not passed.
func ignoreChallengeEnd(err error) error {
	for _, end := range []error{ato.ErrChallengeExpired, ato.ErrChallengeFailed, ato.ErrChallengeCompleted,
		ato.ErrChallengeNotFound, ato.ErrRateLimited, ato.ErrChallengeNotVerified, ato.ErrChallengeVerified} {
		if errors.Is(err, end) {
			return nil
		}
	}
	return err
}

// A backtest replays every event once, under the baseline, and asks the
// other policies what they would decide on the same input (the signals do
// not depend on the policy). Where a policy decides as the baseline does,
// its engine would write what the baseline's wrote: its run of that user is
// the baseline's. At the first attempt where it decides otherwise, the
// user's run forks: what the baseline's store holds of the user just
// before that attempt (profile, device hashes, the challenges waiting for
// the history's completion, the user's devices; not their history, which
// no decision reads) is copied into the policy's own store, and from then
// on the policy's own engine replays that user. A stricter policy that
// changes a few logins costs a few more evaluations, not a second replay. What a forked user does to devices
// other users share is seen by that policy's forked users only.

// fork is a policy other than the baseline.
type fork struct {
	policy verdict.Policy
	replay *replay
	// forked are the users the policy's engine replays.
	forked map[string]bool
	// dec is the policy's decision of the attempt being replayed.
	dec verdict.Decision
}

// sameEffect reports whether an engine that decided b writes what one that
// decided a writes: the same verdict, and the same actions held back.
func sameEffect(a, b *verdict.Decision) bool {
	return a.Verdict == b.Verdict && (!a.Verdict.Restricts() || slices.Equal(a.Restrictions, b.Restrictions))
}

// decider is the baseline engine's policy: it decides by the baseline and
// asks each fork, forking the user of the attempt where they differ. One
// engine calls it, for one attempt at a time.
type decider struct {
	base  verdict.Policy
	forks []*fork
	user  string // the user of the attempt
	dec   verdict.Decision
	copy  func(user string, f *fork) error
	err   error
}

func (d *decider) Decide(in *verdict.Input) verdict.Decision {
	dec := d.base.Decide(in)
	d.dec = dec
	for _, f := range d.forks {
		if f.forked[d.user] {
			continue
		}
		f.dec = f.policy.Decide(in)
		if !sameEffect(&dec, &f.dec) {
			// The baseline's store holds the user as they were before the
			// attempt: its write comes after this decision.
			if err := d.copy(d.user, f); err != nil && d.err == nil {
				d.err = err
			}
			f.forked[d.user] = true
		}
	}
	return dec
}

// copyUser copies what the baseline's store holds of the user into the
// fork's store.
func (sh *shard) copyUser(ctx context.Context, user string, f *fork) error {
	from, to := sh.base.store, f.replay.store
	st, err := from.Load(ctx, storage.LoadRequest{User: user})
	if err != nil {
		return err
	}
	p := st.Profile
	// A key no device has makes the store read the user's hashes of each
	// device.
	full, err := from.Load(ctx, storage.LoadRequest{User: user, FingerprintKey: "\x00backtest"})
	if err != nil {
		return err
	}
	// A device's own newest key makes the store read that device.
	var devices []storage.Device
	for _, d := range p.Devices {
		if len(d.Keys) == 0 {
			continue
		}
		one, err := from.Load(ctx, storage.LoadRequest{User: user, FingerprintKey: d.Keys[0]})
		if err != nil {
			return err
		}
		devices = append(devices, one.Candidates...)
	}
	if p.Version > 0 {
		next := p
		next.Version = 0
		if err := to.Commit(ctx, storage.Commit{User: user, Profile: &storage.ProfileWrite{
			New: next, Change: profile.Change{Limits: importLimits(&next)},
		}}); err != nil {
			return err
		}
		for _, d := range p.Devices {
			if h, ok := full.Hashes[d.ID]; ok {
				if err := to.Commit(ctx, storage.Commit{User: user, Hashes: &storage.DeviceHashes{DeviceID: d.ID, Hashes: h}}); err != nil {
					return err
				}
			}
		}
		for _, c := range devices {
			if _, mine := p.Device(c.ID); !mine {
				continue
			}
			seen := c.LastSeen
			for _, u := range c.Users {
				if u.User == user {
					seen = u.LastSeen
				}
			}
			w := storage.DeviceWrite{Device: c, Seen: seen, MaxUsers: deviceUsers}
			w.Device.Users = nil
			if err := to.Commit(ctx, storage.Commit{User: user, Device: &w}); err != nil {
				return err
			}
		}
	}
	// The user's challenges of the last hour: the engine's hourly limit
	// counts them, and those waiting for the history are passed there.
	for _, rc := range sh.base.recentOf(user) {
		c, err := from.Challenge(ctx, rc.id)
		if err != nil {
			continue // gone
		}
		if err := to.Commit(ctx, storage.Commit{User: user, Challenge: &c}); err != nil {
			return err
		}
		if id, ok := sh.base.waiting[waitKey(user, rc.recorded)]; !ok || id != rc.id {
			rc.recorded = "" // not waiting for the history any more
		}
		f.replay.remember(user, rc)
	}
	return nil
}

// deviceUsers is how many users a device keeps: the engine's default.
const deviceUsers = 32

// batch is a run of events and what each replay made of them.
type batch struct {
	events []storage.Event
	// shard is the shard of each event's user.
	shard    []uint8
	outcomes [][]outcome // by policy, by event
	// own marks, by fork, the events its own engine replays.
	own [][]bool
	// pending counts the shards not done with the batch; the last closes
	// done.
	pending atomic.Int32
	done    chan struct{}
}

// reset sizes the batch for its events.
func (b *batch) reset(shards int) {
	n := len(b.events)
	b.shard = b.shard[:0]
	for i := range b.events {
		b.shard = append(b.shard, uint8(shardOf(b.events[i].User, shards)))
	}
	for p := range b.outcomes {
		b.outcomes[p] = slices.Grow(b.outcomes[p][:0], n)[:n]
	}
	for f := range b.own {
		b.own[f] = slices.Grow(b.own[f][:0], n)[:n]
	}
	b.pending.Store(int32(shards))
	b.done = make(chan struct{})
}

// shardOf spreads users over the shards (FNV-1a).
func shardOf(user string, shards int) int {
	h := uint32(2166136261)
	for i := 0; i < len(user); i++ {
		h = (h ^ uint32(user[i])) * 16777619
	}
	return int(h % uint32(shards))
}

// A backtest spreads the users over shards that replay at once, a few per
// processor (defaultShards): each shard replays its users' events with engines of its own
// (their clocks are its own) on the stores all shards share, so that what
// one user's login teaches about a device other users share is there for
// them. A shard is at most shardLag batches ahead of another, so shards are
// never more than a few batches apart in time.
type shard struct {
	base    *replay
	decider *decider
	forks   []*fork
}

// backtest replays a history under each policy and gathers the report.
type backtest struct {
	policies []namedPolicy
	shards   []*shard
	stats    *stats
	pool     sync.Pool
	gc       *gcBudget // nil: the collector's pace is left alone
}

// maxShards bounds the shards; a shard id is a byte.
const maxShards = 64

// shardsPerProc is how many shards a backtest runs per processor by
// default. A shard waits whenever the reader has not handed it the next
// batch, or it is shardLag batches ahead of the slowest: with one shard per
// processor, that processor idles (about 6% of each shard's time on two
// processors); with more, the scheduler runs another shard there. Four per
// processor replayed a month about 13% faster than one, eight no faster
// than four.
const shardsPerProc = 4

// defaultShards is the shards of a backtest that does not say.
func defaultShards() int { return min(shardsPerProc*runtime.GOMAXPROCS(0), maxShards) }

func newBacktest(policies []namedPolicy, sample, shards int) (*backtest, error) {
	shards = min(max(shards, 1), maxShards)
	bt := &backtest{policies: policies, stats: newStats(len(policies), sample)}
	stores := make([]*memstore.Store, len(policies))
	for i := range stores {
		stores[i] = memstore.New()
	}
	for range shards {
		sh := &shard{decider: &decider{base: policies[0].Policy}}
		base, err := newReplay(sh.decider, stores[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", policies[0].File, err)
		}
		sh.base = base
		for i, p := range policies[1:] {
			r, err := newReplay(p.Policy, stores[i+1])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.File, err)
			}
			sh.forks = append(sh.forks, &fork{policy: p.Policy, replay: r, forked: map[string]bool{}})
		}
		sh.decider.forks = sh.forks
		bt.shards = append(bt.shards, sh)
	}
	bt.pool.New = func() any {
		return &batch{events: make([]storage.Event, 0, backtestBatch), outcomes: make([][]outcome, len(policies)),
			own: make([][]bool, len(policies)-1)}
	}
	return bt, nil
}

// baseline replays the shard's events of a batch under the baseline, with
// the forks' decisions.
func (sh *shard) baseline(ctx context.Context, id int, b *batch) error {
	sh.decider.copy = func(user string, f *fork) error { return sh.copyUser(ctx, user, f) }
	for j := range b.events {
		if int(b.shard[j]) != id {
			continue
		}
		e := &b.events[j]
		sh.decider.user = e.User
		o, err := sh.base.event(ctx, e)
		if err == nil {
			err = sh.decider.err
		}
		if err != nil {
			return err
		}
		b.outcomes[0][j] = o
		for i, f := range sh.forks {
			own := f.forked[e.User] // forked before this attempt, or by it
			b.own[i][j] = own
			fo := o
			switch {
			case own:
				fo = outcome{}
			case o.verdict != "" && o.verdict != "invalid" && o.rule == sh.decider.dec.Rule:
				// The policy decided to the same effect, and the engine kept
				// the decision: the policy's rule decided. (An engine that
				// overrode the baseline's decision — too many challenges, an
				// action held back — overrode the policy's too.)
				fo.rule = f.dec.Rule
			}
			b.outcomes[i+1][j] = fo
		}
	}
	return nil
}

// own replays the shard's events of a batch that fork i's engine replays.
func (sh *shard) own(ctx context.Context, id, i int, b *batch) error {
	f := sh.forks[i]
	for j := range b.events {
		if int(b.shard[j]) != id || !b.own[i][j] {
			continue
		}
		o, err := f.replay.event(ctx, &b.events[j])
		if err != nil {
			return err
		}
		b.outcomes[i+1][j] = o
	}
	return nil
}

// run replays the source in a pipeline: a reader fills batches and hands
// each to every shard, each shard replays its users' events of the batch
// (under the baseline, then its forked users' events under the other
// policies) as soon as it is done with the batch before, and the batches
// are tallied in order once every shard is done with them. A shard is
// never more than shardLag batches ahead of another, and no shard waits
// for another at the end of each batch. When ctx is done, run returns
// without waiting for a reader that is blocked on its input (a terminal, a
// pipe): the process is ending.
func (bt *backtest) run(ctx context.Context, src eventSource, prog *progress) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	shards := len(bt.shards)
	var (
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		cancel()
	}
	// send hands b on, unless the run is over.
	send := func(c chan<- *batch, b *batch) bool {
		select {
		case c <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	tally := make(chan *batch, shardLag+2)
	work := make([]chan *batch, shards)
	for i := range work {
		// The reader blocks on the slowest shard's full channel having
		// handed the batch to the shards before it: one of those can be
		// working on that batch while the slowest is on the one before
		// what its channel holds.
		work[i] = make(chan *batch, shardLag-1)
	}
	var wg, readerWG sync.WaitGroup
	readerWG.Go(func() {
		defer func() {
			close(tally)
			for _, c := range work {
				close(c)
			}
		}()
		for ctx.Err() == nil {
			b := bt.pool.Get().(*batch)
			var err error
			b.events, err = src.next(ctx, b.events[:0])
			if len(b.events) > 0 {
				b.reset(shards)
				if !send(tally, b) {
					return
				}
				for _, c := range work {
					if !send(c, b) {
						return
					}
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					fail(err)
				}
				return
			}
		}
	})
	for id, sh := range bt.shards {
		wg.Go(func() {
			for {
				var b *batch
				select {
				case b = <-work[id]:
				case <-ctx.Done():
					return // a reader blocked on its input is not waited for
				}
				if b == nil {
					return // the reader is done
				}
				err := sh.baseline(ctx, id, b)
				for i := range sh.forks {
					if err == nil {
						err = sh.own(ctx, id, i, b)
					}
				}
				if err != nil {
					fail(err)
					return
				}
				if b.pending.Add(-1) == 0 {
					close(b.done)
				}
			}
		})
	}
	wg.Go(func() {
		for b := range tally {
			select {
			case <-b.done:
			case <-ctx.Done():
				return
			}
			bt.stats.add(b) // a batch every shard is done with is whole
			if prog != nil {
				prog.update(bt.stats.events, src.read())
			}
			bt.pool.Put(b)
			bt.gc.batch()
		}
	})
	wg.Wait()
	if ctx.Err() == nil {
		readerWG.Wait()
	}
	mu.Lock()
	defer mu.Unlock()
	// The first failure is the cause; the cancellations it set off in the
	// other goroutines are not.
	for _, err := range errs {
		if !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return ctx.Err()
}

// shardLag is how many batches a shard may be ahead of the slowest.
const shardLag = 2
