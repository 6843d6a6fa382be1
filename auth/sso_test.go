package auth_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/internal/oidctest"
	"github.com/usher-go/usher/oidc"
	"github.com/usher-go/usher/user"
)

const ssoCallback = "http://localhost:9999/sso/{id}/callback"

// ssoEnv is an env with single sign-on on, a real provider (zitadel's op,
// in-process) with one client, and the admin.
type ssoEnv struct {
	*env
	op    *oidctest.Provider
	admin *auth.Principal
}

func newSSOEnv(t *testing.T, mod ...func(*auth.Config)) *ssoEnv {
	t.Helper()
	op := oidctest.New(t, oidctest.GroupsInIDToken())
	op.AddClient("usher", "client-secret", strings.Replace(ssoCallback, "{id}", "idp", 1))
	e := newEnv(t, append([]func(*auth.Config){func(cfg *auth.Config) {
		cfg.SSO = auth.SSOConfig{CallbackURL: ssoCallback}
	}}, mod...)...)
	// ID tokens carry real times: the fake clock starts now.
	e.clk.mu.Lock()
	e.clk.t = time.Now().UTC()
	e.clk.mu.Unlock()
	return &ssoEnv{env: e, op: op, admin: e.admin()}
}

// provider adds the provider "idp" with f applied to its settings.
func (s *ssoEnv) provider(f func(*oidc.Provider)) *auth.SSOProvider {
	s.t.Helper()
	p := oidc.Provider{ID: "idp", Name: "The IdP", Issuer: s.op.Issuer(), ClientID: "usher", Enabled: true,
		Provisioning: true, AllowedDomains: []string{"example.com"}, DefaultGroup: group.UsersID}
	if f != nil {
		f(&p)
	}
	v, err := s.m.CreateProvider(s.ctx, s.admin, p, "client-secret")
	if err != nil {
		s.t.Fatalf("CreateProvider: %v", err)
	}
	return v
}

// sso logs subject in at the provider and finishes the sign-on.
func (s *ssoEnv) sso(subject string) (*auth.LoginResult, error) {
	s.t.Helper()
	f, err := s.m.BeginSSO(s.ctx, "idp", "/after", client)
	if err != nil {
		s.t.Fatalf("BeginSSO: %v", err)
	}
	cb := s.op.Login(s.t, f.URL, subject)
	return s.m.FinishSSO(s.ctx, f.ID, "idp", cb.Query(), client)
}

func (s *ssoEnv) users() []user.Summary {
	s.t.Helper()
	page, err := s.m.ListUsers(s.ctx, s.admin, listAll())
	if err != nil {
		s.t.Fatal(err)
	}
	return page.Users
}

func TestSSOProvisioning(t *testing.T) {
	t.Parallel()
	s := newSSOEnv(t)
	s.provider(nil)
	s.op.AddUser(oidctest.User{Subject: "alice-sub", Email: "alice@example.com", EmailVerified: true, Name: "Alice"})
	res, err := s.sso("alice-sub")
	if err != nil {
		t.Fatalf("first sign-on: %v", err)
	}
	if res.Session == nil || res.ReturnTo != "/after" {
		t.Fatalf("result %+v", res)
	}
	p := s.auth(res.Session.Token)
	if p.User().Email != "alice@example.com" || p.User().Name != "Alice" || p.User().GroupID != string(group.UsersID) {
		t.Errorf("provisioned %+v", p.User())
	}
	s.lastEvent(audit.UserProvisioned)
	if ev := s.lastEvent(audit.IdentityLinked); ev.Details[audit.DetailSubject] != "alice-sub" {
		t.Errorf("link event %+v", ev)
	}
	if ev := s.lastEvent(audit.LoginSucceeded); ev.Details[audit.DetailMethod] != auth.MethodSSO || ev.Actor.Email != "alice@example.com" {
		t.Errorf("login event %+v", ev)
	}
	// The second sign-on finds the same account by (issuer, subject).
	res2, err := s.sso("alice-sub")
	if err != nil || s.auth(res2.Session.Token).User().ID != p.User().ID {
		t.Fatalf("second sign-on: %+v, %v", res2, err)
	}
	users := s.users()
	if n := len(users); n != 2 {
		t.Errorf("%d users, want the admin and alice", n)
	}
	for _, u := range users {
		if want := map[bool]string{true: "idp", false: ""}[u.ID == p.User().ID]; strings.Join(u.Providers, ",") != want {
			t.Errorf("ListUsers: %s linked through %v, want %q", u.Email, u.Providers, want)
		}
	}
	// The email at the provider changes hands: the subject still decides.
	s.op.SetUser(oidctest.User{Subject: "alice-sub", Email: "alice2@example.com", EmailVerified: true, Name: "Alice"})
	res3, err := s.sso("alice-sub")
	if err != nil || s.auth(res3.Session.Token).User().ID != p.User().ID {
		t.Fatalf("sign-on after an email change: %+v, %v", res3, err)
	}
}

