package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/usher-go/usher/user"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"
)

// hashPrefix marks usher's own format, "$usher2$<key ID>$<bcrypt>": bcrypt
// over base64(HMAC-SHA-256(k, len(user ID) || user ID || password)), k
// derived from the secret key that the key ID names. The pre-hash lets
// passwords of any length up to MaxPasswordBytes count in full (bcrypt reads
// only 72 bytes), and the key keeps a stolen database alone from being
// cracked offline (a "pepper", NIST SP 800-63B 5.1.1.2, OWASP ASVS 5.0
// V11.4.2). The user ID binds the hash to its account: someone who can
// write the database but lacks the key cannot copy a hash whose password
// they know onto another account (invariant 4). The key ID lets a hash made
// under a previous key still verify, and be rehashed under the current one.
const hashPrefix = "$usher2$"

// hashPrefixV1 is the first format, "$usher1$<key ID>$<bcrypt>": the same
// without the user ID, under its own key (so no format-1 hash can be
// relabelled as format 2, or the reverse). Bound to no account, it no
// longer verifies as it is: [New] wraps every one it finds (hashPrefixWrapped).
const hashPrefixV1 = "$usher1$"

// hashPrefixWrapped marks a legacy hash (format 1, or imported plain
// bcrypt) bound to its account after the fact:
// "$usher2w$<key ID>$<mac>$<legacy hash>", mac being base64 (raw, standard
// alphabet: no "$") of HMAC-SHA-256(k, len(user ID) || user ID || legacy
// hash), k derived from the key the key ID names. A format-1 hash is
// wrapped under its own key ID, so the outer key ID names every key the
// hash needs. [New] wraps the legacy hashes it finds, and
// [Manager.ImportPasswordHash] wraps what it imports; an unwrapped
// legacy hash can only have been written behind usher's back, and does not
// verify (invariant 4). A wrapped hash verifies when its mac is the
// account's and the legacy hash verifies, and is rehashed to format 2.
const hashPrefixWrapped = "$usher2w$"

// bcryptMaxInput is how much of a password plain bcrypt reads.
const bcryptMaxInput = 72

type hasher struct {
	keys  *keyring
	cost  int
	dummy string // a hash of a random password, verified for unknown emails
	// topUp holds hashes of a random password at each cost from
	// bcrypt.MinCost to cost-1 (index cost-MinCost), so that a failed
	// comparison against a cheaper stored hash can be brought up to the
	// work of one at cost (see [hasher.fail]).
	topUp []string
	// compare is bcrypt.CompareHashAndPassword; tests count the work through it.
	compare func(hash, password []byte) error
	// generate is bcrypt.GenerateFromPassword; the floor benchmarks set
	// it aside to time what is left of an operation.
	generate func(password []byte, cost int) ([]byte, error)
}

func newHasher(keys *keyring, cost int, rnd io.Reader) (*hasher, error) {
	h := &hasher{keys: keys, cost: cost, compare: bcrypt.CompareHashAndPassword, generate: bcrypt.GenerateFromPassword}
	pw := make([]byte, 24)
	if _, err := io.ReadFull(rnd, pw); err != nil {
		return nil, fmt.Errorf("reading randomness: %w", err)
	}
	random := base64.RawStdEncoding.EncodeToString(pw)
	var err error
	if h.dummy, err = h.hash("", random); err != nil {
		return nil, err
	}
	for c := bcrypt.MinCost; c < cost; c++ {
		b, err := bcrypt.GenerateFromPassword([]byte(random), c)
		if err != nil {
			return nil, fmt.Errorf("auth: hashing password: %w", err)
		}
		h.topUp = append(h.topUp, string(b))
	}
	return h, nil
}

// prehash is HMAC-SHA-256 of the account's user ID, length first, and the
// password in Unicode normalization form NFKC, so the same password typed
// on two keyboards (a precomposed "é" or "e" plus a combining accent,
// full-width digits) verifies (NIST SP 800-63B 5.1.1.2).
func prehash(k *keySet, id user.ID, password string) []byte {
	mac := hmac.New(sha256.New, k.bound)
	mac.Write(binary.AppendUvarint(nil, uint64(len(id))))
	mac.Write([]byte(id))
	mac.Write([]byte(norm.NFKC.String(password)))
	return encodePrehash(mac.Sum(nil))
}

