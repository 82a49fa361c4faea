package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/atoguard/ato/signals"
)

// Parameters of the legitimate population. Each is a judgement of what a
// consumer web application sees, named so that the report can state it.
const (
	// loginsPerWeekMedian and loginsPerWeekSigma: a user's login rate is
	// log-normal (most log in a couple of times a week, a few daily).
	loginsPerWeekMedian = 2.5
	loginsPerWeekSigma  = 0.8
	// Devices people own and use for the application.
	shareLaptop      = 0.55 // of computer owners: the computer is a laptop
	shareComputer    = 0.85
	sharePhone       = 0.80
	shareTablet      = 0.20
	shareOfficeWork  = 0.30 // log in from a work computer at an office on weekdays
	shareCorpGateway = 0.25 // of offices: traffic leaves through a secure web gateway (Zscaler)
	sharePrivacy     = 0.03 // use a browser that drops storage and randomises canvas/audio/WebGL every session
	shareDocked      = 0.30 // of laptops: docked to a monitor at home
	shareHeadset     = 0.15 // of computers: a headset plugged in on some sessions
	// Per-session behaviour.
	pIncognito   = 0.02 // a session in a private window of the usual browser
	pTypo        = 0.05 // the first password typed is wrong
	pTypoAgain   = 0.20 // ... and the second too
	pPhoneMobile = 0.45 // a phone session at home is on the carrier, not Wi-Fi
	pOtherWiFi   = 0.05 // a session on a café or friend's Wi-Fi in the home city
	// Events over time (per week).
	newPhonePerWeek    = 1.0 / 130 // phones last about 2.5 years
	newComputerPerWeek = 1.0 / 250
	clearPerWeek       = 1.0 / 100 // a browser's cookies and storage cleared
	newMonitorPerWeek  = 1.0 / 150
	newFontsPerWeek    = 1.0 / 100
	osUpgradePerWeek   = 1.0 / 80
	tripsPerWeek       = 0.08 // about four trips a year
	shareAbroad        = 0.30 // of trips
	// NAT pools: each carrier-grade NAT gateway has natAddrsPerUser public
	// addresses per application user behind it (at least natMinPool): a
	// phone sees a new one every session, seldom one it had before, and an
	// address now and then serves several of the application's users, as
	// on a real carrier whose pools are far larger than one app's users.
	natAddrsPerUser = 4
	natMinPool      = 64
	// shareVPN: people who run a commercial VPN on their computer (exit in
	// their own country, the nearest server) for pVPNSession of sessions.
	shareVPN    = 0.04
	pVPNSession = 0.6
	// pNearestHub: a phone's traffic leaves through the carrier's hub
	// nearest home; otherwise through another of its hubs (by size).
	pNearestHub = 0.6
)

// Kinds of browser.
const (
	kComputer = "computer"
	kLaptop   = "laptop"
	kWork     = "work"
	kPhone    = "phone"
	kTablet   = "tablet"
)

// browser is one browser of one user, with what it keeps.
type browser struct {
	id      int
	kind    string
	base    config
	lagDays float64 // how long after a release it updates
	privacy bool
	docked  bool
	headset bool
	from    time.Time // bought
	retired time.Time // replaced (zero: in use)
	// changes to the base configuration at a time
	changes []change
	clearAt time.Time

	// The browser's own storage: the hash the application saved after the
	// last successful login (localStorage), and its cookie jar.
	storage string
	cookie  string

	okHash    string // hash at the last successful login
	okVersion string
	deviceID  string // the engine's id for it at the last successful login
	used      bool   // a successful login happened from it
	lastHash  string // hash presented at the last session

	mobileAddr  netip.Addr
	mobileUntil time.Time
}

type change struct {
	at    time.Time
	apply func(*config)
	done  bool
}

type office struct {
	ip    netip.Addr
	at    place
	users int
}

type trip struct {
	start, arrive, end time.Time
	abroad             bool
	country            countrySpec
	at                 place
	hotel              netip.Addr
	tz                 string
	hub                int // carrier hub used on a domestic trip
	laptop, tablet     bool
}

type user struct {
	id          int
	name, email string
	country     countrySpec
	tz          string
	home        network
	homeISP     *isp
	homeIP      netip.Addr
	renumberAt  time.Time
	lastHomeIP  netip.Addr
	carrier     *isp
	hub         int
	office      *office
	browsers    []*browser
	rate        float64
	joined      time.Time
	firstOK     time.Time
	oks         int
	trips       []trip
	attacked    bool
	lastOKAt    time.Time
	nearby      []network // home lines of any provider within 30 km
	vpn         []network // the VPN exits a VPN user connects to; nil for none
}

