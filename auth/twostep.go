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
	return m.secondFactor(ctx, challenge, c, MethodTOTP, func(tx TwoFactorStore, u *user.User, e *audit.Event) (string, error) {
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
	return m.secondFactor(ctx, challenge, c, MethodRecoveryCode, func(tx TwoFactorStore, u *user.User, e *audit.Event) (string, error) {
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

// errWrongCode rolls back a second-factor attempt that failed.
type errWrongCode struct{ reason string }

func (e errWrongCode) Error() string { return "auth: " + e.reason }

// secondFactor is the shared second step, in one transaction: find the
// live challenge, check the account's throttle, consume the challenge,
// check the code (check returns a failure reason, "" on success) and open
// the session. Writes are serialized, so of concurrent correct answers
// exactly one finds the challenge still there and gets a session, and the
// throttle read inside is never stale. A failed check rolls all of it back;
// the failure is then counted against the challenge and the account.
func (m *Manager) secondFactor(ctx context.Context, token string, c Client, method string,
	check func(tx TwoFactorStore, u *user.User, e *audit.Event) (string, error)) (*Session, error) {
	c = c.clean()
	hash := hashToken(token)
	if hash == nil {
		return nil, ErrInvalidChallenge
	}
	if err := m.hitIP(ctx, c, ""); err != nil {
		return nil, err
	}
	var (
		s   *Session
		ch  *ChallengeRecord
		u   *user.User
		key string
	)
	err := m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
		var err error
		if ch, err = tx.Challenges().Get(ctx, hash); errors.Is(err, ErrChallengeNotFound) {
			return ErrInvalidChallenge
		} else if err != nil {
			return err
		}
		if !m.clock().Before(ch.ExpiresAt) {
			return ErrInvalidChallenge // PruneSessions removes it
		}
		if u, err = tx.Users().Get(ctx, ch.UserID); err != nil {
			return err
		}
		key = accountKey(u.Email)
		if err := m.checkBackoff(ctx, tx, key); err != nil {
			return err
		}
		if err := tx.Challenges().Delete(ctx, ch.ID); err != nil {
			return err
		}
		if u.Disabled {
			return ErrAccountDisabled
		}
		e := &audit.Event{
			Action: audit.LoginSucceeded, Outcome: audit.Success,
			Actor:  audit.Actor{ID: string(u.ID), Email: u.Email},
			Target: audit.Target{Type: audit.TargetUser, ID: string(u.ID)},
			IP:     c.IP, UserAgent: c.UserAgent,
			Details: map[string]any{"method": method},
		}
		if reason, err := check(tx, u, e); err != nil {
			return err
		} else if reason != "" {
			return errWrongCode{reason}
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
	var wrong errWrongCode
	var te *ThrottledError
	switch {
	case errors.As(err, &wrong):
		return nil, m.secondFactorFailed(ctx, ch, u, key, c, method, wrong.reason)
	case errors.As(err, &te):
		m.recordThrottled(ctx, te, u.Email, c)
	case errors.Is(err, user.ErrNotFound):
		return nil, ErrInvalidChallenge
	}
	return s, err
}

// secondFactorFailed counts a wrong code against the challenge and the
// account, kills the challenge at MaxChallengeFailures, and records both.
func (m *Manager) secondFactorFailed(ctx context.Context, ch *ChallengeRecord, u *user.User, key string, c Client, method, reason string) error {
	base := audit.Event{
		Outcome: audit.Failure,
		Actor:   audit.Actor{ID: string(u.ID), Email: u.Email},
		Target:  audit.Target{Type: audit.TargetUser, ID: string(u.ID)},
		IP:      c.IP, UserAgent: c.UserAgent, Reason: reason,
	}
	exhausted := false
	err := m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
		n, err := tx.Challenges().Fail(ctx, ch.ID)
		if err != nil && !errors.Is(err, ErrChallengeNotFound) {
			return err
		}
		accountFailures, err := tx.Throttle().AddFailure(ctx, key, m.clock())
		if err != nil {
			return err
		}
		e := base
		e.Action = audit.SecondFactorFailed
		e.Details = map[string]any{"method": method, "challenge_failures": n, "consecutive_failures": accountFailures}
		if err := rec(&e); err != nil {
			return err
		}
		if n < MaxChallengeFailures {
			return nil
		}
		exhausted = true
		if err := tx.Challenges().Delete(ctx, ch.ID); err != nil && !errors.Is(err, ErrChallengeNotFound) {
			return err
		}
		dead := base
		dead.Action, dead.Reason = audit.ChallengeExhausted, fmt.Sprintf("%d wrong codes", n)
		return rec(&dead)
	})
	if err != nil {
		return fmt.Errorf("auth: recording second-factor failure: %w", err)
	}
	if exhausted {
		return fmt.Errorf("%w (%w)", ErrInvalidCredentials, ErrInvalidChallenge)
	}
	return ErrInvalidCredentials
}
