package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/user"
)

// LoginResult is the outcome of a successful first step of login: either
// a Session, or, for a user with a second factor, a Challenge.
type LoginResult struct {
	// Session is the new session. Hand Session.Token to the client (see
	// [Manager.SetSessionCookie]).
	Session *Session
	// Challenge is set instead when a second factor is owed: ask for a
	// code and call [Manager.VerifyTOTP] or [Manager.VerifyRecoveryCode].
	Challenge *Challenge
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
	email, password = cut(email, maxEmailInput), cut(password, MaxPasswordBytes+1)
	c = c.clean()
	key := accountKey(email)
	attempted, reason := attemptedEmail(email)
	n, err := m.reserveAttempt(ctx, key, c, attempted)
	if err != nil {
		return nil, err
	}
	u, stored, err := m.findForLogin(ctx, email)
	if err != nil {
		return nil, err
	}
	ok, rehash := false, false
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
		return nil, m.loginFailed(ctx, n, u, attempted, c, reason)
	}
	newHash := ""
	if rehash {
		if newHash, err = m.hasher.hash(password); err != nil {
			return nil, err
		}
	}
	res, err := m.completeLogin(ctx, u, stored, key, newHash, c)
	if errors.Is(err, errStale) {
		return nil, m.loginFailed(ctx, n, u, attempted, c, "password changed during login")
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// maxEmailInput is as much of a typed login name as Login reads: any longer
// is no address (user.MaxEmailLength), give or take surrounding spaces.
const maxEmailInput = user.MaxEmailLength + 64

// cut returns at most the first n bytes of s. Every input from the network
// passes through it before anything normalizes, hashes or looks it up, so
// the work is bounded whatever arrives, and the same for a known account
// and an unknown one (OWASP ASVS 5.0 V6.3.8; invariant 9). A cut in the
// middle of a character leaves invalid UTF-8, which every later check
// refuses.
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// errStale: the account changed between the password check and the
// session: the check no longer holds.
var errStale = errors.New("auth: account changed during login")

// attemptedEmail is what the audit trail keeps of a typed login name: the
// normalized address, or nothing when it is not one (people paste passwords
// into the email field; OWASP ASVS 5.0 V16.2.5).
func attemptedEmail(email string) (attempted, reason string) {
	norm, err := user.NormalizeEmail(email)
	if err != nil {
		return "", "malformed email"
	}
	return norm, "unknown email"
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
// hash when asked, and records the login, all in one transaction. For a
// user with a confirmed second factor it opens a challenge instead, and
// leaves the failure count alone: only the second factor ends the login,
// so a stolen password buys no fresh budget of code guesses.
func (m *Manager) completeLogin(ctx context.Context, u *user.User, verified, key, newHash string, c Client) (*LoginResult, error) {
	res := &LoginResult{}
	err := m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
		cur, err := m.stillLoginable(ctx, tx, u.ID, verified)
		if err != nil {
			return err
		}
		u = cur
		e := selfEvent(audit.LoginSucceeded, audit.Success, u, c)
		if newHash != "" {
			if err := tx.Users().SetPasswordHash(ctx, u.ID, newHash); err != nil {
				return err
			}
			e.Details = map[string]any{audit.DetailPasswordRehashed: true}
		}
		if res.Challenge, err = m.maybeChallenge(ctx, tx, u, c); err != nil || res.Challenge != nil {
			if err == nil {
				e.Action = audit.LoginChallenged
				err = rec(e)
			}
			return err
		}
		if err := tx.Users().SetLastLogin(ctx, u.ID, m.clock()); err != nil {
			return err
		}
		if err := tx.Throttle().ResetFailures(ctx, key); err != nil {
			return err
		}
		if res.Session, err = m.issueSession(ctx, tx, u, c); err != nil {
			return err
		}
		e.Details = withDetail(e.Details, audit.DetailSessionID, res.Session.ID)
		return rec(e)
	})
	if errors.Is(err, ErrAccountDisabled) {
		e := selfEvent(audit.LoginFailed, audit.Failure, u, c)
		e.Reason = "account disabled"
		m.recordAlone(ctx, e)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// stillLoginable reads the user again inside the login's transaction: a
// password reset, a disable or a deletion that committed while bcrypt ran
// wins, and the login fails (errStale, ErrAccountDisabled) instead of
// leaving a session the change should have ended, or writing a rehash of
// the old password over the new one.
func (m *Manager) stillLoginable(ctx context.Context, tx Store, id user.ID, verified string) (*user.User, error) {
	cur, err := tx.Users().Get(ctx, id)
	if errors.Is(err, user.ErrNotFound) {
		return nil, errStale
	} else if err != nil {
		return nil, err
	}
	hash, err := tx.Users().PasswordHash(ctx, id)
	if err != nil {
		return nil, err
	}
	if hash != verified {
		return nil, errStale
	}
	if cur.Disabled {
		return nil, ErrAccountDisabled
	}
	return cur, nil
}

// selfEvent is an event of u acting on its own account from c.
func selfEvent(action audit.Action, outcome audit.Outcome, u *user.User, c Client) *audit.Event {
	return &audit.Event{
		Action: action, Outcome: outcome,
		Actor:  audit.Actor{ID: string(u.ID), Email: u.Email},
		Target: audit.Target{Type: audit.TargetUser, ID: string(u.ID)},
		IP:     c.IP, UserAgent: c.UserAgent,
	}
}

func withDetail(d map[string]any, k string, v any) map[string]any {
	if d == nil {
		d = map[string]any{}
	}
	d[k] = v
	return d
}

// loginFailed records a failed attempt, whose failure was already counted
// when the attempt was reserved, and returns ErrInvalidCredentials.
func (m *Manager) loginFailed(ctx context.Context, failures int, u *user.User, attempted string, c Client, reason string) error {
	e := &audit.Event{
		Action: audit.LoginFailed, Outcome: audit.Failure,
		Actor: audit.Actor{Email: attempted}, IP: c.IP, UserAgent: c.UserAgent, Reason: reason,
		Details: map[string]any{audit.DetailConsecutiveFailures: failures},
	}
	if u != nil {
		e.Actor = audit.Actor{ID: string(u.ID), Email: u.Email}
		e.Target = audit.Target{Type: audit.TargetUser, ID: string(u.ID)}
	}
	if err := m.atomic(ctx, func(_ Store, rec func(*audit.Event) error) error { return rec(e) }); err != nil {
		return fmt.Errorf("auth: recording failed login: %w", err)
	}
	return ErrInvalidCredentials
}

// accountKey is the throttling key of an email as typed. It does not depend
// on whether the account exists, so throttling reveals nothing either.
func accountKey(email string) string {
	e := strings.ToValidUTF8(strings.ToLower(strings.TrimSpace(email)), "\uFFFD")
	return "account:" + cleanField(e, user.MaxEmailLength)
}

// reserveAttempt admits one password attempt, or refuses
// it while the account is in its back-off or the client IP has spent its
// budget for the minute (OWASP ASVS 5.0 V6.3.1, NIST SP 800-63B 5.2.2).
//
// The attempt is counted as a failure before the password is checked, and
// a success resets the count. Counting first is what makes the limit hold
// under concurrency: of a burst of simultaneous attempts, each gets its own
// count from one atomic increment, and only those within the free failures,
// or the one that alone follows a finished back-off, go on to bcrypt. It
// returns the account's failure count including this attempt.
func (m *Manager) reserveAttempt(ctx context.Context, key string, c Client, attempted string) (int, error) {
	if err := m.hitIP(ctx, c, attempted); err != nil {
		return 0, err
	}
	n, last, err := m.store.Throttle().Failures(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("auth: reading throttle: %w", err)
	}
	now := m.clock()
	if wait := m.backoffLeft(n, last, now); wait > 0 {
		return 0, m.recordThrottled(ctx, &ThrottledError{RetryAfter: wait}, attempted, c)
	}
	got, err := m.store.Throttle().AddFailure(ctx, key, now)
	if err != nil {
		return 0, fmt.Errorf("auth: counting attempt: %w", err)
	}
	if got > m.cfg.Throttle.FreeFailures && got != n+1 {
		// Another attempt was admitted between our read and our count.
		return 0, m.recordThrottled(ctx, &ThrottledError{RetryAfter: m.backoff(got - 1)}, attempted, c)
	}
	return got, nil
}

// checkBackoff refuses an attempt while the account is in its back-off. Run
// inside a transaction (where writes are serialized) it needs no
// reservation: the count it reads cannot change before the attempt's own
// outcome is written.
func (m *Manager) checkBackoff(ctx context.Context, tx Store, key string) error {
	n, last, err := tx.Throttle().Failures(ctx, key)
	if err != nil {
		return fmt.Errorf("auth: reading throttle: %w", err)
	}
	if wait := m.backoffLeft(n, last, m.clock()); wait > 0 {
		return &ThrottledError{RetryAfter: wait}
	}
	return nil
}

// backoffLeft is how long an account with n consecutive failures, the last
// at last, must still wait.
func (m *Manager) backoffLeft(n int, last, now time.Time) time.Duration {
	if n < m.cfg.Throttle.FreeFailures {
		return 0
	}
	return max(0, last.Add(m.backoff(n)).Sub(now))
}

// hitIP counts an attempt against the client IP's budget for the minute.
func (m *Manager) hitIP(ctx context.Context, c Client, attempted string) error {
	ipKey := ipThrottleKey(c.IP)
	if ipKey == "" || m.cfg.Throttle.PerIPPerMinute <= 0 {
		return nil
	}
	now := m.clock()
	window := now.Truncate(time.Minute)
	hits, err := m.store.Throttle().Hit(ctx, ipKey, window)
	if err != nil {
		return fmt.Errorf("auth: counting attempt: %w", err)
	}
	if hits > m.cfg.Throttle.PerIPPerMinute {
		return m.recordThrottled(ctx, &ThrottledError{RetryAfter: window.Add(time.Minute).Sub(now)}, attempted, c)
	}
	return nil
}

// recordThrottled writes the throttled attempt to the audit trail and
// returns te.
func (m *Manager) recordThrottled(ctx context.Context, te *ThrottledError, attempted string, c Client) error {
	m.recordAlone(ctx, &audit.Event{
		Action: audit.LoginThrottled, Outcome: audit.Failure,
		Actor: audit.Actor{Email: attempted}, IP: c.IP, UserAgent: c.UserAgent, Reason: te.Error(),
	})
	return te
}

// ipThrottleKey is the per-IP budget's key: the address parsed, so that
// every spelling of one address shares a budget, IPv4-mapped IPv6 as IPv4,
// and IPv6 by its /64 (one subscriber's allocation, which a client can
// rotate through freely). An empty IP has no budget; an unparseable one is
// its own key.
func ipThrottleKey(ip string) string {
	if ip == "" {
		return ""
	}
	addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]"))
	if err != nil {
		return "ip:" + ip
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + addr.String()
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
