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
	// DeviceToken marks this client as a device that knew the account's
	// password: keep it in a long-lived __Host- cookie
	// and pass it back in [Client.DeviceToken] at the next login, where it
	// buys a throttling budget of its own. It is set with a Session and
	// with a Challenge alike: it proves the password, and the second
	// factor is still owed.
	DeviceToken string
	// ReturnTo is the local path a sign-on was begun with
	// ([Manager.BeginSSO]), "" otherwise.
	ReturnTo string
}

// Login checks an email and password and opens a session.
//
// Every way of getting it wrong (unknown email, wrong password, malformed
// input) returns [ErrInvalidCredentials] after the same bcrypt work, so
// neither the answer nor its timing tells whether an account exists (OWASP
// ASVS 5.0 V6.3.8). A disabled account is reported, with
// [ErrAccountDisabled], only after the right password. Attempts are
// throttled per account and client network, per account and trusted
// device, per account and day, and per client IP ([ThrottledError]; see
// "Throttling" in the package documentation); the reason for each failure
// is kept in the audit trail, not shown to the caller. After the right
// password the result carries a device token for c to present next time.
func (m *Manager) Login(ctx context.Context, email, password string, c Client) (*LoginResult, error) {
	if err := m.passwordLoginOn(ctx); err != nil {
		return nil, err
	}
	email, password = cut(email, maxEmailInput), cut(password, MaxPasswordBytes+1)
	c = c.clean()
	attempted, reason := attemptedEmail(email)
	u, stored, dev, err := m.loginTarget(ctx, email, c)
	if err != nil {
		return nil, err
	}
	key, n, err := m.admitLogin(ctx, email, c, dev, attempted)
	if err != nil {
		return nil, err
	}
	if dev == nil {
		if u, stored, err = m.findForLogin(ctx, email); err != nil {
			return nil, err
		}
	}
	ok, rehash := false, false
	switch {
	case u == nil:
		m.hasher.burn(password)
	case len(password) > MaxPasswordBytes:
		m.hasher.burn(password[:MaxPasswordBytes])
		reason = "password too long"
	default:
		ok, rehash = m.hasher.verify(u.ID, stored, password)
		reason = "wrong password"
	}
	if !ok {
		return nil, m.loginFailed(ctx, n, u, attempted, c, reason)
	}
	return m.passwordPassed(ctx, u, stored, key, password, rehash, dev, c, n, attempted)
}

// loginTarget looks the account up early only when c presents a validly
// signed device token, to learn whether it is trusted for this account;
// otherwise it returns nothing and Login looks up after admission, as
// before, so an attempt refused by the throttle costs no lookup.
func (m *Manager) loginTarget(ctx context.Context, email string, c Client) (*user.User, string, *device, error) {
	d := m.parseDevice(c.DeviceToken)
	if d == nil {
		return nil, "", nil, nil
	}
	u, stored, err := m.findForLogin(ctx, email)
	if err != nil {
		return nil, "", nil, err
	}
	if d, err = m.trustedFor(ctx, d, u); err != nil || d == nil {
		return nil, "", nil, err
	}
	return u, stored, d, nil
}

