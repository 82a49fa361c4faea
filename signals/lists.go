package signals

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// List is an operator's list of attempts to let through or to refuse:
// addresses and networks, ASNs, countries, users and device ids.
type List struct {
	IPs       IPSet
	ASNs      map[uint32]bool
	Countries map[string]bool // ISO 3166-1 alpha-2, upper case
	Users     map[string]bool
	Devices   map[string]bool
}

// ReadList reads a list, one entry a line as "kind value": "ip 192.0.2.1",
// "ip 2001:db8::/32", "asn 64500", "country NL", "user alice", "device
// <id>". Blank lines and text after '#' are ignored. Errors name the line.
func ReadList(r io.Reader) (*List, error) {
	l := &List{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("signals: list line %d: want \"kind value\", got %q", n, strings.TrimSpace(line))
		}
		if err := l.add(f[0], f[1]); err != nil {
			return nil, fmt.Errorf("signals: list line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("signals: read list: %w", err)
	}
	return l, nil
}

// LoadList reads a list file (see [ReadList]).
func LoadList(path string) (*List, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("signals: %w", err)
	}
	defer f.Close()
	l, err := ReadList(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

func (l *List) add(kind, value string) error {
	if value == "" {
		return fmt.Errorf("%q has no value", kind)
	}
	set := func(m *map[string]bool, v string) {
		if *m == nil {
			*m = map[string]bool{}
		}
		(*m)[v] = true
	}
	switch kind {
	case "ip":
		return l.IPs.Add(value)
	case "asn":
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(value), "AS"), 10, 32)
		if err != nil || n == 0 {
			return fmt.Errorf("asn %q is not a positive number", value)
		}
		if l.ASNs == nil {
			l.ASNs = map[uint32]bool{}
		}
		l.ASNs[uint32(n)] = true
	case "country":
		if len(value) != 2 || !isLetter(value[0]) || !isLetter(value[1]) {
			return fmt.Errorf("country %q is not a two-letter code", value)
		}
		set(&l.Countries, strings.ToUpper(value))
	case "user":
		set(&l.Users, value)
	case "device":
		set(&l.Devices, value)
	default:
		return fmt.Errorf("unknown kind %q (ip, asn, country, user, device)", kind)
	}
	return nil
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// match returns what on the list the attempt matches: "ip 192.0.2.0/24".
func (l *List) match(in *Input) (string, bool) {
	if l == nil {
		return "", false
	}
	if e, ok := l.IPs.Contains(in.IP); ok {
		return "ip " + e, true
	}
	if in.Located && in.Location.ASN != 0 && l.ASNs[in.Location.ASN] {
		return "asn " + strconv.FormatUint(uint64(in.Location.ASN), 10), true
	}
	if in.Located && in.Location.Country != "" && l.Countries[in.Location.Country] {
		return "country " + in.Location.Country, true
	}
	if l.Users[in.User] {
		return "user " + in.User, true
	}
	if in.Device.ID != "" && l.Devices[in.Device.ID] {
		return "device " + in.Device.ID, true
	}
	return "", false
}

// Reasons of [Lists]: the attempt matches an entry of the operator's deny
// list, or of the allow list.
const (
	DenyListedReason  Reason = "deny_listed"
	AllowListedReason Reason = "allow_listed"
)

// ListsScore is the score of a deny_listed finding; allow_listed scores 0.
const ListsScore = 1.0

// ListsConfig configures [Lists]: the operator's lists of attempts to let
// through (reason allow_listed) and to refuse (deny_listed). Nil: none;
// without either list the detector does not run.
type ListsConfig struct {
	Allow, Deny *List
}

// Lists reports allow_listed when the attempt matches an entry of allow
// and deny_listed when it matches one of deny (either may be nil). The
// default policy lets allow_listed win over every other rule, deny-listing
// included: allow-list only what you control, and remember that a device
// id comes from a fingerprint the client sends.
func Lists(allow, deny *List) Signal { return lists{allow, deny} }

type lists struct{ allow, deny *List }

func (lists) Name() string { return "operator_lists" }

func (lists) Reasons() []ReasonInfo {
	return []ReasonInfo{
		{DenyListedReason, ListsScore, "on the operator's deny list"},
		{AllowListedReason, 0, "on the operator's allow list"},
	}
}

func (s lists) Detect(_ context.Context, in *Input) ([]Finding, error) {
	var fs []Finding
	if e, ok := s.allow.match(in); ok {
		fs = append(fs, Finding{Reason: AllowListedReason, Score: 0,
			Detail: "on the allow list: " + e, Evidence: map[string]string{"entry": e}})
	}
	if e, ok := s.deny.match(in); ok {
		fs = append(fs, Finding{Reason: DenyListedReason, Score: ListsScore,
			Detail: "on the deny list: " + e, Evidence: map[string]string{"entry": e}})
	}
	return fs, nil
}

func (lists) summary(f *Finding) string {
	s := "deny-listed"
	if f.Reason == AllowListedReason {
		s = "allow-listed"
	}
	if e := f.Evidence["entry"]; e != "" {
		s += " (" + e + ")"
	}
	return s
}
