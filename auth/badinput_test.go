package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// Invariant 7: bad input gets a typed error, never a panic, and writes
// nothing.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	const pw = "long enough pw"
	long := strings.Repeat("a", 10_000)
	cases := []struct {
		name string
		op   func(*env, *auth.Principal) error
		want error
	}{
		{"email with CRLF", createUser("a@example.com\r\nBcc: b@example.com", pw, ""), user.ErrInvalidEmail},
		{"email with LF", createUser("a@exa\nmple.com", pw, ""), user.ErrInvalidEmail},
		{"10 KB email", createUser(long+"@example.com", pw, ""), user.ErrInvalidEmail},
		{"two addresses", createUser("a@example.com, b@example.com", pw, ""), user.ErrInvalidEmail},
		{"two addresses, semicolon", createUser("a@example.com;b@example.com", pw, ""), user.ErrInvalidEmail},
		{"display name", createUser("Alice <a@example.com>", pw, ""), user.ErrInvalidEmail},
		{"no at", createUser("example.com", pw, ""), user.ErrInvalidEmail},
		{"empty email", createUser("", pw, ""), user.ErrInvalidEmail},
		{"NUL in email", createUser("a\x00@example.com", pw, ""), user.ErrInvalidEmail},
		{"empty password", createUser("a@example.com", "", ""), auth.ErrPasswordTooShort},
		{"2 KB password", createUser("a@example.com", strings.Repeat("p", 2048), ""), auth.ErrPasswordTooLong},
		{"unknown group", createUser("a@example.com", pw, "no-such-group"), group.ErrNotFound},
		{"taken email", createUser(adminEmail, pw, ""), user.ErrEmailTaken},
		{"taken email, other case", createUser("ADMIN@example.com", pw, ""), user.ErrEmailTaken},
		{"name with control", func(e *env, a *auth.Principal) error {
			_, err := e.m.CreateUser(e.ctx, a, auth.NewUser{Email: "n@example.com", Name: "bad\x1bname", Password: pw})
			return err
		}, user.ErrInvalidName},
		{"unknown permission", createGroup("G", "backups:delete"), group.ErrUnknownPermission},
		{"malformed permission", createGroup("G", "not a permission"), group.ErrInvalidPermission},
		{"permission without action", createGroup("G", "backups:"), group.ErrInvalidPermission},
		{"wildcard of unknown resource", createGroup("G", "nukes:*"), group.ErrUnknownPermission},
		{"empty group name", createGroup("  "), group.ErrInvalidName},
		{"10 KB group name", createGroup(long), group.ErrInvalidName},
		{"10 KB group description", func(e *env, a *auth.Principal) error {
			_, err := e.m.CreateGroup(e.ctx, a, group.Group{Name: "G", Description: long})
			return err
		}, group.ErrInvalidDescription},
		{"two-factor without enrollment", func(e *env, a *auth.Principal) error {
			_, err := e.m.CreateGroup(e.ctx, a, group.Group{Name: "G", RequireTwoFactor: true, Permissions: []group.Permission{"backups:read"}})
			return err
		}, group.ErrTwoFactorWithoutEnrollment},
		{"update unknown user", func(e *env, a *auth.Principal) error {
			_, err := e.m.UpdateUser(e.ctx, a, "nope", auth.UserUpdate{Name: ptr("x")})
			return err
		}, user.ErrNotFound},
		{"move to unknown group", func(e *env, a *auth.Principal) error {
			u, err := e.m.CreateUser(e.ctx, a, auth.NewUser{Email: "mover@example.com", Password: pw})
			if err != nil {
				return err
			}
			_, err = e.m.UpdateUser(e.ctx, a, u.ID, auth.UserUpdate{GroupID: ptr(group.ID("nope"))})
			return err
		}, group.ErrNotFound},
		{"delete unknown user", func(e *env, a *auth.Principal) error { return e.m.DeleteUser(e.ctx, a, "nope") }, user.ErrNotFound},
		{"update unknown group", func(e *env, a *auth.Principal) error {
			_, err := e.m.UpdateGroup(e.ctx, a, group.Group{ID: "nope", Name: "x"})
			return err
		}, group.ErrNotFound},
		{"truncated image", func(e *env, a *auth.Principal) error {
			return e.m.SetAvatar(e.ctx, a, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))
		}, auth.ErrInvalidImage},
		{"oversized image", func(e *env, a *auth.Principal) error {
			return e.m.SetAvatar(e.ctx, a, append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 1<<20)...))
		}, auth.ErrImageTooLarge},
		{"empty image", func(e *env, a *auth.Principal) error { return e.m.SetAvatar(e.ctx, a, nil) }, auth.ErrInvalidImage},
		{"garbage token", func(e *env, _ *auth.Principal) error {
			_, err := e.m.Authenticate(e.ctx, "garbage\r\n"+long)
			return err
		}, auth.ErrUnauthenticated},
		{"bad sort", func(e *env, a *auth.Principal) error {
			_, err := e.m.ListUsers(e.ctx, a, user.Query{Sort: "password"})
			return err
		}, user.ErrInvalidQuery},
		{"huge search", func(e *env, a *auth.Principal) error {
			_, err := e.m.ListUsers(e.ctx, a, user.Query{Search: long})
			return err
		}, user.ErrInvalidQuery},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := e.db.Users().Count(e.ctx)
			groupsBefore, _ := e.db.Groups().List(e.ctx)
			wantErr(t, tc.op(e, admin), tc.want)
			after, _ := e.db.Users().Count(e.ctx)
			groupsAfter, _ := e.db.Groups().List(e.ctx)
			if tc.name != "move to unknown group" && (after != before || len(groupsAfter) != len(groupsBefore)) {
				t.Fatalf("half-written: users %d→%d, groups %d→%d", before, after, len(groupsBefore), len(groupsAfter))
			}
		})
	}
}

func createUser(email, password string, gid group.ID) func(*env, *auth.Principal) error {
	return func(e *env, a *auth.Principal) error {
		_, err := e.m.CreateUser(e.ctx, a, auth.NewUser{Email: email, Password: password, GroupID: gid})
		return err
	}
}

func createGroup(name string, perms ...group.Permission) func(*env, *auth.Principal) error {
	return func(e *env, a *auth.Principal) error {
		_, err := e.m.CreateGroup(e.ctx, a, group.Group{Name: name, Permissions: perms})
		return err
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name string
		mod  func(*auth.Config)
	}{
		{"nil store", func(c *auth.Config) { c.Store = nil }},
		{"short key", func(c *auth.Config) { c.SecretKey = []byte("short") }},
		{"low cost without the test switch", func(c *auth.Config) { c.BcryptCost = 9; c.InsecureLowBcryptCostForTests = false }},
		{"cost 3", func(c *auth.Config) { c.BcryptCost = 3 }},
		{"cost 32", func(c *auth.Config) { c.BcryptCost = 32 }},
		{"wildcard host permission", func(c *auth.Config) { c.Permissions = []group.Entry{{Permission: "backups:*"}} }},
		{"duplicate host permission", func(c *auth.Config) { c.Permissions = []group.Entry{{Permission: "users:read"}} }},
		{"tiny timeout", func(c *auth.Config) { c.IdleTimeout = time.Second }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := auth.Config{Store: e.db, SecretKey: testKey, BcryptCost: 4, InsecureLowBcryptCostForTests: true}
			tc.mod(&cfg)
			_, err := auth.New(cfg)
			wantErr(t, err, auth.ErrInvalidConfig)
		})
	}
}
