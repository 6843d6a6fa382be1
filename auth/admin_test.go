package auth_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// Invariant 2: deny by default. A principal the host built itself (all it
// can set is the client), a nil one, and a plain user all get ErrForbidden
// from every admin operation.
func TestDenyByDefault(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	victim, bob := e.user(admin, "bob@example.com", group.UsersID)
	forged := &auth.Principal{}
	forged.SetClient(admin.Client())
	for _, actor := range []*auth.Principal{nil, forged, bob} {
		name := "nil"
		if actor != nil {
			name = string(actor.User().Email)
			if actor == forged {
				name = "forged"
			}
		}
		t.Run(name, func(t *testing.T) {
			ops := map[string]error{}
			_, ops["ListUsers"] = e.m.ListUsers(e.ctx, actor, user.Query{})
			_, ops["CreateUser"] = e.m.CreateUser(e.ctx, actor, auth.NewUser{Email: "new@example.com", Password: "long enough pw"})
			n := "x"
			_, ops["UpdateUser"] = e.m.UpdateUser(e.ctx, actor, victim.ID, auth.UserUpdate{Name: &n})
			ops["SetDisabled"] = e.m.SetDisabled(e.ctx, actor, admin.User().ID, true)
			ops["ResetPassword"] = e.m.ResetPassword(e.ctx, actor, admin.User().ID, "a new password!")
			ops["DeleteUser"] = e.m.DeleteUser(e.ctx, actor, admin.User().ID)
			_, ops["ListGroups"] = e.m.ListGroups(e.ctx, actor)
			_, ops["CreateGroup"] = e.m.CreateGroup(e.ctx, actor, group.Group{Name: "g", Permissions: []group.Permission{"backups:read"}})
			_, ops["UpdateGroup"] = e.m.UpdateGroup(e.ctx, actor, group.Group{ID: group.UsersID, Name: "Users", Permissions: []group.Permission{"*"}})
			ops["DeleteGroup"] = e.m.DeleteGroup(e.ctx, actor, group.UsersID)
			_, ops["AuditLog"] = e.m.AuditLog(e.ctx, actor, audit.Query{})
			_, ops["UserSessions"] = e.m.UserSessions(e.ctx, actor, admin.User().ID)
			ops["RevokeSession"] = e.m.RevokeSession(e.ctx, actor, admin.Session().ID)
			for op, err := range ops {
				wantErrNamed(t, op, err, auth.ErrForbidden)
			}
		})
	}
	// Nothing changed.
	e.auth(tokenOf(admin))
	if u, _ := e.db.Users().Get(e.ctx, victim.ID); u.Name != victim.Name {
		t.Fatal("a denied update was written")
	}
	if n, _ := e.db.Users().Count(e.ctx); n != 2 {
		t.Fatalf("%d users, want 2", n)
	}
	// Every denial was recorded.
	denied := 0
	for _, ev := range e.events() {
		if ev.Outcome == audit.Denied {
			denied++
			if ev.Reason == "" {
				t.Fatalf("denial without reason: %+v", ev)
			}
		}
	}
	if denied != 3*13 {
		t.Fatalf("%d denial events, want %d", denied, 3*13)
	}
}

func wantErrNamed(t *testing.T, name string, err, target error) {
	t.Helper()
	if err == nil || !errorsIs(err, target) {
		t.Errorf("%s: got %v, want %v", name, err, target)
	}
}

