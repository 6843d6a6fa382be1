package main

import (
	"net/http"
	"strings"
	"testing"
)

// mainOf is the page's <main>, where the forms are (the header holds the
// logout button on every page).
func mainOf(p page) string {
	if i := strings.Index(p.body, "<main"); i >= 0 {
		return p.body[i:]
	}
	return p.body
}

// The user forms offer only the groups the actor may assign; a user whose
// group grants more than the actor holds is shown read-only.
func TestUserFormsOfferAssignableGroups(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	adminID := find(t, admin.get("/users"), userLink, "admin@example.com")
	createGroup(t, admin, "Auditors", false, "audit:read")
	helpdesk := createGroup(t, admin, "Helpdesk", false, "users:read", "users:write", "profile:*")
	createUser(t, admin, "hal@example.com", "Hal", "hal long password", helpdesk)
	bobID := createUser(t, admin, "bob@example.com", "Bob", bobPassword, "users")
	hal := a.login("hal@example.com", "hal long password")

	for _, path := range []string{"/users/new", "/users/" + bobID} {
		p := hal.get(path)
		want(t, "hal's "+path, p, http.StatusOK, `<option value="users"`, `<option value="`+helpdesk+`"`)
		if p.has(`<option value="admin"`) || p.has(">Auditors</option>") {
			t.Errorf("%s offers hal a group granting more than hal holds:\n%s", path, excerpt(p.body))
		}
	}
	p := hal.get("/users/" + adminID)
	want(t, "hal's view of the admin", p, http.StatusOK, "<dd>admin@example.com</dd>", "grants more than you hold")
	for _, s := range []string{"<input", "<select", "Save</button>", "Reset password", "/disable", "Delete…"} {
		if strings.Contains(mainOf(p), s) {
			t.Errorf("hal's read-only view of the admin has %q:\n%s", s, excerpt(p.body))
		}
	}
}

// A users:read and groups:read viewer sees read-only pages: no inputs and
// no save buttons, the facts as text.
func TestViewerSeesReadOnlyPages(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	viewers := createGroup(t, admin, "Viewers", false, "users:read", "groups:read", "profile:*")
	bobID := createUser(t, admin, "bob@example.com", "Bob", bobPassword, "users")
	createUser(t, admin, "vic@example.com", "Vic", "vic long password", viewers)
	vic := a.login("vic@example.com", "vic long password")

	pages := []struct {
		path  string
		texts []string
	}{
		{"/users/" + bobID, []string{"<dd>Bob</dd>", "<dd>bob@example.com</dd>", "You can view users but not change them."}},
		{"/groups/" + viewers, []string{"<dd>Viewers</dd>", "View users <code>users:read</code>", "You can view groups but not change them."}},
		{"/groups/admin", []string{"All permissions, including future ones <code>*</code>"}},
	}
	for _, pg := range pages {
		p := vic.get(pg.path)
		want(t, "vic's "+pg.path, p, http.StatusOK, pg.texts...)
		for _, s := range []string{"<input", "<select", "<textarea", "<button", "Delete…"} {
			if strings.Contains(mainOf(p), s) {
				t.Errorf("vic's read-only %s has %q:\n%s", pg.path, s, excerpt(p.body))
			}
		}
	}
	if p := vic.get("/groups/" + viewers); p.has("<code>users:write</code>") || p.has("<code>audit:read</code>") {
		t.Errorf("the read-only group lists permissions it does not grant:\n%s", excerpt(p.body))
	}
}

// A group editor is offered only the permissions it may grant, and a group
// granting more than it holds is read-only.
func TestGroupFormOffersOnlyHeldPermissions(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	editors := createGroup(t, admin, "Editors", false, "groups:read", "groups:write", "profile:*")
	createUser(t, admin, "gina@example.com", "Gina", "gina long password", editors)
	gina := a.login("gina@example.com", "gina long password")

	p := gina.get("/groups/new")
	want(t, "gina's new group", p, http.StatusOK, `value="groups:read"`, `value="profile:update_name"`, "Save</button>")
	for _, s := range []string{`value="users:write"`, `value="*"`, `value="audit:read"`, `value="backups:run"`} {
		if p.has(s) {
			t.Errorf("gina is offered %s", s)
		}
	}
	p = gina.get("/groups/admin")
	want(t, "gina's view of Admins", p, http.StatusOK, "This group grants more than you hold")
	if strings.Contains(mainOf(p), "<input") {
		t.Errorf("gina may edit the Admins group:\n%s", excerpt(p.body))
	}
	want(t, "gina edits her own group", gina.get("/groups/"+editors), http.StatusOK, `name="name"`, "Save</button>")
}
