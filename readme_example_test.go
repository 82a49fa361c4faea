package ato_test

// The examples of README.md: each Go snippet there is the code of one of
// these (TestREADMESnippetsAreExamples checks it), so that the compiler
// checks what a reader copies, and the output is what they will see.

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/sqlitestore"
	"github.com/atoguard/ato/verdict"
)

// The quick start: an engine, the call of a login handler once the
// password checked out, and the call after a wrong password.
func Example_quickStart() {
	ctx := context.Background()
	key := []byte("32 bytes or more, from your secret manager") // the key of device ids and codes
	engine, err := ato.New(memstore.New(), ato.WithSecret(key))
	if err != nil {
		log.Fatal(err)
	}

	// In the login handler, after the password checked out:
	laptop := strings.Repeat("3fa9c1d2", 256) // from the page: getHash()[0] of ato.js or the Rupt SDK
	res, err := engine.Evaluate(ctx, ato.Request{
		User:            "alice",       // the account's stable id
		Fingerprint:     laptop,        // getHash()[0]
		LastFingerprint: "",            // getHash()[1]: the hash saved after the last accepted login
		IP:              "203.0.113.9", // the address the server saw (see "The client's IP")
		Email:           "alice@example.com",
		UserAgent:       "Mozilla/5.0",
	})
	if err != nil {
		log.Fatal(err) // refuse: errors.Is(err, ato.ErrInvalidRequest) for bad input, the message names the field
	}
	switch res.Verdict {
	case verdict.Allow, verdict.Restrict:
		fmt.Println("log in; hold back", res.Restrictions) // Restrict: password change, payment, …
	case verdict.Challenge, verdict.ChallengeAndRestrict:
		fmt.Println("challenge", res.ChallengeID) // refuse until the owner proves themselves: see Challenges
	case verdict.Deny:
		fmt.Println("refuse")
	}
	fmt.Println(res.Explain())

	// After a wrong password (invalid optional fields are dropped, so that a
	// client cannot keep it from counting):
	if err := engine.RecordFailure(ctx, ato.Request{User: "alice", Fingerprint: laptop, IP: "203.0.113.9"}); err != nil {
		log.Fatal(err)
	}
	// Output:
	// log in; hold back []
	// allow: first login of the user, rule otherwise
}

// The state in a SQLite file, kept across restarts. A memstore.New() store
// keeps it in memory and has nothing to close.
func ExampleNew_sqlite() {
	dir, err := os.MkdirTemp("", "ato-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := sqlitestore.Open(filepath.Join(dir, "ato.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	engine, err := ato.New(store) // without WithSecret: a key made once and kept in the store
	if err != nil {
		log.Fatal(err)
	}
	res, err := engine.Evaluate(context.Background(), ato.Request{User: "alice", Fingerprint: strings.Repeat("3fa9c1d2", 256), IP: "203.0.113.9"})
	fmt.Println(res.Verdict, res.Reasons, err)
	// Output: allow [new_user] <nil>
}

// A challenge from end to end. The code goes to an Outbox, which delivers
// nothing and keeps the messages: the example reads the code there, as the
// person would in their mailbox.
func Example_challenges() {
	ctx := context.Background()
	outbox := challenge.NewOutbox() // in production: challenge.SMTPSender, or your SMS gateway in a challenge.SenderFunc
	engine, err := ato.New(memstore.New(), ato.WithSender(outbox))
	if err != nil {
		log.Fatal(err)
	}
	laptop, phone := strings.Repeat("3fa9c1d2", 256), strings.Repeat("be70a4e9", 256)
	if _, err := engine.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: laptop, IP: "203.0.113.9"}); err != nil {
		log.Fatal(err)
	}

	req := ato.Request{User: "alice", Fingerprint: phone, IP: "198.51.100.23", Email: "alice@example.com"}
	res, err := engine.Evaluate(ctx, req) // a new device on a new network
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Verdict, res.Reasons)

	// Keep res.ChallengeID in the session, and show the challenge page:
	info, err := engine.Challenge(ctx, res.ChallengeID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Channels, info.Email) // the address is masked
	if err := engine.SendChallengeCode(ctx, res.ChallengeID, challenge.Email); err != nil {
		log.Fatal(err) // ato.ErrRateLimited, ato.ErrNoDestination, … say why
	}

	// The code, as the outbox got it:
	m, ok := outbox.Last(res.ChallengeID)
	fmt.Println(ok, m.To, len(m.Code), "digits, until", m.ExpiresAt.Sub(m.SentAt))

	// The person types it:
	right, err := engine.VerifyChallengeCode(ctx, res.ChallengeID, m.Code)
	if err != nil {
		log.Fatal(err) // ato.ErrChallengeFailed once the attempts ran out, …
	}
	if right {
		if err := engine.CompleteChallenge(ctx, res.ChallengeID); err != nil {
			log.Fatal(err)
		}
		fmt.Println("logged in") // now log them in
	}
	again, err := engine.Evaluate(ctx, req)
	fmt.Println(again.Verdict, again.Reasons, err) // the same device and network: known now
	// Output:
	// challenge [new_device new_ip]
	// [email] a•••@example.com
	// true alice@example.com 6 digits, until 10m0s
	// logged in
	// allow [] <nil>
}

