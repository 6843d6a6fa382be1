package main

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/store/sqlite"
	"github.com/usher-go/usher/totp"
)

// TestKeyRotationSteps runs the steps of "Rotating the secret key" in the
// top-level README through this app's key loading and pages and through
// adminctl, built as the operator would run it.
func TestKeyRotationSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("builds adminctl")
	}
	dir := t.TempDir()
	dbPath, keyPath, oldPath := filepath.Join(dir, "usher-webapp.db"), filepath.Join(dir, "usher-webapp.key"), filepath.Join(dir, "usher-webapp.key.old")
	adminctl := filepath.Join(dir, "adminctl")
	if out, err := exec.Command("go", "build", "-o", adminctl, "../adminctl").CombinedOutput(); err != nil {
		t.Fatalf("building adminctl: %v\n%s", err, out)
	}
	ctl := func(args ...string) (string, error) {
		out, err := exec.Command(adminctl, append([]string{"-db", dbPath, "-key", keyPath}, args...)...).CombinedOutput()
		return string(out), err
	}
	clock := &fakeClock{t: time.Now()}

	// Before: the app made its key on the first run; the admin has TOTP,
	// Bob a password.
	a, err := startApp(t, dbPath, keyPath, clock)
	if err != nil {
		t.Fatal(err)
	}
	admin := a.signup()
	secret, _ := enrolTOTP(t, a, admin)
	createUser(t, admin, "bob@example.com", "Bob", "bob's long password", string(group.UsersID))
	a.stop()

	// 1. Move the current key to the previous one; 2. a new key.
	if err := os.Rename(keyPath, oldPath); err != nil {
		t.Fatal(err)
	}
	newKey := make([]byte, 32)
	rand.Read(newKey)
	if err := os.WriteFile(keyPath, newKey, 0o600); err != nil {
		t.Fatal(err)
	}
	// 3. Restart with -previous-key: logins work as before.
	a, err = startApp(t, dbPath, keyPath, clock, oldPath)
	if err != nil {
		t.Fatalf("restart with the previous key: %v", err)
	}
	a.loginTOTP(secret)
	// 4. adminctl rotate-secrets re-seals the TOTP secret.
	if out, err := ctl("-previous-key", oldPath, "rotate-secrets"); err != nil || !strings.Contains(out, "moved 1 TOTP secrets, passkeys and provider secrets to the current key") {
		t.Fatalf("rotate-secrets: %v\n%s", err, out)
	}
	a.loginTOTP(secret)
	// 5. adminctl old-keys: Bob has not logged in, so keep the old key.
	out, err := ctl("-previous-key", oldPath, "old-keys")
	if err != nil || !hasRow(out, "password hashes under a previous key", "1") || !hasRow(out, "TOTP secrets under a previous key", "0") ||
		!strings.Contains(out, "keep the previous keys") {
		t.Fatalf("old-keys before Bob logged in: %v\n%s", err, out)
	}
	// Dropping the old key now is refused at start, not at each login.
	a.stop()
	if _, err := startApp(t, dbPath, keyPath, clock); !errors.Is(err, auth.ErrWrongSecretKey) {
		t.Fatalf("start without the previous key while Bob's hash needs it: %v", err)
	}
	if out, err := ctl("users"); err == nil {
		t.Fatalf("adminctl without the previous key:\n%s", out)
	}
	a, err = startApp(t, dbPath, keyPath, clock, oldPath)
	if err != nil {
		t.Fatal(err)
	}
	a.login("bob@example.com", "bob's long password")
	out, err = ctl("-previous-key", oldPath, "old-keys")
	if err != nil || !hasRow(out, "password hashes under a previous key", "0") || !strings.Contains(out, "the previous keys can be dropped") {
		t.Fatalf("old-keys after Bob logged in: %v\n%s", err, out)
	}
	// 6. Drop the old key: restart without -previous-key.
	a.stop()
	a, err = startApp(t, dbPath, keyPath, clock)
	if err != nil {
		t.Fatalf("start after the rotation, without the old key: %v", err)
	}
	a.loginTOTP(secret)
	a.login("bob@example.com", "bob's long password")
	if out, err := ctl("users"); err != nil || !strings.Contains(out, "bob@example.com") {
		t.Fatalf("adminctl with the new key alone: %v\n%s", err, out)
	}
}

// startApp starts the app as run does, on the database and key files
// given, with a low bcrypt cost and the test's clock.
func startApp(t *testing.T, dbPath, keyPath string, clock *fakeClock, previousPaths ...string) (*app, error) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	key, previous, err := loadKeys(ctx, db, keyPath, previousPaths)
	if err != nil {
		db.Close()
		return nil, err
	}
	s, err := newServer(db, slog.New(slog.DiscardHandler), func(cfg *auth.Config) {
		cfg.SecretKey, cfg.PreviousSecretKeys = key, previous
		cfg.BcryptCost, cfg.InsecureLowBcryptCostForTests = 4, true
		cfg.Now = clock.Now
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	srv := httptest.NewTLSServer(s.handler())
	a := &app{t: t, s: s, srv: srv, clock: clock}
	a.closers = append(a.closers, srv.Close, func() { db.Close() })
	t.Cleanup(a.stop)
	return a, nil
}

// stop ends the app; stopping twice is harmless.
func (a *app) stop() {
	for _, c := range a.closers {
		c()
	}
	a.closers = nil
}

// loginTOTP logs the admin in with the password and a fresh TOTP code.
func (a *app) loginTOTP(secret []byte) {
	a.t.Helper()
	a.clock.Add(totp.Period) // a code works once
	b := a.browser()
	want(a.t, "first step", b.post("/login", "email", "admin@example.com", "password", adminPassword), http.StatusOK, "Code from your authenticator app")
	code, _ := totp.Code(secret, a.clock.Now(), totp.Digits)
	want(a.t, "second step", b.post("/login/2fa", "method", "totp", "code", code), http.StatusOK, "<h1>Dashboard</h1>")
}

// hasRow reports whether out has a line starting with label whose next
// field is value.
func hasRow(out, label, value string) bool {
	for line := range strings.Lines(out) {
		if rest, ok := strings.CutPrefix(line, label); ok {
			return strings.Fields(rest)[0] == value
		}
	}
	return false
}
