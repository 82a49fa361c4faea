package main

import (
	"net/http/httptest"
	"testing"

	"github.com/atoguard/ato/internal/pgtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTwoInstancesShareOneDatabase runs two demos on one PostgreSQL
// database, as two instances of an app behind a load balancer: a device
// that logged in on one is known on the other, and a brute force spread
// across both is counted as one.
func TestTwoInstancesShareOneDatabase(t *testing.T) {
	db, _ := pgtest.SchemaURL(t) // a schema of its own on the test server
	start := func() string {
		srv, err := newServer(config{Store: db, DevTools: true})
		require.NoError(t, err)
		ts := httptest.NewServer(srv)
		t.Cleanup(func() {
			ts.Close()
			assert.NoError(t, srv.Close())
		})
		return ts.URL
	}
	a, b := start(), start()
	laptop := fakeHash("laptop")

	p := newBrowser(t, a).login("alice", "wonderland", laptop, "", "")
	require.Equal(t, "allow", p.attr("data-verdict"), p.body)
	device := p.attr("data-device")
	require.NotEmpty(t, device)

	// The same browser, sent to the other instance by the load balancer.
	p = newBrowser(t, b).login("alice", "wonderland", laptop, laptop, "")
	assert.Equal(t, "allow", p.attr("data-verdict"), "the other instance knows the device")
	assert.Equal(t, device, p.attr("data-device"), "by the same id")
	assert.NotContains(t, p.body, "new_device")

	// Wrong passwords for bob, alternating between the instances: both
	// count all of them.
	attacker := fakeHash("attacker")
	for i := range 6 {
		base := a
		if i%2 == 1 {
			base = b
		}
		p = newBrowser(t, base).login("bob", "guess", attacker, "", "")
		require.Equal(t, 401, p.status)
	}
	p = newBrowser(t, b).login("bob", "builder", attacker, "", "")
	assert.NotEqual(t, "allow", p.attr("data-verdict"), "the failures on both instances count together: %s", p.body)
}