// prehashV1 is the format-1 pre-hash, bound to no account.
func prehashV1(k *keySet, password string) []byte {
	mac := hmac.New(sha256.New, k.password)
	mac.Write([]byte(norm.NFKC.String(password)))
	return encodePrehash(mac.Sum(nil))
}

func encodePrehash(sum []byte) []byte {
	out := make([]byte, base64.StdEncoding.EncodedLen(len(sum))) // 44 bytes, no NUL
	base64.StdEncoding.Encode(out, sum)
	return out
}

// hash returns the stored form of the password of account id.
func (h *hasher) hash(id user.ID, password string) (string, error) {
	k := h.keys.current
	b, err := h.generate(prehash(k, id, password), h.cost)
	if err != nil {
		return "", fmt.Errorf("auth: hashing password: %w", err)
	}
	return hashPrefix + k.id + "$" + string(b), nil
}

// verify reports whether password matches stored, the hash of account id,
// and whether stored should be replaced by a fresh hash (a wrapped legacy
// hash, one under a previous key or below the configured cost). An empty
// or unreadable stored hash, an unwrapped legacy one, or a wrapped one
// whose mac is not this account's, verifies the dummy hash instead, so it
// costs the same and fails; a failure against a hash
// cheaper than the configured cost is topped up to it ([hasher.fail]).
func (h *hasher) verify(id user.ID, stored, password string) (ok, rehash bool) {
	if k, b, found := h.parse(stored, hashPrefix); found {
		ok := h.check(b, prehash(k, id, password))
		return ok, ok && (k != h.keys.current || bcryptCost(b) < h.cost)
	}
	if inner, found := h.unwrap(id, stored); found {
		if ok, legacy := h.verifyLegacy(inner, password); legacy {
			return ok, ok
		}
	}
	h.burn(password)
	return false, false
}

// verifyLegacy verifies password against inner, a format-1 hash or a plain
// bcrypt one, once its binding to the account has been checked; legacy is
// false (and no work done) for anything else.
func (h *hasher) verifyLegacy(inner, password string) (ok, legacy bool) {
	if k, b, found := h.parse(inner, hashPrefixV1); found {
		return h.check(b, prehashV1(k, password)), true
	}
	if isPlainBcrypt(inner) {
		// Imported from a system that hashed the raw password with bcrypt,
		// which only ever read the first 72 bytes.
		pw := []byte(password)
		if len(pw) > bcryptMaxInput {
			pw = pw[:bcryptMaxInput]
		}
		return h.check(inner, pw), true
	}
	return false, false
}

// legacyPrefixes begin the hashes that [hasher.wrap] binds to their
// account at New: format 1 and plain bcrypt.
var legacyPrefixes = []string{hashPrefixV1, "$2a$", "$2b$", "$2y$"}

// wrapMAC is the mac of a wrapped hash: inner bound to account id.
func wrapMAC(k *keySet, id user.ID, inner string) []byte {
	mac := hmac.New(sha256.New, k.wrap)
	mac.Write(binary.AppendUvarint(nil, uint64(len(id))))
	mac.Write([]byte(id))
	mac.Write([]byte(inner))
	return mac.Sum(nil)
}

// wrap binds the legacy hash inner to account id (hashPrefixWrapped), under
// the key a format-1 hash names, else the current one; false when inner is
// no legacy hash or names a key h does not hold.
func (h *hasher) wrap(id user.ID, inner string) (string, bool) {
	k := h.keys.current
	if rest, found := strings.CutPrefix(inner, hashPrefixV1); found {
		kid, _, _ := strings.Cut(rest, "$")
		k = h.keys.byID(kid)
	} else if !isPlainBcrypt(inner) {
		return "", false
	}
	if k == nil {
		return "", false
	}
	mac := base64.RawStdEncoding.EncodeToString(wrapMAC(k, id, inner))
	return hashPrefixWrapped + k.id + "$" + mac + "$" + inner, true
}

// unwrap returns the legacy hash inside stored, a wrapped hash, when its
// mac is account id's under a key h holds; compared in constant time.
func (h *hasher) unwrap(id user.ID, stored string) (string, bool) {
	k, rest, found := h.parse(stored, hashPrefixWrapped)
	if !found {
		return "", false
	}
	mac, inner, _ := strings.Cut(rest, "$")
	got, err := base64.RawStdEncoding.DecodeString(mac)
	if err != nil || !hmac.Equal(got, wrapMAC(k, id, inner)) {
		return "", false
	}
	return inner, true
}

