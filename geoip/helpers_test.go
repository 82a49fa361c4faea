package geoip_test

import (
	"math"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/stretchr/testify/require"
)

// entry is one network of a test database and its record.
type entry struct {
	network string
	record  mmdbtype.DataType
}

// dbSpec describes a test database.
type dbSpec struct {
	databaseType string
	ipVersion    int  // 4 or 6 (the default)
	reserved     bool // allow data in reserved networks
	entries      []entry
}

// writeDB writes spec as an mmdb file in a temporary directory and returns
// its path.
func writeDB(tb testing.TB, name string, spec dbSpec) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	require.NoError(tb, buildDB(path, spec))
	return path
}

func buildDB(path string, spec dbSpec) error {
	ipVersion := spec.ipVersion
	if ipVersion == 0 {
		ipVersion = 6
	}
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            spec.databaseType,
		IPVersion:               ipVersion,
		RecordSize:              24,
		IncludeReservedNetworks: spec.reserved,
		DisableIPv4Aliasing:     spec.reserved, // so ::/0 may be written
	})
	if err != nil {
		return err
	}
	for _, e := range spec.entries {
		_, network, err := net.ParseCIDR(e.network)
		if err != nil {
			return err
		}
		if err := tree.Insert(network, e.record); err != nil {
			return err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := tree.WriteTo(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// writeFile writes content to name in a temporary directory.
func writeFile(tb testing.TB, name, content string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	require.NoError(tb, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// Records in the layouts the package reads, shaped like the real ones.

func names(en string) mmdbtype.Map {
	return mmdbtype.Map{"en": mmdbtype.String(en), "de": mmdbtype.String(en + " (de)"), "ja": mmdbtype.String("日本語")}
}

func maxmindCountry(iso, name string) mmdbtype.Map {
	return mmdbtype.Map{
		"geoname_id": mmdbtype.Uint32(6252001),
		"iso_code":   mmdbtype.String(iso),
		"names":      names(name),
	}
}

// geoLite2City is a GeoLite2-City record.
func geoLite2City(country, region, city string, lat, lon float64, radius uint16) mmdbtype.Map {
	r := mmdbtype.Map{
		"city":      mmdbtype.Map{"geoname_id": mmdbtype.Uint32(5375480), "names": names(city)},
		"continent": mmdbtype.Map{"code": mmdbtype.String("NA"), "geoname_id": mmdbtype.Uint32(6255149), "names": names("North America")},
		"country":   maxmindCountry(country, "Country "+country),
		"location": mmdbtype.Map{
			"accuracy_radius": mmdbtype.Uint16(radius),
			"latitude":        mmdbtype.Float64(lat),
			"longitude":       mmdbtype.Float64(lon),
			"metro_code":      mmdbtype.Uint16(807),
			"time_zone":       mmdbtype.String("America/Los_Angeles"),
		},
		"postal":             mmdbtype.Map{"code": mmdbtype.String("94035")},
		"registered_country": maxmindCountry(country, "Country "+country),
	}
	if region != "" {
		r["subdivisions"] = mmdbtype.Slice{
			mmdbtype.Map{"geoname_id": mmdbtype.Uint32(5332921), "iso_code": mmdbtype.String(region), "names": names("Region " + region)},
			mmdbtype.Map{"geoname_id": mmdbtype.Uint32(1), "iso_code": mmdbtype.String("XX2"), "names": names("Second level")},
		}
	}
	return r
}

// geoLite2Country is a GeoLite2-Country record.
func geoLite2Country(country string) mmdbtype.Map {
	return mmdbtype.Map{
		"continent":          mmdbtype.Map{"code": mmdbtype.String("EU"), "geoname_id": mmdbtype.Uint32(6255148), "names": names("Europe")},
		"country":            maxmindCountry(country, "Country "+country),
		"registered_country": maxmindCountry(country, "Country "+country),
	}
}

// dbipCityLite is a record of DB-IP's own dbip-city-lite mmdb: subdivision
// names without ISO codes, no accuracy radius.
func dbipCityLite(country, region, city string, lat, lon float64) mmdbtype.Map {
	return mmdbtype.Map{
		"city":      mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(city)}},
		"continent": mmdbtype.Map{"code": mmdbtype.String("EU"), "geoname_id": mmdbtype.Uint32(6255148), "names": names("Europe")},
		"country": mmdbtype.Map{
			"geoname_id":           mmdbtype.Uint32(2750405),
			"is_in_european_union": mmdbtype.Bool(true),
			"iso_code":             mmdbtype.String(country),
			"names":                names("Country " + country),
		},
		"location":     mmdbtype.Map{"latitude": mmdbtype.Float64(lat), "longitude": mmdbtype.Float64(lon)},
		"subdivisions": mmdbtype.Slice{mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(region)}}},
	}
}

// ipLocationDB is a record of the flat ip-location-db layout, with 32-bit
// coordinates as in the real files.
func ipLocationDB(country, state1, city string, lat, lon float32) mmdbtype.Map {
	return mmdbtype.Map{
		"country_code": mmdbtype.String(country),
		"state1":       mmdbtype.String(state1),
		"state2":       mmdbtype.String(""),
		"city":         mmdbtype.String(city),
		"postcode":     mmdbtype.String(""),
		"latitude":     mmdbtype.Float32(lat),
		"longitude":    mmdbtype.Float32(lon),
		"timezone":     mmdbtype.String(""),
	}
}

func asnRecord(asn uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(asn),
		"autonomous_system_organization": mmdbtype.String(org),
	}
}

func anonRecord(flags ...string) mmdbtype.Map {
	m := mmdbtype.Map{}
	for _, f := range flags {
		m[mmdbtype.String(f)] = mmdbtype.Bool(true)
	}
	return m
}

var nan = math.NaN()
