package ato_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/sqlitestore"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/verdict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clock is a fake clock moved by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// stores are the stores every engine test runs against.
var stores = map[string]func(t *testing.T) storage.Store{
	"memstore": func(t *testing.T) storage.Store { return memstore.New() },
	"sqlitestore": func(t *testing.T) storage.Store {
		s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "ato.db"))
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	},
}

// eachStore runs fn once per store, with a fresh store and engine.
func eachStore(t *testing.T, fn func(t *testing.T, h *harness), opts ...ato.Option) {
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newHarness(t, open(t), opts...))
		})
	}
}

type harness struct {
	store  storage.Store
	clock  *clock
	engine *ato.Engine
}

func newHarness(t *testing.T, s storage.Store, opts ...ato.Option) *harness {
	h := &harness{store: s, clock: newClock()}
	e, err := ato.New(s, append([]ato.Option{ato.WithClock(h.clock.Now)}, opts...)...)
	require.NoError(t, err)
	h.engine = e
	return h
}

func (h *harness) eval(t *testing.T, r ato.Request) ato.Result {
	t.Helper()
	h.clock.Advance(time.Minute)
	res, err := h.engine.Evaluate(t.Context(), r)
	require.NoError(t, err)
	return res
}

// fp makes a distinct fingerprint in the SDK's format (2048 hex characters).
func fp(seed string) string {
	const hexdigits = "0123456789abcdef"
	var b strings.Builder
	for i := 0; b.Len() < 2048; i++ {
		b.WriteByte(hexdigits[(int(seed[i%len(seed)])+i*7)%16])
	}
	return b.String()
}

var (
	laptop = fp("laptop")
	phone  = fp("phone")
	tablet = fp("tablet")
)

const (
	homeIP   = "203.0.113.9"
	officeIP = "198.51.100.20"
	cafeIP   = "192.0.2.77"
)

func TestFirstLoginThenSameDeviceThenNewDevice(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		first := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		assert.Equal(t, verdict.Allow, first.Verdict)
		assert.Equal(t, []signals.Reason{signals.NewUserReason}, first.Reasons, "a first login is new_user and nothing else new")
		assert.NotEmpty(t, first.FingerprintID)
		assert.NotEmpty(t, first.EvaluationID)
		assert.Equal(t, 1.0, first.Confidence)
		assert.Empty(t, first.ChallengeID)

		again := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		assert.Equal(t, verdict.Allow, again.Verdict)
		assert.Empty(t, again.Reasons)
		assert.Equal(t, first.FingerprintID, again.FingerprintID, "the same fingerprint keeps its id")
		assert.NotEqual(t, first.EvaluationID, again.EvaluationID)
		assert.Zero(t, again.Score)

		attack := h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP, Email: "alice@example.com"})
		assert.Equal(t, verdict.Challenge, attack.Verdict)
		assert.Equal(t, []signals.Reason{signals.NewDeviceReason, signals.NewIPReason}, attack.Reasons)
		assert.NotEqual(t, first.FingerprintID, attack.FingerprintID)
		require.NotEmpty(t, attack.ChallengeID)
		assert.Equal(t, "new-device-new-network", attack.Rule)
		assert.InDelta(t, 1-(1-signals.NewDeviceScore)*(1-signals.NewIPScore), attack.Score, 1e-9)

		c, err := h.store.Challenge(t.Context(), attack.ChallengeID)
		require.NoError(t, err, "the challenge is stored")
		assert.Equal(t, storage.ChallengePending, c.Status)
		assert.Equal(t, attack.FingerprintID, c.DeviceID)
		assert.Equal(t, "alice@example.com", c.Email)
		assert.Equal(t, []string{"new_device", "new_ip"}, c.Reasons)
		assert.Equal(t, attack.EvaluationID, c.Attempt.ID)
	})
}