// Invariant 2: no escalation through group edits or assignments.
func TestNoEscalation(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	// A user manager: may manage users and groups, may read backups, may
	// not run them.
	mgrGroup := e.group(admin, "Managers", group.UsersRead, group.UsersWrite, group.GroupsRead, group.GroupsWrite, "backups:read")
	runners := e.group(admin, "Runners", "backups:run")
	readers := e.group(admin, "Readers", "backups:read")
	_, mgr := e.user(admin, "mgr@example.com", mgrGroup.ID)
	target, _ := e.user(admin, "t@example.com", readers.ID)
	runner, _ := e.user(admin, "runner@example.com", runners.ID)

	cases := []struct {
		name string
		op   func() error
	}{
		{"create group with a permission the actor lacks", func() error {
			_, err := e.m.CreateGroup(e.ctx, mgr, group.Group{Name: "Evil", Permissions: []group.Permission{"backups:run"}})
			return err
		}},
		{"create group with a wildcard wider than the actor", func() error {
			_, err := e.m.CreateGroup(e.ctx, mgr, group.Group{Name: "Evil", Permissions: []group.Permission{"backups:*"}})
			return err
		}},
		{"create group with *", func() error {
			_, err := e.m.CreateGroup(e.ctx, mgr, group.Group{Name: "Evil", Permissions: []group.Permission{"*"}})
			return err
		}},
		{"add a permission to a group", func() error {
			_, err := e.m.UpdateGroup(e.ctx, mgr, group.Group{ID: readers.ID, Name: "Readers", Permissions: []group.Permission{"backups:read", "backups:run"}, Version: e.gv(readers.ID)})
			return err
		}},
		{"edit own group to add a permission", func() error {
			_, err := e.m.UpdateGroup(e.ctx, mgr, group.Group{ID: mgrGroup.ID, Name: "Managers", Permissions: append(mgrGroup.Permissions, "backups:run"), Version: e.gv(mgrGroup.ID)})
			return err
		}},
		{"edit a group holding more than the actor", func() error {
			_, err := e.m.UpdateGroup(e.ctx, mgr, group.Group{ID: runners.ID, Name: "Runners", Permissions: []group.Permission{"backups:read"}, Version: e.gv(runners.ID)})
			return err
		}},
		{"create user in a group holding more", func() error {
			_, err := e.m.CreateUser(e.ctx, mgr, auth.NewUser{Email: "x@example.com", Password: "long enough pw", GroupID: runners.ID})
			return err
		}},
		{"create user in the admin group", func() error {
			_, err := e.m.CreateUser(e.ctx, mgr, auth.NewUser{Email: "x@example.com", Password: "long enough pw", GroupID: group.AdminID})
			return err
		}},
		// The denial comes before the taken email: an actor learns
		// nothing about accounts in a group it may not manage.
		{"create user with a taken email in a group holding more", func() error {
			_, err := e.m.CreateUser(e.ctx, mgr, auth.NewUser{Email: "t@example.com", Password: "long enough pw", GroupID: runners.ID})
			return err
		}},
		{"move user into a group holding more", func() error {
			g := runners.ID
			_, err := e.m.UpdateUser(e.ctx, mgr, target.ID, auth.UserUpdate{GroupID: &g, Version: e.uv(target.ID)})
			return err
		}},
		{"reset the password of a user holding more", func() error {
			return e.m.ResetPassword(e.ctx, mgr, runner.ID, "takeover password")
		}},
		{"reset the admin's password", func() error {
			return e.m.ResetPassword(e.ctx, mgr, admin.User().ID, "takeover password")
		}},
		{"disable a user holding more", func() error { return e.m.SetDisabled(e.ctx, mgr, runner.ID, true) }},
		{"delete a user holding more", func() error { return e.m.DeleteUser(e.ctx, mgr, runner.ID) }},
		{"delete a group holding more", func() error { return e.m.DeleteGroup(e.ctx, mgr, runners.ID) }},
		{"revoke the admin's session", func() error { return e.m.RevokeSession(e.ctx, mgr, admin.Session().ID) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.op(), auth.ErrForbidden)
		})
	}
	// Within its own permissions the manager works fine.
	g, err := e.m.CreateGroup(e.ctx, mgr, group.Group{Name: "Helpers", Permissions: []group.Permission{"backups:read", group.UsersRead}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.CreateUser(e.ctx, mgr, auth.NewUser{Email: "helper@example.com", Password: "long enough pw", GroupID: g.ID}); err != nil {
		t.Fatal(err)
	}
	if err := e.m.ResetPassword(e.ctx, mgr, target.ID, "a fresh password"); err != nil {
		t.Fatal(err)
	}
	// Nothing the manager was refused got written.
	if got, _ := e.db.Groups().Get(e.ctx, readers.ID); len(got.Permissions) != 1 {
		t.Fatalf("readers now %v", got.Permissions)
	}
	if u, err := e.db.Users().GetByEmail(e.ctx, "x@example.com"); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("a refused CreateUser left %v, %v", u, err)
	}
	if _, err := e.m.Login(e.ctx, "runner@example.com", passwordOf("runner@example.com"), client); err != nil {
		t.Fatal("runner's password changed:", err)
	}
}

