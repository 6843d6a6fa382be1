package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

// Second-step limits.
const (
	// ChallengeTimeout is how long a login challenge lives.
	ChallengeTimeout = 5 * time.Minute
	// MaxChallengeFailures is how many wrong codes a challenge takes before
	// it dies; the account throttle counts them as well.
	MaxChallengeFailures = 5
)

// enrolled reports whether u has a confirmed TOTP credential.
func enrolled(ctx context.Context, s Store, id user.ID) (bool, error) {
	c, err := s.TOTP().Get(ctx, id)
	if errors.Is(err, totp.ErrNotEnrolled) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return c.Confirmed(), nil
}

// secondFactors lists the second factors user id can answer with: a
// confirmed TOTP credential (and its recovery codes while any are left),
// and passkeys whose MAC verifies when passkeys are enabled. None means
// the user has no second factor.
func (m *Manager) secondFactors(ctx context.Context, s Store, id user.ID) ([]string, error) {
	var methods []string
	ok, err := enrolled(ctx, s, id)
	if err != nil {
		return nil, err
	}
	if ok {
		methods = append(methods, MethodTOTP)
		if left, err := s.TOTP().RecoveryCodesLeft(ctx, id); err != nil {
			return nil, err
		} else if left > 0 {
			methods = append(methods, MethodRecoveryCode)
		}
	}
	if m.wa != nil {
		if n, err := m.countGenuinePasskeys(ctx, s, id); err != nil {
			return nil, err
		} else if n > 0 {
			methods = append(methods, MethodPasskey)
		}
	}
	return methods, nil
}

// maybeChallenge opens a challenge inside tx when u owes a second factor,
// and returns nil when it does not.
func (m *Manager) maybeChallenge(ctx context.Context, tx Store, u *user.User, c Client) (*Challenge, error) {
	methods, err := m.secondFactors(ctx, tx, u.ID)
	if err != nil || len(methods) == 0 {
		return nil, err
	}
	token, hash, id, err := m.newBearer()
	if err != nil {
		return nil, err
	}
	now := m.clock()
	rec := &ChallengeRecord{ID: id, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(ChallengeTimeout), IP: c.IP, UserAgent: c.UserAgent,
		Remember: c.Remember}
	if err := tx.Challenges().Create(ctx, rec, hash); err != nil {
		return nil, fmt.Errorf("auth: creating challenge: %w", err)
	}
	return &Challenge{Token: token, ExpiresAt: rec.ExpiresAt, Methods: methods}, nil
}

// VerifyTOTP finishes a two-step login with a code from the user's
// authenticator app and returns the session. A wrong code gives
// [ErrInvalidCredentials], like a wrong password; after
// [MaxChallengeFailures] wrong codes the challenge dies
// ([ErrInvalidChallenge]: start again). Spaces and one dash in the code are
// ignored; anything else that is not six digits is [totp.ErrMalformedCode]
// (in a [FieldError] for [FieldCode]), refused before the store is asked. Each code works once: the same code
// again, or an older one after a newer, fails (RFC 6238 section 5.2).
func (m *Manager) VerifyTOTP(ctx context.Context, challenge, code string, c Client) (*Session, error) {
	code, err := totp.NormalizeCode(code)
	if err != nil {
		return nil, inField(FieldCode, err)
	}
	return m.secondFactor(ctx, challenge, c, MethodTOTP, func(tx Store, _ *ChallengeRecord, u *user.User, e *audit.Event, _ func(*audit.Event) error) (string, error) {
		cred, err := tx.TOTP().Get(ctx, u.ID)
		if errors.Is(err, totp.ErrNotEnrolled) || err == nil && !cred.Confirmed() {
			return "not enrolled", nil
		}
		if err != nil {
			return "", err
		}
		return m.useTOTPCode(ctx, tx, u.ID, cred, code)
	})
}

