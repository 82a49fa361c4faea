package challenge_test

import (
	"bytes"
	"image/png"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/atoguard/ato/challenge"
)

// rfcSecret is the RFC 6238 SHA-1 test secret, "12345678901234567890" in
// base32. A fixed secret and fixed times make every test deterministic: no
// chance collision between the codes of two steps can flake them.
const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

// base is in the middle of a time step.
var base = time.Unix(56666667*30+15, 0)

func totpCode(t *testing.T, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCode(rfcSecret, at)
	require.NoError(t, err)
	return code
}

func TestVerifyTOTPVectors(t *testing.T) {
	t.Parallel()
	// RFC 6238 appendix B, SHA-1, the last six of the eight digits.
	vectors := []struct {
		unix int64
		code string
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
		{20000000000, "353130"},
	}
	for _, v := range vectors {
		at := time.Unix(v.unix, 0)
		step, ok := challenge.VerifyTOTP(rfcSecret, v.code, at, 0)
		assert.True(t, ok, "%d", v.unix)
		assert.Equal(t, v.unix/30, step, "%d", v.unix)
		assert.Equal(t, v.unix/30, challenge.TOTPStep(at))
	}
}

func TestVerifyTOTPWindow(t *testing.T) {
	t.Parallel()
	now := challenge.TOTPStep(base)
	tests := []struct {
		name     string
		offset   time.Duration // when the code was made, relative to base
		wantStep int64
		want     bool
	}{
		{"same time", 0, now, true},
		{"same step", 14 * time.Second, now, true},
		{"one step behind", -30 * time.Second, now - 1, true},
		{"one step ahead", 30 * time.Second, now + 1, true},
		{"two steps behind", -60 * time.Second, 0, false},
		{"two steps ahead", 60 * time.Second, 0, false},
		{"three steps behind", -90 * time.Second, 0, false},
		{"three steps ahead", 90 * time.Second, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			step, ok := challenge.VerifyTOTP(rfcSecret, totpCode(t, base.Add(tt.offset)), base, 0)
			assert.Equal(t, tt.want, ok)
			assert.Equal(t, tt.wantStep, step)
		})
	}
}

func TestVerifyTOTPOnce(t *testing.T) {
	t.Parallel()
	now := challenge.TOTPStep(base)
	code := totpCode(t, base)

	step, ok := challenge.VerifyTOTP(rfcSecret, code, base, 0)
	require.True(t, ok)
	require.Equal(t, now, step)

	_, ok = challenge.VerifyTOTP(rfcSecret, code, base, step)
	assert.False(t, ok, "the same code again")
	_, ok = challenge.VerifyTOTP(rfcSecret, code, base.Add(20*time.Second), step)
	assert.False(t, ok, "the same code again, a step later")

	ahead := totpCode(t, base.Add(30*time.Second))
	step, ok = challenge.VerifyTOTP(rfcSecret, ahead, base, step)
	require.True(t, ok, "the next step's code")
	require.Equal(t, now+1, step)
	_, ok = challenge.VerifyTOTP(rfcSecret, code, base, step)
	assert.False(t, ok, "an older code after a newer one")
	_, ok = challenge.VerifyTOTP(rfcSecret, totpCode(t, base.Add(-30*time.Second)), base, step)
	assert.False(t, ok, "the previous step's code after a newer one")
}

func TestVerifyTOTPRefuses(t *testing.T) {
	t.Parallel()
	code := totpCode(t, base)
	wrong := []byte(code)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10

	spaced := code[:3] + " " + code[3:]
	step, ok := challenge.VerifyTOTP(rfcSecret, spaced, base, 0)
	assert.True(t, ok, "typed with a space")
	assert.Equal(t, challenge.TOTPStep(base), step)

	for name, typed := range map[string]string{
		"wrong":     string(wrong),
		"short":     code[:5],
		"long":      code + "0",
		"empty":     "",
		"fullwidth": "１２３４５６",
	} {
		_, ok := challenge.VerifyTOTP(rfcSecret, typed, base, 0)
		assert.False(t, ok, name)
	}

	_, ok = challenge.VerifyTOTP("not base32!", code, base, 0)
	assert.False(t, ok, "bad secret")
	_, ok = challenge.VerifyTOTP(rfcSecret, code, base, challenge.TOTPStep(base)+5)
	assert.False(t, ok, "lastStep in the future")
}

