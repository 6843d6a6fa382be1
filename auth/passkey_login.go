package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/user"
)

// passwordlessOn reports why passwordless login is off, if it is.
func (m *Manager) passwordlessOn() error {
	if err := m.passkeysOn(); err != nil {
		return err
	}
	if m.cfg.Passkeys.DisablePasswordless {
		return ErrPasswordlessDisabled
	}
	return nil
}

// BeginPasskeyLogin starts a passwordless login and returns the options
// for navigator.credentials.get: no email is asked, the browser offers the
// passkeys it holds for the relying party (also as autofill, with
// mediation "conditional", which the page sets). User verification is
// required, so a passkey login is multi-factor by itself (NIST SP 800-63B
// 5.1.8: a multi-factor cryptographic authenticator). Each call spends the
// client IP's budget ([ThrottledError]), like a password attempt.
func (m *Manager) BeginPasskeyLogin(ctx context.Context, c Client) (*PasskeyCeremony, error) {
	if err := m.passwordlessOn(); err != nil {
		return nil, err
	}
	c = c.clean()
	if err := m.hitIP(ctx, c, ""); err != nil {
		return nil, err
	}
	assertion, sd, err := m.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("auth: beginning passkey login: %w", err)
	}
	return m.saveCeremony(ctx, m.store, passkey.KindLogin, "", "", sd, assertion)
}

// FinishPasskeyLogin checks the browser's answer (the JSON of the
// PublicKeyCredential that navigator.credentials.get returned) to the
// ceremony id and opens a session. The session needs no second step: the
// passkey with user verification satisfies a group's two-factor
// requirement.
//
// Every wrong answer is [ErrInvalidCredentials], the reason kept in the
// audit trail (a store failure is returned as it is): a malformed answer, an unknown or deleted passkey, another origin
// or RP ID, a bad signature, no user verification, or a signature counter
// that went backwards (a possible cloned authenticator, also recorded as
// [audit.PasskeyCloneWarning]). A ceremony that is unknown, used or expired
// matches [ErrInvalidCeremony] too. A disabled account is
// [ErrAccountDisabled], told only after a valid passkey, as for a password.
// Each call spends the client IP's budget ([ThrottledError]).
func (m *Manager) FinishPasskeyLogin(ctx context.Context, ceremony string, response []byte, c Client) (*LoginResult, error) {
	if err := m.passwordlessOn(); err != nil {
		return nil, err
	}
	c = c.clean()
	if err := m.hitIP(ctx, c, ""); err != nil {
		return nil, err
	}
	_, sd, err := m.takeCeremony(ctx, ceremony, passkey.KindLogin)
	if errors.Is(err, ErrInvalidCeremony) {
		return nil, m.passkeyLoginFailed(ctx, nil, c, "unknown, used or expired passkey ceremony", err)
	} else if err != nil {
		return nil, err
	}
	parsed, err := parseAssertion(response)
	if err != nil {
		return nil, m.passkeyLoginFailed(ctx, nil, c, err.Error(), nil)
	}
	u, pk, w, err := m.passkeyOwner(ctx, parsed)
	if err != nil || u == nil {
		if err != nil {
			return nil, err
		}
		return nil, m.passkeyLoginFailed(ctx, nil, c, "unknown passkey", nil)
	}
	_, wc, err := m.wa.ValidatePasskeyLogin(func(_, _ []byte) (webauthn.User, error) { return w, nil }, *sd, parsed)
	if err != nil {
		return nil, m.passkeyLoginFailed(ctx, u, c, rejected(err).Error(), nil)
	}
	return m.completePasskeyLogin(ctx, u, pk, wc, c)
}

// passkeyOwner finds the passkey a discoverable answer names and its
// user: the credential ID and the user handle must agree. A nil user with
// no error means nobody.
func (m *Manager) passkeyOwner(ctx context.Context, parsed *protocol.ParsedCredentialAssertionData) (*user.User, *passkey.Credential, *webAuthnUser, error) {
	s := m.store.Passkeys()
	pk, err := s.GetByCredentialID(ctx, parsed.RawID)
	if errors.Is(err, passkey.ErrNotFound) {
		return nil, nil, nil, nil
	} else if err != nil {
		return nil, nil, nil, fmt.Errorf("auth: looking up passkey: %w", err)
	}
	owner, err := s.UserByHandle(ctx, parsed.Response.UserHandle)
	if errors.Is(err, passkey.ErrNotFound) || err == nil && owner != pk.UserID {
		return nil, nil, nil, nil
	} else if err != nil {
		return nil, nil, nil, fmt.Errorf("auth: looking up passkey: %w", err)
	}
	u, err := m.store.Users().Get(ctx, owner)
	if errors.Is(err, user.ErrNotFound) {
		return nil, nil, nil, nil
	} else if err != nil {
		return nil, nil, nil, fmt.Errorf("auth: looking up passkey: %w", err)
	}
	w, _, err := loadWebAuthnUser(ctx, m.store, u)
	if err != nil {
		return nil, nil, nil, err
	}
	return u, pk, w, nil
}

