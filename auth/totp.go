package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

// EnrollmentTimeout is how long a begun TOTP enrollment waits for its
// confirming code.
const EnrollmentTimeout = 15 * time.Minute

// BeginTOTP starts TOTP enrollment for the actor and returns the secret,
// the otpauth:// URI and a QR code to show once. Nothing is active until
// [Manager.ConfirmTOTP]. It needs profile:manage_2fa and proof that the
// person is present: either password is the current password, or it is
// empty and the session is fresh (logged in within Config.ReauthWindow), so
// a stolen old session cannot bind its own authenticator. Otherwise it
// fails with [ErrReauthRequired]. A user already enrolled gets
// [totp.ErrAlreadyEnrolled]; beginning again replaces an unconfirmed one.
func (m *Manager) BeginTOTP(ctx context.Context, actor *Principal, password string) (*totp.Enrollment, error) {
	target := selfTarget(actor)
	if !actor.Can(group.ProfileManage2FA) {
		return nil, m.refuse(ctx, actor, group.ProfileManage2FA, audit.TOTPEnrollStarted, target)
	}
	key, err := m.reauthenticate(ctx, actor, password)
	if err != nil {
		return nil, err
	}
	secret, err := totp.NewSecret(m.rand)
	if err != nil {
		return nil, err
	}
	enr, err := totp.NewEnrollment(secret, m.cfg.Issuer, actor.user.Email)
	if err != nil {
		return nil, err
	}
	err = m.change(ctx, actor, group.ProfileManage2FA, audit.TOTPEnrollStarted, target, func(tx Store, a *Principal, e *audit.Event) error {
		if ok, err := enrolled(ctx, tx, a.user.ID); err != nil {
			return err
		} else if ok {
			return totp.ErrAlreadyEnrolled
		}
		if key != "" {
			if err := tx.Throttle().ResetFailures(ctx, key); err != nil {
				return err
			}
		}
		kid, sealed, err := m.keys.seal(m.rand, secret, []byte(a.user.ID))
		if err != nil {
			return err
		}
		return tx.TOTP().Put(ctx, &totp.Credential{UserID: a.user.ID, KeyID: kid, Sealed: sealed, CreatedAt: m.clock()})
	})
	if err != nil {
		return nil, err
	}
	return enr, nil
}

// ConfirmTOTP finishes enrollment with a code from the app and returns the
// recovery codes, which are shown this once and stored only hashed, and the
// session that replaces the actor's: binding a factor changes the session
// token (OWASP ASVS 5.0 V7.2.4), so hand the new Token to the client
// ([Manager.SetSessionCookie]); the actor's old token no longer works. The
// new session keeps the old one's start and expiry. A wrong code gives
// [ErrInvalidCredentials]; no begun enrollment (or one older than
// [EnrollmentTimeout]) gives [totp.ErrNotEnrolled].
func (m *Manager) ConfirmTOTP(ctx context.Context, actor *Principal, code string) ([]string, *Session, error) {
	code, err := totp.NormalizeCode(code)
	if err != nil {
		return nil, nil, inField(FieldCode, err)
	}
	codes, salt, hashes, kid, err := m.newRecoveryCodes()
	if err != nil {
		return nil, nil, err
	}
	wrong := false
	var s *Session
	err = m.change(ctx, actor, group.ProfileManage2FA, audit.TOTPEnabled, selfTarget(actor), func(tx Store, a *Principal, e *audit.Event) error {
		cred, err := pendingTOTP(ctx, tx, a.user.ID, m.clock())
		if err != nil {
			return err
		}
		// Guessing the confirmation code is guessing a second factor: the
		// account's back-off applies, and each wrong code counts and is
		// recorded (committed, not rolled back with the refusal).
		key := accountKey(a.user.Email)
		if err := m.checkBackoff(ctx, tx, key); err != nil {
			return err
		}
		reason, err := m.useTOTPCode(ctx, tx, a.user.ID, cred, code)
		if err != nil {
			return err
		}
		if reason != "" {
			wrong = true
			return m.wrongEnrollmentCode(ctx, tx, key, e)
		}
		if err := tx.TOTP().Confirm(ctx, a.user.ID, m.clock()); err != nil {
			return err
		}
		if err := tx.Throttle().ResetFailures(ctx, key); err != nil {
			return err
		}
		e.Details = map[string]any{audit.DetailRecoveryCodes: len(codes)}
		if err := tx.TOTP().SetRecoveryCodes(ctx, a.user.ID, kid, salt, hashes); err != nil {
			return err
		}
		s, err = m.replaceSession(ctx, tx, a, false, e)
		return err
	})
	if err == nil && wrong {
		return nil, nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, nil, err
	}
	return codes, s, nil
}

