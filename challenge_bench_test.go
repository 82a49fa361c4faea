package ato_test

import (
	"fmt"
	"testing"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/verdict"
)

// BenchmarkChallengeFlow measures send, verify and complete of one
// challenge on the memory store (the evaluation that creates it is not
// counted).
func BenchmarkChallengeFlow(b *testing.B) {
	box := challenge.NewOutbox()
	clk := newClock()
	e, err := ato.New(memstore.New(), ato.WithClock(clk.Now), ato.WithSender(box), ato.WithChallengeLimits(ato.ChallengeLimits{PerHour: 1 << 30}, 0))
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		first, r := aliceLaptop, alicePhone
		first.User = fmt.Sprint("user", i)
		first.Fingerprint = fp(first.User) // one device per user, as in life
		r.User = first.User
		if _, err := e.Evaluate(ctx, first); err != nil {
			b.Fatal(err)
		}
		res, err := e.Evaluate(ctx, r)
		if err != nil || res.Verdict != verdict.Challenge {
			b.Fatal(err, res.Verdict)
		}
		b.StartTimer()
		if err := e.SendChallengeCode(ctx, res.ChallengeID, challenge.Email); err != nil {
			b.Fatal(err)
		}
		m, _ := box.Last(res.ChallengeID)
		if ok, err := e.VerifyChallengeCode(ctx, res.ChallengeID, m.Code); !ok || err != nil {
			b.Fatal(ok, err)
		}
		if err := e.CompleteChallenge(ctx, res.ChallengeID); err != nil {
			b.Fatal(err)
		}
	}
}
