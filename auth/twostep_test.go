package auth_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/totp"
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
			_, err := e.m.ChangePassword(e.ctx, bob, passwordOf("bob@example.com"), "a brand new password 123")
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
			ch := e.challenge("bob@example.com", passwordOf("bob@example.com"))
			if err := tc.op(e, admin, bob); err != nil {
				t.Fatal(err)
			}
			_, err := e.m.VerifyTOTP(e.ctx, ch.Token, e.code(secret, 0), client)
			wantErr(t, err, auth.ErrInvalidChallenge)
		})
	}
}

// A second step whose transaction cannot even start (the store is down, the
// request was cancelled) returns the error; it does not panic (invariant 7).
func TestSecondStepStoreFailureNoPanic(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	_, codes := e.enrol(&admin)
	ch := e.challenge(adminEmail, adminPassword)
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	if _, err := e.m.VerifyTOTP(ctx, ch.Token, "123456", auth.Client{}); err == nil {
		t.Error("VerifyTOTP with a cancelled context succeeded")
	}
	if _, err := e.m.VerifyRecoveryCode(ctx, ch.Token, codes[0], auth.Client{}); err == nil {
		t.Error("VerifyRecoveryCode with a cancelled context succeeded")
	}
}

// Wrong codes on one challenge count against the account's back-off, and
// the back-off is checked before a code is: with two free failures, the
// third code on the same challenge is throttled (the password step itself,
// made once, spends nothing).
func TestWrongCodesBackOffWithinOneChallenge(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.Throttle.FreeFailures = 2; c.Throttle.PerIPPerMinute = -1 })
	admin := e.admin()
	e.enrol(&admin)
	ch := e.challenge(adminEmail, adminPassword)
	for i := 1; i <= 2; i++ {
		_, err := e.m.VerifyTOTP(e.ctx, ch.Token, "000000", client)
		wantErr(t, err, auth.ErrInvalidCredentials)
		if ev := e.lastEvent(audit.SecondFactorFailed); ev.Details[audit.DetailConsecutiveFailures] != float64(i) {
			t.Fatalf("wrong code %d: event details %v", i, ev.Details)
		}
	}
	_, err := e.m.VerifyTOTP(e.ctx, ch.Token, "000000", client)
	wantErr(t, err, auth.ErrThrottled)
}

// An account disabled behind the Manager's back (straight in the store, so
// no challenge was ended) cannot finish a begun two-step login.
func TestDisabledUserCannotFinishSecondStep(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	secret, _ := e.enrol(&admin)
	ch := e.challenge(adminEmail, adminPassword)
	setDisabledInStore(t, e, admin.User().ID, true)
	e.clk.Advance(30 * time.Second) // a fresh code, not the enrolment's
	code, _ := totp.Code(secret, e.clk.Now(), totp.Digits)
	_, err := e.m.VerifyTOTP(e.ctx, ch.Token, code, client)
	wantErr(t, err, auth.ErrAccountDisabled)
}