// Invariant 2: nobody changes their own group.
func TestNobodyChangesOwnGroup(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	_, admin2 := e.user(admin, "admin2@example.com", group.AdminID)
	g := group.UsersID
	_, err := e.m.UpdateUser(e.ctx, admin2, admin2.User().ID, auth.UserUpdate{GroupID: &g, Version: e.uv(admin2.User().ID)})
	wantErr(t, err, auth.ErrForbidden)
	if u, _ := e.db.Users().Get(e.ctx, admin2.User().ID); u.GroupID != string(group.AdminID) {
		t.Fatal("own group changed")
	}
	// Someone else may.
	if _, err := e.m.UpdateUser(e.ctx, admin, admin2.User().ID, auth.UserUpdate{GroupID: &g, Version: e.uv(admin2.User().ID)}); err != nil {
		t.Fatal(err)
	}
}

// Invariant 2: the last enabled admin cannot be deleted, disabled or moved,
// even by itself, and the admin group keeps "*".
func TestLastAdmin(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	users := group.UsersID
	wantErr(t, e.m.DeleteUser(e.ctx, admin, admin.User().ID), auth.ErrLastAdmin)
	wantErr(t, e.m.SetDisabled(e.ctx, admin, admin.User().ID, true), auth.ErrLastAdmin)
	_, err := e.m.UpdateGroup(e.ctx, admin, group.Group{ID: group.AdminID, Name: "Admins", Permissions: []group.Permission{group.UsersRead}, Version: e.gv(group.AdminID)})
	wantErr(t, err, group.ErrBuiltin)
	wantErr(t, e.m.DeleteGroup(e.ctx, admin, group.AdminID), group.ErrBuiltin)
	wantErr(t, e.m.DeleteGroup(e.ctx, admin, group.UsersID), group.ErrBuiltin)
	// Hosts mapping ErrForbidden to 403 catch these too.
	wantErr(t, e.m.DeleteUser(e.ctx, admin, admin.User().ID), auth.ErrForbidden)
	wantErr(t, e.m.DeleteGroup(e.ctx, admin, group.AdminID), auth.ErrForbidden)

	// A second admin, disabled, does not count.
	a2, _ := e.user(admin, "admin2@example.com", group.AdminID)
	if err := e.m.SetDisabled(e.ctx, admin, a2.ID, true); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.m.DeleteUser(e.ctx, admin, admin.User().ID), auth.ErrLastAdmin)
	// Enabled, it does: the other admin can now move the first out.
	if err := e.m.SetDisabled(e.ctx, admin, a2.ID, false); err != nil {
		t.Fatal(err)
	}
	p2 := e.login("admin2@example.com", passwordOf("admin2@example.com"))
	if _, err := e.m.UpdateUser(e.ctx, p2, admin.User().ID, auth.UserUpdate{GroupID: &users, Version: e.uv(admin.User().ID)}); err != nil {
		t.Fatal(err)
	}
	// And now admin2 is the last one.
	wantErr(t, e.m.DeleteUser(e.ctx, p2, p2.User().ID), auth.ErrLastAdmin)
	if ev := e.lastEvent(audit.UserDeleted); ev.Outcome != audit.Denied {
		t.Fatalf("last-admin refusal recorded as %s", ev.Outcome)
	}
}

// Two admins disabling each other at once: one must stay.
func TestLastAdminRace(t *testing.T) {
	for range 5 {
		e := newEnv(t)
		a := e.admin()
		_, b := e.user(a, "b@example.com", group.AdminID)
		var wg sync.WaitGroup
		wg.Go(func() { _ = e.m.SetDisabled(e.ctx, a, b.User().ID, true) })
		wg.Go(func() { _ = e.m.SetDisabled(e.ctx, b, a.User().ID, true) })
		wg.Wait()
		if n, _ := e.db.Users().CountInGroup(e.ctx, string(group.AdminID), true); n != 1 {
			t.Fatalf("%d enabled admins after the race, want 1", n)
		}
	}
}