// breachedPassword is a plug-in signal that declares its reason, so that a
// policy may name it.
type breachedPassword struct{}

func (breachedPassword) Name() string { return "breached_password" }

func (breachedPassword) Reasons() []signals.ReasonInfo {
	return []signals.ReasonInfo{{Reason: "breached_password", Score: 0.6, Description: "the password appears in a breach"}}
}

func (breachedPassword) Detect(_ context.Context, in *signals.Input) ([]signals.Finding, error) {
	n, _ := strconv.Atoi(in.Metadata["password_breach_count"])
	if n == 0 {
		return nil, nil
	}
	return []signals.Finding{{Reason: "breached_password", Detail: "the password is in " + strconv.Itoa(n) + " breaches"}}, nil
}

// A policy file that names a plug-in's reason.
func Example_policyFile() {
	policyFile := []byte(`{"rules": [
	  {"name": "breached-password-new-device", "when": "breached_password && !known_device", "verdict": "challenge"},
	  {"name": "new-device-new-network", "when": "new_device && (new_ip || new_country)", "verdict": "challenge"}
	]}`)

	known := func(r signals.Reason) bool { return signals.IsBuiltin(r) || r == "breached_password" }
	policy, err := verdict.ParseRules(policyFile, known) // or verdict.LoadRules("policy.json", known)
	if err != nil {
		log.Fatal(err) // verdict: rule 1 "…": when: column 12: …
	}
	engine, err := ato.New(memstore.New(), ato.WithSignals(breachedPassword{}), ato.WithPolicy(policy))
	if err != nil {
		log.Fatal(err)
	}

	res, err := engine.Evaluate(context.Background(), ato.Request{User: "alice", Fingerprint: strings.Repeat("3fa9c1d2", 256),
		IP: "203.0.113.9", Metadata: map[string]string{"password_breach_count": "3"}})
	fmt.Println(res.Verdict, res.Rule, res.Reasons, err)
	// Output: challenge breached-password-new-device [new_user breached_password] <nil>
}

