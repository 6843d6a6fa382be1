package auth_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/internal/oidctest"
	"github.com/usher-go/usher/oidc"
)

// Declared providers (Config.SSO.Providers) and key rotation of provider
// secrets.

// declared is the provider a host declares, at op.
func declared(op *oidctest.Provider, name, secret string) auth.DeclaredProvider {
	return auth.DeclaredProvider{ClientSecret: secret, Provider: oidc.Provider{
		ID: "idp", Name: name, Issuer: op.Issuer(), ClientID: "usher", Enabled: true,
		Provisioning: true, AllowedDomains: []string{"example.com"}, DefaultGroup: group.UsersID}}
}

// withDeclared sets single sign-on up with providers d.
func withDeclared(d ...auth.DeclaredProvider) func(*auth.Config) {
	return func(cfg *auth.Config) {
		cfg.SSO = auth.SSOConfig{CallbackURL: ssoCallback, Providers: d}
	}
}

// newDeclaredEnv is an ssoEnv whose provider "idp" is declared in the
// config rather than added by an admin.
func newDeclaredEnv(t *testing.T, name, secret string) *ssoEnv {
	t.Helper()
	op := oidctest.New(t, oidctest.GroupsInIDToken())
	op.AddClient("usher", secret, strings.Replace(ssoCallback, "{id}", "idp", 1))
	e := newEnv(t, withDeclared(declared(op, name, secret)))
	e.clk.mu.Lock()
	e.clk.t = time.Now().UTC()
	e.clk.mu.Unlock()
	return &ssoEnv{env: e, op: op, admin: e.admin()}
}

// providerEvents are the provider events of outcome o recorded for "idp",
// newest first.
func (s *ssoEnv) providerEvents(o ...audit.Outcome) []audit.Event {
	if len(o) == 0 {
		o = []audit.Outcome{audit.Success}
	}
	var out []audit.Event
	for _, ev := range s.events() {
		switch ev.Action {
		case audit.ProviderAdded, audit.ProviderChanged, audit.ProviderRemoved:
			if ev.Target.ID == "idp" && ev.Outcome == o[0] {
				out = append(out, ev)
			}
		}
	}
	return out
}

// noSecretIn fails if an audit event holds secret.
func (s *ssoEnv) noSecretIn(secret string) {
	s.t.Helper()
	for _, ev := range s.events() {
		if strings.Contains(toJSON(ev), secret) {
			s.t.Errorf("the client secret in an audit event: %+v", ev)
		}
	}
}