func TestSSORefusesUnknownPeople(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		prov   func(*oidc.Provider)
		u      oidctest.User
		reason string
	}{
		{"provisioning off", func(p *oidc.Provider) { p.Provisioning = false },
			oidctest.User{Subject: "x", Email: "x@example.com", EmailVerified: true}, "provisioning off"},
		{"domain not allowed", nil,
			oidctest.User{Subject: "x", Email: "x@evil.example", EmailVerified: true}, "domain not allowed"},
		{"unverified email", nil,
			oidctest.User{Subject: "x", Email: "x@example.com", EmailVerified: false}, "unverified email"},
		{"email_verified missing", nil,
			oidctest.User{Subject: "x", Email: "x@example.com", OmitEmailVerified: true}, "unverified email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSSOEnv(t)
			s.provider(tc.prov)
			s.op.AddUser(tc.u)
			_, err := s.sso("x")
			wantErr(t, err, auth.ErrSSONotLinked)
			wantErr(t, err, auth.ErrInvalidCredentials)
			if nl, ok := errors.AsType[*auth.NotLinkedError](err); !ok || nl.Reason == "" {
				t.Errorf("no NotLinkedError with a reason: %v", err)
			}
			if n := len(s.users()); n != 1 {
				t.Errorf("%d users: an account was made", n)
			}
			if ev := s.lastEvent(audit.LoginFailed); ev.Reason != tc.reason {
				t.Errorf("recorded as %q, want %q", ev.Reason, tc.reason)
			}
		})
	}
}

func TestSSOLinkByEmail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		linkEmail bool
		verified  bool
		want      error
	}{
		{"linking off", false, true, auth.ErrSSONotLinked},
		{"unverified", true, false, auth.ErrSSONotLinked},
		{"verified and trusted", true, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSSOEnv(t)
			s.provider(func(p *oidc.Provider) { p.LinkByEmail = tc.linkEmail })
			bu, _ := s.user(s.admin, "bob@example.com", group.UsersID)
			s.op.AddUser(oidctest.User{Subject: "bob-sub", Email: "bob@example.com", EmailVerified: tc.verified})
			res, err := s.sso("bob-sub")
			if tc.want != nil {
				wantErr(t, err, tc.want)
				if ids, _ := s.db.Identities().List(s.ctx, bu.ID); len(ids) != 0 {
					t.Errorf("linked anyway: %+v", ids)
				}
				return
			}
			if err != nil || s.auth(res.Session.Token).User().ID != bu.ID {
				t.Fatalf("sign-on: %+v, %v", res, err)
			}
		})
	}
}

