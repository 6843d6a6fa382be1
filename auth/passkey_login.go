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
// Every failure is [ErrInvalidCredentials], the reason kept in the audit
// trail: a malformed answer, an unknown or deleted passkey, another origin
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
// user: the credential ID and the user handle must agree, and the
// passkey's MAC verify. A nil user with no error means nobody.
func (m *Manager) passkeyOwner(ctx context.Context, parsed *protocol.ParsedCredentialAssertionData) (*user.User, *passkey.Credential, *webAuthnUser, error) {
	s := m.store.Passkeys()
	pk, err := s.GetByCredentialID(ctx, parsed.RawID)
	if errors.Is(err, passkey.ErrNotFound) || err == nil && !m.genuinePasskey(pk) {
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
	w, _, err := m.loadWebAuthnUser(ctx, m.store, u)
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
		won, err := m.usePasskey(ctx, tx, rec, cur, pk, wc, c)
		if err != nil || !won {
			reason = "signature counter did not grow (possible cloned authenticator)"
			return err
		}
		if err := tx.Users().SetLastLogin(ctx, cur.ID, m.clock()); err != nil {
			return err
		}
		if res.Session, err = m.issueSession(ctx, tx, cur, c); err != nil {
			return err
		}
		e := selfEvent(audit.LoginSucceeded, audit.Success, cur, c)
		e.Details = map[string]any{audit.DetailMethod: MethodPasskey, audit.DetailPasskeyID: pk.ID, audit.DetailSessionID: res.Session.ID}
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
// it grew, or both are 0 (synced passkeys always report 0). It reports
// false, having recorded a clone warning, when the counter did not grow.
func (m *Manager) usePasskey(ctx context.Context, tx Store, rec func(*audit.Event) error,
	u *user.User, pk *passkey.Credential, wc *webauthn.Credential, c Client) (bool, error) {
	count := wc.Authenticator.SignCount
	won := false
	if !wc.Authenticator.CloneWarning {
		var err error
		if won, err = tx.Passkeys().UpdateUse(ctx, pk.ID, count, wc.Flags.BackupState, m.clock()); err != nil {
			return false, err
		}
	}
	if won {
		return true, nil
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
	return false, rec(e)
}

// passkeyLoginFailed records a failed passkey login and returns
// ErrInvalidCredentials, wrapping also, when set, the error that says more
// (ErrInvalidCeremony), or ErrAccountDisabled alone.
func (m *Manager) passkeyLoginFailed(ctx context.Context, u *user.User, c Client, reason string, also error) error {
	e := &audit.Event{
		Action: audit.LoginFailed, Outcome: audit.Failure, IP: c.IP, UserAgent: c.UserAgent, Reason: reason,
		Details: map[string]any{audit.DetailMethod: MethodPasskey},
	}
	if u != nil {
		e.Actor = audit.Actor{ID: string(u.ID), Email: u.Email}
		e.Target = audit.Target{Type: audit.TargetUser, ID: string(u.ID)}
	}
	m.recordAlone(ctx, e)
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
	w, _, err := m.loadWebAuthnUser(ctx, m.store, u)
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
	cer, sd, cerErr := m.takeCeremony(ctx, ceremony, passkey.KindSecondFactor)
	parsed, parseErr := parseAssertion(response)
	return m.secondFactor(ctx, challenge, c, MethodPasskey, func(tx Store, ch *ChallengeRecord, u *user.User, e *audit.Event, rec func(*audit.Event) error) (string, error) {
		switch {
		case cerErr != nil:
			return "unknown, used or expired passkey ceremony", nil
		case cer.ChallengeID != ch.ID || cer.UserID != u.ID:
			return "passkey ceremony of another login", nil
		case parseErr != nil:
			return parseErr.Error(), nil
		}
		return m.checkPasskeyFactor(ctx, tx, rec, u, sd, parsed, e)
	})
}

// checkPasskeyFactor checks a second-factor answer of u inside tx and
// returns why it failed, "" when it passed.
func (m *Manager) checkPasskeyFactor(ctx context.Context, tx Store, rec func(*audit.Event) error, u *user.User,
	sd *webauthn.SessionData, parsed *protocol.ParsedCredentialAssertionData, e *audit.Event) (string, error) {
	w, pks, err := m.loadWebAuthnUser(ctx, tx, u)
	if err != nil {
		return "", err
	}
	var pk *passkey.Credential
	for i := range pks {
		if bytes.Equal(pks[i].CredentialID, parsed.RawID) {
			pk = &pks[i]
		}
	}
	if pk == nil {
		return "not a passkey of this user", nil
	}
	wc, err := m.wa.ValidateLogin(w, *sd, parsed)
	if err != nil {
		return rejected(err).Error(), nil
	}
	won, err := m.usePasskey(ctx, tx, rec, u, pk, wc, Client{IP: e.IP, UserAgent: e.UserAgent})
	if err != nil || !won {
		return "signature counter did not grow (possible cloned authenticator)", err
	}
	e.Details[audit.DetailPasskeyID] = pk.ID
	return "", nil
}
