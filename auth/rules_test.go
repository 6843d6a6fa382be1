package auth_test

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// UpdateUser on the actor's own account follows UpdateProfile's rules: the
// email, the login name, changes only through UpdateProfile (password,
// other sessions ended), and the name needs profile:update_name.
func TestUpdateUserOnSelfFollowsProfileRules(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	other := e.login(adminEmail, adminPassword)
	me := admin.User()
	_, err := e.m.UpdateUser(e.ctx, admin, me.ID, auth.UserUpdate{Email: ptr("boss@example.com"), Version: e.uv(me.ID)})
	wantErr(t, err, auth.ErrForbidden)
	if u, _ := e.db.Users().Get(e.ctx, me.ID); u.Email != adminEmail {
		t.Fatalf("own email changed through UpdateUser: %q", u.Email)
	}
	e.auth(tokenOf(other))
	// Re-posting the unchanged email with a new name is fine.
	if _, err := e.m.UpdateUser(e.ctx, admin, me.ID, auth.UserUpdate{Name: ptr("Ada"), Email: ptr(adminEmail), Version: e.uv(me.ID)}); err != nil {
		t.Fatal(err)
	}
	// A manager without profile:update_name cannot rename itself either.
	mgrs := e.group(admin, "Managers", group.UsersRead, group.UsersWrite)
	mu, mgr := e.user(admin, "mgr@example.com", mgrs.ID)
	_, err = e.m.UpdateUser(e.ctx, mgr, mu.ID, auth.UserUpdate{Name: ptr("Boss"), Version: e.uv(mu.ID)})
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
	e.enrol(&ed)
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

// Group names and descriptions are checked like user names: valid UTF-8,
// no control or bidirectional control characters. A name PostgreSQL cannot
// store reaches no store.
func TestGroupTextChecked(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	tests := []struct {
		name, gname, desc, field string
		want                     error
	}{
		{"name invalid UTF-8", "Ops\xff", "", auth.FieldName, group.ErrInvalidName},
		{"name bidi override", "Ops\u202e", "", auth.FieldName, group.ErrInvalidName},
		{"description invalid UTF-8", "Ops", "a\xc3", auth.FieldDescription, group.ErrInvalidDescription},
		{"description bidi isolate", "Ops", "a\u2066b", auth.FieldDescription, group.ErrInvalidDescription},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.m.CreateGroup(e.ctx, admin, group.Group{Name: tt.gname, Description: tt.desc,
				Permissions: []group.Permission{"backups:read"}})
			wantErr(t, err, tt.want)
			wantField(t, err, tt.field)
			_, err = e.m.UpdateGroup(e.ctx, admin, group.Group{ID: group.UsersID, Name: tt.gname, Description: tt.desc,
				Permissions: []group.Permission{group.ProfileAll}})
			wantErr(t, err, tt.want)
			wantField(t, err, tt.field)
		})
	}
}

// A target ID written to the audit trail is bounded like other fields: an
// 8 KiB ID in a refused request is recorded, cut to auth.MaxTargetIDLength.
func TestAuditTargetIDBounded(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	_, bob := e.user(admin, "bob@example.com", group.UsersID)
	long := user.ID(strings.Repeat("é", 4096)) // 8 KiB
	_, err := e.m.GetUser(e.ctx, bob, long)
	wantErr(t, err, auth.ErrForbidden)
	ev := e.lastEvent(audit.AuthorizationDeny)
	if ev.Outcome != audit.Denied || len(ev.Target.ID) > auth.MaxTargetIDLength || !strings.HasPrefix(string(long), ev.Target.ID) {
		t.Fatalf("denial target ID of %d bytes, want a prefix of at most %d", len(ev.Target.ID), auth.MaxTargetIDLength)
	}
	if !utf8.ValidString(ev.Target.ID) {
		t.Fatal("the cut split a character")
	}
	// A host's own event too.
	if err := e.m.Record(e.ctx, admin, "backup.run", audit.Success, audit.Target{Type: "backup", ID: string(long)}, nil); err != nil {
		t.Fatal(err)
	}
	if ev := e.lastEvent("backup.run"); len(ev.Target.ID) > auth.MaxTargetIDLength {
		t.Fatalf("host event target ID of %d bytes", len(ev.Target.ID))
	}
}

// Writes of groups and users take the version the caller read: admin B
// saving a form read before admin A's save is refused with ErrStale and
// re-grants nothing A revoked (DESIGN invariant 10).
func TestStaleWritesRefused(t *testing.T) {
	e := newEnv(t)
	a := e.admin()
	_, b := e.user(a, "b@example.com", group.AdminID)
	ops := e.group(a, "Ops", "backups:read", "backups:run")

	formA, err := e.m.GetGroup(e.ctx, a, ops.ID)
	if err != nil {
		t.Fatal(err)
	}
	formB, _ := e.m.GetGroup(e.ctx, b, ops.ID)
	formA.Permissions = []group.Permission{"backups:read"} // A revokes backups:run
	saved, err := e.m.UpdateGroup(e.ctx, a, *formA)
	if err != nil {
		t.Fatal(err)
	}
	formB.Description = "B's edit of the older form"
	_, err = e.m.UpdateGroup(e.ctx, b, *formB)
	wantErr(t, err, auth.ErrStale)
	wantErr(t, err, group.ErrStale)
	if g, _ := e.db.Groups().Get(e.ctx, ops.ID); slices.Contains(g.Permissions, "backups:run") || g.Description != "" {
		t.Fatalf("a stale save was written: %+v", g)
	}
	// The group UpdateGroup returned carries the new version: saving it
	// again works.
	saved.Description = "A again"
	if _, err := e.m.UpdateGroup(e.ctx, a, *saved); err != nil {
		t.Fatalf("UpdateGroup with the returned version: %v", err)
	}
	// No version at all is no read at all.
	noVersion := *saved
	noVersion.Version = 0
	_, err = e.m.UpdateGroup(e.ctx, a, noVersion)
	wantErr(t, err, auth.ErrStale)

	// Users alike: the web app's user form re-posts every field.
	victim, _ := e.user(a, "victim@example.com", group.UsersID)
	readA, _ := e.m.GetUser(e.ctx, a, victim.ID)
	readB, _ := e.m.GetUser(e.ctx, b, victim.ID)
	if _, err := e.m.UpdateUser(e.ctx, a, victim.ID, auth.UserUpdate{Name: ptr("Renamed by A"), Version: readA.Version}); err != nil {
		t.Fatal(err)
	}
	users := group.UsersID
	_, err = e.m.UpdateUser(e.ctx, b, victim.ID, auth.UserUpdate{Name: ptr(readB.Name), Email: ptr("b-says@example.com"),
		GroupID: &users, Version: readB.Version})
	wantErr(t, err, auth.ErrStale)
	wantErr(t, err, user.ErrStale)
	if u, _ := e.db.Users().Get(e.ctx, victim.ID); u.Name != "Renamed by A" || u.Email != "victim@example.com" {
		t.Fatalf("a stale user save was written: %+v", u)
	}
	_, err = e.m.UpdateUser(e.ctx, a, victim.ID, auth.UserUpdate{Name: ptr("x")})
	wantErr(t, err, auth.ErrStale)
}