// completePasskeyLogin records a verified passkey login in one
// transaction: the counter saved only if it grew (or stays 0), the user
// read again (a disable that committed meanwhile wins), the session
// opened.
func (m *Manager) completePasskeyLogin(ctx context.Context, u *user.User, pk *passkey.Credential, wc *webauthn.Credential, c Client) (*LoginResult, error) {
	res := &LoginResult{}
	var reason string
	err := m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
		res.Session, reason = nil, ""
		cur, err := tx.Users().Get(ctx, u.ID)
		if errors.Is(err, user.ErrNotFound) {
			reason = "user deleted during login"
			return nil
		} else if err != nil {
			return err
		}
		if cur.Disabled {
			return ErrAccountDisabled
		}
		if reason, err = m.usePasskey(ctx, tx, rec, cur, pk, wc, c); err != nil || reason != "" {
			return err
		}
		if err := tx.Users().SetLastLogin(ctx, cur.ID, m.clock()); err != nil {
			return err
		}
		if res.Session, err = m.issueSession(ctx, tx, cur, c); err != nil {
			return err
		}
		e := selfEvent(audit.LoginSucceeded, audit.Success, cur, c)
		e.Details = map[string]any{audit.DetailMethod: MethodPasskey, audit.DetailPasswordless: true,
			audit.DetailPasskeyID: pk.ID, audit.DetailSessionID: res.Session.ID}
		return rec(e)
	})
	switch {
	case errors.Is(err, ErrAccountDisabled):
		return nil, m.passkeyLoginFailed(ctx, u, c, "account disabled", ErrAccountDisabled)
	case err != nil:
		return nil, err
	case reason != "":
		return nil, m.passkeyLoginFailed(ctx, u, c, reason, nil)
	}
	return res, nil
}

// usePasskey saves a verified use of pk inside tx: the new counter only if
// it grew, or both are 0 (synced passkeys always report 0). It returns
// why the use is refused, "" when it is not: a counter that did not grow
// (a clone warning is recorded), or the passkey deleted meanwhile.
func (m *Manager) usePasskey(ctx context.Context, tx Store, rec func(*audit.Event) error,
	u *user.User, pk *passkey.Credential, wc *webauthn.Credential, c Client) (string, error) {
	count := wc.Authenticator.SignCount
	if !wc.Authenticator.CloneWarning {
		won, err := tx.Passkeys().UpdateUse(ctx, pk.ID, count, wc.Flags.BackupState, m.clock())
		switch {
		case errors.Is(err, passkey.ErrNotFound):
			return "passkey deleted during login", nil
		case err != nil:
			return "", err
		case won:
			return "", nil
		}
	}
	e := selfEvent(audit.PasskeyCloneWarning, audit.Failure, u, c)
	e.Reason = "signature counter did not grow"
	e.Details = map[string]any{audit.DetailPasskeyID: pk.ID, audit.DetailStoredSignCount: pk.SignCount}
	if wc.Authenticator.CloneWarning {
		// go-webauthn keeps the stored count and flags the presented one.
		e.Details[audit.DetailSignCount] = "not above stored"
	} else {
		e.Details[audit.DetailSignCount] = count
	}
	return "signature counter did not grow (possible cloned authenticator)", rec(e)
}

// passkeyLoginFailed records a failed passkey login and returns
// ErrInvalidCredentials, wrapping also, when set, the error that says more
// (ErrInvalidCeremony), or ErrAccountDisabled alone.
func (m *Manager) passkeyLoginFailed(ctx context.Context, u *user.User, c Client, reason string, also error) error {
	e := &audit.Event{
		Action: audit.LoginFailed, Outcome: audit.Failure, IP: c.IP, UserAgent: c.UserAgent, Reason: reason,
		Details: map[string]any{audit.DetailMethod: MethodPasskey, audit.DetailPasswordless: true},
	}
	if u != nil {
		e.Actor = audit.Actor{ID: string(u.ID), Email: u.Email}
		e.Target = audit.Target{Type: audit.TargetUser, ID: string(u.ID)}
	}
	if err := m.atomic(ctx, func(_ Store, rec func(*audit.Event) error) error { return rec(e) }); err != nil {
		return fmt.Errorf("auth: recording failed login: %w", err)
	}
	switch {
	case errors.Is(also, ErrAccountDisabled):
		return ErrAccountDisabled
	case also != nil:
		return fmt.Errorf("%w (%w)", ErrInvalidCredentials, also)
	}
	return ErrInvalidCredentials
}

