package auth_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// Invariant 5: unknown email, wrong password and malformed input all give
// ErrInvalidCredentials; the reason stays in the audit trail.
func TestLoginFailuresAreUniform(t *testing.T) {
	e := newEnv(t)
	e.admin()
	cases := []struct {
		name, email, password, reason string
	}{
		{"unknown email", "nobody@example.com", adminPassword, "unknown email"},
		{"wrong password", adminEmail, "not the password", "wrong password"},
		{"empty password", adminEmail, "", "wrong password"},
		{"malformed email", "not an email", adminPassword, "malformed email"},
		{"email with CRLF", "admin@example.com\r\nBcc: x@example.com", adminPassword, "malformed email"},
		{"huge password", adminEmail, strings.Repeat("x", 10_000), "password too long"},
		{"upper-case email, wrong password", "ADMIN@EXAMPLE.COM", "nope nope nope", "wrong password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := e.m.Login(e.ctx, tc.email, tc.password, auth.Client{IP: "198.51.100.1"})
			if r != nil {
				t.Fatal("result on failure")
			}
			wantErr(t, err, auth.ErrInvalidCredentials)
			if err.Error() != auth.ErrInvalidCredentials.Error() {
				t.Fatalf("error text %q leaks detail", err)
			}
			ev := e.lastEvent(audit.LoginFailed)
			if ev.Reason != tc.reason || ev.Outcome != audit.Failure {
				t.Fatalf("event reason %q outcome %s, want %q", ev.Reason, ev.Outcome, tc.reason)
			}
		})
		e.clk.Advance(time.Hour) // stay clear of throttling
	}
	// The email is case-insensitive on the way in.
	if _, err := e.m.Login(e.ctx, " ADMIN@example.com ", adminPassword, client); err != nil {
		t.Fatal(err)
	}
}

func TestLoginDisabledOnlyAfterCorrectPassword(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	u, _ := e.user(admin, "bob@example.com", group.UsersID)
	if err := e.m.SetDisabled(e.ctx, admin, u.ID, true); err != nil {
		t.Fatal(err)
	}
	_, err := e.m.Login(e.ctx, "bob@example.com", "wrong password!", client)
	wantErr(t, err, auth.ErrInvalidCredentials)
	_, err = e.m.Login(e.ctx, "bob@example.com", passwordOf("bob@example.com"), client)
	wantErr(t, err, auth.ErrAccountDisabled)
	if ev := e.lastEvent(audit.LoginFailed); ev.Reason != "account disabled" {
		t.Fatalf("reason %q", ev.Reason)
	}
}

func TestLoginSetsLastLoginAndAudits(t *testing.T) {
	e := newEnv(t)
	e.admin()
	e.clk.Advance(time.Hour)
	r, err := e.m.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := e.db.Users().GetByEmail(e.ctx, adminEmail)
	if !u.LastLoginAt.Equal(e.clk.Now()) {
		t.Fatalf("LastLoginAt %v, want %v", u.LastLoginAt, e.clk.Now())
	}
	ev := e.lastEvent(audit.LoginSucceeded)
	if ev.Actor.ID != string(u.ID) || ev.IP != client.IP || ev.UserAgent != client.UserAgent || ev.Details["session_id"] != r.Session.ID {
		t.Fatalf("event %+v", ev)
	}
}

// Throttling per account: five free failures, then a doubling delay capped
// at 15 minutes; a success resets; state survives a new Manager.
func TestAccountThrottle(t *testing.T) {
	e := newEnv(t)
	e.admin()
	c := auth.Client{} // no IP: only the account throttle applies
	for i := range 5 {
		_, err := e.m.Login(e.ctx, adminEmail, "wrong password", c)
		wantErr(t, err, auth.ErrInvalidCredentials)
		_ = i
	}
	// The sixth attempt waits one second, even with the right password.
	_, err := e.m.Login(e.ctx, adminEmail, adminPassword, c)
	wantErr(t, err, auth.ErrThrottled)
	var te *auth.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != time.Second {
		t.Fatalf("RetryAfter %v, want 1s", te)
	}
	if ev := e.lastEvent(audit.LoginThrottled); ev.Actor.Email != adminEmail {
		t.Fatalf("throttle event %+v", ev)
	}
	// Each further failure doubles the delay.
	want := time.Second
	for range 12 {
		e.clk.Advance(want)
		_, err = e.m.Login(e.ctx, adminEmail, "wrong password", c)
		wantErr(t, err, auth.ErrInvalidCredentials)
		want *= 2
		if want > 15*time.Minute {
			want = 15 * time.Minute
		}
		_, err = e.m.Login(e.ctx, adminEmail, adminPassword, c)
		if !errors.As(err, &te) || te.RetryAfter != want {
			t.Fatalf("RetryAfter %v, want %v", err, want)
		}
	}
	// A restart (a new Manager on the same file) keeps the count.
	m2 := e.manager(e.db)
	_, err = m2.Login(e.ctx, adminEmail, adminPassword, c)
	wantErr(t, err, auth.ErrThrottled)
	// Unknown accounts are throttled the same way: no enumeration by throttling.
	for range 5 {
		_, err = e.m.Login(e.ctx, "ghost@example.com", "x", c)
		wantErr(t, err, auth.ErrInvalidCredentials)
	}
	_, err = e.m.Login(e.ctx, "ghost@example.com", "x", c)
	wantErr(t, err, auth.ErrThrottled)
	// After the wait, the right password works and resets the count.
	e.clk.Advance(15 * time.Minute)
	if _, err := e.m.Login(e.ctx, adminEmail, adminPassword, c); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		_, err = e.m.Login(e.ctx, adminEmail, "wrong", c)
		wantErr(t, err, auth.ErrInvalidCredentials)
	}
}

