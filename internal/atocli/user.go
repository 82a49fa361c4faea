package atocli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/internal/storeopen"
	"github.com/atoguard/ato/internal/useragent"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/storage"
)

const userAbout = `Shows what the store holds of one user: the profile (known devices, networks,
countries, the last login), the recent events and the open challenges. Times
are in UTC. The store is opened read-only.

A device is shown by its id (-json gives it whole), the place of its last
login, and its browser and system ("Chrome 131 on Linux") from the user agent
of its latest login that gave one (-json gives it as "user_agent"). A device
without one (its logins came before the engine kept them), or whose browser
the tool cannot name, is shown by the name the application kept for it, if
any: the demo keeps them in <db>-devices.json beside its database. Give such
a file with -names (a JSON object of device id to name); beside a SQLite file
it is found by itself. Else a user agent is shown as it is.
`

// maxUserEvents is how many of the user's events are read: more than the
// engine's default history (50).
const maxUserEvents = 1000

func runUser(ctx context.Context, args []string, env Env) error {
	fs := flags(env, "user", "-db STORE [-json] [-events N] [-names FILE] USER", userAbout)
	spec := storeFlag(fs, env, "the store to read")
	asJSON := fs.Bool("json", false, "print one JSON object, for scripts")
	events := fs.Int("events", 15, "how many of the recent events to list (of at most 1000 read)")
	namesFile := fs.String("names", "", "a JSON file of device id to browser and system (default: <db>-devices.json beside a SQLite file, if there is one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError(fs, env, "give one user, after the flags (ato user -db STORE USER)")
	}
	if *events < 0 {
		return usageError(fs, env, "-events %d: not a count", *events)
	}
	user := fs.Arg(0)
	names, err := deviceNames(*namesFile, *spec)
	if err != nil {
		return err
	}
	s, err := openSource(ctx, *spec)
	if err != nil {
		return err
	}
	defer s.Close()
	v, err := readUser(ctx, s, user, env.Now().UTC())
	if err != nil {
		return err
	}
	if v.Profile.Version == 0 && len(v.Events) == 0 {
		return fmt.Errorf("user %q: the store has no profile and no history for this user (ids are exact: \"Alice\" is not \"alice\")", user)
	}
	v.names = names
	if *asJSON {
		return writeUserJSON(env.Stdout, v, *events)
	}
	return writeUserText(env.Stdout, v, *events)
}

// userView is what the user command shows.
type userView struct {
	Profile    profile.Profile
	Events     []storage.Event // newest first
	Challenges []storage.Challenge
	now        time.Time
	names      map[string]string
}

// readUser reads the user's profile, history and open challenges: the
// challenges that the history's evaluations created, still open at now.
func readUser(ctx context.Context, s storage.Store, user string, now time.Time) (*userView, error) {
	st, err := s.Load(ctx, storage.LoadRequest{User: user})
	if err != nil {
		return nil, fmt.Errorf("read user %q: %w", user, err)
	}
	evs, err := s.Events(ctx, user, time.Time{}, maxUserEvents)
	if err != nil {
		return nil, fmt.Errorf("read the history of %q: %w", user, err)
	}
	v := &userView{Profile: st.Profile, Events: evs, now: now}
	seen := map[string]bool{}
	for _, e := range evs {
		if e.ChallengeID == "" || e.Kind != storage.KindEvaluation || seen[e.ChallengeID] {
			continue
		}
		seen[e.ChallengeID] = true
		c, err := s.Challenge(ctx, e.ChallengeID)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			continue // purged
		case err != nil:
			return nil, fmt.Errorf("read challenge %s: %w", e.ChallengeID, err)
		}
		if c.Status.Open() && c.ExpiresAt.After(now) {
			v.Challenges = append(v.Challenges, c)
		}
	}
	return v, nil
}

// deviceNames reads the names of devices in file, or in the demo's file
// beside a SQLite database when file is "": nil when there is none.
func deviceNames(file, spec string) (map[string]string, error) {
	explicit := file != ""
	if !explicit {
		if spec == "" || storeopen.Kind(spec) != "sqlite" {
			return nil, nil
		}
		file = strings.TrimSuffix(spec, filepath.Ext(spec)) + "-devices.json"
	}
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("device names: %w", err)
	}
	var names map[string]string
	if err := json.Unmarshal(data, &names); err != nil {
		return nil, fmt.Errorf("device names in %s: want a JSON object of device id to name: %w", file, err)
	}
	return names, nil
}

// deviceName is the browser and system of the device: from its user agent
// ("Chrome 131 on Linux"), or else the name the application kept for it;
// "" when there is neither.
func (v *userView) deviceName(d *profile.Device) string {
	if name := useragent.Name(d.UserAgent); name != "" {
		return name
	}
	return v.names[d.ID]
}