func TestChallengedAttemptTeachesNothing(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		var ids []string
		for range 3 {
			res := h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP})
			assert.Equal(t, verdict.Challenge, res.Verdict, "retrying must not make the attacker known")
			assert.Contains(t, res.Reasons, signals.NewDeviceReason)
			assert.Contains(t, res.Reasons, signals.NewIPReason)
			ids = append(ids, res.FingerprintID)
		}
		assert.Equal(t, ids[0], ids[2], "a challenged device keeps its id")
		assert.Len(t, profileOf(t, h.store, "alice").Devices, 1, "a challenged device is not one of the user's")

		// The owner's known device on the café IP is allowed, and that
		// success makes the IP known.
		owner := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: cafeIP})
		assert.Equal(t, verdict.Allow, owner.Verdict)
		assert.Equal(t, []signals.Reason{signals.NewIPReason}, owner.Reasons, "a known device on a new IP is allowed, with new_ip")
		again := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: cafeIP})
		assert.Empty(t, again.Reasons)
	})
}

func TestNewDeviceOnKnownIPIsAllowedAndLearnt(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		res := h.eval(t, ato.Request{User: "alice", Fingerprint: tablet, IP: homeIP})
		assert.Equal(t, verdict.Allow, res.Verdict)
		assert.Equal(t, []signals.Reason{signals.NewDeviceReason}, res.Reasons)
		res2 := h.eval(t, ato.Request{User: "alice", Fingerprint: tablet, IP: officeIP})
		assert.Equal(t, verdict.Allow, res2.Verdict, "an allowed device is known from then on")
		assert.Equal(t, []signals.Reason{signals.NewIPReason}, res2.Reasons)
		assert.Equal(t, res.FingerprintID, res2.FingerprintID)
	})
}

func TestMissingFingerprint(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})

		bot := h.eval(t, ato.Request{User: "alice", IP: cafeIP})
		assert.Equal(t, verdict.Challenge, bot.Verdict)
		assert.Equal(t, []signals.Reason{signals.NewIPReason, signals.MissingFingerprintReason}, bot.Reasons)
		assert.Equal(t, "missing-fingerprint-new-ip", bot.Rule)
		assert.Empty(t, bot.FingerprintID)
		assert.Zero(t, bot.Confidence)
		assert.NotEmpty(t, bot.ChallengeID)

		home := h.eval(t, ato.Request{User: "alice", IP: homeIP})
		assert.Equal(t, verdict.Allow, home.Verdict, "no fingerprint from a known IP is allowed")
		assert.Equal(t, []signals.Reason{signals.MissingFingerprintReason}, home.Reasons)

		first := h.eval(t, ato.Request{User: "bob", IP: homeIP})
		assert.Equal(t, verdict.Allow, first.Verdict)
		assert.Equal(t, []signals.Reason{signals.NewUserReason, signals.MissingFingerprintReason}, first.Reasons)
	})
}

func TestLastFingerprintKeepsTheDevice(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		// Opaque ids (a device cookie that rotates) carry no similarity:
		// the browser's previous id alone names the device.
		const cookie, rotated = "dc_7f3a9e21", "dc_b04c5d88"
		first := h.eval(t, ato.Request{User: "alice", Fingerprint: cookie, IP: homeIP})

		drift := h.eval(t, ato.Request{User: "alice", Fingerprint: rotated, LastFingerprint: cookie, IP: cafeIP})
		assert.Equal(t, verdict.Allow, drift.Verdict, "a browser that says what it was is its known device")
		assert.Equal(t, first.FingerprintID, drift.FingerprintID)
		assert.NotContains(t, drift.Reasons, signals.NewDeviceReason)
		assert.Equal(t, []signals.Reason{signals.NewIPReason}, drift.Reasons)
		assert.Equal(t, fingerprint.LastConfidence, drift.Confidence)

		// The device's stored hash moved: the new one now matches exactly,
		// for this user and for any other.
		exact := h.eval(t, ato.Request{User: "alice", Fingerprint: rotated, IP: homeIP})
		assert.Equal(t, first.FingerprintID, exact.FingerprintID)
		assert.Equal(t, 1.0, exact.Confidence)
		assert.Empty(t, exact.Reasons)
		bob := h.eval(t, ato.Request{User: "bob", Fingerprint: rotated, IP: homeIP})
		assert.Equal(t, first.FingerprintID, bob.FingerprintID)
		// And the old state still names it.
		old := h.eval(t, ato.Request{User: "alice", Fingerprint: cookie, IP: homeIP})
		assert.Equal(t, first.FingerprintID, old.FingerprintID)
	})
}

