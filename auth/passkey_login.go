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
// audit trail (a store failure is returned as it is): a malformed answer,
// an unknown or deleted passkey, another origin or RP ID, a bad signature,
// no user verification, or a signature counter that went backwards (a
// possible cloned authenticator, also recorded as
// [audit.PasskeyCloneWarning]). A ceremony that is unknown, used or
// expired matches [ErrInvalidCeremony] too. A disabled account is
// [ErrAccountDisabled], told only after a valid passkey, as for a
// password. Each call spends the client IP's budget ([ThrottledError]).
//
// Everything after that budget is one transaction: the ceremony is used
// up, the passkey and its user read, the signature verified, the counter
// and the session written, and the outcome recorded, success or failure.
func (m *Manager) FinishPasskeyLogin(ctx context.Context, ceremony string, response []byte, c Client) (*LoginResult, error) {
	if err := m.passwordlessOn(); err != nil {
		return nil, err
	}
	c = c.clean()
	if err := m.hitIP(ctx, c, ""); err != nil {
		return nil, err
	}
	a := &passwordless{hash: m.challengeHash(ceremony), c: c}
	a.parsed, a.parseErr = parseAssertion(response)
	err := m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
		a.reset() // the store may run fn again
		if err := m.passwordlessIn(ctx, tx, rec, a); err != nil || a.reason == "" {
			return err
		}
		return rec(passkeyFailure(a.u, c, a.reason))
	})
	switch {
	case err != nil:
		return nil, err
	case a.disabled:
		return nil, ErrAccountDisabled
	case a.badCeremony:
		return nil, fmt.Errorf("%w (%w)", ErrInvalidCredentials, ErrInvalidCeremony)
	case a.reason != "":
		return nil, ErrInvalidCredentials
	}
	return &LoginResult{Session: a.s}, nil
}

// passwordless is one passwordless login answer and what became of it.
type passwordless struct {
	hash     []byte // of the ceremony key; nil when malformed
	c        Client
	parsed   *protocol.ParsedCredentialAssertionData
	parseErr error

	u           *user.User // the passkey's owner, once known
	s           *Session   // the new session, on success
	reason      string     // why the login failed, "" on success
	badCeremony bool       // ... because of the ceremony
	disabled    bool       // ... because the account is disabled
}

func (a *passwordless) reset() {
	a.u, a.s, a.reason, a.badCeremony, a.disabled = nil, nil, "", false, false
}

// passwordlessIn runs a passwordless login inside tx: on success it opens
// the session and records it; on failure it sets a.reason, and the caller
// records that in the same transaction.
func (m *Manager) passwordlessIn(ctx context.Context, tx Store, rec func(*audit.Event) error, a *passwordless) error {
	_, sd, err := m.takeCeremonyIn(ctx, tx, a.hash, passkey.KindLogin)
	if errors.Is(err, ErrInvalidCeremony) {
		a.reason, a.badCeremony = "unknown, used or expired passkey ceremony", true
		return nil
	} else if err != nil {
		return err
	}
	if a.parseErr != nil {
		a.reason = a.parseErr.Error()
		return nil
	}
	u, pk, w, err := m.passkeyOwner(ctx, tx, a.parsed)
	if err != nil || u == nil {
		a.reason = "unknown passkey"
		return err
	}
	a.u = u
	_, wc, err := m.wa.ValidatePasskeyLogin(func(_, _ []byte) (webauthn.User, error) { return w, nil }, *sd, a.parsed)
	if err != nil {
		a.reason = rejected(err).Error()
		return nil
	}
	if u.Disabled {
		a.reason, a.disabled = "account disabled", true
		return nil
	}
	if a.reason, err = m.usePasskey(ctx, tx, rec, u, pk, wc, a.c); err != nil || a.reason != "" {
		return err
	}
	if err := tx.Users().SetLastLogin(ctx, u.ID, m.clock()); err != nil {
		return err
	}
	if a.s, err = m.issueSessionMF(ctx, tx, u, a.c, true); err != nil {
		return err
	}
	e := selfEvent(audit.LoginSucceeded, audit.Success, u, a.c)
	e.Details = sessionDetails(map[string]any{audit.DetailMethod: MethodPasskey, audit.DetailPasswordless: true,
		audit.DetailPasskeyID: pk.ID}, a.s)
	return rec(e)
}

