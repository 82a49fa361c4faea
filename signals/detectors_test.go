package signals_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/atoguard/ato/signals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// plugin reports the findings it is given, and declares reasons if any.
type plugin struct {
	name     string
	found    []signals.Finding
	err      error
	declares []signals.ReasonInfo
}

func (p plugin) Name() string { return p.name }
func (p plugin) Detect(context.Context, *signals.Input) ([]signals.Finding, error) {
	if p.name == "panics" {
		panic("bug")
	}
	return p.found, p.err
}

type declaring struct{ plugin }

func (d declaring) Reasons() []signals.ReasonInfo { return d.declares }

func TestNewDetectorsChecksThePlugins(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		plugins []signals.Signal
		err     string
	}{
		"a built-in name":   {[]signals.Signal{plugin{name: "new_ip"}}, `two signals are named "new_ip"`},
		"two of one name":   {[]signals.Signal{plugin{name: "x"}, plugin{name: "x"}}, `two signals are named "x"`},
		"an invalid reason": {[]signals.Signal{declaring{plugin{name: "x", declares: []signals.ReasonInfo{{Reason: "Bad"}}}}}, "declares reason"},
		"a score above 1":   {[]signals.Signal{declaring{plugin{name: "x", declares: []signals.ReasonInfo{{Reason: "x", Score: 2}}}}}, "outside [0,1]"},
		"a built-in reason": {[]signals.Signal{declaring{plugin{name: "x", declares: []signals.ReasonInfo{{Reason: "new_ip"}}}}}, "a built-in reason"},
		"declared twice": {[]signals.Signal{
			declaring{plugin{name: "x", declares: []signals.ReasonInfo{{Reason: "r"}}}},
			declaring{plugin{name: "y", declares: []signals.ReasonInfo{{Reason: "r"}}}}}, `signals "x" and "y" both declare "r"`},
	} {
		_, err := signals.NewDetectors(signals.Config{}, tc.plugins...)
		assert.ErrorContains(t, err, tc.err, name)
	}
	d, err := signals.NewDetectors(signals.Config{}, declaring{plugin{name: "x", declares: []signals.ReasonInfo{{Reason: "breached", Score: 0.6}}}})
	require.NoError(t, err)
	assert.True(t, d.Known("breached"))
	assert.True(t, d.Known(signals.NewIPReason))
	assert.False(t, d.Known("other"))
}

func TestRunChecksEveryFinding(t *testing.T) {
	t.Parallel()
	in := learntInput()
	for name, tc := range map[string]struct {
		p   signals.Signal
		err string
	}{
		"an error":          {plugin{name: "x", err: errors.New("down")}, `signal "x": down`},
		"a panic":           {plugin{name: "panics"}, `signal "panics" panicked: bug`},
		"a bad reason":      {plugin{name: "x", found: []signals.Finding{{Reason: "Bad"}}}, "must be a lower-case letter"},
		"a bad score":       {plugin{name: "x", found: []signals.Finding{{Reason: "r", Score: -1}}}, "outside [0,1]"},
		"a built-in":        {plugin{name: "x", found: []signals.Finding{{Reason: signals.NewIPReason}}}, "is a built-in reason"},
		"an undeclared one": {declaring{plugin{name: "x", found: []signals.Finding{{Reason: "other"}}, declares: []signals.ReasonInfo{{Reason: "r"}}}}, "not one it declares"},
	} {
		d, err := signals.NewDetectors(signals.Config{}, tc.p)
		require.NoError(t, err, name)
		_, err = d.Run(context.Background(), in)
		assert.ErrorContains(t, err, tc.err, name)
	}
	d, err := signals.NewDetectors(signals.Config{}, declaring{plugin{name: "x", found: []signals.Finding{{Reason: "r"}}, declares: []signals.ReasonInfo{{Reason: "r", Score: 0.6}}}})
	require.NoError(t, err)
	fs, err := d.Run(context.Background(), in)
	require.NoError(t, err)
	require.NotEmpty(t, fs)
	last := fs[len(fs)-1]
	assert.Equal(t, signals.Finding{Reason: "r", Score: 0.6, Signal: "x"}, last, "the declared score, and the signal's name")
	assert.InDelta(t, 1-(1-0.6), signals.Score([]signals.Finding{last}), 1e-9)
	assert.Equal(t, []signals.Reason{"a", "b"}, signals.Reasons([]signals.Finding{{Reason: "a"}, {Reason: "b"}, {Reason: "a"}}))
}

// learntInput is a login of a user from a network they know.
func learntInput() *signals.Input {
	return &signals.Input{Now: now, KnownSince: now.Add(-90 * 24 * time.Hour), User: "alice",
		IP: netip.MustParseAddr("203.0.113.9"), Network: "203.0.113.9",
		Profile: learnt(nil, success("203.0.113.9", "NL", now.Add(-time.Hour)))}
}
