// Package ato is an embeddable account-takeover protection engine.
//
// A login handler calls [Engine.Evaluate] with what it knows about the
// attempt — user, the browser's fingerprint hashes, IP, email, phone — and
// gets back a [Result]: a verdict (allow, challenge, restrict,
// challenge_and_restrict or deny), the reasons behind it, a stable device id
// and, when the verdict asks for one, a challenge to send to the real owner.
// Everything happens in-process: no network hop, and every verdict carries
// the findings and the rule that produced it.
//
// # One evaluation
//
// Evaluate validates and normalises the request, locates its IP (with a
// [WithLocator]), loads the user's state with one store read, identifies
// the device ([fingerprint]), runs the signals ([signals]), applies the
// policy ([verdict]), and writes the attempt — with its challenge, if any —
// in one atomic store write ([storage]).
//
// # What is remembered
//
// Only an allowed or restricted login teaches the engine: its device, IP and
// country become known for the user. A challenged or denied attempt is
// recorded but teaches nothing, so an attacker who retries does not become
// known.
//
// # Policies and restrictions
//
// The verdict comes from a [verdict.Policy]; the default is an ordered rule
// table written in the [verdict] expression language, and operators load
// their own from JSON with [WithPolicy]. [Result.Explain] says in one line
// what was found and which rule decided. A restrict verdict holds back
// sensitive actions (password change, payment, …) on the user's device:
// evaluate such an action with its own [Action] and a held-back one is
// denied with the reason restricted, whatever the policy says.
//
// # Challenges
//
// After a challenge verdict, [Engine.SendChallengeCode] sends a one-time
// code to the address of the request (through the [challenge.Sender] of
// [WithSender]) or selects the user's authenticator app
// ([Engine.EnrollTOTP]); [Engine.VerifyChallengeCode] checks what the person
// typed, and [Engine.CompleteChallenge] turns the attempt into a successful
// login, so the same reasons do not challenge again. Codes are stored only
// as HMACs, attempts and sends are counted atomically, and every
// transition is recorded in the user's history.
//
// # Concurrency
//
// An Engine is safe for concurrent use by many goroutines.
package ato

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/internal/id"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/verdict"
)

// challengeRateSpan is the window the user's challenges are counted in.
const challengeRateSpan = time.Hour

// secretName is where the generated key is kept in the store.
const secretName = "ato.hmac.v1"

// Engine evaluates attempts. Make one with [New] and share it.
type Engine struct {
	store   storage.Store
	cfg     config
	signals []signals.Signal
}

// Result is the engine's answer to an attempt.
type Result struct {
	// EvaluationID identifies this evaluation (a UUID).
	EvaluationID string
	Verdict      verdict.Verdict
	// Reasons are the reasons of the findings, in order, without repeats.
	Reasons []signals.Reason
	// FingerprintID is the stable device id (UUID text); empty when the
	// request had no fingerprint.
	FingerprintID string
	// Confidence in [0,1] is how sure the device identification is: 1 for
	// an exact match or a newly seen device, less for a match through the
	// last fingerprint, 0 without a fingerprint.
	Confidence float64
	// ChallengeID is set when the verdict includes a challenge.
	ChallengeID string
	// Score in [0,1] combines the findings' scores: 1 - Π(1 - score).
	Score float64
	// Findings are the trace: every finding with its evidence.
	Findings []signals.Finding
	// Rule names the policy rule that decided.
	Rule string
	// Restrictions are the actions held back when the verdict restricts.
	Restrictions []string
	// Location is where the attempt's IP is, per the Locator; nil when it
	// was not located.
	Location *signals.Location
	// Shadow lists the shadow rules whose conditions held: what they would
	// have decided, had they been enforced. See [verdict.Rule].
	Shadow []verdict.ShadowMatch
}

