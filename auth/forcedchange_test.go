package auth_test

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

const resetPassword = "a temporary password"

// forcedEnv makes an admin and a second admin, "boss", whose password the
// first resets and requires changed; boss then logs in with it. Boss holds
// every permission, so each refusal below is the requirement's doing.
func forcedEnv(t *testing.T) (e *env, admin *auth.Principal, bossID user.ID, boss *auth.Principal) {
	e = newEnv(t, withPasskeys)
	admin = e.admin()
	u, _ := e.user(admin, "boss@example.com", group.AdminID)
	if err := e.m.ResetPassword(e.ctx, admin, u.ID, resetPassword); err != nil {
		t.Fatal(err)
	}
	if err := e.m.RequirePasswordChange(e.ctx, admin, u.ID); err != nil {
		t.Fatal(err)
	}
	boss = e.login("boss@example.com", resetPassword) // login still works
	if !boss.MustChangePassword() || !boss.User().MustChangePassword {
		t.Fatal("boss does not owe a password change after the reset")
	}
	return e, admin, u.ID, boss
}

// forcedOps are Manager calls a principal owing a password change may not
// make, each one its group grants.
func forcedOps(e *env, adminID user.ID) map[string]func(p *auth.Principal) error {
	name := "New Name"
	return map[string]func(p *auth.Principal) error{
		"UpdateProfile": func(p *auth.Principal) error {
			_, _, err := e.m.UpdateProfile(e.ctx, p, auth.ProfileUpdate{Name: &name})
			return err
		},
		"SetAvatar": func(p *auth.Principal) error { return e.m.SetAvatar(e.ctx, p, tinyPNG(e.t)) },
		"ListUsers": func(p *auth.Principal) error { return second(e.m.ListUsers(e.ctx, p, listAll())) },
		"GetUser":   func(p *auth.Principal) error { return second(e.m.GetUser(e.ctx, p, adminID)) },
		"UserAvatar": func(p *auth.Principal) error {
			_, _, err := e.m.UserAvatar(e.ctx, p, adminID)
			return err
		},
		"ListGroups":          func(p *auth.Principal) error { return second(e.m.ListGroups(e.ctx, p)) },
		"AuditLog":            func(p *auth.Principal) error { return second(e.m.AuditLog(e.ctx, p, audit.Query{})) },
		"RevokeOtherSessions": func(p *auth.Principal) error { return second(e.m.RevokeOtherSessions(e.ctx, p)) },
		"BeginTOTP":           func(p *auth.Principal) error { return second(e.m.BeginTOTP(e.ctx, p, resetPassword)) },
		"BeginPasskeyRegistration": func(p *auth.Principal) error {
			return second(e.m.BeginPasskeyRegistration(e.ctx, p, resetPassword))
		},
		"CreateUser": func(p *auth.Principal) error {
			return second(e.m.CreateUser(e.ctx, p, auth.NewUser{Email: "x@example.com", Name: "X", Password: "password-x-long", GroupID: group.UsersID}))
		},
		"CreateGroup": func(p *auth.Principal) error {
			return second(e.m.CreateGroup(e.ctx, p, group.Group{Name: "G", Permissions: []group.Permission{group.ProfileAll}}))
		},
		"ResetPassword":         func(p *auth.Principal) error { return e.m.ResetPassword(e.ctx, p, adminID, "another password") },
		"RequirePasswordChange": func(p *auth.Principal) error { return e.m.RequirePasswordChange(e.ctx, p, adminID) },
		"SetDisabled":           func(p *auth.Principal) error { return e.m.SetDisabled(e.ctx, p, adminID, true) },
		"UnlockLogin":           func(p *auth.Principal) error { return e.m.UnlockLogin(e.ctx, p, adminID) },
	}
}

