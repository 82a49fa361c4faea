package geoip

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDecimal128(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want uint128
		ok   bool
	}{
		{"0", uint128{}, true},
		{"4294967295", uint128{0, math.MaxUint32}, true},
		{"18446744073709551615", uint128{0, math.MaxUint64}, true},
		{"18446744073709551616", uint128{1, 0}, true},
		{"340282366920938463463374607431768211455", uint128{math.MaxUint64, math.MaxUint64}, true},
		{"340282366920938463463374607431768211456", uint128{}, false}, // 2^128
		{"999999999999999999999999999999999999999", uint128{}, false},
		{"", uint128{}, false},
		{"-1", uint128{}, false},
		{"1e5", uint128{}, false},
		{"1234567890123456789012345678901234567890", uint128{}, false}, // 40 digits
	}
	for _, tt := range tests {
		got, err := parseDecimal128(tt.in)
		if !tt.ok {
			assert.ErrorIs(t, err, errNotAddress, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
	// 2001:200:: as a number, from the ip-location-db asn-ipv6-num.csv.
	n, err := parseDecimal128("42540528726795050063891204319802818560")
	require.NoError(t, err)
	assert.Equal(t, addrUint128(netip.MustParseAddr("2001:200::")), n)
}

func TestParseRangeAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in           string
		numbersAreV6 bool
		want         string
	}{
		{"1.0.0.0", false, "1.0.0.0"},
		{"::ffff:1.2.3.4", false, "1.2.3.4"},
		{"2001:200::", false, "2001:200::"},
		{"16777216", false, "1.0.0.0"},
		{"16777216", true, "::100:0"},
		{"4294967296", false, "::1:0:0"},
		{" 42540528726795050063891204319802818560 ", false, "2001:200::"},
	}
	for _, tt := range tests {
		got, err := parseRangeAddr(tt.in, tt.numbersAreV6)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got.String(), tt.in)
	}
}

func TestFlatten(t *testing.T) {
	t.Parallel()
	tab, err := parseASNCSV(strings.NewReader(""+
		"1.0.0.10,1.0.0.20,2,b\n"+ // out of order
		"1.0.0.0,1.0.0.255,1,a\n"+ // contains the one above: interrupted by it, resumes after
		"1.0.0.10,1.0.0.15,3,c\n"+ // same start as b: the later line wins, b resumes after
		"0.0.0.0,0.0.0.0,4,d\n"+
		"0.0.0.0,0.0.0.5,5,e\n"), false)
	require.NoError(t, err)
	want := []range4{
		{0, 5, 5, 4},
		{1<<24 + 0, 1<<24 + 9, 1, 1},
		{1<<24 + 10, 1<<24 + 15, 3, 2},
		{1<<24 + 16, 1<<24 + 20, 2, 0},
		{1<<24 + 21, 1<<24 + 255, 1, 1},
	}
	assert.Equal(t, want, tab.v4)
	assert.Equal(t, []string{"b", "a", "c", "d", "e"}, tab.orgs)
	for ip, wantASN := range map[string]uint32{
		"0.0.0.0": 5, "0.0.0.5": 5, "0.0.0.6": 0, "1.0.0.0": 1, "1.0.0.9": 1, "1.0.0.10": 3,
		"1.0.0.15": 3, "1.0.0.16": 2, "1.0.0.20": 2, "1.0.0.21": 1, "1.0.0.255": 1, "1.0.1.0": 0,
	} {
		asn, _, _ := tab.lookup(netip.MustParseAddr(ip))
		assert.Equal(t, wantASN, asn, ip)
	}
}

// TestFlattenAgreesWithTheRule checks random overlapping ranges against the
// rule itself: an address belongs to the covering range that starts last,
// of those the later line.
func TestFlattenAgreesWithTheRule(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		var lines []string
		type raw struct{ start, end, asn uint32 }
		var rs []raw
		for i := range 1 + r.IntN(8) {
			a, b := uint32(r.IntN(64)), uint32(r.IntN(64))
			if a > b {
				a, b = b, a
			}
			rs = append(rs, raw{a, b, uint32(i + 1)})
			lines = append(lines, fmt.Sprintf("0.0.0.%d,0.0.0.%d,%d,x", a, b, i+1))
		}
		tab, err := parseASNCSV(strings.NewReader(strings.Join(lines, "\n")), false)
		require.NoError(t, err)
		for v := range uint32(66) {
			var want, bestStart uint32
			for _, x := range rs {
				if x.start <= v && v <= x.end && (want == 0 || x.start >= bestStart) {
					want, bestStart = x.asn, x.start
				}
			}
			got, _, _ := tab.lookup(netip.AddrFrom4([4]byte{0, 0, 0, byte(v)}))
			require.Equal(t, want, got, "address %d of %v", v, lines)
		}
	}
}

// FuzzParseASNCSV checks that whatever parses yields sorted, disjoint
// ranges and that lookups agree with a linear scan.
func FuzzParseASNCSV(f *testing.F) {
	f.Add("1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n1.0.4.0,1.0.7.255,38803,Gtelecom\n", "1.0.5.5")
	f.Add("214.95.0.0,215.0.255.255,749,DoD\n215.0.0.0,215.1.3.255,721,DoD NIC\n", "215.0.0.1")
	f.Add("2001::,2001::ffff,6939,HE\n2001:200::,2001:200:1b9::,2500,WIDE\n", "2001::1")
	f.Add("16777216,16777471,13335,x\n", "1.0.0.7")
	f.Fuzz(func(t *testing.T, data, ip string) {
		tab, err := parseASNCSV(strings.NewReader(data), false)
		if err != nil {
			return
		}
		for i := range tab.v4 {
			r := tab.v4[i]
			if r.start > r.end || i > 0 && tab.v4[i-1].end >= r.start {
				t.Fatalf("v4 range %d not sorted and disjoint: %+v", i, tab.v4)
			}
		}
		for i := range tab.v6 {
			r := tab.v6[i]
			if r.start.cmp(r.end) > 0 || i > 0 && tab.v6[i-1].end.cmp(r.start) >= 0 {
				t.Fatalf("v6 range %d not sorted and disjoint: %+v", i, tab.v6)
			}
		}
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return
		}
		a = a.Unmap().WithZone("")
		var want uint32
		if a.Is4() {
			b := a.As4()
			v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
			for _, r := range tab.v4 {
				if r.start <= v && v <= r.end {
					want = r.asn
				}
			}
		} else {
			v := addrUint128(a)
			for _, r := range tab.v6 {
				if r.start.cmp(v) <= 0 && v.cmp(r.end) <= 0 {
					want = r.asn
				}
			}
		}
		got, _, _ := tab.lookup(a)
		if got != want {
			t.Fatalf("lookup(%s) = %d, linear scan %d", a, got, want)
		}
	})
}

func TestShortest(t *testing.T) {
	t.Parallel()
	assert.Equal(t, 37.422, shortest(float64(float32(37.422))))
	assert.Equal(t, -122.085, shortest(float64(float32(-122.085))))
	assert.Equal(t, 37.386, shortest(37.386)) // a float64 value is kept
	assert.Equal(t, 52.5, shortest(52.5))
}

func TestCountryCode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"US": "US", "us": "US", "Nl": "NL", "ZZ": "", "xx": "", "": "", "U": "", "USA": "", "1A": "", "é": "",
	} {
		assert.Equal(t, want, countryCode(in), in)
	}
}
