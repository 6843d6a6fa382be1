package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/store/sqlite"
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

// hookedStore runs hook once, as a check of the audit chain reads its
// first batch: what another request or instance does meanwhile.
type hookedStore struct {
	auth.Store
	hook func()
}

type hookedAudit struct {
	auth.AuditStore
	s *hookedStore
}

func (s *hookedStore) Audit() auth.AuditStore { return hookedAudit{s.Store.Audit(), s} }

func (a hookedAudit) ChainEvents(ctx context.Context, afterRow int64, limit int) ([]audit.Chained, error) {
	if h := a.s.hook; h != nil {
		a.s.hook = nil
		h()
	}
	return a.AuditStore.ChainEvents(ctx, afterRow, limit)
}

// A check reads the chain's state, then its events; an event appended or
// a prune committed in between is no tampering.
func TestVerifyAuditLogWhileTrailMoves(t *testing.T) {
	for _, c := range []struct {
		name string
		move func(e *env, m *auth.Manager, admin *auth.Principal) error
	}{
		{"Appended", func(e *env, m *auth.Manager, admin *auth.Principal) error {
			_, err := m.CreateGroup(e.ctx, admin, group.Group{Name: "Meanwhile"})
			return err
		}},
		{"Pruned", func(e *env, m *auth.Manager, _ *auth.Principal) error {
			// The admin's session has ended by then: a fresh login.
			e.clk.Advance(48 * time.Hour)
			r, err := m.Login(e.ctx, adminEmail, adminPassword, client)
			if err != nil {
				return err
			}
			admin, err := m.Authenticate(e.ctx, r.Session.Token)
			if err != nil {
				return err
			}
			if _, err := m.CreateGroup(e.ctx, admin, group.Group{Name: "Meanwhile"}); err != nil {
				return err
			}
			_, err = m.PruneAuditLog(e.ctx)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(c *auth.Config) { c.AuditRetention = 24 * time.Hour })
			admin := e.admin()
			for _, name := range []string{"One", "Two"} {
				if _, err := e.m.CreateGroup(e.ctx, admin, group.Group{Name: name}); err != nil {
					t.Fatal(err)
				}
			}
			hs := &hookedStore{Store: e.db}
			m := e.manager(hs, func(c *auth.Config) { c.AuditRetention = 24 * time.Hour })
			hs.hook = func() {
				if err := c.move(e, e.m, admin); err != nil {
					t.Error(err)
				}
			}
			r, err := m.Login(e.ctx, adminEmail, adminPassword, client)
			if err != nil {
				t.Fatal(err)
			}
			op, err := m.Authenticate(e.ctx, r.Session.Token)
			if err != nil {
				t.Fatal(err)
			}
			check, err := m.VerifyAuditLog(e.ctx, op)
			if err != nil {
				t.Fatal(err)
			}
			if check.Break != nil {
				t.Fatalf("the trail moved during the check: %+v (break %v), want no break", check, check.Break)
			}
		})
	}
}

// A mirror into the store's own audit trail would write every event a
// second time, outside the chain: every check would then report an
// insertion. New refuses it.
func TestAuditMirrorIntoOwnTrailRefused(t *testing.T) {
	e := newEnv(t)
	_, err := auth.New(e.config(e.db, func(c *auth.Config) { c.AuditMirror = e.db.Audit() }))
	if !errors.Is(err, auth.ErrInvalidConfig) {
		t.Fatalf("New with AuditMirror = Store.Audit(): %v, want ErrInvalidConfig", err)
	}
	// A sink of a type that cannot be compared is not taken for it.
	if _, err := auth.New(e.config(e.db, func(c *auth.Config) { c.AuditMirror = funcSink(nil) })); err != nil {
		t.Fatalf("New with a func sink: %v", err)
	}
}

type funcSink func(context.Context, *audit.Event) error

func (f funcSink) Append(ctx context.Context, e *audit.Event) error { return nil }

