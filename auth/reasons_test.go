package auth_test

import (
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
)

// The reasons usher records read as sentences, from the events as
// written: a refusal names the permission by its label.
func TestReasonText(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	_, p := e.user(admin, "fay@example.com", group.UsersID)
	if _, err := e.m.ListUsers(e.ctx, p, listAll()); err == nil {
		t.Fatal("ListUsers without users:read succeeded")
	}
	if _, err := e.m.Login(e.ctx, "fay@example.com", "not her password", client); err == nil {
		t.Fatal("wrong password accepted")
	}
	if err := e.m.DeleteUser(e.ctx, admin, admin.User().ID); err == nil {
		t.Fatal("the last admin deleted")
	}
	cases := []struct {
		action audit.Action
		want   string
	}{
		{audit.AuthorizationDeny, "Lacked the permission \u201cView users\u201d (users:read)."},
		{audit.LoginFailed, "Wrong password."},
		{audit.UserDeleted, "It would have left no enabled administrator."},
	}
	for _, c := range cases {
		ev := e.lastEvent(c.action)
		if got := e.m.ReasonText(ev.Reason); got != c.want {
			t.Errorf("%s: reason %q reads %q, want %q", c.action, ev.Reason, got, c.want)
		}
	}
	for reason, want := range map[string]string{
		"auth: too many attempts, retry after 30s": "Too many attempts: told to wait 30s.",
		"auth: forbidden: needs reports:export":    "Lacked the permission reports:export.",
		"auth: forbidden: needs backups:run":       "Lacked the permission \u201cRun backups\u201d (backups:run).",
		"the provider said no":                     "the provider said no",
	} {
		if got := e.m.ReasonText(reason); got != want {
			t.Errorf("ReasonText(%q) = %q, want %q", reason, got, want)
		}
	}
}
