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

// BenchmarkCheck checks a fingerprint of the SDK's format (2048 hex
// characters), which every evaluation does.
func BenchmarkCheck(b *testing.B) {
	s := strings.Repeat("0123456789abcdef", 128)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if Check(s, 4096) != "" {
			b.Fatal("not text")
		}
	}
}

func TestPlainASCIIPrefixAgreesWithABytewiseCheck(t *testing.T) {
	t.Parallel()
	base := strings.Repeat(" ~aZ09{|", 16) // 128 printable bytes
	assert.Equal(t, 128, plainASCIIPrefix(base))
	assert.Equal(t, 64, plainASCIIPrefix(base[:127]), "a step needs 64 bytes")
	for b := range 256 {
		for pos := range len(base) {
			s := []byte(base)
			s[pos] = byte(b)
			want := len(base)
			if b < 0x20 || b > 0x7e {
				want = pos / 64 * 64
			}
			assert.Equal(t, want, plainASCIIPrefix(string(s)), "byte %#x at %d", b, pos)
		}
	}
	// Two bytes side by side: a borrow or a carry out of one never
	// hides the other.
	for b1 := range 256 {
		for b2 := range 256 {
			s := []byte(base[:64])
			s[30], s[31] = byte(b1), byte(b2)
			ok := func(b int) bool { return b >= 0x20 && b <= 0x7e }
			want := 0
			if ok(b1) && ok(b2) {
				want = 64
			}
			if got := plainASCIIPrefix(string(s)); got != want {
				t.Fatalf("bytes %#x %#x: %d, want %d", b1, b2, got, want)
			}
		}
	}
}