func TestIPThrottle(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.Throttle.PerIPPerMinute = 10 })
	e.admin()
	e.clk.Advance(30 * time.Second) // window started at :00, now :30
	ip := auth.Client{IP: "203.0.113.9"}
	for i := range 10 {
		// Different accounts, so only the IP budget can stop them.
		_, err := e.m.Login(e.ctx, "user"+strings.Repeat("x", i)+"@example.com", "pw", ip)
		wantErr(t, err, auth.ErrInvalidCredentials)
	}
	_, err := e.m.Login(e.ctx, adminEmail, adminPassword, ip)
	var te *auth.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != 30*time.Second {
		t.Fatalf("got %v, want throttled for 30s", err)
	}
	// Another IP is unaffected.
	if _, err := e.m.Login(e.ctx, adminEmail, adminPassword, auth.Client{IP: "203.0.113.10"}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(30 * time.Second)
	if _, err := e.m.Login(e.ctx, adminEmail, adminPassword, ip); err != nil {
		t.Fatalf("new window: %v", err)
	}
}

// Imported plain bcrypt hashes, in the store before New (which binds them
// to their account), verify and are upgraded to usher's format.
func TestImportedBcryptHashUpgrades(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	u, _ := e.user(admin, "imported@example.com", group.UsersID)
	long := strings.Repeat("p", 80) // plain bcrypt only ever read 72 bytes
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		plain, err := bcrypt.GenerateFromPassword([]byte(long[:72]), 4)
		if err != nil {
			t.Fatal(err)
		}
		h := prefix + string(plain[4:])
		if err := e.db.Users().SetPasswordHash(e.ctx, u.ID, h); err != nil {
			t.Fatal(err)
		}
		m := e.manager(e.db)
		if _, err := m.Login(e.ctx, "imported@example.com", long, client); err != nil {
			t.Fatalf("%s: %v", prefix, err)
		}
		stored, _ := e.db.Users().PasswordHash(e.ctx, u.ID)
		if !strings.HasPrefix(stored, "$usher2$") {
			t.Fatalf("%s hash not upgraded: %q", prefix, stored[:8])
		}
		if _, err := m.Login(e.ctx, "imported@example.com", long, client); err != nil {
			t.Fatalf("after upgrade: %v", err)
		}
		if ev := e.lastEvent(audit.LoginSucceeded); ev.Details["password_rehashed"] != nil {
			t.Fatal("second login rehashed again")
		}
	}
}

// Hashes below the configured cost are upgraded at login.
func TestLowCostHashUpgrades(t *testing.T) {
	e := newEnv(t)
	e.admin()
	m5 := e.manager(e.db, func(c *auth.Config) { c.BcryptCost = 5 })
	if _, err := m5.Login(e.ctx, adminEmail, adminPassword, client); err != nil {
		t.Fatal(err)
	}
	u, _ := e.db.Users().GetByEmail(e.ctx, adminEmail)
	stored, _ := e.db.Users().PasswordHash(e.ctx, u.ID)
	parts := strings.SplitN(stored, "$", 4) // "", "usher2", key ID, bcrypt
	if c, _ := bcrypt.Cost([]byte(parts[3])); len(parts) != 4 || c != 5 {
		t.Fatalf("cost %d after login at cost 5", c)
	}
}

// Per-IP budget: textual variants of one IPv6 address share one budget.
func TestIPThrottleVariants(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.Throttle.PerIPPerMinute = 2 })
	e.admin()
	forms := []string{"2001:db8::1", "2001:DB8::1", "2001:db8:0::1", "2001:db8:0:0::1", "2001:0db8::1", "[2001:db8::1]"}
	verified := 0
	for i, ip := range forms {
		for j := range 2 {
			_, err := e.m.Login(e.ctx, fmt.Sprintf("u%d-%d@example.com", i, j), "pw", auth.Client{IP: ip})
			if errors.Is(err, auth.ErrInvalidCredentials) {
				verified++
			}
		}
	}
	if verified > 2 {
		t.Errorf("one IPv6 address got %d attempts in a minute, budget is 2", verified)
	}
}

// Invariant 4: someone who can write the database but lacks the key copies
// the hash of an account whose password they know onto another account.
// The copy does not log in.
func TestCopiedPasswordHashRefused(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	mallory, _ := e.user(admin, "mallory@example.com", group.UsersID)
	stolen, err := e.db.Users().PasswordHash(e.ctx, mallory.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.Users().SetPasswordHash(e.ctx, admin.User().ID, stolen); err != nil {
		t.Fatal(err)
	}
	_, err = e.m.Login(e.ctx, adminEmail, passwordOf("mallory@example.com"), client)
	wantErr(t, err, auth.ErrInvalidCredentials)
}

// A hash of the first format (not bound to the account), in the store
// before New (which binds it to its account), still logs in, and the login
// rewrites it in the current format.
func TestPasswordHashV1Upgraded(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	if err := e.db.Users().SetPasswordHash(e.ctx, admin.User().ID, auth.HashV1(e.m, adminPassword)); err != nil {
		t.Fatal(err)
	}
	e.m = e.manager(e.db)
	e.login(adminEmail, adminPassword)
	h, err := e.db.Users().PasswordHash(e.ctx, admin.User().ID)
	if err != nil || !strings.HasPrefix(h, "$usher2$") {
		t.Fatalf("hash after login: %.12q, %v; want format 2", h, err)
	}
	e.login(adminEmail, adminPassword)
}