// A trail written before links covered their event's ID still checks, and
// the links after it cover theirs; once one does, a link that does not is
// refused, so an old-style link cannot follow a new one.
func TestAuditChainLinksBeforeIDsCovered(t *testing.T) {
	sealer := newEnv(t).m // the same key as e's Manager, on another file
	e := &env{t: t, ctx: context.Background(), clk: newClock(), path: filepath.Join(t.TempDir(), "usher.db")}
	db, err := sqlite.Open(e.ctx, e.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	appendV1 := func(action audit.Action) *audit.Event {
		t.Helper()
		ev := &audit.Event{Time: e.clk.Now(), Action: action, Outcome: audit.Success, Reason: "sealed the old way"}
		err := e.db.Atomic(e.ctx, func(tx auth.Store) error {
			_, err := tx.Audit().AppendChained(e.ctx, ev, "", auth.SealEventV1(sealer), nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	// Written by a release before this one, then opened by this one.
	for range 3 {
		appendV1(audit.GroupCreated)
	}
	e.m = e.manager(db)
	admin := e.admin()
	check, err := e.m.VerifyAuditLog(e.ctx, admin)
	if err != nil || check.Break != nil {
		t.Fatalf("old links, then new: %+v (break %v), %v", check, check.Break, err)
	}
	if all := int64(len(e.events())); check.Checked != all || check.Checked < 6 {
		t.Fatalf("checked %d of %d events", check.Checked, all)
	}
	late := appendV1(audit.GroupDeleted)
	check, err = e.m.VerifyAuditLog(e.ctx, admin)
	if err != nil || check.Break == nil || check.Break.Kind != auth.BreakChanged || check.Break.EventID != late.ID {
		t.Fatalf("an old-style link after new ones: %+v (break %v), %v; want event %s changed", check, check.Break, err, late.ID)
	}
}

// A store must give an event its ID before it is sealed, since the link
// covers it; one that does not is told so rather than writing a link that
// could never check.
func TestSealRefusesEventWithoutID(t *testing.T) {
	e := newEnv(t)
	seal := auth.SealEvent(e.m)
	_, _, err := seal(audit.Mark{}, &audit.Event{Time: e.clk.Now(), Action: audit.GroupCreated, Outcome: audit.Success})
	if !errors.Is(err, audit.ErrUnsealable) {
		t.Fatalf("sealing an event without an ID: %v, want audit.ErrUnsealable", err)
	}
	if _, _, err := seal(audit.Mark{}, &audit.Event{ID: "7", Time: e.clk.Now(), Action: audit.GroupCreated, Outcome: audit.Success}); err != nil {
		t.Fatalf("with an ID: %v", err)
	}
}

// Migration 0019 (SQLite) dropped the unique index on the chain's seq:
// an event written by hand with the seq of one already in the chain is
// found by the check, not refused by the database.
func TestVerifyAuditLogFindsSeqTwice(t *testing.T) {
	e := newEnv(t)
	op := e.admin()
	for _, name := range []string{"One", "Two", "Three"} {
		if _, err := e.m.CreateGroup(e.ctx, op, group.Group{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	var seq int64
	for _, c := range chain(t, e) {
		if c.Target.Label == "Two" {
			seq = c.Link.Seq
		}
	}
	e.exec(`INSERT INTO audit_events (id, time, action, outcome, actor_id, actor_email, target_type, target_id,
		target_label, ip, user_agent, reason, details, repeats, seq, key_id, mac)
		SELECT (SELECT max(id) + 1 FROM audit_events), time, action, outcome, actor_id, actor_email, target_type,
		target_id, target_label, ip, user_agent, reason, details, repeats, seq, key_id, mac
		FROM audit_events WHERE seq = ?`, seq)
	check, err := e.m.VerifyAuditLog(e.ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	// Read in ID order, the copy comes after the links that follow its seq.
	if check.Break == nil || check.Break.Kind != auth.BreakReordered {
		t.Fatalf("a second event at seq %d: %+v (break %v); want it found as reordered", seq, check, check.Break)
	}
}
