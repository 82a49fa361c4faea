package ato_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
)

func Example() {
	engine, err := ato.New(memstore.New())
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	laptop := strings.Repeat("3fa9c1d2", 256) // from the browser: Rupt.getHash()[0]
	phone := strings.Repeat("be70a4e9", 256)

	for _, r := range []ato.Request{
		{User: "alice", Fingerprint: laptop, IP: "203.0.113.9"},  // first login
		{User: "alice", Fingerprint: laptop, IP: "203.0.113.9"},  // same device
		{User: "alice", Fingerprint: laptop, IP: "192.0.2.44"},   // known device, new IP
		{User: "alice", Fingerprint: phone, IP: "198.51.100.23"}, // new device, new IP
	} {
		res, err := engine.Evaluate(ctx, r)
		if err != nil {
			panic(err)
		}
		fmt.Println(res.Verdict, res.Reasons, res.ChallengeID != "")
	}
	// Output:
	// allow [new_user] false
	// allow [] false
	// allow [new_ip] false
	// challenge [new_device new_ip] true
}

func ExampleEngine_Evaluate_invalid() {
	engine, _ := ato.New(memstore.New())
	_, err := engine.Evaluate(context.Background(), ato.Request{User: "alice", IP: "203.0.113.300"})
	fmt.Println(err)
	// Output:
	// ato: invalid request: ip: "203.0.113.300" is not an IP address
}

// The second half of a login: a challenged attempt proves itself with a
// code sent by email, and the same device and network are then allowed.
func ExampleEngine_CompleteChallenge() {
	outbox := challenge.NewOutbox() // tests and demos; use challenge.SMTPSender or your SMS gateway
	engine, err := ato.New(memstore.New(), ato.WithSender(outbox))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	laptop := strings.Repeat("3fa9c1d2", 256)
	phone := strings.Repeat("be70a4e9", 256)
	engine.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: laptop, IP: "203.0.113.9"})

	attempt := ato.Request{User: "alice", Fingerprint: phone, IP: "198.51.100.23", Email: "alice@example.com"}
	res, _ := engine.Evaluate(ctx, attempt)
	fmt.Println(res.Explain())

	if err := engine.SendChallengeCode(ctx, res.ChallengeID, challenge.Email); err != nil {
		panic(err)
	}
	m, _ := outbox.Last(res.ChallengeID) // what the person reads in their mailbox
	fmt.Println("code sent to", m.To)
	ok, err := engine.VerifyChallengeCode(ctx, res.ChallengeID, m.Code)
	fmt.Println("verified:", ok, err)
	fmt.Println("completed:", engine.CompleteChallenge(ctx, res.ChallengeID))

	again, _ := engine.Evaluate(ctx, attempt)
	fmt.Println(again.Explain())
	// Output:
	// challenge: new device and new IP 198.51.100.23 (first seen), rule new-device-new-network
	// code sent to alice@example.com
	// verified: true <nil>
	// completed: <nil>
	// allow: nothing unusual, rule otherwise
}

// Policies are data: rules in the expression language, loaded from JSON.
func ExampleWithPolicy() {
	policy, err := verdict.ParseRules([]byte(`{"rules": [
		{"name": "new-ip-known-device", "when": "new_ip && known_device", "verdict": "restrict", "restrict": ["payment"]},
		{"name": "new-device", "when": "new_device", "verdict": "challenge"}
	]}`), signals.IsBuiltin)
	if err != nil {
		panic(err)
	}
	engine, _ := ato.New(memstore.New(), ato.WithPolicy(policy))
	ctx := context.Background()
	laptop := strings.Repeat("3fa9c1d2", 256)
	for _, r := range []ato.Request{
		{User: "alice", Fingerprint: laptop, IP: "203.0.113.9"},
		{User: "alice", Fingerprint: laptop, IP: "192.0.2.44"},
		{User: "alice", Action: "payment", Fingerprint: laptop, IP: "192.0.2.44"},
	} {
		res, _ := engine.Evaluate(ctx, r)
		fmt.Println(res.Verdict, res.Rule, res.Restrictions)
	}
	// Output:
	// allow otherwise []
	// restrict new-ip-known-device [payment]
	// deny restricted []
}

// A user sets up an authenticator app: they prove ownership with a step-up
// challenge first, then scan the QR code and type a first code.
func ExampleEngine_EnrollTOTP() {
	outbox := challenge.NewOutbox()
	engine, _ := ato.New(memstore.New(), ato.WithSender(outbox))
	ctx := context.Background()
	session := ato.Request{User: "alice", Fingerprint: strings.Repeat("3fa9c1d2", 256), IP: "203.0.113.9", Email: "alice@example.com"}
	engine.Evaluate(ctx, session) // the login

	_, err := engine.EnrollTOTP(ctx, session, "Example Inc")
	fmt.Println(errors.Is(err, ato.ErrFactorRefused)) // a device first seen a moment ago

	res, _ := engine.StepUp(ctx, session)
	engine.SendChallengeCode(ctx, res.ChallengeID, challenge.Email)
	m, _ := outbox.Last(res.ChallengeID)
	engine.VerifyChallengeCode(ctx, res.ChallengeID, m.Code)
	engine.CompleteChallenge(ctx, res.ChallengeID)

	key, err := engine.EnrollTOTP(ctx, session, "Example Inc")
	fmt.Println(err, strings.HasPrefix(key.URL, "otpauth://totp/Example%20Inc:alice?"), len(key.PNG) > 0)
	// Output:
	// true
	// <nil> true true
}

// A "my devices" page: list the user's devices, forget one.
func ExampleEngine_Devices() {
	engine, _ := ato.New(memstore.New())
	ctx := context.Background()
	laptop := strings.Repeat("3fa9c1d2", 256)
	phone := strings.Repeat("be70a4e9", 256)
	engine.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: laptop, IP: "203.0.113.9"})
	engine.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: phone, IP: "203.0.113.9"})

	devs, _ := engine.Devices(ctx, "alice")
	fmt.Println(len(devs), devs[0].IP, devs[0].Trusted)
	fmt.Println(engine.ForgetDevice(ctx, "alice", devs[0].ID))
	devs, _ = engine.Devices(ctx, "alice")
	fmt.Println(len(devs))
	// Output:
	// 2 203.0.113.9 false
	// <nil>
	// 1
}
