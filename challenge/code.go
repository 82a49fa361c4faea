package challenge

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"
	"strings"
	"unicode"
)

// CodeDigits is the number of decimal digits in a one-time code.
const CodeDigits = 6

// maxTypedCode bounds what [NormaliseCode] reads: a code with separators
// is a dozen bytes, so anything longer than this is not a code.
const maxTypedCode = 64

// codeSpace is 10^CodeDigits, the number of distinct codes.
var codeSpace = big.NewInt(1_000_000)

// codeDomain separates code hashes from every other use of the key.
const codeDomain = "ato challenge code v1"

// NewCode returns a fresh code of [CodeDigits] decimal digits, leading zeros
// kept, drawn uniformly from crypto/rand. It fails only if the system's
// random source does.
func NewCode() (string, error) {
	n, err := rand.Int(rand.Reader, codeSpace)
	if err != nil {
		return "", fmt.Errorf("challenge: new code: %w", err)
	}
	return fmt.Sprintf("%0*d", CodeDigits, n.Int64()), nil
}

// HashCode returns the keyed hash of code for the challenge, the only form
// in which a code is stored: HMAC-SHA256 under key over a length-prefixed
// encoding of a fixed label, challengeID and code. The challenge id is part
// of the input, so a hash copied from one challenge never matches a code
// for another.
//
// key should be at least 32 random bytes kept away from the store: whoever
// holds both the key and a hash can try all 10^6 codes. code is hashed as
// given; pass the code [NewCode] returned, and check what a person types
// with [CodeMatches].
func HashCode(key []byte, challengeID, code string) []byte {
	mac := hmac.New(sha256.New, key)
	for _, field := range [...]string{codeDomain, challengeID, code} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(field)))
		mac.Write(n[:])
		mac.Write([]byte(field))
	}
	return mac.Sum(nil)
}

// CodeMatches reports whether code, as a person typed it, is the code whose
// [HashCode] under key for challengeID is hash. It first applies
// [NormaliseCode]; input that is not a code never matches. The hashes are
// compared in constant time, and the hash is computed whether or not the
// input looked like a code, so the time taken says nothing about the
// stored code.
func CodeMatches(key []byte, challengeID, code string, hash []byte) bool {
	normal, ok := NormaliseCode(code)
	if !ok {
		// Do the same work on a placeholder; ok keeps it from matching.
		normal = strings.Repeat("0", CodeDigits)
	}
	equal := hmac.Equal(HashCode(key, challengeID, normal), hash)
	return equal && ok
}

// NormaliseCode turns what a person typed into a code: it removes white
// space and '-' (people type "123 456", paste "123-456\n"), then requires
// exactly [CodeDigits] ASCII digits. Other digits, such as Arabic-Indic
// or fullwidth ones, are not accepted. It returns the bare digits and true,
// or "" and false.
func NormaliseCode(code string) (string, bool) {
	if len(code) > maxTypedCode {
		return "", false
	}
	var b strings.Builder
	b.Grow(CodeDigits)
	for _, r := range code {
		switch {
		case r == '-' || unicode.IsSpace(r):
			continue
		case r < '0' || r > '9' || b.Len() == CodeDigits:
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != CodeDigits {
		return "", false
	}
	return b.String(), true
}
