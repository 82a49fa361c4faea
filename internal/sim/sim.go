package sim

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/geoip"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
)

// Config sizes a run. Zero fields take the defaults of [FullSize].
type Config struct {
	// Users is the population size.
	Users int
	// Weeks is the simulated time; users join over the first third of it
	// (at most four weeks), and attacks happen in its last third.
	Weeks int
	// Seed makes the run: one seed, one report.
	Seed uint64
	// SeasonedAfter and SeasonedLogins define a seasoned user (see the
	// package documentation): defaults 28 days and 4 logins.
	SeasonedAfter  time.Duration
	SeasonedLogins int
	// Attacks is the number of attempts of each account-takeover attack.
	Attacks int
	// Stuffing is the number of tries of each credential-stuffing shape
	// (about 2% of them are hits).
	Stuffing int
	// Data is the real data; nil means [DefaultData].
	Data *Data
}

// FullSize is the configuration of the figures in the README.
var FullSize = Config{Users: 10000, Weeks: 12, Seed: 1, Attacks: 2000, Stuffing: 25000}

// CISize is the small run the package's test makes.
var CISize = Config{Users: 250, Weeks: 8, Seed: 1, Attacks: 50, Stuffing: 1500}

func (c Config) withDefaults() Config {
	if c.Users <= 0 {
		c.Users = FullSize.Users
	}
	if c.Weeks <= 0 {
		c.Weeks = FullSize.Weeks
	}
	if c.SeasonedAfter <= 0 {
		c.SeasonedAfter = 28 * 24 * time.Hour
	}
	if c.SeasonedLogins <= 0 {
		c.SeasonedLogins = 4
	}
	if c.Attacks <= 0 {
		c.Attacks = FullSize.Attacks
	}
	if c.Stuffing <= 0 {
		c.Stuffing = FullSize.Stuffing
	}
	return c
}

// event is something that happens at a time.
type event struct {
	at  time.Time
	seq int
	run func() error
}

type queue []*event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// sim is one run.
type sim struct {
	ctx    context.Context
	cfg    Config
	geo    *Geography
	r      *rand.Rand
	start  time.Time
	end    time.Time
	now    time.Time
	eng    *ato.Engine
	outbox *challenge.Outbox

	users    []*user
	browsers []*browser
	offices  []*office
	nat      map[*isp][][]netip.Addr

	q   queue
	seq int
	rep *Report
}

var (
	locMu    sync.Mutex
	locCache = map[Data]*geoip.DB{}
)

// locator opens the engine's Locator over the data, with the ASN files, as
// an application would (once per Data in a process).
func locator(d Data) (*geoip.DB, error) {
	locMu.Lock()
	defer locMu.Unlock()
	if db := locCache[d]; db != nil {
		return db, nil
	}
	db, err := geoip.Open(d.CityV4, geoip.WithLocationDB(d.CityV6), geoip.WithASN(d.ASNV4), geoip.WithASN(d.ASNV6))
	if err != nil {
		return nil, err
	}
	locCache[d] = db
	return db, nil
}

// Run simulates the population and the attacks with the engine's public API
// and returns the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	began := time.Now()
	var d Data
	if cfg.Data != nil {
		d = *cfg.Data
	} else {
		var err error
		if d, err = DefaultData(); err != nil {
			return nil, err
		}
	}
	geo, err := LoadGeography(d)
	if err != nil {
		return nil, err
	}
	loc, err := locator(d)
	if err != nil {
		return nil, err
	}
	s := &sim{
		ctx:    ctx,
		cfg:    cfg,
		geo:    geo,
		r:      rand.New(rand.NewPCG(cfg.Seed, 0xa70)),
		start:  time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
		outbox: challenge.NewOutbox(),
		rep:    newReport(cfg),
	}
	s.end = s.start.Add(time.Duration(cfg.Weeks) * 7 * 24 * time.Hour)
	s.now = s.start
	secret := sha256.Sum256([]byte("ato-sim-" + strconv.FormatUint(cfg.Seed, 10)))
	s.eng, err = ato.New(memstore.New(),
		ato.WithClock(func() time.Time { return s.now }),
		ato.WithLocator(loc),
		ato.WithSecret(secret[:]),
		ato.WithSender(s.outbox))
	if err != nil {
		return nil, err
	}
	s.population()
	for _, u := range s.users {
		s.schedule(u.joined, func() error { return s.login(u, true) })
	}
	s.scheduleAttacks()
	for s.q.Len() > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e := heap.Pop(&s.q).(*event)
		if e.at.After(s.now) {
			s.now = e.at
		}
		if err := e.run(); err != nil {
			return nil, err
		}
	}
	s.rep.finish(s, time.Since(began))
	return s.rep, nil
}

