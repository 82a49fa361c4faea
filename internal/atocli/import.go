package atocli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/atoguard/ato/internal/storeopen"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/storage"
)

const importAbout = `Reads the JSON lines of "ato export -all" into a store: the events, every
user's profile with the hashes they saw from each device and their
authenticator apps, and every device.
It is how a deployment moves from one store to another, SQLite to PostgreSQL:

	ato export -db ato.db -all -o ato.jsonl
	ato import -db 'postgres://ato@db/ato' -from ato.jsonl

The store must hold no events, profiles or devices yet (it is created and
migrated if needed, once the first line has shown an export of -all). The
input is checked as it is read: a bad line stops the import with its number
and field, and what was imported before it stays.

An authenticator app's secret stays sealed: it opens only under the key that
sealed it, so give both deployments the same ato.WithSecret key. An engine
made without one keeps a key of its own in the store, which an export does
not hold: after the move, device tokens issued before are refused once, and
authenticator apps must be enrolled again. Open challenges and failed
password attempts (they age out within a day) are not moved.
`

func runImport(ctx context.Context, args []string, env Env) error {
	fs := flags(env, "import", "-db STORE [-from FILE]", importAbout)
	spec := storeFlag(fs, env, "the store to fill")
	from := fs.String("from", "-", `the export to read ("-": standard input)`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError(fs, env, "unexpected argument %q", fs.Arg(0))
	}
	if *spec == "" {
		return usageError(fs, env, "give -db with the store to fill")
	}
	in := env.Stdin
	if *from != "-" {
		f, err := os.Open(*from)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	// The header first: input that is no export of "-all" (an events-only
	// export, a history cut at its head) does not create the store.
	r := newReader(in)
	if err := importHeader(r); err != nil {
		return err
	}
	s, err := storeopen.Open(ctx, *spec)
	if err != nil {
		return fmt.Errorf("open %s: %w", storeopen.Describe(*spec), err)
	}
	defer s.Close()
	if err := checkEmpty(ctx, s, *spec); err != nil {
		return err
	}
	n, err := importFrom(ctx, r, s.Store)
	if err != nil {
		if interrupted(ctx, err) {
			fmt.Fprintf(env.Stderr, "ato import: interrupted after %s, %s and %s; what was imported stays (to start again, import into an empty store)\n",
				plural(n.Events, "event", "events"), plural(n.Users, "user", "users"), plural(n.Devices, "device", "devices"))
			return errInterrupted
		}
		return err
	}
	fmt.Fprintf(env.Stderr, "ato import: imported %s, %s and %s into %s\n",
		plural(n.Events, "event", "events"), plural(n.Users, "user", "users"), plural(n.Devices, "device", "devices"),
		storeopen.Describe(*spec))
	return nil
}

// errFound stops an export at its first record.
var errFound = errors.New("found")

// checkEmpty refuses a store that holds events, profiles or devices: an
// import adds to what is there, and would mix two histories.
func checkEmpty(ctx context.Context, s *storeopen.Store, spec string) error {
	ex, err := exporter(s, spec)
	if err != nil {
		return err
	}
	for _, c := range []struct {
		what   string
		export func() error
	}{
		{"events", func() error { return ex.ExportEvents(ctx, time.Time{}, func(storage.Event) error { return errFound }) }},
		{"profiles", func() error { return ex.ExportUsers(ctx, func(storage.UserRecord) error { return errFound }) }},
		{"devices", func() error { return ex.ExportDevices(ctx, func(storage.Device) error { return errFound }) }},
	} {
		what, export := c.what, c.export
		switch err := export(); {
		case errors.Is(err, errFound):
			return fmt.Errorf("%s already holds %s: import into an empty store", storeopen.Describe(spec), what)
		case err != nil:
			return err
		}
	}
	return nil
}

// importHistory keeps every event imported: the source trimmed its
// histories already.
var importHistory = storage.HistoryLimits{Max: math.MaxInt32}

// importHeader reads the first line of an import: the header of an export
// of "-all".
func importHeader(r *reader) error {
	var rec record
	err := r.next(&rec)
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("the input is empty: expected the lines of ato export")
	case err != nil:
		return err
	case rec.typ != typeHeader:
		return &LineError{Line: r.line, Field: "type", Err: fmt.Errorf("%q: the first line of an export is its header", rec.typ)}
	case !rec.header.All:
		return &LineError{Line: r.line, Field: "all", Err: errors.New(`this export holds events only: import needs the profiles and devices of "ato export -all"`)}
	}
	return nil
}

