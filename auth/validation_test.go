package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

// Invariant 7: bad input gets a typed error, never a panic, and writes
// nothing.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	const pw = "long enough pw"
	long := strings.Repeat("a", 10_000)
	target, err := e.m.CreateUser(e.ctx, admin, auth.NewUser{Email: "target@example.com", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		op    func(*env, *auth.Principal) error
		want  error
		field string // the FieldError's Field; "" when err must not be one
	}{
		{"email with CRLF", createUser("a@example.com\r\nBcc: b@example.com", pw, ""), user.ErrInvalidEmail, auth.FieldEmail},
		{"email with LF", createUser("a@exa\nmple.com", pw, ""), user.ErrInvalidEmail, auth.FieldEmail},
		{"10 KB email", createUser(long+"@example.com", pw, ""), user.ErrInvalidEmail, auth.FieldEmail},
		{"two addresses", createUser("a@example.com, b@example.com", pw, ""), user.ErrInvalidEmail, auth.FieldEmail},
		{"two addresses, semicolon", createUser("a@example.com;b@example.com", pw, ""), user.ErrInvalidEmail, auth.FieldEmail},
		{"display name", createUser("Alice <a@example.com>", pw, ""), user.ErrInvalidEmail, auth.FieldEmail},
		{"no at", createUser("example.com", pw, ""), user.ErrInvalidEmail, auth.FieldEmail},
		{"empty email", createUser("", pw, ""), user.ErrInvalidEmail, auth.FieldEmail},
		{"NUL in email", createUser("a\x00@example.com", pw, ""), user.ErrInvalidEmail, auth.FieldEmail},
		{"empty password", createUser("a@example.com", "", ""), auth.ErrPasswordTooShort, auth.FieldPassword},
		{"2 KB password", createUser("a@example.com", strings.Repeat("p", 2048), ""), auth.ErrPasswordTooLong, auth.FieldPassword},
		{"unknown group", createUser("a@example.com", pw, "no-such-group"), group.ErrNotFound, auth.FieldGroupID},
		{"taken email", createUser(adminEmail, pw, ""), user.ErrEmailTaken, auth.FieldEmail},
		{"taken email, other case", createUser("ADMIN@example.com", pw, ""), user.ErrEmailTaken, auth.FieldEmail},
		{"name with control", func(e *env, a *auth.Principal) error {
			_, err := e.m.CreateUser(e.ctx, a, auth.NewUser{Email: "n@example.com", Name: "bad\x1bname", Password: pw})
			return err
		}, user.ErrInvalidName, auth.FieldName},
		{"unknown permission", createGroup("G", "backups:delete"), group.ErrUnknownPermission, auth.FieldPermissions},
		{"malformed permission", createGroup("G", "not a permission"), group.ErrInvalidPermission, auth.FieldPermissions},
		{"permission without action", createGroup("G", "backups:"), group.ErrInvalidPermission, auth.FieldPermissions},
		{"wildcard of unknown resource", createGroup("G", "nukes:*"), group.ErrUnknownPermission, auth.FieldPermissions},
		{"empty group name", createGroup("  "), group.ErrInvalidName, auth.FieldName},
		{"10 KB group name", createGroup(long), group.ErrInvalidName, auth.FieldName},
		{"10 KB group description", func(e *env, a *auth.Principal) error {
			_, err := e.m.CreateGroup(e.ctx, a, group.Group{Name: "G", Description: long})
			return err
		}, group.ErrInvalidDescription, auth.FieldDescription},
		{"two-factor without enrollment", func(e *env, a *auth.Principal) error {
			_, err := e.m.CreateGroup(e.ctx, a, group.Group{Name: "G", RequireTwoFactor: true, Permissions: []group.Permission{"backups:read"}})
			return err
		}, group.ErrTwoFactorWithoutEnrollment, auth.FieldPermissions},
		{"update unknown user", func(e *env, a *auth.Principal) error {
			_, err := e.m.UpdateUser(e.ctx, a, "nope", auth.UserUpdate{Name: ptr("x")})
			return err
		}, user.ErrNotFound, ""},
		{"move to unknown group", func(e *env, a *auth.Principal) error {
			u, err := e.m.CreateUser(e.ctx, a, auth.NewUser{Email: "mover@example.com", Password: pw})
			if err != nil {
				return err
			}
			_, err = e.m.UpdateUser(e.ctx, a, u.ID, auth.UserUpdate{GroupID: ptr(group.ID("nope")), Version: u.Version})
			return err
		}, group.ErrNotFound, auth.FieldGroupID},
		{"delete unknown user", func(e *env, a *auth.Principal) error { return e.m.DeleteUser(e.ctx, a, "nope") }, user.ErrNotFound, ""},
		{"update unknown group", func(e *env, a *auth.Principal) error {
			_, err := e.m.UpdateGroup(e.ctx, a, group.Group{ID: "nope", Name: "x"})
			return err
		}, group.ErrNotFound, ""},
		{"truncated image", func(e *env, a *auth.Principal) error {
			return e.m.SetAvatar(e.ctx, a, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))
		}, auth.ErrInvalidImage, auth.FieldImage},
		{"oversized image", func(e *env, a *auth.Principal) error {
			return e.m.SetAvatar(e.ctx, a, append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, auth.MaxAvatarBytes)...))
		}, auth.ErrImageTooLarge, auth.FieldImage},
		{"empty image", func(e *env, a *auth.Principal) error { return e.m.SetAvatar(e.ctx, a, nil) }, auth.ErrInvalidImage, auth.FieldImage},
		{"garbage token", func(e *env, _ *auth.Principal) error {
			_, err := e.m.Authenticate(e.ctx, "garbage\r\n"+long)
			return err
		}, auth.ErrUnauthenticated, ""},
		{"bad sort", func(e *env, a *auth.Principal) error {
			_, err := e.m.ListUsers(e.ctx, a, user.Query{Sort: "password"})
			return err
		}, user.ErrInvalidQuery, auth.FieldQuery},
		{"huge search", func(e *env, a *auth.Principal) error {
			_, err := e.m.ListUsers(e.ctx, a, user.Query{Search: long})
			return err
		}, user.ErrInvalidQuery, auth.FieldQuery},
		{"bad cursor", func(e *env, a *auth.Principal) error {
			_, err := e.m.ListUsers(e.ctx, a, user.Query{Cursor: "not a cursor"})
			return err
		}, user.ErrInvalidCursor, auth.FieldQuery},
		{"update: bad email", updateUser(target.ID, auth.UserUpdate{Email: ptr("no at")}), user.ErrInvalidEmail, auth.FieldEmail},
		{"update: bad name", updateUser(target.ID, auth.UserUpdate{Name: ptr("a\x00b")}), user.ErrInvalidName, auth.FieldName},
		{"update: taken email", updateUser(target.ID, auth.UserUpdate{Email: ptr(adminEmail)}), user.ErrEmailTaken, auth.FieldEmail},
		{"reset: short password", func(e *env, a *auth.Principal) error {
			u, err := e.m.CreateUser(e.ctx, a, auth.NewUser{Email: "reset@example.com", Password: pw})
			if err != nil {
				return err
			}
			return e.m.ResetPassword(e.ctx, a, u.ID, "short")
		}, auth.ErrPasswordTooShort, auth.FieldNewPassword},
		{"change: long password", func(e *env, a *auth.Principal) error {
			_, err := e.m.ChangePassword(e.ctx, a, adminPassword, strings.Repeat("p", auth.MaxPasswordBytes+1))
			return err
		}, auth.ErrPasswordTooLong, auth.FieldNewPassword},
		{"change: wrong current password", func(e *env, a *auth.Principal) error {
			_, err := e.m.ChangePassword(e.ctx, a, "not the password", "another long password")
			return err
		}, auth.ErrInvalidCredentials, ""},
		{"profile: bad email", updateProfile(auth.ProfileUpdate{Email: ptr("a@b@c"), Password: adminPassword}), user.ErrInvalidEmail, auth.FieldEmail},
		{"profile: bad name", updateProfile(auth.ProfileUpdate{Name: ptr("\u202eevil")}), user.ErrInvalidName, auth.FieldName},
		{"profile: wrong password", updateProfile(auth.ProfileUpdate{Email: ptr("new@example.com"), Password: "not the password"}), auth.ErrInvalidCredentials, ""},
		{"group: taken name", func(e *env, a *auth.Principal) error {
			_, err := e.m.CreateGroup(e.ctx, a, group.Group{Name: "users"})
			return err
		}, group.ErrNameTaken, auth.FieldName},
		{"group: rename to a taken name", func(e *env, a *auth.Principal) error {
			_, err := e.m.UpdateGroup(e.ctx, a, group.Group{ID: group.UsersID, Name: "ADMINS", Permissions: []group.Permission{group.ProfileAll}, Version: e.gv(group.UsersID)})
			return err
		}, group.ErrNameTaken, auth.FieldName},
		{"group: bad description on update", func(e *env, a *auth.Principal) error {
			_, err := e.m.UpdateGroup(e.ctx, a, group.Group{ID: group.UsersID, Name: "Users", Description: "a\x1bb"})
			return err
		}, group.ErrInvalidDescription, auth.FieldDescription},
		{"confirm TOTP: malformed code", func(e *env, a *auth.Principal) error {
			_, _, err := e.m.ConfirmTOTP(e.ctx, a, "12345x")
			return err
		}, totp.ErrMalformedCode, auth.FieldCode},
		{"second step: malformed TOTP code", func(e *env, _ *auth.Principal) error {
			_, err := e.m.VerifyTOTP(e.ctx, "any challenge", "12 34 5x", client)
			return err
		}, totp.ErrMalformedCode, auth.FieldCode},
		{"second step: malformed recovery code", func(e *env, _ *auth.Principal) error {
			_, err := e.m.VerifyRecoveryCode(e.ctx, "any challenge", "not-a-code", client)
			return err
		}, totp.ErrMalformedCode, auth.FieldCode},
		{"audit: bad limit", func(e *env, a *auth.Principal) error {
			_, err := e.m.AuditLog(e.ctx, a, audit.Query{Limit: -1})
			return err
		}, audit.ErrInvalidQuery, auth.FieldQuery},
		{"audit: bad cursor", func(e *env, a *auth.Principal) error {
			_, err := e.m.AuditLog(e.ctx, a, audit.Query{Cursor: "%%%"})
			return err
		}, audit.ErrInvalidCursor, auth.FieldQuery},
		{"record: usher's own action", func(e *env, a *auth.Principal) error {
			return e.m.Record(e.ctx, a, audit.UserCreated, audit.Success, audit.Target{}, nil)
		}, audit.ErrInvalidQuery, auth.FieldAction},
		{"record: empty action", func(e *env, a *auth.Principal) error {
			return e.m.Record(e.ctx, a, "", audit.Success, audit.Target{}, nil)
		}, audit.ErrInvalidQuery, auth.FieldAction},
		{"record: unknown outcome", func(e *env, a *auth.Principal) error {
			return e.m.Record(e.ctx, a, "backup.run", "maybe", audit.Target{}, nil)
		}, audit.ErrInvalidQuery, auth.FieldOutcome},
	}
	// These make a user on the way to the refusal they test.
	creates := map[string]bool{"move to unknown group": true, "reset: short password": true}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := e.db.Users().Count(e.ctx)
			groupsBefore, _ := e.db.Groups().List(e.ctx)
			err := tc.op(e, admin)
			wantErr(t, err, tc.want)
			wantField(t, err, tc.field)
			after, _ := e.db.Users().Count(e.ctx)
			groupsAfter, _ := e.db.Groups().List(e.ctx)
			if !creates[tc.name] && (after != before || len(groupsAfter) != len(groupsBefore)) {
				t.Fatalf("half-written: users %d→%d, groups %d→%d", before, after, len(groupsBefore), len(groupsAfter))
			}
		})
	}
}

