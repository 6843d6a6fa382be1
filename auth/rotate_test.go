package auth_test

import (
	"errors"
	"testing"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/totp"
)

// Dropping the previous key while a password hash or a TOTP secret still
// needs it is refused by New, rather than starting a Manager whose logins
// fail as wrong passwords; once each user has logged in and RotateSecrets
// has run, the key can go.
func TestDropKeyTooEarly(t *testing.T) {
	newKey := []byte("a rotated secret key, 32 bytes!!")
	e := newEnv(t)
	admin := e.admin()
	e.user(admin, "bob@example.com", group.UsersID)
	secret, _ := e.enrol(&admin)
	rotate := func(c *auth.Config) { c.SecretKey, c.PreviousSecretKeys = newKey, [][]byte{testKey} }
	drop := func(c *auth.Config) { c.SecretKey, c.PreviousSecretKeys = newKey, nil }
	rotated := e.manager(e.db, rotate)

	// The admin logs in (rehashed under the new key); Bob does not yet.
	r, err := rotated.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rotated.VerifyTOTP(e.ctx, r.Challenge.Token, e.code(secret, 0), client); err != nil {
		t.Fatal(err)
	}
	_, err = auth.New(e.config(e.db, drop))
	wantErr(t, err, auth.ErrWrongSecretKey)

	if _, err := rotated.Login(e.ctx, "bob@example.com", passwordOf("bob@example.com"), client); err != nil {
		t.Fatal(err)
	}
	// Every password is under the new key, the admin's TOTP secret is not.
	_, err = auth.New(e.config(e.db, drop))
	wantErr(t, err, auth.ErrWrongSecretKey)

	if n, err := rotated.RotateSecrets(e.ctx); n != 1 || err != nil {
		t.Fatalf("RotateSecrets = %d, %v", n, err)
	}
	dropped := e.manager(e.db, drop)
	e.clk.Advance(totp.Period)
	r, err = dropped.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dropped.VerifyTOTP(e.ctx, r.Challenge.Token, e.code(secret, 0), client); err != nil {
		t.Fatalf("TOTP after the old key was dropped: %v", err)
	}
	if _, err := dropped.Login(e.ctx, "bob@example.com", passwordOf("bob@example.com"), client); err != nil {
		t.Fatalf("Bob after the old key was dropped: %v", err)
	}
	// The key check stays: a key nobody made is still refused.
	_, err = auth.New(e.config(e.db, func(c *auth.Config) { c.SecretKey = []byte("yet another key of 32 bytes, no!") }))
	if !errors.Is(err, auth.ErrWrongSecretKey) {
		t.Fatalf("an unknown key: %v", err)
	}
}

// OldKeyUsage counts password hashes under another key and in the first,
// unbound format, and a login moves them on.
func TestOldKeyUsagePasswords(t *testing.T) {
	newKey := []byte("a rotated secret key, 32 bytes!!")
	e := newEnv(t)
	admin := e.admin()
	e.user(admin, "bob@example.com", group.UsersID)
	carol, _ := e.user(admin, "carol@example.com", group.UsersID)
	h, err := e.db.Users().PasswordHash(e.ctx, carol.ID)
	if err != nil {
		t.Fatal(err)
	}
	rotated := e.manager(e.db, func(c *auth.Config) { c.SecretKey, c.PreviousSecretKeys = newKey, [][]byte{testKey} })
	u, err := rotated.OldKeyUsage(e.ctx)
	if err != nil || u.PasswordHashes != 3 || u.UnboundPasswordHashes != 0 {
		t.Fatalf("OldKeyUsage after the rotation = %+v, %v; want 3 password hashes", u, err)
	}
	// Carol's hash relabelled to the first format under the first key: it
	// no longer verifies, but it counts as such a hash would.
	if err := e.db.Users().SetPasswordHash(e.ctx, carol.ID, "$usher1$"+h[len("$usher2$"):]); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{adminEmail, "bob@example.com"} {
		pw := passwordOf(who)
		if who == adminEmail {
			pw = adminPassword
		}
		if _, err := rotated.Login(e.ctx, who, pw, client); err != nil {
			t.Fatal(err)
		}
	}
	u, err = rotated.OldKeyUsage(e.ctx)
	if err != nil || u.PasswordHashes != 1 || u.UnboundPasswordHashes != 1 {
		t.Fatalf("OldKeyUsage after two logins = %+v, %v; want Carol's hash counted twice", u, err)
	}
}
