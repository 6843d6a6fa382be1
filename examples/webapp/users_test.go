package main

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/usher-go/usher/auth"
)

const bobPassword = "bob long password"

func TestUserWithoutPermissionIsRefused(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	gid := createGroup(t, admin, "Operators", false, "backups:read", "profile:*")
	createUser(t, admin, "bob@example.com", "Bob", bobPassword, gid)
	list := admin.get("/users")
	want(t, "users list", list, http.StatusOK, "bob@example.com", "Operators", "Bob")
	adminID := find(t, list, userLink, "admin@example.com")

	bob := a.login("bob@example.com", bobPassword)
	want(t, "bob's guarded page", bob.get("/backups"), http.StatusOK, "<h1>Backups</h1>")
	if d := bob.get("/"); d.has("Run backup") || d.has(`href="/users"`) {
		t.Fatal("bob's dashboard offers what bob cannot do")
	}
	want(t, "bob runs a backup", bob.post("/backups/run"), http.StatusForbidden, "You do not have permission")
	for _, path := range []string{"/users", "/users/new", "/users/" + adminID, "/groups", "/groups/" + gid, "/audit"} {
		want(t, "bob GET "+path, bob.get(path), http.StatusForbidden, "You do not have permission")
	}

	// The admin routes' POSTs reach usher, which refuses them.
	posts := []struct {
		path string
		kv   []string
	}{
		{"/users", []string{"email", "eve@example.com", "password", "eve long password"}},
		{"/users/" + adminID, []string{"name", "Pwned", "email", "admin@example.com"}},
		{"/users/" + adminID + "/disable", nil},
		{"/users/" + adminID + "/delete", nil},
		{"/users/" + adminID + "/password", []string{"new_password", "bob owns the admin"}},
		{"/users/" + adminID + "/reset-2fa", nil},
		{"/groups", []string{"name", "Bobs", "perm", "*"}},
		{"/groups/" + gid, []string{"name", "Operators", "perm", "*"}},
		{"/groups/" + gid + "/delete", nil},
		{"/groups/users/delete", nil},
	}
	for _, post := range posts {
		want(t, "bob POST "+post.path, bob.post(post.path, post.kv...), http.StatusForbidden, "You do not have permission")
	}

	// Nothing changed.
	want(t, "admin unharmed", admin.get("/"), http.StatusOK, "Hello Ada")
	list = admin.get("/users")
	if list.has("eve@example.com") || list.has("Pwned") || list.has(`badge off">Disabled`) {
		t.Fatalf("a refused POST changed users\n%s", excerpt(list.body))
	}
	if g := admin.get("/groups"); g.has("Bobs") || !g.has(">Operators<") || !g.has(">Users<") {
		t.Fatalf("a refused POST changed groups\n%s", excerpt(g.body))
	}
	if g := admin.get("/groups/" + gid); g.has(`value="*" checked`) {
		t.Fatal("bob granted his group everything")
	}
	want(t, "bob still on one step", bob.get("/"), http.StatusOK, "Hello Bob")
	// usher recorded the denials.
	want(t, "denials audited", admin.get("/audit?outcome=denied"), http.StatusOK, "authorization.denied", "bob@example.com")
}