// passkeyOwner finds in s the passkey a discoverable answer names and its
// user: the credential ID and the user handle must agree, and the
// passkey's MAC verify. A nil user with no error means nobody.
func (m *Manager) passkeyOwner(ctx context.Context, s Store, parsed *protocol.ParsedCredentialAssertionData) (*user.User, *passkey.Credential, *webAuthnUser, error) {
	pk, err := s.Passkeys().GetByCredentialID(ctx, parsed.RawID)
	if errors.Is(err, passkey.ErrNotFound) || err == nil && !m.genuinePasskey(pk) {
		return nil, nil, nil, nil
	} else if err != nil {
		return nil, nil, nil, fmt.Errorf("auth: looking up passkey: %w", err)
	}
	owner, err := s.Passkeys().UserByHandle(ctx, parsed.Response.UserHandle)
	if errors.Is(err, passkey.ErrNotFound) || err == nil && owner != pk.UserID {
		return nil, nil, nil, nil
	} else if err != nil {
		return nil, nil, nil, fmt.Errorf("auth: looking up passkey: %w", err)
	}
	u, err := s.Users().Get(ctx, owner)
	if errors.Is(err, user.ErrNotFound) {
		return nil, nil, nil, nil
	} else if err != nil {
		return nil, nil, nil, fmt.Errorf("auth: looking up passkey: %w", err)
	}
	w, _, err := m.loadWebAuthnUser(ctx, s, u)
	if err != nil {
		return nil, nil, nil, err
	}
	return u, pk, w, nil
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

// passkeyFailure is the event of a failed passwordless login; u is nil
// when the passkey's owner is not known.
func passkeyFailure(u *user.User, c Client, reason string) *audit.Event {
	e := &audit.Event{
		Action: audit.LoginFailed, Outcome: audit.Failure, IP: c.IP, UserAgent: c.UserAgent, Reason: reason,
		Details: map[string]any{audit.DetailMethod: MethodPasskey, audit.DetailPasswordless: true},
	}
	if u != nil {
		e.Actor = audit.Actor{ID: string(u.ID), Email: u.Email}
		e.Target = audit.Target{Type: audit.TargetUser, ID: string(u.ID)}
	}
	return e
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
	if m.challengeHash(challenge) == nil {
		return nil, ErrInvalidChallenge
	}
	c = c.clean()
	if err := m.hitIP(ctx, c, ""); err != nil { // before any work, as for every entry point
		return nil, err
	}
	v, err := m.verifyFactor(ctx, ceremony, response)
	if err != nil {
		return nil, err
	}
	return m.secondFactorHit(ctx, challenge, c, MethodPasskey, false, m.passkeyCheck(ctx, v))
}

// passkeyCheck completes, inside the challenge's transaction, the answer
// verifyFactor checked: the ceremony must be this login's, and the passkey
// still the user's when its counter is saved.
func (m *Manager) passkeyCheck(ctx context.Context, v *factorAnswer) secondFactorCheck {
	return func(tx Store, ch *ChallengeRecord, u *user.User, e *audit.Event, rec func(*audit.Event) error) (string, error) {
		switch {
		case v.cer == nil:
			return v.reason, nil
		case v.cer.ChallengeID != ch.ID || v.cer.UserID != u.ID:
			return "passkey ceremony of another login", nil
		case v.reason != "":
			return v.reason, nil
		}
		// The passkey may have gone since it was verified.
		if cur, err := tx.Passkeys().Get(ctx, v.pk.ID); errors.Is(err, passkey.ErrNotFound) || err == nil && (cur.UserID != u.ID || !m.genuinePasskey(cur)) {
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
	}
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
	w, pks, err := m.loadWebAuthnUser(ctx, m.store, u)
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
