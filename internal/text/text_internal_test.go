package text

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPlainASCII8AgreesWithABytewiseCheck(t *testing.T) {
	t.Parallel()
	for b := range 256 {
		for pos := range 8 {
			s := []byte("aZ09 ~{|")
			s[pos] = byte(b)
			want := b >= 0x20 && b <= 0x7e
			assert.Equal(t, want, plainASCII8(string(s)), "byte %#x at %d", b, pos)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ s, problem string }{
		{"", ""},
		{"alice", ""},
		{"élodie, 東京", ""},
		{strings.Repeat("a", 64), ""},
		{strings.Repeat("a", 65), "longer than 64 bytes (65)"},
		{"al\xffice", "not valid UTF-8"},
		{"alice\n", `contains control character '\n'`},
		{strings.Repeat("x", 40) + "\x7f", `contains control character '\x7f'`},
		{"a\u0085b", `contains control character '\u0085'`},
	} {
		assert.Equal(t, tc.problem, Check(tc.s, 64), "%q", tc.s)
	}
}
