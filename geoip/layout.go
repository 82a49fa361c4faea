package geoip

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	maxminddb "github.com/oschwald/maxminddb-golang/v2"

	"github.com/atoguard/ato/signals"
)

// layout is the shape of the records of a location database.
type layout int

const (
	// nested: MaxMind GeoIP2/GeoLite2 City, Country and Enterprise, and the
	// DB-IP databases in MaxMind-compatible form.
	nested layout = iota + 1
	// flat: the ip-location-db databases (country_code, latitude, …).
	flat
)

// The three kinds of database an option or Open may be given.
type kind int

const (
	kindLocation kind = iota + 1
	kindASN
	kindAnonymous
)

func (k kind) String() string {
	switch k {
	case kindLocation:
		return "a location database"
	case kindASN:
		return "an ASN database"
	case kindAnonymous:
		return "an anonymous-IP database"
	}
	return "an unrecognized database"
}

// names holds the English name of a place; the other languages are not
// decoded.
type names struct {
	En string `maxminddb:"en"`
}

// subdivision is one entry of a nested record's subdivisions, largest
// first. DB-IP data has names but no ISO code.
type subdivision struct {
	ISOCode string `maxminddb:"iso_code"`
	Names   names  `maxminddb:"names"`
}

// anonymousFlags are the flags of a GeoIP2-Anonymous-IP record, also found
// under "traits" in GeoIP2 Enterprise records.
type anonymousFlags struct {
	IsAnonymous        bool `maxminddb:"is_anonymous"`
	IsAnonymousProxy   bool `maxminddb:"is_anonymous_proxy"` // legacy City/Country trait
	IsAnonymousVPN     bool `maxminddb:"is_anonymous_vpn"`
	IsHostingProvider  bool `maxminddb:"is_hosting_provider"`
	IsPublicProxy      bool `maxminddb:"is_public_proxy"`
	IsResidentialProxy bool `maxminddb:"is_residential_proxy"`
	IsTorExitNode      bool `maxminddb:"is_tor_exit_node"`
}

func (f *anonymousFlags) anonymous() bool {
	return f.IsAnonymous || f.IsAnonymousProxy || f.IsAnonymousVPN || f.IsPublicProxy ||
		f.IsResidentialProxy || f.IsTorExitNode
}

// asnRecord is a GeoLite2-ASN (or GeoIP2-ISP, or ip-location-db ASN mmdb)
// record.
type asnRecord struct {
	Number       uint32 `maxminddb:"autonomous_system_number"`
	Organization string `maxminddb:"autonomous_system_organization"`
}

// nestedRecord is the part of a GeoIP2/GeoLite2/DB-IP City or Country
// record that a Location needs.
type nestedRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Subdivisions []subdivision `maxminddb:"subdivisions"`
	City         struct {
		Names names `maxminddb:"names"`
	} `maxminddb:"city"`
	Location struct {
		Latitude       float64 `maxminddb:"latitude"`
		Longitude      float64 `maxminddb:"longitude"`
		AccuracyRadius uint16  `maxminddb:"accuracy_radius"` // km
	} `maxminddb:"location"`
	Traits struct {
		anonymousFlags
		asnRecord
	} `maxminddb:"traits"`
}

// flatRecord is an ip-location-db record: country_code, state1, state2,
// city, postcode, latitude, longitude, timezone.
type flatRecord struct {
	CountryCode string  `maxminddb:"country_code"`
	State1      string  `maxminddb:"state1"`
	City        string  `maxminddb:"city"`
	Latitude    float64 `maxminddb:"latitude"`
	Longitude   float64 `maxminddb:"longitude"`
}

// probe records which top-level keys a record has. Decoding into any only
// notes presence; it runs at Open, never per lookup.
type probe struct {
	Country       any `maxminddb:"country"`
	Location      any `maxminddb:"location"`
	Registered    any `maxminddb:"registered_country"`
	Continent     any `maxminddb:"continent"`
	CountryCode   any `maxminddb:"country_code"`
	Latitude      any `maxminddb:"latitude"`
	ASN           any `maxminddb:"autonomous_system_number"`
	IsAnonymous   any `maxminddb:"is_anonymous"`
	IsVPN         any `maxminddb:"is_anonymous_vpn"`
	IsHosting     any `maxminddb:"is_hosting_provider"`
	IsPublic      any `maxminddb:"is_public_proxy"`
	IsTor         any `maxminddb:"is_tor_exit_node"`
	IsResidential any `maxminddb:"is_residential_proxy"`
}

// shape is what probing a database found.
type shape struct {
	kind   kind
	layout layout // for kindLocation
}

// probeRecords is how many records detection looks at before it gives up.
const probeRecords = 64

