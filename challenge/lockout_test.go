package challenge_test

import (
	"testing"
	"time"

	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/storage"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLockoutGrowsAndIsCapped(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{0, 0}, {9, 0}, {10, time.Hour}, {19, time.Hour}, {20, 2 * time.Hour},
		{30, 4 * time.Hour}, {40, 8 * time.Hour}, {50, 16 * time.Hour}, {500, 16 * time.Hour},
	} {
		assert.Equal(t, tc.want, challenge.Lockout(tc.n, 10, time.Hour), "%d wrong codes", tc.n)
	}
}

func TestCodeGuards(t *testing.T) {
	t.Parallel()
	assert.Equal(t, challenge.FactorCodes, challenge.CodeGuard(&storage.Challenge{}))
	assert.Equal(t, challenge.FactorCodesKnown, challenge.CodeGuard(&storage.Challenge{KnownDevice: true}))
}

func TestWrongCodesLockEmailAndSMSCodes(t *testing.T) {
	t.Parallel()
	c := &storage.Challenge{ID: "ch1", User: "alice"}
	f := &storage.Factor{User: "alice", Kind: challenge.FactorCodes}
	at := t0
	for i := range challenge.CodeMaxFailures {
		require.NoError(t, challenge.TakeGuess(f, c, at), "guess %d", i+1)
		at = at.Add(time.Minute)
	}
	assert.Equal(t, t0, f.CreatedAt, "the first guess creates the counter")
	assert.Equal(t, challenge.CodeMaxFailures, f.Failures)
	last := f.FailedAt
	until := challenge.CodesLockedUntil(f, at)
	assert.Equal(t, last.Add(challenge.CodeLockout), until)

	before := *f
	err := challenge.TakeGuess(f, c, at)
	require.ErrorIs(t, err, challenge.ErrRateLimited)
	assert.EqualError(t, err, `10 wrong codes in a row for user "alice" lock email and SMS codes for challenges of devices the user does not know until 2026-05-04T09:09:00Z`)
	assert.Equal(t, before, *f, "a refused guess is not counted")
	assert.ErrorContains(t, challenge.CodesLocked(f, &storage.Challenge{User: "alice", KnownDevice: true}, at), "the user's known devices")

	assert.NoError(t, challenge.CodesLocked(f, c, until), "the lock ends")
	require.NoError(t, challenge.TakeGuess(f, c, until))
	assert.Equal(t, until.Add(challenge.CodeLockout), challenge.CodesLockedUntil(f, until), "each further wrong code locks again")

	assert.True(t, challenge.GiveBackGuess(f, until))
	assert.Equal(t, challenge.CodeMaxFailures, f.Failures)
	assert.Equal(t, until, f.FailedAt, "the time of the last wrong code stays")

	assert.True(t, challenge.RightGuess(f, until))
	assert.Zero(t, f.Failures)
	assert.True(t, challenge.CodesLockedUntil(f, until).IsZero())
	assert.False(t, challenge.GiveBackGuess(f, until), "none to give back")

	none := &storage.Factor{User: "bob", Kind: challenge.FactorCodes}
	assert.False(t, challenge.RightGuess(none, t0), "no counter to reset")
	assert.False(t, challenge.GiveBackGuess(none, t0))
}

// authenticator is a confirmed authenticator of alice's whose secret is
// sealed under key.
func authenticator(t *testing.T, key []byte, secret string) *storage.Factor {
	t.Helper()
	sealed, err := challenge.SealTOTP(key, "alice", secret)
	require.NoError(t, err)
	return &storage.Factor{User: "alice", Kind: challenge.FactorTOTP, Secret: sealed, Confirmed: true, CreatedAt: t0}
}

func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := hotp.GenerateCodeCustom(secret, uint64(challenge.TOTPStep(at)), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	require.NoError(t, err)
	return code
}

func wrong(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

func TestCheckTOTP(t *testing.T) {
	t.Parallel()
	key := []byte("a secret key of at least 32 bytes!")
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	f := authenticator(t, key, secret)
	at := t0

	ok, err := challenge.CheckTOTP(f, key, codeAt(t, secret, at), at)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, challenge.TOTPStep(at), f.LastStep)
	ok, err = challenge.CheckTOTP(f, key, codeAt(t, secret, at), at)
	require.NoError(t, err)
	assert.False(t, ok, "a code is accepted once")
	assert.Equal(t, 1, f.Failures)

	for range challenge.TOTPMaxFailures - 1 {
		at = at.Add(time.Minute)
		ok, err = challenge.CheckTOTP(f, key, wrong(codeAt(t, secret, at)), at)
		require.NoError(t, err)
		require.False(t, ok)
	}
	until := challenge.TOTPLockedUntil(f, at)
	assert.Equal(t, at.Add(challenge.TOTPLockout), until)
	_, err = challenge.CheckTOTP(f, key, codeAt(t, secret, at), at)
	require.ErrorIs(t, err, challenge.ErrRateLimited, "locked: even a right code is refused")
	assert.EqualError(t, challenge.TOTPLocked(f, at),
		`user "alice"'s authenticator app is locked after too many wrong codes until 2026-05-04T09:09:00Z; use email or SMS`)

	ok, err = challenge.CheckTOTP(f, key, codeAt(t, secret, until), until)
	require.NoError(t, err)
	assert.True(t, ok, "the lock ends")
	assert.Zero(t, f.Failures, "a right code ends the run")

	_, err = challenge.CheckTOTP(&storage.Factor{User: "bob"}, key, "123456", at)
	assert.ErrorIs(t, err, challenge.ErrNoDestination)
	moved := *authenticator(t, key, secret)
	moved.User = "mallory"
	_, err = challenge.CheckTOTP(&moved, key, codeAt(t, secret, at), at)
	assert.ErrorIs(t, err, challenge.ErrSealed, "a secret sealed for another user does not open")
}

func TestConfirmTOTP(t *testing.T) {
	t.Parallel()
	key := []byte("a secret key of at least 32 bytes!")
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	pending := func() *storage.Factor {
		f := authenticator(t, key, secret)
		f.Kind, f.Confirmed = challenge.FactorTOTPPending, false
		return f
	}

	f := pending()
	step, ok, err := challenge.ConfirmTOTP(f, key, codeAt(t, secret, t0), t0, 5)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, challenge.TOTPStep(t0), step)

	_, _, err = challenge.ConfirmTOTP(pending(), key, codeAt(t, secret, t0), t0.Add(challenge.EnrollmentTTL+time.Second), 5)
	assert.ErrorIs(t, err, challenge.ErrNoDestination, "the enrolment waited too long")
	_, _, err = challenge.ConfirmTOTP(&storage.Factor{User: "alice"}, key, "123456", t0, 5)
	assert.ErrorIs(t, err, challenge.ErrNoDestination, "no enrolment")

	f = pending()
	for i := range 4 {
		_, ok, err = challenge.ConfirmTOTP(f, key, wrong(codeAt(t, secret, t0)), t0, 5)
		require.NoError(t, err, "wrong code %d", i+1)
		require.False(t, ok)
	}
	_, _, err = challenge.ConfirmTOTP(f, key, wrong(codeAt(t, secret, t0)), t0, 5)
	require.ErrorIs(t, err, challenge.ErrRateLimited, "the fifth wrong code ends the enrolment")
	assert.Equal(t, 5, f.Failures)
	_, _, err = challenge.ConfirmTOTP(f, key, codeAt(t, secret, t0), t0, 5)
	assert.ErrorIs(t, err, challenge.ErrRateLimited, "even a right code once ended")
}
