package ato_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/verdict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Errors say once what went wrong, in the engine's words, and match the
// sentinel a caller acts on.
func TestErrorsSayItOnce(t *testing.T) {
	t.Parallel()
	eachFlow(t, func(t *testing.T, f *flow) {
		ctx := t.Context()
		_, err := f.engine.Challenge(ctx, "nope")
		require.ErrorIs(t, err, ato.ErrChallengeNotFound)
		assert.ErrorIs(t, err, storage.ErrNotFound)
		assert.EqualError(t, err, `ato: challenge "nope" not found`)
		err = f.engine.CompleteChallenge(ctx, "nope")
		assert.EqualError(t, err, `ato: challenge "nope" not found`)

		id := f.challenged(t)
		err = f.engine.CompleteChallenge(ctx, id)
		require.ErrorIs(t, err, ato.ErrChallengeNotVerified)
		assert.EqualError(t, err, `ato: challenge "`+id+`" is pending, not verified`)
		f.send(t, id)
		err = f.engine.SendChallengeCode(ctx, id, challenge.Email)
		require.ErrorIs(t, err, ato.ErrRateLimited)
		assert.EqualError(t, err, `ato: challenge "`+id+`": wait 30s before sending another code`)

		f.clock.Advance(2 * time.Hour)
		_, err = f.engine.VerifyChallengeCode(ctx, id, "123456")
		require.ErrorIs(t, err, ato.ErrChallengeExpired)
		assert.EqualError(t, err, `ato: challenge "`+id+`" expired`)

		for _, err := range []error{
			f.engine.CompleteChallenge(ctx, id),
			f.engine.SendChallengeCode(ctx, id, challenge.SMS),
		} {
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), `ato: challenge "`+id+`"`), err.Error())
			assert.NotContains(t, err.Error(), "storage:", "the store's words stay inside")
		}
	})
}

func TestForgettingAnUnknownDeviceIsErrDeviceNotFound(t *testing.T) {
	t.Parallel()
	e, err := ato.New(memstore.New())
	require.NoError(t, err)
	err = e.ForgetDevice(t.Context(), "alice", "dev1")
	require.ErrorIs(t, err, ato.ErrDeviceNotFound)
	assert.ErrorIs(t, err, storage.ErrNotFound)
	assert.EqualError(t, err, `ato: device "dev1" is not one of user "alice"'s`)
	assert.False(t, errors.Is(err, ato.ErrChallengeNotFound))
}

func TestTheEnginesRuleNamesAreReservedInPolicies(t *testing.T) {
	t.Parallel()
	assert.Equal(t, verdict.EngineRules, []string{ato.RuleRestricted, ato.RuleStepUp, ato.RuleChallengeLimit})
	for _, name := range verdict.EngineRules {
		err := verdict.Rules{{Name: name, When: verdict.Reason("new_ip"), Verdict: verdict.Deny}}.Validate(nil)
		assert.ErrorContains(t, err, "reserved", name)
	}
}
