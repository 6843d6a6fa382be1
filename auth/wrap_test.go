package auth_test

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// Invariant 4: someone who can write the database but lacks the key
// writes a plain bcrypt hash of a password they chose into the admin's
// row. It does not log in.
func TestPlainBcryptWrittenToStoreRefused(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	plain, err := bcrypt.GenerateFromPassword([]byte("chosen by mallory"), 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.Users().SetPasswordHash(e.ctx, admin.User().ID, string(plain)); err != nil {
		t.Fatal(err)
	}
	_, err = e.m.Login(e.ctx, adminEmail, "chosen by mallory", client)
	wantErr(t, err, auth.ErrInvalidCredentials)
}

// Invariant 4: bob's first-format hash (bound to no account), whose
// password the attacker knows, copied into the admin's row does not log
// in; nor does bob's hash once New has wrapped it for bob.
func TestLegacyHashCopiedToAdminRefused(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	bob, _ := e.user(admin, "bob@example.com", group.UsersID)
	v1 := auth.HashV1(e.m, "bob's password")
	if err := e.db.Users().SetPasswordHash(e.ctx, admin.User().ID, v1); err != nil {
		t.Fatal(err)
	}
	_, err := e.m.Login(e.ctx, adminEmail, "bob's password", client)
	wantErr(t, err, auth.ErrInvalidCredentials)

	// Bob's own hash, as an old database held it, wrapped at start.
	if err := e.db.Users().SetPasswordHash(e.ctx, bob.ID, v1); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Users().SetPasswordHash(e.ctx, admin.User().ID, ""); err != nil {
		t.Fatal(err)
	}
	m := e.manager(e.db)
	wrapped, err := e.db.Users().PasswordHash(e.ctx, bob.ID)
	if err != nil || !strings.HasPrefix(wrapped, "$usher2w$") {
		t.Fatalf("bob's hash after New: %.12q, %v", wrapped, err)
	}
	if err := e.db.Users().SetPasswordHash(e.ctx, admin.User().ID, wrapped); err != nil {
		t.Fatal(err)
	}
	_, err = m.Login(e.ctx, adminEmail, "bob's password", client)
	wantErr(t, err, auth.ErrInvalidCredentials)
	if _, err := m.Login(e.ctx, "bob@example.com", "bob's password", client); err != nil {
		t.Fatalf("bob with his own wrapped hash: %v", err)
	}
}

// An existing database whose users still have first-format and imported
// plain bcrypt hashes keeps working: New wraps them (one audit event with
// the count), those users log in, and their hashes end in the current
// format.
func TestLegacyHashesWrappedAtStart(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	v, _ := e.user(admin, "v1@example.com", group.UsersID)
	p, _ := e.user(admin, "plain@example.com", group.UsersID)
	plain, err := bcrypt.GenerateFromPassword([]byte("imported password"), 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.Users().SetPasswordHash(e.ctx, v.ID, auth.HashV1(e.m, "old password")); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Users().SetPasswordHash(e.ctx, p.ID, string(plain)); err != nil {
		t.Fatal(err)
	}
	m := e.manager(e.db)
	if ev := e.lastEvent(audit.PasswordsWrapped); ev.Details[audit.DetailWrapped] != float64(2) {
		t.Fatalf("wrap event details %v, want 2 wrapped", ev.Details)
	}
	for _, c := range []struct{ email, pw string }{{"v1@example.com", "old password"}, {"plain@example.com", "imported password"}} {
		if _, err := m.Login(e.ctx, c.email, c.pw, client); err != nil {
			t.Fatalf("%s after New: %v", c.email, err)
		}
		u, _ := e.db.Users().GetByEmail(e.ctx, c.email)
		if h, err := e.db.Users().PasswordHash(e.ctx, u.ID); err != nil || !strings.HasPrefix(h, "$usher2$") {
			t.Fatalf("%s hash after login: %.12q, %v; want format 2", c.email, h, err)
		}
	}
	// A second start finds nothing to wrap and records nothing.
	before := len(e.events())
	e.manager(e.db)
	if n := len(e.events()); n != before {
		t.Errorf("a start with nothing to wrap wrote %d events", n-before)
	}
}

// The import path: an admin imports a bcrypt hash from another system; it
// verifies at once (no restart), is upgraded at the first login, ends the
// user's sessions, and is audited. What is not bcrypt is refused, naming
// the field; nobody imports their own password.
func TestImportPasswordHash(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	u, bob := e.user(admin, "bob@example.com", group.UsersID)
	plain, err := bcrypt.GenerateFromPassword([]byte("bob's old system password"), 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.m.ImportPasswordHash(e.ctx, admin, u.ID, string(plain)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Authenticate(e.ctx, tokenOf(bob)); err == nil {
		t.Error("bob's session survived the import")
	}
	if ev := e.lastEvent(audit.PasswordImported); ev.Target.ID != string(u.ID) {
		t.Fatalf("event %+v", ev)
	}
	e.login("bob@example.com", "bob's old system password")
	if h, _ := e.db.Users().PasswordHash(e.ctx, u.ID); !strings.HasPrefix(h, "$usher2$") {
		t.Fatalf("imported hash not upgraded at login: %.12s", h)
	}
	for _, bad := range []string{"", "not a hash", "$usher1$k$" + string(plain), strings.Repeat("$2a$", 100)} {
		err := e.m.ImportPasswordHash(e.ctx, admin, u.ID, bad)
		wantErr(t, err, auth.ErrInvalidPasswordHash)
		wantField(t, err, auth.FieldPasswordHash)
	}
	wantErr(t, e.m.ImportPasswordHash(e.ctx, admin, admin.User().ID, string(plain)), auth.ErrForbidden)
	bob = e.login("bob@example.com", "bob's old system password")
	wantErr(t, e.m.ImportPasswordHash(e.ctx, bob, admin.User().ID, string(plain)), auth.ErrForbidden)
}
