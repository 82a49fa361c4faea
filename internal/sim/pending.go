package sim

import "github.com/atoguard/ato"

// The device token: Result.DeviceToken (the token a login that taught the
// device issues) and Request.DeviceToken (the token the browser's cookie
// sends back). Every browser keeps a cookie jar — set from tokenOf after a
// successful login (or from Engine.DeviceToken after a completed
// challenge), sent with withToken, dropped with the rest of the browser's
// storage by private windows, privacy browsers and a clear of browsing
// data, and never held by an attacker (a phishing kit copies the
// fingerprint, not the site's HttpOnly cookie; malware that steals the
// cookie jar is out of scope).

// tokenOf returns the device token a result issued ("" for none).
func tokenOf(res ato.Result) string { return res.DeviceToken }

// withToken puts the browser's device-token cookie in the request.
func withToken(req *ato.Request, tok string) { req.DeviceToken = tok }

// recordUnknownUser records a failed login for an account that does not
// exist, as the application knows it does: with Request.UnknownUser, the
// strongest tell of stuffing.
func recordUnknownUser(s *sim, req ato.Request) error {
	req.UnknownUser = true
	return s.eng.RecordFailure(s.ctx, req)
}