// VerifyRecoveryCode finishes a two-step login with one of the user's
// recovery codes, which then no longer works. Case, dashes and spaces do
// not matter; a code of the wrong length or check symbol is
// [totp.ErrMalformedCode] (in a [FieldError] for [FieldCode]), refused
// before the store is asked. The audit
// event records how many codes remain ([Manager.TwoFactorStatus]
// lets a page warn).
func (m *Manager) VerifyRecoveryCode(ctx context.Context, challenge, code string, c Client) (*Session, error) {
	canon, err := totp.NormalizeRecoveryCode(code)
	if err != nil {
		return nil, inField(FieldCode, err)
	}
	return m.secondFactor(ctx, challenge, c, MethodRecoveryCode, func(tx Store, _ *ChallengeRecord, u *user.User, e *audit.Event, _ func(*audit.Event) error) (string, error) {
		salt, keyID, err := tx.TOTP().RecoverySet(ctx, u.ID)
		if err != nil || salt == nil {
			return "no recovery codes", err
		}
		k := m.keys.byID(keyID)
		if k == nil {
			return "recovery codes made under an unknown key", nil
		}
		won, err := tx.TOTP().UseRecoveryCode(ctx, u.ID, totp.HashRecoveryCode(k.recovery, salt, canon))
		if err != nil || !won {
			return "wrong or used recovery code", err
		}
		left, err := tx.TOTP().RecoveryCodesLeft(ctx, u.ID)
		e.Details = withDetail(e.Details, audit.DetailRecoveryCodesLeft, left)
		return "", err
	})
}

// secondFactor is the shared second step, in one transaction: find the
// live challenge, check the account's back-off, check the code (check
// returns a failure reason, "" on success), then either consume the
// challenge and open the session, or count the wrong code against the
// challenge and the account. Both outcomes commit in that one transaction,
// and transactions are serialized, so every attempt sees every earlier
// one: of concurrent correct answers exactly one gets a session, and a
// burst of wrong codes cannot get more checks than the limits allow.
func (m *Manager) secondFactor(ctx context.Context, token string, c Client, method string, check secondFactorCheck) (*Session, error) {
	return m.secondFactorHit(ctx, token, c, method, true, check)
}

// secondFactorHit is secondFactor; hit false when the caller spent the
// IP's budget already.
func (m *Manager) secondFactorHit(ctx context.Context, token string, c Client, method string, hit bool, check secondFactorCheck) (*Session, error) {
	c = c.clean()
	hash := m.challengeHash(token)
	if hash == nil {
		return nil, ErrInvalidChallenge
	}
	if hit {
		if err := m.hitIP(ctx, c, ""); err != nil {
			return nil, err
		}
	}
	a := &answer{c: c, method: method}
	err := m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
		*a = answer{c: c, method: method} // the store may run fn again
		return m.answerIn(ctx, tx, rec, hash, check, a)
	})
	var te *ThrottledError
	switch {
	case err == nil && a.exhausted:
		return nil, fmt.Errorf("%w (%w)", ErrInvalidCredentials, ErrInvalidChallenge)
	case err == nil && a.wrong:
		return nil, ErrInvalidCredentials
	case errors.As(err, &te):
		m.recordThrottled(ctx, te, a.u.Email, c)
	}
	return a.s, err
}

// secondFactorCheck checks one second factor of u, answering challenge
// ch, inside tx and returns why it failed ("" when it passed). It may add
// details to the success event e, and record events of its own through
// rec (they commit with a wrong answer too).
type secondFactorCheck func(tx Store, ch *ChallengeRecord, u *user.User, e *audit.Event, rec func(*audit.Event) error) (reason string, err error)

// answer is one answer to a login challenge and what became of it.
type answer struct {
	c      Client
	method string

	u         *user.User
	s         *Session // the new session, on success
	wrong     bool     // the factor was wrong
	exhausted bool     // ... and that was the challenge's last try
}

// answerIn runs one answer inside tx.
func (m *Manager) answerIn(ctx context.Context, tx Store, rec func(*audit.Event) error,
	hash []byte, check secondFactorCheck, a *answer) error {
	ch, u, err := m.liveChallenge(ctx, tx, hash)
	if err != nil {
		return err
	}
	a.u = u
	key := accountKey(u.Email)
	if err := m.checkBackoff(ctx, tx, key); err != nil {
		return err
	}
	e := selfEvent(audit.LoginSucceeded, audit.Success, u, a.c)
	e.Details = map[string]any{audit.DetailMethod: a.method}
	reason, err := check(tx, ch, u, e, rec)
	if err != nil {
		return err
	}
	if reason != "" {
		a.wrong = true
		a.exhausted, err = m.countWrongCode(ctx, tx, rec, ch, key, *e, reason)
		return err
	}
	a.s, err = m.passSecondFactor(ctx, tx, rec, ch, u, key, a.c, e)
	return err
}

