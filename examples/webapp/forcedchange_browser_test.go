package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestBrowserForcedPasswordChange walks the forced password change in
// headless Chromium: an admin resets a user's password with "Require a
// change at next login" ticked (as the form has it by default); the user
// logs in with it and lands on the profile page, every other page sends
// the browser back there, and once the password is changed the app opens
// up. Skipped without Chromium, as TestBrowserEndToEnd.
func TestBrowserForcedPasswordChange(t *testing.T) {
	b, _, _ := startBrowserApp(t)
	const (
		daveEmail = "dave@example.com"
		tempPass  = "a temporary password"
		newPass   = "dave's own new password"
	)

	b.want(b.open("/signup"), http.StatusOK, "/signup", "Sign up")
	b.fill(`form[action="/signup"] input[name=bootstrap_token]`, b.setupToken)
	b.fill(`form[action="/signup"] input[name=email]`, "admin@example.com")
	b.fill(`form[action="/signup"] input[name=password]`, adminPassword)
	b.want(b.click(`form[action="/signup"] button[type=submit]`), http.StatusOK, "/", "Dashboard")
	b.want(b.open("/users/new"), http.StatusOK, "/users/new", "Add user")
	b.fill(`form[action="/users"] input[name=email]`, daveEmail)
	b.fill(`form[action="/users"] input[name=name]`, "Dave")
	b.fill(`form[action="/users"] input[name=password]`, "dave's first password")
	b.choose(`form[action="/users"] select[name=group]`, "Users")
	p := b.click(`form[action="/users"] button[type=submit]`)
	b.want(p, http.StatusOK, "", "Edit user", "User created.")
	daveURL := p.path

	// The admin resets Dave's password; the box is ticked already.
	reset := `form[action="` + daveURL + `/password"]`
	b.fill(reset+` input[name=new_password]`, tempPass)
	b.want(b.click(reset+` button[type=submit]`), http.StatusOK, daveURL, "Edit user",
		"the user must choose a new password at the next login")
	b.logout()

	// Dave logs in with it: the profile page, and nothing else.
	b.fillLogin(daveEmail, tempPass)
	const notice = "An administrator reset your password."
	b.want(b.click(`form[action="/login"] button[type=submit]`), http.StatusOK, "/profile", "Profile", notice)
	if nav := b.text("nav"); strings.Contains(nav, "Dashboard") || strings.Contains(nav, "Security") {
		t.Fatalf("the menu offers pages Dave may not open yet: %q", nav)
	}
	for _, path := range []string{"/", "/users", "/profile/security", "/backups", daveURL} {
		b.want(b.open(path), http.StatusOK, "/profile", "Profile", notice)
	}

	// He changes it; then he can browse.
	form := `form[action="/profile/password"]`
	b.fill(form+` input[name=current_password]`, tempPass)
	b.fill(form+` input[name=new_password]`, newPass)
	b.fill(form+` input[name=confirm_password]`, newPass)
	b.want(b.click(form+` button[type=submit]`), http.StatusOK, "/profile", "Profile", "Password changed")
	if strings.Contains(b.mainText(), notice) {
		t.Fatal("the notice stays after the change")
	}
	b.want(b.click(`nav a[href="/"]`), http.StatusOK, "/", "Dashboard", "Hello Dave.")
	b.want(b.click(`nav a[href="/profile/security"]`), http.StatusOK, "/profile/security", "Security")

	// The new password is the one that works now.
	b.logout()
	b.login(daveEmail, newPass)
}