// importFrom writes the records of r, after its header (importHeader),
// into st, one commit each, and returns how many it wrote. An end line, if
// there is one, must agree with what was read.
func importFrom(ctx context.Context, r *reader, st storage.Store) (end, error) {
	var (
		n   end
		rec record
	)
	sawEnd, skipped := false, int64(0)
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		err := r.next(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, err
		}
		if sawEnd {
			return n, &LineError{Line: r.line, Err: errors.New("a record after the end line")}
		}
		switch rec.typ {
		case typeEvent:
			e := rec.event
			if err := st.Commit(ctx, storage.Commit{User: e.User, Event: &e, History: importHistory}); err != nil {
				return n, fmt.Errorf("line %d: %w", r.line, err)
			}
			n.Events++
		case typeUser:
			if err := importUser(ctx, st, &rec.user); err != nil {
				return n, fmt.Errorf("line %d: %w", r.line, err)
			}
			n.Users++
		case typeDevice:
			if err := importDevice(ctx, st, rec.device); err != nil {
				return n, fmt.Errorf("line %d: %w", r.line, err)
			}
			n.Devices++
			if len(rec.device.Users) == 0 {
				skipped++
			}
		case typeHeader:
			return n, &LineError{Line: r.line, Field: "type", Err: errors.New("a second header: two exports were put together")}
		case typeEnd:
			if rec.end.Events != n.Events || rec.end.Users != n.Users || rec.end.Devices != n.Devices {
				return n, &LineError{Line: r.line, Err: fmt.Errorf("the end line counts %d events, %d users and %d devices; the file holds %d, %d and %d",
					rec.end.Events, rec.end.Users, rec.end.Devices, n.Events, n.Users, n.Devices)}
			}
			// (A device no user logged in from is counted as read, and
			// not imported: a commit is a user's.)
			sawEnd = true
		}
	}
	if !sawEnd {
		return n, fmt.Errorf("line %d: the input ends without the end line of an export: it was cut short (what was read is imported)", r.line)
	}
	n.Devices -= skipped
	return n, nil
}

// importUser writes a user's profile, then the hashes they saw from each
// of its devices, then their second factors.
func importUser(ctx context.Context, st storage.Store, u *storage.UserRecord) error {
	p := u.Profile
	p.Version = 0
	err := st.Commit(ctx, storage.Commit{User: p.User, Profile: &storage.ProfileWrite{
		Base: 0, New: p, Change: profile.Change{Limits: importLimits(&p)},
	}})
	if err != nil {
		return fmt.Errorf("profile of %q: %w", p.User, err)
	}
	for _, h := range u.Hashes {
		if _, ok := p.Device(h.DeviceID); !ok {
			return fmt.Errorf("user %q: hashes of device %q, which is not in the profile", p.User, h.DeviceID)
		}
		h := h
		if err := st.Commit(ctx, storage.Commit{User: p.User, Hashes: &h}); err != nil {
			return fmt.Errorf("hashes of %q from %s: %w", p.User, h.DeviceID, err)
		}
	}
	for _, f := range u.Factors {
		_, err := st.UpdateFactor(ctx, p.User, f.Kind, func(g *storage.Factor) error {
			*g = f
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s factor of %q: %w", f.Kind, p.User, err)
		}
	}
	return nil
}

// importLimits are the engine's limits, or larger where the profile holds
// more (an engine configured with larger ones wrote it).
func importLimits(p *profile.Profile) profile.Limits {
	l := profile.DefaultLimits
	l.Devices = max(l.Devices, len(p.Devices))
	l.Networks = max(l.Networks, len(p.Networks))
	l.Countries = max(l.Countries, len(p.Countries))
	l.ASNs = max(l.ASNs, len(p.ASNs))
	return l
}

// importDevice writes a global device: once for each of its users, oldest
// first, so that its Users come out in the order they had. A device no
// user logged in from lately is written under no user's name, which a
// commit needs: it is skipped.
func importDevice(ctx context.Context, st storage.Store, d storage.Device) error {
	users := d.Users
	if len(users) == 0 {
		return nil
	}
	for i := len(users) - 1; i >= 0; i-- {
		u := users[i]
		w := storage.DeviceWrite{Device: d, Seen: u.LastSeen, MaxUsers: len(users)}
		w.Device.Users = nil
		if err := st.Commit(ctx, storage.Commit{User: u.User, Device: &w}); err != nil {
			return fmt.Errorf("device %s: %w", d.ID, err)
		}
	}
	return nil
}
