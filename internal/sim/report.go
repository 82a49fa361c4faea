package sim

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
)

// Legitimate scenarios: each measured login is put in the first that
// applies, in this order.
const (
	scPrivacy    = "privacy browser (no storage; canvas, audio, WebGL randomised per session)"
	scIncognito  = "private window of the usual browser"
	scNewDevice  = "new phone or computer: its first login"
	scVPN        = "own commercial VPN (exit in the home country)"
	scAbroad     = "abroad: roaming phone, hotel Wi-Fi"
	scDomestic   = "travelling in the home country"
	scUpdated    = "browser updated since its last login"
	scChanged    = "browser otherwise changed (monitor, dock, headset, fonts, OS)"
	scCleared    = "browser data cleared (no saved hash, no cookie)"
	scMobile     = "phone on its mobile carrier (carrier-grade NAT)"
	scOther      = "café or friend's Wi-Fi in the home city"
	scOffice     = "office network, corporate gateway or VPN"
	scRenumbered = "home, the ISP gave a new address"
	scHome       = "home, same browser and address"
)

var scenarioOrder = []string{scHome, scRenumbered, scMobile, scOffice, scOther, scUpdated, scChanged,
	scCleared, scVPN, scDomestic, scAbroad, scNewDevice, scIncognito, scPrivacy}

// classify names the scenario of a login.
func (s *sim) classify(u *user, b *browser, kind string, tr *trip, fp, ver string, incognito bool, ip netip.Addr, signup bool) string {
	switch {
	case signup:
		return "signup"
	case b.privacy:
		return scPrivacy
	case incognito:
		return scIncognito
	case !b.used:
		return scNewDevice
	case kind == nVPN:
		return scVPN
	case tr != nil && tr.abroad:
		return scAbroad
	case tr != nil:
		return scDomestic
	case b.okVersion != ver:
		return scUpdated
	case b.okHash != fp:
		return scChanged
	case b.storage == "":
		return scCleared
	case kind == nMobile:
		return scMobile
	case kind == nOther:
		return scOther
	case kind == nOffice || kind == nWorkHome:
		return scOffice
	case kind == nHome && u.lastHomeIP.IsValid() && ip != u.lastHomeIP:
		return scRenumbered
	}
	return scHome
}

// Row counts verdicts, and the rules and reasons behind those that were
// not allow.
type Row struct {
	Name     string
	Count    int
	Verdicts map[verdict.Verdict]int
	Rules    map[string]int
	Reasons  map[signals.Reason]int
}

func newRow(name string) *Row {
	return &Row{Name: name, Verdicts: map[verdict.Verdict]int{}, Rules: map[string]int{}, Reasons: map[signals.Reason]int{}}
}

func (r *Row) add(res ato.Result) {
	r.Count++
	r.Verdicts[res.Verdict]++
	if res.Verdict != verdict.Allow {
		r.Rules[res.Rule]++
		for _, x := range res.Reasons {
			r.Reasons[x]++
		}
	}
}

// NotAllowed counts the results other than allow.
func (r *Row) NotAllowed() int { return r.Count - r.Verdicts[verdict.Allow] }

// AttackRow is a Row of an attack.
type AttackRow struct {
	Row
	// Tries counts a stuffing campaign's tries, right password or not;
	// Count its hits (the tries evaluated).
	Tries int
	// VictimDevice counts attempts the engine identified as the device
	// the victim logs in from.
	VictimDevice int
	// Skipped counts attempts with no victim to be had.
	Skipped int
}

// Report is what a run measured.
type Report struct {
	Config Config
	// Users and Seasoned: the population, and how many were seasoned at
	// the end.
	Users, Seasoned int
	Legit           []*Row // in scenarioOrder, then the total
	Attacks         []*AttackRow
	Elapsed         time.Duration
	// Refused counts challenges a legitimate user could not complete, by
	// the engine's message.
	Refused map[string]int

	legitBy           map[string]*Row
	total             *Row
	attackBy          map[string]*AttackRow
	unseasoned        int
	unfinished        int
	usersWithFriction map[int]bool
	measuredUsers     map[int]bool
	minDays           float64
	minLogins         int
	lookalikeSim      []float64
	stuffNet          map[string]int
	checks            []attackCheck
	networks          int
	natAddrs          int
	mobileUsers       int
	offices           int
	trips             int
	ownIDNew          int
}

