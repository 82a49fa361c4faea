//go:build fixture

// This file wrote testdata/v1-0006.db and its manifest with the release
// whose schema ended at migration 0006, before storage v2, and, with the
// names changed to v2-0009, testdata/v2-0009.db with the release of
// storage v2 (commit 7f87fc0, schema 0009). It is kept for the record.
//
//	go test -tags fixture -run TestWriteFixture ./sqlitestore/

package sqlitestore_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/sqlitestore"
	"github.com/atoguard/ato/verdict"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"
)

func TestWriteFixture(t *testing.T) {
	out := filepath.Join("testdata", "v1-0006.db")
	require.NoError(t, os.MkdirAll("testdata", 0o755))
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(out + suffix)
	}
	s, err := sqlitestore.Open(out)
	require.NoError(t, err)
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	box := challenge.NewOutbox()
	e, err := ato.New(s, ato.WithClock(clock), ato.WithLocator(fixtureWorld), ato.WithSender(box))
	require.NoError(t, err)
	ctx := t.Context()
	eval := func(r ato.Request) ato.Result {
		t.Helper()
		now = now.Add(10 * time.Minute)
		res, err := e.Evaluate(ctx, r)
		require.NoError(t, err)
		return res
	}
	const home, office, cafe, berlin = "198.51.100.1", "198.51.100.5", "192.0.2.77", "203.0.113.9"
	laptop, phone, tablet := fixtureHash("laptop"), fixtureHash("phone"), fixtureHash("tablet")
	alice := func(fp, ip string) ato.Request {
		return ato.Request{User: "alice", Fingerprint: fp, IP: ip, Email: "alice@example.com", Phone: "+15550104567"}
	}
	m := map[string]string{}

	// alice: her laptop at the office once, then home, more often than the
	// history holds, so the office login is no longer among her last 50
	// events.
	m["alice_laptop"] = eval(alice(laptop, office)).FingerprintID
	for range 60 {
		require.Equal(t, verdict.Allow, eval(alice(laptop, home)).Verdict)
	}
	// Her phone at the café: challenged, completed, trusted.
	res := eval(alice(phone, cafe))
	require.Equal(t, verdict.Challenge, res.Verdict)
	require.NoError(t, e.SendChallengeCode(ctx, res.ChallengeID, challenge.Email))
	code, _ := box.Last(res.ChallengeID)
	ok, err := e.VerifyChallengeCode(ctx, res.ChallengeID, code.Code)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, e.CompleteChallenge(ctx, res.ChallengeID))
	m["alice_phone"] = res.FingerprintID
	// An authenticator, enrolled from the trusted phone.
	key, err := e.EnrollTOTP(ctx, alice(phone, cafe), "fixture")
	require.NoError(t, err)
	c, err := totp.GenerateCode(key.Secret, now)
	require.NoError(t, err)
	ok, err = e.ConfirmTOTP(ctx, alice(phone, cafe), c)
	require.NoError(t, err)
	require.True(t, ok)
	m["alice_totp_secret"] = key.Secret
	// Her laptop in Berlin a day later: a new country from a known device,
	// restricted for 72 hours.
	now = now.Add(24 * time.Hour)
	res = eval(alice(laptop, berlin))
	require.Equal(t, verdict.Restrict, res.Verdict)
	require.Equal(t, m["alice_laptop"], res.FingerprintID)

	// bob: his tablet at home, then an unknown device on a new network:
	// a challenge with a code sent, still open.
	m["bob_tablet"] = eval(ato.Request{User: "bob", Fingerprint: tablet, IP: home}).FingerprintID
	res = eval(ato.Request{User: "bob", Fingerprint: fixtureHash("stranger"), IP: cafe, Email: "bob@example.com"})
	require.Equal(t, verdict.Challenge, res.Verdict)
	require.NoError(t, e.SendChallengeCode(ctx, res.ChallengeID, challenge.Email))
	code, _ = box.Last(res.ChallengeID)
	m["bob_challenge"], m["bob_code"] = res.ChallengeID, code.Code

	// carol: an opaque device id, and two failed passwords.
	m["carol_cookie"] = eval(ato.Request{User: "carol", Fingerprint: "device-cookie-7f3a", IP: office}).FingerprintID
	for range 2 {
		require.NoError(t, e.RecordFailure(ctx, ato.Request{User: "carol", IP: cafe}))
	}

	m["written_at"] = now.Format(time.RFC3339)
	require.NoError(t, s.Close())
	for _, suffix := range []string{"-wal", "-shm"} {
		_, err := os.Stat(out + suffix)
		require.True(t, os.IsNotExist(err), "the WAL is checkpointed into the file on close")
	}
	data, err := json.MarshalIndent(m, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join("testdata", "v1-0006.json"), append(data, '\n'), 0o644))
}
