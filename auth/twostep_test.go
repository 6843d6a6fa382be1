package auth_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// A burst of wrong codes on one challenge gets no more checks than the
// per-challenge limit: each wrong code is counted in the transaction that
// checked it.
func TestConcurrentGuessesKeepTheBudget(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	secret, _ := e.enrol(&admin)
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
			_, err := e.m.ChangePassword(e.ctx, bob, "password-bob@example.com", "a brand new password 123")
			return err
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
			secret, _ := e.enrol(&bob)
			ch := e.challenge("bob@example.com", "password-bob@example.com")
			if err := tc.op(e, admin, bob); err != nil {
				t.Fatal(err)
			}
			_, err := e.m.VerifyTOTP(e.ctx, ch.Token, e.code(secret, 0), client)
			wantErr(t, err, auth.ErrInvalidChallenge)
		})
	}
}