// Invariant 3: a group's permission change applies to the very next
// Authenticate, with no re-login.
func TestPermissionChangeAppliesNow(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	ops := e.group(admin, "Operators", "backups:read")
	_, op := e.user(admin, "op@example.com", ops.ID)
	if p := e.auth(tokenOf(op)); p.Can("backups:run") || !p.Can("backups:read") {
		t.Fatal("wrong permissions before")
	}
	if _, err := e.m.UpdateGroup(e.ctx, admin, group.Group{ID: ops.ID, Name: ops.Name, Permissions: []group.Permission{"backups:run"}, Version: e.gv(ops.ID)}); err != nil {
		t.Fatal(err)
	}
	if p := e.auth(tokenOf(op)); !p.Can("backups:run") || p.Can("backups:read") {
		t.Fatalf("permissions not applied: %v", p.Permissions())
	}
	ev := e.lastEvent(audit.GroupUpdated)
	before := ev.Details["before"].(map[string]any)["permissions"].([]any)
	after := ev.Details["after"].(map[string]any)["permissions"].([]any)
	if len(before) != 1 || before[0] != "backups:read" || len(after) != 1 || after[0] != "backups:run" {
		t.Fatalf("event details %v", ev.Details)
	}
	// Moving the user to another group applies at once too.
	users := group.UsersID
	if _, err := e.m.UpdateUser(e.ctx, admin, op.User().ID, auth.UserUpdate{GroupID: &users, Version: e.uv(op.User().ID)}); err != nil {
		t.Fatal(err)
	}
	if p := e.auth(tokenOf(op)); p.Can("backups:run") || !p.Can(group.ProfileUpdateName) {
		t.Fatalf("group change not applied: %v", p.Permissions())
	}
}

// Invariant 3: delete, disable and password reset end the user's sessions
// before returning; a password change ends the other sessions, and the
// actor stays logged in under the session it returns.
func TestRevocationOnChange(t *testing.T) {
	cases := []struct {
		name      string
		op        func(e *env, admin, victim *auth.Principal) (*auth.Session, error)
		keepsSelf bool
	}{
		{"delete", func(e *env, a, v *auth.Principal) (*auth.Session, error) {
			return nil, e.m.DeleteUser(e.ctx, a, v.User().ID)
		}, false},
		{"disable", func(e *env, a, v *auth.Principal) (*auth.Session, error) {
			return nil, e.m.SetDisabled(e.ctx, a, v.User().ID, true)
		}, false},
		{"reset password", func(e *env, a, v *auth.Principal) (*auth.Session, error) {
			return nil, e.m.ResetPassword(e.ctx, a, v.User().ID, "brand new password")
		}, false},
		{"own password change", func(e *env, _, v *auth.Principal) (*auth.Session, error) {
			return e.m.ChangePassword(e.ctx, v, passwordOf("v@example.com"), "brand new password")
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			admin := e.admin()
			_, v := e.user(admin, "v@example.com", group.UsersID)
			other := e.login("v@example.com", passwordOf("v@example.com"))
			s, err := tc.op(e, admin, v)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.m.Authenticate(e.ctx, tokenOf(other))
			wantErr(t, err, auth.ErrUnauthenticated)
			_, err = e.m.Authenticate(e.ctx, tokenOf(v))
			wantErr(t, err, auth.ErrUnauthenticated) // replaced or ended
			if tc.keepsSelf {
				if _, err := e.m.Authenticate(e.ctx, s.Token); err != nil {
					t.Fatalf("current session ended: %v", err)
				}
			}
		})
	}
}

