package sqlitestore_test

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/verdict"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUpgradeFromPreviousRelease opens testdata/v1-0006.db — written
// through the engine of the release before storage v2 (fixture_gen_test.go)
// — with this release, and checks that everything it learnt still counts:
// known devices keep their ids and are still known on their networks,
// trusted devices stay trusted, the restriction still holds back its
// actions, the authenticator and the open challenge still work.
//
// testdata/v2-0009.db is the same world written by the release of storage
// v2 (schema 0009, profiles in format 2, before devices kept their user
// agent), through the same generator run on that release.
func TestUpgradeFromPreviousRelease(t *testing.T) {
	for _, fixture := range []string{"v1-0006", "v2-0009"} {
		t.Run(fixture, func(t *testing.T) { testUpgrade(t, fixture) })
	}
}

func testUpgrade(t *testing.T, fixture string) {
	path := filepath.Join(t.TempDir(), fixture+".db")
	copyFile(t, filepath.Join("testdata", fixture+".db"), path)
	var m map[string]string
	data, err := os.ReadFile(filepath.Join("testdata", fixture+".json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &m))
	written, err := time.Parse(time.RFC3339, m["written_at"])
	require.NoError(t, err)

	s := open(t, path)
	now := written.Add(time.Minute)
	box := challenge.NewOutbox()
	// No WithSecret: the key the old release made is in the store, and
	// device ids depend on it.
	e, err := ato.New(s, ato.WithClock(func() time.Time { return now }), ato.WithLocator(fixtureWorld), ato.WithSender(box))
	require.NoError(t, err)
	ctx := t.Context()
	const home, cafe, office = "198.51.100.1", "192.0.2.77", "198.51.100.5"
	eval := func(r ato.Request) ato.Result {
		t.Helper()
		now = now.Add(time.Minute)
		res, err := e.Evaluate(ctx, r)
		require.NoError(t, err)
		return res
	}
	laptop, phone := fixtureHash("laptop"), fixtureHash("phone")

	// bob's open challenge: still open; a new code completes it.
	info, err := e.Challenge(ctx, m["bob_challenge"])
	require.NoError(t, err)
	assert.Equal(t, "sent", string(info.Status))
	require.NoError(t, e.SendChallengeCode(ctx, m["bob_challenge"], challenge.Email))
	msg, ok := box.Last(m["bob_challenge"])
	require.True(t, ok)
	ok, err = e.VerifyChallengeCode(ctx, m["bob_challenge"], msg.Code)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, e.CompleteChallenge(ctx, m["bob_challenge"]))
	res := eval(ato.Request{User: "bob", Fingerprint: fixtureHash("stranger"), IP: cafe})
	assert.Equal(t, verdict.Allow, res.Verdict, "the completed challenge taught bob's new device")
	assert.Empty(t, res.Reasons)

	// alice's last login was in Berlin, half an hour before the file was
	// written: hers come a few hours later.
	now = now.Add(3 * time.Hour)

	// Known devices on known networks (a few kilometres apart, minutes
	// apart): nothing new about them.
	for _, tc := range []struct {
		name, fp, ip, id string
	}{
		{"alice's laptop at home", laptop, home, m["alice_laptop"]},
		{"alice's phone at the café", phone, cafe, m["alice_phone"]},
	} {
		res := eval(ato.Request{User: "alice", Fingerprint: tc.fp, IP: tc.ip})
		assert.Equal(t, verdict.Allow, res.Verdict, tc.name)
		assert.Empty(t, res.Reasons, tc.name)
		assert.Equal(t, tc.id, res.FingerprintID, tc.name)
	}
	res = eval(ato.Request{User: "bob", Fingerprint: fixtureHash("tablet"), IP: home})
	assert.Empty(t, res.Reasons)
	assert.Equal(t, m["bob_tablet"], res.FingerprintID)
	res = eval(ato.Request{User: "carol", Fingerprint: "device-cookie-7f3a", IP: office})
	assert.Empty(t, res.Reasons, "an opaque device id")
	assert.Equal(t, m["carol_cookie"], res.FingerprintID)
	res = eval(ato.Request{User: "alice", Fingerprint: phone, IP: office})
	if fixture == "v1-0006" {
		// The office login had left alice's 50-event history before the
		// upgrade: the old release had forgotten that network already.
		assert.Equal(t, []signals.Reason{signals.NewIPReason}, res.Reasons, "a known device on a network forgotten before the upgrade")
	} else {
		// Storage v2 keeps networks in the profile, past the history: the
		// office is still known.
		assert.Empty(t, res.Reasons, "a known device on a network the profile kept")
	}

	// Trust and the restriction of the laptop (Berlin, a day before).
	devs, err := e.Devices(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, devs, 2)
	for _, d := range devs {
		switch d.ID {
		case m["alice_phone"]:
			assert.True(t, d.Trusted, "the phone completed a challenge")
		case m["alice_laptop"]:
			assert.True(t, d.Restricted(now), "the laptop's restriction holds")
			assert.Contains(t, d.Restrictions, "password_change")
		default:
			t.Errorf("unexpected device %s", d.ID)
		}
	}
	res = eval(ato.Request{User: "alice", Action: "password_change", Fingerprint: laptop, IP: home})
	assert.Equal(t, verdict.Deny, res.Verdict, "a held-back action from the restricted laptop")
	assert.Equal(t, ato.RuleRestricted, res.Rule)

	// The authenticator: a step-up from the trusted phone, answered by the
	// app whose secret was enrolled before the upgrade.
	up, err := e.StepUp(ctx, ato.Request{User: "alice", Fingerprint: phone, IP: home})
	require.NoError(t, err)
	require.Equal(t, verdict.Challenge, up.Verdict)
	info, err = e.Challenge(ctx, up.ChallengeID)
	require.NoError(t, err)
	assert.Contains(t, info.Channels, challenge.TOTP)
	require.NoError(t, e.SendChallengeCode(ctx, up.ChallengeID, challenge.TOTP))
	code, err := totp.GenerateCode(m["alice_totp_secret"], now)
	require.NoError(t, err)
	ok, err = e.VerifyChallengeCode(ctx, up.ChallengeID, code)
	require.NoError(t, err)
	assert.True(t, ok, "the authenticator enrolled before the upgrade")

	// An export of the upgraded file carries it, so that the operator's
	// tool can move it to another store.
	var app storage.Factor
	require.NoError(t, s.ExportUsers(ctx, func(r storage.UserRecord) error {
		for _, f := range r.Factors {
			if r.Profile.User == "alice" && f.Kind == "totp" {
				app = f
			}
		}
		return nil
	}))
	assert.True(t, app.Confirmed, "alice's app is exported")
	assert.NotEmpty(t, app.Secret, "sealed as the old release stored it")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.Create(to)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}
