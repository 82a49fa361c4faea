package atod

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
)

// Error codes: the stable, machine-readable part of every error body. A
// client branches on Code; Message is for people and may change.
const (
	CodeInvalidRequest       = "invalid_request"        // 400: a field is wrong; Field names it
	CodeMalformedBody        = "malformed_body"         // 400: the body is not JSON or form data
	CodeNoDestination        = "no_destination"         // 400: the challenge has no address for the channel
	CodeUnauthorized         = "unauthorized"           // 401: no API secret, or not one of atod's
	CodeNotFound             = "not_found"              // 404: no such endpoint
	CodeChallengeNotFound    = "challenge_not_found"    // 404
	CodeDeviceNotFound       = "device_not_found"       // 404: not one of the user's devices
	CodeMethodNotAllowed     = "method_not_allowed"     // 405
	CodeChallengeExpired     = "challenge_expired"      // 409: the challenge or its code is past its time
	CodeChallengeFailed      = "challenge_failed"       // 409: attempts ran out, or a newer challenge replaced it
	CodeChallengeCompleted   = "challenge_completed"    // 409: completed already
	CodeChallengeNotVerified = "challenge_not_verified" // 409: complete before verify, or verify before send
	CodeChallengeVerified    = "challenge_verified"     // 409: verified already: complete it
	CodeDeviceRestricted     = "device_restricted"      // 409: a restricted device cannot be forgotten
	CodeBodyTooLarge         = "body_too_large"         // 413
	CodeUnsupportedMediaType = "unsupported_media_type" // 415
	CodeRateLimited          = "rate_limited"           // 429
	CodeInternal             = "internal_error"         // 500
	CodeSendFailed           = "send_failed"            // 502: the SMTP server or webhook refused the code
	CodeNoSender             = "no_sender"              // 503: atod has no sender for the channel
	CodeUnavailable          = "unavailable"            // 503: the store failed or is not ready
	CodeTimeout              = "timeout"                // 504: the request ran out of time
)

// apiError is an error as a client receives it.
type apiError struct {
	Status  int
	Code    string
	Message string
	Field   string
	cause   error // logged, never sent
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// errorBody is the JSON of every error: success false, so that a client
// that reads only success (as the hosted API's verify and complete
// answer) sees a failure, and the error itself.
type errorBody struct {
	Success   bool        `json:"success"`
	Error     errorDetail `json:"error"`
	RequestID string      `json:"request_id,omitempty"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func badRequest(field, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Field: field, Message: msg}
}

// classify turns an error of the engine, a sender or the request's context
// into the error the client gets. Errors it does not know are internal:
// their text is logged, not sent, since a store's error may name its
// tables or its host.
func classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	e := &apiError{cause: err}
	var re *ato.RequestError
	switch {
	case errors.As(err, &re):
		e.Status, e.Code, e.Field, e.Message = http.StatusBadRequest, CodeInvalidRequest, re.Field, re.Field+": "+re.Problem
		if re.Field == "challenge_id" {
			e.Status, e.Code, e.Field, e.Message = http.StatusNotFound, CodeChallengeNotFound, "", "no challenge has this id"
		}
	case errors.Is(err, ato.ErrInvalidRequest):
		e.Status, e.Code, e.Message = http.StatusBadRequest, CodeInvalidRequest, trimPrefix(err)
	case errors.Is(err, ato.ErrChallengeNotFound):
		e.Status, e.Code, e.Message = http.StatusNotFound, CodeChallengeNotFound, "no challenge has this id"
	case errors.Is(err, ato.ErrDeviceNotFound):
		e.Status, e.Code, e.Field, e.Message = http.StatusNotFound, CodeDeviceNotFound, "device_id", "the device is not one of the user's"
	case errors.Is(err, ato.ErrChallengeExpired):
		e.Status, e.Code, e.Message = http.StatusConflict, CodeChallengeExpired, trimPrefix(err)
	case errors.Is(err, ato.ErrChallengeFailed):
		e.Status, e.Code, e.Message = http.StatusConflict, CodeChallengeFailed, trimPrefix(err)
	case errors.Is(err, ato.ErrChallengeCompleted):
		e.Status, e.Code, e.Message = http.StatusConflict, CodeChallengeCompleted, trimPrefix(err)
	case errors.Is(err, ato.ErrChallengeNotVerified):
		e.Status, e.Code, e.Message = http.StatusConflict, CodeChallengeNotVerified, trimPrefix(err)
	case errors.Is(err, ato.ErrChallengeVerified):
		e.Status, e.Code, e.Message = http.StatusConflict, CodeChallengeVerified, trimPrefix(err)
	case errors.Is(err, ato.ErrDeviceRestricted):
		e.Status, e.Code, e.Field, e.Message = http.StatusConflict, CodeDeviceRestricted, "device_id", "the device is restricted; it can be forgotten once the restriction ends or a challenge from it completes"
	case errors.Is(err, ato.ErrRateLimited):
		e.Status, e.Code, e.Message = http.StatusTooManyRequests, CodeRateLimited, trimPrefix(err)
	case errors.Is(err, ato.ErrNoDestination):
		e.Status, e.Code, e.Field, e.Message = http.StatusBadRequest, CodeNoDestination, "channel", trimPrefix(err)
	case errors.Is(err, ato.ErrNoSender):
		e.Status, e.Code, e.Field, e.Message = http.StatusServiceUnavailable, CodeNoSender, "channel", "atod has no sender for this channel: start it with -outbox, -smtp-addr (email) or -webhook-url"
	case isDelivery(err):
		e.Status, e.Code, e.Message = http.StatusBadGateway, CodeSendFailed, "the code could not be delivered; the previous code, if any, still works"
	case errors.Is(err, context.DeadlineExceeded):
		e.Status, e.Code, e.Message = http.StatusGatewayTimeout, CodeTimeout, "the request ran out of time"
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this.
		e.Status, e.Code, e.Message = 499, CodeTimeout, "the request was cancelled"
	default:
		e.Status, e.Code, e.Message = http.StatusInternalServerError, CodeInternal, "atod failed to answer; its log has the request id"
	}
	return e
}

// trimPrefix drops the package prefixes of an engine error ("ato: ",
// "challenge: "), which mean nothing to a client of the HTTP API.
func trimPrefix(err error) string {
	s := err.Error()
	for _, p := range []string{"ato: ", "challenge: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// deliveryError marks an error of a sender, so that it is told apart from
// a store's.
type deliveryError struct {
	channel challenge.Channel
	err     error
}

func (e *deliveryError) Error() string {
	return "atod: deliver " + string(e.channel) + ": " + e.err.Error()
}
func (e *deliveryError) Unwrap() error { return e.err }

func isDelivery(err error) bool {
	var d *deliveryError
	return errors.As(err, &d)
}
