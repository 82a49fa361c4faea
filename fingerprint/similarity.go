package fingerprint

import (
	"encoding/binary"
	"math/bits"
)

// HashLen is the length of a fuzzy hash: 2048 lowercase hex characters, as
// made by the Rupt browser SDK's getHash(), and by scripts that copy its format.
const HashLen = 2048

// SegmentLen is the width of one signal's segment in a fuzzy hash: the
// SDK gives each of its 22 signal groups ceil(2048/22) characters. Lookup
// bands are cut on these boundaries, so a changed signal changes one band.
const SegmentLen = 94

// IsFuzzy reports whether h is a fuzzy hash: exactly [HashLen] lowercase
// hex characters. Anything else is an opaque id, matched exactly.
func IsFuzzy(h string) bool {
	if len(h) != HashLen {
		return false
	}
	for i := 0; i < len(h); i += 8 {
		if !hex8(binary.LittleEndian.Uint64([]byte(h[i : i+8]))) {
			return false
		}
	}
	return true
}

// hex8 reports whether the eight bytes of x are all in '0'-'9' or 'a'-'f'.
// For a byte b below 0x80, b+(0x80-lo) has its high bit set exactly when
// b >= lo, and b+(0x7f-hi) has it clear exactly when b <= hi; neither sum
// carries into the next byte.
func hex8(x uint64) bool {
	const l, h = 0x0101010101010101, 0x8080808080808080
	if x&h != 0 {
		return false
	}
	digit := (x + (0x80-'0')*l) &^ (x + (0x7f-'9')*l)
	letter := (x + (0x80-'a')*l) &^ (x + (0x7f-'f')*l)
	return (digit|letter)&h == h
}

// padding returns the number of '0' characters h ends with: the SDK pads a
// hash with zeros to its full length.
func padding(h string) int {
	const zeros = 0x3030303030303030 // "00000000"
	n := len(h)
	for n >= 8 && binary.LittleEndian.Uint64([]byte(h[n-8:n])) == zeros {
		n -= 8
	}
	for n > 0 && h[n-1] == '0' {
		n--
	}
	return len(h) - n
}

// Similarity returns the fraction of positions at which two fuzzy hashes
// agree, in [0,1]. The zero padding both hashes end with is left out, so
// that two short hashes do not look alike for what neither has. Strings
// that are not both [HashLen] long are 1 when equal and 0 otherwise; the
// engine compares only fuzzy fingerprints by similarity.
func Similarity(a, b string) float64 {
	if len(a) != HashLen || len(b) != HashLen {
		if a == b {
			return 1
		}
		return 0
	}
	return similarity(a, b, padding(a), 0, 0)
}

// segments is the number of signal segments in a fuzzy hash.
const segments = (HashLen + SegmentLen - 1) / SegmentLen

// similarity compares two hashes of HashLen characters; padA is a's
// padding. It gives up and returns 0 as soon as the hashes differ in more
// than (1-floor) of the compared positions, so that ranking many hashes
// against a best-so-far costs little for those that cannot win. Segments
// whose bit is set in suspect are compared first: with a good guess of
// where the hashes differ, a loser is dropped within a segment or two.
func similarity(a, b string, padA int, suspect uint32, floor float64) float64 {
	n := HashLen - min(padA, padding(b))
	if n == 0 {
		return 1
	}
	// Mismatches allowed; the epsilon keeps 1-0.9 = 0.0999… from costing a
	// hash exactly at the floor its last position.
	budget := int((1-floor)*float64(n) + 1e-9)
	diff := 0
	for pass := range 2 {
		for seg := range segments {
			if (suspect>>seg&1 == 1) != (pass == 0) {
				continue
			}
			i := seg * SegmentLen
			end := min(i+SegmentLen, n)
			if i >= end {
				break
			}
			if a[i:end] == b[i:end] { // memequal: fast for the common case
				continue
			}
			diff += (end - i) - equalBytes(a[i:end], b[i:end])
			if diff > budget {
				return 0
			}
		}
	}
	return float64(n-diff) / float64(n)
}

// equalBytes counts the positions at which a and b (of equal length) hold
// the same byte, eight at a time.
func equalBytes(a, b string) int {
	const lo7 = 0x7f7f7f7f7f7f7f7f
	eq, i := 0, 0
	for ; i+8 <= len(a); i += 8 {
		x := binary.LittleEndian.Uint64([]byte(a[i:i+8])) ^ binary.LittleEndian.Uint64([]byte(b[i:i+8]))
		// The high bit of each byte of z is set exactly where x has a zero
		// byte, that is where a and b agree.
		z := ^((x&lo7 + lo7) | x | lo7)
		eq += bits.OnesCount64(z)
	}
	for ; i < len(a); i++ {
		if a[i] == b[i] {
			eq++
		}
	}
	return eq
}
