package auth_test

import (
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// Invariant 1: exactly one first user, even when 50 sign-ups race, in the
// admin group; afterwards sign-up is closed. Without the setup token every
// one of them is refused; with it exactly one wins.
func TestSignUpRaceHasOneWinner(t *testing.T) {
	e := newEnv(t)
	const n = 50
	race := func(token string) []error {
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				// Each from its own address: the race is not the IP budget's.
				c := auth.Client{IP: fmt.Sprintf("192.0.2.%d", i+1), UserAgent: client.UserAgent}
				_, errs[i] = e.m.SignUp(e.ctx, auth.SignUp{
					Email: fmt.Sprintf("racer%d@example.com", i), Password: "long enough password", BootstrapToken: token,
				}, c)
			})
		}
		wg.Wait()
		return errs
	}
	for _, err := range race("") {
		wantErr(t, err, auth.ErrBootstrapToken)
	}
	if n, _ := e.db.Users().Count(e.ctx); n != 0 {
		t.Fatalf("%d users stored after sign-ups without the token, want 0", n)
	}
	wins := 0
	for _, err := range race(setupToken(t, e.m)) {
		switch {
		case err == nil:
			wins++
		case !errorsIs(err, auth.ErrSignupClosed) && !errorsIs(err, auth.ErrBootstrapToken):
			t.Fatalf("got error %v, want sign-up closed or a spent token", err)
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
	if tok, _, err := e.m.SetupToken(e.ctx); tok != "" || err != nil {
		t.Fatalf("SetupToken after the first sign-up = %q, %v; want none", tok, err)
	}
}

// Two Managers on one database file (two instances) each have a setup
// token that works; racing with both still gives one first user.
func TestSignUpRaceAcrossManagers(t *testing.T) {
	e := newEnv(t)
	m2 := e.manager(e.db)
	tok1, tok2 := setupToken(t, e.m), setupToken(t, m2)
	if tok1 == tok2 {
		t.Fatal("two instances have the same setup token")
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 20 {
		m, tok := e.m, tok1
		if i%2 == 1 {
			m, tok = m2, tok2
		}
		wg.Go(func() {
			_, err := m.SignUp(e.ctx, auth.SignUp{Email: fmt.Sprintf("r%d@example.com", i), Password: "long enough password", BootstrapToken: tok}, client)
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

// Either instance's token works until the first sign-up spends them all.
func TestSetupTokenOfEachInstance(t *testing.T) {
	for _, which := range []int{0, 1} {
		t.Run(fmt.Sprint("instance ", which), func(t *testing.T) {
			e := newEnv(t)
			ms := []*auth.Manager{e.m, e.manager(e.db)}
			toks := []string{setupToken(t, ms[0]), setupToken(t, ms[1])}
			s, err := ms[0].SignUp(e.ctx, auth.SignUp{Email: adminEmail, Password: adminPassword, BootstrapToken: toks[which]}, client)
			if err != nil {
				t.Fatal(err)
			}
			// With the account gone behind the library's back, sign-up
			// opens again, but no token spent with it works.
			if err := e.db.Users().Delete(e.ctx, s.UserID); err != nil {
				t.Fatal(err)
			}
			for i, tok := range toks {
				_, err := ms[i].SignUp(e.ctx, auth.SignUp{Email: adminEmail, Password: adminPassword, BootstrapToken: tok}, client)
				wantErr(t, err, auth.ErrBootstrapToken)
			}
			// SetupToken hands out a new one, which works.
			fresh := setupToken(t, ms[which])
			if fresh == toks[which] {
				t.Fatal("SetupToken handed out a spent token")
			}
			if _, err := ms[which].SignUp(e.ctx, auth.SignUp{Email: adminEmail, Password: adminPassword, BootstrapToken: fresh}, client); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The setup token works for SetupTokenLifetime; then the next SetupToken
// makes another, and a restart (New) makes another too.
func TestSetupTokenExpires(t *testing.T) {
	e := newEnv(t)
	tok, expires, err := e.m.SetupToken(e.ctx)
	if err != nil || tok == "" || !expires.Equal(e.clk.Now().Add(auth.SetupTokenLifetime)) {
		t.Fatalf("SetupToken = %q, %v, %v; want a token expiring in %v", tok, expires, err, auth.SetupTokenLifetime)
	}
	if again, _, _ := e.m.SetupToken(e.ctx); again != tok {
		t.Fatal("SetupToken changed before its expiry")
	}
	e.clk.Advance(auth.SetupTokenLifetime)
	_, err = e.m.SignUp(e.ctx, auth.SignUp{Email: adminEmail, Password: adminPassword, BootstrapToken: tok}, client)
	wantErr(t, err, auth.ErrBootstrapToken)
	if ev := e.lastEvent(audit.SignUp); ev.Outcome != audit.Failure || ev.Reason != "wrong or expired setup token" {
		t.Fatalf("refused sign-up recorded as %+v", ev)
	}
	fresh := setupToken(t, e.m)
	if fresh == tok {
		t.Fatal("an expired setup token was handed out again")
	}
	restarted := setupToken(t, e.manager(e.db))
	if restarted == fresh {
		t.Fatal("a restart kept the setup token")
	}
	if _, err := e.m.SignUp(e.ctx, auth.SignUp{Email: adminEmail, Password: adminPassword, BootstrapToken: fresh}, client); err != nil {
		t.Fatal(err)
	}
}

// A token that is not one (malformed, another instance's after the
// account went, a guess) is refused before any bcrypt and spends the IP's
// budget.
func TestSetupTokenGuessesThrottled(t *testing.T) {
	e := newEnv(t)
	for _, tok := range []string{"guess", strings.Repeat("A", 43), setupToken(t, e.m) + "x"} {
		_, err := e.m.SignUp(e.ctx, auth.SignUp{Email: adminEmail, Password: adminPassword, BootstrapToken: tok}, client)
		wantErr(t, err, auth.ErrBootstrapToken)
	}
	for range 60 {
		_, _ = e.m.SignUp(e.ctx, auth.SignUp{Email: adminEmail, Password: adminPassword, BootstrapToken: "guess"}, client)
	}
	_, err := e.m.SignUp(e.ctx, auth.SignUp{Email: adminEmail, Password: adminPassword, BootstrapToken: setupToken(t, e.m)}, client)
	wantErr(t, err, auth.ErrThrottled)
}

// A database that has users never gets a setup token, and a host that
// chose its own token, or none, gets none from usher.
func TestNoSetupTokenWhenNotNeeded(t *testing.T) {
	e := newEnv(t)
	e.admin()
	cases := []struct {
		name  string
		store func() *env
		mod   func(*auth.Config)
	}{
		{"users exist", func() *env { return e }, nil},
		{"bootstrap token", func() *env { return newEnv(t) }, func(c *auth.Config) { c.BootstrapToken = "let-me-in-0123456789" }},
		{"open first sign-up", func() *env { return newEnv(t) }, func(c *auth.Config) { c.InsecureOpenFirstSignup = true }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.store()
			before := setupRows(t, env)
			var mods []func(*auth.Config)
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			m := env.manager(env.db, mods...)
			if tok, exp, err := m.SetupToken(env.ctx); tok != "" || !exp.IsZero() || err != nil {
				t.Fatalf("SetupToken = %q, %v, %v; want none", tok, exp, err)
			}
			if after := setupRows(t, env); after != before {
				t.Fatalf("New stored a setup token: %d rows, was %d", after, before)
			}
		})
	}
}

// setupRows counts the setup tokens stored in e's database file.
func setupRows(t *testing.T, e *env) int {
	t.Helper()
	db, err := sql.Open("sqlite", e.path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM setup_tokens`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// InsecureOpenFirstSignup lets the first sign-up in without any token.
func TestInsecureOpenFirstSignup(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.InsecureOpenFirstSignup = true })
	if _, err := e.m.SignUp(e.ctx, auth.SignUp{Email: adminEmail, Password: adminPassword}, client); err != nil {
		t.Fatal(err)
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
