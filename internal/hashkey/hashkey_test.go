package hashkey

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
)

// digestLanes is Digest as first written, its lanes in an array: the keys
// stores hold were made by it, so Digest must agree with it on every input.
func digestLanes(s string) (uint64, uint64) {
	const m1, m2 = 0x9e3779b97f4a7c15, 0xc2b2ae3d27d4eb4f
	n := uint64(len(s))
	h := [4]uint64{n ^ m1, n ^ m2, ^n * m1, ^n * m2}
	i := 0
	for ; i+32 <= len(s); i += 32 {
		for l := range h {
			h[l] = (h[l] ^ binary.LittleEndian.Uint64([]byte(s[i+8*l:]))) * m1
			h[l] ^= h[l] >> 29
		}
	}
	for l := 0; i+8 <= len(s); i, l = i+8, l+1 {
		h[l] = (h[l] ^ binary.LittleEndian.Uint64([]byte(s[i:]))) * m1
		h[l] ^= h[l] >> 29
	}
	for l := 0; i < len(s); i, l = i+1, (l+1)%4 {
		h[l] = (h[l] ^ uint64(s[i])) * m2
		h[l] ^= h[l] >> 31
	}
	mix := func(a, b uint64) uint64 {
		x := (a ^ bits.RotateLeft64(b, 23)) * m2
		x ^= x >> 32
		x *= m1
		return x ^ x>>29
	}
	return mix(h[0], h[1]) ^ mix(h[2], h[3]), mix(h[1], h[2]) ^ mix(h[3], h[0])
}

func TestDigestAgreesWithTheLanesInAnArray(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 5000)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	check := func(s string) {
		a1, c1 := Digest(s)
		a2, c2 := digestLanes(s)
		if a1 != a2 || c1 != c2 {
			t.Fatalf("length %d: Digest %x %x, lanes in an array %x %x", len(s), a1, c1, a2, c2)
		}
	}
	for n := range 300 {
		for _, s := range []string{string(b[:n]), string(b[n : 2*n]), strings.Repeat("a", n)} {
			check(s)
		}
	}
	for n := 300; n <= len(b); n += 97 {
		check(string(b[:n]))
	}
}

func BenchmarkDigest(b *testing.B) {
	s := strings.Repeat("0123456789abcdef", 128) // a 2048-byte fingerprint
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		Digest(s)
	}
}

func BenchmarkDigestLanesInAnArray(b *testing.B) {
	s := strings.Repeat("0123456789abcdef", 128)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		digestLanes(s)
	}
}