func (s *sim) schedule(at time.Time, run func() error) {
	if !at.Before(s.end) {
		return
	}
	s.seq++
	heap.Push(&s.q, &event{at: at, seq: s.seq, run: run})
}

// wait moves the clock on within an event (typing a password again,
// reading a code).
func (s *sim) wait(d time.Duration) { s.now = s.now.Add(d) }

// seasoned reports whether the user is seasoned now.
func (s *sim) seasoned(u *user) bool {
	return !u.firstOK.IsZero() && s.now.Sub(u.firstOK) >= s.cfg.SeasonedAfter && u.oks >= s.cfg.SeasonedLogins
}

// nextLogin schedules the user's next login: a Poisson process at the
// user's rate, moved out of the night.
func (s *sim) nextLogin(u *user, after time.Time) {
	week := 7 * 24 * time.Hour
	t := after.Add(time.Duration(s.r.ExpFloat64() / u.rate * float64(week)))
	if h := localHour(t, u.home.at.Lon); h < 7 {
		t = t.Add(time.Duration((7 - h + s.r.Float64()*3) * float64(time.Hour)))
	}
	s.schedule(t, func() error { return s.login(u, false) })
}

// active returns the user's browsers in use at t.
func (u *user) active(t time.Time) []*browser {
	var out []*browser
	for _, b := range u.browsers {
		if !t.Before(b.from) && (b.retired.IsZero() || t.Before(b.retired)) {
			out = append(out, b)
		}
	}
	return out
}

// Network kinds of a session.
const (
	nHome     = "home"
	nMobile   = "mobile"
	nRoaming  = "roaming"
	nOther    = "other-wifi"
	nOffice   = "office"
	nHotel    = "hotel"
	nWorkHome = "corporate-vpn"
	nVPN      = "vpn"
)

// session chooses the browser and network of a login at the current time;
// nil when the user has no device with them (travelling light).
func (s *sim) session(u *user, signup bool) (b *browser, ip netip.Addr, kind string, tr *trip) {
	r, t := s.r, s.now
	bs := u.active(t)
	of := func(kinds ...string) []*browser {
		var out []*browser
		for _, b := range bs {
			for _, k := range kinds {
				if b.kind == k {
					out = append(out, b)
				}
			}
		}
		return out
	}
	one := func(c []*browser) *browser {
		if len(c) == 0 {
			return nil
		}
		return c[r.IntN(len(c))]
	}
	if signup {
		if b = one(of(kComputer, kLaptop)); b == nil {
			b = one(bs)
		}
		return b, s.homeAddr(u), nHome, nil
	}
	if trp, ok := u.tripAt(t); ok {
		tr = trp
		var cands []choice
		if len(of(kPhone)) > 0 {
			cands = append(cands, choice{kPhone, 70})
		}
		if tr.laptop && len(of(kLaptop)) > 0 {
			cands = append(cands, choice{kLaptop, 25})
		}
		if tr.tablet && len(of(kTablet)) > 0 {
			cands = append(cands, choice{kTablet, 15})
		}
		if len(cands) == 0 {
			return nil, ip, "", tr
		}
		b = one(of(pick(r, cands)))
		if b.kind == kPhone && u.carrier != nil && r.Float64() < 0.6 {
			kind = nMobile
			if tr.abroad {
				kind = nRoaming // home-routed: the home carrier's gateway
			}
			return b, s.mobileAddr(u, b, tr.hub), kind, tr
		}
		return b, tr.hotel, nHotel, tr
	}
	lh := localHour(t, u.home.at.Lon)
	wd := t.Add(time.Duration(u.home.at.Lon / 15 * float64(time.Hour))).Weekday()
	working := u.office != nil && wd != time.Saturday && wd != time.Sunday && lh >= 9 && lh < 17.5
	if working {
		if w := one(of(kWork)); w != nil && r.Float64() < 0.65 {
			return w, u.office.ip, nOffice, nil
		}
		if p := one(of(kPhone)); p != nil {
			if r.Float64() < 0.5 {
				return p, u.office.ip, nOffice, nil
			}
			return p, s.mobileAddr(u, p, u.hub), nMobile, nil
		}
	}
	var cands []choice
	if len(of(kComputer, kLaptop)) > 0 {
		cands = append(cands, choice{kComputer, 50})
	}
	if len(of(kPhone)) > 0 {
		cands = append(cands, choice{kPhone, 40})
	}
	if len(of(kTablet)) > 0 {
		cands = append(cands, choice{kTablet, 10})
	}
	if len(of(kWork)) > 0 {
		cands = append(cands, choice{kWork, 5})
	}
	if len(cands) == 0 {
		return nil, ip, "", nil
	}
	switch pick(r, cands) {
	case kComputer:
		b = one(of(kComputer, kLaptop))
		if u.vpn != nil && r.Float64() < pVPNSession {
			return b, u.vpn[r.IntN(len(u.vpn))].addr(r), nVPN, nil
		}
		if b.kind == kLaptop && r.Float64() < 0.15 {
			return b, s.otherWiFi(u), nOther, nil
		}
		return b, s.homeAddr(u), nHome, nil
	case kPhone:
		b = one(of(kPhone))
		switch x := r.Float64(); {
		case x < pOtherWiFi:
			return b, s.otherWiFi(u), nOther, nil
		case x < pOtherWiFi+pPhoneMobile && u.carrier != nil:
			return b, s.mobileAddr(u, b, u.hub), nMobile, nil
		}
		return b, s.homeAddr(u), nHome, nil
	case kTablet:
		b = one(of(kTablet))
		if r.Float64() < 0.1 {
			return b, s.otherWiFi(u), nOther, nil
		}
		return b, s.homeAddr(u), nHome, nil
	default:
		return one(of(kWork)), u.office.ip, nWorkHome, nil // through the corporate VPN
	}
}

