package challenge_test

import (
	"testing"
	"time"

	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	t0     = time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	limits = challenge.DefaultLimits
)

// record is a challenge created at t0, ending an hour later, changed by
// the options.
func record(opts ...func(*storage.Challenge)) *storage.Challenge {
	c := &storage.Challenge{ID: "ch1", User: "alice", Status: storage.ChallengePending,
		CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	for _, o := range opts {
		o(c)
	}
	return c
}

func status(s storage.ChallengeStatus) func(*storage.Challenge) {
	return func(c *storage.Challenge) { c.Status = s }
}

// sent is a challenge whose code went out by email at the time.
func sent(at time.Time) func(*storage.Challenge) {
	return func(c *storage.Challenge) {
		c.Status, c.Channel, c.CodeHash, c.Sends, c.SentAt = storage.ChallengeSent, "email", []byte("h"), 1, at
	}
}

func attempts(n int) func(*storage.Challenge) { return func(c *storage.Challenge) { c.Attempts = n } }

func TestLimitsDefaults(t *testing.T) {
	t.Parallel()
	assert.Equal(t, challenge.DefaultLimits, challenge.Limits{}.WithDefaults())
	l := challenge.Limits{MaxAttempts: 2, PerHour: 1000}.WithDefaults()
	assert.Equal(t, 2, l.MaxAttempts)
	assert.Equal(t, 1000, l.PerHour)
	assert.Equal(t, 10*time.Minute, l.CodeTTL)
	assert.Equal(t, 3, l.MaxSends)
	assert.Equal(t, 30*time.Second, l.SendSpacing)
}

func TestStatusAtAndExpire(t *testing.T) {
	t.Parallel()
	end := t0.Add(time.Hour)
	for _, tc := range []struct {
		name   string
		c      *storage.Challenge
		at     time.Time
		want   storage.ChallengeStatus
		expire bool
	}{
		{"pending in time", record(), t0, storage.ChallengePending, false},
		{"pending at its end", record(), end, storage.ChallengeExpired, true},
		{"sent past its end", record(sent(t0)), end.Add(time.Minute), storage.ChallengeExpired, true},
		{"verified past its end", record(status(storage.ChallengeVerified)), end, storage.ChallengeExpired, true},
		{"completed past its end stays completed", record(status(storage.ChallengeCompleted)), end, storage.ChallengeCompleted, false},
		{"failed stays failed", record(status(storage.ChallengeFailed)), end, storage.ChallengeFailed, false},
		{"overridden stays overridden", record(status(storage.ChallengeOverridden)), end, storage.ChallengeOverridden, false},
		{"expired stays expired", record(status(storage.ChallengeExpired)), end, storage.ChallengeExpired, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, challenge.StatusAt(tc.c, tc.at))
			before := *tc.c
			assert.Equal(t, tc.expire, challenge.Expire(tc.c, tc.at))
			if tc.expire {
				assert.Equal(t, storage.ChallengeExpired, tc.c.Status)
				assert.Equal(t, tc.at, tc.c.UpdatedAt)
			} else {
				assert.Equal(t, before, *tc.c, "nothing changes")
			}
		})
	}
}

