package pages

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

// source reads the numbers below n in pages of ten, after a cursor.
func source(n int, reads *int) func([]int) ([]int, error) {
	after := -1
	return func(page []int) ([]int, error) {
		*reads++
		for v := after + 1; v < n && len(page) < 10; v++ {
			page = append(page, v)
		}
		if len(page) > 0 {
			after = page[len(page)-1]
		}
		return page, nil
	}
}

func TestEach(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 11, 30} {
		got := []int{}
		reads := 0
		err := Each(context.Background(), 10, source(n, &reads), func(v int) error { got = append(got, v); return nil })
		assert.NoError(t, err)
		want := []int{}
		for v := range n {
			want = append(want, v)
		}
		assert.Equal(t, want, got, "n=%d", n)
		assert.Equal(t, n/10+1, reads, "n=%d: a short page ends it, a full one asks for the next", n)
	}

	stop := errors.New("stop")
	reads := 0
	var got []int
	err := Each(context.Background(), 10, source(30, &reads), func(v int) error {
		got = append(got, v)
		if v == 12 {
			return stop
		}
		return nil
	})
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 13, len(got))

	ctx, cancel := context.WithCancel(context.Background())
	reads = 0
	err = Each(ctx, 10, source(30, &reads), func(v int) error {
		if v == 3 {
			cancel()
		}
		return nil
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, reads, "no page is read once ctx is done")

	bad := errors.New("read")
	err = Each(context.Background(), 10, func([]int) ([]int, error) { return nil, bad }, func(int) error { return nil })
	assert.ErrorIs(t, err, bad)
}