// parse splits a stored hash of the format prefix into the key set its key
// ID names and the bcrypt hash; false for another format or an unknown key.
func (h *hasher) parse(stored, prefix string) (*keySet, string, bool) {
	rest, found := strings.CutPrefix(stored, prefix)
	if !found {
		return nil, "", false
	}
	kid, b, _ := strings.Cut(rest, "$")
	k := h.keys.byID(kid)
	return k, b, k != nil
}

// check compares pre with the bcrypt hash b and, when it fails, tops the
// work up to the configured cost.
func (h *hasher) check(b string, pre []byte) bool {
	if err := h.compare([]byte(b), pre); err != nil {
		h.fail(bcryptCost(b), pre)
		return false
	}
	return true
}

// fail tops up a failed comparison against a hash of the given cost, below
// the configured one, to the work of one at the configured cost: the
// comparisons at costs c, c+1, ..., cost-1 add 2^c + ... + 2^(cost-1) =
// 2^cost - 2^c to the 2^c already done. A dormant account whose hash dates
// from a lower cost, or was imported, then fails as slowly as any other
// (OWASP ASVS 5.0 V6.3.8). An unreadable cost counts as the least.
func (h *hasher) fail(c int, password []byte) {
	for c = max(c, bcrypt.MinCost); c < h.cost; c++ {
		_ = h.compare([]byte(h.topUp[c-bcrypt.MinCost]), password)
	}
}

// burn does the work of one verification and fails: the unknown-email path
// costs what a known one costs (OWASP ASVS 5.0 V6.3.8).
func (h *hasher) burn(password string) {
	_, _ = h.verify("", h.dummy, password)
}

func isPlainBcrypt(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

func bcryptCost(hash string) int {
	c, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		return 0
	}
	return c
}

// checkNewPassword applies the password policy to a password being set
// for the account pc: length in characters between MinPasswordLength and
// MaxPasswordBytes bytes, valid UTF-8, hard enough to guess
// (MinPasswordScore, [weakness]), and the host's checker. No composition
// rules (NIST SP 800-63B-4 3.1.1.2; OWASP ASVS 5.0 V6.2.1, V6.2.4, V6.2.5,
// V6.2.9). Every new password comes here: sign-up, creation, change and
// reset; never a login. Accounts made by single sign-on and imported
// hashes have no password to check.
func (m *Manager) checkNewPassword(ctx context.Context, password string, pc PasswordContext) error {
	switch {
	case len(password) > MaxPasswordBytes:
		return fmt.Errorf("%w: at most %d bytes", ErrPasswordTooLong, MaxPasswordBytes)
	case !utf8.ValidString(password):
		return fmt.Errorf("%w: not valid UTF-8", ErrPasswordRejected)
	case utf8.RuneCountInString(norm.NFKC.String(password)) < m.cfg.MinPasswordLength:
		return fmt.Errorf("%w: at least %d characters", ErrPasswordTooShort, m.cfg.MinPasswordLength)
	}
	pc.Issuer = m.cfg.Issuer
	if m.cfg.MinPasswordScore > 0 {
		if reason := weakness(norm.NFKC.String(password), pc, m.cfg.MinPasswordScore); reason != "" {
			return &WeakPasswordError{Reason: reason}
		}
	}
	if m.cfg.PasswordChecker != nil {
		if err := m.cfg.PasswordChecker(ctx, password, pc); err != nil {
			return fmt.Errorf("%w: %v", ErrPasswordRejected, err)
		}
	}
	return nil
}

// newPasswordHash checks and hashes a password being set for the account
// pc; a refusal is a [FieldError] naming field. It runs outside any
// transaction: bcrypt takes a quarter second and must not hold the write
// lock.
func (m *Manager) newPasswordHash(ctx context.Context, field string, pc PasswordContext, password string) (string, error) {
	if err := m.checkNewPassword(ctx, password, pc); err != nil {
		return "", inField(field, err)
	}
	return m.hasher.hash(pc.UserID, password)
}