// passwordPassed finishes a login whose password was right.
func (m *Manager) passwordPassed(ctx context.Context, u *user.User, stored, key, password string,
	rehash bool, dev *device, c Client, n int, attempted string) (*LoginResult, error) {
	newHash := ""
	var err error
	if rehash {
		if newHash, err = m.hasher.hash(u.ID, password); err != nil {
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
	if res.DeviceToken, err = m.deviceToken(ctx, u, dev); err != nil {
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
		e.Details = sessionDetails(e.Details, res.Session)
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

// sessionDetails adds to a login's details the session it opened, and
// whether that session is remembered.
func sessionDetails(d map[string]any, s *Session) map[string]any {
	d = withDetail(d, audit.DetailSessionID, s.ID)
	if s.Remembered {
		d[audit.DetailRemembered] = true
	}
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

// throttlePrefix begins every throttle key of the account an email as
// typed names. It does not depend on whether the account exists, so
// throttling reveals nothing either. cleanField strips control characters,
// so the 0x1f that ends it appears nowhere else in the email: one account's
// keys never begin with another's prefix, and [ThrottleStore.ResetPrefix]
// (UnlockLogin) clears exactly that account's keys.
func throttlePrefix(email string) string {
	e := strings.ToValidUTF8(strings.ToLower(strings.TrimSpace(cut(email, maxEmailInput))), "\uFFFD")
	return "account:" + cleanField(e, user.MaxEmailLength) + "\x1f"
}

// accountKey counts the failures of an account's second factor and of
// re-authentication from a session: whoever gets there is past the
// password, or holds a session of the account.
func accountKey(email string) string {
	return throttlePrefix(email) + "factor"
}

// admitLogin admits one password attempt on the account email names, and
// returns the key its consecutive failures count under (reset on success)
// and their count including this attempt. OWASP ASVS 5.0 V6.3.1, NIST SP
// 800-63B 5.2.2, and invariant 8: the guesser is slowed, not the owner.
//
//   - Every attempt spends the client IP's (and its IPv6 /48's) budget for
//     the minute.
//   - With a device token trusted for the account, the attempt backs off
//     on that device's failures alone.
//   - Without one, it backs off on the failures from its network (IPv4
//     address, IPv6 /64), and then spends the account's budget for the day
//     shared by every untrusted attempt.
func (m *Manager) admitLogin(ctx context.Context, email string, c Client, dev *device, attempted string) (string, int, error) {
	if err := m.hitIP(ctx, c, attempted); err != nil {
		return "", 0, err
	}
	p := throttlePrefix(email)
	if dev != nil {
		key := p + "dev:" + dev.id
		n, err := m.backoffAttempt(ctx, key, c, attempted)
		return key, n, err
	}
	key := networkKey(email, c.IP)
	n, err := m.backoffAttempt(ctx, key, c, attempted)
	if err != nil {
		return "", 0, err
	}
	return key, n, m.spendDay(ctx, p, c, attempted)
}

// spendDay counts an untrusted attempt against the account's budget for
// the UTC day, counted first so that concurrent attempts on every instance
// cannot together exceed it. Once it is spent only trusted devices get
// through until the day ends or an admin calls UnlockLogin.
func (m *Manager) spendDay(ctx context.Context, prefix string, c Client, attempted string) error {
	now := m.clock()
	day := now.UTC().Truncate(24 * time.Hour)
	got, err := m.store.Throttle().AddFailure(ctx, prefix+"day:"+day.Format(time.DateOnly), now)
	if err != nil {
		return fmt.Errorf("auth: counting attempt: %w", err)
	}
	if got > m.cfg.Throttle.AccountFailuresPerDay {
		return m.recordThrottled(ctx, &ThrottledError{RetryAfter: day.Add(24 * time.Hour).Sub(now)}, attempted, c)
	}
	return nil
}

// networkKey counts an account's failures from the client network of ip:
// the network ipThrottleKey keys the per-IP budget by (IPv4 address, IPv6
// /64).
func networkKey(email, ip string) string {
	return throttlePrefix(email) + "net:" + strings.TrimPrefix(ipThrottleKey(ip), "ip:")
}

// reserveAttempt admits one password check by the holder of a session
// (re-authentication): the client IP's budget, then key's back-off.
func (m *Manager) reserveAttempt(ctx context.Context, key string, c Client, attempted string) (int, error) {
	if err := m.hitIP(ctx, c, attempted); err != nil {
		return 0, err
	}
	return m.backoffAttempt(ctx, key, c, attempted)
}

// backoffAttempt admits one attempt, or refuses it while key is in its
// back-off.
//
// The attempt is counted as a failure before the password is checked, and
// a success resets the count. Counting first is what makes the limit hold
// under concurrency: of a burst of simultaneous attempts, each gets its own
// count from one atomic increment, and only those within the free failures,
// or the one that alone follows a finished back-off, go on to bcrypt. It
// returns key's failure count including this attempt.
func (m *Manager) backoffAttempt(ctx context.Context, key string, c Client, attempted string) (int, error) {
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

// hitIP counts an attempt against the client IP's budget for the minute,
// and an IPv6 client's against its /48's as well.
func (m *Manager) hitIP(ctx context.Context, c Client, attempted string) error {
	ipKey := ipThrottleKey(c.IP)
	if ipKey == "" || m.cfg.Throttle.PerIPPerMinute <= 0 {
		return nil
	}
	if err := m.hitWindow(ctx, ipKey, m.cfg.Throttle.PerIPPerMinute, c, attempted); err != nil {
		return err
	}
	if site := siteKey(c.IP); site != "" {
		return m.hitWindow(ctx, site, m.cfg.Throttle.PerIPv6SitePerMinute, c, attempted)
	}
	return nil
}

// hitWindow counts one hit on key in this minute's window and refuses it
// beyond budget.
func (m *Manager) hitWindow(ctx context.Context, key string, budget int, c Client, attempted string) error {
	now := m.clock()
	window := now.Truncate(time.Minute)
	hits, err := m.store.Throttle().Hit(ctx, key, window)
	if err != nil {
		return fmt.Errorf("auth: counting attempt: %w", err)
	}
	if hits > budget {
		return m.recordThrottled(ctx, &ThrottledError{RetryAfter: window.Add(time.Minute).Sub(now)}, attempted, c)
	}
	return nil
}

// siteKey is the key of an IPv6 address's /48, the usual allocation to one
// site: a client that holds one can rotate through 65,536 /64s, each with a
// per-IP budget of its own, so the /48 has a budget too. "" for IPv4 and
// what does not parse.
func siteKey(ip string) string {
	addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]"))
	if err != nil || !addr.Unmap().Is6() {
		return ""
	}
	p, _ := addr.WithZone("").Prefix(48)
	return "ip48:" + p.String()
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
