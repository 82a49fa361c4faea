// Customsignal shows a complete ato plug-in: a signal that reports
// breached_password when the application says the typed password is known
// from a breach, declares that reason and its score, and a policy file
// whose rules use it.
//
//	go run ./examples/customsignal
package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
)

//go:embed policy.json
var policyJSON []byte

func main() {
	if err := run(context.Background(), os.Stdout, time.Now); err != nil {
		log.Fatal(err)
	}
}

// known says which reasons the policy may name: the built-in ones and the
// plug-in's.
func known(r signals.Reason) bool { return signals.IsBuiltin(r) || r == BreachedPasswordReason }

func run(ctx context.Context, w io.Writer, now func() time.Time) error {
	policy, err := verdict.ParseRules(policyJSON, known)
	if err != nil {
		return err
	}
	engine, err := ato.New(memstore.New(), ato.WithSignals(BreachedPassword{}), ato.WithPolicy(policy), ato.WithClock(now))
	if err != nil {
		return err
	}
	laptop := strings.Repeat("3fa9c1d2", 256)
	phone := strings.Repeat("be70a4e9", 256)
	breached := map[string]string{MetadataKey: "3861"}
	for _, s := range []struct {
		title string
		req   ato.Request
	}{
		{"first login", ato.Request{User: "alice", Fingerprint: laptop, IP: "203.0.113.9"}},
		{"known laptop, breached password", ato.Request{User: "alice", Fingerprint: laptop, IP: "203.0.113.9", Metadata: breached}},
		{"payment from the laptop", ato.Request{User: "alice", Action: "payment", Fingerprint: laptop, IP: "203.0.113.9"}},
		{"new phone, same network, breached password", ato.Request{User: "alice", Fingerprint: phone, IP: "203.0.113.9", Metadata: breached}},
	} {
		res, err := engine.Evaluate(ctx, s.req)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\n  %s\n", s.title, res.Explain())
	}
	return nil
}
