// Package devicetoken issues and checks the device tokens of ato: an opaque
// string the engine gives a browser after a login that taught its device,
// which the application keeps in a long-lived HttpOnly cookie and sends
// back with every attempt.
//
// A token names the device and the time it was issued, and carries a
// keyed MAC (HMAC-SHA256 under a key made from the engine's secret,
// truncated to 128 bits) over them and the user it was issued to. So it
// cannot be forged, or moved to another device or another user: it checks
// only for the user and the device it names. It is stateless: the engine
// stores only when it last issued one for a device (to tell a browser that
// lost its token), never the token. Tokens older than MaxAge, or issued in
// the future, do not check.
//
// The encoding is base64url (no padding) of: a version byte (1), the issue
// time as a uvarint of unix seconds, the device id's length as a uvarint
// and its bytes, then the 16 bytes of the MAC.
package devicetoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// MaxAge is how long a token checks after it was issued: the longest
// lifetime browsers give a cookie (400 days).
const MaxAge = 400 * 24 * time.Hour

// MaxLen is the longest token Check reads; longer input does not check.
const MaxLen = 512

const (
	version = 1
	macLen  = 16
	// skew is how far in the future an issue time may be (clocks of
	// several instances disagree a little).
	skew = 5 * time.Minute
)

// Key is the key of the tokens, made from the engine's secret by
// [NewKey]: HMAC-SHA256's inner and outer pads, computed once, so that
// issuing and checking a token allocate nothing for the MAC.
type Key struct {
	ipad, opad [sha256.BlockSize]byte
}

// NewKey derives the key of the tokens from the engine's secret, so that a
// token's MAC is never a MAC the engine makes for anything else.
func NewKey(secret []byte) Key {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("ato device token v1"))
	k := m.Sum(nil) // 32 bytes: shorter than a block, used as is
	var key Key
	for i := range key.ipad {
		var b byte
		if i < len(k) {
			b = k[i]
		}
		key.ipad[i], key.opad[i] = b^0x36, b^0x5c
	}
	return key
}

// Issue returns a token for the device of the user, issued at the time.
func Issue(key *Key, user, deviceID string, at time.Time) string {
	var buf [160]byte
	b := buf[:0]
	b = append(b, version)
	b = binary.AppendUvarint(b, uint64(max(at.Unix(), 0)))
	b = binary.AppendUvarint(b, uint64(len(deviceID)))
	b = append(b, deviceID...)
	sum := key.mac(user, b)
	b = append(b, sum[:macLen]...)
	var out [224]byte
	n := base64.RawURLEncoding.EncodedLen(len(b))
	if n > len(out) {
		return base64.RawURLEncoding.EncodeToString(b)
	}
	base64.RawURLEncoding.Encode(out[:n], b)
	return string(out[:n])
}

// Check returns the device the token names, and when it was issued, if the
// token is one Issue made for the user and it is neither too old nor from
// the future at now; ok is false otherwise, whatever was wrong with it.
func Check(key *Key, user, token string, now time.Time) (deviceID string, issued time.Time, ok bool) {
	if token == "" || len(token) > MaxLen {
		return "", time.Time{}, false
	}
	var buf [MaxLen]byte
	n, err := base64.RawURLEncoding.Decode(buf[:], []byte(token))
	b := buf[:n]
	if err != nil || len(b) < 1+1+1+macLen || b[0] != version {
		return "", time.Time{}, false
	}
	body, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	rest := body[1:]
	secs, k := binary.Uvarint(rest)
	if k <= 0 || secs > 1<<40 {
		return "", time.Time{}, false
	}
	rest = rest[k:]
	l, k := binary.Uvarint(rest)
	if k <= 0 || l != uint64(len(rest)-k) || l == 0 {
		return "", time.Time{}, false
	}
	want := key.mac(user, body)
	if !hmac.Equal(sum, want[:macLen]) {
		return "", time.Time{}, false
	}
	issued = time.Unix(int64(secs), 0).UTC()
	if issued.After(now.Add(skew)) || now.Sub(issued) > MaxAge {
		return "", time.Time{}, false
	}
	return string(rest[k:]), issued, true
}

// mac is the HMAC-SHA256 of the user and the token's body. The user comes
// with its length, so that no two (user, body) pairs share an input.
func (key *Key) mac(user string, body []byte) [sha256.Size]byte {
	var stack [sha256.BlockSize + binary.MaxVarintLen64 + 512]byte
	in := append(stack[:0], key.ipad[:]...)
	in = binary.AppendUvarint(in, uint64(len(user)))
	in = append(in, user...)
	in = append(in, body...)
	inner := sha256.Sum256(in)
	var outer [sha256.BlockSize + sha256.Size]byte
	copy(outer[:], key.opad[:])
	copy(outer[sha256.BlockSize:], inner[:])
	return sha256.Sum256(outer[:])
}
