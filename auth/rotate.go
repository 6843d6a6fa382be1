package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

// RotateSecrets moves what a previous key (Config.PreviousSecretKeys)
// made to the current Config.SecretKey at once: it re-seals every TOTP
// secret and re-MACs every passkey still under a previous key, and returns
// how many it moved (both together), each batch audited as
// [audit.SecretsRotated]. TOTP secrets and passkeys under a key the
// Manager does not hold are left alone and reported with [ErrUnknownKey],
// and so are passkeys whose MAC does not verify (never re-MACed: that
// would make a forged one genuine). Recovery codes cannot be re-hashed
// (only their hashes are kept), nor password hashes (they move at each
// user's next login): see [Manager.OldKeyUsage] before dropping a previous
// key.
func (m *Manager) RotateSecrets(ctx context.Context) (int, error) {
	n, err := m.rotateTOTP(ctx)
	if err != nil && !errors.Is(err, ErrUnknownKey) {
		return n, err
	}
	p, perr := m.rotatePasskeys(ctx)
	if perr != nil && !errors.Is(perr, ErrUnknownKey) {
		return n + p, errors.Join(err, perr)
	}
	s, serr := m.rotateProviders(ctx)
	return n + p + s, errors.Join(err, perr, serr)
}

// rotateTOTP re-seals the TOTP secrets for RotateSecrets.
func (m *Manager) rotateTOTP(ctx context.Context) (int, error) {
	const batch = 100
	moved, unknown := 0, 0
	var after user.ID
	for {
		creds, err := m.store.TOTP().Sealed(ctx, m.keys.current.id, after, batch)
		if err != nil || len(creds) == 0 {
			if err == nil && unknown > 0 {
				err = fmt.Errorf("%w: %d TOTP secrets", ErrUnknownKey, unknown)
			}
			return moved, err
		}
		after = creds[len(creds)-1].UserID
		n, skipped := 0, 0
		err = m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
			n, skipped = 0, 0
			for _, c := range creds {
				secret, err := m.keys.open(c.KeyID, c.Sealed, []byte(c.UserID))
				if errors.Is(err, ErrUnknownKey) {
					skipped++
					continue
				} else if err != nil {
					return err
				}
				kid, sealed, err := m.keys.seal(m.rand, secret, []byte(c.UserID))
				if err != nil {
					return err
				}
				if ok, err := tx.TOTP().Reseal(ctx, c.UserID, c.KeyID, kid, sealed); err != nil {
					return err
				} else if ok {
					n++
				}
			}
			if n == 0 {
				return nil
			}
			return rec(&audit.Event{Action: audit.SecretsRotated, Outcome: audit.Success,
				Details: map[string]any{audit.DetailResealed: n, audit.DetailKeyID: m.keys.current.id}})
		})
		if err != nil {
			return moved, err
		}
		moved, unknown = moved+n, unknown+skipped
	}
}

// OldKeyUsage says what still depends on keys other than the current
// SecretKey, so a host knows when a previous key can be dropped: only when
// PasswordHashes, TOTPSecrets, Passkeys and ProviderSecrets are all 0. [New] refuses to
// start without a key that a password hash still names, and, when it is
// given no previous key at all, while a TOTP secret or a passkey is still
// under another key.
type OldKeyUsage struct {
	// PasswordHashes made under another key (either format). Each moves to
	// the current key at its user's next login, so wait for the users to
	// log in; a user who will not needs a password reset (an admin's
	// [Manager.ResetPassword]) before the old key goes.
	PasswordHashes int
	// UnboundPasswordHashes are of the first format ($usher1$) and not
	// wrapped: [New] binds every one it finds to its account, so one
	// counted here was written since, behind usher's back, and does not
	// verify; a restart wraps it (check first that it belongs there), or
	// reset that password. Those under another key are in PasswordHashes
	// too.
	UnboundPasswordHashes int
	// TOTPSecrets still sealed under another key: run RotateSecrets.
	TOTPSecrets int
	// Passkeys whose MAC is under another key, or under none: run
	// RotateSecrets. What it leaves it reports with [ErrUnknownKey]:
	// passkeys under a key this Manager does not hold (add that key to
	// PreviousSecretKeys and run it again), and passkeys without a MAC or
	// with one that does not verify, which usher did not register and
	// which never log in (delete them: [Manager.DeleteUserPasskey]).
	Passkeys int
	// ProviderSecrets are sign-on providers' client secrets sealed under
	// another key: run RotateSecrets.
	ProviderSecrets int
	// RecoveryCodeSets hashed under another key: they work while that key
	// is among PreviousSecretKeys; their users regenerate them to move on.
	// Dropping the key without that leaves those users their TOTP app but
	// no recovery codes.
	RecoveryCodeSets int
}

