package ident_test

import (
	"strings"
	"testing"

	"github.com/atoguard/ato/internal/ident"
	"github.com/stretchr/testify/assert"
)

func TestNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s                          string
		word, action, reason, rule bool
	}{
		{"", false, false, false, false},
		{"login", true, true, true, true},
		{"password_change", true, true, true, true},
		{"2fa", false, true, false, true},
		{"new-device", false, false, false, true},
		{"_x", false, true, false, true},
		{"Login", false, false, false, false},
		{"new ip", false, false, false, false},
		{"é", false, false, false, false},
		{strings.Repeat("a", 32), true, true, true, true},
		{strings.Repeat("a", 33), true, false, true, true},
		{strings.Repeat("a", 64), true, false, true, true},
		{strings.Repeat("a", 65), true, false, false, false},
	} {
		assert.Equal(t, tc.word, ident.Word(tc.s), "Word(%q)", tc.s)
		assert.Equal(t, tc.action, ident.Action(tc.s), "Action(%q)", tc.s)
		assert.Equal(t, tc.reason, ident.Reason(tc.s), "Reason(%q)", tc.s)
		assert.Equal(t, tc.rule, ident.Rule(tc.s), "Rule(%q)", tc.s)
	}
}