// attackCheck is where an attack came from, for the population tests.
type attackCheck struct {
	kind, where string
	victim      *user
	ip          netip.Addr
}

func newReport(cfg Config) *Report {
	r := &Report{
		Config:            cfg,
		Refused:           map[string]int{},
		legitBy:           map[string]*Row{},
		total:             newRow("all logins of seasoned users"),
		attackBy:          map[string]*AttackRow{},
		usersWithFriction: map[int]bool{},
		measuredUsers:     map[int]bool{},
		minDays:           -1,
		stuffNet:          map[string]int{},
	}
	for _, sc := range scenarioOrder {
		r.legitBy[sc] = newRow(sc)
		r.Legit = append(r.Legit, r.legitBy[sc])
	}
	r.Legit = append(r.Legit, r.total)
	for _, a := range attackOrder {
		r.attackBy[a] = &AttackRow{Row: *newRow(a)}
		r.Attacks = append(r.Attacks, r.attackBy[a])
	}
	return r
}

func (r *Report) refused(err error) {
	msg := err.Error()
	if i := strings.IndexAny(msg, "0123456789"); i > 0 {
		msg = msg[:i]
	}
	r.Refused[msg]++
}

// legit records a measured login.
func (r *Report) legit(scenario string, u *user, res ato.Result, history time.Duration, logins int) {
	if d := history.Hours() / 24; r.minDays < 0 || d < r.minDays {
		r.minDays = d
	}
	if r.minLogins == 0 || logins < r.minLogins {
		r.minLogins = logins
	}
	r.legitBy[scenario].add(res)
	r.total.add(res)
	r.measuredUsers[u.id] = true
	if res.Verdict != verdict.Allow {
		r.usersWithFriction[u.id] = true
	}
}

func (r *Report) attack(kind string) *AttackRow { return r.attackBy[kind] }

func (r *Report) attackIP(kind, where string, ip netip.Addr, victim *user) {
	r.checks = append(r.checks, attackCheck{kind, where, victim, ip})
}

func (r *Report) attackResult(kind string, res ato.Result, victimDevice string) {
	row := r.attackBy[kind]
	row.add(res)
	if victimDevice != "" && res.FingerprintID == victimDevice {
		row.VictimDevice++
	}
}

// finish fills in the totals after the run.
func (r *Report) finish(s *sim, elapsed time.Duration) {
	r.Elapsed = elapsed
	r.Users = len(s.users)
	for _, u := range s.users {
		if s.seasoned(u) {
			r.Seasoned++
		}
		for _, b := range u.browsers {
			if b.kind == kPhone && u.carrier != nil {
				r.mobileUsers++
				break
			}
		}
		r.trips += len(u.trips)
	}
	r.networks = s.geo.Networks
	for _, pools := range s.nat {
		for _, p := range pools {
			r.natAddrs += len(p)
		}
	}
	r.offices = len(s.offices)
}

func pct(n, of int) string {
	if of == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f %%", 100*float64(n)/float64(of))
}