func TestGroupEditAppliesOnNextRequest(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	gid := createGroup(t, admin, "Viewers", false, "profile:*")
	bobID := createUser(t, admin, "bob@example.com", "Bob", bobPassword, gid)
	bob := a.login("bob@example.com", bobPassword)
	want(t, "before", bob.get("/users"), http.StatusForbidden)

	p := admin.post("/groups/"+gid, "version", admin.formVersion(t, "/groups/"+gid), "name", "Viewers", "perm", "profile:*", "perm", "users:read")
	want(t, "grant users:read", p, http.StatusOK, "Group saved.", `value="users:read" checked`)
	want(t, "granted", bob.get("/users"), http.StatusOK, "<h1>Users</h1>", "bob@example.com")
	want(t, "nav shows Users", bob.get("/"), http.StatusOK, `href="/users"`)

	admin.post("/groups/"+gid, "version", admin.formVersion(t, "/groups/"+gid), "name", "Viewers", "perm", "profile:*")
	want(t, "revoked", bob.get("/users"), http.StatusForbidden)

	// Moving the user to another group applies at once too.
	p = admin.post("/users/"+bobID, "version", admin.formVersion(t, "/users/"+bobID), "name", "Bob", "email", "bob@example.com", "group", "admin")
	want(t, "move to admins", p, http.StatusOK, "User saved.")
	want(t, "bob is admin", bob.get("/audit"), http.StatusOK, "<h1>Audit log</h1>")
	admin.post("/users/"+bobID, "version", admin.formVersion(t, "/users/"+bobID), "name", "Bob", "email", "bob@example.com", "group", gid)
	want(t, "bob is viewer", bob.get("/audit"), http.StatusForbidden)
}

func TestDisableEndsSession(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	bobID := createUser(t, admin, "bob@example.com", "Bob", bobPassword, "users")
	bob := a.login("bob@example.com", bobPassword)

	p := admin.post("/users/" + bobID + "/disable")
	want(t, "disable", p, http.StatusOK, "User disabled", `badge off">Disabled`, `action="/users/`+bobID+`/enable"`)
	want(t, "bob's next request", bob.get("/profile"), http.StatusOK, "<h1>Log in</h1>")
	want(t, "bob logs in", a.browser().post("/login", "email", "bob@example.com", "password", bobPassword),
		http.StatusForbidden, "This account is disabled")
	want(t, "wrong password says nothing", a.browser().post("/login", "email", "bob@example.com", "password", "not bob's password"),
		http.StatusUnauthorized, "Wrong email or password")

	want(t, "enable", admin.post("/users/"+bobID+"/enable"), http.StatusOK, "User enabled.")
	a.login("bob@example.com", bobPassword)
}