// New returns an engine over the store. Without [WithSecret], New reads the
// engine's key from the store, creating it on first use, so codes and device
// ids stay valid across restarts.
func New(store storage.Store, opts ...Option) (*Engine, error) {
	if store == nil {
		return nil, errors.New("ato: New: nil store")
	}
	cfg := defaults()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	seen := map[string]bool{}
	sigs := append(builtin(&cfg), cfg.plugins...)
	for _, s := range sigs {
		if seen[s.Name()] {
			return nil, fmt.Errorf("ato: New: two signals are named %q", s.Name())
		}
		seen[s.Name()] = true
	}
	if min := max(challengeRateSpan, cfg.challengeTTL, cfg.bruteForceWindow, cfg.stuffingWindow); cfg.historyAge < min {
		// Purge drops challenges and failures by the history age: a shorter
		// one would reset the hourly challenge limit and the failure counts.
		return nil, fmt.Errorf("ato: New: the history age %v is shorter than %v, the longest window a challenge or a failure is counted in", cfg.historyAge, min)
	}
	if err := declare(&cfg); err != nil {
		return nil, err
	}
	if v, ok := cfg.policy.(interface {
		Validate(known func(signals.Reason) bool) error
	}); ok {
		known := func(r signals.Reason) bool {
			_, declared := cfg.declared[r]
			return declared || signals.IsBuiltin(r)
		}
		if err := v.Validate(known); err != nil {
			return nil, fmt.Errorf("ato: New: policy: %w", err)
		}
	}
	if cfg.secret == nil {
		fresh := make([]byte, 32)
		rand.Read(fresh)
		key, err := store.Secret(context.Background(), secretName, fresh)
		if err != nil {
			return nil, fmt.Errorf("ato: New: load key: %w", err)
		}
		if len(key) < MinSecretLen {
			return nil, fmt.Errorf("ato: New: the key in the store is %d bytes; at least %d are needed", len(key), MinSecretLen)
		}
		cfg.secret = key
	}
	return &Engine{store: store, cfg: cfg, signals: sigs}, nil
}

// declare collects the reasons plug-ins declare ([signals.Declarer]).
func declare(cfg *config) error {
	cfg.declared = map[signals.Reason]declared{}
	for _, s := range cfg.plugins {
		d, ok := s.(signals.Declarer)
		if !ok {
			continue
		}
		for _, ri := range d.Reasons() {
			switch {
			case !validReason(ri.Reason):
				return fmt.Errorf("ato: New: signal %q declares reason %q: use a lower-case letter, then letters, digits and '_'", s.Name(), ri.Reason)
			case math.IsNaN(ri.Score) || ri.Score < 0 || ri.Score > 1:
				return fmt.Errorf("ato: New: signal %q declares reason %q with score %v outside [0,1]", s.Name(), ri.Reason, ri.Score)
			case signals.IsBuiltin(ri.Reason):
				return fmt.Errorf("ato: New: signal %q declares %q, a built-in reason", s.Name(), ri.Reason)
			case cfg.declared[ri.Reason].signal != "" && cfg.declared[ri.Reason].signal != s.Name():
				return fmt.Errorf("ato: New: signals %q and %q both declare %q", cfg.declared[ri.Reason].signal, s.Name(), ri.Reason)
			}
			cfg.declared[ri.Reason] = declared{ri, s.Name()}
		}
	}
	return nil
}

// Evaluate decides on an attempt. A verdict of challenge or deny is a
// result, not an error; errors are for invalid requests (errors.Is
// [ErrInvalidRequest]), failing signals and store failures, and then
// nothing is written.
func (e *Engine) Evaluate(ctx context.Context, r Request) (Result, error) {
	ev := evaluations.Get().(*evaluation)
	res, err := e.run(ctx, ev, r, false)
	*ev = evaluation{}
	evaluations.Put(ev)
	return res, err
}

// evaluations recycles the evaluations of Evaluate: nothing the engine
// returns or a store keeps points into one once Evaluate returns (stores
// copy what a commit gives them; a profile's slices are its own).
var evaluations = sync.Pool{New: func() any { return new(evaluation) }}

// StepUp evaluates an attempt as [Engine.Evaluate] does, but asks for a
// challenge whenever the verdict would let it in (allow or restrict), or
// deny it only because a restriction holds its action back, with the rule
// "step-up": a way for the application to make the person prove ownership
// before something sensitive, such as setting up an authenticator app.
// Completing the challenge trusts the device and lifts its restriction.
// Any other deny stays a deny.
func (e *Engine) StepUp(ctx context.Context, r Request) (Result, error) {
	res, _, err := e.evaluate(ctx, r, true)
	return res, err
}

