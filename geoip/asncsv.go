package geoip

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// asnTable is ASN data loaded from a CSV file of inclusive address ranges,
// one per line: start,end,asn,organization. It is read-only once built.
type asnTable struct {
	v4   []range4
	v6   []range6
	orgs []string // organizations, deduplicated; ranges hold an index
}

type range4 struct {
	start, end uint32
	asn, org   uint32
}

type range6 struct {
	start, end uint128
	asn, org   uint32
}

// uint128 is an IPv6 address as a number.
type uint128 struct{ hi, lo uint64 }

func (a uint128) cmp(b uint128) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

func (a uint128) plusOne() uint128 {
	lo, carry := bits.Add64(a.lo, 1, 0)
	return uint128{a.hi + carry, lo}
}

func (a uint128) minusOne() uint128 {
	lo, borrow := bits.Sub64(a.lo, 1, 0)
	return uint128{a.hi - borrow, lo}
}

func addrUint128(ip netip.Addr) uint128 {
	a := ip.As16()
	return uint128{binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])}
}

// loadASNCSV reads an ASN CSV file such as ip-location-db's asn-ipv4.csv,
// asn-ipv6.csv, or their -num variants, where addresses are decimal
// numbers. A number is an IPv6 address when the file name contains "ipv6"
// or the number does not fit in 32 bits.
func loadASNCSV(path string) (*asnTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	numbersAreV6 := strings.Contains(strings.ToLower(filepath.Base(path)), "ipv6")
	t, err := parseASNCSV(bufio.NewReaderSize(f, 1<<16), numbersAreV6)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// errNoRanges is returned for a CSV file without a single range.
var errNoRanges = errors.New("no address ranges")

func parseASNCSV(r io.Reader, numbersAreV6 bool) (*asnTable, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked below, with a clearer message
	cr.ReuseRecord = true
	cr.TrimLeadingSpace = true
	t := &asnTable{}
	orgIndex := make(map[string]uint32)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) < 3 || len(rec) > 4 {
			return nil, fmt.Errorf("line %d: want 4 fields (start,end,asn,org), have %d", line, len(rec))
		}
		start, err := parseRangeAddr(rec[0], numbersAreV6)
		if err != nil {
			if line == 1 {
				continue // a header
			}
			return nil, fmt.Errorf("line %d: start: %w", line, err)
		}
		end, err := parseRangeAddr(rec[1], numbersAreV6)
		if err != nil {
			return nil, fmt.Errorf("line %d: end: %w", line, err)
		}
		if start.Is4() != end.Is4() {
			return nil, fmt.Errorf("line %d: range %s-%s mixes IPv4 and IPv6", line, start, end)
		}
		if end.Less(start) {
			return nil, fmt.Errorf("line %d: range %s-%s ends before it starts", line, start, end)
		}
		asn, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(rec[2], "AS"), "as"), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("line %d: asn %q: not a 32-bit number", line, rec[2])
		}
		var org string
		if len(rec) == 4 {
			org = strings.TrimSpace(rec[3])
		}
		oi, ok := orgIndex[org]
		if !ok {
			oi = uint32(len(t.orgs))
			org = strings.Clone(org) // not the whole line the CSV reader read
			t.orgs = append(t.orgs, org)
			orgIndex[org] = oi
		}
		if start.Is4() {
			s, e := start.As4(), end.As4()
			t.v4 = append(t.v4, range4{binary.BigEndian.Uint32(s[:]), binary.BigEndian.Uint32(e[:]), uint32(asn), oi})
		} else {
			t.v6 = append(t.v6, range6{addrUint128(start), addrUint128(end), uint32(asn), oi})
		}
	}
	if len(t.v4)+len(t.v6) == 0 {
		return nil, errNoRanges
	}
	t.v4 = flatten4(t.v4)
	t.v6 = flatten(t.v6)
	return t, nil
}

