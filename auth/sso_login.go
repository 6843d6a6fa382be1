package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/oidc"
	"github.com/usher-go/usher/user"
)

// ssoOutcome is what became of a verified sign-on.
type ssoOutcome struct {
	res    LoginResult
	u      *user.User
	reason string // why it failed, "" on success
	err    error  // and the error to return
}

// ssoLogin finds or makes the account a verified answer stands for and
// opens its session (or challenge), in one transaction; a refusal is
// recorded after it, with nothing created or changed.
func (m *Manager) ssoLogin(ctx context.Context, ans *ssoAnswer, c Client) (*LoginResult, error) {
	var o ssoOutcome
	err := m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
		o = ssoOutcome{} // the store may run fn again
		return m.ssoLoginIn(ctx, tx, rec, ans, c, &o)
	})
	if err != nil {
		return nil, err
	}
	if o.reason != "" {
		return nil, m.ssoFailed(ctx, o.u, ans.p.ID, c, o.reason, o.err)
	}
	o.res.ReturnTo = ans.flow.ReturnTo
	return &o.res, nil
}

// noPasswordHash is the password hash of an account a sign-on made: no
// password verifies against it (it is no hash usher makes: Login burns a
// bcrypt and fails, as for any unknown format), it names no key, so it
// never holds a key rotation up, and costs nothing to make. An admin's
// password reset gives the account a password.
const noPasswordHash = "!sso-provisioned"

// ssoLoginIn runs a verified sign-on inside tx.
func (m *Manager) ssoLoginIn(ctx context.Context, tx Store, rec func(*audit.Event) error, ans *ssoAnswer, c Client, o *ssoOutcome) error {
	if err := providerUnchanged(ctx, tx, ans, o); err != nil || o.reason != "" {
		return err
	}
	u, err := m.ssoAccount(ctx, tx, rec, ans, c, o)
	if err != nil || o.reason != "" {
		return err
	}
	o.u = u
	if u.Disabled {
		o.reason, o.err = "account disabled", ErrAccountDisabled
		return nil
	}
	if err := tx.Identities().Seen(ctx, ans.issuer, ans.claims.Subject, ans.claims.Email, m.clock()); err != nil {
		return err
	}
	if err := m.mapGroups(ctx, tx, rec, ans, u, c); err != nil {
		return err
	}
	e := selfEvent(audit.LoginSucceeded, audit.Success, u, c)
	e.Details = map[string]any{audit.DetailMethod: MethodSSO, audit.DetailProvider: ans.p.ID}
	owed, err := m.ssoOwesFactor(ctx, tx, ans, u)
	if err != nil {
		return err
	}
	if owed {
		if o.res.Challenge, err = m.maybeChallenge(ctx, tx, u, c); err != nil {
			return err
		}
		if o.res.Challenge != nil {
			e.Action = audit.LoginChallenged
			return rec(e)
		}
	}
	if err := tx.Users().SetLastLogin(ctx, u.ID, m.clock()); err != nil {
		return err
	}
	if o.res.Session, err = m.issueSessionMF(ctx, tx, u, c, ans.multiFactor()); err != nil {
		return err
	}
	e.Details = sessionDetails(e.Details, o.res.Session)
	return rec(e)
}

// ssoAccount returns the account the answer stands for: the one linked to
// its (issuer, subject), or at a first login the local account with its
// verified email (when the provider links by email), or a new one (when
// it provisions). Otherwise it sets o.reason.
func (m *Manager) ssoAccount(ctx context.Context, tx Store, rec func(*audit.Event) error, ans *ssoAnswer, c Client, o *ssoOutcome) (*user.User, error) {
	id, err := tx.Identities().Get(ctx, ans.issuer, ans.claims.Subject)
	if err == nil && id.ProviderID != ans.p.ID {
		// Each provider applies its own policy (second factor, groups):
		// an identity answers only through the provider that linked it.
		return nil, o.fail("linked through another provider", "this account was linked through another provider")
	} else if err == nil {
		return tx.Users().Get(ctx, id.UserID)
	} else if !errors.Is(err, oidc.ErrNotFound) {
		return nil, err
	}
	cl := &ans.claims
	email, eerr := oidc.CanonicalEmail(cl.Email)
	existing, err := tx.Users().GetByEmail(ctx, email)
	switch {
	case eerr != nil:
		return nil, o.fail("no usable email in the token", "the provider gave no usable email")
	case err == nil:
		return m.linkByEmail(ctx, tx, rec, ans, existing, c, o)
	case !errors.Is(err, user.ErrNotFound):
		return nil, err
	case !ans.p.Provisioning:
		return nil, o.fail("provisioning off", "no account has this email and this provider creates none")
	case !cl.EmailVerified:
		return nil, o.fail("unverified email", "the provider does not vouch for this email")
	case !oidc.DomainAllowed(email, ans.p.AllowedDomains):
		return nil, o.fail("domain not allowed", "this email's domain may not sign up through this provider")
	}
	return m.provision(ctx, tx, rec, ans, email, c)
}

// fail sets why the sign-on is refused; it returns nil so that the
// transaction commits nothing (there is nothing to write) and the caller
// records the refusal.
func (o *ssoOutcome) fail(reason, why string) error {
	o.reason, o.err = reason, &NotLinkedError{Reason: why}
	return nil
}

// linkByEmail links the answer's identity to existing, the local account
// with its email, if the provider may and the email is verified.
func (m *Manager) linkByEmail(ctx context.Context, tx Store, rec func(*audit.Event) error, ans *ssoAnswer, existing *user.User, c Client, o *ssoOutcome) (*user.User, error) {
	switch {
	case !ans.p.LinkByEmail:
		return nil, o.fail("not linked", "an account has this email, but this provider does not link by email: link it from the profile")
	case !ans.claims.EmailVerified:
		return nil, o.fail("unverified email", "an account has this email, but the provider does not vouch for it")
	case existing.Disabled:
		o.u, o.reason, o.err = existing, "account disabled", ErrAccountDisabled
		return nil, nil
	}
	if err := m.link(ctx, tx, rec, ans, existing, c, "first sign-on with a verified email"); err != nil {
		return nil, err
	}
	return existing, nil
}