// evaluation is one attempt on its way through the pipeline: the request,
// the state loaded for it, the device it was identified as, and what the
// signals saw. It also holds the records the pipeline passes by pointer, so
// that an evaluation allocates them at once.
type evaluation struct {
	a     attempt
	st    storage.State
	ident fingerprint.Identity
	in    *signals.Input

	input    signals.Input
	policy   verdict.Input
	failures storage.FailureQuery
	counts   storage.ChallengeQuery
	event    storage.Event
	login    profile.Login
	write    storage.ProfileWrite
}

// evaluate is Evaluate, or StepUp when stepUp; it also returns what the
// signals saw.
func (e *Engine) evaluate(ctx context.Context, r Request, stepUp bool) (Result, *signals.Input, error) {
	ev := new(evaluation)
	res, err := e.run(ctx, ev, r, stepUp)
	return res, ev.in, err
}

// run evaluates r with ev, an empty evaluation. Its steps, in order:
// normalise, locate, load, identify, detect, decide, override, commit.
func (e *Engine) run(ctx context.Context, ev *evaluation, r Request, stepUp bool) (Result, error) {
	a, err := normalise(r, e.cfg.now, e.cfg.replay)
	if err != nil {
		return Result{}, err
	}
	var loc signals.Location
	var located bool
	if a.ip.IsValid() && e.cfg.locator != nil {
		if loc, located, err = locate(e.cfg.locator, a.ip); err != nil {
			return Result{}, err
		}
	}
	ev.a = a
	ev.a.withKeys()
	if ev.st, err = e.store.Load(ctx, e.loadRequest(ev)); err != nil {
		return Result{}, fmt.Errorf("ato: load state: %w", err)
	}
	ev.ident = e.identify(&ev.a, &ev.st)
	in := e.input(ev)
	in.Location, in.Located = loc, located

	findings, err := e.detect(ctx, in)
	if err != nil {
		return Result{}, err
	}
	score := combine(findings)
	ev.policy = verdict.Input{Action: a.action, Findings: findings, Score: score, KnownDevice: in.Device.Known}
	dec, err := decide(e.cfg.policy, &ev.policy)
	if err != nil {
		return Result{}, err
	}
	if !dec.Verdict.Valid() {
		return Result{}, fmt.Errorf("ato: policy rule %q returned verdict %q", dec.Rule, dec.Verdict)
	}
	var hold []string // the policy's restriction, kept whatever the verdict becomes
	if dec.Verdict.Restricts() {
		hold = dec.Restrictions
	}
	findings, dec, held := e.enforce(in, findings, dec)
	if stepUp && (dec.Verdict.Succeeds() || held) {
		// A step-up challenge is also the way out of a restriction: its
		// completion lifts it, and it needs the code.
		dec = verdict.Decision{Verdict: verdict.Challenge, Rule: verdict.RuleStepUp, Shadow: dec.Shadow}
	}
	if dec.Verdict.Challenges() && in.RecentChallenges >= e.cfg.limits.PerHour {
		findings, dec = e.limitChallenges(in.RecentChallenges, findings, dec)
	}

	res := Result{
		EvaluationID:  id.New(),
		Verdict:       dec.Verdict,
		Reasons:       reasons(findings),
		FingerprintID: in.Device.ID,
		Confidence:    in.Device.Confidence,
		Score:         score,
		Findings:      findings,
		Rule:          dec.Rule,
		Restrictions:  restrictions(dec),
		Shadow:        dec.Shadow,
	}
	if in.Located {
		loc := in.Location
		res.Location = &loc
	}
	c := e.commit(ev, res, hold)
	err = e.store.Commit(ctx, c)
	if errors.Is(err, storage.ErrLimited) {
		// Concurrent evaluations took the last challenges of the hour
		// between the load and this commit.
		res.Findings, dec = e.limitChallenges(e.cfg.limits.PerHour, findings, dec)
		res.Verdict, res.Rule, res.Reasons, res.Restrictions = dec.Verdict, dec.Rule, reasons(res.Findings), nil
		c = e.commit(ev, res, hold)
		err = e.store.Commit(ctx, c)
	}
	if err != nil {
		return Result{}, fmt.Errorf("ato: commit: %w", err)
	}
	if c.Challenge != nil {
		res.ChallengeID = c.Challenge.ID
	}
	return res, nil
}

