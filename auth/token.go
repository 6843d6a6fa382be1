package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"

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

// tokenEncoding decodes tokens: unpadded base64url, strict (unused bits
// zero, no line breaks skipped), so each token has one spelling. Made once:
// Strict copies the encoding, tables and all, on every call.
var tokenEncoding = base64.RawURLEncoding.Strict()

// decodeToken returns a token's raw bytes, or false when it is not well
// formed.
func decodeToken(token string) (raw [tokenBytes]byte, ok bool) {
	if len(token) != tokenLen {
		return raw, false
	}
	n, err := tokenEncoding.Decode(raw[:], []byte(token))
	return raw, err == nil && n == tokenBytes
}

// tokenHash is what is stored in place of a token: HMAC-SHA-256 (RFC 2104)
// under a key derived from the secret key. The token's 256 bits of entropy
// already keep the hash from being reversed; the key is there so that
// someone who can write the database but lacks the key cannot store a hash
// of a token of their choosing and so mint a session (invariant 4; OWASP
// ASVS 5.0 V7.2.3, NIST SP 800-63B 7.1: only a keyed hash of the session
// secret is stored).
//
// It is crypto/hmac, one instance per goroutine at a time from a pool
// (tokenMACs): a fresh one per call allocates its two hash states and
// hashes both padded keys again, and Authenticate runs this on every
// request; a reused one restores the padded keys' saved states on Reset.
func (k *keySet) tokenHash(raw *[tokenBytes]byte) [sha256.Size]byte {
	t, _ := k.tokenMACs.Get().(*tokenMAC)
	if t == nil {
		t = &tokenMAC{h: hmac.New(sha256.New, k.session)}
	}
	// The input and the sum live in t, which is already on the heap, so
	// that passing them to the hash.Hash interface moves nothing of the
	// caller's there.
	t.in = *raw
	t.h.Reset()
	t.h.Write(t.in[:])
	sum := [sha256.Size]byte(t.h.Sum(t.sum[:0]))
	k.tokenMACs.Put(t)
	return sum
}

// tokenMAC is one pooled HMAC of a keySet's session key, with room for
// its input and its sum. A goroutine holds it from Get to Put, alone.
type tokenMAC struct {
	h   hash.Hash
	in  [tokenBytes]byte
	sum [sha256.Size]byte
}

// SessionLookupInto is an optional interface of a [SessionStore]:
// Lookup into values the caller provides, so that [Manager.Authenticate]
// reads the session, its user and its group straight into the
// [Principal] it returns, in one allocation instead of one for the store's
// results and one for the Principal. A store without it is asked Lookup,
// and its results are copied.
type SessionLookupInto interface {
	// LookupInto reads into s, u and g what Lookup returns, with the same
	// errors. The caller passes them zero; on success every field that
	// Lookup would set is set, and on error none of them may be used.
	// g.Permissions may be shared with other lookups (one list per
	// distinct stored list, say): the caller only reads it, and a store
	// that shares it never changes it. Safe for concurrent use (with
	// distinct s, u and g).
	LookupInto(ctx context.Context, tokenHash []byte, s *Session, u *user.User, g *group.Group) error
}

// sessionRead is what lookupSession reads, in one allocation: the
// Principal that Authenticate returns, with its session, user and group
// filled in place, and the hash of the token, which the store is given as
// a slice (and so must not live on the caller's stack).
type sessionRead struct {
	p    Principal
	hash [sha256.Size]byte
}

// lookupSession finds the session of the token raw decodes from and
// reads it, its user and their group into r.p: one indexed lookup of its
// hash under the current key and, only when that finds nothing, one under
// each previous key, so that rotating the key logs nobody out while the
// old key is kept (sessions under it are not re-hashed; they end at their
// expiry).
func (m *Manager) lookupSession(ctx context.Context, raw *[tokenBytes]byte, r *sessionRead) error {
	r.hash = m.keys.current.tokenHash(raw)
	err := m.readSession(ctx, r)
	for _, k := range m.keys.previous {
		if !errors.Is(err, ErrSessionNotFound) {
			break
		}
		r.p, r.hash = Principal{}, k.tokenHash(raw)
		err = m.readSession(ctx, r)
	}
	return err
}

// readSession looks r.hash up in the store, into r.p.
func (m *Manager) readSession(ctx context.Context, r *sessionRead) error {
	ss := m.store.Sessions()
	if into, ok := ss.(SessionLookupInto); ok {
		return into.LookupInto(ctx, r.hash[:], &r.p.session, &r.p.user, &r.p.group)
	}
	s, u, g, err := ss.Lookup(ctx, r.hash[:])
	if err != nil {
		return err
	}
	r.p.session, r.p.user, r.p.group = *s, *u, *g
	return nil
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