// A restriction holds back sensitive actions: evaluate such an action as
// itself before it goes ahead.
func Example_restrictions() {
	ctx := context.Background()
	policy, err := verdict.ParseRules([]byte(`{"rules": [
	  {"name": "new-network", "when": "new_ip && known_device", "verdict": "restrict"}
	]}`), signals.IsBuiltin)
	if err != nil {
		log.Fatal(err)
	}
	engine, err := ato.New(memstore.New(), ato.WithPolicy(policy))
	if err != nil {
		log.Fatal(err)
	}
	laptop := strings.Repeat("3fa9c1d2", 256)
	engine.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: laptop, IP: "203.0.113.9"})

	res, _ := engine.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: laptop, IP: "192.0.2.44"})
	fmt.Println(res.Verdict, res.Restrictions)

	// Later, from that device, before changing the password:
	res, err = engine.Evaluate(ctx, ato.Request{Action: "password_change", User: "alice", Fingerprint: laptop, IP: "192.0.2.44"})
	fmt.Println(res.Verdict, res.Reasons, res.Rule, err)
	// Output:
	// restrict [password_change email_change phone_change mfa_change payment]
	// deny [restricted] restricted <nil>
}

// An authenticator app: set up after a step-up challenge, then used on a
// challenge instead of an email or SMS code.
func Example_authenticator() {
	ctx := context.Background()
	now := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	outbox := challenge.NewOutbox()
	engine, err := ato.New(memstore.New(), ato.WithSender(outbox), ato.WithClock(func() time.Time { return now }))
	if err != nil {
		log.Fatal(err)
	}
	session := ato.Request{User: "alice", Fingerprint: strings.Repeat("3fa9c1d2", 256), IP: "203.0.113.9", Email: "alice@example.com"}
	engine.Evaluate(ctx, session) // the login

	// A device the user logged in from a moment ago proves itself first:
	res, _ := engine.StepUp(ctx, session)
	engine.SendChallengeCode(ctx, res.ChallengeID, challenge.Email)
	m, _ := outbox.Last(res.ChallengeID)
	engine.VerifyChallengeCode(ctx, res.ChallengeID, m.Code)
	engine.CompleteChallenge(ctx, res.ChallengeID)

	key, err := engine.EnrollTOTP(ctx, session, "Example Inc") // show key.PNG (a QR code) or key.URL, once
	if err != nil {
		log.Fatal(err) // ato.ErrFactorRefused from a challenged, restricted or new device
	}
	code, _ := totp.GenerateCode(key.Secret, now) // what the app shows
	ok, err := engine.ConfirmTOTP(ctx, session, code)
	fmt.Println("confirmed:", ok, err)

	// Later, on a challenge, the person may read the code from the app:
	now = now.Add(time.Minute)
	res, _ = engine.StepUp(ctx, session)
	err = engine.SendChallengeCode(ctx, res.ChallengeID, challenge.TOTP) // selects the app: nothing is sent
	code, _ = totp.GenerateCode(key.Secret, now)
	ok, _ = engine.VerifyChallengeCode(ctx, res.ChallengeID, code)
	fmt.Println("verified:", ok, err)
	// Output:
	// confirmed: true <nil>
	// verified: true <nil>
}

// Example_deviceToken keeps the device token of a login in a cookie and
// sends it back: the README's "Device tokens".
func Example_deviceToken() {
	ctx := context.Background()
	engine, err := ato.New(memstore.New(), ato.WithSecret([]byte("32 bytes or more, from your secret manager")))
	if err != nil {
		log.Fatal(err)
	}
	laptop := strings.Repeat("3fa9c1d2", 256)
	res, _ := engine.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: laptop, IP: "203.0.113.9"})
	w := httptest.NewRecorder()

	http.SetCookie(w, &http.Cookie{Name: "ato_device", Value: res.DeviceToken, Path: "/",
		MaxAge: 400 * 24 * 3600, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	// next time: ato.Request{…, DeviceToken: cookie.Value}

	cookie := w.Result().Cookies()[0]
	again, _ := engine.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: laptop, IP: "203.0.113.9", DeviceToken: cookie.Value})
	// The same fingerprint without the token, once the device has shown it:
	copied, _ := engine.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: laptop, IP: "198.51.100.7"})
	fmt.Println(again.Verdict, again.Reasons)
	fmt.Println(copied.Verdict, copied.Reasons, copied.Rule)
	// Output:
	// allow []
	// challenge [device_token_missing new_ip] copied-fingerprint
}