// enforce applies what no policy may overrule: a held-back action from a
// restricted device is denied, with the rule "restricted". It reports
// whether that turned a verdict the policy did not deny into a deny.
func (e *Engine) enforce(in *signals.Input, fs []signals.Finding, dec verdict.Decision) ([]signals.Finding, verdict.Decision, bool) {
	held := slices.ContainsFunc(fs, func(f signals.Finding) bool { return f.Reason == signals.RestrictedReason })
	if !held && dec.Verdict == verdict.Restrict && slices.Contains(dec.Restrictions, in.Action) {
		// The attempt trips a restriction that holds back its own action:
		// letting it through once would defeat the restriction.
		held = true
		fs = append(slices.Clip(fs), signals.Finding{
			Reason: signals.RestrictedReason,
			Signal: "engine",
			Detail: "rule " + dec.Rule + " restricts this device, and its restriction holds back " + in.Action + " itself",
			Evidence: map[string]string{
				"action":       in.Action,
				"rule":         dec.Rule,
				"restrictions": strings.Join(dec.Restrictions, ","),
			},
		})
	}
	if !held || dec.Verdict == verdict.Deny {
		return fs, dec, false // the policy's own deny stays what it is
	}
	dec = verdict.Decision{Verdict: verdict.Deny, Rule: verdict.RuleRestricted, Restrictions: dec.Restrictions, Shadow: dec.Shadow}
	return fs, dec, true
}

// restrictions are the decision's held-back actions when its verdict
// restricts.
func restrictions(dec verdict.Decision) []string {
	if dec.Verdict.Restricts() {
		return dec.Restrictions
	}
	return nil
}

// limitChallenges turns a challenge past the user's hourly limit into a
// deny with too_many_challenges: a guard against SMS pumping and against
// guessing codes through fresh challenges.
func (e *Engine) limitChallenges(count int, fs []signals.Finding, dec verdict.Decision) ([]signals.Finding, verdict.Decision) {
	fs = append(slices.Clip(fs), signals.Finding{
		Reason: signals.ChallengeLimitReason,
		Signal: "engine",
		Detail: strconv.Itoa(count) + " challenges for the user in the last hour; at most " +
			strconv.Itoa(e.cfg.limits.PerHour) + " are allowed, so rule " + dec.Rule + "'s " + string(dec.Verdict) + " becomes deny",
		Evidence: map[string]string{
			"challenges": strconv.Itoa(count),
			"limit":      strconv.Itoa(e.cfg.limits.PerHour),
			"rule":       dec.Rule,
			"verdict":    string(dec.Verdict),
		},
	})
	return fs, verdict.Decision{Verdict: verdict.Deny, Rule: verdict.RuleChallengeLimit, Shadow: dec.Shadow}
}

// loadRequest names what an evaluation of the attempt reads: the user's
// profile, the devices its hashes may be, and the counts the signals need,
// each bounded.
func (e *Engine) loadRequest(ev *evaluation) storage.LoadRequest {
	a := &ev.a
	ev.failures = storage.FailureQuery{
		UserSince:       a.time.Add(-e.cfg.bruteForceWindow),
		MaxUser:         e.cfg.maxUserFailures(),
		Network:         a.network,
		NetworkSince:    a.time.Add(-e.cfg.stuffingWindow),
		MaxNetworkUsers: e.cfg.maxNetworkUsers(),
	}
	ev.counts = storage.ChallengeQuery{Since: a.time.Add(-challengeRateSpan), Max: e.cfg.limits.PerHour}
	r := storage.LoadRequest{
		User:           a.User,
		FingerprintKey: a.fpKey,
		DeviceKeys:     a.lookupKeys,
		MaxCandidates:  maxCandidates,
		Failures:       &ev.failures,
		Challenges:     &ev.counts,
	}
	if a.Fingerprint == "" {
		r.DeviceKeys = nil // nothing to find
	}
	return r
}

// maxCandidates is how many devices of other users an attempt's hashes are
// compared with.
const maxCandidates = 16

// identify names the attempt's device: one of the user's, another user's,
// or a new one.
func (e *Engine) identify(a *attempt, st *storage.State) fingerprint.Identity {
	ident := fingerprint.Identify(fingerprint.Attempt{
		Fingerprint: a.Fingerprint, Last: a.LastFingerprint, FingerprintKey: a.fpKey, LastKey: a.lastKey,
	}, &st.Profile, st.Hashes, st.Candidates, e.cfg.matchThreshold)
	if ident.Match == signals.MatchNew {
		ident = e.newDevice(a.Fingerprint, st)
	}
	return ident
}

