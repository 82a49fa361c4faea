package atocli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/internal/storeopen"
	"github.com/atoguard/ato/memstore"
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
`

// backtestBatch is how many events go through the replays at a time.
const backtestBatch = 1024

func runBacktest(ctx context.Context, args []string, env Env) error {
	fs := flags(env, "backtest", "(-history FILE | -db STORE) -policy NEW.json [-baseline OLD.json] [-html REPORT.html]", backtestAbout)
	history := fs.String("history", "", `the JSON lines of "ato export" ("-": standard input)`)
	spec := storeFlag(fs, env, "the store whose history to replay, instead of -history")
	policyFile := fs.String("policy", "", "the policy to try: a JSON policy file (required)")
	baselineFile := fs.String("baseline", "", "the policy to compare it with (default: the default policy)")
	htmlFile := fs.String("html", "", "write a one-page HTML report there too")
	sample := fs.Int("sample", 20, "how many changed logins to list")
	sinceFlag := fs.String("since", "", "with -db, only events from then on: a time or an age (30d)")
	asJSON := fs.Bool("json", false, "print the report as JSON, for scripts")
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
	if *history != "" && *spec != "" && *spec != env.Getenv("ATO_DB") {
		return usageError(fs, env, "give -history or -db, not both")
	}
	if *history == "" && *spec == "" {
		return usageError(fs, env, "give -history with an export, or -db with a store")
	}
	since, err := parseSince(*sinceFlag, env.Now().UTC())
	if err != nil {
		return usageError(fs, env, "-since: %v", err)
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
		src, err = fileSource(*history, env.Stdin)
	} else {
		src, err = storeSource(ctx, *spec, since)
	}
	if err != nil {
		return err
	}
	defer src.close()

	bt, err := newBacktest(policies, *sample)
	if err != nil {
		return err
	}
	var prog *progress
	if env.Terminal {
		prog = newProgress(env.Stderr, env.Now, src.size)
	}
	start := env.Now()
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
func fileSource(path string, stdin io.Reader) (eventSource, error) {
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
	var rec record
	first := true
	next := func(ctx context.Context, batch []storage.Event) ([]storage.Event, error) {
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
			if first {
				first = false
				if rec.typ != typeHeader {
					return batch, &LineError{Line: r.line, Field: "type", Err: fmt.Errorf("%q: the first line of an export is its header", rec.typ)}
				}
				continue
			}
			if rec.typ == typeEvent {
				if n := len(batch); n > 0 && rec.event.Time.Before(batch[n-1].Time) {
					return batch, &LineError{Line: r.line, Field: "time", Err: fmt.Errorf("%s is before the event on the line above (%s): an export is in order of time",
						rec.event.Time.Format(timeLayout), batch[n-1].Time.Format(timeLayout))}
				}
				batch = append(batch, rec.event)
			}
		}
		return batch, nil
	}
	return eventSource{name: name, next: next, size: size, read: func() int64 { return r.bytes }, close: closeFn}, nil
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
	var n int64
	next := func(ctx context.Context, batch []storage.Event) ([]storage.Event, error) {
		select {
		case page, ok := <-pages:
			if !ok {
				if exportErr != nil {
					return batch, fmt.Errorf("read the history of %s: %w", storeopen.Describe(spec), exportErr)
				}
				return batch, io.EOF
			}
			n += int64(len(page))
			return append(batch, page...), nil
		case <-ctx.Done():
			return batch, ctx.Err()
		}
	}
	return eventSource{name: storeopen.Describe(spec), next: next, read: func() int64 { return n }, close: func() {
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
	eng  *ato.Engine
	now  time.Time
	loc  replayLocator
	code string // the code the engine sent last
	// waiting are challenges of the replay whose recorded attempt was
	// challenged too, by the recorded challenge's id: they are passed when
	// the history says that one was completed.
	waiting map[string]string
	err     error // a failure of the engine, which ends the run
}

// replaySecret keys the replays' codes and device tokens: a replay keeps
// nothing, so it needs no secret of its own.
var replaySecret = []byte("ato backtest: replays keep nothing")

func newReplay(p verdict.Policy) (*replay, error) {
	r := &replay{waiting: map[string]string{}}
	eng, err := ato.New(memstore.New(),
		ato.WithReplay(),
		ato.WithPolicy(p),
		ato.WithClock(func() time.Time { return r.now }),
		ato.WithLocator(&r.loc),
		ato.WithSecret(replaySecret),
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
		if id, ok := r.waiting[e.ChallengeID]; ok {
			delete(r.waiting, e.ChallengeID)
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
		switch {
		case e.Success:
			// The recorded attempt was let in: the owner's, who passes the
			// challenge at once.
			err = r.pass(ctx, res.ChallengeID)
		case e.ChallengeID != "":
			r.waiting[e.ChallengeID] = res.ChallengeID
			if len(r.waiting) > maxWaiting {
				clear(r.waiting) // challenges expire within minutes; a history that never completes them must not grow this
			}
		}
	}
	return out, err
}

// maxWaiting bounds the challenges waiting for their completion.
const maxWaiting = 1 << 16

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

// batch is a run of events and what each replay made of them.
type batch struct {
	events   []storage.Event
	outcomes [][]outcome // by policy, by event
}

// backtest replays a history under each policy and gathers the report.
type backtest struct {
	policies []namedPolicy
	replays  []*replay
	stats    *stats
	pool     sync.Pool
}

func newBacktest(policies []namedPolicy, sample int) (*backtest, error) {
	bt := &backtest{policies: policies, stats: newStats(len(policies), sample)}
	for _, p := range policies {
		r, err := newReplay(p.Policy)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.File, err)
		}
		bt.replays = append(bt.replays, r)
	}
	bt.pool.New = func() any {
		b := &batch{events: make([]storage.Event, 0, backtestBatch), outcomes: make([][]outcome, len(policies))}
		for i := range b.outcomes {
			b.outcomes[i] = make([]outcome, 0, backtestBatch)
		}
		return b
	}
	return bt, nil
}

// run replays the source: a reader fills batches, one goroutine per policy
// replays each batch, and the batches are tallied in order.
func (bt *backtest) run(ctx context.Context, src eventSource, prog *progress) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := len(bt.replays)
	ins := make([]chan *batch, n)
	outs := make([]chan *batch, n)
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	for i := range n {
		ins[i], outs[i] = make(chan *batch, 4), make(chan *batch, 4)
		wg.Go(func() {
			defer close(outs[i])
			r := bt.replays[i]
			for b := range ins[i] {
				out := b.outcomes[i][:0]
				for j := range b.events {
					o, err := r.event(ctx, &b.events[j])
					if err != nil {
						errs[i] = err
						cancel()
						for range ins[i] {
						}
						return
					}
					out = append(out, o)
				}
				b.outcomes[i] = out
				outs[i] <- b
			}
		})
	}
	wg.Go(func() {
		defer func() {
			for _, in := range ins {
				close(in)
			}
		}()
		for ctx.Err() == nil {
			b := bt.pool.Get().(*batch)
			var err error
			b.events, err = src.next(ctx, b.events[:0])
			if len(b.events) > 0 {
				for _, in := range ins {
					in <- b
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					errs[n] = err
					cancel()
				}
				return
			}
		}
	})
	// Tally the batches in order: each replay hands them back in the order
	// it got them.
	for {
		var b *batch
		for i := range n {
			got, ok := <-outs[i]
			if !ok {
				b = nil
				break
			}
			b = got
		}
		if b == nil {
			break
		}
		bt.stats.add(b)
		if prog != nil {
			prog.update(bt.stats.events, src.read())
		}
		bt.pool.Put(b)
	}
	for i := range n { // drain what a stopped replay left
		for range outs[i] {
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return ctx.Err()
		}
		return err
	}
	return ctx.Err()
}
