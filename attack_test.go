package ato_test

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingStore counts the reads an engine makes, and the candidates it is
// given.
type countingStore struct {
	storage.Store
	loads, keyLookups, candidates, failures atomic.Int64
}

func (s *countingStore) Load(ctx context.Context, r storage.LoadRequest) (storage.State, error) {
	s.loads.Add(1)
	if keys := r.DeviceKeys; keys != nil {
		r.DeviceKeys = func() []string { s.keyLookups.Add(1); return keys() }
	}
	st, err := s.Store.Load(ctx, r)
	s.candidates.Add(int64(len(st.Candidates)))
	return st, err
}

func (s *countingStore) AddFailure(ctx context.Context, f storage.Failure, lim storage.FailureLimits) error {
	s.failures.Add(1)
	return s.Store.AddFailure(ctx, f, lim)
}

// plantBomb logs one ordinary account in from 22 × 64 made-up browsers,
// each sharing one signal segment with bomb, so that every key of bomb
// indexes as many devices as a key may, all tied.
func plantBomb(t testing.TB, e *ato.Engine, bomb string) {
	r := rand.New(rand.NewPCG(9, 9))
	for seg := range 22 {
		for range 64 {
			h := []byte(randomHash(r))
			copy(h[seg*94:min((seg+1)*94, 2048)], bomb[seg*94:min((seg+1)*94, 2048)])
			_, err := e.Evaluate(context.Background(), ato.Request{User: "mallory", Fingerprint: string(h), IP: cafeIP})
			require.NoError(t, err)
		}
	}
}

// A failed password, or a login, with a hash that many planted devices tie
// with costs what any other does: a failure reads no device at all, and a
// login reads the best 16, however many tie.
func TestPlantedTiesCostNothingMore(t *testing.T) {
	t.Parallel()
	s := &countingStore{Store: memstore.New()}
	h := newHarness(t, s)
	bomb := randomHash(rand.New(rand.NewPCG(7, 7)))
	plantBomb(t, h.engine, bomb)
	h.eval(t, ato.Request{User: "alice", Fingerprint: laptop, IP: homeIP})

	s.loads.Store(0)
	for range 10 {
		require.NoError(t, h.engine.RecordFailure(t.Context(), ato.Request{User: "alice", Fingerprint: bomb, IP: cafeIP}))
	}
	assert.Zero(t, s.loads.Load(), "a failure reads no state, so planted devices cannot make it cost more")
	assert.Equal(t, int64(10), s.failures.Load())

	s.candidates.Store(0)
	s.keyLookups.Store(0)
	res := h.eval(t, ato.Request{User: "alice", Fingerprint: bomb, IP: cafeIP})
	assert.Contains(t, res.Reasons, signals.NewDeviceReason)
	assert.Equal(t, int64(1), s.keyLookups.Load(), "the keys are made once, for the candidates")
	assert.LessOrEqual(t, s.candidates.Load(), int64(16), "at most 16 candidates are read, however many tie")
}