// A reset with a required change, then login: every operation but
// ChangePassword is refused with ErrPasswordChangeRequired (an ErrForbidden)
// and the refusal is audited; ChangePassword works, clears the requirement
// in its transaction, and then everything works again.
func TestRequiredPasswordChange(t *testing.T) {
	e, admin, bossID, boss := forcedEnv(t)
	ev := e.lastEvent(audit.PasswordChangeRequired)
	if ev.Actor.Email != adminEmail || ev.Target.ID != string(bossID) || ev.Outcome != audit.Success {
		t.Fatalf("password_change_required event %+v", ev)
	}
	ops := forcedOps(e, admin.User().ID)
	for name, op := range ops {
		err := op(boss)
		if !errors.Is(err, auth.ErrPasswordChangeRequired) || !errors.Is(err, auth.ErrForbidden) {
			t.Errorf("%s while a change is owed: %v, want ErrPasswordChangeRequired", name, err)
		}
	}
	for _, perm := range []group.Permission{group.UsersRead, group.ProfileManage2FA, group.ProfileUpdateName} {
		if boss.Can(perm) {
			t.Errorf("Can(%s) while a change is owed", perm)
		}
	}
	if !boss.Can(group.ProfileUpdatePassword) {
		t.Error("Can(profile:update_password) is false: the user could never change it")
	}
	if deny := e.lastEvent(audit.AuthorizationDeny); deny.Actor.Email != "boss@example.com" {
		t.Errorf("last denial %+v, want one of boss's", deny)
	}

	s, err := e.m.ChangePassword(e.ctx, boss, resetPassword, "boss's very own password")
	if err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if changed := e.lastEvent(audit.PasswordChanged); changed.Actor.Email != "boss@example.com" || changed.Outcome != audit.Success {
		t.Fatalf("password_changed event %+v", changed)
	}
	stored, err := e.db.Users().Get(e.ctx, bossID)
	if err != nil || stored.MustChangePassword {
		t.Fatalf("after ChangePassword the flag is still set (%v)", err)
	}
	boss = e.auth(s.Token)
	if boss.MustChangePassword() {
		t.Fatal("the new session still owes a change")
	}
	delete(ops, "SetDisabled") // would end the admin's sessions; checked above
	delete(ops, "ResetPassword")
	for name, op := range ops {
		if err := op(boss); errors.Is(err, auth.ErrForbidden) {
			t.Errorf("%s after the change: %v", name, err)
		}
	}
}

// The requirement binds a principal read before it was set (every write
// re-reads the actor in its transaction) and every session of the user,
// and RequirePermission and RequireLogin refuse it while RequireLoginToEnroll
// lets it through to the change-password page.
func TestRequiredPasswordChangeCannotBeSkipped(t *testing.T) {
	var gotErr error
	e := newEnv(t, func(c *auth.Config) {
		c.HTTPError = func(w http.ResponseWriter, _ *http.Request, status int, err error) {
			gotErr = err
			w.WriteHeader(status)
		}
	})
	admin := e.admin()
	u, boss := e.user(admin, "boss@example.com", group.AdminID)
	if err := e.m.RequirePasswordChange(e.ctx, admin, u.ID); err != nil {
		t.Fatal(err)
	}
	if boss.MustChangePassword() {
		t.Fatal("a principal read before the requirement reports it (it is a snapshot)")
	}
	if _, err := e.m.CreateGroup(e.ctx, boss, group.Group{Name: "G"}); !errors.Is(err, auth.ErrPasswordChangeRequired) {
		t.Fatalf("CreateGroup with a stale principal: %v, want ErrPasswordChangeRequired", err)
	}
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	serve := func(h http.Handler) int {
		gotErr = nil
		req := httptest.NewRequest("GET", "/users", nil)
		req.Header.Set("Authorization", "Bearer "+tokenOf(boss))
		rec := httptest.NewRecorder()
		e.m.Middleware(h).ServeHTTP(rec, req)
		return rec.Code
	}
	for name, h := range map[string]http.Handler{
		"RequirePermission": e.m.RequirePermission(group.UsersRead, ok),
		"RequireLogin":      e.m.RequireLogin(ok),
	} {
		if code := serve(h); code != http.StatusForbidden || !errors.Is(gotErr, auth.ErrPasswordChangeRequired) {
			t.Errorf("%s: %d, %v; want 403, ErrPasswordChangeRequired", name, code, gotErr)
		}
		if ev := e.lastEvent(audit.AuthorizationDeny); ev.Actor.Email != "boss@example.com" || ev.Target.ID != "GET /users" {
			t.Errorf("%s denial %+v", name, ev)
		}
	}
	if code := serve(e.m.RequireLoginToEnroll(ok)); code != http.StatusOK {
		t.Errorf("RequireLoginToEnroll: %d, want 200", code)
	}
	// Changing the password is allowed; a wrong current one is not a way round.
	if _, err := e.m.ChangePassword(e.ctx, boss, "wrong", "whatever password"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("ChangePassword with a wrong password: %v", err)
	}
	// An operator is never bound by it, and may require one too.
	m, op := e.operator("ops@example.com")
	if op.MustChangePassword() {
		t.Fatal("operator owes a change")
	}
	if err := m.RequirePasswordChange(e.ctx, op, admin.User().ID); err != nil {
		t.Fatalf("operator RequirePasswordChange: %v", err)
	}
}

