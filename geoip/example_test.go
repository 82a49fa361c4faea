package geoip_test

import (
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/atoguard/ato/geoip"
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
