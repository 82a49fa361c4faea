package sqlitestore

import (
	"database/sql"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stringsSeeds are awkward strings for the string list tests.
var stringsSeeds = []string{
	"", "a", "abc0123456789def", `"`, `\`, `\"`, "<>&", "a,b", `","`, "[x]",
	"\x00", "\x1f", "\x7f", "é", "\u2028\u2029", "\U0001F600", "\xff", "a\xc3", "\xed\xa0\x80",
	strings.Repeat("0123456789abcdef", 130),
}

// jsonDecode decodes s as encoding/json does, with an empty list as nil.
func jsonDecode(s string) ([]string, error) {
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, err
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

func TestStringsJSONLikeEncodingJSON(t *testing.T) {
	for _, a := range stringsSeeds {
		for _, b := range stringsSeeds {
			v := []string{a, b}
			want, err := json.Marshal(v)
			require.NoError(t, err)
			got := stringsJSON(v)
			require.Equal(t, string(want), got, "%q", v)
			dec, err := decodeStrings(got)
			require.NoError(t, err)
			wantDec, err := jsonDecode(got)
			require.NoError(t, err)
			require.Equal(t, wantDec, dec, "%q", got)
		}
	}
	assert.Equal(t, "[]", stringsJSON(nil))
	assert.Nil(t, encodeStrings(nil), "an empty list is stored as NULL")
	assert.Nil(t, encodeStrings([]string{}))
}

func TestDecodeStrings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"[]", nil},
		{"null", nil},
		{`[""]`, []string{""}},
		{`["a","b"]`, []string{"a", "b"}},
		{` [ "a" , "b" ] `, []string{"a", "b"}},
		{`["a\"b","c\\d","\u00e9\n","\ud83d\ude00","\ud800x"]`, []string{`a"b`, `c\d`, "é\n", "\U0001F600", "\uFFFDx"}},
		{`["a,b","c]"]`, []string{"a,b", "c]"}},
	} {
		got, err := decodeStrings(tc.in)
		require.NoError(t, err, "%q", tc.in)
		assert.Equal(t, tc.want, got, "%q", tc.in)
	}
	for _, bad := range []string{"[", `["a"`, `["a",]`, `["a""b"]`, `[1]`, `["\x"]`, "[\"\x01\"]", `{}`} {
		_, err := decodeStrings(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestPlainStringsShareTheText(t *testing.T) {
	s := `["abc","def"]`
	v, ok := appendStrings(nil, s)
	require.True(t, ok)
	require.Equal(t, []string{"abc", "def"}, v)
	assert.Equal(t, 0.0, testing.AllocsPerRun(100, func() {
		var buf [2]string
		appendStrings(buf[:0], s)
	}), "strings without escapes are substrings of the text")
}

// FuzzStringLists checks that stringsJSON writes what json.Marshal writes,
// and that decodeStrings reads it back as encoding/json does.
func FuzzStringLists(f *testing.F) {
	for i, s := range stringsSeeds {
		f.Add(s, stringsSeeds[(i+1)%len(stringsSeeds)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, v := range [][]string{{a}, {a, b}, {b, a, ""}} {
			want, err := json.Marshal(v)
			require.NoError(t, err)
			enc := stringsJSON(v)
			require.Equal(t, string(want), enc)
			dec, err := decodeStrings(enc)
			require.NoError(t, err)
			wantDec, err := jsonDecode(enc)
			require.NoError(t, err)
			require.Equal(t, wantDec, dec)
		}
	})
}

// FuzzDecodeStrings checks decodeStrings on any text against encoding/json,
// which it agrees with on valid UTF-8: it keeps invalid bytes as they are,
// where encoding/json replaces them.
func FuzzDecodeStrings(f *testing.F) {
	for _, s := range []string{`[]`, `["a"]`, `["a","b"]`, `["\"\\\/\b\f\n\r\t"]`, `["\u0041\ud83d\ude00\udc00"]`,
		`[ "a" ]`, `null`, `["a",1]`, `["a"`, "[\"\xff\"]", "[\"\x01\"]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := decodeStrings(s)
		if s == "" || !utf8.ValidString(s) {
			return // NULL; or bytes encoding/json would replace
		}
		want, wantErr := jsonDecode(s)
		if wantErr != nil {
			require.Error(t, err, "encoding/json refuses %q", s)
			return
		}
		require.NoError(t, err, "encoding/json accepts %q", s)
		require.Equal(t, want, got)
	})
}

// FuzzSQLiteJSONArray checks that appendStrings reads back exactly the TEXT
// values that SQLite's json_array packs, whatever their bytes, as
// scanEvents reads an event's text columns.
func FuzzSQLiteJSONArray(f *testing.F) {
	for i, s := range stringsSeeds {
		f.Add(s, stringsSeeds[(i+3)%len(stringsSeeds)])
	}
	db, err := sql.Open("sqlite", ":memory:")
	require.NoError(f, err)
	defer db.Close()
	st, err := db.Prepare(`SELECT json_array(?1, ?2, ?1)`)
	require.NoError(f, err)
	defer st.Close()
	f.Fuzz(func(t *testing.T, a, b string) {
		var packed string
		require.NoError(t, st.QueryRow(a, b).Scan(&packed))
		got, ok := appendStrings(nil, packed)
		require.True(t, ok, "%q", packed)
		require.Equal(t, []string{a, b, a}, got, "%q", packed)
	})
}

func TestHasControl(t *testing.T) {
	for _, s := range append(stringsSeeds, "abcdefgh\x1f", "abcdefg\x00h", "\x20\x20\x20\x20\x20\x20\x20\x20\x1f", "\x80\x80\x80\x80\x80\x80\x80\x80\x9f") {
		want := strings.IndexFunc(s, func(r rune) bool { return r < 0x20 }) >= 0
		assert.Equal(t, want, hasControl(s), "%q", s)
	}
}
