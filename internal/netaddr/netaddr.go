// Package netaddr turns a client's address into the form ato compares,
// locates and counts it by.
//
// An IPv6 address that carries an IPv4 address in a well-known way is that
// IPv4 client: behind a translator or a tunnel, every IPv4 client shares the
// translator's IPv6 prefix, so grouping them by their /64 would make all of
// them one "known network". [Canonical] returns the embedded IPv4 address
// for these forms:
//
//   - IPv4-mapped, ::ffff:a.b.c.d (RFC 4291);
//   - IPv4-translated (SIIT), ::ffff:0:a.b.c.d (RFC 2765);
//   - IPv4-compatible, ::a.b.c.d (RFC 4291, deprecated), unless the
//     embedded address starts with 0 (::, ::1 and friends are not IPv4
//     clients);
//   - NAT64 with the well-known prefix, 64:ff9b::a.b.c.d (RFC 6052);
//   - NAT64 with the local-use prefix 64:ff9b:1::/48 (RFC 8215), when the
//     address uses the /96 layout: bits 64 to 95 zero, the IPv4 address in
//     the last 32 bits. The /48, /56 and /64 layouts of RFC 6052 spread the
//     IPv4 address over bits 48 to 103 in ways the address alone cannot
//     tell apart; such an address is compared whole (see [Network]) rather
//     than by a /64 that would hold every IPv4 client, and is not located;
//   - 6to4, 2002:aabb:ccdd::/48 (RFC 3056): the IPv4 address of the site's
//     6to4 router, which is the network the site is;
//   - Teredo, 2001:0::/32 (RFC 4380): the client's public IPv4 address,
//     stored inverted in the last 32 bits.
package netaddr

import (
	"encoding/binary"
	"net/netip"
)

// Kind says how an address embedded an IPv4 address.
type Kind string

// The forms [Canonical] recognises; None for an address that embeds
// nothing (or an IPv4 address).
const (
	None       Kind = ""
	Mapped     Kind = "ipv4-mapped"
	Translated Kind = "ipv4-translated"
	Compatible Kind = "ipv4-compatible"
	NAT64      Kind = "nat64"
	NAT64Local Kind = "nat64-local"
	SixToFour  Kind = "6to4"
	Teredo     Kind = "teredo"
)

var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour  = netip.MustParsePrefix("2002::/16")
	teredo     = netip.MustParsePrefix("2001::/32")
)

// Canonical returns the IPv4 address that ip embeds in one of the
// well-known forms, and the form; otherwise ip itself, without a zone, and
// [None].
func Canonical(ip netip.Addr) (netip.Addr, Kind) {
	ip = ip.WithZone("")
	if !ip.Is6() {
		return ip, None
	}
	b := ip.As16()
	v4 := func(at int) netip.Addr { return netip.AddrFrom4([4]byte(b[at : at+4])) }
	hi := binary.BigEndian.Uint64(b[:8])
	mid := binary.BigEndian.Uint32(b[8:12])
	switch {
	case ip.Is4In6():
		return ip.Unmap(), Mapped
	case hi == 0 && mid == 0xffff0000:
		return v4(12), Translated
	case hi == 0 && mid == 0 && b[12] != 0:
		return v4(12), Compatible
	case nat64.Contains(ip):
		return v4(12), NAT64
	case nat64Local.Contains(ip) && mid == 0 && b[12]|b[13]|b[14]|b[15] != 0:
		// The /96 layout: nothing between the prefix and the last 32 bits.
		return v4(12), NAT64Local
	case sixToFour.Contains(ip):
		return v4(2), SixToFour
	case teredo.Contains(ip):
		var c [4]byte
		for i := range c {
			c[i] = ^b[12+i]
		}
		return netip.AddrFrom4(c), Teredo
	}
	return ip, None
}

// Network is the key addresses are compared and counted by: the address
// itself for IPv4, the /64 for IPv6 (one subscriber usually gets a whole
// /64), and the whole address for an address in the local-use NAT64 prefix
// that [Canonical] could not decode. Call it with a canonical address.
func Network(ip netip.Addr) string {
	switch {
	case !ip.IsValid():
		return ""
	case ip.Is4():
		return ip.String()
	case nat64Local.Contains(ip):
		return netip.PrefixFrom(ip, 128).String()
	}
	return netip.PrefixFrom(ip, 64).Masked().String()
}
