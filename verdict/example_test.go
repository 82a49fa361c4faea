package verdict_test

import (
	"fmt"

	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
)

func ExampleParseRules() {
	policy := []byte(`{"rules": [
  {"name": "risky", "when": "score >= 0.8", "verdict": "challenge_and_restrict", "restrict": ["payment"]},
  {"name": "watch-new-country", "when": "new_country && !known_device", "verdict": "deny", "shadow": true},
  {"name": "new-device", "when": "new_device && (new_ip || new_country)", "verdict": "challenge"}
]}`)
	rules, err := verdict.ParseRules(policy, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	d := rules.Decide(&verdict.Input{
		Action:   "login",
		Score:    0.5,
		Findings: []signals.Finding{{Reason: signals.NewDeviceReason}, {Reason: signals.NewCountryReason}},
	})
	fmt.Println(d.Verdict, "by", d.Rule)
	for _, s := range d.Shadow {
		fmt.Println("shadow:", s.Rule, "would", s.Verdict, "- preempts:", s.Preempts)
	}

	_, err = verdict.ParseRules([]byte(`{"rules": [{"name": "typo", "when": "new_device && (new_ip", "verdict": "deny"}]}`), nil)
	fmt.Println(err)
	// Output:
	// challenge by new-device
	// shadow: watch-new-country would deny - preempts: true
	// verdict: rule 1 "typo": when: column 22: expected ")" after "new_ip"
}

func ExampleParseCondition() {
	c, err := verdict.ParseCondition(`action=="signup" && (score>=0.8 || !known_device)`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c)
	fmt.Println(c.Eval(&verdict.Input{Action: "signup", Score: 0.9, KnownDevice: true}))
	fmt.Println(verdict.Reasons(verdict.Default()[8].When))
	// Output:
	// action == "signup" && (score >= 0.8 || !known_device)
	// true
	// [new_device new_ip new_country anonymous_ip hosting_ip]
}
