package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/store/sqlite"
)

// Invariant 6 and 4: every change and login attempt writes an event, and no
// event holds a password or token.
func TestAuditEventPerActionAndNoSecrets(t *testing.T) {
	mirror := &captureSink{}
	e := newEnv(t, func(c *auth.Config) { c.AuditMirror = mirror })
	secrets := []string{adminPassword}
	admin := e.admin()
	secrets = append(secrets, tokenOf(admin))
	g := e.group(admin, "Ops", "backups:read")
	u, err := e.m.CreateUser(e.ctx, admin, auth.NewUser{Email: "bob@example.com", Password: "bob's secret pw", GroupID: g.ID})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, "bob's secret pw")
	_, _ = e.m.Login(e.ctx, "bob@example.com", "a wrong secret guess", client)
	secrets = append(secrets, "a wrong secret guess")
	r, err := e.m.Login(e.ctx, "bob@example.com", "bob's secret pw", client)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, r.Session.Token)
	bob := e.auth(r.Session.Token)
	steps := []struct {
		action audit.Action
		do     func() error
	}{
		{audit.UserUpdated, func() error {
			_, err := e.m.UpdateUser(e.ctx, admin, u.ID, auth.UserUpdate{Name: ptr("Bobby"), Version: e.uv(u.ID)})
			return err
		}},
		{audit.GroupUpdated, func() error {
			_, err := e.m.UpdateGroup(e.ctx, admin, group.Group{ID: g.ID, Name: "Ops", Permissions: []group.Permission{"backups:run", group.ProfileAll}, Version: e.gv(g.ID)})
			return err
		}},
		{audit.PasswordReset, func() error { return e.m.ResetPassword(e.ctx, admin, u.ID, "reset secret pw 1") }},
		{audit.PasswordChanged, func() error {
			r, _ := e.m.Login(e.ctx, "bob@example.com", "reset secret pw 1", client)
			bob = e.auth(r.Session.Token)
			secrets = append(secrets, r.Session.Token)
			s, err := e.m.ChangePassword(e.ctx, bob, "reset secret pw 1", "changed secret pw 2")
			if err == nil {
				bob = e.auth(s.Token)
				secrets = append(secrets, s.Token)
			}
			return err
		}},
		{audit.ProfileUpdated, func() error {
			_, _, err := e.m.UpdateProfile(e.ctx, bob, auth.ProfileUpdate{Name: ptr("Rob")})
			return err
		}},
		{audit.Logout, func() error { return e.m.Logout(e.ctx, tokenOf(bob)) }},
		{audit.UserDisabled, func() error { return e.m.SetDisabled(e.ctx, admin, u.ID, true) }},
		{audit.UserEnabled, func() error { return e.m.SetDisabled(e.ctx, admin, u.ID, false) }},
		{audit.UserDeleted, func() error { return e.m.DeleteUser(e.ctx, admin, u.ID) }},
		{audit.GroupDeleted, func() error { return e.m.DeleteGroup(e.ctx, admin, g.ID) }},
		{audit.SessionRevoked, func() error {
			other := e.login(adminEmail, adminPassword)
			secrets = append(secrets, tokenOf(other))
			return e.m.RevokeSession(e.ctx, admin, other.Session().ID)
		}},
	}
	secrets = append(secrets, "reset secret pw 1", "changed secret pw 2")
	for _, s := range steps {
		before := len(e.events())
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.action, err)
		}
		if ev := e.lastEvent(s.action); ev.Outcome != audit.Success || ev.Actor.ID == "" {
			t.Fatalf("%s: event %+v", s.action, ev)
		}
		if len(e.events()) <= before {
			t.Fatalf("%s wrote no event", s.action)
		}
	}
	all := e.events()
	seen := map[audit.Action]bool{}
	for _, ev := range all {
		seen[ev.Action] = true
		b, _ := json.Marshal(ev)
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Fatalf("event %s contains a secret", ev.Action)
			}
		}
		if ev.Time.Location() != time.UTC {
			t.Fatalf("event time %v not UTC", ev.Time)
		}
	}
	for _, a := range []audit.Action{audit.SignUp, audit.GroupCreated, audit.UserCreated, audit.LoginFailed, audit.LoginSucceeded} {
		if !seen[a] {
			t.Errorf("no %s event", a)
		}
	}
	if len(mirror.events) != len(all) {
		t.Fatalf("mirror saw %d events, store has %d", len(mirror.events), len(all))
	}
}

type captureSink struct{ events []audit.Event }

func (c *captureSink) Append(_ context.Context, e *audit.Event) error {
	c.events = append(c.events, *e)
	return nil
}