func TestSSOGroupMapping(t *testing.T) {
	t.Parallel()
	s := newSSOEnv(t)
	ops := s.group(s.admin, "Operators", "backups:run")
	s.provider(func(p *oidc.Provider) {
		p.GroupClaim = "groups"
		p.GroupMap = map[string]group.ID{"ops": ops.ID}
	})
	s.op.AddUser(oidctest.User{Subject: "c", Email: "carol@example.com", EmailVerified: true, Groups: []string{"ops", "staff"}})
	res, err := s.sso("c")
	if err != nil {
		t.Fatal(err)
	}
	if g := s.auth(res.Session.Token).User().GroupID; g != string(ops.ID) {
		t.Fatalf("group %s, want Operators", g)
	}
	if ev := s.lastEvent(audit.GroupMapped); ev.Details[audit.DetailAfter] != string(ops.ID) {
		t.Errorf("mapping event %+v", ev)
	}
	// Out of the IdP group: back to the default group at the next login.
	s.op.SetUser(oidctest.User{Subject: "c", Email: "carol@example.com", EmailVerified: true, Groups: []string{"staff"}})
	res, err = s.sso("c")
	if err != nil {
		t.Fatal(err)
	}
	if g := s.auth(res.Session.Token).User().GroupID; g != string(group.UsersID) {
		t.Errorf("after leaving ops: group %s, want users", g)
	}
}

func TestSSOSecondFactorRequired(t *testing.T) {
	t.Parallel()
	s := newSSOEnv(t)
	s.provider(func(p *oidc.Provider) { p.RequireSecondFactor = true; p.LinkByEmail = true })
	s.enrol(&s.admin)
	s.op.AddUser(oidctest.User{Subject: "adm", Email: adminEmail, EmailVerified: true})
	res, err := s.sso("adm")
	if err != nil {
		t.Fatal(err)
	}
	if res.Session != nil || res.Challenge == nil {
		t.Fatalf("want a challenge, got %+v", res)
	}
}

func TestSSOProviderDownThenUp(t *testing.T) {
	t.Parallel()
	s := newSSOEnv(t)
	s.provider(nil)
	s.op.AddUser(oidctest.User{Subject: "d", Email: "dan@example.com", EmailVerified: true})
	s.op.Stop()
	_, err := s.m.BeginSSO(s.ctx, "idp", "", client)
	wantErr(t, err, auth.ErrProviderUnavailable)
	s.op.Start()
	// Within the back-off the last error comes back without a request.
	_, err = s.m.BeginSSO(s.ctx, "idp", "", client)
	wantErr(t, err, auth.ErrProviderUnavailable)
	s.clk.Advance(2 * time.Second)
	if _, err := s.sso("d"); err != nil {
		t.Fatalf("after the provider came back: %v", err)
	}
}