// localNet returns a home line of any provider near the user's home (a
// café's, a friend's, an office's, an attacker's); the home's own network
// when the data has none.
func (s *sim) localNet(r *rand.Rand, u *user) network {
	if u.nearby == nil {
		u.nearby = s.geo.homesNear(u.country.code, u.home.at.Lat, u.home.at.Lon, 30)
		if len(u.nearby) == 0 {
			u.nearby = []network{u.home}
		}
	}
	return u.nearby[r.IntN(len(u.nearby))]
}

// tzOf names a timezone from the country and longitude: what matters is
// that people in one place share it and a trip changes it.
func tzOf(country string, lon float64) string {
	return fmt.Sprintf("%s/%+d", country, int(math.Round(lon/15)))
}

// localHour is the hour of day at the longitude.
func localHour(t time.Time, lon float64) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60 + lon/15
	return math.Mod(h+48, 24)
}

func expDur(r *rand.Rand, mean time.Duration) time.Duration {
	return time.Duration(r.ExpFloat64() * float64(mean))
}

func uniformDur(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}

// population makes the users.
func (s *sim) population() {
	r := s.r
	span := time.Duration(s.cfg.Weeks) * 7 * 24 * time.Hour
	joinSpan := min(span/3, 28*24*time.Hour)
	for len(s.users) < s.cfg.Users {
		i := len(s.users)
		c := pickCountry(r, false)
		home := s.geo.pickISP(r, c.code, false)
		if home == nil {
			continue
		}
		hn := home.nets[r.IntN(len(home.nets))]
		u := &user{
			id:      i,
			name:    fmt.Sprintf("user%06d", i),
			email:   fmt.Sprintf("user%06d@example.com", i),
			country: c,
			tz:      tzOf(c.code, hn.at.Lon),
			home:    hn,
			homeISP: home,
			homeIP:  hn.addr(r),
			rate:    math.Min(25, math.Max(0.3, loginsPerWeekMedian*math.Exp(r.NormFloat64()*loginsPerWeekSigma))),
			joined:  s.start.Add(time.Duration(r.Int64N(int64(joinSpan)))),
		}
		u.renumberAt = u.joined.Add(expDur(r, time.Duration(home.spec.renumberDays*24)*time.Hour))
		lang := c.lang
		if c.lang[:2] != "en" && r.Float64() < 0.1 {
			lang = "en-US"
		}
		if car := s.geo.pickISP(r, c.code, true); car != nil {
			u.carrier = car
			u.hub = s.pickHub(r, car, hn.at)
		}
		newB := func(kind string, form string, from time.Time) *browser {
			b := &browser{id: len(s.browsers), kind: kind, base: newConfig(r, form, u.tz, lang), from: from}
			switch form {
			case desktop:
				b.lagDays = 1 + r.ExpFloat64()*3
			default:
				b.lagDays = 2 + r.ExpFloat64()*5
			}
			s.browsers = append(s.browsers, b)
			return b
		}
		if r.Float64() < shareComputer || u.carrier == nil {
			kind := kComputer
			if r.Float64() < shareLaptop {
				kind = kLaptop
			}
			b := newB(kind, desktop, u.joined)
			b.privacy = r.Float64() < sharePrivacy
			b.docked = kind == kLaptop && r.Float64() < shareDocked
			b.headset = r.Float64() < shareHeadset
			u.browsers = append(u.browsers, b)
		}
		if u.carrier != nil && (len(u.browsers) == 0 || r.Float64() < sharePhone) {
			u.browsers = append(u.browsers, newB(kPhone, phone, u.joined))
		}
		if r.Float64() < shareTablet {
			u.browsers = append(u.browsers, newB(kTablet, tablet, u.joined))
		}
		if r.Float64() < shareOfficeWork {
			u.office = s.officeFor(r, u)
			b := newB(kWork, desktop, u.joined)
			b.base.OS = pick(r, []choice{{"win11", 75}, {"win10", 15}, {"macos15", 10}})
			if strings.HasPrefix(b.base.OS, "win") {
				b.base.Family = pick(r, []choice{{"chrome", 55}, {"edge", 45}})
				b.base.GPU = pick(r, winGPUs)
			} else {
				b.base.Family, b.base.GPU = "chrome", pick(r, macGPUs)
			}
			u.browsers = append(u.browsers, b)
		}
		if r.Float64() < shareVPN {
			u.vpn = s.vpnExits(r, u)
		}
		s.lifeEvents(r, u, span)
		s.planTrips(r, u, span)
		s.users = append(s.users, u)
	}
	s.buildNATPools()
}