func TestGroupLifecycle(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	g := e.group(admin, "Ops", "backups:read")
	_, err := e.m.CreateGroup(e.ctx, admin, group.Group{Name: "OPS"})
	wantErr(t, err, group.ErrNameTaken)
	u, _ := e.user(admin, "member@example.com", g.ID)
	wantErr(t, e.m.DeleteGroup(e.ctx, admin, g.ID), group.ErrInUse)
	if err := e.m.DeleteUser(e.ctx, admin, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.m.DeleteGroup(e.ctx, admin, g.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.m.DeleteGroup(e.ctx, admin, g.ID), group.ErrNotFound)
	gs, err := e.m.ListGroups(e.ctx, admin)
	if err != nil || len(gs) != 2 {
		t.Fatalf("ListGroups: %v, %v", gs, err)
	}
}

func TestListUsersRows(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	ops := e.group(admin, "Ops", "backups:read")
	e.user(admin, "zed@example.com", ops.ID)
	e.user(admin, "amy@example.com", group.UsersID)
	p, err := e.m.ListUsers(e.ctx, admin, user.Query{Sort: user.SortEmail})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range p.Users {
		got = append(got, r.Email+"/"+r.GroupName)
		if r.LastLoginAt.IsZero() || r.CreatedAt.IsZero() {
			t.Fatalf("row %+v lacks times", r)
		}
	}
	want := []string{"admin@example.com/Admins", "amy@example.com/Users", "zed@example.com/Ops"}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("rows %v, want %v", got, want)
	}
	_, err = e.m.ListUsers(e.ctx, admin, user.Query{Cursor: "garbage"})
	wantErr(t, err, user.ErrInvalidCursor)
	_, err = e.m.ListUsers(e.ctx, admin, user.Query{Limit: 201})
	wantErr(t, err, user.ErrInvalidQuery)
}

func TestUnlockLogin(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	u, _ := e.user(admin, "bob@example.com", group.UsersID)
	for range 6 {
		_, _ = e.m.Login(e.ctx, "bob@example.com", "wrong", auth.Client{})
	}
	_, err := e.m.Login(e.ctx, "bob@example.com", passwordOf("bob@example.com"), auth.Client{})
	wantErr(t, err, auth.ErrThrottled)
	if err := e.m.UnlockLogin(e.ctx, admin, u.ID); err != nil {
		t.Fatal(err)
	}
	e.login("bob@example.com", passwordOf("bob@example.com"))
	if ev := e.lastEvent(audit.LoginUnlocked); ev.Target.ID != string(u.ID) {
		t.Fatalf("event %+v", ev)
	}
}

// The operator principal (command-line recovery) may do anything an admin
// may, within the same invariants, and is audited as the operator. It acts
// only on the Manager made with it.
func TestOperator(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	opm, op := e.operator("root@backup-host")
	wantErr(t, e.m.ResetPassword(e.ctx, op, admin.User().ID, "other manager password"), auth.ErrForbidden)
	if err := opm.ResetPassword(e.ctx, op, admin.User().ID, "recovered password"); err != nil {
		t.Fatal(err)
	}
	ev := e.lastEvent(audit.PasswordReset)
	if ev.Actor.ID != "operator" || ev.Actor.Email != "root@backup-host" {
		t.Fatalf("event actor %+v", ev.Actor)
	}
	wantErr(t, opm.DeleteUser(e.ctx, op, admin.User().ID), auth.ErrLastAdmin)
	// A principal a host builds holds nothing, whatever client it claims.
	forged := &auth.Principal{}
	forged.SetClient(op.Client())
	wantErr(t, opm.ResetPassword(e.ctx, forged, admin.User().ID, "takeover password"), auth.ErrForbidden)
}

// Nobody resets their own password or second factor through the admin
// path, which asks for no password.
func TestNoSelfResetThroughAdminPath(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	e.enrol(&admin)
	e.clk.Advance(auth.DefaultReauthWindow + time.Minute) // stale, not yet idle
	wantErr(t, e.m.ResetTwoFactor(e.ctx, admin, admin.User().ID), auth.ErrForbidden)
	wantErr(t, e.m.ResetPassword(e.ctx, admin, admin.User().ID, "a new password!"), auth.ErrForbidden)
	if st, _ := e.m.TwoFactorStatus(e.ctx, admin); st.RecoveryCodesLeft != 10 {
		t.Fatal("the refused reset removed something")
	}
}

// A group that requires two-factor must let its members enrol.
func TestRequireTwoFactorNeedsManage2FA(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	_, err := e.m.CreateGroup(e.ctx, admin, group.Group{Name: "Locked", RequireTwoFactor: true, Permissions: []group.Permission{"backups:read"}})
	wantErr(t, err, group.ErrInvalidPermission)
}