// liveChallenge returns the challenge stored under hash and its user, if
// the challenge may still be answered and the user may still log in.
func (m *Manager) liveChallenge(ctx context.Context, tx Store, hash []byte) (*ChallengeRecord, *user.User, error) {
	ch, err := tx.Challenges().Get(ctx, hash)
	if errors.Is(err, ErrChallengeNotFound) {
		return nil, nil, ErrInvalidChallenge
	} else if err != nil {
		return nil, nil, err
	}
	if !m.clock().Before(ch.ExpiresAt) || ch.Failures >= MaxChallengeFailures {
		return nil, nil, ErrInvalidChallenge // PruneSessions removes it
	}
	u, err := tx.Users().Get(ctx, ch.UserID)
	if errors.Is(err, user.ErrNotFound) {
		return nil, nil, ErrInvalidChallenge
	} else if err != nil {
		return nil, nil, err
	}
	if u.Disabled {
		return nil, nil, ErrAccountDisabled
	}
	return ch, u, nil
}

// passSecondFactor finishes a login whose second factor was right: the
// challenge is consumed, the account's failures forgotten, the session
// opened and the success (and a used recovery code) recorded.
func (m *Manager) passSecondFactor(ctx context.Context, tx Store, rec func(*audit.Event) error,
	ch *ChallengeRecord, u *user.User, key string, c Client, e *audit.Event) (*Session, error) {
	if err := tx.Challenges().Delete(ctx, ch.ID); err != nil {
		return nil, err
	}
	if err := tx.Users().SetLastLogin(ctx, u.ID, m.clock()); err != nil {
		return nil, err
	}
	// The password step's count from this network ends here too: it was
	// left alone when the challenge opened (completeLogin).
	for _, k := range []string{key, networkKey(u.Email, c.IP)} {
		if err := tx.Throttle().ResetFailures(ctx, k); err != nil {
			return nil, err
		}
	}
	c.Remember = ch.Remember // chosen at the first step
	s, err := m.issueSession(ctx, tx, u, c)
	if err != nil {
		return nil, err
	}
	e.Details = sessionDetails(e.Details, s)
	if e.Details[audit.DetailMethod] == MethodRecoveryCode {
		used := *e
		used.Action, used.Details = audit.RecoveryCodeUsed, map[string]any{audit.DetailRemaining: e.Details[audit.DetailRecoveryCodesLeft]}
		if err := rec(&used); err != nil {
			return nil, err
		}
	}
	return s, rec(e)
}

// countWrongCode records a wrong code inside the attempt's transaction:
// one more failure on the challenge and on the account, and the challenge's
// death at MaxChallengeFailures. e is the success event the attempt would
// have written, turned into the failure's.
func (m *Manager) countWrongCode(ctx context.Context, tx Store, rec func(*audit.Event) error,
	ch *ChallengeRecord, key string, e audit.Event, reason string) (exhausted bool, err error) {
	n, err := tx.Challenges().Fail(ctx, ch.ID)
	if err != nil {
		return false, err
	}
	accountFailures, err := tx.Throttle().AddFailure(ctx, key, m.clock())
	if err != nil {
		return false, err
	}
	e.Action, e.Outcome, e.Reason = audit.SecondFactorFailed, audit.Failure, reason
	e.Details = map[string]any{audit.DetailMethod: e.Details[audit.DetailMethod], audit.DetailChallengeFailures: n, audit.DetailConsecutiveFailures: accountFailures}
	if err := rec(&e); err != nil {
		return false, err
	}
	if n < MaxChallengeFailures {
		return false, nil
	}
	if err := tx.Challenges().Delete(ctx, ch.ID); err != nil {
		return false, err
	}
	dead := e
	dead.Action, dead.Reason, dead.Details = audit.ChallengeExhausted, fmt.Sprintf("%d wrong codes", n), nil
	return true, rec(&dead)
}