// homeAddr returns the home's address now, renumbering it when the ISP's
// lease has run out: a new address of the same provider near home.
func (s *sim) homeAddr(u *user) netip.Addr {
	for !s.now.Before(u.renumberAt) {
		n, ok := u.homeISP.pickNear(s.r, u.home.at.Lat, u.home.at.Lon, 25)
		if !ok {
			n = u.home
		}
		u.homeIP = n.addr(s.r)
		u.renumberAt = u.renumberAt.Add(time.Hour + expDur(s.r, time.Duration(u.homeISP.spec.renumberDays*24)*time.Hour))
	}
	return u.homeIP
}

// otherWiFi is a café's or a friend's connection in the home city.
func (s *sim) otherWiFi(u *user) netip.Addr {
	return s.localNet(s.r, u).addr(s.r)
}

// mobileAddr is the phone's carrier address: kept for a session of a few
// hours, then a new one from the gateway's NAT pool (now and then from
// another of the carrier's gateways).
func (s *sim) mobileAddr(u *user, b *browser, hub int) netip.Addr {
	if b.mobileAddr.IsValid() && s.now.Before(b.mobileUntil) {
		return b.mobileAddr
	}
	if s.r.Float64() < 0.1 {
		hub = hubBySize(s.r, u.carrier)
	}
	b.mobileAddr, _ = s.natAddr(s.r, u.carrier, hub)
	b.mobileUntil = s.now.Add(uniformDur(s.r, time.Hour, 6*time.Hour))
	return b.mobileAddr
}

// Release trains: a major version every four weeks with weekly patches
// (Chromium, Firefox), Safari with its OS every six weeks.
func version(c config, t time.Time, b *browser) (major, patch int) {
	period, base := 28*24*time.Hour, 150
	patchEvery := 7 * 24 * time.Hour
	if c.Family == "safari" {
		period, base, patchEvery = 180*24*time.Hour, 18, 42*24*time.Hour
	}
	epoch := time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
	// the newest release adopted: released, and the browser's lag passed
	for k := int(t.Sub(epoch) / patchEvery); k >= 0; k-- {
		rel := epoch.Add(time.Duration(k) * patchEvery)
		lag := time.Duration(b.lagDays * (0.3 + 1.4*unit(uint64(b.id), uint64(k))) * float64(24*time.Hour))
		if !rel.Add(lag).After(t) {
			m := int(rel.Sub(epoch) / period)
			p := int(rel.Sub(epoch.Add(time.Duration(m)*period)) / patchEvery)
			return base + m, p
		}
	}
	return base, 0
}

// unit is a hash of two numbers in [0,1).
func unit(a, b uint64) float64 {
	x := a*0x9e3779b97f4a7c15 ^ (b+0x632be59bd9b4e019)*0xbf58476d1ce4e5b9
	x ^= x >> 31
	x *= 0x94d049bb133111eb
	x ^= x >> 29
	return float64(x>>11) / float64(1<<53)
}

// configAt is the browser as the script sees it now: its base with the
// changes that happened, the version its updates have reached, the
// timezone of where it is, the monitor it is docked to.
func (s *sim) configAt(u *user, b *browser, tr *trip, atHome bool) config {
	for i := range b.changes {
		if ch := &b.changes[i]; !ch.done && !s.now.Before(ch.at) {
			ch.apply(&b.base)
			ch.done = true
		}
	}
	c := b.base
	c.Major, c.Patch = version(c, s.now, b)
	if c.Family == "safari" && strings.HasSuffix(c.OS, "17") {
		c.Major--
	}
	if tr != nil && (c.Form != desktop || b.id%5 != 0) {
		c.TZ = tr.tz // the OS sets the zone of where it is
	}
	if b.docked && atHome {
		c.Screen, c.DPR = "2560x1440", "1"
	}
	return c
}

