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
// Evaluate normalises the request, locates its IP (with a [WithLocator]),
// loads the user's state with one store read, identifies the device
// ([fingerprint]), runs the detectors ([signals]), applies the policy
// ([verdict]), overrides the policy where the engine must (a held-back
// action, a step-up, the hourly challenge limit), and writes the attempt —
// with its challenge, if any — in one atomic store write ([storage]); an
// engine that keeps no history ([WithHistory] with 0 events) writes only
// what the attempt teaches and its challenge. This
// file is that pipeline, step by step, in that order.
//
// # What is remembered
//
// Only an allowed or restricted login teaches the engine: its device, IP and
// country become known for the user. A challenged or denied attempt is
// recorded in the user's history (unless the engine keeps none) but
// teaches nothing, so an attacker who retries does not become
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
// transition is recorded in the user's history (unless the engine keeps
// none). The rules of a
// challenge's life are in package [challenge].
//
// # Errors
//
// A verdict of challenge or deny is a [Result], never an error. Errors are
// for invalid requests ([ErrInvalidRequest]), failing plug-ins and stores,
// and the things a caller can act on, one sentinel each (see errors.go:
// [ErrChallengeNotFound], [ErrRateLimited], …); each method's documentation
// lists those it can return.
//
// # Concurrency
//
// An Engine is safe for concurrent use by many goroutines.
package ato

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/internal/devicetoken"
	"github.com/atoguard/ato/internal/id"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/verdict"
)

// Evaluate decides on an attempt. A verdict of challenge or deny is a
// result, not an error. Errors: [ErrInvalidRequest] for an invalid request
// (the message names the field); a failing or panicking plug-in signal,
// Locator or policy; a store failure. Nothing is written then.
func (e *Engine) Evaluate(ctx context.Context, r Request) (Result, error) {
	ev := evaluations.Get().(*evaluation)
	res, err := e.run(ctx, ev, r)
	ev.reset()
	evaluations.Put(ev)
	return res, err
}

// StepUp evaluates an attempt as [Engine.Evaluate] does, but asks for a
// challenge whenever the verdict would let it in (allow or restrict), or
// deny it only because a restriction holds its action back, with the rule
// [RuleStepUp]: a way for the application to make the person prove
// ownership before something sensitive, such as setting up an
// authenticator app. Completing the challenge trusts the device and lifts
// its restriction. Any other deny stays a deny. Errors: those of Evaluate.
func (e *Engine) StepUp(ctx context.Context, r Request) (Result, error) {
	ev := newEvaluation()
	ev.stepUp = true
	return e.run(ctx, ev, r)
}

// evaluation is one attempt on its way through the pipeline: what each
// step found, and the records the steps pass by pointer, so that an
// evaluation allocates them at once.
type evaluation struct {
	stepUp  bool
	a       attempt              // normalise
	loc     signals.Location     // locate
	located bool                 //
	st      storage.State        // load
	ident   fingerprint.Identity // identify
	in      signals.Input        // detect: what the detectors see
	found   []signals.Finding    //
	score   float64              //
	policy  verdict.Input        // decide
	dec     verdict.Decision     // decide, override
	hold    []string             // the policy's restriction, kept whatever the verdict becomes
	reasons []signals.Reason     // of the findings, after the overrides
	id      string               // commit: the evaluation id
	chal    string               // the id of the challenge committed
	token   string               // the device token the login issued

	lookup   func() []string // ev.lookupKeys, made once per evaluation
	failures storage.FailureQuery
	counts   storage.ChallengeQuery
	event    storage.Event
	login    profile.Login
	write    storage.ProfileWrite
}

// evaluations recycles the evaluations of Evaluate: nothing the engine
// returns or a store keeps points into one once Evaluate returns (stores
// copy what a commit gives them; a profile's slices are its own).
var evaluations = sync.Pool{New: func() any { return newEvaluation() }}

func newEvaluation() *evaluation {
	ev := new(evaluation)
	ev.lookup = ev.lookupKeys
	return ev
}

// reset empties the evaluation for its next attempt.
func (ev *evaluation) reset() { *ev = evaluation{lookup: ev.lookup} }

