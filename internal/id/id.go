// Package id makes the identifiers ato hands out: random ones for
// evaluations and challenges, keyed ones for devices.
package id

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// New returns a random (version 4) UUID from crypto/rand.
func New() string {
	var b [16]byte
	rand.Read(b[:]) // never returns an error; it crashes the program if the OS has no randomness
	return format(b, 0x40)
}

// Keyed returns a UUID (version 8, the custom layout) made from
// HMAC-SHA256(key, parts). The same key and parts always give the same id;
// without the key the id reveals nothing about the parts.
//
// It computes the HMAC (RFC 2104) with sha256.Sum256 over buffers on the
// stack rather than with crypto/hmac, whose state costs several
// allocations a call: a new device is named on every attempt the engine
// does not recognise.
func Keyed(key []byte, parts ...string) string {
	var k [sha256.BlockSize]byte
	if len(key) > sha256.BlockSize {
		sum := sha256.Sum256(key)
		copy(k[:], sum[:])
	} else {
		copy(k[:], key)
	}
	var stack [sha256.BlockSize + 256]byte
	in := stack[:sha256.BlockSize]
	for i, b := range k {
		in[i] = b ^ 0x36
	}
	for _, p := range parts {
		in = append(in, p...)
		in = append(in, 0)
	}
	inner := sha256.Sum256(in)
	var outer [sha256.BlockSize + sha256.Size]byte
	for i, b := range k {
		outer[i] = b ^ 0x5c
	}
	copy(outer[sha256.BlockSize:], inner[:])
	sum := sha256.Sum256(outer[:])
	var b [16]byte
	copy(b[:], sum[:])
	return format(b, 0x80)
}

func format(b [16]byte, version byte) string {
	b[6] = b[6]&0x0f | version
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
