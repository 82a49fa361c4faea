// Quickstart shows ato deciding three logins: a first login, the same
// device again, and a new device on a new IP.
//
//	go run ./examples/quickstart             # in memory
//	go run ./examples/quickstart -db ato.db  # in a SQLite file
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/sqlitestore"
	"github.com/atoguard/ato/storage"
)

func main() {
	db := flag.String("db", "", "SQLite database file (default: in memory)")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *db); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, w io.Writer, db string) error {
	var store storage.Store = memstore.New()
	if db != "" {
		s, err := sqlitestore.Open(db)
		if err != nil {
			return err
		}
		defer s.Close()
		store = s
	}
	engine, err := ato.New(store)
	if err != nil {
		return err
	}

	// In a real app these come from the browser: Rupt.getHash().
	laptop := strings.Repeat("3fa9c1d2", 256) // 2048 hex characters
	phone := strings.Repeat("be70a4e9", 256)

	steps := []struct {
		title string
		req   ato.Request
	}{
		{"1. alice logs in for the first time", ato.Request{User: "alice", Fingerprint: laptop, IP: "203.0.113.9", Email: "alice@example.com"}},
		{"2. alice again, same laptop, same network", ato.Request{User: "alice", Fingerprint: laptop, IP: "203.0.113.9", Email: "alice@example.com"}},
		{"3. someone with alice's password, new phone, new IP", ato.Request{User: "alice", Fingerprint: phone, IP: "198.51.100.23", Email: "alice@example.com"}},
	}
	for _, s := range steps {
		res, err := engine.Evaluate(ctx, s.req)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\n", s.title)
		fmt.Fprintf(w, "   verdict:   %s (rule %s)\n", res.Verdict, res.Rule)
		fmt.Fprintf(w, "   reasons:   %v\n", res.Reasons)
		fmt.Fprintf(w, "   device:    %s (confidence %.2f)\n", res.FingerprintID, res.Confidence)
		fmt.Fprintf(w, "   score:     %.2f\n", res.Score)
		if res.ChallengeID != "" {
			fmt.Fprintf(w, "   challenge: %s — send a code to %s before letting them in\n", res.ChallengeID, s.req.Email)
		}
		for _, f := range res.Findings {
			fmt.Fprintf(w, "   - %s: %s\n", f.Reason, f.Detail)
		}
		fmt.Fprintln(w)
	}
	return nil
}
