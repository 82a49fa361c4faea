package sqlitestore_test

import (
	"net/netip"
	"strings"

	"github.com/atoguard/ato/signals"
)

// The world of testdata/v1-0006.db (see fixture_gen_test.go and
// upgrade_test.go).

type fixturePlaces map[string]signals.Location

func (p fixturePlaces) Locate(ip netip.Addr) (signals.Location, bool) {
	l, ok := p[ip.String()]
	return l, ok
}

// fixtureWorld is where the fixture's addresses are.
var fixtureWorld = fixturePlaces{
	"198.51.100.1": {City: "Amsterdam", Country: "NL", Latitude: 52.37, Longitude: 4.90, AccuracyKm: 20, ASN: 1136},
	"198.51.100.5": {City: "Utrecht", Country: "NL", Latitude: 52.09, Longitude: 5.12, AccuracyKm: 20, ASN: 1136},
	"192.0.2.77":   {City: "Rotterdam", Country: "NL", Latitude: 51.92, Longitude: 4.48, AccuracyKm: 20, ASN: 3320},
	"203.0.113.9":  {City: "Berlin", Country: "DE", Latitude: 52.52, Longitude: 13.40, AccuracyKm: 20, ASN: 3320},
}

func fixtureHash(seed string) string {
	const hexdigits = "0123456789abcdef"
	var b strings.Builder
	for i := 0; b.Len() < 2048; i++ {
		b.WriteByte(hexdigits[(int(seed[i%len(seed)])+i*7)%16])
	}
	return b.String()
}