// input is what the signals see of the evaluation.
func (e *Engine) input(ev *evaluation) *signals.Input {
	a, st, ident := &ev.a, &ev.st, &ev.ident
	ev.in = &ev.input
	in := ev.in
	*in = signals.Input{
		Now:             a.time,
		Action:          a.action,
		User:            a.User,
		Fingerprint:     a.Fingerprint,
		LastFingerprint: a.LastFingerprint,
		Version:         a.Version,
		IP:              a.ip,
		Network:         a.network,
		Email:           a.Email,
		Phone:           a.Phone,
		UserAgent:       a.UserAgent,
		Metadata:        a.Metadata,
		Profile:         &st.Profile,
		KnownSince:      a.time.Add(-e.cfg.knownWindow),
		Failures: signals.FailureCounts{
			User:         st.Failures.User,
			UserUnknown:  st.Failures.UserUnknown,
			NetworkUsers: st.Failures.NetworkUsers,
		},
		RecentChallenges: st.Challenges,
		Device: signals.Device{
			ID:         ident.ID,
			Match:      ident.Match,
			Confidence: ident.Confidence,
			Known:      ident.Known,
			Trusted:    ident.Known && ident.Profile.Trusted,
			Profile:    ident.Profile,
		},
	}
	if ident.ID != "" {
		// The accounts seen on the device in the window, this one included.
		since := a.time.Add(-e.cfg.accountsWindow)
		in.DeviceUsers = storage.CountUsers(ident.Device.Users, since)
		if !slices.ContainsFunc(ident.Device.Users, func(u storage.DeviceUser) bool {
			return u.User == a.User && !u.LastSeen.Before(since)
		}) {
			in.DeviceUsers++
		}
	}
	return in
}

// newDevice names a device no hash matched. Its id is made from the
// fingerprint; if a device already has that id — one of the user's, or a
// candidate — it is that device.
func (e *Engine) newDevice(fp string, st *storage.State) fingerprint.Identity {
	id := e.deviceID(fp)
	if d, ok := st.Profile.Device(id); ok {
		ident := fingerprint.Identity{ID: id, Match: signals.MatchExact, Confidence: 1, Known: true, Profile: d}
		for _, c := range st.Candidates {
			if c.ID == id {
				ident.Device = c
			}
		}
		return ident
	}
	for _, c := range st.Candidates {
		if c.ID == id {
			return fingerprint.Identity{ID: id, Device: c, Match: signals.MatchExact, Confidence: 1}
		}
	}
	return fingerprint.Identity{ID: id, Match: signals.MatchNew, Confidence: 1}
}

// deviceID names a device first seen with the fingerprint. The id is keyed
// by the engine's secret, so two engines sharing a store agree on it, and
// two attempts racing with one new fingerprint get one id.
func (e *Engine) deviceID(fp string) string { return id.Keyed(e.cfg.secret, "device", fp) }

// detect runs every signal in order. A signal's error or panic fails the
// evaluation; findings are checked so that one bad plug-in cannot corrupt a
// verdict.
func (e *Engine) detect(ctx context.Context, in *signals.Input) ([]signals.Finding, error) {
	var all []signals.Finding
	for i, s := range e.signals {
		plugin := i >= len(e.signals)-len(e.cfg.plugins)
		fs, err := runSignal(ctx, s, in)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			if !validReason(f.Reason) {
				return nil, fmt.Errorf("ato: signal %q: reason %q must be a lower-case letter, then letters, digits and '_'", s.Name(), f.Reason)
			}
			if math.IsNaN(f.Score) || f.Score < 0 || f.Score > 1 {
				return nil, fmt.Errorf("ato: signal %q: reason %q: score %v is outside [0,1]", s.Name(), f.Reason, f.Score)
			}
			if plugin && signals.IsBuiltin(f.Reason) {
				return nil, fmt.Errorf("ato: signal %q: reason %q is a built-in reason; plug-ins report their own", s.Name(), f.Reason)
			}
			if _, ok := s.(signals.Declarer); ok {
				d, declared := e.cfg.declared[f.Reason]
				if !declared || d.signal != s.Name() {
					return nil, fmt.Errorf("ato: signal %q: reason %q is not one it declares", s.Name(), f.Reason)
				}
				if f.Score == 0 {
					f.Score = d.Score
				}
			}
			f.Signal = s.Name()
			all = append(all, f)
		}
	}
	return all, nil
}

