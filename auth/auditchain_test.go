package auth_test

import (
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// Links made under a previous secret key check while that key is kept
// (Config.PreviousSecretKeys); once it is dropped the check says it cannot
// vouch for them rather than calling them tampered or passing them.
func TestAuditChainAcrossKeyRotation(t *testing.T) {
	newKey := []byte("a rotated secret key, 32 bytes!!")
	e := newEnv(t)
	e.admin()
	rotated := e.manager(e.db, func(c *auth.Config) { c.SecretKey, c.PreviousSecretKeys = newKey, [][]byte{testKey} })
	r, err := rotated.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil {
		t.Fatal(err)
	}
	onNew, err := rotated.Authenticate(e.ctx, r.Session.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rotated.CreateGroup(e.ctx, onNew, group.Group{Name: "After rotation"}); err != nil {
		t.Fatal(err)
	}
	check, err := rotated.VerifyAuditLog(e.ctx, onNew)
	if err != nil || check.Break != nil {
		t.Fatalf("with the previous key kept: %+v (break %v), %v", check, check.Break, err)
	}
	if check.Checked != int64(len(e.events())) {
		t.Fatalf("checked %d of %d events", check.Checked, len(e.events()))
	}
	if _, err := rotated.RotateSecrets(e.ctx); err != nil {
		t.Fatal(err)
	}
	dropped := e.manager(e.db, func(c *auth.Config) { c.SecretKey, c.PreviousSecretKeys = newKey, nil })
	r, err = dropped.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil {
		t.Fatal(err)
	}
	onDropped, err := dropped.Authenticate(e.ctx, r.Session.Token)
	if err != nil {
		t.Fatal(err)
	}
	check, err = dropped.VerifyAuditLog(e.ctx, onDropped)
	if err != nil || check.Break == nil || check.Break.Kind != auth.BreakUnknownKey || check.Break.Seq != 1 {
		t.Fatalf("with the previous key dropped: %+v (break %v), %v; want an unknown key at the first event", check, check.Break, err)
	}
}

// Only a reader of the audit trail may check it; a refusal is audited.
func TestVerifyAuditLogNeedsAuditRead(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	_, p := e.user(admin, "hal@example.com", group.UsersID)
	_, err := e.m.VerifyAuditLog(e.ctx, p)
	wantErr(t, err, auth.ErrForbidden)
	if ev := e.lastEvent(audit.AuthorizationDeny); ev.Actor.Email != "hal@example.com" || ev.Target.Type != audit.TargetAudit {
		t.Fatalf("the refusal recorded as %+v", ev)
	}
}

// Once a previous key is dropped, the links made under it cannot be
// checked, but the walk goes on past them: an event changed after them is
// still found, rather than hidden behind the unknown key forever.
func TestAuditChainPastDroppedKey(t *testing.T) {
	newKey := []byte("a rotated secret key, 32 bytes!!")
	e := newEnv(t)
	e.admin()
	rotated := e.manager(e.db, func(c *auth.Config) { c.SecretKey, c.PreviousSecretKeys = newKey, [][]byte{testKey} })
	r, err := rotated.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil {
		t.Fatal(err)
	}
	onNew, err := rotated.Authenticate(e.ctx, r.Session.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rotated.RotateSecrets(e.ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"One", "Two", "Three"} {
		if _, err := rotated.CreateGroup(e.ctx, onNew, group.Group{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	dropped := e.manager(e.db, func(c *auth.Config) { c.SecretKey, c.PreviousSecretKeys = newKey, nil })
	r, err = dropped.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil {
		t.Fatal(err)
	}
	op, err := dropped.Authenticate(e.ctx, r.Session.Token)
	if err != nil {
		t.Fatal(err)
	}
	check, err := dropped.VerifyAuditLog(e.ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	if check.Break == nil || check.Break.Kind != auth.BreakUnknownKey || check.Break.Seq != 1 {
		t.Fatalf("untouched, the previous key dropped: %+v (break %v); want an unknown key at 1", check, check.Break)
	}
	if check.Unverified == 0 || check.Checked < 4 || check.Last != int64(len(e.events())) {
		t.Fatalf("untouched: %+v; want the links under the new key checked to the end", check)
	}
	e.exec(`UPDATE audit_events SET reason = 'nothing to see' WHERE action = ? AND target_label = 'Two'`, string(audit.GroupCreated))
	var seq int64
	for _, c := range chain(t, e) {
		if c.Target.Label == "Two" {
			seq = c.Link.Seq
		}
	}
	check, err = dropped.VerifyAuditLog(e.ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	if check.Break == nil || check.Break.Kind != auth.BreakChanged || check.Break.Seq != seq {
		t.Fatalf("event %d changed after the old key's links: %+v (break %v); want it found", seq, check, check.Break)
	}
}

// chain is the store's chain walk, for a test that needs the links.
func chain(t *testing.T, e *env) []audit.Chained {
	t.Helper()
	c, err := e.db.Audit().ChainEvents(e.ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
