package auth

import (
	"crypto/sha256"
	"encoding/base64"
)

// tokenBytes is the entropy of session and challenge tokens: 256 bits
// (OWASP ASVS 5.0 V7.2.3 asks for at least 128).
const tokenBytes = 32

// tokenLen is the length of an encoded token.
var tokenLen = base64.RawURLEncoding.EncodedLen(tokenBytes)

// newToken returns a fresh token and the hash that is stored in its place.
func (m *Manager) newToken() (token string, hash []byte, err error) {
	b, err := m.randomBytes(tokenBytes)
	if err != nil {
		return "", nil, err
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token), nil
}

// hashToken returns SHA-256 of the token's raw bytes, or nil when token is
// not well formed. A plain hash suffices: the token has 256 bits of entropy,
// so the hash cannot be reversed by guessing.
func hashToken(token string) []byte {
	if len(token) != tokenLen {
		return nil
	}
	var raw [tokenBytes]byte
	n, err := base64.RawURLEncoding.Strict().Decode(raw[:], []byte(token))
	if err != nil || n != tokenBytes {
		return nil
	}
	sum := sha256.Sum256(raw[:])
	return sum[:]
}

// newBearer returns a fresh token, the hash stored in its place, and a
// random ID for the record that holds it (a session or a challenge).
func (m *Manager) newBearer() (token string, hash []byte, id string, err error) {
	if token, hash, err = m.newToken(); err != nil {
		return "", nil, "", err
	}
	if id, err = m.newID(); err != nil {
		return "", nil, "", err
	}
	return token, hash, id, nil
}
