package auth

import (
	"sync"

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

// SetBcryptAside takes bcrypt out of m's operations, for the floor
// benchmarks: a new password's hash is one computed once (so the accounts
// it makes cannot log in), and a comparison answers from a memo of the
// first answer to the same hash and password, which bcrypt computes.
func SetBcryptAside(m *Manager) {
	pre, err := bcrypt.GenerateFromPassword([]byte("set aside"), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	m.hasher.generate = func([]byte, int) ([]byte, error) { return pre, nil }
	var mu sync.Mutex
	memo := map[[2]string]error{}
	compare := m.hasher.compare
	m.hasher.compare = func(hash, password []byte) error {
		k := [2]string{string(hash), string(password)}
		mu.Lock()
		err, ok := memo[k]
		mu.Unlock()
		if !ok {
			err = compare(hash, password)
			mu.Lock()
			memo[k] = err
			mu.Unlock()
		}
		return err
	}
}

// SetStrengthCheckAside skips the strength estimate (zxcvbn) of new
// passwords in m, for the floor benchmarks: it is CPU work on the
// password, which BenchmarkPasswordStrength weighs against bcrypt.
func SetStrengthCheckAside(m *Manager) {
	m.cfg.MinPasswordScore = 0
}