func TestFingerprintIDIsStableAcrossUsers(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		// A challenged device is not remembered, yet keeps its id.
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		challenged := h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP})
		require.Equal(t, verdict.Challenge, challenged.Verdict)
		bob := h.eval(t, ato.Request{User: "bob", Fingerprint: phone, IP: cafeIP})
		assert.Equal(t, challenged.FingerprintID, bob.FingerprintID, "one browser has one id across users")
		carol := h.eval(t, ato.Request{User: "carol", Fingerprint: phone, IP: officeIP})
		assert.Equal(t, bob.FingerprintID, carol.FingerprintID)

		assert.Len(t, deviceOf(t, h.store, phone).Users, 2, "bob and carol logged in from the phone")
	})
}

func TestFingerprintIDSurvivesRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ato.db")
	open := func() (*sqlitestore.Store, *ato.Engine) {
		s, err := sqlitestore.Open(path)
		require.NoError(t, err)
		e, err := ato.New(s)
		require.NoError(t, err)
		return s, e
	}
	s, e := open()
	known, err := e.Evaluate(t.Context(), ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
	require.NoError(t, err)
	challenged, err := e.Evaluate(t.Context(), ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP})
	require.NoError(t, err)
	require.Equal(t, verdict.Challenge, challenged.Verdict)
	require.NoError(t, s.Close())

	s, e = open()
	defer s.Close()
	again, err := e.Evaluate(t.Context(), ato.Request{User: "bob", Fingerprint: laptop, IP: homeIP})
	require.NoError(t, err)
	assert.Equal(t, known.FingerprintID, again.FingerprintID, "a known device keeps its id across a restart")
	retry, err := e.Evaluate(t.Context(), ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP})
	require.NoError(t, err)
	assert.Equal(t, challenged.FingerprintID, retry.FingerprintID, "the key kept in the store gives a never-learnt device the same id after a restart")
	assert.Equal(t, verdict.Challenge, retry.Verdict)
}

func TestSecret(t *testing.T) {
	t.Parallel()
	_, err := ato.New(memstore.New(), ato.WithSecret(make([]byte, 31)))
	require.Error(t, err, "a key shorter than 32 bytes is refused")

	s := memstore.New()
	a, err := ato.New(s)
	require.NoError(t, err)
	b, err := ato.New(s)
	require.NoError(t, err)
	ra, err := a.Evaluate(t.Context(), ato.Request{User: "u1", Fingerprint: tablet})
	require.NoError(t, err)
	rb, err := b.Evaluate(t.Context(), ato.Request{User: "u2", Fingerprint: phone})
	require.NoError(t, err)
	rb2, err := b.Evaluate(t.Context(), ato.Request{User: "u3", Fingerprint: tablet})
	require.NoError(t, err)
	assert.Equal(t, ra.FingerprintID, rb2.FingerprintID, "engines over one store share the generated key")
	assert.NotEqual(t, ra.FingerprintID, rb.FingerprintID)

	k1, k2 := []byte(strings.Repeat("k", 32)), []byte(strings.Repeat("j", 32))
	e1, err := ato.New(memstore.New(), ato.WithSecret(k1))
	require.NoError(t, err)
	e2, err := ato.New(memstore.New(), ato.WithSecret(k2))
	require.NoError(t, err)
	r1, err := e1.Evaluate(t.Context(), ato.Request{User: "u", Fingerprint: laptop})
	require.NoError(t, err)
	r2, err := e2.Evaluate(t.Context(), ato.Request{User: "u", Fingerprint: laptop})
	require.NoError(t, err)
	assert.NotEqual(t, r1.FingerprintID, r2.FingerprintID, "device ids are keyed")
}