// lifeEvents schedules the changes of a user's browsers over the run: new
// phones and computers, cleared storage, monitors, fonts, OS upgrades.
func (s *sim) lifeEvents(r *rand.Rand, u *user, span time.Duration) {
	weeks := span.Hours() / (24 * 7)
	at := func() time.Time { return s.start.Add(time.Duration(r.Int64N(int64(span)))) }
	n := len(u.browsers)
	for i := range n {
		b := u.browsers[i]
		if r.Float64() < weeks*clearPerWeek {
			b.clearAt = at()
		}
		if b.base.Form == desktop {
			if r.Float64() < weeks*newMonitorPerWeek {
				scr := pick(r, winScreens)
				b.changes = append(b.changes, change{at: at(), apply: func(c *config) { c.Screen, c.DPR, _ = strings.Cut(scr, "@") }})
			}
			if r.Float64() < weeks*newFontsPerWeek {
				f := pick(r, extraFonts[1:]) + "+new"
				b.changes = append(b.changes, change{at: at(), apply: func(c *config) { c.Fonts = f }})
			}
		}
		if r.Float64() < weeks*osUpgradePerWeek {
			b.changes = append(b.changes, change{at: at(), apply: func(c *config) {
				switch c.OS {
				case "win10":
					c.OS = "win11"
				case "macos14":
					c.OS = "macos15"
				case "ios17":
					c.OS = "ios18"
				case "android14":
					c.OS = "android15"
				default:
					c.OS += ".1"
				}
			}})
		}
		replace := 0.0
		switch b.kind {
		case kPhone:
			replace = weeks * newPhonePerWeek
		case kComputer, kLaptop:
			replace = weeks * newComputerPerWeek
		}
		if r.Float64() < replace {
			when := at()
			if when.After(u.joined) {
				b.retired = when
				nb := &browser{id: len(s.browsers), kind: b.kind, from: when, lagDays: b.lagDays, privacy: b.privacy}
				nb.base = newConfig(r, b.base.Form, b.base.TZ, b.base.Lang)
				s.browsers = append(s.browsers, nb)
				u.browsers = append(u.browsers, nb)
			}
		}
	}
}

// planTrips schedules a user's trips.
func (s *sim) planTrips(r *rand.Rand, u *user, span time.Duration) {
	weeks := span.Hours() / (24 * 7)
	n := 0
	for x := r.ExpFloat64() / tripsPerWeek; x < weeks; x += r.ExpFloat64() / tripsPerWeek {
		n++
	}
	for range n {
		start := s.start.Add(time.Duration(r.Int64N(int64(span))))
		if start.Before(u.joined) {
			continue
		}
		tr := trip{start: start, abroad: r.Float64() < shareAbroad}
		var dest network
		ok := false
		for range 20 {
			c := u.country
			if tr.abroad {
				c = pickCountry(r, false)
				if c.code == u.country.code {
					continue
				}
			}
			p := s.geo.pickISP(r, c.code, false)
			if p == nil {
				continue
			}
			dest = p.nets[r.IntN(len(p.nets))]
			if dist(dest.at, u.home.at) < 100 {
				continue
			}
			tr.country, ok = c, true
			break
		}
		if !ok {
			continue
		}
		tr.at = dest.at
		tr.hotel = dest.addr(r)
		tr.tz = tzOf(tr.country.code, dest.at.Lon)
		km := dist(dest.at, u.home.at)
		travel := time.Duration(km/80*float64(time.Hour)) + time.Hour // by road or rail
		if km > 500 {
			travel = time.Duration(km/700*float64(time.Hour)) + 3*time.Hour // flight, door to door
		}
		tr.arrive = start.Add(travel)
		tr.end = tr.arrive.Add(uniformDur(r, 2*24*time.Hour, 10*24*time.Hour))
		tr.laptop = r.Float64() < 0.4
		tr.tablet = r.Float64() < 0.3
		tr.hub = u.hub
		if !tr.abroad && u.carrier != nil && r.Float64() < 0.5 {
			tr.hub = nearestHub(u.carrier, dest.at)
		}
		overlaps := false
		for _, o := range u.trips {
			if tr.start.Before(o.end.Add(24*time.Hour)) && o.start.Before(tr.end.Add(24*time.Hour)) {
				overlaps = true
			}
		}
		if !overlaps {
			u.trips = append(u.trips, tr)
		}
	}
}

