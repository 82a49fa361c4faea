package id

import (
	"regexp"
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
