package auth

import (
	"sync"

	"golang.org/x/crypto/bcrypt"
)

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