// tripAt returns the user's trip at t, if any.
func (u *user) tripAt(t time.Time) (*trip, bool) {
	for i := range u.trips {
		tr := &u.trips[i]
		if !t.Before(tr.start) && t.Before(tr.end) {
			return tr, true
		}
	}
	return nil, false
}

func dist(a, b place) float64 { return signals.DistanceKm(a.Lat, a.Lon, b.Lat, b.Lon) }

func nearestHub(c *isp, at place) int {
	best, bestKm := 0, math.Inf(1)
	for i, h := range c.hubs {
		if d := dist(h.at, at); d < bestKm {
			best, bestKm = i, d
		}
	}
	return best
}

// pickHub chooses the carrier hub a subscriber's traffic leaves through.
func (s *sim) pickHub(r *rand.Rand, c *isp, home place) int {
	if r.Float64() < pNearestHub {
		return nearestHub(c, home)
	}
	return hubBySize(r, c)
}

func hubBySize(r *rand.Rand, c *isp) int {
	var total float64
	for _, h := range c.hubs {
		total += h.share
	}
	x := r.Float64() * total
	for i, h := range c.hubs {
		x -= h.share
		if x < 0 {
			return i
		}
	}
	return 0
}

// officeFor gives a worker an office: most join one of the offices near
// home (bigger ones more often), some start a new one.
func (s *sim) officeFor(r *rand.Rand, u *user) *office {
	var near []*office
	total := 0
	for _, o := range s.offices {
		if o.at.Country == u.country.code && dist(o.at, u.home.at) < 40 {
			near = append(near, o)
			total += o.users
		}
	}
	if len(near) > 0 && r.Float64() < 0.7 {
		x := r.IntN(total)
		for _, o := range near {
			x -= o.users
			if x < 0 {
				o.users++
				return o
			}
		}
	}
	o := &office{users: 1}
	n := s.localNet(r, u)
	o.at, o.ip = n.at, n.addr(r)
	if r.Float64() < shareCorpGateway && len(s.geo.proxy.nets) > 0 {
		gw := s.geo.proxy.nearest(n.at.Lat, n.at.Lon)
		o.ip = gw.addr(r)
		o.at = gw.at
	}
	s.offices = append(s.offices, o)
	return o
}

// buildNATPools gives each carrier hub its public addresses.
func (s *sim) buildNATPools() {
	r := rand.New(rand.NewPCG(s.cfg.Seed, 0x4a7))
	count := map[*isp]map[int]int{}
	for _, u := range s.users {
		if u.carrier == nil {
			continue
		}
		if count[u.carrier] == nil {
			count[u.carrier] = map[int]int{}
		}
		count[u.carrier][u.hub]++
	}
	s.nat = map[*isp][][]netip.Addr{}
	for _, c := range s.geo.isps {
		if c.spec.mobile == 0 {
			continue
		}
		pools := make([][]netip.Addr, len(c.hubs))
		for i, h := range c.hubs {
			n := max(natMinPool, count[c][i]*natAddrsPerUser)
			for range n {
				pools[i] = append(pools[i], h.nets[r.IntN(len(h.nets))].addr(r))
			}
		}
		s.nat[c] = pools
	}
}

// natAddr draws a carrier address from the hub's pool.
func (s *sim) natAddr(r *rand.Rand, c *isp, hub int) (netip.Addr, place) {
	pool := s.nat[c][hub]
	return pool[r.IntN(len(pool))], c.hubs[hub].at
}

// vpnExits are the networks of the VPN exit nearest the user's home in the
// home country (any exit when the country has none).
func (s *sim) vpnExits(r *rand.Rand, u *user) []network {
	var best network
	bestKm := math.Inf(1)
	for _, i := range s.geo.vpnByCountry[u.country.code] {
		n := s.geo.vpn.nets[i]
		if d := dist(n.at, u.home.at); d < bestKm {
			best, bestKm = n, d
		}
	}
	if math.IsInf(bestKm, 1) {
		best = s.geo.vpn.nets[r.IntN(len(s.geo.vpn.nets))]
	}
	var out []network
	for _, i := range s.geo.vpn.near(best.at.Lat, best.at.Lon, 20) {
		out = append(out, s.geo.vpn.nets[i])
	}
	if len(out) == 0 {
		out = []network{best}
	}
	return out
}
