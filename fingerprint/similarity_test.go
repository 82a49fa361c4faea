package fingerprint

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// slowSimilarity is the definition, rune by rune.
func slowSimilarity(a, b string) float64 {
	if len(a) != HashLen || len(b) != HashLen {
		if a == b {
			return 1
		}
		return 0
	}
	pad := func(h string) int { return len(h) - len(strings.TrimRight(h, "0")) }
	n := HashLen - min(pad(a), pad(b))
	if n == 0 {
		return 1
	}
	eq := 0
	for i := range n {
		if a[i] == b[i] {
			eq++
		}
	}
	return float64(eq) / float64(n)
}

func randomHash(r *rand.Rand, pad int) string {
	const hexdigits = "0123456789abcdef"
	b := make([]byte, HashLen)
	for i := range b {
		if i >= HashLen-pad {
			b[i] = '0'
		} else {
			b[i] = hexdigits[r.IntN(16)]
		}
	}
	return string(b)
}

func TestSimilarityMatchesItsDefinition(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		a := randomHash(r, r.IntN(600))
		b := []byte(a)
		for range r.IntN(400) {
			b[r.IntN(HashLen)] = "0123456789abcdef"[r.IntN(16)]
		}
		assert.InDelta(t, slowSimilarity(a, string(b)), Similarity(a, string(b)), 1e-12)
	}
}

func TestSharedPaddingDoesNotMakeDevicesAlike(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	a, b := randomHash(r, 1000), randomHash(r, 1000)
	// Random hex agrees at 1/16 of the positions; the 1000 shared zeros
	// must not lift that.
	assert.Less(t, Similarity(a, b), 0.1)
	assert.Equal(t, 1.0, Similarity(a, a))
	zero := strings.Repeat("0", HashLen)
	assert.Equal(t, 1.0, Similarity(zero, zero))
	// Padding on one side only is compared like any other character.
	assert.InDelta(t, 1.0/16, Similarity(randomHash(r, 0), zero), 0.03)
}

func TestSimilarityOfOtherFormats(t *testing.T) {
	t.Parallel()
	assert.Equal(t, 1.0, Similarity("visitor-1", "visitor-1"))
	assert.Equal(t, 0.0, Similarity("visitor-1", "visitor-2"))
	assert.Equal(t, 0.0, Similarity(strings.Repeat("a", HashLen), "a"))
}

func TestIsFuzzy(t *testing.T) {
	t.Parallel()
	assert.True(t, IsFuzzy(strings.Repeat("0123456789abcdef", 128)))
	assert.False(t, IsFuzzy(strings.Repeat("0123456789ABCDEF", 128)), "upper case is not the format")
	assert.False(t, IsFuzzy(strings.Repeat("a", HashLen-1)))
	assert.False(t, IsFuzzy(strings.Repeat("g", HashLen)))
	assert.False(t, IsFuzzy("3a1b2c"))
}

func TestEarlyExitNeverHidesAWinner(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		a := randomHash(r, r.IntN(300))
		b := []byte(a)
		for range r.IntN(200) {
			b[r.IntN(HashLen)] = 'f'
		}
		s := Similarity(a, string(b))
		floor := r.Float64()
		got := similarity(a, string(b), padding(a), uint32(r.Uint64()), floor)
		if s >= floor {
			assert.InDelta(t, s, got, 1e-12, "a hash at or above the floor is scored exactly")
		} else {
			assert.Zero(t, got)
		}
	}
}

func FuzzSimilarity(f *testing.F) {
	f.Add(strings.Repeat("ab", 1024), strings.Repeat("ab", 1023)+"00")
	f.Add("x", "y")
	f.Fuzz(func(t *testing.T, a, b string) {
		s := Similarity(a, b)
		if s < 0 || s > 1 {
			t.Fatalf("similarity %v outside [0,1]", s)
		}
		if s != Similarity(b, a) {
			t.Fatalf("not symmetric")
		}
		if want := slowSimilarity(a, b); s != want {
			t.Fatalf("similarity %v, definition says %v", s, want)
		}
		if a == b && s != 1 {
			t.Fatalf("equal hashes %v", s)
		}
		_ = IsFuzzy(a)
		// The fuzzer seldom makes 2048-character strings: also read its
		// inputs as the data part of two padded fuzzy hashes.
		ha, hb := asHash(a), asHash(b)
		if s, want := Similarity(ha, hb), slowSimilarity(ha, hb); s != want {
			t.Fatalf("similarity %v, definition says %v", s, want)
		}
	})
}

// asHash turns arbitrary bytes into a fuzzy hash: hex digits, then zeros.
func asHash(s string) string {
	b := []byte(strings.Repeat("0", HashLen))
	for i := 0; i < len(s) && i < HashLen; i++ {
		b[i] = "0123456789abcdef"[s[i]%16]
	}
	return string(b)
}

func TestHex8AgreesWithABytewiseCheck(t *testing.T) {
	t.Parallel()
	for b := range 256 {
		for pos := range 8 {
			w := []byte("09afbe17")
			w[pos] = byte(b)
			want := b >= '0' && b <= '9' || b >= 'a' && b <= 'f'
			assert.Equal(t, want, hex8(binary.LittleEndian.Uint64(w)), "byte %#x at %d", b, pos)
		}
	}
}
