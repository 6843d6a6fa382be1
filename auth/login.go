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
	a, err := m.admitLogin(ctx, email, c, attempted)
	if err != nil {
		return nil, err
	}
	ok, rehash := false, false
	switch {
	case a.u == nil:
		m.hasher.burn(password)
	case len(password) > MaxPasswordBytes:
		m.hasher.burn(password[:MaxPasswordBytes])
		reason = "password too long"
	default:
		ok, rehash = m.hasher.verify(a.u.ID, a.stored, password)
		reason = "wrong password"
	}
	if !ok {
		return nil, m.loginFailed(ctx, a.n, a.u, attempted, c, reason)
	}
	return m.passwordPassed(ctx, a, password, rehash, c, attempted)
}

// passwordPassed finishes a login whose password was right.
func (m *Manager) passwordPassed(ctx context.Context, a *admission, password string, rehash bool, c Client, attempted string) (*LoginResult, error) {
	newHash := ""
	var err error
	if rehash {
		if newHash, err = m.hasher.hash(a.u.ID, password); err != nil {
			return nil, err
		}
	}
	res, err := m.completeLogin(ctx, a, newHash, c)
	if errors.Is(err, errStale) {
		return nil, m.loginFailed(ctx, a.n, a.u, attempted, c, "password changed during login")
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
func (m *Manager) findForLogin(ctx context.Context, st Store, email string) (*user.User, string, error) {
	norm, err := user.NormalizeEmail(email)
	if err != nil {
		return nil, "", nil
	}
	return foundForLogin(userAndHash(ctx, st, "", norm))
}

// foundForLogin is findForLogin's answer from its read's.
func foundForLogin(u *user.User, stored string, err error) (*user.User, string, error) {
	if errors.Is(err, user.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("auth: looking up user: %w", err)
	}
	return u, stored, nil
}

// findForLoginLate is findForLogin as the last step of tx, where tx's user
// store is a LateUserHashStore: the read goes out with the commit, and
// the returned function gives findForLogin's answer once tx has
// committed. Elsewhere it is nil, and findForLogin's answer is returned.
func (m *Manager) findForLoginLate(ctx context.Context, tx Store, email string) (func() (*user.User, string, error), *user.User, string, error) {
	norm, err := user.NormalizeEmail(email)
	l, ok := tx.Users().(LateUserHashStore)
	if err != nil || !ok {
		u, stored, err := m.findForLogin(ctx, tx, email)
		return nil, u, stored, err
	}
	get := l.GetByEmailWithHashLate(ctx, norm)
	return func() (*user.User, string, error) { return foundForLogin(get()) }, nil, "", nil
}

// userAndHash reads an account and its stored password hash, by id or,
// when id is "", by email: in one read where the store has
// UserHashStore.
func userAndHash(ctx context.Context, st Store, id user.ID, email string) (*user.User, string, error) {
	us := st.Users()
	if r, ok := us.(UserHashStore); ok {
		if id != "" {
			return r.GetWithHash(ctx, id)
		}
		return r.GetByEmailWithHash(ctx, email)
	}
	var u *user.User
	var err error
	if id != "" {
		u, err = us.Get(ctx, id)
	} else {
		u, err = us.GetByEmail(ctx, email)
	}
	if err != nil {
		return nil, "", err
	}
	stored, err := us.PasswordHash(ctx, u.ID)
	if err != nil {
		return nil, "", err
	}
	return u, stored, nil
}

// completeLogin opens the session, resets the failure count, upgrades the
// hash when asked, and records the login, all in one transaction. For a
// user with a confirmed second factor it opens a challenge instead, and
// leaves the failure count alone: only the second factor ends the login,
// so a stolen password buys no fresh budget of code guesses. The result
// carries the device token either way.
func (m *Manager) completeLogin(ctx context.Context, a *admission, newHash string, c Client) (*LoginResult, error) {
	res := &LoginResult{}
	u, key := a.u, a.key
	err := m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
		*res, u = LoginResult{}, a.u // the store may run fn again
		cur, err := m.stillLoginable(ctx, tx, u.ID, a.stored)
		if err != nil {
			return err
		}
		u = cur
		if res.DeviceToken, err = m.deviceToken(ctx, tx, u, a.dev); err != nil {
			return err
		}
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
	cur, hash, err := userAndHash(ctx, tx, id, "")
	if errors.Is(err, user.ErrNotFound) {
		return nil, errStale
	} else if err != nil {
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

// admission is an admitted password attempt: the key its consecutive
// failures count under (reset on success) and their count including it;
// the account the email names (nil for none) and its stored hash; the
// device, when the client presented one trusted for that account.
type admission struct {
	key    string
	n      int
	u      *user.User
	stored string
	dev    *device
	// late, when set, reads u and stored once the admission has
	// committed (findForLoginLate).
	late func() (*user.User, string, error)
}

// admitLogin admits one password attempt on the account email names, and
// looks the account up. OWASP ASVS 5.0 V6.3.1, NIST SP 800-63B 5.2.2, and
// invariant 8: the guesser is slowed, not the owner.
//
//   - Every attempt spends the client IP's (and its IPv6 /48's) budget for
//     the minute.
//   - With a device token trusted for the account, the attempt backs off
//     on that device's failures alone.
//   - Without one, it backs off on the failures from its network (IPv4
//     address, IPv6 /64), and then spends the account's budget for the day
//     shared by every untrusted attempt.
//
// All of it is one transaction, committed before the bcrypt, which must
// not hold the write lock: the attempt is counted as a failure before the
// password is checked, and a success resets the count, so concurrent
// attempts on every instance see each other's counts and cannot together
// exceed a budget (see countBackoff). The commit need not wait for stable
// storage (DeferredSyncStore): the attempt's outcome, a failure or a
// session, commits synced before the caller learns it, and takes the
// reservation with it. A refused attempt's counts commit too; its
// refusal is recorded in a transaction of its own.
func (m *Manager) admitLogin(ctx context.Context, email string, c Client, attempted string) (*admission, error) {
	d := m.parseDevice(c.DeviceToken)
	var (
		a       admission
		refused *ThrottledError
	)
	err := m.atomicDeferSync(ctx, func(tx Store) error {
		var err error
		a = admission{} // the store may run fn again
		refused, err = m.admit(ctx, tx, email, c, d, &a)
		return err
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, m.recordThrottled(ctx, refused, attempted, c)
	}
	if a.late != nil {
		if a.u, a.stored, err = a.late(); err != nil {
			return nil, err
		}
	}
	return &a, nil
}

// admit is admitLogin inside its transaction: it fills a, or returns the
// refusal. The account is looked up first only when d, a validly signed
// device token, needs it to tell whether the device is trusted; otherwise
// only once the attempt is admitted, so a refused attempt costs no
// lookup, whether the account exists or not.
func (m *Manager) admit(ctx context.Context, tx Store, email string, c Client, d *device, a *admission) (*ThrottledError, error) {
	var err error
	if d != nil {
		if a.u, a.stored, err = m.findForLogin(ctx, tx, email); err != nil {
			return nil, err
		}
		if a.dev, err = m.trustedFor(ctx, tx, d, a.u); err != nil {
			return nil, err
		}
	}
	p := throttlePrefix(email)
	if a.dev != nil {
		if te, err := m.countIP(ctx, tx, c); te != nil || err != nil {
			return te, err
		}
		a.key = p + "dev:" + a.dev.id
		te, err := m.countBackoff(ctx, tx, a.key, &a.n)
		return te, err
	}
	a.key = networkKey(email, c.IP)
	ip := m.countIPLate(ctx, tx, c)
	if te, err := m.countNetworkAndDay(ctx, tx, a.key, p, ip, &a.n); te != nil || err != nil {
		return te, err
	}
	if d == nil {
		// The last step: the account is read with the commit.
		a.late, a.u, a.stored, err = m.findForLoginLate(ctx, tx, email)
	}
	return nil, err
}

// atomicDeferSync is the store's AtomicDeferSync where it has one
// (DeferredSyncStore), else its Atomic.
func (m *Manager) atomicDeferSync(ctx context.Context, fn func(Store) error) error {
	if s, ok := m.store.(DeferredSyncStore); ok {
		return s.AtomicDeferSync(ctx, fn)
	}
	return m.store.Atomic(ctx, fn)
}

// countDay counts an untrusted attempt against the account's budget for
// the UTC day, counted first so that concurrent attempts on every instance
// cannot together exceed it. Once it is spent only trusted devices get
// through until the day ends or an admin calls UnlockLogin.
func (m *Manager) countDay(ctx context.Context, st Store, prefix string) (*ThrottledError, error) {
	now := m.clock()
	got, err := st.Throttle().AddFailure(ctx, dayKey(prefix, now), now)
	if err != nil {
		return nil, fmt.Errorf("auth: counting attempt: %w", err)
	}
	return m.dayRefusal(got, now), nil
}

// dayKey is the key of the account's budget for now's UTC day.
func dayKey(prefix string, now time.Time) string {
	return prefix + "day:" + now.UTC().Truncate(24*time.Hour).Format(time.DateOnly)
}

// dayRefusal refuses an attempt that is the got-th of the account's day,
// beyond its budget, until the day ends.
func (m *Manager) dayRefusal(got int, now time.Time) *ThrottledError {
	if got > m.cfg.Throttle.AccountFailuresPerDay {
		day := now.UTC().Truncate(24 * time.Hour)
		return &ThrottledError{RetryAfter: day.Add(24 * time.Hour).Sub(now)}
	}
	return nil
}

// countNetworkAndDay is countBackoff on key, then, once admitted,
// countDay on the account's prefix, with the same outcome and the same
// counts left behind; in one step where the throttle store is a
// [FailureBatchStore] (issue 12). There both keys are counted at once,
// before the back-off is checked against what they held, and the counts
// an attempt would not have made are put back in the same transaction,
// whose rows they are until it ends (batchRefusal). OWASP ASVS 5.0
// V6.3.1, NIST SP 800-63B 5.2.2: the limits hold exactly as counted one
// by one. ip is the client IP's answer (countIPLate), asked for before
// anything is counted where there is no batch, and after the counts
// where there is, whose hit may have gone out with them.
func (m *Manager) countNetworkAndDay(ctx context.Context, st Store, key, prefix string, ip ipCheck, n *int) (*ThrottledError, error) {
	fb, ok := st.Throttle().(FailureBatchStore)
	if !ok {
		if te, err := ip(); te != nil || err != nil {
			return te, err
		}
		if te, err := m.countBackoff(ctx, st, key, n); te != nil || err != nil {
			return te, err
		}
		return m.countDay(ctx, st, prefix)
	}
	now := m.clock()
	keys := []string{key, dayKey(prefix, now)}
	c, err := fb.AddFailures(ctx, keys, now)
	if err == nil && len(c) != len(keys) {
		err = fmt.Errorf("%d counts for %d keys", len(c), len(keys))
	}
	if err != nil {
		return nil, fmt.Errorf("auth: counting attempt: %w", err)
	}
	te, undo, err := m.batchRefusal(ip, c[0], now)
	if err != nil {
		return nil, err
	}
	if undo > 0 {
		if err := fb.RestoreFailures(ctx, keys[2-undo:], c[2-undo:]); err != nil {
			return nil, fmt.Errorf("auth: counting attempt: %w", err)
		}
		return te, nil
	}
	*n = c[0].Got
	return m.dayRefusal(c[1].Got, now), nil
}

// batchRefusal is the refusal of an attempt whose network back-off (net)
// and day AddFailures counted, and how many of those two counts, from the
// last, it must put back: both when the client IP's budget (ip) or the
// back-off refuses it (a refused attempt counts no failure), the day's
// when another attempt got in between (countBackoff's check).
func (m *Manager) batchRefusal(ip ipCheck, net FailureCount, now time.Time) (*ThrottledError, int, error) {
	if te, err := ip(); te != nil || err != nil {
		return te, 2, err
	}
	if wait := m.backoffLeft(net.Prev, net.PrevLast, now); wait > 0 {
		return &ThrottledError{RetryAfter: wait}, 2, nil
	}
	if net.Got > m.cfg.Throttle.FreeFailures && net.Got != net.Prev+1 {
		return &ThrottledError{RetryAfter: m.backoff(net.Got - 1)}, 1, nil
	}
	return nil, 0, nil
}

// networkKey counts an account's failures from the client network of ip:
// the network ipThrottleKey keys the per-IP budget by (IPv4 address, IPv6
// /64).
func networkKey(email, ip string) string {
	return throttlePrefix(email) + "net:" + strings.TrimPrefix(ipThrottleKey(ip), "ip:")
}

// reserveAttempt admits one password check by the holder of a session
// (re-authentication): the client IP's budget, then key's back-off, in one
// transaction, as admitLogin does.
func (m *Manager) reserveAttempt(ctx context.Context, key string, c Client, attempted string) (int, error) {
	var (
		n       int
		refused *ThrottledError
	)
	err := m.atomicDeferSync(ctx, func(tx Store) error {
		var err error
		if refused, err = m.countIP(ctx, tx, c); refused != nil || err != nil {
			return err
		}
		refused, err = m.countBackoff(ctx, tx, key, &n)
		return err
	})
	if err != nil {
		return 0, err
	}
	if refused != nil {
		return 0, m.recordThrottled(ctx, refused, attempted, c)
	}
	return n, nil
}

// countBackoff admits one attempt, or refuses it while key is in its
// back-off.
//
// The attempt is counted as a failure before the password is checked, and
// a success resets the count. Counting first is what makes the limit hold
// under concurrency: of a burst of simultaneous attempts, each gets its own
// count, and only those within the free failures, or the one that alone
// follows a finished back-off, go on to bcrypt. Inside an Atomic
// transaction the read and the count cannot be split by another attempt's;
// the check of the count against the read is for whatever writes outside
// one. It sets *n to key's failure count including this attempt.
func (m *Manager) countBackoff(ctx context.Context, st Store, key string, n *int) (*ThrottledError, error) {
	prev, last, err := st.Throttle().Failures(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("auth: reading throttle: %w", err)
	}
	now := m.clock()
	if wait := m.backoffLeft(prev, last, now); wait > 0 {
		return &ThrottledError{RetryAfter: wait}, nil
	}
	got, err := st.Throttle().AddFailure(ctx, key, now)
	if err != nil {
		return nil, fmt.Errorf("auth: counting attempt: %w", err)
	}
	if got > m.cfg.Throttle.FreeFailures && got != prev+1 {
		// Another attempt was admitted between our read and our count.
		return &ThrottledError{RetryAfter: m.backoff(got - 1)}, nil
	}
	*n = got
	return nil, nil
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
// and an IPv6 client's against its /48's as well, and records a refusal.
func (m *Manager) hitIP(ctx context.Context, c Client, attempted string) error {
	te, err := m.countIP(ctx, m.store, c)
	if err != nil {
		return err
	}
	if te != nil {
		return m.recordThrottled(ctx, te, attempted, c)
	}
	return nil
}

// countIP is hitIP on st, returning the refusal unrecorded.
func (m *Manager) countIP(ctx context.Context, st Store, c Client) (*ThrottledError, error) {
	ipKey := ipThrottleKey(c.IP)
	if ipKey == "" || m.cfg.Throttle.PerIPPerMinute <= 0 {
		return nil, nil
	}
	if te, err := m.countWindow(ctx, st, ipKey, m.cfg.Throttle.PerIPPerMinute); te != nil || err != nil {
		return te, err
	}
	if site := siteKey(c.IP); site != "" {
		return m.countWindow(ctx, st, site, m.cfg.Throttle.PerIPv6SitePerMinute)
	}
	return nil, nil
}

// ipCheck gives countIP's answer.
type ipCheck func() (*ThrottledError, error)

// countIPLate is countIP where its hits can go out with the
// transaction's next statement (issue 12), when the throttle store is a
// [LateHitStore] and a [FailureBatchStore], whose counts
// countNetworkAndDay puts back when a hit refuses the attempt. An IPv6
// client's /48 (siteKey) is hit, as countIP hits it, only if its own
// key's hit admits the attempt: the store decides that from the count the
// first hit left, so a refusal by the /64 spends none of the site's
// budget (OWASP ASVS 5.0 V6.3.1, NIST SP 800-63B 5.2.2: the limits hold
// exactly as counted one by one). Both hits take one reading of the
// clock, where countIP reads it for each. The function it returns gives
// countIP's answer, sending the hits first if nothing has taken them out
// yet. Elsewhere countIP runs at once.
func (m *Manager) countIPLate(ctx context.Context, st Store, c Client) ipCheck {
	ipKey, budget := ipThrottleKey(c.IP), m.cfg.Throttle.PerIPPerMinute
	lh, late := st.Throttle().(LateHitStore)
	_, batch := st.Throttle().(FailureBatchStore)
	if !late || !batch || ipKey == "" || budget <= 0 {
		te, err := m.countIP(ctx, st, c)
		return func() (*ThrottledError, error) { return te, err }
	}
	now := m.clock()
	window := now.Truncate(time.Minute)
	site := siteKey(c.IP)
	hits := lh.HitLate(ctx, ipKey, site, budget, window)
	return func() (*ThrottledError, error) {
		n, siteN, err := hits()
		if err != nil {
			return nil, fmt.Errorf("auth: counting attempt: %w", err)
		}
		if te := windowRefusal(n, budget, window, now); te != nil || site == "" {
			return te, nil
		}
		return windowRefusal(siteN, m.cfg.Throttle.PerIPv6SitePerMinute, window, now), nil
	}
}

// countWindow counts one hit on key in this minute's window and refuses it
// beyond budget.
func (m *Manager) countWindow(ctx context.Context, st Store, key string, budget int) (*ThrottledError, error) {
	now := m.clock()
	window := now.Truncate(time.Minute)
	hits, err := st.Throttle().Hit(ctx, key, window)
	if err != nil {
		return nil, fmt.Errorf("auth: counting attempt: %w", err)
	}
	return windowRefusal(hits, budget, window, now), nil
}

// windowRefusal refuses, until window's minute ends, the hits-th attempt
// of a window whose budget it exceeds.
func windowRefusal(hits, budget int, window, now time.Time) *ThrottledError {
	if hits > budget {
		return &ThrottledError{RetryAfter: window.Add(time.Minute).Sub(now)}
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
