package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/user"
)

// MethodPasskey is the second-factor method of a passkey
// ([Challenge.Methods]), and the method a passwordless login records.
const MethodPasskey = "passkey"

// MaxPasskeyResponseBytes bounds the browser's answer to a ceremony
// (the JSON of a PublicKeyCredential). Real answers are a few kilobytes,
// attestation certificate chains included; anything longer is refused
// before it is parsed. What the answer may hold is bounded further: see
// [passkeyAlgorithms].
const MaxPasskeyResponseBytes = 64 << 10

// passkeyAlgorithms are the signature algorithms a passkey may use: ES256
// (what nearly every authenticator makes), EdDSA, and RS256 (Windows
// Hello) with a 2048- to 4096-bit modulus and the exponent 65537
// (checkPasskeyKey). Verifying any of them takes well under a millisecond;
// go-webauthn's defaults would also accept RSA keys of any size, whose
// verification an attacker could make cost seconds on every login attempt
// that names the credential.
var passkeyAlgorithms = []protocol.CredentialParameter{
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgEdDSA},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgRS256},
}

// RSA moduli a passkey may have, in bits.
const minRSABits, maxRSABits = 2048, 4096

// checkPasskeyKey refuses a public key usher will not verify signatures
// with: an RSA key outside [minRSABits, maxRSABits] or with an exponent
// other than 65537 (OWASP ASVS 5.0 V11.3: approved algorithms and key
// sizes).
func checkPasskeyKey(cose []byte) error {
	k, err := webauthncose.ParsePublicKey(cose)
	if err != nil {
		return fmt.Errorf("%w: public key: %v", ErrPasskeyRejected, err)
	}
	rsa, ok := k.(webauthncose.RSAPublicKeyData)
	if !ok {
		return nil
	}
	n := new(big.Int).SetBytes(rsa.Modulus).BitLen()
	e := new(big.Int).SetBytes(rsa.Exponent)
	if n < minRSABits || n > maxRSABits || !e.IsInt64() || e.Int64() != 65537 {
		return fmt.Errorf("%w: RSA key of %d bits with exponent %v (want %d to %d bits, exponent 65537)", ErrPasskeyRejected, n, e, minRSABits, maxRSABits)
	}
	return nil
}

// PasskeyCeremony is a begun WebAuthn ceremony. Hand Options to the
// browser and ID back to the finishing call with the browser's answer. The
// ceremony's state stays in the store; ID is a random bearer key, used
// once, good for [passkey.CeremonyTimeout].
type PasskeyCeremony struct {
	ID string
	// Options is JSON of the form {"publicKey": {...}, "mediation": ...}:
	// the publicKey member is what
	// PublicKeyCredential.parseCreationOptionsFromJSON (registration) or
	// parseRequestOptionsFromJSON (login) takes, binary fields in
	// base64url.
	Options   json.RawMessage
	ExpiresAt time.Time
}

// passkeysOn reports ErrPasskeysDisabled when no relying party is set.
func (m *Manager) passkeysOn() error {
	if m.wa == nil {
		return ErrPasskeysDisabled
	}
	return nil
}

// webAuthnUser is a user as go-webauthn sees it: the random user handle,
// never the email or the ID, and the user's passkeys. The email is the
// account name the authenticator shows, the name its display name.
type webAuthnUser struct {
	handle  []byte
	name    string
	display string
	creds   []webauthn.Credential
}

