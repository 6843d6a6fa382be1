package auth_test

import (
	"testing"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// UpdateUser on the actor's own account follows UpdateProfile's rules: the
// email, the login name, changes only through UpdateProfile (password,
// other sessions ended), and the name needs profile:update_name.
func TestUpdateUserOnSelfFollowsProfileRules(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	other := e.login(adminEmail, adminPassword)
	me := admin.User()
	_, err := e.m.UpdateUser(e.ctx, admin, me.ID, auth.UserUpdate{Email: ptr("boss@example.com")})
	wantErr(t, err, auth.ErrForbidden)
	if u, _ := e.db.Users().Get(e.ctx, me.ID); u.Email != adminEmail {
		t.Fatalf("own email changed through UpdateUser: %q", u.Email)
	}
	e.auth(tokenOf(other))
	// Re-posting the unchanged email with a new name is fine.
	if _, err := e.m.UpdateUser(e.ctx, admin, me.ID, auth.UserUpdate{Name: ptr("Ada"), Email: ptr(adminEmail)}); err != nil {
		t.Fatal(err)
	}
	// A manager without profile:update_name cannot rename itself either.
	mgrs := e.group(admin, "Managers", group.UsersRead, group.UsersWrite)
	mu, mgr := e.user(admin, "mgr@example.com", mgrs.ID)
	_, err = e.m.UpdateUser(e.ctx, mgr, mu.ID, auth.UserUpdate{Name: ptr("Boss")})
	wantErr(t, err, auth.ErrForbidden)
	if u, _ := e.db.Users().Get(e.ctx, mu.ID); u.Name != mu.Name {
		t.Fatalf("own name changed without profile:update_name: %q", u.Name)
	}
}

// A group editor who belongs to a group that requires two-factor cannot
// clear that requirement: changing one's own group's policy is changing
// one's own group. Another editor can; the member can still tighten it.
func TestOwnGroupTwoFactorPolicy(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	editors, err := e.m.CreateGroup(e.ctx, admin, group.Group{Name: "Editors", RequireTwoFactor: true,
		Permissions: []group.Permission{group.GroupsRead, group.GroupsWrite, group.ProfileAll}})
	if err != nil {
		t.Fatal(err)
	}
	_, ed := e.user(admin, "ed@example.com", editors.ID)
	e.enrol(ed)
	ed = e.auth(tokenOf(ed))
	loose := *editors
	loose.RequireTwoFactor = false
	_, err = e.m.UpdateGroup(e.ctx, ed, loose)
	wantErr(t, err, auth.ErrForbidden)
	if g, _ := e.db.Groups().Get(e.ctx, editors.ID); !g.RequireTwoFactor {
		t.Fatal("a member cleared its own group's two-factor requirement")
	}
	// Renaming the own group leaves the policy alone: allowed.
	renamed := *editors
	renamed.Name = "Group editors"
	if _, err := e.m.UpdateGroup(e.ctx, ed, renamed); err != nil {
		t.Fatal(err)
	}
	// An admin outside the group may clear it.
	g, _ := e.db.Groups().Get(e.ctx, editors.ID)
	g.RequireTwoFactor = false
	if _, err := e.m.UpdateGroup(e.ctx, admin, *g); err != nil {
		t.Fatal(err)
	}
}
