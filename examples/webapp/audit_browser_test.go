package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestBrowserAuditFiltersAndExport walks the audit page in headless
// Chromium: after a failed login, the admin filters the log by action and
// by the actor's email through the form, sees the reason in words, follows
// the target's history link, and downloads the filtered events as CSV
// through the page's link. Skipped without Chromium, as TestBrowserEndToEnd
// is.
func TestBrowserAuditFiltersAndExport(t *testing.T) {
	b, _, _ := startBrowserApp(t)

	b.signUpAdmin("Ada")

	b.addUser("ivy@example.com", "Ivy", "ivy's long password")
	b.logout()
	b.fillLogin("ivy@example.com", "not ivy's password")
	b.want(b.click(`form[action="/login"] button[type=submit]`), http.StatusUnauthorized, "/login", "Log in", "Wrong email or password.")
	b.login("ivy@example.com", "ivy's long password")
	b.want(b.open("/groups"), http.StatusForbidden, "/groups", "Forbidden")
	b.logout()
	b.login("admin@example.com", adminPassword)

	b.want(b.click(`nav a[href="/audit"]`), http.StatusOK, "/audit", "Audit log", "user.created", "ivy@example.com")
	b.choose(`form.filters select[name=action]`, "login.failed")
	b.want(b.click(`form.filters button[type=submit]`), http.StatusOK, "/audit", "Audit log", "login.failed", "Wrong password.")
	if main := b.text("table.audit tbody"); strings.Contains(main, "user.created") || strings.Contains(main, "login.succeeded") {
		t.Fatalf("the action filter let other events through:\n%s", main)
	}

	b.want(b.click(`form.filters a[href="/audit"]`), http.StatusOK, "/audit", "Audit log", "user.created")
	b.fill(`form.filters input[name=actor]`, "ivy@example.com")
	b.want(b.click(`form.filters button[type=submit]`), http.StatusOK, "/audit", "Audit log",
		"authorization.denied", "Lacked the permission \u201cView groups\u201d (groups:read).", "login.succeeded")
	if strings.Contains(b.text("table.audit tbody"), "user.created") {
		t.Fatal("the actor filter shows the admin's events")
	}

	// The CSV link downloads what the filters select.
	got := b.eval(`(async () => {
		const r = await fetch(document.querySelector('p.export a[href*="format=csv"]').href);
		return r.status + "\n" + r.headers.get("Content-Disposition") + "\n" + await r.text();
	})()`)
	for _, s := range []string{"200\nattachment; filename=\"audit-", "id,time,action,outcome", "authorization.denied", "ivy@example.com"} {
		if !strings.Contains(got, s) {
			t.Fatalf("the CSV download lacks %q:\n%s", s, got)
		}
	}
	if strings.Contains(got, "user.created") {
		t.Fatalf("the CSV download ignores the filter:\n%s", got)
	}

	// From an event to the history of its target.
	b.choose(`form.filters select[name=action]`, "user.created")
	b.fill(`form.filters input[name=actor]`, "")
	b.want(b.click(`form.filters button[type=submit]`), http.StatusOK, "/audit", "Audit log", "user.created")
	b.want(b.click(`table.audit a[href^="/audit?target"]`), http.StatusOK, "/audit", "Audit log",
		"user.created", "login.failed", "login.succeeded")
}
