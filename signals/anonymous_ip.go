package signals

import "context"

// AnonymousIPReason: the attempt comes through Tor, a VPN or a proxy.
const AnonymousIPReason Reason = "anonymous_ip"

// AnonymousIPScore is the score of an anonymous_ip finding.
const AnonymousIPScore = 0.4

// AnonymousIPConfig configures [AnonymousIP].
type AnonymousIPConfig struct {
	// List is an operator's list of anonymising addresses (a Tor exit
	// list, say; see [LoadIPSet]), added to the geo data's flags. Nil: the
	// flags only.
	List *IPSet
}

// AnonymousIP reports anonymous_ip when the attempt comes through Tor, a
// VPN or a proxy: the Locator's data flags it, or its address is in list
// (an operator's file such as a Tor exit list; nil for none).
func AnonymousIP(list *IPSet) Signal { return anonymousIP{list} }

type anonymousIP struct{ list *IPSet }

func (anonymousIP) Name() string { return string(AnonymousIPReason) }

func (anonymousIP) Reasons() []ReasonInfo {
	return []ReasonInfo{{AnonymousIPReason, AnonymousIPScore, "Tor, VPN or proxy address"}}
}

func (s anonymousIP) Detect(_ context.Context, in *Input) ([]Finding, error) {
	if entry, ok := s.list.Contains(in.IP); ok {
		ip := in.IP.String()
		return []Finding{{
			Reason:   AnonymousIPReason,
			Score:    AnonymousIPScore,
			Detail:   ip + " is on the anonymous-network list (entry " + entry + ")",
			Evidence: map[string]string{"ip": ip, "source": "list", "entry": entry},
		}}, nil
	}
	if in.Located && in.Location.Anonymous {
		ip := in.IP.String()
		return []Finding{{
			Reason:   AnonymousIPReason,
			Score:    AnonymousIPScore,
			Detail:   ip + " is a Tor, VPN or proxy address per the geo data",
			Evidence: map[string]string{"ip": ip, "source": "geo data"},
		}}, nil
	}
	return nil, nil
}

func (anonymousIP) summary(f *Finding) string { return with("anonymous network", f.Evidence["ip"]) }
