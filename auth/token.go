package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
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
	raw := (*[tokenBytes]byte)(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	h := m.keys.current.tokenHash(raw)
	return token, h[:], nil
}

// decodeToken returns a token's raw bytes, or false when it is not well
// formed.
func decodeToken(token string) (raw [tokenBytes]byte, ok bool) {
	if len(token) != tokenLen {
		return raw, false
	}
	n, err := base64.RawURLEncoding.Strict().Decode(raw[:], []byte(token))
	return raw, err == nil && n == tokenBytes
}

// tokenHash is what is stored in place of a token: HMAC-SHA-256 (RFC 2104)
// under a key derived from the secret key. The token's 256 bits of entropy
// already keep the hash from being reversed; the key is there so that
// someone who can write the database but lacks the key cannot store a hash
// of a token of their choosing and so mint a session (invariant 4).
//
// It is HMAC spelled out for a 32-byte key and a 32-byte message, on the
// stack: crypto/hmac allocates two hash states per call, and Authenticate
// runs this on every request.
func (k *keySet) tokenHash(raw *[tokenBytes]byte) [sha256.Size]byte {
	var in [sha256.BlockSize + tokenBytes]byte
	var out [sha256.BlockSize + sha256.Size]byte
	for i := range sha256.BlockSize {
		var b byte
		if i < len(k.session) {
			b = k.session[i]
		}
		in[i], out[i] = b^0x36, b^0x5c
	}
	copy(in[sha256.BlockSize:], raw[:])
	inner := sha256.Sum256(in[:])
	copy(out[sha256.BlockSize:], inner[:])
	return sha256.Sum256(out[:])
}

// lookupSession finds the session of token: one indexed lookup of its hash
// under the current key and, only when that finds nothing, one under each
// previous key, so that rotating the key logs nobody out while the old key
// is kept (sessions under it are not re-hashed; they end at their expiry).
// A malformed token is [ErrSessionNotFound].
func (m *Manager) lookupSession(ctx context.Context, token string) (*Session, *user.User, *group.Group, error) {
	raw, ok := decodeToken(token)
	if !ok {
		return nil, nil, nil, ErrSessionNotFound
	}
	h := m.keys.current.tokenHash(&raw)
	s, u, g, err := m.store.Sessions().Lookup(ctx, h[:])
	for _, k := range m.keys.previous {
		if !errors.Is(err, ErrSessionNotFound) {
			break
		}
		h = k.tokenHash(&raw)
		s, u, g, err = m.store.Sessions().Lookup(ctx, h[:])
	}
	return s, u, g, err
}

// challengeHash is the stored hash of a challenge token, under the current
// key only: a challenge lives minutes, and one begun before a rotation is
// simply begun again. Nil when token is malformed.
func (m *Manager) challengeHash(token string) []byte {
	raw, ok := decodeToken(token)
	if !ok {
		return nil
	}
	h := m.keys.current.tokenHash(&raw)
	return h[:]
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
