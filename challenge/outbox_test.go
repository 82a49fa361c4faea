package challenge_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/atoguard/ato/challenge"
)

func TestOutbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := challenge.NewOutbox()

	_, ok := o.Last("ch_1")
	assert.False(t, ok, "empty")
	assert.Empty(t, o.Messages())

	msgs := []challenge.Message{
		{ChallengeID: "ch_1", Channel: challenge.Email, To: "a@example.com", Code: "111111"},
		{ChallengeID: "ch_2", Channel: challenge.SMS, To: "+15550100", Code: "222222"},
		{ChallengeID: "ch_1", Channel: challenge.Email, To: "a@example.com", Code: "333333"},
	}
	for _, m := range msgs {
		require.NoError(t, o.Send(ctx, m))
	}
	assert.Equal(t, msgs, o.Messages())

	last, ok := o.Last("ch_1")
	require.True(t, ok)
	assert.Equal(t, "333333", last.Code, "the newest message for the challenge")
	last, ok = o.Last("ch_2")
	require.True(t, ok)
	assert.Equal(t, "222222", last.Code)
	_, ok = o.Last("ch_3")
	assert.False(t, ok)

	got := o.Messages()
	got[0].Code = "changed"
	assert.Equal(t, "111111", o.Messages()[0].Code, "Messages returns a copy")

	o.Reset()
	assert.Empty(t, o.Messages())
	_, ok = o.Last("ch_1")
	assert.False(t, ok)
}

func TestOutboxBounded(t *testing.T) {
	t.Parallel()
	o := challenge.NewOutbox()
	const extra = 10
	for i := range challenge.OutboxCapacity + extra {
		require.NoError(t, o.Send(context.Background(), challenge.Message{ChallengeID: strconv.Itoa(i)}))
	}
	msgs := o.Messages()
	require.Len(t, msgs, challenge.OutboxCapacity)
	assert.Equal(t, strconv.Itoa(extra), msgs[0].ChallengeID, "the oldest are dropped")
	assert.Equal(t, strconv.Itoa(challenge.OutboxCapacity+extra-1), msgs[len(msgs)-1].ChallengeID)
	_, ok := o.Last("0")
	assert.False(t, ok)
}

func TestOutboxDoneContext(t *testing.T) {
	t.Parallel()
	o := challenge.NewOutbox()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, o.Send(ctx, challenge.Message{ChallengeID: "ch_1"}), context.Canceled)
	assert.Empty(t, o.Messages())
}

func TestOutboxOnSend(t *testing.T) {
	t.Parallel()
	o := challenge.NewOutbox()
	var seen []string
	o.OnSend = func(m challenge.Message) { seen = append(seen, m.Code) }
	require.NoError(t, o.Send(context.Background(), challenge.Message{Code: "123456"}))
	assert.Equal(t, []string{"123456"}, seen)
}

func TestOutboxConcurrent(t *testing.T) {
	t.Parallel()
	o := challenge.NewOutbox()
	var wg sync.WaitGroup
	const senders, each = 8, 200
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				id := strconv.Itoa(g*each + i)
				o.Send(context.Background(), challenge.Message{ChallengeID: id})
				o.Last(id)
				if i%50 == 0 {
					o.Messages()
				}
			}
		})
	}
	wg.Wait()
	assert.Len(t, o.Messages(), challenge.OutboxCapacity)
}