func TestSSOCallbackRefusals(t *testing.T) {
	t.Parallel()
	s := newSSOEnv(t)
	s.provider(nil)
	s.op.AddUser(oidctest.User{Subject: "e", Email: "eve@example.com", EmailVerified: true})
	begin := func() (*auth.SSOFlow, url.Values) {
		f, err := s.m.BeginSSO(s.ctx, "idp", "", client)
		if err != nil {
			t.Fatal(err)
		}
		return f, s.op.Login(t, f.URL, "e").Query()
	}
	t.Run("wrong state", func(t *testing.T) {
		f, q := begin()
		q.Set("state", "not-the-state")
		_, err := s.m.FinishSSO(s.ctx, f.ID, "idp", q, client)
		wantErr(t, err, auth.ErrInvalidFlow)
	})
	t.Run("reused flow", func(t *testing.T) {
		f, q := begin()
		if _, err := s.m.FinishSSO(s.ctx, f.ID, "idp", q, client); err != nil {
			t.Fatal(err)
		}
		_, err := s.m.FinishSSO(s.ctx, f.ID, "idp", q, client)
		wantErr(t, err, auth.ErrInvalidFlow)
	})
	t.Run("expired flow", func(t *testing.T) {
		f, q := begin()
		s.clk.Advance(oidc.FlowTimeout)
		_, err := s.m.FinishSSO(s.ctx, f.ID, "idp", q, client)
		wantErr(t, err, auth.ErrInvalidFlow)
		s.clk.Advance(-oidc.FlowTimeout)
	})
	t.Run("flow of another provider", func(t *testing.T) {
		f, q := begin()
		_, err := s.m.FinishSSO(s.ctx, f.ID, "other", q, client)
		wantErr(t, err, auth.ErrInvalidFlow)
	})
	t.Run("provider error", func(t *testing.T) {
		f, err := s.m.BeginSSO(s.ctx, "idp", "", client)
		if err != nil {
			t.Fatal(err)
		}
		q := s.op.LoginError(t, f.URL, "access_denied").Query()
		_, err = s.m.FinishSSO(s.ctx, f.ID, "idp", q, client)
		var se *auth.SSOError
		if !errors.As(err, &se) || se.Code != "access_denied" || !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("provider error: %v", err)
		}
	})
	t.Run("malformed queries", func(t *testing.T) {
		for name, mod := range map[string]func(url.Values){
			"no code":        func(q url.Values) { q.Del("code") },
			"no state":       func(q url.Values) { q.Del("state") },
			"repeated code":  func(q url.Values) { q.Add("code", "again") },
			"repeated state": func(q url.Values) { q.Add("state", "again") },
			"100 KB code":    func(q url.Values) { q.Set("code", strings.Repeat("a", 100<<10)) },
		} {
			f, q := begin()
			mod(q)
			if _, err := s.m.FinishSSO(s.ctx, f.ID, "idp", q, client); !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
	t.Run("unknown provider", func(t *testing.T) {
		_, err := s.m.BeginSSO(s.ctx, "nope", "", client)
		wantErr(t, err, oidc.ErrNotFound)
		_, err = s.m.BeginSSO(s.ctx, strings.Repeat("x", 100<<10), "", client)
		wantErr(t, err, oidc.ErrNotFound)
	})
	if n := len(s.users()); n != 2 {
		t.Errorf("%d users after the refusals, want the admin and eve", n)
	}
}

func TestSSOSelfServiceLink(t *testing.T) {
	t.Parallel()
	s := newSSOEnv(t)
	s.provider(func(p *oidc.Provider) { p.Provisioning = false })
	s.op.AddUser(oidctest.User{Subject: "a-sub", Email: "someone-else@corp.example", EmailVerified: true})
	f, err := s.m.BeginSSOLink(s.ctx, s.admin, "idp", "", "/profile")
	if err != nil {
		t.Fatal(err)
	}
	cb := s.op.Login(t, f.URL, "a-sub")
	id, err := s.m.FinishSSOLink(s.ctx, s.admin, f.ID, "idp", cb.Query())
	if err != nil {
		t.Fatalf("FinishSSOLink: %v", err)
	}
	if id.UserID != s.admin.User().ID || id.Subject != "a-sub" {
		t.Errorf("linked %+v", id)
	}
	res, err := s.sso("a-sub")
	if err != nil || s.auth(res.Session.Token).User().ID != s.admin.User().ID {
		t.Fatalf("sign-on after linking: %+v, %v", res, err)
	}
	// The last way in that needs no password: unlinking asks for it.
	wantErr(t, s.m.UnlinkSSO(s.ctx, s.admin, id.Issuer, id.Subject, ""), auth.ErrLastLoginMethod)
	if err := s.m.UnlinkSSO(s.ctx, s.admin, id.Issuer, id.Subject, adminPassword); err != nil {
		t.Fatalf("UnlinkSSO with the password: %v", err)
	}
	_, err = s.sso("a-sub")
	wantErr(t, err, auth.ErrSSONotLinked)
}

func TestSSOPasswordLoginSwitch(t *testing.T) {
	t.Parallel()
	s := newSSOEnv(t, func(cfg *auth.Config) { cfg.DisablePasswordLogin = true })
	if _, err := s.m.Login(s.ctx, adminEmail, adminPassword, client); err != nil {
		t.Fatalf("password login with no provider enabled: %v", err)
	}
	s.provider(nil)
	_, err := s.m.Login(s.ctx, adminEmail, adminPassword, client)
	wantErr(t, err, auth.ErrPasswordLoginDisabled)
}

func TestSSOProviderManagement(t *testing.T) {
	t.Parallel()
	s := newSSOEnv(t)
	v := s.provider(nil)
	if v.SecretHint != "…cret" || len(v.SealedSecret) != 0 || v.CallbackURL != "http://localhost:9999/sso/idp/callback" {
		t.Errorf("view %+v", v)
	}
	for _, ev := range s.events() {
		for _, d := range ev.Details {
			if strings.Contains(toJSON(d), "client-secret") {
				t.Errorf("the secret in an audit event: %+v", ev)
			}
		}
	}
	// Bad settings name their field.
	_, err := s.m.CreateProvider(s.ctx, s.admin, oidc.Provider{ID: "Bad ID", Name: "x", Issuer: "ftp://x", ClientID: "c"}, "")
	var fe *auth.FieldError
	if !errors.As(err, &fe) || !errors.Is(err, oidc.ErrInvalidProvider) {
		t.Errorf("bad provider: %v", err)
	}
	// Without sso:manage: refused. With it, but not holding the admin
	// group's permissions: no provisioning into it.
	g := s.group(s.admin, "SSO admins", group.SSOManage, group.UsersRead)
	_, mgr := s.user(s.admin, "mgr@example.com", g.ID)
	_, plain := s.user(s.admin, "plain@example.com", group.UsersID)
	_, err = s.m.CreateProvider(s.ctx, plain, oidc.Provider{ID: "p2", Name: "P2", Issuer: s.op.Issuer(), ClientID: "c"}, "")
	wantErr(t, err, auth.ErrForbidden)
	_, err = s.m.CreateProvider(s.ctx, mgr, oidc.Provider{ID: "p3", Name: "P3", Issuer: s.op.Issuer(), ClientID: "c",
		Provisioning: true, AllowedDomains: []string{"example.com"}, DefaultGroup: group.AdminID}, "")
	wantErr(t, err, auth.ErrForbidden)
	// Test connection reports what discovery found.
	r, err := s.m.TestProvider(s.ctx, s.admin, "idp")
	if err != nil || r.Issuer != s.op.Issuer() || r.TokenURL == "" || r.JWKSURL == "" {
		t.Errorf("TestProvider: %+v, %v", r, err)
	}
	if err := s.m.DeleteProvider(s.ctx, s.admin, "idp"); err != nil {
		t.Fatal(err)
	}
	_, err = s.m.BeginSSO(s.ctx, "idp", "", client)
	wantErr(t, err, oidc.ErrNotFound)
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A group that requires two-factor: a provider marked as enforcing MFA
// (or whose token says amr "mfa") satisfies it; another does not, and the
// local factor is owed.
func TestSSOSatisfiesTwoFactor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		satisfies bool
		amr       []string
		enrol     bool // MustEnroll after the sign-on
	}{
		{"provider marked", true, nil, false},
		{"amr mfa", false, []string{"pwd", "mfa"}, false},
		{"neither", false, []string{"pwd"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSSOEnv(t)
			g, err := s.m.CreateGroup(s.ctx, s.admin, group.Group{Name: "Ops", RequireTwoFactor: true,
				Permissions: []group.Permission{group.ProfileManage2FA, "backups:read"}})
			if err != nil {
				t.Fatal(err)
			}
			s.provider(func(p *oidc.Provider) { p.DefaultGroup = g.ID; p.SatisfiesTwoFactor = tc.satisfies })
			s.op.AddUser(oidctest.User{Subject: "f", Email: "fay@example.com", EmailVerified: true, AMR: tc.amr})
			res, err := s.sso("f")
			if err != nil {
				t.Fatal(err)
			}
			p := s.auth(res.Session.Token)
			if p.MustEnroll() != tc.enrol || p.Can("backups:read") == tc.enrol {
				t.Errorf("MustEnroll %v, Can(backups:read) %v; want MustEnroll %v", p.MustEnroll(), p.Can("backups:read"), tc.enrol)
			}
			if p.Session().MultiFactor == tc.enrol {
				t.Errorf("session MultiFactor %v", p.Session().MultiFactor)
			}
		})
	}
}

// A link flow begun by one user cannot be finished by another, and is
// used up by the attempt.
func TestSSOLinkFlowOfAnotherUser(t *testing.T) {
	t.Parallel()
	s := newSSOEnv(t)
	s.provider(func(p *oidc.Provider) { p.Provisioning = false })
	_, bob := s.user(s.admin, "bob@example.com", group.UsersID)
	s.op.AddUser(oidctest.User{Subject: "a-sub", Email: "a@corp.example", EmailVerified: true})
	f, err := s.m.BeginSSOLink(s.ctx, s.admin, "idp", "", "")
	if err != nil {
		t.Fatal(err)
	}
	q := s.op.Login(t, f.URL, "a-sub").Query()
	_, err = s.m.FinishSSOLink(s.ctx, bob, f.ID, "idp", q)
	wantErr(t, err, auth.ErrInvalidFlow)
	_, err = s.m.FinishSSOLink(s.ctx, s.admin, f.ID, "idp", q)
	wantErr(t, err, auth.ErrInvalidFlow)
	// A link flow is no login, and a login flow no link.
	f, _ = s.m.BeginSSOLink(s.ctx, s.admin, "idp", "", "")
	_, err = s.m.FinishSSO(s.ctx, f.ID, "idp", s.op.Login(t, f.URL, "a-sub").Query(), client)
	wantErr(t, err, auth.ErrInvalidFlow)
	if ids, _ := s.db.Identities().List(s.ctx, bob.User().ID); len(ids) != 0 {
		t.Errorf("bob linked: %+v", ids)
	}
}

// With password login off, the last linked account cannot be unlinked,
// password or not.
func TestSSOUnlinkLastWithPasswordLoginOff(t *testing.T) {
	t.Parallel()
	s := newSSOEnv(t, func(cfg *auth.Config) { cfg.DisablePasswordLogin = true })
	s.provider(func(p *oidc.Provider) { p.Provisioning = false })
	s.op.AddUser(oidctest.User{Subject: "a-sub", Email: "a@corp.example", EmailVerified: true})
	f, err := s.m.BeginSSOLink(s.ctx, s.admin, "idp", "", "")
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.m.FinishSSOLink(s.ctx, s.admin, f.ID, "idp", s.op.Login(t, f.URL, "a-sub").Query())
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.m.UnlinkSSO(s.ctx, s.admin, id.Issuer, id.Subject, adminPassword), auth.ErrLastLoginMethod)
}

