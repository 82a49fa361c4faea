package devicetoken_test

import (
	"strings"
	"testing"
	"time"

	"github.com/atoguard/ato/internal/devicetoken"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	key   = devicetoken.Key([]byte("the engine's secret, 32 bytes or more"))
	other = devicetoken.Key([]byte("another engine's secret, 32 bytes too"))
	now   = time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
)

func TestIssueAndCheck(t *testing.T) {
	tok := devicetoken.Issue(key, "alice", "dev-1", now)
	id, issued, ok := devicetoken.Check(key, "alice", tok, now.Add(time.Hour))
	require.True(t, ok)
	assert.Equal(t, "dev-1", id)
	assert.Equal(t, now, issued)
	assert.Less(t, len(tok), 80, "a cookie's worth")
	assert.NotContains(t, tok, "alice", "the user is not in the token")
}

func TestCannotBeForgedOrMoved(t *testing.T) {
	tok := devicetoken.Issue(key, "alice", "dev-1", now)
	for name, c := range map[string]struct {
		key         []byte
		user, token string
	}{
		"another user":          {key, "bob", tok},
		"another engine secret": {other, "alice", tok},
		"made up":               {key, "alice", "AQABZGV2LTEAAAAAAAAAAAAAAAAAAAAA"},
		"empty":                 {key, "alice", ""},
		"not base64":            {key, "alice", "!!!"},
		"too long":              {key, "alice", strings.Repeat("A", devicetoken.MaxLen+1)},
	} {
		_, _, ok := devicetoken.Check(c.key, c.user, c.token, now)
		assert.False(t, ok, name)
	}
	// Another device's id in a token of alice's: every byte of the token
	// is under the MAC.
	b := []byte(tok)
	for i := range b {
		flipped := append([]byte(nil), b...)
		flipped[i] ^= 1
		if _, _, ok := devicetoken.Check(key, "alice", string(flipped), now); ok {
			t.Errorf("a token with byte %d changed checks", i)
		}
	}
	// A user name that ends where the body begins cannot pass for another.
	t1 := devicetoken.Issue(key, "al", "dev-1", now)
	_, _, ok := devicetoken.Check(key, "al\x01", t1, now)
	assert.False(t, ok)
}

func TestAge(t *testing.T) {
	tok := devicetoken.Issue(key, "alice", "dev-1", now)
	_, _, ok := devicetoken.Check(key, "alice", tok, now.Add(devicetoken.MaxAge+time.Second))
	assert.False(t, ok, "too old")
	_, _, ok = devicetoken.Check(key, "alice", tok, now.Add(-time.Hour))
	assert.False(t, ok, "issued an hour in the future")
}

func FuzzCheck(f *testing.F) {
	f.Add("alice", devicetoken.Issue(key, "alice", "dev-1", now))
	f.Add("", "AQ")
	f.Fuzz(func(t *testing.T, user, token string) {
		id, _, ok := devicetoken.Check(key, user, token, now)
		if ok && devicetoken.Issue(key, user, id, now) == "" {
			t.Fatal("unreachable")
		}
	})
}
