package challenge_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/atoguard/ato/challenge"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestNewCodeFormat(t *testing.T) {
	t.Parallel()
	for range 100 {
		code, err := challenge.NewCode()
		require.NoError(t, err)
		require.Len(t, code, challenge.CodeDigits)
		normal, ok := challenge.NormaliseCode(code)
		require.True(t, ok, "code %q", code)
		require.Equal(t, code, normal)
	}
}

// TestNewCodeDistribution is a crude check that every digit turns up about
// as often in every position. With 10,000 codes each count is about
// 1000 ± 30; the bounds are ten standard deviations wide, so a correct
// generator never fails, while one stuck on a digit, or one that drops
// leading zeros, does.
func TestNewCodeDistribution(t *testing.T) {
	t.Parallel()
	const n = 10_000
	var counts [challenge.CodeDigits][10]int
	for range n {
		code, err := challenge.NewCode()
		require.NoError(t, err)
		require.Len(t, code, challenge.CodeDigits)
		for pos, c := range []byte(code) {
			counts[pos][c-'0']++
		}
	}
	for pos := range counts {
		for digit, got := range counts[pos] {
			assert.InDelta(t, n/10, got, 300, "digit %d at position %d", digit, pos)
		}
	}
}

func TestHashCode(t *testing.T) {
	t.Parallel()
	h := challenge.HashCode(testKey, "ch_1", "123456")
	assert.Len(t, h, 32)
	assert.Equal(t, h, challenge.HashCode(testKey, "ch_1", "123456"), "deterministic")

	others := map[string][]byte{
		"another challenge": challenge.HashCode(testKey, "ch_2", "123456"),
		"another code":      challenge.HashCode(testKey, "ch_1", "123457"),
		"another key":       challenge.HashCode([]byte("another key, also 32 bytes long!"), "ch_1", "123456"),
		// Without length prefixes these two would hash the same bytes.
		"id and code shifted": challenge.HashCode(testKey, "ch_11", "23456"),
	}
	for name, other := range others {
		assert.False(t, bytes.Equal(h, other), name)
	}
}

func TestCodeMatches(t *testing.T) {
	t.Parallel()
	hash := challenge.HashCode(testKey, "ch_1", "012345")
	tests := []struct {
		typed string
		want  bool
	}{
		{"012345", true},
		{"012 345", true},
		{"012-345", true},
		{" 012345\n", true},
		{"0 1 2 3 4 5", true},
		{"012\u00a0345", true}, // no-break space, as pasted from a web page
		{"012346", false},
		{"12345", false},
		{"0123456", false},
		{"012345 6", false},
		{"", false},
		{"      ", false},
		{"012_345", false},
		{"O12345", false},
		{"٠١٢٣٤٥", false},       // Arabic-Indic digits
		{"０１２３４５", false},       // fullwidth digits
		{"01234５", false},       // one fullwidth digit
		{"012345\x00", false},   // NUL
		{"+12345", false},       // sign
		{"\xff12345", false},    // invalid UTF-8
		{"012345012345", false}, // the code twice
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, challenge.CodeMatches(testKey, "ch_1", tt.typed, hash), "%q", tt.typed)
	}

	assert.False(t, challenge.CodeMatches(testKey, "ch_2", "012345", hash), "another challenge")
	assert.False(t, challenge.CodeMatches([]byte("another key, also 32 bytes long!"), "ch_1", "012345", hash), "another key")
	assert.False(t, challenge.CodeMatches(testKey, "ch_1", "012345", nil), "no hash")
	assert.False(t, challenge.CodeMatches(testKey, "ch_1", "012345", hash[:16]), "truncated hash")
}

func TestNormaliseCode(t *testing.T) {
	t.Parallel()
	got, ok := challenge.NormaliseCode("\t 98-76 54 \r\n")
	assert.True(t, ok)
	assert.Equal(t, "987654", got)

	got, ok = challenge.NormaliseCode("98765x")
	assert.False(t, ok)
	assert.Empty(t, got)

	long := "1" + string(bytes.Repeat([]byte{' '}, 100)) + "23456"
	_, ok = challenge.NormaliseCode(long)
	assert.False(t, ok, "very long input is refused")
}

func FuzzCodeMatches(f *testing.F) {
	for _, s := range []string{
		"012345", "012 345", "012-345", "٠١٢٣٤٥", "０１２３４５", "", "0123456",
		"12345", "\x00", "--------012345", "0\u20281\u20292345", "\xff\xfe",
	} {
		f.Add(s)
	}
	const code = "012345"
	hash := challenge.HashCode(testKey, "ch_1", code)
	f.Fuzz(func(t *testing.T, typed string) {
		normal, ok := challenge.NormaliseCode(typed)
		got := challenge.CodeMatches(testKey, "ch_1", typed, hash)
		require.Equal(t, ok && normal == code, got, "%q normalised to %q, %v", typed, normal, ok)
		if !ok {
			require.Empty(t, normal)
			return
		}
		require.Len(t, normal, challenge.CodeDigits)
		for _, c := range []byte(normal) {
			require.True(t, '0' <= c && c <= '9', "%q normalised to %q", typed, normal)
		}
		require.True(t, challenge.CodeMatches(testKey, "ch_2", typed, challenge.HashCode(testKey, "ch_2", normal)))
	})
}

func BenchmarkCodeMatches(b *testing.B) {
	key := []byte("a key of at least thirty-two bytes!!")
	hash := challenge.HashCode(key, "challenge-id", "123456")
	b.ReportAllocs()
	for b.Loop() {
		if !challenge.CodeMatches(key, "challenge-id", "123 456", hash) {
			b.Fatal("no match")
		}
	}
}
