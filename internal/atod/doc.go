// Package atod is ato as an HTTP service (command atod): the hosted
// account-takeover API of Rupt (v2), self-hosted, so that an application
// not written in Go switches by changing its base URL and secret.
//
// # The API
//
// Every call needs Authorization: Bearer <secret>, one of the secrets of
// ATOD_API_KEYS (comma-separated) or -api-keys-file; several are accepted
// at once, for rotation, compared in constant time. Bodies are JSON or
// form-encoded; unknown fields are ignored.
//
//	POST   /v2/devices/evaluate            the hosted API's evaluate (also /v2/evaluate)
//	GET    /v2/challenges/{id}             a challenge, destinations masked
//	POST   /v2/challenges/{id}/send        {"channel": "email"|"sms"|"text"|"totp"}, or no body
//	POST   /v2/challenges/{id}/verify      {"code": "123456"} → {"success": true|false}
//	POST   /v2/challenges/{id}/complete    → {"success": true, "device_token": …}
//	POST   /v2/failures                    a failed password (ato), with unknown_user
//	GET    /v2/users/{user}/devices        the user's devices (ato)
//	DELETE /v2/users/{user}/devices/{device_id}         forget one (ato)
//	POST   /v2/users/{user}/devices/{device_id}/report  "was this you?": {"mine": bool} (ato)
//	DELETE /v2/users/{user}                erase the user (ato)
//	GET    /healthz, /readyz, /metrics, /openapi.json   without a secret
//
// The evaluate answer has the hosted API's fields (verdict,
// fingerprint_id, reasons, challenge_id) and ato's (evaluation_id,
// confidence, score, rule, explanation, restrictions, device_token,
// warnings). /openapi.json describes every call; a test holds it to the
// handlers.
//
// # Errors
//
// Every error is one JSON shape, with a stable code ([CodeInvalidRequest]
// and the other Code constants), a message for people and, when one field
// is at fault, its name:
//
//	{"success": false, "error": {"code": "invalid_request", "message": "user: required", "field": "user"}, "request_id": "…"}
//
// Statuses: 400 a bad request, 401 no or wrong secret, 404 no such
// challenge, device or endpoint, 405, 409 a challenge or device in the
// wrong state, 413 a body over -max-body, 415 neither JSON nor form data,
// 429 too many sends or wrong codes, 500 internal, 502 a sender failed,
// 503 no sender for the channel or the store not ready, 504 the request's
// time ran out.
//
// # Senders
//
// Codes go to the development outbox (-outbox: one JSON line per message),
// to an SMTP server (-smtp-addr, email only), and to a webhook
// (-webhook-url): a JSON POST signed with HMAC-SHA256 under the webhook
// secret over the timestamp, a dot and the body ([HeaderTimestamp],
// [HeaderSignature], [Sign], [VerifySignature]).
//
// # Operations
//
// /healthz answers while the process serves; /readyz when the store does
// and atod is not shutting down. /metrics has Prometheus metrics (see
// metrics.go). The log (log/slog, JSON by default) has a line per request
// with its id, and the verdict and rule of an evaluation; never a code, a
// secret or a fingerprint. SIGTERM stops taking connections and lets the
// requests in flight finish.
package atod
