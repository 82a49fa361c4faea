package challenge

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MinSealKeySize is the shortest key [SealSecret] and [OpenSecret] accept.
const MinSealKeySize = 16

// sealLabel separates the sealing key from every other use of the key.
const sealLabel = "ato totp seal v1"

// Sealing errors, matched with errors.Is.
var (
	// ErrShortKey is returned for a key shorter than [MinSealKeySize].
	ErrShortKey = errors.New("challenge: key too short")
	// ErrSealed is returned by [OpenSecret] for sealed bytes that were not
	// made by [SealSecret] under the same key, or were changed since.
	ErrSealed = errors.New("challenge: sealed secret is damaged or under another key")
)

// SealSecret encrypts plain, such as a [TOTPKey] secret, so that it is
// never stored in plain text. It uses AES-256-GCM under a key derived from
// key as HMAC-SHA256(key, "ato totp seal v1"), with a random nonce put in
// front of the ciphertext; sealing the same secret twice gives different
// bytes. key should be at least 32 random bytes kept away from the store.
//
// bound names what the secret belongs to (a user and a factor, say); it is
// not stored, but authenticated: [OpenSecret] must be given the same, so
// that someone who can write the store cannot move a sealed secret from
// one user to another.
func SealSecret(key, plain, bound []byte) ([]byte, error) {
	aead, err := sealAEAD(key)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nil, nil, plain, bound), nil
}

// OpenSecret decrypts what [SealSecret] sealed under the same key and
// bound. Any change to sealed, another key or another bound gives an error
// matching [ErrSealed].
func OpenSecret(key, sealed, bound []byte) ([]byte, error) {
	aead, err := sealAEAD(key)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, nil, sealed, bound)
	if err != nil {
		return nil, ErrSealed
	}
	return plain, nil
}

// sealAEAD returns AES-256-GCM with random nonces under the key derived
// from key.
func sealAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) < MinSealKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want at least %d", ErrShortKey, len(key), MinSealKeySize)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(sealLabel))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("challenge: seal: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("challenge: seal: %w", err)
	}
	return aead, nil
}