func TestSSODeclaredProviders(t *testing.T) {
	t.Parallel()
	s := newDeclaredEnv(t, "Corp IdP", "first-secret")
	ctx := s.ctx

	// Created at New, audited without an actor, secret sealed.
	stored, err := s.db.Providers().Get(ctx, "idp")
	if err != nil {
		t.Fatalf("the declared provider is not in the store: %v", err)
	}
	if stored.Name != "Corp IdP" || stored.Issuer != s.op.Issuer() || stored.Version != 1 || len(stored.SealedSecret) == 0 ||
		bytes.Contains(stored.SealedSecret, []byte("first-secret")) {
		t.Errorf("stored %+v", stored)
	}
	evs := s.providerEvents()
	if len(evs) != 1 || evs[0].Action != audit.ProviderAdded || evs[0].Actor.ID != "" ||
		evs[0].Reason != "declared in the host's configuration" || evs[0].Details[audit.DetailName] != "Corp IdP" {
		t.Fatalf("provider events %+v", evs)
	}
	vs, err := s.m.SSOProviders(ctx, s.admin)
	if err != nil || len(vs) != 1 || !vs[0].Declared || vs[0].SecretHint != "…cret" || len(vs[0].SealedSecret) != 0 {
		t.Errorf("SSOProviders: %+v, %v", vs, err)
	}

	// It works: a sign-on through it.
	s.op.AddUser(oidctest.User{Subject: "a", Email: "ann@example.com", EmailVerified: true})
	if _, err := s.sso("a"); err != nil {
		t.Fatalf("sign-on through the declared provider: %v", err)
	}

	// Admins cannot change or remove it, nor take its ID.
	p := vs[0].Provider
	p.Name = "Renamed by an admin"
	_, err = s.m.UpdateProvider(ctx, s.admin, p, "")
	wantErr(t, err, auth.ErrForbidden)
	wantErr(t, s.m.DeleteProvider(ctx, s.admin, "idp"), auth.ErrForbidden)
	p.Version = 0
	_, err = s.m.CreateProvider(ctx, s.admin, p, "x")
	wantErr(t, err, oidc.ErrProviderExists)
	if got, _ := s.db.Providers().Get(ctx, "idp"); got.Name != "Corp IdP" || got.Version != 1 {
		t.Errorf("changed by refused calls: %+v", got)
	}
	if denied := s.providerEvents(audit.Denied); len(denied) != 2 || denied[0].Action != audit.ProviderRemoved ||
		denied[1].Action != audit.ProviderChanged || denied[0].Actor.ID != string(s.admin.User().ID) {
		t.Errorf("refused changes recorded as %+v", denied)
	}

	// The same config at the next start: nothing written, nothing audited.
	s.manager(s.db, withDeclared(declared(s.op, "Corp IdP", "first-secret")))
	if got, _ := s.db.Providers().Get(ctx, "idp"); got.Version != 1 || !bytes.Equal(got.SealedSecret, stored.SealedSecret) {
		t.Errorf("rewritten at a start with the same config: %+v", got)
	}
	if n := len(s.providerEvents()); n != 1 {
		t.Errorf("%d provider events after an unchanged start, want 1", n)
	}

	// A changed setting: updated, audited with before and after; the
	// secret is not re-sealed.
	d := declared(s.op, "Corp IdP (renamed)", "first-secret")
	d.LinkByEmail = true
	s.manager(s.db, withDeclared(d))
	got, _ := s.db.Providers().Get(ctx, "idp")
	if got.Name != "Corp IdP (renamed)" || !got.LinkByEmail || got.Version != 2 || !bytes.Equal(got.SealedSecret, stored.SealedSecret) {
		t.Errorf("after a changed setting: %+v", got)
	}
	ev := s.providerEvents()[0]
	before, _ := ev.Details[audit.DetailBefore].(map[string]any)
	after, _ := ev.Details[audit.DetailAfter].(map[string]any)
	if ev.Action != audit.ProviderChanged || before[audit.DetailName] != "Corp IdP" || after[audit.DetailName] != "Corp IdP (renamed)" ||
		after["secret_changed"] != nil {
		t.Errorf("changed event %+v", ev)
	}

	// A changed secret: re-sealed, audited as changed (not shown), and
	// sign-ons use it.
	s.op.AddClient("usher", "second-secret", strings.Replace(ssoCallback, "{id}", "idp", 1))
	if _, err := s.sso("a"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("the old secret still accepted by the provider? %v", err)
	}
	d.ClientSecret = "second-secret"
	m2 := s.manager(s.db, withDeclared(d))
	got2, _ := s.db.Providers().Get(ctx, "idp")
	if bytes.Equal(got2.SealedSecret, got.SealedSecret) || got2.Version != got.Version+1 {
		t.Errorf("secret not re-sealed: %+v", got2)
	}
	ev = s.providerEvents()[0]
	if after, _ := ev.Details[audit.DetailAfter].(map[string]any); ev.Action != audit.ProviderChanged || after["secret_changed"] != true {
		t.Errorf("secret change event %+v", ev)
	}
	s.m = m2
	s.admin = s.on(m2, s.admin)
	if _, err := s.sso("a"); err != nil {
		t.Fatalf("sign-on with the re-sealed secret: %v", err)
	}
	if vs, _ := s.m.SSOProviders(ctx, s.admin); len(vs) != 1 || vs[0].SecretHint != "…cret" {
		t.Errorf("SSOProviders after the secret change: %+v", vs)
	}
	s.noSecretIn("first-secret")
	s.noSecretIn("second-secret")
	if n := len(s.providerEvents()); n != 3 {
		t.Errorf("%d provider events, want added, changed, changed", n)
	}
}

