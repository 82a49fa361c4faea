package errs_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/atoguard/ato/internal/errs"
	"github.com/stretchr/testify/assert"
)

var (
	errKind  = errors.New("kind")
	errCause = errors.New("cause")
)

type typed struct{ n int }

func (t *typed) Error() string { return fmt.Sprint("typed ", t.n) }

func TestErrorfSaysItOnceAndMatches(t *testing.T) {
	t.Parallel()
	err := errs.Errorf(errKind, "thing %q is gone", "x")
	assert.EqualError(t, err, `thing "x" is gone`)
	assert.ErrorIs(t, err, errKind)
	assert.NotErrorIs(t, err, errCause)

	wrapped := errs.Errorf(errKind, "thing: %w", errCause)
	assert.EqualError(t, wrapped, "thing: cause")
	assert.ErrorIs(t, wrapped, errKind)
	assert.ErrorIs(t, wrapped, errCause)

	var tp *typed
	assert.ErrorAs(t, errs.Errorf(errKind, "with %w", &typed{7}), &tp)
	assert.Equal(t, 7, tp.n)

	sentinel := errs.Errorf(errCause, "a sentinel that matches another")
	assert.ErrorIs(t, errs.Errorf(sentinel, "x"), errCause, "matching goes through a sentinel made by Errorf")
}