func (w *webAuthnUser) WebAuthnID() []byte                         { return w.handle }
func (w *webAuthnUser) WebAuthnName() string                       { return w.name }
func (w *webAuthnUser) WebAuthnDisplayName() string                { return w.display }
func (w *webAuthnUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

// loadWebAuthnUser reads u's handle and passkeys from s; the handle is nil
// when u never began a registration. Passkeys whose MAC does not verify
// are left out (genuinePasskey).
func (m *Manager) loadWebAuthnUser(ctx context.Context, s Store, u *user.User) (*webAuthnUser, []passkey.Credential, error) {
	h, err := s.Passkeys().UserHandle(ctx, u.ID)
	if err != nil {
		return nil, nil, err
	}
	pks, err := s.Passkeys().List(ctx, u.ID)
	if err != nil {
		return nil, nil, err
	}
	pks = m.genuinePasskeys(pks)
	w := &webAuthnUser{handle: h, name: u.Email, display: u.Name}
	if w.display == "" {
		w.display = u.Email
	}
	for i := range pks {
		w.creds = append(w.creds, toWebAuthn(&pks[i]))
	}
	return w, pks, nil
}

func toWebAuthn(c *passkey.Credential) webauthn.Credential {
	ts := make([]protocol.AuthenticatorTransport, len(c.Transports))
	for i, t := range c.Transports {
		ts[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID: c.CredentialID, PublicKey: c.PublicKey, Transport: ts,
		Flags:         webauthn.CredentialFlags{UserPresent: true, BackupEligible: c.BackupEligible, BackupState: c.BackedUp},
		Authenticator: webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount},
	}
}

// descriptors lists w's passkeys for excludeCredentials and
// allowCredentials.
func (w *webAuthnUser) descriptors() []protocol.CredentialDescriptor {
	return webauthn.Credentials(w.creds).CredentialDescriptors()
}

// saveCeremony stores a begun ceremony in s and returns what the host hands
// the browser.
func (m *Manager) saveCeremony(ctx context.Context, s Store, kind string, uid user.ID, challengeID string,
	sd *webauthn.SessionData, options any) (*PasskeyCeremony, error) {
	data, err := json.Marshal(sd)
	if err != nil {
		return nil, err
	}
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, err
	}
	token, hash, id, err := m.newBearer()
	if err != nil {
		return nil, err
	}
	now := m.clock()
	c := &passkey.Ceremony{ID: id, Kind: kind, UserID: uid, ChallengeID: challengeID, Data: data,
		CreatedAt: now, ExpiresAt: now.Add(passkey.CeremonyTimeout)}
	if err := s.Ceremonies().Create(ctx, c, hash); err != nil {
		return nil, fmt.Errorf("auth: storing passkey ceremony: %w", err)
	}
	return &PasskeyCeremony{ID: token, Options: opts, ExpiresAt: c.ExpiresAt}, nil
}

// takeCeremony consumes the ceremony id names: whatever follows, it cannot
// be answered twice (go-webauthn would accept the same session data
// again). Unknown, used, expired and other-kind ceremonies are all
// ErrInvalidCeremony.
func (m *Manager) takeCeremony(ctx context.Context, id, kind string) (*passkey.Ceremony, *webauthn.SessionData, error) {
	return m.takeCeremonyIn(ctx, m.store, m.challengeHash(id), kind)
}

// takeCeremonyIn is takeCeremony in s, by the hash of the key (nil for a
// malformed key).
func (m *Manager) takeCeremonyIn(ctx context.Context, s Store, hash []byte, kind string) (*passkey.Ceremony, *webauthn.SessionData, error) {
	if hash == nil {
		return nil, nil, ErrInvalidCeremony
	}
	c, err := s.Ceremonies().Take(ctx, hash)
	if errors.Is(err, passkey.ErrCeremonyNotFound) {
		return nil, nil, ErrInvalidCeremony
	} else if err != nil {
		return nil, nil, fmt.Errorf("auth: reading passkey ceremony: %w", err)
	}
	if c.Kind != kind || !m.clock().Before(c.ExpiresAt) {
		return nil, nil, ErrInvalidCeremony
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(c.Data, &sd); err != nil {
		return nil, nil, fmt.Errorf("auth: reading passkey ceremony: %w", err)
	}
	return c, &sd, nil
}

// rejected describes a go-webauthn refusal for ErrPasskeyRejected.
func rejected(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return fmt.Errorf("%w: %s (%s)", ErrPasskeyRejected, pe.Details, pe.DevInfo)
	}
	return fmt.Errorf("%w: %v", ErrPasskeyRejected, err)
}

// parseCreation parses a registration answer.
func parseCreation(response []byte) (*protocol.ParsedCredentialCreationData, error) {
	return parseBounded(response, protocol.ParseCredentialCreationResponseBytes)
}

// parseAssertion parses a login answer.
func parseAssertion(response []byte) (*protocol.ParsedCredentialAssertionData, error) {
	return parseBounded(response, protocol.ParseCredentialRequestResponseBytes)
}

// parseBounded runs a go-webauthn parser on an answer no longer than
// MaxPasskeyResponseBytes; a panic in the parser is an error like any
// malformed input.
func parseBounded[T any](response []byte, parse func([]byte) (*T, error)) (p *T, err error) {
	if len(response) > MaxPasskeyResponseBytes {
		return nil, fmt.Errorf("%w: response longer than %d bytes", ErrPasskeyRejected, MaxPasskeyResponseBytes)
	}
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("%w: malformed response", ErrPasskeyRejected)
		}
	}()
	if p, err = parse(response); err != nil {
		return nil, rejected(err)
	}
	return p, nil
}

