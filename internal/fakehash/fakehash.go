// Package fakehash makes fuzzy fingerprint hashes for tests and benchmarks:
// random ones in the browser SDK's format (21 signal segments of 94
// hexadecimal characters and a tail, 2048 characters in all), and drifts of
// them, as a changed browser property changes one segment.
package fakehash

import "math/rand/v2"

const (
	// Len is the length of a hash.
	Len = 2048
	// Segments is the number of signal segments, SegmentLen their length.
	Segments   = 21
	SegmentLen = 94
)

const digits = "0123456789abcdef"

// Random returns a hash of random content.
func Random(r *rand.Rand) string {
	b := make([]byte, Len)
	for i := range b {
		b[i] = digits[r.IntN(16)]
	}
	return string(b)
}

// Drift returns h with one signal segment, chosen at random, replaced.
func Drift(r *rand.Rand, h string) string {
	b := []byte(h)
	seg := r.IntN(Segments)
	for i := seg * SegmentLen; i < (seg+1)*SegmentLen; i++ {
		b[i] = digits[r.IntN(16)]
	}
	return string(b)
}
