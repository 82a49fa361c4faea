// Command simulate runs ato's simulation (internal/sim) and prints its
// report as Markdown, for the README:
//
//	(cd geoip/testdata && npm ci)
//	go run ./internal/sim/cmd/simulate [-users 10000] [-weeks 12] [-seed 1] [-attacks 2000] [-stuffing 25000]
//
// IP geolocation by DB-IP (https://db-ip.com), CC BY 4.0; ASN data by
// RouteViews and DB-IP through ip-location-db, CC BY 4.0.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/atoguard/ato/internal/sim"
)

func main() {
	cfg := sim.FullSize
	flag.IntVar(&cfg.Users, "users", cfg.Users, "population size")
	flag.IntVar(&cfg.Weeks, "weeks", cfg.Weeks, "simulated weeks")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed: one seed, one report")
	flag.IntVar(&cfg.Attacks, "attacks", cfg.Attacks, "attempts of each account-takeover attack")
	flag.IntVar(&cfg.Stuffing, "stuffing", cfg.Stuffing, "tries of each credential-stuffing shape")
	ci := flag.Bool("ci", false, "the small configuration the package's test runs")
	flag.Parse()
	if *ci {
		cfg = sim.CISize
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := sim.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "simulate:", err)
		os.Exit(1)
	}
	fmt.Print(rep.Markdown())
}
