package signals

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/atoguard/ato/internal/ident"
)

// Detectors are the signals an engine runs, in order: the built-in ones
// ([Builtin]), then plug-ins. They hold the plug-in contract: names are
// unique; a plug-in may declare its reasons ([Declarer]), each a valid
// name with a score in [0,1], not a built-in reason nor another plug-in's;
// and every finding is checked when it is reported, so that one bad
// plug-in cannot corrupt a verdict. Detectors are safe for concurrent use.
type Detectors struct {
	all      []Signal
	plugins  int // the last plugins of all
	declared map[Reason]declared
}

// declared is a reason a plug-in declares, and the plug-in's name.
type declared struct {
	ReasonInfo
	signal string
}

// NewDetectors returns the built-in detectors configured by c, then the
// plug-ins. Its errors name the signal: two signals with one name, a
// declared reason that is not a valid name, has a score outside [0,1], is
// built-in, or is declared by two plug-ins.
func NewDetectors(c Config, plugins ...Signal) (*Detectors, error) {
	d := &Detectors{all: append(Builtin(c), plugins...), plugins: len(plugins), declared: map[Reason]declared{}}
	seen := map[string]bool{}
	for _, s := range d.all {
		if seen[s.Name()] {
			return nil, fmt.Errorf("two signals are named %q", s.Name())
		}
		seen[s.Name()] = true
	}
	for _, s := range plugins {
		dc, ok := s.(Declarer)
		if !ok {
			continue
		}
		for _, ri := range dc.Reasons() {
			prev := d.declared[ri.Reason].signal
			switch {
			case !ident.Reason(string(ri.Reason)):
				return nil, fmt.Errorf("signal %q declares reason %q: use a lower-case letter, then letters, digits and '_'", s.Name(), ri.Reason)
			case math.IsNaN(ri.Score) || ri.Score < 0 || ri.Score > 1:
				return nil, fmt.Errorf("signal %q declares reason %q with score %v outside [0,1]", s.Name(), ri.Reason, ri.Score)
			case IsBuiltin(ri.Reason):
				return nil, fmt.Errorf("signal %q declares %q, a built-in reason", s.Name(), ri.Reason)
			case prev != "" && prev != s.Name():
				return nil, fmt.Errorf("signals %q and %q both declare %q", prev, s.Name(), ri.Reason)
			}
			d.declared[ri.Reason] = declared{ri, s.Name()}
		}
	}
	return d, nil
}

// Known reports whether the detectors can report r: a built-in reason, or
// one a plug-in declares. A policy may use those.
func (d *Detectors) Known(r Reason) bool {
	_, ok := d.declared[r]
	return ok || IsBuiltin(r)
}

// Run runs every detector on the input, in order, and returns their
// findings, each with its Signal set and checked: a valid reason, a score
// in [0,1], no built-in reason from a plug-in, and from a plug-in that
// declares its reasons only those (a zero score takes the declared one). A
// detector's error or panic, or a bad finding, is an error that names the
// detector.
func (d *Detectors) Run(ctx context.Context, in *Input) ([]Finding, error) {
	var all []Finding
	for i, s := range d.all {
		plugin := i >= len(d.all)-d.plugins
		fs, err := run(ctx, s, in)
		if err != nil {
			return nil, err
		}
		if all == nil && !plugin {
			// The first findings, of a built-in (whose slices are new on
			// every call), are checked in place and kept: most
			// attempts with a finding have one detector's.
			all = fs[:0]
		}
		for _, f := range fs {
			if f, err = d.check(s, plugin, f); err != nil {
				return nil, err
			}
			all = append(all, f)
		}
	}
	return all, nil
}

func (d *Detectors) check(s Signal, plugin bool, f Finding) (Finding, error) {
	switch {
	case !ident.Reason(string(f.Reason)):
		return f, fmt.Errorf("signal %q: reason %q must be a lower-case letter, then letters, digits and '_'", s.Name(), f.Reason)
	case math.IsNaN(f.Score) || f.Score < 0 || f.Score > 1:
		return f, fmt.Errorf("signal %q: reason %q: score %v is outside [0,1]", s.Name(), f.Reason, f.Score)
	case plugin && IsBuiltin(f.Reason):
		return f, fmt.Errorf("signal %q: reason %q is a built-in reason; plug-ins report their own", s.Name(), f.Reason)
	}
	if _, ok := s.(Declarer); ok && plugin {
		dc, declared := d.declared[f.Reason]
		if !declared || dc.signal != s.Name() {
			return f, fmt.Errorf("signal %q: reason %q is not one it declares", s.Name(), f.Reason)
		}
		if f.Score == 0 {
			f.Score = dc.Score
		}
	}
	f.Signal = s.Name()
	return f, nil
}

// run runs one detector, turning a panic into an error.
func run(ctx context.Context, s Signal, in *Input) (fs []Finding, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("signal %q panicked: %v", s.Name(), p)
		}
	}()
	fs, err = s.Detect(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("signal %q: %w", s.Name(), err)
	}
	return fs, nil
}

// Score combines the findings' scores into the probability that at least
// one finding is right, were each an independent estimate:
// 1 - Π(1 - score).
func Score(fs []Finding) float64 {
	p := 1.0
	for _, f := range fs {
		p *= 1 - f.Score
	}
	return 1 - p
}

// Reasons are the reasons of the findings, in order, without repeats.
func Reasons(fs []Finding) []Reason {
	var rs []Reason
	for _, f := range fs {
		if !slices.Contains(rs, f.Reason) {
			rs = append(rs, f.Reason)
		}
	}
	return rs
}