// BeginPasskeyRegistration starts adding a passkey to the actor's account
// and returns the options for navigator.credentials.create. It needs
// profile:manage_passkeys and, as binding any second factor does, proof
// that the person is present: the current password, or an empty one with
// a fresh session ([Manager.Fresh]); otherwise [ErrReauthRequired]. The
// passkey must be discoverable (a resident key, so it can log in without
// an email); user verification is preferred, and required later for a
// passwordless login. Authenticators already registered by the actor are
// excluded. A user has at most [passkey.MaxPerUser] passkeys
// ([passkey.ErrTooMany]). The first ceremony gives the user a WebAuthn
// user handle: 64 random bytes, never the email or the user ID. Each call
// spends the client IP's budget ([ThrottledError]), as every ceremony
// does.
func (m *Manager) BeginPasskeyRegistration(ctx context.Context, actor *Principal, password string) (*PasskeyCeremony, error) {
	if err := m.passkeysOn(); err != nil {
		return nil, err
	}
	perm, target := group.ProfileManagePasskeys, selfTarget(actor)
	if !actor.Can(perm) {
		return nil, m.refuse(ctx, actor, perm, audit.PasskeyRegistered, target)
	}
	if err := m.hitIP(ctx, actor.Client(), actor.user.Email); err != nil {
		return nil, err
	}
	key, err := m.reauthenticate(ctx, actor, password)
	if err != nil {
		return nil, err
	}
	handle, err := m.randomBytes(passkey.UserHandleLength)
	if err != nil {
		return nil, err
	}
	var pc *PasskeyCeremony
	err = m.change(ctx, actor, perm, audit.PasskeyRegistered, target, func(tx Store, a *Principal, e *audit.Event) error {
		e.Action = "" // nothing is registered yet
		if key != "" {
			if err := tx.Throttle().ResetFailures(ctx, key); err != nil {
				return err
			}
		}
		if _, err := tx.Passkeys().SetUserHandle(ctx, a.user.ID, handle); err != nil {
			return err
		}
		w, existing, err := m.loadWebAuthnUser(ctx, tx, &a.user)
		if err != nil {
			return err
		}
		if len(existing) >= passkey.MaxPerUser {
			return passkey.ErrTooMany
		}
		creation, sd, err := m.wa.BeginRegistration(w,
			webauthn.WithCredentialParameters(passkeyAlgorithms),
			webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
				RequireResidentKey: protocol.ResidentKeyRequired(),
				ResidentKey:        protocol.ResidentKeyRequirementRequired,
				UserVerification:   protocol.VerificationPreferred,
			}),
			webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
			webauthn.WithExclusions(w.descriptors()),
		)
		if err != nil {
			return fmt.Errorf("auth: beginning passkey registration: %w", err)
		}
		pc, err = m.saveCeremony(ctx, tx, passkey.KindRegister, a.user.ID, "", sd, creation)
		return err
	})
	if err != nil {
		return nil, err
	}
	return pc, nil
}

