package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/usher-go/usher/group"
)

func TestGroupsPages(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()

	// The picker is the Manager's catalog, by category, with labels.
	p := admin.get("/groups/new")
	want(t, "picker", p, http.StatusOK, "<h3>Backups</h3>", "Run a backup <code>backups:run</code>",
		"<h3>Everything</h3>", `value="profile:*"`, `name="require_2fa"`)

	gid := createGroup(t, admin, "Operators", true, "backups:*", "profile:manage_2fa")
	p = admin.get("/groups/" + gid)
	want(t, "edit page", p, http.StatusOK, `value="Operators"`, `value="backups:*" checked`,
		`value="profile:manage_2fa" checked`, `name="require_2fa" checked`)
	want(t, "list", admin.get("/groups"), http.StatusOK, ">Operators<", "<code>backups:*</code>")

	want(t, "duplicate name", admin.post("/groups", "name", "operators", "perm", "backups:read"),
		http.StatusConflict, "A group with that name exists.", `value="backups:read" checked`)
	want(t, "no name", admin.post("/groups", "name", "  ", "perm", "backups:read"),
		http.StatusBadRequest, "Give the group a name")
	want(t, "long description", admin.post("/groups", "name", "Wordy", "description", strings.Repeat("d", group.MaxDescriptionLength+1), "perm", "backups:read"),
		http.StatusBadRequest, "Descriptions are at most 1000 bytes", `value="Wordy"`)
	want(t, "unknown permission", admin.post("/groups", "name", "Odd", "perm", "rockets:launch"),
		http.StatusBadRequest, "not known to this application")

	// The built-in groups stay.
	want(t, "admins lose *", admin.post("/groups/admin", "version", admin.formVersion(t, "/groups/admin"), "name", "Admins", "perm", "users:read"),
		http.StatusConflict, "cannot be deleted or lose")
	want(t, "delete admins", admin.post("/groups/admin/delete"), http.StatusConflict, "cannot be deleted")
	want(t, "admins page", admin.get("/groups/admin"), http.StatusOK, `value="*" checked`, `always keeps "All permissions"`)
	users := admin.get("/groups/users")
	want(t, "users page", users, http.StatusOK, `value="profile:*" checked`)
	if users.has("/groups/users/delete") || users.has(`always keeps "All permissions"`) {
		t.Fatal("the Users group offers Delete or claims to keep all permissions")
	}
	if admin.get("/groups/admin").has("/groups/admin/delete") {
		t.Fatal("the Admins group offers Delete")
	}
	if !admin.get("/groups/" + gid).has("/groups/" + gid + "/delete") {
		t.Fatal("a host group offers no Delete")
	}

	// A group with members is not deleted; an empty one is, after asking.
	createUser(t, admin, "bob@example.com", "Bob", bobPassword, gid)
	want(t, "confirm page", admin.get("/groups/"+gid+"/delete"), http.StatusOK, "Delete the group Operators?")
	want(t, "in use", admin.post("/groups/"+gid+"/delete"), http.StatusConflict, "still has members")
	empty := createGroup(t, admin, "Empty", false, "backups:read")
	want(t, "delete", admin.post("/groups/"+empty+"/delete"), http.StatusOK, "Group deleted.")
	if admin.get("/groups").has(">Empty<") {
		t.Fatal("deleted group still listed")
	}
	want(t, "deleted group's page", admin.get("/groups/"+empty), http.StatusNotFound)
}

// A form saved over someone else's change is refused: admin B's older
// group form would re-grant what admin A just revoked, and the user form
// re-posts the group. The page says so and shows the record as it is now.
func TestStaleFormsRefused(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	gid := createGroup(t, admin, "Operators", false, "backups:read", "backups:run", "profile:*")
	old := admin.formVersion(t, "/groups/"+gid)
	p := admin.post("/groups/"+gid, "version", old, "name", "Operators", "perm", "backups:read", "perm", "profile:*")
	want(t, "A revokes backups:run", p, http.StatusOK, "Group saved.")
	p = admin.post("/groups/"+gid, "version", old, "name", "Operators", "perm", "backups:read", "perm", "backups:run", "perm", "profile:*")
	want(t, "B's older form", p, http.StatusConflict, "changed by someone else since you opened this page")
	if p.has(`value="backups:run" checked`) {
		t.Fatal("the stale form re-granted backups:run, or shows the older form")
	}
	want(t, "no version", admin.post("/groups/"+gid, "name", "Operators", "perm", "profile:*"),
		http.StatusConflict, "changed by someone else")

	bobID := createUser(t, admin, "bob@example.com", "Bob", bobPassword, gid)
	oldU := admin.formVersion(t, "/users/"+bobID)
	want(t, "A renames", admin.post("/users/"+bobID, "version", oldU, "name", "Robert", "email", "bob@example.com", "group", gid),
		http.StatusOK, "User saved.")
	p = admin.post("/users/"+bobID, "version", oldU, "name", "Bob", "email", "bob@example.com", "group", "users")
	want(t, "B's older user form", p, http.StatusConflict, "changed by someone else since you opened this page", `value="Robert"`)
}
