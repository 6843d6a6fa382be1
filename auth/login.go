package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/user"
)

// LoginResult is the outcome of a successful first step of login.
type LoginResult struct {
	// Session is the new session. Hand Session.Token to the client (see
	// [Manager.SetSessionCookie]).
	Session *Session
}

// Login checks an email and password and opens a session.
//
// Every way of getting it wrong (unknown email, wrong password, malformed
// input) returns [ErrInvalidCredentials] after the same bcrypt work, so
// neither the answer nor its timing tells whether an account exists (OWASP
// ASVS 5.0 V6.3.8). A disabled account is reported, with
// [ErrAccountDisabled], only after the right password. Attempts are
// throttled per account and per client IP ([ThrottledError]); the reason for
// each failure is kept in the audit trail, not shown to the caller.
func (m *Manager) Login(ctx context.Context, email, password string, c Client) (*LoginResult, error) {
	c = c.clean()
	key := accountKey(email)
	attempted := cleanField(email, user.MaxEmailLength)
	if err := m.checkThrottle(ctx, key, c); err != nil {
		var te *ThrottledError
		if errors.As(err, &te) {
			m.recordAlone(ctx, &audit.Event{
				Action: audit.LoginThrottled, Outcome: audit.Failure,
				Actor: audit.Actor{Email: attempted}, IP: c.IP, UserAgent: c.UserAgent,
				Reason: te.Error(),
			})
		}
		return nil, err
	}

	u, stored, err := m.findForLogin(ctx, email)
	if err != nil {
		return nil, err
	}
	ok, rehash := false, false
	reason := "unknown email"
	switch {
	case u == nil:
		m.hasher.burn(password)
	case len(password) > MaxPasswordBytes:
		m.hasher.burn(password[:MaxPasswordBytes])
		reason = "password too long"
	default:
		ok, rehash = m.hasher.verify(stored, password)
		reason = "wrong password"
	}
	if !ok {
		return nil, m.loginFailed(ctx, key, u, attempted, c, reason)
	}
	if u.Disabled {
		m.recordAlone(ctx, &audit.Event{
			Action: audit.LoginFailed, Outcome: audit.Failure,
			Actor:  audit.Actor{ID: string(u.ID), Email: u.Email},
			Target: audit.Target{Type: audit.TargetUser, ID: string(u.ID)},
			IP:     c.IP, UserAgent: c.UserAgent, Reason: "account disabled",
		})
		return nil, ErrAccountDisabled
	}
	newHash := ""
	if rehash {
		if newHash, err = m.hasher.hash(password); err != nil {
			return nil, err
		}
	}
	s, err := m.completeLogin(ctx, u, key, newHash, c)
	if err != nil {
		return nil, err
	}
	return &LoginResult{Session: s}, nil
}

// findForLogin returns the user and stored hash for an email, or a nil user
// when there is none (a malformed email is simply nobody).
func (m *Manager) findForLogin(ctx context.Context, email string) (*user.User, string, error) {
	norm, err := user.NormalizeEmail(email)
	if err != nil {
		return nil, "", nil
	}
	u, err := m.store.Users().GetByEmail(ctx, norm)
	if errors.Is(err, user.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("auth: looking up user: %w", err)
	}
	stored, err := m.store.Users().PasswordHash(ctx, u.ID)
	if err != nil {
		return nil, "", fmt.Errorf("auth: looking up user: %w", err)
	}
	return u, stored, nil
}

