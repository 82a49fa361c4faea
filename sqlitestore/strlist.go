package sqlitestore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// String lists.
//
// Hashes, keys and reasons are stored as JSON arrays of strings, the form
// encoding/json gives them, and the text columns of events are read packed
// into one JSON array by SQLite's json_array (see eventReadCols). Both
// writers put no space in an array, so a small decoder reads both: a string
// without escapes becomes a substring of the array's text, which costs no
// allocation, and escapes are decoded as encoding/json decodes them. Unlike
// encoding/json, it keeps bytes that are not valid UTF-8 as they are: SQLite
// copies them from a TEXT value into its JSON as they are, and
// encoding/json never writes them. Anything else — a space, a null, a
// number — is left to encoding/json.
//
// Encoding has a fast path too, for lists of plain ASCII strings, which
// need no escape — hex hashes, lookup keys, reason names — and falls back to
// json.Marshal otherwise; both write the same bytes.

// encodeStrings returns the stored form of a string slice: its JSON array,
// or nil (NULL) when it is empty.
func encodeStrings(v []string) any {
	if len(v) == 0 {
		return nil
	}
	return stringsJSON(v)
}

// stringsJSON returns v as a JSON array, "[]" when it is empty, byte for
// byte as json.Marshal writes it.
func stringsJSON(v []string) string {
	n := 2 // the brackets
	for _, s := range v {
		if !plainJSON(s) {
			b, _ := json.Marshal(v) // it cannot fail on strings
			return string(b)
		}
		n += len(s) + 3 // the quotes and a comma
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('[')
	for i, s := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(s)
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String()
}

// plainJSON reports whether json.Marshal writes s as it is between quotes:
// whether s is printable ASCII or DEL without '"', '\\', '<', '>' or '&'.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x80, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// decodeStrings is the inverse of encodeStrings, s being the stored text
// ("" for NULL); it returns nil for an empty list.
func decodeStrings(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	if v, ok := appendStrings(nil, s); ok {
		return v, nil
	}
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("decode string list: %w", err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

// appendStrings appends to dst the strings of s, a JSON array of strings
// without spaces, and reports whether s was one; dst is returned unchanged
// for "[]". Strings without escapes are substrings of s. It reports false
// for anything else, valid JSON or not.
func appendStrings(dst []string, s string) ([]string, bool) {
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, false
	}
	body := s[1 : len(s)-1]
	if body == "" {
		return dst, true
	}
	if hasControl(body) { // a JSON string holds them escaped
		return nil, false
	}
	if dst == nil {
		// Strings are separated by `","` unless one holds it.
		dst = make([]string, 0, strings.Count(body, `","`)+1)
	}
	for {
		if body == "" || body[0] != '"' {
			return nil, false
		}
		v, rest, ok := parseString(body[1:])
		if !ok {
			return nil, false
		}
		dst = append(dst, v)
		if rest == "" {
			return dst, true
		}
		if rest[0] != ',' {
			return nil, false
		}
		body = rest[1:]
	}
}

// parseString parses a JSON string without its opening quote at the start
// of s: it returns the string and what follows its closing quote.
func parseString(s string) (v, rest string, ok bool) {
	end := strings.IndexByte(s, '"')
	if end < 0 {
		return "", "", false
	}
	if strings.IndexByte(s[:end], '\\') < 0 {
		return s[:end], s[end+1:], true
	}
	b := make([]byte, 0, end+8)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			return string(b), s[i+1:], true
		case c != '\\':
			b = append(b, c)
			i++
			continue
		case i+1 == len(s):
			return "", "", false
		}
		// An escape.
		i += 2
		switch s[i-1] {
		case '"', '\\', '/':
			b = append(b, s[i-1])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(s[i:])
			if !ok {
				return "", "", false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				// A pair makes one rune; anything else is invalid, as
				// encoding/json has it.
				r2, ok := rune(-1), false
				if len(s) >= i+6 && s[i] == '\\' && s[i+1] == 'u' {
					r2, ok = hex4(s[i+2:])
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", "", false
		}
	}
	return "", "", false
}

// hex4 parses the four hex digits at the start of s.
func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(s[:4], 16, 16)
	return rune(v), err == nil
}

// hasControl reports whether s holds a byte below ' ' (0x20), which a JSON
// string cannot hold as it is. It looks at eight bytes at a time.
func hasControl(s string) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for len(s) >= 8 {
		x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		// A byte below 0x20 keeps its high bit clear in x and sets it in
		// x - 0x20; the subtraction borrows across bytes only from such a
		// byte.
		if (x-ones*0x20)&^x&highs != 0 {
			return true
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 {
			return true
		}
	}
	return false
}
