package atod

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MinKeyLen is the shortest API secret atod accepts.
const MinKeyLen = 16

// keyring holds the API secrets a request may present, several at once so
// that a secret can be rotated: add the new one, move the clients, drop
// the old one. It keeps only their SHA-256 digests.
type keyring struct {
	digests [][sha256.Size]byte
}

// newKeyring checks the secrets and keeps their digests.
func newKeyring(keys []string) (*keyring, error) {
	k := &keyring{}
	for i, key := range keys {
		if len(key) < MinKeyLen {
			return nil, fmt.Errorf("API secret %d of %d is %d characters; at least %d are needed (make one with: openssl rand -hex 32)", i+1, len(keys), len(key), MinKeyLen)
		}
		if strings.ContainsAny(key, " \t\r\n") {
			return nil, fmt.Errorf("API secret %d of %d holds white space", i+1, len(keys))
		}
		k.digests = append(k.digests, sha256.Sum256([]byte(key)))
	}
	if len(k.digests) == 0 {
		return nil, errNoKeys
	}
	return k, nil
}

var errNoKeys = errors.New("no API secret configured")

// allows reports whether the Authorization header value presents one of
// the secrets as a Bearer token. The comparison is in constant time, over
// digests (so the secrets' lengths do not show either), and always checks
// every secret.
func (k *keyring) allows(header string) bool {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return false
	}
	d := sha256.Sum256([]byte(token))
	match := 0
	for i := range k.digests {
		match |= subtle.ConstantTimeCompare(d[:], k.digests[i][:])
	}
	return match == 1
}

// parseKeys splits the secrets of ATOD_API_KEYS (comma-separated).
func parseKeys(s string) []string {
	var out []string
	for _, k := range strings.Split(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// readKeys reads a secrets file: one secret a line; blank lines and lines
// starting with '#' are skipped.
func readKeys(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out, sc.Err()
}
