package ato

import (
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
