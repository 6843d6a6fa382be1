package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/internal/oidctest"
	"github.com/usher-go/usher/user"
)

// ssoApp is the webapp with its admin and a real OpenID provider
// (zitadel's op, in-process) that knows the app as the client "webapp".
type ssoApp struct {
	*app
	admin *browser
	op    *oidctest.Provider
}

const ssoClientSecret = "webapp-client-secret"

func newSSOApp(t *testing.T, configure func(*auth.Config)) *ssoApp {
	t.Helper()
	a := newAppWith(t, configure)
	op := oidctest.New(t)
	op.AddClient("webapp", ssoClientSecret, a.callbackURL("idp"))
	return &ssoApp{app: a, admin: a.signup(), op: op}
}

func (a *app) callbackURL(id string) string { return a.srv.URL + "/sso/" + id + "/callback" }

// addProvider adds the provider "idp" through the settings form, generic
// preset with the op's issuer, provisioning into Users for example.com;
// kv overrides or adds inputs.
func (a *ssoApp) addProvider(kv ...string) page {
	a.t.Helper()
	form := map[string][]string{
		"preset": {"generic"}, "id": {"idp"}, "name": {"Test IdP"}, "issuer": {a.op.Issuer()},
		"client_id": {"webapp"}, "client_secret": {ssoClientSecret}, "enabled": {"on"},
		"provisioning": {"on"}, "allowed_domains": {"example.com"}, "default_group": {string(group.UsersID)},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		form[kv[i]] = []string{kv[i+1]}
	}
	var args []string
	for k, vs := range form {
		for _, v := range vs {
			if v != "" {
				args = append(args, k, v)
			}
		}
	}
	return a.admin.post("/settings/sso", args...)
}

// noFollow is b's client that stops at the first redirect.
func (b *browser) noFollow() *http.Client {
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// beginSSO presses a button that leads to the provider (the login page's,
// or the Security page's Link) and returns the provider's URL and the
// response.
func (b *browser) beginSSO(path string, kv ...string) (string, *http.Response) {
	b.a.t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	res, err := b.noFollow().PostForm(b.a.srv.URL+path, form)
	if err != nil {
		b.a.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		b.a.t.Fatalf("POST %s: status %d, want 303", path, res.StatusCode)
	}
	return res.Header.Get("Location"), res
}

// callback follows the provider's redirect back to the app.
func (b *browser) callback(u *url.URL) page {
	b.a.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		b.a.t.Fatal(err)
	}
	return b.do(req)
}

// ssoLogin signs subject in through the provider in a new browser.
func (a *ssoApp) ssoLogin(subject string) (*browser, page) {
	a.t.Helper()
	b := a.browser()
	loc, _ := b.beginSSO("/sso/idp/begin")
	return b, b.callback(a.op.Login(a.t, loc, subject))
}

func TestSSOLoginProvisions(t *testing.T) {
	a := newSSOApp(t, nil)
	a.op.AddUser(oidctest.User{Subject: "carol-sub", Email: "carol@example.com", EmailVerified: true, Name: "Carol"})
	want(t, "add provider", a.addProvider(), http.StatusOK, "Provider added.", "Test IdP", a.callbackURL("idp"))

	b := a.browser()
	p := b.get("/login")
	want(t, "login page", p, http.StatusOK, `formaction="/sso/idp/begin"`, `form="login"`, "Sign in with Test IdP", `action="/login"`)
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' "+strings.TrimSuffix(a.op.Issuer(), "/")) {
		t.Fatalf("login page CSP %q does not let the form lead to the provider", csp)
	}
	loc, res := b.beginSSO("/sso/idp/begin", "next", "/profile")
	if !strings.HasPrefix(loc, a.op.Issuer()) {
		t.Fatalf("begin redirected to %q, not the provider", loc)
	}
	cookie := strings.Join(res.Header.Values("Set-Cookie"), "\n")
	for _, attr := range []string{ssoCookie + "=", "Path=/", "Max-Age=600", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(cookie, attr) {
			t.Fatalf("flow cookie %q lacks %q", cookie, attr)
		}
	}
	p = b.callback(a.op.Login(t, loc, "carol-sub"))
	want(t, "callback", p, http.StatusOK, "<h1>Profile</h1>", "carol@example.com")
	if p.url.Path != "/profile" {
		t.Fatalf("landed on %s, want the return path /profile", p.url)
	}
	u, err := a.db.Users().GetByEmail(context.Background(), "carol@example.com")
	if err != nil || u.Name != "Carol" || u.GroupID != string(group.UsersID) {
		t.Fatalf("provisioned user = %+v, %v", u, err)
	}
	want(t, "dashboard", b.get("/"), http.StatusOK, "<h1>Dashboard</h1>", "Carol")
	want(t, "logout", b.post("/logout"), http.StatusOK, "You are logged out.")
}