// wrongEnrollmentCode counts a wrong confirmation code against the
// account's key and turns e into the failure it records.
func (m *Manager) wrongEnrollmentCode(ctx context.Context, tx Store, key string, e *audit.Event) error {
	n, err := tx.Throttle().AddFailure(ctx, key, m.clock())
	e.Action, e.Outcome, e.Reason = audit.SecondFactorFailed, audit.Failure, "wrong code confirming enrollment"
	e.Details = map[string]any{audit.DetailMethod: "enrollment", audit.DetailConsecutiveFailures: n}
	return err
}

// pendingTOTP returns the user's begun, unconfirmed and unexpired TOTP
// enrollment.
func pendingTOTP(ctx context.Context, tx Store, id user.ID, now time.Time) (*totp.Credential, error) {
	cred, err := tx.TOTP().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if cred.Confirmed() {
		return nil, totp.ErrAlreadyEnrolled
	}
	if now.Sub(cred.CreatedAt) > EnrollmentTimeout {
		return nil, fmt.Errorf("%w: enrollment expired, begin again", totp.ErrNotEnrolled)
	}
	return cred, nil
}

// useTOTPCode checks code against cred, id's credential, now (the secret
// opens only for the account it was sealed for) and marks it used: a code
// works once (RFC 6238 section 5.2). It returns why the code failed, ""
// when it passed.
func (m *Manager) useTOTPCode(ctx context.Context, tx Store, id user.ID, cred *totp.Credential, code string) (string, error) {
	secret, err := m.keys.open(cred.KeyID, cred.Sealed, []byte(id))
	if err != nil {
		return "", err
	}
	step, ok := totp.Match(secret, code, m.clock())
	if !ok {
		return "wrong code", nil
	}
	if won, err := tx.TOTP().UseStep(ctx, id, step); err != nil || !won {
		return "code already used", err
	}
	return "", nil
}

