// Package hashkey makes the exact lookup key of a fingerprint hash: a
// short, fixed-size digest that stands for the hash in indexes and
// profiles. The fingerprint package makes every key; stores use this
// package only to key what an older release stored without keys.
package hashkey

import (
	"encoding/binary"
	"math/bits"
)

// Exact returns the exact key of a hash: "x:" and a 128-bit digest of it in
// hex, so index entries stay small whatever the hash's length.
func Exact(hash string) string { return string(AppendExact(make([]byte, 0, 34), hash)) }

// AppendExact appends the exact key of hash to b.
func AppendExact(b []byte, hash string) []byte {
	a, c := Digest(hash)
	b = append(b, "x:"...)
	b = AppendHex64(b, a)
	return AppendHex64(b, c)
}

// AppendHex64 appends v as 16 lower-case hex digits.
func AppendHex64(b []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[v>>shift&0xf])
	}
	return b
}

// Digest is a fast 128-bit multiply-xor hash of s, in two 64-bit halves.
// Four lanes take turns at the 8-byte words, so the multiplications of one
// do not wait for another's. It need not resist crafted collisions: a key
// only nominates a device, and the hashes themselves decide.
func Digest(s string) (uint64, uint64) {
	const m1, m2 = 0x9e3779b97f4a7c15, 0xc2b2ae3d27d4eb4f
	n := uint64(len(s))
	// The lanes are four variables through the long loop, so that they stay
	// in registers (an array indexed by a loop variable lives in memory, a
	// store and a load in each lane's chain: ~5× slower on 2 KiB).
	h0, h1, h2, h3 := n^m1, n^m2, ^n*m1, ^n*m2
	i := 0
	for ; len(s)-i >= 32; i += 32 {
		c := s[i : i+32]
		h0 = (h0 ^ binary.LittleEndian.Uint64([]byte(c[0:8]))) * m1
		h1 = (h1 ^ binary.LittleEndian.Uint64([]byte(c[8:16]))) * m1
		h2 = (h2 ^ binary.LittleEndian.Uint64([]byte(c[16:24]))) * m1
		h3 = (h3 ^ binary.LittleEndian.Uint64([]byte(c[24:32]))) * m1
		h0 ^= h0 >> 29
		h1 ^= h1 >> 29
		h2 ^= h2 >> 29
		h3 ^= h3 >> 29
	}
	h := [4]uint64{h0, h1, h2, h3}
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
