package auth_test

import (
	"testing"

	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// TwoFactorStatus and ListUsers count, as the Manager's decisions
// (Challenge.Methods, MustEnroll) do, only passkeys whose MAC verifies: a
// user whose only passkey is a forged row is not told "2FA on".
func TestPasskeyStatusIgnoresForgedPasskeys(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	g, err := e.m.CreateGroup(e.ctx, admin, group.Group{Name: "Operators", RequireTwoFactor: true,
		Permissions: []group.Permission{group.ProfileManagePasskeys, group.ProfileManage2FA}})
	if err != nil {
		t.Fatal(err)
	}
	du, _ := e.user(admin, "dave@example.com", g.ID)
	e.forge(du.ID, e.device(), "", nil)
	dave := e.login("dave@example.com", passwordOf("dave@example.com"))
	if !dave.MustEnroll() {
		t.Fatal("forged passkey counted by the policy")
	}
	st, err := e.m.TwoFactorStatus(e.ctx, dave)
	if err != nil {
		t.Fatal(err)
	}
	if st.Passkeys != 0 {
		t.Errorf("TwoFactorStatus.Passkeys = %d for a user who MustEnroll (only a forged row)", st.Passkeys)
	}
	page, err := e.m.ListUsers(e.ctx, admin, user.Query{Limit: user.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range page.Users {
		if u.ID == du.ID && u.Passkeys != 0 {
			t.Errorf("ListUsers shows dave with %d passkeys", u.Passkeys)
		}
	}
}
