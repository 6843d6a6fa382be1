package main

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// timeRowRE matches the start of one audit row: time and action.
var timeRowRE = regexp.MustCompile(`<tr class="[a-z]+">\s*<td>[^<]*</td>\s*<td><code>[^<]+</code>`)

// olderRE and newerRE find the audit page's links to the next and the
// previous page.
var (
	olderRE = regexp.MustCompile(`<a href="([^"]+)" rel="next">Older</a>`)
	newerRE = regexp.MustCompile(`<a href="([^"]+)" rel="prev">Newer</a>`)
)

func TestAuditPageListsLogins(t *testing.T) {
	t.Parallel()
	a := newApp(t, func(s *server) { s.pageSize = 2 })
	a.signup()
	a.browser().post("/login", "email", "admin@example.com", "password", "hunter2 guessed secret")
	admin := a.login("admin@example.com", adminPassword)

	p := admin.get("/audit?action=login.succeeded")
	want(t, "logins", p, http.StatusOK, "<code>login.succeeded</code>", "admin@example.com", `<option value="login.succeeded" selected>`)
	if p.has("<code>login.failed</code>") || p.has("<code>signup</code>") {
		t.Fatal("the action filter let other actions through")
	}
	p = admin.get("/audit?outcome=failure")
	want(t, "failures", p, http.StatusOK, "<code>login.failed</code>")
	if p.has("<code>login.succeeded</code>") {
		t.Fatal("the outcome filter let successes through")
	}
	if p.has("hunter2") {
		t.Fatal("the audit page shows a password")
	}

	// Paging: two events a page, Next keeps the filter, every event once.
	seen := map[string]bool{}
	p = admin.get("/audit")
	for i := 0; ; i++ {
		want(t, "audit page", p, http.StatusOK)
		for _, m := range timeRowRE.FindAllStringSubmatch(p.body, -1) {
			seen[m[0]] = true
		}
		m := olderRE.FindStringSubmatch(p.body)
		if m == nil {
			break
		}
		if i > 20 {
			t.Fatal("paging does not end")
		}
		p = admin.get(html.UnescapeString(m[1]))
	}
	for _, action := range []string{"signup", "login.failed", "login.succeeded"} {
		found := false
		for row := range seen {
			found = found || strings.Contains(row, "<code>"+action+"</code>")
		}
		if !found {
			t.Errorf("paging never showed %s", action)
		}
	}
	want(t, "bad outcome", admin.get("/audit?outcome=maybe"), http.StatusBadRequest, "not valid")
}

func TestBackupRunIsAudited(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	want(t, "run", admin.post("/backups/run"), http.StatusOK, "Backup started.")
	want(t, "audited", admin.get("/audit?action=backups.run"), http.StatusOK, "<code>backups.run</code>", "admin@example.com")
}

// auditRows returns the audit rows of a page, newest first, as their HTML.
func auditRows(p page) []string { return timeRowRE.FindAllString(p.body, -1) }

