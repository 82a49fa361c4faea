package challenge

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
)

// Info is what an application shows on a challenge page. It never holds a
// code; destinations are masked.
type Info struct {
	ID, User string
	// DeviceID is the device of the challenged attempt (empty when it had
	// no fingerprint).
	DeviceID string
	// Status is one of pending, sent, verified, completed, failed, expired,
	// overridden.
	Status  storage.ChallengeStatus
	Reasons []signals.Reason
	// Channels a code can be sent on: email and sms when the request that
	// created the challenge gave an address or number, totp when the user
	// has a confirmed authenticator.
	Channels []Channel
	// Email and Phone are masked: "a•••@example.com", "•••4567".
	Email, Phone string
	// Channel is where the current code went; Sends counts the sends.
	Channel Channel
	Sends   int
	// Attempts counts wrong codes; AttemptsLeft how many more are allowed.
	Attempts, AttemptsLeft int
	// CodesLockedUntil, when not zero, is when email and SMS codes for
	// this challenge stop being refused after too many wrong ones across
	// the user's challenges (see [CodeMaxFailures]); Channels leaves them
	// out until then.
	CodesLockedUntil time.Time
	CreatedAt        time.Time
	// ExpiresAt is when the challenge ends; CodeExpiresAt when the current
	// code does (zero before the first send).
	ExpiresAt, CodeExpiresAt time.Time
}

// Describe returns what a page may show of the challenge at now, given
// the user's counter of wrong codes for it (its [CodeGuard]) and the user's
// authenticator ([FactorTOTP]); either may be nil when the store has none.
func Describe(c *storage.Challenge, codes, totp *storage.Factor, now time.Time, l Limits) Info {
	info := Info{
		ID:           c.ID,
		User:         c.User,
		DeviceID:     c.DeviceID,
		Status:       StatusAt(c, now),
		Email:        MaskEmail(c.Email),
		Phone:        MaskPhone(c.Phone),
		Channel:      Channel(c.Channel),
		Sends:        c.Sends,
		Attempts:     c.Attempts,
		AttemptsLeft: max(0, l.MaxAttempts-c.Attempts),
		CreatedAt:    c.CreatedAt,
		ExpiresAt:    c.ExpiresAt,
	}
	for _, r := range c.Reasons {
		info.Reasons = append(info.Reasons, signals.Reason(r))
	}
	if codes != nil {
		info.CodesLockedUntil = CodesLockedUntil(codes, now)
	}
	if info.CodesLockedUntil.IsZero() {
		if c.Email != "" {
			info.Channels = append(info.Channels, Email)
		}
		if c.Phone != "" {
			info.Channels = append(info.Channels, SMS)
		}
	}
	if totp != nil && totp.Confirmed && TOTPLockedUntil(totp, now).IsZero() {
		info.Channels = append(info.Channels, TOTP)
	}
	if !c.SentAt.IsZero() && c.Channel != string(TOTP) {
		info.CodeExpiresAt = CodeExpiry(c, l)
	}
	return info
}

// MaskEmail keeps an address's first letter and its domain:
// "a•••@example.com". Without a domain it hides everything: "•••".
func MaskEmail(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at < 1 {
		return maskTail(s, 0)
	}
	r, _ := utf8.DecodeRuneInString(s)
	return string(r) + "•••" + s[at:]
}

// MaskPhone keeps the last four characters of a number: "•••4567".
func MaskPhone(s string) string { return maskTail(s, 4) }

// maskTail keeps the last keep runes of s after "•••"; "" stays "".
func maskTail(s string, keep int) string {
	if s == "" {
		return ""
	}
	rs := []rune(s)
	if len(rs) <= keep {
		return "•••"
	}
	return "•••" + string(rs[len(rs)-keep:])
}
