package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/usher-go/usher/internal/oidctest"
)

// TestBrowserSSO signs in through a real OpenID provider's login page
// (zitadel's op, in-process) in headless Chromium: the admin adds the
// provider on the settings page, a new person's first sign-in creates
// their account, and the admin's own account, whose email the provider
// vouches for, is linked by email. It checks what only a browser does:
// that the login button's form may lead to the provider (the page's CSP
// form-action), that the flow cookie (SameSite=Lax) comes back with the
// provider's redirect from another site, and that the session cookie
// sticks.
func TestBrowserSSO(t *testing.T) {
	b, _, db := startBrowserApp(t)
	op := oidctest.New(t)
	// The app's port is known now: register its callback at the provider.
	op.AddClient("webapp", "browser-secret", b.base+"/sso/idp/callback")
	op.AddUser(oidctest.User{Subject: "nora", Email: "nora@example.com", EmailVerified: true, Name: "Nora", Password: "nora's idp password"})
	op.AddUser(oidctest.User{Subject: "ada-at-idp", Email: "admin@example.com", EmailVerified: true, Name: "Ada at the IdP", Password: "ada's idp password"})

	// The admin signs up and adds the provider.
	b.want(b.open("/signup?token="+b.setupToken), http.StatusOK, "/signup", "Sign up")
	b.fill(`form[action="/signup"] input[name=email]`, "admin@example.com")
	b.fill(`form[action="/signup"] input[name=name]`, "Ada")
	b.fill(`form[action="/signup"] input[name=password]`, adminPassword)
	b.want(b.click(`form[action="/signup"] button[type=submit]`), http.StatusOK, "/", "Dashboard")
	b.want(b.click(`nav a[href="/settings/sso"]`), http.StatusOK, "/settings/sso", "Single sign-on", "No provider yet.")
	b.want(b.click(`a[href="/settings/sso/new"]`), http.StatusOK, "/settings/sso/new", "Add a provider", "Issuer URL")
	form := `#provider-form `
	b.fill(form+`input[name=id]`, "idp")
	b.fill(form+`input[name=name]`, "Test IdP")
	b.fill(form+`input[name=issuer]`, op.Issuer())
	b.fill(form+`input[name=client_id]`, "webapp")
	b.fill(form+`input[name=client_secret]`, "browser-secret")
	b.check(form + `input[name=link_by_email]`)
	b.check(form + `input[name=provisioning]`)
	b.fill(form+`input[name=allowed_domains]`, "example.com")
	b.choose(form+`select[name=default_group]`, "Users")
	b.want(b.click(form+`button[type=submit]`), http.StatusOK, "/settings/sso", "Single sign-on",
		"Provider added.", "Test IdP", b.base+"/sso/idp/callback")
	b.want(b.click(`#test-idp`), http.StatusOK, "/settings/sso/idp/test", "Single sign-on",
		"The provider answered its discovery document.", op.Issuer()+"/authorize")
	b.logout()

	// A new person signs in on the provider's page and lands provisioned.
	b.want(b.click(`#sso-idp`), http.StatusOK, "/login", "Sign in", "webapp")
	b.fill(`#username`, "nora@example.com")
	b.fill(`#password`, "nora's idp password")
	b.want(b.click(`#submit`), http.StatusOK, "/", "Dashboard", "Hello Nora. You are in the group Users.")
	if u, err := db.Users().GetByEmail(context.Background(), "nora@example.com"); err != nil || u.Name != "Nora" {
		t.Fatalf("provisioned user = %+v, %v", u, err)
	}
	b.want(b.click(`nav a[href="/profile/security"]`), http.StatusOK, "/profile/security", "Security", "Test IdP", "nora@example.com")
	b.logout()

	// The admin, an existing local account, signs in through the provider:
	// linked by the verified email, as Ada, in Admins. "Keep me signed in",
	// ticked on the login page, comes back from the provider's page.
	b.check(`#login input[name=remember]`)
	b.want(b.click(`#sso-idp`), http.StatusOK, "/login", "Sign in")
	b.fill(`#username`, "ada-at-idp")
	b.fill(`#password`, "ada's idp password")
	b.want(b.click(`#submit`), http.StatusOK, "/", "Dashboard", "Hello Ada. You are in the group Admins.")
	b.want(b.click(`nav a[href="/profile/security"]`), http.StatusOK, "/profile/security", "Security", "(kept signed in)")
	if n, err := db.Users().Count(context.Background()); err != nil || n != 2 {
		t.Fatalf("%d users (%v), want the admin and Nora", n, err)
	}

	// Cancelling at the provider comes back with the page's words.
	b.logout()
	b.want(b.click(`#sso-idp`), http.StatusOK, "/login", "Sign in")
	b.want(b.click(`#cancel`), http.StatusUnauthorized, "/sso/idp/callback", "Log in", "You cancelled the sign-in at Test IdP.")
}

// check ticks a checkbox.
func (b *tab) check(sel string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("tick %s: %v", sel, err)
	}
}