// The audit page filters by actor (email or ID), target, kind and days,
// pages both ways, shows changes as before → after and reasons in words,
// names a deleted user by the email it had, links each event to its
// actor's and target's history, and exports what it shows.
func TestAuditPageFiltersPagingExport(t *testing.T) {
	t.Parallel()
	a := newApp(t, func(s *server) { s.pageSize = 3 })
	admin := a.signup()
	gid := createGroup(t, admin, "Support", false, "users:read")
	uid := createUser(t, admin, "gina@example.com", "Gina", "gina's long password", gid)
	gina := a.login("gina@example.com", "gina's long password")
	want(t, "refused", gina.get("/groups"), http.StatusForbidden)
	want(t, "rename", admin.post("/users/"+uid, "name", "Gina Marsh", "email", "gina@example.com", "group", gid,
		"version", admin.formVersion(t, "/users/"+uid)), http.StatusOK)

	// Actor by email, and by ID.
	p := admin.get("/audit?actor=gina%40example.com")
	want(t, "by gina", p, http.StatusOK, "<code>authorization.denied</code>",
		"Lacked the permission “View groups” (groups:read).")
	if p.has("<code>user.created</code>") {
		t.Fatal("the actor filter shows the admin's events")
	}
	want(t, "by ID", admin.get("/audit?actor="+uid), http.StatusOK, "<code>authorization.denied</code>")
	want(t, "unknown email", admin.get("/audit?actor=nobody%40example.com"), http.StatusBadRequest, "No account has the email")

	// Target, with changes as before → after.
	p = admin.get("/audit?target_type=user&target=" + uid + "&action=user.updated")
	want(t, "on gina", p, http.StatusOK, "<code>user.updated</code>", "<del>Gina</del> → <ins>Gina Marsh</ins>",
		`href="/users/`+uid+`"`)
	if len(auditRows(p)) != 1 {
		t.Fatalf("%d rows for one update", len(auditRows(p)))
	}

	// Days: nothing before today, everything up to today.
	today := time.Now().UTC().Format(time.DateOnly)
	want(t, "until yesterday", admin.get("/audit?until="+time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)),
		http.StatusOK, "No events match.")
	if n := len(auditRows(admin.get("/audit?since=" + today + "&until=" + today))); n != 3 {
		t.Fatalf("today's first page: %d rows, want 3", n)
	}
	want(t, "bad day", admin.get("/audit?since=someday"), http.StatusBadRequest, "is not a date")

	// Paging down with Older, back up with Newer: the same pages.
	var pages [][]string
	p = admin.get("/audit")
	for {
		pages = append(pages, auditRows(p))
		m := olderRE.FindStringSubmatch(p.body)
		if m == nil {
			break
		}
		p = admin.get(html.UnescapeString(m[1]))
	}
	if len(pages) < 3 {
		t.Fatalf("only %d pages", len(pages))
	}
	for i := len(pages) - 2; i >= 0; i-- {
		m := newerRE.FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("page %d has no Newer link", i+1)
		}
		p = admin.get(html.UnescapeString(m[1]))
		if got := auditRows(p); strings.Join(got, "") != strings.Join(pages[i], "") {
			t.Fatalf("back on page %d: %d rows differ from the way down", i, len(got))
		}
	}
	if p.has(`rel="prev"`) {
		t.Fatal("the newest page has a Newer link")
	}

	// Export what the filters select.
	resp := admin.get("/audit/export?format=csv&actor=" + uid)
	if resp.status != http.StatusOK || !strings.HasPrefix(resp.body, "id,time,action") ||
		!strings.Contains(resp.body, "authorization.denied") || strings.Contains(resp.body, "user.created") {
		t.Fatalf("CSV export: %d\n%s", resp.status, resp.body)
	}
	if cd := resp.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("Content-Disposition %q", cd)
	}
	resp = admin.get("/audit/export?format=jsonl&action=user.updated")
	if resp.status != http.StatusOK || strings.Count(resp.body, "\n") != 1 || !strings.Contains(resp.body, `"target":"gina@example.com"`) {
		t.Fatalf("JSON Lines export: %d\n%s", resp.status, resp.body)
	}
	want(t, "bad format", admin.get("/audit/export?format=xml"), http.StatusBadRequest)
	want(t, "export refused", gina.get("/audit/export?format=csv"), http.StatusForbidden)

	// The user's and the group's pages link to their history.
	want(t, "user page", admin.get("/users/"+uid), http.StatusOK,
		`href="/audit?target_type=user&amp;target=`+uid+`"`, `href="/audit?actor=`+uid+`"`)
	want(t, "group page", admin.get("/groups/"+gid), http.StatusOK, `href="/audit?target_type=group&amp;target=`+gid+`"`)

	// A deleted user's history still names her.
	want(t, "delete", admin.post("/users/"+uid+"/delete"), http.StatusOK)
	p = admin.get("/audit?target_type=user&target=" + uid)
	want(t, "deleted", p, http.StatusOK, "<code>user.deleted</code>", "gina@example.com")
}
