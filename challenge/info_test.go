package challenge_test

import (
	"testing"
	"time"

	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
	"github.com/stretchr/testify/assert"
)

func TestMasks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, email, phone string }{
		{"", "", ""},
		{"alice@example.com", "a•••@example.com", "•••.com"},
		{"élodie@example.fr", "é•••@example.fr", "•••e.fr"},
		{"@example.com", "•••", "•••.com"},
		{"no-at-sign", "•••", "•••sign"},
		{"+1 202 555 0101", "•••", "•••0101"},
		{"0101", "•••", "•••"},
	} {
		assert.Equal(t, tc.email, challenge.MaskEmail(tc.in), "MaskEmail(%q)", tc.in)
		assert.Equal(t, tc.phone, challenge.MaskPhone(tc.in), "MaskPhone(%q)", tc.in)
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	base := func() *storage.Challenge {
		c := record(sent(t0), attempts(2))
		c.Email, c.Phone, c.DeviceID, c.Reasons = "alice@example.com", "+1 202 555 0101", "dev1", []string{"new_device", "new_ip"}
		return c
	}
	confirmed := &storage.Factor{User: "alice", Kind: challenge.FactorTOTP, Confirmed: true, CreatedAt: t0}
	lockedTOTP := &storage.Factor{User: "alice", Kind: challenge.FactorTOTP, Confirmed: true, CreatedAt: t0,
		Failures: challenge.TOTPMaxFailures, FailedAt: t0}
	lockedCodes := &storage.Factor{User: "alice", Kind: challenge.FactorCodes, CreatedAt: t0,
		Failures: challenge.CodeMaxFailures, FailedAt: t0}
	at := t0.Add(time.Minute)

	info := challenge.Describe(base(), nil, nil, at, limits)
	assert.Equal(t, challenge.Info{
		ID: "ch1", User: "alice", DeviceID: "dev1", Status: storage.ChallengeSent,
		Reasons:  []signals.Reason{"new_device", "new_ip"},
		Channels: []challenge.Channel{challenge.Email, challenge.SMS},
		Email:    "a•••@example.com", Phone: "•••0101",
		Channel: challenge.Email, Sends: 1, Attempts: 2, AttemptsLeft: 3,
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), CodeExpiresAt: t0.Add(limits.CodeTTL),
	}, info)

	for _, tc := range []struct {
		name        string
		c           *storage.Challenge
		codes, totp *storage.Factor
		at          time.Time
		channels    []challenge.Channel
		status      storage.ChallengeStatus
		locked      bool
	}{
		{"a confirmed authenticator adds totp", base(), nil, confirmed, at,
			[]challenge.Channel{challenge.Email, challenge.SMS, challenge.TOTP}, storage.ChallengeSent, false},
		{"a locked authenticator is left out", base(), nil, lockedTOTP, at,
			[]challenge.Channel{challenge.Email, challenge.SMS}, storage.ChallengeSent, false},
		{"locked codes leave out email and SMS", base(), lockedCodes, confirmed, at,
			[]challenge.Channel{challenge.TOTP}, storage.ChallengeSent, true},
		{"no address, no number", record(), nil, nil, at, nil, storage.ChallengePending, false},
		{"past its end it reads expired", base(), nil, nil, t0.Add(time.Hour), []challenge.Channel{challenge.Email, challenge.SMS},
			storage.ChallengeExpired, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			info := challenge.Describe(tc.c, tc.codes, tc.totp, tc.at, limits)
			assert.Equal(t, tc.channels, info.Channels)
			assert.Equal(t, tc.status, info.Status)
			assert.Equal(t, tc.locked, !info.CodesLockedUntil.IsZero())
		})
	}
	totp := base()
	totp.Channel = "totp"
	assert.True(t, challenge.Describe(totp, nil, nil, at, limits).CodeExpiresAt.IsZero(), "an authenticator code has no send to expire from")
	none := challenge.Describe(base(), nil, nil, at, challenge.Limits{MaxAttempts: 1})
	assert.Zero(t, none.AttemptsLeft)
}