// detect tells what a database holds, first from its metadata
// (database_type), then from the keys of its first records.
func detect(r *maxminddb.Reader) (shape, error) {
	if s, ok := detectType(r.Metadata.DatabaseType); ok {
		return s, nil
	}
	n := 0
	for res := range r.Networks() {
		var p probe
		if err := res.Decode(&p); err != nil {
			return shape{}, fmt.Errorf("decoding a record of %s: %w", res.Prefix(), err)
		}
		switch {
		case p.Country != nil || p.Location != nil || p.Registered != nil || p.Continent != nil:
			return shape{kind: kindLocation, layout: nested}, nil
		case p.CountryCode != nil || p.Latitude != nil:
			return shape{kind: kindLocation, layout: flat}, nil
		case p.ASN != nil:
			return shape{kind: kindASN}, nil
		case p.IsAnonymous != nil || p.IsVPN != nil || p.IsHosting != nil || p.IsPublic != nil ||
			p.IsTor != nil || p.IsResidential != nil:
			return shape{kind: kindAnonymous}, nil
		}
		if n++; n == probeRecords {
			break
		}
	}
	if n == 0 {
		return shape{}, errors.New("the database has no records")
	}
	return shape{}, fmt.Errorf("unrecognized record layout (database_type %q): "+
		"none of country, location, country_code, latitude, autonomous_system_number, is_anonymous",
		r.Metadata.DatabaseType)
}

// detectType recognizes the database types MaxMind and DB-IP write.
func detectType(t string) (shape, bool) {
	lower := strings.ToLower(t)
	vendor := strings.HasPrefix(lower, "geoip2-") || strings.HasPrefix(lower, "geolite2-") ||
		strings.HasPrefix(lower, "geoip-") || strings.HasPrefix(lower, "dbip-")
	if !vendor {
		return shape{}, false
	}
	switch {
	case strings.Contains(lower, "anonymous"):
		return shape{kind: kindAnonymous}, true
	case strings.Contains(lower, "city"), strings.Contains(lower, "country"),
		strings.Contains(lower, "enterprise"), strings.Contains(lower, "location"):
		// Also DB-IP's "DBIP-Location (compat=City)" and
		// "DBIP-Location-ISP (compat=Enterprise)".
		return shape{kind: kindLocation, layout: nested}, true
	case strings.Contains(lower, "asn"), strings.HasSuffix(lower, "-isp"):
		// GeoLite2-ASN, GeoIP2-ISP, "DBIP-ASN-Lite (compat=GeoLite2-ASN)".
		return shape{kind: kindASN}, true
	}
	return shape{}, false
}

// fillNested maps a nested record onto loc and reports whether it located
// the address (a country or coordinates).
func fillNested(rec *nestedRecord, loc *signals.Location) bool {
	loc.Country = countryCode(rec.Country.ISOCode)
	if len(rec.Subdivisions) > 0 {
		s := &rec.Subdivisions[0]
		loc.Region = s.ISOCode
		if loc.Region == "" {
			loc.Region = s.Names.En
		}
	}
	loc.City = rec.City.Names.En
	var hasCoords bool
	loc.Latitude, loc.Longitude, hasCoords = coordinates(rec.Location.Latitude, rec.Location.Longitude)
	if hasCoords {
		loc.AccuracyKm = float64(rec.Location.AccuracyRadius)
	}
	t := &rec.Traits
	loc.Anonymous = t.anonymous()
	loc.Hosting = t.IsHostingProvider
	if t.Number != 0 {
		loc.ASN, loc.ASOrg = t.Number, t.Organization
	}
	return loc.Country != "" || hasCoords
}

// fillFlat maps an ip-location-db record onto loc and reports whether it
// located the address.
func fillFlat(rec *flatRecord, loc *signals.Location) bool {
	loc.Country = countryCode(rec.CountryCode)
	loc.Region = rec.State1
	loc.City = rec.City
	var hasCoords bool
	loc.Latitude, loc.Longitude, hasCoords = coordinates(rec.Latitude, rec.Longitude)
	return loc.Country != "" || hasCoords
}

// countryCode returns s as an upper-case ISO 3166-1 alpha-2 code, or "" when
// s is not two letters or is a code that data sets use for "unknown".
func countryCode(s string) string {
	if len(s) != 2 || !isLetter(s[0]) || !isLetter(s[1]) {
		return ""
	}
	s = strings.ToUpper(s) // no allocation when already upper case
	switch s {
	case "ZZ", "XX":
		return ""
	}
	return s
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// coordinates sanitizes a latitude and longitude: both are dropped (zero)
// unless both are finite, in range, and not exactly 0,0 — what a record
// without coordinates decodes to.
func coordinates(lat, lon float64) (float64, float64, bool) {
	if math.IsNaN(lat) || math.IsNaN(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180 ||
		lat == 0 && lon == 0 {
		return 0, 0, false // ±Inf fails the range checks
	}
	return shortest(lat), shortest(lon), true
}

// shortest returns a value stored as a 32-bit float (as ip-location-db
// stores coordinates) as the nearest float64 to its shortest decimal form,
// so 37.422f32 reads 37.422 rather than 37.42200088500977. Other values are
// returned as they are.
func shortest(v float64) float64 {
	f := float32(v)
	if float64(f) != v {
		return v
	}
	var buf [32]byte
	s := strconv.AppendFloat(buf[:0], float64(f), 'g', -1, 32)
	if d, err := strconv.ParseFloat(string(s), 64); err == nil {
		return d
	}
	return v
}