func TestAdminEditResetDelete(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	bobID := createUser(t, admin, "bob@example.com", "Bob", bobPassword, "users")
	adminID := find(t, admin.get("/users"), userLink, "admin@example.com")
	bob := a.login("bob@example.com", bobPassword)

	// Edit: validation errors stand next to the fields, with what was typed.
	p := admin.post("/users/"+bobID, "version", admin.formVersion(t, "/users/"+bobID), "name", "Robert", "email", "bob@@example")
	want(t, "bad email", p, http.StatusBadRequest, "Enter a single valid email address.", `value="Robert"`)
	p = admin.post("/users/"+bobID, "version", admin.formVersion(t, "/users/"+bobID), "name", "Robert", "email", "ADMIN@example.com")
	want(t, "taken email", p, http.StatusConflict, "already in use")
	p = admin.post("/users/"+bobID, "version", admin.formVersion(t, "/users/"+bobID), "name", "Robert", "email", "robert@example.com")
	want(t, "edit", p, http.StatusOK, "User saved.", `value="Robert"`, `value="robert@example.com"`)

	// Reset password: the user's sessions end, the new password works.
	want(t, "short reset", admin.post("/users/"+bobID+"/password", "new_password", "short"), http.StatusBadRequest, "Use at least 8 characters.")
	want(t, "reset", admin.post("/users/"+bobID+"/password", "new_password", "a brand new password"), http.StatusOK, "Password reset")
	want(t, "bob logged out", bob.get("/"), http.StatusOK, "<h1>Log in</h1>")
	want(t, "old password", a.browser().post("/login", "email", "robert@example.com", "password", bobPassword), http.StatusUnauthorized)
	bob = a.login("robert@example.com", "a brand new password")

	// Reset 2FA: the user enrols, the admin resets, one step again.
	enrolTOTP(t, a, bob)
	p = admin.get("/users/" + bobID)
	want(t, "edit page shows 2FA", p, http.StatusOK, "<dt>2FA</dt><dd>TOTP</dd>", "Reset 2FA")
	want(t, "reset 2FA", admin.post("/users/"+bobID+"/reset-2fa"), http.StatusOK, "Two-factor authentication reset", "<dt>2FA</dt><dd>Off</dd>")
	bob = a.login("robert@example.com", "a brand new password")

	// Another user's sessions, from the edit page (sessions:revoke).
	p = admin.get("/users/" + bobID)
	m := regexp.MustCompile(`action="(/users/` + bobID + `/sessions/[^"]+/revoke)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no session to revoke on the edit page\n%s", excerpt(p.body))
	}
	want(t, "revoke bob's session", admin.post(m[1]), http.StatusOK, "Session ended.", "No live sessions.")
	want(t, "bob's revoked session", bob.get("/"), http.StatusOK, "<h1>Log in</h1>")

	// The admin's own record: no group change, and the last admin stays.
	p = admin.get("/users/" + adminID)
	want(t, "own edit page", p, http.StatusOK, "Nobody changes their own group", `<select name="group" disabled`)
	want(t, "own group", admin.post("/users/"+adminID, "version", admin.formVersion(t, "/users/"+adminID), "name", "Ada", "email", "admin@example.com", "group", "users"), http.StatusForbidden)
	want(t, "disable last admin", admin.post("/users/"+adminID+"/disable"), http.StatusConflict, "no enabled administrator")
	want(t, "delete last admin", admin.post("/users/"+adminID+"/delete"), http.StatusConflict, "no enabled administrator")

	// Delete goes through a confirmation page, and ends the user's session.
	bob = a.login("robert@example.com", "a brand new password")
	p = admin.get("/users/" + bobID + "/delete")
	want(t, "confirm delete", p, http.StatusOK, "Delete robert@example.com?", `action="/users/`+bobID+`/delete"`, "permanent")
	want(t, "delete", admin.post("/users/"+bobID+"/delete"), http.StatusOK, "User deleted.")
	if admin.get("/users").has("robert@example.com") {
		t.Fatal("deleted user still listed")
	}
	want(t, "deleted user's session", bob.get("/"), http.StatusOK, "<h1>Log in</h1>")
	want(t, "deleted user's page", admin.get("/users/"+bobID), http.StatusNotFound)
}

var nextRE = regexp.MustCompile(`<a href="([^"]+)" rel="next">Next</a>`)

// rows returns the emails listed, in order.
func rows(p page) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<td><a href="/users/[^"]+">([^<]+)</a></td>`).FindAllStringSubmatch(p.body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestUsersListSearchFilterSortPaging(t *testing.T) {
	t.Parallel()
	a := newApp(t, func(s *server) { s.pageSize = 2 })
	admin := a.signup()
	ids := map[string]string{}
	for _, n := range []string{"carol", "alice", "dave", "bob"} {
		ids[n] = createUser(t, admin, n+"@example.com", strings.ToUpper(n[:1])+n[1:], n+" long password", "users")
	}

	// Sorted by email, two a page, following Next.
	var all []string
	p := admin.get("/users?sort=email")
	for i := 0; ; i++ {
		want(t, "page", p, http.StatusOK)
		all = append(all, rows(p)...)
		m := nextRE.FindStringSubmatch(p.body)
		if m == nil {
			break
		}
		if i > 5 {
			t.Fatal("paging does not end")
		}
		p = admin.get(html.UnescapeString(m[1]))
		want(t, "later page", p, http.StatusOK, "First page")
	}
	wantEmails := []string{"admin@example.com", "alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"}
	if strings.Join(all, " ") != strings.Join(wantEmails, " ") {
		t.Fatalf("paged listing %v, want %v", all, wantEmails)
	}

	if got := rows(admin.get("/users?sort=email&dir=desc")); len(got) != 2 || got[0] != "dave@example.com" {
		t.Fatalf("descending: %v", got)
	}
	if got := rows(admin.get("/users?q=CAR")); len(got) != 1 || got[0] != "carol@example.com" {
		t.Fatalf("search: %v", got)
	}
	if got := rows(admin.get("/users?group=admin")); len(got) != 1 || got[0] != "admin@example.com" {
		t.Fatalf("group filter: %v", got)
	}
	admin.post("/users/" + ids["bob"] + "/disable")
	if got := rows(admin.get("/users?status=disabled")); len(got) != 1 || got[0] != "bob@example.com" {
		t.Fatalf("status filter: %v", got)
	}
	want(t, "bad cursor", admin.get("/users?cursor=garbage"), http.StatusBadRequest, "not valid")
	want(t, "bad sort", admin.get("/users?sort=password"), http.StatusBadRequest, "not valid")
}