// top renders the biggest counts of m as "key share" (share of total).
func top[K ~string](m map[K]int, total, n int) string {
	type kv struct {
		k K
		v int
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	slices.SortFunc(l, func(a, b kv) int {
		if c := cmp.Compare(b.v, a.v); c != 0 {
			return c
		}
		return cmp.Compare(a.k, b.k)
	})
	var parts []string
	for i, x := range l {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.0f%%", x.k, 100*float64(x.v)/float64(max(total, 1))))
	}
	return strings.Join(parts, ", ")
}

// Markdown renders the report as tables to paste into the README.
func (r *Report) Markdown() string {
	var b strings.Builder
	c := r.Config
	fmt.Fprintf(&b, "Population: %d users (seed %d) over %d weeks on DB-IP Lite City and ip-location-db ASN data; "+
		"%d seasoned at the end (≥ %d days since their first successful login and ≥ %d successful logins). "+
		"%d measured logins of %d seasoned users; %d logins before users were seasoned not counted.\n\n",
		r.Users, c.Seed, c.Weeks, r.Seasoned, int(c.SeasonedAfter.Hours()/24), c.SeasonedLogins,
		r.total.Count, len(r.measuredUsers), r.unseasoned)
	fmt.Fprintf(&b, "Friction (a login that got anything but allow): **%s** of seasoned users' logins; "+
		"%s of seasoned users met it at least once.\n\n",
		pct(r.total.NotAllowed(), r.total.Count), pct(len(r.usersWithFriction), len(r.measuredUsers)))
	b.WriteString("| legitimate scenario | logins | friction | challenge | restrict | challenge_and_restrict | deny | rules (share of its friction) | reasons on its friction |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, row := range r.Legit {
		name := row.Name
		if row == r.total {
			name = "**" + name + "**"
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %d | %d | %d | %d | %s | %s |\n", name, row.Count,
			pct(row.NotAllowed(), row.Count), row.Verdicts[verdict.Challenge], row.Verdicts[verdict.Restrict],
			row.Verdicts[verdict.ChallengeAndRestrict], row.Verdicts[verdict.Deny],
			top(row.Rules, row.NotAllowed(), 3), top(row.Reasons, row.NotAllowed(), 4))
	}
	b.WriteString("\nAttacks (stopped: any verdict but allow; a challenge stops only an attacker without the owner's " +
		"mailbox; for stuffing the measure is the hits denied outright):\n\n")
	b.WriteString("| attack | attempts | allowed | restricted | challenged | denied | stopped | took the victim's device | rules |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, a := range r.Attacks {
		n := a.Count
		attempts := fmt.Sprintf("%d", n)
		if a.Tries > 0 {
			attempts = fmt.Sprintf("%d hits of %d tries", n, a.Tries)
		}
		dev := pct(a.VictimDevice, n)
		if a.Tries > 0 {
			dev = "–"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | **%s** | %s | %s |\n", a.Name, attempts,
			pct(a.Verdicts[verdict.Allow], n), pct(a.Verdicts[verdict.Restrict], n),
			pct(a.Verdicts[verdict.Challenge]+a.Verdicts[verdict.ChallengeAndRestrict], n),
			pct(a.Verdicts[verdict.Deny], n), pct(a.NotAllowed(), n), dev, top(a.Rules, a.NotAllowed(), 3))
	}
	b.WriteString("\n")
	if len(r.lookalikeSim) > 0 {
		s := slices.Clone(r.lookalikeSim)
		sort.Float64s(s)
		q := func(p float64) float64 { return s[min(len(s)-1, int(p*float64(len(s))))] }
		above := 0
		for _, x := range s {
			if x >= 0.9 {
				above++
			}
		}
		fmt.Fprintf(&b, "Look-alike browsers against the victim's phished hash: similarity median %.3f (10th %.3f, 90th %.3f); %s at or above 0.9.\n",
			q(0.5), q(0.1), q(0.9), pct(above, len(s)))
	}
	if r.ownIDNew > 0 {
		fmt.Fprintf(&b, "%d legitimate logins were given new_device although the engine named the browser by the id it had at its last successful login.\n", r.ownIDNew)
	}
	fmt.Fprintf(&b, "Population: %d of %d users with a phone on a mobile carrier, %d carrier NAT addresses, %d offices, %d trips; %d networks of the location data walked. ",
		r.mobileUsers, r.Users, r.natAddrs, r.offices, r.trips, r.networks)
	if r.unfinished > 0 {
		fmt.Fprintf(&b, "%d challenges a legitimate user could not complete (%s). ", r.unfinished, top(r.Refused, r.unfinished, 3))
	}
	fmt.Fprintf(&b, "Run: %s.\n", r.Elapsed.Round(time.Second))
	return b.String()
}