// run takes the attempt through the steps below, in their order.
func (e *Engine) run(ctx context.Context, ev *evaluation, r Request) (Result, error) {
	if err := e.normalise(ev, r); err != nil {
		return Result{}, err
	}
	if err := e.locate(ev); err != nil {
		return Result{}, err
	}
	if err := e.load(ctx, ev); err != nil {
		return Result{}, err
	}
	e.identify(ev)
	if err := e.detect(ctx, ev); err != nil {
		return Result{}, err
	}
	if err := e.decide(ev); err != nil {
		return Result{}, err
	}
	e.override(ev)
	if err := e.commit(ctx, ev); err != nil {
		return Result{}, err
	}
	return e.result(ev), nil
}

// normalise validates the request and puts it in the form the steps
// compare (see request.go): every error wraps ErrInvalidRequest.
func (e *Engine) normalise(ev *evaluation, r Request) (err error) {
	ev.a, err = normalise(r, e.cfg.now, e.cfg.replay, false)
	return err
}

// locate asks the Locator where the attempt's IP is, turning a panic into
// an error and dropping coordinates that are not numbers.
func (e *Engine) locate(ev *evaluation) (err error) {
	if !ev.a.ip.IsValid() || e.cfg.locator == nil {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ato: locator panicked: %v", r)
		}
	}()
	ev.loc, ev.located = e.cfg.locator.Locate(ev.a.ip)
	ev.loc = sane(ev.loc)
	return nil
}

// load reads, in one store call, what the attempt is decided from: the
// user's profile, the devices its hashes may be, and the counts the
// detectors need, over their windows; each bounded.
func (e *Engine) load(ctx context.Context, ev *evaluation) (err error) {
	a, d := &ev.a, &e.cfg.detectors
	a.withKeys()
	ev.failures = storage.FailureQuery{
		UserSince:         a.time.Add(-d.BruteForce.Window),
		MaxUser:           e.cfg.maxUserFailures(),
		Network:           a.network,
		NetworkSince:      a.time.Add(-d.CredentialStuffing.Window),
		MaxNetworkUsers:   e.cfg.maxNetworkUsers(),
		UnknownSince:      a.time.Add(-d.CredentialStuffing.UnknownWindow),
		MaxNetworkUnknown: e.cfg.maxNetworkUsers(),
		CampaignSince:     a.time.Add(-d.StuffingCampaign.Window),
		MaxCampaignUsers:  e.cfg.maxCampaignUsers(),
	}
	ev.counts = storage.ChallengeQuery{Since: a.time.Add(-challengeRateSpan), Max: e.cfg.limits.PerHour}
	r := storage.LoadRequest{
		User:           a.user,
		FingerprintKey: a.fpKey,
		MaxCandidates:  maxCandidates,
		Failures:       &ev.failures,
		Challenges:     &ev.counts,
	}
	if a.fingerprint != "" {
		r.DeviceKeys = ev.lookup // made only when the store searches candidates
	}
	if ev.st, err = e.store.Load(ctx, r); err != nil {
		return fmt.Errorf("ato: load state: %w", err)
	}
	return nil
}

// maxCandidates is how many devices of other users an attempt's hashes are
// compared with.
const maxCandidates = 16

// lookupKeys returns the keys that find the devices the attempt may be.
func (ev *evaluation) lookupKeys() []string {
	return fingerprint.LookupKeys(ev.a.fingerprint, ev.a.last)
}

// identify names the attempt's device: one of the user's, another user's,
// or a new one, whose id the engine's key makes from the fingerprint (so
// two engines sharing a store, and two attempts racing with one new
// fingerprint, agree on it).
func (e *Engine) identify(ev *evaluation) {
	a, st := &ev.a, &ev.st
	var token string // the device a valid token of the user's names
	if a.token != "" {
		token, _, _ = devicetoken.Check(&e.tokenKey, a.user, a.token, a.time)
	}
	ev.ident = fingerprint.Identify(fingerprint.Attempt{
		Fingerprint: a.fingerprint, Last: a.last, FingerprintKey: a.fpKey, LastKey: a.lastKey, Token: token,
	}, &st.Profile, st.Hashes, st.Candidates, e.cfg.matchThreshold)
	if ev.ident.Match == signals.MatchNew {
		ev.ident = fingerprint.Named(e.deviceID(a.fingerprint), &st.Profile, st.Candidates)
		if id := &ev.ident; id.Known && token == "" && !id.Profile.TokenSeen.IsZero() {
			id.Token = signals.TokenMissing
		}
	}
}