// completeLogin opens the session, resets the failure count, upgrades the
// hash when asked, and records the login, all in one transaction.
func (m *Manager) completeLogin(ctx context.Context, u *user.User, key, newHash string, c Client) (*Session, error) {
	var s *Session
	err := m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
		now := m.clock()
		if err := tx.Users().SetLastLogin(ctx, u.ID, now); err != nil {
			return err
		}
		if err := tx.Throttle().ResetFailures(ctx, key); err != nil {
			return err
		}
		e := &audit.Event{
			Action: audit.LoginSucceeded, Outcome: audit.Success,
			Actor:  audit.Actor{ID: string(u.ID), Email: u.Email},
			Target: audit.Target{Type: audit.TargetUser, ID: string(u.ID)},
			IP:     c.IP, UserAgent: c.UserAgent,
		}
		if newHash != "" {
			if err := tx.Users().SetPasswordHash(ctx, u.ID, newHash); err != nil {
				return err
			}
			e.Details = map[string]any{"password_rehashed": true}
		}
		var err error
		if s, err = m.issueSession(ctx, tx, u, c); err != nil {
			return err
		}
		e.Details = withDetail(e.Details, "session_id", s.ID)
		return rec(e)
	})
	return s, err
}

func withDetail(d map[string]any, k string, v any) map[string]any {
	if d == nil {
		d = map[string]any{}
	}
	d[k] = v
	return d
}

// loginFailed counts a failure against the account key and records it, in
// one transaction, and returns ErrInvalidCredentials.
func (m *Manager) loginFailed(ctx context.Context, key string, u *user.User, attempted string, c Client, reason string) error {
	e := &audit.Event{
		Action: audit.LoginFailed, Outcome: audit.Failure,
		Actor: audit.Actor{Email: attempted}, IP: c.IP, UserAgent: c.UserAgent, Reason: reason,
	}
	if u != nil {
		e.Actor = audit.Actor{ID: string(u.ID), Email: u.Email}
		e.Target = audit.Target{Type: audit.TargetUser, ID: string(u.ID)}
	}
	err := m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
		n, err := tx.Throttle().AddFailure(ctx, key, m.clock())
		if err != nil {
			return err
		}
		e.Details = map[string]any{"consecutive_failures": n}
		return rec(e)
	})
	if err != nil {
		return fmt.Errorf("auth: recording failed login: %w", err)
	}
	return ErrInvalidCredentials
}

// accountKey is the throttling key of an email as typed. It does not depend
// on whether the account exists, so throttling reveals nothing either.
func accountKey(email string) string {
	e := strings.ToLower(strings.TrimSpace(email))
	if len(e) > user.MaxEmailLength {
		e = e[:user.MaxEmailLength]
	}
	return "account:" + e
}

// checkThrottle refuses an attempt while the account is in its back-off or
// the client IP has spent its budget for the minute (OWASP ASVS 5.0
// V6.3.1, NIST SP 800-63B 5.2.2). It counts the attempt against the IP.
func (m *Manager) checkThrottle(ctx context.Context, key string, c Client) error {
	t := m.cfg.Throttle
	now := m.clock()
	n, last, err := m.store.Throttle().Failures(ctx, key)
	if err != nil {
		return fmt.Errorf("auth: reading throttle: %w", err)
	}
	if n >= t.FreeFailures {
		if wait := last.Add(m.backoff(n)).Sub(now); wait > 0 {
			return &ThrottledError{RetryAfter: wait}
		}
	}
	if c.IP == "" || t.PerIPPerMinute < 0 {
		return nil
	}
	window := now.Truncate(time.Minute)
	hits, err := m.store.Throttle().Hit(ctx, "ip:"+c.IP, window)
	if err != nil {
		return fmt.Errorf("auth: counting attempt: %w", err)
	}
	if hits > t.PerIPPerMinute {
		return &ThrottledError{RetryAfter: window.Add(time.Minute).Sub(now)}
	}
	return nil
}

// backoff is the wait after n consecutive failures: BaseDelay after
// FreeFailures, doubling with each further one, capped at MaxDelay.
func (m *Manager) backoff(n int) time.Duration {
	t := m.cfg.Throttle
	shift := n - t.FreeFailures
	if shift >= 32 {
		return t.MaxDelay
	}
	d := t.BaseDelay << shift
	if d > t.MaxDelay || d <= 0 {
		return t.MaxDelay
	}
	return d
}
