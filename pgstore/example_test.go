package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/storage"
)

// unreachable stands for a pgstore whose database stopped answering: its
// reads wait until the caller's context ends, as pgstore's do then.
type unreachable struct{ storage.Store }

func (unreachable) Load(ctx context.Context, _ storage.LoadRequest) (storage.State, error) {
	<-ctx.Done()
	return storage.State{}, fmt.Errorf("pgstore: load: %w", ctx.Err())
}

// When ato cannot answer in time — the database is down, or slow — the
// app decides per action: a login whose password was right can go ahead
// without the risk check (failing closed would lock every user out while
// the database is away), while a sensitive action waits for ato to be
// back (failing open would let a stolen password change the email).
func Example_failOpenOrClosed() {
	engine, err := ato.New(unreachable{memstore.New()}, ato.WithSecret([]byte("an example key of 32 bytes or more")))
	if err != nil {
		panic(err)
	}
	check := func(action ato.Action) string {
		// A deadline on every call: ato answers in milliseconds or not
		// at all.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		res, err := engine.Evaluate(ctx, ato.Request{User: "alice", Action: action, IP: "203.0.113.9"})
		switch {
		case err == nil:
			return string(res.Verdict)
		case errors.Is(err, ato.ErrInvalidRequest):
			return "a bug in the request: " + err.Error()
		case action == ato.ActionLogin:
			return "go ahead without the risk check (fail open), and log it"
		default:
			return "refuse for now and ask to try again shortly (fail closed)"
		}
	}
	fmt.Println("login:", check(ato.ActionLogin))
	fmt.Println("change_email:", check("change_email"))
	// Output:
	// login: go ahead without the risk check (fail open), and log it
	// change_email: refuse for now and ask to try again shortly (fail closed)
}