// login is one login of a legitimate user: the person types the password
// (sometimes wrong), the application evaluates, and a challenged person
// completes the challenge.
func (s *sim) login(u *user, signup bool) error {
	defer func() {
		if !signup || !u.firstOK.IsZero() {
			s.nextLogin(u, s.now)
		} else {
			s.schedule(s.now.Add(time.Hour), func() error { return s.login(u, true) })
		}
	}()
	b, ip, kind, tr := s.session(u, signup)
	if b == nil {
		return nil
	}
	if tr != nil && s.now.Before(tr.arrive) {
		return nil // on the way
	}
	if !b.clearAt.IsZero() && !s.now.Before(b.clearAt) {
		b.storage, b.cookie, b.clearAt = "", "", time.Time{}
	}
	incognito := !b.privacy && s.r.Float64() < pIncognito
	c := s.configAt(u, b, tr, kind == nHome)
	if b.headset && s.r.Float64() < 0.4 {
		c.Media += "+headset"
	}
	if b.privacy {
		c.Noise = s.r.Uint64() | 1
	}
	if incognito {
		c.Quota = "incognito"
	}
	fp := c.hash()
	ver := strconv.Itoa(c.Major) + "." + strconv.Itoa(c.Patch)
	scenario := s.classify(u, b, kind, tr, fp, ver, incognito, ip, signup)
	measured := s.seasoned(u)

	req := ato.Request{User: u.name, Fingerprint: fp, IP: ip.String(), Email: u.email}
	if signup {
		req.Action = ato.ActionSignup
	}
	if !b.privacy && !incognito {
		req.LastFingerprint = b.storage
		withToken(&req, b.cookie)
	}
	if !signup && s.r.Float64() < pTypo {
		typos := 1
		if s.r.Float64() < pTypoAgain {
			typos++
		}
		for range typos {
			if err := s.eng.RecordFailure(s.ctx, req); err != nil {
				return err
			}
			s.wait(uniformDur(s.r, 5*time.Second, 40*time.Second))
		}
	}
	res, err := s.eng.Evaluate(s.ctx, req)
	if err != nil {
		return fmt.Errorf("sim: %s: %w", u.name, err)
	}
	b.lastHash = fp
	ok := res.Verdict == verdict.Allow || res.Verdict == verdict.Restrict
	if res.ChallengeID != "" {
		ok, err = s.complete(res.ChallengeID)
		if err != nil {
			return err
		}
		if !ok {
			s.rep.unfinished++
		}
	}
	if b.used && res.FingerprintID == b.deviceID && slices.Contains(res.Reasons, signals.NewDeviceReason) {
		s.rep.ownIDNew++
	}
	if measured {
		s.rep.legit(scenario, u, res, s.now.Sub(u.firstOK), u.oks)
	} else {
		s.rep.unseasoned++
	}
	if ok {
		if !b.privacy && !incognito {
			b.storage = fp
			tok := tokenOf(res)
			if tok == "" && res.ChallengeID != "" {
				// A completed challenge taught the device: the application
				// sets the cookie from the engine.
				tok = s.eng.DeviceToken(u.name, res.FingerprintID)
			}
			if tok != "" {
				b.cookie = tok
			}
		}
		if u.firstOK.IsZero() {
			u.firstOK = s.now
		}
		u.oks++
		u.lastOKAt = s.now
		b.used, b.okHash, b.okVersion, b.deviceID = true, fp, ver, res.FingerprintID
		if kind == nHome {
			u.lastHomeIP = ip
		}
	}
	return nil
}

// complete does what a person does with a challenge: asks for the code by
// email, reads it, types it, and the application completes the challenge.
// It reports whether that let the person in; a refusal (a rate limit, say)
// is counted in the report by its message, not returned.
func (s *sim) complete(id string) (bool, error) {
	s.wait(uniformDur(s.r, 3*time.Second, 15*time.Second))
	if err := s.eng.SendChallengeCode(s.ctx, id, challenge.Email); err != nil {
		s.rep.refused(err)
		return false, nil
	}
	m, ok := s.outbox.Last(id)
	if !ok {
		return false, errors.New("sim: the outbox has no code for challenge " + id)
	}
	s.wait(uniformDur(s.r, 20*time.Second, 120*time.Second))
	good, err := s.eng.VerifyChallengeCode(s.ctx, id, m.Code)
	if err != nil || !good {
		s.rep.refused(fmt.Errorf("verify: %v, %w", good, err))
		return false, nil
	}
	if err := s.eng.CompleteChallenge(s.ctx, id); err != nil {
		s.rep.refused(err)
		return false, nil
	}
	return true, nil
}
