package main

import (
	"net/http"
	"testing"

	"github.com/usher-go/usher/group"
)

// An admin resets a password with "Require a change at next login" (checked
// by default on the form): the user logs in with it, every page sends them
// to the profile page and its notice, a POST elsewhere is refused, and once
// the password is changed the app opens up again.
func TestRequiredPasswordChangeRedirectsEveryPage(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	id := createUser(t, admin, "dave@example.com", "Dave", "dave long password", string(group.AdminID))

	form := admin.get("/users/" + id)
	want(t, "reset form", form, http.StatusOK, `name="require_change" value="1" checked`, "Require a change at next login")
	p := admin.post("/users/"+id+"/password", "new_password", "temporary password 1", "require_change", "1")
	want(t, "reset and require", p, http.StatusOK, "must choose a new password at the next login")

	dave := a.browser()
	p = dave.post("/login", "email", "dave@example.com", "password", "temporary password 1")
	want(t, "sent to change", p, http.StatusOK, "An administrator reset your password", "Change password")
	if p.url.Path != "/profile" {
		t.Fatalf("login ended at %s, want /profile", p.url)
	}
	for _, path := range []string{"/", "/users", "/groups", "/audit", "/backups", "/profile/security", "/users/" + id} {
		if p := dave.get(path); p.url.Path != "/profile" || !p.has("An administrator reset your password") {
			t.Fatalf("%s ended at %s, want the profile page with the notice", path, p.url)
		}
	}
	if p := dave.post("/users", "email", "eve@example.com", "name", "Eve", "password", "eve long password", "group", string(group.UsersID)); p.has("User created.") {
		t.Fatal("a user who owes a password change created a user")
	}
	if p := admin.get("/users"); p.has("eve@example.com") {
		t.Fatal("eve exists")
	}

	p = dave.post("/profile/password", "current_password", "temporary password 1",
		"new_password", "dave new long password", "confirm_password", "dave new long password")
	want(t, "change", p, http.StatusOK, "Password changed")
	if p.has("An administrator reset your password") {
		t.Fatal("the notice stays after the change")
	}
	want(t, "after the change", dave.get("/users"), http.StatusOK, "<h1>Users</h1>", "dave@example.com")

	// Unchecked, the reset alone requires nothing.
	p = admin.post("/users/"+id+"/password", "new_password", "temporary password 2")
	want(t, "reset only", p, http.StatusOK, "Password reset;")
	a.login("dave@example.com", "temporary password 2")
}