// Invariant 6: if the event cannot be written, the change does not happen.
func TestChangeFailsWhenAuditFails(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	broken := e.manager(failingAudit{e.db})
	_, err := broken.CreateUser(e.ctx, admin, auth.NewUser{Email: "ghost@example.com", Password: "long enough pw"})
	if err == nil {
		t.Fatal("change succeeded without its audit event")
	}
	if _, err := e.db.Users().GetByEmail(e.ctx, "ghost@example.com"); err == nil {
		t.Fatal("user written although its event failed")
	}
	before, _ := e.db.Sessions().List(e.ctx, admin.User().ID)
	_, err = broken.Login(e.ctx, adminEmail, adminPassword, client)
	if err == nil {
		t.Fatal("login succeeded without its audit event")
	}
	if after, _ := e.db.Sessions().List(e.ctx, admin.User().ID); len(after) != len(before) {
		t.Fatal("a session was written although the login's event failed")
	}
}

func TestAuditLogQueryAndPrune(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.AuditRetention = 24 * time.Hour })
	admin := e.admin()
	e.clk.Advance(48 * time.Hour)
	_, _ = e.m.Login(e.ctx, "x@example.com", "nope", client)
	p, err := e.m.AuditLog(e.ctx, admin, audit.Query{Action: audit.LoginFailed})
	if err != nil || len(p.Events) != 1 {
		t.Fatalf("AuditLog: %d events, %v", len(p.Events), err)
	}
	n, err := e.m.PruneAuditLog(e.ctx)
	if err != nil || n != 3 {
		t.Fatalf("PruneAuditLog = %d, %v; want the sign-up and the built-in groups' creation gone", n, err)
	}
	p, _ = e.m.AuditLog(e.ctx, admin, audit.Query{})
	for _, ev := range p.Events {
		if ev.Action == audit.SignUp {
			t.Fatal("old event survived pruning")
		}
	}
	_, err = e.m.AuditLog(e.ctx, admin, audit.Query{Limit: -1})
	wantErr(t, err, audit.ErrInvalidQuery)
	_, err = e.m.AuditLog(e.ctx, admin, audit.Query{Cursor: "%%%"})
	wantErr(t, err, audit.ErrInvalidCursor)
}

// failingAudit is a store whose audit sink always fails.
type failingAudit struct{ *sqlite.DB }

func (f failingAudit) Audit() auth.AuditStore { return brokenSink{f.DB.Audit()} }

func (f failingAudit) Atomic(ctx context.Context, fn func(auth.Store) error) error {
	return f.DB.Atomic(ctx, func(tx auth.Store) error { return fn(failingTx{tx}) })
}

type failingTx struct{ auth.Store }

func (f failingTx) Audit() auth.AuditStore { return brokenSink{f.Store.Audit()} }

type brokenSink struct{ auth.AuditStore }

func (brokenSink) Append(context.Context, *audit.Event) error { return errors.New("disk full") }

func (brokenSink) AppendChained(context.Context, *audit.Event, string, audit.Sealer, audit.Folder) (bool, error) {
	return false, errors.New("disk full")
}

func TestRecordHostEvent(t *testing.T) {
	mirror := &captureSink{}
	e := newEnv(t, func(c *auth.Config) { c.AuditMirror = mirror })
	admin := e.admin()
	if err := e.m.Record(e.ctx, admin, "backup.run", audit.Success, audit.Target{Type: "backup", ID: "nightly"}, map[string]any{"bytes": 42}); err != nil {
		t.Fatal(err)
	}
	ev := e.lastEvent("backup.run")
	if ev.Actor.Email != adminEmail || ev.Target.ID != "nightly" || ev.Details["bytes"] != float64(42) {
		t.Fatalf("event %+v", ev)
	}
	if last := mirror.events[len(mirror.events)-1]; last.Action != "backup.run" {
		t.Fatal("not mirrored")
	}
	wantErr(t, e.m.Record(e.ctx, admin, audit.UserDeleted, audit.Success, audit.Target{}, nil), audit.ErrInvalidQuery)
	wantErr(t, e.m.Record(e.ctx, admin, "", audit.Success, audit.Target{}, nil), audit.ErrInvalidQuery)
	wantErr(t, e.m.Record(e.ctx, admin, "x.y", "maybe", audit.Target{}, nil), audit.ErrInvalidQuery)
	if len(audit.Actions()) < 30 || !slices.Contains(audit.Actions(), audit.LoginFailed) {
		t.Fatalf("Actions() = %v", audit.Actions())
	}
}

// A password typed into the email field lands in the audit trail.
func TestPasswordInEmailFieldAudited(t *testing.T) {
	e := newEnv(t)
	e.admin()
	_, _ = e.m.Login(e.ctx, "correct horse battery staple", "x", client)
	for _, ev := range e.events() {
		if strings.Contains(ev.Actor.Email, "horse battery") {
			t.Errorf("%s event keeps the raw login name %q", ev.Action, ev.Actor.Email)
		}
	}
	if ev := e.lastEvent(audit.LoginFailed); ev.Reason != "malformed email" {
		t.Fatalf("reason %q", ev.Reason)
	}
}
