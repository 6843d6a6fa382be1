package auth_test

import (
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/totp"
)

// The default limits: an ordinary session ends after an hour unused or a
// day after login; one whose login asked to be remembered after a week
// unused or thirty days.
func TestSessionLimitsByDefault(t *testing.T) {
	cases := []struct {
		name           string
		remember       bool
		idle, absolute time.Duration
	}{
		{"ordinary", false, time.Hour, 24 * time.Hour},
		{"remembered", true, 7 * 24 * time.Hour, 30 * 24 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.admin()
			c := client
			c.Remember = tc.remember
			login := func() *auth.Session {
				t.Helper()
				r, err := e.m.Login(e.ctx, adminEmail, adminPassword, c)
				if err != nil {
					t.Fatal(err)
				}
				s := r.Session
				if s.Remembered != tc.remember || s.IdleTimeout != tc.idle || !s.ExpiresAt.Equal(e.clk.Now().Add(tc.absolute)) {
					t.Fatalf("session Remembered %v, IdleTimeout %v, expires in %v; want %v, %v, %v",
						s.Remembered, s.IdleTimeout, s.ExpiresAt.Sub(e.clk.Now()), tc.remember, tc.idle, tc.absolute)
				}
				return s
			}

			// Idle: used just within its idle timeout it lives on; unused
			// for the whole of it, it is gone.
			s := login()
			e.clk.Advance(tc.idle - time.Minute)
			e.auth(s.Token)
			e.clk.Advance(tc.idle - time.Minute)
			e.auth(s.Token)
			e.clk.Advance(tc.idle)
			_, err := e.m.Authenticate(e.ctx, s.Token)
			wantErr(t, err, auth.ErrUnauthenticated)

			// Absolute: used all the time, it ends at its absolute timeout.
			s = login()
			end := s.ExpiresAt
			for e.clk.Now().Add(tc.idle - time.Minute).Before(end) {
				e.clk.Advance(tc.idle - time.Minute)
				e.auth(s.Token)
			}
			e.clk.Advance(end.Sub(e.clk.Now()))
			_, err = e.m.Authenticate(e.ctx, s.Token)
			wantErr(t, err, auth.ErrUnauthenticated)
		})
	}
}

// The second step of a two-step login keeps what the first step chose:
// the remembered choice travels in the challenge, and a second step cannot
// make a session remembered that the first step did not ask for.
func TestRememberThroughSecondFactor(t *testing.T) {
	for _, first := range []bool{true, false} {
		e := newEnv(t)
		admin := e.admin()
		secret, _ := e.enrol(&admin)
		c := client
		c.Remember = first
		r, err := e.m.Login(e.ctx, adminEmail, adminPassword, c)
		if err != nil || r.Challenge == nil {
			t.Fatalf("Login: %v, %+v; want a challenge", r, err)
		}
		second := client
		second.Remember = !first
		e.clk.Advance(totp.Period)
		s, err := e.m.VerifyTOTP(e.ctx, r.Challenge.Token, e.code(secret, 0), second)
		if err != nil {
			t.Fatal(err)
		}
		want := auth.DefaultIdleTimeout
		if first {
			want = auth.DefaultRememberIdleTimeout
		}
		if s.Remembered != first || s.IdleTimeout != want {
			t.Fatalf("first step Remember %v: session Remembered %v, IdleTimeout %v", first, s.Remembered, s.IdleTimeout)
		}
		if ev := e.lastEvent(audit.LoginSucceeded); ev.Details[audit.DetailRemembered] != nil != first {
			t.Fatalf("first step Remember %v: the login's event says remembered %v", first, ev.Details[audit.DetailRemembered])
		}
	}
}

// A login's event says whether the session is remembered, whichever way
// in: the password, a passkey or a provider (each through sessionDetails).
func TestLoginEventSaysRemembered(t *testing.T) {
	e := newEnv(t)
	e.admin()
	for _, remember := range []bool{false, true} {
		c := client
		c.Remember = remember
		if _, err := e.m.Login(e.ctx, adminEmail, adminPassword, c); err != nil {
			t.Fatal(err)
		}
		ev := e.lastEvent(audit.LoginSucceeded)
		if got, _ := ev.Details[audit.DetailRemembered].(bool); got != remember || ev.Details[audit.DetailSessionID] == nil {
			t.Fatalf("Remember %v: event details %v", remember, ev.Details)
		}
	}
}

