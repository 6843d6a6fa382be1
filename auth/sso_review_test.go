package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/internal/oidctest"
	"github.com/usher-go/usher/oidc"
)

// ssoAt begins and finishes a sign-on at provider id as subject.
func (s *ssoEnv) ssoAt(id, subject string) (*auth.LoginResult, error) {
	s.t.Helper()
	f, err := s.m.BeginSSO(s.ctx, id, "", client)
	if err != nil {
		s.t.Fatalf("BeginSSO %s: %v", id, err)
	}
	cb := s.op.Login(s.t, f.URL, subject)
	return s.m.FinishSSO(s.ctx, f.ID, id, cb.Query(), client)
}

func cbFor(id string) string { return strings.Replace(ssoCallback, "{id}", id, 1) }

// R1: a group's RequireTwoFactor is not enforced on an SSO login: a member
// with TOTP enrolled gets a full session from a provider that is neither
// RequireSecondFactor nor SatisfiesTwoFactor.
func TestSSOReviewGroupTwoFactorBypassedBySSO(t *testing.T) {
	s := newSSOEnv(t)
	s.provider(func(p *oidc.Provider) { p.LinkByEmail = true })
	g, err := s.m.CreateGroup(s.ctx, s.admin, group.Group{Name: "Ops", RequireTwoFactor: true,
		Permissions: []group.Permission{"backups:run", group.ProfileManage2FA}})
	if err != nil {
		t.Fatal(err)
	}
	_, p := s.user(s.admin, "op@example.com", g.ID)
	s.enrol(&p)
	s.op.AddUser(oidctest.User{Subject: "op-sub", Email: "op@example.com", EmailVerified: true})
	res, err := s.sso("op-sub")
	if err != nil {
		t.Fatal(err)
	}
	if res.Challenge == nil {
		q := s.auth(res.Session.Token)
		t.Errorf("BUG: RequireTwoFactor group member got a session without a second factor (can backups:run=%v, MustEnroll=%v)",
			q.Can("backups:run"), q.MustEnroll())
	}
}

// R2: a provider that links by email (or vouches for MFA) speaks for any
// account: only a holder of "*" may set that, or sso:manage would be as
// good as "*".
func TestSSOReviewSSOManageTakesOverAdmin(t *testing.T) {
	s := newSSOEnv(t)
	g := s.group(s.admin, "SSO admins", group.SSOManage, group.UsersRead)
	_, mgr := s.user(s.admin, "mgr@example.com", g.ID)
	for _, p := range []oidc.Provider{
		{ID: "evil", Name: "Mine", Issuer: s.op.Issuer(), ClientID: "evil", Enabled: true, LinkByEmail: true},
		{ID: "evil", Name: "Mine", Issuer: s.op.Issuer(), ClientID: "evil", Enabled: true, SatisfiesTwoFactor: true},
	} {
		_, err := s.m.CreateProvider(s.ctx, mgr, p, "evil-secret")
		wantErr(t, err, auth.ErrForbidden)
	}
	// Without either, the same actor may add it.
	if _, err := s.m.CreateProvider(s.ctx, mgr, oidc.Provider{ID: "mine", Name: "Mine", Issuer: s.op.Issuer(),
		ClientID: "evil", Enabled: true}, "evil-secret"); err != nil {
		t.Errorf("a plain provider: %v", err)
	}
}

// R3: two providers with one issuer would share identities while each
// applied its own policy: a second one is refused, and an identity answers
// only through the provider that linked it (a store written behind the
// Manager's back included).
func TestSSOReviewSharedIssuerPolicyBypass(t *testing.T) {
	s := newSSOEnv(t)
	s.provider(func(p *oidc.Provider) { p.RequireSecondFactor = true; p.LinkByEmail = true })
	s.enrol(&s.admin)
	s.op.AddUser(oidctest.User{Subject: "adm", Email: adminEmail, EmailVerified: true})
	if res, err := s.sso("adm"); err != nil || res.Challenge == nil {
		t.Fatalf("baseline: want a challenge: %+v %v", res, err)
	}
	s.op.AddClient("usher2", "s2", cbFor("idp2"))
	_, err := s.m.CreateProvider(s.ctx, s.admin, oidc.Provider{ID: "idp2", Name: "Two", Issuer: s.op.Issuer(),
		ClientID: "usher2", Enabled: true}, "s2")
	var fe *oidc.FieldError
	if !errors.As(err, &fe) || fe.Field != oidc.FieldIssuer {
		t.Fatalf("a second provider with the same issuer: %v", err)
	}
	// Given the issuer straight in the store, the second provider still
	// cannot answer for the identity the first one linked.
	if _, err := s.m.CreateProvider(s.ctx, s.admin, oidc.Provider{ID: "idp2", Name: "Two", Issuer: "https://placeholder.example",
		ClientID: "usher2", Enabled: true}, "s2"); err != nil {
		t.Fatal(err)
	}
	p2, err := s.db.Providers().Get(s.ctx, "idp2")
	if err != nil {
		t.Fatal(err)
	}
	p2.Issuer = s.op.Issuer()
	if err := s.db.Providers().Update(s.ctx, p2); err != nil {
		t.Fatal(err)
	}
	_, err = s.ssoAt("idp2", "adm")
	wantErr(t, err, auth.ErrSSONotLinked)
	if ev := s.lastEvent(audit.LoginFailed); ev.Reason != "linked through another provider" {
		t.Errorf("recorded as %q", ev.Reason)
	}
}

