package fingerprint_test

import (
	"slices"

	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/storage"
)

// dev is a known device of the user: its id and the hashes the user saw.
type dev struct {
	id      string
	hashes  []string
	trusted bool
}

// identify runs fingerprint.Identify as the engine does: the known devices
// become the user's profile (keys) and loaded hashes, candidates get their
// index keys.
func identify(fp, last string, known []dev, cands []storage.Device, threshold float64) fingerprint.Identity {
	p := &profile.Profile{User: "alice"}
	hashes := map[string][]string{}
	for _, d := range known {
		p.Devices = append(p.Devices, profile.Device{ID: d.id, Keys: fingerprint.Keys(d.hashes), Trusted: d.trusted})
		hashes[d.id] = d.hashes
	}
	cands = slices.Clone(cands)
	for i := range cands {
		if cands[i].Keys == nil {
			cands[i].Keys = fingerprint.DeviceKeys(cands[i].Hashes)
		}
	}
	a := fingerprint.Attempt{Fingerprint: fp, Last: last}
	if fp != "" {
		a.FingerprintKey = fingerprint.Key(fp)
	}
	if last != "" {
		a.LastKey = fingerprint.Key(last)
	}
	return fingerprint.Identify(a, p, hashes, cands, threshold)
}
