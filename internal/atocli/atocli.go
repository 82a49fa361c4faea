package atocli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/atoguard/ato/internal/storeopen"
	"github.com/atoguard/ato/storage"
)

// Env is what a run of the tool uses of the world, so that tests run it in
// process with a fake clock and buffers.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv reads the environment (ATO_DB).
	Getenv func(string) string
	// Now is the wall clock: a -since given as a duration ("30d") ends at
	// it, and a user's open challenges and restrictions are those in force
	// at it; the progress bar measures its pace with it.
	Now func() time.Time
	// Terminal reports that Stderr is a terminal: a long backtest shows a
	// progress bar there.
	Terminal bool
}

// OSEnv is the process's environment: its standard streams, environment
// and clock, and whether standard error is a terminal.
func OSEnv() Env {
	return Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Now: time.Now,
		Terminal: isTerminal(os.Stderr)}
}

// isTerminal reports whether f is a character device (a terminal), and
// TERM does not say it is a dumb one.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 130 // as a shell reports a command that Ctrl-C ended
)

// errInterrupted is returned by a command that stopped because its context
// was cancelled (Ctrl-C), after saying how far it got.
var errInterrupted = errors.New("interrupted")

// errUsage is a command line that is wrong; the command printed why.
var errUsage = errors.New("usage")

const usage = `ato is the operator's tool of ato, the account-takeover protection library.

Usage:

	ato user     -db STORE [-json] [-events N] USER     a user's profile, devices, events and open challenges
	ato export   -db STORE [-since WHEN] [-all] [-o FILE]  the history as JSON lines
	ato import   -db STORE [-from FILE]                  JSON lines of "ato export -all" into an empty store
	ato backtest (-history FILE | -db STORE) -policy NEW.json [-baseline OLD.json] [-html REPORT.html]
	                                                    replay the history under a policy and report what changes

STORE is a SQLite file, a postgres:// connection string (?ato_schema=NAME for
another schema than "ato") or, for import, :memory:; -store is the same flag,
and $ATO_DB its default. user, export and backtest only read their store.
"ato help COMMAND" or "ato COMMAND -h" describes a command.
`

// Run runs the tool with the arguments (without the program's name) and
// returns the process's exit code: 0, 1 for an error, 2 for a wrong
// command line, 130 when ctx was cancelled (Ctrl-C) before it finished.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "user":
		err = runUser(ctx, rest, env)
	case "export":
		err = runExport(ctx, rest, env)
	case "import":
		err = runImport(ctx, rest, env)
	case "backtest":
		err = runBacktest(ctx, rest, env)
	case "help", "-h", "-help", "--help":
		if len(rest) == 1 {
			return Run(ctx, []string{rest[0], "-h"}, env)
		}
		fmt.Fprint(env.Stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(env.Stderr, "ato: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	}
	fmt.Fprintf(env.Stderr, "ato %s: %v\n", cmd, err)
	return exitError
}

// flags is a command's flag set, which prints its errors and usage to
// stderr.
func flags(env Env, name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet("ato "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: ato %s %s\n\n%s\nFlags:\n", name, synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

// storeFlag adds -db and its synonym -store, defaulting to $ATO_DB.
func storeFlag(fs *flag.FlagSet, env Env, about string) *string {
	spec := new(string)
	*spec = env.Getenv("ATO_DB")
	fs.StringVar(spec, "db", *spec, about+": a SQLite file, a postgres:// connection string (default $ATO_DB)")
	fs.StringVar(spec, "store", *spec, "the same as -db")
	return spec
}

// parse parses the command line; a wrong one is errUsage (the flag
// package printed why), -h is flag.ErrHelp.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// usageError prints a problem with the command line and its usage.
func usageError(fs *flag.FlagSet, env Env, format string, args ...any) error {
	fmt.Fprintf(env.Stderr, "%s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return errUsage
}

// openSource opens a store to read from it, read-only.
func openSource(ctx context.Context, spec string) (*storeopen.Store, error) {
	if spec == "" {
		return nil, errors.New("no store: give -db with a SQLite file or a postgres:// connection string (or set ATO_DB)")
	}
	s, err := storeopen.OpenReadOnly(ctx, spec)
	if errors.Is(err, storage.ErrOutdated) {
		return nil, fmt.Errorf("open %s: %w\n(the ato tool reads a store without changing it: upgrade it first, by starting the application, which migrates the store it opens, or the way your deployment migrates)", storeopen.Describe(spec), err)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", storeopen.Describe(spec), err)
	}
	return s, nil
}

// exporter returns the store's Exporter, or says that it has none.
func exporter(s *storeopen.Store, spec string) (storage.Exporter, error) {
	ex, ok := s.Store.(storage.Exporter)
	if !ok {
		return nil, fmt.Errorf("%s cannot be read whole (its store does not implement storage.Exporter)", storeopen.Describe(spec))
	}
	return ex, nil
}

// interrupted reports whether err ends a command because ctx was
// cancelled.
func interrupted(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ctx.Err()))
}

// count formats n with thousands separators: 1,234,567.
func count[T ~int | ~int64 | ~int32 | ~uint64](n T) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// plural is "1 event" or "2 events".
func plural[T ~int | ~int64](n T, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return count(n) + " " + many
}
