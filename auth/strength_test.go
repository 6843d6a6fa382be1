package auth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// weakReason returns the reason of a WeakPasswordError in err, or "".
func weakReason(t *testing.T, err error) string {
	t.Helper()
	var we *auth.WeakPasswordError
	if !errors.As(err, &we) {
		return ""
	}
	if !errors.Is(err, auth.ErrPasswordTooWeak) || !errors.Is(err, auth.ErrPasswordRejected) {
		t.Fatalf("%v: not an ErrPasswordTooWeak and ErrPasswordRejected", err)
	}
	return we.Reason
}

// Passwords that resist guessing: common ones, keyboard walks, repeats,
// sequences, dates and the account's own email, name or the application's
// name are refused, each with its reason; long passphrases and random
// passwords pass, in any script.
func TestPasswordStrength(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.Issuer = "Backup Manager" })
	admin := e.admin()
	cases := []struct {
		name, email, userName, password, reason string
	}{
		{"most common", "u1@example.com", "", "password1", auth.ReasonCommonPassword},
		{"common, in capitals", "u2@example.com", "", "PASSWORD123", auth.ReasonCommonPassword},
		{"built on a common password", "u3@example.com", "", "iloveyou!!", auth.ReasonBuiltOnCommon},
		{"keyboard walk", "u4@example.com", "", "zxcvbnm,./", auth.ReasonKeyboard},
		{"repeat", "u5@example.com", "", "abcabcabcabc", auth.ReasonRepeat},
		{"sequence", "u6@example.com", "", "mnopqrstuv", auth.ReasonSequence},
		{"date", "u7@example.com", "", "19/04/1987", auth.ReasonDate},
		{"the email", "ada.lovelace@example.com", "", "ada.lovelace@example.com", auth.ReasonAccountEmail},
		{"the email inside a common password", "ada.lovelace@example.com", "", "password-ada.lovelace@example.com", auth.ReasonAccountEmail},
		{"the email's local part", "ada.lovelace@example.com", "", "adalovelace2024", auth.ReasonAccountEmail},
		{"the name", "u8@example.com", "Grace Hopper", "GraceHopper1906", auth.ReasonAccountName},
		{"the name, non-ASCII", "u9@example.com", "Zoë Brontë", "zoëbrontë1999", auth.ReasonAccountName},
		{"the application's name", "u10@example.com", "", "backupmanager2024", auth.ReasonIssuer},
		{"too short and simple", "u11@example.com", "", "tkxq9fz2", auth.ReasonTooSimple},
		{"a passphrase", "u12@example.com", "Ada", "violet tangerine harbor umbrella", ""},
		{"a random password", "u13@example.com", "", "q7#Rv!2mXw9$Lp", ""},
		{"a passphrase beside the name", "u14@example.com", "Ada Lovelace", "ada's violet tangerine harbor", ""},
		{"non-ASCII passphrase", "u15@example.com", "", "Grüße aus München, Ωμέγα", ""},
		{"non-ASCII random", "u16@example.com", "", "日本語のパスワードです", ""},
		{"very long", "u17@example.com", "", longPassword(), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.m.CreateUser(e.ctx, admin, auth.NewUser{Email: tc.email, Name: tc.userName, Password: tc.password, GroupID: group.UsersID})
			got := weakReason(t, err)
			if tc.reason == "" && err != nil {
				t.Fatalf("%q refused: %v", tc.password, err)
			}
			if got != tc.reason {
				t.Fatalf("%q: reason %q (error %v), want %q", tc.password, got, err, tc.reason)
			}
			if err != nil {
				wantField(t, err, auth.FieldPassword)
				if strings.Contains(err.Error(), tc.password) {
					t.Fatal("the error holds the password")
				}
			}
		})
	}
}

// longPassword is 400 characters, 470 bytes, of no pattern.
func longPassword() string {
	var b strings.Builder
	for i := range 80 {
		fmt.Fprintf(&b, "ö%03dx", i*7919%1000)
	}
	return b.String()
}

