package auth_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// Invariant 1: exactly one first user, even when 50 sign-ups race, in the
// admin group; afterwards sign-up is closed.
func TestSignUpRaceHasOneWinner(t *testing.T) {
	e := newEnv(t)
	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = e.m.SignUp(e.ctx, auth.SignUp{
				Email: fmt.Sprintf("racer%d@example.com", i), Password: "long enough password",
			}, client)
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		default:
			wantErr(t, err, auth.ErrSignupClosed)
		}
	}
	if wins != 1 {
		t.Fatalf("%d sign-ups succeeded, want 1", wins)
	}
	if n, _ := e.db.Users().Count(e.ctx); n != 1 {
		t.Fatalf("%d users stored, want 1", n)
	}
	admins, _ := e.db.Users().CountInGroup(e.ctx, string(group.AdminID), true)
	if admins != 1 {
		t.Fatalf("%d admins, want 1", admins)
	}
	open, err := e.m.SignupOpen(e.ctx)
	if err != nil || open {
		t.Fatalf("SignupOpen = %v, %v; want false", open, err)
	}
}

// Two Managers on one database file still give one first user.
func TestSignUpRaceAcrossManagers(t *testing.T) {
	e := newEnv(t)
	m2 := e.manager(e.db)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 20 {
		m := e.m
		if i%2 == 1 {
			m = m2
		}
		wg.Go(func() {
			_, err := m.SignUp(e.ctx, auth.SignUp{Email: fmt.Sprintf("r%d@example.com", i), Password: "long enough password"}, client)
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d wins, want 1", wins)
	}
}

func TestFirstUserIsAdminAndSignupCloses(t *testing.T) {
	e := newEnv(t)
	open, _ := e.m.SignupOpen(e.ctx)
	if !open {
		t.Fatal("sign-up closed on an empty database")
	}
	p := e.admin()
	if p.Group().ID != group.AdminID || !p.Can("anything:at_all") || !p.Can(group.UsersWrite) {
		t.Fatalf("first user is in %q with %v", p.Group().ID, p.Permissions())
	}
	_, err := e.m.SignUp(e.ctx, auth.SignUp{Email: "second@example.com", Password: "long enough password"}, client)
	wantErr(t, err, auth.ErrSignupClosed)
	if ev := e.lastEvent(audit.SignUp); ev.Outcome != audit.Success || ev.Actor.Email != adminEmail {
		t.Fatalf("sign-up event %+v", ev)
	}
}

func TestBootstrapToken(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.BootstrapToken = "let-me-in-0123456789" })
	for _, tok := range []string{"", "let-me-in-012345678", "let-me-in-01234567890", "LET-ME-IN-0123456789"} {
		_, err := e.m.SignUp(e.ctx, auth.SignUp{Email: "a@example.com", Password: "long enough password", BootstrapToken: tok}, client)
		wantErr(t, err, auth.ErrBootstrapToken)
	}
	// Guessing spends the IP's budget.
	for range 60 {
		_, _ = e.m.SignUp(e.ctx, auth.SignUp{Email: "a@example.com", Password: "long enough password", BootstrapToken: "guess"}, client)
	}
	_, err := e.m.SignUp(e.ctx, auth.SignUp{Email: "a@example.com", Password: "long enough password", BootstrapToken: "let-me-in-0123456789"}, client)
	wantErr(t, err, auth.ErrThrottled)
	e.clk.Advance(time.Minute)
	if open, _ := e.m.SignupOpen(e.ctx); !open {
		t.Fatal("a refused sign-up closed sign-up")
	}
	if _, err := e.m.SignUp(e.ctx, auth.SignUp{Email: "a@example.com", Password: "long enough password", BootstrapToken: "let-me-in-0123456789"}, client); err != nil {
		t.Fatal(err)
	}
	for _, ev := range e.events() {
		if ev.Action == audit.SignUp && ev.Outcome == audit.Failure && ev.Reason == "" {
			t.Fatal("failed sign-up recorded without reason")
		}
	}
}
