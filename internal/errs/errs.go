// Package errs makes errors that say once, in their own words, what went
// wrong, and still match the sentinel error a caller tests for:
//
//	errs.Errorf(ErrChallengeNotFound, "ato: challenge %q not found", id)
//
// reads `ato: challenge "x" not found`, not "ato: challenge not found:
// "x": …", and errors.Is(err, ErrChallengeNotFound) holds.
package errs

import "fmt"

// Errorf returns an error whose message is format applied to args, as
// fmt.Errorf makes it (a %w verb wraps its argument, whose text is part of
// the message), and which also matches target with errors.Is and
// errors.As, without target's text.
func Errorf(target error, format string, args ...any) error {
	return &matching{err: fmt.Errorf(format, args...), target: target}
}

type matching struct{ err, target error }

func (e *matching) Error() string   { return e.err.Error() }
func (e *matching) Unwrap() []error { return []error{e.target, e.err} }
