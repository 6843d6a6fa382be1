package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestBrowserAccessReview walks the access review in headless Chromium:
// the admin signs up, adds a user who never logs in, opens the review from
// the menu and sees the findings, downloads the CSV through the page's
// link, and marks the review, which the page then shows as the last one.
// Skipped without Chromium, as TestBrowserEndToEnd is.
func TestBrowserAccessReview(t *testing.T) {
	b, _, _ := startBrowserApp(t)

	b.signUpAdmin("Ada")

	b.addUser("nora@example.com", "Nora", "nora's long password")

	b.want(b.click(`nav a[href="/review"]`), http.StatusOK, "/review", "Access review",
		"No review has been recorded yet.", "Every permission, present and future")
	b.wantText("table.findings", "No second factor\tadmin@example.com", "Never logged in\tnora@example.com")
	b.wantText("ul.wildcard", "admin@example.com")

	// The download link, fetched as the browser would follow it (with the
	// session cookie).
	got := b.eval(`(async () => {
		const r = await fetch(document.querySelector('a[download]').href);
		return r.status + "\n" + r.headers.get("Content-Disposition") + "\n" + await r.text();
	})()`)
	for _, s := range []string{"200\nattachment; filename=\"access-review-", "email,name,status,group",
		"nora@example.com,Nora,enabled,Users,users,profile:*", "never_logged_in"} {
		if !strings.Contains(got, s) {
			t.Fatalf("the CSV download lacks %q:\n%s", s, got)
		}
	}

	b.fill(`form[action="/review/mark"] input[name=note]`, "Checked in the browser")
	b.want(b.click(`form[action="/review/mark"] button[type=submit]`), http.StatusOK, "/review", "Access review",
		"Review recorded in the audit log.")
	b.wantText("p.last-review", "by admin@example.com", "Checked in the browser")
	if n := b.posts.count("/review/mark"); n != 1 {
		t.Fatalf("%d posts to /review/mark, want 1", n)
	}
	b.want(b.open("/audit?action=access.reviewed"), http.StatusOK, "/audit", "Audit log", "access.reviewed", "Checked in the browser")
}

// signUpAdmin signs the first account, admin@example.com, up through the
// form with the setup token the app printed, and lands on the dashboard.
func (b *tab) signUpAdmin(name string) {
	b.t.Helper()
	b.want(b.open("/"), http.StatusOK, "/signup", "Sign up")
	b.fill(`form[action="/signup"] input[name=bootstrap_token]`, b.setupToken)
	b.fill(`form[action="/signup"] input[name=email]`, "admin@example.com")
	b.fill(`form[action="/signup"] input[name=name]`, name)
	b.fill(`form[action="/signup"] input[name=password]`, adminPassword)
	b.want(b.click(`form[action="/signup"] button[type=submit]`), http.StatusOK, "/", "Dashboard")
}

// addUser adds a user to the group Users through the form, as the admin.
func (b *tab) addUser(email, name, password string) {
	b.t.Helper()
	b.want(b.open("/users/new"), http.StatusOK, "/users/new", "Add user")
	b.fill(`form[action="/users"] input[name=email]`, email)
	b.fill(`form[action="/users"] input[name=name]`, name)
	b.fill(`form[action="/users"] input[name=password]`, password)
	b.choose(`form[action="/users"] select[name=group]`, "Users")
	b.want(b.click(`form[action="/users"] button[type=submit]`), http.StatusOK, "", "Edit user", "User created.")
}