func TestPagesEscapeUserInput(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	createUser(t, admin, "x@example.com", `<script>alert(1)</script>`, "x long password", "users")
	p := admin.get("/users")
	want(t, "escaped", p, http.StatusOK, "&lt;script&gt;alert(1)&lt;/script&gt;")
	if p.has("<script>") {
		t.Fatal("a name reached the page unescaped")
	}
}

// listedRow is the users list's row of email.
func listedRow(t *testing.T, p page, email string) string {
	t.Helper()
	row := regexp.MustCompile(`(?s)<tr>\s*<td><a href="/users/[^"]+">` + regexp.QuoteMeta(email) + `</a></td>.*?</tr>`).FindString(p.body)
	if row == "" {
		t.Fatalf("no row for %s at %s\n%s", email, p.url, excerpt(p.body))
	}
	return row
}

// The list says which second factors each user has, a passkey among
// them, and how many passkeys; its TOTP filter says what it filters on.
func TestUsersListShowsPasskeys(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	createUser(t, admin, "bob@example.com", "Bob", bobPassword, "users")
	createUser(t, admin, "carol@example.com", "Carol", "carol long password", "users")
	createUser(t, admin, "dave@example.com", "Dave", "dave long password", "users")
	bob := a.login("bob@example.com", bobPassword)
	wantJSON(t, "bob adds a passkey", addPasskey(t, bob, device(t), "", ""), http.StatusOK, "done=passkey-added")
	carol := a.login("carol@example.com", "carol long password")
	enrolTOTP(t, a, carol)
	for range 2 {
		wantJSON(t, "carol adds a passkey", addPasskey(t, carol, device(t), "", ""), http.StatusOK, "done=passkey-added")
	}

	p := admin.get("/users?sort=email")
	want(t, "list", p, http.StatusOK, "<th>2FA</th><th>Passkeys</th>", "<label>TOTP <select", "counts as TOTP off")
	for email, cells := range map[string][]string{
		"admin@example.com": {`<span class="badge">Off</span>`, `<td class="passkeys">0</td>`},
		"bob@example.com":   {`<span class="badge on">Passkey</span>`, `<td class="passkeys">1</td>`},
		"carol@example.com": {`<span class="badge on">TOTP &#43; passkey</span>`, `<td class="passkeys">2</td>`},
		"dave@example.com":  {`<span class="badge">Off</span>`, `<td class="passkeys">0</td>`},
	} {
		row := listedRow(t, p, email)
		for _, c := range cells {
			if !strings.Contains(row, c) {
				t.Errorf("row of %s lacks %s:\n%s", email, c, row)
			}
		}
	}
	// usher's TwoFactor filter is TOTP only: Bob, whose second factor is a
	// passkey, is "off" there, which is why the page calls it TOTP.
	if got := rows(admin.get("/users?twofa=on&sort=email")); strings.Join(got, " ") != "carol@example.com" {
		t.Fatalf("TOTP on: %v", got)
	}
	if got := rows(admin.get("/users?twofa=off&sort=email")); strings.Join(got, " ") != "admin@example.com bob@example.com dave@example.com" {
		t.Fatalf("TOTP off: %v", got)
	}

	// With passkeys off they are no second factor, and the admin pages
	// show none.
	off := newAppWith(t, func(cfg *auth.Config) { cfg.Passkeys = auth.PasskeyConfig{} })
	admin = off.signup()
	enrolTOTP(t, off, admin)
	p = admin.get("/users")
	want(t, "list with passkeys off", p, http.StatusOK, `<span class="badge on">TOTP</span>`)
	adminID := find(t, p, userLink, "admin@example.com")
	for _, path := range []string{"/users", "/users/" + adminID} {
		if p := admin.get(path); p.has("asskey") {
			t.Fatalf("%s mentions passkeys with passkeys off:\n%s", path, excerpt(p.body))
		}
	}
}