func TestUsableVerifiableCompletable(t *testing.T) {
	t.Parallel()
	end := t0.Add(time.Hour)
	for _, tc := range []struct {
		name                            string
		c                               *storage.Challenge
		at                              time.Time
		usable, verifiable, completable error
		msg                             string // of the first error, when set
	}{
		{"pending", record(), t0, nil, challenge.ErrNotVerified, challenge.ErrNotVerified, `challenge "ch1": no code was sent`},
		{"sent", record(sent(t0)), t0.Add(time.Minute), nil, nil, challenge.ErrNotVerified, ""},
		{"verified", record(status(storage.ChallengeVerified)), t0, nil, challenge.ErrVerified, nil, ""},
		{"completed", record(status(storage.ChallengeCompleted)), t0, challenge.ErrCompleted, challenge.ErrCompleted, challenge.ErrCompleted,
			`challenge "ch1" is already completed`},
		{"failed", record(status(storage.ChallengeFailed)), t0, challenge.ErrFailed, challenge.ErrFailed, challenge.ErrFailed,
			`challenge "ch1" failed: no attempts left`},
		{"overridden", record(status(storage.ChallengeOverridden)), t0, challenge.ErrFailed, challenge.ErrFailed, challenge.ErrFailed,
			`challenge "ch1" failed: a newer challenge for the same device replaced it`},
		{"expired", record(status(storage.ChallengeExpired)), t0, challenge.ErrExpired, challenge.ErrExpired, challenge.ErrExpired,
			`challenge "ch1" expired`},
		{"past its end", record(sent(t0)), end, challenge.ErrExpired, challenge.ErrExpired, challenge.ErrExpired,
			`challenge "ch1" expired at 2026-05-04T09:00:00Z`},
		{"verified past its end", record(status(storage.ChallengeVerified)), end, challenge.ErrExpired, challenge.ErrExpired, challenge.ErrExpired, ""},
		{"code expired", record(sent(t0)), t0.Add(limits.CodeTTL), nil, challenge.ErrExpired, challenge.ErrNotVerified,
			`challenge "ch1": its code expired; send a new one`},
		{"TOTP codes do not expire with the send", record(sent(t0), func(c *storage.Challenge) { c.Channel = "totp" }),
			t0.Add(limits.CodeTTL), nil, nil, challenge.ErrNotVerified, ""},
		{"no attempts left", record(sent(t0), attempts(limits.MaxAttempts)), t0, nil, challenge.ErrFailed, challenge.ErrNotVerified, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			check := func(what string, want, got error) {
				if want == nil {
					assert.NoError(t, got, what)
				} else {
					assert.ErrorIs(t, got, want, what)
				}
			}
			check("usable", tc.usable, challenge.Usable(tc.c, tc.at))
			check("verifiable", tc.verifiable, challenge.Verifiable(tc.c, tc.at, limits))
			check("completable", tc.completable, challenge.Completable(tc.c, tc.at))
			if tc.msg != "" {
				err := challenge.Verifiable(tc.c, tc.at, limits)
				assert.EqualError(t, err, tc.msg)
			}
		})
	}
}

func TestCodeExpiry(t *testing.T) {
	t.Parallel()
	c := record(sent(t0))
	assert.Equal(t, t0.Add(limits.CodeTTL), challenge.CodeExpiry(c, limits))
	c.SentAt = t0.Add(55 * time.Minute)
	assert.Equal(t, c.ExpiresAt, challenge.CodeExpiry(c, limits), "never after the challenge ends")
}

func TestSend(t *testing.T) {
	t.Parallel()
	hash := []byte("new")
	for _, tc := range []struct {
		name string
		c    *storage.Challenge
		at   time.Time
		want error
		msg  string
	}{
		{"first send", record(), t0, nil, ""},
		{"another after the spacing", record(sent(t0)), t0.Add(limits.SendSpacing), nil, ""},
		{"too soon", record(sent(t0)), t0.Add(10 * time.Second), challenge.ErrRateLimited,
			`challenge "ch1": wait 20s before sending another code`},
		{"too many", record(sent(t0), func(c *storage.Challenge) { c.Sends = limits.MaxSends }), t0.Add(time.Minute),
			challenge.ErrRateLimited, `challenge "ch1" already had 3 codes sent`},
		{"verified", record(status(storage.ChallengeVerified)), t0, challenge.ErrVerified, `challenge "ch1" is already verified; complete it`},
		{"completed", record(status(storage.ChallengeCompleted)), t0, challenge.ErrCompleted, ""},
		{"past its end", record(), t0.Add(time.Hour), challenge.ErrExpired, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := *tc.c
			err := challenge.Send(tc.c, challenge.SMS, hash, tc.at, limits)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				if tc.msg != "" {
					assert.EqualError(t, err, tc.msg)
				}
				assert.Equal(t, before, *tc.c, "a refused send changes nothing")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, storage.ChallengeSent, tc.c.Status)
			assert.Equal(t, "sms", tc.c.Channel)
			assert.Equal(t, hash, tc.c.CodeHash)
			assert.Equal(t, before.Sends+1, tc.c.Sends)
			assert.Equal(t, tc.at, tc.c.SentAt)
			assert.Equal(t, tc.at, tc.c.UpdatedAt)
		})
	}
}