func runSignal(ctx context.Context, s signals.Signal, in *signals.Input) (fs []signals.Finding, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("ato: signal %q panicked: %v", s.Name(), p)
		}
	}()
	fs, err = s.Detect(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("ato: signal %q: %w", s.Name(), err)
	}
	return fs, nil
}

func validReason(r signals.Reason) bool { return lowerIdent(string(r), 64, true) }

// combine is the probability that at least one finding is right, if each
// were an independent estimate: 1 - Π(1 - score).
func combine(fs []signals.Finding) float64 {
	p := 1.0
	for _, f := range fs {
		p *= 1 - f.Score
	}
	return 1 - p
}

func reasons(fs []signals.Finding) []signals.Reason {
	var rs []signals.Reason
	for _, f := range fs {
		if !slices.Contains(rs, f.Reason) {
			rs = append(rs, f.Reason)
		}
	}
	return rs
}

// commit is what the evaluation writes: always the attempt; what it
// teaches, when it is a login or signup from a known address that succeeds
// (an attempt without an IP never teaches, since nothing says which network
// it came from): its device and place in the user's profile, the device's
// global record and the hashes the user saw from it; the restriction hold
// asks for on the device (which a device joining the user while another of
// theirs is restricted inherits); the challenge when the verdict asks for
// one.
func (e *Engine) commit(ev *evaluation, res Result, hold []string) storage.Commit {
	a, ident := &ev.a, &ev.ident
	teaches := res.Verdict.Succeeds() && a.ip.IsValid() &&
		(a.action == string(ActionLogin) || a.action == string(ActionSignup))
	ev.event = storage.Event{
		ID:       res.EvaluationID,
		User:     a.User,
		Time:     a.time,
		Kind:     storage.KindEvaluation,
		Action:   a.action,
		Verdict:  string(res.Verdict),
		Success:  teaches,
		DeviceID: ident.ID,
		IP:       a.IP,
		Network:  a.network,
	}
	event := &ev.event
	if len(res.Reasons) > 0 {
		event.Reasons = make([]string, len(res.Reasons))
		for i, r := range res.Reasons {
			event.Reasons[i] = string(r)
		}
	}
	ev.login = profile.Login{Time: a.time, DeviceID: ident.ID, IP: a.IP, Network: a.network}
	login := &ev.login
	if in := ev.in; in.Located {
		l := in.Location
		event.Located, event.Country, event.Region, event.City = true, l.Country, l.Region, l.City
		event.Latitude, event.Longitude, event.AccuracyKm, event.ASN = l.Latitude, l.Longitude, l.AccuracyKm, l.ASN
		login.Located, login.Country, login.Region, login.City = true, l.Country, l.Region, l.City
		login.Latitude, login.Longitude, login.AccuracyKm, login.ASN = l.Latitude, l.Longitude, l.AccuracyKm, l.ASN
	}
	c := storage.Commit{User: a.User, Event: event, History: e.historyLimits(a.time)}
	ch := profile.Change{Now: a.time, Limits: e.cfg.profile}
	if teaches {
		ch.Login = login
		if ident.ID != "" {
			ch.Keys = e.teachDevice(&c, ev, a.Fingerprint, a.fpKey, a.time)
		}
	}
	if ident.ID != "" && (teaches || ident.Known) {
		var r profile.Restriction
		if len(hold) > 0 {
			r = profile.Restriction{DeviceID: ident.ID, Until: a.time.Add(e.cfg.restrictFor), Actions: slices.Clone(hold)}
		}
		if !ident.Known {
			// A device that joins the user while a restriction is in force
			// on another of theirs inherits it: otherwise a restricted
			// session could shed its restriction by logging in again with
			// another fingerprint.
			if until, actions := ev.st.Profile.RestrictionInForce(a.time); len(actions) > 0 {
				r.DeviceID, r.Until, r.Actions = ident.ID, later(r.Until, until), append(r.Actions, actions...)
			}
		}
		if len(r.Actions) > 0 {
			restrict := r // on the heap only when there is one
			ch.Restrict = &restrict
		}
	}
	if ch.Login != nil || ch.Restrict != nil {
		c.Profile = e.profileWrite(&ev.write, &ev.st.Profile, ch)
	}
	if res.Verdict.Challenges() {
		c.ChallengeLimit = &storage.ChallengeLimit{Since: a.time.Add(-challengeRateSpan), Max: e.cfg.limits.PerHour}
		event.ChallengeID = id.New()
		c.Challenge = &storage.Challenge{
			ID:          event.ChallengeID,
			User:        a.User,
			DeviceID:    ident.ID,
			Fingerprint: a.Fingerprint,
			KnownDevice: ident.Known,
			Status:      storage.ChallengePending,
			Reasons:     event.Reasons,
			Email:       a.Email,
			Phone:       a.Phone,
			CreatedAt:   a.time,
			ExpiresAt:   a.time.Add(e.cfg.challengeTTL),
			UpdatedAt:   a.time,
			Attempt:     *event,
		}
	}
	return c
}

