package ato_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/memstore"
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