// The user's page lists the user's passkeys to anyone with users:read;
// users:write deletes one, which ends the user's sessions and pending
// logins; nobody deletes their own there.
func TestUserPagePasskeys(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	bobID := createUser(t, admin, "bob@example.com", "Bob", bobPassword, "users")
	bob := a.login("bob@example.com", bobPassword)
	laptop := device(t)
	wantJSON(t, "bob adds Laptop", addPasskey(t, bob, laptop, "Laptop", ""), http.StatusOK, "done=passkey-added")
	phone := device(t)
	phone.Auth.Options.BackupEligible, phone.Auth.Options.BackupState = true, true
	wantJSON(t, "bob adds Phone", addPasskey(t, bob, phone, "Phone", ""), http.StatusOK, "done=passkey-added")
	var laptopID, phoneID string
	for _, pk := range storedPasskeys(t, a, "bob@example.com") {
		switch pk.Name {
		case "Laptop":
			laptopID = pk.ID
		case "Phone":
			phoneID = pk.ID
		}
	}
	// Bob logs in with the phone, so it has been used.
	bob = a.browser()
	wantJSON(t, "bob's passkey login", passkeyLogin(t, bob, phone, "/"), http.StatusOK, "/")
	deleteLaptop := "/users/" + bobID + "/passkeys/" + laptopID + "/delete"

	page := admin.get("/users/" + bobID)
	want(t, "bob's page", page, http.StatusOK, "<dt>2FA</dt><dd>2 passkeys</dd>", `<strong class="passkey-count">2</strong> passkeys`,
		"Reset 2FA", "ends the user's sessions")
	row := passkeyRow(t, page, laptopID)
	for _, s := range []string{`<td class="name">Laptop</td>`, ">device-bound<", "<td>never</td>", `action="` + deleteLaptop + `"`} {
		if !strings.Contains(row, s) {
			t.Fatalf("Laptop's row lacks %s:\n%s", s, row)
		}
	}
	if row := passkeyRow(t, page, phoneID); !strings.Contains(row, ">synced<") || strings.Contains(row, "never") {
		t.Fatalf("Phone's row, synced and used:\n%s", row)
	}

	// A users:read-only viewer sees them, and cannot delete one.
	viewers := createGroup(t, admin, "Viewers", false, "users:read", "profile:*")
	createUser(t, admin, "vic@example.com", "Vic", "vic long password", viewers)
	vic := a.login("vic@example.com", "vic long password")
	want(t, "vic's list", vic.get("/users"), http.StatusOK, `<td class="passkeys">2</td>`)
	page = vic.get("/users/" + bobID)
	want(t, "vic's view of bob", page, http.StatusOK, "<dt>2FA</dt><dd>2 passkeys</dd>", `<td class="name">Laptop</td>`)
	if page.has("/passkeys/") || page.has("Reset 2FA") {
		t.Fatalf("a users:read-only viewer is offered to delete:\n%s", excerpt(page.body))
	}
	want(t, "vic deletes", vic.post(deleteLaptop), http.StatusForbidden, "You do not have permission")

	// users:write is not enough over a group that grants more than one
	// holds: a helpdesk cannot delete an admin's passkey.
	wantJSON(t, "admin adds a passkey", addPasskey(t, admin, device(t), "Admin key", ""), http.StatusOK, "done=passkey-added")
	adminKey := storedPasskeys(t, a, "admin@example.com")[0].ID
	adminID := find(t, admin.get("/users"), userLink, "admin@example.com")
	helpdesk := createGroup(t, admin, "Helpdesk", false, "users:read", "users:write", "profile:*")
	createUser(t, admin, "hal@example.com", "Hal", "hal long password", helpdesk)
	hal := a.login("hal@example.com", "hal long password")
	want(t, "hal deletes the admin's", hal.post("/users/"+adminID+"/passkeys/"+adminKey+"/delete"), http.StatusForbidden, "You do not have permission")

	// One's own passkeys are listed, not deleted, here.
	page = admin.get("/users/" + adminID)
	want(t, "own page", page, http.StatusOK, "<dt>2FA</dt><dd>1 passkey</dd>", `<td class="name">Admin key</td>`, `href="/profile/security"`)
	if page.has("/passkeys/") || page.has("Reset 2FA") {
		t.Fatalf("the own page offers to delete:\n%s", excerpt(page.body))
	}
	want(t, "delete own", admin.post("/users/"+adminID+"/passkeys/"+adminKey+"/delete"), http.StatusForbidden)

	// Forms from another site are refused as every form is.
	for _, h := range []http.Header{
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Origin": {"https://evil.example"}},
	} {
		want(t, "cross-origin delete", admin.postWith(deleteLaptop, h), http.StatusForbidden, "sent from another site")
	}
	if got := storedPasskeys(t, a, "bob@example.com"); len(got) != 2 {
		t.Fatalf("after the refusals bob has %d passkeys, want 2", len(got))
	}
	if got := storedPasskeys(t, a, "admin@example.com"); len(got) != 1 {
		t.Fatalf("after the refusals the admin has %d passkeys, want 1", len(got))
	}

	// Bob halfway through another login: password right, second step owed.
	halfway := a.browser()
	want(t, "bob's first step", halfway.post("/login", "email", "bob@example.com", "password", bobPassword), http.StatusOK, "Use a passkey")

	// The delete: the passkey goes, Bob's session and pending login end.
	page = admin.post(deleteLaptop)
	want(t, "delete", page, http.StatusOK, "Passkey deleted; the user&#39;s sessions have ended.", "<dt>2FA</dt><dd>1 passkey</dd>")
	if page.has(`id="passkey-`+laptopID+`"`) || !page.has(`id="passkey-`+phoneID+`"`) {
		t.Fatalf("after the delete:\n%s", excerpt(page.body))
	}
	if got := storedPasskeys(t, a, "bob@example.com"); len(got) != 1 || got[0].ID != phoneID {
		t.Fatalf("stored after the delete: %+v", got)
	}
	want(t, "bob's session", bob.get("/"), http.StatusOK, "<h1>Log in</h1>")
	wantJSON(t, "bob's pending login", halfway.postJSON("/login/2fa/passkey/begin", struct{}{}, nil), http.StatusUnauthorized, "Your login took too long")
	want(t, "audited", admin.get("/audit?action=passkey.deleted"), http.StatusOK,
		"<code>passkey.deleted</code>", "admin@example.com", bobID, laptopID, "sessions_revoked")
	want(t, "deleted twice", admin.post(deleteLaptop), http.StatusNotFound)
	want(t, "another user's passkey", admin.post("/users/"+bobID+"/passkeys/"+adminKey+"/delete"), http.StatusNotFound)

	// A passkey alone is a second factor to reset.
	want(t, "reset 2FA", admin.post("/users/"+bobID+"/reset-2fa"), http.StatusOK, "Two-factor authentication reset",
		"<dt>2FA</dt><dd>Off</dd>", `<strong class="passkey-count">0</strong> passkeys`)
	if page := admin.get("/users/" + bobID); page.has("Reset 2FA") {
		t.Fatal("Reset 2FA offered with nothing to reset")
	}
}
