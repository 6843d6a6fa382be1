package auth_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// Each kind of refusal comes back as a *auth.DeniedError with its reason,
// the permission it is about labelled from the catalog, and a sentence for
// the person refused; errors.Is matches ErrForbidden and the older
// sentinels as before, and the audit trail records the same text as before.
func TestDeniedErrorReasons(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	helpers := e.group(admin, "Helpdesk", group.UsersRead, group.UsersWrite, group.ProfileAll)
	viewers := e.group(admin, "Viewers", group.UsersRead)
	strict, err := e.m.CreateGroup(e.ctx, admin, group.Group{Name: "Strict", RequireTwoFactor: true,
		Permissions: []group.Permission{group.UsersRead, group.ProfileManage2FA}})
	if err != nil {
		t.Fatal(err)
	}
	_, helper := e.user(admin, "helper@example.com", helpers.ID)
	_, viewer := e.user(admin, "viewer@example.com", viewers.ID)
	_, enrolling := e.user(admin, "strict@example.com", strict.ID)
	adminID := admin.User().ID
	viewerID := viewer.User().ID
	adminGroup := group.AdminID

	cases := []struct {
		name    string
		op      func() error
		reason  auth.DenyReason
		perm    group.Permission
		label   string
		is      error  // a sentinel besides ErrForbidden it must match
		message string // a part of Message
	}{
		{"not authenticated", func() error { return e.m.SetDisabled(e.ctx, nil, viewerID, true) },
			auth.DenyUnauthenticated, "", "", nil, "not logged in"},
		{"not authenticated on a read", func() error { return second(e.m.ListUsers(e.ctx, nil, listAll())) },
			auth.DenyUnauthenticated, group.UsersRead, "View users", nil, "not logged in"},
		{"missing permission", func() error {
			return second(e.m.CreateUser(e.ctx, viewer, auth.NewUser{Email: "x@example.com", Password: "password-x-long"}))
		}, auth.DenyPermission, group.UsersWrite, "Create, edit, disable and delete users", nil, "“Create, edit, disable and delete users” (users:write)"},
		{"missing permission on a read", func() error { return second(e.m.ListGroups(e.ctx, viewer)) },
			auth.DenyPermission, group.GroupsRead, "View groups", nil, "which your group does not grant"},
		{"target grants more", func() error { return e.m.SetDisabled(e.ctx, helper, adminID, true) },
			auth.DenyGrantsMore, group.All, "all permissions", nil, "“all permissions” (*)"},
		{"assigning a group that grants more", func() error {
			_, err := e.m.UpdateUser(e.ctx, helper, viewerID, auth.UserUpdate{GroupID: &adminGroup, Version: 1})
			return err
		}, auth.DenyGrantsMore, group.All, "all permissions", nil, "you can only manage, assign or grant"},
		{"own account", func() error { return e.m.ResetTwoFactor(e.ctx, admin, adminID) },
			auth.DenyOwnAccount, "", "", nil, "your own account"},
		{"own group", func() error {
			_, err := e.m.UpdateUser(e.ctx, admin, adminID, auth.UserUpdate{GroupID: &viewers.ID, Version: 1})
			return err
		}, auth.DenyOwnGroup, "", "", nil, "their own group"},
		{"last admin", func() error { return e.m.DeleteUser(e.ctx, admin, adminID) },
			auth.DenyLastAdmin, "", "", auth.ErrLastAdmin, "no enabled administrator"},
		{"built-in group", func() error { return e.m.DeleteGroup(e.ctx, admin, group.UsersID) },
			auth.DenyBuiltinGroup, "", "", group.ErrBuiltin, "cannot be deleted"},
		{"enrolment owed", func() error { return second(e.m.ListUsers(e.ctx, enrolling, listAll())) },
			auth.DenyEnrollmentRequired, "", "", auth.ErrEnrollmentRequired, "set up a second factor"},
		{"target could not comply", func() error { return e.m.RequirePasswordChange(e.ctx, admin, viewerID) },
			auth.DenyTargetLacks, group.ProfileUpdatePassword, "Change own password", nil, "“Change own password” (profile:update_password)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.op()
			var de *auth.DeniedError
			if !errors.As(fmt.Errorf("wrapped: %w", err), &de) {
				t.Fatalf("error %v (%T) is no *auth.DeniedError", err, err)
			}
			if !errors.Is(err, auth.ErrForbidden) || tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is fails for %v", err)
			}
			if de.Reason != tc.reason || de.Permission != tc.perm || de.Label != tc.label {
				t.Errorf("reason %d permission %q label %q, want %d %q %q", de.Reason, de.Permission, de.Label, tc.reason, tc.perm, tc.label)
			}
			if msg := de.Message(); !strings.Contains(msg, tc.message) {
				t.Errorf("message %q lacks %q", msg, tc.message)
			}
			if !strings.HasPrefix(err.Error(), "auth: forbidden: ") {
				t.Errorf("error text %q", err)
			}
		})
	}
}