// DisableTOTP removes the actor's TOTP credential and recovery codes, and
// returns the session that replaces the actor's: the password was proven
// again, so the session token changes (OWASP ASVS 5.0 V7.2.4); hand the
// new Token to the client ([Manager.SetSessionCookie]). It needs
// profile:manage_2fa and the current password.
func (m *Manager) DisableTOTP(ctx context.Context, actor *Principal, password string) (*Session, error) {
	if !actor.Can(group.ProfileManage2FA) {
		return nil, m.refuse(ctx, actor, group.ProfileManage2FA, audit.TOTPDisabled, selfTarget(actor))
	}
	key, err := m.requirePassword(ctx, actor, password)
	if err != nil {
		return nil, err
	}
	var s *Session
	err = m.change(ctx, actor, group.ProfileManage2FA, audit.TOTPDisabled, selfTarget(actor), func(tx Store, a *Principal, e *audit.Event) error {
		if _, err := tx.TOTP().Get(ctx, a.user.ID); err != nil {
			return err
		}
		if err := tx.Throttle().ResetFailures(ctx, key); err != nil {
			return err
		}
		if err := tx.TOTP().Delete(ctx, a.user.ID); err != nil {
			return err
		}
		s, err = m.replaceSession(ctx, tx, a, true, e)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// RegenerateRecoveryCodes replaces the actor's recovery codes with a fresh
// set (the old ones stop working) and returns it, to show once, with the
// session that replaces the actor's: the password was proven again, so the
// session token changes (OWASP ASVS 5.0 V7.2.4); hand the new Token to the
// client ([Manager.SetSessionCookie]). It needs profile:manage_2fa, the
// current password and a confirmed TOTP credential.
func (m *Manager) RegenerateRecoveryCodes(ctx context.Context, actor *Principal, password string) ([]string, *Session, error) {
	if !actor.Can(group.ProfileManage2FA) {
		return nil, nil, m.refuse(ctx, actor, group.ProfileManage2FA, audit.RecoveryCodesRenewed, selfTarget(actor))
	}
	key, err := m.requirePassword(ctx, actor, password)
	if err != nil {
		return nil, nil, err
	}
	codes, salt, hashes, kid, err := m.newRecoveryCodes()
	if err != nil {
		return nil, nil, err
	}
	var s *Session
	err = m.change(ctx, actor, group.ProfileManage2FA, audit.RecoveryCodesRenewed, selfTarget(actor), func(tx Store, a *Principal, e *audit.Event) error {
		if ok, err := enrolled(ctx, tx, a.user.ID); err != nil {
			return err
		} else if !ok {
			return totp.ErrNotEnrolled
		}
		if err := tx.Throttle().ResetFailures(ctx, key); err != nil {
			return err
		}
		if err := tx.TOTP().SetRecoveryCodes(ctx, a.user.ID, kid, salt, hashes); err != nil {
			return err
		}
		s, err = m.replaceSession(ctx, tx, a, true, e)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return codes, s, nil
}

// ResetTwoFactor removes a user's TOTP credential, recovery codes and
// passkeys (each is a second factor; the audit event counts the passkeys)
// and ends the user's sessions, pending logins and the trust of their devices
// (see [Manager.RevokeDevices]), for someone who lost their device; they
// can enrol again. It needs users:write and every permission
// of the user's group.
func (m *Manager) ResetTwoFactor(ctx context.Context, actor *Principal, id user.ID) error {
	return m.change(ctx, actor, group.UsersWrite, audit.TwoFactorReset, userTarget(id), func(tx Store, a *Principal, e *audit.Event) error {
		if id == a.user.ID {
			// DisableTOTP asks for the password; a stale session must not
			// strip its own second factor through the admin path.
			return denied(DenyOwnAccount, "remove your own second factor with DisableTOTP")
		}
		if err := m.mayManageUser(ctx, tx, a, id); err != nil {
			return err
		}
		if err := tx.TOTP().Delete(ctx, id); err != nil {
			return err
		}
		passkeys, err := tx.Passkeys().DeleteUser(ctx, id)
		if err != nil {
			return err
		}
		if _, err := tx.Challenges().DeleteUser(ctx, id); err != nil {
			return err
		}
		n, err := tx.Sessions().DeleteUser(ctx, id, "")
		if err != nil {
			return err
		}
		e.Details = map[string]any{audit.DetailSessionsRevoked: n, audit.DetailPasskeysRemoved: passkeys}
		return revokeDevices(ctx, tx, id, e)
	})
}

// newRecoveryCodes makes a fresh set: the codes to show, and the salt,
// hashes and key ID to store.
func (m *Manager) newRecoveryCodes() (codes []string, salt []byte, hashes [][]byte, keyID string, err error) {
	if codes, err = totp.NewRecoveryCodes(m.rand); err != nil {
		return
	}
	if salt, err = m.randomBytes(16); err != nil {
		return
	}
	k := m.keys.current
	for _, c := range codes {
		canon, err2 := totp.NormalizeRecoveryCode(c)
		if err2 != nil {
			return nil, nil, nil, "", err2
		}
		hashes = append(hashes, totp.HashRecoveryCode(k.recovery, salt, canon))
	}
	return codes, salt, hashes, k.id, nil
}

// reauthenticate accepts the current password, or an empty one when the
// session is fresh. It returns the throttle key to reset on success ("" when
// no password was checked).
func (m *Manager) reauthenticate(ctx context.Context, actor *Principal, password string) (string, error) {
	if password == "" {
		if m.Fresh(actor) {
			return "", nil
		}
		return "", ErrReauthRequired
	}
	return m.verifyOwnPassword(ctx, actor, password, "wrong current password on re-authentication")
}

// requirePassword insists on the current password.
func (m *Manager) requirePassword(ctx context.Context, actor *Principal, password string) (string, error) {
	if password == "" {
		return "", ErrReauthRequired
	}
	return m.verifyOwnPassword(ctx, actor, password, "wrong current password on re-authentication")
}

func selfTarget(actor *Principal) audit.Target {
	t := audit.Target{Type: audit.TargetUser}
	if actor != nil {
		t.ID = string(actor.user.ID)
	}
	return t
}

// TwoFactorStatus is what a security page shows about the actor's second
// factor.
type TwoFactorStatus struct {
	Enrolled          bool // a confirmed TOTP credential
	Pending           bool // enrollment begun, not confirmed
	RecoveryCodesLeft int
	// Passkeys counts the user's passkeys, which are second factors too
	// (0 while passkeys are off: they count for nothing then).
	Passkeys int
}

// TwoFactorStatus reports the actor's own second-factor state.
func (m *Manager) TwoFactorStatus(ctx context.Context, actor *Principal) (TwoFactorStatus, error) {
	var st TwoFactorStatus
	if !m.mine(actor) || actor.user.ID == "" {
		return st, m.refuse(ctx, actor, "", audit.AuthorizationDeny, selfTarget(actor))
	}
	c, err := m.store.TOTP().Get(ctx, actor.user.ID)
	switch {
	case errors.Is(err, totp.ErrNotEnrolled):
	case err != nil:
		return st, err
	default:
		st.Enrolled = c.Confirmed()
		st.Pending = !st.Enrolled && m.clock().Sub(c.CreatedAt) <= EnrollmentTimeout
	}
	if st.RecoveryCodesLeft, err = m.store.TOTP().RecoveryCodesLeft(ctx, actor.user.ID); err != nil {
		return st, err
	}
	if m.wa != nil {
		st.Passkeys, err = m.countGenuinePasskeys(ctx, m.store, actor.user.ID)
	}
	return st, err
}

// Fresh reports whether the actor's session began within
// Config.ReauthWindow, i.e. whether [Manager.BeginTOTP] will accept it
// without the password (a page can then leave the password field out). It
// answers from the session the Principal was authenticated with, which no
// host code can change; the operation itself still re-reads the session.
func (m *Manager) Fresh(actor *Principal) bool {
	if !m.mine(actor) || actor.session.ID == "" {
		return false
	}
	return m.clock().Sub(actor.session.CreatedAt) <= m.cfg.ReauthWindow
}