// An account a sign-on made has no password: none logs in with it, and it
// holds no key rotation up.
func TestSSOProvisionedAccountHasNoPassword(t *testing.T) {
	t.Parallel()
	keyB := []byte("fedcba9876543210fedcba9876543210")
	s := newSSOEnv(t) // key A
	s.provider(nil)
	s.op.AddUser(oidctest.User{Subject: "r", Email: "rita@example.com", EmailVerified: true})
	if _, err := s.sso("r"); err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"", "!sso-provisioned", "password"} {
		_, err := s.m.Login(s.ctx, "rita@example.com", pw, client)
		wantErr(t, err, auth.ErrInvalidCredentials)
	}
	withB := func(prev ...[]byte) func(*auth.Config) {
		return func(c *auth.Config) {
			c.SSO = auth.SSOConfig{CallbackURL: ssoCallback}
			c.SecretKey, c.PreviousSecretKeys = keyB, prev
		}
	}
	mB := s.manager(s.db, withB(testKey))
	if _, err := mB.RotateSecrets(s.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := mB.Login(s.ctx, adminEmail, adminPassword, client); err != nil {
		t.Fatal(err)
	}
	if u, _ := mB.OldKeyUsage(s.ctx); u.PasswordHashes != 0 {
		t.Errorf("%d password hashes still need key A", u.PasswordHashes)
	}
	if _, err := auth.New(s.config(s.db, withB())); err != nil {
		t.Errorf("New with only key B: %v", err)
	}
}

