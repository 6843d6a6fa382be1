package auth

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/oidc"
)

// ErrLastLoginMethod: unlinking would leave the account no way to log in.
var ErrLastLoginMethod = errors.New("auth: this is the account's last way to log in")

// BeginSSOLink starts linking the actor's account to its account at
// provider id. Like binding a second factor it needs profile:manage_sso
// and proof that the person is present: the current password, or an empty
// one with a fresh session ([ErrReauthRequired] otherwise). Finish with
// [Manager.FinishSSOLink].
func (m *Manager) BeginSSOLink(ctx context.Context, actor *Principal, id, password, returnTo string) (*SSOFlow, error) {
	if err := m.ssoOn(); err != nil {
		return nil, err
	}
	if !actor.Can(group.ProfileManageSSO) {
		return nil, m.refuse(ctx, actor, group.ProfileManageSSO, audit.IdentityLinked, selfTarget(actor))
	}
	if _, err := m.reauthenticate(ctx, actor, password); err != nil {
		return nil, err
	}
	if err := m.hitIP(ctx, actor.Client(), actor.user.Email); err != nil {
		return nil, err
	}
	return m.beginSSO(ctx, id, returnTo, actor.user.ID, false)
}

// FinishSSOLink completes a link with the provider's callback, checked as
// [Manager.FinishSSO] checks a login's, and links the provider's account
// to the actor's, who must be the one who began it. An account at the
// provider that is linked already (to anyone) is [oidc.ErrIdentityTaken].
func (m *Manager) FinishSSOLink(ctx context.Context, actor *Principal, flowID, id string, query url.Values) (*oidc.Identity, error) {
	if err := m.ssoOn(); err != nil {
		return nil, err
	}
	if !m.mine(actor) || actor.user.ID == "" {
		return nil, m.refuse(ctx, actor, group.ProfileManageSSO, audit.IdentityLinked, selfTarget(actor))
	}
	c := actor.Client()
	if err := m.hitIP(ctx, c, actor.user.Email); err != nil {
		return nil, err
	}
	ans, reason, err := m.verifyCallback(ctx, flowID, id, query, true)
	if err == nil && ans.flow.LinkUser != actor.user.ID {
		reason, err = "flow of another user", fmt.Errorf("%w (%w)", ErrInvalidCredentials, ErrInvalidFlow)
	}
	if err != nil {
		return nil, m.ssoFailed(ctx, &actor.user, id, c, "link: "+reason, err)
	}
	var out *oidc.Identity
	err = m.change(ctx, actor, group.ProfileManageSSO, audit.IdentityLinked, selfTarget(actor), func(tx Store, a *Principal, e *audit.Event) error {
		out = &oidc.Identity{Issuer: ans.issuer, Subject: ans.claims.Subject, ProviderID: id, UserID: a.user.ID,
			Email: ans.claims.Email, CreatedAt: m.clock()}
		e.Details = map[string]any{audit.DetailProvider: id, audit.DetailSubject: cut(ans.claims.Subject, 255)}
		return tx.Identities().Link(ctx, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LinkedIdentities lists the actor's linked sign-on accounts.
func (m *Manager) LinkedIdentities(ctx context.Context, actor *Principal) ([]oidc.Identity, error) {
	if !m.mine(actor) || actor.user.ID == "" {
		return nil, m.refuse(ctx, actor, "", audit.AuthorizationDeny, selfTarget(actor))
	}
	return m.store.Identities().List(ctx, actor.user.ID)
}

// UnlinkSSO removes one of the actor's linked sign-on accounts. It needs
// profile:manage_sso. Unlinking the last way to log in is refused
// ([ErrLastLoginMethod]): when no other linked account and no passkey
// that logs in alone remain, the password must be typed (it proves that
// the password still logs in) and password login must be on. The count is
// made again inside the change's transaction, so two unlinks at once
// cannot together remove the last two ways in.
func (m *Manager) UnlinkSSO(ctx context.Context, actor *Principal, issuer, subject, password string) error {
	perm := group.ProfileManageSSO
	if !actor.Can(perm) {
		return m.refuse(ctx, actor, perm, audit.IdentityUnlinked, selfTarget(actor))
	}
	last, err := m.lastWayIn(ctx, m.store, actor)
	if err != nil {
		return err
	}
	passwordOK := false
	if last && password != "" && !m.cfg.DisablePasswordLogin {
		if _, err := m.requirePassword(ctx, actor, password); err != nil {
			return err
		}
		passwordOK = true
	}
	return m.change(ctx, actor, perm, audit.IdentityUnlinked, selfTarget(actor), func(tx Store, a *Principal, e *audit.Event) error {
		id, err := tx.Identities().Get(ctx, issuer, subject)
		if err != nil || id.UserID != a.user.ID {
			return oidc.ErrNotFound
		}
		if last, err := m.lastWayIn(ctx, tx, a); err != nil {
			return err
		} else if last && !passwordOK {
			return ErrLastLoginMethod
		}
		e.Details = map[string]any{audit.DetailProvider: id.ProviderID, audit.DetailSubject: cut(subject, 255)}
		return tx.Identities().Unlink(ctx, a.user.ID, issuer, subject)
	})
}

// lastWayIn reports whether the actor has, in s, at most one linked
// identity and no passkey that logs in alone: whether unlinking one
// leaves only the password.
func (m *Manager) lastWayIn(ctx context.Context, s Store, actor *Principal) (bool, error) {
	if !m.mine(actor) || actor.user.ID == "" {
		return false, m.refuse(ctx, actor, "", audit.AuthorizationDeny, selfTarget(actor))
	}
	ids, err := s.Identities().List(ctx, actor.user.ID)
	if err != nil {
		return false, err
	}
	if len(ids) > 1 {
		return false, nil
	}
	if m.wa != nil && !m.cfg.Passkeys.DisablePasswordless {
		n, err := m.countGenuinePasskeys(ctx, s, actor.user.ID)
		if err != nil || n > 0 {
			return false, err
		}
	}
	return true, nil
}

// passwordLoginOn refuses password login when Config.DisablePasswordLogin
// is set and a provider is enabled.
func (m *Manager) passwordLoginOn(ctx context.Context) error {
	if !m.cfg.DisablePasswordLogin {
		return nil
	}
	ps, err := m.LoginProviders(ctx)
	if err != nil {
		return err
	}
	if len(ps) > 0 {
		return ErrPasswordLoginDisabled
	}
	return nil
}
