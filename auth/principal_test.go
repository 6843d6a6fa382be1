package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
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
	if _, _, err := e.m.UpdateProfile(e.ctx, bob, auth.ProfileUpdate{Name: &name}); err != nil {
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

// A principal whose session is gone, or whose User.ID was rewritten by the
// host, cannot act: the Manager trusts its own record of who authenticated.
func TestActorIdentityNotTiedToSession(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	_, a2 := e.user(admin, "a2@example.com", group.AdminID)
	if err := e.m.ResetPassword(e.ctx, admin, a2.User().ID, "a brand new pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Authenticate(e.ctx, tokenOf(a2)); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatal("precondition")
	}
	if _, err := e.m.CreateUser(e.ctx, a2, auth.NewUser{Email: "x@example.com", Password: "long enough pw", GroupID: group.AdminID}); err == nil {
		t.Error("a principal whose session was revoked created an admin")
	}
}

// A Principal acts only on the Manager that authenticated it: an admin of
// one database (say, one tenant's) is nobody to a Manager on another, for
// reads as for writes.
func TestPrincipalBelongsToItsManager(t *testing.T) {
	a, b := newEnv(t), newEnv(t)
	adminA := a.admin()
	adminB := b.admin()
	wantErr(t, errOf(b.m.ListUsers(b.ctx, adminA, user.Query{})), auth.ErrForbidden)
	wantErr(t, errOf(b.m.AuditLog(b.ctx, adminA, audit.Query{})), auth.ErrForbidden)
	wantErr(t, errOf(b.m.ListGroups(b.ctx, adminA)), auth.ErrForbidden)
	wantErr(t, errOf(b.m.GetUser(b.ctx, adminA, adminB.User().ID)), auth.ErrForbidden)
	wantErr(t, errOf(b.m.Sessions(b.ctx, adminA)), auth.ErrForbidden)
	wantErr(t, errOf(b.m.TwoFactorStatus(b.ctx, adminA)), auth.ErrForbidden)
	wantErr(t, errOf(b.m.CreateUser(b.ctx, adminA, auth.NewUser{Email: "x@example.com", Password: "long enough pw"})), auth.ErrForbidden)
	if b.m.Fresh(adminA) {
		t.Error("another Manager's principal counts as fresh")
	}
	// A second Manager on the same store is the same database, but not the
	// Manager that made the principal either.
	other := a.manager(a.db)
	wantErr(t, errOf(other.ListUsers(a.ctx, adminA, user.Query{})), auth.ErrForbidden)
	if _, err := a.m.ListUsers(a.ctx, adminA, user.Query{}); err != nil {
		t.Fatalf("its own Manager: %v", err)
	}
}

// A Principal authenticated before its session expired cannot change
// anything after: the change reads the session again.
func TestExpiredSessionCannotAct(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	e.clk.Advance(auth.DefaultIdleTimeout + time.Minute)
	name := "Late"
	_, _, err := e.m.UpdateProfile(e.ctx, admin, auth.ProfileUpdate{Name: &name})
	wantErr(t, err, auth.ErrUnauthenticated)
}
