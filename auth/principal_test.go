package auth_test

import (
	"testing"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// A Principal decides from what the host cannot change: every part a host
// can reach is a copy or the client, and changing all of them leaves who
// acts, and what it may do, as it was.
func TestPrincipalIgnoresChanges(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	_, bob := e.user(admin, "bob@example.com", group.UsersID)
	bobID := bob.User().ID

	// Change everything reachable towards the admin.
	u := bob.User()
	u.ID, u.Email, u.GroupID = admin.User().ID, adminEmail, string(group.AdminID)
	g := bob.Group()
	if len(g.Permissions) > 0 {
		g.Permissions[0] = group.All
	}
	g.ID, g.Permissions = group.AdminID, append(g.Permissions, group.All)
	s := bob.Session()
	s.ID, s.UserID = admin.Session().ID, admin.User().ID
	perms := bob.Permissions()
	if len(perms) > 0 {
		perms[0] = group.All
	}
	bob.SetClient(auth.Client{IP: "203.0.113.9", UserAgent: "forger"})

	if got := bob.User(); got.ID != bobID || got.Email != "bob@example.com" || got.GroupID != string(group.UsersID) {
		t.Errorf("User() = %+v after changing a copy", got)
	}
	if got := bob.Group(); got.ID != group.UsersID || len(got.Permissions) == 0 || got.Permissions[0] == group.All {
		t.Errorf("Group() = %+v after changing a copy", got)
	}
	if got := bob.Session(); got.UserID != bobID || got.ID == admin.Session().ID {
		t.Errorf("Session() = %+v after changing a copy", got)
	}
	for _, p := range []group.Permission{group.All, group.UsersRead, group.UsersWrite, group.GroupsWrite} {
		if bob.Can(p) {
			t.Errorf("bob can %s", p)
		}
	}

	wantErr(t, errOf(e.m.GetUser(e.ctx, bob, admin.User().ID)), auth.ErrForbidden)
	wantErr(t, errOf(e.m.ListUsers(e.ctx, bob, user.Query{})), auth.ErrForbidden)
	adm := group.AdminID
	wantErr(t, errOf(e.m.UpdateUser(e.ctx, bob, bobID, auth.UserUpdate{GroupID: &adm})), auth.ErrForbidden)
	wantErr(t, e.m.RevokeSession(e.ctx, bob, admin.Session().ID), auth.ErrForbidden)
	if _, err := e.m.RevokeOtherSessions(e.ctx, bob); err != nil {
		t.Fatal(err)
	}
	e.auth(tokenOf(admin)) // the admin's session lives

	// Bob still acts as bob: his own record, under his own name.
	if got, err := e.m.GetUser(e.ctx, bob, bobID); err != nil || got.Email != "bob@example.com" {
		t.Fatalf("GetUser(self) = %+v, %v", got, err)
	}
	name := "Robert"
	if _, err := e.m.UpdateProfile(e.ctx, bob, auth.ProfileUpdate{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.m.GetUser(e.ctx, admin, admin.User().ID); got.Name == name {
		t.Fatal("bob renamed the admin")
	}
	if ev := e.events()[0]; ev.Actor.ID != string(bobID) || ev.Target.ID != string(bobID) || ev.IP != "203.0.113.9" {
		t.Fatalf("last event %+v: want bob acting on bob from the client he set", ev)
	}
}

// errOf drops a result and keeps the error.
func errOf[T any](_ T, err error) error { return err }
