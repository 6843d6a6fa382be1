package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/user"
)

// RotateSecrets re-seals every TOTP secret still sealed under a previous
// key (Config.PreviousSecretKeys) with the current Config.SecretKey, and
// returns how many it moved. Secrets under a key the Manager does not have
// are left alone and reported with [ErrUnknownKey]. Recovery codes cannot
// be re-hashed (only their hashes are kept): see [Manager.OldKeyUsage]
// before dropping a previous key.
func (m *Manager) RotateSecrets(ctx context.Context) (int, error) {
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
// SecretKey, so a host knows when a previous key can be dropped.
type OldKeyUsage struct {
	// TOTPSecrets still sealed under another key: run RotateSecrets.
	TOTPSecrets int
	// RecoveryCodeSets hashed under another key: they work while that key
	// is among PreviousSecretKeys; their users regenerate them to move on.
	RecoveryCodeSets int
}

// OldKeyUsage counts the TOTP secrets and recovery-code sets that still
// need a previous key. Password hashes move to the current key at each
// user's next login; a user who does not log in before the old key is
// dropped needs a password reset.
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
	u.RecoveryCodeSets, err = m.store.TOTP().CountRecoverySets(ctx, m.keys.current.id)
	return u, err
}
