package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/internal/passkeytest"
	"github.com/usher-go/usher/oidc"
	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/store/sqlite"
	"github.com/usher-go/usher/user"
)

// mainArgs, set in the environment, makes the test binary run main with
// these arguments (one a line) instead of the tests, so that a test can
// see adminctl's exit status.
const mainArgs = "ADMINCTL_TEST_MAIN_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(mainArgs); ok {
		os.Args = append([]string{"adminctl"}, strings.Split(args, "\n")...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestCreateAdminOnFreshDatabase: the operator makes the first admin of a
// database nobody signed up to yet; it needs no setup token, and sign-up
// is closed afterwards.
func TestCreateAdminOnFreshDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath, keyPath := filepath.Join(dir, "users.db"), filepath.Join(dir, "usher.key")
	if err := os.WriteFile(keyPath, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The application ran once: the database exists, with nobody in it.
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	app, err := auth.New(auth.Config{Store: db, SecretKey: []byte("0123456789abcdef0123456789abcdef"), BcryptCost: 4, InsecureLowBcryptCostForTests: true})
	if err != nil {
		t.Fatal(err)
	}
	setup, _, err := app.SetupToken(ctx)
	if err != nil || setup == "" {
		t.Fatalf("SetupToken on a fresh database: %q, %v", setup, err)
	}
	configure = func(c *auth.Config) { c.BcryptCost, c.InsecureLowBcryptCostForTests = 4, true }
	var out bytes.Buffer
	err = run(ctx, []string{"-db", dbPath, "-key", keyPath, "-as", "tester", "create-admin", "first@example.com"},
		strings.NewReader("the first admin's password\n"), &out)
	if err != nil {
		t.Fatalf("create-admin: %v\n%s", err, out.String())
	}
	r, err := app.Login(ctx, "first@example.com", "the first admin's password", auth.Client{})
	if err != nil {
		t.Fatalf("login as the admin adminctl made: %v", err)
	}
	if p, err := app.Authenticate(ctx, r.Session.Token); err != nil || !p.Can(group.All) {
		t.Fatalf("the admin adminctl made: %v, %v", p, err)
	}
	if tok, _, _ := app.SetupToken(ctx); tok != "" {
		t.Fatal("a setup token on a database with an admin")
	}
	_, err = app.SignUp(ctx, auth.SignUp{Email: "eve@example.com", Password: "eve's long password", BootstrapToken: setup}, auth.Client{})
	if !errors.Is(err, auth.ErrSignupClosed) {
		t.Fatalf("sign-up with the old setup token: %v, want ErrSignupClosed", err)
	}
}

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
	app, err := auth.New(auth.Config{Store: db, SecretKey: key, BcryptCost: 4, InsecureLowBcryptCostForTests: true,
		InsecureOpenFirstSignup: true})
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

// TestPasskeys lists and deletes passkeys registered through the
// application's Manager. adminctl's own Manager has no passkey settings
// (it does not know the relying party): listing and deleting work without.
func TestPasskeys(t *testing.T) {
	ctx := context.Background()
	dbPath, keyPath, key, db := ctlFiles(t)
	defer db.Close()
	const rpID, origin = "localhost", "http://localhost:8080"
	app, err := auth.New(auth.Config{Store: db, SecretKey: key, BcryptCost: 4, InsecureLowBcryptCostForTests: true,
		InsecureOpenFirstSignup: true, Passkeys: auth.PasskeyConfig{RPID: rpID, Origins: []string{origin}}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := app.SignUp(ctx, auth.SignUp{Email: "admin@example.com", Password: "admin's long password"}, auth.Client{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := app.Authenticate(ctx, s.Token)
	if err != nil {
		t.Fatal(err)
	}
	bobUser, err := app.CreateUser(ctx, admin, auth.NewUser{Email: "bob@example.com", Password: "bob's long password", GroupID: group.UsersID})
	if err != nil {
		t.Fatal(err)
	}
	res, err := app.Login(ctx, "bob@example.com", "bob's long password", auth.Client{})
	if err != nil {
		t.Fatal(err)
	}
	bob := res.Session.Token
	// register adds d to bob's account, as the application's pages would.
	register := func(d *passkeytest.Device, name string) *passkey.Credential {
		t.Helper()
		p, err := app.Authenticate(ctx, bob)
		if err != nil {
			t.Fatal(err)
		}
		c, err := app.BeginPasskeyRegistration(ctx, p, "")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := d.Register(c.Options)
		if err != nil {
			t.Fatal(err)
		}
		cred, s, err := app.FinishPasskeyRegistration(ctx, p, c.ID, resp, name)
		if err != nil {
			t.Fatal(err)
		}
		bob = s.Token
		return cred
	}
	passwordless := func(d *passkeytest.Device) error {
		t.Helper()
		c, err := app.BeginPasskeyLogin(ctx, auth.Client{})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := d.Assert(c.Options)
		if err != nil {
			t.Fatal(err)
		}
		_, err = app.FinishPasskeyLogin(ctx, c.ID, resp, auth.Client{})
		return err
	}
	newDevice := func() *passkeytest.Device {
		d, err := passkeytest.New(rpID, origin)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	laptop, phone := newDevice(), newDevice()
	phone.Auth.Options.BackupEligible, phone.Auth.Options.BackupState = true, true
	lc := register(laptop, "Bob's laptop")
	pc := register(phone, "Bob's phone")
	if err := passwordless(phone); err != nil {
		t.Fatal(err)
	}

	ctl := ctlRunner(ctx, dbPath, keyPath, "")
	out, err := ctl("passkeys", "Bob@Example.com")
	if err != nil {
		t.Fatalf("passkeys: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "LAST USED") {
		t.Fatalf("passkeys: want a header and two rows:\n%s", out)
	}
	// Each row: the ID, the name, the creation time, the last use (or
	// "never") and the kind.
	stamp := regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`)
	for _, want := range []struct {
		line, id, name, kind string
		times                int
	}{
		{lines[1], lc.ID, "Bob's laptop", "device-bound", 1},
		{lines[2], pc.ID, "Bob's phone", "synced", 2},
	} {
		f := want.line
		if !strings.HasPrefix(f, want.id+" ") || !strings.Contains(f, want.name) || !strings.HasSuffix(f, " "+want.kind) ||
			len(stamp.FindAllString(f, -1)) != want.times || strings.Contains(f, "never") != (want.times == 1) {
			t.Errorf("passkeys row %q: want %s, %q, %d times, %s", f, want.id, want.name, want.times, want.kind)
		}
	}
	if out, err := ctl("users"); err != nil || !strings.Contains(out, "2 passkeys") {
		t.Errorf("users: %v\n%s", err, out)
	}
	if out, err := ctl("passkeys", "admin@example.com"); err != nil || strings.TrimSpace(out) != "no passkeys" {
		t.Errorf("passkeys of the admin: %v\n%s", err, out)
	}

	// Delete the laptop's: it no longer logs in, the phone's still does,
	// and the audit trail names the operator, the user and the passkey.
	out, err = ctl("delete-passkey", "bob@example.com", lc.ID)
	if err != nil || !strings.Contains(out, "Bob's laptop") {
		t.Fatalf("delete-passkey: %v\n%s", err, out)
	}
	if err := passwordless(laptop); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("login with the deleted passkey: %v", err)
	}
	if err := passwordless(phone); err != nil {
		t.Errorf("login with the other passkey: %v", err)
	}
	page, err := app.AuditLog(ctx, admin, audit.Query{Action: audit.PasskeyDeleted})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("passkey.deleted events: %+v, %v", page, err)
	}
	ev := page.Events[0]
	if ev.Outcome != audit.Success || ev.Actor.Email != "adminctl:tester" || ev.Target.ID != string(bobUser.ID) ||
		ev.Details[audit.DetailPasskeyID] != lc.ID || ev.Details[audit.DetailName] != "Bob's laptop" {
		t.Errorf("passkey.deleted event %+v", ev)
	}
	if out, err := ctl("passkeys", "bob@example.com"); err != nil || strings.Contains(out, lc.ID) || !strings.Contains(out, pc.ID) {
		t.Errorf("passkeys after delete: %v\n%s", err, out)
	}

	// Refusals: clear errors, nothing deleted.
	if _, err := ctl("passkeys", "nobody@example.com"); !errors.Is(err, user.ErrNotFound) || !strings.Contains(err.Error(), "nobody@example.com") {
		t.Errorf("passkeys of an unknown email: %v", err)
	}
	if _, err := ctl("delete-passkey", "nobody@example.com", pc.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("delete-passkey of an unknown email: %v", err)
	}
	for _, id := range []string{lc.ID, "no-such-id", ""} { // deleted already, never was, empty
		_, err := ctl("delete-passkey", "bob@example.com", id)
		if !errors.Is(err, passkey.ErrNotFound) || !strings.Contains(err.Error(), "bob@example.com") {
			t.Errorf("delete-passkey %q: %v", id, err)
		}
	}
	// Bob's passkey under the admin's email is not the admin's.
	if _, err := ctl("delete-passkey", "admin@example.com", pc.ID); !errors.Is(err, passkey.ErrNotFound) {
		t.Errorf("delete-passkey under another email: %v", err)
	}
	for _, args := range [][]string{{"delete-passkey", "bob@example.com"}, {"delete-passkey"}, {"passkeys"}, {"passkeys", "a@example.com", "b@example.com"}} {
		if _, err := ctl(args...); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	if n, err := db.Passkeys().Count(ctx, bobUser.ID); err != nil || n != 1 {
		t.Errorf("bob has %d passkeys (%v), want 1", n, err)
	}

	// The command itself exits non-zero with the reason on stderr.
	for _, tc := range []struct{ args, stderr string }{
		{"passkeys\nnobody@example.com", "not found"},
		{"delete-passkey\nbob@example.com\nno-such-id", `no passkey with the ID "no-such-id"`},
		{"passkeys\nbob@example.com", ""},
	} {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), mainArgs+"=-db\n"+dbPath+"\n-key\n"+keyPath+"\n"+tc.args)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case tc.stderr == "" && err != nil:
			t.Errorf("adminctl %q: %v\n%s", tc.args, err, stderr.String())
		case tc.stderr != "" && (!errors.As(err, &ee) || ee.ExitCode() == 0 || !strings.Contains(stderr.String(), tc.stderr)):
			t.Errorf("adminctl %q: %v, stderr %q; want a non-zero exit saying %q", tc.args, err, stderr.String(), tc.stderr)
		}
	}

	// reset-2fa: the admin has no second factor, so nothing is reset or
	// audited; Bob's remaining passkey goes, audited.
	out, err = ctl("reset-2fa", "Admin@Example.com")
	if err != nil || strings.TrimSpace(out) != "admin@example.com has no second factor; nothing to reset" {
		t.Errorf("reset-2fa without a second factor: %v\n%s", err, out)
	}
	if page, err := app.AuditLog(ctx, admin, audit.Query{Action: audit.TwoFactorReset}); err != nil || len(page.Events) != 0 {
		t.Errorf("reset-2fa without a second factor audited: %+v, %v", page.Events, err)
	}
	out, err = ctl("reset-2fa", "bob@example.com")
	if err != nil || !strings.Contains(out, "second factors removed") {
		t.Errorf("reset-2fa: %v\n%s", err, out)
	}
	if n, err := db.Passkeys().Count(ctx, bobUser.ID); err != nil || n != 0 {
		t.Errorf("bob has %d passkeys (%v) after reset-2fa, want 0", n, err)
	}
	if page, err := app.AuditLog(ctx, admin, audit.Query{Action: audit.TwoFactorReset}); err != nil || len(page.Events) != 1 {
		t.Errorf("reset-2fa events: %+v, %v", page.Events, err)
	}
	if _, err := ctl("reset-2fa", "nobody@example.com"); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("reset-2fa of an unknown email: %v", err)
	}
	if _, err := ctl("reset-2fa"); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("reset-2fa without an email: %v", err)
	}
}

// TestOldKeysPasskeys rotates the key under a registered passkey: old-keys
// counts it until rotate-secrets re-MACs it, and the previous key can go
// only once nothing (the admin's password hash included) needs it.
func TestOldKeysPasskeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath, oldPath, keyPath := filepath.Join(dir, "users.db"), filepath.Join(dir, "old.key"), filepath.Join(dir, "usher.key")
	oldKey, newKey := []byte("0123456789abcdef0123456789abcdef"), []byte("a rotated secret key, 32 bytes!!")
	for path, k := range map[string][]byte{oldPath: oldKey, keyPath: newKey} {
		if err := os.WriteFile(path, k, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	configure = func(c *auth.Config) { c.BcryptCost, c.InsecureLowBcryptCostForTests = 4, true }
	const rpID, origin = "localhost", "http://localhost:8080"
	app := func(key []byte, previous ...[]byte) *auth.Manager {
		t.Helper()
		m, err := auth.New(auth.Config{Store: db, SecretKey: key, PreviousSecretKeys: previous, BcryptCost: 4,
			InsecureLowBcryptCostForTests: true, InsecureOpenFirstSignup: true, Passkeys: auth.PasskeyConfig{RPID: rpID, Origins: []string{origin}}})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := app(oldKey)
	s, err := m.SignUp(ctx, auth.SignUp{Email: "admin@example.com", Password: "admin's long password"}, auth.Client{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Authenticate(ctx, s.Token)
	if err != nil {
		t.Fatal(err)
	}
	d, err := passkeytest.New(rpID, origin)
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.BeginPasskeyRegistration(ctx, p, "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := d.Register(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.FinishPasskeyRegistration(ctx, p, c.ID, resp, ""); err != nil {
		t.Fatal(err)
	}

	ctl := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		err := run(ctx, append([]string{"-db", dbPath, "-key", keyPath, "-previous-key", oldPath, "-as", "tester"}, args...),
			strings.NewReader(""), &out)
		if err != nil {
			t.Fatalf("%s: %v\n%s", args[0], err, out.String())
		}
		return out.String()
	}
	row := func(out, label string) string {
		for line := range strings.Lines(out) {
			if rest, ok := strings.CutPrefix(line, label); ok {
				return strings.Fields(rest)[0]
			}
		}
		return ""
	}
	const label = "passkeys under a previous key or none"
	if out := ctl("old-keys"); row(out, label) != "1" || !strings.Contains(out, "keep the previous keys") {
		t.Fatalf("old-keys before rotate-secrets: want 1 passkey:\n%s", out)
	}
	if out := ctl("rotate-secrets"); !strings.Contains(out, "moved 1 TOTP secrets, passkeys and provider secrets") {
		t.Fatalf("rotate-secrets:\n%s", out)
	}
	if out := ctl("old-keys"); row(out, label) != "0" || !strings.Contains(out, "keep the previous keys") {
		t.Fatalf("old-keys after rotate-secrets, the password hash still under the old key:\n%s", out)
	}
	// The admin logs in under the new key: the password hash moves too.
	if r, err := app(newKey, oldKey).Login(ctx, "admin@example.com", "admin's long password", auth.Client{}); err != nil || r.Challenge == nil {
		t.Fatalf("login: %+v, %v", r, err)
	}
	if out := ctl("old-keys"); row(out, label) != "0" || !strings.Contains(out, "the previous keys can be dropped") {
		t.Fatalf("old-keys once nothing needs the old key:\n%s", out)
	}
	// And the passkey logs in with the new key alone.
	m = app(newKey)
	lc, err := m.BeginPasskeyLogin(ctx, auth.Client{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err = d.Assert(lc.Options); err != nil {
		t.Fatal(err)
	}
	if _, err := m.FinishPasskeyLogin(ctx, lc.ID, resp, auth.Client{}); err != nil {
		t.Fatalf("passkey login with the new key alone: %v", err)
	}
}

// With password login off while a provider is enabled, adminctl takes the
// provider out of service and passwords work again; it needs none of the
// application's sign-on settings.
func TestSSODisable(t *testing.T) {
	ctx := context.Background()
	dbPath, keyPath, key, db := ctlFiles(t)
	defer db.Close()
	app, err := auth.New(auth.Config{Store: db, SecretKey: key, BcryptCost: 4, InsecureLowBcryptCostForTests: true,
		SSO: auth.SSOConfig{CallbackURL: "http://localhost:8080/sso/{id}/callback"}, DisablePasswordLogin: true,
		InsecureOpenFirstSignup: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := app.SignUp(ctx, auth.SignUp{Email: "admin@example.com", Password: "admin's long password"}, auth.Client{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := app.Authenticate(ctx, s.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.CreateProvider(ctx, admin, oidc.Provider{ID: "corp", Name: "Corp", Issuer: "https://login.corp.example",
		ClientID: "usher", Enabled: true}, "a client secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Login(ctx, "admin@example.com", "admin's long password", auth.Client{}); !errors.Is(err, auth.ErrPasswordLoginDisabled) {
		t.Fatalf("password login with a provider enabled: %v", err)
	}
	ctl := ctlRunner(ctx, dbPath, keyPath, "")
	if out, err := ctl("sso-providers"); err != nil || !strings.Contains(out, "corp") || !strings.Contains(out, "https://login.corp.example") {
		t.Fatalf("sso-providers: %v\n%s", err, out)
	}
	if out, err := ctl("sso-disable", "corp"); err != nil || !strings.Contains(out, "disabled") {
		t.Fatalf("sso-disable: %v\n%s", err, out)
	}
	if _, err := app.Login(ctx, "admin@example.com", "admin's long password", auth.Client{}); err != nil {
		t.Errorf("password login after sso-disable: %v", err)
	}
	if _, err := ctl("sso-disable", "nope"); !errors.Is(err, oidc.ErrNotFound) {
		t.Errorf("unknown provider: %v", err)
	}
}

// The usage -h prints is the package comment's, command list included:
// one text, checked here.
func TestUsageIsTheDoc(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	body, ok := strings.CutPrefix(usage, "Usage:\n\n")
	body, _, ok2 := strings.Cut(body, "\nFlags:\n")
	if !ok || !ok2 {
		t.Fatalf("usage has no Usage:/Flags: frame:\n%s", usage)
	}
	if doc := f.Doc.Text(); !strings.Contains(doc, body) {
		t.Errorf("the package comment's command list differs from usage:\n--- doc\n%s\n--- usage\n%s", doc, body)
	}
	for _, c := range []string{"users", "reset-2fa", "delete-passkey", "sso-enable", "prune"} {
		if !commands[c] {
			t.Errorf("command %q not parsed from usage (%v)", c, commands)
		}
	}
	if commands["passkeys);"] || commands["is"] {
		t.Errorf("continuation lines parsed as commands: %v", commands)
	}
}

// -h prints the usage with the commands and exits 0; an unknown command,
// none, or a bad flag prints the usage and exits 2.
func TestHelpAndUsageExit(t *testing.T) {
	for _, tc := range []struct {
		args string
		code int
	}{
		{"-h", 0}, {"-help", 0}, {"frobnicate", 2}, {"", 2}, {"-bogus\nusers", 2},
	} {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), mainArgs+"="+tc.args)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		shown := stdout.String()
		if tc.code != 0 {
			shown = stderr.String()
		}
		if code != tc.code || !strings.Contains(shown, "Commands:") || !strings.Contains(shown, "reset-2fa EMAIL") {
			t.Errorf("adminctl %q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, tc.code, stdout.String(), stderr.String())
		}
	}
}

// export-audit writes the trail; verify-audit passes on a whole chain and
// fails, naming the event, once a row was changed behind usher's back.
func TestExportAndVerifyAudit(t *testing.T) {
	ctx := context.Background()
	dbPath, keyPath, _, db := ctlFiles(t)
	db.Close()
	ctl := ctlRunner(ctx, dbPath, keyPath, "the admin's long password\n")
	if out, err := ctl("create-admin", "root@example.com"); err != nil {
		t.Fatalf("create-admin: %v\n%s", err, out)
	}
	out, err := ctl("export-audit", "-format", "csv")
	if err != nil || !strings.HasPrefix(out, "id,time,action") || !strings.Contains(out, "user.created") ||
		!strings.Contains(out, "root@example.com") {
		t.Fatalf("export-audit -format csv: %v\n%s", err, out)
	}
	if out, err := ctl("export-audit", "-since", "2200-01-01"); err != nil || out != "" {
		t.Fatalf("export-audit of a future day: %v, %q; want nothing", err, out)
	}
	if _, err := ctl("export-audit", "-since", "yesterday"); err == nil {
		t.Fatal("export-audit -since yesterday: no error")
	}
	if _, err := ctl("export-audit", "-since", "2999-01-01"); !errors.Is(err, audit.ErrInvalidQuery) {
		t.Fatalf("export-audit -since 2999-01-01: %v, want ErrInvalidQuery", err)
	}
	if out, err := ctl("verify-audit"); err != nil || !strings.Contains(out, "intact") {
		t.Fatalf("verify-audit: %v\n%s", err, out)
	}
	raw, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var id string
	if err := raw.QueryRow(`SELECT id FROM audit_events WHERE action = 'user.created'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE audit_events SET actor_email = 'someone-else' WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	_, err = ctl("verify-audit")
	if !errors.Is(err, auth.ErrAuditTampered) || !strings.Contains(err.Error(), "changed at event "+id) {
		t.Fatalf("verify-audit after a change: %v", err)
	}
}

// TestReview prints the access review as text and as CSV, and records it
// as the operator; the record shows as the last review and in the trail.
func TestReview(t *testing.T) {
	ctx := context.Background()
	dbPath, keyPath, key, db := ctlFiles(t)
	defer db.Close()
	app, err := auth.New(auth.Config{Store: db, SecretKey: key, BcryptCost: 4, InsecureLowBcryptCostForTests: true,
		InsecureOpenFirstSignup: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := app.SignUp(ctx, auth.SignUp{Email: "admin@example.com", Name: "Ada", Password: "admin's long password"}, auth.Client{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := app.Authenticate(ctx, s.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.CreateUser(ctx, admin, auth.NewUser{Email: "nora@example.com", Name: "@Nora", Password: "nora's long password"}); err != nil {
		t.Fatal(err)
	}
	ctl := ctlRunner(ctx, dbPath, keyPath, "")

	out, err := ctl("review")
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`idle after 90 days`, `Last review: none recorded`, `FINDINGS \(2\)`,
		`no_second_factor +admin@example.com +holds \*`, `never_logged_in +nora@example.com`,
		`HOLDERS OF \*.*\nadmin@example.com\n`, `Admins \[admin\]\n +\* +Every permission, present and future`,
		`members: admin@example.com`, `nora@example.com +Users +enabled +yes +no +0 +- +never +never_logged_in`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Fatalf("review lacks %s:\n%s", re, out)
		}
	}

	out, err = ctl("review", "-csv", "-idle-days", "30")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[0] != strings.Join(auth.ReviewCSVHeader(), ",") || !strings.HasPrefix(lines[2], "nora@example.com,'@Nora,enabled,Users") {
		t.Fatalf("review -csv:\n%s", out)
	}
	if _, err := ctl("review", "-idle-days", "-5"); !errors.Is(err, auth.ErrInvalidIdleDays) {
		t.Fatalf("review -idle-days -5: %v", err)
	}
	if _, err := ctl("review", "extra"); err == nil {
		t.Fatal("review with an argument accepted")
	}

	out, err = ctl("review", "-mark", "Q1: all fine")
	if err != nil || !strings.Contains(out, "review recorded in the audit trail") {
		t.Fatalf("review -mark: %v\n%s", err, out)
	}
	out, err = ctl("review")
	if err != nil || !regexp.MustCompile(`Last review: \S+ \S+ by adminctl:tester: "Q1: all fine"`).MatchString(out) {
		t.Fatalf("review after the mark: %v\n%s", err, out)
	}
	out, err = ctl("audit", "5")
	if err != nil || !regexp.MustCompile(`access\.reviewed +success +adminctl:tester +access_review`).MatchString(out) {
		t.Fatalf("audit: %v\n%s", err, out)
	}
}

// ctlFiles makes a key file and an SQLite database in a temporary
// directory, as the web application leaves them, and sets adminctl's
// Manager to the lowest bcrypt cost.
func ctlFiles(t *testing.T) (dbPath, keyPath string, key []byte, db *sqlite.DB) {
	t.Helper()
	dir := t.TempDir()
	dbPath, keyPath = filepath.Join(dir, "users.db"), filepath.Join(dir, "usher.key")
	key = []byte("0123456789abcdef0123456789abcdef")
	if err := os.WriteFile(keyPath, key, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	configure = func(c *auth.Config) { c.BcryptCost, c.InsecureLowBcryptCostForTests = 4, true }
	return dbPath, keyPath, key, db
}

// ctlRunner runs adminctl on those files as the operator "tester", with
// stdin as its input, and returns what it printed.
func ctlRunner(ctx context.Context, dbPath, keyPath, stdin string) func(args ...string) (string, error) {
	return func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"-db", dbPath, "-key", keyPath, "-as", "tester"}, args...), strings.NewReader(stdin), &out)
		return out.String(), err
	}
}