// deviceID names a device first seen with the fingerprint.
func (e *Engine) deviceID(fp string) string { return id.Keyed(e.cfg.secret, "device", fp) }

// detect runs the detectors, built-in then plug-ins, over what the steps
// found (detect.go fills in their input); a detector's error or panic, or a
// plug-in's bad finding, fails the evaluation.
func (e *Engine) detect(ctx context.Context, ev *evaluation) (err error) {
	e.input(ev)
	if ev.found, err = e.detectors.Run(ctx, &ev.in); err != nil {
		return fmt.Errorf("ato: %w", err)
	}
	ev.score = signals.Score(ev.found)
	return nil
}

// decide applies the policy to the findings; a panic in an operator's
// policy is an error, not a crash of the login handler.
func (e *Engine) decide(ev *evaluation) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ato: policy panicked: %v", r)
		}
	}()
	ev.policy = verdict.Input{Action: ev.a.action, Findings: ev.found, Score: ev.score, KnownDevice: ev.in.Device.Known,
		DeviceToken: ev.in.Device.Token == signals.TokenValid}
	ev.dec = e.cfg.policy.Decide(&ev.policy)
	if !ev.dec.Verdict.Valid() {
		return fmt.Errorf("ato: policy rule %q returned verdict %q", ev.dec.Rule, ev.dec.Verdict)
	}
	if ev.dec.Verdict.Restricts() {
		ev.hold = ev.dec.Restrictions
	}
	return nil
}

// override applies the decisions the engine takes whatever the policy said
// (override.go), in order: a held-back action is denied, a step-up asks for
// a challenge, and a challenge past the user's hourly limit is denied.
func (e *Engine) override(ev *evaluation) {
	held := e.enforceRestriction(ev)
	if ev.stepUp && (ev.dec.Verdict.Succeeds() || held) {
		e.stepUp(ev)
	}
	if ev.dec.Verdict.Challenges() && ev.in.RecentChallenges >= e.cfg.limits.PerHour {
		e.limitChallenges(ev, ev.in.RecentChallenges)
	}
	ev.reasons = signals.Reasons(ev.found)
}

// commit writes the attempt (unless the engine keeps no history), what it
// teaches and its challenge in one atomic store write (see commit.go). When concurrent evaluations took the
// user's last challenges of the hour since the load, the store refuses the
// challenge: the hourly limit then denies the attempt, which is written
// again without one.
func (e *Engine) commit(ctx context.Context, ev *evaluation) error {
	ev.id = id.New()
	err := e.save(ctx, e.write(ev))
	if errors.Is(err, storage.ErrLimited) {
		e.limitChallenges(ev, e.cfg.limits.PerHour)
		ev.reasons = signals.Reasons(ev.found)
		err = e.save(ctx, e.write(ev))
	}
	if err != nil {
		return fmt.Errorf("ato: commit: %w", err)
	}
	return nil
}

// result is the engine's answer.
func (e *Engine) result(ev *evaluation) Result {
	res := Result{
		EvaluationID:  ev.id,
		Verdict:       ev.dec.Verdict,
		Reasons:       ev.reasons,
		FingerprintID: ev.in.Device.ID,
		Confidence:    ev.in.Device.Confidence,
		ChallengeID:   ev.chal,
		Score:         ev.score,
		Findings:      ev.found,
		Rule:          ev.dec.Rule,
		Shadow:        ev.dec.Shadow,
		DeviceToken:   ev.token,
	}
	if ev.dec.Verdict.Restricts() {
		res.Restrictions = ev.dec.Restrictions
	}
	if ev.in.Located {
		loc := ev.in.Location
		res.Location = &loc
	}
	return res
}

// evaluate runs a plain evaluation and returns what the detectors saw, for
// the engine's own checks (a factor change).
func (e *Engine) evaluate(ctx context.Context, r Request) (Result, *signals.Input, error) {
	ev := newEvaluation()
	res, err := e.run(ctx, ev, r)
	return res, &ev.in, err
}