// Text.

const (
	dayMinute = "2006-01-02 15:04"
	none      = "-"
)

func when(t time.Time) string {
	if t.IsZero() {
		return none
	}
	return t.UTC().Format(dayMinute)
}

// short is the first 8 characters of an id, made fit for a cell.
func short(id string) string {
	if id == "" {
		return none
	}
	c := cell(id, len(id))
	if r := []rune(c); len(r) > 8 {
		return string(r[:8])
	}
	return c
}

// place is "Amsterdam, NL", "NL" or "".
func place(city, country string) string {
	switch {
	case city != "" && country != "":
		return city + ", " + country
	case country != "":
		return country
	}
	return city
}

func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// cell makes a value fit a table's cell: no tabs, line breaks or other
// control characters, C1's (a terminal's escapes) and bidirectional ones
// included (a user id, a device name or a user agent is not trusted to be
// tidy), at most max runes.
func cell(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}

func writeUserText(w io.Writer, v *userView, maxEvents int) error {
	p := &v.Profile
	bw := &errWriter{w: w}
	fmt.Fprintf(bw, "user %s\n", strconv.Quote(p.User))
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	if p.Last.Time.IsZero() {
		fmt.Fprintf(tw, "  last login\tnone: the user never logged in successfully\n")
	} else {
		l := p.Last
		where := l.IP
		if pl := place(l.City, l.Country); pl != "" {
			where += " (" + pl
			if l.ASN != 0 {
				where += ", AS" + strconv.FormatUint(uint64(l.ASN), 10)
			}
			where += ")"
		}
		fmt.Fprintf(tw, "  last login\t%s UTC from %s on device %s\n", when(l.Time), cell(orNone(where), 120), short(l.DeviceID))
	}
	fmt.Fprintf(tw, "  networks\t%s\n", places(p.Networks, 4))
	fmt.Fprintf(tw, "  countries\t%s\n", places(p.Countries, 6))
	fmt.Fprintf(tw, "  networks' ASNs\t%s\n", places(p.ASNs, 6))
	if len(p.Disowned) > 0 {
		var ds []string
		for _, d := range p.Disowned {
			ds = append(ds, short(d.ID)+" ("+when(d.At)+")")
		}
		fmt.Fprintf(tw, "  disowned\t%s\n", strings.Join(ds, ", "))
	}
	tw.Flush()

	fmt.Fprintf(bw, "\n%s\n", strings.ToUpper(plural(len(p.Devices), "known device", "known devices")))
	if len(p.Devices) > 0 {
		tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "DEVICE\tBROWSER / SYSTEM\tFIRST SEEN\tLAST SEEN\tLOGINS\tLAST IP\tPLACE\tTRUSTED\tRESTRICTED")
		for i := range p.Devices {
			d := &p.Devices[i]
			name := v.deviceName(d)
			if name == "" {
				name = d.UserAgent // as it is: one useragent does not know
			}
			restricted := "no"
			if d.Restricted(v.now) {
				restricted = "until " + when(d.RestrictedUntil) + " (" + plural(len(d.Restrictions), "action", "actions") + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", short(d.ID), cell(orNone(name), 28),
				when(d.FirstSeen), when(d.LastSeen), d.Logins, cell(orNone(d.IP), 46), cell(orNone(place(d.City, d.Country)), 28),
				yesNo(d.Trusted), restricted)
		}
		tw.Flush()
	}

	shown := min(maxEvents, len(v.Events))
	fmt.Fprintf(bw, "\nRECENT EVENTS (%d of the %s kept, newest first)\n", shown, plural(len(v.Events), "event", "events"))
	if shown > 0 {
		tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tKIND\tACTION\tVERDICT\tDEVICE\tIP\tPLACE\tREASONS\tCHALLENGE")
		for _, e := range v.Events[:shown] {
			pl := ""
			if e.Located {
				pl = place(e.City, e.Country)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", when(e.Time), cell(e.Kind, 24), cell(orNone(e.Action), 32),
				cell(orNone(e.Verdict), 24), short(e.DeviceID), cell(orNone(e.IP), 46), cell(orNone(pl), 28),
				cell(orNone(strings.Join(e.Reasons, " ")), 120), short(e.ChallengeID))
		}
		tw.Flush()
	}

	fmt.Fprintf(bw, "\n%s\n", strings.ToUpper(plural(len(v.Challenges), "open challenge", "open challenges")))
	if len(v.Challenges) > 0 {
		tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CHALLENGE\tCREATED\tSTATUS\tDEVICE\tEMAIL\tPHONE\tCHANNEL\tSENDS\tATTEMPTS\tEXPIRES\tREASONS")
		for _, c := range v.Challenges {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", short(c.ID), when(c.CreatedAt), cell(string(c.Status), 24),
				short(c.DeviceID), cell(orNone(challenge.MaskEmail(c.Email)), 32), cell(orNone(challenge.MaskPhone(c.Phone)), 32),
				cell(orNone(c.Channel), 16), c.Sends, c.Attempts, when(c.ExpiresAt), cell(orNone(strings.Join(c.Reasons, " ")), 120))
		}
		tw.Flush()
	}
	return bw.err
}