func TestIPv6ComparedBySlash64AndMappedIPv4Unmapped(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: "2001:db8:1:2::1"})
		same := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: "2001:db8:1:2:ffff:ffff:ffff:fffe"})
		assert.Empty(t, same.Reasons, "another address in the same /64 is the same network")
		other := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: "2001:db8:1:3::1"})
		assert.Equal(t, []signals.Reason{signals.NewIPReason}, other.Reasons)
		assert.Contains(t, other.Findings[0].Detail, "2001:db8:1:3::/64")

		h.eval(t, ato.Request{User: "bob", Fingerprint: laptop, IP: "::ffff:203.0.113.9"})
		v4 := h.eval(t, ato.Request{User: "bob", Fingerprint: laptop, IP: "203.0.113.9"})
		assert.Empty(t, v4.Reasons, "an IPv4-mapped IPv6 address is its IPv4 address")
		assert.Equal(t, "203.0.113.9", eventsOf(t, h.store, "bob")[1].IP, "the IP is stored unmapped")
	})
}

func TestKnownWindow(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		h.clock.Advance(89 * 24 * time.Hour)
		office := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: officeIP})
		assert.Equal(t, []signals.Reason{signals.NewIPReason}, office.Reasons)
		h.clock.Advance(2 * 24 * time.Hour)
		res := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		assert.Equal(t, []signals.Reason{signals.NewIPReason}, res.Reasons, "an IP last used successfully more than 90 days ago is new again")
	})
}

func TestHistoryIsBounded(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		for range 60 {
			h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		}
		assert.Len(t, eventsOf(t, h.store, "alice"), ato.DefaultMaxHistory)

		// Attacker attempts do not push the owner's successes out.
		for range 60 {
			h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP})
		}
		res := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		assert.Empty(t, res.Reasons, "the owner's home IP is still known after 60 challenged attempts")
	})
}

func TestDeniedAttemptTeachesNothing(t *testing.T) {
	t.Parallel()
	deny := verdict.Rules{{Name: "deny-new-devices", When: verdict.Reason(signals.NewDeviceReason), Verdict: verdict.Deny}}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, open(t), ato.WithPolicy(deny))
			h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
			for range 2 {
				res := h.eval(t, ato.Request{User: "alice", Fingerprint: phone, IP: homeIP})
				assert.Equal(t, verdict.Deny, res.Verdict)
				assert.Equal(t, "deny-new-devices", res.Rule)
				assert.Empty(t, res.ChallengeID)
			}
			assert.Len(t, profileOf(t, h.store, "alice").Devices, 1)
			evs := eventsOf(t, h.store, "alice")
			assert.Len(t, evs, 3, "denied attempts are recorded")
			assert.False(t, evs[0].Success)
		})
	}
}

func TestRestrictVerdictHoldsBackActions(t *testing.T) {
	t.Parallel()
	policy := verdict.Rules{{Name: "restrict-new-ip", When: verdict.Reason(signals.NewIPReason), Verdict: verdict.Restrict}}
	h := newHarness(t, memstore.New(), ato.WithPolicy(policy))
	h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
	res := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: cafeIP})
	assert.Equal(t, verdict.Restrict, res.Verdict)
	assert.Equal(t, verdict.DefaultRestrictions, res.Restrictions)
	devs := profileOf(t, h.store, "alice").Devices
	require.Len(t, devs, 1)
	assert.Equal(t, h.clock.Now().Add(ato.DefaultRestrictFor), devs[0].RestrictedUntil)
	again := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: cafeIP})
	assert.Empty(t, again.Reasons, "a restricted login teaches: its IP is known")
}

