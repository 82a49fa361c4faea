package ato_test

import (
	"testing"
	"time"

	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/storage"
	"github.com/stretchr/testify/require"
)

// Helpers that read a store through its contract, for tests that check
// what the engine wrote.

// profileOf returns the user's profile.
func profileOf(t *testing.T, s storage.Store, user string) profile.Profile {
	t.Helper()
	st, err := s.Load(t.Context(), storage.LoadRequest{User: user})
	require.NoError(t, err)
	return st.Profile
}

// hashesOf returns the hashes the user saw from each of their devices.
func hashesOf(t *testing.T, s storage.Store, user string) map[string][]string {
	t.Helper()
	st, err := s.Load(t.Context(), storage.LoadRequest{User: user, FingerprintKey: "x:none"})
	require.NoError(t, err)
	return st.Hashes
}

// deviceOf returns the global record of the device the fingerprint names,
// as candidates find it.
func deviceOf(t *testing.T, s storage.Store, fp string) storage.Device {
	t.Helper()
	st, err := s.Load(t.Context(), storage.LoadRequest{User: "\x00nobody", FingerprintKey: fingerprint.Key(fp),
		DeviceKeys: storage.Keys(fingerprint.LookupKeys(fp, "")...), MaxCandidates: 16})
	require.NoError(t, err)
	for _, d := range st.Candidates {
		for _, h := range d.Hashes {
			if h == fp {
				return d
			}
		}
	}
	t.Fatalf("no device has the fingerprint %.16s…", fp)
	return storage.Device{}
}

// failuresOf counts the user's failures and the users failing from the
// network since the time.
func failuresOf(t *testing.T, s storage.Store, user, network string, since time.Time) storage.FailureCounts {
	t.Helper()
	st, err := s.Load(t.Context(), storage.LoadRequest{User: user, Failures: &storage.FailureQuery{
		UserSince: since, MaxUser: 1000, Network: network, NetworkSince: since, MaxNetworkUsers: 1000,
	}})
	require.NoError(t, err)
	return st.Failures
}

// eventsOf returns the user's history, newest first.
func eventsOf(t *testing.T, s storage.Store, user string) []storage.Event {
	t.Helper()
	evs, err := s.Events(t.Context(), user, time.Time{}, 1000)
	require.NoError(t, err)
	return evs
}
