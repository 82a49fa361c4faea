// Package text checks the text fields of a request: their length, UTF-8
// and no control characters, fast enough for the 4 KiB fingerprints of
// every evaluation.
package text

import (
	"encoding/binary"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Check returns why s is not text of at most max bytes — too long, not
// valid UTF-8, or holding a control character — or "" when it is.
func Check(s string, max int) string {
	if len(s) > max {
		return "longer than " + strconv.Itoa(max) + " bytes (" + strconv.Itoa(len(s)) + ")"
	}
	i := plainASCIIPrefix(s)
	for i < len(s) {
		if i+32 <= len(s) && plainASCII32(s[i:i+32]) {
			i += 32
			continue
		}
		if i+8 <= len(s) && plainASCII8(s[i:i+8]) {
			i += 8
			continue
		}
		if b := s[i]; b < utf8.RuneSelf {
			if b < 0x20 || b == 0x7f {
				return "contains control character " + strconv.QuoteRune(rune(b))
			}
			i++
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			return "not valid UTF-8"
		}
		if unicode.IsControl(c) {
			return "contains control character " + strconv.QuoteRune(c)
		}
		i += size
	}
	return ""
}

// plainASCII8 reports whether the 8 bytes of s are printable ASCII (0x20 to
// 0x7e), testing them at once.
func plainASCII8(s string) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	x := binary.LittleEndian.Uint64([]byte(s))
	ctl := (x - 0x20*lo) & ^x & hi // a byte below 0x20
	y := x ^ 0x7f*lo
	del := (y - lo) & ^y & hi // a byte equal to 0x7f
	return (x&hi)|ctl|del == 0
}

// plainASCII32 is plainASCII8 for 32 bytes, the four words tested at once.
func plainASCII32(s string) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	var bad uint64
	for w := 0; w < 32; w += 8 {
		x := binary.LittleEndian.Uint64([]byte(s[w : w+8]))
		y := x ^ 0x7f*lo
		bad |= (x & hi) | (x-0x20*lo)&^x&hi | (y-lo)&^y&hi
	}
	return bad == 0
}

// plainASCIIPrefix returns the length of a prefix of s, a multiple of 64
// bytes, that is printable ASCII: the 64 bytes of a step are tested at
// once, in words loaded from the string without copying it. A byte b of a
// word is printable when none of b, b+1 (0x80 for 0x7f) and b-0x20 (a
// borrow below 0x20) has its top bit set; a carry or a borrow into the
// next byte only comes from a byte that has, so the test of the word is
// exact.
func plainASCIIPrefix(s string) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	n := 0
	for ; len(s)-n >= 64; n += 64 {
		c := s[n : n+64]
		var bits uint64
		for w := 0; w < 64; w += 8 {
			x := binary.LittleEndian.Uint64([]byte(c[w : w+8]))
			bits |= x | (x + lo) | (x - 0x20*lo)
		}
		if bits&hi != 0 {
			break
		}
	}
	return n
}