// A refusal matches only its own sentinel: a missing permission is not the
// last admin, nor an owed password change.
func TestDeniedErrorMatchesOnlyItsSentinel(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	viewers := e.group(admin, "Viewers", group.UsersRead)
	_, viewer := e.user(admin, "viewer@example.com", viewers.ID)
	err := second(e.m.ListGroups(e.ctx, viewer))
	for _, s := range []error{auth.ErrLastAdmin, auth.ErrEnrollmentRequired, auth.ErrPasswordChangeRequired, group.ErrBuiltin, auth.ErrInvalidCredentials} {
		if errors.Is(err, s) {
			t.Errorf("%v matches %v", err, s)
		}
	}
}

// The sentence shown to the person never names another account's group or
// email; the audit trail keeps the full text, as before.
func TestDeniedMessageHidesOthers(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	secret := e.group(admin, "Secret Ops", group.UsersRead, group.AuditRead)
	helpers := e.group(admin, "Helpdesk", group.UsersRead, group.UsersWrite)
	target, _ := e.user(admin, "agent@example.com", secret.ID)
	_, helper := e.user(admin, "helper@example.com", helpers.ID)
	err := e.m.ResetPassword(e.ctx, helper, target.ID, "a new long password")
	var de *auth.DeniedError
	if !errors.As(err, &de) || de.Reason != auth.DenyGrantsMore || de.Permission != group.AuditRead {
		t.Fatalf("error %v", err)
	}
	msg := de.Message()
	if strings.Contains(msg, "Secret Ops") || strings.Contains(msg, "agent@") || !strings.Contains(msg, "Read the audit log") {
		t.Errorf("message %q", msg)
	}
	ev := e.lastEvent(audit.PasswordReset)
	if ev.Outcome != audit.Denied || ev.Reason != err.Error() || !strings.Contains(ev.Reason, `group "Secret Ops" grants audit:read`) {
		t.Errorf("denial recorded as %+v", ev)
	}
}

// AssignableGroups offers exactly the groups whose permissions the actor
// holds, needs users:write, and audits its refusal.
func TestAssignableGroups(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	helpers := e.group(admin, "Helpdesk", group.UsersRead, group.UsersWrite, group.ProfileAll)
	e.group(admin, "Auditors", group.AuditRead)
	e.group(admin, "Readers", group.UsersRead)
	_, helper := e.user(admin, "helper@example.com", helpers.ID)
	readers := e.group(admin, "Viewers", group.UsersRead)
	_, viewer := e.user(admin, "viewer@example.com", readers.ID)

	names := func(gs []group.Group) string {
		var n []string
		for _, g := range gs {
			n = append(n, g.Name)
		}
		return strings.Join(n, ",")
	}
	all, err := e.m.AssignableGroups(e.ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(all); got != "Admins,Auditors,Helpdesk,Readers,Users,Viewers" {
		t.Errorf("admin may assign %s", got)
	}
	some, err := e.m.AssignableGroups(e.ctx, helper)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(some); got != "Helpdesk,Readers,Users,Viewers" {
		t.Errorf("helper may assign %s", got)
	}
	// Each group offered is one CreateUser accepts; one left out is refused.
	for _, g := range some {
		if _, err := e.m.CreateUser(e.ctx, helper, auth.NewUser{Email: string(g.ID) + "@example.com", Password: "password-long-1", GroupID: g.ID}); err != nil {
			t.Errorf("offered %s, but CreateUser: %v", g.Name, err)
		}
	}
	if _, err := e.m.CreateUser(e.ctx, helper, auth.NewUser{Email: "no@example.com", Password: "password-long-1", GroupID: group.AdminID}); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("CreateUser in a group not offered: %v", err)
	}
	_, err = e.m.AssignableGroups(e.ctx, viewer)
	wantErr(t, err, auth.ErrForbidden)
	if ev := e.lastEvent(audit.AuthorizationDeny); ev.Actor.ID != string(viewer.User().ID) || ev.Outcome != audit.Denied {
		t.Errorf("refusal recorded as %+v", ev)
	}
}

var _ = user.ID("")