// A provider's answers are read up to a bound: an endless discovery
// document is a failed discovery, not an endless read.
func TestSSOProviderAnswerBounded(t *testing.T) {
	t.Parallel()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A valid document but for its size: unbounded, it would do.
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer": %q, "authorization_endpoint": %q, "token_endpoint": %q, "jwks_uri": %q, "padding": "`,
			srv.URL, srv.URL+"/auth", srv.URL+"/token", srv.URL+"/keys")
		for range 3 << 10 { // 3 MiB
			w.Write(bytes.Repeat([]byte("a"), 1<<10))
		}
		io.WriteString(w, `"}`)
	}))
	t.Cleanup(srv.Close)
	s := newSSOEnv(t)
	if _, err := s.m.CreateProvider(s.ctx, s.admin, oidc.Provider{ID: "huge", Name: "Huge", Issuer: srv.URL, ClientID: "c", Enabled: true}, ""); err != nil {
		t.Fatal(err)
	}
	_, err := s.m.BeginSSO(s.ctx, "huge", "", client)
	wantErr(t, err, auth.ErrProviderUnavailable)
}

// A provider's settings changed while its login was under way (between
// the callback's checks and the login's transaction) win: the login is
// refused and nothing is made.
func TestSSOProviderChangedDuringLogin(t *testing.T) {
	t.Parallel()
	s := newSSOEnv(t)
	s.provider(nil)
	s.op.AddUser(oidctest.User{Subject: "g", Email: "gail@example.com", EmailVerified: true})
	hs := &pkHookStore{DB: s.db}
	m := s.manager(hs, func(cfg *auth.Config) { cfg.SSO = auth.SSOConfig{CallbackURL: ssoCallback} })
	f, err := m.BeginSSO(s.ctx, "idp", "", client)
	if err != nil {
		t.Fatal(err)
	}
	q := s.op.Login(t, f.URL, "g").Query()
	hs.before = func() {
		p, err := s.db.Providers().Get(s.ctx, "idp")
		if err != nil {
			t.Error(err)
			return
		}
		p.Provisioning = false
		if err := s.db.Providers().Update(s.ctx, p); err != nil {
			t.Error(err)
		}
	}
	_, err = m.FinishSSO(s.ctx, f.ID, "idp", q, client)
	wantErr(t, err, auth.ErrInvalidCredentials)
	if ev := s.lastEvent(audit.LoginFailed); ev.Reason != "provider changed during login" {
		t.Errorf("recorded as %q", ev.Reason)
	}
	if n := len(s.users()); n != 1 {
		t.Errorf("%d users: an account was made", n)
	}
}

