package auth_test

import (
	"encoding/base32"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// beginTOTP starts an enrollment for p and returns its secret.
func (e *env) beginTOTP(p *auth.Principal) []byte {
	e.t.Helper()
	enr, err := e.m.BeginTOTP(e.ctx, p, "")
	if err != nil {
		e.t.Fatalf("BeginTOTP: %v", err)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(enr.Secret)
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// OWASP ASVS 5.0 V7.2.4: proving the password again or binding a new
// factor issues a new session token and ends the old one. Each row failed
// before issue 8's session replacement, when the old token kept working.
func TestReauthReplacesSession(t *testing.T) {
	const email = "bob@example.com"
	pw := passwordOf(email)
	cases := []struct {
		name   string
		action audit.Action
		prep   func(e *env, bob **auth.Principal) // before the operation
		op     func(e *env, bob *auth.Principal) (*auth.Session, error)
		renew  bool // the new session's lifetime starts now
	}{
		{"ChangePassword", audit.PasswordChanged, nil, func(e *env, bob *auth.Principal) (*auth.Session, error) {
			return e.m.ChangePassword(e.ctx, bob, pw, "a new password for bob")
		}, true},
		{"ConfirmTOTP", audit.TOTPEnabled, nil, func(e *env, bob *auth.Principal) (*auth.Session, error) {
			secret := e.beginTOTP(bob)
			_, s, err := e.m.ConfirmTOTP(e.ctx, bob, e.code(secret, 0))
			return s, err
		}, false},
		{"DisableTOTP", audit.TOTPDisabled, func(e *env, bob **auth.Principal) { e.enrol(bob) }, func(e *env, bob *auth.Principal) (*auth.Session, error) {
			return e.m.DisableTOTP(e.ctx, bob, pw)
		}, true},
		{"RegenerateRecoveryCodes", audit.RecoveryCodesRenewed, func(e *env, bob **auth.Principal) { e.enrol(bob) }, func(e *env, bob *auth.Principal) (*auth.Session, error) {
			_, s, err := e.m.RegenerateRecoveryCodes(e.ctx, bob, pw)
			return s, err
		}, true},
		{"UpdateProfile email", audit.ProfileUpdated, nil, func(e *env, bob *auth.Principal) (*auth.Session, error) {
			_, s, err := e.m.UpdateProfile(e.ctx, bob, auth.ProfileUpdate{Email: ptr("robert@example.com"), Password: pw})
			return s, err
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			admin := e.admin()
			_, bob := e.user(admin, email, group.UsersID)
			if tc.prep != nil {
				tc.prep(e, &bob)
			}
			e.clk.Advance(2 * time.Minute)
			old, oldToken := bob.Session(), tokenOf(bob)
			s, err := tc.op(e, bob)
			if err != nil {
				t.Fatal(err)
			}
			if s == nil || len(s.Token) < 43 || s.Token == oldToken || s.ID == old.ID {
				t.Fatalf("no new session: %+v", s)
			}
			// The old token and the Principal made from it are done.
			_, err = e.m.Authenticate(e.ctx, oldToken)
			wantErr(t, err, auth.ErrUnauthenticated)
			_, err = e.m.RevokeOtherSessions(e.ctx, bob)
			wantErr(t, err, auth.ErrUnauthenticated)
			// The new one works, from the same client.
			p := e.auth(s.Token)
			got := p.Session()
			if got.ID != s.ID || got.IP != old.IP || got.UserAgent != old.UserAgent {
				t.Fatalf("new session %+v, old %+v", got, old)
			}
			// Only a proven password restarts the session's lifetime;
			// binding a factor keeps its start, so it makes no session
			// fresh that was not.
			if renewed := !got.CreatedAt.Equal(old.CreatedAt); renewed != tc.renew || renewed != !got.ExpiresAt.Equal(old.ExpiresAt) {
				t.Fatalf("renew = %v: new session %+v, old %+v", tc.renew, got, old)
			}
			ev := e.lastEvent(tc.action)
			if ev.Details[audit.DetailSessionReplaced] != old.ID || ev.Details[audit.DetailSessionID] != s.ID {
				t.Fatalf("event %+v does not record the replacement", ev)
			}
			if list, err := e.m.Sessions(e.ctx, p); err != nil || len(list) != 1 {
				t.Fatalf("Sessions = %+v, %v; want only the new one", list, err)
			}
		})
	}
}

// Changing only the name proves nothing: the session stays.
func TestProfileNameKeepsSession(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	_, s, err := e.m.UpdateProfile(e.ctx, admin, auth.ProfileUpdate{Name: ptr("Ada")})
	if err != nil || s != nil {
		t.Fatalf("UpdateProfile(name) = %+v, %v; want no new session", s, err)
	}
	e.auth(tokenOf(admin))
}

// Operations racing on one session that is being replaced: the old
// session survives none of them. Of several re-authentications with it,
// one wins; the others change nothing and fail with ErrUnauthenticated (or
// ErrInvalidCredentials, when the winner's new password was in place
// before they checked theirs).
// Before issue 8 every one succeeded and the old token lived on.
func TestReauthRaceOnOldSession(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.Throttle.FreeFailures = 100 })
	admin := e.admin()
	_, bob := e.user(admin, "bob@example.com", group.UsersID)
	const n = 8
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		won    []*auth.Session
		others []error
	)
	for i := range n {
		wg.Go(func() {
			s, err := e.m.ChangePassword(e.ctx, bob, passwordOf("bob@example.com"), fmt.Sprintf("new password number %d", i))
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won = append(won, s)
			} else {
				others = append(others, err)
			}
		})
		wg.Go(func() { // the old session, used meanwhile, must not keep itself
			_, _ = e.m.RevokeOtherSessions(e.ctx, bob)
		})
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d password changes with one session succeeded", len(won))
	}
	for _, err := range others {
		if !errors.Is(err, auth.ErrUnauthenticated) && !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("a losing change failed with %v", err)
		}
	}
	_, err := e.m.Authenticate(e.ctx, tokenOf(bob))
	wantErr(t, err, auth.ErrUnauthenticated)
	p := e.auth(won[0].Token)
	if list, err := e.m.Sessions(e.ctx, p); err != nil || len(list) != 1 {
		t.Fatalf("Sessions = %+v, %v; want only the winner's", list, err)
	}
	if ev := e.lastEvent(audit.PasswordChanged); ev.Details[audit.DetailSessionID] != won[0].ID {
		t.Fatalf("event %+v", ev)
	}
}

// The replacement session carries what the Principal's request set.
func TestReplacedSessionTakesClient(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	admin.SetClient(auth.Client{IP: "198.51.100.77", UserAgent: "new-agent/2"})
	secret := e.beginTOTP(admin)
	_, s, err := e.m.ConfirmTOTP(e.ctx, admin, e.code(secret, 0))
	if err != nil {
		t.Fatal(err)
	}
	if s.IP != "198.51.100.77" || s.UserAgent != "new-agent/2" {
		t.Fatalf("session %+v", s)
	}
}
