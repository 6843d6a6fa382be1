package auth

import (
	"context"
	"crypto/subtle"
	"fmt"
	"sync"
	"time"

	"github.com/usher-go/usher/audit"
)

// SetupTokenLifetime is how long a setup token ([Manager.SetupToken])
// works after it was made.
const SetupTokenLifetime = 24 * time.Hour

// SetupStore keeps the one-time setup tokens that guard the first sign-up
// when the host set no Config.BootstrapToken: only a keyed hash of each
// (32 bytes, unique) and its expiry. Every instance that starts on a
// database without users adds its own, so each can print one that works;
// the first sign-up spends one and removes them all. Safe for concurrent
// use, across instances sharing the database.
type SetupStore interface {
	// Add stores a token's hash that expires at expires. Adding a hash
	// stored already is not an error. Expired tokens stay until a Spend
	// (they are a few rows at most: one per start of an instance before
	// the first sign-up).
	Add(ctx context.Context, tokenHash []byte, expires time.Time) error
	// Valid reports whether a token with this hash is stored and expires
	// after now. An unknown hash is false, not an error.
	Valid(ctx context.Context, tokenHash []byte, now time.Time) (bool, error)
	// Spend removes every stored token when one with this hash is stored
	// and expires after now, in one statement, and reports whether it was;
	// otherwise it removes nothing. Of concurrent calls with one hash at
	// most one reports true.
	Spend(ctx context.Context, tokenHash []byte, now time.Time) (bool, error)
}

// setupToken is the Manager's own setup token, in memory only: the store
// keeps its hash.
type setupToken struct {
	mu      sync.Mutex
	token   string
	hash    []byte
	expires time.Time
}

// setupGuarded reports whether the first sign-up needs a setup token made
// by usher: no Config.BootstrapToken and no Config.InsecureOpenFirstSignup.
func (m *Manager) setupGuarded() bool {
	return m.cfg.BootstrapToken == "" && !m.cfg.InsecureOpenFirstSignup
}

// makeSetupToken gives the Manager a fresh setup token when the first
// sign-up needs one and the database holds no user yet, so whoever reaches
// a fresh instance first cannot make itself its admin: no default way in
// (OWASP ASVS 5.0 V6.3.2), and a system-made activation secret is random,
// expires and works once (V6.4.1). Whoever runs the host sees the token
// and passes it to the person who sets it up. A database with users never
// gets one.
func (m *Manager) makeSetupToken(ctx context.Context) error {
	if !m.setupGuarded() {
		return nil
	}
	if open, err := m.SignupOpen(ctx); err != nil || !open {
		return err
	}
	m.setup.mu.Lock()
	defer m.setup.mu.Unlock()
	return m.renewSetupToken(ctx)
}

// renewSetupToken makes a new setup token and stores its hash; m.setup.mu
// is held.
func (m *Manager) renewSetupToken(ctx context.Context) error {
	token, hash, err := m.newToken()
	if err != nil {
		return err
	}
	now := m.clock()
	expires := now.Add(SetupTokenLifetime)
	if err := m.store.Setup().Add(ctx, hash, expires); err != nil {
		return fmt.Errorf("auth: storing the setup token: %w", err)
	}
	m.setup.token, m.setup.hash, m.setup.expires = token, hash, expires
	m.log.InfoContext(ctx, "usher: no account yet; the first sign-up needs the setup token (Manager.SetupToken)",
		"expires", expires)
	return nil
}

// SetupToken returns the one-time token that the first sign-up must
// present ([SignUp].BootstrapToken) and when it expires, for the host to
// show to whoever runs it: print it, or a sign-up address holding it, at
// start. It is made by [New] when the database holds no user and the host
// set neither Config.BootstrapToken nor Config.InsecureOpenFirstSignup;
// only a keyed hash of it is stored. It works for [SetupTokenLifetime]: an
// expired (or spent) one is replaced by a new one at the next call, and so
// is it at every restart (New), while the earlier ones still work until
// they expire. Several instances on one database each have their own, and the
// first sign-up spends them all. SetupToken returns "" once an account
// exists, and when the host chose a token of its own or none.
func (m *Manager) SetupToken(ctx context.Context) (token string, expires time.Time, err error) {
	if !m.setupGuarded() {
		return "", time.Time{}, nil
	}
	if open, err := m.SignupOpen(ctx); err != nil || !open {
		return "", time.Time{}, err
	}
	m.setup.mu.Lock()
	defer m.setup.mu.Unlock()
	valid := false
	if m.setup.token != "" {
		// Expired, or spent by a sign-up whose account is gone since.
		var err error
		if valid, err = m.store.Setup().Valid(ctx, m.setup.hash, m.clock()); err != nil {
			return "", time.Time{}, fmt.Errorf("auth: reading the setup token: %w", err)
		}
	}
	if !valid {
		if err := m.renewSetupToken(ctx); err != nil {
			return "", time.Time{}, err
		}
	}
	return m.setup.token, m.setup.expires, nil
}

// checkSignupToken checks the token a sign-up presents, before any bcrypt,
// and returns the hash of the setup token to spend with the first account
// (nil when Config.BootstrapToken or Config.InsecureOpenFirstSignup
// guards sign-up instead). Each guess spends the client IP's login budget.
func (m *Manager) checkSignupToken(ctx context.Context, token string, c Client) ([]byte, error) {
	if m.cfg.BootstrapToken == "" && m.cfg.InsecureOpenFirstSignup {
		return nil, nil
	}
	if err := m.hitIP(ctx, c, ""); err != nil {
		return nil, err
	}
	if m.cfg.BootstrapToken != "" {
		if subtle.ConstantTimeCompare([]byte(token), []byte(m.cfg.BootstrapToken)) != 1 {
			return nil, m.wrongSignupToken(ctx, c, "wrong bootstrap token")
		}
		return nil, nil
	}
	// Compared by a lookup of its keyed hash: nothing of the token is
	// compared byte by byte in Go.
	hash := m.challengeHash(token)
	if hash == nil {
		return nil, m.wrongSignupToken(ctx, c, "wrong or expired setup token")
	}
	ok, err := m.store.Setup().Valid(ctx, hash, m.clock())
	if err != nil {
		return nil, fmt.Errorf("auth: reading the setup token: %w", err)
	}
	if !ok {
		return nil, m.wrongSignupToken(ctx, c, "wrong or expired setup token")
	}
	return hash, nil
}

// wrongSignupToken audits a sign-up refused for its token and returns
// [ErrBootstrapToken].
func (m *Manager) wrongSignupToken(ctx context.Context, c Client, reason string) error {
	m.recordAlone(ctx, &audit.Event{Action: audit.SignUp, Outcome: audit.Failure,
		IP: c.IP, UserAgent: c.UserAgent, Reason: reason})
	return ErrBootstrapToken
}
