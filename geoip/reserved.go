package geoip

import (
	"encoding/binary"
	"net/netip"
)

// block4 is an IPv4 network as a masked 32-bit prefix.
type block4 struct{ net, mask uint32 }

func v4block(a, b, c, d byte, bits int) block4 {
	mask := ^uint32(0) << (32 - bits)
	return block4{net: binary.BigEndian.Uint32([]byte{a, b, c, d}) & mask, mask: mask}
}

// reserved4 lists the IPv4 networks that are never located: RFC 6890
// special-purpose blocks that are not globally reachable, documentation
// networks, multicast and the old class E space.
var reserved4 = [...]block4{
	v4block(0, 0, 0, 0, 8),       // "this network"
	v4block(10, 0, 0, 0, 8),      // private
	v4block(100, 64, 0, 0, 10),   // shared address space (carrier-grade NAT)
	v4block(127, 0, 0, 0, 8),     // loopback
	v4block(169, 254, 0, 0, 16),  // link-local
	v4block(172, 16, 0, 0, 12),   // private
	v4block(192, 0, 0, 0, 24),    // IETF protocol assignments
	v4block(192, 0, 2, 0, 24),    // documentation (TEST-NET-1)
	v4block(192, 88, 99, 0, 24),  // deprecated 6to4 relay anycast
	v4block(192, 168, 0, 0, 16),  // private
	v4block(198, 18, 0, 0, 15),   // benchmarking
	v4block(198, 51, 100, 0, 24), // documentation (TEST-NET-2)
	v4block(203, 0, 113, 0, 24),  // documentation (TEST-NET-3)
	v4block(224, 0, 0, 0, 4),     // multicast
	v4block(240, 0, 0, 0, 4),     // reserved, including broadcast
}

// block6 is an IPv6 network of at most 64 bits as a masked prefix of the
// address's upper half.
type block6 struct{ net, mask uint64 }

func v6block(prefix string) block6 {
	p := netip.MustParsePrefix(prefix)
	a := p.Addr().As16()
	mask := ^uint64(0) << (64 - p.Bits())
	return block6{net: binary.BigEndian.Uint64(a[:8]) & mask, mask: mask}
}

// reserved6 lists the networks inside the global unicast space 2000::/3
// that are never located. Everything outside 2000::/3 (loopback,
// unspecified, IPv4-compatible, discard-only 100::/64, unique-local
// fc00::/7, link-local fe80::/10, multicast ff00::/8, …) is never located
// either; see [isReserved].
var reserved6 = [...]block6{
	v6block("2001:2::/48"),   // benchmarking
	v6block("2001:10::/28"),  // deprecated ORCHID
	v6block("2001:db8::/32"), // documentation
	v6block("3fff::/20"),     // documentation (RFC 9637)
}

// isReserved reports whether ip, already unmapped and without a zone, is a
// special-purpose address that no geolocation data can place.
func isReserved(ip netip.Addr) bool {
	if ip.Is4() {
		a := ip.As4()
		v := binary.BigEndian.Uint32(a[:])
		for _, b := range reserved4 {
			if v&b.mask == b.net {
				return true
			}
		}
		return false
	}
	a := ip.As16()
	if a[0]&0xe0 != 0x20 { // outside 2000::/3, the global unicast space
		return true
	}
	hi := binary.BigEndian.Uint64(a[:8])
	for _, b := range reserved6 {
		if hi&b.mask == b.net {
			return true
		}
	}
	return false
}
