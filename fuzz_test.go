package ato_test

import (
	"errors"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
)

// FuzzEvaluate feeds arbitrary requests to the engine: it must answer with a
// valid result or an invalid-request error, never panic, and a rejected
// request must write nothing.
func FuzzEvaluate(f *testing.F) {
	f.Add("login", "alice", laptop, "", "203.0.113.9", "k", "v")
	f.Add("signup", "bob", "fjs_1", "fjs_0", "::ffff:10.0.0.1", "", "")
	f.Add("", "", "", "x", "fe80::1%eth0", "\xff", "v")
	f.Add("Login", "c\x00", "\xc3", "", "2001:db8::/64", "k", "\xff")
	s := memstore.New()
	e, err := ato.New(s, ato.WithClock(func() time.Time { return time.Unix(1_750_000_000, 0) }))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, action, user, fp, last, ip, mk, mv string) {
		before, _ := s.Events(t.Context(), user, time.Time{}, 1000)
		res, err := e.Evaluate(t.Context(), ato.Request{
			Action: ato.Action(action), User: user, Fingerprint: fp, LastFingerprint: last, IP: ip,
			Metadata: map[string]string{mk: mv},
		})
		if err != nil {
			if !errors.Is(err, ato.ErrInvalidRequest) {
				t.Fatalf("error that is not ErrInvalidRequest: %v", err)
			}
			after, _ := s.Events(t.Context(), user, time.Time{}, 1000)
			if len(after) != len(before) {
				t.Fatalf("a rejected request wrote an event")
			}
			return
		}
		if !res.Verdict.Valid() || res.EvaluationID == "" {
			t.Fatalf("bad result %+v", res)
		}
		if res.Score < 0 || res.Score > 1 || res.Confidence < 0 || res.Confidence > 1 {
			t.Fatalf("score %v or confidence %v outside [0,1]", res.Score, res.Confidence)
		}
		if res.Verdict.Challenges() != (res.ChallengeID != "") {
			t.Fatalf("verdict %s with challenge id %q", res.Verdict, res.ChallengeID)
		}
		if (fp == "") != (res.FingerprintID == "") {
			t.Fatalf("fingerprint %q gave device id %q", fp, res.FingerprintID)
		}
		if len(res.Reasons) == 1 && res.Reasons[0] == signals.NewUserReason && res.Verdict != verdict.Allow {
			t.Fatalf("a plain first login was not allowed: %+v", res)
		}
	})
}