// RequirePasswordChange needs users:write and every permission of the
// user's group, refuses the actor's own account and a group that cannot
// change its password, and records nothing when already required.
func TestRequirePasswordChangeRules(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	u, member := e.user(admin, "member@example.com", group.UsersID)
	if err := e.m.RequirePasswordChange(e.ctx, member, admin.User().ID); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("without users:write: %v", err)
	}
	if ev := e.lastEvent(audit.PasswordChangeRequired); ev.Outcome != audit.Denied {
		t.Errorf("refusal not audited: %+v", ev)
	}
	if err := e.m.RequirePasswordChange(e.ctx, admin, admin.User().ID); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("own account: %v", err)
	}
	helpers := e.group(admin, "Helpdesk", group.UsersRead, group.UsersWrite, group.ProfileAll)
	_, helper := e.user(admin, "helper@example.com", helpers.ID)
	if err := e.m.RequirePasswordChange(e.ctx, helper, admin.User().ID); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("on a user whose group grants more: %v", err)
	}
	kiosk := e.group(admin, "Kiosk", group.ProfileUpdateName)
	k, _ := e.user(admin, "kiosk@example.com", kiosk.ID)
	if err := e.m.RequirePasswordChange(e.ctx, admin, k.ID); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("group without profile:update_password: %v", err)
	}
	if err := e.m.RequirePasswordChange(e.ctx, admin, u.ID); err != nil {
		t.Fatal(err)
	}
	n := len(e.events())
	if err := e.m.RequirePasswordChange(e.ctx, admin, u.ID); err != nil {
		t.Fatal(err)
	}
	if len(e.events()) != n {
		t.Error("requiring it again recorded an event")
	}
	// ResetPassword alone leaves the flag as it is.
	if err := e.m.ResetPassword(e.ctx, admin, k.ID, resetPassword); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.db.Users().Get(e.ctx, k.ID); got.MustChangePassword {
		t.Error("ResetPassword alone set the flag")
	}
}

// tinyPNG is a valid 4×4 PNG avatar.
func tinyPNG(t *testing.T) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A user who owes both a password change and a second factor changes the
// password first (enrolling waits), then owes only the enrolment.
func TestRequiredPasswordChangeBeforeEnrolment(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	strict, err := e.m.CreateGroup(e.ctx, admin, group.Group{Name: "Strict", RequireTwoFactor: true,
		Permissions: []group.Permission{group.ProfileAll}})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := e.user(admin, "op@example.com", strict.ID)
	if err := e.m.ResetPassword(e.ctx, admin, u.ID, resetPassword); err != nil {
		t.Fatal(err)
	}
	if err := e.m.RequirePasswordChange(e.ctx, admin, u.ID); err != nil {
		t.Fatal(err)
	}
	op := e.login("op@example.com", resetPassword)
	if !op.MustChangePassword() || !op.MustEnroll() {
		t.Fatalf("owes change %v, enrolment %v; want both", op.MustChangePassword(), op.MustEnroll())
	}
	if _, err := e.m.BeginTOTP(e.ctx, op, resetPassword); !errors.Is(err, auth.ErrPasswordChangeRequired) {
		t.Fatalf("BeginTOTP before the change: %v", err)
	}
	s, err := e.m.ChangePassword(e.ctx, op, resetPassword, "op's own new password")
	if err != nil {
		t.Fatalf("ChangePassword while also owing enrolment: %v", err)
	}
	op = e.auth(s.Token)
	if op.MustChangePassword() || !op.MustEnroll() {
		t.Fatalf("after the change: owes change %v, enrolment %v", op.MustChangePassword(), op.MustEnroll())
	}
	if _, err := e.m.ListGroups(e.ctx, op); !errors.Is(err, auth.ErrEnrollmentRequired) {
		t.Fatalf("ListGroups after the change: %v, want ErrEnrollmentRequired", err)
	}
	if _, err := e.m.BeginTOTP(e.ctx, op, ""); err != nil {
		t.Fatalf("BeginTOTP after the change: %v", err)
	}
}