// teachDevice adds to c what a successful login from the identified device
// with fingerprint fp (whose key is fpKey) teaches about the device: its
// global record, when it changed or was last written a while ago, and the
// hashes the user saw from it. It returns the keys of those hashes for the
// profile, or nil when they did not change.
func (e *Engine) teachDevice(c *storage.Commit, ev *evaluation, fp, fpKey string, at time.Time) []string {
	ident := &ev.ident
	var stored *storage.Device
	if ident.Device.ID != "" {
		stored = &ident.Device
	}
	if storage.NeedsTouch(stored, ev.a.User, fp, at) {
		d := ident.Device
		d.ID = ident.ID
		c.Device = &storage.DeviceWrite{Device: fingerprint.Observe(d, fp, at), Seen: at, MaxUsers: e.cfg.maxDeviceUsers()}
	}
	if ident.Known && len(ident.Profile.Keys) > 0 && ident.Profile.Keys[0] == fpKey {
		return nil // the hash the user saw last from it
	}
	if ev.st.Hashes == nil && ident.Known {
		// The hashes were not read (the fingerprint is another of the
		// device's newest ones): move its key up.
		return fingerprint.PushKey(ident.Profile.Keys, fpKey)
	}
	seen := fingerprint.Push(ev.st.Hashes[ident.ID], fp)
	c.Hashes = &storage.DeviceHashes{DeviceID: ident.ID, Hashes: seen}
	return fingerprint.Keys(seen)
}

// profileWrite fills w with the write of the change to the loaded profile
// p, and returns it.
func (e *Engine) profileWrite(w *storage.ProfileWrite, p *profile.Profile, ch profile.Change) *storage.ProfileWrite {
	next, gone, err := p.Apply(ch)
	if err != nil {
		// Only a change that forgets a device can fail; callers that make
		// one apply it themselves first.
		panic("ato: " + err.Error())
	}
	*w = storage.ProfileWrite{Base: p.Version, New: next, Change: ch, Gone: gone}
	return w
}

