package signals

import (
	"context"
	"errors"
	"strconv"
)

// HostingIPReason: the attempt comes from a cloud or hosting network.
const HostingIPReason Reason = "hosting_ip"

// HostingIPScore is the score of a hosting_ip finding.
const HostingIPScore = 0.3

// HostingASNs are the networks of major cloud and hosting providers, where
// people do not browse from but scripts run.
var HostingASNs = map[uint32]string{
	16509:  "Amazon AWS",
	14618:  "Amazon AWS",
	8987:   "Amazon AWS",
	396982: "Google Cloud",
	8075:   "Microsoft Azure",
	14061:  "DigitalOcean",
	16276:  "OVHcloud",
	24940:  "Hetzner",
	213230: "Hetzner Cloud",
	63949:  "Akamai Linode",
	20473:  "Vultr (Choopa)",
	45102:  "Alibaba Cloud",
	37963:  "Alibaba Cloud",
	31898:  "Oracle Cloud",
	132203: "Tencent Cloud",
	45090:  "Tencent Cloud",
	12876:  "Scaleway",
	51167:  "Contabo",
	60781:  "Leaseweb",
	16265:  "Leaseweb",
	36351:  "IBM Cloud (SoftLayer)",
	9009:   "M247",
	60068:  "Datacamp (CDN77)",
	212238: "Datacamp",
	47583:  "Hostinger",
	62567:  "DigitalOcean",
	19531:  "Nodes Direct",
	40021:  "Contabo US",
	53667:  "FranTech (BuyVM)",
	46606:  "Unified Layer",
	26347:  "DreamHost",
	398101: "GoDaddy",
	135377: "UCloud",
}

// HostingIPConfig configures [HostingIP].
type HostingIPConfig struct {
	// ASNs are more networks, by ASN and name, to take for hosting
	// networks besides [HostingASNs]. Nil: none.
	ASNs map[uint32]string
}

func (c HostingIPConfig) validate() error {
	if _, zero := c.ASNs[0]; zero {
		return errors.New("signals: HostingIP: ASN 0 names no network")
	}
	return nil
}

// HostingIP reports hosting_ip when the attempt comes from a cloud or
// hosting network: its ASN is in [HostingASNs] or extra, or the Locator's
// data flags it.
func HostingIP(extra map[uint32]string) Signal { return hostingIP{extra} }

type hostingIP struct{ extra map[uint32]string }

func (hostingIP) Name() string { return string(HostingIPReason) }

func (hostingIP) Reasons() []ReasonInfo {
	return []ReasonInfo{{HostingIPReason, HostingIPScore, "hosting or cloud network"}}
}

func (s hostingIP) Detect(_ context.Context, in *Input) ([]Finding, error) {
	if !in.Located {
		return nil, nil
	}
	asn := in.Location.ASN
	name, listed := s.extra[asn]
	if !listed {
		name, listed = HostingASNs[asn]
	}
	if asn == 0 {
		listed = false
	}
	if !listed && !in.Location.Hosting {
		return nil, nil
	}
	if name == "" {
		name = in.Location.ASOrg
	}
	ev := map[string]string{"ip": in.IP.String(), "asn": strconv.FormatUint(uint64(asn), 10), "as_org": name}
	detail := in.IP.String() + " is in AS" + ev["asn"]
	if name != "" {
		detail += " (" + name + ")"
	}
	if listed {
		ev["source"] = "hosting ASN list"
		detail += ", a hosting network"
	} else {
		ev["source"] = "geo data"
		detail += ", a hosting network per the geo data"
	}
	return []Finding{{Reason: HostingIPReason, Score: HostingIPScore, Detail: detail, Evidence: ev}}, nil
}

func (hostingIP) summary(f *Finding) string {
	s := "hosting network"
	if a := f.Evidence["asn"]; a != "" {
		s += " AS" + a
	}
	if o := f.Evidence["as_org"]; o != "" {
		s += " (" + o + ")"
	}
	return s
}