// places lists the first n places, most recent first: "203.0.113.9 (12
// logins, last 2026-05-04)".
func places(ps []profile.Place, n int) string {
	if len(ps) == 0 {
		return "none"
	}
	var out []string
	for _, pl := range ps[:min(n, len(ps))] {
		out = append(out, fmt.Sprintf("%s (%s, last %s)", cell(pl.Key, 48), plural(pl.Logins, "login", "logins"), pl.LastSeen.UTC().Format(time.DateOnly)))
	}
	if len(ps) > n {
		out = append(out, fmt.Sprintf("and %d more", len(ps)-n))
	}
	return strings.Join(out, ", ")
}

// errWriter keeps the first error of its writer.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// JSON.

// userJSON is the user command's -json output.
type userJSON struct {
	User       string            `json:"user"`
	Version    int64             `json:"profile_version"`
	Devices    []userDeviceJSON  `json:"devices"`
	Networks   []placeJSON       `json:"networks"`
	Countries  []placeJSON       `json:"countries"`
	ASNs       []placeJSON       `json:"asns"`
	Last       *loginJSON        `json:"last_login"`
	Disowned   []disownedJSON    `json:"disowned"`
	Events     []json.RawMessage `json:"events"`
	EventsKept int               `json:"events_kept"`
	Challenges []challengeJSON   `json:"open_challenges"`
}

type userDeviceJSON struct {
	profileDeviceJSON
	// UserAgent is the device's, whole ("" when the engine has none);
	// Name its browser and system, from it or from the names file.
	UserAgent  string `json:"user_agent"`
	Name       string `json:"name,omitempty"`
	Restricted bool   `json:"restricted"`
}

type challengeJSON struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	DeviceID    string    `json:"device_id,omitempty"`
	KnownDevice bool      `json:"known_device"`
	Reasons     []string  `json:"reasons"`
	Email       string    `json:"email,omitempty"` // masked
	Phone       string    `json:"phone,omitempty"` // masked
	Channel     string    `json:"channel,omitempty"`
	Sends       int       `json:"sends"`
	Attempts    int       `json:"attempts"`
	CreatedAt   time.Time `json:"created_at"`
	SentAt      time.Time `json:"sent_at,omitzero"`
	ExpiresAt   time.Time `json:"expires_at"`
}

func writeUserJSON(w io.Writer, v *userView, maxEvents int) error {
	pj := profileToJSON(&v.Profile)
	out := userJSON{
		User: v.Profile.User, Version: v.Profile.Version, Networks: nonNil(pj.Networks), Countries: nonNil(pj.Countries),
		ASNs: nonNil(pj.ASNs), Last: pj.Last, Disowned: nonNil(pj.Disowned), EventsKept: len(v.Events),
		Devices: []userDeviceJSON{}, Events: []json.RawMessage{}, Challenges: []challengeJSON{},
	}
	for i, d := range pj.Devices {
		d.Keys = nil // digests of hashes: of no use to a person or a script
		pd := &v.Profile.Devices[i]
		out.Devices = append(out.Devices, userDeviceJSON{profileDeviceJSON: d, UserAgent: pd.UserAgent,
			Name: v.deviceName(pd), Restricted: pd.Restricted(v.now)})
	}
	for _, e := range v.Events[:min(maxEvents, len(v.Events))] {
		out.Events = append(out.Events, appendEvent(nil, &e))
	}
	for _, c := range v.Challenges {
		out.Challenges = append(out.Challenges, challengeJSON{
			ID: c.ID, Status: string(c.Status), DeviceID: c.DeviceID, KnownDevice: c.KnownDevice,
			Reasons: slices.Concat([]string{}, c.Reasons), Email: challenge.MaskEmail(c.Email), Phone: challenge.MaskPhone(c.Phone),
			Channel: c.Channel, Sends: c.Sends, Attempts: c.Attempts,
			CreatedAt: utc(c.CreatedAt), SentAt: utc(c.SentAt), ExpiresAt: utc(c.ExpiresAt),
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
