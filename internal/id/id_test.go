package id

import (
	"crypto/hmac"
	"crypto/sha256"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-([0-9a-f])[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewIsRandomV4(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		u := New()
		m := uuidRE.FindStringSubmatch(u)
		if assert.NotNil(t, m, u) {
			assert.Equal(t, "4", m[1])
		}
		assert.False(t, seen[u], "duplicate id")
		seen[u] = true
	}
}

func TestKeyedIsStableAndKeyed(t *testing.T) {
	t.Parallel()
	k1, k2 := []byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")
	a := Keyed(k1, "device", "hash")
	assert.Equal(t, a, Keyed(k1, "device", "hash"), "same key and parts give the same id")
	assert.NotEqual(t, a, Keyed(k2, "device", "hash"), "another key gives another id")
	assert.NotEqual(t, a, Keyed(k1, "devicehash"), "parts are separated")
	m := uuidRE.FindStringSubmatch(a)
	if assert.NotNil(t, m, a) {
		assert.Equal(t, "8", m[1])
	}
}

// keyedHMAC is Keyed as crypto/hmac computes it.
func keyedHMAC(key []byte, parts ...string) string {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	var b [16]byte
	copy(b[:], m.Sum(nil))
	return format(b, 0x80)
}

func TestKeyedIsHMAC(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	text := func(n int) string {
		var sb strings.Builder
		for range n {
			sb.WriteByte(byte(r.IntN(256)))
		}
		return sb.String()
	}
	// Keys shorter than, as long as and longer than a block; messages
	// within the stack buffer and past it.
	for _, keyLen := range []int{0, 1, 16, 32, 63, 64, 65, 100, 200} {
		for _, partLen := range []int{0, 1, 36, 120, 250, 255, 256, 300, 2000} {
			key := []byte(text(keyLen))
			parts := []string{"device", text(partLen)}
			assert.Equal(t, keyedHMAC(key, parts...), Keyed(key, parts...), "key %d bytes, part %d bytes", keyLen, partLen)
		}
	}
	assert.Equal(t, keyedHMAC([]byte("k")), Keyed([]byte("k")), "no parts")
}

func BenchmarkKeyed(b *testing.B) {
	key := []byte("0123456789abcdef0123456789abcdef")
	fp := strings.Repeat("ab", 40)
	b.ReportAllocs()
	for b.Loop() {
		Keyed(key, "device", fp)
	}
}

// BenchmarkKeyedHMAC is the same id made with crypto/hmac, as Keyed was.
func BenchmarkKeyedHMAC(b *testing.B) {
	key := []byte("0123456789abcdef0123456789abcdef")
	fp := strings.Repeat("ab", 40)
	b.ReportAllocs()
	for b.Loop() {
		keyedHMAC(key, "device", fp)
	}
}