// flatten sorts ranges by start and makes them disjoint: where ranges
// overlap, the one that starts later wins from its start to its end, and
// the one it interrupted goes on after it (real data has a few such
// ranges, some nested in others). Of two that start together the later
// line wins.
func flatten(rs []range6) []range6 {
	slices.SortStableFunc(rs, func(a, b range6) int { return a.start.cmp(b.start) })
	var out []range6
	var open []range6 // interrupted ranges, innermost last; their start is where they resume
	var cur *range6   // the range being emitted, from cur.start
	emit := func(r range6, end uint128) {
		if r.start.cmp(end) <= 0 {
			r.end = end
			out = append(out, r)
		}
	}
	// finishBefore emits what cur and the interrupted ranges cover before p.
	finishBefore := func(p uint128, last bool) {
		for cur != nil && (last || cur.end.cmp(p) < 0) {
			emit(*cur, cur.end)
			resume := cur.end
			cur = nil
			for len(open) > 0 {
				o := open[len(open)-1]
				open = open[:len(open)-1]
				if o.end.cmp(resume) > 0 {
					o.start = resume.plusOne()
					cur = &o
					break
				}
			}
		}
	}
	for _, r := range rs {
		finishBefore(r.start, false)
		if cur != nil {
			if cur.start.cmp(r.start) < 0 {
				emit(*cur, r.start.minusOne())
			}
			if cur.end.cmp(r.end) > 0 {
				open = append(open, *cur)
			}
		}
		next := r
		cur = &next
	}
	finishBefore(uint128{}, true)
	return out
}

// flatten4 flattens IPv4 ranges as [flatten] does.
func flatten4(rs []range4) []range4 {
	wide := make([]range6, len(rs))
	for i, r := range rs {
		wide[i] = range6{uint128{0, uint64(r.start)}, uint128{0, uint64(r.end)}, r.asn, r.org}
	}
	wide = flatten(wide)
	out := make([]range4, len(wide))
	for i, r := range wide {
		out[i] = range4{uint32(r.start.lo), uint32(r.end.lo), r.asn, r.org}
	}
	return out
}

// parseRangeAddr parses an address written as text (1.0.0.0, 2001:200::)
// or as a decimal number.
func parseRangeAddr(s string, numbersAreV6 bool) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, ".:") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Addr{}, err
		}
		return a.Unmap().WithZone(""), nil
	}
	n, err := parseDecimal128(s)
	if err != nil {
		return netip.Addr{}, err
	}
	if !numbersAreV6 && n.hi == 0 && n.lo <= 0xFFFFFFFF {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(n.lo))
		return netip.AddrFrom4(b), nil
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], n.hi)
	binary.BigEndian.PutUint64(b[8:], n.lo)
	return netip.AddrFrom16(b), nil
}

var errNotAddress = errors.New("not an IP address or decimal address number")

// parseDecimal128 parses an unsigned decimal number of at most 128 bits.
func parseDecimal128(s string) (uint128, error) {
	if s == "" || len(s) > 39 {
		return uint128{}, fmt.Errorf("%q: %w", s, errNotAddress)
	}
	var n uint128
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return uint128{}, fmt.Errorf("%q: %w", s, errNotAddress)
		}
		// n = n*10 + digit, failing on overflow.
		hiCarry, lo := bits.Mul64(n.lo, 10)
		hiOver, hi := bits.Mul64(n.hi, 10)
		hi, carry := bits.Add64(hi, hiCarry, 0)
		lo, c2 := bits.Add64(lo, uint64(c-'0'), 0)
		hi, carry2 := bits.Add64(hi, 0, c2)
		if hiOver != 0 || carry != 0 || carry2 != 0 {
			return uint128{}, fmt.Errorf("%q: %w", s, errNotAddress)
		}
		n = uint128{hi, lo}
	}
	return n, nil
}

// lookup returns the ASN and organization of ip, which is unmapped.
func (t *asnTable) lookup(ip netip.Addr) (uint32, string, bool) {
	if ip.Is4() {
		a := ip.As4()
		v := binary.BigEndian.Uint32(a[:])
		// i is the first range starting after v; the one before may hold it.
		i, _ := slices.BinarySearchFunc(t.v4, v, func(r range4, v uint32) int {
			if r.start <= v {
				return -1
			}
			return 1
		})
		if i > 0 && v <= t.v4[i-1].end {
			r := &t.v4[i-1]
			return r.asn, t.orgs[r.org], true
		}
		return 0, "", false
	}
	v := addrUint128(ip)
	i, _ := slices.BinarySearchFunc(t.v6, v, func(r range6, v uint128) int {
		if r.start.cmp(v) <= 0 {
			return -1
		}
		return 1
	})
	if i > 0 && v.cmp(t.v6[i-1].end) <= 0 {
		r := &t.v6[i-1]
		return r.asn, t.orgs[r.org], true
	}
	return 0, "", false
}
