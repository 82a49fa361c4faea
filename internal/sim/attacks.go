package sim

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/fingerprint"
)

// Attacks. Account-takeover attempts come with the victim's right password
// (phished or leaked), so the application evaluates them; stuffing tries
// come with a password from another site's breach, and only the few right
// ones are evaluated — the wrong ones are recorded as failures. The
// application puts the account's own email in every request: a challenge's
// code goes to the owner, whom the attacker cannot read.
const (
	atNaive     = "naive: own browser, from abroad"
	atVPN       = "VPN or hosting exit (in the victim's country when there is one)"
	atTargeted  = "targeted: own browser, from the victim's city or carrier"
	atLookalike = "look-alike browser + the victim's phished hash as last_fingerprint"
	atReplay    = "replayed phished hash, without the device token"
	atStuffFast = "stuffing from one network, fast"
	atStuffSlow = "stuffing from one network, slow (under 10 users an hour)"
	atStuffWide = "stuffing spread: one try per address, fresh browser per try"
)

var attackOrder = []string{atNaive, atVPN, atTargeted, atLookalike, atReplay, atStuffFast, atStuffSlow, atStuffWide}

// Stuffing parameters (judgement, after published breach-replay figures:
// most accounts on a combo list do not exist on the target site, and a
// percent or two of the tries log in).
const (
	stuffExisting = 0.40 // tries whose account exists here
	stuffRight    = 0.05 // of those, the password is right
	fastCampaign  = 2500 // tries per fast campaign
	slowCampaign  = 150  // tries per slow campaign
	wideCampaign  = 1000 // tries per spread campaign
)

// attackWindow is when attacks happen: the last third of the run (at most
// four weeks), when most users are seasoned.
func (s *sim) attackWindow() (time.Time, time.Duration) {
	span := s.end.Sub(s.start)
	w := min(span/3, 28*24*time.Hour)
	// campaigns start at least a day before the end, so they run whole
	return s.end.Add(-w), w - 24*time.Hour
}

func (s *sim) scheduleAttacks() {
	from, w := s.attackWindow()
	r := rand.New(rand.NewPCG(s.cfg.Seed, 0xa77ac4))
	at := func() time.Time { return from.Add(time.Duration(r.Int64N(int64(w)))) }
	for _, kind := range []string{atNaive, atVPN, atTargeted, atLookalike, atReplay} {
		for range s.cfg.Attacks {
			k, seed := kind, r.Uint64()
			s.schedule(at(), func() error { return s.takeover(k, rand.New(rand.NewPCG(seed, 1))) })
		}
	}
	campaigns := func(kind string, size int) {
		for left := s.cfg.Stuffing; left > 0; left -= size {
			k, n, seed := kind, min(size, left), r.Uint64()
			s.schedule(at(), func() error { return s.stuffing(k, n, rand.New(rand.NewPCG(seed, 2))) })
		}
	}
	campaigns(atStuffFast, fastCampaign)
	campaigns(atStuffSlow, slowCampaign)
	campaigns(atStuffWide, wideCampaign)
}

// victim picks a seasoned user not attacked before, with a browser that
// logged in.
func (s *sim) victim(r *rand.Rand) (*user, *browser) {
	for range 200 {
		u := s.users[r.IntN(len(s.users))]
		if u.attacked || !s.seasoned(u) {
			continue
		}
		var used []*browser
		for _, b := range u.active(s.now) {
			if b.used && b.lastHash != "" && !b.privacy {
				used = append(used, b)
			}
		}
		if len(used) == 0 {
			continue
		}
		u.attacked = true
		// phishing arrives by mail or text: phones get phished more
		for _, b := range used {
			if b.kind == kPhone && r.Float64() < 0.5 {
				return u, b
			}
		}
		return u, used[r.IntN(len(used))]
	}
	return nil, nil
}

// cityAddr is an address in the victim's city: a home line of any
// provider, now and then the victim's own carrier's NAT.
func (s *sim) cityAddr(r *rand.Rand, u *user, carrier float64) (netip.Addr, string) {
	if u.carrier != nil && r.Float64() < carrier {
		a, _ := s.natAddr(r, u.carrier, u.hub)
		return a, "victim's carrier"
	}
	return s.localNet(r, u).addr(r), "victim's city"
}