// R4: a changed issuer or client ID needs the secret again: the stored one
// must not go to another token endpoint.
func TestSSOReviewIssuerChangeLeaksSecret(t *testing.T) {
	s := newSSOEnv(t)
	v := s.provider(nil) // secret "client-secret"
	p := v.Provider
	p.Issuer = "https://elsewhere.example"
	_, err := s.m.UpdateProvider(s.ctx, s.admin, p, "")
	var fe *oidc.FieldError
	if !errors.As(err, &fe) || fe.Field != oidc.FieldIssuer {
		t.Fatalf("issuer changed, secret kept: %v", err)
	}
	p.Issuer, p.ClientID = v.Issuer, "another-client"
	_, err = s.m.UpdateProvider(s.ctx, s.admin, p, "")
	if !errors.As(err, &fe) {
		t.Fatalf("client changed, secret kept: %v", err)
	}
	if _, err := s.m.UpdateProvider(s.ctx, s.admin, p, "the-new-client-secret"); err != nil {
		t.Errorf("with the secret entered again: %v", err)
	}
	// A change of anything else keeps it.
	cur, _ := s.m.SSOProviders(s.ctx, s.admin)
	q := cur[0].Provider
	q.Name = "Renamed"
	if got, err := s.m.UpdateProvider(s.ctx, s.admin, q, ""); err != nil || got.SecretHint != "…cret" {
		t.Errorf("rename: %+v, %v", got, err)
	}
}

// R5: linking by email folds Unicode case: an IdP account "\u212Aate@…"
// (Kelvin sign) is linked to kate@….
func TestSSOReviewKelvinSignLinksByEmail(t *testing.T) {
	s := newSSOEnv(t)
	s.provider(func(p *oidc.Provider) { p.LinkByEmail = true })
	kate, _ := s.user(s.admin, "kate@example.com", group.UsersID)
	s.op.AddUser(oidctest.User{Subject: "k", Email: "\u212Aate@example.com", EmailVerified: true})
	res, err := s.sso("k")
	if err == nil && s.auth(res.Session.Token).User().ID == kate.ID {
		t.Errorf("BUG: \\u212Aate@example.com was linked to kate@example.com")
	}
}

// R6: a refused sign-on (disabled account) still commits the link.
func TestSSOReviewDisabledAccountLinkedAnyway(t *testing.T) {
	s := newSSOEnv(t)
	s.provider(func(p *oidc.Provider) { p.LinkByEmail = true })
	bob, _ := s.user(s.admin, "bob@example.com", group.UsersID)
	if err := s.m.SetDisabled(s.ctx, s.admin, bob.ID, true); err != nil {
		t.Fatal(err)
	}
	s.op.AddUser(oidctest.User{Subject: "b", Email: "bob@example.com", EmailVerified: true})
	_, err := s.sso("b")
	wantErr(t, err, auth.ErrAccountDisabled)
	if ids, _ := s.db.Identities().List(s.ctx, bob.ID); len(ids) != 0 {
		t.Errorf("BUG: refused sign-on linked anyway: %+v", ids)
	}
}

// R7: provider secrets count in OldKeyUsage, New refuses to drop the key
// they need, and their rotation is audited.
func TestSSOReviewProviderSecretsAndKeyRotation(t *testing.T) {
	s := newSSOEnv(t)
	s.provider(nil)
	s.op.AddUser(oidctest.User{Subject: "x", Email: "x@example.com", EmailVerified: true})
	newKey := []byte("fedcba9876543210fedcba9876543210")
	sso := func(cfg *auth.Config) { cfg.SSO = auth.SSOConfig{CallbackURL: ssoCallback} }
	m2 := s.manager(s.db, sso, func(cfg *auth.Config) { cfg.SecretKey, cfg.PreviousSecretKeys = newKey, [][]byte{testKey} })
	if _, err := m2.Login(s.ctx, adminEmail, adminPassword, client); err != nil { // moves the admin's hash
		t.Fatal(err)
	}
	u, err := m2.OldKeyUsage(s.ctx)
	if err != nil || u.ProviderSecrets != 1 {
		t.Fatalf("OldKeyUsage: %+v, %v", u, err)
	}
	_, err = auth.New(s.config(s.db, sso, func(cfg *auth.Config) { cfg.SecretKey, cfg.PreviousSecretKeys = newKey, nil }))
	wantErr(t, err, auth.ErrWrongSecretKey)
	if n, err := m2.RotateSecrets(s.ctx); err != nil || n != 1 {
		t.Fatalf("RotateSecrets: %d, %v", n, err)
	}
	if ev := s.lastEvent(audit.SecretsRotated); ev.Target.ID != "idp" {
		t.Errorf("rotation event %+v", ev)
	}
	if u, _ := m2.OldKeyUsage(s.ctx); u.ProviderSecrets != 0 {
		t.Errorf("after RotateSecrets: %+v", u)
	}
	s.m = s.manager(s.db, sso, func(cfg *auth.Config) { cfg.SecretKey, cfg.PreviousSecretKeys = newKey, nil })
	if _, err := s.sso("x"); err != nil {
		t.Errorf("sign-on under the new key alone: %v", err)
	}
}
