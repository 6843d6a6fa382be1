package main

import (
	"net/http"
	"testing"
)

// A refusal says why in words: which permission is missing, that the
// target grants more than one holds, that it is one's own group; never
// the other account's group name.
func TestRefusalSaysWhy(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	adminID := find(t, admin.get("/users"), userLink, "admin@example.com")
	ops := createGroup(t, admin, "Operators", false, "backups:read", "profile:*")
	createUser(t, admin, "bob@example.com", "Bob", bobPassword, ops)
	helpdesk := createGroup(t, admin, "Helpdesk", false, "users:read", "users:write", "profile:*")
	createUser(t, admin, "hal@example.com", "Hal", "hal long password", helpdesk)

	bob := a.login("bob@example.com", bobPassword)
	want(t, "bob's users page", bob.get("/users"), http.StatusForbidden,
		"You need the permission “View users” (users:read), which your group does not grant.")
	want(t, "bob's backup run", bob.post("/backups/run"), http.StatusForbidden, "“Run a backup” (backups:run)")

	hal := a.login("hal@example.com", "hal long password")
	p := hal.post("/users/" + adminID + "/disable")
	want(t, "hal disables the admin", p, http.StatusForbidden, "That group grants “all permissions” (*), which your own group does not")
	if p.has("Admins") {
		t.Errorf("the refusal names the admin's group:\n%s", excerpt(p.body))
	}

	want(t, "admin moves itself", admin.post("/users/"+adminID, "name", "Ada", "email", "admin@example.com", "group", ops, "version", "1"),
		http.StatusForbidden, "Nobody can change their own group")
}
