package auth

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/oidc"
)

// seedDeclaredProviders writes Config.SSO.Providers to the store: each is
// created when missing, updated when its settings differ, and its secret
// sealed again when it changed; each write is audited, without an actor.
func (m *Manager) seedDeclaredProviders(ctx context.Context) error {
	for _, d := range m.cfg.SSO.Providers {
		if err := m.seedProvider(ctx, d); err != nil {
			return fmt.Errorf("auth: declared provider %q: %w", d.ID, err)
		}
	}
	return nil
}

func (m *Manager) seedProvider(ctx context.Context, d DeclaredProvider) error {
	why := "declared in the host's configuration"
	return m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
		p := d.Provider
		now := m.clock()
		old, err := tx.Providers().Get(ctx, p.ID)
		if errors.Is(err, oidc.ErrNotFound) {
			if p.KeyID, p.SealedSecret, err = m.sealSecret(p.ID, d.ClientSecret); err != nil {
				return err
			}
			p.CreatedAt, p.UpdatedAt = now, now
			if err := tx.Providers().Create(ctx, &p); err != nil {
				return err
			}
			return rec(&audit.Event{Action: audit.ProviderAdded, Outcome: audit.Success, Target: providerTarget(p.ID),
				Reason: why, Details: providerDetails(&p, d.ClientSecret != "")})
		} else if err != nil {
			return err
		}
		secret, err := m.providerSecret(old)
		secretChanged := err != nil || string(secret) != d.ClientSecret
		before, after := providerDetails(old, false), providerDetails(&p, false)
		if reflect.DeepEqual(before, after) && old.Preset == p.Preset && reflect.DeepEqual(old.Scopes, p.Scopes) && !secretChanged {
			return nil
		}
		p.Version, p.CreatedAt, p.UpdatedAt = old.Version, old.CreatedAt, now
		if err := tx.Providers().Update(ctx, &p); err != nil {
			return err
		}
		if secretChanged {
			kid, sealed, err := m.sealSecret(p.ID, d.ClientSecret)
			if err != nil {
				return err
			}
			if err := tx.Providers().SetSecret(ctx, p.ID, kid, sealed); err != nil {
				return err
			}
		}
		return rec(&audit.Event{Action: audit.ProviderChanged, Outcome: audit.Success, Target: providerTarget(p.ID),
			Reason: why, Details: map[string]any{audit.DetailBefore: before, audit.DetailAfter: providerDetails(&p, secretChanged)}})
	})
}

// rotateProviders re-seals, for RotateSecrets, every provider secret still
// under a previous key.
func (m *Manager) rotateProviders(ctx context.Context) (int, error) {
	moved, unknown := 0, 0
	after := ""
	for {
		ps, err := m.store.Providers().UnderOtherKey(ctx, m.keys.current.id, after, 100)
		if err != nil || len(ps) == 0 {
			if err == nil && unknown > 0 {
				err = fmt.Errorf("%w: %d provider secrets", ErrUnknownKey, unknown)
			}
			return moved, err
		}
		after = ps[len(ps)-1].ID
		for i := range ps {
			p := &ps[i]
			secret, err := m.providerSecret(p)
			if errors.Is(err, ErrUnknownKey) {
				unknown++
				continue
			} else if err != nil {
				return moved, err
			}
			kid, sealed, err := m.sealSecret(p.ID, string(secret))
			if err != nil {
				return moved, err
			}
			err = m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
				ok, err := tx.Providers().Reseal(ctx, p.ID, p.KeyID, kid, sealed)
				if err != nil || !ok {
					return err
				}
				moved++
				return rec(&audit.Event{Action: audit.SecretsRotated, Outcome: audit.Success, Target: providerTarget(p.ID),
					Details: map[string]any{audit.DetailResealed: 1, audit.DetailKeyID: kid}})
			})
			if err != nil {
				return moved, err
			}
		}
	}
}

// providersNotUnderCurrent counts, for OldKeyUsage, the provider secrets
// sealed under another key.
func (m *Manager) providersNotUnderCurrent(ctx context.Context) (int, error) {
	n, after := 0, ""
	for {
		ps, err := m.store.Providers().UnderOtherKey(ctx, m.keys.current.id, after, 500)
		if err != nil || len(ps) == 0 {
			return n, err
		}
		n += len(ps)
		after = ps[len(ps)-1].ID
	}
}
