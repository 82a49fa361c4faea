// Package fingerprint identifies devices from the hashes a browser sends:
// the current fingerprint and the one it sent last time.
//
// # Matching
//
// A request is matched against devices in this order:
//
//  1. exact: a device has the fingerprint among its recent hashes;
//  2. last fingerprint: a device has the browser's previous fingerprint
//     among its recent hashes — the browser changed and says what it was;
//  3. otherwise the device is new.
//
// The user's own known devices are tried before devices known only to other
// users, so one browser keeps one id across every account it logs in to.
//
// # Index
//
// Devices are found in the store by lookup keys derived from their hashes
// ([Keys]); the store indexes the keys, so finding a device does not scan
// every device stored.
package fingerprint

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"

	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
)

// MaxHashes is how many recent hashes a device keeps, newest first.
const MaxHashes = 4

// LastConfidence is the confidence of a match made through the browser's
// previous fingerprint: the browser vouches for its own change, which is
// strong but not proof.
const LastConfidence = 0.9

// Key returns the exact-lookup key of a hash: a prefix of its SHA-256, so
// index entries stay small whatever the hash's length.
func Key(hash string) string {
	sum := sha256.Sum256([]byte(hash))
	return "x:" + hex.EncodeToString(sum[:16])
}

// Keys returns the lookup keys of the hashes, without repeats; empty hashes
// have none.
func Keys(hashes ...string) []string {
	keys := make([]string, 0, len(hashes))
	for _, h := range hashes {
		if h == "" {
			continue
		}
		if k := Key(h); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// Identity is the outcome of [Identify].
type Identity struct {
	// Device is the matched device; its ID is empty when the device is new.
	Device storage.Device
	Match  signals.Match
	// Confidence in [0,1]: 1 for an exact match, [LastConfidence] for a
	// last-fingerprint match.
	Confidence float64
	// Known reports that the device is one of the user's; Link is then the
	// user's link to it.
	Known bool
	Link  storage.Link
}

// Identify matches the hashes against the user's known devices and then
// against candidates, devices found by the hashes' keys whoever they
// belong to.
func Identify(fingerprint, last string, known []storage.UserDevice, candidates []storage.Device) Identity {
	if fingerprint == "" {
		return Identity{Match: signals.MatchNone}
	}
	for _, try := range []struct {
		hash  string
		match signals.Match
		conf  float64
	}{
		{fingerprint, signals.MatchExact, 1},
		{last, signals.MatchLast, LastConfidence},
	} {
		if try.hash == "" {
			continue
		}
		for _, ud := range known {
			if slices.Contains(ud.Device.Hashes, try.hash) {
				return Identity{Device: ud.Device, Match: try.match, Confidence: try.conf, Known: true, Link: ud.Link}
			}
		}
		for _, d := range candidates {
			if slices.Contains(d.Hashes, try.hash) {
				return Identity{Device: d, Match: try.match, Confidence: try.conf}
			}
		}
	}
	return Identity{Match: signals.MatchNew, Confidence: 1}
}

// Observe returns the device as it is after being seen with fingerprint at
// the time: the fingerprint moves to the front of its hashes (at most
// [MaxHashes] kept), the keys follow the hashes, and the times widen.
func Observe(d storage.Device, fingerprint string, at time.Time) storage.Device {
	if len(d.Hashes) == 0 || d.Hashes[0] != fingerprint {
		d.Hashes, d.Keys = push(d.Hashes, fingerprint)
	}
	if d.FirstSeen.IsZero() || at.Before(d.FirstSeen) {
		d.FirstSeen = at
	}
	if at.After(d.LastSeen) {
		d.LastSeen = at
	}
	return d
}

// push puts fingerprint first among the hashes, keeping at most MaxHashes,
// and returns them with their keys.
func push(old []string, fingerprint string) ([]string, []string) {
	hashes := make([]string, 0, MaxHashes)
	hashes = append(hashes, fingerprint)
	for _, h := range old {
		if h != fingerprint && len(hashes) < MaxHashes {
			hashes = append(hashes, h)
		}
	}
	return hashes, Keys(hashes...)
}