// takeover is one account-takeover attempt with the victim's password.
func (s *sim) takeover(kind string, r *rand.Rand) error {
	u, vb := s.victim(r)
	if u == nil {
		s.rep.attack(kind).Skipped++
		return nil
	}
	req := ato.Request{User: u.name, Email: u.email}
	var where string
	var ip netip.Addr
	switch kind {
	case atNaive:
		c := pickCountry(r, true)
		for c.code == u.country.code {
			c = pickCountry(r, true)
		}
		p := s.geo.pickISP(r, c.code, false)
		if p == nil {
			s.rep.attack(kind).Skipped++
			return nil
		}
		n := p.nets[r.IntN(len(p.nets))]
		ip, where = n.addr(r), "abroad"
		cfg := newConfig(r, formOf(r), tzOf(c.code, n.at.Lon), c.lang)
		cfg.Major, cfg.Patch = version(cfg, s.now, &browser{id: r.IntN(1 << 30), lagDays: 2})
		req.Fingerprint = cfg.hash()
	case atVPN:
		var n network
		if idx := s.geo.vpnByCountry[u.country.code]; len(idx) > 0 && r.Float64() < 0.7 {
			n = s.geo.vpn.nets[idx[r.IntN(len(idx))]]
		} else {
			n = s.geo.vpn.nets[r.IntN(len(s.geo.vpn.nets))]
		}
		ip, where = n.addr(r), "VPN exit in "+n.at.Country
		tz, lang := tzOf(n.at.Country, n.at.Lon), countryByCode(n.at.Country).lang
		if r.Float64() < 0.5 {
			tz, lang = u.tz, u.country.lang
		}
		cfg := newConfig(r, formOf(r), tz, lang)
		cfg.Major, cfg.Patch = version(cfg, s.now, &browser{id: r.IntN(1 << 30), lagDays: 2})
		req.Fingerprint = cfg.hash()
	case atTargeted:
		ip, where = s.cityAddr(r, u, 0.3)
		cfg := newConfig(r, formOf(r), u.tz, u.country.lang)
		cfg.Major, cfg.Patch = version(cfg, s.now, &browser{id: r.IntN(1 << 30), lagDays: 2})
		req.Fingerprint = cfg.hash()
	case atLookalike:
		ip, where = s.cityAddr(r, u, 0.3)
		victim := s.configAt(u, vb, nil, false)
		cfg := lookalike(r, victim)
		req.Fingerprint, req.LastFingerprint = cfg.hash(), vb.lastHash
		s.rep.lookalikeSim = append(s.rep.lookalikeSim, fingerprint.Similarity(req.Fingerprint, vb.lastHash))
	case atReplay:
		switch x := r.Float64(); {
		case x < 0.6:
			ip, where = s.cityAddr(r, u, 0.2)
		case x < 0.9:
			p := s.geo.pickISP(r, u.country.code, false)
			n := p.nets[r.IntN(len(p.nets))]
			ip, where = n.addr(r), "victim's country"
		default:
			n := s.geo.vpn.nets[r.IntN(len(s.geo.vpn.nets))]
			ip, where = n.addr(r), "VPN exit"
		}
		req.Fingerprint = vb.lastHash
		if r.IntN(2) == 0 {
			req.LastFingerprint = vb.lastHash
		}
	default:
		return fmt.Errorf("sim: unknown attack %q", kind)
	}
	req.IP = ip.String()
	s.rep.attackIP(kind, where, ip, u)
	res, err := s.eng.Evaluate(s.ctx, req)
	if err != nil {
		return fmt.Errorf("sim: %s on %s: %w", kind, u.name, err)
	}
	s.rep.attackResult(kind, res, vb.deviceID)
	return nil
}

// formOf draws the attacker's device: mostly a computer.
func formOf(r *rand.Rand) string {
	if r.Float64() < 0.7 {
		return desktop
	}
	return phone
}

