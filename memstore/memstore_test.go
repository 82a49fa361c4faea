package memstore_test

import (
	"testing"
	"time"

	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/storage/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store { return memstore.New() })
}

// TestChallengeSharesTheEventsReasons: a commit's challenge keeps the
// reasons of the commit's event without a copy of its own; what the store
// returns of either is still the caller's alone.
func TestChallengeSharesTheEventsReasons(t *testing.T) {
	t.Parallel()
	s := memstore.New()
	ctx := t.Context()
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ev := storage.Event{ID: "e1", User: "alice", Time: at, Kind: storage.KindEvaluation, Action: "login", Verdict: "challenge",
		Reasons: []string{"new_device", "new_ip"}, ChallengeID: "c1"}
	ch := storage.Challenge{ID: "c1", User: "alice", DeviceID: "d1", Status: storage.ChallengePending, Reasons: ev.Reasons,
		CreatedAt: at, ExpiresAt: at.Add(time.Hour), UpdatedAt: at, Attempt: ev}
	require.NoError(t, s.Commit(ctx, storage.Commit{User: "alice", Event: &ev, Challenge: &ch,
		History: storage.HistoryLimits{Max: 50, Since: at.Add(-time.Hour)}}))
	ev.Reasons[0] = "changed by the caller"

	got, err := s.Challenge(ctx, "c1")
	require.NoError(t, err)
	assert.Equal(t, []string{"new_device", "new_ip"}, got.Reasons)
	assert.Equal(t, []string{"new_device", "new_ip"}, got.Attempt.Reasons)
	got.Reasons[0], got.Attempt.Reasons[1] = "mutated", "mutated"
	assert.Equal(t, "new_device", got.Attempt.Reasons[0], "a returned challenge's reasons and its attempt's are two slices")

	again, err := s.Challenge(ctx, "c1")
	require.NoError(t, err)
	assert.Equal(t, []string{"new_device", "new_ip"}, again.Reasons)
	assert.Equal(t, []string{"new_device", "new_ip"}, again.Attempt.Reasons)
	evs, err := s.Events(ctx, "alice", time.Time{}, 10)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, []string{"new_device", "new_ip"}, evs[0].Reasons)
}
