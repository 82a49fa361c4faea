package atod

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seedPath is a verbatim copy of the seed document, whose curl commands
// are the simplest real client of the hosted API; sharedSeed is the
// original, beside the repository, when it is there.
const (
	seedPath   = "testdata/seed.md"
	sharedSeed = "../../../shared/seed/account-takeover-custom-implementation.md"
)

// curl is one curl command of the seed.
type curl struct {
	method, url, data string
	headers           []string
}

// seedCurls returns the curl commands of the seed's bash blocks, in order.
func seedCurls(t *testing.T, doc string) []curl {
	var out []curl
	in := false
	var cmd strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		switch {
		case strings.HasPrefix(line, "```bash"):
			in = true
			cmd.Reset()
		case in && strings.HasPrefix(line, "```"):
			in = false
			if s := cmd.String(); strings.HasPrefix(strings.TrimSpace(s), "curl ") {
				out = append(out, parseCurl(t, s))
			}
		case in:
			cmd.WriteString(strings.TrimSuffix(line, "\\"))
			cmd.WriteString(" ")
		}
	}
	return out
}

// parseCurl reads the words of a curl command line: -X, -H, -d and the
// URL, with the shell's single and double quotes.
func parseCurl(t *testing.T, s string) curl {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			require.GreaterOrEqual(t, j, 0, "unterminated quote in %s", s)
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	require.Equal(t, "curl", words[0])
	c := curl{method: "GET"}
	for i := 1; i < len(words); i++ {
		switch words[i] {
		case "-X":
			i++
			c.method = words[i]
		case "-H":
			i++
			c.headers = append(c.headers, words[i])
		case "-d":
			i++
			c.data = words[i]
		default:
			require.True(t, strings.HasPrefix(words[i], "https://"), "unexpected curl word %q", words[i])
			c.url = words[i]
		}
	}
	return c
}

func TestSeedCopy(t *testing.T) {
	t.Parallel()
	shared, err := os.ReadFile(sharedSeed)
	if err != nil {
		t.Skip("the shared seed is not beside the repository")
	}
	copied, err := os.ReadFile(seedPath)
	require.NoError(t, err)
	assert.Equal(t, string(shared), string(copied), "testdata/seed.md must be a verbatim copy of the seed")
}

// TestSeedCurl runs the seed's four curl commands, as written, against
// atod: only the host and the secret change, and the placeholders that
// stand for an earlier answer (CHALLENGE_ID, the code 123456) take it.
// Before them, USER_ID logs in once from another device, so that the
// seed's login is a new device on an unknown network (its ip is
// "IP_ADDRESS"): a challenge. After them, the same login is allowed.
func TestSeedCurl(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(seedPath)
	require.NoError(t, err)
	curls := seedCurls(t, string(doc))
	require.Len(t, curls, 4, "evaluate, send, verify, complete")
	for i, suffix := range []string{"/v2/devices/evaluate", "/send", "/verify", "/complete"} {
		require.True(t, strings.HasSuffix(curls[i].url, suffix), curls[i].url)
	}

	f := newFixture(t)
	ts := httptest.NewServer(f.h)
	t.Cleanup(ts.Close)
	run := func(c curl, challengeID, code string) map[string]any {
		t.Helper()
		url := strings.Replace(c.url, "https://api.rupt.com", ts.URL, 1)
		url = strings.Replace(url, "CHALLENGE_ID", challengeID, 1)
		data := strings.Replace(c.data, `"123456"`, `"`+code+`"`, 1)
		var body io.Reader
		if c.data != "" {
			body = bytes.NewReader([]byte(data))
		}
		req, err := http.NewRequest(c.method, url, body)
		require.NoError(t, err)
		for _, h := range c.headers {
			k, v, _ := strings.Cut(h, ": ")
			req.Header.Set(k, strings.Replace(v, "API_SECRET", testKey, 1))
		}
		resp, err := ts.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s %s: %v", c.method, url, out)
		return out
	}

	f.evaluate(map[string]any{"user": "USER_ID", "fingerprint": laptop, "ip": "203.0.113.9"})
	ev := run(curls[0], "", "")
	require.Equal(t, "challenge", ev["verdict"], "%v", ev)
	assert.Equal(t, []any{"new_device", "new_ip"}, ev["reasons"])
	id := ev["challenge_id"].(string)
	assert.Equal(t, true, run(curls[1], id, "")["success"])
	m, ok := f.outbox.Last(id)
	require.True(t, ok)
	assert.Equal(t, "EMAIL", m.To, "the seed gives no channel: email, to its email")
	assert.Equal(t, true, run(curls[2], id, m.Code)["success"])
	assert.Equal(t, true, run(curls[3], id, "")["success"])
	again := run(curls[0], "", "")
	assert.Equal(t, "allow", again["verdict"], "%v", again)
}