// A device keeps the user agent of its latest login that gave one, cut to
// profile.MaxUserAgent bytes, and Engine.Devices gives it.
func TestDeviceKeepsItsUserAgent(t *testing.T) {
	t.Parallel()
	const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	eachStore(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP, UserAgent: chrome})
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		p := profileOf(t, h.store, "alice")
		require.Len(t, p.Devices, 1)
		assert.Equal(t, chrome, p.Devices[0].UserAgent, "a login without a user agent keeps the device's")
		devs, err := h.engine.Devices(t.Context(), "alice")
		require.NoError(t, err)
		require.Len(t, devs, 1)
		assert.Equal(t, chrome, devs[0].UserAgent, "Engine.Devices gives it, for a devices page")

		long := chrome + strings.Repeat(" x", 500)
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP, UserAgent: long})
		p = profileOf(t, h.store, "alice")
		assert.Equal(t, long[:profile.MaxUserAgent], p.Devices[0].UserAgent)
	})
}

func TestRecordFailure(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		ctx := t.Context()
		require.NoError(t, h.engine.RecordFailure(ctx, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP}))
		require.NoError(t, h.engine.RecordFailure(ctx, ato.Request{User: "alice", Fingerprint: phone, IP: homeIP}))
		for range 3 {
			require.NoError(t, h.engine.RecordFailure(ctx, ato.Request{User: "alice", Fingerprint: phone, IP: cafeIP}))
		}
		require.NoError(t, h.engine.RecordFailure(ctx, ato.Request{User: "bob", IP: cafeIP}))
		got := failuresOf(t, h.store, "alice", cafeIP, h.clock.Now().Add(-time.Hour))
		assert.Equal(t, storage.FailureCounts{User: 5, UserUnknown: 4, NetworkUsers: 2}, got,
			"failures from the owner's known device are told apart")

		err := h.engine.RecordFailure(ctx, ato.Request{IP: cafeIP})
		require.ErrorIs(t, err, ato.ErrInvalidRequest)
	})
}

func TestRecordFailureDropsInvalidOptionalFields(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		h.eval(t, ato.Request{User: "carol", Fingerprint: laptop, IP: homeIP})
		for _, r := range []ato.Request{
			{User: "carol", LastFingerprint: "x", IP: cafeIP},
			{User: "carol", Fingerprint: strings.Repeat("a", 5000), IP: cafeIP},
			{User: "carol", UserAgent: "\xff\xfe", IP: cafeIP},
			{User: "carol", Action: "Log In", Email: "\x00", Metadata: map[string]string{"": "x"}, IP: cafeIP},
			{User: "carol", IP: "not an address"},
		} {
			require.NoError(t, h.engine.RecordFailure(ctx, r), "a bad optional field does not stop the failure from counting")
		}
		res := h.eval(t, ato.Request{User: "carol", Fingerprint: phone, IP: cafeIP})
		assert.Contains(t, res.Reasons, signals.BruteForceReason, "all five failures counted")
		assert.Equal(t, verdict.Challenge, res.Verdict)
		require.ErrorIs(t, h.engine.RecordFailure(ctx, ato.Request{User: strings.Repeat("u", 300)}), ato.ErrInvalidRequest,
			"the user must still be valid")
	})
}

