package atocli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/atoguard/ato/internal/storeopen"
	"github.com/atoguard/ato/storage"
)

const exportAbout = `Writes the store's history as JSON lines: a header line, one line per event
in order of time, and an end line that says how many were written (a file
without one was cut short). With -all it also writes every user's profile
(with their authenticator apps, whose secrets stay sealed by the engine's
key) and every device after the events, which is what "ato import" needs to
fill another store: a file that names every user, to keep as such. The format is described in the package documentation of
cmd/ato ("go doc github.com/atoguard/ato/cmd/ato").

The export streams: it holds a page of events in memory, whatever the size of
the store. The store is opened read-only. With -o, the file appears whole
when the export ends, and an interrupted export leaves none.
`

func runExport(ctx context.Context, args []string, env Env) error {
	fs := flags(env, "export", "-db STORE [-since WHEN] [-all] [-o FILE]", exportAbout)
	spec := storeFlag(fs, env, "the store to read")
	sinceFlag := fs.String("since", "", "only events from then on: a time (2026-05-01, 2026-05-01T08:00:00Z) or an age (30d, 12h)")
	all := fs.Bool("all", false, "write every user's profile and every device too (for ato import)")
	out := fs.String("o", "", `the file to write, readable by its owner only ("-" or none: standard output)`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError(fs, env, "unexpected argument %q", fs.Arg(0))
	}
	now := env.Now().UTC()
	since, err := parseSince(*sinceFlag, now)
	if err != nil {
		return usageError(fs, env, "-since: %v", err)
	}
	if *all && !since.IsZero() {
		return usageError(fs, env, "-all exports everything: it cannot be given with -since")
	}
	s, err := openSource(ctx, *spec)
	if err != nil {
		return err
	}
	defer s.Close()
	ex, err := exporter(s, *spec)
	if err != nil {
		return err
	}

	if *out == "-" {
		*out = ""
	}
	h := header{Type: typeHeader, Format: formatName, Version: formatVersion, ExportedAt: now.Truncate(time.Millisecond),
		Since: since, Store: storeopen.Kind(*spec), All: *all}
	var n end
	write := func(w io.Writer) (err error) {
		n, err = writeExport(ctx, w, ex, h)
		return err
	}
	if *out == "" {
		err = write(env.Stdout)
	} else {
		err = writeFileAtomic(*out, write)
	}
	if err != nil {
		if interrupted(ctx, err) {
			fmt.Fprintf(env.Stderr, "ato export: interrupted after %s, %s and %s; %s\n",
				plural(n.Events, "event", "events"), plural(n.Users, "user", "users"), plural(n.Devices, "device", "devices"),
				map[bool]string{true: "no file was written", false: "the output has no end line"}[*out != ""])
			return errInterrupted
		}
		return err
	}
	if *out != "" {
		fmt.Fprintf(env.Stderr, "ato export: wrote %s", plural(n.Events, "event", "events"))
		if *all {
			fmt.Fprintf(env.Stderr, ", %s and %s", plural(n.Users, "user", "users"), plural(n.Devices, "device", "devices"))
		}
		fmt.Fprintf(env.Stderr, " to %s\n", *out)
	}
	return nil
}

// writeExport writes the export to w: the header, the events since
// h.Since, with h.All the users and devices, and the end line. It returns
// what it wrote, also when it fails.
func writeExport(ctx context.Context, w io.Writer, ex storage.Exporter, h header) (end, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	n := end{Type: typeEnd}
	line := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		bw.Write(b)
		return bw.WriteByte('\n')
	}
	if err := line(h); err != nil {
		return n, err
	}
	var buf []byte
	err := ex.ExportEvents(ctx, h.Since, func(e storage.Event) error {
		buf = appendEvent(buf[:0], &e)
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
		n.Events++
		return nil
	})
	if err != nil {
		return n, err
	}
	if h.All {
		err := ex.ExportUsers(ctx, func(u storage.UserRecord) error {
			l := userLine{Type: typeUser, User: u.Profile.User, Profile: profileToJSON(&u.Profile)}
			for _, dh := range u.Hashes {
				l.Hashes = append(l.Hashes, hashesJSON{DeviceID: dh.DeviceID, Hashes: dh.Hashes})
			}
			for i := range u.Factors {
				l.Factors = append(l.Factors, factorToJSON(&u.Factors[i]))
			}
			n.Users++
			return line(l)
		})
		if err != nil {
			return n, err
		}
		err = ex.ExportDevices(ctx, func(d storage.Device) error {
			n.Devices++
			return line(deviceToLine(&d))
		})
		if err != nil {
			return n, err
		}
	}
	if err := ctx.Err(); err != nil {
		return n, err
	}
	if err := line(n); err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// parseSince reads -since: "" (everything), a date, an RFC 3339 time, or
// an age before now in days ("30d") or in Go's durations ("12h", "90m").
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*366 {
			return time.Time{}, fmt.Errorf("%q is not a number of days", s)
		}
		return now.AddDate(0, 0, -n).Truncate(time.Millisecond), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q is negative", s)
		}
		return now.Add(-d).Truncate(time.Millisecond), nil
	}
	for _, layout := range []string{time.DateOnly, time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New(`"` + s + `" is neither a time (2026-05-01, 2026-05-01T08:00:00Z) nor an age (30d, 12h)`)
}
