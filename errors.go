package ato

import (
	"errors"
	"strconv"
)

// ErrInvalidRequest is matched (errors.Is) by every error about a bad
// [Request]; the error's message names the field, and errors.As with a
// *[RequestError] gives it to code.
var ErrInvalidRequest = errors.New("ato: invalid request")

// RequestError says which field of a [Request] is wrong and why.
type RequestError struct {
	// Field is the field's name as the hosted API spells it: "user", "ip",
	// "fingerprint", "last_fingerprint", "metadata", …
	Field   string
	Problem string
}

func (e *RequestError) Error() string {
	return ErrInvalidRequest.Error() + ": " + e.Field + ": " + e.Problem
}

// Unwrap makes errors.Is(err, ErrInvalidRequest) hold.
func (e *RequestError) Unwrap() error { return ErrInvalidRequest }

func invalid(field, problem string) error { return &RequestError{Field: field, Problem: problem} }

// excerpt quotes at most the first 64 bytes of s, for error messages.
func excerpt(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:64]) + "…"
	}
	return strconv.Quote(s)
}