func TestSSOCallbackRefusals(t *testing.T) {
	a := newSSOApp(t, nil)
	a.op.AddUser(oidctest.User{Subject: "dave", Email: "dave@example.com", EmailVerified: true})
	a.addProvider()

	b := a.browser()
	loc, _ := b.beginSSO("/sso/idp/begin")
	cb := a.op.Login(t, loc, "dave")
	// Another browser, without the cookie, cannot use the callback.
	want(t, "no cookie", a.browser().callback(cb), http.StatusBadRequest, "This sign-in expired, was already used, or was begun in another browser.")
	// Nor with a cookie of its own making.
	other := a.browser()
	u, _ := url.Parse(a.srv.URL)
	other.c.Jar.SetCookies(u, []*http.Cookie{{Name: ssoCookie, Value: "forged-flow-id", Path: "/"}})
	want(t, "wrong cookie", other.callback(cb), http.StatusBadRequest, "This sign-in expired")
	// The browser that began it signs in, once.
	want(t, "right cookie", b.callback(cb), http.StatusOK, "<h1>Dashboard</h1>")
	want(t, "replayed", b.callback(cb), http.StatusBadRequest, "This sign-in expired")

	// Cancelled at the provider.
	c := a.browser()
	loc, _ = c.beginSSO("/sso/idp/begin")
	want(t, "access_denied", c.callback(a.op.LoginError(t, loc, "")), http.StatusUnauthorized, "You cancelled the sign-in at Test IdP.")

	// A provider that does not exist, and parameters repeated.
	want(t, "unknown provider", a.browser().post("/sso/nope/begin"), http.StatusNotFound, "Signing in with nope is not offered here.")
	d := a.browser()
	loc, _ = d.beginSSO("/sso/idp/begin")
	cb = a.op.Login(t, loc, "dave")
	cb.RawQuery += "&state=again"
	want(t, "repeated state", d.callback(cb), http.StatusUnauthorized, "Test IdP&#39;s answer could not be verified")
}

func TestSSONotLinked(t *testing.T) {
	a := newSSOApp(t, nil)
	a.op.AddUser(oidctest.User{Subject: "erin", Email: "erin@other.example", EmailVerified: true})
	a.op.AddUser(oidctest.User{Subject: "ada-idp", Email: "admin@example.com", EmailVerified: true})
	a.addProvider()
	_, p := a.ssoLogin("erin")
	want(t, "domain not allowed", p, http.StatusForbidden, "Your Test IdP account cannot sign in here: this email&#39;s domain may not sign up through this provider.")
	_, p = a.ssoLogin("ada-idp")
	want(t, "link by email off", p, http.StatusForbidden, "this provider does not link by email: link it from the profile")
	if n, _ := a.db.Users().Count(context.Background()); n != 1 {
		t.Fatalf("%d users, want the admin alone", n)
	}

}

func TestSSOProviderDown(t *testing.T) {
	a := newSSOApp(t, nil)
	a.op.AddUser(oidctest.User{Subject: "dave", Email: "dave@example.com", EmailVerified: true})
	a.addProvider()
	a.op.SetUnavailable(true)
	want(t, "test connection while down", a.admin.post("/settings/sso/idp/test"), http.StatusBadGateway, "cannot be reached", "503")
	want(t, "provider down", a.browser().post("/sso/idp/begin"), http.StatusServiceUnavailable, "Test IdP cannot be reached right now.")
	// Up again: after usher's back-off, sign-in works.
	a.op.SetUnavailable(false)
	a.clock.Add(5 * time.Second)
	_, p := a.ssoLogin("dave")
	want(t, "provider up", p, http.StatusOK, "<h1>Dashboard</h1>")
}