// historyLimits bound the user's history for a write at the time.
func (e *Engine) historyLimits(at time.Time) storage.HistoryLimits {
	return storage.HistoryLimits{Max: e.cfg.maxHistory, Since: at.Add(-e.cfg.historyAge)}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// RecordFailure records a failed password attempt. It feeds the
// brute-force and credential-stuffing signals; whether the attempt's device
// and network were known for the user is decided when it is recorded (by
// the fingerprint's exact match with a hash the user saw from a known
// device), so that an owner mistyping on their own device is told apart
// from an attacker. It does the same work whether or not the user has a
// history, so its cost tells nothing about the account.
//
// Only the user must be valid. An invalid optional field (a fingerprint
// too long, a last fingerprint without a fingerprint, an address that does
// not parse, …) is dropped and the failure recorded without it: the fields
// come from the client, and an attacker must not be able to keep failures
// from being counted by sending a bad one.
func (e *Engine) RecordFailure(ctx context.Context, r Request) error {
	a, err := normaliseLenient(r, e.cfg.now, e.cfg.replay)
	if err != nil {
		return err
	}
	f := storage.Failure{User: a.User, Time: a.time, Network: a.network}
	if a.Fingerprint != "" {
		f.DeviceKey = fingerprint.Key(a.Fingerprint)
	}
	if err := e.store.AddFailure(ctx, f, e.failureLimits(a.time)); err != nil {
		return fmt.Errorf("ato: record failure: %w", err)
	}
	return nil
}

// failureLimits bound the failures kept: for as long as the longest window
// they are counted in, as many as the counts need.
func (e *Engine) failureLimits(at time.Time) storage.FailureLimits {
	return storage.FailureLimits{
		KnownSince:      at.Add(-e.cfg.knownWindow),
		Keep:            e.cfg.failureKeep(),
		MaxUser:         e.cfg.maxUserFailures(),
		MaxNetworkUsers: e.cfg.maxNetworkUsers(),
	}
}

// DeleteUser erases every record of the user.
func (e *Engine) DeleteUser(ctx context.Context, user string) error {
	if err := e.store.DeleteUser(ctx, user); err != nil {
		return fmt.Errorf("ato: delete user: %w", err)
	}
	return nil
}

// purgeBatch is how many records one write of Purge drops at most.
const purgeBatch = 1000

// Purge drops history and challenges older than the history age (see
// [WithHistory]) and failures older than the longest window they are
// counted in, in short writes of at most a thousand records, and returns
// how many records were dropped. Run it from time to time; it stops when
// ctx is done.
func (e *Engine) Purge(ctx context.Context) (int64, error) {
	now := e.cfg.now()
	r := storage.PurgeRequest{
		EventsBefore:     now.Add(-e.cfg.historyAge),
		FailuresBefore:   now.Add(-e.cfg.failureKeep()),
		ChallengesBefore: now.Add(-e.cfg.historyAge),
		Batch:            purgeBatch,
	}
	var total int64
	for {
		n, err := e.store.Purge(ctx, r)
		total += int64(n)
		if err != nil {
			return total, fmt.Errorf("ato: purge: %w", err)
		}
		if n < r.Batch {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("ato: purge: %w", err)
		}
	}
}

// decide applies the policy; a panic in an operator's policy is an error,
// not a crash of the login handler.
func decide(p verdict.Policy, in *verdict.Input) (d verdict.Decision, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ato: policy panicked: %v", r)
		}
	}()
	return p.Decide(in), nil
}

// locate asks the Locator where ip is, turning a panic into an error and
// dropping coordinates that are not numbers.
func locate(l signals.Locator, ip netip.Addr) (loc signals.Location, ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ato: locator panicked: %v", r)
		}
	}()
	loc, ok = l.Locate(ip)
	return sane(loc), ok, nil
}

// sane drops coordinates that are not finite numbers (a broken database or
// Locator), so that they never reach the signals or the store.
func sane(l signals.Location) signals.Location {
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	if !finite(l.Latitude) || !finite(l.Longitude) {
		l.Latitude, l.Longitude = 0, 0
	}
	if !finite(l.AccuracyKm) || l.AccuracyKm < 0 {
		l.AccuracyKm = 0
	}
	return l
}

// Explain renders the result as one line a person can read: the verdict,
// what was found, the rule that decided and any shadow rule that would
// have decided otherwise, e.g. "challenge: new device and new IP
// 203.0.113.9 (first seen), rule new-device-new-network".
func (r Result) Explain() string {
	var b strings.Builder
	b.WriteString(string(r.Verdict))
	b.WriteString(": ")
	var phrases []string
	for _, f := range r.Findings {
		if p := f.Summary(); !slices.Contains(phrases, p) {
			phrases = append(phrases, p)
		}
	}
	switch n := len(phrases); n {
	case 0:
		b.WriteString("nothing unusual")
	case 1:
		b.WriteString(phrases[0])
	default:
		b.WriteString(strings.Join(phrases[:n-1], ", "))
		b.WriteString(" and ")
		b.WriteString(phrases[n-1])
	}
	b.WriteString(", rule ")
	b.WriteString(r.Rule)
	for _, s := range r.Shadow {
		if s.Preempts && s.Verdict != r.Verdict {
			b.WriteString("; shadow rule ")
			b.WriteString(s.Rule)
			b.WriteString(" would ")
			b.WriteString(string(s.Verdict))
		}
	}
	return b.String()
}
