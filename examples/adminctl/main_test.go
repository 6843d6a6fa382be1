package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
)

// TestRecovery plays the locked-out admin: its password is forgotten and
// its login backed off; adminctl resets both, and every step is audited as
// the operator.
func TestRecovery(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath, keyPath := filepath.Join(dir, "users.db"), filepath.Join(dir, "usher.key")
	key := []byte("0123456789abcdef0123456789abcdef")
	if err := os.WriteFile(keyPath, key, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	configure = func(c *auth.Config) { c.BcryptCost, c.InsecureLowBcryptCostForTests = 4, true }
	app, err := auth.New(auth.Config{Store: db, SecretKey: key, BcryptCost: 4, InsecureLowBcryptCostForTests: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.SignUp(ctx, auth.SignUp{Email: "admin@example.com", Name: "Ada", Password: "forgotten password"}, auth.Client{}); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		_, _ = app.Login(ctx, "admin@example.com", "a wrong guess", auth.Client{})
	}

	ctl := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"-db", dbPath, "-key", keyPath, "-as", "tester"}, args...), strings.NewReader(stdin), &out)
		return out.String(), err
	}
	out, err := ctl("", "users")
	if err != nil || !strings.Contains(out, "admin@example.com") || !strings.Contains(out, "Admins") {
		t.Fatalf("users: %v\n%s", err, out)
	}
	if _, err := ctl("the new password\n", "reset-password", "Admin@Example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl("", "unlock", "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Login(ctx, "admin@example.com", "the new password", auth.Client{}); err != nil {
		t.Fatalf("login after recovery: %v", err)
	}
	// The invariants hold for the operator too.
	if _, err := ctl("", "disable", "admin@example.com"); !errors.Is(err, auth.ErrLastAdmin) {
		t.Fatalf("disable the last admin: %v", err)
	}
	out, err = ctl("", "-generate", "create-admin", "second@example.com")
	if err != nil || !strings.Contains(out, "new password: ") {
		t.Fatalf("create-admin: %v\n%s", err, out)
	}
	if _, err := ctl("", "reset-password", "nobody@example.com"); err == nil {
		t.Fatal("reset of an unknown user succeeded")
	}
	if _, err := ctl("", "reset-password", "admin@example.com"); err == nil {
		t.Fatal("reset without a password on stdin succeeded")
	}
	out, err = ctl("", "audit", "50")
	if err != nil || !strings.Contains(out, "user.password_reset") || !strings.Contains(out, "adminctl:tester") {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	if _, err := ctl("", "frobnicate"); err == nil {
		t.Fatal("unknown command accepted")
	}
	if err := run(ctx, []string{"-db", filepath.Join(dir, "missing.db"), "-key", keyPath, "users"}, strings.NewReader(""), &bytes.Buffer{}); err == nil {
		t.Fatal("a missing database was created instead of refused")
	}
}