// wantField checks that err is a *FieldError naming field, or, when field
// is "", that it is none.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var fe *auth.FieldError
	switch ok := errors.As(err, &fe); {
	case field == "" && ok:
		t.Fatalf("got %v, a FieldError for %q; want none", err, fe.Field)
	case field != "" && !ok:
		t.Fatalf("got %v (%T), want a *FieldError for %q", err, err, field)
	case ok && fe.Field != field:
		t.Fatalf("got a FieldError for %q, want %q: %v", fe.Field, field, err)
	case ok && !strings.HasPrefix(err.Error(), "auth: "+field+": "):
		t.Fatalf("FieldError text %q does not start with the field", err)
	}
}

func updateUser(id user.ID, up auth.UserUpdate) func(*env, *auth.Principal) error {
	return func(e *env, a *auth.Principal) error {
		if up.Version == 0 {
			up.Version = e.uv(id) // the version a form would have read
		}
		_, err := e.m.UpdateUser(e.ctx, a, id, up)
		return err
	}
}

func updateProfile(up auth.ProfileUpdate) func(*env, *auth.Principal) error {
	return func(e *env, a *auth.Principal) error {
		_, _, err := e.m.UpdateProfile(e.ctx, a, up)
		return err
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

// Sign-up's input errors name their field too; nothing is written.
func TestSignUpFieldErrors(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name  string
		in    auth.SignUp
		want  error
		field string
	}{
		{"bad email", auth.SignUp{Email: "admin at example.com", Password: adminPassword}, user.ErrInvalidEmail, auth.FieldEmail},
		{"bad name", auth.SignUp{Email: adminEmail, Name: "a\nb", Password: adminPassword}, user.ErrInvalidName, auth.FieldName},
		{"short password", auth.SignUp{Email: adminEmail, Password: "short"}, auth.ErrPasswordTooShort, auth.FieldPassword},
		{"long password", auth.SignUp{Email: adminEmail, Password: strings.Repeat("p", auth.MaxPasswordBytes+1)}, auth.ErrPasswordTooLong, auth.FieldPassword},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.BootstrapToken = setupToken(t, e.m)
			_, err := e.m.SignUp(e.ctx, in, client)
			wantErr(t, err, tc.want)
			wantField(t, err, tc.field)
			if open, _ := e.m.SignupOpen(e.ctx); !open {
				t.Fatal("a refused sign-up closed sign-up")
			}
		})
	}
}

// Invariant 5: login never says which input was wrong, not even a
// malformed one: every wrong answer is exactly ErrInvalidCredentials, and
// never a FieldError.
func TestLoginNamesNoField(t *testing.T) {
	e := newEnv(t)
	e.admin()
	cases := []struct{ name, email, password string }{
		{"malformed email", "not an email", adminPassword},
		{"10 KB email", strings.Repeat("a", 10_000) + "@example.com", adminPassword},
		{"unknown email", "nobody@example.com", adminPassword},
		{"empty password", adminEmail, ""},
		{"too long password", adminEmail, strings.Repeat("p", auth.MaxPasswordBytes+1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.m.Login(e.ctx, tc.email, tc.password, client)
			if err != auth.ErrInvalidCredentials {
				t.Fatalf("Login = %v, want exactly ErrInvalidCredentials", err)
			}
			wantField(t, err, "")
		})
	}
}
