package netaddr

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCanonical(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want, network string
		kind              Kind
	}{
		{"192.0.2.10", "192.0.2.10", "192.0.2.10", None},
		{"::ffff:192.0.2.10", "192.0.2.10", "192.0.2.10", Mapped},
		{"::ffff:0:192.0.2.10", "192.0.2.10", "192.0.2.10", Translated},
		{"::192.0.2.10", "192.0.2.10", "192.0.2.10", Compatible},
		{"64:ff9b::192.0.2.10", "192.0.2.10", "192.0.2.10", NAT64},
		{"64:ff9b::203.0.113.66", "203.0.113.66", "203.0.113.66", NAT64},
		{"64:ff9b:1::192.0.2.10", "192.0.2.10", "192.0.2.10", NAT64Local},
		{"64:ff9b:1:ab::c000:20a", "192.0.2.10", "192.0.2.10", NAT64Local},
		// The /64 layout of the local-use prefix: compared whole, never by
		// a /64 that holds every IPv4 client.
		{"64:ff9b:1:1:c0:2:a00:0", "64:ff9b:1:1:c0:2:a00:0", "64:ff9b:1:1:c0:2:a00:0/128", None},
		{"2002:c000:20a::1", "192.0.2.10", "192.0.2.10", SixToFour},
		{"2002:c000:20a:5::9", "192.0.2.10", "192.0.2.10", SixToFour},
		// Teredo: server 65.54.227.120, client 192.0.2.10 stored inverted.
		{"2001:0:4136:e378:8000:63bf:3fff:fdf5", "192.0.2.10", "192.0.2.10", Teredo},
		{"2001:db8:1:2::1", "2001:db8:1:2::1", "2001:db8:1:2::/64", None},
		{"fe80::1%eth0", "fe80::1", "fe80::/64", None},
		{"::1", "::1", "::/64", None},
		{"::", "::", "::/64", None},
	} {
		ip, kind := Canonical(netip.MustParseAddr(tc.in))
		assert.Equal(t, tc.want, ip.String(), tc.in)
		assert.Equal(t, tc.kind, kind, tc.in)
		assert.Equal(t, tc.network, Network(ip), tc.in)
	}
	assert.Empty(t, Network(netip.Addr{}))
}
