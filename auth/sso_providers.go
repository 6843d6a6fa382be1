package auth

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/oidc"
)

// SSOProvider is a provider as an admin page shows it: the record without
// its sealed secret, and what a page needs beside.
type SSOProvider struct {
	// Provider is the record; KeyID and SealedSecret are cleared.
	oidc.Provider
	// SecretHint ends with the client secret's last four characters
	// ("…x7Qa"), enough to tell two apart; "" when there is none. The
	// secret itself is never shown back.
	SecretHint string
	// Declared providers come from Config.SSO: only the host changes them.
	Declared bool
	// CallbackURL is the redirect URI to register at the provider.
	CallbackURL string
}

// LoginProvider is an enabled provider as a login page offers it.
type LoginProvider struct {
	ID   string
	Name string
	// Issuer is the provider's issuer URL: its origin is where the
	// browser is sent, which a page's Content-Security-Policy form-action
	// must allow.
	Issuer string
}

// FieldProvider is the field of a provider's setting that [FieldError]
// names for bad provider input; the message says which setting.
const FieldProvider = "provider"

// ssoOn reports ErrSSODisabled when single sign-on is not set up.
func (m *Manager) ssoOn() error {
	if !m.cfg.SSO.enabled() {
		return ErrSSODisabled
	}
	return nil
}

// ProviderCallbackURL is the redirect URI of provider id: what an admin
// registers at the provider.
func (m *Manager) ProviderCallbackURL(id string) string { return m.cfg.SSO.callbackURL(id) }

// LoginProviders lists the enabled providers, by ID, for a login page: it
// needs no principal.
func (m *Manager) LoginProviders(ctx context.Context) ([]LoginProvider, error) {
	if !m.cfg.SSO.enabled() {
		return nil, nil
	}
	all, err := m.store.Providers().List(ctx)
	if err != nil {
		return nil, err
	}
	var out []LoginProvider
	for _, p := range all {
		if p.Enabled {
			out = append(out, LoginProvider{ID: p.ID, Name: p.Name, Issuer: p.Issuer})
		}
	}
	return out, nil
}

// SSOProviders lists every provider for the settings page. It needs
// sso:manage. It works with Config.SSO empty too (CallbackURL is then
// empty), for command-line tools.
func (m *Manager) SSOProviders(ctx context.Context, actor *Principal) ([]SSOProvider, error) {
	if err := m.deniedUnless(ctx, actor, group.SSOManage, audit.Target{Type: audit.TargetProvider}); err != nil {
		return nil, err
	}
	all, err := m.store.Providers().List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]SSOProvider, len(all))
	for i := range all {
		out[i] = m.view(&all[i])
	}
	return out, nil
}

// view is what an admin sees of p.
func (m *Manager) view(p *oidc.Provider) SSOProvider {
	v := SSOProvider{Provider: *p, Declared: m.cfg.SSO.declared(p.ID)}
	if m.cfg.SSO.enabled() {
		v.CallbackURL = m.ProviderCallbackURL(p.ID)
	}
	if secret, err := m.providerSecret(p); err == nil && len(secret) >= 12 {
		v.SecretHint = "…" + string(secret[len(secret)-4:])
	} else if err == nil && len(secret) > 0 {
		v.SecretHint = "…" // too short to show any of it
	}
	v.KeyID, v.SealedSecret = "", nil
	v.Scopes, v.AllowedDomains, v.GroupMap = slices.Clone(p.Scopes), slices.Clone(p.AllowedDomains), maps.Clone(p.GroupMap)
	return v
}

// providerSecret opens p's client secret (nil when it has none). The
// provider's ID is bound in: a sealed secret copied to another provider
// does not open.
func (m *Manager) providerSecret(p *oidc.Provider) ([]byte, error) {
	if len(p.SealedSecret) == 0 {
		return nil, nil
	}
	return m.keys.open(p.KeyID, p.SealedSecret, []byte("sso provider "+p.ID))
}

// sealSecret seals a client secret for provider id.
func (m *Manager) sealSecret(id, secret string) (string, []byte, error) {
	if secret == "" {
		return "", nil, nil
	}
	return m.keys.seal(m.rand, []byte(secret), []byte("sso provider "+id))
}