// Every new password is checked: sign-up, creation, change and reset;
// a login never is, so a password set before the check still logs in.
func TestPasswordStrengthEverywhere(t *testing.T) {
	off := func(c *auth.Config) { c.MinPasswordScore = -1 }
	e := newEnv(t)
	_, err := e.m.SignUp(e.ctx, auth.SignUp{Email: adminEmail, Password: "password1", BootstrapToken: setupToken(t, e.m)}, client)
	if weakReason(t, err) != auth.ReasonCommonPassword {
		t.Fatalf("SignUp: %v", err)
	}
	wantField(t, err, auth.FieldPassword)
	admin := e.admin()
	_, err = e.m.CreateUser(e.ctx, admin, auth.NewUser{Email: "bob@example.com", Password: "password1"})
	if weakReason(t, err) == "" {
		t.Fatalf("CreateUser: %v", err)
	}
	bob, bobP := e.user(admin, "bob@example.com", group.UsersID)
	_, err = e.m.ChangePassword(e.ctx, bobP, passwordOf("bob@example.com"), "bob@example.com!")
	if weakReason(t, err) != auth.ReasonEmail {
		t.Fatalf("ChangePassword: %v", err)
	}
	wantField(t, err, auth.FieldNewPassword)
	err = e.m.ResetPassword(e.ctx, admin, bob.ID, "qwerty123")
	if weakReason(t, err) == "" {
		t.Fatalf("ResetPassword: %v", err)
	}
	wantField(t, err, auth.FieldNewPassword)

	// With the check off (a host's own choice), a weak password is set;
	// the default Manager still lets it log in.
	lax := e.manager(e.db, off)
	if err := lax.ResetPassword(e.ctx, e.on(lax, admin), bob.ID, "qwerty123"); err != nil {
		t.Fatalf("ResetPassword with the check off: %v", err)
	}
	if _, err := e.m.Login(e.ctx, "bob@example.com", "qwerty123", client); err != nil {
		t.Fatalf("login with a password set before the check: %v", err)
	}
}

// The host's PasswordChecker runs after usher's checks, with the account
// the password is for.
func TestPasswordCheckerGetsTheAccount(t *testing.T) {
	var got []auth.PasswordContext
	blocked := errors.New("on our breach list")
	e := newEnv(t, func(c *auth.Config) {
		c.PasswordChecker = func(_ context.Context, pw string, account auth.PasswordContext) error {
			got = append(got, account)
			if pw == "tangerine umbrella harbor violet" {
				return blocked
			}
			return nil
		}
	})
	admin := e.admin()
	got = nil
	_, err := e.m.CreateUser(e.ctx, admin, auth.NewUser{Email: "carol@example.com", Name: "Carol", Password: "password1"})
	if weakReason(t, err) == "" || len(got) != 0 {
		t.Fatalf("a weak password reached the checker: %v, %d calls", err, len(got))
	}
	_, err = e.m.CreateUser(e.ctx, admin, auth.NewUser{Email: "carol@example.com", Name: "Carol", Password: "tangerine umbrella harbor violet"})
	wantErr(t, err, auth.ErrPasswordRejected)
	if len(got) != 1 || got[0].Email != "carol@example.com" || got[0].Name != "Carol" || got[0].Issuer != "usher test" || got[0].UserID == "" {
		t.Fatalf("checker got %+v", got)
	}
}

// MinPasswordScore is checked at New.
func TestMinPasswordScoreChecked(t *testing.T) {
	e := newEnv(t)
	_, err := auth.New(e.config(e.db, func(c *auth.Config) { c.MinPasswordScore = 5 }))
	wantErr(t, err, auth.ErrInvalidConfig)
	strict := e.manager(e.db, func(c *auth.Config) { c.MinPasswordScore = 4 })
	admin := e.on(strict, e.admin())
	_, err = strict.CreateUser(e.ctx, admin, auth.NewUser{Email: "bob@example.com", Password: "forgotten password"})
	if weakReason(t, err) == "" {
		t.Fatalf("score 3 at MinPasswordScore 4: %v", err)
	}
}

// A password an admin sets for someone else is refused in words about
// that account, not "your": the admin's own email is not in it.
func TestPasswordStrengthNamesTheAccount(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	_, err := e.m.CreateUser(e.ctx, admin, auth.NewUser{Email: "grace.hopper@example.com", Name: "Grace Hopper",
		Password: "grace.hopper@example.com!"})
	if r := weakReason(t, err); r != auth.ReasonAccountEmail {
		t.Fatalf("CreateUser: reason %q (%v), want %q", r, err, auth.ReasonAccountEmail)
	}
	grace, _ := e.user(admin, "rear.admiral@example.com", group.UsersID)
	name := "Grace Hopper"
	if _, err := e.m.UpdateUser(e.ctx, admin, grace.ID, auth.UserUpdate{Name: &name, Version: grace.Version}); err != nil {
		t.Fatal(err)
	}
	if r := weakReason(t, e.m.ResetPassword(e.ctx, admin, grace.ID, "GraceHopper1906")); r != auth.ReasonAccountName {
		t.Fatalf("ResetPassword: reason %q, want %q", r, auth.ReasonAccountName)
	}
	// An admin resetting their own password is told about their own.
	if r := weakReason(t, e.m.ResetPassword(e.ctx, admin, admin.User().ID, adminEmail+"!")); r != auth.ReasonEmail {
		t.Fatalf("ResetPassword of one's own: reason %q, want %q", r, auth.ReasonEmail)
	}
}
