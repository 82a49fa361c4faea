package verdict_test

import (
	"testing"

	"github.com/atoguard/ato/verdict"
)

// BenchmarkDecide runs the default table on an attempt that falls through
// to "otherwise" (every rule is tried) and on one row 6 catches.
func BenchmarkDecide(b *testing.B) {
	rules := verdict.Default()
	for name, in := range map[string]*verdict.Input{
		"otherwise":  input("login", true, newIP),
		"new-device": input("login", false, newDevice, newIP),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rules.Decide(in)
			}
		})
	}
}

func BenchmarkParseCondition(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := verdict.ParseCondition(`new_device && (new_ip || new_country || anonymous_ip || hosting_ip)`); err != nil {
			b.Fatal(err)
		}
	}
}
