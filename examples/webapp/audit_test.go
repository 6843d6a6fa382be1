package main

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// timeRowRE matches the start of one audit row: time and action.
var timeRowRE = regexp.MustCompile(`<tr class="[a-z]+">\s*<td>[^<]*</td>\s*<td><code>[^<]+</code></td>`)

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
		m := nextRE.FindStringSubmatch(p.body)
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
