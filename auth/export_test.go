package auth

import (
	"golang.org/x/crypto/bcrypt"

	"github.com/usher-go/usher/audit"
)

// ObserveBcrypt makes m report the cost of every bcrypt hash it compares a
// password against, so a test can count the hashing work of a login instead
// of timing it. The external test package needs it because an internal test
// cannot import a store (store/sqlite imports auth).
func ObserveBcrypt(m *Manager, seen func(cost int)) {
	compare := m.hasher.compare
	m.hasher.compare = func(hash, password []byte) error {
		seen(bcryptCost(string(hash)))
		return compare(hash, password)
	}
}

// TokenHash is what m stores in place of a session or challenge token.
func TokenHash(m *Manager, token string) []byte {
	raw, ok := decodeToken(token)
	if !ok {
		return nil
	}
	h := m.keys.current.tokenHash(&raw)
	return h[:]
}

// HashV1 returns the format-1 hash (bound to no account) of password under
// m's current key, as usher stored it before hashes named the account.
func HashV1(m *Manager, password string) string {
	k := m.keys.current
	b, err := bcrypt.GenerateFromPassword(prehashV1(k, password), 4)
	if err != nil {
		panic(err)
	}
	return hashPrefixV1 + k.id + "$" + string(b)
}

// SealEvent is the sealer m hands its store: for a benchmark that sets a
// chained append beside a plain one.
func SealEvent(m *Manager) func(audit.Mark, *audit.Event) (audit.Link, audit.Mark, error) {
	return m.sealEvent
}
