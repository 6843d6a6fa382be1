package auth_test

import (
	"testing"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// Invariant 3, the check Authenticate makes itself: SetDisabled revokes the
// user's sessions, but a session that outlives the disable (a write made
// straight to the database, a store that revoked nothing, a restore from a
// backup) must still be refused, on the very next request.
func TestAuthenticateRefusesDisabledUser(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	runners := e.group(admin, "runners", "backups:run", group.ProfileUpdateName)
	u, _ := e.user(admin, "dora@example.com", runners.ID)
	r, err := e.m.Login(e.ctx, "dora@example.com", "password-dora@example.com", client)
	if err != nil {
		t.Fatal(err)
	}
	token := r.Session.Token
	stale := e.auth(token) // read while enabled, used after the disable
	if !stale.Can("backups:run") {
		t.Fatal("control: the enabled user cannot run backups")
	}
	rename := func(name string) error {
		_, err := e.m.UpdateProfile(e.ctx, stale, auth.ProfileUpdate{Name: &name})
		return err
	}
	if err := rename("Dora"); err != nil {
		t.Fatalf("control: the enabled user cannot rename itself: %v", err)
	}

	setDisabledInStore(t, e, u.ID, true)
	if _, err := e.db.Sessions().Get(e.ctx, r.Session.ID); err != nil {
		t.Fatalf("the session should outlive a disable made in the store: %v", err)
	}

	p, err := e.m.Authenticate(e.ctx, token)
	wantErr(t, err, auth.ErrUnauthenticated)
	if p != nil {
		t.Fatal("Authenticate returned a principal for a disabled user")
	}
	if p.Can("backups:run") || p.Can(group.ProfileUpdateName) {
		t.Fatal("the refused principal can act")
	}
	// A principal read before the disable, writing through the Manager,
	// is refused too: the write reads the user again.
	wantErr(t, rename("Dora D."), auth.ErrForbidden)
	// So is what needs no permission at all: ending one's own sessions.
	_, err = e.m.RevokeOtherSessions(e.ctx, stale)
	wantErr(t, err, auth.ErrForbidden)

	// Re-enabled the same way, the untouched session works again: the check
	// is made per request, not once at login.
	setDisabledInStore(t, e, u.ID, false)
	if p := e.auth(token); !p.Can("backups:run") {
		t.Fatal("re-enabled user cannot run backups")
	}
}

// setDisabledInStore flips Disabled in the store, bypassing
// Manager.SetDisabled and the session revocation it does.
func setDisabledInStore(t *testing.T, e *env, id user.ID, disabled bool) {
	t.Helper()
	u, err := e.db.Users().Get(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	u.Disabled = disabled
	if err := e.db.Users().Update(e.ctx, u); err != nil {
		t.Fatal(err)
	}
}