// Concurrent logins while nothing is cached ask the provider once.
func TestSSODiscoveryOnce(t *testing.T) {
	t.Parallel()
	s := newSSOEnv(t)
	s.provider(nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.m.BeginSSO(s.ctx, "idp", "", auth.Client{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := s.op.RequestCount(oidctest.DiscoveryPath); n != 1 {
		t.Errorf("%d discovery requests for 8 concurrent logins, want 1", n)
	}
}

// "Keep me signed in" is asked on the login page, before the browser goes
// to the provider; the callback comes back without it. The flow keeps it,
// so the session FinishSSO opens has the remembered limits. Another
// flow's choice does not carry over.
func TestSSORemembersKeepMeSignedIn(t *testing.T) {
	t.Parallel()
	s := newSSOEnv(t)
	s.provider(nil)
	s.op.AddUser(oidctest.User{Subject: "alice-sub", Email: "alice@example.com", EmailVerified: true, Name: "Alice"})
	for _, remember := range []bool{true, false} {
		c := client
		c.Remember = remember
		f, err := s.m.BeginSSO(s.ctx, "idp", "/after", c)
		if err != nil {
			t.Fatalf("BeginSSO: %v", err)
		}
		cb := s.op.Login(t, f.URL, "alice-sub")
		res, err := s.m.FinishSSO(s.ctx, f.ID, "idp", cb.Query(), client) // the callback: no Remember
		if err != nil {
			t.Fatalf("FinishSSO: %v", err)
		}
		got := s.auth(res.Session.Token).Session()
		want := auth.DefaultIdleTimeout
		if remember {
			want = auth.DefaultRememberIdleTimeout
		}
		if got.Remembered != remember || got.IdleTimeout != want {
			t.Fatalf("begun with Remember %v: session Remembered %v, IdleTimeout %v", remember, got.Remembered, got.IdleTimeout)
		}
		if ev := s.lastEvent(audit.LoginSucceeded); (ev.Details[audit.DetailRemembered] == true) != remember {
			t.Fatalf("begun with Remember %v: login event %+v", remember, ev.Details)
		}
	}
}