func TestSSOSettings(t *testing.T) {
	a := newSSOApp(t, nil)
	want(t, "nav", a.admin.get("/"), http.StatusOK, `<a href="/settings/sso">Single sign-on</a>`)
	want(t, "empty list", a.admin.get("/settings/sso"), http.StatusOK, "No provider yet.")
	want(t, "new form", a.admin.get("/settings/sso/new?preset=keycloak"), http.StatusOK, "Realm", `name="base_url"`, `<option value="keycloak" selected>`)

	// Field errors, each next to its input, with what was typed.
	p := a.addProvider("id", "Bad ID!")
	want(t, "bad id", p, http.StatusBadRequest, "Only lowercase letters a-z, digits, &#39;-&#39; and &#39;_&#39;.", `value="Test IdP"`)
	p = a.addProvider("issuer", "ftp://idp.example")
	want(t, "bad issuer", p, http.StatusBadRequest, "Must start with https://.")
	p = a.addProvider("preset", "keycloak", "base_url", "https://sso.example.com/realms/x", "realm", "staff")
	want(t, "keycloak base url", p, http.StatusBadRequest, "Enter the server&#39;s address alone, without /realms/…", "Realm")
	p = a.addProvider("preset", "keycloak", "base_url", "https://sso.example.com")
	want(t, "keycloak realm", p, http.StatusBadRequest, "Empty.")
	p = a.addProvider("group_claim", "groups", "group_map", "admins = No Such Group")
	want(t, "group map", p, http.StatusBadRequest, "line 1: there is no group named &#34;No Such Group&#34;")
	p = a.addProvider("default_group", "")
	want(t, "provisioning without group", p, http.StatusBadRequest, "Test IdP")

	// A keycloak provider: the issuer built from the base URL and realm.
	p = a.addProvider("id", "kc", "name", "Keycloak", "preset", "keycloak", "base_url", "https://sso.example.com/", "realm", "staff", "enabled", "")
	want(t, "keycloak", p, http.StatusOK, "Provider added.", "https://sso.example.com/realms/staff", a.callbackURL("kc"))

	// The generic one, with a group mapping; the secret shows as a hint.
	p = a.addProvider("group_claim", "groups", "group_map", "idp-admins = Admins\n\nidp-staff = Users")
	want(t, "generic", p, http.StatusOK, "Provider added.", a.op.Issuer(), "…cret")
	want(t, "taken id", a.addProvider(), http.StatusConflict, "A provider with this ID exists already.")

	// Edit: the form shows the settings; empty secret keeps it; the
	// version is checked.
	p = a.admin.get("/settings/sso/idp")
	want(t, "edit form", p, http.StatusOK, "idp-admins = Admins", "idp-staff = Users", a.callbackURL("idp"))
	version := a.admin.formVersion(t, "/settings/sso/idp")
	edit := []string{"version", version, "preset", "generic", "issuer", a.op.Issuer(), "name", "Renamed IdP", "client_id", "webapp",
		"enabled", "on", "provisioning", "on", "allowed_domains", "example.com", "default_group", string(group.UsersID)}
	want(t, "save", a.admin.post("/settings/sso/idp", edit...), http.StatusOK, "Provider saved.", "Renamed IdP", "…cret")
	want(t, "stale", a.admin.post("/settings/sso/idp", edit...), http.StatusConflict, "changed by someone else")

	// Test connection: the op's discovery document.
	p = a.admin.post("/settings/sso/idp/test")
	want(t, "test", p, http.StatusOK, "The provider answered its discovery document.", a.op.Issuer()+"/authorize")
	p = a.admin.post("/settings/sso/kc/test")
	want(t, "test unreachable", p, http.StatusBadGateway, "cannot be reached")

	// Delete, after a confirmation page.
	want(t, "delete confirm", a.admin.get("/settings/sso/kc/delete"), http.StatusOK, "Delete the provider Keycloak?")
	want(t, "delete", a.admin.post("/settings/sso/kc/delete"), http.StatusOK, "Provider deleted")
	if a.admin.get("/settings/sso").has("/realms/staff") {
		t.Fatal("deleted provider still listed")
	}
	want(t, "gone", a.admin.get("/settings/sso/kc"), http.StatusNotFound, "There is no such provider")
}

