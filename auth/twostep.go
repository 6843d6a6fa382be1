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

// maybeChallenge opens a challenge inside tx when u owes a second factor,
// and returns nil when it does not.
func (m *Manager) maybeChallenge(ctx context.Context, tx Store, u *user.User, c Client) (*Challenge, error) {
	ok, err := enrolled(ctx, tx, u.ID)
	if err != nil || !ok {
		return nil, err
	}
	token, hash, id, err := m.newBearer()
	if err != nil {
		return nil, err
	}
	now := m.clock()
	rec := &ChallengeRecord{ID: id, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(ChallengeTimeout), IP: c.IP, UserAgent: c.UserAgent}
	if err := tx.Challenges().Create(ctx, rec, hash); err != nil {
		return nil, fmt.Errorf("auth: creating challenge: %w", err)
	}
	methods := []string{MethodTOTP}
	if left, err := tx.TOTP().RecoveryCodesLeft(ctx, u.ID); err != nil {
		return nil, err
	} else if left > 0 {
		methods = append(methods, MethodRecoveryCode)
	}
	return &Challenge{Token: token, ExpiresAt: rec.ExpiresAt, Methods: methods}, nil
}

// VerifyTOTP finishes a two-step login with a code from the user's
// authenticator app and returns the session. A wrong code gives
// [ErrInvalidCredentials], like a wrong password; after
// [MaxChallengeFailures] wrong codes the challenge dies
// ([ErrInvalidChallenge]: start again). Spaces and one dash in the code are
// ignored; anything else that is not six digits is [totp.ErrMalformedCode],
// refused before the store is asked. Each code works once: the same code
// again, or an older one after a newer, fails (RFC 6238 section 5.2).
func (m *Manager) VerifyTOTP(ctx context.Context, challenge, code string, c Client) (*Session, error) {
	code, err := totp.NormalizeCode(code)
	if err != nil {
		return nil, err
	}
	return m.secondFactor(ctx, challenge, c, MethodTOTP, func(tx Store, u *user.User, e *audit.Event) (string, error) {
		cred, err := tx.TOTP().Get(ctx, u.ID)
		if errors.Is(err, totp.ErrNotEnrolled) || err == nil && !cred.Confirmed() {
			return "not enrolled", nil
		}
		if err != nil {
			return "", err
		}
		secret, err := m.keys.open(cred.KeyID, cred.Sealed, []byte(u.ID))
		if err != nil {
			return "", err
		}
		step, ok := totp.Match(secret, code, m.clock())
		if !ok {
			return "wrong code", nil
		}
		if won, err := tx.TOTP().UseStep(ctx, u.ID, step); err != nil || !won {
			return "code already used", err
		}
		return "", nil
	})
}

// VerifyRecoveryCode finishes a two-step login with one of the user's
// recovery codes, which then no longer works. Case, dashes and spaces do
// not matter; a code of the wrong length or check symbol is
// [totp.ErrMalformedCode], refused before the store is asked. The audit
// event records how many codes remain ([Manager.RemainingRecoveryCodes]
// lets a page warn).
func (m *Manager) VerifyRecoveryCode(ctx context.Context, challenge, code string, c Client) (*Session, error) {
	canon, err := totp.NormalizeRecoveryCode(code)
	if err != nil {
		return nil, err
	}
	return m.secondFactor(ctx, challenge, c, MethodRecoveryCode, func(tx Store, u *user.User, e *audit.Event) (string, error) {
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
		e.Details = withDetail(e.Details, "recovery_codes_left", left)
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
func (m *Manager) secondFactor(ctx context.Context, token string, c Client, method string,
	check func(tx Store, u *user.User, e *audit.Event) (string, error)) (*Session, error) {
	c = c.clean()
	hash := hashToken(token)
	if hash == nil {
		return nil, ErrInvalidChallenge
	}
	if err := m.hitIP(ctx, c, ""); err != nil {
		return nil, err
	}
	var (
		s         *Session
		u         *user.User
		wrong     bool
		exhausted bool
	)
	err := m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
		s, wrong, exhausted = nil, false, false
		ch, err := tx.Challenges().Get(ctx, hash)
		if errors.Is(err, ErrChallengeNotFound) {
			return ErrInvalidChallenge
		} else if err != nil {
			return err
		}
		if !m.clock().Before(ch.ExpiresAt) || ch.Failures >= MaxChallengeFailures {
			return ErrInvalidChallenge // PruneSessions removes it
		}
		if u, err = tx.Users().Get(ctx, ch.UserID); errors.Is(err, user.ErrNotFound) {
			return ErrInvalidChallenge
		} else if err != nil {
			return err
		}
		if u.Disabled {
			return ErrAccountDisabled
		}
		key := accountKey(u.Email)
		if err := m.checkBackoff(ctx, tx, key); err != nil {
			return err
		}
		e := &audit.Event{
			Action: audit.LoginSucceeded, Outcome: audit.Success,
			Actor:  audit.Actor{ID: string(u.ID), Email: u.Email},
			Target: audit.Target{Type: audit.TargetUser, ID: string(u.ID)},
			IP:     c.IP, UserAgent: c.UserAgent,
			Details: map[string]any{"method": method},
		}
		reason, err := check(tx, u, e)
		if err != nil {
			return err
		}
		if reason != "" {
			wrong = true
			exhausted, err = m.countWrongCode(ctx, tx, rec, ch, key, *e, reason)
			return err
		}
		if err := tx.Challenges().Delete(ctx, ch.ID); err != nil {
			return err
		}
		if err := tx.Users().SetLastLogin(ctx, u.ID, m.clock()); err != nil {
			return err
		}
		if err := tx.Throttle().ResetFailures(ctx, key); err != nil {
			return err
		}
		if s, err = m.issueSession(ctx, tx, u, c); err != nil {
			return err
		}
		e.Details["session_id"] = s.ID
		if method == MethodRecoveryCode {
			used := *e
			used.Action, used.Details = audit.RecoveryCodeUsed, map[string]any{"remaining": e.Details["recovery_codes_left"]}
			if err := rec(&used); err != nil {
				return err
			}
		}
		return rec(e)
	})
	var te *ThrottledError
	switch {
	case err == nil && exhausted:
		return nil, fmt.Errorf("%w (%w)", ErrInvalidCredentials, ErrInvalidChallenge)
	case err == nil && wrong:
		return nil, ErrInvalidCredentials
	case errors.As(err, &te):
		m.recordThrottled(ctx, te, u.Email, c)
	}
	return s, err
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
	e.Details = map[string]any{"method": e.Details["method"], "challenge_failures": n, "consecutive_failures": accountFailures}
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