// OldKeyUsage counts the password hashes, TOTP secrets, passkeys and
// recovery-code sets that still need a previous key. It reads every user,
// every TOTP credential and every passkey not under the current key: an
// operator's check during a rotation, not for each request.
func (m *Manager) OldKeyUsage(ctx context.Context) (OldKeyUsage, error) {
	var u OldKeyUsage
	var after user.ID
	for {
		creds, err := m.store.TOTP().Sealed(ctx, m.keys.current.id, after, 500)
		if err != nil {
			return u, err
		}
		if len(creds) == 0 {
			break
		}
		u.TOTPSecrets += len(creds)
		after = creds[len(creds)-1].UserID
	}
	var err error
	if u.Passkeys, err = m.passkeysNotUnderCurrent(ctx); err != nil {
		return u, err
	}
	if u.ProviderSecrets, err = m.providersNotUnderCurrent(ctx); err != nil {
		return u, err
	}
	if u.PasswordHashes, err = m.hashesNotUnder(ctx, m.keys.current); err != nil {
		return u, err
	}
	if u.UnboundPasswordHashes, err = m.store.Users().CountPasswordHashes(ctx, hashPrefixV1, nil); err != nil {
		return u, err
	}
	u.RecoveryCodeSets, err = m.store.TOTP().CountRecoverySets(ctx, m.keys.current.id)
	return u, err
}

// ownHashPrefix begins usher's password hash formats, hashPrefix,
// hashPrefixV1 and hashPrefixWrapped; unwrapped plain bcrypt hashes need no
// key (they do not verify, either).
const ownHashPrefix = "$usher"

// hashesNotUnder counts the password hashes of usher's formats that name
// none of keys.
func (m *Manager) hashesNotUnder(ctx context.Context, keys ...*keySet) (int, error) {
	var except []string
	for _, k := range keys {
		except = append(except, hashPrefix+k.id+"$", hashPrefixV1+k.id+"$", hashPrefixWrapped+k.id+"$")
	}
	return m.store.Users().CountPasswordHashes(ctx, ownHashPrefix, except)
}

// checkKeysHeld refuses a Manager that lacks a previous key the data still
// need, so that dropping it too early fails at start rather than as every
// such user's wrong password: a password hash under a key it does not
// hold, or, when it holds no previous key at all, a TOTP secret sealed or
// a passkey MACed under another key (RotateSecrets was not run). It reads
// every user once.
func (m *Manager) checkKeysHeld(ctx context.Context) error {
	n, err := m.hashesNotUnder(ctx, append([]*keySet{m.keys.current}, m.keys.previous...)...)
	if err != nil {
		return fmt.Errorf("auth: checking the key: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("%w: %d password hashes need a key this Manager does not hold; keep it in "+
			"Config.PreviousSecretKeys until OldKeyUsage counts none (users log in, or get a password reset)", ErrWrongSecretKey, n)
	}
	if len(m.keys.previous) > 0 {
		return nil
	}
	creds, err := m.store.TOTP().Sealed(ctx, m.keys.current.id, "", 1)
	if err != nil && !errors.Is(err, totp.ErrNotEnrolled) {
		return fmt.Errorf("auth: checking the key: %w", err)
	}
	if len(creds) == 1 {
		return fmt.Errorf("%w: TOTP secrets are sealed under key ID %q, which this Manager does not hold; "+
			"run RotateSecrets with that key in Config.PreviousSecretKeys first", ErrWrongSecretKey, creds[0].KeyID)
	}
	if err := m.checkPasskeysHeld(ctx); err != nil {
		return err
	}
	ps, err := m.store.Providers().UnderOtherKey(ctx, m.keys.current.id, "", 1)
	if err != nil {
		return fmt.Errorf("auth: checking the key: %w", err)
	}
	if len(ps) == 1 {
		return fmt.Errorf("%w: sign-on provider secrets are sealed under key ID %q, which this Manager does not hold; "+
			"run RotateSecrets with that key in Config.PreviousSecretKeys first", ErrWrongSecretKey, ps[0].KeyID)
	}
	return nil
}

// wrapLegacyHashes binds every stored legacy hash (format 1, plain bcrypt)
// to its account ([hasher.wrap]), in one pass at start, and audits how
// many it wrapped. Each rewrite is conditional on the hash being unchanged,
// so a concurrent login's rehash or a password reset wins; a format-1 hash
// under a key the Manager lacks is left (checkKeysHeld has refused those).
func (m *Manager) wrapLegacyHashes(ctx context.Context) error {
	const batch = 500
	n := 0
	var after user.ID
	for {
		page, err := m.store.Users().PasswordHashes(ctx, legacyPrefixes, after, batch)
		if err != nil {
			return fmt.Errorf("auth: wrapping legacy password hashes: %w", err)
		}
		for _, h := range page {
			wrapped, ok := m.hasher.wrap(h.ID, h.Hash)
			if !ok {
				continue
			}
			done, err := m.store.Users().ReplacePasswordHash(ctx, h.ID, h.Hash, wrapped)
			if err != nil {
				return fmt.Errorf("auth: wrapping legacy password hashes: %w", err)
			}
			if done {
				n++
			}
		}
		if len(page) < batch {
			break
		}
		after = page[len(page)-1].ID
	}
	if n == 0 {
		return nil
	}
	return m.atomic(ctx, func(_ Store, rec func(*audit.Event) error) error {
		return rec(&audit.Event{Action: audit.PasswordsWrapped, Outcome: audit.Success,
			Details: map[string]any{audit.DetailWrapped: n, audit.DetailKeyID: m.keys.current.id}})
	})
}
