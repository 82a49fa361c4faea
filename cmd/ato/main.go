// Command ato is the operator's tool of ato: it shows what a store holds
// of a user, exports the history, imports it into another store, and
// backtests a policy on recorded traffic before it is enforced.
//
//	ato user     -db ato.db alice@example.com
//	ato export   -db ato.db -since 30d -o may.jsonl
//	ato backtest -history may.jsonl -policy strict.json -html report.html
//	ato export   -db ato.db -all | ato import -db 'postgres://ato@db/ato'
//
// -db (or -store, or $ATO_DB) takes what the demo and atod take: a SQLite
// file or a postgres:// connection string (?ato_schema=NAME for another
// schema than "ato"). user, export and backtest open it read-only: the
// SQLite file in read-only mode, PostgreSQL in read-only sessions, and
// never migrate it. "ato help COMMAND" describes a command. Ctrl-C stops a
// command cleanly; it says how far it got and exits with 130.
//
// # The export format
//
// An export is JSON lines (UTF-8, one object per line, "\n" ends each).
// Each object's "type" says what it is:
//
//   - "header", the first line: "format" ("ato-export"), "version" (1),
//     "exported_at", "since" (when -since was given), "store" ("sqlite",
//     "postgres"), "all" (true when profiles and devices follow).
//   - "event", one per event of a user's history, in order of time:
//     "id", "user", "time" (RFC 3339, UTC, milliseconds), "kind"
//     ("evaluation", "challenge_sent", "challenge_verified",
//     "challenge_failed", "challenge_completed", "factor_enrolled",
//     "factor_confirmed", "codes_locked", "device_forgotten"), "action"
//     ("login", "signup", ...), "verdict", "success" (the event taught the
//     engine), "device_id", "ip", "network" (the key the IP is compared
//     by), "location" ({"country", "region", "city", "lat", "lon",
//     "accuracy_km", "asn"}, absent when the IP was not located),
//     "reasons" (a list), "challenge_id".
//   - "user", with -all: "user" and "profile" (what the engine learnt:
//     "devices", "networks", "countries", "asns", "last", "disowned"),
//     "hashes" (the fingerprints the user saw from each device) and
//     "factors" (authenticator apps: "kind", "secret" sealed by the engine
//     that enrolled it, in base64, "confirmed", "last_step", "failures",
//     "failed_at", "created_at", "updated_at"). A sealed secret opens only
//     under the engine secret (ato.WithSecret) that sealed it.
//   - "device", with -all: a device across users: "id", "hashes", "keys",
//     "first_seen", "last_seen", "users".
//   - "end", the last line: the counts of "events", "users" and "devices"
//     written. A file without it was cut short.
//
// Fields may be absent when empty; readers ignore fields they do not know,
// so a later version may add some.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/atoguard/ato/internal/atocli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first Ctrl-C the command winds down; a second one ends the
	// process at once, as it would without this handler.
	context.AfterFunc(ctx, stop)
	code := atocli.Run(ctx, os.Args[1:], atocli.OSEnv())
	stop()
	os.Exit(code)
}