func TestUnsendRestoresTheCodeUnlessTheChallengeMovedOn(t *testing.T) {
	t.Parallel()
	hash := []byte("new")
	for _, tc := range []struct {
		name   string
		change func(*storage.Challenge)
		undone bool
	}{
		{"nothing happened since", func(*storage.Challenge) {}, true},
		{"overridden", func(c *storage.Challenge) { c.Status = storage.ChallengeOverridden }, false},
		{"sent again", func(c *storage.Challenge) { c.Sends++; c.CodeHash = []byte("newer") }, false},
		{"a code was tried", func(c *storage.Challenge) { c.Attempts++ }, false},
		{"verified", func(c *storage.Challenge) { c.Status = storage.ChallengeVerified }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prev := *record(sent(t0))
			c := prev
			require.NoError(t, challenge.Send(&c, challenge.Email, hash, t0.Add(time.Minute), limits))
			tc.change(&c)
			moved := c
			assert.Equal(t, tc.undone, challenge.Unsend(&c, &prev, hash))
			if !tc.undone {
				assert.Equal(t, moved, c)
				return
			}
			assert.Equal(t, prev.CodeHash, c.CodeHash, "the code the person has works again")
			assert.Equal(t, prev.SentAt, c.SentAt)
			assert.Equal(t, prev.Channel, c.Channel)
			assert.Equal(t, prev.Sends+1, c.Sends, "the send stays counted")
		})
	}
}

func TestSettle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		attempts int
		right    bool
		want     storage.ChallengeStatus
	}{
		{"a right code verifies", 0, true, storage.ChallengeVerified},
		{"a wrong code with attempts left", 0, false, storage.ChallengeSent},
		{"the last wrong code fails", limits.MaxAttempts - 1, false, storage.ChallengeFailed},
		{"a right code on the last attempt verifies", limits.MaxAttempts - 1, true, storage.ChallengeVerified},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := record(sent(t0), attempts(tc.attempts))
			challenge.Settle(c, tc.right, t0.Add(time.Minute), limits)
			assert.Equal(t, tc.want, c.Status)
			assert.Equal(t, tc.attempts+1, c.Attempts)
			assert.Equal(t, tc.want == storage.ChallengeSent, c.CodeHash != nil, "a settled challenge keeps no code")
		})
	}
}

func TestAttemptsTakenBeforeAnAuthenticatorCheck(t *testing.T) {
	t.Parallel()
	at := t0.Add(time.Minute)
	totp := func(c *storage.Challenge) {
		c.Status, c.Channel, c.Sends, c.SentAt = storage.ChallengeSent, "totp", 1, t0
	}

	c := record(totp)
	require.NoError(t, challenge.TakeAttempt(c, at, limits))
	assert.Equal(t, 1, c.Attempts)
	assert.True(t, challenge.ReturnAttempt(c))
	assert.Equal(t, 0, c.Attempts)
	assert.False(t, challenge.ReturnAttempt(c), "none to give back")

	require.NoError(t, challenge.TakeAttempt(c, at, limits))
	require.NoError(t, challenge.SettleTaken(c, true, at, limits))
	assert.Equal(t, storage.ChallengeVerified, c.Status)
	assert.Equal(t, 1, c.Attempts, "counted once")
	assert.ErrorIs(t, challenge.SettleTaken(c, true, at, limits), challenge.ErrVerified, "settled meanwhile")
	assert.False(t, challenge.ReturnAttempt(c), "nothing to give back once settled")

	failed := record(totp, status(storage.ChallengeFailed))
	assert.ErrorIs(t, challenge.SettleTaken(failed, true, at, limits), challenge.ErrFailed)
	assert.ErrorIs(t, challenge.TakeAttempt(record(totp, attempts(limits.MaxAttempts)), at, limits), challenge.ErrFailed)
}
