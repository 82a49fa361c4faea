package signals

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
)

// IPSet is a set of addresses and networks, such as a Tor exit list. The
// zero value is empty; an IPSet is safe for concurrent reads.
type IPSet struct {
	addrs    map[netip.Addr]struct{}
	prefixes []netip.Prefix
}

// Add adds an address ("192.0.2.1") or a network in CIDR form
// ("2001:db8::/32"). IPv4-mapped IPv6 addresses are unmapped.
func (s *IPSet) Add(entry string) error {
	if strings.Contains(entry, "/") {
		p, err := netip.ParsePrefix(entry)
		if err != nil {
			return fmt.Errorf("signals: %q is not an address or a network", entry)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		s.prefixes = append(s.prefixes, p.Masked())
		return nil
	}
	a, err := netip.ParseAddr(entry)
	if err != nil {
		return fmt.Errorf("signals: %q is not an address or a network", entry)
	}
	if s.addrs == nil {
		s.addrs = map[netip.Addr]struct{}{}
	}
	s.addrs[a.Unmap().WithZone("")] = struct{}{}
	return nil
}

// Contains reports whether ip is in the set, and the entry it matched.
func (s *IPSet) Contains(ip netip.Addr) (string, bool) {
	if s == nil || !ip.IsValid() {
		return "", false
	}
	ip = ip.Unmap().WithZone("")
	if _, ok := s.addrs[ip]; ok {
		return ip.String(), true
	}
	for _, p := range s.prefixes {
		if p.Contains(ip) {
			return p.String(), true
		}
	}
	return "", false
}

// Len is the number of entries.
func (s *IPSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.addrs) + len(s.prefixes)
}

// ReadIPSet reads one address or network per line; blank lines and text
// after '#' are ignored. Errors name the line.
func ReadIPSet(r io.Reader) (*IPSet, error) {
	s := &IPSet{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		if err := s.Add(line); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("signals: read IP list: %w", err)
	}
	return s, nil
}

// LoadIPSet reads an IP list file (see [ReadIPSet]).
func LoadIPSet(path string) (*IPSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("signals: %w", err)
	}
	defer f.Close()
	s, err := ReadIPSet(f)
	if err != nil {
		return nil, fmt.Errorf("signals: %s: %w", path, err)
	}
	return s, nil
}