func TestNewTOTPKey(t *testing.T) {
	t.Parallel()
	k, err := challenge.NewTOTPKey("Example", "alice@example.com")
	require.NoError(t, err)

	key, err := otp.NewKeyFromURL(k.URL)
	require.NoError(t, err)
	assert.Equal(t, "totp", key.Type())
	assert.Equal(t, "Example", key.Issuer())
	assert.Equal(t, "alice@example.com", key.AccountName())
	assert.Equal(t, k.Secret, key.Secret())
	assert.Equal(t, uint64(30), key.Period())
	assert.Equal(t, otp.DigitsSix, key.Digits())
	assert.Equal(t, otp.AlgorithmSHA1, key.Algorithm())
	assert.Len(t, k.Secret, 32, "20 bytes in base32")

	img, err := png.Decode(bytes.NewReader(k.PNG))
	require.NoError(t, err)
	assert.Equal(t, challenge.TOTPQRSize, img.Bounds().Dx())
	assert.Equal(t, challenge.TOTPQRSize, img.Bounds().Dy())

	now := time.Now()
	code, err := totp.GenerateCode(k.Secret, now)
	require.NoError(t, err)
	_, ok := challenge.VerifyTOTP(k.Secret, code, now, 0)
	assert.True(t, ok, "an app's code verifies")

	other, err := challenge.NewTOTPKey("Example", "alice@example.com")
	require.NoError(t, err)
	assert.NotEqual(t, k.Secret, other.Secret, "fresh secret each time")

	_, err = challenge.NewTOTPKey("", "alice@example.com")
	assert.Error(t, err, "no issuer")
	_, err = challenge.NewTOTPKey("Example", "")
	assert.Error(t, err, "no account")
}

func TestSealSecret(t *testing.T) {
	t.Parallel()
	plain, bound := []byte(rfcSecret), []byte("user alice")
	sealed, err := challenge.SealSecret(testKey, plain, bound)
	require.NoError(t, err)
	assert.NotContains(t, string(sealed), rfcSecret)

	opened, err := challenge.OpenSecret(testKey, sealed, bound)
	require.NoError(t, err)
	assert.Equal(t, plain, opened)

	again, err := challenge.SealSecret(testKey, plain, bound)
	require.NoError(t, err)
	assert.NotEqual(t, sealed, again, "a fresh nonce each time")

	for i := range sealed {
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 0x01
		_, err := challenge.OpenSecret(testKey, tampered, bound)
		require.ErrorIs(t, err, challenge.ErrSealed, "byte %d changed", i)
	}
	for _, cut := range [][]byte{nil, sealed[:10], sealed[:len(sealed)-1]} {
		_, err := challenge.OpenSecret(testKey, cut, bound)
		require.ErrorIs(t, err, challenge.ErrSealed, "%d bytes", len(cut))
	}
	_, err = challenge.OpenSecret([]byte("another key, also 32 bytes long!"), sealed, bound)
	require.ErrorIs(t, err, challenge.ErrSealed, "another key")
	_, err = challenge.OpenSecret(testKey, sealed, []byte("user mallory"))
	require.ErrorIs(t, err, challenge.ErrSealed, "a secret moved to another user does not open")

	_, err = challenge.SealSecret([]byte("short"), plain, bound)
	require.ErrorIs(t, err, challenge.ErrShortKey)
	_, err = challenge.OpenSecret(nil, sealed, bound)
	require.ErrorIs(t, err, challenge.ErrShortKey)
}