// A session keeps the limits it was issued with: a Manager with other
// limits (a config change, an upgrade) applies them to new sessions only.
// A session that is replaced stays remembered, and the sessions list says
// which sessions are.
func TestSessionsKeepTheirLimits(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	remembered := client
	remembered.Remember = true
	r, err := e.m.Login(e.ctx, adminEmail, adminPassword, remembered)
	if err != nil {
		t.Fatal(err)
	}
	old := e.auth(r.Session.Token)
	longer := e.manager(e.db, func(c *auth.Config) { c.IdleTimeout, c.AbsoluteTimeout = 3*time.Hour, 48*time.Hour })

	// The admin's ordinary session, issued under an hour, ends after an
	// hour on the new Manager too.
	e.clk.Advance(61 * time.Minute)
	_, err = longer.Authenticate(e.ctx, tokenOf(admin))
	wantErr(t, err, auth.ErrUnauthenticated)
	// A new one gets the new limits.
	nr, err := longer.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil || nr.Session.IdleTimeout != 3*time.Hour || !nr.Session.ExpiresAt.Equal(e.clk.Now().Add(48*time.Hour)) {
		t.Fatalf("a session of the new Manager: %+v, %v", nr, err)
	}

	// Pruning goes by each session's own limit: the new Manager's ordinary
	// one goes after its three hours unused, the remembered one stays.
	e.clk.Advance(2 * time.Hour)
	if n, err := e.m.PruneSessions(e.ctx); err != nil || n != 0 {
		t.Fatalf("PruneSessions after 2h = %d, %v; want 0", n, err)
	}
	e.clk.Advance(61 * time.Minute)
	if n, err := e.m.PruneSessions(e.ctx); err != nil || n != 1 {
		t.Fatalf("PruneSessions after 3h01 = %d, %v; want 1", n, err)
	}
	old = e.auth(tokenOf(old))

	// The remembered one lives on, through a replacement (a password
	// change makes a new token with a new lifetime of the same kind).
	s, err := e.m.ChangePassword(e.ctx, old, adminPassword, "another correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Remembered || s.IdleTimeout != auth.DefaultRememberIdleTimeout ||
		!s.ExpiresAt.Equal(e.clk.Now().Add(auth.DefaultRememberAbsoluteTimeout)) {
		t.Fatalf("replaced session: Remembered %v, IdleTimeout %v, ExpiresAt %v", s.Remembered, s.IdleTimeout, s.ExpiresAt)
	}
	p := e.auth(s.Token)
	list, err := e.m.Sessions(e.ctx, p)
	if err != nil || len(list) != 1 || list[0].ID != s.ID || !list[0].Remembered {
		t.Fatalf("Sessions = %+v, %v; want the one remembered session", list, err)
	}
	all, err := e.m.UserSessions(e.ctx, p, p.User().ID)
	if err != nil || len(all) != 1 || !all[0].Remembered {
		t.Fatalf("UserSessions = %+v, %v; want it remembered", all, err)
	}
}

// Config refuses remembered limits shorter than the ordinary ones; the
// remembered defaults follow ordinary limits set longer than them.
func TestRememberLimitsChecked(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*auth.Config)
		ok   bool
	}{
		{"remembered idle shorter", func(c *auth.Config) { c.RememberIdleTimeout = 30 * time.Minute }, false},
		{"remembered absolute shorter", func(c *auth.Config) { c.RememberAbsoluteTimeout = 12 * time.Hour }, false},
		{"ordinary longer than the remembered defaults", func(c *auth.Config) {
			c.IdleTimeout, c.AbsoluteTimeout = 10*24*time.Hour, 60*24*time.Hour
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			_, err := auth.New(e.config(e.db, tc.mod))
			if tc.ok != (err == nil) {
				t.Fatalf("New = %v; want ok %v", err, tc.ok)
			}
			if err != nil {
				wantErr(t, err, auth.ErrInvalidConfig)
			}
		})
	}
}
