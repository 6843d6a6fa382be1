package postgres_test

import (
	"errors"
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// A password change an administrator required, on PostgreSQL and across
// instances: required through instance 0, the user logs in on instance 1
// owing it (the session lookup reads the flag), is refused everything else
// there, changes it there, and instance 0 then lets the new session act.
func TestRequiredPasswordChangeAcrossInstances(t *testing.T) {
	p := newPair(t)
	admin, _ := p.admin(t)
	ctx := t.Context()
	u, err := p.m[0].CreateUser(ctx, admin[0], auth.NewUser{Email: "boss@example.com", Name: "Boss",
		Password: "boss first password", GroupID: group.AdminID})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.m[0].ResetPassword(ctx, admin[0], u.ID, "temporary password"); err != nil {
		t.Fatal(err)
	}
	if err := p.m[0].RequirePasswordChange(ctx, admin[0], u.ID); err != nil {
		t.Fatal(err)
	}
	boss, err := p.m[1].Authenticate(ctx, p.login(t, 1, "boss@example.com", "temporary password"))
	if err != nil {
		t.Fatal(err)
	}
	if !boss.MustChangePassword() {
		t.Fatal("logged in without owing the change")
	}
	if _, err := p.m[1].ListUsers(ctx, boss, user.Query{}); !errors.Is(err, auth.ErrPasswordChangeRequired) {
		t.Fatalf("ListUsers: %v, want ErrPasswordChangeRequired", err)
	}
	if _, err := p.m[1].CreateGroup(ctx, boss, group.Group{Name: "G"}); !errors.Is(err, auth.ErrPasswordChangeRequired) {
		t.Fatalf("CreateGroup: %v, want ErrPasswordChangeRequired", err)
	}
	s, err := p.m[1].ChangePassword(ctx, boss, "temporary password", "boss own new password")
	if err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	boss, err = p.m[0].Authenticate(ctx, s.Token)
	if err != nil || boss.MustChangePassword() {
		t.Fatalf("after the change: %v, owes %v", err, boss.MustChangePassword())
	}
	if _, err := p.m[0].ListUsers(ctx, boss, user.Query{}); err != nil {
		t.Fatalf("ListUsers after the change: %v", err)
	}
	page, err := p.db[0].Audit().Query(ctx, mustNormalize(t, audit.Query{Action: audit.PasswordChangeRequired}))
	if err != nil || len(page.Events) != 1 || page.Events[0].Target.ID != string(u.ID) {
		t.Fatalf("password_change_required events %+v, %v", page.Events, err)
	}
}

func mustNormalize(t *testing.T, q audit.Query) audit.Query {
	t.Helper()
	n, err := q.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