func TestChallengeMethodsOnUnknownID(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		require.ErrorIs(t, h.engine.SendChallengeCode(ctx, "nope", "email"), storage.ErrNotFound)
		ok, err := h.engine.VerifyChallengeCode(ctx, "nope", "123456")
		require.ErrorIs(t, err, storage.ErrNotFound)
		require.ErrorIs(t, err, ato.ErrChallengeNotFound)
		assert.False(t, ok)
		require.ErrorIs(t, h.engine.CompleteChallenge(ctx, "nope"), ato.ErrChallengeNotFound)
		_, err = h.engine.Challenge(ctx, "nope")
		require.ErrorIs(t, err, ato.ErrChallengeNotFound)
		require.ErrorIs(t, h.engine.CompleteChallenge(ctx, ""), ato.ErrInvalidRequest)
	})
}

func TestDeleteUserAndPurge(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		h.eval(t, ato.Request{User: "bob", Fingerprint: phone, IP: homeIP})
		require.NoError(t, h.engine.DeleteUser(ctx, "alice"))
		res := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		assert.Equal(t, []signals.Reason{signals.NewUserReason}, res.Reasons, "a deleted user starts over")

		h.clock.Advance(181 * 24 * time.Hour)
		n, err := h.engine.Purge(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(2), n, "both users' single events are past the history age")
	})
}

// staticSignal is a plug-in that reports what it is told.
type staticSignal struct {
	name     string
	findings []signals.Finding
	err      error
	panics   bool
}

func (s staticSignal) Name() string { return s.name }

func (s staticSignal) Detect(_ context.Context, in *signals.Input) ([]signals.Finding, error) {
	if s.panics {
		panic("plug-in bug")
	}
	return s.findings, s.err
}

func TestPluginSignals(t *testing.T) {
	t.Parallel()
	breached := declaringSignal{staticSignal{name: "breached", findings: []signals.Finding{{Reason: "breached_password", Score: 0.9, Detail: "password seen in a breach"}}},
		[]signals.ReasonInfo{{Reason: "breached_password", Score: 0.6}}}
	policy := append(verdict.Rules{{Name: "breached", When: verdict.Reason("breached_password"), Verdict: verdict.Challenge}}, verdict.Default()...)
	h := newHarness(t, memstore.New(), ato.WithSignals(breached), ato.WithPolicy(policy))
	res := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
	assert.Equal(t, verdict.Challenge, res.Verdict)
	assert.Equal(t, []signals.Reason{signals.NewUserReason, "breached_password"}, res.Reasons, "plug-ins run after the built-ins")
	require.Len(t, res.Findings, 2)
	assert.Equal(t, "breached", res.Findings[1].Signal)

	for name, bad := range map[string]staticSignal{
		"error":       {name: "flaky", err: errors.New("backend down")},
		"panic":       {name: "buggy", panics: true},
		"bad score":   {name: "score", findings: []signals.Finding{{Reason: "x", Score: 1.5}}},
		"bad reason":  {name: "reason", findings: []signals.Finding{{Reason: "Not A Reason", Score: 0.1}}},
		"empty label": {name: "empty", findings: []signals.Finding{{Score: 0.1}}},
	} {
		t.Run(name, func(t *testing.T) {
			s := memstore.New()
			e, err := ato.New(s, ato.WithSignals(bad))
			require.NoError(t, err)
			_, err = e.Evaluate(t.Context(), ato.Request{User: "alice", Fingerprint: laptop})
			require.Error(t, err)
			assert.Contains(t, err.Error(), bad.name, "the error names the signal")
			evs, err := s.Events(t.Context(), "alice", time.Time{}, 100)
			require.NoError(t, err)
			assert.Empty(t, evs, "a failed evaluation writes nothing")
		})
	}
}