// CreateProvider adds a provider. It needs sso:manage, and every
// permission of the groups the provider puts people in (its DefaultGroup
// and the targets of its GroupMap): otherwise adding one would be a way
// into more than the actor holds. Bad settings are a [FieldError] for
// [FieldProvider] wrapping [oidc.ErrInvalidProvider]; a taken ID is
// [oidc.ErrProviderExists]. The client secret is sealed under the secret
// key; the audit event never holds it.
func (m *Manager) CreateProvider(ctx context.Context, actor *Principal, p oidc.Provider, clientSecret string) (*SSOProvider, error) {
	if err := m.ssoOn(); err != nil {
		return nil, err
	}
	if err := oidc.NormalizeProvider(&p); err != nil {
		return nil, inField(FieldProvider, err)
	}
	var err error
	if p.KeyID, p.SealedSecret, err = m.sealSecret(p.ID, clientSecret); err != nil {
		return nil, err
	}
	p.CreatedAt = m.clock()
	p.UpdatedAt = p.CreatedAt
	err = m.change(ctx, actor, group.SSOManage, audit.ProviderAdded, providerTarget(p.ID), func(tx Store, a *Principal, e *audit.Event) error {
		if m.cfg.SSO.declared(p.ID) {
			return oidc.ErrProviderExists
		}
		if err := mayProvision(ctx, tx, a, &p); err != nil {
			return err
		}
		if err := issuerFree(ctx, tx, &p); err != nil {
			return err
		}
		e.Details = providerDetails(&p, clientSecret != "")
		return tx.Providers().Create(ctx, &p)
	})
	if err != nil {
		return nil, err
	}
	v := m.view(&p)
	return &v, nil
}

