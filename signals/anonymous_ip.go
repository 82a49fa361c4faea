package signals

import "context"

// AnonymousIPScore is the score of an anonymous_ip finding.
const AnonymousIPScore = 0.4

// AnonymousIP reports anonymous_ip when the attempt comes through Tor, a
// VPN or a proxy: the Locator's data flags it, or its address is in list
// (an operator's file such as a Tor exit list; nil for none).
func AnonymousIP(list *IPSet) Signal { return anonymousIP{list} }

type anonymousIP struct{ list *IPSet }

func (anonymousIP) Name() string { return string(AnonymousIPReason) }

func (s anonymousIP) Detect(_ context.Context, in *Input) ([]Finding, error) {
	ip := in.IP.String()
	if entry, ok := s.list.Contains(in.IP); ok {
		return []Finding{{
			Reason:   AnonymousIPReason,
			Score:    AnonymousIPScore,
			Detail:   ip + " is on the anonymous-network list (entry " + entry + ")",
			Evidence: map[string]string{"ip": ip, "source": "list", "entry": entry},
		}}, nil
	}
	if in.Located && in.Location.Anonymous {
		return []Finding{{
			Reason:   AnonymousIPReason,
			Score:    AnonymousIPScore,
			Detail:   ip + " is a Tor, VPN or proxy address per the geo data",
			Evidence: map[string]string{"ip": ip, "source": "geo data"},
		}}, nil
	}
	return nil, nil
}
