package auth_test

import (
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
)

// Every event names its target as it was, and the names outlive the
// target: a deleted user's and a deleted group's history still read.
func TestAuditLabelsSurviveDeletion(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	g := e.group(admin, "Night shift", group.UsersRead)
	u, p := e.user(admin, "carol@example.com", g.ID)
	if _, err := e.m.ListUsers(e.ctx, p, listAll()); err != nil {
		t.Fatal(err)
	}
	if err := e.m.SetDisabled(e.ctx, admin, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := e.m.DeleteUser(e.ctx, admin, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.m.DeleteGroup(e.ctx, admin, g.ID); err != nil {
		t.Fatal(err)
	}
	onUser, err := e.m.AuditLog(e.ctx, admin, audit.Query{TargetType: audit.TargetUser, TargetID: string(u.ID)})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[audit.Action]bool{}
	for _, ev := range onUser.Events {
		actions[ev.Action] = true
		if ev.Target.Label != "carol@example.com" {
			t.Errorf("%s on the deleted user: target label %q", ev.Action, ev.Target.Label)
		}
	}
	for _, a := range []audit.Action{audit.UserCreated, audit.LoginSucceeded, audit.UserDisabled, audit.UserDeleted} {
		if !actions[a] {
			t.Errorf("no %s event on the user; have %v", a, actions)
		}
	}
	byUser, err := e.m.AuditLog(e.ctx, admin, audit.Query{ActorID: string(u.ID)})
	if err != nil || len(byUser.Events) == 0 {
		t.Fatalf("events by the deleted user: %v, %v", byUser.Events, err)
	}
	for _, ev := range byUser.Events {
		if ev.Actor.Email != "carol@example.com" {
			t.Errorf("%s by the deleted user: actor label %q", ev.Action, ev.Actor.Email)
		}
	}
	onGroup, err := e.m.AuditLog(e.ctx, admin, audit.Query{TargetType: audit.TargetGroup, TargetID: string(g.ID)})
	if err != nil || len(onGroup.Events) != 2 {
		t.Fatalf("events on the deleted group: %+v, %v; want created and deleted", onGroup.Events, err)
	}
	for _, ev := range onGroup.Events {
		if ev.Target.Label != "Night shift" {
			t.Errorf("%s on the deleted group: target label %q", ev.Action, ev.Target.Label)
		}
	}
}

// A target ID taken from a request is never looked up when it cannot be
// one of usher's IDs, and the event is still written.
func TestAuditLabelOfForeignTarget(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	_, p := e.user(admin, "dan@example.com", group.UsersID)
	if _, err := e.m.GetUser(e.ctx, p, "no\x00such\xffuser"); err == nil {
		t.Fatal("GetUser of another user without users:read succeeded")
	}
	ev := e.lastEvent(audit.AuthorizationDeny)
	if ev.Target.Label != "" {
		t.Errorf("label %q for a target that does not exist", ev.Target.Label)
	}
}
