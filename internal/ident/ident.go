// Package ident checks the names ato's packages share: actions, reasons
// and policy rule names, all lower-case ASCII, so that the engine, the
// policy language and the stores agree on them.
package ident

// Longest names.
const (
	MaxAction = 32 // "login", "password_change"
	MaxReason = 64 // "new_device"
	MaxRule   = 64 // "new-device-new-network"
)

// Word reports whether s is lower-case letters, digits and '_', starting
// with a letter, of any length.
func Word(s string) bool { return lower(s, len(s), true, false) }

// Action reports whether s may name an action: 1 to [MaxAction] lower-case
// letters, digits and '_'.
func Action(s string) bool { return lower(s, MaxAction, false, false) }

// Reason reports whether s may name a reason: a [Word] of at most
// [MaxReason] bytes.
func Reason(s string) bool { return lower(s, MaxReason, true, false) }

// Rule reports whether s may name a policy rule: 1 to [MaxRule] lower-case
// letters, digits, '-' and '_'.
func Rule(s string) bool { return lower(s, MaxRule, false, true) }

// lower reports whether s is 1 to max bytes of a-z, 0-9 and '_' (and '-'
// if dash), starting with a letter if letterFirst.
func lower(s string, max int, letterFirst, dash bool) bool {
	if s == "" || len(s) > max || letterFirst && (s[0] < 'a' || s[0] > 'z') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && (!dash || c != '-') {
			return false
		}
	}
	return true
}