func TestOptionsAreValidated(t *testing.T) {
	t.Parallel()
	s := memstore.New()
	for name, opt := range map[string]ato.Option{
		"nil locator":                      ato.WithLocator(nil),
		"nil sender":                       ato.WithSender(nil),
		"nil clock":                        ato.WithClock(nil),
		"nil signal":                       ato.WithSignals(nil),
		"unnamed signal":                   ato.WithSignals(staticSignal{}),
		"builtin name":                     ato.WithSignals(staticSignal{name: "new_ip"}),
		"nil policy":                       ato.WithPolicy(nil),
		"short secret":                     ato.WithSecret([]byte("short")),
		"negative history":                 ato.WithHistory(-1, 365*24*time.Hour),
		"negative age":                     ato.WithHistory(10, -time.Hour),
		"history shorter than a challenge": ato.WithHistory(10, 5*time.Minute),
		"zero known window":                ato.WithKnownWindow(0),
		"zero threshold":                   ato.WithDeviceMatchThreshold(0),
		"threshold above 1":                ato.WithDeviceMatchThreshold(1.01),
		"NaN threshold":                    ato.WithDeviceMatchThreshold(math.NaN()),
		"no travel distance":               ato.WithImpossibleTravel(0, 1000),
		"infinite speed":                   ato.WithImpossibleTravel(200, math.Inf(1)),
		"no brute force":                   ato.WithBruteForce(0, time.Minute),
		"no stuffing window":               ato.WithCredentialStuffing(10, 0),
		"no signup accounts":               ato.WithMultipleAccounts(0, 10, time.Hour),
		"nil anonymous IPs":                ato.WithAnonymousIPs(nil),
		"ASN zero":                         ato.WithHostingASNs(map[uint32]string{0: "x"}),
		"nil allow list":                   ato.WithAllowList(nil),
		"nil deny list":                    ato.WithDenyList(nil),
		"duplicate plug-ins":               ato.WithSignals(staticSignal{name: "x"}, staticSignal{name: "x"}),
	} {
		_, err := ato.New(s, opt)
		assert.Error(t, err, name)
	}
	_, err := ato.New(s, ato.WithHistory(50, time.Hour), ato.WithBruteForce(5, 2*time.Hour))
	assert.ErrorContains(t, err, "history age", "Purge would empty the brute-force window")
	_, err = ato.New(nil)
	assert.Error(t, err, "nil store")
}

// locator places every address in one city.
type locator struct{}

func (locator) Locate(ip netip.Addr) (signals.Location, bool) {
	return signals.Location{Country: "NL", City: "Amsterdam", Latitude: 52.37, Longitude: 4.89, AccuracyKm: 20, ASN: 64500}, true
}

// badLocator answers with coordinates that are not numbers.
type badLocator struct{}

func (badLocator) Locate(netip.Addr) (signals.Location, bool) {
	return signals.Location{Country: "NL", Latitude: math.NaN(), Longitude: math.Inf(1), AccuracyKm: math.NaN()}, true
}

func TestLocatorCoordinatesThatAreNotNumbersAreDropped(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		e, err := ato.New(h.store, ato.WithLocator(badLocator{}))
		require.NoError(t, err)
		_, err = e.Evaluate(t.Context(), ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		require.NoError(t, err)
		evs := eventsOf(t, h.store, "alice")
		require.Len(t, evs, 1)
		assert.Equal(t, "NL", evs[0].Country, "the country is kept")
		assert.Zero(t, evs[0].Latitude)
		assert.Zero(t, evs[0].Longitude)
		assert.Zero(t, evs[0].AccuracyKm)
	})
}

func TestLocatorFillsTheHistory(t *testing.T) {
	t.Parallel()
	h := newHarness(t, memstore.New(), ato.WithLocator(locator{}))
	located := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
	require.NotNil(t, located.Location, "the result says where the IP is")
	assert.Equal(t, "Amsterdam", located.Location.City)
	assert.Nil(t, h.eval(t, ato.Request{User: "alice", Fingerprint: laptop}).Location)
	evs := eventsOf(t, h.store, "alice")
	require.Len(t, evs, 2)
	assert.False(t, evs[0].Located, "no IP, no place")
	assert.True(t, evs[1].Located)
	assert.Equal(t, "NL", evs[1].Country)
	assert.Equal(t, "Amsterdam", evs[1].City)
	assert.Equal(t, 20.0, evs[1].AccuracyKm)
}