// BeginPasskeySecondFactor starts answering a login challenge with a
// passkey, when [Challenge.Methods] lists [MethodPasskey], and returns the
// options for navigator.credentials.get: only the challenged user's
// passkeys are allowed. Finish with [Manager.VerifyPasskey]. An unknown,
// expired or used-up challenge, or a user without passkeys, is
// [ErrInvalidChallenge].
func (m *Manager) BeginPasskeySecondFactor(ctx context.Context, challenge string, c Client) (*PasskeyCeremony, error) {
	if err := m.passkeysOn(); err != nil {
		return nil, err
	}
	c = c.clean()
	hash := m.challengeHash(challenge)
	if hash == nil {
		return nil, ErrInvalidChallenge
	}
	if err := m.hitIP(ctx, c, ""); err != nil {
		return nil, err
	}
	ch, u, err := m.liveChallenge(ctx, m.store, hash)
	if err != nil {
		return nil, err
	}
	w, _, err := loadWebAuthnUser(ctx, m.store, u)
	if err != nil {
		return nil, err
	}
	if len(w.creds) == 0 || w.handle == nil {
		return nil, fmt.Errorf("%w: the account has no passkey", ErrInvalidChallenge)
	}
	assertion, sd, err := m.wa.BeginLogin(w, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, fmt.Errorf("auth: beginning passkey login: %w", err)
	}
	return m.saveCeremony(ctx, m.store, passkey.KindSecondFactor, u.ID, ch.ID, sd, assertion)
}

// VerifyPasskey finishes a two-step login with a passkey: the answer to
// the ceremony [Manager.BeginPasskeySecondFactor] began for this
// challenge, from one of the challenged user's own passkeys. It counts
// like a code: a wrong answer (another user's passkey, another login's
// ceremony, a used or expired one, a bad signature, a counter that went
// backwards) is [ErrInvalidCredentials] and one of the challenge's
// [MaxChallengeFailures] tries.
func (m *Manager) VerifyPasskey(ctx context.Context, challenge, ceremony string, response []byte, c Client) (*Session, error) {
	if err := m.passkeysOn(); err != nil {
		return nil, err
	}
	if m.challengeHash(challenge) == nil {
		return nil, ErrInvalidChallenge
	}
	v, err := m.verifyFactor(ctx, ceremony, response)
	if err != nil {
		return nil, err
	}
	return m.secondFactor(ctx, challenge, c, MethodPasskey, func(tx Store, ch *ChallengeRecord, u *user.User, e *audit.Event, rec func(*audit.Event) error) (string, error) {
		switch {
		case v.cer == nil:
			return v.reason, nil
		case v.cer.ChallengeID != ch.ID || v.cer.UserID != u.ID:
			return "passkey ceremony of another login", nil
		case v.reason != "":
			return v.reason, nil
		}
		// The passkey may have gone since it was verified.
		if cur, err := tx.Passkeys().Get(ctx, v.pk.ID); errors.Is(err, passkey.ErrNotFound) || err == nil && cur.UserID != u.ID {
			return "passkey deleted during login", nil
		} else if err != nil {
			return "", err
		}
		reason, err := m.usePasskey(ctx, tx, rec, u, v.pk, v.wc, Client{IP: e.IP, UserAgent: e.UserAgent})
		if err != nil || reason != "" {
			return reason, err
		}
		e.Details[audit.DetailPasskeyID] = v.pk.ID
		return "", nil
	})
}

// factorAnswer is a second-factor answer checked before the challenge's
// transaction: the signature is verified outside it, so that no
// verification holds the store's write lock.
type factorAnswer struct {
	cer    *passkey.Ceremony // nil when the ceremony was not found
	pk     *passkey.Credential
	wc     *webauthn.Credential
	reason string // why the answer is wrong, "" when it is right
}

// verifyFactor takes the ceremony and verifies the answer against the
// passkeys of the user it was begun for. Only store failures are errors;
// every wrong answer is a reason, which the challenge then counts.
func (m *Manager) verifyFactor(ctx context.Context, ceremony string, response []byte) (*factorAnswer, error) {
	cer, sd, err := m.takeCeremony(ctx, ceremony, passkey.KindSecondFactor)
	if errors.Is(err, ErrInvalidCeremony) {
		return &factorAnswer{reason: "unknown, used or expired passkey ceremony"}, nil
	} else if err != nil {
		return nil, err
	}
	v := &factorAnswer{cer: cer}
	parsed, err := parseAssertion(response)
	if err != nil {
		v.reason = err.Error()
		return v, nil
	}
	u, err := m.store.Users().Get(ctx, cer.UserID)
	if errors.Is(err, user.ErrNotFound) {
		v.reason = "user deleted during login"
		return v, nil
	} else if err != nil {
		return nil, err
	}
	w, pks, err := loadWebAuthnUser(ctx, m.store, u)
	if err != nil {
		return nil, err
	}
	for i := range pks {
		if bytes.Equal(pks[i].CredentialID, parsed.RawID) {
			v.pk = &pks[i]
		}
	}
	if v.pk == nil {
		v.reason = "not a passkey of this user"
		return v, nil
	}
	if v.wc, err = m.wa.ValidateLogin(w, *sd, parsed); err != nil {
		v.reason = rejected(err).Error()
	}
	return v, nil
}
