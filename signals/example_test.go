package signals_test

import (
	"context"
	"fmt"

	"github.com/atoguard/ato/signals"
)

// breached is a plug-in that declares its reason, so policy rules may use
// it; the engine gives a finding without a score the declared one.
type breached struct{}

func (breached) Name() string { return "breached_password" }

func (breached) Reasons() []signals.ReasonInfo {
	return []signals.ReasonInfo{{Reason: "breached_password", Score: 0.6, Description: "the password appears in a breach"}}
}

func (breached) Detect(_ context.Context, in *signals.Input) ([]signals.Finding, error) {
	if in.Metadata["password_breach_count"] == "" {
		return nil, nil
	}
	return []signals.Finding{{Reason: "breached_password", Detail: "the password appears in a breach"}}, nil
}

func ExampleDeclarer() {
	var s signals.Signal = breached{}
	d := s.(signals.Declarer)
	fmt.Println(d.Reasons()[0].Reason, d.Reasons()[0].Score, signals.IsBuiltin("breached_password"))
	fs, _ := s.Detect(context.Background(), &signals.Input{Metadata: map[string]string{"password_breach_count": "3"}})
	fmt.Println(fs[0].Summary())
	// Output:
	// breached_password 0.6 false
	// breached password
}