func TestSSOSettingsNeedPermission(t *testing.T) {
	a := newSSOApp(t, nil)
	a.addProvider()
	createUser(t, a.admin, "user@example.com", "User", "user password 1", string(group.UsersID))
	u := a.login("user@example.com", "user password 1")
	if u.get("/").has(`href="/settings/sso"`) {
		t.Fatal("nav shows Single sign-on without sso:manage")
	}
	for _, path := range []string{"/settings/sso", "/settings/sso/new", "/settings/sso/idp", "/settings/sso/idp/delete"} {
		want(t, "GET "+path, u.get(path), http.StatusForbidden)
	}
	for _, path := range []string{"/settings/sso", "/settings/sso/idp", "/settings/sso/idp/test", "/settings/sso/idp/delete"} {
		want(t, "POST "+path, u.post(path, "id", "x", "name", "X", "issuer", a.op.Issuer(), "client_id", "c", "preset", "generic", "version", "1"), http.StatusForbidden)
	}
	want(t, "still there", a.admin.get("/settings/sso"), http.StatusOK, "Test IdP")
}

func TestSSOLinkAndUnlink(t *testing.T) {
	a := newSSOApp(t, nil)
	a.addProvider("provisioning", "")
	a.op.AddUser(oidctest.User{Subject: "bob-idp", Email: "bob.work@idp.example", EmailVerified: true})
	createUser(t, a.admin, "bob@example.com", "Bob", "bob password 1", string(group.UsersID))
	bob := a.login("bob@example.com", "bob password 1")

	p := bob.get("/profile/security")
	want(t, "security", p, http.StatusOK, "No account at a sign-on provider is linked to yours.", "Link Test IdP")
	loc, res := bob.beginSSO("/profile/sso/idp/link")
	if c := strings.Join(res.Header.Values("Set-Cookie"), "\n"); !strings.Contains(c, ssoLinkCookie+"=") {
		t.Fatalf("link cookie not set: %q", c)
	}
	p = bob.callback(a.op.Login(t, loc, "bob-idp"))
	want(t, "linked", p, http.StatusOK, "Account linked", "bob.work@idp.example", "Unlink")
	if p.has("Link Test IdP") {
		t.Fatal("Link button still offered for a linked provider")
	}

	// Bob now signs in through the provider as himself.
	b2, p := a.ssoLogin("bob-idp")
	want(t, "sso as bob", p, http.StatusOK, "<h1>Dashboard</h1>", "Bob")
	want(t, "last login", b2.get("/profile/security"), http.StatusOK, "bob.work@idp.example")

	// The only linked account: unlinking asks for the password.
	unlink := []string{"issuer", a.op.Issuer(), "subject", "bob-idp"}
	p = bob.post("/profile/sso/unlink", unlink...)
	want(t, "unlink without password", p, http.StatusConflict, "Enter your password to unlink it", `name="password" required`)
	p = bob.post("/profile/sso/unlink", append(unlink, "password", "wrong password")...)
	want(t, "unlink wrong password", p, http.StatusUnauthorized, "Wrong password.")
	p = bob.post("/profile/sso/unlink", append(unlink, "password", "bob password 1")...)
	want(t, "unlinked", p, http.StatusOK, "Account unlinked.", "Link Test IdP")
	_, p = a.ssoLogin("bob-idp")
	want(t, "sso after unlink", p, http.StatusForbidden, "cannot sign in here")

	// Linking from a session that is no longer fresh asks for the password.
	a.clock.Add(10 * time.Minute)
	p = bob.get("/profile/security")
	want(t, "stale session", p, http.StatusOK, "Link Test IdP", "not needed within a few minutes")
	want(t, "link without password", bob.post("/profile/sso/idp/link"), http.StatusUnauthorized, "Enter your current password")
	loc, _ = bob.beginSSO("/profile/sso/idp/link", "password", "bob password 1")
	// The link's callback in a browser signed in as someone else is refused.
	want(t, "link in another browser", a.admin.callback(a.op.Login(t, loc, "bob-idp")), http.StatusBadRequest, "This sign-in expired")
	if ids, _ := a.db.Identities().List(context.Background(), user.ID(find(t, a.admin.get("/users"), userLink, "bob@example.com"))); len(ids) != 0 {
		t.Fatalf("bob has %d identities after a link finished elsewhere", len(ids))
	}
}

