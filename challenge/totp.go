package challenge

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"image/png"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: what authenticator apps expect (RFC 6238 defaults).
const (
	// TOTPPeriod is how long one TOTP code lasts: one time step.
	TOTPPeriod = 30 * time.Second
	// TOTPSkew is how many time steps either side of the current one
	// [VerifyTOTP] accepts, for clocks that drift and people who type
	// slowly.
	TOTPSkew = 1
	// TOTPQRSize is the width and height in pixels of [TOTPKey.PNG].
	TOTPQRSize = 256
	// totpSecretSize is the secret's length in bytes (160 bits, as RFC
	// 4226 recommends).
	totpSecretSize = 20
)

// totpOpts generates codes as [NewTOTPKey]'s keys are configured.
var totpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// TOTPKey is a new authenticator enrolment: show the person PNG (or URL, or
// Secret to type in), then keep Secret sealed with [SealSecret].
type TOTPKey struct {
	// Secret is the shared key, base32 without padding.
	Secret string
	// URL is the otpauth://totp/… URL that authenticator apps import.
	URL string
	// PNG is a [TOTPQRSize]-pixel square QR code of URL.
	PNG []byte
}

// NewTOTPKey creates a fresh TOTP key for account at issuer (the
// application's name, shown in the authenticator app): a 20-byte secret
// from crypto/rand, SHA-1, [CodeDigits] digits, a [TOTPPeriod] step.
// Both issuer and account must be non-empty.
func NewTOTPKey(issuer, account string) (TOTPKey, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      uint(TOTPPeriod / time.Second),
		SecretSize:  totpSecretSize,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
		Rand:        rand.Reader,
	})
	if err != nil {
		return TOTPKey{}, fmt.Errorf("challenge: new totp key: %w", err)
	}
	img, err := key.Image(TOTPQRSize, TOTPQRSize)
	if err != nil {
		return TOTPKey{}, fmt.Errorf("challenge: totp qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return TOTPKey{}, fmt.Errorf("challenge: totp qr code: %w", err)
	}
	return TOTPKey{Secret: key.Secret(), URL: key.URL(), PNG: buf.Bytes()}, nil
}

// TOTPStep returns the TOTP time step that t falls in.
func TOTPStep(t time.Time) int64 {
	period := int64(TOTPPeriod / time.Second)
	sec := t.Unix()
	step := sec / period
	if sec%period < 0 {
		step-- // round towards the past for times before 1970
	}
	return step
}

// VerifyTOTP checks code, as a person typed it (see [NormaliseCode]),
// against the base32 secret at time at. It accepts the codes of the
// [TOTPSkew] steps either side of at's step, but only of steps strictly
// after lastStep, the step it last returned for this secret (0 if none),
// so that no code is accepted twice and no older code after a newer one.
// It returns the matched step, to be stored as the next lastStep, and
// true; or 0 and false.
//
// Every candidate is generated and compared in constant time, whatever
// matches. A secret that is not base32 never verifies.
func VerifyTOTP(secret, code string, at time.Time, lastStep int64) (step int64, ok bool) {
	typed, valid := NormaliseCode(code)
	now := TOTPStep(at)
	for s := now - TOTPSkew; s <= now+TOTPSkew; s++ {
		if s < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(s), totpOpts)
		if err != nil {
			return 0, false
		}
		// If a code collides across steps, take the latest, so that the
		// same code cannot pass again for the later step.
		match := subtle.ConstantTimeCompare([]byte(want), []byte(typed)) == 1
		if match && valid && s > lastStep {
			step, ok = s, true
		}
	}
	return step, ok
}
