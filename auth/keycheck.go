package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

// Errors of the key check.
var (
	// ErrWrongSecretKey: [New] was given a Config.SecretKey (and
	// PreviousSecretKeys) that the database was not made with. Starting
	// anyway would make every password fail as a wrong password and every
	// TOTP secret fail to open, so New refuses instead.
	ErrWrongSecretKey = errors.New("auth: this database was created with another key")
	// ErrKeyCheckNotFound: the store holds no key check yet (store contract).
	ErrKeyCheckNotFound = errors.New("auth: no key check stored")
)

// KeyCheck is how a database remembers the secret key it was made with,
// without holding the key: HMAC-SHA-256 of a fixed text under a key derived
// from Config.SecretKey, and the key ID. Nobody can derive the secret key
// from it.
type KeyCheck struct {
	KeyID string
	Value []byte // 32 bytes
}

// KeyCheckStore keeps the database's one [KeyCheck]. Safe for concurrent
// use, across instances sharing the database.
type KeyCheckStore interface {
	// Get returns the stored check, or [ErrKeyCheckNotFound].
	Get(ctx context.Context) (*KeyCheck, error)
	// Set stores c in place of the stored check when that check's KeyID is
	// ifKeyID, or when no check is stored and ifKeyID is empty, and reports
	// whether it did. It is atomic: of concurrent calls with the same
	// ifKeyID at most one returns true.
	Set(ctx context.Context, c KeyCheck, ifKeyID string) (bool, error)
}

func hmacSHA256(key, msg []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(msg)
	return mac.Sum(nil)
}

// checkKey refuses a secret key that is not the database's (OWASP ASVS 5.0
// V11.1.2: a key's use is verified, not assumed). The first Manager on a
// database writes the check; a database made before checks existed gets
// one too, once its data show no sign of another key. A check made under a
// previous key is moved to the current one, so that the previous key can
// be dropped later.
func (m *Manager) checkKey(ctx context.Context) error {
	cur := m.keys.current
	st := m.store.KeyCheck()
	c, err := st.Get(ctx)
	if errors.Is(err, ErrKeyCheckNotFound) {
		if err := m.dataFitsKeys(ctx); err != nil {
			return err
		}
		ok, serr := st.Set(ctx, KeyCheck{KeyID: cur.id, Value: cur.check}, "")
		if serr != nil || ok {
			return serr
		}
		c, err = st.Get(ctx) // another instance wrote it first
	}
	if err != nil {
		return fmt.Errorf("auth: reading the key check: %w", err)
	}
	k := m.keys.byID(c.KeyID)
	chained := k != nil && hmac.Equal(k.checkChained, c.Value)
	if k == nil || !(chained || hmac.Equal(k.check, c.Value)) {
		return fmt.Errorf("%w (it names key ID %q; this Manager holds %s)", ErrWrongSecretKey, c.KeyID, m.keys.ids())
	}
	if k != cur {
		value := cur.check
		if chained {
			value = cur.checkChained
		}
		if _, err := st.Set(ctx, KeyCheck{KeyID: cur.id, Value: value}, k.id); err != nil {
			return fmt.Errorf("auth: moving the key check to the current key: %w", err)
		}
	}
	return nil
}

// keyCheckChained reads whether the key check says the audit chain has
// started (see startChain).
func (m *Manager) keyCheckChained(ctx context.Context, st KeyCheckStore) (bool, error) {
	c, err := st.Get(ctx)
	if err != nil {
		return false, fmt.Errorf("auth: reading the key check: %w", err)
	}
	k := m.keys.byID(c.KeyID)
	return k != nil && hmac.Equal(k.checkChained, c.Value), nil
}

// dataFitsKeys looks, in a database without a key check, for a password
// hash or a TOTP secret made under a key this Manager does not hold: the
// sign of a database made before key checks existed, now opened with a
// lost or a fresh key.
func (m *Manager) dataFitsKeys(ctx context.Context) error {
	p, err := m.store.Users().List(ctx, user.Query{Limit: 1})
	if err != nil {
		return fmt.Errorf("auth: checking the key: %w", err)
	}
	if len(p.Users) == 1 {
		h, err := m.store.Users().PasswordHash(ctx, p.Users[0].ID)
		if err != nil && !errors.Is(err, user.ErrNotFound) {
			return fmt.Errorf("auth: checking the key: %w", err)
		}
		if kid, ok := hashKeyID(h); ok && m.keys.byID(kid) == nil {
			return fmt.Errorf("%w (password hashes name key ID %q)", ErrWrongSecretKey, kid)
		}
	}
	creds, err := m.store.TOTP().Sealed(ctx, m.keys.current.id, "", 1)
	if err != nil && !errors.Is(err, totp.ErrNotEnrolled) {
		return fmt.Errorf("auth: checking the key: %w", err)
	}
	if len(creds) == 1 && m.keys.byID(creds[0].KeyID) == nil {
		return fmt.Errorf("%w (TOTP secrets name key ID %q)", ErrWrongSecretKey, creds[0].KeyID)
	}
	return nil
}

// hashKeyID returns the key ID that a stored password hash of usher's own
// format names.
func hashKeyID(stored string) (string, bool) {
	for _, prefix := range []string{hashPrefix, hashPrefixV1} {
		if rest, ok := strings.CutPrefix(stored, prefix); ok {
			kid, _, found := strings.Cut(rest, "$")
			return kid, found
		}
	}
	return "", false
}

// ids lists the key IDs the keyring holds, for an error message.
func (r *keyring) ids() string {
	s := r.current.id
	for _, k := range r.previous {
		s += ", " + k.id
	}
	return s
}