// FinishPasskeyRegistration checks the browser's answer (the JSON of the
// PublicKeyCredential that navigator.credentials.create returned) to the
// ceremony id, stores the passkey under name, and returns it with the
// session that replaces the actor's: binding a factor changes the session
// token (OWASP ASVS 5.0 V7.2.4), as [Manager.ConfirmTOTP] does, so hand the
// new Token to the client. An empty name gives the authenticator's model
// where known ("iCloud Keychain") or "Passkey N"; otherwise it must pass
// [passkey.NormalizeName] ([FieldError] for [FieldName]).
//
// The ceremony is used up whatever the outcome. Errors: [ErrInvalidCeremony]
// (unknown, used, expired, or another user's), [ErrPasskeyRejected] (a
// malformed answer, another origin or RP ID, a wrong challenge or
// signature, no user presence, a key of an algorithm or size usher does
// not verify), [passkey.ErrCredentialTaken] (this authenticator is
// registered already, by anyone), [passkey.ErrTooMany].
func (m *Manager) FinishPasskeyRegistration(ctx context.Context, actor *Principal, ceremony string, response []byte, name string) (*passkey.Credential, *Session, error) {
	if err := m.passkeysOn(); err != nil {
		return nil, nil, err
	}
	if name != "" {
		var err error
		if name, err = passkey.NormalizeName(name); err != nil {
			return nil, nil, inField(FieldName, err)
		}
	}
	perm, target := group.ProfileManagePasskeys, selfTarget(actor)
	if !actor.Can(perm) {
		return nil, nil, m.refuse(ctx, actor, perm, audit.PasskeyRegistered, target)
	}
	if err := m.hitIP(ctx, actor.Client(), actor.user.Email); err != nil {
		return nil, nil, err
	}
	cer, sd, err := m.takeCeremony(ctx, ceremony, passkey.KindRegister)
	if err != nil {
		return nil, nil, err
	}
	if cer.UserID != actor.user.ID {
		return nil, nil, ErrInvalidCeremony
	}
	parsed, err := parseCreation(response)
	if err != nil {
		return nil, nil, err
	}
	if err := boundRegistration(parsed); err != nil {
		return nil, nil, err
	}
	var (
		cred *passkey.Credential
		s    *Session
	)
	err = m.change(ctx, actor, perm, audit.PasskeyRegistered, target, func(tx Store, a *Principal, e *audit.Event) error {
		var err error
		if cred, err = m.createPasskey(ctx, tx, a, sd, parsed, name); err != nil {
			return err
		}
		e.Details = map[string]any{audit.DetailPasskeyID: cred.ID, audit.DetailName: cred.Name,
			audit.DetailAAGUID: passkey.FormatAAGUID(cred.AAGUID)}
		s, err = m.replaceSession(ctx, tx, a, false, e)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return cred, s, nil
}

// createPasskey verifies a registration answer for a and stores the new
// passkey.
func (m *Manager) createPasskey(ctx context.Context, tx Store, a *Principal, sd *webauthn.SessionData,
	parsed *protocol.ParsedCredentialCreationData, name string) (*passkey.Credential, error) {
	w, existing, err := m.loadWebAuthnUser(ctx, tx, &a.user)
	if err != nil {
		return nil, err
	}
	if w.handle == nil || !bytes.Equal(w.handle, sd.UserID) {
		return nil, ErrInvalidCeremony
	}
	if len(existing) >= passkey.MaxPerUser {
		return nil, passkey.ErrTooMany
	}
	wc, err := m.wa.CreateCredential(w, *sd, parsed)
	if err != nil {
		return nil, rejected(err)
	}
	if err := checkPasskeyKey(wc.PublicKey); err != nil {
		return nil, err
	}
	id, err := m.newID()
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = defaultPasskeyName(wc.Authenticator.AAGUID, len(existing)+1)
	}
	c := &passkey.Credential{
		ID: id, UserID: a.user.ID, Name: name,
		CredentialID: wc.ID, PublicKey: wc.PublicKey, AAGUID: wc.Authenticator.AAGUID,
		BackupEligible: wc.Flags.BackupEligible, BackedUp: wc.Flags.BackupState,
		SignCount: wc.Authenticator.SignCount, CreatedAt: m.clock(),
	}
	for _, t := range wc.Transport { // the browser's strings: keep the known ones, once each
		if knownTransports[t] && !slices.Contains(c.Transports, string(t)) {
			c.Transports = append(c.Transports, string(t))
		}
	}
	m.macPasskey(c)
	if err := tx.Passkeys().Create(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// knownTransports are the transports WebAuthn Level 3 defines.
var knownTransports = map[protocol.AuthenticatorTransport]bool{
	protocol.USB: true, protocol.NFC: true, protocol.BLE: true, protocol.SmartCard: true,
	protocol.Hybrid: true, protocol.Internal: true,
}

// defaultPasskeyName names a new passkey after its model, or "Passkey n".
func defaultPasskeyName(aaguid []byte, n int) string {
	if name := passkey.ModelName(aaguid); name != "" {
		return name
	}
	return fmt.Sprintf("Passkey %d", n)
}

// Passkeys lists the actor's own passkeys, oldest first. Listing,
// renaming and deleting passkeys work with Config.Passkeys empty too, so
// that people can still tidy up what they registered.
func (m *Manager) Passkeys(ctx context.Context, actor *Principal) ([]passkey.Credential, error) {
	if !m.mine(actor) || actor.user.ID == "" {
		return nil, m.refuse(ctx, actor, "", audit.AuthorizationDeny, selfTarget(actor))
	}
	return m.store.Passkeys().List(ctx, actor.user.ID)
}

// RenamePasskey renames one of the actor's passkeys. It needs
// profile:manage_passkeys; the name must pass [passkey.NormalizeName]
// ([FieldError] for [FieldName]); another user's passkey is
// [passkey.ErrNotFound].
func (m *Manager) RenamePasskey(ctx context.Context, actor *Principal, id, name string) error {
	name, err := passkey.NormalizeName(name)
	if err != nil {
		return inField(FieldName, err)
	}
	return m.change(ctx, actor, group.ProfileManagePasskeys, audit.PasskeyRenamed, selfTarget(actor), func(tx Store, a *Principal, e *audit.Event) error {
		old, err := tx.Passkeys().Get(ctx, id)
		if err != nil || old.UserID != a.user.ID {
			return passkey.ErrNotFound
		}
		if old.Name == name {
			e.Action = ""
			return nil
		}
		e.Details = map[string]any{audit.DetailPasskeyID: id, audit.DetailBefore: old.Name, audit.DetailAfter: name}
		return tx.Passkeys().Rename(ctx, id, a.user.ID, name)
	})
}

// DeletePasskey removes one of the actor's passkeys and returns the
// session that replaces the actor's. Removing a factor needs the same proof
// as adding one: profile:manage_passkeys and the current password, or an
// empty one with a fresh session ([ErrReauthRequired] otherwise). The
// actor's other sessions and pending logins end (a lost authenticator may
// have opened them; the audit event counts them) and the actor's own
// session is replaced by the one returned, with a new token (OWASP ASVS
// 5.0 V7.2.4), counted fresh again only when the password was typed.
// Another user's passkey is [passkey.ErrNotFound].
func (m *Manager) DeletePasskey(ctx context.Context, actor *Principal, id, password string) (*Session, error) {
	perm, target := group.ProfileManagePasskeys, selfTarget(actor)
	if !actor.Can(perm) {
		return nil, m.refuse(ctx, actor, perm, audit.PasskeyDeleted, target)
	}
	key, err := m.reauthenticate(ctx, actor, password)
	if err != nil {
		return nil, err
	}
	var s *Session
	err = m.change(ctx, actor, perm, audit.PasskeyDeleted, target, func(tx Store, a *Principal, e *audit.Event) error {
		if err := deletePasskey(ctx, tx, a.user.ID, id, e); err != nil {
			return err
		}
		n, err := endLogins(ctx, tx, a.user.ID, a.session.ID)
		if err != nil {
			return err
		}
		e.Details[audit.DetailOtherSessionsRevoked] = n
		if key != "" {
			if err := tx.Throttle().ResetFailures(ctx, key); err != nil {
				return err
			}
		}
		s, err = m.replaceSession(ctx, tx, a, key != "", e)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// deletePasskey removes uid's passkey id inside tx and fills e's details.
func deletePasskey(ctx context.Context, tx Store, uid user.ID, id string, e *audit.Event) error {
	old, err := tx.Passkeys().Get(ctx, id)
	if err != nil || old.UserID != uid {
		return passkey.ErrNotFound
	}
	e.Details = map[string]any{audit.DetailPasskeyID: id, audit.DetailName: old.Name}
	return tx.Passkeys().Delete(ctx, id, uid)
}

// UserPasskeys lists another user's passkeys for an admin page or tool.
// It needs users:read.
func (m *Manager) UserPasskeys(ctx context.Context, actor *Principal, id user.ID) ([]passkey.Credential, error) {
	if err := m.deniedUnless(ctx, actor, group.UsersRead, userTarget(id)); err != nil {
		return nil, err
	}
	if _, err := m.store.Users().Get(ctx, id); err != nil {
		return nil, err
	}
	return m.store.Passkeys().List(ctx, id)
}

// DeleteUserPasskey removes one passkey of another user, for an admin
// whose user lost that authenticator, and ends the user's sessions and
// pending logins, since any of them may have been opened with it (the
// audit event counts them); [Manager.ResetTwoFactor] removes every second
// factor at once. It needs users:write and every permission of the user's
// group; one's own passkeys go through [Manager.DeletePasskey], which asks
// for the password.
func (m *Manager) DeleteUserPasskey(ctx context.Context, actor *Principal, uid user.ID, id string) error {
	return m.change(ctx, actor, group.UsersWrite, audit.PasskeyDeleted, userTarget(uid), func(tx Store, a *Principal, e *audit.Event) error {
		if uid == a.user.ID {
			return denied(DenyOwnAccount, "remove your own passkeys with DeletePasskey")
		}
		if err := m.mayManageUser(ctx, tx, a, uid); err != nil {
			return err
		}
		if err := deletePasskey(ctx, tx, uid, id, e); err != nil {
			return err
		}
		n, err := endLogins(ctx, tx, uid, "")
		e.Details[audit.DetailSessionsRevoked] = n
		return err
	})
}

// boundRegistration refuses, before any signature is verified, a key usher
// would not keep, and drops the attestation statement: usher asks for none
// and trusts none, so verifying one (a packed self-attestation signed with
// the new key, an x5c chain of any size) is work an attacker chooses.
func boundRegistration(p *protocol.ParsedCredentialCreationData) error {
	ao := &p.Response.AttestationObject
	if err := checkPasskeyKey(ao.AuthData.AttData.CredentialPublicKey); err != nil {
		return err
	}
	ao.Format, ao.AttStatement = "none", nil
	return nil
}
