package auth_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

// These tests came from a review of the two-factor code: each failed
// before its fix.

// A burst of wrong codes on one challenge gets no more checks than the
// per-challenge limit: each wrong code is counted in the transaction that
// checked it.
func TestConcurrentGuessesKeepTheBudget(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	secret, _ := e.enrol(admin)
	ch := e.challenge(adminEmail, adminPassword)
	valid := map[string]bool{e.code(secret, -1): true, e.code(secret, 0): true, e.code(secret, 1): true}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 200 {
		code := fmt.Sprintf("%06d", 100000+i)
		if valid[code] {
			continue
		}
		wg.Go(func() {
			<-start
			_, _ = e.m.VerifyTOTP(e.ctx, ch.Token, code, auth.Client{IP: fmt.Sprintf("198.51.100.%d", i%250)})
		})
	}
	close(start)
	wg.Wait()
	checked := 0
	for _, ev := range e.events() {
		if ev.Action == audit.SecondFactorFailed && ev.Reason == "wrong code" {
			checked++
		}
	}
	if checked > auth.MaxChallengeFailures {
		t.Fatalf("%d codes checked on one challenge, limit %d", checked, auth.MaxChallengeFailures)
	}
}

// A pending two-step login ends with a password reset, a password change
// and a disable, like the sessions do.
func TestChallengeEndsWithPasswordResetAndDisable(t *testing.T) {
	cases := []struct {
		name string
		op   func(e *env, admin, bob *auth.Principal) error
	}{
		{"admin reset", func(e *env, admin, bob *auth.Principal) error {
			return e.m.ResetPassword(e.ctx, admin, bob.User().ID, "a brand new password 123")
		}},
		{"own change", func(e *env, _, bob *auth.Principal) error {
			return e.m.ChangePassword(e.ctx, bob, "password-bob@example.com", "a brand new password 123")
		}},
		{"disable", func(e *env, admin, bob *auth.Principal) error {
			return e.m.SetDisabled(e.ctx, admin, bob.User().ID, true)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			admin := e.admin()
			_, bob := e.user(admin, "bob@example.com", group.UsersID)
			secret, _ := e.enrol(bob)
			ch := e.challenge("bob@example.com", "password-bob@example.com")
			if err := tc.op(e, admin, bob); err != nil {
				t.Fatal(err)
			}
			_, err := e.m.VerifyTOTP(e.ctx, ch.Token, e.code(secret, 0), client)
			wantErr(t, err, auth.ErrInvalidChallenge)
		})
	}
}

// Nobody resets their own password or second factor through the admin
// path, which asks for no password.
func TestNoSelfResetThroughAdminPath(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	e.enrol(admin)
	e.clk.Advance(time.Hour)
	wantErr(t, e.m.ResetTwoFactor(e.ctx, admin, admin.User().ID), auth.ErrForbidden)
	wantErr(t, e.m.ResetPassword(e.ctx, admin, admin.User().ID, "a new password!"), auth.ErrForbidden)
	if st, _ := e.m.TwoFactorStatus(e.ctx, admin); st.RecoveryCodesLeft != 10 {
		t.Fatal("the refused reset removed something")
	}
}

// Guessing the code that confirms an enrollment is throttled and audited.
func TestConfirmTOTPIsThrottled(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	if _, err := e.m.BeginTOTP(e.ctx, admin, ""); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		_, err := e.m.ConfirmTOTP(e.ctx, admin, fmt.Sprintf("%06d", 200000+i))
		if errors.Is(err, auth.ErrThrottled) {
			if i > 6 {
				t.Fatalf("throttled only after %d wrong codes", i)
			}
			if ev := e.lastEvent(audit.SecondFactorFailed); ev.Details["method"] != "enrollment" {
				t.Fatalf("event %+v", ev)
			}
			return
		}
	}
	t.Fatal("300 wrong confirmation codes were never throttled")
}

// A group that requires two-factor must let its members enrol.
func TestRequireTwoFactorNeedsManage2FA(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	_, err := e.m.CreateGroup(e.ctx, admin, group.Group{Name: "Locked", RequireTwoFactor: true, Permissions: []group.Permission{"backups:read"}})
	wantErr(t, err, group.ErrInvalidPermission)
}

// Credentials under a key the Manager lacks do not hide the ones behind
// them from a rotation; OldKeyUsage says what still needs old keys.
func TestRotateSkipsUnknownKeys(t *testing.T) {
	keyA, keyB := testKey, []byte("a completely different 32-byte key!!")
	e := newEnv(t, func(c *auth.Config) { c.Throttle.PerIPPerMinute = -1 })
	admin := e.admin()
	var ids []user.ID
	for i := range 103 {
		u, err := e.m.CreateUser(e.ctx, admin, auth.NewUser{Email: fmt.Sprintf("u%d@example.com", i), Password: "long enough pw"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	slices.Sort(ids)
	for _, id := range ids[:102] {
		if err := e.db.TOTP().Put(e.ctx, &totp.Credential{UserID: id, KeyID: "0badc0ffee00", Sealed: make([]byte, 40)}); err != nil {
			t.Fatal(err)
		}
	}
	last, err := e.m.GetUser(e.ctx, admin, ids[102])
	if err != nil {
		t.Fatal(err)
	}
	e.enrol(e.login(last.Email, "long enough pw"))
	rotated := e.manager(e.db, func(c *auth.Config) { c.SecretKey, c.PreviousSecretKeys = keyB, [][]byte{keyA} })
	before, err := rotated.OldKeyUsage(e.ctx)
	if err != nil || before.TOTPSecrets != 103 || before.RecoveryCodeSets != 1 {
		t.Fatalf("OldKeyUsage before = %+v, %v", before, err)
	}
	n, err := rotated.RotateSecrets(e.ctx)
	if n != 1 || !errors.Is(err, auth.ErrUnknownKey) {
		t.Fatalf("RotateSecrets = %d, %v; want 1 moved and ErrUnknownKey for the rest", n, err)
	}
	after, _ := rotated.OldKeyUsage(e.ctx)
	if after.TOTPSecrets != 102 || after.RecoveryCodeSets != 1 {
		t.Fatalf("OldKeyUsage after = %+v", after)
	}
}