func TestSSODeclaredProviderConfigChecks(t *testing.T) {
	t.Parallel()
	op := oidctest.New(t)
	bad := declared(op, "x", "s")
	bad.ID = "Bad ID"
	twice := declared(op, "x", "s")
	base := newEnv(t)
	for name, cfg := range map[string]auth.SSOConfig{
		"bad ID":         {CallbackURL: ssoCallback, Providers: []auth.DeclaredProvider{bad}},
		"declared twice": {CallbackURL: ssoCallback, Providers: []auth.DeclaredProvider{twice, twice}},
		"no callback":    {Providers: []auth.DeclaredProvider{twice}},
	} {
		_, err := auth.New(base.config(base.db, func(c *auth.Config) { c.SSO = cfg }))
		if !errors.Is(err, auth.ErrInvalidConfig) {
			t.Errorf("%s: New: %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestSSORotateProviderSecrets(t *testing.T) {
	t.Parallel()
	keyB := []byte("fedcba9876543210fedcba9876543210")
	s := newSSOEnv(t) // key A: testKey
	// The admin links by email: an account provisioned here would hold a
	// password hash under key A that no login ever moves (see the report
	// of this branch), and keep a Manager with only key B from starting.
	s.provider(func(p *oidc.Provider) { p.LinkByEmail = true })
	s.op.AddUser(oidctest.User{Subject: "r", Email: adminEmail, EmailVerified: true})
	if _, err := s.sso("r"); err != nil {
		t.Fatalf("sign-on under key A: %v", err)
	}
	underA, _ := s.db.Providers().Get(s.ctx, "idp")

	// Key B with A as previous: RotateSecrets moves the provider secret.
	withB := func(prev ...[]byte) func(*auth.Config) {
		return func(c *auth.Config) {
			c.SSO = auth.SSOConfig{CallbackURL: ssoCallback}
			c.SecretKey, c.PreviousSecretKeys = keyB, prev
		}
	}
	mB := s.manager(s.db, withB(testKey))
	n, err := mB.RotateSecrets(s.ctx)
	if err != nil || n != 1 {
		t.Fatalf("RotateSecrets: %d, %v; want 1 moved (the provider secret)", n, err)
	}
	underB, _ := s.db.Providers().Get(s.ctx, "idp")
	if underB.KeyID == underA.KeyID || bytes.Equal(underB.SealedSecret, underA.SealedSecret) {
		t.Fatalf("not re-sealed: key %q → %q", underA.KeyID, underB.KeyID)
	}
	if n, err := mB.RotateSecrets(s.ctx); err != nil || n != 0 {
		t.Errorf("second RotateSecrets: %d, %v; want nothing left to move", n, err)
	}
	// The admin's password moves to B at the next login.
	if _, err := mB.Login(s.ctx, adminEmail, adminPassword, client); err != nil {
		t.Fatal(err)
	}

	// Only key B now: the Manager starts, opens the secret, and signs on.
	mOnlyB := s.manager(s.db, withB())
	s.m = mOnlyB
	res, err := s.sso("r")
	if err != nil || res.Session == nil {
		t.Fatalf("sign-on with only key B after the rotation: %+v, %v", res, err)
	}
	r, _ := mOnlyB.Login(s.ctx, adminEmail, adminPassword, client)
	admin := s.auth(r.Session.Token)
	if vs, err := mOnlyB.SSOProviders(s.ctx, admin); err != nil || len(vs) != 1 || vs[0].SecretHint != "…cret" {
		t.Errorf("SSOProviders with only key B: %+v, %v", vs, err)
	}
}