func TestSSOLinkByEmail(t *testing.T) {
	a := newSSOApp(t, nil)
	a.addProvider("link_by_email", "on")
	a.op.AddUser(oidctest.User{Subject: "ada-idp", Email: "admin@example.com", EmailVerified: true})
	b, p := a.ssoLogin("ada-idp")
	want(t, "linked by email", p, http.StatusOK, "<h1>Dashboard</h1>", "Ada", "Admins")
	want(t, "security", b.get("/profile/security"), http.StatusOK, "Test IdP", "admin@example.com")
}

func TestSSONoPasswordLogin(t *testing.T) {
	a := newSSOApp(t, func(cfg *auth.Config) { cfg.DisablePasswordLogin = true })
	// No provider yet: the password form is the way in.
	want(t, "no provider", a.browser().get("/login"), http.StatusOK, `action="/login"`)
	a.addProvider()
	p := a.browser().get("/login")
	want(t, "provider enabled", p, http.StatusOK, "Sign in with Test IdP")
	if p.has(`action="/login"`) || p.has(`type="password"`) {
		t.Fatal("password form shown while password login is off")
	}
	// "Keep me signed in" is offered beside the providers' buttons.
	want(t, "keep me signed in", p, http.StatusOK, `<form method="post" action="/sso/idp/begin" id="login">`,
		`<input type="checkbox" name="remember" value="1"> Keep me signed in`, `form="login" formaction="/sso/idp/begin"`)
	p = a.browser().post("/login", "email", "admin@example.com", "password", adminPassword)
	want(t, "password refused", p, http.StatusForbidden, "Logging in with a password is turned off here")
}

// "Keep me signed in" ticked on the login page goes with the provider's
// button and survives the trip to the provider: the session is kept
// through an afternoon unused; one without it is not.
func TestSSOKeepMeSignedIn(t *testing.T) {
	a := newSSOApp(t, nil)
	a.op.AddUser(oidctest.User{Subject: "carol-sub", Email: "carol@example.com", EmailVerified: true, Name: "Carol"})
	want(t, "add provider", a.addProvider(), http.StatusOK, "Provider added.")
	kept, plain := a.browser(), a.browser()
	loc, _ := kept.beginSSO("/sso/idp/begin", "next", "/profile", "remember", "1", "email", "", "password", "")
	want(t, "kept sign-on", kept.callback(a.op.Login(t, loc, "carol-sub")), http.StatusOK, "<h1>Profile</h1>")
	loc, _ = plain.beginSSO("/sso/idp/begin", "next", "/profile")
	want(t, "plain sign-on", plain.callback(a.op.Login(t, loc, "carol-sub")), http.StatusOK, "<h1>Profile</h1>")
	if sec := kept.get("/profile/security"); strings.Count(sec.body, "(kept signed in)") != 1 {
		t.Fatalf("security page: %d sessions kept signed in, want 1 of 2", strings.Count(sec.body, "(kept signed in)"))
	}
	a.clock.Add(61 * time.Minute)
	want(t, "plain after an hour unused", plain.get("/"), http.StatusOK, "<h1>Log in</h1>")
	want(t, "kept after an hour unused", kept.get("/"), http.StatusOK, "<h1>Dashboard</h1>")
}
