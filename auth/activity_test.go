package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// LoginActivity counts successes, failures and throttled attempts per UTC
// day, the days without any included, oldest first.
func TestLoginActivity(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	e.user(admin, "bob@example.com", group.UsersID) // bob logs in: a success
	e.login(adminEmail, adminPassword)
	if _, err := e.m.Login(e.ctx, adminEmail, "wrong password", client); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	e.clk.Advance(48 * time.Hour) // a day without logins, then today
	failed := 0
	for {
		_, err := e.m.Login(e.ctx, "bob@example.com", "wrong password", client)
		if errors.Is(err, auth.ErrThrottled) {
			break
		}
		if failed++; failed > 50 {
			t.Fatal("never throttled")
		}
	}
	for range 2 { // repeats within the minute fold into one event; they count
		if _, err := e.m.Login(e.ctx, "bob@example.com", "wrong password", client); !errors.Is(err, auth.ErrThrottled) {
			t.Fatalf("not throttled: %v", err)
		}
	}

	days, err := e.m.LoginActivity(e.ctx, e.login(adminEmail, adminPassword), 4)
	if err != nil {
		t.Fatal(err)
	}
	first := time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC)
	want := []auth.LoginDay{
		{Day: first},
		{Day: first.AddDate(0, 0, 1), Succeeded: 2, Failed: 1},
		{Day: first.AddDate(0, 0, 2)},
		{Day: first.AddDate(0, 0, 3), Succeeded: 1, Failed: int64(failed), Throttled: 3},
	}
	if len(days) != len(want) {
		t.Fatalf("%d days: %+v", len(days), days)
	}
	for i := range want {
		if !days[i].Day.Equal(want[i].Day) || days[i] != want[i] {
			t.Errorf("day %d: %+v, want %+v", i, days[i], want[i])
		}
	}
}

// It needs audit:read, and the refusal is audited; the days are bounded.
func TestLoginActivityRefused(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	_, bob := e.user(admin, "bob@example.com", group.UsersID)
	_, err := e.m.LoginActivity(e.ctx, bob, 30)
	var de *auth.DeniedError
	if !errors.As(err, &de) || de.Permission != group.AuditRead {
		t.Fatalf("bob: %v", err)
	}
	if ev := e.lastEvent(audit.AuthorizationDeny); ev.Actor.ID != string(bob.User().ID) || ev.Target.Type != audit.TargetAudit {
		t.Errorf("refusal recorded as %+v", ev)
	}
	for _, n := range []int{0, -1, auth.MaxActivityDays + 1} {
		_, err := e.m.LoginActivity(e.ctx, admin, n)
		var fe *auth.FieldError
		if !errors.As(err, &fe) || fe.Field != auth.FieldQuery || !errors.Is(err, audit.ErrInvalidQuery) {
			t.Errorf("%d days: %v", n, err)
		}
	}
}

// A store whose audit log cannot count says so: LoginActivity does not
// read the whole trail instead.
func TestLoginActivityNeedsCounter(t *testing.T) {
	e := newEnv(t)
	m := e.manager(noCounter{e.db})
	s, err := m.SignUp(e.ctx, auth.SignUp{Email: adminEmail, Password: adminPassword, BootstrapToken: setupToken(t, m)}, client)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := m.Authenticate(e.ctx, s.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.LoginActivity(e.ctx, admin, 30); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("LoginActivity: %v", err)
	}
}

// noCounter is a store whose audit log is no audit.Counter.
type noCounter struct{ auth.Store }

func (s noCounter) Audit() auth.AuditStore { return plainAudit{s.Store.Audit()} }

func (s noCounter) Atomic(ctx context.Context, fn func(auth.Store) error) error {
	return s.Store.Atomic(ctx, func(tx auth.Store) error { return fn(noCounter{tx}) })
}

type plainAudit struct{ auth.AuditStore }