// provision creates an account for the answer, in the provider's default
// group, and links it.
func (m *Manager) provision(ctx context.Context, tx Store, rec func(*audit.Event) error, ans *ssoAnswer, email string, c Client) (*user.User, error) {
	name, _ := user.NormalizeName(cut(ans.claims.Name, user.MaxNameLength*4))
	u, err := m.newUser(email, name, ans.p.DefaultGroup)
	if err != nil {
		return nil, err
	}
	g, err := tx.Groups().Get(ctx, ans.p.DefaultGroup)
	if err != nil {
		return nil, fmt.Errorf("auth: provider %q provisions into group %q: %w", ans.p.ID, ans.p.DefaultGroup, err)
	}
	if err := tx.Users().Create(ctx, u, noPasswordHash); err != nil {
		return nil, taken(err)
	}
	e := selfEvent(audit.UserProvisioned, audit.Success, u, c)
	e.Details = map[string]any{audit.DetailEmail: u.Email, audit.DetailGroup: string(g.ID), audit.DetailGroupName: g.Name, audit.DetailProvider: ans.p.ID}
	if err := rec(e); err != nil {
		return nil, err
	}
	return u, m.link(ctx, tx, rec, ans, u, c, "account provisioned")
}

// link stores the answer's identity for u and records it.
func (m *Manager) link(ctx context.Context, tx Store, rec func(*audit.Event) error, ans *ssoAnswer, u *user.User, c Client, why string) error {
	id := &oidc.Identity{Issuer: ans.issuer, Subject: ans.claims.Subject, ProviderID: ans.p.ID, UserID: u.ID,
		Email: ans.claims.Email, CreatedAt: m.clock()}
	if err := tx.Identities().Link(ctx, id); err != nil {
		return err
	}
	e := selfEvent(audit.IdentityLinked, audit.Success, u, c)
	e.Reason = why
	e.Details = map[string]any{audit.DetailProvider: ans.p.ID, audit.DetailSubject: cut(ans.claims.Subject, 255)}
	return rec(e)
}

// mapGroups applies the provider's group mapping to u: the local group of
// the first of the user's IdP groups (in the order of their names) that
// the map names; none named moves u to the provider's default group, so
// removing someone from the IdP group demotes them here too. A token
// without the group claim changes nothing. A move that would take the
// last admin out is not made, and recorded as denied.
func (m *Manager) mapGroups(ctx context.Context, tx Store, rec func(*audit.Event) error, ans *ssoAnswer, u *user.User, c Client) error {
	p := ans.p
	if p.GroupClaim == "" || len(p.GroupMap) == 0 || !ans.claims.HasGroups {
		return nil
	}
	to := p.DefaultGroup
	groups := slices.Sorted(slices.Values(ans.claims.Groups))
	for _, g := range groups {
		if local, ok := p.GroupMap[g]; ok {
			to = local
			break
		}
	}
	if to == "" || string(to) == u.GroupID {
		return nil
	}
	if _, err := tx.Groups().Get(ctx, to); errors.Is(err, group.ErrNotFound) {
		return nil // the mapping names a group deleted since: leave the user be
	} else if err != nil {
		return err
	}
	e := selfEvent(audit.GroupMapped, audit.Success, u, c)
	e.Details = map[string]any{audit.DetailProvider: p.ID, audit.DetailBefore: u.GroupID, audit.DetailAfter: string(to)}
	if err := m.checkNotLastAdmin(ctx, tx, u); err != nil {
		e.Outcome, e.Reason = audit.Denied, err.Error()
		return rec(e)
	}
	u.GroupID, u.UpdatedAt = string(to), m.clock()
	if err := tx.Users().Update(ctx, u); err != nil {
		return err
	}
	u.Version++
	return rec(e)
}

// multiFactor reports whether the provider's login counts as multi-factor:
// the admin marked the provider so, or the token's amr says "mfa" (RFC
// 8176).
func (ans *ssoAnswer) multiFactor() bool {
	return ans.p.SatisfiesTwoFactor || slices.Contains(ans.claims.AMR, "mfa")
}

// ssoOwesFactor reports whether a sign-on of u must still answer the
// local second factor: the provider asks for it, or u's group requires
// two-factor and the provider's login does not count as multi-factor.
func (m *Manager) ssoOwesFactor(ctx context.Context, tx Store, ans *ssoAnswer, u *user.User) (bool, error) {
	if ans.p.RequireSecondFactor {
		return true, nil
	}
	if ans.multiFactor() {
		return false, nil
	}
	g, err := tx.Groups().Get(ctx, group.ID(u.GroupID))
	if err != nil {
		return false, err
	}
	return g.RequireTwoFactor, nil
}

// providerUnchanged reads the provider again inside the login's
// transaction: it was read before the code exchange, seconds ago, and a
// change since (disabled, provisioning or linking turned off) wins.
func providerUnchanged(ctx context.Context, tx Store, ans *ssoAnswer, o *ssoOutcome) error {
	cur, err := tx.Providers().Get(ctx, ans.p.ID)
	if errors.Is(err, oidc.ErrNotFound) || err == nil && (cur.Version != ans.p.Version || !cur.Enabled) {
		o.reason, o.err = "provider changed during login", fmt.Errorf("%w: the provider's settings changed during the login; sign in again", ErrInvalidCredentials)
		return nil
	}
	return err
}
