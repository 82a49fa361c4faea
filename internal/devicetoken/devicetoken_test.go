package devicetoken_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/ato/internal/devicetoken"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	key   = devicetoken.NewKey([]byte("the engine's secret, 32 bytes or more"))
	other = devicetoken.NewKey([]byte("another engine's secret, 32 bytes too"))
	now   = time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
)

func TestIssueAndCheck(t *testing.T) {
	tok := devicetoken.Issue(&key, "alice", "dev-1", now)
	id, issued, ok := devicetoken.Check(&key, "alice", tok, now.Add(time.Hour))
	require.True(t, ok)
	assert.Equal(t, "dev-1", id)
	assert.Equal(t, now, issued)
	assert.Less(t, len(tok), 80, "a cookie's worth")
	assert.NotContains(t, tok, "alice", "the user is not in the token")
}

func TestCannotBeForgedOrMoved(t *testing.T) {
	tok := devicetoken.Issue(&key, "alice", "dev-1", now)
	for name, c := range map[string]struct {
		key         *devicetoken.Key
		user, token string
	}{
		"another user":          {&key, "bob", tok},
		"another engine secret": {&other, "alice", tok},
		"made up":               {&key, "alice", "AQABZGV2LTEAAAAAAAAAAAAAAAAAAAAA"},
		"empty":                 {&key, "alice", ""},
		"not base64":            {&key, "alice", "!!!"},
		"too long":              {&key, "alice", strings.Repeat("A", devicetoken.MaxLen+1)},
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
		if _, _, ok := devicetoken.Check(&key, "alice", string(flipped), now); ok {
			t.Errorf("a token with byte %d changed checks", i)
		}
	}
	// A user name that ends where the body begins cannot pass for another.
	t1 := devicetoken.Issue(&key, "al", "dev-1", now)
	_, _, ok := devicetoken.Check(&key, "al\x01", t1, now)
	assert.False(t, ok)
}

func TestAge(t *testing.T) {
	tok := devicetoken.Issue(&key, "alice", "dev-1", now)
	_, _, ok := devicetoken.Check(&key, "alice", tok, now.Add(devicetoken.MaxAge+time.Second))
	assert.False(t, ok, "too old")
	_, _, ok = devicetoken.Check(&key, "alice", tok, now.Add(-time.Hour))
	assert.False(t, ok, "issued an hour in the future")
}

// The MAC is HMAC-SHA256 as the standard library computes it.
func TestMACIsHMAC(t *testing.T) {
	secret := []byte("the engine's secret, 32 bytes or more")
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("ato device token v1"))
	k := m.Sum(nil)
	tok := devicetoken.Issue(&key, "alice", "dev-1", now)
	b, err := base64.RawURLEncoding.DecodeString(tok)
	require.NoError(t, err)
	body, sum := b[:len(b)-16], b[len(b)-16:]
	h := hmac.New(sha256.New, k)
	h.Write([]byte{5})
	h.Write([]byte("alice"))
	h.Write(body)
	assert.Equal(t, h.Sum(nil)[:16], sum)
}

func TestNoAllocations(t *testing.T) {
	tok := devicetoken.Issue(&key, "alice", "dev-1", now)
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() { devicetoken.Issue(&key, "alice", "dev-1", now) }), "the string")
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() { devicetoken.Check(&key, "alice", tok, now) }), "the device id")
}

func FuzzCheck(f *testing.F) {
	f.Add("alice", devicetoken.Issue(&key, "alice", "dev-1", now))
	f.Add("", "AQ")
	f.Fuzz(func(t *testing.T, user, token string) {
		id, _, ok := devicetoken.Check(&key, user, token, now)
		if ok && devicetoken.Issue(&key, user, id, now) == "" {
			t.Fatal("unreachable")
		}
	})
}