// UpdateProvider replaces a provider's settings. p.Version must be the
// Version the caller read ([oidc.ErrStale] otherwise). An empty
// clientSecret keeps the stored one. It needs what [Manager.CreateProvider]
// needs; declared providers are refused ([ErrForbidden]).
func (m *Manager) UpdateProvider(ctx context.Context, actor *Principal, p oidc.Provider, clientSecret string) (*SSOProvider, error) {
	if err := m.ssoOn(); err != nil {
		return nil, err
	}
	if err := oidc.NormalizeProvider(&p); err != nil {
		return nil, inField(FieldProvider, err)
	}
	kid, sealed, err := m.sealSecret(p.ID, clientSecret)
	if err != nil {
		return nil, err
	}
	var out oidc.Provider
	err = m.change(ctx, actor, group.SSOManage, audit.ProviderChanged, providerTarget(p.ID), func(tx Store, a *Principal, e *audit.Event) error {
		if m.cfg.SSO.declared(p.ID) {
			return denied(DenyConfigured, fmt.Sprintf("provider %q is declared in the host's configuration", p.ID))
		}
		old, err := tx.Providers().Get(ctx, p.ID)
		if err != nil {
			return err
		}
		if err := mayChangeProvider(ctx, tx, a, old, &p, sealed != nil); err != nil {
			return err
		}
		p.UpdatedAt = m.clock()
		if err := tx.Providers().Update(ctx, &p); err != nil {
			return err
		}
		if sealed != nil {
			if err := tx.Providers().SetSecret(ctx, p.ID, kid, sealed); err != nil {
				return err
			}
		}
		e.Details = map[string]any{audit.DetailBefore: providerDetails(old, false), audit.DetailAfter: providerDetails(&p, sealed != nil)}
		cur, err := tx.Providers().Get(ctx, p.ID)
		if err == nil {
			out = *cur
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	m.forget(p.ID)
	v := m.view(&out)
	return &v, nil
}

// DeleteProvider removes a provider and unlinks every identity linked
// through it (their users keep their accounts, and log in another way).
// It needs sso:manage; declared providers are refused ([ErrForbidden]).
func (m *Manager) DeleteProvider(ctx context.Context, actor *Principal, id string) error {
	if err := m.ssoOn(); err != nil {
		return err
	}
	err := m.change(ctx, actor, group.SSOManage, audit.ProviderRemoved, providerTarget(id), func(tx Store, a *Principal, e *audit.Event) error {
		if m.cfg.SSO.declared(id) {
			return denied(DenyConfigured, fmt.Sprintf("provider %q is declared in the host's configuration", id))
		}
		old, err := tx.Providers().Get(ctx, id)
		if err != nil {
			return err
		}
		if err := mayProvision(ctx, tx, a, old); err != nil {
			return err
		}
		e.Details = providerDetails(old, false)
		return tx.Providers().Delete(ctx, id)
	})
	if err == nil {
		m.forget(id)
	}
	return err
}

// mayProvision checks that a holds every permission of each group p puts
// people in, and that those groups exist. A provider that links existing
// accounts by email, or whose logins count as multi-factor, speaks for
// any account, the admins' included: only an actor holding every
// permission ("*") may set either.
func mayProvision(ctx context.Context, tx Store, a *Principal, p *oidc.Provider) error {
	if (p.LinkByEmail || p.SatisfiesTwoFactor) && !a.Can(group.Permission("*")) {
		return a.by.aboutPermission(DenyPermission, group.All, `linking by email and vouching for MFA make a provider speak for every account; only a holder of "*" may set them`)
	}
	ids := slices.Collect(maps.Values(p.GroupMap))
	if p.DefaultGroup != "" {
		ids = append(ids, p.DefaultGroup)
	}
	for _, id := range ids {
		g, err := tx.Groups().Get(ctx, id)
		if errors.Is(err, group.ErrNotFound) {
			return inField(FieldProvider, fmt.Errorf("%w: group %q does not exist", oidc.ErrInvalidProvider, id))
		} else if err != nil {
			return err
		}
		if err := mayManage(a, g); err != nil {
			return err
		}
	}
	return nil
}

func providerTarget(id string) audit.Target {
	return audit.Target{Type: audit.TargetProvider, ID: id}
}

// providerDetails are a provider's settings for an audit event: never
// its secret, only whether it was set or changed.
func providerDetails(p *oidc.Provider, secretChanged bool) map[string]any {
	d := map[string]any{
		audit.DetailName: p.Name, "issuer": p.Issuer, "client_id": p.ClientID, "enabled": p.Enabled,
		"link_by_email": p.LinkByEmail, "provisioning": p.Provisioning, "allowed_domains": p.AllowedDomains,
		"default_group": string(p.DefaultGroup), "group_claim": p.GroupClaim, "group_map": p.GroupMap,
		"require_second_factor": p.RequireSecondFactor, "satisfies_two_factor": p.SatisfiesTwoFactor,
	}
	if secretChanged {
		d["secret_changed"] = true
	}
	return d
}

// issuerFree refuses a provider whose issuer another provider has: an
// identity is keyed by issuer and subject, so two providers of one issuer
// would share identities while each applied its own policy.
func issuerFree(ctx context.Context, tx Store, p *oidc.Provider) error {
	all, err := tx.Providers().List(ctx)
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.ID != p.ID && o.Issuer == p.Issuer {
			return inField(FieldProvider, &oidc.FieldError{Field: oidc.FieldIssuer,
				Err: fmt.Errorf("provider %q has this issuer already", o.ID)})
		}
	}
	return nil
}

// mayChangeProvider checks an edit of old into p: the actor may manage
// what both put people in, the issuer is no other provider's, and a
// changed issuer or client comes with its secret (newSecret): the stored
// one was given for that issuer and client, and must not go to another
// token endpoint.
func mayChangeProvider(ctx context.Context, tx Store, a *Principal, old, p *oidc.Provider, newSecret bool) error {
	if err := mayProvision(ctx, tx, a, old); err != nil {
		return err
	}
	if err := mayProvision(ctx, tx, a, p); err != nil {
		return err
	}
	if err := issuerFree(ctx, tx, p); err != nil {
		return err
	}
	if !newSecret && len(old.SealedSecret) > 0 && (old.Issuer != p.Issuer || old.ClientID != p.ClientID) {
		return inField(FieldProvider, &oidc.FieldError{Field: oidc.FieldIssuer,
			Err: errors.New("the issuer or client ID changed: enter the client secret again")})
	}
	return nil
}

// SetProviderEnabled enables or disables a provider. It needs sso:manage,
// and works with Config.SSO empty too: a command-line tool can take a
// provider out of service (say, to let password login back in while
// Config.DisablePasswordLogin is set) without the application's settings.
// Declared providers are refused ([ErrForbidden]): the host's Config
// decides those.
func (m *Manager) SetProviderEnabled(ctx context.Context, actor *Principal, id string, enabled bool) error {
	err := m.change(ctx, actor, group.SSOManage, audit.ProviderChanged, providerTarget(id), func(tx Store, a *Principal, e *audit.Event) error {
		if m.cfg.SSO.declared(id) {
			return denied(DenyConfigured, fmt.Sprintf("provider %q is declared in the host's configuration", id))
		}
		p, err := tx.Providers().Get(ctx, id)
		if err != nil {
			return err
		}
		if p.Enabled == enabled {
			e.Action = ""
			return nil
		}
		if err := mayProvision(ctx, tx, a, p); err != nil {
			return err
		}
		before := providerDetails(p, false)
		p.Enabled, p.UpdatedAt = enabled, m.clock()
		e.Details = map[string]any{audit.DetailBefore: before, audit.DetailAfter: providerDetails(p, false)}
		return tx.Providers().Update(ctx, p)
	})
	if err == nil {
		m.forget(id)
	}
	return err
}