func TestRequestTimeIsCheckedAgainstTheClock(t *testing.T) {
	t.Parallel()
	h := newHarness(t, memstore.New())
	ctx := t.Context()
	near := h.clock.Now().Add(-4 * time.Minute)
	_, err := h.engine.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: laptop, Time: near})
	require.NoError(t, err, "a few minutes off is fine")
	for _, off := range []time.Duration{ato.DefaultRestrictFor, -time.Hour} {
		_, err = h.engine.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: laptop, Time: h.clock.Now().Add(off)})
		require.ErrorIs(t, err, ato.ErrInvalidRequest, "a time that would move the windows (%v)", off)
		assert.ErrorContains(t, err, "time")
	}
	require.NoError(t, h.engine.RecordFailure(ctx, ato.Request{User: "alice", Time: h.clock.Now().Add(-24 * time.Hour)}),
		"a failure with a bad time is recorded now")
	assert.Equal(t, 1, failuresOf(t, h.store, "alice", "", h.clock.Now().Add(-time.Minute)).User)
}

func TestRequestTimeOverridesClockInReplays(t *testing.T) {
	t.Parallel()
	h := newHarness(t, memstore.New(), ato.WithReplay())
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	_, err := h.engine.Evaluate(t.Context(), ato.Request{User: "alice", Fingerprint: laptop, Time: at})
	require.NoError(t, err)
	evs := eventsOf(t, h.store, "alice")
	require.Len(t, evs, 1)
	assert.True(t, at.Equal(evs[0].Time))
}

func TestConcurrentFirstSightingsAgreeOnTheDevice(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		const n = 16
		ids := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				res, err := h.engine.Evaluate(context.Background(), ato.Request{User: "user" + string(rune('a'+i)), Fingerprint: tablet, IP: homeIP})
				ids[i], errs[i] = res.FingerprintID, err
			})
		}
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i])
			assert.Equal(t, ids[0], ids[i], "concurrent first sightings of one browser get one id")
		}
		assert.Len(t, deviceOf(t, h.store, tablet).Users, n)
	})
}

type panicPolicy struct{}

func (panicPolicy) Decide(*verdict.Input) verdict.Decision { panic("policy bug") }

type panicLocator struct{}

func (panicLocator) Locate(netip.Addr) (signals.Location, bool) { panic("locator bug") }

func TestPanickingPolicyOrLocatorIsAnError(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]ato.Option{
		"policy":  ato.WithPolicy(panicPolicy{}),
		"locator": ato.WithLocator(panicLocator{}),
	} {
		s := memstore.New()
		e, err := ato.New(s, opt)
		require.NoError(t, err)
		_, err = e.Evaluate(t.Context(), ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "panicked", name)
		assert.Empty(t, eventsOf(t, s, "alice"), "%s: nothing is written", name)
	}
}

func TestAnOftenUsedDeviceOutlastsManyOneOffDevices(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		for range 8 {
			h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})
		}
		// More one-off devices than a profile holds: the lightest go, by
		// recency and frequency, not the laptop of eight logins.
		for i := range 40 {
			h.eval(t, ato.Request{User: "alice", Fingerprint: fp(fmt.Sprint("browser", i)), IP: homeIP})
		}
		p := profileOf(t, h.store, "alice")
		assert.Len(t, p.Devices, profile.DefaultLimits.Devices, "a profile holds a bounded number of devices")
		res := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: cafeIP})
		assert.NotContains(t, res.Reasons, signals.NewDeviceReason, "the laptop is still the user's")
		assert.Equal(t, verdict.Allow, res.Verdict)
		first := h.eval(t, ato.Request{User: "alice", Fingerprint: fp("browser0"), IP: homeIP})
		assert.Contains(t, first.Reasons, signals.NewDeviceReason, "the oldest one-off device was let go")
	})
}