// campaign is a credential-stuffing campaign under way.
type campaign struct {
	kind  string
	left  int
	r     *rand.Rand
	ip    netip.Addr // one network; invalid when spread
	fixed string     // one browser for every try; empty for a fresh one each
	gap   func() time.Duration
}

// stuffing starts a campaign of n tries.
func (s *sim) stuffing(kind string, n int, r *rand.Rand) error {
	c := &campaign{kind: kind, left: n, r: r}
	switch kind {
	case atStuffFast, atStuffSlow:
		// one network: a rented server, a home line (a botnet or proxy), or
		// a mobile proxy, which shares a carrier NAT with real users
		switch x := r.Float64(); {
		case x < 0.4:
			c.ip = s.geo.vpn.nets[r.IntN(len(s.geo.vpn.nets))].addr(r)
			s.rep.stuffNet[kind+": hosting"]++
		case x < 0.7:
			cc := pickCountry(r, true)
			p := s.geo.pickISP(r, cc.code, false)
			c.ip = p.nets[r.IntN(len(p.nets))].addr(r)
			s.rep.stuffNet[kind+": home line"]++
		default:
			var carriers []*isp
			for _, p := range s.geo.isps {
				if s.nat[p] != nil {
					carriers = append(carriers, p)
				}
			}
			p := carriers[r.IntN(len(carriers))]
			c.ip, _ = s.natAddr(r, p, hubBySize(r, p))
			s.rep.stuffNet[kind+": mobile NAT"]++
		}
		if r.IntN(2) == 0 {
			c.fixed = s.stuffFP(r) // one headless browser for the whole campaign
		}
		c.gap = func() time.Duration { return uniformDur(r, 2*time.Second, 20*time.Second) }
		if kind == atStuffSlow {
			c.gap = func() time.Duration { return uniformDur(r, 6*time.Minute, 10*time.Minute) }
		}
	default:
		c.gap = func() time.Duration { return uniformDur(r, 500*time.Millisecond, 3*time.Second) }
	}
	return s.stuffTry(c)
}

// stuffFP is a fresh browser profile of an automation tool.
func (s *sim) stuffFP(r *rand.Rand) string {
	cc := pickCountry(r, true)
	cfg := newConfig(r, formOf(r), tzOf(cc.code, 0), cc.lang)
	cfg.Major, cfg.Patch = version(cfg, s.now, &browser{id: r.IntN(1 << 30), lagDays: 2})
	return cfg.hash()
}

// stuffTry makes one try of the campaign and schedules the next.
func (s *sim) stuffTry(c *campaign) error {
	r := c.r
	req := ato.Request{IP: c.ip.String()}
	if !c.ip.IsValid() {
		// a residential proxy: a home line anywhere, most in the
		// population's countries
		cc := pickCountry(r, r.Float64() < 0.3)
		p := s.geo.pickISP(r, cc.code, false)
		req.IP = p.nets[r.IntN(len(p.nets))].addr(r).String()
	}
	req.Fingerprint = c.fixed
	if c.fixed == "" {
		req.Fingerprint = s.stuffFP(r)
	}
	row := s.rep.attack(c.kind)
	row.Tries++
	if r.Float64() >= stuffExisting {
		req.User = fmt.Sprintf("nobody%08d@example.net", r.IntN(1e8))
		if err := recordUnknownUser(s, req); err != nil {
			return err
		}
	} else {
		u := s.users[r.IntN(len(s.users))]
		req.User, req.Email = u.name, u.email
		if r.Float64() >= stuffRight || u.firstOK.IsZero() {
			if err := s.eng.RecordFailure(s.ctx, req); err != nil {
				return err
			}
		} else {
			res, err := s.eng.Evaluate(s.ctx, req)
			if err != nil {
				return fmt.Errorf("sim: %s: %w", c.kind, err)
			}
			s.rep.attackResult(c.kind, res, "")
		}
	}
	if c.left--; c.left > 0 {
		s.schedule(s.now.Add(c.gap()), func() error { return s.stuffTry(c) })
	}
	return nil
}
